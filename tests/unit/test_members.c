/* Tests of the members module (agent/members*.c) with fakes for the
 * proposer, the Raft configuration, the clock and the rest of the agent:
 * a follower's lease from heartbeat answers, the leader's answers and its
 * own lease from barriers and echoes, the parsing of heartbeats and
 * registrations and their refusals, the join check, voter placement
 * driving, and the module's close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>


#include "members_fixture.h"

/* ---- a follower's lease, from the leader's answers ---- */

static void test_answer_grants_from_send_time_minus_drift(void **state)
{
	struct fixture *x = *state;

	x->sent_ns = 200000 * MS;
	at_ms(x, 200005); /* answered 5 ms later */
	answered(x, "{\"term\":3,\"leader\":9,\"lease_ms\":1000,"
		    "\"commit_index\":5,\"clock_ms\":777}");
	assert_int_equal(x->m.lease.granted_by, 9);
	assert_int_equal(x->m.lease.source, LEASE_GRANT);
	at_ms(x, 200000 + LEASE - DRIFT - 1);
	assert_true(members_lease_valid(&x->m));
	at_ms(x, 200000 + LEASE - DRIFT);
	assert_false(members_lease_valid(&x->m));
	/* the leader's clock is echoed next, with its term and leader */
	assert_int_equal(x->m.echo_next.clock_ms, 777);
	assert_int_equal(x->m.echo_next.term, 3);
	assert_int_equal(x->m.echo_next.leader, 9);
}

static void test_answer_without_lease_or_clock(void **state)
{
	struct fixture *x = *state;

	x->sent_ns = 200000 * MS;
	at_ms(x, 200001);
	answered(x, "{\"term\":3,\"leader\":9,\"lease_ms\":0,"
		    "\"commit_index\":5,\"clock_ms\":777}");
	assert_false(members_lease_valid(&x->m));
	/* an older leader sends no clock: nothing to echo */
	answered(x, "{\"term\":3,\"leader\":9,\"lease_ms\":1000,"
		    "\"commit_index\":5}");
	assert_true(members_lease_valid(&x->m));
	assert_int_equal(x->m.echo_next.clock_ms, 0);
	/* negative figures are none */
	x->sent_ns = 300000 * MS;
	at_ms(x, 300001);
	answered(x, "{\"term\":3,\"leader\":9,\"lease_ms\":-5,"
		    "\"commit_index\":5,\"clock_ms\":1}");
	assert_false(members_lease_valid(&x->m));
	/* not JSON: nothing changes */
	answered(x, "{\"term\":3,\"lease_ms\":1000,\"clock_ms\":1,\"leader\":9,"
		    "\"commit_index\":5,\"bad");
	assert_false(members_lease_valid(&x->m));
	assert_int_equal(x->m.echo_next.clock_ms, 1);
}

static void test_follower_view_waits_for_the_target(void **state)
{
	struct fixture *x = *state;

	x->sent_ns = 200000 * MS;
	at_ms(x, 200001);
	x->f.applied = 4;
	answered(x, "{\"term\":3,\"leader\":9,\"lease_ms\":1000,"
		    "\"commit_index\":5,\"clock_ms\":777}");
	assert_true(members_lease_valid(&x->m));
	assert_false(members_view_current(&x->m));
	x->f.applied = 5;
	assert_true(members_view_current(&x->m));
	/* once the lease lapsed, the view is not trusted */
	at_ms(x, 201000);
	assert_false(members_view_current(&x->m));
}

/* ---- the leader: its answers and its own lease ---- */

static void heartbeat_from(struct fixture *x, uint64_t id, uint64_t echo_ms,
			   uint64_t echo_term, struct members_answer *a)
{
	struct members_heartbeat hb;

	memset(&hb, 0, sizeof hb);
	hb.id = id;
	hb.report.applied = 7;
	hb.report.lease = 1;
	if (echo_ms != 0) {
		hb.has_echo = true;
		hb.echo.clock_ms = echo_ms;
		hb.echo.term = echo_term;
		hb.echo.leader = SELF;
	}
	members_heartbeat_received(&x->m, &hb, a);
}

static void leader_of_three(struct fixture *x)
{
	x->f.leader = true;
	x->f.leader_id = SELF;
	x->f.commit = 42;
	add_server(x, SELF, RAFT_VOTER);
	add_server(x, 2, RAFT_VOTER);
	add_server(x, 3, RAFT_VOTER);
	add_server(x, 4, RAFT_STANDBY);
}

static void test_leader_grants_nothing_before_a_proof(void **state)
{
	struct fixture *x = *state;
	struct members_answer a;

	leader_of_three(x);
	at_ms(x, 200000);
	heartbeat_from(x, 2, 0, 0, &a);
	assert_int_equal(a.lease_ms, 0);
	assert_int_equal(a.term, 3);
	assert_int_equal(a.leader, SELF);
	assert_int_equal(a.commit_index, 42);
	assert_int_equal(a.clock_ms, 200000);
	/* the heartbeat is recorded all the same */
	assert_non_null(members_seen_get(&x->m, 2));
	assert_int_equal(members_seen_get(&x->m, 2)->applied, 7);
	assert_true(members_heard(&x->m, 2, 0));
}

static void test_leader_lease_from_its_barrier(void **state)
{
	struct fixture *x = *state;
	struct members_answer a;

	leader_of_three(x);
	at_ms(x, 200000);
	members_lease_tick(&x->m, true);
	assert_int_equal(x->f.barriers, 1);
	members_lease_tick(&x->m, true); /* one barrier at a time */
	assert_int_equal(x->f.barriers, 1);
	assert_false(members_lease_valid(&x->m));
	at_ms(x, 200010);
	x->f.barrier_cb(x->f.barrier_arg, 0); /* committed */
	assert_int_equal(x->m.lease.source, LEASE_BARRIER);
	assert_int_equal(x->m.barrier_took_ns, 10 * MS);
	assert_int_equal(x->m.barrier_proved_ns, 200000 * MS);
	/* it runs from the barrier's start */
	at_ms(x, 200000 + LEASE - DRIFT - 1);
	assert_true(members_lease_valid(&x->m));
	/* a grant never runs past the leader's own lease */
	at_ms(x, 200500);
	heartbeat_from(x, 2, 0, 0, &a);
	assert_int_equal(a.lease_ms, LEASE - DRIFT - 500);
	at_ms(x, 200000 + LEASE - DRIFT);
	assert_false(members_lease_valid(&x->m));
	heartbeat_from(x, 2, 0, 0, &a);
	assert_int_equal(a.lease_ms, 0);
}

static void test_failed_barrier_proves_nothing(void **state)
{
	struct fixture *x = *state;

	leader_of_three(x);
	at_ms(x, 200000);
	members_lease_tick(&x->m, true);
	x->f.barrier_cb(x->f.barrier_arg, PROPOSER_E_UNKNOWN);
	assert_false(members_lease_valid(&x->m));
	/* the next tick tries again */
	members_lease_tick(&x->m, true);
	assert_int_equal(x->f.barriers, 2);
}

static void test_grant_capped_by_the_configured_lease(void **state)
{
	struct fixture *x = *state;
	struct members_answer a;

	leader_of_three(x);
	/* a lease longer than the configured one (the fake proves far ahead) */
	x->m.lease.until_ns = 300000 * MS;
	at_ms(x, 200000);
	heartbeat_from(x, 2, 0, 0, &a);
	assert_int_equal(a.lease_ms, LEASE);
	assert_int_equal(x->m.leases_granted, 1);
	/* a follower grants nothing */
	x->f.leader = false;
	heartbeat_from(x, 2, 0, 0, &a);
	assert_int_equal(a.lease_ms, 0);
}

static void test_leader_lease_from_echoes_of_a_majority(void **state)
{
	struct fixture *x = *state;
	struct members_answer a;

	leader_of_three(x);
	at_ms(x, 200000);
	members_lease_tick(&x->m, true); /* barrier never commits */
	/* an echo of another term, a standby's echo: nothing */
	heartbeat_from(x, 2, 199000, 2, &a);
	assert_false(members_lease_valid(&x->m));
	heartbeat_from(x, 4, 199000, 3, &a);
	assert_false(members_lease_valid(&x->m));
	/* an echo from the future is ignored, and one so far ahead that it
	 * would wrap around in ns */
	heartbeat_from(x, 2, 200001, 3, &a);
	assert_false(members_lease_valid(&x->m));
	heartbeat_from(x, 2, UINT64_MAX / MS + 2, 3, &a);
	assert_false(members_lease_valid(&x->m));
	assert_int_equal(x->m.echoes_proved_ns, 0);
	/* a voter's echo: with this leader, a majority of three */
	heartbeat_from(x, 2, 199500, 3, &a);
	assert_true(members_lease_valid(&x->m));
	assert_int_equal(x->m.lease.source, LEASE_ECHOES);
	assert_int_equal(x->m.echoes_proved_ns, 199500 * MS);
	/* running from the echoed time */
	at_ms(x, 199500 + LEASE - DRIFT - 1);
	assert_true(members_lease_valid(&x->m));
	at_ms(x, 199500 + LEASE - DRIFT);
	assert_false(members_lease_valid(&x->m));
	/* the majority-th newest: self now, 3 at 200050, 2 at 199500 */
	at_ms(x, 200450);
	heartbeat_from(x, 3, 200050, 3, &a);
	assert_int_equal(x->m.echoes_proved_ns, 200050 * MS);
	/* the lease this answer grants is what is left of it */
	assert_int_equal(a.lease_ms, 200050 + LEASE - DRIFT - 200450);
}

/* Made-up ids (not in the configuration, not registered) fill no echo
 * slot: the voters' echoes still prove the lease after a flood of them. */
static void test_echoes_of_members_only(void **state)
{
	struct fixture *x = *state;
	struct members_answer a;

	leader_of_three(x);
	at_ms(x, 200000);
	members_lease_tick(&x->m, true);
	for (uint64_t id = 100; id < 100 + 2 * LEASE_ECHOES_MAX; id++)
		heartbeat_from(x, id, 199000, 3, &a);
	assert_int_equal(x->m.echoes.n, 0);
	heartbeat_from(x, 2, 199500, 3, &a);
	assert_int_equal(x->m.echoes.n, 1);
	assert_true(members_lease_valid(&x->m));
	assert_int_equal(x->m.echoes_proved_ns, 199500 * MS);
}

static void test_echoes_forgotten_when_not_leading(void **state)
{
	struct fixture *x = *state;
	struct members_answer a;

	leader_of_three(x);
	at_ms(x, 200000);
	members_lease_tick(&x->m, true);
	heartbeat_from(x, 2, 199000, 3, &a);
	assert_int_equal(x->m.echoes.n, 1);
	members_lease_tick(&x->m, false);
	assert_int_equal(x->m.echoes.n, 0);
	assert_int_equal(x->m.echoes_proved_ns, 0);
	/* a follower takes no echo */
	x->f.leader = false;
	heartbeat_from(x, 2, 199500, 3, &a);
	assert_int_equal(x->m.echoes.n, 0);
}

/* ---- heartbeats on the wire ---- */

static int parse(const char *body, struct members_heartbeat *hb)
{
	return members_heartbeat_parse(body, strlen(body), hb);
}

/* ---- the election timeout scaled to the round trip ---- */

static void rtt_from(struct fixture *x, uint64_t id, uint64_t srtt_us,
		     uint64_t rttvar_us)
{
	struct members_heartbeat hb;
	struct members_answer a;

	memset(&hb, 0, sizeof hb);
	hb.id = id;
	hb.has_rtt = true;
	hb.srtt_us = srtt_us;
	hb.rttvar_us = rttvar_us;
	members_heartbeat_received(&x->m, &hb, &a);
}

static void test_leader_election_timeout_of_its_voters(void **state)
{
	struct fixture *x = *state;

	leader_of_three(x);
	at_ms(x, 200000);
	/* no round trip known: the configured value */
	members_eto_tick(&x->m);
	assert_int_equal(x->f.election_timeout_ms,
			 x->m.d.cfg.election_timeout_ms);
	/* a standby's long round trip does not count, a voter's does:
	 * 4 x (216 ms + 4 x 50 ms) */
	rtt_from(x, 4, 900000, 300000);
	rtt_from(x, 2, 1000, 500);
	rtt_from(x, 3, 216000, 50000);
	members_eto_tick(&x->m);
	assert_int_equal(x->f.election_timeout_ms, 1664);
	/* forgotten once older than the reachable window: decays */
	at_ms(x, 200000 + members_reachable_window_ns(&x->m) / 1000000 + 1);
	members_eto_tick(&x->m);
	assert_true(x->f.election_timeout_ms < 1664);
	assert_true(x->f.election_timeout_ms > x->m.d.cfg.election_timeout_ms);
}

static void test_follower_election_timeout_of_its_heartbeats(void **state)
{
	struct fixture *x = *state;
	unsigned sets;

	at_ms(x, 200000);
	/* loopback: the configured value, set once */
	x->m.hb_srtt_ns = 300000;
	x->m.hb_rttvar_ns = 100000;
	members_eto_tick(&x->m);
	assert_int_equal(x->f.election_timeout_ms,
			 x->m.d.cfg.election_timeout_ms);
	sets = x->f.election_timeout_sets;
	members_eto_tick(&x->m);
	assert_int_equal(x->f.election_timeout_sets, sets);
	/* a lossy WAN */
	x->m.hb_srtt_ns = 216000000;
	x->m.hb_rttvar_ns = 50000000;
	members_eto_tick(&x->m);
	assert_int_equal(x->f.election_timeout_ms, 1664);
	assert_int_equal(x->m.eto_ms, 1664);
}

static void test_heartbeat_parse(void **state)
{
	struct members_heartbeat hb;

	(void)state;
	assert_int_equal(
	    parse("{\"id\":2,\"applied\":9,\"lease\":true,"
		  "\"sets\":[{\"user_set\":\"p\",\"lag_records\":1,"
		  "\"lag_bytes\":2,\"lag_ms\":3,\"drained\":false}],"
		  "\"streams\":[{\"user_set\":\"p\",\"category\":\"content\","
		  "\"state\":\"steady\",\"head_seq\":4,\"acked_seq\":3,"
		  "\"lag_records\":1,\"lag_bytes\":2,\"lag_ms\":3}],"
		  "\"echo\":{\"clock_ms\":5,\"term\":6,\"leader\":7}}",
		  &hb),
	    0);
	assert_int_equal(hb.id, 2);
	assert_int_equal(hb.report.applied, 9);
	assert_int_equal(hb.report.lease, 1);
	assert_int_equal(hb.report.n_sets, 1);
	assert_string_equal(hb.report.sets[0].user_set, "p");
	assert_int_equal(hb.report.sets[0].lag_ms, 3);
	assert_int_equal(hb.report.n_streams, 1);
	assert_string_equal(hb.report.streams[0].category, "content");
	assert_int_equal(hb.report.streams[0].head_seq, 4);
	assert_true(hb.has_echo);
	assert_int_equal(hb.echo.clock_ms, 5);
	assert_int_equal(hb.echo.term, 6);
	assert_int_equal(hb.echo.leader, 7);
	assert_false(hb.has_rtt);
	/* the round trip of its heartbeats */
	assert_int_equal(parse("{\"id\":2,\"applied\":0,\"rtt\":"
			       "{\"srtt_us\":216000,\"rttvar_us\":0}}",
			       &hb),
			 0);
	assert_true(hb.has_rtt);
	assert_int_equal(hb.srtt_us, 216000);
	assert_int_equal(hb.rttvar_us, 0);
	/* the old form: no echo, no lease said */
	assert_int_equal(parse("{\"id\":2,\"applied\":0}", &hb), 0);
	assert_false(hb.has_echo);
	assert_int_equal(hb.report.lease, -1);
}

static void test_heartbeat_refusals(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"id\":0,\"applied\":1}",
	    "{\"id\":-1,\"applied\":1}",
	    "{\"id\":2}",
	    "{\"id\":2,\"applied\":-1}",
	    "{\"id\":2,\"applied\":1,\"other\":1}",
	    "{\"id\":2,\"applied\":1,\"id\":3}",
	    "{\"id\":2,\"applied\":1,\"sets\":{}}",
	    "{\"id\":2,\"applied\":1,\"streams\":3}",
	    "{\"id\":2,\"applied\":1,\"lease\":1}",
	    "{\"id\":2,\"applied\":1,\"sets\":[{\"user_set\":\"p\","
	    "\"lag_records\":-1,\"lag_bytes\":2,\"lag_ms\":3,"
	    "\"drained\":false}]}",
	    "{\"id\":2,\"applied\":1,\"sets\":[{\"user_set\":\"p\"}]}",
	    "{\"id\":2,\"applied\":1,\"streams\":[{\"user_set\":\"p\","
	    "\"category\":\"a-category-name-too-long\",\"state\":\"steady\","
	    "\"head_seq\":4,\"acked_seq\":3,\"lag_records\":1,"
	    "\"lag_bytes\":2,\"lag_ms\":3}]}",
	    "{\"id\":2,\"applied\":1,\"echo\":{\"clock_ms\":0,\"term\":1,"
	    "\"leader\":1}}",
	    "{\"id\":2,\"applied\":1,\"echo\":{\"clock_ms\":1,\"term\":0,"
	    "\"leader\":1}}",
	    "{\"id\":2,\"applied\":1,\"echo\":{\"clock_ms\":1,\"term\":1,"
	    "\"leader\":0}}",
	    "{\"id\":2,\"applied\":1,\"echo\":{\"clock_ms\":1,\"term\":1}}",
	    "{\"id\":2,\"applied\":1,\"echo\":{\"clock_ms\":1,\"term\":1,"
	    "\"leader\":1,\"x\":1}}",
	    "{\"id\":2,\"applied\":1,\"rtt\":{\"srtt_us\":0,"
	    "\"rttvar_us\":1}}",
	    "{\"id\":2,\"applied\":1,\"rtt\":{\"srtt_us\":1,"
	    "\"rttvar_us\":-1}}",
	    "{\"id\":2,\"applied\":1,\"rtt\":{\"srtt_us\":1}}",
	    "{\"id\":2,\"applied\":1,\"rtt\":{\"srtt_us\":1,"
	    "\"rttvar_us\":1,\"x\":1}}",
	    "{\"id\":2,\"applied\":1,\"rtt\":7}",
	};
	struct members_heartbeat hb;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&hb, 0xab, sizeof hb);
		if (parse(bad[i], &hb) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(hb.id, 0); /* nothing left half-filled */
	}
}

static void test_heartbeat_keeps_at_most_what_fits(void **state)
{
	char body[4096];
	size_t n;
	struct members_heartbeat hb;

	(void)state;
	n = (size_t)snprintf(body, sizeof body, "{\"id\":2,\"applied\":1,"
						"\"sets\":[");
	for (int i = 0; i < MEMBERS_SETS + 2; i++)
		n += (size_t)snprintf(body + n, sizeof body - n,
				      "%s{\"user_set\":\"s%d\",\"lag_records\":"
				      "1,\"lag_bytes\":2,\"lag_ms\":3,"
				      "\"drained\":true}",
				      i ? "," : "", i);
	snprintf(body + n, sizeof body - n, "]}");
	assert_int_equal(parse(body, &hb), 0);
	assert_int_equal(hb.report.n_sets, MEMBERS_SETS);
	assert_string_equal(hb.report.sets[MEMBERS_SETS - 1].user_set, "s3");
	assert_true(hb.report.sets[0].drained);
}

/* ---- seeds in the reports ---- */

static char *report_text(struct fixture *x, bool extended, bool *has_seeds)
{
	json_t *body = members_report_json(&x->m, extended, has_seeds);
	char *text;

	assert_non_null(body);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	assert_non_null(text);
	return text;
}

/* A report without a seed is exactly what an earlier version sends and
 * parses (its parser refuses any key it does not know). */
static void test_report_without_seeds_is_the_old_form(void **state)
{
	struct fixture *x = *state;
	struct members_heartbeat hb;
	bool has = true;
	char *text;

	x->f.n_sets = 1;
	snprintf(x->f.sets[0].user_set, FSM_NAME_LEN, "pool-east");
	x->f.sets[0].lag_records = 2;
	text = report_text(x, true, &has);
	assert_false(has);
	assert_null(strstr(text, "seed"));
	assert_int_equal(parse(text, &hb), 0);
	assert_int_equal(hb.report.n_sets, 1);
	assert_false(hb.report.sets[0].seeding);
	assert_int_equal(hb.report.n_seeds, 0);
	free(text);
}

static void test_report_with_seeds_round_trip(void **state)
{
	struct fixture *x = *state;
	struct members_heartbeat hb;
	bool has = false;
	char *text;

	x->f.n_sets = 1;
	snprintf(x->f.sets[0].user_set, FSM_NAME_LEN, "pool-east");
	x->f.sets[0].lag_records = 80000;
	x->f.sets[0].seeding = true;
	x->f.sets[0].seed_items = 120000;
	x->f.sets[0].seed_items_total = 200000;
	x->f.n_seeds = 2;
	x->f.seeds[0] = (struct members_seed_report){
	    .user_set = "pool-east",
	    .lane = 0,
	    .receiver = false,
	    .from_seq = 50020,
	    .items = 120000,
	    .items_total = 200000,
	    .bytes = 45100000,
	    .bytes_total = 80000000,
	    .rate_items_s = 32000.5,
	    .rate_bytes_s = 12300000,
	    .eta_s = 7,
	};
	x->f.seeds[1] = (struct members_seed_report){
	    .user_set = "cms",
	    .lane = 1,
	    .receiver = true,
	    .eta_s = -1,
	    .ended = true,
	};
	text = report_text(x, true, &has);
	assert_true(has);
	assert_int_equal(parse(text, &hb), 0);
	assert_true(hb.report.sets[0].seeding);
	assert_int_equal(hb.report.sets[0].seed_items, 120000);
	assert_int_equal(hb.report.sets[0].seed_items_total, 200000);
	assert_int_equal(hb.report.sets[0].lag_records, 80000);
	assert_int_equal(hb.report.n_seeds, 2);
	assert_string_equal(hb.report.seeds[0].user_set, "pool-east");
	assert_false(hb.report.seeds[0].receiver);
	assert_int_equal(hb.report.seeds[0].lane, 0);
	assert_int_equal(hb.report.seeds[0].bytes_total, 80000000);
	assert_true(hb.report.seeds[0].rate_items_s == 32000.5);
	assert_int_equal(hb.report.seeds[0].eta_s, 7);
	assert_int_equal(hb.report.seeds[0].from_seq, 50020);
	assert_false(hb.report.seeds[0].ended);
	assert_true(hb.report.seeds[1].ended);
	assert_true(hb.report.seeds[1].receiver);
	assert_int_equal(hb.report.seeds[1].lane, 1);
	assert_int_equal(hb.report.seeds[1].eta_s, -1);
	free(text);
	/* for an agent of an earlier version: the old form */
	text = report_text(x, false, &has);
	assert_null(strstr(text, "seed"));
	assert_int_equal(parse(text, &hb), 0);
	assert_int_equal(hb.report.sets[0].lag_records, 80000);
	free(text);
	/* what was heard is kept with the report (of a member) */
	add_server(x, 7, RAFT_VOTER);
	members_heartbeat_seen(&x->m, 7, &hb.report);
	assert_int_equal(members_seen_get(&x->m, 7)->n_seeds, 0);
	text = report_text(x, true, &has);
	assert_int_equal(parse(text, &hb), 0);
	members_heartbeat_seen(&x->m, 7, &hb.report);
	assert_int_equal(members_seen_get(&x->m, 7)->n_seeds, 2);
	assert_int_equal(members_seen_get(&x->m, 7)->seeds[0].items, 120000);
	free(text);
}

/* A standby's copy positions and a writer's standbys travel in the
 * report (extended only: an earlier version refuses the keys) and are
 * found again by the lookups. */
static void test_report_copies_and_standbys(void **state)
{
	struct fixture *x = *state;
	struct members_heartbeat hb;
	const struct members_standby_report *b;
	struct fsm_pool *p;
	struct fsm_member *w;
	bool has = false;
	uint64_t seq = 0, age = 99;
	char *text;

	x->f.n_copies = 2;
	x->f.copies[0] = (struct members_copy_report){"pool-east", 0, 41};
	x->f.copies[1] = (struct members_copy_report){"pool-east", 1, 7};
	x->f.n_standbys = 1;
	x->f.standbys[0] = (struct members_standby_report){
	    .id = 9, .state = "streaming", .acked = {40, 7},
	    .lag_records = 1, .lag_ms = 12};
	text = report_text(x, true, &has);
	assert_true(has);
	assert_int_equal(parse(text, &hb), 0);
	free(text);
	assert_int_equal(hb.report.n_copies, 2);
	assert_int_equal(hb.report.copies[1].lane, 1);
	assert_int_equal(hb.report.copies[1].head_seq, 7);
	assert_int_equal(hb.report.n_standbys, 1);
	assert_int_equal(hb.report.standbys[0].id, 9);
	assert_string_equal(hb.report.standbys[0].state, "streaming");
	assert_int_equal(hb.report.standbys[0].acked[0], 40);
	assert_int_equal(hb.report.standbys[0].acked[1], 7);
	assert_int_equal(hb.report.standbys[0].lag_ms, 12);
	/* the old form for an agent of an earlier version */
	text = report_text(x, false, &has);
	assert_null(strstr(text, "copies"));
	assert_null(strstr(text, "standbys"));
	free(text);
	/* heard from member 7 (in the configuration), the writer of
	 * pool-east */
	add_server(x, 7, RAFT_VOTER);
	members_heartbeat_seen(&x->m, 7, &hb.report);
	assert_true(members_copy_position(&x->m, 7, "pool-east", 0, &seq));
	assert_int_equal(seq, 41);
	assert_true(members_copy_position(&x->m, 7, "pool-east", 1, &seq));
	assert_int_equal(seq, 7);
	assert_false(members_copy_position(&x->m, 7, "pool-west", 0, &seq));
	assert_false(members_copy_position(&x->m, 8, "pool-east", 0, &seq));
	/* this agent: its own, live */
	x->f.copies[0].head_seq = 44;
	assert_true(members_copy_position(&x->m, SELF, "pool-east", 0, &seq));
	assert_int_equal(seq, 44);
	/* the standby figures come from the pool's writer */
	assert_null(members_standby_figures(&x->m, "pool-east", 9, 1000,
					    NULL));
	p = &x->fsm.pools[x->fsm.n_pools++];
	snprintf(p->name, sizeof p->name, "pool-east");
	p->writer = 7;
	w = &x->fsm.members[x->fsm.n_members++];
	w->id = 7;
	snprintf(w->name, sizeof w->name, "east1");
	snprintf(w->pool, sizeof w->pool, "pool-east");
	b = members_standby_figures(&x->m, "pool-east", 9, 1000, &age);
	assert_non_null(b);
	assert_int_equal(b->acked[0], 40);
	assert_int_equal(age, 0);
	assert_null(members_standby_figures(&x->m, "pool-east", 10, 1000,
					    NULL));
	/* too old */
	x->f.now_ns += 2000 * MS;
	assert_null(members_standby_figures(&x->m, "pool-east", 9, 1000,
					    NULL));
	/* this agent the writer: its live figures */
	w = &x->fsm.members[x->fsm.n_members++];
	w->id = SELF;
	snprintf(w->name, sizeof w->name, "self");
	snprintf(w->pool, sizeof w->pool, "pool-east");
	p->writer = SELF;
	x->f.standbys[0].lag_records = 5;
	b = members_standby_figures(&x->m, "pool-east", 9, 1000, &age);
	assert_non_null(b);
	assert_int_equal(b->lag_records, 5);
}

static void test_copy_refusals(void **state)
{
	static const char *const bad[] = {
	    "{\"id\":2,\"applied\":1,\"copies\":{}}",
	    "{\"id\":2,\"applied\":1,\"copies\":[{\"user_set\":\"p\","
	    "\"lane\":\"video\",\"head_seq\":1}]}",
	    "{\"id\":2,\"applied\":1,\"copies\":[{\"user_set\":\"p\","
	    "\"lane\":\"data\",\"head_seq\":-1}]}",
	    "{\"id\":2,\"applied\":1,\"copies\":[{\"user_set\":\"p\","
	    "\"lane\":\"data\"}]}",
	    "{\"id\":2,\"applied\":1,\"standbys\":[{\"id\":0,"
	    "\"state\":\"streaming\",\"acked\":{\"data\":1,\"content\":1},"
	    "\"lag_records\":0,\"lag_ms\":0}]}",
	    "{\"id\":2,\"applied\":1,\"standbys\":[{\"id\":3,"
	    "\"state\":\"streaming\",\"acked\":{\"data\":1},"
	    "\"lag_records\":0,\"lag_ms\":0}]}",
	    "{\"id\":2,\"applied\":1,\"standbys\":[{\"id\":3,"
	    "\"state\":\"streaming\",\"acked\":{\"data\":1,\"content\":1},"
	    "\"lag_records\":-1,\"lag_ms\":0}]}",
	    "{\"id\":2,\"applied\":1,\"standbys\":[{\"id\":3,"
	    "\"state\":\"a-state-name-too-long\",\"acked\":{\"data\":1,"
	    "\"content\":1},\"lag_records\":0,\"lag_ms\":0}]}",
	};
	struct members_heartbeat hb;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&hb, 0xab, sizeof hb);
		if (parse(bad[i], &hb) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(hb.id, 0);
	}
}

static void test_seed_refusals(void **state)
{
	static const char *const bad[] = {
	    /* a seed with a key missing, of another lane or role, negative */
	    "{\"id\":2,\"applied\":1,\"seeds\":[{\"user_set\":\"p\"}]}",
	    "{\"id\":2,\"applied\":1,\"seeds\":{}}",
	    "{\"id\":2,\"applied\":1,\"seeds\":[{\"user_set\":\"p\","
	    "\"lane\":\"video\",\"role\":\"sender\",\"items\":1,"
	    "\"items_total\":2,\"bytes\":1,\"bytes_total\":2,"
	    "\"rate_items_s\":1,\"rate_bytes_s\":1,\"eta_s\":1}]}",
	    "{\"id\":2,\"applied\":1,\"seeds\":[{\"user_set\":\"p\","
	    "\"lane\":\"data\",\"role\":\"owner\",\"items\":1,"
	    "\"items_total\":2,\"bytes\":1,\"bytes_total\":2,"
	    "\"rate_items_s\":1,\"rate_bytes_s\":1,\"eta_s\":1}]}",
	    "{\"id\":2,\"applied\":1,\"seeds\":[{\"user_set\":\"p\","
	    "\"lane\":\"data\",\"role\":\"sender\",\"items\":-1,"
	    "\"items_total\":2,\"bytes\":1,\"bytes_total\":2,"
	    "\"rate_items_s\":1,\"rate_bytes_s\":1,\"eta_s\":1}]}",
	    "{\"id\":2,\"applied\":1,\"seeds\":[{\"user_set\":\"p\","
	    "\"lane\":\"data\",\"role\":\"sender\",\"items\":1,"
	    "\"items_total\":2,\"bytes\":1,\"bytes_total\":2,"
	    "\"rate_items_s\":-1,\"rate_bytes_s\":1,\"eta_s\":1}]}",
	    "{\"id\":2,\"applied\":1,\"seeds\":[{\"user_set\":\"p\","
	    "\"lane\":\"data\",\"role\":\"sender\",\"items\":1,"
	    "\"items_total\":2,\"bytes\":1,\"bytes_total\":2,"
	    "\"rate_items_s\":1,\"rate_bytes_s\":1,\"eta_s\":-2}]}",
	    /* a negative position, an end that is not a boolean */
	    "{\"id\":2,\"applied\":1,\"seeds\":[{\"user_set\":\"p\","
	    "\"lane\":\"data\",\"role\":\"sender\",\"from_seq\":-1,"
	    "\"items\":1,\"items_total\":2,\"bytes\":1,\"bytes_total\":2,"
	    "\"rate_items_s\":1,\"rate_bytes_s\":1,\"eta_s\":1}]}",
	    "{\"id\":2,\"applied\":1,\"seeds\":[{\"user_set\":\"p\","
	    "\"lane\":\"data\",\"role\":\"sender\",\"items\":1,"
	    "\"items_total\":2,\"bytes\":1,\"bytes_total\":2,"
	    "\"rate_items_s\":1,\"rate_bytes_s\":1,\"eta_s\":1,"
	    "\"ended\":1}]}",
	    "{\"id\":2,\"applied\":1,\"sets\":[{\"user_set\":\"p\","
	    "\"lag_records\":1,\"lag_bytes\":2,\"lag_ms\":3,"
	    "\"drained\":false,\"seeding\":1}]}",
	    "{\"id\":2,\"applied\":1,\"sets\":[{\"user_set\":\"p\","
	    "\"lag_records\":1,\"lag_bytes\":2,\"lag_ms\":3,"
	    "\"drained\":false,\"seeding\":true,\"seed_items\":-4}]}",
	};
	struct members_heartbeat hb;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&hb, 0xab, sizeof hb);
		if (parse(bad[i], &hb) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(hb.id, 0);
	}
}

/* An agent that refused the report with seeds gets the old form, and the
 * full one again after MEMBERS_PLAIN_NS (it may have been upgraded). */
static void test_plain_for_an_earlier_version(void **state)
{
	struct fixture *x = *state;

	assert_false(members_plain_wanted(&x->m, "10.0.0.1", 7101));
	members_plain_mark(&x->m, "10.0.0.1", 7101);
	assert_true(members_plain_wanted(&x->m, "10.0.0.1", 7101));
	assert_false(members_plain_wanted(&x->m, "10.0.0.1", 7102));
	assert_false(members_plain_wanted(&x->m, "10.0.0.2", 7101));
	x->f.now_ns += MEMBERS_PLAIN_NS - 1;
	assert_true(members_plain_wanted(&x->m, "10.0.0.1", 7101));
	x->f.now_ns += 1;
	assert_false(members_plain_wanted(&x->m, "10.0.0.1", 7101));
	/* more agents than places: the oldest mark gives way */
	for (int i = 0; i < 9; i++) {
		char host[32];

		snprintf(host, sizeof host, "10.0.1.%d", i);
		x->f.now_ns += MS;
		members_plain_mark(&x->m, host, 7101);
	}
	assert_true(members_plain_wanted(&x->m, "10.0.1.8", 7101));
	assert_true(members_plain_wanted(&x->m, "10.0.1.1", 7101));
	assert_false(members_plain_wanted(&x->m, "10.0.1.0", 7101));
}

/* ---- registration and join ---- */

static int reg(const char *body, struct fsm_member *fm,
	       struct request_error *err)
{
	return members_registration_parse(body, strlen(body), fm, err);
}

static void test_registration_parse(void **state)
{
	struct fsm_member fm;
	struct request_error err;

	(void)state;
	assert_int_equal(reg("{\"id\":5,\"name\":\"east-1\",\"site\":\"east\","
			     "\"pool\":\"pool-east\",\"raft\":\"h:1\","
			     "\"data\":\"h:2\",\"api\":\"h:3\"}",
			     &fm, &err),
			 0);
	assert_int_equal(fm.id, 5);
	assert_string_equal(fm.name, "east-1");
	assert_string_equal(fm.site, "east");
	assert_string_equal(fm.pool, "pool-east");
	assert_string_equal(fm.raft_address, "h:1");
	assert_string_equal(fm.data_address, "h:2");
	assert_string_equal(fm.api_address, "h:3");
}

static void test_registration_refusals(void **state)
{
	static const char *const bad_json[] = {
	    "nope",
	    "{\"id\":0,\"name\":\"n\",\"site\":\"s\",\"pool\":\"\","
	    "\"raft\":\"h:1\",\"data\":\"\",\"api\":\"h:3\"}",
	    "{\"id\":-2,\"name\":\"n\",\"site\":\"s\",\"pool\":\"\","
	    "\"raft\":\"h:1\",\"data\":\"\",\"api\":\"h:3\"}",
	    "{\"id\":5,\"site\":\"s\",\"pool\":\"\","
	    "\"raft\":\"h:1\",\"data\":\"\",\"api\":\"h:3\"}",
	    "{\"id\":5,\"name\":\"n\",\"site\":\"s\",\"pool\":\"\","
	    "\"raft\":\"h:1\",\"data\":\"\",\"api\":\"h:3\",\"x\":1}",
	    "{\"id\":5,\"name\":\"n\",\"name\":\"m\",\"site\":\"s\","
	    "\"pool\":\"\",\"raft\":\"h:1\",\"data\":\"\",\"api\":\"h:3\"}",
	    "{\"id\":5,\"name\":7,\"site\":\"s\",\"pool\":\"\","
	    "\"raft\":\"h:1\",\"data\":\"\",\"api\":\"h:3\"}",
	};
	char body[1024], longname[FSM_ADDR_LEN + 1];
	struct fsm_member fm;
	struct request_error err;

	(void)state;
	for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
		if (reg(bad_json[i], &fm, &err) != -1)
			fail_msg("accepted: %s", bad_json[i]);
		assert_int_equal(err.status, 400);
		assert_string_equal(err.code, "bad_json");
		assert_non_null(strstr(err.message, "bad registration: "));
	}
	/* each field, one byte too long */
	memset(longname, 'x', FSM_ADDR_LEN);
	for (int field = 0; field < 6; field++) {
		int len = field < 3 ? FSM_NAME_LEN : FSM_ADDR_LEN;

		longname[len] = '\0';
		snprintf(body, sizeof body,
			 "{\"id\":5,\"name\":\"%s\",\"site\":\"%s\","
			 "\"pool\":\"%s\",\"raft\":\"%s\",\"data\":\"%s\","
			 "\"api\":\"%s\"}",
			 field == 0 ? longname : "n", field == 1 ? longname : "s",
			 field == 2 ? longname : "", field == 3 ? longname : "h:1",
			 field == 4 ? longname : "", field == 5 ? longname : "h:3");
		assert_int_equal(reg(body, &fm, &err), -1);
		assert_int_equal(err.status, 400);
		assert_string_equal(err.code, "invalid");
		assert_string_equal(err.message,
				    "a registration field is too long");
		/* one shorter fits */
		longname[len - 1] = '\0';
		snprintf(body, sizeof body,
			 "{\"id\":5,\"name\":\"%s\",\"site\":\"%s\","
			 "\"pool\":\"%s\",\"raft\":\"%s\",\"data\":\"%s\","
			 "\"api\":\"%s\"}",
			 field == 0 ? longname : "n", field == 1 ? longname : "s",
			 field == 2 ? longname : "", field == 3 ? longname : "h:1",
			 field == 4 ? longname : "", field == 5 ? longname : "h:3");
		assert_int_equal(reg(body, &fm, &err), 0);
		longname[len - 1] = 'x';
		longname[len] = 'x';
	}
}

static void test_join_check(void **state)
{
	struct raft_server s[2] = {{1, "h:1", RAFT_VOTER},
				   {2, "h:2", RAFT_STANDBY}};
	struct raft_configuration c = {s, 2};
	char msg[256] = "";
	int role = -1;

	(void)state;
	assert_int_equal(members_join_check(&c, 3, "h:3", &role, msg,
					    sizeof msg),
			 0);
	assert_int_equal(members_join_check(&c, 2, "h:2", &role, msg,
					    sizeof msg),
			 1);
	assert_int_equal(role, RAFT_STANDBY);
	assert_int_equal(members_join_check(&c, 2, "h:9", &role, msg,
					    sizeof msg),
			 -1);
	assert_string_equal(msg, "member 2 at h:2 is already in the cluster "
				 "with another id or address");
	assert_int_equal(members_join_check(&c, 9, "h:1", &role, msg,
					    sizeof msg),
			 -1);
	assert_non_null(strstr(msg, "member 1 at h:1"));
}

static void test_registration_of_the_leader(void **state)
{
	struct fixture *x = *state;
	struct fsm_result res = {0};

	x->f.leader = true;
	members_on_applied(&x->m);
	assert_int_equal(x->m.reg_state, REG_UNREGISTERED);
	members_register_tick(&x->m);
	assert_int_equal(x->f.submits, 1);
	assert_int_equal(x->m.reg_state, REG_SENDING);
	members_register_tick(&x->m); /* one at a time */
	assert_int_equal(x->f.submits, 1);
	/* refused by the state machine: said once, tried again only after
	 * MEMBERS_REG_REFUSED_MS (the configuration must change first) */
	res.code = FSM_E_INVALID;
	snprintf(res.reason, sizeof res.reason,
		 "pool-east is in site east, not west");
	x->f.submit_cb(x->f.submit_arg, 0, &res);
	assert_int_equal(x->m.reg_state, REG_UNREGISTERED);
	assert_string_equal(x->m.reg_refusal,
			    "invalid: pool-east is in site east, not west");
	members_register_tick(&x->m);
	assert_int_equal(x->f.submits, 1);
	x->f.now_ns += (MEMBERS_REG_REFUSED_MS - 1) * MS;
	members_register_tick(&x->m);
	assert_int_equal(x->f.submits, 1);
	x->f.now_ns += 1 * MS;
	members_register_tick(&x->m);
	assert_int_equal(x->f.submits, 2);
	/* applied as configured: done */
	add_member(x, SELF, "a");
	snprintf(x->fsm.members[0].name, sizeof x->fsm.members[0].name,
		 "self");
	res.code = FSM_OK;
	x->f.submit_cb(x->f.submit_arg, 0, &res);
	assert_int_equal(x->m.reg_state, REG_DONE);
	/* an applied state that differs (another site) registers again */
	snprintf(x->fsm.members[0].site, sizeof x->fsm.members[0].site, "b");
	members_on_applied(&x->m);
	assert_int_equal(x->m.reg_state, REG_UNREGISTERED);
}

/* ---- placement ---- */

/* The leader (site a) with two spares at sites b and c, leading for long
 * enough that placement judges. */
static void placement_cluster(struct fixture *x)
{
	x->f.leader = true;
	x->f.leader_id = SELF;
	add_server(x, SELF, RAFT_VOTER);
	add_server(x, 2, RAFT_SPARE);
	add_server(x, 3, RAFT_SPARE);
	add_member(x, SELF, "a");
	add_member(x, 2, "b");
	add_member(x, 3, "c");
	x->m.leader_since_ns = x->f.now_ns;
	x->f.now_ns += 60000 * MS;
}

static void heard(struct fixture *x, uint64_t id)
{
	struct members_report r = {0};

	members_heartbeat_seen(&x->m, id, &r);
}

static void test_placement_promotes_the_reachable(void **state)
{
	struct fixture *x = *state;

	placement_cluster(x);
	heard(x, 3); /* 2 is silent */
	members_place_tick(&x->m);
	assert_int_equal(x->f.assigns, 1);
	assert_int_equal(x->f.assigned_id, 3);
	assert_int_not_equal(x->f.assigned_role, RAFT_SPARE);
	assert_true(x->m.placing);
	assert_int_equal(x->m.placement_changes, 1);
	/* one change at a time */
	members_place_tick(&x->m);
	assert_int_equal(x->f.assigns, 1);
}

static void test_placement_never_promotes_the_unknown(void **state)
{
	struct fixture *x = *state;

	placement_cluster(x);
	x->fsm.n_members = 2; /* 3 never registered */
	heard(x, 3);
	members_place_tick(&x->m);
	assert_int_equal(x->f.assigns, 0);
	heard(x, 2);
	members_place_tick(&x->m);
	assert_int_equal(x->f.assigns, 1);
	assert_int_equal(x->f.assigned_id, 2);
}

static void test_placement_waits(void **state)
{
	struct fixture *x = *state;

	placement_cluster(x);
	heard(x, 2);
	heard(x, 3);
	/* not during the first window of a leadership */
	x->m.leader_since_ns = x->f.now_ns - (LEASE + 500) * MS + 1;
	members_place_tick(&x->m);
	assert_int_equal(x->f.assigns, 0);
	/* nor while a configuration change is in flight */
	x->m.leader_since_ns = 1;
	x->f.changing = true;
	members_place_tick(&x->m);
	assert_int_equal(x->f.assigns, 0);
	x->f.changing = false;
	members_place_tick(&x->m);
	assert_int_equal(x->f.assigns, 1);
}

static void test_placement_caught_up_by_match_index(void **state)
{
	struct fixture *x = *state;

	x->f.leader = true;
	add_server(x, SELF, RAFT_VOTER);
	add_server(x, 2, RAFT_STANDBY);
	add_server(x, 3, RAFT_STANDBY);
	add_member(x, SELF, "a");
	add_member(x, 2, "b");
	add_member(x, 3, "c");
	x->m.leader_since_ns = x->f.now_ns;
	x->f.now_ns += 60000 * MS;
	heard(x, 2);
	heard(x, 3);
	x->f.last_index = 1000;
	/* three voters need both standbys caught up: 3 is 65 behind */
	x->f.match[1] = 1000;
	x->f.match[2] = 1000 - 65;
	members_place_tick(&x->m);
	assert_int_equal(x->f.assigns, 0);
	/* 64 behind is caught up */
	x->f.match[2] = 1000 - 64;
	members_place_tick(&x->m);
	assert_int_equal(x->f.assigns, 1);
	assert_int_equal(x->f.assigned_role, RAFT_VOTER);
}

/* ---- what was heard, the leader's view ---- */

static void test_reachable_and_silence(void **state)
{
	struct fixture *x = *state;
	const struct members_seen *lag;

	add_member(x, SELF, "a");
	add_member(x, 2, "b");
	snprintf(x->fsm.members[1].pool, sizeof x->fsm.members[1].pool, "p");
	assert_int_equal(members_reachable(&x->m, 2), -1); /* not leading */
	x->f.leader = true;
	x->m.leader_since_ns = x->f.now_ns;
	assert_int_equal(members_reachable(&x->m, 2), 1); /* first window */
	assert_int_equal(members_pool_silence_ms(&x->m, "p", &lag), UINT64_MAX);
	assert_null(lag);
	x->f.now_ns += 100 * MS;
	heard(x, 2);
	x->f.now_ns += (LEASE + 500) * MS;
	assert_int_equal(members_reachable(&x->m, 2), 1);
	assert_int_equal(members_pool_silence_ms(&x->m, "p", &lag),
			 LEASE + 500);
	assert_non_null(lag);
	assert_int_equal(lag->id, 2);
	x->f.now_ns += 1;
	assert_int_equal(members_reachable(&x->m, 2), 0);
	assert_int_equal(members_reachable(&x->m, SELF), 1);
	assert_false(members_heard(&x->m, 2, LEASE));
	assert_true(members_heard(&x->m, SELF, 0));
	/* heard before this leadership: silent since it began */
	x->m.leader_since_ns = x->f.now_ns;
	assert_int_equal(members_pool_silence_ms(&x->m, "p", &lag), UINT64_MAX);
	x->f.now_ns += (LEASE + 500) * MS;
	assert_int_equal(members_reachable(&x->m, 2), 1);
	x->f.now_ns += 1;
	assert_int_equal(members_reachable(&x->m, 2), 0);
}

/* ---- the regime bound: a new leader's wait (lease.h) ---- */

/* Three voters: this agent (1), 2 and 3 (pool "p"), all registered;
 * the voter set seen stable since 100100 ms (a follower's tick); a
 * leader of term 3 heard by Raft at 101000 ms; at 103500 ms this agent
 * leads term 4. */
static void new_leader_of_three(struct fixture *x)
{
	add_server(x, SELF, RAFT_VOTER);
	add_server(x, 2, RAFT_VOTER);
	add_server(x, 3, RAFT_VOTER);
	add_member(x, SELF, "a");
	add_member(x, 2, "b");
	add_member(x, 3, "c");
	snprintf(x->fsm.members[2].pool, sizeof x->fsm.members[2].pool, "p");
	at_ms(x, 100100);
	members_regime_tick(&x->m, false);
	at_ms(x, 101000);
	members_raft_contact(&x->m, 3);
	at_ms(x, 103500);
	x->f.term = 4;
	x->f.leader = true;
	x->f.leader_id = SELF;
	x->m.leader_since_ns = x->f.now_ns;
	members_regime_tick(&x->m, true);
}

/* Member id's heartbeat carrying the regime report (term, age_ms). */
static void regime_report(struct fixture *x, uint64_t id, uint64_t term,
			  uint64_t age_ms)
{
	struct members_heartbeat hb;
	struct members_answer a;

	memset(&hb, 0, sizeof hb);
	hb.id = id;
	hb.has_regime = true;
	hb.regime_term = term;
	hb.regime_age_ms = age_ms;
	members_heartbeat_received(&x->m, &hb, &a);
	assert_true(a.regime);
}

static void test_regime_bounds_the_silence(void **state)
{
	struct fixture *x = *state;
	const struct members_seen *lag;

	new_leader_of_three(x);
	/* nothing reported yet: counted from the election */
	assert_int_equal(members_regime_since_ns(&x->m), 103500 * MS);
	at_ms(x, 103600);
	assert_int_equal(members_reachable(&x->m, 3), 1);
	/* 2 heard no leader of an earlier term for 2400 ms: B_2 = 101200,
	 * after this agent's own last contact (101000) */
	regime_report(x, 2, 4, 2400);
	assert_int_equal(members_regime_since_ns(&x->m), 101200 * MS);
	/* 3, not heard since, is down lease + grace after the bound, long
	 * before lease + grace after the election */
	at_ms(x, 101200 + LEASE + 500);
	assert_true(x->f.now_ns < x->m.leader_since_ns + (LEASE + 500) * MS);
	at_ms(x, 103600);
	assert_int_equal(members_reachable(&x->m, 3), 0);
	assert_int_equal(members_pool_silence_ms(&x->m, "p", &lag), UINT64_MAX);
	/* and 2, heard now, is reachable */
	assert_int_equal(members_reachable(&x->m, 2), 1);
	/* a leader of a later term forgets the reports */
	x->f.term = 5;
	x->m.leader_since_ns = x->f.now_ns;
	members_regime_tick(&x->m, true);
	assert_int_equal(members_regime_since_ns(&x->m), 103600 * MS);
	assert_int_equal(members_reachable(&x->m, 3), 1);
}

static void test_regime_not_before_the_election_unless_reported(void **state)
{
	struct fixture *x = *state;

	new_leader_of_three(x);
	/* a report of another term counts for nothing */
	regime_report(x, 2, 3, 2400);
	assert_int_equal(members_regime_since_ns(&x->m), 103500 * MS);
	/* nor does a heartbeat without one (an earlier version) */
	regime_report(x, 3, 4, 0);
	x->m.regime.n = 0; /* forget it: only 2's own counts below */
	assert_int_equal(members_regime_since_ns(&x->m), 103500 * MS);
	at_ms(x, 103600);
	regime_report(x, 2, 4, 2400);
	assert_int_equal(members_regime_since_ns(&x->m), 101200 * MS);
	/* the configuration changed: a change in flight */
	x->f.changing = true;
	members_regime_tick(&x->m, true);
	assert_int_equal(members_regime_since_ns(&x->m), 103500 * MS);
	/* settled again, but only since after the bound */
	x->f.changing = false;
	members_regime_tick(&x->m, true);
	assert_int_equal(members_regime_since_ns(&x->m), 103500 * MS);
	assert_int_equal(members_reachable(&x->m, 3), 1);
}

static void test_regime_configuration_mark(void **state)
{
	struct fixture *x = *state;

	new_leader_of_three(x);
	regime_report(x, 2, 4, 2400);
	assert_int_equal(members_regime_since_ns(&x->m), 101100 * MS);
	/* a configuration entry came and went between two ticks: the voter
	 * set is the same, the mark is not */
	x->f.mark[0] = 17;
	members_regime_tick(&x->m, true);
	assert_int_equal(members_regime_since_ns(&x->m), 103500 * MS);
}

/* A leader answering a heartbeat hands out its clock and may prove its
 * lease at that moment: a contact with the leader of its term. */
static void test_regime_answering_is_a_contact(void **state)
{
	struct fixture *x = *state;

	add_member(x, SELF, "a");
	add_member(x, 2, "b");
	x->f.leader = true;
	x->f.leader_id = SELF;
	at_ms(x, 105000);
	regime_report(x, 2, 3, 0);
	assert_int_equal(lease_contact_before(&x->m.contacts, 4), 105000 * MS);
	assert_int_equal(lease_contact_before(&x->m.contacts, 3), 100000 * MS);
}

static void test_regime_report_wire(void **state)
{
	struct fixture *x = *state;
	struct members_heartbeat hb;
	json_t *body;
	const char *ok = "{\"id\":2,\"applied\":1,\"regime\":{\"term\":4,"
			 "\"age_ms\":2400}}";

	assert_int_equal(members_heartbeat_parse(ok, strlen(ok), &hb), 0);
	assert_true(hb.has_regime);
	assert_int_equal(hb.regime_term, 4);
	assert_int_equal(hb.regime_age_ms, 2400);
	ok = "{\"id\":2,\"applied\":1}";
	assert_int_equal(members_heartbeat_parse(ok, strlen(ok), &hb), 0);
	assert_false(hb.has_regime);
	const char *bad[] = {
	    "{\"id\":2,\"applied\":1,\"regime\":{\"term\":0,\"age_ms\":1}}",
	    "{\"id\":2,\"applied\":1,\"regime\":{\"term\":4,\"age_ms\":-1}}",
	    "{\"id\":2,\"applied\":1,\"regime\":{\"term\":4}}",
	    "{\"id\":2,\"applied\":1,\"regime\":{\"term\":4,\"age_ms\":1,"
	    "\"x\":1}}",
	    "{\"id\":2,\"applied\":1,\"regime\":true}",
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(
		    members_heartbeat_parse(bad[i], strlen(bad[i]), &hb), -1);

	/* a follower in term 4 led by 9: its contacts with term 3 */
	x->f.term = 4;
	x->f.leader_id = 9;
	at_ms(x, 101000);
	members_raft_contact(&x->m, 3);
	at_ms(x, 101500);
	members_raft_contact(&x->m, 4);
	at_ms(x, 102000);
	/* a leader that does not ask for it gets none */
	answered(x, "{\"term\":4,\"leader\":9,\"lease_ms\":1000,"
		    "\"commit_index\":5,\"clock_ms\":777}");
	body = json_object();
	assert_int_equal(members_regime_add(&x->m, body), 0);
	assert_null(json_object_get(body, "regime"));
	/* one that does: the age of the last contact with an earlier term */
	answered(x, "{\"term\":4,\"leader\":9,\"lease_ms\":1000,"
		    "\"commit_index\":5,\"clock_ms\":778,\"regime\":true}");
	at_ms(x, 102300);
	assert_int_equal(members_regime_add(&x->m, body), 0);
	json_int_t term = 0, age = 0;
	assert_int_equal(json_unpack(json_object_get(body, "regime"),
				     "{s:I, s:I}", "term", &term, "age_ms",
				     &age),
			 0);
	assert_int_equal(term, 4);
	assert_int_equal(age, 1300);
	json_decref(body);
	/* an answer of term 3 arriving late is a contact too */
	answered(x, "{\"term\":3,\"leader\":9,\"lease_ms\":1000,"
		    "\"commit_index\":5,\"clock_ms\":777,\"regime\":true}");
	assert_int_equal(lease_contact_before(&x->m.contacts, 4), 102300 * MS);
	/* and the answer's term is not the one seen now: nothing added */
	body = json_object();
	assert_int_equal(members_regime_add(&x->m, body), 0);
	assert_null(json_object_get(body, "regime"));
	json_decref(body);
}

/* Heartbeats and reports are kept for members only (registered, or in
 * the Raft configuration): made-up ids take no slot, so a flood of them
 * keeps no member out; once the table is full, the slot of an id that is
 * no longer a member goes to a member. */
static void test_seen_of_members_only(void **state)
{
	struct fixture *x = *state;
	struct members_report r = {0};
	uint64_t id;

	add_member(x, 2, "b");
	add_server(x, 3, RAFT_SPARE); /* added, not registered yet */
	for (id = 100; id < 100 + 4 * FSM_MAX_MEMBERS; id++)
		members_heartbeat_seen(&x->m, id, &r);
	assert_int_equal(x->m.n_seen, 0);
	assert_null(members_seen_get(&x->m, 100));
	assert_false(members_heard(&x->m, 100, LEASE));
	heard(x, 2);
	heard(x, 3);
	assert_non_null(members_seen_get(&x->m, 2));
	assert_non_null(members_seen_get(&x->m, 3));
	assert_true(members_heard(&x->m, 3, LEASE));
	/* every slot taken by members */
	for (id = 4; x->fsm.n_members < FSM_MAX_MEMBERS; id++)
		add_member(x, id, "c");
	for (unsigned i = 0; i < x->fsm.n_members; i++)
		heard(x, x->fsm.members[i].id);
	assert_int_equal(x->m.n_seen, FSM_MAX_MEMBERS);
	/* member 5 leaves, 500 joins: 500 takes its slot */
	assert_int_equal(x->fsm.members[2].id, 5);
	x->fsm.members[2].id = 500;
	heard(x, 500);
	assert_non_null(members_seen_get(&x->m, 500));
	assert_null(members_seen_get(&x->m, 5));
	assert_non_null(members_seen_get(&x->m, 2));
	assert_non_null(members_seen_get(&x->m, 3));
	/* a full table of members: one more made-up id changes nothing */
	heard(x, 501);
	assert_null(members_seen_get(&x->m, 501));
	assert_int_equal(x->m.n_seen, FSM_MAX_MEMBERS);
}

/* Whether the reporter of a user set has its streams connected: as
 * members_set_report_aged() picks it, live for this agent. */
static void test_set_connected(void **state)
{
	struct fixture *x = *state;
	struct members_report r;

	add_member(x, SELF, "a");
	add_member(x, 2, "b");
	snprintf(x->fsm.members[0].pool, sizeof x->fsm.members[0].pool, "pa");
	snprintf(x->fsm.members[1].pool, sizeof x->fsm.members[1].pool, "pb");
	/* nobody heard of pb: no report, not connected */
	assert_false(members_set_connected(&x->m, "pb", "pa", UINT64_MAX));
	memset(&r, 0, sizeof r);
	r.n_sets = 2;
	snprintf(r.sets[0].user_set, FSM_NAME_LEN, "pa");
	snprintf(r.sets[1].user_set, FSM_NAME_LEN, "pb");
	/* an earlier version's report: no streams, so nothing says no */
	members_heartbeat_seen(&x->m, 2, &r);
	assert_true(members_set_connected(&x->m, "pb", "pa", UINT64_MAX));
	r.n_streams = 3;
	snprintf(r.streams[0].user_set, FSM_NAME_LEN, "pa");
	snprintf(r.streams[0].state, sizeof r.streams[0].state, "steady");
	snprintf(r.streams[1].user_set, FSM_NAME_LEN, "pa");
	snprintf(r.streams[1].state, sizeof r.streams[1].state, "final");
	snprintf(r.streams[2].user_set, FSM_NAME_LEN, "pb");
	snprintf(r.streams[2].state, sizeof r.streams[2].state, "backlog");
	members_heartbeat_seen(&x->m, 2, &r);
	assert_false(members_set_connected(&x->m, "pb", "pa", UINT64_MAX));
	assert_true(members_set_connected(&x->m, "pb", "pb", UINT64_MAX));
	snprintf(r.streams[1].state, sizeof r.streams[1].state, "backlog");
	members_heartbeat_seen(&x->m, 2, &r);
	assert_true(members_set_connected(&x->m, "pb", "pa", UINT64_MAX));
	/* too old a report is none */
	x->f.now_ns += 2000 * MS;
	assert_false(members_set_connected(&x->m, "pb", "pa", 1000));
	/* this agent: its own figures, live */
	x->f.n_sets = 1;
	snprintf(x->f.sets[0].user_set, FSM_NAME_LEN, "pa");
	x->f.n_streams = 1;
	snprintf(x->f.streams[0].user_set, FSM_NAME_LEN, "pa");
	snprintf(x->f.streams[0].state, sizeof x->f.streams[0].state, "error");
	assert_false(members_set_connected(&x->m, "pa", "pa", 0));
	snprintf(x->f.streams[0].state, sizeof x->f.streams[0].state, "steady");
	assert_true(members_set_connected(&x->m, "pa", "pa", 0));
	assert_false(members_set_connected(&x->m, "pa", "other", 0));
}

/* ---- life ---- */

static void test_close_before_start(void **state)
{
	(void)state; /* teardown closes a module never started */
}

static void test_start_then_close(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(members_start(&x->m, false), 0);
	assert_int_equal(x->m.state, MEMBERS_RUNNING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_answer_grants_from_send_time_minus_drift),
	    T(test_answer_without_lease_or_clock),
	    T(test_follower_view_waits_for_the_target),
	    T(test_leader_grants_nothing_before_a_proof),
	    T(test_leader_lease_from_its_barrier),
	    T(test_failed_barrier_proves_nothing),
	    T(test_grant_capped_by_the_configured_lease),
	    T(test_leader_lease_from_echoes_of_a_majority),
	    T(test_echoes_of_members_only),
	    T(test_echoes_forgotten_when_not_leading),
	    T(test_leader_election_timeout_of_its_voters),
	    T(test_follower_election_timeout_of_its_heartbeats),
	    cmocka_unit_test(test_heartbeat_parse),
	    cmocka_unit_test(test_heartbeat_refusals),
	    cmocka_unit_test(test_heartbeat_keeps_at_most_what_fits),
	    cmocka_unit_test(test_seed_refusals),
	    T(test_report_without_seeds_is_the_old_form),
	    T(test_report_with_seeds_round_trip),
	    T(test_report_copies_and_standbys),
	    cmocka_unit_test(test_copy_refusals),
	    T(test_plain_for_an_earlier_version),
	    T(test_set_connected),
	    T(test_seen_of_members_only),
	    cmocka_unit_test(test_registration_parse),
	    cmocka_unit_test(test_registration_refusals),
	    cmocka_unit_test(test_join_check),
	    T(test_registration_of_the_leader),
	    T(test_placement_promotes_the_reachable),
	    T(test_placement_never_promotes_the_unknown),
	    T(test_placement_waits),
	    T(test_placement_caught_up_by_match_index),
	    T(test_reachable_and_silence),
	    T(test_regime_bounds_the_silence),
	    T(test_regime_not_before_the_election_unless_reported),
	    T(test_regime_configuration_mark),
	    T(test_regime_report_wire),
	    T(test_regime_answering_is_a_contact),
	    T(test_close_before_start),
	    T(test_start_then_close),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
