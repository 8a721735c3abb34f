/* Tests of agent/metrics.c: the Prometheus text rendered from a state
 * machine filled by hand, a fake proposer, a fake clock and fake sources;
 * the counts of requests and decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/metrics.h"

#define S 1000000000ULL

struct fake {
	struct fsm *fsm;
	bool leader;
	uint64_t now_ns;
	struct raft_server servers[3];
	struct raft_configuration conf;
	struct metrics_members mm;
	bool witness;
	bool store_open;

	struct proposer proposer;
	struct clock clock;
	struct metrics_sources src;
	struct metrics m;
	char *text;
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
	return 2;
}

static uint64_t fake_term(void *impl)
{
	(void)impl;
	return 7;
}

static uint64_t fake_commit(void *impl)
{
	(void)impl;
	return 41;
}

static uint64_t fake_applied(void *impl)
{
	(void)impl;
	return 40;
}

static void fake_strerror(void *impl, int rv, char *buf, size_t len)
{
	(void)impl;
	snprintf(buf, len, "error %d", rv);
}

static const struct proposer_ops proposer_ops = {
    .submit = fake_submit,
    .barrier = fake_barrier,
    .is_leader = fake_is_leader,
    .leader = fake_leader,
    .term = fake_term,
    .commit_index = fake_commit,
    .applied_index = fake_applied,
    .strerror = fake_strerror,
};

static uint64_t wall(void *data)
{
	(void)data;
	return 1764156817000ULL;
}

static uint64_t mono(void *data) { return ((struct fake *)data)->now_ns; }

static const struct raft_configuration *src_configuration(void *impl)
{
	return &((struct fake *)impl)->conf;
}

static uint64_t src_last_index(void *impl)
{
	(void)impl;
	return 44;
}

static void src_snapshots(void *impl, uint64_t *taken, uint64_t *restored)
{
	(void)impl;
	*taken = 3;
	*restored = 1;
}

static int src_reachable(void *impl, uint64_t id)
{
	struct fake *x = impl;

	if (!x->leader)
		return -1;
	return id == 3 ? 0 : 1;
}

static void src_members(void *impl, struct metrics_members *out)
{
	*out = ((struct fake *)impl)->mm;
}

static uint64_t src_redirects(void *impl)
{
	(void)impl;
	return 9;
}

static bool src_data(void *impl, struct metrics_data *out)
{
	struct fake *x = impl;

	if (x->witness)
		return false;
	out->store_open = x->store_open;
	out->writes_ok = 120;
	out->writes_refused = 4;
	out->transactions = 30;
	out->commit_ns = 1500000000ULL;
	out->sync = METRICS_SYNC_FALLBACK;
	out->sync_fallbacks = 2;
	out->local_sync_fallbacks = 3;
	out->local_sync_waiting = 7;
	out->standbys = json_pack(
	    "[{s:s, s:s, s:I, s:I}, {s:s, s:s, s:I, s:I}]", "pool",
	    "pool-east", "standby", "east-2", "lag_records", (json_int_t)4,
	    "lag_ms", (json_int_t)1250, "pool", "pool-east", "standby",
	    "east-3", "lag_records", (json_int_t)0, "lag_ms", (json_int_t)0);
	out->streams = json_pack(
	    "[{s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:I, s:I, s:f, s:f}]", "from",
	    "pool-east", "to", "pool-west", "user_set", "pool-east", "category",
	    "user_data", "lag_records", (json_int_t)5, "lag_bytes",
	    (json_int_t)512, "lag_seconds", 0.25, "acked_seq", (json_int_t)95,
	    "head_seq", (json_int_t)100, "compression_ratio", 0.5,
	    "records_per_second", 12.5);
	out->seeds = json_pack(
	    "[{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I}, "
	    "{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I}]",
	    "role", "sender", "user_set", "pool-east", "lane", "data", "active",
	    1, "items", (json_int_t)120000, "items_total", (json_int_t)200000,
	    "bytes", (json_int_t)45100000, "bytes_total", (json_int_t)80000000,
	    "role", "receiver", "user_set", "pool-west", "lane", "content",
	    "active", 0, "items", (json_int_t)3, "items_total", (json_int_t)3,
	    "bytes", (json_int_t)3000, "bytes_total", (json_int_t)3000);
	return true;
}

static void src_connections(void *impl, struct metrics_connections *out)
{
	(void)impl;
	out->refused_limit = 1;
	out->refused_address = 2;
	out->evicted = 3;
	out->timeouts_handshake = 4;
	out->timeouts_head = 5;
	out->timeouts_body = 6;
}

static const struct metrics_sources_ops sources_ops = {
    .configuration = src_configuration,
    .last_index = src_last_index,
    .snapshots = src_snapshots,
    .reachable = src_reachable,
    .members = src_members,
    .redirects = src_redirects,
    .connections = src_connections,
    .data = src_data,
};

static int setup(void **state)
{
	struct fake *x = calloc(1, sizeof *x);
	struct metrics_deps d;

	assert_non_null(x);
	x->fsm = calloc(1, sizeof *x->fsm);
	assert_non_null(x->fsm);
	fsm_init(x->fsm);
	x->fsm->n_pools = 1;
	snprintf(x->fsm->pools[0].name, FSM_NAME_LEN, "pool-east");
	snprintf(x->fsm->pools[0].owner, FSM_NAME_LEN, "pool-west");
	x->fsm->pools[0].epoch = 3;
	x->fsm->pools[0].sync_standby = 6;
	x->fsm->n_sites = 2;
	x->fsm->decisions = 17;
	for (unsigned i = 0; i < 3; i++) {
		x->servers[i].id = i + 1;
		x->servers[i].address = "127.0.0.1:1";
		x->servers[i].role = i == 2 ? RAFT_SPARE : RAFT_VOTER;
	}
	x->conf.n = 3;
	x->conf.servers = x->servers;
	x->leader = true;
	x->store_open = true;
	x->now_ns = 100 * S;
	x->mm = (struct metrics_members){.barrier_proved_ns = 99 * S,
					 .echoes_proved_ns = 0,
					 .barrier_took_ns = S / 1000,
					 .heartbeats_sent = 11,
					 .heartbeats_failed = 1};
	x->proposer = (struct proposer){.ops = &proposer_ops, .impl = x};
	x->clock = (struct clock){.wall_ms = wall, .mono_ns = mono, .data = x};
	x->src = (struct metrics_sources){.ops = &sources_ops, .impl = x};
	d = (struct metrics_deps){.fsm = x->fsm,
				  .proposer = &x->proposer,
				  .clock = &x->clock,
				  .src = &x->src,
				  .started_ns = 40 * S};
	assert_int_equal(metrics_init(&x->m, &d), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fake *x = *state;

	metrics_close(&x->m, NULL);
	free(x->text);
	free(x->fsm);
	free(x);
	return 0;
}

static const char *render(struct fake *x)
{
	size_t len = 0;

	free(x->text);
	x->text = metrics_render(&x->m, &len);
	assert_non_null(x->text);
	assert_int_equal(strlen(x->text), len);
	return x->text;
}

/* The text holds line (a whole line). */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define assert_line(text, line)                                                \
	do {                                                                   \
		if (!has_line((text), (line)))                                 \
			fail_msg("missing line: %s", (line));                  \
	} while (0)

static void test_raft_and_state(void **state)
{
	struct fake *x = *state;
	const char *t = render(x);

	assert_line(t, "poolpair_raft_term 7");
	assert_line(t, "poolpair_raft_leader_id 2");
	assert_line(t, "poolpair_raft_is_leader 1");
	assert_line(t, "poolpair_raft_commit_index 41");
	assert_line(t, "poolpair_raft_applied_index 40");
	assert_line(t, "poolpair_raft_last_index 44");
	assert_line(t, "poolpair_raft_members{role=\"voter\"} 2");
	assert_line(t, "poolpair_raft_members{role=\"spare\"} 1");
	assert_line(t, "poolpair_raft_members{role=\"standby\"} 0");
	assert_line(t, "poolpair_member_reachable{id=\"1\"} 1");
	assert_line(t, "poolpair_member_reachable{id=\"3\"} 0");
	assert_line(t, "poolpair_raft_snapshots_total{op=\"taken\"} 3");
	assert_line(t, "poolpair_raft_snapshots_total{op=\"restored\"} 1");
	assert_line(t, "poolpair_fsm_decisions_total 17");
	assert_line(t, "poolpair_pools 1");
	assert_line(t, "# TYPE poolpair_pool_sync_standby gauge");
	assert_line(t, "poolpair_pool_sync_standby{pool=\"pool-east\"} 6");
	assert_line(t, "poolpair_sites 2");
	assert_line(
	    t, "poolpair_pool_epoch{pool=\"pool-east\",owner=\"pool-west\"} 3");
	assert_line(t, "poolpair_api_redirects_total 9");
	assert_line(t, "poolpair_api_connections_refused_total{reason=\"limit\"} 1");
	assert_line(t,
		    "poolpair_api_connections_refused_total{reason=\"address\"} 2");
	assert_line(t,
		    "poolpair_api_connections_refused_total{reason=\"evicted\"} 3");
	assert_line(t, "poolpair_api_timeouts_total{phase=\"handshake\"} 4");
	assert_line(t, "poolpair_api_timeouts_total{phase=\"head\"} 5");
	assert_line(t, "poolpair_api_timeouts_total{phase=\"body\"} 6");
	assert_line(t, "poolpair_heartbeats_total{result=\"sent\"} 11");
	assert_line(t, "poolpair_heartbeats_total{result=\"failed\"} 1");
	/* the leader's lease: proved by a barrier 1 s ago, no echoes yet */
	assert_line(t, "poolpair_lease_proof_age_seconds{source=\"barrier\"} "
		       "1.000");
	assert_null(strstr(t, "{source=\"echoes\"}"));
	assert_line(t, "poolpair_lease_barrier_seconds 0.001");
	/* 60 s since the start */
	assert_line(t, "poolpair_uptime_seconds 60");
}

static void test_follower_has_no_leader_figures(void **state)
{
	struct fake *x = *state;
	const char *t;

	x->leader = false;
	t = render(x);
	assert_line(t, "poolpair_raft_is_leader 0");
	assert_null(strstr(t, "poolpair_member_reachable{"));
	assert_null(strstr(t, "poolpair_lease_proof_age_seconds{"));
	assert_null(strstr(t, "poolpair_lease_barrier_seconds 0"));
}

static void test_data_plane(void **state)
{
	struct fake *x = *state;
	const char *t = render(x);
	const char *labels = "{from=\"pool-east\",to=\"pool-west\",user_set="
			     "\"pool-east\",category=\"user_data\"}";
	char line[256];

	assert_line(t, "poolpair_store_writes_total{result=\"ok\"} 120");
	assert_line(t, "poolpair_store_writes_total{result=\"refused\"} 4");
	assert_line(t, "poolpair_store_transactions_total 30");
	assert_line(t, "poolpair_store_commit_seconds_total 1.500000");
	assert_line(t, "poolpair_replication_sync{mode=\"async\"} 0");
	assert_line(t, "poolpair_replication_sync{mode=\"sync\"} 0");
	assert_line(t, "poolpair_replication_sync{mode=\"fallback\"} 1");
	assert_line(t, "poolpair_replication_sync_fallbacks_total 2");
	/* the local synchronous copy, and each standby's lag */
	assert_line(t, "# TYPE poolpair_local_sync_fallbacks_total counter");
	assert_line(t, "poolpair_local_sync_fallbacks_total 3");
	assert_line(t, "# TYPE poolpair_local_sync_waiting gauge");
	assert_line(t, "poolpair_local_sync_waiting 7");
	assert_line(t, "# TYPE poolpair_standby_lag_records gauge");
	assert_line(t, "poolpair_standby_lag_records{pool=\"pool-east\","
		       "standby=\"east-2\"} 4");
	assert_line(t, "poolpair_standby_lag_records{pool=\"pool-east\","
		       "standby=\"east-3\"} 0");
	assert_line(t, "# TYPE poolpair_standby_lag_seconds gauge");
	assert_line(t, "poolpair_standby_lag_seconds{pool=\"pool-east\","
		       "standby=\"east-2\"} 1.250");
	snprintf(line, sizeof line, "poolpair_backup_lag_records%s 5", labels);
	assert_line(t, line);
	snprintf(line, sizeof line, "poolpair_backup_lag_seconds%s 0.250",
		 labels);
	assert_line(t, line);
	snprintf(line, sizeof line, "poolpair_backup_acked_seq%s 95", labels);
	assert_line(t, line);

	/* the seeds, by user set, lane and role */
	assert_line(t, "# TYPE poolpair_seed_items gauge");
	assert_line(t, "# TYPE poolpair_seed_items_expected gauge");
	assert_line(t, "# TYPE poolpair_seed_active gauge");
	assert_line(t, "poolpair_seed_items{user_set=\"pool-east\",lane="
		       "\"data\",role=\"sender\"} 120000");
	assert_line(t, "poolpair_seed_items_expected{user_set=\"pool-east\","
		       "lane=\"data\",role=\"sender\"} 200000");
	assert_line(t, "poolpair_seed_bytes{user_set=\"pool-east\",lane="
		       "\"data\",role=\"sender\"} 45100000");
	assert_line(t, "poolpair_seed_bytes_expected{user_set=\"pool-east\","
		       "lane=\"data\",role=\"sender\"} 80000000");
	assert_line(t, "poolpair_seed_active{user_set=\"pool-east\",lane="
		       "\"data\",role=\"sender\"} 1");
	assert_line(t, "poolpair_seed_active{user_set=\"pool-west\",lane="
		       "\"content\",role=\"receiver\"} 0");

	/* a store not open yet: no store figures */
	x->store_open = false;
	t = render(x);
	assert_null(strstr(t, "poolpair_store_transactions_total"));
	assert_line(t, "poolpair_store_writes_total{result=\"ok\"} 120");

	/* a witness: no data plane at all */
	x->witness = true;
	t = render(x);
	assert_null(strstr(t, "poolpair_store_writes_total"));
	assert_null(strstr(t, "poolpair_backup_lag_records"));
	assert_null(strstr(t, "poolpair_seed_"));
}

static void test_requests_and_decisions(void **state)
{
	struct fake *x = *state;
	struct fsm_result ok = {.code = FSM_OK};
	struct fsm_result no = {.code = FSM_E_EXISTS};
	const char *t;

	metrics_observe(&x->m, "GET", 200, 200000);	  /* 0.2 ms */
	metrics_observe(&x->m, "POST", 409, 30000000);	  /* 30 ms */
	metrics_observe(&x->m, "PATCH", 405, 2000000000); /* 2 s */
	metrics_decided(&x->m, 0, &ok);
	metrics_decided(&x->m, 0, &ok);
	metrics_decided(&x->m, 0, &no);
	metrics_decided(&x->m, PROPOSER_E_UNKNOWN, NULL);
	metrics_decided(&x->m, PROPOSER_E_NOT_LEADER, NULL); /* none */
	t = render(x);
	assert_line(
	    t, "poolpair_api_requests_total{method=\"GET\",code=\"2xx\"} 1");
	assert_line(t, "poolpair_api_requests_total{method=\"POST\",code="
		       "\"4xx\"} 1");
	assert_line(t, "poolpair_api_requests_total{method=\"other\",code="
		       "\"4xx\"} 1");
	assert_line(t, "poolpair_api_decisions_total{result=\"ok\"} 2");
	assert_line(t, "poolpair_api_decisions_total{result=\"refused\"} 1");
	assert_line(t, "poolpair_api_decisions_total{result=\"unknown\"} 1");
	/* cumulative buckets */
	assert_line(t, "poolpair_api_request_duration_seconds_bucket{le="
		       "\"0.00025\"} 1");
	assert_line(t, "poolpair_api_request_duration_seconds_bucket{le="
		       "\"0.025\"} 1");
	assert_line(t, "poolpair_api_request_duration_seconds_bucket{le="
		       "\"0.05\"} 2");
	assert_line(t, "poolpair_api_request_duration_seconds_bucket{le="
		       "\"1\"} 2");
	assert_line(t, "poolpair_api_request_duration_seconds_bucket{le="
		       "\"+Inf\"} 3");
	assert_line(t, "poolpair_api_request_duration_seconds_count 3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_raft_and_state, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_follower_has_no_leader_figures,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data_plane, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_requests_and_decisions, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
