/* Tests of the timing profiles of the configuration ([failover] profile,
 * agent/config_profile.c and its use in agent/config.c). Run with
 * tests/unit as the working directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"

/* ---- helpers ------------------------------------------------------ */

/* A witness that joins, then more: every file here starts so. */
#define HEAD                                                                   \
	"[agent]\nname = w\nid = 3\nsite = third\ndata_dir = /tmp/x\n"         \
	"[listen]\nraft = 127.0.0.1:7001\napi = 127.0.0.1:7080\n"              \
	"[cluster]\njoin = http://127.0.0.1:7180/\n"

static struct config *new_config(void)
{
	struct config *c = malloc(sizeof *c);

	assert_non_null(c);
	config_defaults(c);
	return c;
}

/* Load text (written to a temporary file) into a fresh config; the
 * result of config_load() in *rv. The caller frees the config. */
static struct config *load_text(const char *text, int *rv)
{
	char path[] = "/tmp/poolpair-test-profile-XXXXXX";
	struct config *c = new_config();
	size_t len = strlen(text);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	*rv = config_load(c, path);
	unlink(path);
	return c;
}

static struct config *load_ok(const char *text)
{
	int rv;
	struct config *c = load_text(text, &rv);

	if (rv != 0)
		print_error("%s\n", c->errmsg);
	assert_int_equal(rv, 0);
	return c;
}

static void assert_timing(const struct config *c, uint32_t hb, uint32_t lease,
			  uint32_t grace, uint32_t drift, uint32_t election,
			  uint32_t raft_hb)
{
	assert_int_equal(c->heartbeat_ms, hb);
	assert_int_equal(c->lease_ms, lease);
	assert_int_equal(c->grace_ms, grace);
	assert_int_equal(c->drift_margin_ms, drift);
	assert_int_equal(c->election_timeout_ms, election);
	assert_int_equal(c->heartbeat_timeout_ms, raft_hb);
}

/* The text after "FILE:LINE: " of an error message. */
static const char *message_of(const char *errmsg)
{
	const char *p = strstr(errmsg, ": ");

	assert_non_null(p);
	return p + 2;
}

/* ---- the table ---------------------------------------------------- */

/* Names and numbers map both ways; anything else is refused. */
static void test_names(void **state)
{
	struct config_timing t = {.lease_ms = 7};

	(void)state;
	assert_int_equal(config_profile_find("default"),
			 CONFIG_PROFILE_DEFAULT);
	assert_int_equal(config_profile_find("fast"), CONFIG_PROFILE_FAST);
	assert_int_equal(config_profile_find("Fast"), -1);
	assert_int_equal(config_profile_find("fast "), -1);
	assert_int_equal(config_profile_find(""), -1);
	assert_int_equal(config_profile_find("turbo"), -1);
	assert_string_equal(config_profile_name(CONFIG_PROFILE_DEFAULT),
			    "default");
	assert_string_equal(config_profile_name(CONFIG_PROFILE_FAST), "fast");
	assert_string_equal(config_profile_name(CONFIG_PROFILE_COUNT), "?");
	assert_string_equal(config_profile_name(-1), "?");
	assert_int_equal(config_profile_timing(CONFIG_PROFILE_COUNT, &t), -1);
	assert_int_equal(config_profile_timing(-1, &t), -1);
	assert_int_equal(t.lease_ms, 7); /* untouched on error */
}

/* Every profile keeps the relations the agent relies on, not only those
 * config_load() checks: the least time a heartbeat waits for its answer
 * (4 heartbeats, members_hb_timeout_ms()) is within the most (the lease
 * it renews, lease - drift_margin); grace covers the
 * drift margin; the fast profile is faster than the default in every
 * value, and declares a pool down in under a second. */
static void test_relations(void **state)
{
	struct config_timing d, f;

	(void)state;
	for (int i = 0; i < CONFIG_PROFILE_COUNT; i++) {
		struct config_timing t;

		assert_int_equal(config_profile_timing(i, &t), 0);
		assert_true(t.heartbeat_ms > 0);
		assert_true(t.heartbeat_ms < t.lease_ms);
		assert_true(t.drift_margin_ms < t.lease_ms);
		assert_true(t.heartbeat_timeout_ms < t.election_timeout_ms);
		assert_true(4 * t.heartbeat_ms <=
			    t.lease_ms - t.drift_margin_ms);
		assert_true(t.grace_ms >= t.drift_margin_ms);
	}
	assert_int_equal(config_profile_timing(CONFIG_PROFILE_DEFAULT, &d), 0);
	assert_int_equal(config_profile_timing(CONFIG_PROFILE_FAST, &f), 0);
	assert_true(f.heartbeat_ms < d.heartbeat_ms);
	assert_true(f.lease_ms < d.lease_ms);
	assert_true(f.grace_ms < d.grace_ms);
	assert_true(f.drift_margin_ms <= d.drift_margin_ms);
	assert_true(f.election_timeout_ms < d.election_timeout_ms);
	assert_true(f.heartbeat_timeout_ms < d.heartbeat_timeout_ms);
	assert_true(f.lease_ms + f.grace_ms < 1000);
}

/* ---- loading ------------------------------------------------------ */

/* No profile key: the default profile, whose values are the defaults. */
static void test_default(void **state)
{
	struct config *c = new_config();
	struct config_timing t;

	(void)state;
	assert_int_equal(c->profile, CONFIG_PROFILE_DEFAULT);
	assert_timing(c, 250, 2000, 500, 100, 500, 100);
	free(c);
	c = load_ok(HEAD);
	assert_int_equal(c->profile, CONFIG_PROFILE_DEFAULT);
	assert_timing(c, 250, 2000, 500, 100, 500, 100);
	config_timing_of(c, &t);
	assert_int_equal(t.lease_ms, 2000);
	assert_int_equal(t.heartbeat_timeout_ms, 100);
	free(c);
	c = load_ok(HEAD "[failover]\nprofile = default\n");
	assert_int_equal(c->profile, CONFIG_PROFILE_DEFAULT);
	assert_timing(c, 250, 2000, 500, 100, 500, 100);
	free(c);
}

/* profile = fast sets the six timing keys, and nothing else. */
static void test_fast(void **state)
{
	struct config *d = load_ok(HEAD);
	struct config *c = load_ok(HEAD "[failover]\nprofile = fast\n");
	struct config_timing t;

	(void)state;
	assert_int_equal(c->profile, CONFIG_PROFILE_FAST);
	assert_timing(c, 100, 500, 150, 50, 300, 50);
	assert_int_equal(config_profile_timing(CONFIG_PROFILE_FAST, &t), 0);
	assert_timing(c, t.heartbeat_ms, t.lease_ms, t.grace_ms,
		      t.drift_margin_ms, t.election_timeout_ms,
		      t.heartbeat_timeout_ms);
	/* the rest as without the profile */
	assert_int_equal(c->max_lag_ms, d->max_lag_ms);
	assert_int_equal(c->cooldown_ms, d->cooldown_ms);
	assert_int_equal(c->hook_timeout_ms, d->hook_timeout_ms);
	assert_int_equal(c->snapshot_threshold, d->snapshot_threshold);
	assert_int_equal(c->local_sync_timeout_ms, d->local_sync_timeout_ms);
	assert_int_equal(c->upload_timeout_ms, d->upload_timeout_ms);
	assert_int_equal(c->failover_keys, 0);
	free(c);
	free(d);
}

/* A timing key the file sets wins over the profile, before or after the
 * profile key, in either section; the others come from the profile. */
static void test_key_wins(void **state)
{
	struct config *c;

	(void)state;
	c = load_ok(HEAD "election_timeout = 1s\n[failover]\nlease = 800ms\n"
			 "profile = fast\ngrace = 0\n");
	assert_int_equal(c->profile, CONFIG_PROFILE_FAST);
	assert_timing(c, 100, 800, 0, 50, 1000, 50);
	free(c);
	c = load_ok(HEAD "[failover]\nprofile = fast\n[cluster]\n"
			 "heartbeat_timeout = 20ms\n[failover]\n"
			 "heartbeat = 120ms\ndrift_margin = 60ms\n");
	assert_timing(c, 120, 500, 150, 60, 300, 20);
	free(c);
	/* and the default profile's values give way just the same */
	c = load_ok(HEAD "[failover]\nprofile = default\nlease = 3s\n");
	assert_timing(c, 250, 3000, 500, 100, 500, 100);
	free(c);
}

/* The golden file that sets every key (profile = fast among them): every
 * timing value is the file's own. */
static void test_everything(void **state)
{
	struct config *c = new_config();

	(void)state;
	assert_int_equal(config_load(c, "config/good/everything.ini"), 0);
	assert_int_equal(c->profile, CONFIG_PROFILE_FAST);
	assert_timing(c, 100, 30000, 0, 2000, 1500, 150);
	free(c);
}

/* An unknown profile is refused with a clear error, and the config it was
 * loaded into is left as it was. */
static void test_unknown_refused(void **state)
{
	static const char *const bad[] = {"turbo", "Fast", "fast,default", "1",
					  "\"fast\""};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct config *c;
		char want[128];
		int rv;

		snprintf(text, sizeof text, HEAD "[failover]\nprofile = %s\n",
			 bad[i]);
		c = load_text(text, &rv);
		assert_int_equal(rv, CONFIG_E_INVALID);
		snprintf(want, sizeof want,
			 "bad [failover] profile '%s': expected default or "
			 "fast",
			 bad[i]);
		assert_string_equal(message_of(c->errmsg), want);
		/* untouched: still config_defaults() */
		assert_int_equal(c->profile, CONFIG_PROFILE_DEFAULT);
		assert_timing(c, 250, 2000, 500, 100, 500, 100);
		free(c);
	}
	{
		struct config *c;
		int rv;

		c = load_text(HEAD "[failover]\nprofile =\n", &rv);
		assert_int_equal(rv, CONFIG_E_EMPTY);
		free(c);
		c = load_text(HEAD "[cluster]\nprofile = fast\n", &rv);
		assert_int_equal(rv, CONFIG_E_UNKNOWN);
		free(c);
		c = load_text(HEAD "[failover]\nprofile = fast\n"
				   "profile = fast\n",
			      &rv);
		assert_int_equal(rv, CONFIG_E_DUPLICATE);
		free(c);
	}
}

/* The checks across keys see the effective values: a key that is fine
 * with the default profile conflicts with the fast one's, and the message
 * says where the other value came from. */
static void test_checks_see_profile(void **state)
{
	struct config *c;
	int rv;

	(void)state;
	/* heartbeat 500ms < lease 2s: fine by default */
	c = load_ok(HEAD "[failover]\nheartbeat = 500ms\n");
	free(c);
	c = load_text(HEAD "[failover]\nheartbeat = 500ms\nprofile = fast\n",
		      &rv);
	assert_int_equal(rv, CONFIG_E_CONFLICT);
	assert_non_null(strstr(c->errmsg, ":12: ")); /* the heartbeat */
	assert_string_equal(message_of(c->errmsg),
			    "[failover] heartbeat (500ms) must be less than "
			    "lease (500ms, profile fast)");
	free(c);
	c = load_text(HEAD "heartbeat_timeout = 300ms\n[failover]\n"
			   "profile = fast\n",
		      &rv);
	assert_int_equal(rv, CONFIG_E_CONFLICT);
	assert_string_equal(message_of(c->errmsg),
			    "[cluster] heartbeat_timeout (300ms) must be less "
			    "than election_timeout (300ms, profile fast)");
	free(c);
	c = load_text(HEAD "[failover]\nprofile = fast\ndrift_margin = 0.5s\n",
		      &rv);
	assert_int_equal(rv, CONFIG_E_CONFLICT);
	assert_string_equal(message_of(c->errmsg),
			    "[failover] drift_margin (500ms) must be less "
			    "than lease (500ms, profile fast)");
	free(c);
	/* raising the lease with the heartbeat makes it valid again */
	c = load_ok(HEAD "[failover]\nheartbeat = 500ms\nprofile = fast\n"
			 "lease = 1s\n");
	assert_timing(c, 500, 1000, 150, 50, 300, 50);
	free(c);
}

/* What --check prints and the agent logs at start. */
static void test_describe(void **state)
{
	struct config *c;
	char buf[256];

	(void)state;
	c = load_ok(HEAD "[failover]\nprofile = fast\nlease = 600ms\n");
	config_timing_describe(c, buf, sizeof buf);
	assert_string_equal(buf, "profile fast: heartbeat 100ms, lease 600ms, "
				 "grace 150ms, drift_margin 50ms, "
				 "election_timeout 300ms, heartbeat_timeout "
				 "50ms");
	free(c);
	c = new_config();
	config_timing_describe(c, buf, sizeof buf);
	assert_string_equal(buf, "profile default: heartbeat 250ms, lease "
				 "2000ms, grace 500ms, drift_margin 100ms, "
				 "election_timeout 500ms, heartbeat_timeout "
				 "100ms");
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_relations),
	    cmocka_unit_test(test_default),
	    cmocka_unit_test(test_fast),
	    cmocka_unit_test(test_key_wins),
	    cmocka_unit_test(test_everything),
	    cmocka_unit_test(test_unknown_refused),
	    cmocka_unit_test(test_checks_see_profile),
	    cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
