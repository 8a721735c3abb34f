/* Tests of agent/dataplane.c's may-write rules: who may take a write of a
 * user set (or of the CMS documents) now, over a real store on a temp dir,
 * a fake lease and an applied state set by hand; and of the data plane's
 * life (the store opening, the close calling back once with no handle
 * left). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/dataplane.h"

struct fake_lease {
	bool held;
	bool current;
};

static bool lease_held(void *impl)
{
	return ((struct fake_lease *)impl)->held;
}

static bool lease_current(void *impl)
{
	return ((struct fake_lease *)impl)->current;
}

static const struct dataplane_lease_ops lease_ops = {lease_held,
						     lease_current};

static uint64_t fake_wall(void *data)
{
	(void)data;
	return 1700000000000ULL;
}

static uint64_t fake_mono(void *data)
{
	(void)data;
	return 5000000000ULL;
}

static const struct clock fake_clock = {fake_wall, fake_mono, NULL};

struct fx {
	uv_loop_t loop;
	struct fsm fsm;
	struct fake_lease lease;
	struct dataplane dp;
	char dir[64];
	int closed; /* close callbacks seen */
};

static void fx_closed(struct dataplane *dp)
{
	struct fx *f = (struct fx *)((char *)dp - offsetof(struct fx, dp));

	/* called back once everything is closed: the store too (a
	 * witness has none) */
	assert_true(dp->state == DP_CLOSED || dp->state == DP_NONE);
	f->closed++;
}

static void add_pool(struct fsm *f, const char *name, const char *pair)
{
	struct fsm_pool *p = &f->pools[f->n_pools++];

	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->pair, sizeof p->pair, "%s", pair);
	snprintf(p->owner, sizeof p->owner, "%s", name);
	p->epoch = 1;
	p->state = FSM_STATE_NORMAL;
	/* the agent under test (id 1) is east's writer; west's is 2 */
	p->writer = strcmp(name, "east") == 0 ? 1 : 2;
	p->writer_token = 1;
}

static void add_member(struct fsm *f, uint64_t id, const char *name,
		       const char *pool)
{
	struct fsm_member *m = &f->members[f->n_members++];

	memset(m, 0, sizeof *m);
	m->id = id;
	snprintf(m->name, sizeof m->name, "%s", name);
	snprintf(m->site, sizeof m->site, "%s", pool);
	snprintf(m->pool, sizeof m->pool, "%s", pool);
	snprintf(m->api_address, sizeof m->api_address, "127.0.0.1:%d",
		 9000 + (int)id);
}

static struct fsm_pool *pool(struct fx *f, const char *name)
{
	for (unsigned i = 0; i < f->fsm.n_pools; i++)
		if (strcmp(f->fsm.pools[i].name, name) == 0)
			return &f->fsm.pools[i];
	fail_msg("no pool %s", name);
	return NULL;
}

/* A data plane of pool east, its store opening (not run yet). */
static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof *f);
	struct dataplane_deps d;

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	fsm_init(&f->fsm);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_dataplane.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	memset(&d, 0, sizeof d);
	d.loop = &f->loop;
	d.fsm = &f->fsm;
	d.clock = &fake_clock;
	d.lease = (struct dataplane_lease){&lease_ops, &f->lease};
	d.agent_id = 1;
	d.pool = "east";
	d.data_dir = f->dir;
	d.data_host = "127.0.0.1";
	assert_int_equal(dataplane_init(&f->dp, &d), 0);
	assert_int_equal(dataplane_start(&f->dp), 0);
	f->lease.held = true;
	f->lease.current = true;
	return f;
}

/* Run the loop until the store is open, then set the applied state: east
 * and west paired, each owning its own user set, the CMS on east. (The
 * state is set after the opening so that no stream starts: the rules do
 * not depend on them.) */
static void fx_open(struct fx *f)
{
	for (int i = 0; i < 10000 && !dataplane_ready(&f->dp); i++) {
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	assert_true(dataplane_ready(&f->dp));
	add_pool(&f->fsm, "east", "west");
	add_pool(&f->fsm, "west", "east");
	snprintf(f->fsm.cms_active, sizeof f->fsm.cms_active, "east");
	f->fsm.cms_epoch = 1;
}

static void fx_free(struct fx *f)
{
	char p[160];
	static const char *const files[] = {"store.db", "store.db-wal",
					    "store.db-shm"};

	dataplane_close(&f->dp, fx_closed);
	dataplane_close(&f->dp, fx_closed); /* a second close is ignored */
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->dp.state, DP_CLOSED);
	assert_int_equal(uv_loop_close(&f->loop), 0); /* no handle left */
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", f->dir, files[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
}

static int may(struct fx *f, const char *name, char *why, size_t len)
{
	why[0] = '\0';
	return dataplane_may_write(&f->dp, pool(f, name), why, len);
}

static void test_own_user_set_with_lease(void **state)
{
	struct fx *f = fx_new();
	char why[256];

	(void)state;
	fx_open(f);
	assert_int_equal(may(f, "east", why, sizeof why), 0);
	fx_free(f);
}

static void test_store_not_open(void **state)
{
	struct fx *f = fx_new();
	char why[256];

	(void)state;
	add_pool(&f->fsm, "east", "west");
	/* the store is still opening: not now, though east owns it */
	assert_int_equal(may(f, "east", why, sizeof why), DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "store is not open"));
	/* closing while opening finishes the close once it opened */
	fx_free(f);
}

static void test_not_owner(void **state)
{
	struct fx *f = fx_new();
	char why[256];

	(void)state;
	fx_open(f);
	assert_int_equal(may(f, "west", why, sizeof why),
			 DATAPLANE_E_NOT_OWNER);
	assert_string_equal(why, "the user set of west is owned by west");
	/* after a failover of west to east, east owns it */
	snprintf(pool(f, "west")->owner, FSM_NAME_LEN, "east");
	assert_int_equal(may(f, "west", why, sizeof why), 0);
	/* and east's own user set, moved to west, is no longer east's */
	snprintf(pool(f, "east")->owner, FSM_NAME_LEN, "west");
	assert_int_equal(may(f, "east", why, sizeof why),
			 DATAPLANE_E_NOT_OWNER);
	/* without a lease the owner still comes first: answered with it */
	f->lease.held = false;
	assert_int_equal(may(f, "east", why, sizeof why),
			 DATAPLANE_E_NOT_OWNER);
	fx_free(f);
}

static void test_no_lease(void **state)
{
	struct fx *f = fx_new();
	char why[256];

	(void)state;
	fx_open(f);
	f->lease.held = false;
	assert_int_equal(may(f, "east", why, sizeof why), DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "no lease"));
	/* a view not current matters only with a lease: still "no lease" */
	f->lease.current = false;
	assert_int_equal(may(f, "east", why, sizeof why), DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "no lease"));
	f->lease.held = true;
	f->lease.current = true;
	assert_int_equal(may(f, "east", why, sizeof why), 0);
	fx_free(f);
}

static void test_catching_up(void **state)
{
	struct fx *f = fx_new();
	char why[256];

	(void)state;
	fx_open(f);
	f->lease.current = false;
	assert_int_equal(may(f, "east", why, sizeof why), DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "catching up"));
	/* the applied owner may be stale: not even a 421 yet */
	assert_int_equal(may(f, "west", why, sizeof why), DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "catching up"));
	f->lease.current = true;
	assert_int_equal(may(f, "east", why, sizeof why), 0);
	fx_free(f);
}

static void test_drains(void **state)
{
	struct fx *f = fx_new();
	char why[256];

	(void)state;
	fx_open(f);
	pool(f, "east")->state = FSM_STATE_FAILING_OVER;
	assert_int_equal(may(f, "east", why, sizeof why), DATAPLANE_E_NOT_NOW);
	assert_string_equal(why, "east is failing over: writes are stopped "
				 "while its changes drain to west");
	/* the failback of west, whose user set east holds, drains too */
	pool(f, "east")->state = FSM_STATE_NORMAL;
	snprintf(pool(f, "west")->owner, FSM_NAME_LEN, "east");
	pool(f, "west")->state = FSM_STATE_FAILING_BACK;
	assert_int_equal(may(f, "west", why, sizeof why), DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "west is failing back"));
	/* east's own user set is not draining */
	assert_int_equal(may(f, "east", why, sizeof why), 0);
	pool(f, "west")->state = FSM_STATE_NORMAL;
	assert_int_equal(may(f, "west", why, sizeof why), 0);
	fx_free(f);
}

static void test_epoch_does_not_decide(void **state)
{
	struct fx *f = fx_new();
	char why[256];

	(void)state;
	fx_open(f);
	/* an owner change raises the epoch; the rule reads the owner, and
	 * the epoch is what the store stamps (any epoch of the owner) */
	pool(f, "east")->epoch = 7;
	assert_int_equal(may(f, "east", why, sizeof why), 0);
	fx_free(f);
}

static void test_cms(void **state)
{
	struct fx *f = fx_new();
	char why[256];

	(void)state;
	fx_open(f);
	assert_int_equal(dataplane_may_write_cms(&f->dp, why, sizeof why), 0);
	/* the CMS moving away from east: its documents drain */
	f->fsm.cms_state = FSM_STATE_FAILING_OVER;
	assert_int_equal(dataplane_may_write_cms(&f->dp, why, sizeof why),
			 DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "the CMS is moving from east to west"));
	f->fsm.cms_state = FSM_STATE_NORMAL;
	/* east failing over: the CMS moves with it */
	pool(f, "east")->state = FSM_STATE_FAILING_OVER;
	assert_int_equal(dataplane_may_write_cms(&f->dp, why, sizeof why),
			 DATAPLANE_E_NOT_NOW);
	pool(f, "east")->state = FSM_STATE_NORMAL;
	f->lease.held = false;
	assert_int_equal(dataplane_may_write_cms(&f->dp, why, sizeof why),
			 DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "no lease"));
	f->lease.held = true;
	f->lease.current = false;
	assert_int_equal(dataplane_may_write_cms(&f->dp, why, sizeof why),
			 DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "catching up"));
	f->lease.current = true;
	/* the active CMS on west, then on no pool */
	snprintf(f->fsm.cms_active, sizeof f->fsm.cms_active, "west");
	assert_int_equal(dataplane_may_write_cms(&f->dp, why, sizeof why),
			 DATAPLANE_E_NOT_OWNER);
	assert_string_equal(why, "the active CMS is on west");
	f->fsm.cms_active[0] = '\0';
	assert_int_equal(dataplane_may_write_cms(&f->dp, why, sizeof why),
			 DATAPLANE_E_NOT_OWNER);
	assert_string_equal(why, "the active CMS is on no pool");
	fx_free(f);
}

/* Only the writer of its pool may write: a standby is refused NOT_WRITER
 * naming the writer (what /readyz says), a pool without a writer NOT_NOW;
 * a user set another pool owns is still NOT_OWNER first (the client goes
 * to that pool straight away). The CMS the same. */
static void test_only_the_writer(void **state)
{
	struct fx *f = fx_new();
	const struct fsm_member *w = NULL;
	char why[256];

	(void)state;
	fx_open(f);
	add_member(&f->fsm, 1, "east1", "east");
	add_member(&f->fsm, 3, "east2", "east");
	assert_int_equal(dataplane_writer(&f->dp, &w), 1);
	assert_null(w);
	pool(f, "east")->writer = 3;
	assert_int_equal(dataplane_writer(&f->dp, &w), -1);
	assert_non_null(w);
	assert_string_equal(w->name, "east2");
	assert_int_equal(may(f, "east", why, sizeof why),
			 DATAPLANE_E_NOT_WRITER);
	assert_string_equal(why, "standby of east; the writer is east2");
	assert_int_equal(dataplane_may_write_cms(&f->dp, why, sizeof why),
			 DATAPLANE_E_NOT_WRITER);
	assert_string_equal(why, "standby of east; the writer is east2");
	assert_int_equal(may(f, "west", why, sizeof why),
			 DATAPLANE_E_NOT_OWNER);
	/* a failover to east: the writer of east writes west's user set */
	snprintf(pool(f, "west")->owner, sizeof pool(f, "west")->owner, "east");
	assert_int_equal(may(f, "west", why, sizeof why),
			 DATAPLANE_E_NOT_WRITER);
	pool(f, "east")->writer = 1;
	assert_int_equal(may(f, "west", why, sizeof why), 0);
	/* no writer yet */
	pool(f, "east")->writer = 0;
	assert_int_equal(dataplane_writer(&f->dp, &w), 0);
	assert_int_equal(may(f, "east", why, sizeof why), DATAPLANE_E_NOT_NOW);
	assert_non_null(strstr(why, "east has no writer yet"));
	fx_free(f);
}

static void test_witness_closes_at_once(void **state)
{
	struct fx f;
	struct dataplane_deps d;
	char why[256];

	(void)state;
	memset(&f, 0, sizeof f);
	assert_int_equal(uv_loop_init(&f.loop), 0);
	fsm_init(&f.fsm);
	add_pool(&f.fsm, "east", "");
	memset(&d, 0, sizeof d);
	d.loop = &f.loop;
	d.fsm = &f.fsm;
	d.clock = &fake_clock;
	d.lease = (struct dataplane_lease){&lease_ops, &f.lease};
	d.pool = "";
	f.lease.held = f.lease.current = true;
	assert_int_equal(dataplane_init(&f.dp, &d), 0);
	assert_int_equal(dataplane_start(&f.dp), 0);
	assert_int_equal(f.dp.state, DP_NONE);
	assert_false(dataplane_ready(&f.dp));
	/* a witness owns nothing */
	assert_int_equal(
	    dataplane_may_write(&f.dp, &f.fsm.pools[0], why, sizeof why),
	    DATAPLANE_E_NOT_OWNER);
	dataplane_close(&f.dp, fx_closed);
	dataplane_close(&f.dp, fx_closed); /* ignored */
	assert_int_equal(f.closed, 1); /* nothing open: called back now */
	assert_int_equal(f.dp.state, DP_NONE);
	assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f.loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_own_user_set_with_lease),
	    cmocka_unit_test(test_store_not_open),
	    cmocka_unit_test(test_not_owner),
	    cmocka_unit_test(test_no_lease),
	    cmocka_unit_test(test_catching_up),
	    cmocka_unit_test(test_drains),
	    cmocka_unit_test(test_epoch_does_not_decide),
	    cmocka_unit_test(test_cms),
	    cmocka_unit_test(test_only_the_writer),
	    cmocka_unit_test(test_witness_closes_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
