/* fsm_cmds: test helpers (header only) of the state machine's unit tests:
 * commands built as decoded poolpair.Command values (through the encoders
 * of consensus/cmd.h where there is one), applied and checked (accepted;
 * refused with a code and reason, nothing but the history changed),
 * snapshots round-tripped or edited before a restore. cmocka asserts; every
 * command built is freed by run(). */
#ifndef POOLPAIR_TEST_FSM_CMDS_H
#define POOLPAIR_TEST_FSM_CMDS_H

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

static inline char *dup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static inline void *zalloc(size_t size)
{
	void *p = calloc(1, size);

	assert_non_null(p);
	return p;
}

static inline Poolpair__Command *cmd_new(const char *who)
{
	Poolpair__Command *c = zalloc(sizeof(*c));

	poolpair__command__init(c);
	c->time_ms = T0;
	c->who = dup(who);
	return c;
}

static inline Poolpair__Command *c_add_pool(const char *name, const char *site)
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

static inline Poolpair__Command *c_pair(const char *a, const char *b)
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
static inline Poolpair__Command *c_register_at(uint64_t id, const char *name,
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

static inline Poolpair__Command *c_register(uint64_t id, const char *name,
				     const char *site, const char *pool)
{
	return c_register_at(id, name, site, pool, 0);
}

static inline Poolpair__Command *c_remove_member(uint64_t id)
{
	Poolpair__Command *c = cmd_new("operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_REMOVE_MEMBER;
	c->remove_member = zalloc(sizeof(*c->remove_member));
	poolpair__cmd_remove_member__init(c->remove_member);
	c->remove_member->id = id;
	return c;
}

/* A disaster failover of pool. */
static inline Poolpair__Command *c_disaster(const char *pool)
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

/* The failback of pool (failed over or recovering), forced. */
static inline Poolpair__Command *c_failback(const char *pool)
{
	Poolpair__Command *c = cmd_new("operator@test");
	Poolpair__CmdFailbackBegin *b = zalloc(sizeof(*b));

	poolpair__cmd_failback_begin__init(b);
	b->pool = dup(pool);
	b->forced = true;
	c->op_case = POOLPAIR__COMMAND__OP_FAILBACK_BEGIN;
	c->failback_begin = b;
	return c;
}

/* The end of the failback of pool: its own owner again, epoch + 1. */
static inline Poolpair__Command *c_failback_complete(const char *pool)
{
	Poolpair__Command *c = cmd_new("operator@test");
	Poolpair__CmdFailbackComplete *b = zalloc(sizeof(*b));

	poolpair__cmd_failback_complete__init(b);
	b->pool = dup(pool);
	c->op_case = POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE;
	c->failback_complete = b;
	return c;
}

/* A topology of the one step (taken). */
static inline Poolpair__Command *c_topology1(Poolpair__Command *step)
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
static inline Poolpair__Command *c_writer_at(const char *pool, uint64_t id,
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

static inline Poolpair__Command *c_writer(const char *pool, uint64_t id,
				   uint64_t expect, const char *reason)
{
	return c_writer_at(pool, id, expect, reason, NULL, 0);
}

/* A pool_sync command, decoded from what cmd_pool_sync() encodes. */
static inline Poolpair__Command *c_sync(const char *pool, uint64_t token,
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

static inline Poolpair__Command *c_cms_place(const char *pool)
{
	Poolpair__Command *c = cmd_new("operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_CMS_PLACE;
	c->cms_place = zalloc(sizeof(*c->cms_place));
	poolpair__cmd_cms_place__init(c->cms_place);
	c->cms_place->pool = dup(pool);
	return c;
}

/* Pack c (freed), apply it, return the code. */
static inline int run(struct fsm *f, Poolpair__Command *c, struct fsm_result *res)
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

static inline void ok(struct fsm *f, Poolpair__Command *c)
{
	struct fsm_result res;

	if (run(f, c, &res) != FSM_OK)
		fail_msg("refused (%s): %s", fsm_code_name(res.code),
			 res.reason);
	assert_string_equal(res.reason, "");
}

/* Refused with code and exactly the reason given, nothing but the history
 * changed, the refusal in the history. */
static inline void refused(struct fsm *f, Poolpair__Command *c, int code,
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

static inline const struct fsm_history *last(const struct fsm *f)
{
	const struct fsm_history *h = fsm_history_get(f, f->decisions);

	assert_non_null(h);
	return h;
}

static inline const struct fsm_pool *pool(const struct fsm *f, const char *name)
{
	const struct fsm_pool *p = fsm_pool_find(f, name);

	assert_non_null(p);
	return p;
}

/* Snapshot f, restore into a fresh state: same bytes, same state. */
static inline void round_trip(const struct fsm *f)
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
static inline int restore_edited(struct fsm *f, void (*edit)(Poolpair__State *))
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

static inline void set_str(char **field, const char *value)
{
	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = dup(value);
}

/* The PoolState of name in st. */
static inline Poolpair__PoolState *state_pool(Poolpair__State *st, const char *name)
{
	for (size_t i = 0; i < st->n_pools; i++)
		if (strcmp(st->pools[i]->pool->name, name) == 0)
			return st->pools[i];
	fail_msg("no pool %s in the snapshot", name);
	return NULL;
}

static inline Poolpair__Member *state_member(Poolpair__State *st, uint64_t id)
{
	for (size_t i = 0; i < st->n_members; i++)
		if (st->members[i]->id == id)
			return st->members[i];
	fail_msg("no member %llu in the snapshot", (unsigned long long)id);
	return NULL;
}

#endif
