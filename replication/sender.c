/* sender: the sender's API (sender.h), its lanes' state and the plumbing
 * its two other files share (log, requests tied to a connection, the end
 * of a close), and the stats. Dialling is sender_dial.c's, the stream on a
 * connection sender_stream.c's. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/sender_internal.h"
#include "tls/tls.h"

static const char *const state_names[] = {
    "idle",	 "resolving", "connecting", "handshaking",
    "streaming", "closing",   "backoff",    "stopped",
};

const char *sender_state_name(int state)
{
	if (state < 0 || state > SENDER_STOPPED)
		return "?";
	return state_names[state];
}

/* ---- lanes and requests (sender_internal.h) ---------------------------- */

void sender_log(struct sender *s, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (s->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->log(s->arg, level, msg);
}

const char *sender_lane_name(const struct tx_lane *l)
{
	return stream_lane_name(l->lane);
}

void sender_lane_set_state(struct tx_lane *l, enum sender_state next)
{
	struct sender *s = l->s;

	if (l->state == next)
		return;
	sender_log(
	    s, next == SENDER_STREAMING ? STREAM_LOG_INFO : STREAM_LOG_DEBUG,
	    "sender %s->%s %s: %s -> %s", s->local_pool, s->peer_pool,
	    sender_lane_name(l), state_names[l->state], state_names[next]);
	l->state = next;
}

struct tx_op *sender_op_new(struct sender *s, struct tx_lane *l, size_t stream)
{
	struct tx_op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->s = s;
	op->l = l;
	op->gen = l != NULL ? l->gen : 0;
	op->stream = stream;
	return op;
}

/* Ends an op's life: returns 1 when its connection is still the current
 * one and the sender is not closing. Frees op. */
int sender_op_end(struct tx_op *op)
{
	struct sender *s = op->s;
	int live = !s->closing && (op->l == NULL || op->l->gen == op->gen);

	s->pending--;
	free(op);
	if (s->closing)
		sender_maybe_finish(s);
	return live;
}

struct tx_stream *sender_lane_stream(struct sender *s, struct tx_lane *l,
				     size_t i)
{
	return &s->streams[i * TX_LANES + (size_t)l->lane];
}

/* ---- stats -------------------------------------------------------------- */

static void tx_stats_positions(void *arg, int status,
			       const struct store_positions *p)
{
	struct tx_op *op = arg;
	struct sender *s = op->s;

	s->stats_reading = 0;
	if (!sender_op_end(op))
		return;
	if (status == 0) {
		sender_stream_take_positions(s, p);
		sender_stream_check_trimmed(s);
	}
}

static void tx_stats_tick(uv_timer_t *t)
{
	struct sender *s = t->data;
	uint64_t now = uv_now(s->loop);
	struct tx_op *op;
	size_t i;

	for (i = 0; i < s->n_user_sets * TX_LANES; i++)
		stream_rate_sample(&s->streams[i].rate, now,
				   s->streams[i].records_sent,
				   s->streams[i].bytes_wire);
	if (s->stats_reading)
		return;
	op = sender_op_new(s, NULL, 0);
	if (op == NULL)
		return;
	if (store_stream_positions(s->store, tx_stats_positions, op) != 0) {
		free(op);
		return;
	}
	s->pending++;
	s->stats_reading = 1;
}

/* ---- public -------------------------------------------------------------- */

static int names_ok(const char *const *v, size_t n)
{
	size_t i, j;

	if (n > SENDER_MAX_USER_SETS || (n > 0 && v == NULL))
		return 0;
	for (i = 0; i < n; i++) {
		if (v[i] == NULL || v[i][0] == '\0' ||
		    strlen(v[i]) >= STREAM_NAME_MAX)
			return 0;
		for (j = 0; j < i; j++)
			if (strcmp(v[i], v[j]) == 0)
				return 0;
	}
	return 1;
}

static int name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) < STREAM_NAME_MAX;
}

static int host_ok(const char *h)
{
	return h == NULL || (h[0] != '\0' && strlen(h) < STREAM_NAME_MAX);
}

static void tx_stream_setup(struct tx_stream *st, const char *user_set,
			    int lane)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->user_set, sizeof(st->user_set), "%s", user_set);
	st->lane = lane;
	st->limit_seq = UINT64_MAX;
}

static void tx_handle_closed(uv_handle_t *h)
{
	struct sender *s = h->data;

	s->handles--;
	sender_maybe_finish(s);
}

static void tx_lane_timer_closed(uv_handle_t *h)
{
	struct tx_lane *l = h->data;

	l->s->handles--;
	sender_maybe_finish(l->s);
}

void sender_maybe_finish(struct sender *s)
{
	void (*cb)(void *arg) = s->close_cb;
	void *arg = s->close_arg;
	size_t i;

	if (!s->closing || s->handles > 0 || s->pending > 0)
		return;
	for (i = 0; i < SENDER_MAX_USER_SETS * TX_LANES; i++)
		free(s->streams[i].inflight);
	for (i = 0; i < TX_LANES; i++) {
		frame_decoder_close(&s->lanes[i].dec);
		batch_dict_close(&s->lanes[i].dict);
	}
	free(s->host);
	free(s);
	if (cb != NULL)
		cb(arg);
}

int sender_init(struct sender **sp, uv_loop_t *loop, struct store *store,
		const struct sender_config *cfg)
{
	struct sender *s;
	size_t i;
	int l;

	if (sp == NULL || loop == NULL || store == NULL || cfg == NULL ||
	    !name_ok(cfg->local_pool) || !name_ok(cfg->peer_pool) ||
	    !host_ok(cfg->host) || !names_ok(cfg->user_sets, cfg->n_user_sets) ||
	    cfg->batch_records > BATCH_MAX_RECORDS ||
	    cfg->batch_bytes > SENDER_MAX_BATCH_BYTES)
		return STREAM_E_ARG;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return STREAM_E_NOMEM;
	s->loop = loop;
	s->store = store;
	snprintf(s->local_pool, sizeof(s->local_pool), "%s", cfg->local_pool);
	snprintf(s->peer_pool, sizeof(s->peer_pool), "%s", cfg->peer_pool);
	s->agent_id = cfg->agent_id;
	if (cfg->host != NULL && (s->host = strdup(cfg->host)) == NULL) {
		free(s);
		return STREAM_E_NOMEM;
	}
	s->port = cfg->port;
	s->n_user_sets = cfg->n_user_sets;
	for (i = 0; i < cfg->n_user_sets; i++)
		for (l = 0; l < TX_LANES; l++)
			tx_stream_setup(&s->streams[i * TX_LANES + (size_t)l],
					cfg->user_sets[i], l);
	s->window =
	    cfg->window_bytes ? cfg->window_bytes : SENDER_DEFAULT_WINDOW;
	s->batch_bytes =
	    cfg->batch_bytes ? cfg->batch_bytes : SENDER_DEFAULT_BATCH_BYTES;
	s->batch_records = cfg->batch_records ? cfg->batch_records
					      : SENDER_DEFAULT_BATCH_RECORDS;
	s->ping_ms = cfg->ping_ms ? cfg->ping_ms : 1000;
	s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 3000;
	s->backoff_min = cfg->backoff_min_ms ? cfg->backoff_min_ms : 100;
	s->backoff_max = cfg->backoff_max_ms ? cfg->backoff_max_ms : 5000;
	if (s->backoff_max < s->backoff_min)
		s->backoff_max = s->backoff_min;
	s->stats_ms = cfg->stats_ms ? cfg->stats_ms : 1000;
	s->lz4_dict_off = cfg->lz4_dict_off != 0;
	s->no_trim = cfg->no_trim != 0;
	s->log = cfg->log;
	s->on_ack = cfg->on_ack;
	s->arg = cfg->arg;
	s->rng = (cfg->agent_id ^ 0x9E3779B97F4A7C15ULL) | 1;
	s->tls = cfg->tls;
	/* uv_timer_init cannot fail on an initialised loop */
	s->stats_timer.data = s;
	uv_timer_init(loop, &s->stats_timer);
	s->handles++;
	for (l = 0; l < TX_LANES; l++) {
		struct tx_lane *ln = &s->lanes[l];
		ln->s = s;
		ln->lane = l;
		batch_dict_init(&ln->dict);
		ln->state = SENDER_IDLE;
		ln->backoff_ms = s->backoff_min;
		ln->backoff.data = ln;
		ln->ping.data = ln;
		uv_timer_init(loop, &ln->backoff);
		uv_timer_init(loop, &ln->ping);
		s->handles += 2;
	}
	uv_timer_start(&s->stats_timer, tx_stats_tick, 0, s->stats_ms);
	for (l = 0; l < TX_LANES; l++)
		sender_dial_start(&s->lanes[l]);
	*sp = s;
	return 0;
}

void sender_close(struct sender *s, void (*cb)(void *arg), void *arg)
{
	int l;

	assert(!s->closing);
	s->close_cb = cb;
	s->close_arg = arg;
	for (l = 0; l < TX_LANES; l++) {
		struct tx_lane *ln = &s->lanes[l];
		sender_lane_set_state(ln, SENDER_STOPPED);
		ln->gen++;
	}
	s->closing = 1;
	uv_close((uv_handle_t *)&s->stats_timer, tx_handle_closed);
	for (l = 0; l < TX_LANES; l++) {
		struct tx_lane *ln = &s->lanes[l];
		uv_close((uv_handle_t *)&ln->backoff, tx_lane_timer_closed);
		uv_close((uv_handle_t *)&ln->ping, tx_lane_timer_closed);
		if (ln->tcp_open && !ln->conn_closing) {
			ln->conn_closing = 1;
			tls_conn_close(&ln->conn, sender_dial_closed);
		}
	}
}

void sender_notify(struct sender *s)
{
	size_t i;
	int l;

	if (s->closing)
		return;
	for (i = 0; i < s->n_user_sets * TX_LANES; i++)
		s->streams[i].wake++;
	for (l = 0; l < TX_LANES; l++)
		sender_stream_pump(&s->lanes[l]);
}

static const struct tx_stream *tx_find(const struct sender *s,
				       const char *user_set, int lane);

void sender_committed(struct sender *s, const char *user_set, int lane,
		      uint64_t seq)
{
	struct tx_stream *st = (struct tx_stream *)tx_find(s, user_set, lane);
	uint64_t now = uv_hrtime();
	struct tx_mark *last;

	if (s->closing || st == NULL || seq <= st->acked_seq)
		return;
	last = st->mk_n > 0
		   ? &st->marks[(st->mk_head + st->mk_n - 1) % TX_MARKS]
		   : NULL;
	if (last != NULL && seq <= last->seq)
		return;
	if (st->mk_n == TX_MARKS) {
		last->seq = seq;
		last->n++;
		return;
	}
	st->marks[(st->mk_head + st->mk_n) % TX_MARKS] =
	    (struct tx_mark){seq, 1, now};
	st->mk_n++;
}

int sender_set_peer(struct sender *s, const char *host, uint16_t port)
{
	char *copy = NULL;
	int l;

	if (s->closing)
		return STREAM_E_CLOSING;
	if (!host_ok(host))
		return STREAM_E_ARG;
	if (host != NULL && (copy = strdup(host)) == NULL)
		return STREAM_E_NOMEM;
	free(s->host);
	s->host = copy;
	s->port = port;
	sender_log(s, STREAM_LOG_INFO, "sender %s->%s: peer now %s:%u",
		   s->local_pool, s->peer_pool, host != NULL ? host : "-",
		   (unsigned)port);
	for (l = 0; l < TX_LANES; l++)
		sender_dial_reset(&s->lanes[l], TX_AFTER_START);
	return 0;
}

int sender_set_user_sets(struct sender *s, const char *const *user_sets,
			 size_t n)
{
	struct tx_stream old[SENDER_MAX_USER_SETS * TX_LANES];
	int kept[SENDER_MAX_USER_SETS * TX_LANES] = {0};
	size_t i, j, n_old = s->n_user_sets;
	int l;

	if (s->closing)
		return STREAM_E_CLOSING;
	if (!names_ok(user_sets, n))
		return STREAM_E_ARG;
	/* requests of the current connections refer to stream slots */
	for (l = 0; l < TX_LANES; l++)
		s->lanes[l].gen++;
	memcpy(old, s->streams, sizeof(old));
	for (i = 0; i < n; i++) {
		for (l = 0; l < TX_LANES; l++) {
			struct tx_stream *st =
			    &s->streams[i * TX_LANES + (size_t)l];
			tx_stream_setup(st, user_sets[i], l);
			for (j = 0; j < n_old; j++) {
				size_t k = j * TX_LANES + (size_t)l;
				if (strcmp(old[k].user_set, user_sets[i]) ==
				    0) {
					*st = old[k];
					kept[k] = 1;
				}
			}
		}
	}
	for (i = n * TX_LANES; i < SENDER_MAX_USER_SETS * TX_LANES; i++)
		memset(&s->streams[i], 0, sizeof(s->streams[i]));
	for (i = 0; i < n_old * TX_LANES; i++)
		if (!kept[i])
			free(old[i].inflight);
	s->n_user_sets = n;
	for (l = 0; l < TX_LANES; l++) {
		s->lanes[l].rr = 0;
		sender_dial_reset(&s->lanes[l], TX_AFTER_START);
	}
	return 0;
}

static const struct tx_stream *tx_find(const struct sender *s,
				       const char *user_set, int lane)
{
	size_t i;

	if (user_set == NULL || lane < 0 || lane >= TX_LANES)
		return NULL;
	for (i = 0; i < s->n_user_sets; i++) {
		const struct tx_stream *st =
		    &s->streams[i * TX_LANES + (size_t)lane];
		if (strcmp(st->user_set, user_set) == 0)
			return st;
	}
	return NULL;
}

int sender_set_limit(struct sender *s, const char *user_set, int lane,
		     uint64_t seq)
{
	struct tx_stream *st = (struct tx_stream *)tx_find(s, user_set, lane);
	uint64_t old;

	if (s->closing)
		return STREAM_E_CLOSING;
	if (st == NULL)
		return STREAM_E_NOT_FOUND;
	old = st->limit_seq;
	st->limit_seq = seq;
	if (seq != old)
		sender_log(s, STREAM_LOG_DEBUG,
			   "sender %s->%s %s: %s: limit %llu -> %llu",
			   s->local_pool, s->peer_pool,
			   stream_lane_name(lane), st->user_set,
			   (unsigned long long)old, (unsigned long long)seq);
	if (seq > old) {
		st->wake++;
		sender_stream_pump(&s->lanes[lane]);
	}
	return 0;
}

int sender_acked(const struct sender *s, const char *user_set, int lane,
		 uint64_t *acked)
{
	const struct tx_stream *st = tx_find(s, user_set, lane);

	if (st == NULL)
		return STREAM_E_NOT_FOUND;
	*acked = st->acked_seq;
	return 0;
}

size_t sender_stream_count(const struct sender *s)
{
	return s->n_user_sets * TX_LANES;
}

static void tx_fill_stats(const struct sender *s, const struct tx_stream *st,
			  struct sender_stats *out)
{
	const struct tx_lane *l = &s->lanes[st->lane];

	memset(out, 0, sizeof(*out));
	snprintf(out->user_set, sizeof(out->user_set), "%s", st->user_set);
	out->lane = st->lane;
	out->state = l->state;
	out->epoch = st->epoch;
	out->head_seq = st->head_seq;
	out->sent_seq = st->sent_seq;
	out->acked_seq = st->acked_seq;
	out->limit_seq = st->limit_seq;
	out->applied_seq = st->applied_seq;
	out->lag_records = st->lag_records;
	out->lag_bytes = st->lag_bytes;
	out->oldest_unacked_hlc = st->oldest_hlc;
	out->records_sent = st->records_sent;
	out->batches_sent = st->batches_sent;
	out->batches_dict = st->batches_dict;
	out->bytes_raw = st->bytes_raw;
	out->bytes_wire = st->bytes_wire;
	stream_rate_get(&st->rate, &out->records_per_s, &out->bytes_per_s);
	out->reconnects = l->reconnects;
	out->inflight_bytes = l->inflight_bytes;
	snprintf(out->peer, sizeof(out->peer), "%s:%u",
		 s->host != NULL ? s->host : "-", (unsigned)s->port);
	snprintf(out->last_error, sizeof(out->last_error), "%s", l->last_error);
	out->seeding = st->seed.active != 0;
	out->seed_from_seq = st->seed.from_seq;
	out->seed_items = st->seed.items;
	out->seed_bytes = st->seed.bytes;
	out->seed_items_total = st->seed.items_total;
	out->seed_bytes_total = st->seed.bytes_total;
	out->seeds_done = st->seed.done;
	out->ack = st->ack;
}

int sender_stats_at(const struct sender *s, size_t i, struct sender_stats *out)
{
	if (i >= s->n_user_sets * TX_LANES)
		return STREAM_E_NOT_FOUND;
	tx_fill_stats(s, &s->streams[i], out);
	return 0;
}

int sender_stats_get(const struct sender *s, const char *user_set, int lane,
		     struct sender_stats *out)
{
	const struct tx_stream *st = tx_find(s, user_set, lane);

	if (st == NULL)
		return STREAM_E_NOT_FOUND;
	tx_fill_stats(s, st, out);
	return 0;
}
