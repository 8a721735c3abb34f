/* Tests of agent/request.c: JSON bodies → encoded poolpair.Command, strict
 * validation, and the declarative topology diff. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/request.h"
#include "control.pb-c.h"

static const struct request_ctx ctx = {1700000000123ULL, "alice@ops-1"};

/* ---- helpers ---- */

static Poolpair__Command *decode(const struct request_cmd *c)
{
	Poolpair__Command *cmd;

	assert_non_null(c->buf);
	assert_true(c->len > 0);
	cmd = poolpair__command__unpack(NULL, c->len, c->buf);
	assert_non_null(cmd);
	assert_int_equal(cmd->time_ms, ctx.time_ms);
	assert_string_equal(cmd->who, ctx.who);
	return cmd;
}

static void done(Poolpair__Command *cmd, struct request_cmd *c)
{
	poolpair__command__free_unpacked(cmd, NULL);
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
}

#define BODY(s) (s), strlen(s)

static void policy_default(struct fsm_policy *p)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->failover, "manual");
	p->max_lag_on_failover_ms = 1000;
	p->cooldown_ms = 60000;
}

/* An empty state with the default policy, built by hand. */
static struct fsm *state_new(void)
{
	struct fsm *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	policy_default(&f->policy);
	return f;
}

static void state_site(struct fsm *f, const char *name)
{
	strcpy(f->sites[f->n_sites++].name, name);
}

static struct fsm_pool *state_pool(struct fsm *f, const char *name,
				   const char *site, const char *edition)
{
	struct fsm_pool *p = &f->pools[f->n_pools++];

	strcpy(p->name, name);
	strcpy(p->site, site);
	strcpy(p->edition, edition);
	strcpy(p->kind, "physical");
	strcpy(p->os, "windows-2019");
	strcpy(p->owner, name);
	p->epoch = 1;
	p->pair_supported = true;
	if (f->cms_active[0] == '\0') {
		strcpy(f->cms_active, name);
		f->cms_epoch = 1;
	}
	return p;
}

static void state_pair(struct fsm *f, unsigned a, unsigned b)
{
	strcpy(f->pools[a].pair, f->pools[b].name);
	strcpy(f->pools[b].pair, f->pools[a].name);
}

static void state_sba(struct fsm *f, const char *name, const char *site,
		      const char *backup)
{
	struct fsm_sba *s = &f->sbas[f->n_sbas++];

	strcpy(s->name, name);
	strcpy(s->site, site);
	strcpy(s->backup_pool, backup);
}

static void state_member(struct fsm *f, uint64_t id, const char *site)
{
	struct fsm_member *m = &f->members[f->n_members++];

	m->id = id;
	snprintf(m->name, sizeof(m->name), "agent-%llu",
		 (unsigned long long)id);
	strcpy(m->site, site);
}

static const char full_topo[] =
    "{\"topology\": {"
    "\"sites\": [\"east\", \"west\", \"witness\"],"
    "\"pools\": ["
    "{\"name\": \"pool-east\", \"site\": \"east\", \"edition\": "
    "\"enterprise\", \"kind\": \"physical\", \"os\": \"windows-2019\"},"
    "{\"name\": \"pool-west\", \"site\": \"west\", \"edition\": "
    "\"enterprise\", \"kind\": \"physical\", \"os\": \"windows-2019\"}],"
    "\"pairs\": [{\"a\": \"pool-east\", \"b\": \"pool-west\", \"force\": "
    "false}],"
    "\"sbas\": [{\"name\": \"sba-1\", \"site\": \"branch\", "
    "\"backup_pool\": \"pool-east\"}],"
    "\"cms\": \"pool-east\","
    "\"policy\": {\"failover\": \"auto\", \"max_lag_on_failover_ms\": 1000, "
    "\"cooldown_ms\": 60000}"
    "}, \"dry_run\": true}";

/* The state full_topo describes, as the FSM would hold it. */
static struct fsm *state_full(void)
{
	struct fsm *f = state_new();

	state_site(f, "east");
	state_site(f, "west");
	state_site(f, "witness");
	state_site(f, "branch");
	state_pool(f, "pool-east", "east", "enterprise");
	state_pool(f, "pool-west", "west", "enterprise");
	state_pair(f, 0, 1);
	state_sba(f, "sba-1", "branch", "pool-east");
	strcpy(f->policy.failover, "auto");
	state_member(f, 1, "east");
	state_member(f, 2, "west");
	state_member(f, 3, "witness");
	return f;
}

/* Assert the plan's ops, in order, and that plan.cmd holds the same steps. */
static void assert_ops(const struct topology_plan *plan, const char *const *ops,
		       unsigned n)
{
	static const struct {
		const char *op;
		Poolpair__Command__OpCase c;
	} map[] = {
	    {"unpair", POOLPAIR__COMMAND__OP_UNPAIR},
	    {"remove_sba", POOLPAIR__COMMAND__OP_REMOVE_SBA},
	    {"remove_pool", POOLPAIR__COMMAND__OP_REMOVE_POOL},
	    {"remove_site", POOLPAIR__COMMAND__OP_REMOVE_SITE},
	    {"add_site", POOLPAIR__COMMAND__OP_ADD_SITE},
	    {"add_pool", POOLPAIR__COMMAND__OP_ADD_POOL},
	    {"pair", POOLPAIR__COMMAND__OP_PAIR},
	    {"pair_mode", POOLPAIR__COMMAND__OP_PAIR_MODE},
	    {"add_sba", POOLPAIR__COMMAND__OP_ADD_SBA},
	    {"cms_place", POOLPAIR__COMMAND__OP_CMS_PLACE},
	    {"set_policy", POOLPAIR__COMMAND__OP_SET_POLICY},
	};
	Poolpair__Command *cmd;
	unsigned i, j;

	assert_int_equal(plan->n, n);
	for (i = 0; i < n; i++)
		assert_string_equal(plan->items[i].op, ops[i]);
	if (n == 0) {
		assert_null(plan->cmd.buf);
		assert_int_equal(plan->cmd.len, 0);
		return;
	}
	cmd = poolpair__command__unpack(NULL, plan->cmd.len, plan->cmd.buf);
	assert_non_null(cmd);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_TOPOLOGY);
	assert_int_equal(cmd->topology->n_steps, n);
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(map) / sizeof(map[0]); j++)
			if (strcmp(map[j].op, ops[i]) == 0)
				break;
		assert_true(j < sizeof(map) / sizeof(map[0]));
		assert_int_equal(cmd->topology->steps[i]->op_case, map[j].c);
	}
	poolpair__command__free_unpacked(cmd, NULL);
}

static Poolpair__Command *plan_decode(const struct topology_plan *plan)
{
	Poolpair__Command *cmd =
	    poolpair__command__unpack(NULL, plan->cmd.len, plan->cmd.buf);

	assert_non_null(cmd);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_TOPOLOGY);
	assert_int_equal(cmd->time_ms, ctx.time_ms);
	assert_string_equal(cmd->who, ctx.who);
	return cmd;
}

/* ---- valid bodies ---- */

static void test_site_add(void **state)
{
	struct request_cmd out;
	struct request_error err;
	Poolpair__Command *cmd;

	assert_int_equal(
	    request_site_add(BODY("{\"name\": \"east\"}"), &ctx, &out, &err),
	    0);
	cmd = decode(&out);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_ADD_SITE);
	assert_string_equal(cmd->add_site->name, "east");
	done(cmd, &out);
}

static void test_pool_add(void **state)
{
	const char *body =
	    "{\"name\": \"pool-east\", \"site\": \"east\", "
	    "\"edition\": \"enterprise\", \"kind\": \"virtual\", "
	    "\"os\": \"windows-2019\", \"capacity\": 10000000}";
	struct request_cmd out;
	struct request_error err;
	Poolpair__Command *cmd;

	assert_int_equal(request_pool_add(BODY(body), &ctx, &out, &err), 0);
	cmd = decode(&out);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_ADD_POOL);
	assert_string_equal(cmd->add_pool->pool->name, "pool-east");
	assert_string_equal(cmd->add_pool->pool->site, "east");
	assert_string_equal(cmd->add_pool->pool->edition, "enterprise");
	assert_string_equal(cmd->add_pool->pool->kind, "virtual");
	assert_string_equal(cmd->add_pool->pool->os, "windows-2019");
	assert_int_equal(cmd->add_pool->pool->capacity, 10000000);
	done(cmd, &out);

	/* capacity optional, 0 by default; standard edition */
	body = "{\"name\": \"P.1_x\", \"site\": \"s\", \"edition\": "
	       "\"standard\", \"kind\": \"physical\", \"os\": \"w\"}";
	assert_int_equal(request_pool_add(BODY(body), &ctx, &out, &err), 0);
	cmd = decode(&out);
	assert_string_equal(cmd->add_pool->pool->name, "P.1_x");
	assert_string_equal(cmd->add_pool->pool->edition, "standard");
	assert_int_equal(cmd->add_pool->pool->capacity, 0);
	done(cmd, &out);
}

static void test_pair(void **state)
{
	struct request_cmd out;
	struct request_error err;
	Poolpair__Command *cmd;

	assert_int_equal(
	    request_pair(BODY("{\"a\": \"pool-east\", \"b\": \"pool-west\", "
			      "\"force\": true}"),
			 &ctx, &out, &err),
	    0);
	cmd = decode(&out);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_PAIR);
	assert_string_equal(cmd->pair->a, "pool-east");
	assert_string_equal(cmd->pair->b, "pool-west");
	assert_true(cmd->pair->force);
	done(cmd, &out);

	assert_int_equal(request_pair(BODY("{\"b\": \"y\", \"a\": \"x\"}"),
				      &ctx, &out, &err),
			 0);
	cmd = decode(&out);
	assert_string_equal(cmd->pair->a, "x");
	assert_string_equal(cmd->pair->b, "y");
	assert_false(cmd->pair->force);
	done(cmd, &out);
}

/* The replication mode of a pair: at pairing and later. */
static void test_pair_mode(void **state)
{
	static const struct {
		const char *body;
		const char *code;
		const char *part;
	} bad[] = {
	    {"{\"a\": \"x\", \"b\": \"y\", \"mode\": \"often\"}", "invalid",
	     "field 'mode' must be async or sync"},
	    {"{\"a\": \"x\", \"b\": \"y\", \"mode\": 1}", "bad_type",
	     "field 'mode' must be a string"},
	    {"{\"a\": \"x\", \"b\": \"y\", \"sync_timeout_ms\": 0}", "invalid",
	     "field 'sync_timeout_ms' must be between 1 and 3600000"},
	    {"{\"a\": \"x\", \"b\": \"y\", \"sync_timeout_ms\": 3600001}",
	     "invalid", "between 1 and 3600000"},
	    {"{\"a\": \"x\", \"b\": \"y\", \"sync_timeout_ms\": \"2s\"}",
	     "bad_type", "field 'sync_timeout_ms' must be an integer"},
	};
	struct request_cmd out;
	struct request_error err;
	Poolpair__Command *cmd;
	size_t i;

	assert_int_equal(
	    request_pair(BODY("{\"a\": \"x\", \"b\": \"y\", \"mode\": "
			      "\"sync\", \"sync_timeout_ms\": 1500}"),
			 &ctx, &out, &err),
	    0);
	cmd = decode(&out);
	assert_int_equal(cmd->pair->mode, POOLPAIR__REPL_MODE__REPL_SYNC);
	assert_int_equal(cmd->pair->sync_timeout_ms, 1500);
	done(cmd, &out);
	/* absent: async, and the FSM's default timeout (0) */
	assert_int_equal(request_pair(BODY("{\"a\": \"x\", \"b\": \"y\"}"),
				      &ctx, &out, &err),
			 0);
	cmd = decode(&out);
	assert_int_equal(cmd->pair->mode, POOLPAIR__REPL_MODE__REPL_ASYNC);
	assert_int_equal(cmd->pair->sync_timeout_ms, 0);
	done(cmd, &out);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out.buf = (void *)1;
		assert_int_equal(request_pair(BODY(bad[i].body), &ctx, &out,
					      &err),
				 -EINVAL);
		assert_null(out.buf);
		assert_int_equal(err.status, 400);
		assert_string_equal(err.code, bad[i].code);
		if (strstr(err.message, bad[i].part) == NULL)
			fail_msg("\"%s\" lacks \"%s\"", err.message,
				 bad[i].part);
	}

	/* PUT /v1/pairs/{pool} */
	assert_int_equal(request_pair_mode("pool-east",
					   BODY("{\"mode\": \"async\"}"), &ctx,
					   &out, &err),
			 0);
	cmd = decode(&out);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_PAIR_MODE);
	assert_string_equal(cmd->pair_mode->pool, "pool-east");
	assert_int_equal(cmd->pair_mode->mode, POOLPAIR__REPL_MODE__REPL_ASYNC);
	assert_int_equal(cmd->pair_mode->sync_timeout_ms, 0);
	done(cmd, &out);
	assert_int_equal(
	    request_pair_mode("pool-west",
			      BODY("{\"sync_timeout_ms\": 250, \"mode\": "
				   "\"sync\"}"),
			      &ctx, &out, &err),
	    0);
	cmd = decode(&out);
	assert_int_equal(cmd->pair_mode->mode, POOLPAIR__REPL_MODE__REPL_SYNC);
	assert_int_equal(cmd->pair_mode->sync_timeout_ms, 250);
	done(cmd, &out);
	assert_int_equal(request_pair_mode("pool-east",
					   BODY("{\"sync_timeout_ms\": 250}"),
					   &ctx, &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "missing_field");
	assert_string_equal(err.message, "missing field 'mode' (async or sync)");
	assert_null(out.buf);
	assert_int_equal(request_pair_mode("bad name",
					   BODY("{\"mode\": \"sync\"}"), &ctx,
					   &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "invalid");
	assert_int_equal(request_pair_mode(NULL, BODY("{\"mode\": \"sync\"}"),
					   &ctx, &out, &err),
			 -EINVAL);
	assert_int_equal(request_pair_mode("pool-east",
					   BODY("{\"mode\": \"sync\", "
						"\"force\": true}"),
					   &ctx, &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "unknown_field");
	assert_int_equal(request_pair_mode("pool-east", BODY("[1]"), &ctx,
					   &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "bad_json");
}

static void test_sba_add(void **state)
{
	struct request_cmd out;
	struct request_error err;
	Poolpair__Command *cmd;

	assert_int_equal(
	    request_sba_add(BODY("{\"name\": \"sba-1\", \"site\": \"branch\", "
				 "\"backup_pool\": \"pool-east\"}"),
			    &ctx, &out, &err),
	    0);
	cmd = decode(&out);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_ADD_SBA);
	assert_string_equal(cmd->add_sba->sba->name, "sba-1");
	assert_string_equal(cmd->add_sba->sba->site, "branch");
	assert_string_equal(cmd->add_sba->sba->backup_pool, "pool-east");
	done(cmd, &out);
}

static void test_policy_set(void **state)
{
	struct fsm_policy cur;
	struct request_cmd out;
	struct request_error err;
	Poolpair__Command *cmd;

	policy_default(&cur);
	assert_int_equal(request_policy_set(BODY("{\"failover\": \"auto\"}"),
					    &cur, &ctx, &out, &err),
			 0);
	cmd = decode(&out);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_SET_POLICY);
	assert_string_equal(cmd->set_policy->policy->failover, "auto");
	assert_int_equal(cmd->set_policy->policy->max_lag_on_failover_ms, 1000);
	assert_int_equal(cmd->set_policy->policy->cooldown_ms, 60000);
	assert_true(cmd->set_policy->merge);
	assert_true(cmd->set_policy->has_failover);
	assert_false(cmd->set_policy->has_max_lag);
	assert_false(cmd->set_policy->has_cooldown);
	done(cmd, &out);

	assert_int_equal(
	    request_policy_set(BODY("{\"max_lag_on_failover_ms\": 0, "
				    "\"cooldown_ms\": 3600000}"),
			       &cur, &ctx, &out, &err),
	    0);
	cmd = decode(&out);
	assert_string_equal(cmd->set_policy->policy->failover, "manual");
	assert_int_equal(cmd->set_policy->policy->max_lag_on_failover_ms, 0);
	assert_int_equal(cmd->set_policy->policy->cooldown_ms, 3600000);
	assert_true(cmd->set_policy->merge);
	assert_false(cmd->set_policy->has_failover);
	assert_true(cmd->set_policy->has_max_lag);
	assert_true(cmd->set_policy->has_cooldown);
	done(cmd, &out);

	assert_int_equal(request_policy_set(BODY("{}"), &cur, &ctx, &out, &err),
			 0);
	cmd = decode(&out);
	assert_string_equal(cmd->set_policy->policy->failover, "manual");
	assert_int_equal(cmd->set_policy->policy->cooldown_ms, 60000);
	done(cmd, &out);

	/* "default": back to no choice, encoded as "" and flagged */
	assert_int_equal(request_policy_set(BODY("{\"failover\": \"default\"}"),
					    &cur, &ctx, &out, &err),
			 0);
	cmd = decode(&out);
	assert_string_equal(cmd->set_policy->policy->failover, "");
	assert_true(cmd->set_policy->has_failover);
	assert_false(cmd->set_policy->has_cooldown);
	done(cmd, &out);
}

static void test_pool_pause(void **state)
{
	struct request_cmd out;
	struct request_error err;
	Poolpair__Command *cmd;
	char big[300];

	(void)state;
	assert_int_equal(request_pool_pause("pool-east", true,
					    BODY("{\"reason\": \"patching\"}"),
					    &ctx, &out, &err),
			 0);
	cmd = decode(&out);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_POOL_PAUSE);
	assert_string_equal(cmd->pool_pause->pool, "pool-east");
	assert_true(cmd->pool_pause->paused);
	assert_string_equal(cmd->pool_pause->reason, "patching");
	assert_int_equal(cmd->time_ms, ctx.time_ms);
	assert_string_equal(cmd->who, "alice@ops-1");
	done(cmd, &out);
	/* no body, or {}: no reason */
	assert_int_equal(
	    request_pool_pause("pool-east", false, NULL, 0, &ctx, &out, &err), 0);
	cmd = decode(&out);
	assert_false(cmd->pool_pause->paused);
	assert_string_equal(cmd->pool_pause->reason, "");
	done(cmd, &out);
	assert_int_equal(request_pool_pause("pool-east", true, BODY("{}"), &ctx,
					    &out, &err),
			 0);
	cmd = decode(&out);
	assert_true(cmd->pool_pause->paused);
	done(cmd, &out);

	/* refusals leave nothing behind */
	assert_int_equal(request_pool_pause("bad name", true, BODY("{}"), &ctx,
					    &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "invalid");
	assert_null(out.buf);
	assert_int_equal(request_pool_pause("pool-east", true,
					    BODY("{\"why\": \"x\"}"), &ctx,
					    &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "unknown_field");
	assert_int_equal(request_pool_pause("pool-east", true,
					    BODY("{\"reason\": 3}"), &ctx, &out,
					    &err),
			 -EINVAL);
	assert_string_equal(err.code, "bad_type");
	assert_int_equal(request_pool_pause("pool-east", true,
					    BODY("{\"reason\": \"a\\nb\"}"),
					    &ctx, &out, &err),
			 -EINVAL);
	assert_string_equal(err.message,
			    "field 'reason' must be text without control "
			    "characters");
	memset(big, 'x', sizeof big);
	memcpy(big, "{\"reason\": \"", 12);
	memcpy(big + sizeof big - 3, "\"}", 3);
	assert_int_equal(request_pool_pause("pool-east", true, big, sizeof big - 1,
					    &ctx, &out, &err),
			 -EINVAL);
	assert_string_equal(err.message,
			    "field 'reason' must be at most 191 bytes");
	assert_int_equal(request_pool_pause("pool-east", true, BODY("[1]"),
					    &ctx, &out, &err),
			 -EINVAL);
	assert_null(out.buf);
}

static void test_member_add(void **state)
{
	struct request_member m;
	struct request_error err;
	char addr[FSM_ADDR_LEN], small[8];
	uint64_t id;

	assert_int_equal(request_member_add(
			     BODY("{\"id\": 4, \"address\": "
				  "\"10.0.0.4:7001\", \"role\": \"standby\"}"),
			     &m, &err),
			 0);
	assert_int_equal(m.id, 4);
	assert_string_equal(m.address, "10.0.0.4:7001");
	assert_string_equal(m.role, "standby");

	assert_int_equal(
	    request_member_add(
		BODY(
		    "{\"id\": 9007199254740993, \"address\": \"[::1]:65535\"}"),
		&m, &err),
	    0);
	assert_int_equal(m.id, 9007199254740993ULL);
	assert_string_equal(m.address, "[::1]:65535");
	assert_string_equal(m.role, "");

	assert_int_equal(request_member_add_parse(
			     BODY("{\"id\": 7, \"address\": \"east-3:1\"}"),
			     &id, addr, sizeof(addr), &err),
			 0);
	assert_int_equal(id, 7);
	assert_string_equal(addr, "east-3:1");

	/* an address longer than the caller's buffer */
	assert_int_equal(
	    request_member_add_parse(
		BODY("{\"id\": 7, \"address\": \"east-3.example:7001\"}"), &id,
		small, sizeof(small), &err),
	    -EINVAL);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "invalid");
	assert_int_equal(id, 0);
	assert_string_equal(small, "");
}

static void test_cmd_name(void **state)
{
	static const struct {
		int op;
		Poolpair__Command__OpCase c;
	} cases[] = {
	    {REQUEST_REMOVE_SITE, POOLPAIR__COMMAND__OP_REMOVE_SITE},
	    {REQUEST_REMOVE_POOL, POOLPAIR__COMMAND__OP_REMOVE_POOL},
	    {REQUEST_UNPAIR, POOLPAIR__COMMAND__OP_UNPAIR},
	    {REQUEST_REMOVE_SBA, POOLPAIR__COMMAND__OP_REMOVE_SBA},
	    {REQUEST_CMS_PLACE, POOLPAIR__COMMAND__OP_CMS_PLACE},
	};
	struct request_cmd out;
	struct request_error err;
	Poolpair__Command *cmd;
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = NULL;

		assert_int_equal(
		    request_cmd_name(cases[i].op, "obj-1", &ctx, &out, &err),
		    0);
		cmd = decode(&out);
		assert_int_equal(cmd->op_case, cases[i].c);
		switch (cmd->op_case) {
		case POOLPAIR__COMMAND__OP_REMOVE_SITE:
			name = cmd->remove_site->name;
			break;
		case POOLPAIR__COMMAND__OP_REMOVE_POOL:
			name = cmd->remove_pool->name;
			break;
		case POOLPAIR__COMMAND__OP_UNPAIR:
			name = cmd->unpair->pool;
			break;
		case POOLPAIR__COMMAND__OP_REMOVE_SBA:
			name = cmd->remove_sba->name;
			break;
		case POOLPAIR__COMMAND__OP_CMS_PLACE:
			name = cmd->cms_place->pool;
			break;
		default:
			fail();
		}
		assert_string_equal(name, "obj-1");
		done(cmd, &out);
	}

	assert_int_equal(
	    request_cmd_name(REQUEST_REMOVE_POOL, "a/b", &ctx, &out, &err),
	    -EINVAL);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "invalid");
	assert_string_equal(err.message,
			    "pool name must be 1-63 characters of "
			    "[A-Za-z0-9._-], not starting with '-'");
	assert_null(out.buf);
	assert_int_equal(
	    request_cmd_name(REQUEST_REMOVE_POOL, "-p", &ctx, &out, &err),
	    -EINVAL);
	assert_null(out.buf);
	assert_int_equal(
	    request_cmd_name(REQUEST_REMOVE_SITE, "", &ctx, &out, &err),
	    -EINVAL);
	assert_int_equal(
	    request_cmd_name(REQUEST_REMOVE_SBA, NULL, &ctx, &out, &err),
	    -EINVAL);
	assert_int_equal(request_cmd_name(99, "x", &ctx, &out, &err), -EINVAL);
	assert_int_equal(request_cmd_name(-1, "x", &ctx, &out, &err), -EINVAL);
	assert_null(out.buf);
}

static void test_members_cmds(void **state)
{
	struct fsm_member m;
	struct request_cmd out;
	Poolpair__Command *cmd;

	memset(&m, 0, sizeof(m));
	m.id = 3;
	strcpy(m.name, "west-1");
	strcpy(m.site, "west");
	strcpy(m.pool, "pool-west");
	strcpy(m.raft_address, "127.0.0.1:7003");
	strcpy(m.data_address, "127.0.0.1:7203");
	strcpy(m.api_address, "127.0.0.1:7103");
	assert_int_equal(request_cmd_register_member(&m, &ctx, &out), 0);
	cmd = decode(&out);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_REGISTER_MEMBER);
	assert_int_equal(cmd->register_member->member->id, 3);
	assert_string_equal(cmd->register_member->member->name, "west-1");
	assert_string_equal(cmd->register_member->member->site, "west");
	assert_string_equal(cmd->register_member->member->pool, "pool-west");
	assert_string_equal(cmd->register_member->member->raft_address,
			    "127.0.0.1:7003");
	assert_string_equal(cmd->register_member->member->data_address,
			    "127.0.0.1:7203");
	assert_string_equal(cmd->register_member->member->api_address,
			    "127.0.0.1:7103");
	done(cmd, &out);

	/* an unterminated field is refused */
	memset(m.site, 'x', sizeof(m.site));
	assert_int_equal(request_cmd_register_member(&m, &ctx, &out), -EINVAL);
	assert_null(out.buf);

	assert_int_equal(request_cmd_remove_member(42, &ctx, &out), 0);
	cmd = decode(&out);
	assert_int_equal(cmd->op_case, POOLPAIR__COMMAND__OP_REMOVE_MEMBER);
	assert_int_equal(cmd->remove_member->id, 42);
	done(cmd, &out);
}

static void test_who(void **state)
{
	struct request_ctx c = {5, NULL};
	struct request_cmd out;
	Poolpair__Command *cmd;
	char who[300];
	size_t i;

	assert_int_equal(request_cmd_remove_member(1, &c, &out), 0);
	cmd = poolpair__command__unpack(NULL, out.len, out.buf);
	assert_non_null(cmd);
	assert_string_equal(cmd->who, "");
	assert_int_equal(cmd->time_ms, 5);
	done(cmd, &out);

	/* 100 × "é" (2 bytes): cut at a character boundary below 96 bytes */
	for (i = 0; i < 100; i++)
		memcpy(who + 2 * i, "\xc3\xa9", 2);
	who[200] = '\0';
	c.who = who;
	assert_int_equal(request_cmd_remove_member(1, &c, &out), 0);
	cmd = poolpair__command__unpack(NULL, out.len, out.buf);
	assert_non_null(cmd);
	assert_int_equal(strlen(cmd->who), 94);
	assert_memory_equal(cmd->who, who, 94);
	done(cmd, &out);

	/* control characters and broken UTF-8 become '?' */
	c.who = "a\nb\xff\xc3(\xe2\x86\x92";
	assert_int_equal(request_cmd_remove_member(1, &c, &out), 0);
	cmd = poolpair__command__unpack(NULL, out.len, out.buf);
	assert_non_null(cmd);
	assert_string_equal(cmd->who, "a?b?\?(\xe2\x86\x92");
	done(cmd, &out);
}

static void test_body_not_terminated(void **state)
{
	const char buf[] = "{\"name\": \"east\"}GARBAGE";
	struct request_cmd out;
	struct request_error err;
	Poolpair__Command *cmd;

	assert_int_equal(request_site_add(buf, 16, &ctx, &out, &err), 0);
	cmd = decode(&out);
	assert_string_equal(cmd->add_site->name, "east");
	done(cmd, &out);
	/* the whole buffer: trailing garbage */
	assert_int_equal(request_site_add(BODY(buf), &ctx, &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "bad_json");
	assert_null(out.buf);
}

/* ---- bad input ---- */

enum fn { SITE, POOL, PAIR, SBA, POLICY, MEMBER, TOPO };

struct bad {
	enum fn fn;
	const char *body;
	const char *code;
	const char *message; /* exact, or NULL */
};

#define POOL_OK_BUT(x)                                                         \
	"{\"name\": \"p\", \"site\": \"s\", \"edition\": \"standard\", "       \
	"\"kind\": \"virtual\", \"os\": \"w\", " x "}"
#define NAME63 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789."
#define NAME64 NAME63 "-"

static const struct bad bad_cases[] = {
    /* not JSON, not an object, truncated, duplicates */
    {SITE, "", "bad_json", NULL},
    {SITE, "hello", "bad_json", NULL},
    {SITE, "[1, 2]", "bad_json", "request body must be a json object"},
    {SITE, "[{\"name\": \"east\"}]", "bad_json", NULL},
    {SITE, "{\"name\": \"ea", "bad_json", NULL},
    {SITE, "{\"name\": \"east\"", "bad_json", NULL},
    {SITE, "{\"name\": \"a\", \"name\": \"b\"}", "bad_json", NULL},
    {SITE, "{\"name\": \"east\"} {}", "bad_json", NULL},
    {SITE, "{\"name\": \"ea\\u0000st\"}", "bad_json", NULL},
    {SITE, "{\"name\": \"e\xff\"}", "bad_json", NULL},
    {POOL, POOL_OK_BUT("\"capacity\": 100000000000000000000000"), "bad_json",
     NULL},
    {MEMBER, "", "bad_json", NULL},
    {POLICY, "null", "bad_json", NULL},
    {TOPO, "{\"topology\": {}, \"topology\": {}}", "bad_json", NULL},
    /* unknown fields */
    {SITE, "{\"name\": \"east\", \"foo\": 1}", "unknown_field",
     "unknown field 'foo'"},
    {POOL, POOL_OK_BUT("\"Name\": \"x\""), "unknown_field",
     "unknown field 'Name'"},
    {PAIR, "{\"a\": \"x\", \"b\": \"y\", \"forced\": true}", "unknown_field",
     NULL},
    {SBA,
     "{\"name\": \"s\", \"site\": \"b\", \"backup_pool\": \"p\", "
     "\"mode\": 1}",
     "unknown_field", NULL},
    {POLICY, "{\"lag\": 5}", "unknown_field", "unknown field 'lag'"},
    {MEMBER, "{\"id\": 1, \"address\": \"h:1\", \"x\": null}", "unknown_field",
     NULL},
    {SITE, "{\"name\": \"east\", \"\\n\\u00e9\": 1}", "unknown_field",
     "unknown field '?\?\?'"},
    /* wrong types, each field */
    {SITE, "{\"name\": 5}", "bad_type", "field 'name' must be a string"},
    {SITE, "{\"name\": null}", "bad_type", NULL},
    {POOL,
     "{\"name\": [], \"site\": \"s\", \"edition\": \"standard\", \"kind\": "
     "\"virtual\", \"os\": \"w\"}",
     "bad_type", "field 'name' must be a string"},
    {POOL,
     "{\"name\": \"p\", \"site\": true, \"edition\": \"standard\", "
     "\"kind\": \"virtual\", \"os\": \"w\"}",
     "bad_type", "field 'site' must be a string"},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"edition\": 1, \"kind\": "
     "\"virtual\", \"os\": \"w\"}",
     "bad_type", "field 'edition' must be a string"},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"edition\": \"standard\", "
     "\"kind\": {}, \"os\": \"w\"}",
     "bad_type", "field 'kind' must be a string"},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"edition\": \"standard\", "
     "\"kind\": \"virtual\", \"os\": 2019}",
     "bad_type", "field 'os' must be a string"},
    {POOL, POOL_OK_BUT("\"capacity\": \"5\""), "bad_type",
     "field 'capacity' must be an integer"},
    {POOL, POOL_OK_BUT("\"capacity\": 1.5"), "bad_type",
     "field 'capacity' must be an integer"},
    {POOL, POOL_OK_BUT("\"capacity\": 5.0"), "bad_type", NULL},
    {POOL, POOL_OK_BUT("\"capacity\": null"), "bad_type", NULL},
    {PAIR, "{\"a\": 1, \"b\": \"y\"}", "bad_type",
     "field 'a' must be a string"},
    {PAIR, "{\"a\": \"x\", \"b\": false}", "bad_type",
     "field 'b' must be a string"},
    {PAIR, "{\"a\": \"x\", \"b\": \"y\", \"force\": \"yes\"}", "bad_type",
     "field 'force' must be a boolean"},
    {PAIR, "{\"a\": \"x\", \"b\": \"y\", \"force\": 1}", "bad_type", NULL},
    {PAIR, "{\"a\": \"x\", \"b\": \"y\", \"force\": null}", "bad_type", NULL},
    {SBA, "{\"name\": 1, \"site\": \"b\", \"backup_pool\": \"p\"}", "bad_type",
     NULL},
    {SBA, "{\"name\": \"s\", \"site\": [], \"backup_pool\": \"p\"}", "bad_type",
     NULL},
    {SBA, "{\"name\": \"s\", \"site\": \"b\", \"backup_pool\": {}}", "bad_type",
     "field 'backup_pool' must be a string"},
    {POLICY, "{\"failover\": true}", "bad_type",
     "field 'failover' must be a string"},
    {POLICY, "{\"max_lag_on_failover_ms\": \"1000\"}", "bad_type",
     "field 'max_lag_on_failover_ms' must be an integer"},
    {POLICY, "{\"cooldown_ms\": 1e3}", "bad_type", NULL},
    {MEMBER, "{\"id\": \"1\", \"address\": \"h:1\"}", "bad_type",
     "field 'id' must be an integer"},
    {MEMBER, "{\"id\": 1.0, \"address\": \"h:1\"}", "bad_type", NULL},
    {MEMBER, "{\"id\": 1, \"address\": 7001}", "bad_type",
     "field 'address' must be a string"},
    {MEMBER, "{\"id\": 1, \"address\": \"h:1\", \"role\": 2}", "bad_type",
     NULL},
    /* missing required fields */
    {SITE, "{}", "missing_field", "missing field 'name'"},
    {POOL,
     "{\"site\": \"s\", \"edition\": \"standard\", \"kind\": \"virtual\", "
     "\"os\": \"w\"}",
     "missing_field", "missing field 'name'"},
    {POOL,
     "{\"name\": \"p\", \"edition\": \"standard\", \"kind\": \"virtual\", "
     "\"os\": \"w\"}",
     "missing_field", "missing field 'site'"},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"kind\": \"virtual\", "
     "\"os\": \"w\"}",
     "missing_field", "missing field 'edition'"},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"edition\": \"standard\", "
     "\"os\": \"w\"}",
     "missing_field", "missing field 'kind'"},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"edition\": \"standard\", "
     "\"kind\": \"virtual\"}",
     "missing_field", "missing field 'os'"},
    {PAIR, "{\"b\": \"y\"}", "missing_field", "missing field 'a'"},
    {PAIR, "{\"a\": \"x\", \"force\": true}", "missing_field",
     "missing field 'b'"},
    {SBA, "{\"site\": \"b\", \"backup_pool\": \"p\"}", "missing_field",
     "missing field 'name'"},
    {SBA, "{\"name\": \"s\", \"backup_pool\": \"p\"}", "missing_field",
     "missing field 'site'"},
    {SBA, "{\"name\": \"s\", \"site\": \"b\"}", "missing_field",
     "missing field 'backup_pool'"},
    {MEMBER, "{\"address\": \"h:1\"}", "missing_field", "missing field 'id'"},
    {MEMBER, "{\"id\": 1}", "missing_field", "missing field 'address'"},
    {TOPO, "{\"dry_run\": true}", "missing_field", "missing field 'topology'"},
    /* invalid values */
    {SITE, "{\"name\": \"\"}", "invalid",
     "field 'name' must be 1-63 characters of [A-Za-z0-9._-], not starting "
     "with '-'"},
    /* a name starting with '-' would be an option to a command a hook
     * passes $POOLPAIR_POOL or $POOLPAIR_SITE to */
    {SITE, "{\"name\": \"-east\"}", "invalid",
     "field 'name' must be 1-63 characters of [A-Za-z0-9._-], not starting "
     "with '-'"},
    {POOL,
     "{\"name\": \"--help\", \"site\": \"s\", \"edition\": \"standard\", "
     "\"kind\": \"virtual\", \"os\": \"w\"}",
     "invalid", NULL},
    {POOL,
     "{\"name\": \"p\", \"site\": \"-s\", \"edition\": \"standard\", "
     "\"kind\": \"virtual\", \"os\": \"w\"}",
     "invalid",
     "field 'site' must be 1-63 characters of [A-Za-z0-9._-], not starting "
     "with '-'"},
    {PAIR, "{\"a\": \"x\", \"b\": \"-y\"}", "invalid", NULL},
    {SBA, "{\"name\": \"-s\", \"site\": \"b\", \"backup_pool\": \"p\"}",
     "invalid", NULL},
    {SBA, "{\"name\": \"s\", \"site\": \"b\", \"backup_pool\": \"-p\"}",
     "invalid", NULL},
    {SITE, "{\"name\": \"east site\"}", "invalid", NULL},
    {SITE, "{\"name\": \"east/1\"}", "invalid", NULL},
    {SITE, "{\"name\": \"e:1\"}", "invalid", NULL},
    {SITE, "{\"name\": \"\\u00e9ast\"}", "invalid", NULL},
    {SITE, "{\"name\": \"" NAME64 "\"}", "invalid", NULL},
    {POOL, POOL_OK_BUT("\"capacity\": -1"), "invalid",
     "field 'capacity' must be between 0 and 10000000"},
    {POOL, POOL_OK_BUT("\"capacity\": 10000001"), "invalid", NULL},
    {POOL, POOL_OK_BUT("\"capacity\": 9223372036854775807"), "invalid", NULL},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"edition\": \"Enterprise\", "
     "\"kind\": \"virtual\", \"os\": \"w\"}",
     "invalid", "field 'edition' must be enterprise or standard"},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"edition\": \"\", "
     "\"kind\": \"virtual\", \"os\": \"w\"}",
     "invalid", NULL},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"edition\": \"standard\", "
     "\"kind\": \"cloud\", \"os\": \"w\"}",
     "invalid", "field 'kind' must be physical or virtual"},
    {POOL,
     "{\"name\": \"p\", \"site\": \"s\", \"edition\": \"standard\", "
     "\"kind\": \"virtual\", \"os\": \"windows 2019\"}",
     "invalid", NULL},
    {POOL,
     "{\"name\": \"" NAME64 "\", \"site\": \"s\", \"edition\": "
     "\"standard\", \"kind\": \"virtual\", \"os\": \"w\"}",
     "invalid", NULL},
    {PAIR, "{\"a\": \"x y\", \"b\": \"y\"}", "invalid", NULL},
    {SBA, "{\"name\": \"s\", \"site\": \"b\", \"backup_pool\": \"p*\"}",
     "invalid", NULL},
    {POLICY, "{\"failover\": \"sometimes\"}", "invalid",
     "field 'failover' must be auto, manual or default"},
    {POLICY, "{\"cooldown_ms\": -1}", "invalid",
     "field 'cooldown_ms' must be between 0 and 3600000"},
    {POLICY, "{\"max_lag_on_failover_ms\": 3600001}", "invalid", NULL},
    {MEMBER, "{\"id\": 0, \"address\": \"h:1\"}", "invalid",
     "field 'id' must be at least 1"},
    {MEMBER, "{\"id\": -5, \"address\": \"h:1\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"nocolon\"}", "invalid",
     "field 'address' must be host:port with a port of 1-65535"},
    {MEMBER, "{\"id\": 1, \"address\": \"h:0\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"h:65536\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"h:100000\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"h:\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \":7001\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"h:70a\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"h:-1\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"a b:7001\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"::1:7001\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"[zz]:7001\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"[]:7001\"}", "invalid", NULL},
    {MEMBER, "{\"id\": 1, \"address\": \"h:1\", \"role\": \"boss\"}", "invalid",
     "field 'role' must be voter, standby or spare"},
};

static int run(enum fn fn, const char *body, size_t len,
	       struct request_cmd *out, struct request_error *err)
{
	struct fsm_policy pol;
	struct request_member m;
	struct topology_plan plan;
	struct fsm *f;
	int rc;

	out->buf = (void *)1; /* must be cleared on error */
	out->len = 1;
	switch (fn) {
	case SITE:
		return request_site_add(body, len, &ctx, out, err);
	case POOL:
		return request_pool_add(body, len, &ctx, out, err);
	case PAIR:
		return request_pair(body, len, &ctx, out, err);
	case SBA:
		return request_sba_add(body, len, &ctx, out, err);
	case POLICY:
		policy_default(&pol);
		return request_policy_set(body, len, &pol, &ctx, out, err);
	case MEMBER:
		out->buf = NULL;
		out->len = 0;
		rc = request_member_add(body, len, &m, err);
		if (rc != 0) {
			assert_int_equal(m.id, 0);
			assert_string_equal(m.address, "");
		}
		return rc;
	case TOPO:
		f = state_new();
		rc = request_topology(body, len, f, &ctx, &plan, err);
		free(f);
		if (rc == 0) {
			topology_plan_free(&plan);
			return 0;
		}
		assert_null(plan.items);
		assert_int_equal(plan.n, 0);
		assert_null(plan.cmd.buf);
		out->buf = NULL;
		out->len = 0;
		return rc;
	}
	return 0;
}

static void test_bad_input(void **state)
{
	unsigned i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *b = &bad_cases[i];
		struct request_cmd out;
		struct request_error err;
		int rc;

		memset(&err, 0, sizeof(err));
		rc = run(b->fn, b->body, strlen(b->body), &out, &err);
		if (rc != -EINVAL || strcmp(err.code, b->code) != 0 ||
		    (b->message && strcmp(err.message, b->message) != 0))
			print_error("case %u (%s): rc %d code %s message %s\n",
				    i, b->body, rc, err.code, err.message);
		assert_int_equal(rc, -EINVAL);
		assert_int_equal(err.status, 400);
		assert_string_equal(err.code, b->code);
		if (b->message != NULL)
			assert_string_equal(err.message, b->message);
		assert_true(strlen(err.message) > 0);
		assert_null(out.buf);
		assert_int_equal(out.len, 0);
	}
}

static void test_edge_values_accepted(void **state)
{
	static const struct {
		enum fn fn;
		const char *body;
	} ok[] = {
	    {SITE, "{\"name\": \"" NAME63 "\"}"},
	    {SITE, " \n{\"name\": \"a\"}\n "},
	    {POOL, POOL_OK_BUT("\"capacity\": 0")},
	    {POOL, POOL_OK_BUT("\"capacity\": 10000000")},
	    {MEMBER, "{\"id\": 1, \"address\": \"h:1\"}"},
	    {MEMBER, "{\"id\": 1, \"address\": \"h.example-1:65535\"}"},
	    {MEMBER, "{\"id\": 1, \"address\": \"[fe80::1:2]:80\", \"role\": "
		     "\"spare\"}"},
	    {MEMBER, "{\"id\": 9223372036854775807, \"address\": \"h:1\"}"},
	    {POLICY, "{\"failover\": \"manual\", \"cooldown_ms\": 0}"},
	};
	unsigned i;

	assert_int_equal(strlen(NAME63), 63);
	assert_int_equal(strlen(NAME64), 64);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct request_cmd out;
		struct request_error err;

		int rc =
		    run(ok[i].fn, ok[i].body, strlen(ok[i].body), &out, &err);

		if (rc != 0)
			print_error("case %u: %s\n", i, err.message);
		assert_int_equal(rc, 0);
		if (ok[i].fn != MEMBER)
			free(out.buf);
	}
}

static void test_bad_json_message(void **state)
{
	struct request_cmd out;
	struct request_error err;

	assert_int_equal(
	    request_site_add(BODY("{\"name\": \"east\",}"), &ctx, &out, &err),
	    -EINVAL);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "bad_json");
	/* names the position of the error */
	assert_non_null(strstr(err.message, "line 1 column"));
	assert_non_null(strstr(err.message, "invalid json"));
}

static void test_too_large_and_deep(void **state)
{
	size_t n = REQUEST_MAX_BODY + 1, i;
	char *big = malloc(n + 1);
	struct request_cmd out;
	struct request_error err;

	assert_non_null(big);
	/* a valid object, just too big */
	memset(big, ' ', n);
	memcpy(big, "{\"name\": \"east\"}", 16);
	big[n] = '\0';
	assert_int_equal(request_site_add(big, n, &ctx, &out, &err), -EMSGSIZE);
	assert_int_equal(err.status, 413);
	assert_string_equal(err.code, "too_large");
	assert_null(out.buf);
	/* exactly the limit is accepted */
	assert_int_equal(request_site_add(big, n - 1, &ctx, &out, &err), 0);
	free(out.buf);

	/* deep nesting is refused before parsing */
	memset(big, '[', 40000);
	big[40000] = '\0';
	assert_int_equal(request_site_add(big, 40000, &ctx, &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "bad_json");
	for (i = 0; i < 20000; i++) {
		big[2 * i] = '{';
		big[2 * i + 1] = i + 1 < 20000 ? ' ' : '}';
	}
	assert_int_equal(request_pool_add(big, 40000, &ctx, &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "bad_json");
	/* brackets inside strings do not count */
	snprintf(big, n, "{\"name\": \"%s\"}",
		 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
	assert_int_equal(request_site_add(big, strlen(big), &ctx, &out, &err),
			 -EINVAL);
	assert_string_equal(err.code, "invalid");
	free(big);
}

/* Mutated bodies (fixed seed): every answer is a success or a filled
 * error, never a crash or a leak. */
static void test_mutations(void **state)
{
	static const struct {
		enum fn fn;
		const char *body;
	} seeds[] = {
	    {POOL, POOL_OK_BUT("\"capacity\": 12")},
	    {PAIR, "{\"a\": \"x\", \"b\": \"y\", \"force\": true}"},
	    {MEMBER, "{\"id\": 1, \"address\": \"[::1]:7001\", \"role\": "
		     "\"voter\"}"},
	    {POLICY, "{\"failover\": \"auto\", \"cooldown_ms\": 5}"},
	    {TOPO, full_topo},
	};
	static const char alphabet[] = "{}[]\":,\\ 0-9.eEtrufalsn\x01\xc3\xff";
	uint32_t rng = 12345;
	unsigned i, k;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		size_t n = strlen(seeds[i].body);
		char *b = malloc(n + 1);

		assert_non_null(b);
		for (k = 0; k < 3000; k++) {
			struct request_cmd out;
			struct request_error err;
			unsigned m, edits;
			int rc;

			memcpy(b, seeds[i].body, n + 1);
			rng = rng * 1103515245u + 12345u;
			edits = 1 + (rng >> 16) % 4;
			for (m = 0; m < edits; m++) {
				rng = rng * 1103515245u + 12345u;
				b[(rng >> 8) % n] =
				    alphabet[(rng >> 20) %
					     (sizeof(alphabet) - 1)];
			}
			memset(&err, 0, sizeof(err));
			rc = run(seeds[i].fn, b, n, &out, &err);
			if (rc == 0) {
				if (seeds[i].fn != MEMBER &&
				    seeds[i].fn != TOPO)
					free(out.buf);
				continue;
			}
			assert_true(rc == -EINVAL || rc == -EMSGSIZE);
			assert_true(err.status == 400 || err.status == 413);
			assert_true(err.code[0] != '\0');
			assert_true(err.message[0] != '\0');
			assert_null(out.buf);
		}
		free(b);
	}
}

/* ---- topology ---- */

static int topo(const char *body, const struct fsm *f,
		struct topology_plan *plan, struct request_error *err)
{
	int rc = request_topology(body, strlen(body), f, &ctx, plan, err);

	if (rc != 0) {
		assert_null(plan->items);
		assert_int_equal(plan->n, 0);
		assert_null(plan->cmd.buf);
		assert_int_equal(plan->cmd.len, 0);
	}
	return rc;
}

static void test_topology_from_empty(void **state)
{
	static const char *const ops[] = {
	    "add_site", "add_site", "add_site", "add_pool",
	    "add_pool", "pair",	    "add_sba",	"set_policy",
	};
	struct fsm *f = state_new();
	struct topology_plan plan;
	struct request_error err;
	Poolpair__Command *cmd, **st;

	assert_int_equal(topo(full_topo, f, &plan, &err), 0);
	assert_true(plan.dry_run);
	assert_ops(&plan, ops, 8);
	assert_string_equal(plan.items[0].what, "add site east");
	assert_string_equal(plan.items[2].what, "add site witness");
	assert_string_equal(
	    plan.items[3].what,
	    "add pool pool-east (east, enterprise, physical, windows-2019)");
	assert_string_equal(plan.items[5].what, "pair pool-east pool-west");
	assert_string_equal(plan.items[6].what,
			    "add sba sba-1 (branch, backup pool-east)");
	assert_string_equal(
	    plan.items[7].what,
	    "set policy failover auto, max lag 1000 ms, cooldown 60000 ms");

	cmd = plan_decode(&plan);
	st = cmd->topology->steps;
	assert_string_equal(st[0]->add_site->name, "east");
	assert_string_equal(st[1]->add_site->name, "west");
	assert_string_equal(st[2]->add_site->name, "witness");
	assert_string_equal(st[3]->add_pool->pool->name, "pool-east");
	assert_string_equal(st[3]->add_pool->pool->site, "east");
	assert_string_equal(st[3]->add_pool->pool->edition, "enterprise");
	assert_string_equal(st[3]->add_pool->pool->kind, "physical");
	assert_string_equal(st[3]->add_pool->pool->os, "windows-2019");
	assert_string_equal(st[4]->add_pool->pool->name, "pool-west");
	assert_string_equal(st[5]->pair->a, "pool-east");
	assert_string_equal(st[5]->pair->b, "pool-west");
	assert_false(st[5]->pair->force);
	assert_string_equal(st[6]->add_sba->sba->name, "sba-1");
	assert_string_equal(st[6]->add_sba->sba->backup_pool, "pool-east");
	assert_string_equal(st[7]->set_policy->policy->failover, "auto");
	assert_int_equal(st[7]->set_policy->policy->max_lag_on_failover_ms,
			 1000);
	assert_int_equal(st[7]->set_policy->policy->cooldown_ms, 60000);
	assert_string_equal(st[7]->who, ctx.who);
	poolpair__command__free_unpacked(cmd, NULL);
	topology_plan_free(&plan);
	assert_null(plan.items);
	topology_plan_free(&plan); /* twice is harmless */
	topology_plan_free(NULL);
	free(f);
}

static void test_topology_cms_pool_added_first(void **state)
{
	/* no CMS yet: the wanted CMS pool is added first, so it hosts the
	 * CMS without a cms_place step */
	const char *body =
	    "{\"topology\": {\"pools\": ["
	    "{\"name\": \"a\", \"site\": \"s1\", \"edition\": \"standard\", "
	    "\"kind\": \"virtual\", \"os\": \"w\", \"capacity\": 50},"
	    "{\"name\": \"b\", \"site\": \"s2\", \"edition\": \"standard\", "
	    "\"kind\": \"virtual\", \"os\": \"w\"}],"
	    "\"pairs\": [{\"a\": \"b\", \"b\": \"a\", \"force\": true}],"
	    "\"cms\": \"b\"}}";
	static const char *const ops[] = {"add_pool", "add_pool", "pair"};
	struct fsm *f = state_new();
	struct topology_plan plan;
	struct request_error err;
	Poolpair__Command *cmd;

	assert_int_equal(topo(body, f, &plan, &err), 0);
	assert_false(plan.dry_run);
	assert_ops(&plan, ops, 3);
	assert_string_equal(plan.items[0].what,
			    "add pool b (s2, standard, virtual, w)");
	assert_string_equal(
	    plan.items[1].what,
	    "add pool a (s1, standard, virtual, w, capacity 50)");
	assert_string_equal(plan.items[2].what, "pair b a (forced)");
	cmd = plan_decode(&plan);
	assert_string_equal(cmd->topology->steps[0]->add_pool->pool->name, "b");
	assert_int_equal(cmd->topology->steps[1]->add_pool->pool->capacity, 50);
	assert_true(cmd->topology->steps[2]->pair->force);
	poolpair__command__free_unpacked(cmd, NULL);
	topology_plan_free(&plan);

	/* CMS active elsewhere: cms_place is asked (the FSM judges it) */
	state_pool(f, "c", "s3", "standard");
	assert_int_equal(topo(body, f, &plan, &err), 0);
	{
		static const char *const ops2[] = {
		    "remove_pool", "add_pool", "add_pool", "pair", "cms_place"};
		assert_ops(&plan, ops2, 5);
		assert_string_equal(plan.items[4].what, "place cms on b");
	}
	topology_plan_free(&plan);
	free(f);
}

static void test_topology_same_state_empty_diff(void **state)
{
	struct fsm *f = state_full();
	struct topology_plan plan;
	struct request_error err;

	assert_int_equal(topo(full_topo, f, &plan, &err), 0);
	assert_true(plan.dry_run);
	assert_int_equal(plan.n, 0);
	assert_null(plan.cmd.buf);
	assert_int_equal(plan.cmd.len, 0);
	topology_plan_free(&plan);

	/* pair listed the other way round is the same pair; a missing
	 * policy key changes nothing */
	assert_int_equal(
	    topo("{\"topology\": {\"sites\": [\"east\", \"west\", "
		 "\"witness\"], \"pools\": ["
		 "{\"name\": \"pool-west\", \"site\": \"west\", \"edition\": "
		 "\"enterprise\", \"kind\": \"physical\", \"os\": "
		 "\"windows-2019\"},"
		 "{\"name\": \"pool-east\", \"site\": \"east\", \"edition\": "
		 "\"enterprise\", \"kind\": \"physical\", \"os\": "
		 "\"windows-2019\"}],"
		 "\"pairs\": [{\"a\": \"pool-west\", \"b\": \"pool-east\"}],"
		 "\"sbas\": [{\"name\": \"sba-1\", \"site\": \"branch\", "
		 "\"backup_pool\": \"pool-east\"}], \"cms\": \"pool-east\"}, "
		 "\"dry_run\": false}",
		 f, &plan, &err),
	    0);
	assert_false(plan.dry_run);
	assert_int_equal(plan.n, 0);
	topology_plan_free(&plan);
	free(f);
}

/* A pair's mode in a topology file: with a new pair, or a pair_mode step
 * for a pair that exists (what the file leaves out stays). */
static void test_topology_pair_mode(void **state)
{
	static const char *const pm[] = {"pair_mode"};
	static const char head[] =
	    "{\"topology\": {\"sites\": [\"east\", \"west\", \"witness\"], "
	    "\"pools\": ["
	    "{\"name\": \"pool-east\", \"site\": \"east\", \"edition\": "
	    "\"enterprise\", \"kind\": \"physical\", \"os\": "
	    "\"windows-2019\"},"
	    "{\"name\": \"pool-west\", \"site\": \"west\", \"edition\": "
	    "\"enterprise\", \"kind\": \"physical\", \"os\": "
	    "\"windows-2019\"}], "
	    "\"sbas\": [{\"name\": \"sba-1\", \"site\": \"branch\", "
	    "\"backup_pool\": \"pool-east\"}], \"cms\": \"pool-east\", "
	    "\"pairs\": [";
	struct fsm *f = state_full();
	struct topology_plan plan;
	struct request_error err;
	Poolpair__Command *cmd;
	char body[2048];

	/* async now: sync wanted */
	snprintf(body, sizeof(body), "%s%s", head,
		 "{\"a\": \"pool-west\", \"b\": \"pool-east\", \"mode\": "
		 "\"sync\"}]}}");
	assert_int_equal(topo(body, f, &plan, &err), 0);
	assert_ops(&plan, pm, 1);
	assert_string_equal(plan.items[0].what,
			    "pair mode pool-west pool-east async -> sync (sync "
			    "timeout 2000 ms)");
	cmd = plan_decode(&plan);
	assert_string_equal(cmd->topology->steps[0]->pair_mode->pool,
			    "pool-west");
	assert_int_equal(cmd->topology->steps[0]->pair_mode->mode,
			 POOLPAIR__REPL_MODE__REPL_SYNC);
	assert_int_equal(cmd->topology->steps[0]->pair_mode->sync_timeout_ms,
			 0);
	poolpair__command__free_unpacked(cmd, NULL);
	topology_plan_free(&plan);

	/* sync now: the same mode and timeout change nothing, a timeout
	 * alone is a step, a file without a mode leaves it */
	f->pools[0].repl_mode = f->pools[1].repl_mode = FSM_REPL_SYNC;
	f->pools[0].sync_timeout_ms = f->pools[1].sync_timeout_ms = 1500;
	snprintf(body, sizeof(body), "%s%s", head,
		 "{\"a\": \"pool-east\", \"b\": \"pool-west\", \"mode\": "
		 "\"sync\", \"sync_timeout_ms\": 1500}]}}");
	assert_int_equal(topo(body, f, &plan, &err), 0);
	assert_int_equal(plan.n, 0);
	topology_plan_free(&plan);
	snprintf(body, sizeof(body), "%s%s", head,
		 "{\"a\": \"pool-east\", \"b\": \"pool-west\"}]}}");
	assert_int_equal(topo(body, f, &plan, &err), 0);
	assert_int_equal(plan.n, 0);
	topology_plan_free(&plan);
	snprintf(body, sizeof(body), "%s%s", head,
		 "{\"a\": \"pool-east\", \"b\": \"pool-west\", "
		 "\"sync_timeout_ms\": 900}]}}");
	assert_int_equal(topo(body, f, &plan, &err), 0);
	assert_ops(&plan, pm, 1);
	assert_string_equal(plan.items[0].what,
			    "pair mode pool-east pool-west sync -> sync (sync "
			    "timeout 900 ms)");
	cmd = plan_decode(&plan);
	assert_int_equal(cmd->topology->steps[0]->pair_mode->mode,
			 POOLPAIR__REPL_MODE__REPL_SYNC);
	assert_int_equal(cmd->topology->steps[0]->pair_mode->sync_timeout_ms,
			 900);
	poolpair__command__free_unpacked(cmd, NULL);
	topology_plan_free(&plan);

	/* a new pair carries its mode */
	f->pools[0].pair[0] = f->pools[1].pair[0] = '\0';
	snprintf(body, sizeof(body), "%s%s", head,
		 "{\"a\": \"pool-east\", \"b\": \"pool-west\", \"mode\": "
		 "\"sync\", \"sync_timeout_ms\": 700}]}}");
	assert_int_equal(topo(body, f, &plan, &err), 0);
	{
		static const char *const ops[] = {"pair"};

		assert_ops(&plan, ops, 1);
	}
	assert_string_equal(plan.items[0].what,
			    "pair pool-east pool-west (sync)");
	cmd = plan_decode(&plan);
	assert_int_equal(cmd->topology->steps[0]->pair->mode,
			 POOLPAIR__REPL_MODE__REPL_SYNC);
	assert_int_equal(cmd->topology->steps[0]->pair->sync_timeout_ms, 700);
	poolpair__command__free_unpacked(cmd, NULL);
	topology_plan_free(&plan);

	/* a bad mode in a file */
	snprintf(body, sizeof(body), "%s%s", head,
		 "{\"a\": \"pool-east\", \"b\": \"pool-west\", \"mode\": "
		 "\"fast\"}]}}");
	assert_int_equal(topo(body, f, &plan, &err), -EINVAL);
	assert_string_equal(err.code, "invalid");
	if (strstr(err.message, "pairs[0].mode") == NULL)
		fail_msg("\"%s\" does not name the field", err.message);
	free(f);
}

static void test_topology_removals(void **state)
{
	struct fsm *f = state_full();
	struct topology_plan plan;
	struct request_error err;
	Poolpair__Command *cmd;

	/* an extra pool with an SBA, and a site nobody names */
	state_pool(f, "pool-x", "east", "standard");
	state_sba(f, "sba-x", "branch", "pool-x");
	state_site(f, "old");
	assert_int_equal(topo(full_topo, f, &plan, &err), 0);
	{
		static const char *const ops[] = {"remove_sba", "remove_pool",
						  "remove_site"};
		assert_ops(&plan, ops, 3);
	}
	assert_string_equal(plan.items[0].what, "remove sba sba-x");
	assert_string_equal(plan.items[1].what, "remove pool pool-x");
	assert_string_equal(plan.items[2].what, "remove site old");
	cmd = plan_decode(&plan);
	assert_string_equal(cmd->topology->steps[0]->remove_sba->name, "sba-x");
	assert_string_equal(cmd->topology->steps[1]->remove_pool->name,
			    "pool-x");
	assert_string_equal(cmd->topology->steps[2]->remove_site->name, "old");
	poolpair__command__free_unpacked(cmd, NULL);
	topology_plan_free(&plan);

	/* no "sites" key: no site is removed; no "sbas" key: all go; a
	 * paired pool that goes is unpaired first */
	assert_int_equal(
	    topo("{\"topology\": {\"pools\": [{\"name\": \"pool-east\", "
		 "\"site\": \"east\", \"edition\": \"enterprise\", \"kind\": "
		 "\"physical\", \"os\": \"windows-2019\"}]}}",
		 f, &plan, &err),
	    0);
	{
		static const char *const ops[] = {"unpair", "remove_sba",
						  "remove_sba", "remove_pool",
						  "remove_pool"};
		assert_ops(&plan, ops, 5);
	}
	assert_string_equal(plan.items[0].what, "unpair pool-east pool-west");
	assert_string_equal(plan.items[3].what, "remove pool pool-west");
	assert_string_equal(plan.items[4].what, "remove pool pool-x");
	topology_plan_free(&plan);

	/* an empty "sites" list: sites named by members or TOPO pools stay */
	assert_int_equal(
	    topo("{\"topology\": {\"sites\": [], \"pools\": [{\"name\": "
		 "\"pool-west\", \"site\": \"west\", \"edition\": "
		 "\"enterprise\", \"kind\": \"physical\", \"os\": "
		 "\"windows-2019\"}], \"sbas\": [{\"name\": \"sba-1\", "
		 "\"site\": \"branch\", \"backup_pool\": \"pool-west\"}]}}",
		 f, &plan, &err),
	    0);
	{
		/* sba-1 moves from pool-east to pool-west: removed, added */
		static const char *const ops[] = {
		    "unpair",	   "remove_sba",  "remove_sba", "remove_pool",
		    "remove_pool", "remove_site", "add_sba"};
		assert_ops(&plan, ops, 7);
	}
	assert_string_equal(plan.items[1].what, "remove sba sba-1");
	assert_string_equal(plan.items[5].what, "remove site old");
	assert_string_equal(plan.items[6].what,
			    "add sba sba-1 (branch, backup pool-west)");
	topology_plan_free(&plan);

	/* everything goes */
	assert_int_equal(topo("{\"topology\": {}}", f, &plan, &err), 0);
	assert_int_equal(plan.n, 6); /* unpair, 2 sbas, 3 pools */
	topology_plan_free(&plan);
	free(f);
}

static void test_topology_repair(void **state)
{
	const char *body =
	    "{\"topology\": {\"pools\": ["
	    "{\"name\": \"A\", \"site\": \"s1\", \"edition\": \"standard\", "
	    "\"kind\": \"physical\", \"os\": \"windows-2019\"},"
	    "{\"name\": \"B\", \"site\": \"s2\", \"edition\": \"standard\", "
	    "\"kind\": \"physical\", \"os\": \"windows-2019\"},"
	    "{\"name\": \"C\", \"site\": \"s2\", \"edition\": \"standard\", "
	    "\"kind\": \"physical\", \"os\": \"windows-2019\"},"
	    "{\"name\": \"D\", \"site\": \"s1\", \"edition\": \"standard\", "
	    "\"kind\": \"physical\", \"os\": \"windows-2019\"}],"
	    "\"pairs\": [{\"a\": \"A\", \"b\": \"C\"}, {\"a\": \"B\", \"b\": "
	    "\"D\"}]}}";
	static const char *const ops[] = {"unpair", "unpair", "pair", "pair"};
	struct fsm *f = state_new();
	struct topology_plan plan;
	struct request_error err;
	Poolpair__Command *cmd;

	state_pool(f, "A", "s1", "standard");
	state_pool(f, "B", "s2", "standard");
	state_pool(f, "C", "s2", "standard");
	state_pool(f, "D", "s1", "standard");
	state_pair(f, 0, 1);
	state_pair(f, 2, 3);
	assert_int_equal(topo(body, f, &plan, &err), 0);
	assert_ops(&plan, ops, 4);
	assert_string_equal(plan.items[0].what, "unpair A B");
	assert_string_equal(plan.items[1].what, "unpair C D");
	assert_string_equal(plan.items[2].what, "pair A C");
	assert_string_equal(plan.items[3].what, "pair B D");
	cmd = plan_decode(&plan);
	assert_string_equal(cmd->topology->steps[0]->unpair->pool, "A");
	assert_string_equal(cmd->topology->steps[1]->unpair->pool, "C");
	assert_string_equal(cmd->topology->steps[2]->pair->a, "A");
	assert_string_equal(cmd->topology->steps[2]->pair->b, "C");
	assert_string_equal(cmd->topology->steps[3]->pair->a, "B");
	assert_string_equal(cmd->topology->steps[3]->pair->b, "D");
	poolpair__command__free_unpacked(cmd, NULL);
	topology_plan_free(&plan);

	/* one pair stays, the other half is unpaired and re-paired */
	state_pair(f, 0, 2); /* A-C now, B and D still point at A and C */
	strcpy(f->pools[1].pair, "");
	strcpy(f->pools[3].pair, "");
	assert_int_equal(topo(body, f, &plan, &err), 0);
	{
		static const char *const ops2[] = {"pair"};
		assert_ops(&plan, ops2, 1);
	}
	assert_string_equal(plan.items[0].what, "pair B D");
	topology_plan_free(&plan);
	free(f);
}

static void test_topology_changed_pool(void **state)
{
	struct fsm *f = state_full();
	struct topology_plan plan;
	struct request_error err;
	char *body = strdup(full_topo);
	char *p;

	assert_non_null(body);
	/* pool-east becomes standard */
	p = strstr(body, "enterprise");
	memcpy(p, "standard\",  ", 12);
	assert_int_equal(topo(body, f, &plan, &err), -EINVAL);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "invalid");
	assert_string_equal(
	    err.message, "pool pool-east differs from the cluster (edition "
			 "enterprise \xe2\x86\x92 standard): remove it first");
	free(body);

	f->pools[1].capacity = 300;
	assert_int_equal(topo(full_topo, f, &plan, &err), -EINVAL);
	assert_string_equal(err.message,
			    "pool pool-west differs from the cluster (capacity "
			    "300 \xe2\x86\x92 0): remove it first");
	f->pools[1].capacity = 0;
	strcpy(f->pools[1].os, "windows-2016");
	assert_int_equal(topo(full_topo, f, &plan, &err), -EINVAL);
	assert_non_null(strstr(err.message, "(os windows-2016"));
	strcpy(f->pools[1].os, "windows-2019");
	strcpy(f->pools[1].site, "north");
	assert_int_equal(topo(full_topo, f, &plan, &err), -EINVAL);
	assert_non_null(strstr(err.message, "(site north"));
	strcpy(f->pools[1].site, "west");
	strcpy(f->pools[1].kind, "virtual");
	assert_int_equal(topo(full_topo, f, &plan, &err), -EINVAL);
	assert_non_null(strstr(err.message, "(kind virtual"));
	free(f);
}

static void test_topology_policy_and_cms(void **state)
{
	struct fsm *f = state_full();
	struct topology_plan plan;
	struct request_error err;
	Poolpair__Command *cmd;
	const char *body =
	    "{\"topology\": {\"sites\": [\"east\", \"west\", \"witness\"], "
	    "\"pools\": [{\"name\": \"pool-east\", \"site\": \"east\", "
	    "\"edition\": \"enterprise\", \"kind\": \"physical\", \"os\": "
	    "\"windows-2019\"}, {\"name\": \"pool-west\", \"site\": \"west\", "
	    "\"edition\": \"enterprise\", \"kind\": \"physical\", \"os\": "
	    "\"windows-2019\"}], \"pairs\": [{\"a\": \"pool-east\", \"b\": "
	    "\"pool-west\"}], \"sbas\": [{\"name\": \"sba-1\", \"site\": "
	    "\"branch\", \"backup_pool\": \"pool-east\"}], \"cms\": "
	    "\"pool-west\", \"policy\": {\"cooldown_ms\": 5000}}}";
	static const char *const ops[] = {"cms_place", "set_policy"};

	assert_int_equal(topo(body, f, &plan, &err), 0);
	assert_ops(&plan, ops, 2);
	cmd = plan_decode(&plan);
	assert_string_equal(cmd->topology->steps[0]->cms_place->pool,
			    "pool-west");
	/* merged over the current policy */
	assert_string_equal(
	    cmd->topology->steps[1]->set_policy->policy->failover, "auto");
	assert_int_equal(
	    cmd->topology->steps[1]->set_policy->policy->max_lag_on_failover_ms,
	    1000);
	assert_int_equal(
	    cmd->topology->steps[1]->set_policy->policy->cooldown_ms, 5000);
	poolpair__command__free_unpacked(cmd, NULL);
	topology_plan_free(&plan);
	free(f);
}

static void test_topology_bad(void **state)
{
	static const struct bad cases[] = {
	    {TOPO, "{\"topology\": []}", "bad_type",
	     "field 'topology' must be an object"},
	    {TOPO, "{\"topology\": {}, \"dry_run\": \"yes\"}", "bad_type",
	     "field 'dry_run' must be a boolean"},
	    {TOPO, "{\"topology\": {}, \"apply\": true}", "unknown_field",
	     "unknown field 'apply'"},
	    {TOPO, "{\"topology\": {\"foo\": 1}}", "unknown_field",
	     "unknown field 'topology.foo'"},
	    {TOPO, "{\"topology\": {\"sites\": \"east\"}}", "bad_type",
	     "field 'topology.sites' must be an array"},
	    {TOPO, "{\"topology\": {\"sites\": [1]}}", "bad_type",
	     "field 'topology.sites[0]' must be a string"},
	    {TOPO, "{\"topology\": {\"sites\": [\"a b\"]}}", "invalid", NULL},
	    {TOPO, "{\"topology\": {\"sites\": [\"-east\"]}}", "invalid",
	     "field 'topology.sites[0]' must be 1-63 characters of "
	     "[A-Za-z0-9._-], not starting with '-'"},
	    {TOPO,
	     "{\"topology\": {\"pools\": [{\"name\": \"-p\", \"site\": \"s\", "
	     "\"edition\": \"standard\", \"kind\": \"virtual\", \"os\": \"w\"}]}}",
	     "invalid",
	     "field 'topology.pools[0].name' must be 1-63 characters of "
	     "[A-Za-z0-9._-], not starting with '-'"},
	    {TOPO,
	     "{\"topology\": {\"sbas\": [{\"name\": \"s\", \"site\": \"-b\", "
	     "\"backup_pool\": \"p\"}]}}",
	     "invalid", NULL},
	    {TOPO, "{\"topology\": {\"sites\": [\"a\", \"a\"]}}", "invalid",
	     "site a is listed twice"},
	    {TOPO, "{\"topology\": {\"pools\": [\"p\"]}}", "bad_type",
	     "field 'topology.pools[0]' must be an object"},
	    {TOPO,
	     "{\"topology\": {\"pools\": [{\"name\": \"p\", \"site\": \"s\", "
	     "\"edition\": \"standard\", \"kind\": \"virtual\", \"os\": \"w\", "
	     "\"capacity\": \"big\"}]}}",
	     "bad_type",
	     "field 'topology.pools[0].capacity' must be an integer"},
	    {TOPO,
	     "{\"topology\": {\"pools\": [{\"name\": \"p\", \"site\": \"s\", "
	     "\"edition\": \"standard\", \"kind\": \"virtual\"}]}}",
	     "missing_field", "missing field 'topology.pools[0].os'"},
	    {TOPO,
	     "{\"topology\": {\"pools\": [{\"name\": \"p\", \"site\": \"s\", "
	     "\"edition\": \"standard\", \"kind\": \"virtual\", \"os\": \"w\", "
	     "\"pair\": \"q\"}]}}",
	     "unknown_field", "unknown field 'topology.pools[0].pair'"},
	    {TOPO,
	     "{\"topology\": {\"pools\": [{\"name\": \"p\", \"site\": \"s\", "
	     "\"edition\": \"standard\", \"kind\": \"virtual\", \"os\": \"w\"},"
	     "{\"name\": \"p\", \"site\": \"t\", \"edition\": \"standard\", "
	     "\"kind\": \"virtual\", \"os\": \"w\"}]}}",
	     "invalid", "pool p is listed twice"},
	    {TOPO,
	     "{\"topology\": {\"pools\": [{\"name\": \"p\", \"site\": \"s\", "
	     "\"edition\": \"standard\", \"kind\": \"virtual\", \"os\": "
	     "\"w\"}],"
	     "\"pairs\": [{\"a\": \"p\", \"b\": \"q\"}]}}",
	     "invalid",
	     "pair p q names pool q, which is not in topology.pools"},
	    {TOPO,
	     "{\"topology\": {\"pools\": [{\"name\": \"p\", \"site\": \"s\", "
	     "\"edition\": \"standard\", \"kind\": \"virtual\", \"os\": "
	     "\"w\"}],"
	     "\"pairs\": [{\"a\": \"p\", \"b\": \"p\"}]}}",
	     "invalid", "pair p p pairs a pool with itself"},
	    {TOPO,
	     "{\"topology\": {\"pools\": [{\"name\": \"p\", \"site\": \"s\", "
	     "\"edition\": \"standard\", \"kind\": \"virtual\", \"os\": \"w\"},"
	     "{\"name\": \"q\", \"site\": \"t\", \"edition\": \"standard\", "
	     "\"kind\": \"virtual\", \"os\": \"w\"},"
	     "{\"name\": \"r\", \"site\": \"u\", \"edition\": \"standard\", "
	     "\"kind\": \"virtual\", \"os\": \"w\"}],"
	     "\"pairs\": [{\"a\": \"p\", \"b\": \"q\"}, {\"a\": \"r\", \"b\": "
	     "\"q\"}]}}",
	     "invalid", "pool q is in two pairs"},
	    {TOPO,
	     "{\"topology\": {\"pairs\": [{\"a\": \"p\", \"b\": \"q\", "
	     "\"force\": 0}]}}",
	     "bad_type", "field 'topology.pairs[0].force' must be a boolean"},
	    {TOPO,
	     "{\"topology\": {\"sbas\": [{\"name\": \"s\", \"site\": \"b\", "
	     "\"backup_pool\": \"p\"}]}}",
	     "invalid",
	     "sba s names backup pool p, which is not in topology.pools"},
	    {TOPO,
	     "{\"topology\": {\"pools\": [{\"name\": \"p\", \"site\": \"s\", "
	     "\"edition\": \"standard\", \"kind\": \"virtual\", \"os\": "
	     "\"w\"}],"
	     "\"sbas\": [{\"name\": \"s\", \"site\": \"b\", \"backup_pool\": "
	     "\"p\"}, {\"name\": \"s\", \"site\": \"c\", \"backup_pool\": "
	     "\"p\"}]}}",
	     "invalid", "sba s is listed twice"},
	    {TOPO, "{\"topology\": {\"cms\": \"p\"}}", "invalid",
	     "cms pool p is not in topology.pools"},
	    {TOPO, "{\"topology\": {\"cms\": 1}}", "bad_type",
	     "field 'topology.cms' must be a string"},
	    {TOPO, "{\"topology\": {\"policy\": []}}", "bad_type",
	     "field 'topology.policy' must be an object"},
	    {TOPO, "{\"topology\": {\"policy\": {\"failover\": \"never\"}}}",
	     "invalid",
	     "field 'topology.policy.failover' must be auto, manual or "
	     "default"},
	    {TOPO, "{\"topology\": {\"policy\": {\"cooldown_ms\": 3600001}}}",
	     "invalid", NULL},
	};
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct request_cmd out;
		struct request_error err;
		int rc;

		memset(&err, 0, sizeof(err));
		rc =
		    run(TOPO, cases[i].body, strlen(cases[i].body), &out, &err);
		if (rc != -EINVAL || strcmp(err.code, cases[i].code) != 0 ||
		    (cases[i].message &&
		     strcmp(err.message, cases[i].message) != 0))
			print_error("case %u: rc %d code %s message %s\n", i,
				    rc, err.code, err.message);
		assert_int_equal(rc, -EINVAL);
		assert_int_equal(err.status, 400);
		assert_string_equal(err.code, cases[i].code);
		if (cases[i].message)
			assert_string_equal(err.message, cases[i].message);
	}
}

/* Body of a topology with n_pools pools (p0..) and n_sbas SBAs on p0. */
static char *topo_body(unsigned n_pools, unsigned n_sbas)
{
	size_t cap = 256 + (size_t)n_pools * 128 + (size_t)n_sbas * 80, o = 0;
	char *b = malloc(cap);
	unsigned i;

	assert_non_null(b);
	o += (size_t)snprintf(b + o, cap - o, "{\"topology\": {\"pools\": [");
	for (i = 0; i < n_pools; i++)
		o += (size_t)snprintf(
		    b + o, cap - o,
		    "%s{\"name\": \"p%u\", \"site\": \"s\", \"edition\": "
		    "\"standard\", \"kind\": \"virtual\", \"os\": \"w\"}",
		    i ? "," : "", i);
	o += (size_t)snprintf(b + o, cap - o, "], \"sbas\": [");
	for (i = 0; i < n_sbas; i++)
		o += (size_t)snprintf(b + o, cap - o,
				      "%s{\"name\": \"b%u\", \"site\": \"br\", "
				      "\"backup_pool\": \"p0\"}",
				      i ? "," : "", i);
	snprintf(b + o, cap - o, "]}}");
	return b;
}

static void test_topology_caps(void **state)
{
	struct fsm *f = state_new();
	struct topology_plan plan;
	struct request_error err;
	char *body;

	/* 1 pool + 255 SBAs = 256 steps: fits */
	body = topo_body(1, 255);
	assert_int_equal(topo(body, f, &plan, &err), 0);
	assert_int_equal(plan.n, 256);
	assert_non_null(plan.cmd.buf);
	topology_plan_free(&plan);
	free(body);

	/* 2 pools + 255 SBAs = 257 steps */
	body = topo_body(2, 255);
	assert_int_equal(topo(body, f, &plan, &err), -EINVAL);
	assert_string_equal(err.code, "invalid");
	assert_string_equal(
	    err.message,
	    "the topology needs 257 steps; one decision holds at most 256");
	free(body);

	/* more pools than the FSM holds */
	body = topo_body(FSM_MAX_POOLS + 1, 0);
	assert_int_equal(topo(body, f, &plan, &err), -EINVAL);
	assert_string_equal(err.code, "invalid");
	assert_string_equal(err.message,
			    "field 'topology.pools' lists 65 pools; the "
			    "cluster holds at most 64");
	free(body);

	body = topo_body(0, FSM_MAX_SBAS + 1);
	assert_int_equal(topo(body, f, &plan, &err), -EINVAL);
	assert_string_equal(err.code, "invalid");
	free(body);
	free(f);
}

/* Plan, apply through the FSM, and plan again: nothing left to do. */
static void plan_apply(struct fsm *f, const char *body, unsigned want_n)
{
	struct topology_plan plan;
	struct request_error err;
	struct fsm_result res;

	if (topo(body, f, &plan, &err) != 0)
		print_error("plan: %s\n", err.message);
	assert_int_equal(plan.n, want_n);
	if (plan.n > 0) {
		memset(&res, 0, sizeof(res));
		fsm_apply(f, plan.cmd.buf, plan.cmd.len, &res);
		if (res.code != FSM_OK)
			print_error("apply: %s\n", res.reason);
		assert_int_equal(res.code, FSM_OK);
		assert_string_equal(fsm_history_get(f, res.seq)->who, ctx.who);
	}
	topology_plan_free(&plan);
	assert_int_equal(topo(body, f, &plan, &err), 0);
	assert_int_equal(plan.n, 0);
	assert_null(plan.cmd.buf);
	topology_plan_free(&plan);
}

static void test_topology_fsm_round_trip(void **state)
{
	static const char pool_c[] =
	    "{\"name\": \"pool-c\", \"site\": \"east\", \"edition\": "
	    "\"enterprise\", \"kind\": \"physical\", \"os\": \"windows-2019\"}";
	static const char pool_d[] =
	    "{\"name\": \"pool-d\", \"site\": \"west\", \"edition\": "
	    "\"enterprise\", \"kind\": \"physical\", \"os\": \"windows-2019\"}";
	struct fsm *f = calloc(1, sizeof(*f));
	const struct fsm_pool *p;
	char body[2048];

	assert_non_null(f);
	fsm_init(f);
	plan_apply(f, full_topo, 8);
	assert_int_equal(f->n_pools, 2);
	assert_string_equal(f->cms_active, "pool-east");
	p = fsm_pool_find(f, "pool-east");
	assert_non_null(p);
	assert_string_equal(p->pair, "pool-west");
	assert_non_null(fsm_sba_find(f, "sba-1"));
	assert_true(fsm_site_exists(f, "witness"));
	assert_string_equal(f->policy.failover, "auto");

	/* two more pools and a re-pairing in one decision */
	snprintf(body, sizeof(body),
		 "{\"topology\": {\"sites\": [\"east\", \"west\"], \"pools\": ["
		 "{\"name\": \"pool-east\", \"site\": \"east\", \"edition\": "
		 "\"enterprise\", \"kind\": \"physical\", \"os\": "
		 "\"windows-2019\"}, {\"name\": \"pool-west\", \"site\": "
		 "\"west\", \"edition\": \"enterprise\", \"kind\": "
		 "\"physical\", \"os\": \"windows-2019\"}, %s, %s], "
		 "\"pairs\": [{\"a\": \"pool-east\", \"b\": \"pool-d\"}, "
		 "{\"a\": \"pool-c\", \"b\": \"pool-west\"}], \"sbas\": "
		 "[{\"name\": \"sba-1\", \"site\": \"branch\", "
		 "\"backup_pool\": \"pool-c\"}], \"cms\": \"pool-east\"}}",
		 pool_c, pool_d);
	/* unpair, remove sba, remove site witness, 2 add_pool, 2 pair,
	 * add sba */
	plan_apply(f, body, 8);
	assert_false(fsm_site_exists(f, "witness"));
	assert_string_equal(fsm_pool_find(f, "pool-east")->pair, "pool-d");
	assert_string_equal(fsm_pool_find(f, "pool-west")->pair, "pool-c");
	assert_string_equal(fsm_sba_find(f, "sba-1")->backup_pool, "pool-c");

	/* back to the full topology: unpair 2, remove sba, remove 2 pools,
	 * add site witness, pair, add sba */
	plan_apply(f, full_topo, 8);
	assert_int_equal(f->n_pools, 2);
	assert_null(fsm_pool_find(f, "pool-c"));
	assert_string_equal(fsm_pool_find(f, "pool-east")->pair, "pool-west");
	assert_string_equal(fsm_sba_find(f, "sba-1")->backup_pool, "pool-east");
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_site_add),
	    cmocka_unit_test(test_pool_add),
	    cmocka_unit_test(test_pair),
	    cmocka_unit_test(test_pair_mode),
	    cmocka_unit_test(test_sba_add),
	    cmocka_unit_test(test_policy_set),
	    cmocka_unit_test(test_pool_pause),
	    cmocka_unit_test(test_member_add),
	    cmocka_unit_test(test_cmd_name),
	    cmocka_unit_test(test_members_cmds),
	    cmocka_unit_test(test_who),
	    cmocka_unit_test(test_body_not_terminated),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_edge_values_accepted),
	    cmocka_unit_test(test_bad_json_message),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_too_large_and_deep),
	    cmocka_unit_test(test_topology_from_empty),
	    cmocka_unit_test(test_topology_cms_pool_added_first),
	    cmocka_unit_test(test_topology_same_state_empty_diff),
	    cmocka_unit_test(test_topology_pair_mode),
	    cmocka_unit_test(test_topology_removals),
	    cmocka_unit_test(test_topology_repair),
	    cmocka_unit_test(test_topology_changed_pool),
	    cmocka_unit_test(test_topology_policy_and_cms),
	    cmocka_unit_test(test_topology_bad),
	    cmocka_unit_test(test_topology_caps),
	    cmocka_unit_test(test_topology_fsm_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
