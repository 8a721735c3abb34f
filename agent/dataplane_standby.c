/* dataplane_standby: the hot standby's side of this agent's pool (see
 * dataplane.h; the writer's side is dataplane_local.c, which runs the
 * life of both).
 *
 * At a standby (R2, R7): first, from a current view, the records of its
 * outbox a former writer never shipped are archived (store_divert_stale,
 * for each user set the pool owns and each lane, once per writer token:
 * those past the user set's writer_seq under an epoch older than its
 * writer_epoch, the last local takeover's; none without one); then a
 * receiver from its own pool, in outbox mode, keeps a copy of every user
 * set the pool owns and the outbox the pair's stream would resume from if
 * this agent became the writer. The pair's acknowledgements its writer
 * reports trim that outbox (store_outbox_ack). Its copy's positions go
 * into its reports.
 *
 * The pair's receiver (dataplane_stream.c) and a standby's receiver
 * listen on the same data address: a standby's is closed before the
 * pair's starts (dataplane_local_reconcile() at the top of
 * dataplane_streams_reconcile()) and started only once the pair's is gone
 * (at its end). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/dataplane_internal.h"
#include "agent/log.h"
#include "agent/members.h"

#define MOD DATAPLANE_MOD_REPL

#define LOCAL_SETS DATAPLANE_STANDBY_SETS
#define POSITIONS_NS 1000000000ULL /* a standby reads its positions */

static bool in_sets(char (*v)[FSM_NAME_LEN], unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

/* ---- standby: the divert on return (R7) ---- */

static void standby_rx_stop(struct dataplane *dp)
{
	struct dataplane_local *l = dp->local;

	if (l->rx == NULL)
		return;
	dp->stream_closes++;
	receiver_close(l->rx, dataplane_stream_closed, dp);
	l->rx = NULL;
	l->n_rx_sets = 0;
}

static void diverted(void *arg, int status, uint64_t archived,
		     const char *errmsg)
{
	struct dataplane *dp = arg;
	struct dataplane_local *l = dp->local;

	if (l == NULL)
		return;
	if (status != 0) {
		LOG_ERROR(DATAPLANE_MOD,
			  "archiving what a former writer never shipped: %s",
			  errmsg);
		l->div_status = status;
	}
	l->div_archived += archived;
	if (--l->div_pending > 0 || l->sb != SB_DIVERTING)
		return;
	if (l->div_status != 0) {
		/* tried again at the next tick */
		l->sb = SB_IDLE;
		return;
	}
	if (l->div_archived > 0)
		LOG_WARN(DATAPLANE_MOD,
			 "standby of %s: %" PRIu64 " records written here "
			 "under an older epoch were never shipped: moved to "
			 "the divergence archive; this copy is seeded anew "
			 "from the writer",
			 dp->pool, l->div_archived);
	l->sb = SB_READY;
	l->n_copy = 0; /* positions read again */
	l->positions_ns = 0;
	if (dp->state == DP_OPEN)
		dataplane_streams_reconcile(dp);
}

/* Start R7 for the current writer token: every (user set the pool owns,
 * lane) that had a local takeover archives what it holds past where the
 * new writer's copy stood then (writer_seq) under an epoch older than the
 * one that takeover gave it (writer_epoch): those records only a former
 * writer can hold. Not the user set's current epoch: a failover or
 * failback since raised that, and the records written between were
 * shipped. None without a takeover (epoch 0). */
static void divert_start(struct dataplane *dp, const struct fsm_pool *me)
{
	struct dataplane_local *l = dp->local;
	const struct fsm *f = dp->deps.fsm;
	const char *sets[FSM_MAX_POOLS];
	unsigned n = dataplane_owned_by(f, me->name, sets, FSM_MAX_POOLS);

	l->sb = SB_DIVERTING;
	l->div_token = me->writer_token;
	l->div_pending = 1; /* this call's own */
	l->div_archived = 0;
	l->div_status = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t epoch, seq[2];

		if (!fsm_user_set_writer_seq(f, sets[i], &epoch, seq) ||
		    epoch == 0)
			continue;
		for (int lane = 0; lane < 2; lane++) {
			int rv = store_divert_stale(&dp->store, sets[i], lane,
						    seq[lane], epoch, diverted,
						    dp);

			if (rv == 0) {
				l->div_pending++;
				continue;
			}
			LOG_ERROR(DATAPLANE_MOD, "divert %s lane %d: %s",
				  sets[i], lane, store_strerror(rv));
			l->div_status = rv;
		}
	}
	diverted(dp, 0, 0, "");
}

/* ---- standby: the copy (R2) ---- */

static void rx_on_apply(void *arg, const char *user_set, int lane,
			uint64_t applied)
{
	struct dataplane *dp = arg;
	struct dataplane_local *l = dp->local;
	unsigned i;

	if (l == NULL || lane < 0 || lane > 1)
		return;
	for (i = 0; i < l->n_copy; i++)
		if (strcmp(l->copy[i].user_set, user_set) == 0)
			break;
	if (i == l->n_copy) {
		if (i == LOCAL_SETS)
			return;
		memset(&l->copy[i], 0, sizeof l->copy[i]);
		snprintf(l->copy[i].user_set, sizeof l->copy[i].user_set, "%s",
			 user_set);
		l->n_copy++;
	}
	if (applied > l->copy[i].head[lane])
		l->copy[i].head[lane] = applied;
}

static void standby_rx_start(struct dataplane *dp, const struct fsm_pool *me,
			     const char *const *sets, unsigned n)
{
	struct dataplane_local *l = dp->local;
	const struct dataplane_deps *d = &dp->deps;
	struct receiver_config rc;
	int rv;

	memset(&rc, 0, sizeof rc);
	rc.local_pool = me->name;
	rc.peer_pool = me->name;
	rc.agent_id = d->agent_id;
	/* only the pool's writer streams to its standbys (F2) */
	rc.peer_agent = me->writer;
	rc.host =
	    strcmp(d->data_host, "localhost") == 0 ? "127.0.0.1" : d->data_host;
	rc.port = d->data_port;
	rc.user_sets = sets;
	rc.n_user_sets = n;
	rc.outbox_mode = 1;
	rc.log = dataplane_local_log;
	rc.on_apply = rx_on_apply;
	rc.arg = dp;
	rc.tls = d->tls;
	rc.tls_require = d->tls_require;
	rv = receiver_init(&l->rx, d->loop, &dp->store, &rc);
	if (rv != 0) {
		if (rv != l->rx_error)
			LOG_ERROR(MOD, "standby receiver on %s port %u: %s",
				  d->data_host, (unsigned)d->data_port,
				  rv < 0 && rv > -4096 ? uv_strerror(rv)
						       : "bad configuration");
		l->rx_error = rv;
		l->rx = NULL;
		return;
	}
	l->rx_error = 0;
	dataplane_receiver_epochs(dp, l->rx);
	l->rx_peer_agent = rc.peer_agent;
	l->n_rx_sets = 0;
	for (unsigned i = 0; i < n; i++)
		snprintf(l->rx_sets[l->n_rx_sets++], FSM_NAME_LEN, "%s",
			 sets[i]);
	LOG_INFO(MOD, "standby of %s: keeping a copy from its writer", me->name);
}

void dataplane_standby_reconcile(struct dataplane *dp, bool standby)
{
	struct dataplane_local *l = dp->local;
	const struct fsm_pool *me = dataplane_me(dp);
	const char *sets[FSM_MAX_POOLS];
	unsigned n;
	bool same;

	if (!standby) {
		standby_rx_stop(dp);
		if (l->sb == SB_READY)
			l->sb = SB_IDLE;
		/* a divert in flight ends by itself */
		l->n_copy = 0;
		return;
	}
	/* a new writer: archive again what it never had, before its
	 * records (R7) */
	if (l->sb != SB_IDLE && l->div_token != me->writer_token) {
		standby_rx_stop(dp);
		if (l->sb == SB_READY)
			l->sb = SB_IDLE;
	}
	if (l->sb == SB_IDLE && dataplane_local_view_current(dp)) {
		standby_rx_stop(dp);
		divert_start(dp, me);
	}
	if (l->sb != SB_READY)
		return;
	n = dataplane_owned_by(dp->deps.fsm, me->name, sets, LOCAL_SETS);
	if (l->rx == NULL) {
		/* the pair's receiver listens on the same address: after it
		 * closed */
		if (dp->receiver == NULL && n > 0)
			standby_rx_start(dp, me, sets, n);
		return;
	}
	/* a new writer: its former writer's stream closed, refused from
	 * now on (F2) */
	if (me->writer != l->rx_peer_agent &&
	    receiver_set_peer_agent(l->rx, me->writer) == 0) {
		char name[FSM_NAME_LEN + 24];

		LOG_INFO(MOD, "standby of %s: taking the copy from %s only",
			 me->name,
			 dataplane_member_name(dp->deps.fsm, me->writer, name,
					       sizeof name));
		l->rx_peer_agent = me->writer;
	}
	same = n == l->n_rx_sets;
	for (unsigned i = 0; same && i < n; i++)
		same = in_sets(l->rx_sets, l->n_rx_sets, sets[i]);
	if (!same && receiver_set_user_sets(l->rx, sets, n) == 0) {
		l->n_rx_sets = 0;
		for (unsigned i = 0; i < n; i++)
			snprintf(l->rx_sets[l->n_rx_sets++], FSM_NAME_LEN, "%s",
				 sets[i]);
	}
}

bool dataplane_standby_copy(const struct dataplane *dp)
{
	return dp->local != NULL && dataplane_local_role(dp) == ROLE_STANDBY &&
	       dp->local->rx != NULL;
}

/* ---- standby: positions and trim ---- */

static void trimmed(void *arg, int status, const char *errmsg)
{
	(void)arg;
	(void)status;
	(void)errmsg; /* tried again with the next report */
}

/* Trim the copy's outbox with the pair's acknowledgements its writer
 * reports (members stream reports: acked_seq per user set and
 * category). */
static void standby_trim(struct dataplane *dp)
{
	struct dataplane_local *l = dp->local;
	const struct fsm_pool *me = dataplane_me(dp);
	struct members_stream_report r[MEMBERS_STREAMS];
	const struct dataplane_peers *p = &dp->deps.peers;
	unsigned n;

	if (p->ops == NULL || me == NULL || me->writer == 0)
		return;
	n = p->ops->streams(p->impl, me->writer, 60000, r, MEMBERS_STREAMS);
	for (unsigned i = 0; i < n; i++) {
		int lane = strcmp(r[i].category, "content") == 0;

		for (unsigned k = 0; k < l->n_copy; k++) {
			uint64_t ack = r[i].acked_seq;

			if (strcmp(l->copy[k].user_set, r[i].user_set) != 0)
				continue;
			if (ack > l->copy[k].head[lane])
				ack = l->copy[k].head[lane];
			if (ack <= l->copy[k].trimmed[lane])
				continue;
			if (store_outbox_ack(&dp->store, r[i].user_set, lane,
					     ack, trimmed, dp) == 0)
				l->copy[k].trimmed[lane] = ack;
		}
	}
}

static void positions_read(void *arg, int status,
			   const struct store_positions *ps)
{
	struct dataplane *dp = arg;
	struct dataplane_local *l = dp->local;

	if (l == NULL)
		return;
	l->positions_inflight = false;
	if (status != 0 || dataplane_local_role(dp) != ROLE_STANDBY)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		const struct store_position *pos = &ps->v[i];
		uint64_t at = pos->head_seq > pos->applied_seq
				  ? pos->head_seq
				  : pos->applied_seq;
		unsigned k;

		if (pos->lane < 0 || pos->lane > 1 ||
		    !in_sets(l->rx_sets, l->n_rx_sets, pos->user_set))
			continue;
		rx_on_apply(dp, pos->user_set, pos->lane, 0);
		for (k = 0; k < l->n_copy; k++)
			if (strcmp(l->copy[k].user_set, pos->user_set) == 0)
				break;
		if (k == l->n_copy)
			continue;
		/* the store's word: also after a divert reset them */
		l->copy[k].head[pos->lane] = at;
		l->copy[k].trimmed[pos->lane] = pos->acked_seq;
	}
	standby_trim(dp);
}

unsigned dataplane_copy_reports(struct dataplane *dp,
				struct members_copy_report *out, unsigned max)
{
	struct dataplane_local *l = dp->local;
	unsigned k = 0;

	if (!dataplane_standby_copy(dp))
		return 0;
	for (unsigned i = 0; i < l->n_copy; i++)
		for (int lane = 0; lane < 2 && k < max; lane++) {
			if (!in_sets(l->rx_sets, l->n_rx_sets,
				     l->copy[i].user_set))
				continue;
			memset(&out[k], 0, sizeof out[k]);
			snprintf(out[k].user_set, sizeof out[k].user_set, "%s",
				 l->copy[i].user_set);
			out[k].lane = lane;
			out[k].head_seq = l->copy[i].head[lane];
			k++;
		}
	return k;
}

/* ---- the life (from dataplane_local.c) ---- */

void dataplane_standby_tick(struct dataplane *dp)
{
	struct dataplane_local *l = dp->local;
	uint64_t now;

	if (l->rx == NULL || l->positions_inflight)
		return;
	now = clock_mono_ns(dp->deps.clock);
	if (l->positions_ns != 0 && now - l->positions_ns < POSITIONS_NS)
		return;
	l->positions_ns = now;
	if (store_stream_positions(&dp->store, positions_read, dp) == 0)
		l->positions_inflight = true;
}

void dataplane_standby_stop(struct dataplane *dp)
{
	standby_rx_stop(dp);
	dp->local->sb = SB_IDLE;
}
