/* dataplane_local: the hot standbys of this agent's pool, at the writer
 * (see dataplane.h; the standby's side is dataplane_standby.c).
 *
 * At the writer (R1): one local sender per standby of the pool (a member
 * of it, not the writer, with a data address), to that standby's data
 * address, streaming every user set the pool owns, from local pool to
 * local pool, with the pair stream's TLS; it never trims the outbox
 * (no_trim): only the pair's acknowledgements do. Its acknowledgements
 * go to the local synchronous copy (dataplane_lsync_on_ack) and, for the
 * synchronous standby (or the candidate the writer brings in sync), cap
 * the pair's sender (R3): the pair never holds a record that standby
 * does not.
 *
 * Shared with dataplane_standby.c (dataplane_internal.h): dp->local, the
 * role of this agent in its pool, the view's currency, the streams' log;
 * and the life of both sides (reconcile, tick, stop). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dataplane_internal.h"
#include "agent/log.h"
#include "agent/members.h"

#define MOD DATAPLANE_MOD_REPL

#define LOCAL_MAX DATAPLANE_LOCAL_MAX /* standbys streamed to */
#define LOCAL_SETS DATAPLANE_STANDBY_SETS
#define MS 1000000ULL

/* One standby the writer streams to. Heap memory of its own: the local
 * sender's callbacks point at it; freed once the sender closed. */
struct lsender {
	struct dataplane *dp; /* borrowed */
	uint64_t id;
	char name[FSM_NAME_LEN];
	char addr[FSM_ADDR_LEN]; /* the data address it connects to */
	struct sender *s;	 /* owned until closed */
	struct {
		char user_set[FSM_NAME_LEN];
		struct lagtail tail[2]; /* writes not acknowledged yet */
	} sets[LOCAL_SETS];
	unsigned n_sets;
	uint64_t last_ack_ns;
	uint64_t since_ns; /* created */
};

/* ---- shared ---- */

int dataplane_local_init(struct dataplane *dp)
{
	dp->local = calloc(1, sizeof *dp->local);
	return dp->local != NULL ? 0 : -ENOMEM;
}

void dataplane_local_free(struct dataplane *dp)
{
	free(dp->local);
	dp->local = NULL;
}

const char *dataplane_standby_state_name(int state)
{
	switch (state) {
	case DATAPLANE_STANDBY_STREAMING:
		return "streaming";
	case DATAPLANE_STANDBY_SEEDING:
		return "seeding";
	default:
		return "disconnected";
	}
}

bool dataplane_pool_owns(const struct dataplane *dp, const char *user_set)
{
	const char *v[FSM_MAX_POOLS];
	unsigned n;

	if (dp->pool[0] == '\0')
		return false;
	n = dataplane_owned_by(dp->deps.fsm, dp->pool, v, FSM_MAX_POOLS);
	for (unsigned i = 0; i < n; i++)
		if (strcmp(v[i], user_set) == 0)
			return true;
	return false;
}

enum local_role dataplane_local_role(const struct dataplane *dp)
{
	const struct fsm_pool *me;

	if (dp->local == NULL || dp->state != DP_OPEN)
		return ROLE_NONE;
	me = dataplane_me(dp);
	if (me == NULL || me->writer == 0)
		return ROLE_NONE;
	return me->writer == dp->deps.agent_id ? ROLE_WRITER : ROLE_STANDBY;
}

bool dataplane_local_view_current(const struct dataplane *dp)
{
	return dp->deps.lease.ops->view_current(dp->deps.lease.impl);
}

void dataplane_local_log(void *arg, int level, const char *msg)
{
	(void)arg;
	switch (level) {
	case STREAM_LOG_ERROR:
		LOG_ERROR(MOD, "local: %s", msg);
		break;
	case STREAM_LOG_WARN:
		LOG_WARN(MOD, "local: %s", msg);
		break;
	case STREAM_LOG_INFO:
		LOG_INFO(MOD, "local: %s", msg);
		break;
	default:
		LOG_DEBUG(MOD, "local: %s", msg);
		break;
	}
}

/* ---- writer: the local senders (R1) ---- */

static struct lsender *tx_find(struct dataplane_local *l, uint64_t id)
{
	for (unsigned i = 0; i < l->n_tx; i++)
		if (l->tx[i]->id == id)
			return l->tx[i];
	return NULL;
}

static int tx_set(struct lsender *t, const char *user_set)
{
	for (unsigned i = 0; i < t->n_sets; i++)
		if (strcmp(t->sets[i].user_set, user_set) == 0)
			return (int)i;
	return -1;
}

/* What the standby of t acknowledged of (user_set, lane): its local
 * sender's word (it drops when the copy was reset and is seeded again),
 * 0 when it streams no such user set. */
static uint64_t tx_acked(const struct lsender *t, const char *user_set,
			 int lane)
{
	uint64_t acked = 0;

	if (t->s == NULL || sender_acked(t->s, user_set, lane, &acked) != 0)
		return 0;
	return acked;
}

/* The standby that caps the pair's sender: the committed synchronous
 * standby, else the candidate being brought in sync; 0 none. */
static uint64_t cap_target(const struct dataplane *dp)
{
	const struct fsm_pool *me = dataplane_me(dp);

	if (me == NULL)
		return 0;
	if (me->sync_standby != 0)
		return me->sync_standby;
	return dataplane_lsync_target(dp);
}

/* The limit of (user_set, lane) on the pair's sender: what the cap's
 * target acknowledged, none without a target. */
static uint64_t cap_limit(const struct dataplane *dp, uint64_t target,
			  const char *user_set, int lane)
{
	const struct lsender *t;

	if (target == 0)
		return UINT64_MAX;
	t = tx_find(dp->local, target);
	if (t == NULL)
		return 0; /* nothing known acknowledged: nothing more */
	return tx_acked(t, user_set, lane);
}

/* Set the pair sender's limit of (user_set, lane) when it changed. */
static void cap_one(struct dataplane *dp, const char *user_set, int lane,
		    uint64_t limit)
{
	struct dataplane_local *l = dp->local;
	unsigned i;

	for (i = 0; i < l->n_caps; i++)
		if (strcmp(l->caps[i].user_set, user_set) == 0)
			break;
	if (i == l->n_caps) {
		if (i == LOCAL_SETS)
			return;
		snprintf(l->caps[i].user_set, sizeof l->caps[i].user_set, "%s",
			 user_set);
		/* the sender starts without limit */
		l->caps[i].limit[0] = l->caps[i].limit[1] = UINT64_MAX;
		l->n_caps++;
	}
	if (l->caps[i].limit[lane] == limit)
		return;
	if (sender_set_limit(dp->sender, user_set, lane, limit) == 0)
		l->caps[i].limit[lane] = limit;
}

/* R3: bring the pair sender's limits in line with the cap's target. */
static void caps_update(struct dataplane *dp)
{
	struct dataplane_local *l = dp->local;
	uint64_t target;

	if (dp->sender == NULL) {
		l->capped = NULL;
		l->n_caps = 0;
		return;
	}
	if (l->capped != dp->sender) {
		/* a new sender: no limit set on it yet */
		l->capped = dp->sender;
		l->n_caps = 0;
	}
	target = dataplane_local_role(dp) == ROLE_WRITER ? cap_target(dp) : 0;
	if (target != l->cap_target) {
		const struct fsm_member *m =
		    target != 0 ? fsm_member_find(dp->deps.fsm, target) : NULL;

		if (target != 0)
			LOG_INFO(MOD,
				 "the pair receives only what %s acknowledged",
				 m != NULL ? m->name : "the synchronous standby");
		else
			LOG_INFO(MOD, "the pair's stream is no longer capped by "
				      "a standby");
		l->cap_target = target;
	}
	for (unsigned i = 0; i < dp->n_owned; i++)
		for (int lane = 0; lane < 2; lane++)
			cap_one(dp, dp->owned[i], lane,
				cap_limit(dp, target, dp->owned[i], lane));
}

static void tx_on_ack(void *arg, const char *user_set, int lane,
		      uint64_t acked)
{
	struct lsender *t = arg;
	struct dataplane *dp = t->dp;
	int k = tx_set(t, user_set);

	if (k < 0 || lane < 0 || lane > 1)
		return;
	t->last_ack_ns = clock_mono_ns(dp->deps.clock);
	lagtail_trim(&t->sets[k].tail[lane], acked, UINT64_MAX);
	dataplane_lsync_on_ack(dp, t->id, user_set, lane, acked);
	if (dp->local->cap_target == t->id && dp->sender != NULL)
		cap_one(dp, user_set, lane,
			cap_limit(dp, t->id, user_set, lane));
}

static void tx_closed(void *arg)
{
	struct lsender *t = arg;
	struct dataplane *dp = t->dp;

	free(t);
	dataplane_stream_closed(dp);
}

static void tx_close(struct dataplane *dp, unsigned i)
{
	struct dataplane_local *l = dp->local;
	struct lsender *t = l->tx[i];

	LOG_INFO(MOD, "local stream to %s stopped", t->name);
	l->tx[i] = l->tx[--l->n_tx];
	if (t->s == NULL) {
		free(t);
		return;
	}
	dp->stream_closes++;
	sender_close(t->s, tx_closed, t);
}

static void tx_keep_sets(struct lsender *t, const char *const *sets,
			 unsigned n)
{
	struct lsender old = *t;

	t->n_sets = 0;
	for (unsigned i = 0; i < n && i < LOCAL_SETS; i++) {
		int k = tx_set(&old, sets[i]);

		memset(&t->sets[i], 0, sizeof t->sets[i]);
		if (k >= 0)
			t->sets[i] = old.sets[k];
		snprintf(t->sets[i].user_set, sizeof t->sets[i].user_set, "%s",
			 sets[i]);
		t->n_sets++;
	}
}

static struct lsender *tx_start(struct dataplane *dp, const struct fsm_pool *me,
				const struct fsm_member *m,
				const char *const *sets, unsigned n)
{
	const struct dataplane_deps *d = &dp->deps;
	struct sender_config sc;
	struct lsender *t;
	char host[FSM_ADDR_LEN];
	uint16_t port;
	int rv;

	if (dataplane_split_hostport(m->data_address, host, sizeof host,
				     &port) != 0) {
		LOG_WARN(MOD, "standby %s: bad data address %s", m->name,
			 m->data_address);
		return NULL;
	}
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->dp = dp;
	t->id = m->id;
	t->since_ns = clock_mono_ns(d->clock);
	snprintf(t->name, sizeof t->name, "%s", m->name);
	snprintf(t->addr, sizeof t->addr, "%s", m->data_address);
	tx_keep_sets(t, sets, n);
	memset(&sc, 0, sizeof sc);
	sc.local_pool = me->name;
	sc.peer_pool = me->name;
	sc.agent_id = d->agent_id;
	sc.host = host;
	sc.port = port;
	sc.user_sets = sets;
	sc.n_user_sets = n;
	sc.no_trim = 1;
	sc.log = dataplane_local_log;
	sc.on_ack = tx_on_ack;
	sc.arg = t;
	sc.tls = d->tls;
	rv = sender_init(&t->s, d->loop, &dp->store, &sc);
	if (rv != 0) {
		LOG_ERROR(MOD, "local sender to %s: %d", m->name, rv);
		free(t);
		return NULL;
	}
	LOG_INFO(MOD, "streaming %s to its standby %s at %s", me->name,
		 m->name, m->data_address);
	return t;
}

/* The standbys of this agent's pool, to stream to. */
static bool is_standby(const struct dataplane *dp, const struct fsm_pool *me,
		       const struct fsm_member *m)
{
	return strcmp(m->pool, me->name) == 0 && m->id != dp->deps.agent_id &&
	       m->data_address[0] != '\0';
}

static void writer_reconcile(struct dataplane *dp, bool writer)
{
	struct dataplane_local *l = dp->local;
	const struct fsm *f = dp->deps.fsm;
	const struct fsm_pool *me = dataplane_me(dp);
	const char *sets[FSM_MAX_POOLS];
	unsigned n = 0;
	bool same;

	/* the streams of a writer start from a current view only (a replayed
	 * state may still name it) and stay while it is the writer */
	if (writer && l->n_tx == 0 && !dataplane_local_view_current(dp))
		writer = false;
	if (writer)
		n = dataplane_owned_by(f, me->name, sets, LOCAL_SETS);
	same = n == l->n_sets;
	for (unsigned i = 0; same && i < n; i++)
		same = strcmp(sets[i], l->sets[i]) == 0;
	if (!same) {
		l->n_sets = 0;
		for (unsigned i = 0; i < n; i++)
			snprintf(l->sets[l->n_sets++], FSM_NAME_LEN, "%s",
				 sets[i]);
	}
	/* stop the senders of those no longer standbys (or all) */
	for (unsigned i = 0; i < l->n_tx;) {
		struct lsender *t = l->tx[i];
		const struct fsm_member *m =
		    writer ? fsm_member_find(f, t->id) : NULL;

		if (m == NULL || !is_standby(dp, me, m) || n == 0 ||
		    strcmp(m->data_address, t->addr) != 0) {
			tx_close(dp, i);
			continue;
		}
		if (!same) {
			sender_set_user_sets(t->s, sets, n);
			tx_keep_sets(t, sets, n);
		}
		i++;
	}
	if (!writer || n == 0)
		return;
	for (unsigned i = 0; i < f->n_members && l->n_tx < LOCAL_MAX; i++) {
		const struct fsm_member *m = &f->members[i];
		struct lsender *t;

		if (!is_standby(dp, me, m) || tx_find(l, m->id) != NULL)
			continue;
		t = tx_start(dp, me, m, sets, n);
		if (t != NULL)
			l->tx[l->n_tx++] = t;
	}
}

void dataplane_local_written(struct dataplane *dp, const char *user_set,
			     int lane, uint64_t seq, uint64_t bytes)
{
	struct dataplane_local *l = dp->local;
	uint64_t now = clock_wall_ms(dp->deps.clock);

	if (l == NULL || lane < 0 || lane > 1)
		return;
	for (unsigned i = 0; i < l->n_tx; i++) {
		struct lsender *t = l->tx[i];
		int k = tx_set(t, user_set);

		if (k >= 0)
			lagtail_add(&t->sets[k].tail[lane], seq, bytes, now);
	}
}

void dataplane_local_notify(struct dataplane *dp)
{
	struct dataplane_local *l = dp->local;

	for (unsigned i = 0; l != NULL && i < l->n_tx; i++)
		sender_notify(l->tx[i]->s);
}

/* The writer's head of (user_set, lane): what it wrote (live) and what
 * the sender saw in the store. */
static uint64_t head_of(struct dataplane *dp, struct lsender *t,
			const char *user_set, int lane)
{
	struct sender_stats st;
	uint64_t head = 0;

	for (unsigned i = 0; i < dp->n_written; i++)
		if (strcmp(dp->written[i].user_set, user_set) == 0)
			head = dp->written[i].seq[lane];
	if (sender_stats_get(t->s, user_set, lane, &st) == 0) {
		if (st.head_seq > head)
			head = st.head_seq;
		if (st.applied_seq > head)
			head = st.applied_seq;
	}
	return head;
}

static void tx_figures(struct dataplane *dp, struct lsender *t,
		       struct dataplane_standby *out)
{
	uint64_t now = clock_wall_ms(dp->deps.clock);
	size_t n = sender_stream_count(t->s);
	bool streaming = n > 0, seeding = false;

	memset(out, 0, sizeof *out);
	out->id = t->id;
	snprintf(out->name, sizeof out->name, "%s", t->name);
	out->last_ack_ns = t->last_ack_ns;
	for (size_t i = 0; i < n; i++) {
		struct sender_stats st;

		if (sender_stats_at(t->s, i, &st) != 0)
			continue;
		if (st.state != SENDER_STREAMING)
			streaming = false;
		if (st.seeding)
			seeding = true;
	}
	out->state = seeding	 ? DATAPLANE_STANDBY_SEEDING
		     : streaming ? DATAPLANE_STANDBY_STREAMING
				 : DATAPLANE_STANDBY_DISCONNECTED;
	for (unsigned k = 0; k < t->n_sets && k < DATAPLANE_STANDBY_SETS; k++) {
		snprintf(out->sets[k].user_set, sizeof out->sets[k].user_set,
			 "%s", t->sets[k].user_set);
		for (int lane = 0; lane < 2; lane++) {
			uint64_t head =
			    head_of(dp, t, t->sets[k].user_set, lane);
			uint64_t acked =
			    tx_acked(t, t->sets[k].user_set, lane);
			uint64_t oldest = 0;

			out->sets[k].head[lane] = head;
			out->sets[k].acked[lane] = acked;
			if (head <= acked)
				continue;
			out->lag_records += head - acked;
			lagtail_above(&t->sets[k].tail[lane], acked, &oldest);
			if (oldest == 0) {
				/* older than the writes this process saw:
				 * at least since the last ack (or the
				 * sender's start) */
				uint64_t since = t->last_ack_ns != 0
						     ? t->last_ack_ns
						     : t->since_ns;
				uint64_t mono = clock_mono_ns(dp->deps.clock);

				oldest = mono > since
					     ? now - (mono - since) / MS
					     : now;
			}
			if (oldest < now && now - oldest > out->lag_ms)
				out->lag_ms = now - oldest;
		}
		out->n_sets++;
	}
}

unsigned dataplane_standby_count(const struct dataplane *dp)
{
	return dp->local != NULL && dataplane_local_role(dp) == ROLE_WRITER ? dp->local->n_tx
							    : 0;
}

int dataplane_standby_at(struct dataplane *dp, unsigned i,
			 struct dataplane_standby *out)
{
	if (i >= dataplane_standby_count(dp))
		return -ENOENT;
	tx_figures(dp, dp->local->tx[i], out);
	return 0;
}

int dataplane_standby_get(struct dataplane *dp, uint64_t id,
			  struct dataplane_standby *out)
{
	struct lsender *t;

	if (dataplane_standby_count(dp) == 0 ||
	    (t = tx_find(dp->local, id)) == NULL)
		return -ENOENT;
	tx_figures(dp, t, out);
	return 0;
}

unsigned dataplane_standby_reports(struct dataplane *dp,
				   struct members_standby_report *out,
				   unsigned max)
{
	unsigned n = dataplane_standby_count(dp), k = 0;

	for (unsigned i = 0; i < n && k < max; i++) {
		struct dataplane_standby sb;
		struct members_standby_report *r = &out[k];

		if (dataplane_standby_at(dp, i, &sb) != 0)
			continue;
		memset(r, 0, sizeof *r);
		r->id = sb.id;
		snprintf(r->state, sizeof r->state, "%s",
			 dataplane_standby_state_name(sb.state));
		for (unsigned j = 0; j < sb.n_sets; j++)
			if (strcmp(sb.sets[j].user_set, dp->pool) == 0) {
				r->acked[0] = sb.sets[j].acked[0];
				r->acked[1] = sb.sets[j].acked[1];
			}
		r->lag_records = sb.lag_records;
		r->lag_ms = sb.lag_ms;
		k++;
	}
	return k;
}

/* ---- the life ---- */

void dataplane_local_reconcile(struct dataplane *dp)
{
	enum local_role r;

	if (dp->local == NULL)
		return;
	r = dataplane_local_role(dp);
	dataplane_standby_reconcile(dp, r == ROLE_STANDBY);
	writer_reconcile(dp, r == ROLE_WRITER);
	caps_update(dp);
}

void dataplane_local_tick(struct dataplane *dp)
{
	struct dataplane_local *l = dp->local;

	if (l == NULL || dp->state != DP_OPEN)
		return;
	dataplane_local_reconcile(dp);
	dataplane_standby_tick(dp);
}

void dataplane_local_stop(struct dataplane *dp)
{
	struct dataplane_local *l = dp->local;

	if (l == NULL)
		return;
	while (l->n_tx > 0)
		tx_close(dp, l->n_tx - 1);
	dataplane_standby_stop(dp);
}
