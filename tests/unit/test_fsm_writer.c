/* Unit tests of consensus/fsm_writer.c: the one writer of each pool (the
 * pool_writer command and its encoder cmd_pool_writer(), each refusal, the
 * token), what removing the writer does, the lookups of a pool's writer,
 * and the writer through snapshots (old ones without it included). */
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

#include "fsm_cmds.h"

/* pool-east (east) paired with pool-west (west); agents east (1) and
 * east2 (5) of pool-east, west (2) of pool-west, a witness (3). */
static void deployment(struct fsm *f)
{
	ok(f, c_add_pool("pool-east", "east"));
	ok(f, c_add_pool("pool-west", "west"));
	ok(f, c_pair("pool-east", "pool-west"));
	ok(f, c_register(1, "east", "east", "pool-east"));
	ok(f, c_register(2, "west", "west", "pool-west"));
	ok(f, c_register(3, "witness", "third", ""));
	ok(f, c_register(5, "east2", "east", "pool-east"));
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

/* ---- the encoder ---- */

static void test_cmd_pool_writer(void **state)
{
	const struct cmd_ctx ctx = {T0 + 7, "leader:east"};
	const struct cmd_writer w = {.pool = "pool-east",
				     .member_id = 5,
				     .expect_token = 3,
				     .reason = "the writer is silent"};
	const struct cmd_writer empty = {.member_id = 5};
	Poolpair__Command *c;
	struct cmd_buf b;

	(void)state;
	assert_int_equal(cmd_pool_writer(&ctx, &w, &b), 0);
	c = poolpair__command__unpack(NULL, b.len, b.buf);
	assert_non_null(c);
	assert_int_equal(c->op_case, POOLPAIR__COMMAND__OP_POOL_WRITER);
	assert_int_equal(c->time_ms, T0 + 7);
	assert_string_equal(c->who, "leader:east");
	assert_string_equal(c->pool_writer->pool, "pool-east");
	assert_int_equal(c->pool_writer->member_id, 5);
	assert_int_equal(c->pool_writer->expect_token, 3);
	assert_string_equal(c->pool_writer->reason, "the writer is silent");
	poolpair__command__free_unpacked(c, NULL);
	cmd_buf_free(&b);
	/* NULL strings encode "" */
	assert_int_equal(cmd_pool_writer(&ctx, &empty, &b), 0);
	c = poolpair__command__unpack(NULL, b.len, b.buf);
	assert_non_null(c);
	assert_string_equal(c->pool_writer->pool, "");
	assert_string_equal(c->pool_writer->reason, "");
	poolpair__command__free_unpacked(c, NULL);
	cmd_buf_free(&b);
}

/* ---- pool_writer ---- */

static void test_writer_assign(void **state)
{
	struct fsm *f = *state;
	const struct fsm_member *w;

	deployment(f);
	assert_int_equal(pool(f, "pool-east")->writer, 0);
	assert_int_equal(pool(f, "pool-east")->writer_token, 0);
	assert_null(fsm_pool_writer(f, "pool-east"));
	/* the API of a pool is its writer's: none without one */
	assert_null(fsm_pool_api(f, "pool-east"));

	/* from no writer: token 0 -> 1 */
	ok(f, c_writer("pool-east", 5, 0, "no writer"));
	assert_int_equal(pool(f, "pool-east")->writer, 5);
	assert_int_equal(pool(f, "pool-east")->writer_token, 1);
	assert_string_equal(last(f)->what,
			    "writer of pool-east: east2 (member 5), token 1");
	assert_string_equal(last(f)->reason, "no writer");
	assert_string_equal(last(f)->who, "leader:writer");
	assert_int_equal(last(f)->code, FSM_OK);
	w = fsm_pool_writer(f, "pool-east");
	assert_non_null(w);
	assert_int_equal(w->id, 5);
	assert_string_equal(w->name, "east2");
	assert_string_equal(fsm_pool_api(f, "pool-east"), "10.0.0.5:8080");
	/* the other pool is untouched */
	assert_int_equal(pool(f, "pool-west")->writer, 0);
	assert_int_equal(pool(f, "pool-west")->writer_token, 0);
	assert_null(fsm_pool_writer(f, "pool-west"));
	assert_null(fsm_pool_writer(f, "pool-nowhere"));
	assert_null(fsm_pool_writer(f, NULL));
	assert_null(fsm_pool_api(f, "pool-west"));
	assert_null(fsm_pool_api(f, NULL));
	assert_null(fsm_pool_api(f, ""));

	/* another writer: token 1 -> 2, in any failover state */
	ok(f, c_disaster("pool-east"));
	ok(f, c_writer("pool-east", 1, 1, "the writer is silent"));
	assert_int_equal(pool(f, "pool-east")->writer, 1);
	assert_int_equal(pool(f, "pool-east")->writer_token, 2);
	assert_string_equal(last(f)->what,
			    "writer of pool-east: east (member 1), token 2");
	assert_string_equal(last(f)->reason, "the writer is silent");
	assert_int_equal(fsm_pool_writer(f, "pool-east")->id, 1);
	/* the first agent registered is not the API any more: the writer is */
	assert_string_equal(fsm_pool_api(f, "pool-east"), "10.0.0.1:8080");
	ok(f, c_writer("pool-east", 5, 2, "back"));
	assert_string_equal(fsm_pool_api(f, "pool-east"), "10.0.0.5:8080");
	ok(f, c_register_at(5, "east2", "east", "pool-east", 4));
	assert_string_equal(fsm_pool_api(f, "pool-east"), "10.0.4.5:8080");
	ok(f, c_writer("pool-west", 2, 0, ""));
	assert_int_equal(pool(f, "pool-west")->writer, 2);
	assert_int_equal(pool(f, "pool-west")->writer_token, 1);
	assert_string_equal(fsm_code_name(FSM_E_STALE), "stale");
	round_trip(f);
}

static void test_writer_refusals(void **state)
{
	struct fsm *f = *state;

	deployment(f);
	refused(f, c_writer("", 5, 0, ""), FSM_E_INVALID, "pool name is empty");
	refused(f, c_writer("pool-east", 0, 0, ""), FSM_E_INVALID,
		"member id must be greater than 0");
	refused(f, c_writer("pool-north", 5, 0, ""), FSM_E_NOT_FOUND,
		"pool pool-north is not defined");
	refused(f, c_writer("pool-east", 9, 0, ""), FSM_E_NOT_FOUND,
		"member 9 is not registered");
	assert_string_equal(last(f)->what, "writer of pool-east: member 9");
	refused(f, c_writer("pool-east", 2, 0, ""), FSM_E_INVALID,
		"member 2 (west) is an agent of pool-west, not pool-east");
	refused(f, c_writer("pool-east", 3, 0, ""), FSM_E_INVALID,
		"member 3 (witness) is a witness, not an agent of pool-east");
	/* a stale view: the token moved since */
	refused(f, c_writer("pool-east", 5, 1, ""), FSM_E_STALE,
		"the writer of pool-east changed since: its token is 0, the "
		"decision was made at 1");
	ok(f, c_writer("pool-east", 5, 0, "no writer"));
	refused(f, c_writer("pool-east", 1, 0, "no writer"), FSM_E_STALE,
		"the writer of pool-east changed since: its token is 1, the "
		"decision was made at 0");
	assert_string_equal(last(f)->what,
			    "writer of pool-east: east (member 1)");
	refused(f, c_writer("pool-east", 5, 1, ""), FSM_E_EXISTS,
		"east2 (member 5) is the writer of pool-east already");
	/* not a topology step */
	refused(f, c_topology1(c_writer("pool-east", 1, 1, "")), FSM_E_INVALID,
		"step 1 (pool writer): a change of writer cannot be a "
		"topology step");
	assert_int_equal(pool(f, "pool-east")->writer, 5);
	assert_int_equal(pool(f, "pool-east")->writer_token, 1);
}

static void edit_member5_west(Poolpair__State *st)
{
	set_str(&state_member(st, 5)->site, "west");
}

static void edit_member1_west(Poolpair__State *st)
{
	set_str(&state_member(st, 1)->site, "west");
}

static void edit_token_max(Poolpair__State *st)
{
	state_pool(st, "pool-east")->writer_token = UINT64_MAX;
}

/* A member of the pool in another site (registered before such were
 * refused, so only a restored state holds one) cannot be its writer. */
static void test_writer_other_site(void **state)
{
	struct fsm *f = *state;

	deployment(f);
	assert_int_equal(restore_edited(f, edit_member5_west), 0);
	refused(f, c_writer("pool-east", 5, 0, ""), FSM_E_INVALID,
		"member 5 (east2) is in site west, pool-east is in site east");
	ok(f, c_writer("pool-east", 1, 0, ""));
}

/* A token that cannot be raised: no change of writer, no removal of it */
static void test_writer_token_full(void **state)
{
	struct fsm *f = *state;

	deployment(f);
	ok(f, c_writer("pool-east", 5, 0, ""));
	/* failed over: a change of writer needs no synchronous standby */
	ok(f, c_disaster("pool-east"));
	assert_int_equal(restore_edited(f, edit_token_max), 0);
	refused(f, c_writer("pool-east", 1, UINT64_MAX, ""), FSM_E_FULL,
		"the writer token of pool-east cannot be raised");
	refused(f, c_remove_member(5), FSM_E_FULL,
		"member 5 is the writer of pool-east, whose writer token "
		"cannot be raised");
	/* a standby goes */
	ok(f, c_remove_member(1));
}

/* ---- removal ---- */

static void test_writer_removed(void **state)
{
	struct fsm *f = *state;

	deployment(f);
	ok(f, c_writer("pool-east", 5, 0, ""));
	ok(f, c_writer("pool-west", 2, 0, ""));
	/* a standby leaves: nothing changes for the writer */
	ok(f, c_remove_member(1));
	assert_string_equal(last(f)->what, "remove member 1");
	assert_int_equal(pool(f, "pool-east")->writer, 5);
	assert_int_equal(pool(f, "pool-east")->writer_token, 1);
	/* the writer leaves: no writer, token raised, in the same decision */
	ok(f, c_remove_member(5));
	assert_string_equal(last(f)->what,
			    "remove member 5 (east2), writer of pool-east: no "
			    "writer, token 2");
	assert_int_equal(pool(f, "pool-east")->writer, 0);
	assert_int_equal(pool(f, "pool-east")->writer_token, 2);
	assert_null(fsm_pool_writer(f, "pool-east"));
	assert_null(fsm_pool_api(f, "pool-east"));
	assert_int_equal(pool(f, "pool-west")->writer, 2);
	round_trip(f);
	/* a decision made before the removal is stale now */
	ok(f, c_register(6, "east3", "east", "pool-east"));
	refused(f, c_writer("pool-east", 6, 1, ""), FSM_E_STALE,
		"the writer of pool-east changed since: its token is 2, the "
		"decision was made at 1");
	ok(f, c_writer("pool-east", 6, 2, ""));
	assert_int_equal(pool(f, "pool-east")->writer_token, 3);
	/* a removal as a topology step clears it too */
	ok(f, c_topology1(c_remove_member(6)));
	assert_int_equal(pool(f, "pool-east")->writer, 0);
	assert_int_equal(pool(f, "pool-east")->writer_token, 4);
	round_trip(f);
}

/* ---- snapshots ---- */

static void edit_no_writer_fields(Poolpair__State *st)
{
	for (size_t i = 0; i < st->n_pools; i++) {
		st->pools[i]->writer = 0;
		st->pools[i]->writer_token = 0;
	}
}

static void edit_writer_unknown(Poolpair__State *st)
{
	state_pool(st, "pool-east")->writer = 9;
}

static void edit_writer_other_pool(Poolpair__State *st)
{
	state_pool(st, "pool-east")->writer = 2;
}

static void edit_writer_witness(Poolpair__State *st)
{
	state_pool(st, "pool-east")->writer = 3;
}

static void edit_writer_no_token(Poolpair__State *st)
{
	state_pool(st, "pool-east")->writer_token = 0;
}

static void edit_token_only(Poolpair__State *st)
{
	state_pool(st, "pool-west")->writer = 0;
	state_pool(st, "pool-west")->writer_token = 7;
}

static void test_writer_snapshot(void **state)
{
	struct fsm *f = *state;
	struct fsm *saved = malloc(sizeof(*saved));

	assert_non_null(saved);
	deployment(f);
	ok(f, c_writer("pool-east", 5, 0, ""));
	ok(f, c_disaster("pool-east"));
	ok(f, c_writer("pool-east", 1, 1, ""));
	round_trip(f);
	memcpy(saved, f, sizeof(*f));

	/* a snapshot from before the fields: no writer, token 0 */
	assert_int_equal(restore_edited(f, edit_no_writer_fields), 0);
	assert_int_equal(pool(f, "pool-east")->writer, 0);
	assert_int_equal(pool(f, "pool-east")->writer_token, 0);
	assert_null(fsm_pool_writer(f, "pool-east"));
	ok(f, c_writer("pool-east", 5, 0, "no writer"));
	assert_int_equal(pool(f, "pool-east")->writer_token, 1);

	/* no writer with a token: kept as is */
	memcpy(f, saved, sizeof(*f));
	assert_int_equal(restore_edited(f, edit_token_only), 0);
	assert_int_equal(pool(f, "pool-west")->writer, 0);
	assert_int_equal(pool(f, "pool-west")->writer_token, 7);

	/* refused, the state unchanged: a writer that is not a member of the
	 * pool in its site, a writer without a token */
	memcpy(f, saved, sizeof(*f));
	assert_int_equal(restore_edited(f, edit_writer_unknown), -EINVAL);
	assert_int_equal(restore_edited(f, edit_writer_other_pool), -EINVAL);
	assert_int_equal(restore_edited(f, edit_writer_witness), -EINVAL);
	assert_int_equal(restore_edited(f, edit_writer_no_token), -EINVAL);
	assert_int_equal(restore_edited(f, edit_member1_west), -EINVAL);
	assert_memory_equal(f, saved, sizeof(*f));
	/* a standby in another site (registered before such were refused)
	 * does not stop a restore */
	assert_int_equal(restore_edited(f, edit_member5_west), 0);
	assert_int_equal(pool(f, "pool-east")->writer, 1);
	free(saved);
}

/* ---- registration: one identity per member ---- */

static void test_register_identity(void **state)
{
	struct fsm *f = *state;
	const struct fsm_member *m;

	deployment(f);
	ok(f, c_writer("pool-east", 5, 0, ""));
	/* a second member with a name in use */
	refused(f, c_register(6, "east2", "east", "pool-east"), FSM_E_EXISTS,
		"name east2 is member 5");
	refused(f, c_register(6, "witness", "fourth", ""), FSM_E_EXISTS,
		"name witness is member 3");
	assert_false(fsm_site_exists(f, "fourth"));
	/* a member registered already under another name, site or pool */
	refused(f, c_register(5, "east3", "east", "pool-east"), FSM_E_EXISTS,
		"member 5 is east2 (east, pool-east), not east3 (east, "
		"pool-east): remove it before it registers with another name, "
		"site or pool");
	refused(f, c_register(5, "east2", "west", "pool-east"), FSM_E_EXISTS,
		"member 5 is east2 (east, pool-east), not east2 (west, "
		"pool-east): remove it before it registers with another name, "
		"site or pool");
	refused(f, c_register(5, "east2", "east", "pool-west"), FSM_E_EXISTS,
		"member 5 is east2 (east, pool-east), not east2 (east, "
		"pool-west): remove it before it registers with another name, "
		"site or pool");
	refused(f, c_register(3, "witness", "third", "pool-west"),
		FSM_E_EXISTS,
		"member 3 is witness (third, witness), not witness (third, "
		"pool-west): remove it before it registers with another name, "
		"site or pool");
	/* the same identity with new addresses: in place, the writer kept */
	ok(f, c_register_at(5, "east2", "east", "pool-east", 1));
	m = fsm_member_find(f, 5);
	assert_non_null(m);
	assert_string_equal(m->raft_address, "10.0.1.5:7000");
	assert_string_equal(m->data_address, "10.0.1.5:7000");
	assert_string_equal(m->api_address, "10.0.1.5:8080");
	assert_int_equal(pool(f, "pool-east")->writer, 5);
	assert_int_equal(pool(f, "pool-east")->writer_token, 1);
	ok(f, c_register_at(3, "witness", "third", "", 1));
	/* once removed, the name is free */
	ok(f, c_remove_member(5));
	ok(f, c_register(6, "east2", "east", "pool-east"));
	/* in a topology: the whole topology is refused */
	refused(f, c_topology1(c_register(7, "east", "east", "pool-east")),
		FSM_E_EXISTS,
		"step 1 (register member 7 east (east, pool-east)): name east "
		"is member 1");
}

static void test_register_site(void **state)
{
	struct fsm *f = *state;

	deployment(f);
	/* an agent of a defined pool in another site */
	refused(f, c_register(7, "east3", "west", "pool-east"), FSM_E_INVALID,
		"pool-east is in site east, not west");
	refused(f, c_register(7, "east3", "north", "pool-east"), FSM_E_INVALID,
		"pool-east is in site east, not north");
	assert_false(fsm_site_exists(f, "north"));
	/* a pool not defined yet: any site, but then the pool is defined in
	 * that site or refused */
	ok(f, c_register(7, "north1", "west", "pool-north"));
	ok(f, c_register(8, "north2", "west", "pool-north"));
	refused(f, c_add_pool("pool-north", "north"), FSM_E_INVALID,
		"member 7 (north1) of pool-north is in site west, not north");
	assert_null(fsm_pool_find(f, "pool-north"));
	ok(f, c_add_pool("pool-north", "west"));
	ok(f, c_writer("pool-north", 8, 0, ""));
	/* a witness has no pool to agree with */
	ok(f, c_register(9, "witness2", "fourth", ""));
}

static void edit_duplicate_name(Poolpair__State *st)
{
	set_str(&state_member(st, 5)->name, "east");
}

/* A state from before the refusals may hold two members of one name, or
 * a member away from its pool's site: each may still re-register as it
 * is, while the site rule holds. */
static void test_register_legacy(void **state)
{
	struct fsm *f = *state;

	deployment(f);
	assert_int_equal(restore_edited(f, edit_duplicate_name), 0);
	ok(f, c_register_at(5, "east", "east", "pool-east", 2));
	ok(f, c_register_at(1, "east", "east", "pool-east", 2));
	refused(f, c_register(6, "east", "east", "pool-east"), FSM_E_EXISTS,
		"name east is member 1");
	assert_int_equal(restore_edited(f, edit_member5_west), 0);
	refused(f, c_register_at(5, "east", "west", "pool-east", 3),
		FSM_E_INVALID, "pool-east is in site east, not west");
	ok(f, c_remove_member(5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_cmd_pool_writer),   T(test_writer_assign),
	    T(test_writer_refusals),   T(test_writer_other_site),
	    T(test_writer_token_full), T(test_writer_removed),
	    T(test_writer_snapshot),
	    T(test_register_identity),
	    T(test_register_site),
	    T(test_register_legacy),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
