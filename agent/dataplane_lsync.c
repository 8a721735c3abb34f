/* dataplane_lsync: the local synchronous copy (see dataplane.h,
 * dataplane_internal.h), at the writer of a pool of several agents.
 *
 * With [replication] local_sync on, a durable local write is answered
 * once the *target* acknowledged it too: the pool's committed sync
 * standby S (fsm_pool.sync_standby) when there is one; else a candidate
 * T, a connected standby that acknowledged the outbox head of every
 * stream, chosen here: writes wait for T from that moment, and the
 * leader is asked to commit pool_sync standby=T. So once T is committed
 * it holds every answered write, and may take over without loss.
 *
 * The target disconnected, or silent on a waiting write, for
 * local_sync_timeout_ms is dropped: pool_sync standby=0 is asked, and the
 * waiting writes are answered only once that is known committed (the
 * answer, or the applied state no longer naming it): until then the
 * target may still be the sync standby, and take over. A candidate lost
 * before its own commit is known waits for that outcome: committed, it is
 * dropped as above; refused, the writes are answered. One ask in flight
 * at a time; an unknown outcome is asked again.
 *
 *   OFF --writer, local_sync--> NONE or SYNC (committed S)
 *   NONE --a standby caught up--> CANDIDATE (ask T)
 *   CANDIDATE --T committed--> SYNC; --refused--> NONE (release)
 *   CANDIDATE --T lost, then committed or unknown--> DROPPING (ask 0)
 *   SYNC --S lost--> DROPPING (ask 0; WARN, counted)
 *   DROPPING --0 known committed--> NONE (release)
 *   any --no longer the writer--> OFF (release FAILED)
 *
 * A wait ends DP_RELEASE_LOCAL when the target acknowledged the write, or
 * once no synchronous standby is known committed (the decision that no
 * copy is needed). It ends DP_RELEASE_FAILED when this agent stops being
 * the writer while the write waits (a local takeover committed while it
 * was cut off: the new writer's copy may lack the write, which this agent
 * archives on its return as a standby), or when it closes: not a success.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dataplane_internal.h"
#include "agent/log.h"

#define MOD "lsync"
#define MS 1000000ULL

/* An ask whose outcome is unknown is asked again after this long. */
#define LSYNC_RETRY_MS 250
/* A candidate refused is not chosen again before this long. */
#define LSYNC_CHOOSE_AFTER_REFUSAL_MS 1000

static const char *const state_names[] = {
    [LSYNC_OFF] = "off",	     [LSYNC_NONE] = "none",
    [LSYNC_CANDIDATE] = "candidate", [LSYNC_SYNC] = "sync",
    [LSYNC_DROPPING] = "dropping",
};

/* The name of member id, or "member ID" (buf of len bytes). */
static const char *member_name(const struct dataplane *dp, uint64_t id,
			       char *buf, size_t len)
{
	const struct fsm_member *m =
	    dp->deps.fsm != NULL ? fsm_member_find(dp->deps.fsm, id) : NULL;

	if (m != NULL)
		snprintf(buf, len, "%s", m->name);
	else
		snprintf(buf, len, "member %" PRIu64, id);
	return buf;
}

static uint64_t now_ns(const struct dataplane *dp)
{
	return clock_mono_ns(dp->deps.clock);
}

static void set_state(struct dataplane *dp, int next, uint64_t target,
		      const char *why)
{
	struct dataplane_lsync *l = &dp->lsync;
	char a[FSM_NAME_LEN + 24], b[FSM_NAME_LEN + 24];

	if (l->state == next && l->target == target)
		return;
	if (next == LSYNC_DROPPING)
		LOG_WARN(MOD, "local sync %s (%s) -> %s (%s): %s",
			 state_names[l->state],
			 l->target ? member_name(dp, l->target, a, sizeof a)
				   : "-",
			 state_names[next],
			 target ? member_name(dp, target, b, sizeof b) : "-",
			 why);
	else
		LOG_INFO(MOD, "local sync %s (%s) -> %s (%s): %s",
			 state_names[l->state],
			 l->target ? member_name(dp, l->target, a, sizeof a)
				   : "-",
			 state_names[next],
			 target ? member_name(dp, target, b, sizeof b) : "-",
			 why);
	if (target != l->target) {
		l->n_acks = 0; /* another member's acknowledgements */
		l->lost_since_ns = 0;
	}
	l->state = next;
	l->target = target;
	l->told = false;
	if (next != LSYNC_CANDIDATE)
		l->lost = false;
}

/* Release the waits: all of them, or those of (user_set, lane) at or
 * below acked, with how. */
static void release(struct dataplane *dp, const char *user_set, int lane,
		    uint64_t acked, bool all, enum dataplane_release how)
{
	struct dataplane_lsync *l = &dp->lsync;
	struct dataplane_wait **pp = &l->waiting;

	l->waiting_tail = NULL;
	while (*pp != NULL) {
		struct dataplane_wait *w = *pp;

		if (all || (strcmp(w->user_set, user_set) == 0 &&
			    w->lane == lane && w->seq <= acked)) {
			*pp = w->next;
			l->n_waiting--;
			w->cb(w->arg, how);
			free(w);
			continue;
		}
		l->waiting_tail = w;
		pp = &w->next;
	}
}

void dataplane_lsync_release_all(struct dataplane *dp)
{
	release(dp, NULL, 0, 0, true, DP_RELEASE_FAILED);
}

/* No standby in sync (known committed, or never committed): answer every
 * waiting write (durable here). */
static void to_none(struct dataplane *dp, const char *why)
{
	set_state(dp, LSYNC_NONE, 0, why);
	release(dp, NULL, 0, 0, true, DP_RELEASE_LOCAL);
}

static uint64_t *acked_slot(struct dataplane_lsync *l, const char *user_set,
			    int lane, bool create)
{
	unsigned i;

	for (i = 0; i < l->n_acks; i++)
		if (strcmp(l->acks[i].user_set, user_set) == 0)
			return &l->acks[i].acked[lane];
	if (!create || i == sizeof l->acks / sizeof l->acks[0])
		return NULL;
	snprintf(l->acks[i].user_set, sizeof l->acks[i].user_set, "%s",
		 user_set);
	l->acks[i].acked[0] = l->acks[i].acked[1] = 0;
	l->n_acks++;
	return &l->acks[i].acked[lane];
}

uint64_t dataplane_lsync_target(const struct dataplane *dp)
{
	const struct dataplane_lsync *l = &dp->lsync;

	switch (l->state) {
	case LSYNC_CANDIDATE:
	case LSYNC_SYNC:
	case LSYNC_DROPPING:
		return l->target;
	default:
		return 0;
	}
}

const char *dataplane_lsync_name(const struct dataplane *dp)
{
	const struct dataplane_lsync *l = &dp->lsync;

	switch (l->state) {
	case LSYNC_OFF:
		return l->enabled ? "none" : "off";
	case LSYNC_CANDIDATE:
	case LSYNC_SYNC:
		return "sync";
	case LSYNC_DROPPING:
		return "fallback";
	default:
		return l->n_standbys > 0 ? "fallback" : "none";
	}
}

void dataplane_lsync_on_ack(struct dataplane *dp, uint64_t standby_id,
			    const char *user_set, int lane, uint64_t acked)
{
	struct dataplane_lsync *l = &dp->lsync;
	uint64_t *slot;

	if (lane < 0 || lane > 1 || standby_id == 0 ||
	    standby_id != dataplane_lsync_target(dp))
		return;
	slot = acked_slot(l, user_set, lane, true);
	if (slot != NULL && acked > *slot)
		*slot = acked;
	/* it acknowledges: not silent */
	release(dp, user_set, lane, acked, false, DP_RELEASE_LOCAL);
}

int dataplane_lsync_wait(struct dataplane *dp, const char *user_set, int lane,
			 uint64_t seq, dataplane_release_cb cb, void *arg)
{
	struct dataplane_lsync *l = &dp->lsync;
	struct dataplane_wait *w;
	uint64_t *acked;

	if (dataplane_lsync_target(dp) == 0 || lane < 0 || lane > 1)
		return 0;
	/* the target may have acknowledged it before the write's answer got
	 * here (its sender reads the outbox on its own) */
	acked = acked_slot(l, user_set, lane, false);
	if (acked != NULL && *acked >= seq)
		return 0;
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return 0;
	snprintf(w->user_set, sizeof w->user_set, "%s", user_set);
	w->lane = lane;
	w->seq = seq;
	w->since_ns = now_ns(dp);
	w->cb = cb;
	w->arg = arg;
	if (l->waiting_tail != NULL)
		l->waiting_tail->next = w;
	else
		l->waiting = w;
	l->waiting_tail = w;
	l->n_waiting++;
	return 1;
}

/* ---- asking the leader ---- */

static void asked(void *arg, int outcome, uint64_t standby, const char *msg);

/* Ask pool_sync standby=sb now, unless an ask is in flight (its outcome
 * decides) or a retry is not due. */
static void ask(struct dataplane *dp, uint64_t sb, const char *reason)
{
	struct dataplane_lsync *l = &dp->lsync;
	int rv;

	if (l->asking || now_ns(dp) < l->retry_ns ||
	    dp->deps.ask.ops == NULL)
		return;
	l->asking = true;
	l->ask_standby = sb;
	l->asks++;
	rv = dp->deps.ask.ops->ask(dp->deps.ask.impl, dp->pool, l->token, sb,
				   reason, asked, dp);
	if (rv != 0) {
		l->asking = false;
		l->retry_ns = now_ns(dp) + LSYNC_RETRY_MS * MS;
		LOG_DEBUG(MOD, "pool_sync standby=%" PRIu64 " not asked: %d",
			  sb, rv);
	}
}

/* Drop the target: ask for no sync standby; the waits stay until that is
 * known committed. */
static void drop(struct dataplane *dp, const char *why)
{
	struct dataplane_lsync *l = &dp->lsync;
	char name[FSM_NAME_LEN + 24], reason[256];

	if (why != l->lost_why)
		snprintf(l->lost_why, sizeof l->lost_why, "%s", why);
	snprintf(reason, sizeof reason, "standby %s lost: %s",
		 member_name(dp, l->target, name, sizeof name), l->lost_why);
	l->fallbacks++;
	set_state(dp, LSYNC_DROPPING, l->target, reason);
	l->retry_ns = 0;
	ask(dp, 0, reason);
}

/* The reason of the ask for the target (DROPPING) or the candidate. */
static void ask_again(struct dataplane *dp)
{
	struct dataplane_lsync *l = &dp->lsync;
	char name[FSM_NAME_LEN + 24], reason[256];

	member_name(dp, l->target, name, sizeof name);
	if (l->state == LSYNC_DROPPING)
		snprintf(reason, sizeof reason, "standby %s lost: %s", name,
			 l->lost_why);
	else
		snprintf(reason, sizeof reason, "standby %s caught up", name);
	ask(dp, l->state == LSYNC_DROPPING ? 0 : l->target, reason);
}

/* The pool's sync standby is known to be v (from an answer when answer,
 * else from the applied state). */
static void known(struct dataplane *dp, uint64_t v, bool answer)
{
	struct dataplane_lsync *l = &dp->lsync;
	char name[FSM_NAME_LEN + 24], why[FSM_NAME_LEN + 96];

	switch (l->state) {
	case LSYNC_CANDIDATE:
		if (v == l->target) {
			if (l->lost) {
				/* committed after all: drop it */
				drop(dp, l->lost_why);
				return;
			}
			set_state(dp, LSYNC_SYNC, v,
				  "the synchronous standby is committed");
		} else if (answer) {
			/* this ask did not make it the sync standby, and no
			 * other is in flight */
			to_none(dp, "the leader did not make it the "
				    "synchronous standby");
		}
		/* the applied state before the ask's commit: not known yet */
		return;
	case LSYNC_DROPPING:
		if (v == l->target)
			return;
		/* an answer may come before this agent applied the commit:
		 * until it does, its applied state still names the target */
		l->gone = answer && l->committed == l->target ? l->target : 0;
		snprintf(why, sizeof why,
			 "%s is no longer the synchronous standby (committed): "
			 "writes are answered once durable here",
			 member_name(dp, l->target, name, sizeof name));
		to_none(dp, why);
		return;
	case LSYNC_SYNC:
		if (answer || v == l->target)
			return;
		if (v == 0)
			to_none(dp, "the synchronous standby was cleared");
		else
			set_state(dp, LSYNC_SYNC, v,
				  "another synchronous standby is committed");
		return;
	case LSYNC_NONE:
		if (!answer && v != 0 && v != l->gone)
			set_state(dp, LSYNC_SYNC, v,
				  "the synchronous standby is committed");
		return;
	default:
		return;
	}
}

static void asked(void *arg, int outcome, uint64_t standby, const char *msg)
{
	struct dataplane *dp = arg;
	struct dataplane_lsync *l = &dp->lsync;
	uint64_t sb = l->ask_standby;

	l->asking = false;
	if (dp->close_asked || l->state == LSYNC_OFF)
		return;
	switch (outcome) {
	case DATAPLANE_ASK_COMMITTED:
		LOG_INFO(MOD,
			 "pool_sync standby=%" PRIu64
			 " committed: the sync standby of %s is %" PRIu64,
			 sb, dp->pool, standby);
		/* only the answer to what the state still wants tells */
		if ((l->state == LSYNC_CANDIDATE && sb == l->target) ||
		    (l->state == LSYNC_DROPPING && sb == 0))
			known(dp, standby, true);
		return;
	case DATAPLANE_ASK_REFUSED:
		/* once per state: a refusal asked again is not logged again */
		if (!l->told)
			LOG_WARN(MOD, "pool_sync standby=%" PRIu64 " refused: %s",
				 sb, msg);
		l->told = true;
		if (l->state == LSYNC_CANDIDATE && sb == l->target) {
			/* nothing changed: T is not the sync standby */
			l->choose_ns =
			    now_ns(dp) + LSYNC_CHOOSE_AFTER_REFUSAL_MS * MS;
			to_none(dp, "the leader refused it as the synchronous "
				    "standby");
			return;
		}
		/* dropping: refused (a stale token?): ask again until the
		 * applied state tells */
		l->retry_ns = now_ns(dp) + LSYNC_RETRY_MS * MS;
		return;
	default:
		if (!l->told)
			LOG_INFO(MOD,
				 "pool_sync standby=%" PRIu64
				 ": outcome unknown (%s): asking again",
				 sb, msg);
		l->told = true;
		l->retry_ns = now_ns(dp) + LSYNC_RETRY_MS * MS;
		if (l->state == LSYNC_CANDIDATE && l->lost) {
			/* T may be committed: settle it by committing none */
			drop(dp, l->lost_why);
			return;
		}
		return;
	}
}

/* ---- following the applied state and the standbys ---- */

void dataplane_lsync_follow(struct dataplane *dp, bool writer,
			    uint64_t committed, uint64_t token)
{
	struct dataplane_lsync *l = &dp->lsync;

	l->enabled = dp->deps.local_sync;
	l->timeout_ms = dp->deps.local_sync_timeout_ms != 0
			    ? dp->deps.local_sync_timeout_ms
			    : 1000;
	l->committed = committed;
	l->token = token;
	if (committed != l->gone)
		l->gone = 0;
	if (!l->enabled || !writer) {
		if (l->state != LSYNC_OFF) {
			if (!writer && l->n_waiting > 0)
				LOG_WARN(MOD,
					 "no longer the writer of %s: %u "
					 "write(s) not acknowledged by the "
					 "synchronous standby answered as not "
					 "durable",
					 dp->pool, l->n_waiting);
			set_state(dp, LSYNC_OFF, 0,
				  !writer ? "not the writer of the pool"
					  : "local_sync is off");
			/* no longer the writer: the new writer's copy may
			 * lack them, not a success */
			release(dp, NULL, 0, 0, true,
				writer ? DP_RELEASE_LOCAL : DP_RELEASE_FAILED);
		}
		return;
	}
	if (l->state == LSYNC_OFF) {
		if (committed != 0)
			set_state(dp, LSYNC_SYNC, committed,
				  "the writer of a pool with a synchronous "
				  "standby");
		else
			set_state(dp, LSYNC_NONE, 0,
				  "the writer of the pool");
		return;
	}
	known(dp, committed, false);
}

/* The target is lost: why, or NULL. */
static const char *target_lost(struct dataplane *dp, uint64_t now,
			       const struct dataplane_lsync_standby *sb,
			       unsigned n, char *why, size_t len)
{
	struct dataplane_lsync *l = &dp->lsync;
	uint64_t timeout = (uint64_t)l->timeout_ms * MS;
	const struct dataplane_lsync_standby *t = NULL;

	for (unsigned i = 0; i < n; i++)
		if (sb[i].id == l->target)
			t = &sb[i];
	/* not (yet) streamed to, or disconnected: lost after the timeout
	 * (the local senders are made anew when the applied state changes) */
	if (t == NULL || !t->connected) {
		if (l->lost_since_ns == 0)
			l->lost_since_ns = now;
		if (now - l->lost_since_ns > timeout) {
			snprintf(why, len, "%s for %" PRIu32 " ms",
				 t == NULL ? "not streamed to" : "disconnected",
				 l->timeout_ms);
			return why;
		}
	} else {
		l->lost_since_ns = 0;
	}
	if (l->waiting != NULL && now - l->waiting->since_ns > timeout) {
		snprintf(why, len,
			 "acknowledged nothing of a waiting write for %" PRIu32
			 " ms",
			 l->timeout_ms);
		return why;
	}
	return NULL;
}

void dataplane_lsync_check(struct dataplane *dp, uint64_t now,
			   const struct dataplane_lsync_standby *sb,
			   unsigned n)
{
	struct dataplane_lsync *l = &dp->lsync;
	char why[128];

	l->n_standbys = n;
	switch (l->state) {
	case LSYNC_NONE: {
		uint64_t t = 0;

		if (l->asking || now < l->choose_ns || l->gone != 0)
			return;
		for (unsigned i = 0; i < n; i++)
			if (sb[i].connected && sb[i].caught_up &&
			    (t == 0 || sb[i].id < t))
				t = sb[i].id;
		if (t != 0) {
			set_state(dp, LSYNC_CANDIDATE, t,
				  "caught up with every stream: writes wait "
				  "for it");
			l->retry_ns = 0;
			ask_again(dp);
		}
		return;
	}
	case LSYNC_CANDIDATE:
		if (!l->lost && target_lost(dp, now, sb, n, why, sizeof why)) {
			/* the commit asked may still land: wait for it */
			l->lost = true;
			snprintf(l->lost_why, sizeof l->lost_why, "%s", why);
			LOG_WARN(MOD,
				 "local sync: candidate lost before its "
				 "commit was known (%s): writes wait for the "
				 "outcome",
				 why);
		}
		if (!l->asking && now >= l->retry_ns) {
			if (l->lost)
				drop(dp, l->lost_why);
			else
				ask_again(dp);
		}
		return;
	case LSYNC_SYNC:
		if (target_lost(dp, now, sb, n, why, sizeof why))
			drop(dp, why);
		return;
	case LSYNC_DROPPING:
		if (!l->asking && now >= l->retry_ns)
			ask_again(dp);
		return;
	default:
		return;
	}
}

/* ---- a write's waits: the pair's (sync mode) and the local copy's ---- */

/* A write waiting for both: answered when both are over, FAILED when
 * either failed, else as the pair's wait ended. */
struct joint {
	int left;
	enum dataplane_release pair;
	bool failed;
	dataplane_release_cb cb;
	void *arg;
};

static void joint_done(struct joint *j)
{
	if (--j->left > 0)
		return;
	j->cb(j->arg, j->failed ? DP_RELEASE_FAILED : j->pair);
	free(j);
}

static void joint_pair(void *arg, enum dataplane_release how)
{
	struct joint *j = arg;

	j->pair = how;
	if (how == DP_RELEASE_FAILED)
		j->failed = true;
	joint_done(j);
}

static void joint_local(void *arg, enum dataplane_release how)
{
	struct joint *j = arg;

	if (how == DP_RELEASE_FAILED)
		j->failed = true;
	joint_done(j);
}

int dataplane_after_write(struct dataplane *dp, const char *user_set, int lane,
			  uint64_t seq, dataplane_release_cb cb, void *arg)
{
	bool pair = dp->sender != NULL && dp->sync == SYNC_ON;
	struct joint *j;

	if (!pair)
		return dataplane_lsync_wait(dp, user_set, lane, seq, cb, arg);
	if (dataplane_lsync_target(dp) == 0)
		return dataplane_sync_wait(dp, user_set, lane, seq, cb, arg);
	j = calloc(1, sizeof *j);
	if (j == NULL)
		return dataplane_sync_wait(dp, user_set, lane, seq, cb, arg);
	j->left = 3; /* both waits, and this call */
	j->pair = DP_RELEASE_LOCAL; /* unless the pair's wait says more */
	j->cb = cb;
	j->arg = arg;
	if (dataplane_sync_wait(dp, user_set, lane, seq, joint_pair, j) == 0)
		j->left--;
	if (dataplane_lsync_wait(dp, user_set, lane, seq, joint_local, j) == 0)
		j->left--;
	if (j->left == 1) { /* neither waits */
		free(j);
		return 0;
	}
	joint_done(j);
	return 1;
}

int dataplane_after_content(struct dataplane *dp, const char *user_set,
			    int lane, uint64_t seq, dataplane_release_cb cb,
			    void *arg)
{
	return dataplane_lsync_wait(dp, user_set, lane, seq, cb, arg);
}

/* ---- the standbys as the local senders see them ---- */

/* Whether standby b acknowledged the head of every (user set, lane)
 * streamed to it, with no seed of its copy running. */
static bool caught_up(const struct dataplane_standby *b)
{
	if (b->state != DATAPLANE_STANDBY_STREAMING || b->n_sets == 0)
		return false;
	for (unsigned k = 0; k < b->n_sets; k++)
		for (int lane = 0; lane < 2; lane++)
			if (b->sets[k].acked[lane] < b->sets[k].head[lane])
				return false;
	return true;
}

unsigned dataplane_lsync_standbys(struct dataplane *dp,
				  struct dataplane_lsync_standby *out,
				  unsigned max)
{
	unsigned n = 0, count = dataplane_standby_count(dp);
	struct dataplane_standby b;

	for (unsigned i = 0; i < count && n < max; i++)
		if (dataplane_standby_at(dp, i, &b) == 0)
			out[n++] = (struct dataplane_lsync_standby){
			    .id = b.id,
			    .connected =
				b.state != DATAPLANE_STANDBY_DISCONNECTED,
			    .caught_up = caught_up(&b),
			};
	return n;
}

/* "sync" for the committed sync standby while it streams, else the local
 * sender's state. */
static const char *standby_state(const struct dataplane *dp,
				 const struct dataplane_standby *b)
{
	if (b->state == DATAPLANE_STANDBY_STREAMING &&
	    dp->lsync.state == LSYNC_SYNC && b->id == dp->lsync.target)
		return "sync";
	return dataplane_standby_state_name(b->state);
}

/* What b acknowledged of the pool's own user set (else of the first one
 * streamed), per lane. */
static void standby_acked(const struct dataplane *dp,
			  const struct dataplane_standby *b, uint64_t acked[2])
{
	unsigned k = 0;

	for (unsigned i = 0; i < b->n_sets; i++)
		if (strcmp(b->sets[i].user_set, dp->pool) == 0)
			k = i;
	acked[0] = b->n_sets > 0 ? b->sets[k].acked[0] : 0;
	acked[1] = b->n_sets > 0 ? b->sets[k].acked[1] : 0;
}

json_t *dataplane_lsync_standbys_json(struct dataplane *dp)
{
	unsigned count = dataplane_standby_count(dp);
	struct dataplane_standby b;
	json_t *arr;

	if (dataplane_writer(dp, NULL) != 1)
		return NULL;
	arr = json_array();
	for (unsigned i = 0; arr != NULL && i < count; i++) {
		uint64_t acked[2];

		if (dataplane_standby_at(dp, i, &b) != 0)
			continue;
		standby_acked(dp, &b, acked);
		json_array_append_new(
		    arr,
		    json_pack("{s:I, s:s, s:s, s:{s:I, s:I}, s:I, s:I}", "id",
			      (json_int_t)b.id, "name", b.name, "state",
			      standby_state(dp, &b), "acked", "data",
			      (json_int_t)acked[0], "content",
			      (json_int_t)acked[1], "lag_records",
			      (json_int_t)b.lag_records, "lag_ms",
			      (json_int_t)b.lag_ms));
	}
	return arr;
}

json_t *dataplane_lsync_standby_rows(struct dataplane *dp)
{
	unsigned count = dataplane_standby_count(dp);
	struct dataplane_standby b;
	json_t *arr;

	if (dataplane_writer(dp, NULL) != 1 || count == 0)
		return NULL;
	arr = json_array();
	for (unsigned i = 0; arr != NULL && i < count; i++)
		if (dataplane_standby_at(dp, i, &b) == 0)
			json_array_append_new(
			    arr, json_pack("{s:s, s:s, s:I, s:I}", "pool",
					   dp->pool, "standby", b.name,
					   "lag_records",
					   (json_int_t)b.lag_records, "lag_ms",
					   (json_int_t)b.lag_ms));
	return arr;
}
