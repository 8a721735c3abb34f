/* Unit tests of consensus/fsm_failover.c and fsm_cms.c: the failover state
 * machines as tables. The table is the one fsm.h documents; every (state,
 * op) pair of a machine is applied for real: a pair the table lacks is
 * refused with the documented code and changes nothing, a pair it has is
 * accepted and enters the documented next state at the command's time;
 * every state reached survives a snapshot round trip byte for byte, and
 * the floor epochs follow the epochs (every raise is a change of owner). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/fsm.h"
#include "control.pb-c.h"

#define T0 1700000000000ull    /* time of the set-up commands */
#define T_CMS 1700000000500ull /* time of the planned CMS move */
#define T_OP 1700000001000ull  /* time of the op under test */

/* ---- the table as fsm.h documents it ---- */

#define NS 5 /* pool states: normal .. failing_back */

static int documented_next(int op, int state)
{
	enum {
		N = FSM_STATE_NORMAL,
		FO = FSM_STATE_FAILING_OVER,
		FD = FSM_STATE_FAILED_OVER,
		RC = FSM_STATE_RECOVERING,
		FB = FSM_STATE_FAILING_BACK,
	};
	static const struct {
		int op, state, next;
	} rows[] = {
	    {FSM_OP_FAILOVER_PLANNED, N, FO},
	    {FSM_OP_FAILOVER_DISASTER, N, FD},
	    {FSM_OP_FAILOVER_COMPLETE, FO, FD},
	    {FSM_OP_FAILOVER_ABORT, FO, N},
	    {FSM_OP_POOL_RECOVERING, FD, RC},
	    {FSM_OP_FAILBACK_BEGIN, RC, FB},
	    {FSM_OP_FAILBACK_BEGIN, FD, FB},
	    {FSM_OP_FAILBACK_COMPLETE, FB, N},
	    {FSM_OP_FAILBACK_ABORT, FB, RC},
	    {FSM_OP_CMS_PLANNED, N, FO},
	    {FSM_OP_CMS_DISASTER, N, N},
	    {FSM_OP_CMS_COMPLETE, FO, N},
	    {FSM_OP_CMS_ABORT, FO, N},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].op == op && rows[i].state == state)
			return rows[i].next;
	return -1;
}

static bool is_cms_op(int op) { return op >= FSM_OP_CMS_PLANNED; }

/* The states a machine can be in: a pool's five, the CMS's two. */
static int machine_states(int op) { return is_cms_op(op) ? 2 : NS; }

/* ---- commands ---- */

static char *dup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static void *zalloc(size_t size)
{
	void *p = calloc(1, size);

	assert_non_null(p);
	return p;
}

static Poolpair__Command *cmd_new(uint64_t time_ms)
{
	Poolpair__Command *c = zalloc(sizeof(*c));

	poolpair__command__init(c);
	c->time_ms = time_ms;
	c->who = dup("operator@test");
	return c;
}

static Poolpair__Command *c_add_pool(const char *name, const char *site)
{
	Poolpair__Command *c = cmd_new(T0);
	Poolpair__Pool *p = zalloc(sizeof(*p));

	poolpair__pool__init(p);
	p->name = dup(name);
	p->site = dup(site);
	p->edition = dup("enterprise");
	p->kind = dup("physical");
	p->os = dup("windows-2019");
	c->op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
	c->add_pool = zalloc(sizeof(*c->add_pool));
	poolpair__cmd_add_pool__init(c->add_pool);
	c->add_pool->pool = p;
	return c;
}

static Poolpair__Command *c_pair(const char *a, const char *b)
{
	Poolpair__Command *c = cmd_new(T0);

	c->op_case = POOLPAIR__COMMAND__OP_PAIR;
	c->pair = zalloc(sizeof(*c->pair));
	poolpair__cmd_pair__init(c->pair);
	c->pair->a = dup(a);
	c->pair->b = dup(b);
	return c;
}

/* The command of op on pool-east (pool ops) or the CMS, at time t.
 * forced: the forced flag where the command has one. */
static Poolpair__Command *c_op(int op, uint64_t t, bool forced)
{
	Poolpair__Command *c = cmd_new(t);
	const char *pool = "pool-east";

	switch (op) {
	case FSM_OP_FAILOVER_PLANNED:
	case FSM_OP_FAILOVER_DISASTER:
		c->op_case = POOLPAIR__COMMAND__OP_FAILOVER_BEGIN;
		c->failover_begin = zalloc(sizeof(*c->failover_begin));
		poolpair__cmd_failover_begin__init(c->failover_begin);
		c->failover_begin->pool = dup(pool);
		c->failover_begin->planned = op == FSM_OP_FAILOVER_PLANNED;
		c->failover_begin->forced = forced;
		c->failover_begin->reason = dup("walk");
		break;
	case FSM_OP_FAILOVER_COMPLETE:
		c->op_case = POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE;
		c->failover_complete = zalloc(sizeof(*c->failover_complete));
		poolpair__cmd_failover_complete__init(c->failover_complete);
		c->failover_complete->pool = dup(pool);
		break;
	case FSM_OP_FAILOVER_ABORT:
		c->op_case = POOLPAIR__COMMAND__OP_FAILOVER_ABORT;
		c->failover_abort = zalloc(sizeof(*c->failover_abort));
		poolpair__cmd_failover_abort__init(c->failover_abort);
		c->failover_abort->pool = dup(pool);
		break;
	case FSM_OP_POOL_RECOVERING:
		c->op_case = POOLPAIR__COMMAND__OP_POOL_RECOVERING;
		c->pool_recovering = zalloc(sizeof(*c->pool_recovering));
		poolpair__cmd_pool_recovering__init(c->pool_recovering);
		c->pool_recovering->pool = dup(pool);
		break;
	case FSM_OP_FAILBACK_BEGIN:
		c->op_case = POOLPAIR__COMMAND__OP_FAILBACK_BEGIN;
		c->failback_begin = zalloc(sizeof(*c->failback_begin));
		poolpair__cmd_failback_begin__init(c->failback_begin);
		c->failback_begin->pool = dup(pool);
		c->failback_begin->forced = forced;
		break;
	case FSM_OP_FAILBACK_COMPLETE:
		c->op_case = POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE;
		c->failback_complete = zalloc(sizeof(*c->failback_complete));
		poolpair__cmd_failback_complete__init(c->failback_complete);
		c->failback_complete->pool = dup(pool);
		break;
	case FSM_OP_FAILBACK_ABORT:
		c->op_case = POOLPAIR__COMMAND__OP_FAILBACK_ABORT;
		c->failback_abort = zalloc(sizeof(*c->failback_abort));
		poolpair__cmd_failback_abort__init(c->failback_abort);
		c->failback_abort->pool = dup(pool);
		break;
	case FSM_OP_CMS_PLANNED:
	case FSM_OP_CMS_DISASTER:
		c->op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER;
		c->cms_failover = zalloc(sizeof(*c->cms_failover));
		poolpair__cmd_cms_failover__init(c->cms_failover);
		c->cms_failover->planned = op == FSM_OP_CMS_PLANNED;
		c->cms_failover->forced = forced;
		break;
	case FSM_OP_CMS_COMPLETE:
		c->op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER_COMPLETE;
		c->cms_failover_complete =
		    zalloc(sizeof(*c->cms_failover_complete));
		poolpair__cmd_cms_failover_complete__init(
		    c->cms_failover_complete);
		c->cms_failover_complete->since_ms = T_CMS;
		break;
	case FSM_OP_CMS_ABORT:
		c->op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER_ABORT;
		c->cms_failover_abort = zalloc(sizeof(*c->cms_failover_abort));
		poolpair__cmd_cms_failover_abort__init(c->cms_failover_abort);
		c->cms_failover_abort->since_ms = T_CMS;
		break;
	default:
		fail_msg("no command for op %d", op);
	}
	return c;
}

/* Pack c (freed here), apply it to f. */
static int run(struct fsm *f, Poolpair__Command *c, struct fsm_result *res)
{
	size_t len = poolpair__command__get_packed_size(c);
	uint8_t *buf = zalloc(len > 0 ? len : 1);
	int rv;

	assert_int_equal(poolpair__command__pack(c, buf), len);
	poolpair__command__free_unpacked(c, NULL);
	rv = fsm_apply(f, buf, len, res);
	free(buf);
	return rv;
}

static void ok(struct fsm *f, Poolpair__Command *c)
{
	struct fsm_result res;

	assert_int_equal(run(f, c, &res), FSM_OK);
}

static struct fsm_pool *east(struct fsm *f)
{
	struct fsm_pool *p = (struct fsm_pool *)fsm_pool_find(f, "pool-east");

	assert_non_null(p);
	return p;
}

/* The state of op's machine in f. */
static int machine_state(struct fsm *f, int op)
{
	return is_cms_op(op) ? f->cms_state : east(f)->state;
}

/* f: pool-east and pool-west paired, the CMS on pool-east, and the
 * machine of op brought to state by real decisions. */
static void reach(struct fsm *f, int op, int state)
{
	fsm_init(f);
	ok(f, c_add_pool("pool-east", "east"));
	ok(f, c_add_pool("pool-west", "west"));
	ok(f, c_pair("pool-east", "pool-west"));
	assert_string_equal(f->cms_active, "pool-east");
	if (is_cms_op(op)) {
		if (state == FSM_STATE_FAILING_OVER)
			ok(f, c_op(FSM_OP_CMS_PLANNED, T_CMS, false));
	} else {
		switch (state) {
		case FSM_STATE_FAILING_OVER:
			ok(f, c_op(FSM_OP_FAILOVER_PLANNED, T0, false));
			break;
		case FSM_STATE_FAILING_BACK:
		case FSM_STATE_RECOVERING:
		case FSM_STATE_FAILED_OVER:
			ok(f, c_op(FSM_OP_FAILOVER_DISASTER, T0, false));
			if (state == FSM_STATE_FAILED_OVER)
				break;
			ok(f, c_op(FSM_OP_POOL_RECOVERING, T0, false));
			if (state == FSM_STATE_RECOVERING)
				break;
			ok(f, c_op(FSM_OP_FAILBACK_BEGIN, T0, false));
			break;
		default:
			break;
		}
	}
	assert_int_equal(machine_state(f, op), state);
}

/* A snapshot of f restores to the same state and snapshots to the same
 * bytes. */
static void round_trip(const struct fsm *f)
{
	struct fsm *g = malloc(sizeof(*g));
	void *s1, *s2;
	size_t l1, l2;

	assert_non_null(g);
	assert_int_equal(fsm_snapshot(f, &s1, &l1), 0);
	fsm_init(g);
	assert_int_equal(fsm_restore(g, s1, l1), 0);
	assert_int_equal(fsm_snapshot(g, &s2, &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(s1, s2, l1);
	assert_memory_equal(f, g, offsetof(struct fsm, history));
	free(s1);
	free(s2);
	free(g);
}

/* Apply op and expect the refusal code with nothing changed but the
 * history, which records the refusal. */
static void expect_refused(struct fsm *f, int op, bool forced, int code)
{
	struct fsm *before = malloc(sizeof(*before));
	const struct fsm_history *h;
	struct fsm_result res;

	assert_non_null(before);
	memcpy(before, f, sizeof(*f));
	if (run(f, c_op(op, T_OP, forced), &res) != code)
		fail_msg(
		    "%s from %s: %s (%s), want %s", fsm_failover_op_name(op),
		    fsm_failover_state_name(machine_state(before, op)),
		    fsm_code_name(res.code), res.reason, fsm_code_name(code));
	assert_int_equal(res.code, code);
	assert_true(res.reason[0] != '\0');
	assert_memory_equal(before, f, offsetof(struct fsm, history));
	assert_int_equal(f->decisions, before->decisions + 1);
	h = fsm_history_get(f, res.seq);
	assert_non_null(h);
	assert_int_equal(h->code, code);
	assert_string_equal(h->reason, res.reason);
	assert_false(h->forced);
	free(before);
}

/* ---- tests ---- */

static void test_table_is_documented(void **state)
{
	int op, s;

	(void)state;
	for (op = 0; op < FSM_OP_COUNT; op++) {
		assert_string_not_equal(fsm_failover_op_name(op), "unknown");
		for (s = -1; s <= NS; s++) {
			int want = s >= 0 && s < machine_states(op)
				       ? documented_next(op, s)
				       : -1;

			if (fsm_failover_next(op, s) != want)
				fail_msg("%s from state %d: next %d, "
					 "documented %d",
					 fsm_failover_op_name(op), s,
					 fsm_failover_next(op, s), want);
		}
	}
	assert_int_equal(fsm_failover_next(-1, FSM_STATE_NORMAL), -1);
	assert_int_equal(fsm_failover_next(FSM_OP_COUNT, FSM_STATE_NORMAL), -1);
	assert_string_equal(fsm_failover_op_name(FSM_OP_COUNT), "unknown");
	assert_string_equal(fsm_failover_op_name(FSM_OP_FAILBACK_BEGIN),
			    "failback_begin");
}

/* Every (state, op) pair of each machine, applied. */
static void test_walk_table(void **state)
{
	struct fsm *f = malloc(sizeof(*f));
	int op, s, refused = 0, taken = 0;

	(void)state;
	assert_non_null(f);
	for (op = 0; op < FSM_OP_COUNT; op++) {
		for (s = 0; s < machine_states(op); s++) {
			int next = fsm_failover_next(op, s);

			reach(f, op, s);
			round_trip(f);
			if (next < 0) {
				int code = is_cms_op(op) ? FSM_E_CMS_MOVING
					   : s == FSM_STATE_NORMAL
					       ? FSM_E_NOT_FAILED_OVER
					       : FSM_E_FAILED_OVER;

				/* forced or not, the state decides */
				expect_refused(f, op, false, code);
				expect_refused(f, op, true, code);
				round_trip(f);
				refused++;
				continue;
			}
			/* the guard of failback from failed_over: forced */
			if (op == FSM_OP_FAILBACK_BEGIN &&
			    s == FSM_STATE_FAILED_OVER)
				expect_refused(f, op, false, FSM_E_FAILED_OVER);
			ok(f, c_op(op, T_OP, true));
			if (machine_state(f, op) != next)
				fail_msg("%s from %s entered %s, not %s",
					 fsm_failover_op_name(op),
					 fsm_failover_state_name(s),
					 fsm_failover_state_name(
					     machine_state(f, op)),
					 fsm_failover_state_name(next));
			if (is_cms_op(op))
				assert_int_equal(f->cms_since_ms, T_OP);
			else
				assert_int_equal(east(f)->failover_since_ms,
						 T_OP);
			/* every epoch raised here is a change of owner */
			assert_int_equal(east(f)->floor_epoch, east(f)->epoch);
			assert_int_equal(f->cms_floor_epoch, f->cms_epoch);
			round_trip(f);
			taken++;
		}
	}
	/* 8 pool ops x 5 states and 4 CMS ops x 2 states, 13 of them in
	 * the table */
	assert_int_equal(taken, 13);
	assert_int_equal(refused, 8 * NS + 4 * 2 - 13);
	free(f);
}

/* The what-if answers walk the same table: a begin in any state but
 * normal is refused with the code apply gives, and changes nothing. */
static void test_what_if_follows_table(void **state)
{
	struct fsm *f = malloc(sizeof(*f));
	struct fsm_result res;
	int s;

	(void)state;
	assert_non_null(f);
	for (s = 0; s < NS; s++) {
		int want = fsm_failover_next(FSM_OP_FAILOVER_PLANNED, s) >= 0
			       ? FSM_OK
			       : FSM_E_FAILED_OVER;
		bool moves = false;

		reach(f, FSM_OP_FAILOVER_PLANNED, s);
		assert_int_equal(
		    fsm_failover_check(f, "pool-east", true, &res, &moves),
		    want);
		assert_int_equal(res.code, want);
		assert_int_equal(moves, want == FSM_OK);
		assert_int_equal(
		    fsm_failover_check(f, "pool-east", false, &res, NULL),
		    want);
	}
	for (s = 0; s < 2; s++) {
		int want = fsm_failover_next(FSM_OP_CMS_PLANNED, s) >= 0
			       ? FSM_OK
			       : FSM_E_CMS_MOVING;

		reach(f, FSM_OP_CMS_PLANNED, s);
		assert_int_equal(fsm_cms_failover_check(f, true, false, &res),
				 want);
		assert_int_equal(fsm_cms_failover_check(f, false, true, &res),
				 want);
	}
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_is_documented),
	    cmocka_unit_test(test_walk_table),
	    cmocka_unit_test(test_what_if_follows_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
