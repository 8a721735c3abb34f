/* writer: the leader's choice of each pool's writer (see writer.h). */
#include "agent/writer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/log.h"
#include "consensus/cmd.h"

#define MOD "writer"

void writer_init(struct writer *w, const struct writer_deps *deps)
{
	memset(w, 0, sizeof *w);
	w->d = *deps;
}

void writer_close(struct writer *w) { w->closing = true; }

static uint64_t silent_ms(const struct writer *w, uint64_t id)
{
	return w->d.members.ops->silent_ms(w->d.members.impl, id);
}

static bool alive(const struct writer *w, uint64_t id)
{
	return silent_ms(w, id) <= w->d.lease_ms;
}

/* The slot of pool (made when new); NULL when every slot is taken. */
static struct writer_pool *slot(struct writer *w, const char *pool)
{
	struct writer_pool *wp;

	for (unsigned i = 0; i < w->n_pools; i++)
		if (strcmp(w->pools[i].pool, pool) == 0)
			return &w->pools[i];
	if (w->n_pools == FSM_MAX_POOLS)
		return NULL;
	wp = &w->pools[w->n_pools++];
	memset(wp, 0, sizeof *wp);
	snprintf(wp->pool, sizeof wp->pool, "%s", pool);
	wp->owner = w;
	return wp;
}

uint64_t writer_choose(const struct writer *w, const struct fsm_pool *p,
		       uint64_t except, char *why, size_t len)
{
	const struct fsm *f = w->d.fsm;
	uint64_t best = 0, best_head = 0, lowest = 0;
	bool reported = false;

	for (unsigned i = 0; i < f->n_members; i++) {
		const struct fsm_member *m = &f->members[i];
		uint64_t head = 0;

		if (strcmp(m->pool, p->name) != 0 ||
		    strcmp(m->site, p->site) != 0 || m->id == except ||
		    !alive(w, m->id))
			continue;
		if (lowest == 0 || m->id < lowest)
			lowest = m->id;
		if (!w->d.members.ops->head(w->d.members.impl, m->id, p->name,
					    &head) ||
		    head == 0)
			continue;
		if (!reported || head > best_head ||
		    (head == best_head && m->id < best)) {
			best = m->id;
			best_head = head;
			reported = true;
		}
	}
	if (reported) {
		snprintf(why, len, "its store holds %s up to seq %" PRIu64,
			 p->name, best_head);
		return best;
	}
	if (lowest != 0)
		snprintf(why, len, "the lowest id of the alive agents of %s",
			 p->name);
	return lowest;
}

static const char *member_name(const struct fsm *f, uint64_t id)
{
	const struct fsm_member *m = fsm_member_find(f, id);

	return m != NULL ? m->name : "?";
}

static void decided(void *arg, int status, const struct fsm_result *res)
{
	struct writer_pool *wp = arg;
	struct writer *w = wp->owner;
	uint64_t now = clock_wall_ms(w->d.clock);
	char msg[FSM_REASON_LEN];

	bool takeover = wp->step == WRITER_TAKEOVER;

	wp->step = WRITER_IDLE;
	if (w->closing)
		return;
	if (status == 0 && res->code == FSM_OK) {
		const struct fsm_pool *p = fsm_pool_find(w->d.fsm, wp->pool);

		w->decided++;
		wp->refusal[0] = '\0';
		LOG_INFO(MOD,
			 "writer of %s: %s (member %" PRIu64 "), token %" PRIu64
			 " (decision %" PRIu64 "%s)",
			 wp->pool, member_name(w->d.fsm, wp->member_id),
			 wp->member_id, p != NULL ? p->writer_token : 0,
			 res->seq, takeover ? ", local takeover" : "");
		return;
	}
	w->refused++;
	wp->retry_after_ms = now + WRITER_RETRY_MS;
	if (status != 0)
		proposer_strerror(w->d.proposer, status, msg, sizeof msg);
	else
		snprintf(msg, sizeof msg, "%s: %s", fsm_code_name(res->code),
			 res->reason);
	/* once per refusal: the same one again is not news */
	if (strcmp(msg, wp->refusal) == 0)
		return;
	snprintf(wp->refusal, sizeof wp->refusal, "%s", msg);
	LOG_WARN(MOD, "writer of %s: %s not made writer: %s", wp->pool,
		 member_name(w->d.fsm, wp->member_id), msg);
}

/* Propose member id as p's writer over the token read now; a local
 * takeover (step WRITER_TAKEOVER) with the n positions of seqs. */
static void propose(struct writer *w, struct writer_pool *wp,
		    const struct fsm_pool *p, uint64_t id, const char *reason,
		    int step, const struct cmd_writer_seq *seqs, size_t n)
{
	struct cmd_ctx ctx = {.time_ms = clock_wall_ms(w->d.clock),
			      .who = "leader:writer"};
	struct cmd_writer cw = {.pool = p->name,
				.member_id = id,
				.expect_token = p->writer_token,
				.reason = reason,
				.seqs = seqs,
				.n_seqs = n};
	struct cmd_buf cmd = {NULL, 0};
	char msg[FSM_REASON_LEN];
	int rv;

	rv = cmd_pool_writer(&ctx, &cw, &cmd);
	if (rv != 0) {
		LOG_ERROR(MOD, "writer of %s: encoding the decision: %d",
			  p->name, rv);
		wp->retry_after_ms = ctx.time_ms + WRITER_RETRY_MS;
		return;
	}
	wp->member_id = id;
	wp->step = step;
	LOG_INFO(MOD, "writer of %s: proposing %s (member %" PRIu64 "): %s",
		 p->name, member_name(w->d.fsm, id), id, reason);
	rv = proposer_submit(w->d.proposer, &cmd, decided, wp);
	if (rv != 0) {
		wp->step = WRITER_IDLE;
		wp->retry_after_ms = ctx.time_ms + WRITER_RETRY_MS;
		LOG_WARN(MOD, "writer of %s: %s", p->name,
			 proposer_strerror(w->d.proposer, rv, msg, sizeof msg));
	}
}

/* Whether the writer of p may be replaced by another agent: only while
 * its pair owns its user set and no move of it is under way (failed over
 * or recovering), so that no agent of p writes p's user set. */
static bool replaceable(const struct fsm_pool *p)
{
	return strcmp(p->owner, p->name) != 0 &&
	       (p->state == FSM_STATE_FAILED_OVER ||
		p->state == FSM_STATE_RECOVERING);
}

/* ---- the local takeover ---- */

/* Whether p is normal and owns its own user set: its writer writes it. */
static bool owns_itself(const struct fsm_pool *p)
{
	return p->state == FSM_STATE_NORMAL && strcmp(p->owner, p->name) == 0;
}

static uint64_t down_ms(const struct writer *w)
{
	return (uint64_t)w->d.lease_ms + w->d.grace_ms;
}

int writer_positions(const struct writer *w, const struct fsm_pool *p,
		     uint64_t id,
		     struct cmd_writer_seq seqs[FSM_MAX_OWNED_SETS], size_t *n,
		     char *why, size_t len)
{
	const char *sets[FSM_MAX_OWNED_SETS];
	size_t k = fsm_pool_owned_sets(w->d.fsm, p->name, sets);

	*n = 0;
	for (size_t i = 0; i < k; i++) {
		seqs[i].user_set = sets[i];
		for (int lane = 0; lane < 2; lane++)
			if (!w->d.members.ops->position(w->d.members.impl, id,
							sets[i], lane,
							&seqs[i].seq[lane])) {
				snprintf(why, len,
					 "%s reported no position of its copy "
					 "of %s (%s lane)",
					 member_name(w->d.fsm, id), sets[i],
					 lane == 0 ? "data" : "content");
				return -ENOENT;
			}
	}
	*n = k;
	return 0;
}

void writer_takeover_facts(const struct writer *w, const struct fsm_pool *p,
			   struct writer_takeover_facts *out)
{
	struct cmd_writer_seq seqs[FSM_MAX_OWNED_SETS];
	char why[8];
	size_t n;

	memset(out, 0, sizeof *out);
	out->standby_name = "";
	for (unsigned i = 0; i < w->n_pools; i++)
		if (strcmp(w->pools[i].pool, p->name) == 0)
			out->inflight = w->pools[i].step == WRITER_TAKEOVER;
	if (p->sync_standby == 0 || p->sync_standby == p->writer ||
	    fsm_member_find(w->d.fsm, p->sync_standby) == NULL)
		return;
	out->standby = p->sync_standby;
	out->standby_name = member_name(w->d.fsm, p->sync_standby);
	out->silent_ms = silent_ms(w, p->sync_standby);
	out->positions = writer_positions(w, p, p->sync_standby, seqs, &n, why,
					  sizeof why) == 0;
}

/* Log why a takeover is not proposed, once per reason. */
static void takeover_blocked(struct writer_pool *wp, const char *msg)
{
	if (strcmp(msg, wp->refusal) == 0)
		return;
	snprintf(wp->refusal, sizeof wp->refusal, "%s", msg);
	LOG_WARN(MOD, "writer of %s: no local takeover: %s", wp->pool, msg);
}

/* A normal pool whose writer cur may be dead: its synchronous standby,
 * alive, takes over once cur is silent for down_ms. */
static void takeover_tick(struct writer *w, struct writer_pool *wp,
			  const struct fsm_pool *p,
			  const struct fsm_member *cur)
{
	struct cmd_writer_seq seqs[FSM_MAX_OWNED_SETS];
	char why[FSM_REASON_LEN], reason[FSM_REASON_LEN];
	uint64_t silent = silent_ms(w, cur->id), s = p->sync_standby;
	size_t n;

	if (silent <= down_ms(w)) {
		wp->refusal[0] = '\0'; /* a later block is news again */
		return;
	}
	if (s == 0 || s == cur->id || fsm_member_find(w->d.fsm, s) == NULL ||
	    !alive(w, s))
		return; /* no one to take over: failover.h's */
	if (w->d.members.ops->moving(w->d.members.impl, p->name)) {
		takeover_blocked(wp, "a failover of the pool is under way");
		return;
	}
	if (writer_positions(w, p, s, seqs, &n, why, sizeof why) != 0) {
		takeover_blocked(wp, why);
		return;
	}
	snprintf(reason, sizeof reason,
		 "local takeover: writer %s silent %" PRIu64
		 " ms; %s is the synchronous standby",
		 cur->name, silent, member_name(w->d.fsm, s));
	propose(w, wp, p, s, reason, WRITER_TAKEOVER, seqs, n);
}

/* ---- the tick ---- */

static void pool_tick(struct writer *w, const struct fsm_pool *p, uint64_t now)
{
	struct writer_pool *wp = slot(w, p->name);
	const struct fsm_member *cur;
	char why[160], reason[FSM_REASON_LEN];
	uint64_t id, silent;

	if (wp == NULL || wp->step != WRITER_IDLE || now < wp->retry_after_ms)
		return;
	cur = p->writer != 0 ? fsm_member_find(w->d.fsm, p->writer) : NULL;
	if (p->writer == 0 || cur == NULL) {
		id = writer_choose(w, p, 0, why, sizeof why);
		if (id == 0)
			return;
		snprintf(reason, sizeof reason, "%s had no writer; %s: %s",
			 p->name, member_name(w->d.fsm, id), why);
		propose(w, wp, p, id, reason, WRITER_PROPOSING, NULL, 0);
		return;
	}
	if (owns_itself(p)) {
		takeover_tick(w, wp, p, cur);
		return;
	}
	if (!replaceable(p))
		return;
	silent = silent_ms(w, p->writer);
	if (silent <= w->d.lease_ms)
		return;
	id = writer_choose(w, p, p->writer, why, sizeof why);
	if (id == 0)
		return;
	snprintf(reason, sizeof reason,
		 "the writer %s was silent for %" PRIu64
		 " ms while %s is %s; %s: %s",
		 cur->name, silent, p->name, fsm_failover_state_name(p->state),
		 member_name(w->d.fsm, id), why);
	propose(w, wp, p, id, reason, WRITER_PROPOSING, NULL, 0);
}

void writer_tick(struct writer *w)
{
	const struct fsm *f = w->d.fsm;
	uint64_t now;

	if (w->closing || !w->d.members.ops->may_decide(w->d.members.impl))
		return;
	now = clock_wall_ms(w->d.clock);
	for (unsigned i = 0; i < f->n_pools; i++)
		pool_tick(w, &f->pools[i], now);
}
