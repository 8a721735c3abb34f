/* Tests of agent/view.c: the JSON of GET /v1/status and of the reads,
 * rendered from a state machine filled by hand, a fake proposer, a fake
 * clock and fake sources (the Raft configuration, what was heard of the
 * other agents, this agent's lease, the failover refusals, the backup). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/view.h"

#define MS 1000000ULL

/* ---- fakes ---- */

struct fake {
	struct fsm *fsm;
	/* proposer */
	bool leader;
	uint64_t term, commit, applied;
	/* clock */
	uint64_t now_ns;
	/* sources */
	struct raft_server servers[4];
	struct raft_configuration conf;
	uint64_t leader_id;
	const char *leader_raft;
	int reach[8]; /* by id: 1, 0 or -1 */
	struct view_heard heard[8];
	bool heard_any[8];
	struct view_lease lease;
	char refusal[64];
	unsigned refusals_asked;

	struct proposer proposer;
	struct clock clock;
	struct view_sources src;
	struct view view;
};

static int fake_submit(void *impl, struct cmd_buf *cmd, proposer_cb cb,
		       void *arg)
{
	(void)impl, (void)cb, (void)arg;
	cmd_buf_free(cmd);
	return PROPOSER_E_NOT_LEADER;
}

static int fake_barrier(void *impl, proposer_done_cb cb, void *arg)
{
	(void)impl, (void)cb, (void)arg;
	return PROPOSER_E_NOT_LEADER;
}

static bool fake_is_leader(void *impl) { return ((struct fake *)impl)->leader; }

static uint64_t fake_leader(void *impl, const char **api)
{
	(void)impl;
	if (api != NULL)
		*api = "";
	return 0; /* the view must take the leader from its sources */
}

static uint64_t fake_term(void *impl) { return ((struct fake *)impl)->term; }
static uint64_t fake_commit(void *impl)
{
	return ((struct fake *)impl)->commit;
}
static uint64_t fake_applied(void *impl)
{
	return ((struct fake *)impl)->applied;
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
    .term = fake_term,
    .commit_index = fake_commit,
    .applied_index = fake_applied,
    .strerror = fake_strerror,
};

static uint64_t fake_wall(void *data)
{
	(void)data;
	return 1700000000000ULL;
}

static uint64_t fake_mono(void *data) { return ((struct fake *)data)->now_ns; }

static const struct raft_configuration *src_configuration(void *impl)
{
	return &((struct fake *)impl)->conf;
}

static const char *src_raft_state(void *impl)
{
	return ((struct fake *)impl)->leader ? "leader" : "follower";
}

static uint64_t src_leader_raft(void *impl, const char **address)
{
	struct fake *f = impl;

	*address = f->leader_raft;
	return f->leader_id;
}

static int src_reachable(void *impl, uint64_t id)
{
	struct fake *f = impl;

	return id < 8 ? f->reach[id] : -1;
}

static bool src_heard(void *impl, uint64_t id, struct view_heard *out)
{
	struct fake *f = impl;

	if (id >= 8 || !f->heard_any[id])
		return false;
	*out = f->heard[id];
	return true;
}

static void src_lease(void *impl, struct view_lease *out)
{
	*out = ((struct fake *)impl)->lease;
}

static const char *src_auto_refusal(void *impl, const char *pool)
{
	struct fake *f = impl;

	f->refusals_asked++;
	snprintf(f->refusal, sizeof f->refusal, "refused %s", pool);
	return f->refusal;
}

static json_t *src_backup(void *impl)
{
	(void)impl;
	return json_pack("[{s:s}]", "from", "backup-marker");
}

static json_t *src_rebuild(void *impl)
{
	(void)impl;
	return json_pack("{s:b, s:[]}", "rebuilding", 1, "streams");
}

/* The writer's word on its standbys: known for pool-east only. */
static json_t *src_standbys(void *impl, const struct fsm_pool *p,
			    const char **local_sync)
{
	(void)impl;
	if (strcmp(p->name, "pool-east") != 0)
		return NULL;
	*local_sync = "sync";
	/* east-2 (4), and a member the applied state no longer has */
	return json_pack("[{s:I, s:s, s:{s:I, s:I}, s:I, s:I}, {s:I, s:s}]",
			 "id", (json_int_t)4, "state", "sync", "acked", "data",
			 (json_int_t)41, "content", (json_int_t)3,
			 "lag_records", (json_int_t)0, "lag_ms", (json_int_t)0,
			 "id", (json_int_t)99, "state", "streaming");
}

static const struct view_sources_ops fake_sources_ops = {
    .configuration = src_configuration,
    .raft_state = src_raft_state,
    .leader_raft = src_leader_raft,
    .reachable = src_reachable,
    .heard = src_heard,
    .lease = src_lease,
    .auto_refusal = src_auto_refusal,
    .backup = src_backup,
    .rebuild = src_rebuild,
    .standbys = src_standbys,
};

/* ---- the state ---- */

static void add_site(struct fsm *f, const char *name)
{
	snprintf(f->sites[f->n_sites++].name, FSM_NAME_LEN, "%s", name);
}

static struct fsm_pool *add_pool(struct fsm *f, const char *name,
				 const char *site, const char *pair)
{
	struct fsm_pool *p = &f->pools[f->n_pools++];

	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->site, sizeof p->site, "%s", site);
	snprintf(p->edition, sizeof p->edition, "enterprise");
	snprintf(p->kind, sizeof p->kind, "physical");
	snprintf(p->os, sizeof p->os, "windows-2019");
	snprintf(p->pair, sizeof p->pair, "%s", pair);
	snprintf(p->owner, sizeof p->owner, "%s", name);
	p->pair_supported = true;
	p->epoch = 1;
	return p;
}

static void add_member(struct fsm *f, uint64_t id, const char *name,
		       const char *site, const char *pool)
{
	struct fsm_member *m = &f->members[f->n_members++];

	memset(m, 0, sizeof *m);
	m->id = id;
	snprintf(m->name, sizeof m->name, "%s", name);
	snprintf(m->site, sizeof m->site, "%s", site);
	snprintf(m->pool, sizeof m->pool, "%s", pool);
	snprintf(m->raft_address, sizeof m->raft_address, "127.0.0.1:%u",
		 (unsigned)(9000 + id));
	snprintf(m->api_address, sizeof m->api_address, "127.0.0.1:%u",
		 (unsigned)(8000 + id));
	snprintf(m->data_address, sizeof m->data_address, "127.0.0.1:%u",
		 (unsigned)(7000 + id));
}

static void add_sba(struct fsm *f, const char *name, const char *pool)
{
	struct fsm_sba *s = &f->sbas[f->n_sbas++];

	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->site, sizeof s->site, "branch");
	snprintf(s->backup_pool, sizeof s->backup_pool, "%s", pool);
}

/* Two sites, east (agent 1, this one) and west (agent 2), paired pools,
 * a witness (3), an SBA per pool. Leader 1, term 4. */
static int setup(void **state)
{
	struct fake *x = calloc(1, sizeof *x);
	struct view_deps d = {0};

	assert_non_null(x);
	x->fsm = calloc(1, sizeof *x->fsm);
	assert_non_null(x->fsm);
	fsm_init(x->fsm);
	add_site(x->fsm, "east");
	add_site(x->fsm, "west");
	add_site(x->fsm, "north");
	add_pool(x->fsm, "pool-east", "east", "pool-west");
	add_pool(x->fsm, "pool-west", "west", "pool-east");
	add_member(x->fsm, 1, "east-1", "east", "pool-east");
	add_member(x->fsm, 2, "west-1", "west", "pool-west");
	add_member(x->fsm, 3, "witness-1", "north", "");
	add_sba(x->fsm, "sba-east", "pool-east");
	add_sba(x->fsm, "sba-west", "pool-west");
	snprintf(x->fsm->cms_active, FSM_NAME_LEN, "pool-east");
	x->fsm->cms_epoch = 3;

	for (unsigned i = 0; i < 3; i++) {
		x->servers[i].id = i + 1;
		x->servers[i].address = i == 0	 ? "127.0.0.1:9001"
					: i == 1 ? "127.0.0.1:9002"
						 : "127.0.0.1:9003";
		x->servers[i].role = i == 2 ? RAFT_STANDBY : RAFT_VOTER;
	}
	x->conf.n = 3;
	x->conf.servers = x->servers;
	x->leader = true;
	x->term = 4;
	x->commit = 40;
	x->applied = 39;
	x->leader_id = 1;
	x->leader_raft = "127.0.0.1:9001";
	x->reach[1] = 1;
	x->reach[2] = 0;
	x->reach[3] = 1;
	x->lease = (struct view_lease){.valid = true,
				       .left_ms = 1500,
				       .granted_by = 1,
				       .source = "barrier",
				       .view_current = true};
	x->now_ns = 100000 * MS;

	x->proposer = (struct proposer){.ops = &fake_proposer_ops, .impl = x};
	x->clock = (struct clock){
	    .wall_ms = fake_wall, .mono_ns = fake_mono, .data = x};
	x->src = (struct view_sources){.ops = &fake_sources_ops, .impl = x};
	d.fsm = x->fsm;
	d.proposer = &x->proposer;
	d.clock = &x->clock;
	d.src = &x->src;
	d.self_id = 1;
	snprintf(d.self_name, sizeof d.self_name, "east-1");
	snprintf(d.self_site, sizeof d.self_site, "east");
	snprintf(d.self_pool, sizeof d.self_pool, "pool-east");
	d.lease_ms = 2000;
	d.grace_ms = 500;
	d.started_ns = 1000 * MS; /* long ago */
	assert_int_equal(view_init(&x->view, &d), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fake *x = *state;

	view_close(&x->view, NULL);
	free(x->fsm);
	free(x);
	return 0;
}

/* ---- helpers ---- */

static json_t *find_named(json_t *arr, const char *key, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach (arr, i, v)
		if (strcmp(json_string_value(json_object_get(v, key)), name) ==
		    0)
			return v;
	fail_msg("no %s %s", key, name);
	return NULL;
}

static json_t *member_by_id(json_t *arr, json_int_t id)
{
	size_t i;
	json_t *v;

	json_array_foreach (arr, i, v)
		if (json_integer_value(json_object_get(v, "id")) == id)
			return v;
	fail_msg("no member %lld", (long long)id);
	return NULL;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

/* ---- tests ---- */

static void test_status_self_and_cluster(void **state)
{
	struct fake *x = *state;
	json_t *st = view_status(&x->view);
	json_t *self, *lease, *cluster, *leader;

	assert_non_null(st);
	self = json_object_get(st, "self");
	assert_int_equal(json_integer_value(json_object_get(self, "id")), 1);
	assert_string_equal(str(self, "name"), "east-1");
	assert_string_equal(str(self, "site"), "east");
	assert_string_equal(str(self, "pool"), "pool-east");
	assert_string_equal(str(self, "state"), "leader");
	lease = json_object_get(self, "lease");
	assert_true(json_is_true(json_object_get(lease, "valid")));
	assert_int_equal(json_integer_value(json_object_get(lease, "left_ms")),
			 1500);
	assert_int_equal(
	    json_integer_value(json_object_get(lease, "granted_by")), 1);
	assert_string_equal(str(lease, "source"), "barrier");
	assert_true(json_is_true(json_object_get(lease, "view_current")));

	cluster = json_object_get(st, "cluster");
	assert_int_equal(json_integer_value(json_object_get(cluster, "term")),
			 4);
	assert_int_equal(
	    json_integer_value(json_object_get(cluster, "commit_index")), 40);
	assert_int_equal(
	    json_integer_value(json_object_get(cluster, "applied_index")), 39);
	leader = json_object_get(cluster, "leader");
	assert_int_equal(json_integer_value(json_object_get(leader, "id")), 1);
	assert_string_equal(str(leader, "name"), "east-1");
	assert_string_equal(str(leader, "raft"), "127.0.0.1:9001");
	assert_string_equal(str(leader, "api"), "127.0.0.1:8001");
	/* 16 hex digits of the applied state */
	assert_int_equal(strlen(str(cluster, "state_digest")), 16);

	/* what the sources gave, as given */
	assert_string_equal(
	    str(json_array_get(json_object_get(st, "backup"), 0), "from"),
	    "backup-marker");
	assert_true(json_is_true(json_object_get(
	    json_object_get(json_object_get(st, "self"), "rebuild"),
	    "rebuilding")));
	assert_int_equal(json_array_size(json_object_get(st, "sites")), 3);
	assert_string_equal(str(json_object_get(st, "cms"), "active"),
			    "pool-east");
	assert_string_equal(str(json_object_get(st, "cms"), "standby"),
			    "pool-west");
	json_decref(st);
}

static void test_status_no_leader_is_null(void **state)
{
	struct fake *x = *state;
	json_t *st;

	x->leader = false;
	x->leader_id = 0;
	x->leader_raft = NULL;
	st = view_status(&x->view);
	assert_non_null(st);
	assert_true(json_is_null(
	    json_object_get(json_object_get(st, "cluster"), "leader")));
	assert_string_equal(str(json_object_get(st, "self"), "state"),
			    "follower");
	json_decref(st);
}

static void test_status_digest_follows_the_state(void **state)
{
	struct fake *x = *state;
	json_t *a = view_status(&x->view), *b;
	char before[17];

	snprintf(before, sizeof before, "%s",
		 str(json_object_get(a, "cluster"), "state_digest"));
	x->fsm->pools[0].epoch = 2;
	b = view_status(&x->view);
	assert_string_not_equal(
	    before, str(json_object_get(b, "cluster"), "state_digest"));
	x->fsm->pools[0].epoch = 1;
	json_decref(b);
	b = view_status(&x->view);
	assert_string_equal(before,
			    str(json_object_get(b, "cluster"), "state_digest"));
	json_decref(a);
	json_decref(b);
}

static void test_members_reachable_on_the_leader(void **state)
{
	struct fake *x = *state;
	json_t *st = view_status(&x->view);
	json_t *members =
	    json_object_get(json_object_get(st, "cluster"), "members");
	json_t *m;

	assert_int_equal(json_array_size(members), 3);
	m = member_by_id(members, 1);
	assert_string_equal(str(m, "name"), "east-1");
	assert_string_equal(str(m, "role"), "voter");
	assert_string_equal(str(m, "api"), "127.0.0.1:8001");
	assert_true(json_is_true(json_object_get(m, "reachable")));
	m = member_by_id(members, 2);
	assert_true(json_is_false(json_object_get(m, "reachable")));
	m = member_by_id(members, 3);
	assert_string_equal(str(m, "role"), "standby");
	assert_string_equal(str(m, "pool"), "");
	json_decref(st);

	/* a follower does not know */
	x->leader = false;
	for (unsigned i = 0; i < 8; i++)
		x->reach[i] = -1;
	st = view_status(&x->view);
	m = member_by_id(
	    json_object_get(json_object_get(st, "cluster"), "members"), 2);
	assert_true(json_is_null(json_object_get(m, "reachable")));
	json_decref(st);
}

static void test_pools_on_the_leader(void **state)
{
	struct fake *x = *state;
	json_t *st = view_status(&x->view);
	json_t *pools = json_object_get(st, "pools");
	json_t *east = find_named(pools, "name", "pool-east");
	json_t *west = find_named(pools, "name", "pool-west");

	/* healthy: an agent of the pool is reachable (1 yes, 2 no) */
	assert_true(json_is_true(json_object_get(east, "healthy")));
	assert_true(json_is_false(json_object_get(west, "healthy")));
	assert_true(json_is_true(json_object_get(east, "hosts_cms")));
	assert_true(json_is_false(json_object_get(west, "hosts_cms")));
	assert_string_equal(str(east, "pair"), "pool-west");
	assert_string_equal(str(east, "state"), "normal");
	assert_string_equal(str(east, "replication_mode"), "async");
	/* the leader says why an automatic failover would be refused */
	assert_string_equal(str(east, "auto_failover_refusal"),
			    "refused pool-east");
	assert_string_equal(str(west, "auto_failover_refusal"),
			    "refused pool-west");
	assert_null(json_object_get(east, "paused_since"));
	json_decref(st);
}

static void test_pools_on_a_follower(void **state)
{
	struct fake *x = *state;
	json_t *pools, *east;

	x->leader = false;
	pools = view_pools(&x->view);
	east = find_named(pools, "name", "pool-east");
	assert_true(json_is_null(json_object_get(east, "healthy")));
	assert_null(json_object_get(east, "auto_failover_refusal"));
	assert_int_equal(x->refusals_asked, 0);
	json_decref(pools);
}

/* Pools of several agents: the writer, its synchronous standby, the
 * standbys with the writer's figures when known (pool-east here), else
 * from the applied state with their figures null, and local_sync. */
static void test_pool_standbys_and_local_sync(void **state)
{
	struct fake *x = *state;
	json_t *pools, *east, *west, *sb, *s0;

	add_member(x->fsm, 4, "east-2", "east", "pool-east");
	add_member(x->fsm, 5, "west-2", "west", "pool-west");
	x->fsm->pools[0].writer = 1;
	x->fsm->pools[0].sync_standby = 4;
	x->fsm->pools[1].writer = 2;
	pools = view_pools(&x->view);
	east = find_named(pools, "name", "pool-east");
	west = find_named(pools, "name", "pool-west");
	sb = json_object_get(east, "sync_standby");
	assert_int_equal(json_integer_value(json_object_get(sb, "id")), 4);
	assert_string_equal(str(sb, "name"), "east-2");
	assert_string_equal(str(east, "local_sync"), "sync");
	assert_int_equal(json_array_size(json_object_get(east, "standbys")),
			 1);
	s0 = json_array_get(json_object_get(east, "standbys"), 0);
	assert_string_equal(str(s0, "name"), "east-2");
	assert_string_equal(str(s0, "state"), "sync");
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(s0, "acked"), "data")),
			 41);
	/* nothing known of pool-west's: its standby from the state */
	sb = json_object_get(west, "sync_standby");
	assert_int_equal(json_integer_value(json_object_get(sb, "id")), 0);
	assert_string_equal(str(sb, "name"), "");
	assert_string_equal(str(west, "local_sync"), "fallback");
	assert_int_equal(json_array_size(json_object_get(west, "standbys")),
			 1);
	s0 = json_array_get(json_object_get(west, "standbys"), 0);
	assert_int_equal(json_integer_value(json_object_get(s0, "id")), 5);
	assert_string_equal(str(s0, "name"), "west-2");
	assert_true(json_is_null(json_object_get(s0, "state")));
	assert_true(json_is_null(json_object_get(s0, "lag_records")));
	json_decref(pools);
	/* its sync standby committed: "sync" from the state */
	x->fsm->pools[1].sync_standby = 5;
	pools = view_pools(&x->view);
	west = find_named(pools, "name", "pool-west");
	assert_string_equal(str(west, "local_sync"), "sync");
	assert_string_equal(str(json_object_get(west, "sync_standby"), "name"),
			    "west-2");
	json_decref(pools);
	/* a pool of one agent: none */
	x->fsm->n_members = 3;
	x->fsm->pools[1].sync_standby = 0;
	pools = view_pools(&x->view);
	west = find_named(pools, "name", "pool-west");
	assert_string_equal(str(west, "local_sync"), "none");
	json_decref(pools);
}

static void test_pool_paused_and_unpaired(void **state)
{
	struct fake *x = *state;
	struct fsm_pool *p;
	json_t *v;

	p = add_pool(x->fsm, "pool-lone", "north", "");
	p->paused = true;
	p->paused_since_ms = 1764156817123ULL;
	snprintf(p->pause_reason, sizeof p->pause_reason, "patching");
	v = view_pool(&x->view, p);
	assert_true(json_is_true(json_object_get(v, "paused")));
	assert_string_equal(str(v, "paused_since"), "2025-11-26T11:33:37.123Z");
	assert_string_equal(str(v, "pause_reason"), "patching");
	assert_true(json_is_null(json_object_get(v, "replication_mode")));
	assert_true(json_is_null(json_object_get(v, "sync_timeout_ms")));
	/* no agent of pool-lone: not healthy */
	assert_true(json_is_false(json_object_get(v, "healthy")));
	json_decref(v);
}

static void test_pairs_listed_once(void **state)
{
	struct fake *x = *state;
	json_t *pairs = view_pairs(&x->view);

	assert_int_equal(json_array_size(pairs), 1);
	assert_string_equal(str(json_array_get(pairs, 0), "a"), "pool-east");
	assert_string_equal(str(json_array_get(pairs, 0), "b"), "pool-west");
	json_decref(pairs);
}

/* The SBAs' backup pool: down or not, and why. */
static json_t *sba(struct fake *x, const char *name, json_t **all)
{
	*all = view_sbas(&x->view);
	return find_named(*all, "name", name);
}

static void test_sba_backup_pool_up(void **state)
{
	struct fake *x = *state;
	json_t *all, *s;

	/* west-1 heard 1 s ago, holding a lease */
	x->heard_any[2] = true;
	x->heard[2] =
	    (struct view_heard){.last_ns = x->now_ns - 1000 * MS, .lease = 1};
	s = sba(x, "sba-west", &all);
	assert_true(json_is_false(json_object_get(s, "backup_pool_down")));
	assert_string_equal(str(s, "backup_pool_down_reason"), "");
	assert_true(json_is_false(json_object_get(s, "resiliency_mode")));
	/* this agent's own pool: its own lease counts */
	s = find_named(all, "name", "sba-east");
	assert_true(json_is_false(json_object_get(s, "backup_pool_down")));
	json_decref(all);
}

static void test_sba_backup_pool_without_lease(void **state)
{
	struct fake *x = *state;
	json_t *all, *s;

	x->heard_any[2] = true;
	x->heard[2] =
	    (struct view_heard){.last_ns = x->now_ns - 1000 * MS, .lease = 0};
	s = sba(x, "sba-west", &all);
	assert_true(json_is_true(json_object_get(s, "backup_pool_down")));
	assert_string_equal(str(s, "backup_pool_down_reason"),
			    "no agent of pool-west holds a lease");
	assert_true(json_is_true(json_object_get(s, "resiliency_mode")));
	json_decref(all);

	/* this agent without its lease: heard, but no lease */
	x->lease.valid = false;
	s = sba(x, "sba-east", &all);
	assert_true(json_is_true(json_object_get(s, "backup_pool_down")));
	assert_string_equal(str(s, "backup_pool_down_reason"),
			    "no agent of pool-east holds a lease");
	json_decref(all);
}

static void test_sba_backup_pool_silent(void **state)
{
	struct fake *x = *state;
	json_t *all, *s;

	/* heard 2.6 s ago: past lease + grace (2.5 s) */
	x->heard_any[2] = true;
	x->heard[2] =
	    (struct view_heard){.last_ns = x->now_ns - 2600 * MS, .lease = 1};
	s = sba(x, "sba-west", &all);
	assert_true(json_is_true(json_object_get(s, "backup_pool_down")));
	assert_string_equal(str(s, "backup_pool_down_reason"),
			    "no agent of pool-west heard for 2.5 s");
	json_decref(all);

	/* at 2.5 s it still counts */
	x->heard[2].last_ns = x->now_ns - 2500 * MS;
	s = sba(x, "sba-west", &all);
	assert_true(json_is_false(json_object_get(s, "backup_pool_down")));
	json_decref(all);
}

static void test_sba_backup_pool_unknown_after_start(void **state)
{
	struct fake *x = *state;
	json_t *all, *s;

	/* nothing heard of west-1, and this agent started 1 s ago */
	x->view.d.started_ns = x->now_ns - 1000 * MS;
	s = sba(x, "sba-west", &all);
	assert_true(json_is_null(json_object_get(s, "backup_pool_down")));
	assert_true(json_is_null(json_object_get(s, "resiliency_mode")));
	json_decref(all);

	/* once lease + grace passed, it is down */
	x->now_ns += 2000 * MS;
	s = sba(x, "sba-west", &all);
	assert_true(json_is_true(json_object_get(s, "backup_pool_down")));
	json_decref(all);
}

static void test_sba_backup_pool_failed_over(void **state)
{
	struct fake *x = *state;
	struct fsm_pool *west = &x->fsm->pools[1];
	json_t *all, *s;

	x->heard_any[2] = true;
	x->heard[2] = (struct view_heard){.last_ns = x->now_ns, .lease = 1};
	west->state = FSM_STATE_FAILED_OVER;
	snprintf(west->owner, sizeof west->owner, "pool-east");
	s = sba(x, "sba-west", &all);
	assert_true(json_is_true(json_object_get(s, "backup_pool_down")));
	assert_string_equal(str(s, "backup_pool_down_reason"),
			    "pool-west is failed_over");
	assert_true(json_is_true(json_object_get(s, "resiliency_mode")));
	json_decref(all);

	/* back to normal but still owned by its pair: resiliency mode while
	 * the pool itself is up */
	west->state = FSM_STATE_NORMAL;
	s = sba(x, "sba-west", &all);
	assert_true(json_is_false(json_object_get(s, "backup_pool_down")));
	assert_true(json_is_true(json_object_get(s, "resiliency_mode")));
	json_decref(all);
}

static void test_history_pages(void **state)
{
	struct fake *x = *state;
	json_t *h, *arr;

	/* five decisions, seq 1..5 */
	for (uint64_t s = 1; s <= 5; s++) {
		struct fsm_history *e = &x->fsm->history[(s - 1) % FSM_HISTORY];

		memset(e, 0, sizeof *e);
		e->seq = s;
		e->time_ms = 1764156817000ULL + s;
		snprintf(e->who, sizeof e->who, "op");
		snprintf(e->what, sizeof e->what, "decision %u", (unsigned)s);
		e->code = s == 4 ? FSM_E_EXISTS : FSM_OK;
		if (s == 3) {
			e->forced = true;
			e->data_at_risk_records = 7;
			e->data_at_risk_ms = 1500;
		}
	}
	x->fsm->decisions = 5;

	h = view_history(&x->view, 0, 2);
	arr = json_object_get(h, "history");
	assert_int_equal(json_array_size(arr), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(arr, 0), "seq")),
	    5);
	assert_string_equal(str(json_array_get(arr, 1), "result"), "refused");
	assert_string_equal(str(json_array_get(arr, 1), "code"), "exists");
	assert_int_equal(json_integer_value(json_object_get(h, "next_before")),
			 4);
	assert_int_equal(json_integer_value(json_object_get(h, "decisions")),
			 5);
	json_decref(h);

	h = view_history(&x->view, 4, 2);
	arr = json_object_get(h, "history");
	assert_int_equal(json_array_size(arr), 2);
	assert_true(
	    json_is_true(json_object_get(json_array_get(arr, 0), "forced")));
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_array_get(arr, 0), "data_at_risk"),
		"records")),
	    7);
	json_decref(h);

	/* the last page: no cursor */
	h = view_history(&x->view, 2, 2);
	assert_int_equal(json_array_size(json_object_get(h, "history")), 1);
	assert_true(json_is_null(json_object_get(h, "next_before")));
	json_decref(h);
}

static struct view *closed_view;
static int closes;

static void on_closed(struct view *v)
{
	closed_view = v;
	closes++;
}

static void test_close_calls_back_once(void **state)
{
	struct fake *x = *state;
	struct view v;

	closes = 0;
	closed_view = NULL;
	assert_int_equal(view_init(&v, &x->view.d), 0);
	view_close(&v, on_closed);
	assert_int_equal(closes, 1);
	assert_ptr_equal(closed_view, &v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_status_self_and_cluster, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_status_no_leader_is_null,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_status_digest_follows_the_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_members_reachable_on_the_leader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pools_on_the_leader, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pools_on_a_follower, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pool_standbys_and_local_sync,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pool_paused_and_unpaired,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pairs_listed_once, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_sba_backup_pool_up, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_sba_backup_pool_without_lease,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sba_backup_pool_silent, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_sba_backup_pool_unknown_after_start, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sba_backup_pool_failed_over,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_pages, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_close_calls_back_once, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
