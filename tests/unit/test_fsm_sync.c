/* Unit tests of the synchronous standby and the local takeover
 * (consensus/fsm_writer.c): the pool_sync command and its encoder
 * cmd_pool_sync(), each refusal, the value held again (no history entry);
 * pool_writer with positions (cmd_pool_writer() seqs): a local takeover
 * only to the synchronous standby, the epochs it raises and the positions
 * and epochs it records for every user set the pool owns (kept through a
 * later failover and failback), its refusals, a failed-over
 * pool or a pool without a writer (no such rule), fsm_pool_writer_check()
 * agreeing with the apply, fsm_pool_owned_sets(); the sync standby cleared
 * by a change of writer and by its removal; the fields through snapshots
 * (older ones restore 0); the floor epochs: left by a local takeover, set
 * to the epoch by every change of owner, through snapshots (older ones:
 * floor = epoch). */
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
	assert_int_equal(pool(f, "pool-east")->writer_epoch, east_epoch + 1);
	assert_int_equal(f->cms_epoch, cms_epoch + 1);
	assert_int_equal(f->cms_writer_seq[0], 3);
	assert_int_equal(f->cms_writer_seq[1], 4);
	assert_int_equal(f->cms_writer_epoch, cms_epoch + 1);
	/* the pair's user set is the pair's: untouched */
	assert_int_equal(pool(f, "pool-west")->epoch, west_epoch);
	assert_int_equal(pool(f, "pool-west")->writer_seq[0], 0);
	assert_int_equal(pool(f, "pool-west")->writer_seq[1], 0);
	assert_int_equal(pool(f, "pool-west")->writer_epoch, 0);
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
	assert_int_equal(pool(f, "pool-east")->writer_epoch, east_epoch + 2);
	assert_int_equal(f->cms_epoch, cms_epoch + 2);
	assert_int_equal(f->cms_writer_epoch, cms_epoch + 2);
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
	assert_int_equal(pool(f, "pool-east")->writer_epoch, east_epoch + 1);
	assert_int_equal(pool(f, "pool-west")->writer_epoch, west_epoch + 1);
	assert_int_equal(f->cms_writer_epoch, cms_epoch + 1);
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
	assert_int_equal(pool(f, "pool-west")->writer_epoch, west_epoch + 1);
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
	assert_int_equal(pool(f, "pool-east")->writer_epoch, 0);
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

/* A pool named like the CMS's user set, hosting the CMS: one name, "cms",
 * whose position is recorded for both. */
static void test_takeover_cms_named_pool(void **state)
{
	struct fsm *f = *state;
	const struct cmd_writer_seq seqs[] = {
	    {.user_set = "cms", .seq = {7, 8}},
	};
	const char *sets[FSM_MAX_OWNED_SETS];
	uint64_t epoch, cms_epoch;

	ok(f, c_add_pool("cms", "east"));
	ok(f, c_register(1, "east", "east", "cms"));
	ok(f, c_register(5, "east2", "east", "cms"));
	ok(f, c_writer("cms", 1, 0, ""));
	ok(f, c_sync("cms", 1, 5, ""));
	assert_string_equal(f->cms_active, "cms");
	assert_int_equal(fsm_pool_owned_sets(f, "cms", sets), 1);
	assert_string_equal(sets[0], "cms");
	epoch = pool(f, "cms")->epoch;
	cms_epoch = f->cms_epoch;
	ok(f, c_writer_at("cms", 5, 1, "local takeover", seqs, 1));
	assert_int_equal(pool(f, "cms")->epoch, epoch + 1);
	assert_int_equal(f->cms_epoch, cms_epoch + 1);
	assert_int_equal(pool(f, "cms")->writer_seq[0], 7);
	assert_int_equal(pool(f, "cms")->writer_seq[1], 8);
	assert_int_equal(f->cms_writer_seq[0], 7);
	assert_int_equal(f->cms_writer_seq[1], 8);
	assert_int_equal(pool(f, "cms")->writer_epoch, epoch + 1);
	assert_int_equal(f->cms_writer_epoch, cms_epoch + 1);
}

/* ---- lookups ---- */

static void test_lookups(void **state)
{
	struct fsm *f = *state;
	const struct cmd_writer_seq seqs[] = {
	    {.user_set = "pool-east", .seq = {10, 20}},
	    {.user_set = "cms", .seq = {3, 4}},
	};
	uint64_t epoch = 77, seq[2] = {77, 77};
	uint64_t takeover_epoch, takeover_cms;

	/* no CMS placed yet (the first pool added hosts it): no user set
	 * "cms" */
	assert_false(fsm_user_set_writer_seq(f, "cms", &epoch, seq));
	assert_false(fsm_user_set_writer_seq(f, "pool-east", &epoch, seq));
	assert_int_equal(epoch, 77);
	assert_int_equal(seq[0], 77);
	ok(f, c_add_pool("pool-east", "east"));
	/* no local takeover yet: epoch 0 (nothing to archive) */
	assert_true(fsm_user_set_writer_seq(f, "cms", &epoch, seq));
	assert_int_equal(epoch, 0);
	epoch = 77;
	assert_true(fsm_user_set_writer_seq(f, "pool-east", &epoch, seq));
	assert_int_equal(epoch, 0);
	assert_int_equal(seq[0], 0);
	assert_int_equal(seq[1], 0);
	fsm_init(f);

	deployment(f);
	assert_null(fsm_pool_sync_standby(f, "pool-east"));
	assert_null(fsm_pool_sync_standby(f, "pool-north"));
	assert_null(fsm_pool_sync_standby(f, NULL));
	ok(f, c_sync("pool-east", 1, 5, ""));
	assert_non_null(fsm_pool_sync_standby(f, "pool-east"));
	assert_int_equal(fsm_pool_sync_standby(f, "pool-east")->id, 5);
	assert_string_equal(fsm_pool_sync_standby(f, "pool-east")->name,
			    "east2");
	assert_null(fsm_pool_sync_standby(f, "pool-west"));
	ok(f, c_writer_at("pool-east", 5, 1, "", seqs, 2));
	assert_null(fsm_pool_sync_standby(f, "pool-east"));
	takeover_epoch = pool(f, "pool-east")->epoch;
	takeover_cms = f->cms_epoch;
	assert_true(fsm_user_set_writer_seq(f, "pool-east", &epoch, seq));
	assert_int_equal(epoch, takeover_epoch);
	assert_int_equal(seq[0], 10);
	assert_int_equal(seq[1], 20);
	assert_true(fsm_user_set_writer_seq(f, "cms", &epoch, seq));
	assert_int_equal(epoch, takeover_cms);
	assert_int_equal(seq[0], 3);
	assert_int_equal(seq[1], 4);
	assert_true(fsm_user_set_writer_seq(f, "pool-west", NULL, seq));
	assert_int_equal(seq[0], 0);
	assert_true(fsm_user_set_writer_seq(f, "pool-west", &epoch, NULL));
	assert_int_equal(epoch, 0);
	/* a failover and failback raise the epochs since (the CMS moves
	 * with pool-east): the takeover's epoch and positions stay */
	ok(f, c_disaster("pool-east"));
	ok(f, c_failback("pool-east"));
	ok(f, c_failback_complete("pool-east"));
	assert_int_equal(pool(f, "pool-east")->epoch, takeover_epoch + 2);
	assert_true(f->cms_epoch > takeover_cms);
	assert_true(fsm_user_set_writer_seq(f, "pool-east", &epoch, seq));
	assert_int_equal(epoch, takeover_epoch);
	assert_int_equal(seq[0], 10);
	assert_int_equal(seq[1], 20);
	assert_true(fsm_user_set_writer_seq(f, "cms", &epoch, seq));
	assert_int_equal(epoch, takeover_cms);
	assert_int_equal(seq[0], 3);
	round_trip(f);
	assert_true(fsm_user_set_writer_seq(f, "pool-east", &epoch, seq));
	assert_int_equal(epoch, takeover_epoch);
	assert_false(fsm_user_set_writer_seq(f, "pool-north", &epoch, seq));
	assert_false(fsm_user_set_writer_seq(f, NULL, &epoch, seq));
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
		st->pools[i]->writer_epoch = 0;
	}
	st->cms->writer_data_seq = 0;
	st->cms->writer_content_seq = 0;
	st->cms->writer_epoch = 0;
}

static void edit_writer_epoch_ahead(Poolpair__State *st)
{
	Poolpair__PoolState *ps = state_pool(st, "pool-east");

	ps->writer_epoch = ps->epoch + 1;
}

static void edit_cms_writer_epoch_ahead(Poolpair__State *st)
{
	st->cms->writer_epoch = st->cms->epoch + 1;
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
	assert_int_equal(pool(f, "pool-east")->writer_epoch, 0);
	assert_int_equal(f->cms_writer_epoch, 0);
	assert_int_equal(pool(f, "pool-east")->writer, 5);

	/* refused, the state unchanged: a sync standby that is not a
	 * standby of the pool in its site, is the writer, or of a pool
	 * without a writer; a takeover's epoch past the user set's */
	memcpy(f, saved, sizeof(*f));
	assert_int_equal(pool(f, "pool-east")->writer_epoch,
			 pool(f, "pool-east")->epoch);
	assert_int_equal(f->cms_writer_epoch, f->cms_epoch);
	assert_int_equal(restore_edited(f, edit_writer_epoch_ahead), -EINVAL);
	assert_int_equal(restore_edited(f, edit_cms_writer_epoch_ahead),
			 -EINVAL);
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

/* ---- the floor epochs ---- */

/* A disaster move of the CMS to the pair of the pool hosting it. */
static Poolpair__Command *c_cms_disaster(void)
{
	Poolpair__Command *c = cmd_new("operator@test");

	c->op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER;
	c->cms_failover = zalloc(sizeof(*c->cms_failover));
	poolpair__cmd_cms_failover__init(c->cms_failover);
	c->cms_failover->reason = dup("disaster");
	return c;
}

/* The floor epoch of user_set, as fsm_user_set_floor_epoch() gives it. */
static uint64_t floor_of(const struct fsm *f, const char *user_set)
{
	uint64_t floor = 0;

	assert_true(fsm_user_set_floor_epoch(f, user_set, &floor));
	return floor;
}

/* A local takeover raises the epochs and leaves the floors; every change
 * of owner (failover, failback, a move of the CMS) sets the floor to the
 * new epoch. */
static void test_floor_epoch(void **state)
{
	struct fsm *f = *state;
	const struct cmd_writer_seq east_seqs[] = {
	    {.user_set = "pool-east", .seq = {10, 20}},
	    {.user_set = "cms", .seq = {3, 4}},
	};
	const struct cmd_writer_seq west_seqs[] = {
	    {.user_set = "pool-west", .seq = {1, 1}},
	    {.user_set = "pool-east", .seq = {11, 20}},
	    {.user_set = "cms", .seq = {4, 4}},
	};
	uint64_t floor = 77, east_epoch, cms_epoch;

	assert_false(fsm_user_set_floor_epoch(f, "cms", &floor));
	assert_false(fsm_user_set_floor_epoch(f, "pool-east", &floor));
	assert_int_equal(floor, 77);
	deployment(f);
	assert_false(fsm_user_set_floor_epoch(f, "pool-north", &floor));
	assert_false(fsm_user_set_floor_epoch(f, NULL, &floor));
	assert_int_equal(floor, 77);
	/* a new pool: floor = epoch = 1; the CMS placed: its epoch */
	assert_int_equal(pool(f, "pool-east")->floor_epoch, 1);
	assert_int_equal(floor_of(f, "pool-east"), 1);
	assert_int_equal(floor_of(f, "pool-west"), 1);
	assert_true(f->cms_epoch >= 1);
	assert_int_equal(floor_of(f, "cms"), f->cms_epoch);
	east_epoch = pool(f, "pool-east")->epoch;
	cms_epoch = f->cms_epoch;

	/* a local takeover: the same owner, the floors stay */
	ok(f, c_sync("pool-east", 1, 5, ""));
	ok(f, c_writer_at("pool-east", 5, 1, "local takeover", east_seqs, 2));
	assert_int_equal(pool(f, "pool-east")->epoch, east_epoch + 1);
	assert_int_equal(floor_of(f, "pool-east"), east_epoch);
	assert_int_equal(f->cms_epoch, cms_epoch + 1);
	assert_int_equal(floor_of(f, "cms"), cms_epoch);
	assert_int_equal(floor_of(f, "pool-west"), 1);
	round_trip(f);

	/* a failover of pool-east, the CMS with it: floors = epochs */
	ok(f, c_disaster("pool-east"));
	assert_string_equal(pool(f, "pool-east")->owner, "pool-west");
	assert_int_equal(pool(f, "pool-east")->epoch, east_epoch + 2);
	assert_int_equal(floor_of(f, "pool-east"), east_epoch + 2);
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, cms_epoch + 2);
	assert_int_equal(floor_of(f, "cms"), cms_epoch + 2);
	round_trip(f);

	/* a local takeover at pool-west, which owns all three now */
	ok(f, c_sync("pool-west", 1, 7, ""));
	ok(f, c_writer_at("pool-west", 7, 1, "local takeover", west_seqs, 3));
	assert_int_equal(pool(f, "pool-west")->epoch, 2);
	assert_int_equal(floor_of(f, "pool-west"), 1);
	assert_int_equal(pool(f, "pool-east")->epoch, east_epoch + 3);
	assert_int_equal(floor_of(f, "pool-east"), east_epoch + 2);
	assert_int_equal(f->cms_epoch, cms_epoch + 3);
	assert_int_equal(floor_of(f, "cms"), cms_epoch + 2);

	/* the failback: pool-east's floor = its epoch */
	ok(f, c_failback("pool-east"));
	ok(f, c_failback_complete("pool-east"));
	assert_string_equal(pool(f, "pool-east")->owner, "pool-east");
	assert_int_equal(pool(f, "pool-east")->epoch, east_epoch + 4);
	assert_int_equal(floor_of(f, "pool-east"), east_epoch + 4);
	assert_int_equal(floor_of(f, "cms"), cms_epoch + 2);
	assert_int_equal(floor_of(f, "pool-west"), 1);

	/* the CMS moved back: its floor = its epoch */
	ok(f, c_cms_disaster());
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, cms_epoch + 4);
	assert_int_equal(floor_of(f, "cms"), cms_epoch + 4);
	round_trip(f);
}

static void edit_no_floor(Poolpair__State *st)
{
	for (size_t i = 0; i < st->n_pools; i++)
		st->pools[i]->floor_epoch = 0;
	st->cms->floor_epoch = 0;
}

static void edit_floor_above(Poolpair__State *st)
{
	state_pool(st, "pool-east")->floor_epoch =
	    state_pool(st, "pool-east")->epoch + 1;
}

static void edit_cms_floor_above(Poolpair__State *st)
{
	st->cms->floor_epoch = st->cms->epoch + 1;
}

/* The floors through snapshots: kept below the epochs; a snapshot from
 * before the field restores floor = epoch; a floor above its epoch is
 * refused. */
static void test_floor_snapshot(void **state)
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
	assert_true(pool(f, "pool-east")->floor_epoch <
		    pool(f, "pool-east")->epoch);
	assert_true(f->cms_floor_epoch < f->cms_epoch);
	round_trip(f);
	memcpy(saved, f, sizeof(*f));

	assert_int_equal(restore_edited(f, edit_floor_above), -EINVAL);
	assert_int_equal(restore_edited(f, edit_cms_floor_above), -EINVAL);
	assert_memory_equal(f, saved, sizeof(*f));

	assert_int_equal(restore_edited(f, edit_no_floor), 0);
	assert_int_equal(pool(f, "pool-east")->floor_epoch,
			 pool(f, "pool-east")->epoch);
	assert_int_equal(pool(f, "pool-west")->floor_epoch,
			 pool(f, "pool-west")->epoch);
	assert_int_equal(f->cms_floor_epoch, f->cms_epoch);
	assert_int_equal(pool(f, "pool-east")->epoch,
			 saved->pools[0].epoch);
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
	    T(test_takeover_cms_named_pool),
	    T(test_lookups),
	    T(test_sync_cleared),
	    T(test_sync_snapshot),
	    T(test_floor_epoch),
	    T(test_floor_snapshot),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
