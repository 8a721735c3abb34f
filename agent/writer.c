/* writer: the leader's choice of each pool's writer (see writer.h). */
#include "agent/writer.h"

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

	wp->step = WRITER_IDLE;
	if (w->closing)
		return;
	if (status == 0 && res->code == FSM_OK) {
		const struct fsm_pool *p = fsm_pool_find(w->d.fsm, wp->pool);

		w->decided++;
		wp->refusal[0] = '\0';
		LOG_INFO(MOD,
			 "writer of %s: %s (member %" PRIu64 "), token %" PRIu64
			 " (decision %" PRIu64 ")",
			 wp->pool, member_name(w->d.fsm, wp->member_id),
			 wp->member_id, p != NULL ? p->writer_token : 0,
			 res->seq);
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

/* Propose member id as p's writer over the token read now. */
static void propose(struct writer *w, struct writer_pool *wp,
		    const struct fsm_pool *p, uint64_t id, const char *reason)
{
	struct cmd_ctx ctx = {.time_ms = clock_wall_ms(w->d.clock),
			      .who = "leader:writer"};
	struct cmd_writer cw = {.pool = p->name,
				.member_id = id,
				.expect_token = p->writer_token,
				.reason = reason};
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
	wp->step = WRITER_PROPOSING;
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
		propose(w, wp, p, id, reason);
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
	propose(w, wp, p, id, reason);
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
