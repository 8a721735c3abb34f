/* Unit tests of the synchronous standby and the local takeover
 * (consensus/fsm_writer.c): the pool_sync command and its encoder
 * cmd_pool_sync(), each refusal, the value held again (no history entry);
 * pool_writer with positions (cmd_pool_writer() seqs): a local takeover
 * only to the synchronous standby, the epochs it raises and the positions
 * it records for every user set the pool owns, its refusals, a failed-over
 * pool or a pool without a writer (no such rule), fsm_pool_writer_check()
 * agreeing with the apply, fsm_pool_owned_sets(); the sync standby cleared
 * by a change of writer and by its removal; the fields through snapshots
 * (older ones restore 0). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/cmd.h"
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

static Poolpair__Command *cmd_new(const char *who)
{
	Poolpair__Command *c = zalloc(sizeof(*c));

	poolpair__command__init(c);
	c->time_ms = T0;
	c->who = dup(who);
	return c;
}

static Poolpair__Command *c_add_pool(const char *name, const char *site)
{
	Poolpair__Command *c = cmd_new("operator@test");
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
	Poolpair__Command *c = cmd_new("operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_PAIR;
	c->pair = zalloc(sizeof(*c->pair));
	poolpair__cmd_pair__init(c->pair);
	c->pair->a = dup(a);
	c->pair->b = dup(b);
	return c;
}

/* A registration of member id; its addresses are made from tag (so that a
 * re-registration can move them). */
static Poolpair__Command *c_register_at(uint64_t id, const char *name,
					const char *site, const char *pool,
					unsigned tag)
{
	Poolpair__Command *c = cmd_new("agent:test");
	Poolpair__Member *m = zalloc(sizeof(*m));
	char addr[32];

	poolpair__member__init(m);
	m->id = id;
	m->name = dup(name);
	m->site = dup(site);
	m->pool = dup(pool);
	snprintf(addr, sizeof(addr), "10.0.%u.%u:7000", tag, (unsigned)id);
	m->raft_address = dup(addr);
	m->data_address = dup(pool[0] != '\0' ? addr : "");
	snprintf(addr, sizeof(addr), "10.0.%u.%u:8080", tag, (unsigned)id);
	m->api_address = dup(addr);
	c->op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
	c->register_member = zalloc(sizeof(*c->register_member));
	poolpair__cmd_register_member__init(c->register_member);
	c->register_member->member = m;
	return c;
}

static Poolpair__Command *c_register(uint64_t id, const char *name,
				     const char *site, const char *pool)
{
	return c_register_at(id, name, site, pool, 0);
}

static Poolpair__Command *c_remove_member(uint64_t id)
{
	Poolpair__Command *c = cmd_new("operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_REMOVE_MEMBER;
	c->remove_member = zalloc(sizeof(*c->remove_member));
	poolpair__cmd_remove_member__init(c->remove_member);
	c->remove_member->id = id;
	return c;
}

/* A disaster failover of pool. */
static Poolpair__Command *c_disaster(const char *pool)
{
	Poolpair__Command *c = cmd_new("operator@test");
	Poolpair__CmdFailoverBegin *b = zalloc(sizeof(*b));

	poolpair__cmd_failover_begin__init(b);
	b->pool = dup(pool);
	b->forced = true;
	b->reason = dup("disaster");
	c->op_case = POOLPAIR__COMMAND__OP_FAILOVER_BEGIN;
	c->failover_begin = b;
	return c;
}

/* A topology of the one step (taken). */
static Poolpair__Command *c_topology1(Poolpair__Command *step)
{
	Poolpair__Command *c = cmd_new("operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_TOPOLOGY;
	c->topology = zalloc(sizeof(*c->topology));
	poolpair__cmd_topology__init(c->topology);
	c->topology->n_steps = 1;
	c->topology->steps = zalloc(sizeof(*c->topology->steps));
	c->topology->steps[0] = step;
	return c;
}

/* A pool_writer command with the n positions of seqs, decoded from what
 * cmd_pool_writer() encodes (so that it can be a topology step too). */
static Poolpair__Command *c_writer_at(const char *pool, uint64_t id,
				      uint64_t expect, const char *reason,
				      const struct cmd_writer_seq *seqs,
				      size_t n)
{
	const struct cmd_ctx ctx = {T0, "leader:writer"};
	const struct cmd_writer w = {.pool = pool,
				     .member_id = id,
				     .expect_token = expect,
				     .reason = reason,
				     .seqs = seqs,
				     .n_seqs = n};
	struct cmd_buf b;
	Poolpair__Command *c;

	assert_int_equal(cmd_pool_writer(&ctx, &w, &b), 0);
	c = poolpair__command__unpack(NULL, b.len, b.buf);
	assert_non_null(c);
	cmd_buf_free(&b);
	return c;
}

static Poolpair__Command *c_writer(const char *pool, uint64_t id,
				   uint64_t expect, const char *reason)
{
	return c_writer_at(pool, id, expect, reason, NULL, 0);
}

/* A pool_sync command, decoded from what cmd_pool_sync() encodes. */
static Poolpair__Command *c_sync(const char *pool, uint64_t token,
				 uint64_t standby, const char *reason)
{
	const struct cmd_ctx ctx = {T0, "agent:east"};
	const struct cmd_pool_sync s = {.pool = pool,
					.writer_token = token,
					.standby = standby,
					.reason = reason};
	struct cmd_buf b;
	Poolpair__Command *c;

	assert_int_equal(cmd_pool_sync(&ctx, &s, &b), 0);
	c = poolpair__command__unpack(NULL, b.len, b.buf);
	assert_non_null(c);
	cmd_buf_free(&b);
	return c;
}

static Poolpair__Command *c_cms_place(const char *pool)
{
	Poolpair__Command *c = cmd_new("operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_CMS_PLACE;
	c->cms_place = zalloc(sizeof(*c->cms_place));
	poolpair__cmd_cms_place__init(c->cms_place);
	c->cms_place->pool = dup(pool);
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

	if (run(f, c, &res) != FSM_OK)
		fail_msg("refused (%s): %s", fsm_code_name(res.code),
			 res.reason);
	assert_string_equal(res.reason, "");
}

/* Refused with code and exactly the reason given, nothing but the history
 * changed, the refusal in the history. */
static void refused(struct fsm *f, Poolpair__Command *c, int code,
		    const char *reason)
{
	struct fsm *before = malloc(sizeof(*before));
	const struct fsm_history *h;
	struct fsm_result res;

	assert_non_null(before);
	memcpy(before, f, sizeof(*f));
	assert_int_equal(run(f, c, &res), code);
	assert_string_equal(res.reason, reason);
	assert_memory_equal(before, f, offsetof(struct fsm, history));
	assert_int_equal(f->decisions, before->decisions + 1);
	h = fsm_history_get(f, f->decisions);
	assert_non_null(h);
	assert_int_equal(h->code, code);
	assert_string_equal(h->reason, reason);
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

/* The PoolState of name in st. */
static Poolpair__PoolState *state_pool(Poolpair__State *st, const char *name)
{
	for (size_t i = 0; i < st->n_pools; i++)
		if (strcmp(st->pools[i]->pool->name, name) == 0)
			return st->pools[i];
	fail_msg("no pool %s in the snapshot", name);
	return NULL;
}

static Poolpair__Member *state_member(Poolpair__State *st, uint64_t id)
{
	for (size_t i = 0; i < st->n_members; i++)
		if (st->members[i]->id == id)
			return st->members[i];
	fail_msg("no member %llu in the snapshot", (unsigned long long)id);
	return NULL;
}

/* pool-east (east, hosting the CMS) paired with pool-west (west); agents
 * east (1), east2 (5), east3 (6) of pool-east, west (2) and west2 (7) of
 * pool-west, a witness (3). east is the writer of pool-east (token 1),
 * west of pool-west (token 1). */
static void deployment(struct fsm *f)
{
	ok(f, c_add_pool("pool-east", "east"));
	ok(f, c_add_pool("pool-west", "west"));
	ok(f, c_pair("pool-east", "pool-west"));
	ok(f, c_cms_place("pool-east"));
	ok(f, c_register(1, "east", "east", "pool-east"));
	ok(f, c_register(2, "west", "west", "pool-west"));
	ok(f, c_register(3, "witness", "third", ""));
	ok(f, c_register(5, "east2", "east", "pool-east"));
	ok(f, c_register(6, "east3", "east", "pool-east"));
	ok(f, c_register(7, "west2", "west", "pool-west"));
	ok(f, c_writer("pool-east", 1, 0, "no writer"));
	ok(f, c_writer("pool-west", 2, 0, "no writer"));
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

/* fsm_pool_writer_check() of pool and id answers code and reason (""
 * when accepted), and changes nothing. */
static void check_says(const struct fsm *f, const char *pool, uint64_t id,
		       int code, const char *reason)
{
	struct fsm *before = malloc(sizeof(*before));
	struct fsm_result res;

	assert_non_null(before);
	memcpy(before, f, sizeof(*f));
	memset(&res, 0x5a, sizeof(res));
	assert_int_equal(fsm_pool_writer_check(f, pool, id, &res), code);
	assert_int_equal(res.code, code);
	assert_string_equal(res.reason, reason);
	assert_int_equal(res.seq, 0);
	assert_int_equal(fsm_pool_writer_check(f, pool, id, NULL), code);
	assert_memory_equal(before, f, sizeof(*f));
	free(before);
}

/* ---- the encoders ---- */

static void test_cmd_pool_sync(void **state)
{
	const struct cmd_ctx ctx = {T0 + 9, "agent:east"};
	const struct cmd_pool_sync s = {.pool = "pool-east",
					.writer_token = 4,
					.standby = 5,
					.reason = "east2 caught up"};
	const struct cmd_pool_sync empty = {.writer_token = 1};
	const struct cmd_writer_seq seqs[2] = {
	    {.user_set = "pool-east", .seq = {10, 20}},
	    {.user_set = NULL, .seq = {UINT64_MAX, 0}},
	};
	const struct cmd_writer w = {.pool = "pool-east",
				     .member_id = 5,
				     .expect_token = 4,
				     .reason = "local takeover",
				     .seqs = seqs,
				     .n_seqs = 2};
	Poolpair__Command *c;
	struct cmd_buf b;

	(void)state;
	assert_int_equal(cmd_pool_sync(&ctx, &s, &b), 0);
	c = poolpair__command__unpack(NULL, b.len, b.buf);
	assert_non_null(c);
	assert_int_equal(c->op_case, POOLPAIR__COMMAND__OP_POOL_SYNC);
	assert_int_equal(c->time_ms, T0 + 9);
	assert_string_equal(c->who, "agent:east");
	assert_string_equal(c->pool_sync->pool, "pool-east");
	assert_int_equal(c->pool_sync->writer_token, 4);
	assert_int_equal(c->pool_sync->standby, 5);
	assert_string_equal(c->pool_sync->reason, "east2 caught up");
	poolpair__command__free_unpacked(c, NULL);
	cmd_buf_free(&b);
	/* NULL strings encode "", standby 0 is none */
	assert_int_equal(cmd_pool_sync(&ctx, &empty, &b), 0);
	c = poolpair__command__unpack(NULL, b.len, b.buf);
	assert_non_null(c);
	assert_string_equal(c->pool_sync->pool, "");
	assert_string_equal(c->pool_sync->reason, "");
	assert_int_equal(c->pool_sync->standby, 0);
	assert_int_equal(c->pool_sync->writer_token, 1);
	poolpair__command__free_unpacked(c, NULL);
	cmd_buf_free(&b);

	/* pool_writer with positions */
	assert_int_equal(cmd_pool_writer(&ctx, &w, &b), 0);
	c = poolpair__command__unpack(NULL, b.len, b.buf);
	assert_non_null(c);
	assert_int_equal(c->op_case, POOLPAIR__COMMAND__OP_POOL_WRITER);
	assert_int_equal(c->pool_writer->member_id, 5);
	assert_int_equal(c->pool_writer->n_seqs, 2);
	assert_string_equal(c->pool_writer->seqs[0]->user_set, "pool-east");
	assert_int_equal(c->pool_writer->seqs[0]->data_seq, 10);
	assert_int_equal(c->pool_writer->seqs[0]->content_seq, 20);
	assert_string_equal(c->pool_writer->seqs[1]->user_set, "");
	assert_true(c->pool_writer->seqs[1]->data_seq == UINT64_MAX);
	assert_int_equal(c->pool_writer->seqs[1]->content_seq, 0);
	poolpair__command__free_unpacked(c, NULL);
	cmd_buf_free(&b);
}

/* ---- pool_sync ---- */

static void test_sync_set(void **state)
{
	struct fsm *f = *state;
	struct fsm_result res;
	uint64_t decisions;

	deployment(f);
	assert_int_equal(pool(f, "pool-east")->sync_standby, 0);
	ok(f, c_sync("pool-east", 1, 5, "east2 caught up"));
	assert_int_equal(pool(f, "pool-east")->sync_standby, 5);
	assert_string_equal(last(f)->what,
			    "sync standby of pool-east: none -> east2");
	assert_string_equal(last(f)->reason, "east2 caught up");
	assert_string_equal(last(f)->who, "agent:east");
	assert_int_equal(last(f)->code, FSM_OK);
	/* nothing else moved */
	assert_int_equal(pool(f, "pool-east")->writer, 1);
	assert_int_equal(pool(f, "pool-east")->writer_token, 1);
	assert_int_equal(pool(f, "pool-west")->sync_standby, 0);

	/* the same value again: accepted, no history entry */
	decisions = f->decisions;
	memset(&res, 0x5a, sizeof(res));
	assert_int_equal(run(f, c_sync("pool-east", 1, 5, "again"), &res),
			 FSM_OK);
	assert_int_equal(res.code, FSM_OK);
	assert_string_equal(res.reason, "");
	assert_int_equal(res.seq, 0);
	assert_int_equal(f->decisions, decisions);
	assert_string_equal(last(f)->reason, "east2 caught up");
	assert_int_equal(pool(f, "pool-east")->sync_standby, 5);

	/* another standby, then none */
	ok(f, c_sync("pool-east", 1, 6, "east3 chosen"));
	assert_string_equal(last(f)->what,
			    "sync standby of pool-east: east2 -> east3");
	assert_int_equal(pool(f, "pool-east")->sync_standby, 6);
	ok(f, c_sync("pool-east", 1, 0, "standby east3 lost: silent"));
	assert_string_equal(last(f)->what,
			    "sync standby of pool-east: east3 -> none");
	assert_string_equal(last(f)->reason, "standby east3 lost: silent");
	assert_int_equal(pool(f, "pool-east")->sync_standby, 0);
	decisions = f->decisions;
	assert_int_equal(run(f, c_sync("pool-east", 1, 0, ""), &res), FSM_OK);
	assert_int_equal(res.seq, 0);
	assert_int_equal(f->decisions, decisions);
	/* in any failover state */
	ok(f, c_sync("pool-west", 1, 7, ""));
	ok(f, c_disaster("pool-west"));
	ok(f, c_sync("pool-west", 1, 0, ""));
	assert_int_equal(pool(f, "pool-west")->sync_standby, 0);
	round_trip(f);
}

static void edit_member6_west(Poolpair__State *st)
{
	set_str(&state_member(st, 6)->site, "west");
}

static void test_sync_refusals(void **state)
{
	struct fsm *f = *state;

	ok(f, c_add_pool("pool-east", "east"));
	ok(f, c_add_pool("pool-west", "west"));
	ok(f, c_pair("pool-east", "pool-west"));
	ok(f, c_register(1, "east", "east", "pool-east"));
	ok(f, c_register(5, "east2", "east", "pool-east"));
	ok(f, c_register(6, "east3", "east", "pool-east"));
	ok(f, c_register(2, "west", "west", "pool-west"));
	ok(f, c_register(3, "witness", "third", ""));
	/* no writer: whoever asks is not it */
	refused(f, c_sync("pool-east", 0, 5, ""), FSM_E_STALE,
		"pool-east has no writer");
	assert_string_equal(last(f)->what,
			    "sync standby of pool-east: member 5");
	ok(f, c_writer("pool-east", 1, 0, ""));
	refused(f, c_sync("", 1, 5, ""), FSM_E_INVALID, "pool name is empty");
	refused(f, c_sync("pool east", 1, 5, ""), FSM_E_INVALID,
		"pool name \"pool?east\" has a character outside "
		"[A-Za-z0-9._-]");
	refused(f, c_sync("pool-north", 1, 5, ""), FSM_E_NOT_FOUND,
		"pool pool-north is not defined");
	/* a token other than the pool's: asked by a former writer */
	refused(f, c_sync("pool-east", 0, 5, ""), FSM_E_STALE,
		"the writer of pool-east changed since: its token is 1, the "
		"request was made at 0");
	refused(f, c_sync("pool-east", 2, 0, ""), FSM_E_STALE,
		"the writer of pool-east changed since: its token is 1, the "
		"request was made at 2");
	assert_string_equal(last(f)->what, "sync standby of pool-east: none");
	/* the standby must be a standby of the pool */
	refused(f, c_sync("pool-east", 1, 9, ""), FSM_E_NOT_FOUND,
		"member 9 is not registered");
	refused(f, c_sync("pool-east", 1, 2, ""), FSM_E_INVALID,
		"member 2 (west) is an agent of pool-west, not pool-east");
	assert_string_equal(last(f)->what,
			    "sync standby of pool-east: west (member 2)");
	refused(f, c_sync("pool-east", 1, 3, ""), FSM_E_INVALID,
		"member 3 (witness) is a witness, not an agent of pool-east");
	refused(f, c_sync("pool-east", 1, 1, ""), FSM_E_INVALID,
		"east (member 1) is the writer of pool-east, not a standby");
	/* not a topology step */
	refused(f, c_topology1(c_sync("pool-east", 1, 5, "")), FSM_E_INVALID,
		"step 1 (pool sync): a change of sync standby cannot be a "
		"topology step");
	/* a member of the pool away from its site (a state from before
	 * such were refused) */
	assert_int_equal(restore_edited(f, edit_member6_west), 0);
	refused(f, c_sync("pool-east", 1, 6, ""), FSM_E_INVALID,
		"member 6 (east3) is in site west, pool-east is in site east");
	assert_int_equal(pool(f, "pool-east")->sync_standby, 0);
	ok(f, c_sync("pool-east", 1, 5, ""));
}

/* ---- the local takeover ---- */

static void test_takeover_refused(void **state)
{
	struct fsm *f = *state;
	const struct cmd_writer_seq seqs[] = {
	    {.user_set = "pool-east", .seq = {10, 20}},
	    {.user_set = "cms", .seq = {3, 4}},
	};

	deployment(f);
	/* no synchronous standby: no standby is known to be caught up */
	check_says(f, "pool-east", 5, FSM_E_REFUSED,
		   "east2 is not caught up: the synchronous standby of "
		   "pool-east is none");
	refused(f, c_writer_at("pool-east", 5, 1, "local takeover", seqs, 2),
		FSM_E_REFUSED,
		"east2 is not caught up: the synchronous standby of pool-east "
		"is none");
	assert_string_equal(last(f)->what,
			    "writer of pool-east: east2 (member 5)");
	/* another one is */
	ok(f, c_sync("pool-east", 1, 6, "east3 caught up"));
	check_says(f, "pool-east", 5, FSM_E_REFUSED,
		   "east2 is not caught up: the synchronous standby of "
		   "pool-east is east3");
	refused(f, c_writer_at("pool-east", 5, 1, "operator", seqs, 2),
		FSM_E_REFUSED,
		"east2 is not caught up: the synchronous standby of pool-east "
		"is east3");
	check_says(f, "pool-east", 6, FSM_OK, "");
	/* the earlier refusals come first: stale, the writer already */
	refused(f, c_writer_at("pool-east", 5, 0, "", seqs, 2), FSM_E_STALE,
		"the writer of pool-east changed since: its token is 1, the "
		"decision was made at 0");
	check_says(f, "pool-east", 1, FSM_E_EXISTS,
		   "east (member 1) is the writer of pool-east already");
	check_says(f, "pool-east", 2, FSM_E_INVALID,
		   "member 2 (west) is an agent of pool-west, not pool-east");
	check_says(f, "pool-east", 9, FSM_E_NOT_FOUND,
		   "member 9 is not registered");
	check_says(f, "pool-north", 5, FSM_E_NOT_FOUND,
		   "pool pool-north is not defined");
	check_says(f, NULL, 5, FSM_E_INVALID, "pool name is empty");
	check_says(f, "pool-east", 0, FSM_E_INVALID,
		   "member id must be greater than 0");
	/* the check does not ask for the token: any view agrees */
	assert_int_equal(pool(f, "pool-east")->writer, 1);
	assert_int_equal(pool(f, "pool-east")->sync_standby, 6);
}

static void test_takeover(void **state)
{
	struct fsm *f = *state;
	const struct cmd_writer_seq seqs[] = {
	    {.user_set = "cms", .seq = {3, 4}},
	    {.user_set = "pool-east", .seq = {10, 20}},
	    /* a user set the pool does not own: ignored */
	    {.user_set = "pool-west", .seq = {99, 99}},
	};
	const char *sets[FSM_MAX_OWNED_SETS];
	uint64_t east_epoch, west_epoch, cms_epoch;

	deployment(f);
	assert_int_equal(fsm_pool_owned_sets(f, "pool-east", sets), 2);
	assert_string_equal(sets[0], "pool-east");
	assert_string_equal(sets[1], "cms");
	assert_int_equal(fsm_pool_owned_sets(f, "pool-west", sets), 1);
	assert_string_equal(sets[0], "pool-west");
	assert_int_equal(fsm_pool_owned_sets(f, "pool-north", sets), 0);
	assert_int_equal(fsm_pool_owned_sets(f, NULL, sets), 0);
	east_epoch = pool(f, "pool-east")->epoch;
	west_epoch = pool(f, "pool-west")->epoch;
	cms_epoch = f->cms_epoch;
	ok(f, c_sync("pool-east", 1, 5, "east2 caught up"));

	/* a position missing, or a user set named twice: refused */
	refused(f, c_writer_at("pool-east", 5, 1, "", seqs + 1, 2),
		FSM_E_INVALID,
		"no position of user set cms at east2: a local takeover names "
		"one per user set pool-east owns");
	refused(f, c_writer_at("pool-east", 5, 1, "", NULL, 0), FSM_E_INVALID,
		"no position of user set pool-east at east2: a local takeover "
		"names one per user set pool-east owns");
	{
		const struct cmd_writer_seq twice[] = {
		    {.user_set = "pool-east", .seq = {10, 20}},
		    {.user_set = "cms", .seq = {3, 4}},
		    {.user_set = "pool-east", .seq = {11, 20}},
		};

		refused(f, c_writer_at("pool-east", 5, 1, "", twice, 3),
			FSM_E_INVALID,
			"user set pool-east is named twice in the positions "
			"of east2");
	}
	check_says(f, "pool-east", 5, FSM_OK, "");

	ok(f, c_writer_at("pool-east", 5, 1,
			  "local takeover: writer east silent 4000 ms", seqs,
			  3));
	assert_int_equal(pool(f, "pool-east")->writer, 5);
	assert_int_equal(pool(f, "pool-east")->writer_token, 2);
	assert_int_equal(pool(f, "pool-east")->sync_standby, 0);
	assert_int_equal(pool(f, "pool-east")->epoch, east_epoch + 1);
	assert_int_equal(pool(f, "pool-east")->writer_seq[0], 10);
	assert_int_equal(pool(f, "pool-east")->writer_seq[1], 20);
	assert_int_equal(f->cms_epoch, cms_epoch + 1);
	assert_int_equal(f->cms_writer_seq[0], 3);
	assert_int_equal(f->cms_writer_seq[1], 4);
	/* the pair's user set is the pair's: untouched */
	assert_int_equal(pool(f, "pool-west")->epoch, west_epoch);
	assert_int_equal(pool(f, "pool-west")->writer_seq[0], 0);
	assert_int_equal(pool(f, "pool-west")->writer_seq[1], 0);
	assert_string_equal(pool(f, "pool-east")->owner, "pool-east");
	assert_int_equal(pool(f, "pool-east")->state, FSM_STATE_NORMAL);
	assert_string_equal(f->cms_active, "pool-east");
	{
		char what[FSM_WHAT_LEN];

		snprintf(what, sizeof(what),
			 "writer of pool-east: east -> east2 (member 5), "
			 "token 2, epoch pool-east %llu, cms epoch %llu",
			 (unsigned long long)east_epoch + 1,
			 (unsigned long long)cms_epoch + 1);
		assert_string_equal(last(f)->what, what);
	}
	assert_string_equal(last(f)->reason,
			    "local takeover: writer east silent 4000 ms");
	assert_int_equal(fsm_pool_writer(f, "pool-east")->id, 5);
	assert_string_equal(fsm_pool_api(f, "pool-east"), "10.0.0.5:8080");
	round_trip(f);

	/* the former writer is a standby now, not caught up */
	check_says(f, "pool-east", 1, FSM_E_REFUSED,
		   "east is not caught up: the synchronous standby of "
		   "pool-east is none");
	ok(f, c_sync("pool-east", 2, 1, "east caught up"));
	ok(f, c_writer_at("pool-east", 1, 2, "back", seqs, 2));
	assert_int_equal(pool(f, "pool-east")->writer, 1);
	assert_int_equal(pool(f, "pool-east")->writer_token, 3);
	assert_int_equal(pool(f, "pool-east")->epoch, east_epoch + 2);
	assert_int_equal(f->cms_epoch, cms_epoch + 2);
}

/* A pool the pair failed over onto owns the pair's user set too: a local
 * takeover raises its epoch and records its position. */
static void test_takeover_pair_owned(void **state)
{
	struct fsm *f = *state;
	const struct cmd_writer_seq seqs[] = {
	    {.user_set = "pool-east", .seq = {10, 20}},
	    {.user_set = "pool-west", .seq = {30, 40}},
	    {.user_set = "cms", .seq = {5, 6}},
	};
	const char *sets[FSM_MAX_OWNED_SETS];
	uint64_t east_epoch, west_epoch, cms_epoch;

	deployment(f);
	ok(f, c_disaster("pool-west"));
	assert_int_equal(fsm_pool_owned_sets(f, "pool-east", sets), 3);
	assert_string_equal(sets[0], "pool-east");
	assert_string_equal(sets[1], "pool-west");
	assert_string_equal(sets[2], "cms");
	assert_int_equal(fsm_pool_owned_sets(f, "pool-west", sets), 0);
	east_epoch = pool(f, "pool-east")->epoch;
	west_epoch = pool(f, "pool-west")->epoch;
	cms_epoch = f->cms_epoch;
	ok(f, c_sync("pool-east", 1, 6, ""));
	refused(f, c_writer_at("pool-east", 6, 1, "", seqs, 1), FSM_E_INVALID,
		"no position of user set pool-west at east3: a local takeover "
		"names one per user set pool-east owns");
	ok(f, c_writer_at("pool-east", 6, 1, "local takeover", seqs, 3));
	assert_int_equal(pool(f, "pool-east")->epoch, east_epoch + 1);
	assert_int_equal(pool(f, "pool-west")->epoch, west_epoch + 1);
	assert_int_equal(f->cms_epoch, cms_epoch + 1);
	assert_int_equal(pool(f, "pool-east")->writer_seq[0], 10);
	assert_int_equal(pool(f, "pool-east")->writer_seq[1], 20);
	assert_int_equal(pool(f, "pool-west")->writer_seq[0], 30);
	assert_int_equal(pool(f, "pool-west")->writer_seq[1], 40);
	assert_int_equal(f->cms_writer_seq[0], 5);
	assert_int_equal(f->cms_writer_seq[1], 6);
	assert_string_equal(pool(f, "pool-west")->owner, "pool-east");
	{
		char what[FSM_WHAT_LEN];

		snprintf(what, sizeof(what),
			 "writer of pool-east: east -> east3 (member 6), "
			 "token 2, epoch pool-east %llu, epoch pool-west %llu, "
			 "cms epoch %llu",
			 (unsigned long long)east_epoch + 1,
			 (unsigned long long)west_epoch + 1,
			 (unsigned long long)cms_epoch + 1);
		assert_string_equal(last(f)->what, what);
	}
	/* the failed-over pool's writer: as before, no sync standby needed,
	 * no epoch raised, positions ignored, its sync standby cleared */
	ok(f, c_sync("pool-west", 1, 7, ""));
	check_says(f, "pool-west", 7, FSM_OK, "");
	ok(f, c_writer("pool-west", 7, 1, "the writer is silent"));
	assert_int_equal(pool(f, "pool-west")->writer, 7);
	assert_int_equal(pool(f, "pool-west")->writer_token, 2);
	assert_int_equal(pool(f, "pool-west")->sync_standby, 0);
	assert_int_equal(pool(f, "pool-west")->epoch, west_epoch + 1);
	assert_int_equal(pool(f, "pool-west")->writer_seq[0], 30);
	assert_string_equal(last(f)->what,
			    "writer of pool-west: west2 (member 7), token 2");
	round_trip(f);
}

/* From no writer (a new pool, a writer removed): no sync standby needed,
 * no epoch raised. */
static void test_writer_from_none(void **state)
{
	struct fsm *f = *state;
	uint64_t epoch, cms_epoch;

	deployment(f);
	ok(f, c_remove_member(1));
	epoch = pool(f, "pool-east")->epoch;
	cms_epoch = f->cms_epoch;
	check_says(f, "pool-east", 6, FSM_OK, "");
	ok(f, c_writer("pool-east", 6, 2, "no writer"));
	assert_int_equal(pool(f, "pool-east")->writer, 6);
	assert_int_equal(pool(f, "pool-east")->writer_token, 3);
	assert_int_equal(pool(f, "pool-east")->epoch, epoch);
	assert_int_equal(f->cms_epoch, cms_epoch);
	assert_int_equal(pool(f, "pool-east")->writer_seq[0], 0);
	assert_string_equal(last(f)->what,
			    "writer of pool-east: east3 (member 6), token 3");
}

static void edit_east_epoch_max(Poolpair__State *st)
{
	state_pool(st, "pool-east")->epoch = UINT64_MAX;
}

static void edit_cms_epoch_max(Poolpair__State *st)
{
	st->cms->epoch = UINT64_MAX;
}

static void edit_token_max(Poolpair__State *st)
{
	state_pool(st, "pool-east")->writer_token = UINT64_MAX;
}

/* An epoch or a token that cannot be raised: no takeover. */
static void test_takeover_full(void **state)
{
	struct fsm *f = *state;
	struct fsm *saved = malloc(sizeof(*saved));
	const struct cmd_writer_seq seqs[] = {
	    {.user_set = "pool-east", .seq = {10, 20}},
	    {.user_set = "cms", .seq = {3, 4}},
	};

	assert_non_null(saved);
	deployment(f);
	ok(f, c_sync("pool-east", 1, 5, ""));
	memcpy(saved, f, sizeof(*f));
	assert_int_equal(restore_edited(f, edit_east_epoch_max), 0);
	check_says(f, "pool-east", 5, FSM_E_FULL,
		   "the epoch of user set pool-east cannot be raised");
	refused(f, c_writer_at("pool-east", 5, 1, "", seqs, 2), FSM_E_FULL,
		"the epoch of user set pool-east cannot be raised");
	memcpy(f, saved, sizeof(*f));
	assert_int_equal(restore_edited(f, edit_cms_epoch_max), 0);
	refused(f, c_writer_at("pool-east", 5, 1, "", seqs, 2), FSM_E_FULL,
		"the epoch of user set cms cannot be raised");
	memcpy(f, saved, sizeof(*f));
	assert_int_equal(restore_edited(f, edit_token_max), 0);
	refused(f, c_writer_at("pool-east", 5, UINT64_MAX, "", seqs, 2),
		FSM_E_FULL, "the writer token of pool-east cannot be raised");
	free(saved);
}

/* ---- clearing the sync standby ---- */

static void test_sync_cleared(void **state)
{
	struct fsm *f = *state;

	deployment(f);
	ok(f, c_sync("pool-east", 1, 5, ""));
	ok(f, c_sync("pool-west", 1, 7, ""));
	/* another standby leaves: kept */
	ok(f, c_remove_member(6));
	assert_string_equal(last(f)->what, "remove member 6");
	assert_int_equal(pool(f, "pool-east")->sync_standby, 5);
	/* the sync standby leaves: none, in the same decision */
	ok(f, c_remove_member(5));
	assert_string_equal(last(f)->what,
			    "remove member 5 (east2), sync standby of "
			    "pool-east: none");
	assert_int_equal(pool(f, "pool-east")->sync_standby, 0);
	assert_int_equal(pool(f, "pool-east")->writer, 1);
	assert_int_equal(pool(f, "pool-east")->writer_token, 1);
	assert_int_equal(pool(f, "pool-west")->sync_standby, 7);
	round_trip(f);
	/* the writer leaves: no writer, no sync standby */
	ok(f, c_remove_member(2));
	assert_string_equal(last(f)->what,
			    "remove member 2 (west), writer of pool-west: no "
			    "writer, token 2");
	assert_int_equal(pool(f, "pool-west")->sync_standby, 0);
	assert_int_equal(pool(f, "pool-west")->writer, 0);
	/* as a topology step too */
	ok(f, c_register(8, "east4", "east", "pool-east"));
	ok(f, c_sync("pool-east", 1, 8, ""));
	ok(f, c_topology1(c_remove_member(8)));
	assert_int_equal(pool(f, "pool-east")->sync_standby, 0);
	round_trip(f);
}

/* ---- snapshots ---- */

static void edit_no_new_fields(Poolpair__State *st)
{
	for (size_t i = 0; i < st->n_pools; i++) {
		st->pools[i]->sync_standby = 0;
		st->pools[i]->writer_data_seq = 0;
		st->pools[i]->writer_content_seq = 0;
	}
	st->cms->writer_data_seq = 0;
	st->cms->writer_content_seq = 0;
}

static void edit_sync_unknown(Poolpair__State *st)
{
	state_pool(st, "pool-east")->sync_standby = 9;
}

static void edit_sync_other_pool(Poolpair__State *st)
{
	state_pool(st, "pool-east")->sync_standby = 2;
}

static void edit_sync_witness(Poolpair__State *st)
{
	state_pool(st, "pool-east")->sync_standby = 3;
}

static void edit_sync_writer(Poolpair__State *st)
{
	state_pool(st, "pool-east")->sync_standby = 5;
}

static void edit_sync_no_writer(Poolpair__State *st)
{
	state_pool(st, "pool-west")->writer = 0;
	state_pool(st, "pool-west")->sync_standby = 7;
}

static void test_sync_snapshot(void **state)
{
	struct fsm *f = *state;
	struct fsm *saved = malloc(sizeof(*saved));
	const struct cmd_writer_seq seqs[] = {
	    {.user_set = "pool-east", .seq = {10, 20}},
	    {.user_set = "cms", .seq = {3, 4}},
	};

	assert_non_null(saved);
	deployment(f);
	ok(f, c_sync("pool-east", 1, 5, ""));
	ok(f, c_writer_at("pool-east", 5, 1, "local takeover", seqs, 2));
	ok(f, c_sync("pool-east", 2, 6, ""));
	ok(f, c_sync("pool-west", 1, 7, ""));
	round_trip(f);
	memcpy(saved, f, sizeof(*f));

	/* a snapshot from before the fields: none, positions 0 */
	assert_int_equal(restore_edited(f, edit_no_new_fields), 0);
	assert_int_equal(pool(f, "pool-east")->sync_standby, 0);
	assert_int_equal(pool(f, "pool-west")->sync_standby, 0);
	assert_int_equal(pool(f, "pool-east")->writer_seq[0], 0);
	assert_int_equal(pool(f, "pool-east")->writer_seq[1], 0);
	assert_int_equal(f->cms_writer_seq[0], 0);
	assert_int_equal(f->cms_writer_seq[1], 0);
	assert_int_equal(pool(f, "pool-east")->writer, 5);

	/* refused, the state unchanged: a sync standby that is not a
	 * standby of the pool in its site, is the writer, or of a pool
	 * without a writer */
	memcpy(f, saved, sizeof(*f));
	assert_int_equal(restore_edited(f, edit_sync_unknown), -EINVAL);
	assert_int_equal(restore_edited(f, edit_sync_other_pool), -EINVAL);
	assert_int_equal(restore_edited(f, edit_sync_witness), -EINVAL);
	assert_int_equal(restore_edited(f, edit_sync_writer), -EINVAL);
	assert_int_equal(restore_edited(f, edit_sync_no_writer), -EINVAL);
	assert_int_equal(restore_edited(f, edit_member6_west), -EINVAL);
	assert_memory_equal(f, saved, sizeof(*f));
	assert_int_equal(pool(f, "pool-east")->sync_standby, 6);
	assert_int_equal(pool(f, "pool-east")->writer_seq[0], 10);
	assert_int_equal(f->cms_writer_seq[1], 4);
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_cmd_pool_sync),
	    T(test_sync_set),
	    T(test_sync_refusals),
	    T(test_takeover_refused),
	    T(test_takeover),
	    T(test_takeover_pair_owned),
	    T(test_writer_from_none),
	    T(test_takeover_full),
	    T(test_sync_cleared),
	    T(test_sync_snapshot),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
