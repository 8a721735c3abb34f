/* Unit tests of agent/failover_auto.c: every gate of an automatic
 * failover, their order, and the cooldown's edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/failover_auto.h"

#define NOW 1764150000000ull

/* A pool that is down, its pair alive, everything else fine: GO. */
static struct auto_facts down(void)
{
	struct auto_facts f;

	memset(&f, 0, sizeof f);
	f.pool = "pool-east";
	f.pair = "pool-west";
	f.silent_ms = 5000;
	f.pair_silent_ms = 100;
	f.alive_ms = 1000;
	f.down_ms = 1500;
	f.regime_ms = 60000;
	f.pause_reason = "";
	f.lag_known = true;
	f.lag_ms = 200;
	f.lag_age_ms = 80;
	f.max_lag_ms = 1000;
	f.now_ms = NOW;
	f.cooldown_ms = 60000;
	return f;
}

static int gate(const struct auto_facts *f, char *why)
{
	memcpy(why, "untouched", 10);
	return failover_auto_gate(f, why, 256);
}

static void test_go_and_healthy(void **state)
{
	struct auto_facts f = down();
	char why[256];

	(void)state;
	assert_int_equal(gate(&f, why), AUTO_GO);
	assert_string_equal(why, "");
	f.silent_ms = 1500; /* heard just within lease + grace */
	assert_int_equal(gate(&f, why), AUTO_HEALTHY);
	assert_string_equal(why, "");
	f.silent_ms = 1501;
	assert_int_equal(gate(&f, why), AUTO_GO);
	f.silent_ms = UINT64_MAX; /* never heard since this leader leads */
	assert_int_equal(gate(&f, why), AUTO_GO);
	assert_string_equal(failover_auto_verdict_name(AUTO_GO), "go");
	assert_string_equal(failover_auto_verdict_name(AUTO_REFUSED),
			    "refused");
	assert_string_equal(failover_auto_verdict_name(99), "?");
}

static void test_new_leader_waits(void **state)
{
	struct auto_facts f = down();
	char why[256];

	(void)state;
	f.regime_ms = 1499;
	assert_int_equal(gate(&f, why), AUTO_WAIT);
	assert_string_equal(why, "untouched");
	f.regime_ms = 1500;
	assert_int_equal(gate(&f, why), AUTO_GO);
}

static void test_paused(void **state)
{
	struct auto_facts f = down();
	char why[256];

	(void)state;
	f.paused = true;
	f.paused_since_ms = NOW - 10000;
	f.pause_reason = "rolling restart";
	assert_int_equal(gate(&f, why), AUTO_REFUSED);
	assert_string_equal(why, "pool-east is down but paused for maintenance "
				 "since 2025-11-26T09:39:50Z (rolling "
				 "restart): resume it to allow an automatic "
				 "failover");
	f.pause_reason = "";
	assert_int_equal(gate(&f, why), AUTO_REFUSED);
	assert_string_equal(why, "pool-east is down but paused for maintenance "
				 "since 2025-11-26T09:39:50Z: resume it to "
				 "allow an automatic failover");
	/* the pause is named before any other refusal */
	f.pair_silent_ms = UINT64_MAX;
	f.lag_known = false;
	f.last_auto_ms = NOW;
	assert_int_equal(gate(&f, why), AUTO_REFUSED);
	assert_non_null(strstr(why, "paused for maintenance"));
	/* a healthy paused pool is just healthy */
	f.silent_ms = 10;
	assert_int_equal(gate(&f, why), AUTO_HEALTHY);
}

static void test_pair_without_lease(void **state)
{
	struct auto_facts f = down();
	char why[256];

	(void)state;
	f.pair_silent_ms = 1001;
	assert_int_equal(gate(&f, why), AUTO_REFUSED);
	assert_string_equal(why,
			    "pool-east is down but its pair pool-west holds no "
			    "lease");
	f.pair_silent_ms = UINT64_MAX;
	assert_int_equal(gate(&f, why), AUTO_REFUSED);
	f.pair_silent_ms = 1000;
	assert_int_equal(gate(&f, why), AUTO_GO);
}

static void test_lag(void **state)
{
	struct auto_facts f = down();
	char why[256];

	(void)state;
	f.lag_known = false;
	assert_int_equal(gate(&f, why), AUTO_REFUSED);
	assert_string_equal(why, "pool-east is down and its lag is unknown");
	f.lag_known = true;
	f.lag_ms = 1001;
	assert_int_equal(gate(&f, why), AUTO_REFUSED);
	assert_string_equal(why, "pool-east is down but was 1001 ms behind "
				 "(max_lag_on_failover 1000 ms; reported 80 "
				 "ms before)");
	f.lag_ms = 1000;
	assert_int_equal(gate(&f, why), AUTO_GO);
	f.max_lag_ms = 0;
	f.lag_ms = 0;
	assert_int_equal(gate(&f, why), AUTO_GO);
}

static void test_retry_after(void **state)
{
	struct auto_facts f = down();
	char why[256];

	(void)state;
	f.retry_after_ms = NOW + 1;
	assert_int_equal(gate(&f, why), AUTO_WAIT);
	assert_string_equal(why, "untouched");
	f.retry_after_ms = NOW;
	assert_int_equal(gate(&f, why), AUTO_GO);
}

static void test_cooldown(void **state)
{
	struct auto_facts f = down();
	char why[256];

	(void)state;
	f.last_auto_ms = NOW - 59999;
	assert_int_equal(gate(&f, why), AUTO_REFUSED);
	assert_string_equal(why, "cooldown: the last automatic failover of "
				 "pool-east was 59999 ms ago (cooldown 60000 "
				 "ms)");
	f.last_auto_ms = NOW - 60000;
	assert_int_equal(gate(&f, why), AUTO_GO);
	/* a move stamped by a leader whose clock ran ahead: just now */
	f.last_auto_ms = NOW + 5000;
	assert_int_equal(gate(&f, why), AUTO_REFUSED);
	assert_non_null(strstr(why, "was 0 ms ago"));
	/* no cooldown, or never moved */
	f.cooldown_ms = 0;
	assert_int_equal(gate(&f, why), AUTO_GO);
	f.cooldown_ms = 60000;
	f.last_auto_ms = 0;
	assert_int_equal(gate(&f, why), AUTO_GO);
}

/* A pool whose writer is down while its synchronous standby is alive (and
 * reported where its copies stand) is held for a local takeover, before
 * any other gate but the pool's health; with no sync standby, a silent
 * one, or one without positions, the gates go on as before. */
static void test_hold_for_local_takeover(void **state)
{
	struct auto_facts f = down();
	char why[256];

	(void)state;
	f.sync_standby = "east2";
	f.sync_silent_ms = 1000; /* heard within the lease */
	f.sync_positions = true;
	assert_int_equal(gate(&f, why), AUTO_HOLD);
	assert_string_equal(why, "pool-east is down but its synchronous "
				 "standby east2 is alive: a local takeover "
				 "comes first, no failover to pool-west");
	assert_string_equal(failover_auto_verdict_name(AUTO_HOLD), "hold");
	/* before the gates that would refuse or wait */
	f.regime_ms = 0;
	f.paused = true;
	f.pair_silent_ms = UINT64_MAX;
	assert_int_equal(gate(&f, why), AUTO_HOLD);
	f = down();
	f.sync_standby = "east2";
	f.sync_positions = true;
	f.silent_ms = 1500; /* the writer heard: healthy, nothing held */
	assert_int_equal(gate(&f, why), AUTO_HEALTHY);
	f.silent_ms = 5000;
	f.sync_silent_ms = 1001; /* the standby silent too */
	assert_int_equal(gate(&f, why), AUTO_GO);
	f.sync_silent_ms = 0;
	f.sync_positions = false; /* it cannot take over */
	assert_int_equal(gate(&f, why), AUTO_GO);
	f.sync_positions = true;
	f.sync_standby = ""; /* sync standby 0 */
	assert_int_equal(gate(&f, why), AUTO_GO);
	f.sync_standby = NULL;
	assert_int_equal(gate(&f, why), AUTO_GO);
	/* a takeover being committed holds whatever the standby does now */
	f.sync_standby = "east2";
	f.sync_silent_ms = UINT64_MAX;
	f.local_takeover = true;
	assert_int_equal(gate(&f, why), AUTO_HOLD);
	assert_string_equal(why, "pool-east is down: a local takeover by its "
				 "synchronous standby east2 is being "
				 "committed");
	assert_int_equal(failover_auto_gate(&f, NULL, 0), AUTO_HOLD);
}

static void test_no_room_for_why(void **state)
{
	struct auto_facts f = down();

	(void)state;
	f.pair_silent_ms = UINT64_MAX;
	assert_int_equal(failover_auto_gate(&f, NULL, 0), AUTO_REFUSED);
	f.pair_silent_ms = 0;
	assert_int_equal(failover_auto_gate(&f, NULL, 0), AUTO_GO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_go_and_healthy),
	    cmocka_unit_test(test_new_leader_waits),
	    cmocka_unit_test(test_paused),
	    cmocka_unit_test(test_pair_without_lease),
	    cmocka_unit_test(test_lag),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_cooldown),
	    cmocka_unit_test(test_hold_for_local_takeover),
	    cmocka_unit_test(test_no_room_for_why),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
