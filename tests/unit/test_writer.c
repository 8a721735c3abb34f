/* Tests of agent/writer.c: the leader's choice of each pool's writer and
 * the local takeover, with fakes for what it reads: a proposer that
 * queues what is submitted and applies it to a real state machine
 * (consensus/fsm.h) when the test says so, the silences, reported heads
 * and copy positions of the agents, whether a failover is under way, and
 * the clock. The tick is called by the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/writer.h"
#include "consensus/cmd.h"
#include "control.pb-c.h"

#define LEASE_MS 1000
#define GRACE_MS 500
#define DOWN_MS (LEASE_MS + GRACE_MS)
#define T0_MS 1700000000000ull
#define MAX_SUBMITS 8
#define N_MEMBERS 4 /* 1 east-1, 2 east-2, 3 east-3 (pool east), 4 west-1 */

struct submitted {
	struct cmd_buf cmd;
	proposer_cb cb;
	void *arg;
};

struct fx {
	struct fsm fsm;
	struct proposer proposer;
	struct submitted queue[MAX_SUBMITS];
	unsigned n_queued;
	struct clock clock;
	uint64_t wall_ms;
	/* the agents, by id 1..N_MEMBERS */
	uint64_t silent[N_MEMBERS + 1];
	bool reported[N_MEMBERS + 1];
	uint64_t head[N_MEMBERS + 1];
	/* copy positions reported: [id][user set: east, cms, west][lane] */
	bool pos_known[N_MEMBERS + 1][3];
	uint64_t pos[N_MEMBERS + 1][3][2];
	bool moving; /* a failover of east is under way */
	bool may_decide;
	struct writer w;
};

/* ---- fakes ---- */

static int fake_submit(void *impl, struct cmd_buf *cmd, proposer_cb cb,
		       void *arg)
{
	struct fx *fx = impl;
	struct submitted *s;

	assert_true(fx->n_queued < MAX_SUBMITS);
	s = &fx->queue[fx->n_queued++];
	s->cmd = *cmd;
	cmd->buf = NULL;
	cmd->len = 0;
	s->cb = cb;
	s->arg = arg;
	return 0;
}

static int fake_barrier(void *impl, proposer_done_cb cb, void *arg)
{
	(void)impl;
	(void)cb;
	(void)arg;
	return PROPOSER_E_NOT_LEADER;
}

static bool fake_is_leader(void *impl)
{
	return ((struct fx *)impl)->may_decide;
}

static uint64_t fake_leader(void *impl, const char **api)
{
	(void)impl;
	if (api != NULL)
		*api = "";
	return 1;
}

static uint64_t fake_zero(void *impl)
{
	(void)impl;
	return 0;
}

static void fake_strerror(void *impl, int rv, char *buf, size_t len)
{
	(void)impl;
	snprintf(buf, len, "error %d", rv);
}

static const struct proposer_ops fake_proposer_ops = {
    .submit = fake_submit,
    .barrier = fake_barrier,
    .is_leader = fake_is_leader,
    .leader = fake_leader,
    .term = fake_zero,
    .commit_index = fake_zero,
    .applied_index = fake_zero,
    .strerror = fake_strerror,
};

static uint64_t clock_wall(void *data) { return ((struct fx *)data)->wall_ms; }

static uint64_t clock_mono(void *data)
{
	return ((struct fx *)data)->wall_ms * 1000000ull;
}

static uint64_t fake_silent_ms(void *impl, uint64_t id)
{
	struct fx *fx = impl;

	assert_true(id >= 1 && id <= N_MEMBERS);
	return fx->silent[id];
}

static bool fake_head(void *impl, uint64_t id, const char *pool, uint64_t *head)
{
	struct fx *fx = impl;

	if (strcmp(pool, "east") != 0 || !fx->reported[id])
		return false;
	*head = fx->head[id];
	return true;
}

static bool fake_may_decide(void *impl)
{
	return ((struct fx *)impl)->may_decide;
}

static int set_index(const char *user_set)
{
	if (strcmp(user_set, "east") == 0)
		return 0;
	if (strcmp(user_set, "cms") == 0)
		return 1;
	if (strcmp(user_set, "west") == 0)
		return 2;
	fail_msg("unknown user set %s", user_set);
	return -1;
}

static bool fake_position(void *impl, uint64_t id, const char *user_set,
			  int lane, uint64_t *seq)
{
	struct fx *fx = impl;
	int u = set_index(user_set);

	assert_true(id >= 1 && id <= N_MEMBERS);
	assert_true(lane == 0 || lane == 1);
	if (!fx->pos_known[id][u])
		return false;
	*seq = fx->pos[id][u][lane];
	return true;
}

static bool fake_moving(void *impl, const char *pool)
{
	struct fx *fx = impl;

	return strcmp(pool, "east") == 0 && fx->moving;
}

static const struct writer_members_ops fake_members_ops = {
    .silent_ms = fake_silent_ms,
    .head = fake_head,
    .may_decide = fake_may_decide,
    .position = fake_position,
    .moving = fake_moving,
};

/* ---- the state machine ---- */

static void apply_cmd(struct fx *fx, Poolpair__Command *c)
{
	struct cmd_buf b;
	struct fsm_result res;

	assert_int_equal(cmd_pack(c, &b), 0);
	assert_int_equal(fsm_apply(&fx->fsm, b.buf, b.len, &res), 0);
	assert_int_equal(res.code, FSM_OK);
	cmd_buf_free(&b);
}

static void add_site_pool(struct fx *fx, const char *name)
{
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "test"};
	char who[FSM_WHO_LEN];
	Poolpair__Command c;
	Poolpair__CmdAddSite as;
	Poolpair__CmdAddPool ap;
	Poolpair__Pool p;

	cmd_init(&c, &ctx, who);
	poolpair__cmd_add_site__init(&as);
	as.name = (char *)name;
	c.op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
	c.add_site = &as;
	apply_cmd(fx, &c);

	cmd_init(&c, &ctx, who);
	poolpair__pool__init(&p);
	p.name = (char *)name;
	p.site = (char *)name;
	p.edition = "enterprise";
	p.kind = "physical";
	p.os = "linux";
	p.capacity = 5000;
	poolpair__cmd_add_pool__init(&ap);
	ap.pool = &p;
	c.op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
	c.add_pool = &ap;
	apply_cmd(fx, &c);
}

static void register_member(struct fx *fx, uint64_t id, const char *name,
			    const char *pool)
{
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "test"};
	char who[FSM_WHO_LEN], raft[32], data[32], api[32];
	Poolpair__Command c;
	Poolpair__CmdRegisterMember rm;
	Poolpair__Member m;

	snprintf(raft, sizeof raft, "127.0.0.1:%d", 7000 + (int)id);
	snprintf(data, sizeof data, "127.0.0.1:%d", 8000 + (int)id);
	snprintf(api, sizeof api, "127.0.0.1:%d", 9000 + (int)id);
	cmd_init(&c, &ctx, who);
	poolpair__member__init(&m);
	m.id = id;
	m.name = (char *)name;
	m.site = (char *)pool; /* each pool sits in the site of its name */
	m.pool = (char *)pool;
	m.raft_address = raft;
	m.data_address = data;
	m.api_address = api;
	poolpair__cmd_register_member__init(&rm);
	rm.member = &m;
	c.op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
	c.register_member = &rm;
	apply_cmd(fx, &c);
}

/* Commit the i-th submitted decision: apply it and answer its callback
 * with the state machine's result. Returns that result's code. */
static int commit(struct fx *fx, unsigned i)
{
	struct submitted *s = &fx->queue[i];
	struct fsm_result res;

	assert_true(i < fx->n_queued);
	fsm_apply(&fx->fsm, s->cmd.buf, s->cmd.len, &res);
	cmd_buf_free(&s->cmd);
	s->cb(s->arg, 0, &res);
	return res.code;
}

/* The pool_writer decision submitted i-th. */
static Poolpair__CmdPoolWriter *decoded(struct fx *fx, unsigned i,
					Poolpair__Command **c)
{
	assert_true(i < fx->n_queued);
	*c = poolpair__command__unpack(NULL, fx->queue[i].cmd.len,
				       fx->queue[i].cmd.buf);
	assert_non_null(*c);
	assert_int_equal((*c)->op_case, POOLPAIR__COMMAND__OP_POOL_WRITER);
	return (*c)->pool_writer;
}

static void assert_proposed(struct fx *fx, unsigned i, uint64_t id,
			    uint64_t token, const char *reason_part)
{
	Poolpair__Command *c;
	Poolpair__CmdPoolWriter *pw = decoded(fx, i, &c);

	assert_string_equal(pw->pool, "east");
	assert_int_equal(pw->member_id, id);
	assert_int_equal(pw->expect_token, token);
	if (strstr(pw->reason, reason_part) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", pw->reason, reason_part);
	poolpair__command__free_unpacked(c, NULL);
}

static struct fsm_pool *east(struct fx *fx)
{
	struct fsm_pool *p = (struct fsm_pool *)fsm_pool_find(&fx->fsm, "east");

	assert_non_null(p);
	return p;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	struct writer_deps d;

	assert_non_null(fx);
	fx->wall_ms = T0_MS;
	fsm_init(&fx->fsm);
	add_site_pool(fx, "east");
	add_site_pool(fx, "west");
	register_member(fx, 1, "east-1", "east");
	register_member(fx, 2, "east-2", "east");
	register_member(fx, 3, "east-3", "east");
	register_member(fx, 4, "west-1", "west");
	fx->proposer = (struct proposer){&fake_proposer_ops, fx};
	fx->clock = (struct clock){clock_wall, clock_mono, fx};
	fx->may_decide = true;
	d = (struct writer_deps){
	    .fsm = &fx->fsm,
	    .proposer = &fx->proposer,
	    .clock = &fx->clock,
	    .members = {&fake_members_ops, fx},
	    .lease_ms = LEASE_MS,
	    .grace_ms = GRACE_MS,
	};
	writer_init(&fx->w, &d);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	for (unsigned i = 0; i < fx->n_queued; i++)
		cmd_buf_free(&fx->queue[i].cmd);
	writer_close(&fx->w);
	free(fx);
	return 0;
}

/* Only the queued submits of pool east (west gets its own writer too). */
static unsigned east_submits(struct fx *fx, unsigned *idx)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fx->n_queued; i++) {
		Poolpair__Command *c;

		if (fx->queue[i].cmd.buf == NULL)
			continue;
		c = poolpair__command__unpack(NULL, fx->queue[i].cmd.len,
					      fx->queue[i].cmd.buf);
		assert_non_null(c);
		if (c->op_case == POOLPAIR__COMMAND__OP_POOL_WRITER &&
		    strcmp(c->pool_writer->pool, "east") == 0) {
			if (idx != NULL)
				*idx = i;
			n++;
		}
		poolpair__command__free_unpacked(c, NULL);
	}
	return n;
}

/* ---- tests ---- */

/* A pool without a writer gets its lowest alive id when no agent reports
 * the pool's data; one decision in flight; then it is the writer and
 * nothing more is proposed. */
static void test_no_writer_lowest_id(void **state)
{
	struct fx *fx = *state;
	unsigned i = 0;

	assert_int_equal(east(fx)->writer, 0);
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, &i), 1);
	assert_proposed(fx, i, 1, 0, "lowest id");
	writer_tick(&fx->w); /* in flight: not again */
	assert_int_equal(east_submits(fx, NULL), 1);
	assert_int_equal(commit(fx, i), FSM_OK);
	assert_int_equal(east(fx)->writer, 1);
	assert_int_equal(east(fx)->writer_token, 1);
	assert_int_equal(fx->w.decided >= 1, true);
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
}

/* The agent whose reports show the highest head of the pool's user set
 * is chosen over a lower id; a silent agent is never chosen. */
static void test_no_writer_highest_head(void **state)
{
	struct fx *fx = *state;
	unsigned i = 0;

	fx->reported[2] = true;
	fx->head[2] = 42;
	fx->reported[3] = true;
	fx->head[3] = 99;
	fx->silent[3] = LEASE_MS + 1; /* holds more, but is not alive */
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, &i), 1);
	assert_proposed(fx, i, 2, 0, "up to seq 42");
}

/* No alive agent: nothing is proposed. */
static void test_no_writer_none_alive(void **state)
{
	struct fx *fx = *state;

	fx->silent[1] = fx->silent[2] = fx->silent[3] = LEASE_MS + 1;
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
}

/* Nothing is decided by an agent that may not decide (not leading, not
 * established). */
static void test_may_not_decide(void **state)
{
	struct fx *fx = *state;

	fx->may_decide = false;
	writer_tick(&fx->w);
	assert_int_equal(fx->n_queued, 0);
}

static void make_writer(struct fx *fx, uint64_t id)
{
	unsigned i = 0;

	fx->silent[1] = id == 1 ? 0 : LEASE_MS + 1;
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, &i), 1);
	assert_proposed(fx, i, id, east(fx)->writer_token, "");
	assert_int_equal(commit(fx, i), FSM_OK);
	for (unsigned k = 0; k < fx->n_queued; k++)
		cmd_buf_free(&fx->queue[k].cmd);
	fx->n_queued = 0;
	fx->silent[1] = 0;
	assert_int_equal(east(fx)->writer, id);
}

/* While the pool owns its user set (normal, failing over, failing back) a
 * silent writer is never replaced: its death is a failover. */
static void test_silent_writer_kept_while_owning(void **state)
{
	static const int states[] = {FSM_STATE_NORMAL, FSM_STATE_FAILING_OVER,
				     FSM_STATE_FAILING_BACK};
	struct fx *fx = *state;

	make_writer(fx, 1);
	fx->silent[1] = 10 * LEASE_MS;
	for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
		east(fx)->state = states[k];
		snprintf(east(fx)->owner, sizeof east(fx)->owner, "%s",
			 states[k] == FSM_STATE_FAILING_BACK ? "west" : "east");
		writer_tick(&fx->w);
		assert_int_equal(east_submits(fx, NULL), 0);
	}
}

/* Failed over (or recovering): a writer silent longer than the lease is
 * replaced by another alive agent of the pool, over the token read; one
 * heard within the lease is kept. */
static void test_silent_writer_replaced_when_failed_over(void **state)
{
	static const int states[] = {FSM_STATE_FAILED_OVER,
				     FSM_STATE_RECOVERING};
	struct fx *fx = *state;
	unsigned i = 0;

	make_writer(fx, 1);
	for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
		/* the first replaces east-1 by east-2, the second back */
		east(fx)->state = states[k];
		snprintf(east(fx)->owner, sizeof east(fx)->owner, "west");
		fx->silent[east(fx)->writer] = LEASE_MS; /* within: kept */
		writer_tick(&fx->w);
		assert_int_equal(east_submits(fx, NULL), 0);
		fx->silent[east(fx)->writer] = LEASE_MS + 1;
		writer_tick(&fx->w);
		assert_int_equal(east_submits(fx, &i), 1);
		assert_proposed(fx, i, k == 0 ? 2 : 1, east(fx)->writer_token,
				"was silent for");
		assert_int_equal(commit(fx, i), FSM_OK);
		assert_int_equal(east(fx)->writer, k == 0 ? 2 : 1);
		for (unsigned q = 0; q < fx->n_queued; q++)
			cmd_buf_free(&fx->queue[q].cmd);
		fx->n_queued = 0;
		fx->silent[1] = fx->silent[2] = 0;
		east(fx)->state = FSM_STATE_NORMAL;
		snprintf(east(fx)->owner, sizeof east(fx)->owner, "east");
	}
}

/* A decision made on a stale view is refused by the state machine: it is
 * not tried again before WRITER_RETRY_MS, then made over the new token. */
static void test_refused_not_retried_at_once(void **state)
{
	struct fx *fx = *state;
	unsigned i = 0;
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "test"};
	struct cmd_writer cw = {.pool = "east",
				.member_id = 3,
				.expect_token = 0,
				.reason = "test"};
	struct cmd_buf b;
	struct fsm_result res;
	uint64_t refused;

	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, &i), 1);
	assert_proposed(fx, i, 1, 0, "");
	/* another decision commits first: the token moves */
	assert_int_equal(cmd_pool_writer(&ctx, &cw, &b), 0);
	assert_int_equal(fsm_apply(&fx->fsm, b.buf, b.len, &res), 0);
	assert_int_equal(res.code, FSM_OK);
	cmd_buf_free(&b);
	east(fx)->writer = 0; /* as if it were removed again */
	refused = fx->w.refused;
	assert_int_equal(commit(fx, i), FSM_E_STALE);
	assert_int_equal(fx->w.refused, refused + 1);
	for (unsigned q = 0; q < fx->n_queued; q++)
		cmd_buf_free(&fx->queue[q].cmd);
	fx->n_queued = 0;
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
	fx->wall_ms += WRITER_RETRY_MS - 1;
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
	fx->wall_ms += 1;
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, &i), 1);
	assert_proposed(fx, i, 1, east(fx)->writer_token, "");
	assert_int_equal(commit(fx, i), FSM_OK);
	assert_int_equal(east(fx)->writer, 1);
}

/* A closed module does nothing with an answer that comes later. */
static void test_closed_ignores_answer(void **state)
{
	struct fx *fx = *state;
	unsigned i = 0;
	uint64_t decided = fx->w.decided;

	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, &i), 1);
	writer_close(&fx->w);
	commit(fx, i);
	assert_int_equal(fx->w.decided, decided);
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
}

/* ---- the local takeover ---- */

/* Commit pool_sync: standby id becomes east's synchronous standby, asked
 * with the current token. */
static void set_sync(struct fx *fx, uint64_t id)
{
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "test"};
	struct cmd_pool_sync cs = {.pool = "east",
				   .writer_token = east(fx)->writer_token,
				   .standby = id,
				   .reason = "test"};
	struct cmd_buf b;
	struct fsm_result res;

	assert_int_equal(cmd_pool_sync(&ctx, &cs, &b), 0);
	assert_int_equal(fsm_apply(&fx->fsm, b.buf, b.len, &res), FSM_OK);
	cmd_buf_free(&b);
	assert_int_equal(east(fx)->sync_standby, id);
}

/* east normal with writer east-1, east-2 its synchronous standby that
 * reported its copies of what east owns (its own user set and, as the
 * first pool, the CMS documents). */
static void takeover_ready(struct fx *fx)
{
	make_writer(fx, 1);
	set_sync(fx, 2);
	assert_string_equal(fx->fsm.cms_active, "east");
	fx->pos_known[2][0] = fx->pos_known[2][1] = true;
	fx->pos[2][0][0] = 42;
	fx->pos[2][0][1] = 7;
	fx->pos[2][1][0] = 3;
	fx->pos[2][1][1] = 0;
}

static void assert_seqs(struct fx *fx, unsigned i)
{
	Poolpair__Command *c;
	Poolpair__CmdPoolWriter *pw = decoded(fx, i, &c);
	bool seen[2] = {false, false};

	assert_int_equal(pw->n_seqs, 2);
	for (size_t k = 0; k < pw->n_seqs; k++) {
		int u = set_index(pw->seqs[k]->user_set);

		assert_true(u == 0 || u == 1);
		assert_false(seen[u]);
		seen[u] = true;
		assert_int_equal(pw->seqs[k]->data_seq, fx->pos[2][u][0]);
		assert_int_equal(pw->seqs[k]->content_seq, fx->pos[2][u][1]);
	}
	poolpair__command__free_unpacked(c, NULL);
}

/* The writer of a normal pool silent for lease + grace, its synchronous
 * standby alive: the standby is proposed, over the token read, with its
 * reported positions of every user set the pool owns; while that is
 * being committed the failover module is told so; once committed the
 * standby writes, with the epochs raised and its positions recorded. */
static void test_local_takeover(void **state)
{
	struct fx *fx = *state;
	struct writer_takeover_facts t;
	uint64_t epoch = east(fx)->epoch, cms_epoch;
	unsigned i = 0;

	takeover_ready(fx);
	cms_epoch = fx->fsm.cms_epoch;
	fx->silent[1] = DOWN_MS; /* its lease may not have run out yet */
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
	writer_takeover_facts(&fx->w, east(fx), &t);
	assert_int_equal(t.standby, 2);
	assert_string_equal(t.standby_name, "east-2");
	assert_int_equal(t.silent_ms, 0);
	assert_true(t.positions);
	assert_false(t.inflight);
	fx->silent[1] = DOWN_MS + 1;
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, &i), 1);
	assert_proposed(fx, i, 2, east(fx)->writer_token,
			"local takeover: writer east-1 silent 1501 ms");
	assert_seqs(fx, i);
	writer_takeover_facts(&fx->w, east(fx), &t);
	assert_true(t.inflight);
	writer_tick(&fx->w); /* in flight: not again */
	assert_int_equal(east_submits(fx, NULL), 1);
	assert_int_equal(commit(fx, i), FSM_OK);
	assert_int_equal(east(fx)->writer, 2);
	assert_int_equal(east(fx)->sync_standby, 0);
	assert_int_equal(east(fx)->epoch, epoch + 1);
	assert_int_equal(fx->fsm.cms_epoch, cms_epoch + 1);
	assert_int_equal(east(fx)->writer_seq[0], 42);
	assert_int_equal(east(fx)->writer_seq[1], 7);
	assert_int_equal(fx->fsm.cms_writer_seq[0], 3);
	writer_takeover_facts(&fx->w, east(fx), &t);
	assert_false(t.inflight);
	assert_int_equal(t.standby, 0);
	assert_string_equal(t.standby_name, "");
}

/* Only the synchronous standby, only alive: another alive standby
 * (east-3) is never proposed; with no synchronous standby nothing is
 * proposed (the failover module moves the pool to its pair). */
static void test_local_takeover_only_to_the_live_sync_standby(void **state)
{
	struct fx *fx = *state;
	struct writer_takeover_facts t;

	takeover_ready(fx);
	fx->pos_known[3][0] = fx->pos_known[3][1] = true;
	fx->silent[1] = 10 * LEASE_MS;
	fx->silent[2] = LEASE_MS + 1;
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
	writer_takeover_facts(&fx->w, east(fx), &t);
	assert_int_equal(t.standby, 2);
	assert_int_equal(t.silent_ms, LEASE_MS + 1);
	/* no synchronous standby */
	fx->silent[2] = 0;
	set_sync(fx, 0);
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
	writer_takeover_facts(&fx->w, east(fx), &t);
	assert_int_equal(t.standby, 0);
	assert_string_equal(t.standby_name, "");
	assert_false(t.positions);
}

/* No takeover without a reported position of every user set the pool
 * owns, nor while a failover of the pool is under way, nor unless the
 * pool is normal and owns its user set. */
static void test_local_takeover_needs(void **state)
{
	static const int states[] = {FSM_STATE_FAILING_OVER,
				     FSM_STATE_FAILING_BACK};
	struct fx *fx = *state;
	struct writer_takeover_facts t;
	unsigned i = 0;

	takeover_ready(fx);
	fx->silent[1] = 10 * LEASE_MS;
	fx->pos_known[2][1] = false; /* nothing of its copy of the CMS */
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
	writer_takeover_facts(&fx->w, east(fx), &t);
	assert_false(t.positions);
	fx->pos_known[2][1] = true;
	fx->moving = true;
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, NULL), 0);
	fx->moving = false;
	for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
		east(fx)->state = states[k];
		writer_tick(&fx->w);
		assert_int_equal(east_submits(fx, NULL), 0);
	}
	east(fx)->state = FSM_STATE_NORMAL;
	writer_tick(&fx->w);
	assert_int_equal(east_submits(fx, &i), 1);
	assert_proposed(fx, i, 2, east(fx)->writer_token, "local takeover");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_writer_lowest_id, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_no_writer_highest_head, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_no_writer_none_alive, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_may_not_decide, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_silent_writer_kept_while_owning, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_silent_writer_replaced_when_failed_over, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_not_retried_at_once,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_closed_ignores_answer, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_local_takeover, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_local_takeover_only_to_the_live_sync_standby, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_local_takeover_needs, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
