/* dataplane_stream: the replication streams with the pair (see
 * dataplane.h): the sender of the user sets this pool owns and the
 * receiver of those its pair owns, kept in line with the applied state;
 * the divergence archive of our never-shipped tail on return after a
 * failover; the takeover fence; the drains of a failover, failback or
 * move of the CMS; the live figures of each stream. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dataplane_internal.h"
#include "agent/log.h"
#include "agent/members.h"

#define MOD DATAPLANE_MOD_REPL

static void on_ack(void *arg, const char *user_set, int lane,
		   uint64_t acked_seq)
{
	dataplane_sync_acked(arg, user_set, lane, acked_seq);
	dataplane_drain_kick(arg);
}

static void stream_log(void *arg, int level, const char *msg)
{
	(void)arg;
	switch (level) {
	case STREAM_LOG_ERROR:
		LOG_ERROR(MOD, "%s", msg);
		break;
	case STREAM_LOG_WARN:
		LOG_WARN(MOD, "%s", msg);
		break;
	case STREAM_LOG_INFO:
		LOG_INFO(MOD, "%s", msg);
		break;
	default:
		LOG_DEBUG(MOD, "%s", msg);
		break;
	}
}

/* Data address of the writer of pool (the one agent of it that runs its
 * streams), or NULL when it has none. */
static const char *pool_data_addr(const struct fsm *f, const char *pool)
{
	const struct fsm_member *w = fsm_pool_writer(f, pool);

	return w != NULL && w->data_address[0] != '\0' ? w->data_address : NULL;
}

/* Whether the streams with the pair run here: this agent is the writer of
 * its paired pool in the applied state; to start them, its view must be
 * current too (a restarted agent replays an older state, which may still
 * name it the writer). */
static bool streams_wanted(struct dataplane *dp, const struct fsm_pool *me)
{
	if (me == NULL || me->pair[0] == '\0' ||
	    me->writer != dp->deps.agent_id)
		return false;
	return dp->pair[0] != '\0' ||
	       dp->deps.lease.ops->view_current(dp->deps.lease.impl);
}

void dataplane_streams_follow(struct dataplane *dp)
{
	bool running = dp->pair[0] != '\0';

	if (dp->state == DP_OPEN &&
	    streams_wanted(dp, dataplane_me(dp)) != running)
		dataplane_streams_reconcile(dp);
}

int dataplane_split_hostport(const char *addr, char *host, size_t hostlen,
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
unsigned dataplane_owned_by(const struct fsm *f, const char *pool,
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

void dataplane_stream_closed(void *arg)
{
	struct dataplane *dp = arg;

	dp->stream_closes--;
	if (dp->state == DP_CLOSING && dp->stream_closes == 0)
		dataplane_store_close(dp);
}

void dataplane_streams_stop(struct dataplane *dp, enum dataplane_release how)
{
	dataplane_sync_release_all(dp, how);
	if (dp->sender != NULL) {
		dp->stream_closes++;
		sender_close(dp->sender, dataplane_stream_closed, dp);
		dp->sender = NULL;
	}
	if (dp->receiver != NULL) {
		dp->stream_closes++;
		receiver_close(dp->receiver, dataplane_stream_closed, dp);
		dp->receiver = NULL;
	}
	dp->pair[0] = '\0';
	dp->peer_addr[0] = '\0';
	dp->n_owned = 0;
	dp->n_received = 0;
}

uint64_t dataplane_total_lag(struct dataplane *dp, bool *streaming)
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
void dataplane_divert_pending(struct dataplane *dp)
{
	const struct fsm_pool *me = dataplane_me(dp);

	if (dp->state == DP_OPEN && me != NULL && me->pair[0] != '\0' &&
	    strcmp(me->owner, me->name) != 0 &&
	    dp->diverted_epoch != me->epoch && !dp->diverting &&
	    dp->deps.lease.ops->view_current(dp->deps.lease.impl))
		dataplane_streams_reconcile(dp);
}

uint64_t dataplane_pool_writer_id(const struct fsm *f, const char *pool)
{
	const struct fsm_pool *p = fsm_pool_find(f, pool);

	return p != NULL ? p->writer : 0;
}

const char *dataplane_member_name(const struct fsm *f, uint64_t id,
				  char *buf, size_t len)
{
	const struct fsm_member *m = fsm_member_find(f, id);

	if (id == 0)
		snprintf(buf, len, "any agent");
	else if (m != NULL)
		snprintf(buf, len, "%s", m->name);
	else
		snprintf(buf, len, "member %" PRIu64, id);
	return buf;
}

static void streams_start(struct dataplane *dp, const struct fsm_pool *me)
{
	const struct dataplane_deps *d = &dp->deps;
	const struct fsm *f = d->fsm;
	const char *mine[FSM_MAX_POOLS], *theirs[FSM_MAX_POOLS];
	unsigned n_mine = dataplane_owned_by(f, me->name, mine, SENDER_MAX_USER_SETS);
	unsigned n_theirs =
	    dataplane_owned_by(f, me->pair, theirs, RECEIVER_MAX_USER_SETS);
	struct sender_config sc;
	struct receiver_config rc;
	int rv;

	memset(&rc, 0, sizeof rc);
	rc.local_pool = me->name;
	rc.peer_pool = me->pair;
	rc.agent_id = d->agent_id;
	/* only the pair's writer streams to us (F2) */
	rc.peer_agent = dataplane_pool_writer_id(f, me->pair);
	rc.host =
	    strcmp(d->data_host, "localhost") == 0 ? "127.0.0.1" : d->data_host;
	rc.port = d->data_port;
	rc.user_sets = theirs;
	rc.n_user_sets = n_theirs;
	rc.log = stream_log;
	rc.arg = dp;
	rc.tls = d->tls;
	rc.tls_require = d->tls_require;
	rv = receiver_init(&dp->receiver, d->loop, &dp->store, &rc);
	if (rv != 0) {
		LOG_ERROR(MOD, "receiver on %s port %u: %s", d->data_host,
			  (unsigned)d->data_port, uv_strerror(rv));
		dp->receiver = NULL;
	} else {
		dataplane_receiver_epochs(dp, dp->receiver);
	}
	dp->rx_peer_agent = rc.peer_agent;

	memset(&sc, 0, sizeof sc);
	sc.local_pool = me->name;
	sc.peer_pool = me->pair;
	sc.agent_id = d->agent_id;
	sc.user_sets = mine;
	sc.n_user_sets = n_mine;
	sc.log = stream_log;
	sc.on_ack = on_ack;
	sc.arg = dp;
	sc.tls = d->tls;
	rv = sender_init(&dp->sender, d->loop, &dp->store, &sc);
	if (rv != 0) {
		LOG_ERROR(MOD, "sender to %s: %d", me->pair, rv);
		dp->sender = NULL;
	}
	snprintf(dp->pair, sizeof dp->pair, "%s", me->pair);
	dp->n_owned = 0;
	for (unsigned i = 0; i < n_mine; i++)
		snprintf(dp->owned[dp->n_owned++], FSM_NAME_LEN, "%s", mine[i]);
	LOG_INFO(MOD, "replicating %s <-> %s (this agent is the writer of %s)",
		 me->name, me->pair, me->name);
}

#define FENCE_NS (30ULL * 1000000000ULL)

static bool fenced(struct dataplane *dp, const char *user_set)
{
	const struct fsm_pool *p = fsm_pool_find(dp->deps.fsm, user_set);
	uint64_t now = clock_mono_ns(dp->deps.clock);

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
	unsigned n = dataplane_owned_by(dp->deps.fsm, me->pair, all, FSM_MAX_POOLS);
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
		LOG_ERROR(DATAPLANE_MOD, "archiving the never-shipped tail: %s",
			  errmsg);
}

static void divert_positions(void *arg, int status,
			     const struct store_positions *ps)
{
	struct dataplane *dp = arg;
	const struct fsm_pool *me = dataplane_me(dp);

	dp->diverting = false;
	if (status != 0 || me == NULL || dp->state != DP_OPEN) {
		LOG_WARN(DATAPLANE_MOD,
			 "positions for the divergence check: %s",
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
		LOG_WARN(DATAPLANE_MOD,
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
				lagtail_trim(&dp->written[w].tail[pos->lane], 0,
					     keep);
			}
	}
	dp->diverted_epoch = me->epoch;
	dataplane_streams_reconcile(dp);
}

static void pair_reconcile(struct dataplane *dp);

/* Bring sender and receiver in line with the applied state, and the
 * local streams of the hot standbys (dataplane_local.c) around them: a
 * standby's receiver is closed before the pair's starts on the same
 * address, and starts only once the pair's closed. */
void dataplane_streams_reconcile(struct dataplane *dp)
{
	dataplane_local_reconcile(dp);
	pair_reconcile(dp);
	dataplane_local_reconcile(dp);
}

static void pair_reconcile(struct dataplane *dp)
{
	const struct fsm *f = dp->deps.fsm;
	const struct fsm_pool *me = dataplane_me(dp);
	const char *addr;
	const char *mine[FSM_MAX_POOLS];
	unsigned n_mine;
	bool same;

	if (!streams_wanted(dp, me)) {
		if (dp->pair[0] != '\0') {
			if (me != NULL && me->pair[0] != '\0')
				LOG_INFO(MOD,
					 "standby of %s: no streams with %s "
					 "(the writer runs them)",
					 me->name, me->pair);
			/* no longer the writer (unpaired: the mode turned
			 * async first, nothing waits) */
			dataplane_streams_stop(dp, DP_RELEASE_FAILED);
		}
		return;
	}
	if (strcmp(dp->pair, me->pair) != 0) {
		/* another pair, committed: the writes stay durable here and
		 * the new pair's copy is seeded */
		if (dp->pair[0] != '\0')
			dataplane_streams_stop(dp, DP_RELEASE_LOCAL);
		streams_start(dp, me);
	}
	/* the pair's writer: the sender follows it as it changes, and
	 * waits while the pair has none */
	addr = pool_data_addr(f, me->pair);
	if (dp->sender != NULL && addr != NULL &&
	    strcmp(addr, dp->peer_addr) != 0) {
		char host[FSM_ADDR_LEN];
		uint16_t port;

		if (dataplane_split_hostport(addr, host, sizeof host, &port) == 0 &&
		    sender_set_peer(dp->sender, host, port) == 0) {
			if (dp->peer_addr[0] != '\0')
				LOG_INFO(MOD, "%s's writer is at %s now",
					 me->pair, addr);
			snprintf(dp->peer_addr, sizeof dp->peer_addr, "%s",
				 addr);
		}
	} else if (dp->sender != NULL && addr == NULL &&
		   dp->peer_addr[0] != '\0' &&
		   sender_set_peer(dp->sender, NULL, 0) == 0) {
		LOG_INFO(MOD, "%s has no writer: the sender waits", me->pair);
		dp->peer_addr[0] = '\0';
	}
	/* back after a failover: archive our never-shipped tail first, but
	 * only from a current view: after a restart the replayed state may
	 * name an older failover whose takeover position is too low */
	if (strcmp(me->owner, me->name) != 0 &&
	    dp->diverted_epoch != me->epoch && !dp->diverting &&
	    dp->deps.lease.ops->view_current(dp->deps.lease.impl)) {
		if (store_stream_positions(&dp->store, divert_positions, dp) ==
		    0)
			dp->diverting = true;
	} else if (strcmp(me->owner, me->name) == 0) {
		dp->diverted_epoch = me->epoch;
	}
	n_mine = dataplane_owned_by(f, me->name, mine, SENDER_MAX_USER_SETS);
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
		uint64_t w = dataplane_pool_writer_id(f, me->pair);

		/* the pair's writer changed: its former writer's stream is
		 * closed, and refused from now on (F2) */
		if (w != dp->rx_peer_agent &&
		    receiver_set_peer_agent(dp->receiver, w) == 0) {
			char name[FSM_NAME_LEN + 24];

			LOG_INFO(MOD, "taking %s's stream from %s only",
				 me->pair,
				 dataplane_member_name(f, w, name,
						       sizeof name));
			dp->rx_peer_agent = w;
		}

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
	const struct fsm_pool *me = dataplane_me(dp);
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
	dp->fenced[i].since_ns = clock_mono_ns(dp->deps.clock);
	{
		const struct fsm_pool *u =
		    fsm_pool_find(dp->deps.fsm, user_set);

		dp->fenced[i].epoch = u != NULL ? u->epoch : 0;
	}
	dataplane_streams_reconcile(dp); /* the receiver stops taking it now */
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
	LOG_INFO(MOD, "taking over %s", user_set);
	return rv;
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
		dataplane_seed_lag(st);
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
	dataplane_seed_lag(st);
}

int dataplane_stream_stats(struct dataplane *dp, size_t i,
			   struct sender_stats *st)
{
	int rv;

	if (dp->sender == NULL)
		return -ENOENT;
	rv = sender_stats_at(dp->sender, i, st);
	if (rv == 0) {
		dataplane_seed_unfinished(dp, st);
		live_figures(dp, st);
	}
	return rv;
}

/* The pool whose user set this agent is draining now (its own failing
 * over, or the pair's failing back while owned here), or NULL. */
static const struct fsm_pool *draining_pool(struct dataplane *dp)
{
	const struct fsm *f = dp->deps.fsm;
	const struct fsm_pool *me = dataplane_me(dp);
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
	if (status == 0) {
		dp->drain_done = dp->drain_mark;
		dataplane_drain_kick(dp);
	} else {
		dp->drain_mark = 0; /* ask again at the next report */
	}
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
	const struct fsm *f = dp->deps.fsm;

	if (f->cms_state != FSM_STATE_FAILING_OVER ||
	    strcmp(f->cms_active, dp->pool) != 0)
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
	const struct fsm *f = dp->deps.fsm;

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

void dataplane_drain_kick(struct dataplane *dp)
{
	const struct fsm_pool *d = draining_pool(dp);
	struct members_set_report r[MEMBERS_SETS];
	bool cms, set = false;
	unsigned n;

	if (d == NULL || dp->state != DP_OPEN ||
	    dp->drain_told == d->failover_since_ms)
		return;
	/* the barrier now: every write accepted before the drain began is
	 * queued already (writes are refused from the apply on) */
	drain_final(dp, d->name);
	cms = strcmp(dp->deps.fsm->cms_active, d->name) == 0;
	n = dataplane_set_reports(dp, r, MEMBERS_SETS);
	for (unsigned i = 0; i < n && i < MEMBERS_SETS; i++) {
		if (strcmp(r[i].user_set, d->name) == 0)
			set = r[i].drained;
		else if (cms && strcmp(r[i].user_set, DATAPLANE_CMS) == 0 &&
			 !r[i].drained)
			return;
	}
	if (!set)
		return;
	dp->drain_told = d->failover_since_ms;
	LOG_INFO(MOD, "%s drained: every write made here is at %s",
		 d->name, dp->pair);
	if (dp->deps.drained.cb != NULL)
		dp->deps.drained.cb(dp->deps.drained.arg, d->name);
}

unsigned dataplane_set_reports(struct dataplane *dp,
			       struct members_set_report *out, unsigned max)
{
	size_t n = dp->sender != NULL ? sender_stream_count(dp->sender) : 0;
	uint64_t now = clock_wall_ms(dp->deps.clock);
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
		if (st.seeding) {
			out[j].seeding = true;
			out[j].drained = false;
			out[j].seed_items += st.seed_items;
			out[j].seed_items_total += st.seed_items_total;
		}
		if (st.lag_records > 0 && st.oldest_unacked_hlc != 0 &&
		    hlc_ms(st.oldest_unacked_hlc) < now &&
		    now - hlc_ms(st.oldest_unacked_hlc) > out[j].lag_ms)
			out[j].lag_ms = now - hlc_ms(st.oldest_unacked_hlc);
	}
	return k;
}

bool dataplane_own_lag(struct dataplane *dp, uint64_t *records, uint64_t *bytes,
		       uint64_t *age_ms)
{
	size_t n = dp->sender != NULL ? sender_stream_count(dp->sender) : 0;
	uint64_t now = clock_wall_ms(dp->deps.clock);

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
			json_object_set_new(
			    errors, receiver_reason_name(i),
			    json_integer((json_int_t)st.errors[i]));
	return json_pack(
	    "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s}", "from",
	    dp->pair, "to", dp->pool, "connections", (json_int_t)st.connections,
	    "active", (json_int_t)st.active, "batches", (json_int_t)st.batches,
	    "records_applied", (json_int_t)st.records_applied, "duplicates",
	    (json_int_t)st.duplicates, "archived", (json_int_t)st.archived,
	    "errors", errors, "last_error", st.last_error);
}

uint64_t dataplane_user_set_lag(struct dataplane *dp, const char *user_set,
				unsigned *streams)
{
	size_t n = dp->sender != NULL ? sender_stream_count(dp->sender) : 0;
	uint64_t lag = 0;

	*streams = 0;
	for (size_t i = 0; i < n; i++) {
		struct sender_stats st;

		if (dataplane_stream_stats(dp, i, &st) != 0 ||
		    strcmp(st.user_set, user_set) != 0)
			continue;
		(*streams)++;
		lag += st.lag_records;
	}
	return lag;
}
