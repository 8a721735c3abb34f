/* dataplane: the pool agent's store and clock (see dataplane.h). */
#include "agent/dataplane.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/log.h"

#define MOD "data"
#define MOD_REPL "repl"

static void store_closed_cb(struct store *s);
static void live_figures(struct dataplane *dp, struct sender_stats *st);
static void sync_tick(uv_timer_t *t);
static void streams_reconcile(struct dataplane *dp);
static void release(struct dataplane *dp, const char *user_set, int lane,
		    uint64_t acked, bool all);

static void opened(struct store *s, int status)
{
	struct dataplane *dp =
	    (struct dataplane *)((char *)s - offsetof(struct dataplane, store));

	if (dp->state == DP_CLOSING) {
		/* closed while opening: finish the close now */
		if (status == 0) {
			store_close(s, store_closed_cb);
			return;
		}
		dp->state = DP_CLOSED;
		dp->agent->pending_closes--;
		agent_closed_one(dp->agent);
		return;
	}
	if (status != 0) {
		snprintf(dp->errmsg, sizeof dp->errmsg, "store: %s",
			 s->errmsg[0] ? s->errmsg : store_strerror(status));
		LOG_ERROR(MOD, "%s", dp->errmsg);
		dp->state = DP_FAILED;
		return;
	}
	dp->state = DP_OPEN;
	LOG_INFO(MOD, "store open");
	dataplane_on_applied(dp);
}

int dataplane_init(struct dataplane *dp, struct agent *a)
{
	char path[4200];
	int rv;

	memset(dp, 0, sizeof *dp);
	dp->agent = a;
	hlc_init(&dp->hlc, 0);
	if (a->cfg.pool[0] == '\0') {
		dp->state = DP_NONE;
		return 0;
	}
	/* the mode is the pair's: set from the applied state (sync_follow) */
	dp->sync = SYNC_OFF;
	dp->sync_timeout_ms = FSM_SYNC_TIMEOUT_DEFAULT_MS;
	/* sync mode's fallback and return, and held-back divergence checks */
	uv_timer_init(a->loop, &dp->sync_timer);
	dp->sync_timer.data = dp;
	dp->sync_timer_open = true;
	uv_timer_start(&dp->sync_timer, sync_tick, 100, 100);
	snprintf(path, sizeof path, "%s/store.db", a->cfg.data_dir);
	dp->state = DP_OPENING;
	rv = store_open_async(&dp->store, a->loop, path, NULL, opened);
	if (rv != 0) {
		snprintf(dp->errmsg, sizeof dp->errmsg, "store %s: %s", path,
			 store_strerror(rv));
		dp->state = DP_FAILED;
		return rv;
	}
	return 0;
}

bool dataplane_ready(const struct dataplane *dp)
{
	return dp->state == DP_OPEN;
}

uint64_t dataplane_hlc(struct dataplane *dp)
{
	return hlc_now(&dp->hlc, agent_now_ms());
}

static void epoch_set(void *arg, int status, const char *errmsg)
{
	if (status != 0)
		LOG_WARN(MOD, "epoch: %s", errmsg);
	(void)arg;
}

/* ---- replication with the pair ---- */

static void stream_log(void *arg, int level, const char *msg)
{
	(void)arg;
	switch (level) {
	case STREAM_LOG_ERROR:
		LOG_ERROR(MOD_REPL, "%s", msg);
		break;
	case STREAM_LOG_WARN:
		LOG_WARN(MOD_REPL, "%s", msg);
		break;
	case STREAM_LOG_INFO:
		LOG_INFO(MOD_REPL, "%s", msg);
		break;
	default:
		LOG_DEBUG(MOD_REPL, "%s", msg);
		break;
	}
}

/* Data address of an agent of pool, or NULL. */
static const char *pool_data_addr(const struct fsm *f, const char *pool)
{
	for (unsigned i = 0; i < f->n_members; i++)
		if (strcmp(f->members[i].pool, pool) == 0 &&
		    f->members[i].data_address[0] != '\0')
			return f->members[i].data_address;
	return NULL;
}

static int split_hostport(const char *addr, char *host, size_t hostlen,
			  uint16_t *port)
{
	const char *colon = strrchr(addr, ':');
	unsigned long p;
	char *end;
	size_t n;

	if (colon == NULL)
		return -1;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || p == 0 || p > 65535)
		return -1;
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, addr, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, hostlen, "127.0.0.1");
	*port = (uint16_t)p;
	return 0;
}

/* The user sets owned by pool (its own, plus its pair's after a
 * failover). */
static unsigned owned_by(const struct fsm *f, const char *pool,
			 const char **out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->n_pools && n < max; i++)
		if (strcmp(f->pools[i].owner, pool) == 0)
			out[n++] = f->pools[i].name;
	/* the CMS documents travel like a user set, from the active CMS */
	if (n < max && strcmp(f->cms_active, pool) == 0)
		out[n++] = DATAPLANE_CMS;
	return n;
}

static void stream_closed(void *arg)
{
	struct dataplane *dp = arg;

	dp->stream_closes--;
	if (dp->state == DP_CLOSING && dp->stream_closes == 0)
		store_close(&dp->store, store_closed_cb);
}

static void streams_stop(struct dataplane *dp)
{
	release(dp, NULL, 0, 0, true);
	if (dp->sender != NULL) {
		dp->stream_closes++;
		sender_close(dp->sender, stream_closed, dp);
		dp->sender = NULL;
	}
	if (dp->receiver != NULL) {
		dp->stream_closes++;
		receiver_close(dp->receiver, stream_closed, dp);
		dp->receiver = NULL;
	}
	dp->pair[0] = '\0';
	dp->peer_addr[0] = '\0';
	dp->n_owned = 0;
	dp->n_received = 0;
}

/* ---- sync mode ---- */

static void sync_set(struct dataplane *dp, int next, const char *why)
{
	static const char *const names[] = {"async", "sync",
					    "async (fallback)"};

	if (dp->sync == next)
		return;
	if (next == SYNC_FALLBACK)
		LOG_WARN(MOD_REPL, "replication mode %s -> %s: %s",
			 names[dp->sync], names[next], why);
	else
		LOG_INFO(MOD_REPL, "replication mode %s -> %s: %s",
			 names[dp->sync], names[next], why);
	if (next == SYNC_FALLBACK)
		dp->sync_fallbacks++;
	dp->sync = next;
}

const char *dataplane_sync_name(const struct dataplane *dp)
{
	switch (dp->sync) {
	case SYNC_ON:
		return "sync";
	case SYNC_FALLBACK:
		return "async (fallback)";
	default:
		return "async";
	}
}

/* Release waiters: all of them (acked false) or those acknowledged. */
static void release(struct dataplane *dp, const char *user_set, int lane,
		    uint64_t acked, bool all)
{
	struct dataplane_wait **pp = &dp->waiting;

	dp->waiting_tail = NULL;
	while (*pp != NULL) {
		struct dataplane_wait *w = *pp;

		if (all || (strcmp(w->user_set, user_set) == 0 &&
			    w->lane == lane && w->seq <= acked)) {
			*pp = w->next;
			dp->n_waiting--;
			w->cb(w->arg, !all);
			free(w);
			continue;
		}
		dp->waiting_tail = w;
		pp = &w->next;
	}
}

static void on_ack(void *arg, const char *user_set, int lane,
		   uint64_t acked_seq)
{
	struct dataplane *dp = arg;

	release(dp, user_set, lane, acked_seq, false);
}

static uint64_t total_lag(struct dataplane *dp, bool *streaming)
{
	size_t n = dp->sender != NULL ? sender_stream_count(dp->sender) : 0;
	uint64_t lag = 0;

	*streaming = n > 0;
	for (size_t i = 0; i < n; i++) {
		struct sender_stats st;

		if (dataplane_stream_stats(dp, i, &st) != 0)
			continue;
		lag += st.lag_records;
		if (st.state != SENDER_STREAMING)
			*streaming = false;
	}
	return lag;
}

/* A divergence check held back until this agent's view was current (see
 * streams_reconcile) runs once it is. */
static void divert_pending_tick(struct dataplane *dp)
{
	const struct fsm_pool *me =
	    fsm_pool_find(&dp->agent->fsm, dp->agent->cfg.pool);

	if (dp->state == DP_OPEN && me != NULL && me->pair[0] != '\0' &&
	    strcmp(me->owner, me->name) != 0 &&
	    dp->diverted_epoch != me->epoch && !dp->diverting &&
	    members_view_current(&dp->agent->members))
		streams_reconcile(dp);
}

static void sync_tick(uv_timer_t *t)
{
	struct dataplane *dp = t->data;
	uint64_t timeout = (uint64_t)dp->sync_timeout_ms * 1000000;
	bool streaming;

	if (dp->sync == SYNC_ON && dp->waiting != NULL &&
	    uv_hrtime() - dp->waiting->since_ns > timeout) {
		char why[96];

		snprintf(why, sizeof why,
			 "the pair acknowledged nothing for %" PRIu32 " ms",
			 dp->sync_timeout_ms);
		sync_set(dp, SYNC_FALLBACK, why);
		release(dp, NULL, 0, 0, true);
	} else if (dp->sync == SYNC_FALLBACK &&
		   total_lag(dp, &streaming) == 0 && streaming) {
		sync_set(dp, SYNC_ON, "the pair has caught up");
	}
	divert_pending_tick(dp);
}

/* Follow the replication mode of this pool's pair in the applied state:
 * sync or async, live. Writes waiting for the pair when it turns async
 * are answered (not replicated). */
static void sync_follow(struct dataplane *dp)
{
	const struct fsm_pool *me =
	    fsm_pool_find(&dp->agent->fsm, dp->agent->cfg.pool);
	bool want = me != NULL && me->pair[0] != '\0' &&
		    me->repl_mode == FSM_REPL_SYNC;
	uint32_t timeout = me != NULL ? fsm_pool_sync_timeout_ms(me)
				      : FSM_SYNC_TIMEOUT_DEFAULT_MS;

	if (timeout != dp->sync_timeout_ms) {
		if (want)
			LOG_INFO(MOD_REPL,
				 "sync timeout %" PRIu32 " -> %" PRIu32
				 " ms: the pair's",
				 dp->sync_timeout_ms, timeout);
		dp->sync_timeout_ms = timeout;
	}
	if (want && dp->sync == SYNC_OFF) {
		sync_set(dp, SYNC_ON, "the pair's mode is sync");
	} else if (!want && dp->sync != SYNC_OFF) {
		sync_set(dp, SYNC_OFF,
			 me != NULL && me->pair[0] != '\0'
			     ? "the pair's mode is async"
			     : "not paired");
		release(dp, NULL, 0, 0, true);
	}
}

int dataplane_after_write(struct dataplane *dp, const char *user_set, int lane,
			  uint64_t seq, dataplane_release_cb cb, void *arg)
{
	struct dataplane_wait *w;

	if (dp->sync != SYNC_ON || dp->sender == NULL)
		return 0;
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return 0;
	snprintf(w->user_set, sizeof w->user_set, "%s", user_set);
	w->lane = lane;
	w->seq = seq;
	w->since_ns = uv_hrtime();
	w->cb = cb;
	w->arg = arg;
	if (dp->waiting_tail != NULL)
		dp->waiting_tail->next = w;
	else
		dp->waiting = w;
	dp->waiting_tail = w;
	dp->n_waiting++;
	return 1;
}

static void streams_start(struct dataplane *dp, const struct fsm_pool *me)
{
	struct agent *a = dp->agent;
	const struct fsm *f = &a->fsm;
	const char *mine[FSM_MAX_POOLS], *theirs[FSM_MAX_POOLS];
	unsigned n_mine = owned_by(f, me->name, mine, SENDER_MAX_USER_SETS);
	unsigned n_theirs =
	    owned_by(f, me->pair, theirs, RECEIVER_MAX_USER_SETS);
	struct sender_config sc;
	struct receiver_config rc;
	int rv;

	memset(&rc, 0, sizeof rc);
	rc.local_pool = me->name;
	rc.peer_pool = me->pair;
	rc.agent_id = a->cfg.agent_id;
	rc.host = strcmp(a->cfg.listen_data.host, "localhost") == 0
		      ? "127.0.0.1"
		      : a->cfg.listen_data.host;
	rc.port = a->cfg.listen_data.port;
	rc.user_sets = theirs;
	rc.n_user_sets = n_theirs;
	rc.log = stream_log;
	rc.arg = dp;
	rc.tls = agent_tls(a);
	rc.tls_require = a->cfg.tls_require;
	rv = receiver_init(&dp->receiver, a->loop, &dp->store, &rc);
	if (rv != 0) {
		LOG_ERROR(MOD_REPL, "receiver on %s: %s",
			  a->cfg.listen_data.address, uv_strerror(rv));
		dp->receiver = NULL;
	}

	memset(&sc, 0, sizeof sc);
	sc.local_pool = me->name;
	sc.peer_pool = me->pair;
	sc.agent_id = a->cfg.agent_id;
	sc.user_sets = mine;
	sc.n_user_sets = n_mine;
	sc.log = stream_log;
	sc.on_ack = on_ack;
	sc.arg = dp;
	sc.tls = agent_tls(a);
	rv = sender_init(&dp->sender, a->loop, &dp->store, &sc);
	if (rv != 0) {
		LOG_ERROR(MOD_REPL, "sender to %s: %d", me->pair, rv);
		dp->sender = NULL;
	}
	snprintf(dp->pair, sizeof dp->pair, "%s", me->pair);
	dp->n_owned = 0;
	for (unsigned i = 0; i < n_mine; i++)
		snprintf(dp->owned[dp->n_owned++], FSM_NAME_LEN, "%s", mine[i]);
	LOG_INFO(MOD_REPL, "replicating %s <-> %s", me->name, me->pair);
}

#define FENCE_NS (30ULL * 1000000000ULL)

static void streams_reconcile(struct dataplane *dp);

static void streams_reconcile_again(struct dataplane *dp)
{
	streams_reconcile(dp);
}

static bool fenced(struct dataplane *dp, const char *user_set)
{
	const struct fsm_pool *p = fsm_pool_find(&dp->agent->fsm, user_set);
	uint64_t now = uv_hrtime();

	/* until the takeover is decided (the epoch moves) or given up */
	for (unsigned i = 0; i < dp->n_fenced; i++)
		if (strcmp(dp->fenced[i].user_set, user_set) == 0)
			return now - dp->fenced[i].since_ns < FENCE_NS &&
			       p != NULL && p->epoch == dp->fenced[i].epoch;
	return false;
}

/* The user sets the receiver takes now: those the pair owns, except one
 * we are taking over (fenced) and our own while its divergent tail is not
 * archived yet. */
static unsigned receiver_sets(struct dataplane *dp, const struct fsm_pool *me,
			      const char **out, unsigned max)
{
	const char *all[FSM_MAX_POOLS];
	unsigned n = owned_by(&dp->agent->fsm, me->pair, all, FSM_MAX_POOLS);
	unsigned k = 0;

	for (unsigned i = 0; i < n && k < max; i++) {
		if (fenced(dp, all[i]))
			continue;
		if (strcmp(all[i], me->name) == 0 &&
		    dp->diverted_epoch != me->epoch)
			continue;
		out[k++] = all[i];
	}
	return k;
}

static void divert_done(void *arg, int status, const char *errmsg)
{
	(void)arg;
	if (status != 0)
		LOG_ERROR(MOD, "archiving the never-shipped tail: %s", errmsg);
}

static void divert_positions(void *arg, int status,
			     const struct store_positions *ps)
{
	struct dataplane *dp = arg;
	const struct fsm_pool *me = fsm_pool_find(&dp->agent->fsm,
						  dp->agent->cfg.pool);

	dp->diverting = false;
	if (status != 0 || me == NULL || dp->state != DP_OPEN) {
		LOG_WARN(MOD, "positions for the divergence check: %s",
			 status != 0 ? ps->errmsg : "state changed");
		return;
	}
	for (size_t i = 0; i < ps->n; i++) {
		const struct store_position *pos = &ps->v[i];
		uint64_t keep;

		if (strcmp(pos->user_set, me->name) != 0 || pos->lane < 0 ||
		    pos->lane > 1)
			continue;
		keep = me->takeover_seq[pos->lane];
		if (pos->head_seq <= keep && pos->lag_records == 0)
			continue;
		LOG_WARN(MOD,
			 "%s lane %d: %" PRIu64 " records written here after "
			 "seq %" PRIu64 " never reached %s: moving them to the "
			 "divergence archive",
			 me->name, pos->lane,
			 pos->head_seq > keep ? pos->head_seq - keep : 0, keep,
			 me->pair);
		store_divert_tail(&dp->store, me->name, pos->lane, keep,
				  divert_done, dp);
		/* what this process wrote past keep is archived, not ahead */
		for (unsigned w = 0; w < dp->n_written; w++)
			if (strcmp(dp->written[w].user_set, me->name) == 0) {
				if (dp->written[w].seq[pos->lane] > keep)
					dp->written[w].seq[pos->lane] = keep;
				lagtail_trim(&dp->written[w].tail[pos->lane],
					     0, keep);
			}
	}
	dp->diverted_epoch = me->epoch;
	streams_reconcile_again(dp);
}

/* Bring sender and receiver in line with the applied state. */
static void streams_reconcile(struct dataplane *dp)
{
	const struct fsm *f = &dp->agent->fsm;
	const struct fsm_pool *me = fsm_pool_find(f, dp->agent->cfg.pool);
	const char *addr;
	const char *mine[FSM_MAX_POOLS];
	unsigned n_mine;
	bool same;

	if (me == NULL || me->pair[0] == '\0') {
		if (dp->pair[0] != '\0')
			streams_stop(dp);
		return;
	}
	if (strcmp(dp->pair, me->pair) != 0) {
		if (dp->pair[0] != '\0')
			streams_stop(dp);
		streams_start(dp, me);
	}
	addr = pool_data_addr(f, me->pair);
	if (dp->sender != NULL && addr != NULL &&
	    strcmp(addr, dp->peer_addr) != 0) {
		char host[FSM_ADDR_LEN];
		uint16_t port;

		if (split_hostport(addr, host, sizeof host, &port) == 0 &&
		    sender_set_peer(dp->sender, host, port) == 0)
			snprintf(dp->peer_addr, sizeof dp->peer_addr, "%s",
				 addr);
	}
	/* back after a failover: archive our never-shipped tail first, but
	 * only from a current view: after a restart the replayed state may
	 * name an older failover whose takeover position is too low */
	if (strcmp(me->owner, me->name) != 0 && dp->diverted_epoch != me->epoch &&
	    !dp->diverting && members_view_current(&dp->agent->members)) {
		if (store_stream_positions(&dp->store, divert_positions, dp) ==
		    0)
			dp->diverting = true;
	} else if (strcmp(me->owner, me->name) == 0) {
		dp->diverted_epoch = me->epoch;
	}
	n_mine = owned_by(f, me->name, mine, SENDER_MAX_USER_SETS);
	same = n_mine == dp->n_owned;
	for (unsigned i = 0; same && i < n_mine; i++)
		same = strcmp(mine[i], dp->owned[i]) == 0;
	if (!same && dp->sender != NULL) {
		sender_set_user_sets(dp->sender, mine, n_mine);
		dp->n_owned = 0;
		for (unsigned i = 0; i < n_mine; i++)
			snprintf(dp->owned[dp->n_owned++], FSM_NAME_LEN, "%s",
				 mine[i]);
	}
	if (dp->receiver != NULL) {
		const char *theirs[FSM_MAX_POOLS];
		unsigned n_theirs =
		    receiver_sets(dp, me, theirs, RECEIVER_MAX_USER_SETS);
		bool rsame = n_theirs == dp->n_received;

		for (unsigned i = 0; rsame && i < n_theirs; i++)
			rsame = strcmp(theirs[i], dp->received[i]) == 0;
		if (!rsame) {
			receiver_set_user_sets(dp->receiver, theirs, n_theirs);
			dp->n_received = 0;
			for (unsigned i = 0; i < n_theirs; i++)
				snprintf(dp->received[dp->n_received++],
					 FSM_NAME_LEN, "%s", theirs[i]);
		}
	}
}

/* ---- takeover ---- */

struct takeover {
	struct dataplane *dp;
	char user_set[FSM_NAME_LEN];
	dataplane_takeover_cb cb;
	void *arg;
};

static void takeover_positions(void *arg, int status,
			       const struct store_positions *ps)
{
	struct takeover *t = arg;
	uint64_t seq[2] = {0, 0};

	if (status == 0) {
		for (size_t i = 0; i < ps->n; i++) {
			const struct store_position *pos = &ps->v[i];
			uint64_t at;

			if (strcmp(pos->user_set, t->user_set) != 0 ||
			    pos->lane < 0 || pos->lane > 1)
				continue;
			at = pos->applied_seq > pos->head_seq ? pos->applied_seq
							      : pos->head_seq;
			seq[pos->lane] = at;
		}
	}
	t->cb(t->arg, status, seq[0], seq[1]);
	free(t);
}

static void takeover_barrier(void *arg, int status, const char *errmsg)
{
	struct takeover *t = arg;
	int rv;

	(void)errmsg;
	if (status == 0) {
		rv = store_stream_positions(&t->dp->store, takeover_positions,
					    t);
		if (rv == 0)
			return;
		status = rv;
	}
	t->cb(t->arg, status, 0, 0);
	free(t);
}

int dataplane_takeover(struct dataplane *dp, const char *user_set,
		       dataplane_takeover_cb cb, void *arg)
{
	const struct fsm_pool *me = fsm_pool_find(&dp->agent->fsm,
						  dp->agent->cfg.pool);
	struct takeover *t;
	unsigned i;
	int rv;

	if (dp->state != DP_OPEN || me == NULL)
		return STORE_E_CLOSING;
	if (strcmp(me->pair, user_set) != 0)
		return STORE_E_INVALID; /* only the pair's user set */
	for (i = 0; i < dp->n_fenced; i++)
		if (strcmp(dp->fenced[i].user_set, user_set) == 0)
			break;
	if (i == dp->n_fenced) {
		if (i == sizeof dp->fenced / sizeof dp->fenced[0])
			i = 0;
		else
			dp->n_fenced++;
		snprintf(dp->fenced[i].user_set, sizeof dp->fenced[i].user_set,
			 "%s", user_set);
	}
	dp->fenced[i].since_ns = uv_hrtime();
	{
		const struct fsm_pool *u =
		    fsm_pool_find(&dp->agent->fsm, user_set);

		dp->fenced[i].epoch = u != NULL ? u->epoch : 0;
	}
	streams_reconcile(dp); /* the receiver stops taking it now */
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return STORE_E_NOMEM;
	t->dp = dp;
	snprintf(t->user_set, sizeof t->user_set, "%s", user_set);
	t->cb = cb;
	t->arg = arg;
	/* A no-op write (an ack of nothing) queued behind every apply in
	 * flight: once it completes, a read sees them all, and the position
	 * is final (the receiver takes nothing more of this user set). */
	rv = store_outbox_ack(&dp->store, user_set, 0, 0, takeover_barrier, t);
	if (rv != 0)
		free(t);
	LOG_INFO(MOD_REPL, "taking over %s", user_set);
	return rv;
}

void dataplane_written(struct dataplane *dp)
{
	if (dp->sender != NULL)
		sender_notify(dp->sender);
}

void dataplane_note_write(struct dataplane *dp, const char *user_set,
			  int lane, uint64_t seq, uint64_t bytes)
{
	unsigned i;

	if (lane < 0 || lane > 1)
		return;
	for (i = 0; i < dp->n_written; i++)
		if (strcmp(dp->written[i].user_set, user_set) == 0)
			break;
	if (i == dp->n_written) {
		if (i == FSM_MAX_POOLS)
			return;
		snprintf(dp->written[i].user_set,
			 sizeof dp->written[i].user_set, "%s", user_set);
		dp->written[i].seq[0] = dp->written[i].seq[1] = 0;
		memset(dp->written[i].tail, 0, sizeof dp->written[i].tail);
		dp->n_written++;
	}
	if (seq > dp->written[i].seq[lane])
		dp->written[i].seq[lane] = seq;
	lagtail_add(&dp->written[i].tail[lane], seq, bytes, agent_now_ms());
}

bool dataplane_drained(struct dataplane *dp, const char *user_set)
{
	uint64_t written[2] = {0, 0};

	if (dp->sender == NULL)
		return false;
	for (unsigned i = 0; i < dp->n_written; i++)
		if (strcmp(dp->written[i].user_set, user_set) == 0) {
			written[0] = dp->written[i].seq[0];
			written[1] = dp->written[i].seq[1];
		}
	for (int lane = 0; lane < 2; lane++) {
		struct sender_stats st;
		uint64_t acked = 0;
		uint64_t head = written[lane];

		if (sender_stats_get(dp->sender, user_set, lane, &st) == 0 &&
		    st.head_seq > head)
			head = st.head_seq;
		if (sender_acked(dp->sender, user_set, lane, &acked) != 0)
			acked = 0;
		if (acked < head)
			return false;
	}
	return true;
}

int dataplane_may_write_cms(struct dataplane *dp, char *why, size_t len)
{
	struct agent *a = dp->agent;
	const struct fsm_pool *p = fsm_pool_find(&a->fsm, a->fsm.cms_active);

	if (members_lease_valid(&a->members) &&
	    !members_view_current(&a->members)) {
		snprintf(why, len,
			 "catching up: this agent has not yet applied every "
			 "decision the cluster had committed (just restarted "
			 "or rejoined?)");
		return DATAPLANE_E_NOT_NOW;
	}
	if (p == NULL || strcmp(a->fsm.cms_active, a->cfg.pool) != 0) {
		snprintf(why, len, "the active CMS is on %s",
			 a->fsm.cms_active[0] ? a->fsm.cms_active : "no pool");
		return DATAPLANE_E_NOT_OWNER;
	}
	if (dp->state != DP_OPEN) {
		snprintf(why, len, "the store is not open");
		return DATAPLANE_E_NOT_NOW;
	}
	if (p->state == FSM_STATE_FAILING_OVER) {
		snprintf(why, len,
			 "%s is failing over: the CMS moves with it, writes are "
			 "stopped while it drains",
			 p->name);
		return DATAPLANE_E_NOT_NOW;
	}
	if (a->fsm.cms_state == FSM_STATE_FAILING_OVER) {
		snprintf(why, len,
			 "the CMS is moving from %s to %s: writes are stopped "
			 "while its documents drain",
			 p->name, p->pair);
		return DATAPLANE_E_NOT_NOW;
	}
	if (!members_lease_valid(&a->members)) {
		snprintf(why, len,
			 "no lease: this agent has not heard from the "
			 "cluster's leader in time");
		return DATAPLANE_E_NOT_NOW;
	}
	return 0;
}

int dataplane_may_write(struct dataplane *dp, const struct fsm_pool *p,
			char *why, size_t len)
{
	struct agent *a = dp->agent;

	if (members_lease_valid(&a->members) &&
	    !members_view_current(&a->members)) {
		snprintf(why, len,
			 "catching up: this agent has not yet applied every "
			 "decision the cluster had committed (just restarted "
			 "or rejoined?)");
		return DATAPLANE_E_NOT_NOW;
	}
	if (strcmp(p->owner, a->cfg.pool) != 0) {
		snprintf(why, len, "the user set of %s is owned by %s", p->name,
			 p->owner);
		return DATAPLANE_E_NOT_OWNER;
	}
	if (dp->state != DP_OPEN) {
		snprintf(why, len, "the store is not open");
		return DATAPLANE_E_NOT_NOW;
	}
	if (p->state == FSM_STATE_FAILING_OVER) {
		snprintf(why, len,
			 "%s is failing over: writes are stopped while its "
			 "changes drain to %s",
			 p->name, p->pair);
		return DATAPLANE_E_NOT_NOW;
	}
	if (p->state == FSM_STATE_FAILING_BACK) {
		snprintf(why, len,
			 "%s is failing back: writes are stopped while its "
			 "changes drain back",
			 p->name);
		return DATAPLANE_E_NOT_NOW;
	}
	if (!members_lease_valid(&a->members)) {
		snprintf(why, len,
			 "no lease: this agent has not heard from the "
			 "cluster's leader in time (cut off from the majority?)");
		return DATAPLANE_E_NOT_NOW;
	}
	return 0;
}

/* Head and lag of a stream from what this agent wrote (live) and the
 * sender's figures (refreshed from the store every second): the larger;
 * the bytes and time of the writes the sender's figures do not hold yet
 * are added to its bytes and oldest write. */
static void live_figures(struct dataplane *dp, struct sender_stats *st)
{
	uint64_t acked = st->acked_seq, seen = st->head_seq, extra = 0;
	uint64_t oldest_ms = 0;
	struct lagtail *tail = NULL;

	for (unsigned i = 0; i < dp->n_written; i++)
		if (strcmp(dp->written[i].user_set, st->user_set) == 0 &&
		    st->lane >= 0 && st->lane <= 1) {
			tail = &dp->written[i].tail[st->lane];
			if (dp->written[i].seq[st->lane] > st->head_seq)
				st->head_seq = dp->written[i].seq[st->lane];
		}
	if (dp->sender != NULL)
		sender_acked(dp->sender, st->user_set, st->lane, &acked);
	if (acked > st->acked_seq)
		st->acked_seq = acked;
	if (st->head_seq > st->acked_seq &&
	    st->head_seq - st->acked_seq > st->lag_records)
		st->lag_records = st->head_seq - st->acked_seq;
	if (st->head_seq <= st->acked_seq) {
		st->lag_records = 0;
		st->lag_bytes = 0;
		st->oldest_unacked_hlc = 0;
		return;
	}
	if (tail != NULL) {
		lagtail_trim(tail, seen, UINT64_MAX);
		extra = lagtail_above(tail, st->acked_seq, &oldest_ms);
	}
	st->lag_bytes += extra;
	if (oldest_ms != 0 && (st->oldest_unacked_hlc == 0 ||
			       oldest_ms < hlc_ms(st->oldest_unacked_hlc)))
		st->oldest_unacked_hlc = oldest_ms << HLC_COUNTER_BITS;
}

int dataplane_stream_stats(struct dataplane *dp, size_t i,
			   struct sender_stats *st)
{
	int rv;

	if (dp->sender == NULL)
		return -ENOENT;
	rv = sender_stats_at(dp->sender, i, st);
	if (rv == 0)
		live_figures(dp, st);
	return rv;
}

/* The pool whose user set this agent is draining now (its own failing
 * over, or the pair's failing back while owned here), or NULL. */
static const struct fsm_pool *draining_pool(struct dataplane *dp)
{
	const struct fsm *f = &dp->agent->fsm;
	const struct fsm_pool *me = fsm_pool_find(f, dp->agent->cfg.pool);
	const struct fsm_pool *pair;

	if (me == NULL)
		return NULL;
	if (me->state == FSM_STATE_FAILING_OVER &&
	    strcmp(me->owner, me->name) == 0)
		return me;
	pair = me->pair[0] ? fsm_pool_find(f, me->pair) : NULL;
	if (pair != NULL && pair->state == FSM_STATE_FAILING_BACK &&
	    strcmp(pair->owner, me->name) == 0)
		return pair;
	return NULL;
}

static void drain_barrier_done(void *arg, int status, const char *errmsg)
{
	struct dataplane *dp = arg;

	(void)errmsg;
	if (status == 0)
		dp->drain_done = dp->drain_mark;
	else
		dp->drain_mark = 0; /* ask again at the next report */
}

static void cms_drain_barrier_done(void *arg, int status, const char *errmsg)
{
	struct dataplane *dp = arg;

	(void)errmsg;
	if (status == 0)
		dp->cms_drain_done = dp->cms_drain_mark;
	else
		dp->cms_drain_mark = 0; /* ask again at the next report */
}

/* A planned move of the CMS alone, from this agent's pool: is the drain
 * of its documents final (writes stopped, every write queued before the
 * move began committed)? Starts the barrier when needed. */
static bool cms_drain_final(struct dataplane *dp)
{
	const struct fsm *f = &dp->agent->fsm;

	if (f->cms_state != FSM_STATE_FAILING_OVER ||
	    strcmp(f->cms_active, dp->agent->cfg.pool) != 0)
		return false;
	if (dp->cms_drain_done == f->cms_since_ms)
		return true;
	if (dp->cms_drain_mark != f->cms_since_ms &&
	    store_outbox_ack(&dp->store, DATAPLANE_CMS, 0, 0,
			     cms_drain_barrier_done, dp) == 0)
		dp->cms_drain_mark = f->cms_since_ms;
	return false;
}

/* Is the drain of user_set final here: the pool is draining it and every
 * write queued before the drain began has committed? Starts the barrier
 * when needed. */
static bool drain_final(struct dataplane *dp, const char *user_set)
{
	const struct fsm_pool *d = draining_pool(dp);
	const struct fsm *f = &dp->agent->fsm;

	if (strcmp(user_set, DATAPLANE_CMS) == 0 && cms_drain_final(dp))
		return true;
	if (d == NULL)
		return false;
	if (strcmp(user_set, d->name) != 0 &&
	    !(strcmp(user_set, DATAPLANE_CMS) == 0 &&
	      strcmp(f->cms_active, d->name) == 0))
		return false;
	if (dp->drain_done == d->failover_since_ms)
		return true;
	if (dp->drain_mark != d->failover_since_ms &&
	    store_outbox_ack(&dp->store, d->name, 0, 0, drain_barrier_done,
			     dp) == 0)
		dp->drain_mark = d->failover_since_ms;
	return false;
}

unsigned dataplane_set_reports(struct dataplane *dp,
			       struct members_set_report *out, unsigned max)
{
	size_t n = dp->sender != NULL ? sender_stream_count(dp->sender) : 0;
	uint64_t now = agent_now_ms();
	unsigned k = 0;

	for (size_t i = 0; i < n; i++) {
		struct sender_stats st;
		unsigned j;

		if (dataplane_stream_stats(dp, i, &st) != 0)
			continue;
		for (j = 0; j < k; j++)
			if (strcmp(out[j].user_set, st.user_set) == 0)
				break;
		if (j == k) {
			if (k == max)
				continue;
			memset(&out[k], 0, sizeof out[k]);
			snprintf(out[k].user_set, sizeof out[k].user_set, "%s",
				 st.user_set);
			/* drained only counts once writes are stopped and
			 * every write from before has committed */
			out[k].drained = drain_final(dp, st.user_set) &&
					 dataplane_drained(dp, st.user_set);
			k++;
		}
		out[j].lag_records += st.lag_records;
		out[j].lag_bytes += st.lag_bytes;
		if (st.lag_records > 0 && st.oldest_unacked_hlc != 0 &&
		    hlc_ms(st.oldest_unacked_hlc) < now &&
		    now - hlc_ms(st.oldest_unacked_hlc) > out[j].lag_ms)
			out[j].lag_ms = now - hlc_ms(st.oldest_unacked_hlc);
	}
	return k;
}

bool dataplane_own_lag(struct dataplane *dp, uint64_t *records,
		       uint64_t *bytes, uint64_t *age_ms)
{
	size_t n = dp->sender != NULL ? sender_stream_count(dp->sender) : 0;
	uint64_t now = agent_now_ms();

	*records = *bytes = *age_ms = 0;
	if (dp->sender == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		struct sender_stats st;

		if (dataplane_stream_stats(dp, i, &st) != 0)
			continue;
		*records += st.lag_records;
		*bytes += st.lag_bytes;
		if (st.lag_records > 0 && st.oldest_unacked_hlc != 0 &&
		    hlc_ms(st.oldest_unacked_hlc) < now &&
		    now - hlc_ms(st.oldest_unacked_hlc) > *age_ms)
			*age_ms = now - hlc_ms(st.oldest_unacked_hlc);
	}
	return true;
}

json_t *dataplane_receiver_status(struct dataplane *dp)
{
	struct receiver_stats st;
	json_t *errors;

	if (dp->receiver == NULL)
		return json_null();
	receiver_get_stats(dp->receiver, &st);
	errors = json_object();
	for (int i = 0; errors != NULL && i < RECEIVER_ERR_COUNT; i++)
		if (st.errors[i] > 0)
			json_object_set_new(errors, receiver_reason_name(i),
					    json_integer((json_int_t)st.errors[i]));
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s}",
			 "from", dp->pair, "to", dp->agent->cfg.pool,
			 "connections", (json_int_t)st.connections, "active",
			 (json_int_t)st.active, "batches",
			 (json_int_t)st.batches, "records_applied",
			 (json_int_t)st.records_applied, "duplicates",
			 (json_int_t)st.duplicates, "archived",
			 (json_int_t)st.archived, "errors", errors,
			 "last_error", st.last_error);
}

void dataplane_on_applied(struct dataplane *dp)
{
	const struct fsm *f = &dp->agent->fsm;

	if (dp->state == DP_NONE)
		return;
	sync_follow(dp);
	if (dp->state != DP_OPEN)
		return;
	streams_reconcile(dp);
	if (f->cms_epoch > dp->cms_epoch &&
	    store_set_epoch(&dp->store, DATAPLANE_CMS, f->cms_epoch, epoch_set,
			    dp) == 0)
		dp->cms_epoch = f->cms_epoch;
	for (unsigned i = 0; i < f->n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];
		unsigned k;

		for (k = 0; k < dp->n_epochs; k++)
			if (strcmp(dp->epochs[k].pool, p->name) == 0)
				break;
		if (k == dp->n_epochs) {
			if (dp->n_epochs == FSM_MAX_POOLS)
				continue;
			snprintf(dp->epochs[k].pool, sizeof dp->epochs[k].pool,
				 "%s", p->name);
			dp->epochs[k].epoch = 0;
			dp->n_epochs++;
		}
		if (p->epoch <= dp->epochs[k].epoch)
			continue;
		if (store_set_epoch(&dp->store, p->name, p->epoch, epoch_set,
				    dp) == 0)
			dp->epochs[k].epoch = p->epoch;
	}
}

static void store_closed_cb(struct store *s)
{
	struct dataplane *dp =
	    (struct dataplane *)((char *)s - offsetof(struct dataplane, store));

	dp->state = DP_CLOSED;
	dp->agent->pending_closes--;
	agent_closed_one(dp->agent);
}

static void sync_timer_closed(uv_handle_t *h)
{
	struct dataplane *dp = h->data;

	dp->agent->pending_closes--;
	agent_closed_one(dp->agent);
}

void dataplane_close(struct dataplane *dp)
{
	int was = dp->state;

	if (dp->agent == NULL || was == DP_NONE || was == DP_FAILED ||
	    was == DP_CLOSING || was == DP_CLOSED)
		return;
	dp->state = DP_CLOSING;
	dp->agent->pending_closes++;
	if (dp->sync_timer_open) {
		dp->sync_timer_open = false;
		dp->agent->pending_closes++;
		uv_close((uv_handle_t *)&dp->sync_timer, sync_timer_closed);
	}
	if (was == DP_OPEN) {
		streams_stop(dp);
		if (dp->stream_closes == 0)
			store_close(&dp->store, store_closed_cb);
	}
	/* DP_OPENING: opened() finishes the close */
}
