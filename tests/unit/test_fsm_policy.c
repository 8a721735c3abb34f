/* Unit tests of consensus/fsm_policy.c and what the FSM keeps for
 * automatic failover: the default failover policy (auto with a witness,
 * manual without), the set flag, the maintenance pause and the committed
 * time of the last automatic failover, each through snapshots. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/fsm.h"
#include "control.pb-c.h"

#define T0 1700000000000ull

/* ---- building commands ---- */

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

static Poolpair__Command *cmd_new(uint64_t t, const char *who)
{
	Poolpair__Command *c = zalloc(sizeof(*c));

	poolpair__command__init(c);
	c->time_ms = t;
	c->who = dup(who);
	return c;
}

static Poolpair__Command *c_add_pool(const char *name, const char *site)
{
	Poolpair__Command *c = cmd_new(T0, "operator@test");
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
	Poolpair__Command *c = cmd_new(T0, "operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_PAIR;
	c->pair = zalloc(sizeof(*c->pair));
	poolpair__cmd_pair__init(c->pair);
	c->pair->a = dup(a);
	c->pair->b = dup(b);
	return c;
}

static Poolpair__Command *c_register(uint64_t id, const char *name,
				     const char *site, const char *pool)
{
	Poolpair__Command *c = cmd_new(T0, "agent:test");
	Poolpair__Member *m = zalloc(sizeof(*m));
	char addr[32];

	poolpair__member__init(m);
	m->id = id;
	m->name = dup(name);
	m->site = dup(site);
	m->pool = dup(pool);
	snprintf(addr, sizeof(addr), "10.0.0.%u:7000", (unsigned)id);
	m->raft_address = dup(addr);
	m->data_address = dup(pool[0] != '\0' ? addr : "");
	m->api_address = dup(addr);
	c->op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
	c->register_member = zalloc(sizeof(*c->register_member));
	poolpair__cmd_register_member__init(c->register_member);
	c->register_member->member = m;
	return c;
}

static Poolpair__Command *c_remove_member(uint64_t id)
{
	Poolpair__Command *c = cmd_new(T0, "operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_REMOVE_MEMBER;
	c->remove_member = zalloc(sizeof(*c->remove_member));
	poolpair__cmd_remove_member__init(c->remove_member);
	c->remove_member->id = id;
	return c;
}

/* A policy change; merge with has (failover, max lag, cooldown) flags
 * when has is not NULL. */
static Poolpair__Command *c_policy(const char *failover, uint32_t lag,
				   uint32_t cooldown, const bool *has)
{
	Poolpair__Command *c = cmd_new(T0, "operator@test");
	Poolpair__Policy *p = zalloc(sizeof(*p));

	poolpair__policy__init(p);
	p->failover = dup(failover);
	p->max_lag_on_failover_ms = lag;
	p->cooldown_ms = cooldown;
	c->op_case = POOLPAIR__COMMAND__OP_SET_POLICY;
	c->set_policy = zalloc(sizeof(*c->set_policy));
	poolpair__cmd_set_policy__init(c->set_policy);
	c->set_policy->policy = p;
	if (has != NULL) {
		c->set_policy->merge = true;
		c->set_policy->has_failover = has[0];
		c->set_policy->has_max_lag = has[1];
		c->set_policy->has_cooldown = has[2];
	}
	return c;
}

static Poolpair__Command *c_pause(uint64_t t, const char *who,
				  const char *pool, bool paused,
				  const char *reason)
{
	Poolpair__Command *c = cmd_new(t, who);

	c->op_case = POOLPAIR__COMMAND__OP_POOL_PAUSE;
	c->pool_pause = zalloc(sizeof(*c->pool_pause));
	poolpair__cmd_pool_pause__init(c->pool_pause);
	c->pool_pause->pool = dup(pool);
	c->pool_pause->paused = paused;
	c->pool_pause->reason = dup(reason);
	return c;
}

/* A disaster failover_begin of pool at time t, automatic or not. */
static Poolpair__Command *c_disaster(uint64_t t, const char *pool,
				     bool automatic)
{
	Poolpair__Command *c = cmd_new(t, automatic ? "leader:auto" : "op");
	Poolpair__CmdFailoverBegin *b = zalloc(sizeof(*b));

	poolpair__cmd_failover_begin__init(b);
	b->pool = dup(pool);
	b->forced = true;
	b->automatic = automatic;
	b->data_at_risk_records = 3;
	b->reason = dup(automatic ? "automatic: silent" : "disaster");
	c->op_case = POOLPAIR__COMMAND__OP_FAILOVER_BEGIN;
	c->failover_begin = b;
	return c;
}

static Poolpair__Command *c_pool_op(uint64_t t, int op, const char *pool)
{
	Poolpair__Command *c = cmd_new(t, "leader:test");

	c->op_case = op;
	switch (op) {
	case POOLPAIR__COMMAND__OP_POOL_RECOVERING:
		c->pool_recovering = zalloc(sizeof(*c->pool_recovering));
		poolpair__cmd_pool_recovering__init(c->pool_recovering);
		c->pool_recovering->pool = dup(pool);
		break;
	case POOLPAIR__COMMAND__OP_FAILBACK_BEGIN:
		c->failback_begin = zalloc(sizeof(*c->failback_begin));
		poolpair__cmd_failback_begin__init(c->failback_begin);
		c->failback_begin->pool = dup(pool);
		break;
	case POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE:
		c->failback_complete = zalloc(sizeof(*c->failback_complete));
		poolpair__cmd_failback_complete__init(c->failback_complete);
		c->failback_complete->pool = dup(pool);
		break;
	default:
		fail_msg("op %d", op);
	}
	return c;
}

static Poolpair__Command *c_topology1(Poolpair__Command *step)
{
	Poolpair__Command *c = cmd_new(T0, "operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_TOPOLOGY;
	c->topology = zalloc(sizeof(*c->topology));
	poolpair__cmd_topology__init(c->topology);
	c->topology->n_steps = 1;
	c->topology->steps = zalloc(sizeof(*c->topology->steps));
	c->topology->steps[0] = step;
	return c;
}

/* Pack c (freed), apply it, return the code. */
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
	assert_string_equal(res.reason, "");
}

/* Refused with code, reason containing part, nothing but the history
 * changed. */
static void refused(struct fsm *f, Poolpair__Command *c, int code,
		    const char *part)
{
	struct fsm *before = malloc(sizeof(*before));
	struct fsm_result res;

	assert_non_null(before);
	memcpy(before, f, sizeof(*f));
	assert_int_equal(run(f, c, &res), code);
	if (strstr(res.reason, part) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", res.reason, part);
	assert_memory_equal(before, f, offsetof(struct fsm, history));
	assert_int_equal(f->decisions, before->decisions + 1);
	free(before);
}

static const struct fsm_history *last(const struct fsm *f)
{
	const struct fsm_history *h = fsm_history_get(f, f->decisions);

	assert_non_null(h);
	return h;
}

static const struct fsm_pool *pool(const struct fsm *f, const char *name)
{
	const struct fsm_pool *p = fsm_pool_find(f, name);

	assert_non_null(p);
	return p;
}

/* Snapshot f, restore into a fresh state: same bytes, same state. */
static void round_trip(const struct fsm *f)
{
	struct fsm *g = malloc(sizeof(*g));
	void *a, *b;
	size_t alen, blen;

	assert_non_null(g);
	assert_int_equal(fsm_snapshot(f, &a, &alen), 0);
	fsm_init(g);
	assert_int_equal(fsm_restore(g, a, alen), 0);
	assert_int_equal(fsm_snapshot(g, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	assert_memory_equal(f, g, offsetof(struct fsm, history));
	free(a);
	free(b);
	free(g);
}

/* Re-encode f's snapshot after edit() and restore it into f. */
static int restore_edited(struct fsm *f, void (*edit)(Poolpair__State *))
{
	Poolpair__State *st;
	uint8_t *out;
	void *buf;
	size_t len, n;
	int rv;

	assert_int_equal(fsm_snapshot(f, &buf, &len), 0);
	st = poolpair__state__unpack(NULL, len, buf);
	assert_non_null(st);
	free(buf);
	edit(st);
	n = poolpair__state__get_packed_size(st);
	out = zalloc(n > 0 ? n : 1);
	poolpair__state__pack(st, out);
	poolpair__state__free_unpacked(st, NULL);
	rv = fsm_restore(f, out, n);
	free(out);
	return rv;
}

static void set_str(char **field, const char *value)
{
	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = dup(value);
}

/* pool-east (east) paired with pool-west (west), agents of both pools
 * registered; with_witness adds a witness member. */
static void deployment(struct fsm *f, bool with_witness)
{
	ok(f, c_add_pool("pool-east", "east"));
	ok(f, c_add_pool("pool-west", "west"));
	ok(f, c_pair("pool-east", "pool-west"));
	ok(f, c_register(1, "east-1", "east", "pool-east"));
	ok(f, c_register(2, "west-1", "west", "pool-west"));
	if (with_witness)
		ok(f, c_register(3, "witness-1", "third", ""));
}

static int setup(void **state)
{
	struct fsm *f = malloc(sizeof(*f));

	if (f == NULL)
		return -1;
	fsm_init(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* ---- the default failover policy ---- */

static void test_default_follows_witness(void **state)
{
	struct fsm *f = *state;

	assert_string_equal(fsm_failover_policy(f), "manual");
	deployment(f, false);
	/* two sites, no witness: losing either loses the quorum, manual */
	assert_string_equal(fsm_failover_policy(f), "manual");
	/* an agent without a pool in a pool's site is no third site */
	ok(f, c_register(4, "east-spare", "east", ""));
	assert_string_equal(fsm_failover_policy(f), "manual");
	ok(f, c_register(3, "witness-1", "third", ""));
	assert_string_equal(fsm_failover_policy(f), "auto");
	assert_string_equal(f->policy.failover, "");
	assert_false(f->policy.set);
	ok(f, c_remove_member(3));
	assert_string_equal(fsm_failover_policy(f), "manual");
	ok(f, c_register(3, "witness-1", "third", ""));
	assert_string_equal(fsm_failover_policy(f), "auto");
	round_trip(f);
	/* a pool in the witness's site: no third site any more */
	ok(f, c_add_pool("pool-third", "third"));
	assert_string_equal(fsm_failover_policy(f), "manual");
}

static void test_chosen_policy_wins(void **state)
{
	struct fsm *f = *state;
	static const bool only_cooldown[3] = {false, false, true};
	static const bool only_failover[3] = {true, false, false};
	Poolpair__Command *c;

	deployment(f, true);
	/* a merge of the cooldown alone sets the policy, not the failover */
	c = c_policy("manual", 0, 5000, only_cooldown);
	c->set_policy->if_never_set = true; /* as a config file's at start */
	ok(f, c);
	assert_true(f->policy.set);
	assert_string_equal(f->policy.failover, "");
	assert_string_equal(fsm_failover_policy(f), "auto");
	assert_int_equal(f->policy.cooldown_ms, 5000);
	assert_int_equal(f->policy.max_lag_on_failover_ms, 1000);
	assert_string_equal(
	    last(f)->what,
	    "set policy failover default, max lag 1000 ms, cooldown 5000 ms");
	round_trip(f);

	/* the config file's keys are for a policy never set only */
	c = c_policy("manual", 0, 0, only_failover);
	c->set_policy->if_never_set = true;
	refused(f, c, FSM_E_EXISTS, "a policy was set already");
	ok(f, c_policy("manual", 0, 0, only_failover));
	assert_string_equal(fsm_failover_policy(f), "manual");
	assert_int_equal(f->policy.cooldown_ms, 5000);
	ok(f, c_register(4, "witness-2", "fourth", ""));
	assert_string_equal(fsm_failover_policy(f), "manual");
	round_trip(f);

	/* "" goes back to the default, which still follows the witness */
	ok(f, c_policy("", 0, 0, only_failover));
	assert_string_equal(fsm_failover_policy(f), "auto");
	assert_true(f->policy.set);
	refused(f, c_policy("sometimes", 0, 0, only_failover), FSM_E_INVALID,
		"is not auto, manual or \"\" (the default)");
	/* the whole policy too, in a topology step */
	ok(f, c_topology1(c_policy("auto", 700, 900, NULL)));
	assert_string_equal(f->policy.failover, "auto");
	assert_int_equal(f->policy.max_lag_on_failover_ms, 700);
	assert_int_equal(f->policy.cooldown_ms, 900);
	round_trip(f);
}

static void edit_old_policy(Poolpair__State *st)
{
	/* as written before the set flag existed */
	set_str(&st->policy->failover, "manual");
	st->policy->set = false;
}

static void edit_unset_default(Poolpair__State *st)
{
	set_str(&st->policy->failover, "");
	st->policy->set = false;
}

static void edit_bad_failover(Poolpair__State *st)
{
	set_str(&st->policy->failover, "never");
}

static void test_policy_restore(void **state)
{
	struct fsm *f = *state;

	deployment(f, true);
	/* an older snapshot holding a failover policy: it was chosen */
	assert_int_equal(restore_edited(f, edit_old_policy), 0);
	assert_string_equal(f->policy.failover, "manual");
	assert_true(f->policy.set);
	assert_string_equal(fsm_failover_policy(f), "manual");
	round_trip(f);
	assert_int_equal(restore_edited(f, edit_unset_default), 0);
	assert_false(f->policy.set);
	assert_string_equal(fsm_failover_policy(f), "auto");
	round_trip(f);
	assert_int_equal(restore_edited(f, edit_bad_failover), -EINVAL);
	assert_false(f->policy.set);
}

/* ---- maintenance: pause and resume ---- */

static void test_pause_resume(void **state)
{
	struct fsm *f = *state;
	const struct fsm_history *h;
	const struct fsm_pool *p;

	deployment(f, true);
	ok(f, c_pause(T0 + 10, "alice@ops", "pool-east", true,
		      "rolling restart of east"));
	p = pool(f, "pool-east");
	assert_true(p->paused);
	assert_int_equal(p->paused_since_ms, T0 + 10);
	assert_string_equal(p->pause_reason, "rolling restart of east");
	assert_false(pool(f, "pool-west")->paused);
	h = last(f);
	assert_int_equal(h->code, FSM_OK);
	assert_int_equal(h->time_ms, T0 + 10);
	assert_string_equal(h->who, "alice@ops");
	assert_string_equal(
	    h->what, "pause pool pool-east: no automatic failover until resumed");
	assert_string_equal(h->reason, "rolling restart of east");
	round_trip(f);

	/* pausing again keeps the start, replaces the reason */
	ok(f, c_pause(T0 + 20, "bob@ops", "pool-east", true, "longer work"));
	p = pool(f, "pool-east");
	assert_int_equal(p->paused_since_ms, T0 + 10);
	assert_string_equal(p->pause_reason, "longer work");

	/* a pause changes nothing else: failovers stay possible */
	ok(f, c_disaster(T0 + 30, "pool-east", false));
	p = pool(f, "pool-east");
	assert_int_equal(p->state, FSM_STATE_FAILED_OVER);
	assert_true(p->paused);
	round_trip(f);

	ok(f, c_pause(T0 + 40, "alice@ops", "pool-east", false, ""));
	p = pool(f, "pool-east");
	assert_false(p->paused);
	assert_int_equal(p->paused_since_ms, 0);
	assert_string_equal(p->pause_reason, "");
	assert_string_equal(last(f)->what,
			    "resume pool pool-east: automatic failover again");
	/* resuming a pool that is not paused is harmless */
	ok(f, c_pause(T0 + 50, "alice@ops", "pool-west", false, ""));
	assert_string_equal(last(f)->what,
			    "resume pool pool-west (it was not paused)");
	round_trip(f);
}

static void test_pause_refusals(void **state)
{
	struct fsm *f = *state;
	char long_reason[400];

	deployment(f, true);
	refused(f, c_pause(T0, "op", "pool-none", true, "x"), FSM_E_NOT_FOUND,
		"pool pool-none is not defined");
	refused(f, c_pause(T0, "op", "bad name", true, "x"), FSM_E_INVALID,
		"pool name");
	refused(f, c_pause(T0, "op", "", false, ""), FSM_E_INVALID,
		"pool name");
	refused(f, c_topology1(c_pause(T0, "op", "pool-east", true, "x")),
		FSM_E_INVALID, "cannot be a topology step");
	assert_false(pool(f, "pool-east")->paused);
	/* a long reason is cut, control characters replaced */
	memset(long_reason, 'r', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	long_reason[3] = '\n';
	ok(f, c_pause(T0, "op", "pool-east", true, long_reason));
	assert_int_equal(strlen(pool(f, "pool-east")->pause_reason),
			 FSM_REASON_LEN - 1);
	assert_int_equal(pool(f, "pool-east")->pause_reason[3], '?');
	round_trip(f);
}

static void edit_unpaused_since(Poolpair__State *st)
{
	st->pools[1]->paused = false;
	st->pools[1]->paused_since_ms = 5;
}

static void edit_unpaused_reason(Poolpair__State *st)
{
	st->pools[1]->paused = false;
	st->pools[1]->paused_since_ms = 0;
	set_str(&st->pools[1]->pause_reason, "left over");
}

static void edit_long_pause_reason(Poolpair__State *st)
{
	char r[FSM_REASON_LEN + 1];

	memset(r, 'x', sizeof(r) - 1);
	r[sizeof(r) - 1] = '\0';
	set_str(&st->pools[0]->pause_reason, r);
}

static void test_pause_restore_refusals(void **state)
{
	struct fsm *f = *state;
	struct fsm *before = malloc(sizeof(*before));

	assert_non_null(before);
	deployment(f, true);
	ok(f, c_pause(T0, "op", "pool-east", true, "work"));
	memcpy(before, f, sizeof(*f));
	assert_int_equal(restore_edited(f, edit_unpaused_since), -EINVAL);
	assert_int_equal(restore_edited(f, edit_unpaused_reason), -EINVAL);
	assert_int_equal(restore_edited(f, edit_long_pause_reason), -EINVAL);
	assert_memory_equal(before, f, sizeof(*f));
	free(before);
}

/* ---- the committed time of the last automatic failover ---- */

static void test_last_auto_failover(void **state)
{
	struct fsm *f = *state;
	const struct fsm_pool *p;

	deployment(f, true);
	assert_int_equal(pool(f, "pool-east")->last_auto_failover_ms, 0);
	/* an operator's disaster failover is no automatic move */
	ok(f, c_disaster(T0 + 100, "pool-east", false));
	assert_int_equal(pool(f, "pool-east")->last_auto_failover_ms, 0);
	ok(f, c_pool_op(T0 + 200, POOLPAIR__COMMAND__OP_POOL_RECOVERING,
			"pool-east"));
	ok(f, c_pool_op(T0 + 300, POOLPAIR__COMMAND__OP_FAILBACK_BEGIN,
			"pool-east"));
	ok(f, c_pool_op(T0 + 400, POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE,
			"pool-east"));

	ok(f, c_disaster(T0 + 1000, "pool-east", true));
	p = pool(f, "pool-east");
	assert_int_equal(p->last_auto_failover_ms, T0 + 1000);
	assert_int_equal(p->state, FSM_STATE_FAILED_OVER);
	assert_int_equal(pool(f, "pool-west")->last_auto_failover_ms, 0);
	/* (the CMS moved with the first failover and stayed at west) */
	assert_string_equal(last(f)->what,
			    "automatic failover pool-east to pool-west "
			    "(disaster, 3 records / 0 B / 0 ms at risk)");
	assert_string_equal(last(f)->who, "leader:auto");
	round_trip(f);

	/* the failback does not clear it: the cooldown runs from the move */
	ok(f, c_pool_op(T0 + 2000, POOLPAIR__COMMAND__OP_POOL_RECOVERING,
			"pool-east"));
	ok(f, c_pool_op(T0 + 3000, POOLPAIR__COMMAND__OP_FAILBACK_BEGIN,
			"pool-east"));
	ok(f, c_pool_op(T0 + 4000, POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE,
			"pool-east"));
	p = pool(f, "pool-east");
	assert_int_equal(p->state, FSM_STATE_NORMAL);
	assert_int_equal(p->last_auto_failover_ms, T0 + 1000);
	round_trip(f);

	/* a refused automatic move leaves it alone */
	ok(f, c_disaster(T0 + 5000, "pool-west", true));
	assert_int_equal(pool(f, "pool-west")->last_auto_failover_ms,
			 T0 + 5000);
	refused(f, c_disaster(T0 + 6000, "pool-east", true), FSM_E_PAIR_DOWN,
		"the pair of pool-east");
	assert_int_equal(pool(f, "pool-east")->last_auto_failover_ms,
			 T0 + 1000);
	round_trip(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_default_follows_witness),
	    T(test_chosen_policy_wins),
	    T(test_policy_restore),
	    T(test_pause_resume),
	    T(test_pause_refusals),
	    T(test_pause_restore_refusals),
	    T(test_last_auto_failover),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
