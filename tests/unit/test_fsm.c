/* Unit tests of consensus/fsm.c: every command, every refusal, pairing
 * rules, history, topology atomicity, malformed input and snapshots. */
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

/* A heap command, freed with poolpair__command__free_unpacked(). */
static Poolpair__Command *cmd_new(void)
{
	Poolpair__Command *c = zalloc(sizeof(*c));

	poolpair__command__init(c);
	c->time_ms = 1700000000000ull;
	c->who = dup("operator@test");
	return c;
}

static Poolpair__Command *c_add_site(const char *name)
{
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
	c->add_site = zalloc(sizeof(*c->add_site));
	poolpair__cmd_add_site__init(c->add_site);
	c->add_site->name = dup(name);
	return c;
}

static Poolpair__Command *c_remove_site(const char *name)
{
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_REMOVE_SITE;
	c->remove_site = zalloc(sizeof(*c->remove_site));
	poolpair__cmd_remove_site__init(c->remove_site);
	c->remove_site->name = dup(name);
	return c;
}

static Poolpair__Command *c_add_pool(const char *name, const char *site,
				     const char *edition, const char *kind,
				     const char *os)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__Pool *p = zalloc(sizeof(*p));

	poolpair__pool__init(p);
	p->name = dup(name);
	p->site = dup(site);
	p->edition = dup(edition);
	p->kind = dup(kind);
	p->os = dup(os);
	p->capacity = 5000;
	c->op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
	c->add_pool = zalloc(sizeof(*c->add_pool));
	poolpair__cmd_add_pool__init(c->add_pool);
	c->add_pool->pool = p;
	return c;
}

static Poolpair__Command *c_remove_pool(const char *name)
{
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_REMOVE_POOL;
	c->remove_pool = zalloc(sizeof(*c->remove_pool));
	poolpair__cmd_remove_pool__init(c->remove_pool);
	c->remove_pool->name = dup(name);
	return c;
}

static Poolpair__Command *c_pair(const char *a, const char *b, bool force)
{
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_PAIR;
	c->pair = zalloc(sizeof(*c->pair));
	poolpair__cmd_pair__init(c->pair);
	c->pair->a = dup(a);
	c->pair->b = dup(b);
	c->pair->force = force;
	return c;
}

static Poolpair__Command *c_unpair(const char *pool)
{
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_UNPAIR;
	c->unpair = zalloc(sizeof(*c->unpair));
	poolpair__cmd_unpair__init(c->unpair);
	c->unpair->pool = dup(pool);
	return c;
}

static Poolpair__Command *c_add_sba(const char *name, const char *site,
				    const char *backup)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__Sba *s = zalloc(sizeof(*s));

	poolpair__sba__init(s);
	s->name = dup(name);
	s->site = dup(site);
	s->backup_pool = dup(backup);
	c->op_case = POOLPAIR__COMMAND__OP_ADD_SBA;
	c->add_sba = zalloc(sizeof(*c->add_sba));
	poolpair__cmd_add_sba__init(c->add_sba);
	c->add_sba->sba = s;
	return c;
}

static Poolpair__Command *c_remove_sba(const char *name)
{
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_REMOVE_SBA;
	c->remove_sba = zalloc(sizeof(*c->remove_sba));
	poolpair__cmd_remove_sba__init(c->remove_sba);
	c->remove_sba->name = dup(name);
	return c;
}

static Poolpair__Command *c_register(uint64_t id, const char *name,
				     const char *site, const char *pool,
				     const char *raft, const char *data,
				     const char *api)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__Member *m = zalloc(sizeof(*m));

	poolpair__member__init(m);
	m->id = id;
	m->name = dup(name);
	m->site = dup(site);
	m->pool = dup(pool);
	m->raft_address = dup(raft);
	m->data_address = dup(data);
	m->api_address = dup(api);
	c->op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
	c->register_member = zalloc(sizeof(*c->register_member));
	poolpair__cmd_register_member__init(c->register_member);
	c->register_member->member = m;
	return c;
}

static Poolpair__Command *c_remove_member(uint64_t id)
{
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_REMOVE_MEMBER;
	c->remove_member = zalloc(sizeof(*c->remove_member));
	poolpair__cmd_remove_member__init(c->remove_member);
	c->remove_member->id = id;
	return c;
}

static Poolpair__Command *c_policy(const char *failover, uint32_t lag,
				   uint32_t cooldown)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__Policy *p = zalloc(sizeof(*p));

	poolpair__policy__init(p);
	p->failover = dup(failover);
	p->max_lag_on_failover_ms = lag;
	p->cooldown_ms = cooldown;
	c->op_case = POOLPAIR__COMMAND__OP_SET_POLICY;
	c->set_policy = zalloc(sizeof(*c->set_policy));
	poolpair__cmd_set_policy__init(c->set_policy);
	c->set_policy->policy = p;
	return c;
}

static Poolpair__Command *c_cms(const char *pool)
{
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_CMS_PLACE;
	c->cms_place = zalloc(sizeof(*c->cms_place));
	poolpair__cmd_cms_place__init(c->cms_place);
	c->cms_place->pool = dup(pool);
	return c;
}

/* ---- failover decisions ---- */

static Poolpair__Command *c_fo_begin(const char *pool, bool planned,
				     bool forced, uint64_t records,
				     uint64_t bytes, uint64_t ms,
				     const char *reason)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdFailoverBegin *b = zalloc(sizeof(*b));

	poolpair__cmd_failover_begin__init(b);
	b->pool = dup(pool);
	b->planned = planned;
	b->forced = forced;
	b->data_at_risk_records = records;
	b->data_at_risk_bytes = bytes;
	b->data_at_risk_ms = ms;
	b->reason = dup(reason);
	c->op_case = POOLPAIR__COMMAND__OP_FAILOVER_BEGIN;
	c->failover_begin = b;
	return c;
}

static Poolpair__Command *c_planned(const char *pool)
{
	return c_fo_begin(pool, true, false, 0, 0, 0, "maintenance");
}

static Poolpair__Command *c_disaster(const char *pool)
{
	return c_fo_begin(pool, false, false, 0, 0, 0, "site lost");
}

static Poolpair__Command *c_fo_complete(const char *pool, uint64_t records,
					uint64_t bytes, uint64_t ms)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdFailoverComplete *b = zalloc(sizeof(*b));

	poolpair__cmd_failover_complete__init(b);
	b->pool = dup(pool);
	b->data_at_risk_records = records;
	b->data_at_risk_bytes = bytes;
	b->data_at_risk_ms = ms;
	c->op_case = POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE;
	c->failover_complete = b;
	return c;
}

static Poolpair__Command *c_complete(const char *pool)
{
	return c_fo_complete(pool, 0, 0, 0);
}

static Poolpair__Command *c_fo_abort(const char *pool, const char *reason)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdFailoverAbort *b = zalloc(sizeof(*b));

	poolpair__cmd_failover_abort__init(b);
	b->pool = dup(pool);
	b->reason = dup(reason);
	c->op_case = POOLPAIR__COMMAND__OP_FAILOVER_ABORT;
	c->failover_abort = b;
	return c;
}

static Poolpair__Command *c_recovering(const char *pool)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdPoolRecovering *b = zalloc(sizeof(*b));

	poolpair__cmd_pool_recovering__init(b);
	b->pool = dup(pool);
	c->op_case = POOLPAIR__COMMAND__OP_POOL_RECOVERING;
	c->pool_recovering = b;
	return c;
}

static Poolpair__Command *c_fb_begin(const char *pool, bool forced)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdFailbackBegin *b = zalloc(sizeof(*b));

	poolpair__cmd_failback_begin__init(b);
	b->pool = dup(pool);
	b->forced = forced;
	c->op_case = POOLPAIR__COMMAND__OP_FAILBACK_BEGIN;
	c->failback_begin = b;
	return c;
}

static Poolpair__Command *c_fb_complete(const char *pool)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdFailbackComplete *b = zalloc(sizeof(*b));

	poolpair__cmd_failback_complete__init(b);
	b->pool = dup(pool);
	c->op_case = POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE;
	c->failback_complete = b;
	return c;
}

static Poolpair__Command *c_fb_abort(const char *pool, const char *reason)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdFailbackAbort *b = zalloc(sizeof(*b));

	poolpair__cmd_failback_abort__init(b);
	b->pool = dup(pool);
	b->reason = dup(reason);
	c->op_case = POOLPAIR__COMMAND__OP_FAILBACK_ABORT;
	c->failback_abort = b;
	return c;
}

/* A disaster move of the CMS (at once), forced or not. */
static Poolpair__Command *c_cms_failover(bool forced)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdCmsFailover *b = zalloc(sizeof(*b));

	poolpair__cmd_cms_failover__init(b);
	b->forced = forced;
	c->op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER;
	c->cms_failover = b;
	return c;
}

/* A disaster move of the CMS naming data at risk and a reason. */
static Poolpair__Command *c_cms_disaster(uint64_t records, uint64_t bytes,
					 uint64_t ms, const char *reason)
{
	Poolpair__Command *c = c_cms_failover(false);

	c->cms_failover->data_at_risk_records = records;
	c->cms_failover->data_at_risk_bytes = bytes;
	c->cms_failover->data_at_risk_ms = ms;
	c->cms_failover->reason = dup(reason);
	return c;
}

/* The begin of a planned move of the CMS. */
static Poolpair__Command *c_cms_planned(bool forced)
{
	Poolpair__Command *c = c_cms_failover(forced);

	c->cms_failover->planned = true;
	return c;
}

static Poolpair__Command *c_cms_complete(uint64_t since_ms)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdCmsFailoverComplete *b = zalloc(sizeof(*b));

	poolpair__cmd_cms_failover_complete__init(b);
	b->since_ms = since_ms;
	c->op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER_COMPLETE;
	c->cms_failover_complete = b;
	return c;
}

static Poolpair__Command *c_cms_abort(uint64_t since_ms, const char *reason)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdCmsFailoverAbort *b = zalloc(sizeof(*b));

	poolpair__cmd_cms_failover_abort__init(b);
	b->since_ms = since_ms;
	b->reason = dup(reason);
	c->op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER_ABORT;
	c->cms_failover_abort = b;
	return c;
}

/* A pairing with a replication mode (0 or 1; others are refused) and a
 * sync timeout (0: the default). */
static Poolpair__Command *c_pair_with(const char *a, const char *b, int mode,
				      uint32_t timeout_ms)
{
	Poolpair__Command *c = c_pair(a, b, false);

	c->pair->mode = (Poolpair__ReplMode)mode;
	c->pair->sync_timeout_ms = timeout_ms;
	return c;
}

static Poolpair__Command *c_pair_mode(const char *pool, int mode,
				      uint32_t timeout_ms)
{
	Poolpair__Command *c = cmd_new();
	Poolpair__CmdPairMode *b = zalloc(sizeof(*b));

	poolpair__cmd_pair_mode__init(b);
	b->pool = dup(pool);
	b->mode = (Poolpair__ReplMode)mode;
	b->sync_timeout_ms = timeout_ms;
	c->op_case = POOLPAIR__COMMAND__OP_PAIR_MODE;
	c->pair_mode = b;
	return c;
}

/* c with its time set to t. */
static Poolpair__Command *at(uint64_t t, Poolpair__Command *c)
{
	c->time_ms = t;
	return c;
}

/* A topology of n steps (ownership of the steps passes to it). */
static Poolpair__Command *c_topology(size_t n, Poolpair__Command **steps)
{
	Poolpair__Command *c = cmd_new();
	size_t i;

	c->op_case = POOLPAIR__COMMAND__OP_TOPOLOGY;
	c->topology = zalloc(sizeof(*c->topology));
	poolpair__cmd_topology__init(c->topology);
	c->topology->n_steps = n;
	c->topology->steps = zalloc((n > 0 ? n : 1) * sizeof(*steps));
	for (i = 0; i < n; i++)
		c->topology->steps[i] = steps[i];
	return c;
}

/* Pack c (freed here) into a malloc()ed buffer. */
static uint8_t *pack(Poolpair__Command *c, size_t *len)
{
	uint8_t *buf;

	*len = poolpair__command__get_packed_size(c);
	buf = zalloc(*len > 0 ? *len : 1);
	assert_int_equal(poolpair__command__pack(c, buf), *len);
	poolpair__command__free_unpacked(c, NULL);
	return buf;
}

/* Pack c, apply it and free it. */
static int run(struct fsm *f, Poolpair__Command *c, struct fsm_result *res)
{
	size_t len;
	uint8_t *buf = pack(c, &len);
	int rv = fsm_apply(f, buf, len, res);

	free(buf);
	return rv;
}

static void ok(struct fsm *f, Poolpair__Command *c)
{
	struct fsm_result res;

	assert_int_equal(run(f, c, &res), FSM_OK);
	assert_int_equal(res.code, FSM_OK);
	assert_string_equal(res.reason, "");
	assert_int_equal(res.seq, f->decisions);
}

static struct fsm *copy_of(const struct fsm *f)
{
	struct fsm *c = malloc(sizeof(*c));

	assert_non_null(c);
	memcpy(c, f, sizeof(*c));
	return c;
}

/* Everything but the history and the decision counter is the same. */
static void assert_same_state(const struct fsm *a, const struct fsm *b)
{
	assert_memory_equal(a, b, offsetof(struct fsm, history));
}

/* Apply c, expect refusal `code` with a reason containing `part`, the
 * state unchanged and the refusal recorded. */
static void refused(struct fsm *f, Poolpair__Command *c, int code,
		    const char *part)
{
	struct fsm *before = copy_of(f);
	const struct fsm_history *h;
	struct fsm_result res;

	assert_int_equal(run(f, c, &res), code);
	assert_int_equal(res.code, code);
	if (part != NULL && strstr(res.reason, part) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", res.reason, part);
	assert_true(res.reason[0] != '\0');
	assert_same_state(before, f);
	assert_int_equal(f->decisions, before->decisions + 1);
	assert_int_equal(res.seq, f->decisions);
	h = fsm_history_get(f, res.seq);
	assert_non_null(h);
	assert_int_equal(h->seq, res.seq);
	assert_int_equal(h->code, code);
	assert_string_equal(h->reason, res.reason);
	assert_false(h->forced);
	free(before);
}

static const struct fsm_pool *pool(const struct fsm *f, const char *name)
{
	const struct fsm_pool *p = fsm_pool_find(f, name);

	assert_non_null(p);
	return p;
}

static const struct fsm_history *last(const struct fsm *f)
{
	const struct fsm_history *h = fsm_history_get(f, f->decisions);

	assert_non_null(h);
	return h;
}

/* pool-east and pool-west: a supported pair waiting to happen; and one
 * pool per broken rule, each differing from pool-east in one way only. */
static void base(struct fsm *f)
{
	ok(f, c_add_pool("pool-east", "east", "enterprise", "physical",
			 "windows-2019"));
	ok(f, c_add_pool("pool-west", "west", "enterprise", "physical",
			 "windows-2019"));
	ok(f, c_add_pool("pool-std", "west", "standard", "physical",
			 "windows-2019"));
	ok(f, c_add_pool("pool-virt", "west", "enterprise", "virtual",
			 "windows-2019"));
	ok(f, c_add_pool("pool-2022", "west", "enterprise", "physical",
			 "windows-2022"));
	ok(f, c_add_pool("pool-east2", "east", "enterprise", "physical",
			 "windows-2019"));
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

static Poolpair__PoolState *st_pool(Poolpair__State *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n_pools; i++)
		if (strcmp(st->pools[i]->pool->name, name) == 0)
			return st->pools[i];
	fail_msg("pool %s not in snapshot", name);
	return NULL;
}

static void set_str(char **field, const char *value)
{
	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = dup(value);
}

/* ---- codes and names ---- */

static void test_init_and_names(void **state)
{
	struct fsm *f = *state;
	static const char *const names[FSM_CODE_COUNT] = {
	    "ok",	 "malformed",	 "invalid",
	    "exists",	 "not_found",	 "full",
	    "in_use",	 "pair_edition", "pair_kind",
	    "pair_os",	 "pair_site",	 "pair_already",
	    "pair_self", "failed_over",	 "not_paired",
	    "nested",	 "pair_down",	 "not_failed_over",
	    "event_failed", "cms_moving", "stale",
	    "refused",
	};
	int i;

	assert_int_equal(f->n_sites + f->n_members + f->n_pools + f->n_sbas, 0);
	assert_string_equal(f->cms_active, "");
	assert_int_equal(f->cms_epoch, 0);
	assert_int_equal(f->decisions, 0);
	/* no failover policy chosen yet: the default is in effect */
	assert_string_equal(f->policy.failover, "");
	assert_false(f->policy.set);
	assert_string_equal(fsm_failover_policy(f), "manual");
	assert_int_equal(f->policy.max_lag_on_failover_ms, 1000);
	assert_int_equal(f->policy.cooldown_ms, 60000);
	assert_null(fsm_history_get(f, 0));
	assert_null(fsm_history_get(f, 1));
	for (i = 0; i < FSM_CODE_COUNT; i++)
		assert_string_equal(fsm_code_name(i), names[i]);
	assert_string_equal(fsm_code_name(-1), "unknown");
	assert_string_equal(fsm_code_name(FSM_CODE_COUNT), "unknown");
	assert_string_equal(fsm_failover_state_name(FSM_STATE_NORMAL),
			    "normal");
	assert_string_equal(fsm_failover_state_name(FSM_STATE_FAILING_OVER),
			    "failing_over");
	assert_string_equal(fsm_failover_state_name(FSM_STATE_FAILED_OVER),
			    "failed_over");
	assert_string_equal(fsm_failover_state_name(FSM_STATE_RECOVERING),
			    "recovering");
	assert_string_equal(fsm_failover_state_name(FSM_STATE_FAILING_BACK),
			    "failing_back");
	assert_string_equal(fsm_failover_state_name(99), "unknown");
	assert_string_equal(fsm_repl_mode_name(FSM_REPL_ASYNC), "async");
	assert_string_equal(fsm_repl_mode_name(FSM_REPL_SYNC), "sync");
	assert_string_equal(fsm_repl_mode_name(2), "unknown");
	assert_int_equal(f->cms_state, FSM_STATE_NORMAL);
	assert_int_equal(f->n_kept, 0);
}

/* ---- sites ---- */

static void test_sites(void **state)
{
	struct fsm *f = *state;
	char name[16];
	char long_name[FSM_NAME_LEN + 1];
	int i;

	ok(f, c_add_site("east"));
	assert_true(fsm_site_exists(f, "east"));
	assert_string_equal(last(f)->what, "add site east");
	assert_int_equal(last(f)->code, FSM_OK);
	refused(f, c_add_site("east"), FSM_E_EXISTS, "site east");
	refused(f, c_add_site(""), FSM_E_INVALID, "empty");
	refused(f, c_add_site("no space"), FSM_E_INVALID, "character");
	refused(f, c_add_site("caf\xc3\xa9"), FSM_E_INVALID, "character");
	memset(long_name, 'a', FSM_NAME_LEN);
	long_name[FSM_NAME_LEN] = '\0';
	refused(f, c_add_site(long_name), FSM_E_INVALID, "at most 63");
	long_name[FSM_NAME_LEN - 1] = '\0'; /* 63: the longest allowed */
	ok(f, c_add_site(long_name));
	ok(f, c_add_site("A.b_c-9"));
	for (i = (int)f->n_sites; i < FSM_MAX_SITES; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ok(f, c_add_site(name));
	}
	assert_int_equal(f->n_sites, FSM_MAX_SITES);
	refused(f, c_add_site("one-more"), FSM_E_FULL, "at most 16");

	refused(f, c_remove_site("nowhere"), FSM_E_NOT_FOUND, "nowhere");
	refused(f, c_remove_site("bad name"), FSM_E_INVALID, NULL);
	ok(f, c_remove_site("A.b_c-9"));
	assert_false(fsm_site_exists(f, "A.b_c-9"));
	assert_int_equal(f->n_sites, FSM_MAX_SITES - 1);
	assert_string_equal(f->sites[0].name, "east");
	assert_string_equal(last(f)->what, "remove site A.b_c-9");
}

/* A name starting with '-' (a hook passing $POOLPAIR_POOL on would hand
 * a command an option) is refused in every command that names something,
 * so that a forged command is refused too; '-' inside a name is fine. */
static void test_names_dash(void **state)
{
	struct fsm *f = *state;

	refused(f, c_add_site("-east"), FSM_E_INVALID, "starts with '-'");
	refused(f, c_add_pool("--help", "east", "enterprise", "physical",
			      "windows-2019"),
		FSM_E_INVALID, "pool name \"--help\" starts with '-'");
	refused(f, c_add_pool("pool-east", "-east", "enterprise", "physical",
			      "windows-2019"),
		FSM_E_INVALID, "pool site \"-east\" starts with '-'");
	refused(f, c_register(7, "w-1", "third", "-pool", "10.0.0.7:7000",
			      "10.0.0.7:7200", "10.0.0.7:8080"),
		FSM_E_INVALID, "member pool \"-pool\" starts with '-'");
	refused(f, c_register(7, "w-1", "-o", "", "10.0.0.7:7000", "",
			      "10.0.0.7:8080"),
		FSM_E_INVALID, "member site \"-o\" starts with '-'");
	ok(f, c_add_pool("pool-east", "east", "enterprise", "physical",
			 "windows-2019"));
	refused(f, c_add_sba("-sba", "branch", "pool-east"), FSM_E_INVALID,
		"sba name \"-sba\" starts with '-'");
	refused(f, c_add_sba("sba-1", "-branch", "pool-east"), FSM_E_INVALID,
		"starts with '-'");
	assert_false(fsm_site_exists(f, "-east"));
	assert_false(fsm_site_exists(f, "-branch"));
	assert_int_equal(f->n_pools, 1);
}

static void test_site_in_use(void **state)
{
	struct fsm *f = *state;

	ok(f, c_add_pool("pool-east", "east", "enterprise", "physical",
			 "windows-2019"));
	assert_true(fsm_site_exists(f, "east")); /* created implicitly */
	ok(f, c_add_sba("sba-1", "branch", "pool-east"));
	assert_true(fsm_site_exists(f, "branch"));
	ok(f, c_register(7, "witness-1", "third", "", "10.0.0.7:7000", "",
			 "10.0.0.7:8080"));
	assert_true(fsm_site_exists(f, "third"));
	refused(f, c_remove_site("east"), FSM_E_IN_USE, "pool pool-east");
	refused(f, c_remove_site("branch"), FSM_E_IN_USE, "sba sba-1");
	refused(f, c_remove_site("third"), FSM_E_IN_USE, "member 7");
	ok(f, c_remove_sba("sba-1"));
	ok(f, c_remove_site("branch"));
	ok(f, c_remove_member(7));
	ok(f, c_remove_site("third"));
	assert_false(fsm_site_exists(f, "third"));
	assert_true(fsm_site_exists(f, "east"));
}

/* ---- pools ---- */

static void test_add_pool(void **state)
{
	struct fsm *f = *state;
	const struct fsm_pool *p;

	ok(f, c_add_pool("pool-east", "east", "enterprise", "physical",
			 "windows-2019"));
	assert_string_equal(
	    last(f)->what,
	    "add pool pool-east (east, enterprise, physical, windows-2019)");
	assert_string_equal(last(f)->who, "operator@test");
	assert_int_equal(last(f)->time_ms, 1700000000000ull);
	p = pool(f, "pool-east");
	assert_string_equal(p->site, "east");
	assert_string_equal(p->edition, "enterprise");
	assert_string_equal(p->kind, "physical");
	assert_string_equal(p->os, "windows-2019");
	assert_int_equal(p->capacity, 5000);
	assert_string_equal(p->pair, "");
	assert_true(p->pair_supported);
	assert_string_equal(p->unsupported_reason, "");
	assert_string_equal(p->owner, "pool-east");
	assert_int_equal(p->epoch, 1);
	assert_int_equal(p->state, FSM_STATE_NORMAL);
	assert_true(fsm_site_exists(f, "east"));
	/* the first pool hosts the CMS */
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, 1);

	ok(f, c_add_pool("pool-west", "west", "standard", "virtual",
			 "windows-2022"));
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, 1);
	assert_int_equal(f->n_pools, 2);
	assert_string_equal(f->pools[1].name, "pool-west");

	refused(f,
		c_add_pool("pool-east", "east", "enterprise", "physical",
			   "windows-2019"),
		FSM_E_EXISTS, "pool pool-east is already defined");
	refused(f, c_add_pool("p", "east", "premium", "physical", "w"),
		FSM_E_INVALID, "edition \"premium\"");
	refused(f, c_add_pool("p", "east", "", "physical", "w"), FSM_E_INVALID,
		"edition");
	refused(f, c_add_pool("p", "east", "standard", "cloud", "w"),
		FSM_E_INVALID, "kind \"cloud\"");
	refused(f, c_add_pool("p", "east", "standard", "virtual", ""),
		FSM_E_INVALID, "pool os is empty");
	refused(f, c_add_pool("p", "east", "standard", "virtual", "win 2019"),
		FSM_E_INVALID, "pool os");
	refused(f, c_add_pool("", "east", "standard", "virtual", "w"),
		FSM_E_INVALID, "pool name is empty");
	refused(f, c_add_pool("p/q", "east", "standard", "virtual", "w"),
		FSM_E_INVALID, "pool name");
	refused(f, c_add_pool("p", "", "standard", "virtual", "w"),
		FSM_E_INVALID, "pool site is empty");
	refused(f,
		c_add_pool("p", "east",
			   "enterprise-enterprise-enterprise-enterprise-"
			   "enterprise-enterprise-enterprise",
			   "virtual", "w"),
		FSM_E_INVALID, "edition");
}

static void test_add_pool_without_pool(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
	c->add_pool = zalloc(sizeof(*c->add_pool));
	poolpair__cmd_add_pool__init(c->add_pool);
	refused(f, c, FSM_E_INVALID, "no pool");
}

static void test_pool_capacity(void **state)
{
	struct fsm *f = *state;
	char name[16];
	int i;

	for (i = 0; i < FSM_MAX_POOLS; i++) {
		snprintf(name, sizeof(name), "pool-%d", i);
		ok(f, c_add_pool(name, i % 2 ? "east" : "west", "standard",
				 "virtual", "debian-12"));
	}
	refused(
	    f, c_add_pool("pool-x", "east", "standard", "virtual", "debian-12"),
	    FSM_E_FULL, "at most 64 pools");
	assert_null(fsm_pool_find(f, "pool-x"));
}

static void test_pool_site_capacity(void **state)
{
	struct fsm *f = *state;
	char name[16];
	int i;

	for (i = 0; i < FSM_MAX_SITES; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ok(f, c_add_site(name));
	}
	/* an existing site is fine, a new one does not fit */
	ok(f, c_add_pool("pool-a", "s0", "standard", "virtual", "debian-12"));
	refused(f,
		c_add_pool("pool-b", "s16", "standard", "virtual", "debian-12"),
		FSM_E_FULL, "site s16");
	refused(f, c_add_sba("sba-1", "s17", "pool-a"), FSM_E_FULL, "site s17");
	refused(f, c_register(1, "m1", "s18", "pool-z", "h:1", "h:2", "h:3"),
		FSM_E_FULL, "site s18");
	assert_null(fsm_pool_find(f, "pool-b"));
	assert_null(fsm_sba_find(f, "sba-1"));
	assert_null(fsm_member_find(f, 1));
}

static void test_remove_pool(void **state)
{
	struct fsm *f = *state;

	base(f);
	refused(f, c_remove_pool("pool-none"), FSM_E_NOT_FOUND,
		"pool pool-none is not defined");
	refused(f, c_remove_pool(""), FSM_E_INVALID, NULL);
	/* hosts the CMS */
	refused(f, c_remove_pool("pool-east"), FSM_E_IN_USE,
		"pool-east hosts the active CMS");
	/* paired */
	ok(f, c_pair("pool-west", "pool-east2", false));
	refused(f, c_remove_pool("pool-west"), FSM_E_IN_USE,
		"pool-west is paired with pool-east2");
	refused(f, c_remove_pool("pool-east2"), FSM_E_IN_USE,
		"paired with pool-west");
	/* backup pool of an SBA */
	ok(f, c_add_sba("sba-1", "branch", "pool-std"));
	refused(f, c_remove_pool("pool-std"), FSM_E_IN_USE,
		"backup pool of sba sba-1");
	ok(f, c_remove_sba("sba-1"));
	ok(f, c_remove_pool("pool-std"));
	assert_null(fsm_pool_find(f, "pool-std"));
	assert_string_equal(last(f)->what, "remove pool pool-std");
	ok(f, c_unpair("pool-west"));
	ok(f, c_remove_pool("pool-west"));
	assert_int_equal(f->n_pools, 4);
	/* insertion order is kept */
	assert_string_equal(f->pools[0].name, "pool-east");
	assert_string_equal(f->pools[1].name, "pool-virt");
	assert_string_equal(f->pools[2].name, "pool-2022");
	assert_string_equal(f->pools[3].name, "pool-east2");
}

/* ---- pairing ---- */

static void test_pair_supported(void **state)
{
	struct fsm *f = *state;
	const struct fsm_pool *a, *b;

	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	a = pool(f, "pool-east");
	b = pool(f, "pool-west");
	assert_string_equal(a->pair, "pool-west");
	assert_string_equal(b->pair, "pool-east");
	assert_true(a->pair_supported);
	assert_true(b->pair_supported);
	assert_string_equal(a->unsupported_reason, "");
	assert_string_equal(last(f)->what, "pair pool-east pool-west");
	assert_false(last(f)->forced);
	assert_string_equal(last(f)->reason, "");
}

static void test_pair_force_without_need(void **state)
{
	struct fsm *f = *state;

	base(f);
	ok(f, c_pair("pool-east", "pool-west", true));
	assert_true(pool(f, "pool-east")->pair_supported);
	assert_false(last(f)->forced);
	assert_string_equal(last(f)->what, "pair pool-east pool-west");
}

struct rule_case {
	const char *other;
	int code;
	const char *reason;
	const char *unsupported;
};

static const struct rule_case rule_cases[] = {
    {"pool-std", FSM_E_PAIR_EDITION,
     "pool-east is enterprise but pool-std is standard: paired pools must "
     "have the same edition",
     "edition enterprise vs standard"},
    {"pool-virt", FSM_E_PAIR_KIND,
     "pool-east is physical but pool-virt is virtual: paired pools must be "
     "of the same kind",
     "kind physical vs virtual"},
    {"pool-2022", FSM_E_PAIR_OS,
     "pool-east runs windows-2019 but pool-2022 runs windows-2022: paired "
     "pools must run the same os",
     "os windows-2019 vs windows-2022"},
    {"pool-east2", FSM_E_PAIR_SITE,
     "pool-east and pool-east2 are both in site east: paired pools must be "
     "in different sites",
     "both in site east"},
};

static void test_pair_each_rule(void **state)
{
	struct fsm *f = *state;
	size_t i;

	base(f);
	for (i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
		const struct rule_case *rc = &rule_cases[i];
		const struct fsm_pool *a, *b;
		const struct fsm_history *h;
		char what[FSM_WHAT_LEN];

		/* refused without force, with the rule in the reason */
		refused(f, c_pair("pool-east", rc->other, false), rc->code,
			rc->reason);
		assert_string_equal(last(f)->reason, rc->reason);
		/* made with force and marked unsupported */
		ok(f, c_pair("pool-east", rc->other, true));
		a = pool(f, "pool-east");
		b = pool(f, rc->other);
		assert_string_equal(a->pair, rc->other);
		assert_string_equal(b->pair, "pool-east");
		assert_false(a->pair_supported);
		assert_false(b->pair_supported);
		assert_non_null(strstr(a->unsupported_reason, rc->unsupported));
		assert_string_equal(a->unsupported_reason,
				    b->unsupported_reason);
		h = last(f);
		assert_true(h->forced);
		assert_int_equal(h->code, FSM_OK);
		assert_non_null(strstr(h->reason, rc->unsupported));
		snprintf(what, sizeof(what), "pair pool-east %s (forced)",
			 rc->other);
		assert_string_equal(h->what, what);
		/* undo for the next rule */
		ok(f, c_unpair(rc->other));
		a = pool(f, "pool-east");
		b = pool(f, rc->other);
		assert_string_equal(a->pair, "");
		assert_string_equal(b->pair, "");
		assert_true(a->pair_supported);
		assert_true(b->pair_supported);
		assert_string_equal(a->unsupported_reason, "");
		assert_string_equal(b->unsupported_reason, "");
	}
}

static void test_pair_all_rules(void **state)
{
	struct fsm *f = *state;
	const struct fsm_pool *a;

	ok(f, c_add_pool("pool-a", "east", "enterprise", "physical",
			 "windows-2019"));
	ok(f,
	   c_add_pool("pool-b", "east", "standard", "virtual", "windows-2022"));
	/* the first broken rule in order is the one reported */
	refused(f, c_pair("pool-a", "pool-b", false), FSM_E_PAIR_EDITION,
		"same edition");
	ok(f, c_pair("pool-b", "pool-a", true));
	a = pool(f, "pool-a");
	assert_false(a->pair_supported);
	assert_string_equal(a->unsupported_reason,
			    "unsupported pairing: edition standard vs "
			    "enterprise; kind virtual vs physical; os "
			    "windows-2022 vs windows-2019; both in site east");
	assert_true(last(f)->forced);
}

static void test_pair_all_rules_long_names(void **state)
{
	struct fsm *f = *state;
	char os_a[FSM_NAME_LEN], os_b[FSM_NAME_LEN], site[FSM_NAME_LEN];

	memset(os_a, 'a', sizeof(os_a) - 1);
	os_a[sizeof(os_a) - 1] = '\0';
	memset(os_b, 'b', sizeof(os_b) - 1);
	os_b[sizeof(os_b) - 1] = '\0';
	memset(site, 's', sizeof(site) - 1);
	site[sizeof(site) - 1] = '\0';
	ok(f, c_add_pool("pool-a", site, "enterprise", "physical", os_a));
	ok(f, c_add_pool("pool-b", site, "standard", "virtual", os_b));
	ok(f, c_pair("pool-a", "pool-b", true));
	/* too long with the values: every rule is still named */
	assert_string_equal(pool(f, "pool-a")->unsupported_reason,
			    "unsupported pairing: different editions; "
			    "different kinds; different os; same site");
}

static void test_pair_refusals(void **state)
{
	struct fsm *f = *state;

	base(f);
	refused(f, c_pair("pool-none", "pool-west", false), FSM_E_NOT_FOUND,
		"pool pool-none is not defined");
	refused(f, c_pair("pool-east", "pool-none", true), FSM_E_NOT_FOUND,
		"pool pool-none is not defined");
	refused(f, c_pair("pool-east", "", false), FSM_E_INVALID, "empty");
	refused(f, c_pair("pool-east", "pool-east", false), FSM_E_PAIR_SELF,
		"itself");
	refused(f, c_pair("pool-east", "pool-east", true), FSM_E_PAIR_SELF,
		"itself");
	ok(f, c_pair("pool-east", "pool-west", false));
	refused(f, c_pair("pool-east", "pool-east2", false), FSM_E_PAIR_ALREADY,
		"pool-east is already paired with pool-west");
	refused(f, c_pair("pool-east2", "pool-west", true), FSM_E_PAIR_ALREADY,
		"pool-west is already paired with pool-east");
	refused(f, c_pair("pool-west", "pool-east", true), FSM_E_PAIR_ALREADY,
		"at most one pair");
	/* a refused forced pair is not marked forced */
	assert_false(last(f)->forced);
}

/* ---- unpair ---- */

static void test_unpair(void **state)
{
	struct fsm *f = *state;

	base(f);
	refused(f, c_unpair("pool-none"), FSM_E_NOT_FOUND, "pool-none");
	refused(f, c_unpair("pool-east"), FSM_E_NOT_PAIRED,
		"pool pool-east is not paired");
	refused(f, c_unpair("bad name"), FSM_E_INVALID, NULL);
	ok(f, c_pair("pool-east", "pool-west", false));

	/* refused in every state of a failover of either pool */
	ok(f, c_planned("pool-west"));
	refused(f, c_unpair("pool-east"), FSM_E_FAILED_OVER,
		"pool-west is failing_over");
	refused(f, c_unpair("pool-west"), FSM_E_FAILED_OVER, "not normal");
	ok(f, c_complete("pool-west"));
	assert_int_equal(pool(f, "pool-west")->state, FSM_STATE_FAILED_OVER);
	refused(f, c_unpair("pool-east"), FSM_E_FAILED_OVER,
		"pool-west is failed_over");
	refused(f, c_unpair("pool-west"), FSM_E_FAILED_OVER, "not normal");
	ok(f, c_recovering("pool-west"));
	refused(f, c_unpair("pool-west"), FSM_E_FAILED_OVER,
		"pool-west is recovering");
	ok(f, c_fb_begin("pool-west", false));
	refused(f, c_unpair("pool-east"), FSM_E_FAILED_OVER,
		"pool-west is failing_back");
	ok(f, c_fb_complete("pool-west"));
	ok(f, c_unpair("pool-west"));
	assert_string_equal(last(f)->what, "unpair pool-west");
	assert_string_equal(pool(f, "pool-east")->pair, "");
	assert_string_equal(pool(f, "pool-west")->pair, "");
	/* a pool can be paired again after unpairing */
	ok(f, c_pair("pool-west", "pool-east2", false));
}

/* ---- SBAs ---- */

static void test_sbas(void **state)
{
	struct fsm *f = *state;
	const struct fsm_sba *s;
	char name[16];
	int i;

	base(f);
	ok(f, c_add_sba("sba-1", "branch", "pool-east"));
	assert_string_equal(last(f)->what,
			    "add sba sba-1 (branch, backup pool-east)");
	s = fsm_sba_find(f, "sba-1");
	assert_non_null(s);
	assert_string_equal(s->site, "branch");
	assert_string_equal(s->backup_pool, "pool-east");
	assert_true(fsm_site_exists(f, "branch"));
	refused(f, c_add_sba("sba-1", "branch", "pool-west"), FSM_E_EXISTS,
		"sba sba-1 is already defined");
	refused(f, c_add_sba("sba-2", "branch", "pool-none"), FSM_E_NOT_FOUND,
		"backup pool pool-none");
	refused(f, c_add_sba("sba 2", "branch", "pool-east"), FSM_E_INVALID,
		"sba name");
	refused(f, c_add_sba("sba-2", "", "pool-east"), FSM_E_INVALID,
		"sba site");
	refused(f, c_add_sba("sba-2", "branch", ""), FSM_E_INVALID,
		"backup pool");
	for (i = 1; i < FSM_MAX_SBAS; i++) {
		snprintf(name, sizeof(name), "sba-%d", i + 1);
		ok(f, c_add_sba(name, "branch", "pool-west"));
	}
	assert_int_equal(f->n_sbas, FSM_MAX_SBAS);
	refused(f, c_add_sba("sba-x", "branch", "pool-west"), FSM_E_FULL,
		"at most 256");
	refused(f, c_remove_sba("sba-none"), FSM_E_NOT_FOUND, "sba-none");
	refused(f, c_remove_sba(""), FSM_E_INVALID, NULL);
	ok(f, c_remove_sba("sba-1"));
	assert_null(fsm_sba_find(f, "sba-1"));
	assert_string_equal(f->sbas[0].name, "sba-2");
	assert_string_equal(last(f)->what, "remove sba sba-1");
	ok(f, c_add_sba("sba-x", "branch", "pool-west"));
}

static void test_add_sba_without_sba(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_ADD_SBA;
	c->add_sba = zalloc(sizeof(*c->add_sba));
	poolpair__cmd_add_sba__init(c->add_sba);
	refused(f, c, FSM_E_INVALID, "no sba");
}

/* ---- members ---- */

static void test_members(void **state)
{
	struct fsm *f = *state;
	const struct fsm_member *m;
	char addr[FSM_ADDR_LEN + 1];

	ok(f, c_register(1, "east-1", "east", "pool-east", "10.0.0.1:7000",
			 "10.0.0.1:7001", "10.0.0.1:8080"));
	m = fsm_member_find(f, 1);
	assert_non_null(m);
	assert_string_equal(m->name, "east-1");
	assert_string_equal(m->site, "east");
	assert_string_equal(m->pool, "pool-east"); /* need not exist */
	assert_string_equal(m->raft_address, "10.0.0.1:7000");
	assert_string_equal(m->data_address, "10.0.0.1:7001");
	assert_string_equal(m->api_address, "10.0.0.1:8080");
	assert_true(fsm_site_exists(f, "east"));
	assert_string_equal(last(f)->what,
			    "register member 1 east-1 (east, pool-east)");

	/* re-registration (same name, site and pool) moves the addresses in
	 * place; another identity is refused (test_fsm_writer.c) */
	ok(f, c_register(2, "west-1", "west", "pool-west", "[::1]:7000",
			 "[::1]:7001", "[::1]:8080"));
	ok(f, c_register(1, "east-1", "east", "pool-east", "10.0.0.9:7000",
			 "10.0.0.9:7001", "10.0.0.9:8080"));
	assert_int_equal(f->n_members, 2);
	assert_int_equal(f->members[0].id, 1);
	m = fsm_member_find(f, 1);
	assert_string_equal(m->name, "east-1");
	assert_string_equal(m->site, "east");
	assert_string_equal(m->pool, "pool-east");
	assert_string_equal(m->raft_address, "10.0.0.9:7000");
	assert_string_equal(m->data_address, "10.0.0.9:7001");
	assert_string_equal(m->api_address, "10.0.0.9:8080");
	/* the API of a pool is its writer's (test_fsm_writer.c): none yet */
	assert_null(fsm_pool_api(f, "pool-east"));
	assert_null(fsm_pool_api(f, "pool-west"));
	assert_null(fsm_pool_api(f, "pool-east2"));
	assert_null(fsm_pool_api(f, ""));
	assert_null(fsm_pool_api(f, NULL));

	/* a witness has no pool and no data address */
	ok(f, c_register(3, "witness-1", "third", "", "10.0.0.3:7000", "",
			 "10.0.0.3:8080"));
	assert_string_equal(fsm_member_find(f, 3)->pool, "");
	/* a member without a pool is no pool's agent */
	assert_null(fsm_pool_api(f, ""));
	assert_string_equal(last(f)->what,
			    "register member 3 witness-1 (third, witness)");

	refused(f, c_register(0, "m", "east", "", "h:1", "", "h:3"),
		FSM_E_INVALID, "member id");
	refused(f, c_register(4, "", "east", "", "h:1", "", "h:3"),
		FSM_E_INVALID, "member name is empty");
	refused(f, c_register(4, "m", "", "", "h:1", "", "h:3"), FSM_E_INVALID,
		"member site is empty");
	refused(f, c_register(4, "m", "east", "p q", "h:1", "h:2", "h:3"),
		FSM_E_INVALID, "member pool");
	refused(f, c_register(4, "m", "east", "", "", "", "h:3"), FSM_E_INVALID,
		"raft address is empty");
	refused(f, c_register(4, "m", "east", "", "h:1", "", ""), FSM_E_INVALID,
		"api address is empty");
	refused(f, c_register(4, "m", "east", "pool-x", "h:1", "", "h:3"),
		FSM_E_INVALID, "data address is empty");
	refused(f, c_register(4, "m", "east", "", "h 1", "", "h:3"),
		FSM_E_INVALID, "raft address");
	memset(addr, 'h', FSM_ADDR_LEN);
	addr[FSM_ADDR_LEN] = '\0';
	refused(f, c_register(4, "m", "east", "", addr, "", "h:3"),
		FSM_E_INVALID, "at most 127");
	refused(f, c_register(1, "m", "east", "", "h:1", "", addr),
		FSM_E_INVALID, "api address");
	addr[FSM_ADDR_LEN - 1] = '\0'; /* 127 fits */
	ok(f, c_register(4, "m", "east", "", addr, "", "h:3"));
	assert_string_equal(fsm_member_find(f, 4)->raft_address, addr);

	refused(f, c_remove_member(99), FSM_E_NOT_FOUND,
		"member 99 is not registered");
	refused(f, c_remove_member(0), FSM_E_INVALID, NULL);
	ok(f, c_remove_member(1));
	assert_string_equal(last(f)->what, "remove member 1");
	assert_null(fsm_member_find(f, 1));
	assert_int_equal(f->members[0].id, 2);
	assert_int_equal(f->n_members, 3);
}

static void test_member_capacity(void **state)
{
	struct fsm *f = *state;
	char name[16];
	uint64_t id;

	for (id = 1; id <= FSM_MAX_MEMBERS; id++) {
		snprintf(name, sizeof(name), "m%u", (unsigned)id);
		ok(f, c_register(id, name, "east", "", "h:1", "", "h:3"));
	}
	refused(f, c_register(100, "m100", "east", "", "h:1", "", "h:3"),
		FSM_E_FULL, "at most 32");
	/* an update still works when full */
	ok(f, c_register(5, "m5", "east", "", "h:9", "", "h:3"));
	assert_string_equal(fsm_member_find(f, 5)->raft_address, "h:9");
}

static void test_register_without_member(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
	c->register_member = zalloc(sizeof(*c->register_member));
	poolpair__cmd_register_member__init(c->register_member);
	refused(f, c, FSM_E_INVALID, "no member");
}

/* ---- policy ---- */

static void test_policy(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command *c;

	ok(f, c_policy("auto", 500, 30000));
	assert_string_equal(f->policy.failover, "auto");
	assert_int_equal(f->policy.max_lag_on_failover_ms, 500);
	assert_int_equal(f->policy.cooldown_ms, 30000);
	assert_string_equal(
	    last(f)->what,
	    "set policy failover auto, max lag 500 ms, cooldown 30000 ms");
	refused(f, c_policy("sometimes", 1, 1), FSM_E_INVALID,
		"\"sometimes\" is not auto, manual or \"\" (the default)");
	refused(f, c_policy("automatic-with-a-very-long-name", 1, 1),
		FSM_E_INVALID, NULL);
	c = cmd_new();
	c->op_case = POOLPAIR__COMMAND__OP_SET_POLICY;
	c->set_policy = zalloc(sizeof(*c->set_policy));
	poolpair__cmd_set_policy__init(c->set_policy);
	refused(f, c, FSM_E_INVALID, "no policy");
	ok(f, c_policy("manual", 0, 0));
	assert_string_equal(f->policy.failover, "manual");
	assert_int_equal(f->policy.max_lag_on_failover_ms, 0);

	/* merge: two changes of different fields, proposed against the same
	 * old policy, both take effect */
	c = c_policy("auto", 0, 0);
	c->set_policy->merge = true;
	c->set_policy->has_failover = true;
	ok(f, c);
	c = c_policy("manual", 777, 0);
	c->set_policy->merge = true;
	c->set_policy->has_max_lag = true;
	ok(f, c);
	assert_string_equal(f->policy.failover, "auto");
	assert_int_equal(f->policy.max_lag_on_failover_ms, 777);
	assert_int_equal(f->policy.cooldown_ms, 0);
	/* a merge that leaves failover alone does not check it */
	c = c_policy("", 0, 5000);
	c->set_policy->merge = true;
	c->set_policy->has_cooldown = true;
	ok(f, c);
	assert_string_equal(f->policy.failover, "auto");
	assert_int_equal(f->policy.cooldown_ms, 5000);
	/* a merged failover is still validated */
	c = c_policy("never", 0, 0);
	c->set_policy->merge = true;
	c->set_policy->has_failover = true;
	refused(f, c, FSM_E_INVALID, "not auto, manual");
	/* "" goes back to the default (tests/unit/test_fsm_policy.c) */
	ok(f, c_policy("", 1, 1));
	assert_string_equal(f->policy.failover, "");
	assert_true(f->policy.set);
	assert_string_equal(
	    last(f)->what,
	    "set policy failover default, max lag 1 ms, cooldown 1 ms");
}

/* ---- recorded events ---- */

static Poolpair__Command *c_event(const char *what, bool forced, bool okay,
				  const char *detail)
{
	Poolpair__Command *c = cmd_new();

	c->op_case = POOLPAIR__COMMAND__OP_RECORD_EVENT;
	c->record_event = zalloc(sizeof(*c->record_event));
	poolpair__cmd_record_event__init(c->record_event);
	c->record_event->what = dup(what);
	c->record_event->forced = forced;
	c->record_event->ok = okay;
	c->record_event->detail = dup(detail);
	return c;
}

static void test_record_event(void **state)
{
	struct fsm *f = *state;
	struct fsm *before;

	base(f);
	before = copy_of(f);
	ok(f, c_event("recover --force-quorum", true, true, "voters: 2"));
	assert_same_state(before, f);
	assert_string_equal(last(f)->what, "recover --force-quorum: voters: 2");
	assert_true(last(f)->forced);
	assert_int_equal(last(f)->code, FSM_OK);
	refused(f, c_event("hook fence for pool-east", false, false, "exit 3"),
		FSM_E_REFUSED_EVENT, "exit 3");
	assert_string_equal(fsm_code_name(FSM_E_REFUSED_EVENT), "event_failed");
	refused(f, c_event("", false, true, ""), FSM_E_INVALID, "needs a what");
	free(before);
}

/* ---- CMS ---- */

static void clear_cms(Poolpair__State *st) { set_str(&st->cms->active, ""); }

static void test_cms_place(void **state)
{
	struct fsm *f = *state;

	refused(f, c_cms("pool-east"), FSM_E_NOT_FOUND, "pool-east");
	base(f);
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, 1);
	/* already there: a no-op */
	ok(f, c_cms("pool-east"));
	assert_int_equal(f->cms_epoch, 1);
	assert_string_equal(last(f)->what, "place cms on pool-east");
	refused(f, c_cms("pool-west"), FSM_E_IN_USE,
		"the active CMS is on pool-east: move it with a CMS failover");
	refused(f, c_cms("pool-none"), FSM_E_NOT_FOUND, "pool-none");
	refused(f, c_cms(""), FSM_E_INVALID, NULL);

	/* with no CMS placed (epoch kept), placing raises the epoch */
	assert_int_equal(restore_edited(f, clear_cms), 0);
	assert_string_equal(f->cms_active, "");
	assert_int_equal(f->cms_epoch, 1);
	ok(f, c_cms("pool-west"));
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 2);
	/* pool-west now hosts the CMS, pool-east no longer does */
	refused(f, c_remove_pool("pool-west"), FSM_E_IN_USE, "CMS");
	ok(f, c_remove_pool("pool-east"));
}

/* ---- topology ---- */

static void test_topology_applies(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command *steps[6];
	uint64_t before;

	steps[0] = c_add_site("east");
	steps[1] = c_add_pool("pool-east", "east", "enterprise", "physical",
			      "windows-2019");
	steps[2] = c_add_pool("pool-west", "west", "enterprise", "physical",
			      "windows-2019");
	steps[3] = c_pair("pool-east", "pool-west", false);
	steps[4] = c_add_sba("sba-1", "branch", "pool-west");
	steps[5] = c_policy("auto", 200, 1000);
	before = f->decisions;
	ok(f, c_topology(6, steps));
	assert_int_equal(f->decisions, before + 1);
	assert_string_equal(last(f)->what, "topology: 6 steps");
	assert_false(last(f)->forced);
	assert_string_equal(pool(f, "pool-east")->pair, "pool-west");
	assert_non_null(fsm_sba_find(f, "sba-1"));
	assert_string_equal(f->policy.failover, "auto");
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->n_sites, 3);

	/* empty topology */
	ok(f, c_topology(0, steps));
	assert_string_equal(last(f)->what, "topology: 0 steps");
	steps[0] = c_add_site("x");
	ok(f, c_topology(1, steps));
	assert_string_equal(last(f)->what, "topology: 1 step");
}

static void test_topology_atomic(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command *steps[4];
	struct fsm *before;

	base(f);
	before = copy_of(f);
	steps[0] = c_add_site("south");
	steps[1] = c_add_pool("pool-new", "south", "enterprise", "physical",
			      "windows-2019");
	steps[2] = c_pair("pool-east", "pool-std", false); /* refused */
	steps[3] = c_add_sba("sba-1", "branch", "pool-new");
	refused(f, c_topology(4, steps), FSM_E_PAIR_EDITION,
		"step 3 (pair pool-east pool-std): pool-east is enterprise but "
		"pool-std is standard");
	assert_null(fsm_pool_find(f, "pool-new"));
	assert_false(fsm_site_exists(f, "south"));
	assert_string_equal(last(f)->what, "topology: 4 steps");
	assert_int_equal(f->decisions, before->decisions + 1);
	assert_same_state(before, f);
	/* the steps wrote no history */
	assert_memory_equal(before->history, f->history,
			    sizeof(f->history[0]) * before->decisions);

	/* a step that depends on an earlier one: both refused together */
	steps[0] = c_add_pool("pool-new", "south", "enterprise", "physical",
			      "windows-2019");
	steps[1] = c_add_pool("pool-new", "south", "enterprise", "physical",
			      "windows-2019");
	refused(f, c_topology(2, steps), FSM_E_EXISTS,
		"step 2 (add pool pool-new");
	assert_null(fsm_pool_find(f, "pool-new"));
	free(before);
}

static void test_topology_forced_and_limits(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command **steps;
	Poolpair__Command *inner[1], *outer[2];
	char name[16];
	size_t i;

	base(f);
	outer[0] = c_pair("pool-east", "pool-std", true);
	outer[1] = c_add_site("south");
	ok(f, c_topology(2, outer));
	assert_true(last(f)->forced);
	assert_non_null(strstr(last(f)->reason, "step 1 (pair pool-east "
						"pool-std (forced)): "));
	assert_false(pool(f, "pool-std")->pair_supported);

	/* a nested topology */
	inner[0] = c_add_site("north");
	outer[0] = c_add_site("north2");
	outer[1] = c_topology(1, inner);
	refused(f, c_topology(2, outer), FSM_E_NESTED, "step 2 (topology)");
	assert_false(fsm_site_exists(f, "north2"));

	/* too many steps */
	steps = zalloc((FSM_MAX_TOPOLOGY_STEPS + 1) * sizeof(*steps));
	for (i = 0; i < FSM_MAX_TOPOLOGY_STEPS + 1; i++) {
		snprintf(name, sizeof(name), "s%zu", i);
		steps[i] = c_add_site(name);
	}
	refused(f, c_topology(FSM_MAX_TOPOLOGY_STEPS + 1, steps), FSM_E_INVALID,
		"at most 256");
	free(steps);
}

/* Write varint v just before *pos (building a message back to front). */
static void put_varint_before(uint8_t **pos, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			tmp[n] |= 0x80;
		n++;
	} while (v != 0);
	*pos -= n;
	memcpy(*pos, tmp, n);
}

static void test_topology_deep_nesting(void **state)
{
	struct fsm *f = *state;
	const size_t cap = 1u << 20;
	uint8_t *buf = zalloc(cap);
	uint8_t *end = buf + cap, *pos = end;
	struct fsm *before;
	struct fsm_result res;
	unsigned levels = 0;

	base(f);
	before = copy_of(f);
	/* Command{topology{steps[Command{topology{...}}]}} as deep as 1 MiB
	 * allows: a decoder that recursed would run out of stack. */
	while (pos - buf > 16) {
		size_t inner = (size_t)(end - pos);

		put_varint_before(&pos, inner);
		*--pos = 0x0a; /* CmdTopology.steps */
		inner = (size_t)(end - pos);
		put_varint_before(&pos, inner);
		*--pos = 0x01; /* Command.topology = 22, length-delimited */
		*--pos = 0xb2;
		levels++;
	}
	assert_true(levels > 50000);
	assert_int_equal(fsm_apply(f, pos, (size_t)(end - pos), &res),
			 FSM_E_NESTED);
	assert_same_state(before, f);
	assert_int_equal(last(f)->code, FSM_E_NESTED);
	free(before);
	free(buf);
}

/* ---- malformed input ---- */

static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_malformed_empty(void **state)
{
	struct fsm *f = *state;
	struct fsm *before;
	struct fsm_result res;
	static const uint8_t junk[] = {0xff, 0xff, 0xff};

	base(f);
	before = copy_of(f);
	assert_int_equal(fsm_apply(f, NULL, 0, &res), FSM_E_MALFORMED);
	assert_int_equal(res.seq, before->decisions + 1);
	assert_int_equal(last(f)->code, FSM_E_MALFORMED);
	assert_string_equal(last(f)->what, "malformed command");
	assert_true(res.reason[0] != '\0');
	assert_int_equal(fsm_apply(f, junk, 0, NULL), FSM_E_MALFORMED);
	assert_int_equal(fsm_apply(f, NULL, 10, &res), FSM_E_MALFORMED);
	assert_int_equal(fsm_apply(f, junk, sizeof(junk), &res),
			 FSM_E_MALFORMED);
	assert_int_equal(last(f)->code, FSM_E_MALFORMED);
	assert_string_equal(last(f)->who, "");
	assert_int_equal(f->decisions, before->decisions + 4);
	assert_same_state(before, f);
	free(before);
}

static void test_malformed_no_op(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command *c = cmd_new();

	free(c->who);
	c->who = dup("agent:east-1");
	c->time_ms = 42;
	refused(f, c, FSM_E_MALFORMED, "no operation");
	assert_string_equal(last(f)->who, "agent:east-1");
	assert_int_equal(last(f)->time_ms, 42);
}

static void test_malformed_too_large(void **state)
{
	struct fsm *f = *state;
	size_t len = (1u << 20) + 1;
	uint8_t *buf = zalloc(len);
	struct fsm_result res;

	assert_int_equal(fsm_apply(f, buf, len, &res), FSM_E_MALFORMED);
	assert_non_null(strstr(res.reason, "at most 1048576"));
	assert_int_equal(f->decisions, 1);
	free(buf);
}

static void test_malformed_random(void **state)
{
	struct fsm *f = *state;
	struct fsm *before;
	uint8_t buf[300];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned i, malformed = 0;

	base(f);
	for (i = 0; i < 5000; i++) {
		size_t len = next_random(&seed) % sizeof(buf), j;
		struct fsm_result res;
		int code;

		for (j = 0; j < len; j++)
			buf[j] = (uint8_t)next_random(&seed);
		/* sometimes start like a real command */
		if (i % 3 == 0 && len > 4) {
			buf[0] = 0x82;
			buf[1] = 0x01; /* add_pool, length-delimited */
			buf[2] = (uint8_t)(len - 3);
		}
		before = copy_of(f);
		code = fsm_apply(f, buf, len, &res);
		assert_true(code >= 0 && code < FSM_CODE_COUNT);
		assert_int_equal(code, res.code);
		assert_int_equal(f->decisions, before->decisions + 1);
		assert_int_equal(last(f)->code, code);
		if (code != FSM_OK)
			assert_same_state(before, f);
		if (code == FSM_E_MALFORMED)
			malformed++;
		free(before);
	}
	assert_true(malformed > 4000);
}

static void test_malformed_truncated(void **state)
{
	struct fsm *f = *state;
	struct fsm *before;
	uint8_t *buf;
	size_t len, cut;

	base(f);
	buf = pack(c_add_pool("pool-new", "south", "enterprise", "physical",
			      "windows-2019"),
		   &len);
	before = copy_of(f);
	for (cut = 0; cut < len; cut++) {
		uint8_t *part = zalloc(cut > 0 ? cut : 1);

		memcpy(part, buf, cut);
		assert_int_equal(fsm_apply(f, part, cut, NULL),
				 FSM_E_MALFORMED);
		assert_same_state(before, f);
		free(part);
	}
	assert_int_equal(f->decisions, before->decisions + len);
	assert_int_equal(fsm_apply(f, buf, len, NULL), FSM_OK);
	assert_non_null(fsm_pool_find(f, "pool-new"));
	free(before);
	free(buf);
}

/* ---- history ---- */

static void test_history_who(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command *c;
	const struct fsm_history *h;
	char who[400];
	size_t i;

	/* long ASCII: cut to fit */
	c = c_add_site("a1");
	memset(who, 'w', 300);
	who[300] = '\0';
	free(c->who);
	c->who = dup(who);
	ok(f, c);
	h = last(f);
	assert_int_equal(strlen(h->who), FSM_WHO_LEN - 1);

	/* long UTF-8: never cut inside a character */
	c = c_add_site("a2");
	who[0] = 'x';
	for (i = 1; i + 2 < 300; i += 2)
		memcpy(who + i, "\xc3\xa9", 2);
	who[i] = '\0';
	free(c->who);
	c->who = dup(who);
	ok(f, c);
	h = last(f);
	assert_true(strlen(h->who) <= FSM_WHO_LEN - 1);
	assert_int_equal(strlen(h->who) % 2, 1); /* 'x' then whole pairs */
	assert_int_equal((unsigned char)h->who[strlen(h->who) - 1], 0xa9);

	/* control characters are replaced */
	c = c_add_site("a3");
	free(c->who);
	c->who = dup("evil\n\x1b[31mname");
	ok(f, c);
	assert_string_equal(last(f)->who, "evil??[31mname");
}

static void test_history_ring(void **state)
{
	struct fsm *f = *state;
	const struct fsm_history *h;
	Poolpair__State *st;
	char name[32];
	void *buf;
	size_t len, i;
	uint64_t seq;

	for (i = 1; i <= 300; i++) {
		Poolpair__Command *c;

		snprintf(name, sizeof(name), "s%zu", i);
		c = c_remove_site(name); /* refused: not found */
		c->time_ms = i;
		run(f, c, NULL);
	}
	assert_int_equal(f->decisions, 300);
	assert_null(fsm_history_get(f, 0));
	assert_null(fsm_history_get(f, 1));
	assert_null(fsm_history_get(f, 44));
	assert_null(fsm_history_get(f, 301));
	for (seq = 45; seq <= 300; seq++) {
		h = fsm_history_get(f, seq);
		assert_non_null(h);
		assert_int_equal(h->seq, seq);
		assert_int_equal(h->time_ms, seq);
		assert_int_equal(h->code, FSM_E_NOT_FOUND);
		snprintf(name, sizeof(name), "remove site s%u", (unsigned)seq);
		assert_string_equal(h->what, name);
		assert_ptr_equal(h, &f->history[(seq - 1) % FSM_HISTORY]);
	}
	/* the snapshot carries the ring in seq order */
	assert_int_equal(fsm_snapshot(f, &buf, &len), 0);
	st = poolpair__state__unpack(NULL, len, buf);
	assert_non_null(st);
	assert_int_equal(st->n_history, FSM_HISTORY);
	assert_int_equal(st->decisions, 300);
	for (i = 0; i < st->n_history; i++)
		assert_int_equal(st->history[i]->seq, 45 + i);
	poolpair__state__free_unpacked(st, NULL);
	free(buf);
}

/* ---- snapshots ---- */

static void populate(struct fsm *f)
{
	int i;

	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, c_pair("pool-east2", "pool-2022", true)); /* os differs */
	ok(f, c_add_sba("sba-1", "branch", "pool-east"));
	ok(f, c_add_sba("sba-2", "branch2", "pool-std"));
	ok(f, c_register(1, "east-1", "east", "pool-east", "10.0.0.1:7000",
			 "10.0.0.1:7001", "10.0.0.1:8080"));
	ok(f, c_register(9, "witness", "third", "", "10.0.0.9:7000", "",
			 "10.0.0.9:8080"));
	ok(f, c_policy("auto", 750, 12345));
	for (i = 0; i < 270; i++)
		run(f, c_pair("pool-east", "pool-none", false), NULL);
	ok(f, c_add_site("lonely"));
}

static void test_snapshot_round_trip(void **state)
{
	struct fsm *f = *state;
	struct fsm *g = malloc(sizeof(*g));
	void *a, *b, *c;
	size_t alen, blen, clen;
	uint64_t seq;

	assert_non_null(g);
	/* empty state too */
	fsm_init(g);
	assert_int_equal(fsm_snapshot(f, &a, &alen), 0);
	assert_int_equal(fsm_restore(g, a, alen), 0);
	assert_int_equal(fsm_snapshot(g, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);

	populate(f);
	assert_int_equal(fsm_snapshot(f, &a, &alen), 0);
	assert_int_equal(fsm_snapshot(f, &c, &clen), 0); /* deterministic */
	assert_int_equal(alen, clen);
	assert_memory_equal(a, c, alen);
	free(c);
	fsm_init(g);
	assert_int_equal(fsm_restore(g, a, alen), 0);
	assert_int_equal(fsm_snapshot(g, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);

	/* the restored state reads the same */
	assert_same_state(f, g);
	assert_int_equal(g->decisions, f->decisions);
	for (seq = 1; seq <= f->decisions; seq++) {
		const struct fsm_history *x = fsm_history_get(f, seq);
		const struct fsm_history *y = fsm_history_get(g, seq);

		if (x == NULL) {
			assert_null(y);
			continue;
		}
		assert_non_null(y);
		assert_int_equal(x->time_ms, y->time_ms);
		assert_string_equal(x->who, y->who);
		assert_string_equal(x->what, y->what);
		assert_string_equal(x->reason, y->reason);
		assert_int_equal(x->code, y->code);
		assert_int_equal(x->forced, y->forced);
	}
	assert_false(pool(g, "pool-east2")->pair_supported);
	assert_string_equal(fsm_member_find(g, 9)->data_address, "");

	/* and goes on the same way */
	ok(f, c_unpair("pool-east2"));
	ok(g, c_unpair("pool-east2"));
	free(a);
	free(b);
	assert_int_equal(fsm_snapshot(f, &a, &alen), 0);
	assert_int_equal(fsm_snapshot(g, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
	free(g);
}

/* Expect restore_edited(edit) to be refused with f unchanged. */
static void restore_refused(struct fsm *f, void (*edit)(Poolpair__State *))
{
	struct fsm *before = copy_of(f);

	assert_int_equal(restore_edited(f, edit), -EINVAL);
	assert_memory_equal(before, f, sizeof(*f));
	free(before);
}

static void edit_version(Poolpair__State *st) { st->version = 2; }

static void edit_too_many_sites(Poolpair__State *st)
{
	size_t n = FSM_MAX_SITES + 1, i;
	Poolpair__Site **sites = realloc(st->sites, n * sizeof(*sites));
	char name[16];

	assert_non_null(sites);
	st->sites = sites;
	for (i = st->n_sites; i < n; i++) {
		sites[i] = zalloc(sizeof(**sites));
		poolpair__site__init(sites[i]);
		snprintf(name, sizeof(name), "extra-%zu", i);
		sites[i]->name = dup(name);
	}
	st->n_sites = n;
}

static void edit_duplicate_site(Poolpair__State *st)
{
	set_str(&st->sites[1]->name, st->sites[0]->name);
}

static void edit_bad_pool_name(Poolpair__State *st)
{
	set_str(&st->pools[2]->pool->name, "bad name");
}

static void edit_long_os(Poolpair__State *st)
{
	char os[FSM_NAME_LEN + 1];

	memset(os, 'o', FSM_NAME_LEN);
	os[FSM_NAME_LEN] = '\0';
	set_str(&st->pools[0]->pool->os, os);
}

static void edit_bad_edition(Poolpair__State *st)
{
	set_str(&st->pools[0]->pool->edition, "premium");
}

static void edit_pair_asymmetric(Poolpair__State *st)
{
	set_str(&st_pool(st, "pool-west")->pair, "pool-std");
}

static void edit_pair_unknown(Poolpair__State *st)
{
	set_str(&st_pool(st, "pool-std")->pair, "pool-none");
}

static void edit_owner_stranger(Poolpair__State *st)
{
	set_str(&st_pool(st, "pool-east")->owner, "pool-std");
}

static void edit_bad_state(Poolpair__State *st)
{
	st->pools[0]->state = (Poolpair__FailoverState)7;
}

static void edit_epoch_zero(Poolpair__State *st) { st->pools[0]->epoch = 0; }

static void edit_unknown_site(Poolpair__State *st)
{
	set_str(&st->pools[0]->pool->site, "atlantis");
}

static void edit_sba_backup(Poolpair__State *st)
{
	set_str(&st->sbas[0]->backup_pool, "pool-none");
}

static void edit_cms_unknown(Poolpair__State *st)
{
	set_str(&st->cms->active, "pool-none");
}

static void edit_policy(Poolpair__State *st)
{
	set_str(&st->policy->failover, "never");
}

static void edit_no_policy(Poolpair__State *st)
{
	poolpair__policy__free_unpacked(st->policy, NULL);
	st->policy = NULL;
}

static void edit_member_zero(Poolpair__State *st) { st->members[0]->id = 0; }

static void edit_member_duplicate(Poolpair__State *st)
{
	st->members[1]->id = st->members[0]->id;
}

static void edit_member_address(Poolpair__State *st)
{
	char addr[FSM_ADDR_LEN + 1];

	memset(addr, 'a', FSM_ADDR_LEN);
	addr[FSM_ADDR_LEN] = '\0';
	set_str(&st->members[0]->api_address, addr);
}

static void edit_history_seq(Poolpair__State *st)
{
	st->history[3]->seq = st->history[2]->seq;
}

static void edit_history_future(Poolpair__State *st)
{
	st->history[st->n_history - 1]->seq = st->decisions + 1;
}

static void edit_history_old(Poolpair__State *st)
{
	st->decisions += FSM_HISTORY;
}

static void edit_history_code(Poolpair__State *st)
{
	st->history[0]->code = FSM_CODE_COUNT;
}

static void edit_history_who(Poolpair__State *st)
{
	char who[FSM_WHO_LEN + 1];

	memset(who, 'w', FSM_WHO_LEN);
	who[FSM_WHO_LEN] = '\0';
	set_str(&st->history[0]->who, who);
}

static void edit_reason_long(Poolpair__State *st)
{
	char r[FSM_REASON_LEN + 1];

	memset(r, 'r', FSM_REASON_LEN);
	r[FSM_REASON_LEN] = '\0';
	set_str(&st->history[0]->reason, r);
}

static void edit_nothing(Poolpair__State *st) { (void)st; }

static void test_restore_refusals(void **state)
{
	struct fsm *f = *state;
	struct fsm *before;
	uint64_t seed = 12345;
	uint8_t junk[512];
	void *buf;
	size_t len, cut, i;

	populate(f);
	restore_refused(f, edit_version);
	restore_refused(f, edit_too_many_sites);
	restore_refused(f, edit_duplicate_site);
	restore_refused(f, edit_bad_pool_name);
	restore_refused(f, edit_long_os);
	restore_refused(f, edit_bad_edition);
	restore_refused(f, edit_pair_asymmetric);
	restore_refused(f, edit_pair_unknown);
	restore_refused(f, edit_owner_stranger);
	restore_refused(f, edit_bad_state);
	restore_refused(f, edit_epoch_zero);
	restore_refused(f, edit_unknown_site);
	restore_refused(f, edit_sba_backup);
	restore_refused(f, edit_cms_unknown);
	restore_refused(f, edit_policy);
	restore_refused(f, edit_no_policy);
	restore_refused(f, edit_member_zero);
	restore_refused(f, edit_member_duplicate);
	restore_refused(f, edit_member_address);
	restore_refused(f, edit_history_seq);
	restore_refused(f, edit_history_future);
	restore_refused(f, edit_history_old);
	restore_refused(f, edit_history_code);
	restore_refused(f, edit_history_who);
	restore_refused(f, edit_reason_long);
	/* an unedited re-encoding is accepted */
	assert_int_equal(restore_edited(f, edit_nothing), 0);

	/* garbage and truncations */
	before = copy_of(f);
	assert_int_equal(fsm_restore(f, NULL, 5), -EINVAL);
	assert_int_equal(fsm_restore(f, NULL, 0), -EINVAL); /* version 0 */
	for (i = 0; i < 2000; i++) {
		size_t n = next_random(&seed) % sizeof(junk), j;

		for (j = 0; j < n; j++)
			junk[j] = (uint8_t)next_random(&seed);
		assert_int_equal(fsm_restore(f, junk, n), -EINVAL);
	}
	assert_int_equal(fsm_snapshot(f, &buf, &len), 0);
	for (cut = 0; cut < len; cut += 7)
		assert_int_equal(fsm_restore(f, buf, cut), -EINVAL);
	assert_memory_equal(before, f, sizeof(*f));
	assert_int_equal(fsm_restore(f, buf, len), 0);
	free(buf);
	free(before);
}

/* ---- failover and failback ---- */

/* pool name is in state, owned by owner, at epoch. */
static void expect_pool(const struct fsm *f, const char *name, int state,
			const char *owner, uint64_t epoch)
{
	const struct fsm_pool *p = pool(f, name);

	assert_string_equal(fsm_failover_state_name(p->state),
			    fsm_failover_state_name(state));
	assert_string_equal(p->owner, owner);
	assert_int_equal(p->epoch, epoch);
}

/* The invariants every applied state keeps: exactly one CMS on a defined
 * pool (once placed), owners as the failover state says, unpaired pools
 * normal, at most one pool of a pair not normal. */
static void check_invariants(const struct fsm *f)
{
	unsigned i;

	if (f->n_pools > 0) {
		assert_true(f->cms_active[0] != '\0');
		assert_non_null(fsm_pool_find(f, f->cms_active));
		assert_true(f->cms_epoch >= 1);
	}
	/* a planned CMS move drains only from a paired pool */
	assert_true(f->cms_state == FSM_STATE_NORMAL ||
		    (f->cms_state == FSM_STATE_FAILING_OVER &&
		     pool(f, f->cms_active)->pair[0] != '\0'));
	for (i = 0; i < f->n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];
		const struct fsm_pool *q;
		bool self = p->state == FSM_STATE_NORMAL ||
			    p->state == FSM_STATE_FAILING_OVER;

		assert_true(p->epoch >= 1);
		if (p->pair[0] == '\0') {
			assert_int_equal(p->state, FSM_STATE_NORMAL);
			assert_string_equal(p->owner, p->name);
			continue;
		}
		q = pool(f, p->pair);
		assert_string_equal(p->owner, self ? p->name : p->pair);
		assert_true(p->state == FSM_STATE_NORMAL ||
			    q->state == FSM_STATE_NORMAL);
	}
}

/* Last history entry is a success with this summary and forced flag. */
static void expect_last(const struct fsm *f, const char *what, bool forced)
{
	const struct fsm_history *h = last(f);

	assert_int_equal(h->code, FSM_OK);
	assert_string_equal(h->what, what);
	assert_int_equal(h->forced, forced);
}

static void test_failover_cycle(void **state)
{
	struct fsm *f = *state;
	const struct fsm_history *h;

	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, 1);
	expect_pool(f, "pool-east", FSM_STATE_NORMAL, "pool-east", 1);

	/* normal -> failing_over: owner and epoch stay, the CMS stays */
	ok(f,
	   at(1000, c_fo_begin("pool-east", true, false, 0, 0, 0, "patching")));
	expect_last(f,
		    "begin planned failover pool-east to pool-west "
		    "(nothing at risk)",
		    false);
	assert_string_equal(last(f)->reason, "patching");
	expect_pool(f, "pool-east", FSM_STATE_FAILING_OVER, "pool-east", 1);
	assert_int_equal(pool(f, "pool-east")->failover_since_ms, 1000);
	assert_string_equal(pool(f, "pool-east")->last_failover_reason,
			    "patching");
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, 1);
	check_invariants(f);

	/* failing_over -> failed_over: CMS first, then owner = pair, 1 -> 2 */
	ok(f, at(2000, c_fo_complete("pool-east", 0, 0, 0)));
	expect_last(f,
		    "complete failover pool-east to pool-west with the "
		    "cms (nothing at risk)",
		    false);
	expect_pool(f, "pool-east", FSM_STATE_FAILED_OVER, "pool-west", 2);
	assert_int_equal(pool(f, "pool-east")->failover_since_ms, 2000);
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 2);
	check_invariants(f);

	/* failed_over -> recovering: the pair still owns the user set */
	ok(f, at(3000, c_recovering("pool-east")));
	expect_last(f, "pool pool-east recovering (owner stays pool-west)",
		    false);
	expect_pool(f, "pool-east", FSM_STATE_RECOVERING, "pool-west", 2);
	assert_int_equal(pool(f, "pool-east")->failover_since_ms, 3000);
	check_invariants(f);

	/* recovering -> failing_back */
	ok(f, at(4000, c_fb_begin("pool-east", false)));
	expect_last(f, "begin failback pool-east from pool-west", false);
	expect_pool(f, "pool-east", FSM_STATE_FAILING_BACK, "pool-west", 2);
	check_invariants(f);

	/* failing_back -> normal: owner = itself, 2 -> 3; the CMS stays */
	ok(f, at(5000, c_fb_complete("pool-east")));
	expect_last(f, "complete failback pool-east from pool-west", false);
	expect_pool(f, "pool-east", FSM_STATE_NORMAL, "pool-east", 3);
	assert_int_equal(pool(f, "pool-east")->failover_since_ms, 5000);
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 2);
	check_invariants(f);
	/* the pair never changed */
	expect_pool(f, "pool-west", FSM_STATE_NORMAL, "pool-west", 1);
	/* who and when of each decision are in the history */
	h = fsm_history_get(f, f->decisions - 2);
	assert_non_null(h);
	assert_int_equal(h->time_ms, 3000);
	assert_string_equal(h->who, "operator@test");

	/* the pair fails over in turn and takes the CMS back with it */
	ok(f, c_disaster("pool-west"));
	expect_pool(f, "pool-west", FSM_STATE_FAILED_OVER, "pool-east", 2);
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, 3);
	check_invariants(f);
	/* the second cycle of pool-east goes 3 -> 4 -> 5 once west is back */
	ok(f, c_fb_begin("pool-west", true));
	ok(f, c_fb_complete("pool-west"));
	ok(f, c_planned("pool-east"));
	ok(f, c_complete("pool-east"));
	expect_pool(f, "pool-east", FSM_STATE_FAILED_OVER, "pool-west", 4);
	ok(f, c_fb_begin("pool-east", true));
	ok(f, c_fb_complete("pool-east"));
	expect_pool(f, "pool-east", FSM_STATE_NORMAL, "pool-east", 5);
	check_invariants(f);
}

static void test_failover_disaster(void **state)
{
	struct fsm *f = *state;
	const struct fsm_history *h;

	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, c_pair("pool-east2", "pool-2022", true));
	ok(f, at(777, c_fo_begin("pool-east", false, false, 12, 3482, 850,
				 "site east lost")));
	h = last(f);
	assert_int_equal(h->code, FSM_OK);
	assert_string_equal(h->what,
			    "failover pool-east to pool-west with the cms "
			    "(disaster, 12 records / 3.4 KB / 850 ms at risk)");
	assert_true(h->forced); /* a disaster is a forced decision */
	assert_int_equal(h->data_at_risk_records, 12);
	assert_int_equal(h->data_at_risk_bytes, 3482);
	assert_int_equal(h->data_at_risk_ms, 850);
	assert_int_equal(h->time_ms, 777);
	assert_string_equal(h->reason, "site east lost");
	/* one decision: owner moved, epoch raised, CMS moved first */
	expect_pool(f, "pool-east", FSM_STATE_FAILED_OVER, "pool-west", 2);
	assert_int_equal(pool(f, "pool-east")->failover_since_ms, 777);
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 2);
	check_invariants(f);

	/* a pool whose pair is failed over cannot fail over */
	refused(f, c_disaster("pool-west"), FSM_E_PAIR_DOWN,
		"the pair of pool-west is failed over (pool-east is "
		"failed_over)");
	refused(f, c_planned("pool-west"), FSM_E_PAIR_DOWN,
		"the pair of pool-west is failed over");

	/* another pair, no CMS: units, singular, forced planned */
	ok(f, c_fo_begin("pool-2022", false, true, 1, 512, 0, ""));
	assert_string_equal(last(f)->what, "failover pool-2022 to pool-east2 "
					   "(disaster, 1 record / 512 B / "
					   "0 ms at risk)");
	assert_true(last(f)->forced);
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 2);
	expect_pool(f, "pool-2022", FSM_STATE_FAILED_OVER, "pool-east2", 2);
	ok(f, c_fb_begin("pool-2022", true));
	assert_string_equal(
	    last(f)->what, "begin failback pool-2022 from pool-east2 (forced)");
	assert_true(last(f)->forced);
	ok(f, c_fb_complete("pool-2022"));
	ok(f, c_fo_begin("pool-2022", true, true, 0, 5u * 1024 * 1024 + 1, 3,
			 "x"));
	assert_string_equal(last(f)->what,
			    "begin planned failover pool-2022 to pool-east2 "
			    "(0 records / 5.0 MB / 3 ms at risk) (forced)");
	assert_true(last(f)->forced);
	ok(f, c_fo_complete("pool-2022", 0, UINT64_MAX, 0));
	assert_string_equal(last(f)->what,
			    "complete failover pool-2022 to pool-east2 "
			    "(0 records / 15.9 EB / 0 ms at risk)");
	assert_false(last(f)->forced);
	assert_int_equal(last(f)->data_at_risk_bytes, UINT64_MAX);
	check_invariants(f);
}

static void test_failover_refusals(void **state)
{
	struct fsm *f = *state;
	Poolpair__Command *steps[1];

	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));

	/* every command: bad name, unknown, unpaired */
	refused(f, c_planned("bad name"), FSM_E_INVALID, "pool name");
	refused(f, c_planned(""), FSM_E_INVALID, "pool name");
	refused(f, c_planned("pool-none"), FSM_E_NOT_FOUND,
		"pool pool-none is not defined");
	refused(f, c_disaster("pool-std"), FSM_E_NOT_PAIRED,
		"pool pool-std is not paired");
	refused(f, c_complete("pool-none"), FSM_E_NOT_FOUND, "pool-none");
	refused(f, c_complete("pool-std"), FSM_E_NOT_PAIRED, "pool-std");
	refused(f, c_fo_abort("pool-std", "x"), FSM_E_NOT_PAIRED, "pool-std");
	refused(f, c_recovering("pool-none"), FSM_E_NOT_FOUND, "pool-none");
	refused(f, c_fb_begin("pool-std", true), FSM_E_NOT_PAIRED, "pool-std");
	refused(f, c_fb_complete("x y"), FSM_E_INVALID, NULL);
	refused(f, c_fb_abort("pool-none", ""), FSM_E_NOT_FOUND, "pool-none");

	/* nothing but a begin applies to a normal pool */
	refused(f, c_complete("pool-east"), FSM_E_NOT_FAILED_OVER,
		"pool pool-east is normal, not failing_over");
	refused(f, c_fo_abort("pool-east", "timeout"), FSM_E_NOT_FAILED_OVER,
		"normal");
	refused(f, c_recovering("pool-east"), FSM_E_NOT_FAILED_OVER, "normal");
	refused(f, c_fb_begin("pool-east", false), FSM_E_NOT_FAILED_OVER,
		"has not failed over");
	refused(f, c_fb_begin("pool-east", true), FSM_E_NOT_FAILED_OVER,
		"normal");
	refused(f, c_fb_complete("pool-east"), FSM_E_NOT_FAILED_OVER, "normal");
	refused(f, c_fb_abort("pool-east", ""), FSM_E_NOT_FAILED_OVER,
		"normal");

	/* failing_over */
	ok(f, c_planned("pool-east"));
	refused(f, c_planned("pool-east"), FSM_E_FAILED_OVER,
		"pool pool-east is failing_over");
	refused(f, c_disaster("pool-east"), FSM_E_FAILED_OVER,
		"pool pool-east is failing_over");
	refused(f, c_planned("pool-west"), FSM_E_PAIR_DOWN,
		"the pair of pool-west is failing over");
	refused(f, c_recovering("pool-east"), FSM_E_FAILED_OVER,
		"pool pool-east is failing_over, not failed_over");
	refused(f, c_fb_begin("pool-east", true), FSM_E_FAILED_OVER,
		"not recovering");
	refused(f, c_fb_complete("pool-east"), FSM_E_FAILED_OVER,
		"not failing_back");
	refused(f, c_remove_pool("pool-east"), FSM_E_FAILED_OVER,
		"fail it back before removing it");
	/* abort: back to normal, same owner and epoch, reason kept */
	ok(f, at(4242, c_fo_abort("pool-east", "drain timed out")));
	expect_last(f, "abort failover pool-east", false);
	assert_string_equal(last(f)->reason, "drain timed out");
	expect_pool(f, "pool-east", FSM_STATE_NORMAL, "pool-east", 1);
	assert_int_equal(pool(f, "pool-east")->failover_since_ms, 4242);
	assert_string_equal(pool(f, "pool-east")->last_failover_reason,
			    "drain timed out");
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, 1);

	/* failed_over */
	ok(f, c_disaster("pool-east"));
	refused(f, c_complete("pool-east"), FSM_E_FAILED_OVER,
		"pool pool-east is failed_over, not failing_over");
	refused(f, c_fo_abort("pool-east", ""), FSM_E_FAILED_OVER,
		"failed_over");
	refused(f, c_fb_begin("pool-east", false), FSM_E_FAILED_OVER,
		"must report recovering first");
	refused(f, c_fb_abort("pool-east", ""), FSM_E_FAILED_OVER,
		"not failing_back");
	refused(f, c_remove_pool("pool-east"), FSM_E_FAILED_OVER,
		"pool pool-east is failed_over");
	refused(f, c_remove_pool("pool-west"), FSM_E_IN_USE, "paired");

	/* recovering */
	ok(f, c_recovering("pool-east"));
	refused(f, c_recovering("pool-east"), FSM_E_FAILED_OVER,
		"recovering, not failed_over");
	refused(f, c_fb_complete("pool-east"), FSM_E_FAILED_OVER,
		"pool pool-east is recovering, not failing_back");
	refused(f, c_disaster("pool-east"), FSM_E_FAILED_OVER, "recovering");
	refused(f, c_disaster("pool-west"), FSM_E_PAIR_DOWN,
		"the pair of pool-west is recovering");

	/* failing_back, and its abort back to recovering */
	ok(f, c_fb_begin("pool-east", false));
	refused(f, c_fb_begin("pool-east", true), FSM_E_FAILED_OVER,
		"failing_back, not recovering");
	refused(f, c_disaster("pool-west"), FSM_E_PAIR_DOWN, "is failing back");
	ok(f, at(99, c_fb_abort("pool-east", "pair too slow")));
	expect_last(f, "abort failback pool-east", false);
	expect_pool(f, "pool-east", FSM_STATE_RECOVERING, "pool-west", 2);
	assert_string_equal(pool(f, "pool-east")->last_failover_reason,
			    "pair too slow");
	assert_int_equal(pool(f, "pool-east")->failover_since_ms, 99);
	refused(f, c_fb_abort("pool-east", ""), FSM_E_FAILED_OVER,
		"recovering, not failing_back");
	ok(f, c_fb_begin("pool-east", false));
	ok(f, c_fb_complete("pool-east"));
	expect_pool(f, "pool-east", FSM_STATE_NORMAL, "pool-east", 3);

	/* failover decisions are not topology steps */
	steps[0] = c_planned("pool-east");
	refused(f, c_topology(1, steps), FSM_E_INVALID,
		"a failover decision cannot be a topology step");
	steps[0] = c_cms_failover(true);
	refused(f, c_topology(1, steps), FSM_E_INVALID, "step 1");

	/* free text of a reason is cleaned and bounded */
	ok(f, c_fo_begin("pool-east", true, false, 0, 0, 0, "a\nb\x01"));
	assert_string_equal(pool(f, "pool-east")->last_failover_reason, "a?b?");
	ok(f, c_fo_abort("pool-east", ""));
	assert_string_equal(pool(f, "pool-east")->last_failover_reason, "");
	check_invariants(f);
}

static void set_east_epoch_max(Poolpair__State *st)
{
	st_pool(st, "pool-east")->epoch = UINT64_MAX;
}

static void set_cms_epoch_max(Poolpair__State *st)
{
	st->cms->epoch = UINT64_MAX;
}

static void test_failover_epoch_limit(void **state)
{
	struct fsm *f = *state;

	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	assert_int_equal(restore_edited(f, set_east_epoch_max), 0);
	refused(f, c_disaster("pool-east"), FSM_E_FULL,
		"epoch of pool pool-east cannot be raised");
	/* a planned one is refused at once: it could not complete */
	refused(f, c_planned("pool-east"), FSM_E_FULL, "epoch");
	assert_int_equal(fsm_failover_check(f, "pool-east", true, NULL, NULL),
			 FSM_E_FULL);
	/* reached mid-failover (from a snapshot): the complete is refused */
	fsm_init(f);
	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, c_planned("pool-east"));
	assert_int_equal(restore_edited(f, set_east_epoch_max), 0);
	refused(f, c_complete("pool-east"), FSM_E_FULL, "epoch");
	ok(f, c_fo_abort("pool-east", ""));
	/* and mid-failback */
	fsm_init(f);
	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, c_disaster("pool-east"));
	ok(f, c_fb_begin("pool-east", true));
	assert_int_equal(restore_edited(f, set_east_epoch_max), 0);
	refused(f, c_fb_complete("pool-east"), FSM_E_FULL,
		"epoch of pool pool-east cannot be raised");
	ok(f, c_fb_abort("pool-east", ""));
	fsm_init(f);
	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	assert_int_equal(restore_edited(f, set_cms_epoch_max), 0);
	refused(f, c_disaster("pool-east"), FSM_E_FULL, "cms epoch");
	refused(f, c_cms_failover(true), FSM_E_FULL, "cms epoch");
	/* a pool without the CMS is not held back by the CMS epoch */
	ok(f, c_disaster("pool-west"));
}

static void test_cms_failover(void **state)
{
	struct fsm *f = *state;

	refused(f, c_cms_failover(false), FSM_E_NOT_FOUND, "no CMS is placed");
	base(f);
	refused(f, c_cms_failover(false), FSM_E_NOT_PAIRED,
		"pool pool-east hosts the active CMS but is not paired");
	ok(f, c_pair("pool-east", "pool-west", false));
	/* not planned: a disaster move, at once, always forced */
	ok(f, at(5, c_cms_disaster(7, 3 * 1024 + 512, 850,
				   "disaster: pool-east silent")));
	expect_last(f,
		    "cms failover pool-east to pool-west (disaster, 7 records / "
		    "3.5 KB / 850 ms at risk)",
		    true);
	assert_true(last(f)->kept);
	assert_int_equal(last(f)->data_at_risk_records, 7);
	assert_int_equal(last(f)->data_at_risk_bytes, 3 * 1024 + 512);
	assert_int_equal(last(f)->data_at_risk_ms, 850);
	assert_string_equal(last(f)->reason, "disaster: pool-east silent");
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 2);
	assert_int_equal(f->cms_state, FSM_STATE_NORMAL);
	assert_int_equal(f->cms_since_ms, 5);
	/* user sets do not move with the CMS */
	expect_pool(f, "pool-east", FSM_STATE_NORMAL, "pool-east", 1);
	expect_pool(f, "pool-west", FSM_STATE_NORMAL, "pool-west", 1);
	ok(f, c_cms_failover(true));
	expect_last(f,
		    "cms failover pool-west to pool-east (disaster, nothing at "
		    "risk)",
		    true);
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, 3);
	check_invariants(f);

	/* the standby is down: only a forced disaster move goes there, a
	 * planned one never (it could not drain) */
	ok(f, c_planned("pool-west"));
	refused(f, c_cms_failover(false), FSM_E_PAIR_DOWN,
		"the pair of pool-east is failing over (pool-west is "
		"failing_over)");
	refused(f, c_cms_planned(true), FSM_E_PAIR_DOWN,
		"only in a forced disaster move");
	ok(f, c_complete("pool-west"));
	assert_string_equal(f->cms_active, "pool-east"); /* not on west */
	refused(f, c_cms_failover(false), FSM_E_PAIR_DOWN, "failed over");
	ok(f, c_recovering("pool-west"));
	/* recovering: its agent is back, the CMS may go there */
	ok(f, c_cms_failover(false));
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 4);
	ok(f, c_cms_failover(false));
	ok(f, c_fb_begin("pool-west", false));
	ok(f, c_fb_complete("pool-west"));
	ok(f, c_disaster("pool-west"));
	ok(f, c_cms_failover(true));
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 6);
	assert_true(last(f)->forced);
	check_invariants(f);

	/* the host of the CMS cannot be removed while it hosts it */
	fsm_init(f);
	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, c_cms_failover(false));
	ok(f, c_unpair("pool-east"));
	ok(f, c_remove_pool("pool-east"));
	refused(f, c_remove_pool("pool-west"), FSM_E_IN_USE, "CMS");
}

/* Agreement of fsm_failover_check() with fsm_apply() of a failover begin,
 * for every pool name in every state a random walk of failover decisions
 * reaches; the walk also keeps the invariants and round-trips snapshots
 * byte for byte. */
static void test_failover_check_agrees(void **state)
{
	static const char *const names[] = {
	    "pool-east", "pool-west", "pool-east2", "pool-2022", "pool-std",
	    "pool-virt", "pool-none", "bad name",   "",
	};
	const size_t n_names = sizeof(names) / sizeof(names[0]);
	struct fsm *f = *state;
	struct fsm *g = malloc(sizeof(*g));
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned step, accepted = 0, refusals = 0, cms_moves_seen = 0;
	unsigned cms_accepted = 0;
	size_t i;
	int k;

	assert_non_null(g);
	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, c_pair("pool-east2", "pool-2022", true));
	for (step = 0; step < 600; step++) {
		const char *name = names[next_random(&seed) % 4];
		void *a, *b;
		size_t alen, blen;

		/* the check against apply, for every name and kind */
		for (i = 0; i < n_names; i++) {
			for (k = 0; k < 2; k++) {
				struct fsm_result want, got;
				bool moves = !k, cms_before;
				const char *host;
				int rc;

				memcpy(g, f, sizeof(*g));
				rc = fsm_failover_check(f, names[i], k == 1,
							&got, &moves);
				assert_int_equal(rc, got.code);
				assert_int_equal(got.seq, 0);
				assert_memory_equal(f, g, sizeof(*f));
				cms_before =
				    strcmp(g->cms_active, names[i]) == 0;
				run(g,
				    k == 1 ? c_planned(names[i])
					   : c_disaster(names[i]),
				    &want);
				assert_int_equal(got.code, want.code);
				assert_string_equal(got.reason, want.reason);
				if (want.code != FSM_OK) {
					assert_false(moves);
					refusals++;
					continue;
				}
				accepted++;
				if (k == 1) /* planned: it moves at complete */
					ok(g, c_complete(names[i]));
				host = g->cms_active;
				assert_int_equal(
				    moves,
				    cms_before && strcmp(host, names[i]) != 0);
				cms_moves_seen += moves;
			}
		}
		assert_int_equal(fsm_failover_check(f, NULL, true, NULL, NULL),
				 FSM_E_INVALID);
		/* the CMS check against apply, for every kind */
		for (k = 0; k < 4; k++) {
			struct fsm_result want, got;
			bool planned = k & 1, forced = k & 2;
			int rc;

			memcpy(g, f, sizeof(*g));
			rc = fsm_cms_failover_check(f, planned, forced, &got);
			assert_int_equal(rc, got.code);
			assert_memory_equal(f, g, sizeof(*f));
			run(g, planned ? c_cms_planned(forced)
				       : c_cms_failover(forced),
			    &want);
			assert_int_equal(got.code, want.code);
			assert_string_equal(got.reason, want.reason);
			cms_accepted += want.code == FSM_OK;
		}

		/* one random decision */
		switch (next_random(&seed) % 12) {
		case 9:
			run(f, c_cms_planned(next_random(&seed) % 2), NULL);
			break;
		case 10:
			run(f, c_cms_complete(f->cms_since_ms), NULL);
			break;
		case 11:
			run(f, c_cms_abort(f->cms_since_ms, "timeout"), NULL);
			break;
		case 0:
			run(f, c_planned(name), NULL);
			break;
		case 1:
			run(f, c_disaster(name), NULL);
			break;
		case 2:
			run(f, c_complete(name), NULL);
			break;
		case 3:
			run(f, c_fo_abort(name, "timeout"), NULL);
			break;
		case 4:
			run(f, c_recovering(name), NULL);
			break;
		case 5:
			run(f, c_fb_begin(name, next_random(&seed) % 2), NULL);
			break;
		case 6:
		case 7:
			run(f, c_fb_complete(name), NULL);
			break;
		default:
			run(f, c_cms_failover(next_random(&seed) % 2), NULL);
			break;
		}
		check_invariants(f);
		assert_int_equal(fsm_snapshot(f, &a, &alen), 0);
		fsm_init(g);
		assert_int_equal(fsm_restore(g, a, alen), 0);
		assert_int_equal(fsm_snapshot(g, &b, &blen), 0);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, alen);
		assert_same_state(f, g);
		free(a);
		free(b);
	}
	/* the walk did reach both answers, and CMS moves */
	assert_true(accepted > 100);
	assert_true(refusals > 100);
	assert_true(cms_moves_seen > 10);
	assert_true(cms_accepted > 100);
	free(g);
}

/* Snapshot f, restore into g and compare bytes, state and history. */
static void round_trip(const struct fsm *f, struct fsm *g)
{
	void *a, *b;
	size_t alen, blen;
	uint64_t seq;

	assert_int_equal(fsm_snapshot(f, &a, &alen), 0);
	fsm_init(g);
	assert_int_equal(fsm_restore(g, a, alen), 0);
	assert_int_equal(fsm_snapshot(g, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	assert_same_state(f, g);
	assert_int_equal(f->decisions, g->decisions);
	for (seq = 1; seq <= f->decisions; seq++) {
		const struct fsm_history *x = fsm_history_get(f, seq);
		const struct fsm_history *y = fsm_history_get(g, seq);

		if (x == NULL && seq + FSM_HISTORY <= f->decisions) {
			assert_null(y); /* left the ring, not kept */
			continue;
		}
		assert_non_null(x);
		assert_non_null(y);
		assert_memory_equal(x, y, sizeof(*x));
	}
	free(a);
	free(b);
}

static void test_failover_snapshot_mid_cycle(void **state)
{
	struct fsm *f = *state;
	struct fsm *g = malloc(sizeof(*g));
	void *a, *b;
	size_t alen, blen;

	assert_non_null(g);
	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, at(10, c_fo_begin("pool-east", true, true, 3, 4096, 20,
				"rolling upgrade")));
	round_trip(f, g);
	assert_int_equal(pool(g, "pool-east")->state, FSM_STATE_FAILING_OVER);
	assert_string_equal(pool(g, "pool-east")->last_failover_reason,
			    "rolling upgrade");
	assert_int_equal(pool(g, "pool-east")->failover_since_ms, 10);
	assert_int_equal(last(g)->data_at_risk_bytes, 4096);
	assert_true(last(g)->forced);
	ok(f, at(20, c_fo_complete("pool-east", 1, 2, 3)));
	round_trip(f, g);
	assert_string_equal(g->cms_active, "pool-west");
	ok(f, c_recovering("pool-east"));
	round_trip(f, g);
	ok(f, c_fb_begin("pool-east", false));
	round_trip(f, g);

	/* both go on the same way */
	ok(f, c_fb_complete("pool-east"));
	ok(g, c_fb_complete("pool-east"));
	ok(f, c_disaster("pool-west"));
	ok(g, c_disaster("pool-west"));
	assert_int_equal(fsm_snapshot(f, &a, &alen), 0);
	assert_int_equal(fsm_snapshot(g, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
	round_trip(f, g);
	free(g);
}

static void edit_failed_over_owning_self(Poolpair__State *st)
{
	st_pool(st, "pool-east")->state =
	    POOLPAIR__FAILOVER_STATE__FAILOVER_FAILED_OVER;
}

static void edit_normal_owned_by_pair(Poolpair__State *st)
{
	set_str(&st_pool(st, "pool-west")->owner, "pool-east");
}

static void edit_both_failed_over(Poolpair__State *st)
{
	Poolpair__PoolState *w = st_pool(st, "pool-west");

	w->state = POOLPAIR__FAILOVER_STATE__FAILOVER_FAILED_OVER;
	set_str(&w->owner, "pool-east");
}

static void edit_unpaired_failing_over(Poolpair__State *st)
{
	st_pool(st, "pool-std")->state =
	    POOLPAIR__FAILOVER_STATE__FAILOVER_FAILING_OVER;
}

static void edit_long_failover_reason(Poolpair__State *st)
{
	char r[FSM_REASON_LEN + 1];

	memset(r, 'r', FSM_REASON_LEN);
	r[FSM_REASON_LEN] = '\0';
	set_str(&st_pool(st, "pool-east")->last_failover_reason, r);
}

static void test_failover_restore_refusals(void **state)
{
	struct fsm *f = *state;

	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, c_disaster("pool-east"));
	restore_refused(f, edit_normal_owned_by_pair);
	restore_refused(f, edit_both_failed_over);
	restore_refused(f, edit_unpaired_failing_over);
	restore_refused(f, edit_long_failover_reason);
	assert_int_equal(restore_edited(f, edit_nothing), 0);
	ok(f, c_fb_begin("pool-east", true));
	ok(f, c_fb_complete("pool-east"));
	restore_refused(f, edit_failed_over_owning_self);
	restore_refused(f, edit_normal_owned_by_pair);
	assert_int_equal(restore_edited(f, edit_nothing), 0);
}

/* Last history entry is a success with this summary. */
static void expect_last_what(const struct fsm *f, const char *what)
{
	const struct fsm_history *h = fsm_history_get(f, f->decisions);

	assert_non_null(h);
	assert_int_equal(h->code, FSM_OK);
	assert_string_equal(h->what, what);
}

/* ---- replication mode of a pair ---- */

static void edit_mode_asymmetric(Poolpair__State *st)
{
	st_pool(st, "pool-west")->repl_mode = POOLPAIR__REPL_MODE__REPL_ASYNC;
}

static void edit_timeout_asymmetric(Poolpair__State *st)
{
	st_pool(st, "pool-west")->sync_timeout_ms = 999;
}

static void edit_mode_unknown(Poolpair__State *st)
{
	st_pool(st, "pool-east")->repl_mode = (Poolpair__ReplMode)2;
	st_pool(st, "pool-west")->repl_mode = (Poolpair__ReplMode)2;
}

static void edit_timeout_too_long(Poolpair__State *st)
{
	st_pool(st, "pool-east")->sync_timeout_ms = FSM_SYNC_TIMEOUT_MAX_MS + 1;
	st_pool(st, "pool-west")->sync_timeout_ms = FSM_SYNC_TIMEOUT_MAX_MS + 1;
}

static void edit_unpaired_sync(Poolpair__State *st)
{
	st_pool(st, "pool-std")->repl_mode = POOLPAIR__REPL_MODE__REPL_SYNC;
}

static void edit_unpaired_timeout(Poolpair__State *st)
{
	st_pool(st, "pool-std")->sync_timeout_ms = 2000;
}

/* A state from before pairs had a mode: paired, timeout 0. */
static void edit_timeout_zero(Poolpair__State *st)
{
	st_pool(st, "pool-east")->sync_timeout_ms = 0;
	st_pool(st, "pool-west")->sync_timeout_ms = 0;
}

static void test_pair_mode(void **state)
{
	struct fsm *f = *state;
	struct fsm *g = malloc(sizeof(*g));
	Poolpair__Command *steps[2];

	assert_non_null(g);
	base(f);
	/* a plain pairing is async with the default timeout */
	ok(f, c_pair("pool-east", "pool-west", false));
	assert_int_equal(pool(f, "pool-east")->repl_mode, FSM_REPL_ASYNC);
	assert_int_equal(pool(f, "pool-west")->sync_timeout_ms,
			 FSM_SYNC_TIMEOUT_DEFAULT_MS);
	expect_last_what(f, "pair pool-east pool-west");
	/* changed later, on both pools, the timeout kept when not given */
	ok(f, c_pair_mode("pool-west", FSM_REPL_SYNC, 0));
	expect_last_what(f, "pair mode pool-west pool-east sync (sync timeout "
			    "2000 ms)");
	assert_int_equal(pool(f, "pool-east")->repl_mode, FSM_REPL_SYNC);
	assert_int_equal(pool(f, "pool-west")->repl_mode, FSM_REPL_SYNC);
	assert_int_equal(pool(f, "pool-east")->sync_timeout_ms, 2000);
	ok(f, c_pair_mode("pool-east", FSM_REPL_SYNC, 750));
	assert_int_equal(pool(f, "pool-west")->sync_timeout_ms, 750);
	assert_int_equal(fsm_pool_sync_timeout_ms(pool(f, "pool-west")), 750);
	ok(f, c_pair_mode("pool-east", FSM_REPL_ASYNC, 0));
	assert_int_equal(pool(f, "pool-west")->repl_mode, FSM_REPL_ASYNC);
	assert_int_equal(pool(f, "pool-west")->sync_timeout_ms, 750);
	assert_false(last(f)->forced);
	assert_false(last(f)->kept);

	/* refusals change nothing */
	refused(f, c_pair_mode("pool-std", FSM_REPL_SYNC, 0), FSM_E_NOT_PAIRED,
		"pool pool-std is not paired");
	refused(f, c_pair_mode("pool-none", FSM_REPL_SYNC, 0), FSM_E_NOT_FOUND,
		"pool pool-none is not defined");
	refused(f, c_pair_mode("bad name", FSM_REPL_SYNC, 0), FSM_E_INVALID,
		"pool name");
	refused(f, c_pair_mode("pool-east", 2, 0), FSM_E_INVALID,
		"replication mode 2 is not async (0) or sync (1)");
	refused(f, c_pair_mode("pool-east", FSM_REPL_SYNC,
			       FSM_SYNC_TIMEOUT_MAX_MS + 1),
		FSM_E_INVALID, "sync timeout 3600001 ms is above 3600000 ms");
	{
		Poolpair__Command *c = c_pair_with("pool-east2", "pool-std", 7, 0);

		c->pair->force = true;
		refused(f, c, FSM_E_INVALID, "replication mode 7");
	}

	/* the mode at pairing, in the summary; a forced pair says both */
	ok(f, c_unpair("pool-east"));
	assert_int_equal(pool(f, "pool-east")->repl_mode, FSM_REPL_ASYNC);
	assert_int_equal(pool(f, "pool-west")->sync_timeout_ms, 0);
	ok(f, c_pair_with("pool-east", "pool-west", FSM_REPL_SYNC, 1500));
	expect_last_what(f, "pair pool-east pool-west (sync, timeout 1500 ms)");
	assert_int_equal(pool(f, "pool-west")->repl_mode, FSM_REPL_SYNC);
	assert_int_equal(pool(f, "pool-east")->sync_timeout_ms, 1500);
	{
		Poolpair__Command *c =
		    c_pair_with("pool-east2", "pool-2022", FSM_REPL_SYNC, 0);

		c->pair->force = true;
		ok(f, c);
	}
	expect_last_what(f, "pair pool-east2 pool-2022 (sync, forced)");
	assert_int_equal(pool(f, "pool-2022")->sync_timeout_ms, 2000);

	/* a topology step too, all or nothing */
	steps[0] = c_pair_mode("pool-east", FSM_REPL_ASYNC, 3000);
	steps[1] = c_pair_mode("pool-virt", FSM_REPL_SYNC, 0);
	refused(f, c_topology(2, steps), FSM_E_NOT_PAIRED, "step 2");
	assert_int_equal(pool(f, "pool-east")->repl_mode, FSM_REPL_SYNC);
	steps[0] = c_pair_mode("pool-east", FSM_REPL_ASYNC, 3000);
	ok(f, c_topology(1, steps));
	assert_int_equal(pool(f, "pool-west")->repl_mode, FSM_REPL_ASYNC);
	assert_int_equal(pool(f, "pool-west")->sync_timeout_ms, 3000);

	/* snapshots keep it, and refuse what the FSM cannot reach */
	ok(f, c_pair_mode("pool-east", FSM_REPL_SYNC, 0));
	round_trip(f, g);
	assert_int_equal(pool(g, "pool-east")->repl_mode, FSM_REPL_SYNC);
	assert_int_equal(pool(g, "pool-west")->sync_timeout_ms, 3000);
	restore_refused(f, edit_mode_asymmetric);
	restore_refused(f, edit_timeout_asymmetric);
	restore_refused(f, edit_mode_unknown);
	restore_refused(f, edit_timeout_too_long);
	restore_refused(f, edit_unpaired_sync);
	restore_refused(f, edit_unpaired_timeout);
	/* an older state's 0 is the default */
	assert_int_equal(restore_edited(f, edit_timeout_zero), 0);
	assert_int_equal(pool(f, "pool-east")->sync_timeout_ms, 0);
	assert_int_equal(fsm_pool_sync_timeout_ms(pool(f, "pool-east")),
			 FSM_SYNC_TIMEOUT_DEFAULT_MS);
	ok(f, c_pair_mode("pool-east", FSM_REPL_SYNC, 0));
	assert_int_equal(pool(f, "pool-west")->sync_timeout_ms,
			 FSM_SYNC_TIMEOUT_DEFAULT_MS);
	free(g);
}

/* Every seq of f reads the same from g, and the kept ones are kept. */
static void same_history(const struct fsm *f, const struct fsm *g)
{
	uint64_t seq;

	assert_int_equal(f->decisions, g->decisions);
	assert_int_equal(f->n_kept, g->n_kept);
	assert_int_equal(f->kept_dropped, g->kept_dropped);
	for (seq = 0; seq <= f->decisions + 1; seq++) {
		const struct fsm_history *x = fsm_history_get(f, seq);
		const struct fsm_history *y = fsm_history_get(g, seq);

		if (x == NULL) {
			assert_null(y);
			continue;
		}
		assert_non_null(y);
		assert_memory_equal(x, y, sizeof(*x));
	}
}

/* n refused decisions (they are never kept). */
static void refusals(struct fsm *f, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		run(f, c_remove_site("nowhere"), NULL);
}

static void test_history_kept(void **state)
{
	struct fsm *f = *state;
	struct fsm *g = malloc(sizeof(*g));
	const struct fsm_history *h;
	Poolpair__State *st;
	void *buf;
	size_t len;

	assert_non_null(g);
	base(f);                                             /* 1..6 */
	ok(f, c_pair("pool-east2", "pool-2022", true));      /* 7: forced */
	ok(f, c_pair("pool-east", "pool-west", false));      /* 8 */
	ok(f, c_event("recover --force-quorum", true, true, "voters: 2"));
	ok(f, c_event("rebuild of east-1", false, true, "seeded")); /* 10 */
	{
		Poolpair__Command *c =
		    c_event("rebuild of west-1", false, true, "seeded");

		c->record_event->keep = true;
		ok(f, c);                                    /* 11: kept */
	}
	refused(f, c_event("hook fence for pool-east", true, false, "exit 1"),
		FSM_E_REFUSED_EVENT, "exit 1");              /* 12: refused */
	ok(f, at(77, c_disaster("pool-east")));              /* 13: forced */
	assert_true(fsm_history_get(f, 7)->kept);
	assert_false(fsm_history_get(f, 8)->kept);
	assert_true(fsm_history_get(f, 9)->kept);
	assert_false(fsm_history_get(f, 10)->kept);
	assert_true(fsm_history_get(f, 11)->kept);
	assert_false(fsm_history_get(f, 12)->kept);
	assert_true(fsm_history_get(f, 13)->kept);
	assert_int_equal(f->n_kept, 0); /* all still in the ring */

	/* 300 more: the ring moves on, the kept ones stay */
	refusals(f, 300);
	assert_int_equal(f->decisions, 313);
	assert_null(fsm_history_get(f, 8));
	assert_null(fsm_history_get(f, 10));
	assert_null(fsm_history_get(f, 12));
	assert_null(fsm_history_get(f, 57)); /* just before the ring */
	assert_non_null(fsm_history_get(f, 58));
	h = fsm_history_get(f, 7);
	assert_non_null(h);
	assert_int_equal(h->seq, 7);
	assert_string_equal(h->what, "pair pool-east2 pool-2022 (forced)");
	assert_true(h->forced);
	assert_int_equal(fsm_history_get(f, 9)->seq, 9);
	assert_string_equal(fsm_history_get(f, 11)->what,
			    "rebuild of west-1: seeded");
	h = fsm_history_get(f, 13);
	assert_int_equal(h->time_ms, 77);
	assert_true(strstr(h->what, "disaster") != NULL);
	assert_int_equal(f->n_kept, 4);
	assert_int_equal(f->kept_dropped, 0);

	/* the snapshot carries them after the ring, and a restore keeps them */
	assert_int_equal(fsm_snapshot(f, &buf, &len), 0);
	st = poolpair__state__unpack(NULL, len, buf);
	assert_non_null(st);
	assert_int_equal(st->n_history, FSM_HISTORY);
	assert_int_equal(st->n_kept_history, 4);
	assert_int_equal(st->kept_history[0]->seq, 7);
	assert_int_equal(st->kept_history[3]->seq, 13);
	assert_true(st->kept_history[1]->kept);
	poolpair__state__free_unpacked(st, NULL);
	free(buf);
	round_trip(f, g);
	same_history(f, g);
	assert_string_equal(fsm_history_get(g, 7)->what,
			    "pair pool-east2 pool-2022 (forced)");

	/* both go on the same way */
	refusals(f, 100);
	refusals(g, 100);
	ok(f, c_pair("pool-std", "pool-virt", true));
	ok(g, c_pair("pool-std", "pool-virt", true));
	same_history(f, g);
	round_trip(f, g);
	free(g);
}

static void test_history_kept_cap(void **state)
{
	struct fsm *f = *state;
	struct fsm *g = malloc(sizeof(*g));
	const struct fsm_history *page[8];
	unsigned i, total = FSM_HISTORY_KEPT + FSM_HISTORY + 40;
	char what[FSM_WHAT_LEN + 40], who[FSM_WHO_LEN + 40];
	void *buf;
	size_t len;

	assert_non_null(g);
	/* the longest texts a decision records: the snapshot of a full
	 * history must still restore (it stays far below the 4 MiB bound) */
	memset(what, 'w', sizeof(what) - 1);
	what[sizeof(what) - 1] = '\0';
	memset(who, 'o', sizeof(who) - 1);
	who[sizeof(who) - 1] = '\0';
	for (i = 0; i < total; i++) {
		Poolpair__Command *c = c_event(what, true, true, "");

		free(c->who);
		c->who = dup(who);
		ok(f, at(i + 1, c));
	}
	assert_int_equal(strlen(last(f)->what), FSM_WHAT_LEN - 1);
	assert_int_equal(strlen(last(f)->who), FSM_WHO_LEN - 1);
	assert_int_equal(fsm_snapshot(f, &buf, &len), 0);
	assert_true(len > (FSM_HISTORY + FSM_HISTORY_KEPT) *
			      (FSM_WHAT_LEN + FSM_WHO_LEN - 2));
	assert_true(len < 1024 * 1024);
	free(buf);
	/* the ring holds the newest 256, the kept ones the 1024 before; the
	 * 40 oldest were dropped and counted */
	assert_int_equal(f->n_kept, FSM_HISTORY_KEPT);
	assert_int_equal(f->kept_dropped, 40);
	assert_null(fsm_history_get(f, 40));
	assert_non_null(fsm_history_get(f, 41));
	assert_int_equal(fsm_history_get(f, 41)->time_ms, 41);
	assert_int_equal(fsm_history_get(f, total - FSM_HISTORY)->seq,
			 total - FSM_HISTORY);
	/* the oldest page ends at the oldest kept entry */
	assert_int_equal(fsm_history_page(f, 44, page, 8), 3);
	assert_int_equal(page[0]->seq, 43);
	assert_int_equal(page[2]->seq, 41);
	round_trip(f, g);
	same_history(f, g);
	/* and one more drops one more, in both */
	ok(f, c_event("recover --force-quorum", true, true, ""));
	ok(g, c_event("recover --force-quorum", true, true, ""));
	assert_int_equal(f->kept_dropped, 41);
	same_history(f, g);
	free(g);
}

static void expect_page(const struct fsm *f, uint64_t before, size_t max,
			const uint64_t *want, size_t n)
{
	const struct fsm_history *page[64];
	size_t i, got;

	assert_true(max <= 64);
	got = fsm_history_page(f, before, page, max);
	assert_int_equal(got, n);
	for (i = 0; i < n; i++)
		assert_int_equal(page[i]->seq, want[i]);
}

static void test_history_paging(void **state)
{
	struct fsm *f = *state;
	static const uint64_t newest[] = {303, 302, 301};
	static const uint64_t edge[] = {50, 49, 48, 2};
	static const uint64_t crossing[] = {49, 48, 2};
	static const uint64_t only_kept[] = {2};
	const struct fsm_history *page[4];
	uint64_t before;
	size_t n, seen = 0;

	assert_int_equal(fsm_history_page(f, 0, page, 4), 0);
	ok(f, c_add_pool("pool-east", "east", "enterprise", "physical",
			 "windows-2019"));                   /* 1 */
	ok(f, c_event("recover --force-quorum", true, true, "")); /* 2 */
	refusals(f, 301);                                    /* 3..303 */
	/* the ring: 48..303; kept before it: 2 */
	expect_page(f, 0, 3, newest, 3);
	expect_page(f, 304, 3, newest, 3);
	expect_page(f, UINT64_MAX, 3, newest, 3);
	expect_page(f, 51, 4, edge, 4);
	expect_page(f, 50, 3, crossing, 3);
	expect_page(f, 48, 4, only_kept, 1);
	expect_page(f, 3, 4, only_kept, 1);
	expect_page(f, 2, 4, NULL, 0);
	expect_page(f, 1, 4, NULL, 0);
	expect_page(f, 0, 0, NULL, 0);
	/* walking the pages with the cursor sees every entry once, in
	 * order */
	before = 0;
	for (;;) {
		size_t i;

		n = fsm_history_page(f, before, page, 4);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			assert_true(before == 0 || page[i]->seq < before);
			assert_true(i == 0 || page[i]->seq < page[i - 1]->seq);
		}
		seen += n;
		before = page[n - 1]->seq;
	}
	assert_int_equal(seen, 256 + 1);
}

static void edit_kept_in_ring(Poolpair__State *st)
{
	/* a kept entry must be older than the ring */
	st->kept_history[0]->seq = st->history[0]->seq;
}

static void edit_kept_order(Poolpair__State *st)
{
	st->kept_history[1]->seq = st->kept_history[0]->seq;
}

static void edit_kept_flag(Poolpair__State *st)
{
	st->kept_history[0]->kept = false;
}

static void edit_kept_refused(Poolpair__State *st)
{
	st->kept_history[0]->code = FSM_E_NOT_FOUND;
}

static void edit_kept_too_many(Poolpair__State *st)
{
	size_t n = FSM_HISTORY_KEPT + 1, i;
	Poolpair__HistoryEntry **v = zalloc(n * sizeof(*v));

	for (i = 0; i < n; i++) {
		v[i] = zalloc(sizeof(*v[i]));
		poolpair__history_entry__init(v[i]);
		v[i]->seq = i + 1;
		v[i]->kept = true;
	}
	for (i = 0; i < st->n_kept_history; i++)
		poolpair__history_entry__free_unpacked(st->kept_history[i],
							NULL);
	free(st->kept_history);
	st->kept_history = v;
	st->n_kept_history = n;
	st->decisions += 2000;
}

static void test_history_restore_refusals(void **state)
{
	struct fsm *f = *state;

	ok(f, c_event("recover --force-quorum", true, true, ""));
	ok(f, c_event("recover --force-quorum", true, true, ""));
	refusals(f, 300);
	assert_int_equal(f->n_kept, 2);
	restore_refused(f, edit_kept_in_ring);
	restore_refused(f, edit_kept_order);
	restore_refused(f, edit_kept_flag);
	restore_refused(f, edit_kept_refused);
	restore_refused(f, edit_kept_too_many);
	assert_int_equal(restore_edited(f, edit_nothing), 0);
	assert_int_equal(f->n_kept, 2);
}

/* Planned moves of the CMS: begin (writes stop and drain), complete or
 * abort, each naming the move; what they refuse. */
static void test_cms_planned(void **state)
{
	struct fsm *f = *state;
	struct fsm *g = malloc(sizeof(*g));

	assert_non_null(g);
	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	refused(f, c_cms_complete(0), FSM_E_CMS_MOVING,
		"no planned move of the CMS is under way");
	refused(f, c_cms_abort(0, "x"), FSM_E_CMS_MOVING, "no planned move");

	ok(f, at(100, c_cms_planned(false)));
	expect_last(f, "begin planned cms failover pool-east to pool-west",
		    false);
	assert_false(last(f)->kept);
	assert_string_equal(f->cms_active, "pool-east"); /* not yet */
	assert_int_equal(f->cms_epoch, 1);
	assert_int_equal(f->cms_state, FSM_STATE_FAILING_OVER);
	assert_int_equal(f->cms_since_ms, 100);
	round_trip(f, g);
	assert_int_equal(g->cms_state, FSM_STATE_FAILING_OVER);
	assert_int_equal(g->cms_since_ms, 100);

	/* while it drains: no other move of it, no unpairing */
	refused(f, c_cms_planned(false), FSM_E_CMS_MOVING,
		"a planned move of the CMS from pool-east to pool-west is "
		"under way");
	refused(f, c_cms_failover(true), FSM_E_CMS_MOVING, "under way");
	refused(f, c_unpair("pool-west"), FSM_E_CMS_MOVING,
		"the CMS is moving from pool-east");
	refused(f, c_cms_complete(99), FSM_E_CMS_MOVING,
		"began at 100, not at 99");
	assert_int_equal(fsm_cms_failover_check(f, true, false, NULL),
			 FSM_E_CMS_MOVING);

	/* the drain done: it moves, nothing at risk */
	ok(f, at(150, c_cms_complete(100)));
	expect_last(f,
		    "cms failover pool-east to pool-west (planned, drained: "
		    "nothing at risk)",
		    false);
	assert_int_equal(last(f)->data_at_risk_records, 0);
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 2);
	assert_int_equal(f->cms_state, FSM_STATE_NORMAL);
	assert_int_equal(f->cms_since_ms, 150);
	refused(f, c_cms_complete(100), FSM_E_CMS_MOVING, "no planned move");
	check_invariants(f);

	/* an abort: back to normal, the CMS stays */
	ok(f, at(200, c_cms_planned(true)));
	expect_last(f,
		    "begin planned cms failover pool-west to pool-east (forced)",
		    true);
	refused(f, c_cms_abort(150, "late"), FSM_E_CMS_MOVING, "not at 150");
	ok(f, at(230, c_cms_abort(200, "the drain did not finish in time")));
	expect_last(f, "abort cms failover of pool-west", false);
	assert_string_equal(last(f)->reason,
			    "the drain did not finish in time");
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 2);
	assert_int_equal(f->cms_state, FSM_STATE_NORMAL);
	assert_int_equal(f->cms_since_ms, 230);

	/* the pair went down during the drain: complete refused */
	ok(f, at(300, c_cms_planned(false)));
	ok(f, c_disaster("pool-east"));
	refused(f, c_cms_complete(300), FSM_E_PAIR_DOWN,
		"the CMS cannot move to it");
	ok(f, c_cms_abort(300, "pair down"));
	ok(f, c_recovering("pool-east"));
	ok(f, c_fb_begin("pool-east", false));
	ok(f, c_fb_complete("pool-east"));

	/* the failover of the pool hosting it moves it and ends the move */
	ok(f, at(400, c_cms_planned(false)));
	refused(f, c_cms_failover(true), FSM_E_CMS_MOVING, NULL);
	ok(f, at(410, c_planned("pool-west")));
	/* ... and while that pool fails over, it cannot be moved alone */
	assert_int_equal(fsm_cms_failover_check(f, false, true, NULL),
			 FSM_E_CMS_MOVING);
	ok(f, at(420, c_complete("pool-west")));
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_state, FSM_STATE_NORMAL);
	assert_int_equal(f->cms_since_ms, 420);
	refused(f, c_cms_complete(400), FSM_E_CMS_MOVING, "no planned move");
	check_invariants(f);
	round_trip(f, g);

	/* a pool failing over keeps its CMS until it moves with it */
	fsm_init(f);
	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, c_planned("pool-east"));
	refused(f, c_cms_planned(false), FSM_E_FAILED_OVER,
		"its failover moves the CMS with it");
	refused(f, c_cms_failover(true), FSM_E_FAILED_OVER, NULL);
	free(g);
}

static void edit_cms_moving_unpaired(Poolpair__State *st)
{
	st->cms->state = POOLPAIR__FAILOVER_STATE__FAILOVER_FAILING_OVER;
	set_str(&st->cms->active, "pool-std");
}

static void edit_cms_state_bad(Poolpair__State *st)
{
	st->cms->state = POOLPAIR__FAILOVER_STATE__FAILOVER_FAILED_OVER;
}

static void test_cms_restore_refusals(void **state)
{
	struct fsm *f = *state;

	base(f);
	ok(f, c_pair("pool-east", "pool-west", false));
	ok(f, c_cms_planned(false));
	restore_refused(f, edit_cms_moving_unpaired);
	restore_refused(f, edit_cms_state_bad);
	assert_int_equal(restore_edited(f, edit_nothing), 0);
	assert_int_equal(f->cms_state, FSM_STATE_FAILING_OVER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_init_and_names),
	    T(test_sites),
	    T(test_names_dash),
	    T(test_site_in_use),
	    T(test_add_pool),
	    T(test_add_pool_without_pool),
	    T(test_pool_capacity),
	    T(test_pool_site_capacity),
	    T(test_remove_pool),
	    T(test_pair_supported),
	    T(test_pair_force_without_need),
	    T(test_pair_each_rule),
	    T(test_pair_all_rules),
	    T(test_pair_all_rules_long_names),
	    T(test_pair_refusals),
	    T(test_unpair),
	    T(test_sbas),
	    T(test_add_sba_without_sba),
	    T(test_members),
	    T(test_member_capacity),
	    T(test_register_without_member),
	    T(test_policy),
	    T(test_record_event),
	    T(test_cms_place),
	    T(test_topology_applies),
	    T(test_topology_atomic),
	    T(test_topology_forced_and_limits),
	    T(test_topology_deep_nesting),
	    T(test_malformed_empty),
	    T(test_malformed_no_op),
	    T(test_malformed_too_large),
	    T(test_malformed_random),
	    T(test_malformed_truncated),
	    T(test_history_who),
	    T(test_history_ring),
	    T(test_snapshot_round_trip),
	    T(test_restore_refusals),
	    T(test_failover_cycle),
	    T(test_failover_disaster),
	    T(test_failover_refusals),
	    T(test_failover_epoch_limit),
	    T(test_cms_failover),
	    T(test_failover_check_agrees),
	    T(test_failover_snapshot_mid_cycle),
	    T(test_failover_restore_refusals),
	    T(test_pair_mode),
	    T(test_history_kept),
	    T(test_history_kept_cap),
	    T(test_history_paging),
	    T(test_history_restore_refusals),
	    T(test_cms_planned),
	    T(test_cms_restore_refusals),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
