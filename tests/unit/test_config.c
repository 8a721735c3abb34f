/* Tests of agent/config.c (golden files under config/) and agent/log.c.
 * Run with tests/unit as the working directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/log.h"

#define BAD_DIR "config/bad"

/* ---- helpers ------------------------------------------------------ */

static struct config *new_config(void)
{
	struct config *c = malloc(sizeof *c);

	assert_non_null(c);
	config_defaults(c);
	return c;
}

static struct config *load_good(const char *path)
{
	struct config *c = new_config();
	int rv = config_load(c, path);

	if (rv != 0)
		print_error("%s: %s\n", path, c->errmsg);
	assert_int_equal(rv, 0);
	assert_string_equal(c->errmsg, "");
	assert_string_equal(c->path, path);
	return c;
}

/* Whole file into a NUL-terminated string with trailing newlines cut; NULL
 * when it cannot be opened. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 4096);
	assert_non_null(buf);
	n = fread(buf, 1, 4095, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return buf;
}

/* Write text to a fresh temporary file; returns its malloc()ed path. */
static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/poolpair-test-config-XXXXXX");
	int fd;
	size_t len = strlen(text);

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* A valid witness config whose [agent] data_dir is the given value. */
static char *witness_with_data_dir(const char *data_dir)
{
	static const char head[] = "[agent]\nname = w\nid = 3\nsite = third\n"
				   "data_dir = ";
	static const char tail[] = "\n[listen]\nraft = 127.0.0.1:7001\n"
				   "api = 127.0.0.1:7080\n[cluster]\n"
				   "join = http://127.0.0.1:7180/\n";
	char *text = malloc(sizeof head + strlen(data_dir) + sizeof tail);
	char *path;

	assert_non_null(text);
	strcpy(text, head);
	strcat(text, data_dir);
	strcat(text, tail);
	path = write_temp(text);
	free(text);
	return path;
}

/* ---- good files --------------------------------------------------- */

static void test_defaults(void **state)
{
	struct config *c = new_config();

	(void)state;
	assert_int_equal(c->election_timeout_ms, 500);
	assert_int_equal(c->heartbeat_timeout_ms, 100);
	assert_int_equal(c->snapshot_threshold, 4096);
	assert_int_equal(c->snapshot_trailing, 8192);
	assert_int_equal(c->max_voters, 5);
	assert_int_equal(c->heartbeat_ms, 250);
	assert_int_equal(c->lease_ms, 2000);
	assert_int_equal(c->grace_ms, 500);
	assert_int_equal(c->drift_margin_ms, 100);
	assert_int_equal(c->failover_keys, 0); /* the cluster's defaults */
	assert_int_equal(c->hook_timeout_ms, 10000);
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	assert_int_equal(c->n_bootstrap, 0);
	assert_string_equal(c->pool, "");
	assert_string_equal(c->join, "");
	free(c);
}

static void test_good_pool_bootstrap(void **state)
{
	struct config *c = load_good("config/good/pool-bootstrap.ini");

	(void)state;
	assert_string_equal(c->agent_name, "east-1");
	assert_int_equal(c->agent_id, 1);
	assert_string_equal(c->site, "east");
	assert_string_equal(c->pool, "pool-east");
	assert_string_equal(c->data_dir, "/var/lib/poolpair");
	assert_string_equal(c->listen_raft.address, "10.0.1.10:7001");
	assert_string_equal(c->listen_raft.host, "10.0.1.10");
	assert_int_equal(c->listen_raft.port, 7001);
	assert_string_equal(c->listen_data.address, "10.0.1.10:7002");
	assert_int_equal(c->listen_data.port, 7002);
	assert_string_equal(c->listen_api.host, "10.0.1.10");
	assert_int_equal(c->listen_api.port, 7080);

	assert_int_equal(c->n_bootstrap, 3);
	assert_int_equal(c->bootstrap[0].id, 1);
	assert_string_equal(c->bootstrap[0].address, "10.0.1.10:7001");
	assert_int_equal(c->bootstrap[1].id, 2);
	assert_string_equal(c->bootstrap[1].address, "10.0.2.10:7001");
	assert_string_equal(c->bootstrap[1].host, "10.0.2.10");
	assert_int_equal(c->bootstrap[1].port, 7001);
	assert_int_equal(c->bootstrap[2].id, 3);
	assert_string_equal(c->bootstrap[2].host, "witness.example.net");
	assert_string_equal(c->join, "");
	assert_int_equal(c->n_peers, 2);
	assert_string_equal(c->peers[0], "http://10.0.2.10:7080");
	assert_string_equal(c->peers[1], "http://witness.example.net:7080/");

	assert_int_equal(c->policy, CONFIG_POLICY_AUTO);
	assert_int_equal(c->failover_keys, CONFIG_HAS_POLICY);
	/* Untouched keys keep their defaults. */
	assert_int_equal(c->lease_ms, 2000);
	assert_int_equal(c->max_voters, 5);
	assert_string_equal(c->tls_ca, "");
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	/* a write waits for one local standby unless the file says no */
	assert_int_equal(c->local_sync, 1);
	assert_int_equal(c->local_sync_timeout_ms, 1000);
	free(c);
}

static void test_good_witness(void **state)
{
	struct config *c = load_good("config/good/witness.ini");

	(void)state;
	assert_string_equal(c->agent_name, "witness");
	assert_int_equal(c->agent_id, 3);
	assert_string_equal(c->site, "third");
	assert_string_equal(c->pool, "");
	assert_string_equal(c->listen_data.address, "");
	assert_int_equal(c->listen_data.port, 0);
	assert_string_equal(c->listen_raft.host, "witness.example.net");
	assert_string_equal(c->listen_api.host, "localhost");
	assert_int_equal(c->listen_api.port, 7080);
	assert_int_equal(c->n_bootstrap, 3);
	assert_int_equal(c->max_voters, 3);
	assert_int_equal(c->failover_keys, 0);
	free(c);
}

static void test_good_joiner(void **state)
{
	struct config *c = load_good("config/good/joiner.ini");

	(void)state;
	assert_int_equal(c->agent_id, 12);
	assert_string_equal(c->pool, "pool-west");
	assert_string_equal(c->data_dir, "data/west-2");
	assert_string_equal(c->listen_raft.address, "[::1]:7101");
	assert_string_equal(c->listen_raft.host, "::1");
	assert_int_equal(c->listen_raft.port, 7101);
	assert_string_equal(c->listen_data.host, "::1");
	assert_int_equal(c->listen_data.port, 7102);
	assert_int_equal(c->listen_api.port, 7180);
	assert_int_equal(c->n_bootstrap, 0);
	assert_string_equal(c->join, "http://10.0.1.10:7080");
	assert_int_equal(c->n_peers, 0);
	free(c);
}

static void test_good_everything(void **state)
{
	struct config *c = load_good("config/good/everything.ini");

	(void)state;
	assert_string_equal(c->agent_name, "east_1.a");
	assert_int_equal(c->agent_id, INT64_MAX);
	assert_string_equal(c->site, "east");
	assert_string_equal(c->pool, "pool-east");
	assert_string_equal(c->data_dir, "/srv/poolpair/east with space");
	assert_int_equal(c->listen_raft.port, 1);
	assert_string_equal(c->listen_data.address, "127.0.0.1:65535");
	assert_int_equal(c->listen_data.port, 65535);
	assert_string_equal(c->listen_api.host, "LOCALHOST");
	assert_int_equal(c->listen_api.port, 8080);

	assert_int_equal(c->n_bootstrap, 1);
	assert_int_equal(c->bootstrap[0].id, INT64_MAX);
	assert_int_equal(c->election_timeout_ms, 1500);
	assert_int_equal(c->heartbeat_timeout_ms, 150);
	assert_int_equal(c->snapshot_threshold, 1);
	assert_int_equal(c->snapshot_trailing, UINT32_MAX);
	assert_int_equal(c->max_voters, 1);

	assert_int_equal(c->heartbeat_ms, 100);
	assert_int_equal(c->lease_ms, 30000);
	assert_int_equal(c->grace_ms, 0);
	assert_int_equal(c->drift_margin_ms, 2000);
	assert_int_equal(c->policy, CONFIG_POLICY_MANUAL);
	assert_int_equal(c->max_lag_ms, 3600000);
	assert_int_equal(c->cooldown_ms, 178920000);
	assert_int_equal(c->failover_keys, CONFIG_HAS_POLICY |
					       CONFIG_HAS_MAX_LAG |
					       CONFIG_HAS_COOLDOWN);
	assert_string_equal(
	    c->pre_failover,
	    "/usr/lib/poolpair/check --pool \"$POOLPAIR_POOL\"");
	assert_string_equal(c->fence_command,
			    "/usr/local/bin/fence.sh vm-east");
	assert_string_equal(c->on_owner_change,
			    "nsupdate -k /etc/dns.key /etc/poolpair/dns.txt");
	assert_int_equal(c->hook_timeout_ms, 250);

	assert_string_equal(c->tls_ca, "/etc/poolpair/ca.pem");
	assert_string_equal(c->tls_cert, "/etc/poolpair/east.pem");
	assert_string_equal(c->tls_key, "/etc/poolpair/east.key");
	assert_string_equal(c->tls_crl, "/etc/poolpair/ca.crl");
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c->local_sync, 0);
	assert_int_equal(c->local_sync_timeout_ms, 2500);
	free(c);
}

/* [store] reserve and [content] upload_timeout: their defaults, and the
 * values of a file. */
static void test_good_store_content(void **state)
{
	struct config *c = load_good("config/good/pool-bootstrap.ini");

	(void)state;
	assert_int_equal(c->store_reserve, 0);
	assert_int_equal(c->store_reserve_percent, 1);
	assert_int_equal(c->upload_timeout_ms, 600000);
	free(c);
	c = load_good("config/good/store-content.ini");
	assert_int_equal(c->store_reserve, (uint64_t)512 << 20);
	assert_int_equal(c->store_reserve_percent, 0);
	assert_int_equal(c->upload_timeout_ms, 30000);
	free(c);
}

/* ---- config_parse_size -------------------------------------------- */

static void test_parse_size(void **state)
{
	static const struct {
		const char *s;
		int rv;
		uint64_t bytes;
		unsigned percent;
	} cases[] = {
	    {"0", 0, 0, 0},
	    {"4096", 0, 4096, 0},
	    {"1K", 0, 1024, 0},
	    {"2KiB", 0, 2048, 0},
	    {"256MiB", 0, (uint64_t)256 << 20, 0},
	    {"3G", 0, (uint64_t)3 << 30, 0},
	    {"1TiB", 0, (uint64_t)1 << 40, 0},
	    {"1%", 0, 0, 1},
	    {"50%", 0, 0, 50},
	    {"0%", CONFIG_E_RANGE, 0, 0},
	    {"51%", CONFIG_E_RANGE, 0, 0},
	    {"1.5G", CONFIG_E_INVALID, 0, 0},
	    {"1 G", CONFIG_E_INVALID, 0, 0},
	    {"1GB", CONFIG_E_INVALID, 0, 0},
	    {"G", CONFIG_E_INVALID, 0, 0},
	    {"-5", CONFIG_E_NEGATIVE, 0, 0},
	    {"", CONFIG_E_EMPTY, 0, 0},
	    {"18446744073709551616", CONFIG_E_OVERFLOW, 0, 0},
	    {"16777216TiB", CONFIG_E_OVERFLOW, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t bytes = 77;
		unsigned percent = 77;
		int rv = config_parse_size(cases[i].s, &bytes, &percent);

		if (rv != cases[i].rv)
			fail_msg("%s: %d, expected %d", cases[i].s, rv,
				 cases[i].rv);
		if (rv != 0) {
			/* untouched on error */
			assert_int_equal(bytes, 77);
			assert_int_equal(percent, 77);
			continue;
		}
		assert_int_equal(bytes, cases[i].bytes);
		assert_int_equal(percent, cases[i].percent);
	}
	/* no percentage where none is asked for */
	{
		uint64_t bytes = 0;

		assert_int_equal(config_parse_size("5%", &bytes, NULL),
				 CONFIG_E_INVALID);
	}
}

/* ---- every key is in effect -------------------------------------- */

static bool ident_char(char ch)
{
	return ch == '_' || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Whether text reads the config member field: `cfg.field`, `cfg->field`
 * or `c->field` (the names the agent gives a struct config), field
 * being the whole member name. */
static bool reads_member(const char *text, const char *field)
{
	size_t n = strlen(field);
	const char *p;

	for (p = strstr(text, field); p != NULL; p = strstr(p + 1, field)) {
		const char *end, *start;

		if (ident_char(p[n]))
			continue;
		if (p - text >= 1 && p[-1] == '.')
			end = p - 1;
		else if (p - text >= 2 && p[-2] == '-' && p[-1] == '>')
			end = p - 2;
		else
			continue;
		for (start = end; start > text && ident_char(start[-1]);
		     start--)
			;
		if ((end - start == 3 && memcmp(start, "cfg", 3) == 0) ||
		    (end - start == 1 && *start == 'c'))
			return true;
	}
	return false;
}

/* Whether name is a word of text between ".SH [section]" and the next
 * ".SH" (the man page's section of the key). */
static bool documented(const char *man, const char *section, const char *name)
{
	char head[64];
	const char *from, *to, *p;
	size_t n = strlen(name);

	snprintf(head, sizeof head, "\n.SH [%s]\n", section);
	from = strstr(man, head);
	if (from == NULL)
		return false;
	to = strstr(from + 1, "\n.SH ");
	for (p = strstr(from, name); p != NULL && (to == NULL || p < to);
	     p = strstr(p + 1, name)) {
		char before = p[-1], after = p[n];

		if (before != '_' && after != '_' &&
		    !(before >= 'a' && before <= 'z') &&
		    !(after >= 'a' && after <= 'z'))
			return true;
	}
	return false;
}

/* Whole file (tests/unit is the working directory, the tree is ../..). */
static char *slurp_tree(const char *rel)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof path, "../../%s", rel);
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* A valid witness config with "[section]\nname = value" added: is it
 * refused? */
static bool refused_in_file(const char *section, const char *name)
{
	static const char head[] = "[agent]\nname = w\nid = 3\nsite = third\n"
				   "data_dir = /tmp/x\n[listen]\n"
				   "raft = 127.0.0.1:7001\napi = 127.0.0.1:7080\n"
				   "[cluster]\njoin = http://127.0.0.1:7180/\n";
	char text[512];
	struct config *c = new_config();
	char *path;
	int rv;

	snprintf(text, sizeof text, "%s[%s]\n%s = 1\n", head, section, name);
	path = write_temp(text);
	rv = config_load(c, path);
	unlink(path);
	free(path);
	free(c);
	return rv != 0;
}

/* A key is in effect or refused. Every key of the table is either refused
 * when a file holds it (a key that moved out of the file), or: the file
 * named as acting on it exists, is not the config module itself and reads
 * the key's struct config member. Either way poolpaird.conf(5) names the
 * key in its section. A key added without a consumer, or whose consumer
 * stopped reading it, fails here; so does an unknown key that is not
 * refused. */
static void test_every_key_in_effect(void **state)
{
	char *man = slurp_tree("docs/poolpaird.conf.5");
	struct config_key_info k;
	unsigned i, n = config_key_count();

	(void)state;
	assert_non_null(man);
	assert_true(n >= 30);
	assert_true(refused_in_file("failover", "no_such_key"));
	for (i = 0; i < n; i++) {
		char *src;

		assert_int_equal(config_key_get(i, &k), 0);
		assert_non_null(k.section);
		assert_non_null(k.name);
		if (!documented(man, k.section, k.name))
			fail_msg("[%s] %s: not in poolpaird.conf(5) under [%s]",
				 k.section, k.name, k.section);
		if (k.refused) {
			if (!refused_in_file(k.section, k.name))
				fail_msg("[%s] %s: said refused but accepted",
					 k.section, k.name);
			continue;
		}
		assert_non_null(k.field);
		if (k.used_by == NULL)
			fail_msg("[%s] %s: no consumer named", k.section,
				 k.name);
		if (strncmp(k.used_by, "agent/config", 12) == 0)
			fail_msg("[%s] %s: the config module is no consumer",
				 k.section, k.name);
		src = slurp_tree(k.used_by);
		if (src == NULL)
			fail_msg("[%s] %s: %s not found", k.section, k.name,
				 k.used_by);
		if (!reads_member(src, k.field))
			fail_msg("[%s] %s: %s does not read ->%s", k.section,
				 k.name, k.used_by, k.field);
		free(src);
	}
	assert_int_equal(config_key_get(n, &k), -1);
	/* the check itself tells a member from a longer one or a mention */
	assert_true(reads_member("x = a->cfg.lease_ms;", "lease_ms"));
	assert_true(reads_member("c->pool[0]", "pool"));
	assert_true(reads_member("(cfg->policy)", "policy"));
	assert_false(reads_member("a->cfg.pool_name", "pool"));
	assert_false(reads_member("/* lease_ms */", "lease_ms"));
	assert_false(reads_member("a->fsm.policy.failover", "policy"));
	assert_false(reads_member("abc->policy", "policy"));
	free(man);
}

/* ---- bad files ---------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Every config/bad/NAME.ini fails with exactly the line in NAME.err, and
 * leaves the configuration it was loaded into as it was. */
static void test_bad_golden(void **state)
{
	struct config *good = load_good("config/good/pool-bootstrap.ini");
	struct config *c = new_config();
	DIR *dir = opendir(BAD_DIR);
	struct dirent *e;
	unsigned n_ini = 0, n_err = 0, failures = 0;

	(void)state;
	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL) {
		char ini[512], err[512];
		char *expected;
		size_t stem;
		int rv;

		if (ends_with(e->d_name, ".err")) {
			n_err++;
			continue;
		}
		if (!ends_with(e->d_name, ".ini"))
			continue;
		n_ini++;
		stem = strlen(e->d_name) - 4;
		snprintf(ini, sizeof ini, "%s/%s", BAD_DIR, e->d_name);
		snprintf(err, sizeof err, "%s/%.*s.err", BAD_DIR, (int)stem,
			 e->d_name);
		expected = slurp(err);
		if (expected == NULL) {
			print_error("%s: no golden file %s\n", ini, err);
			failures++;
			continue;
		}

		memcpy(c, good, sizeof *c);
		rv = config_load(c, ini);
		if (rv >= 0) {
			print_error("%s: loaded without error\n", ini);
			failures++;
		} else if (strcmp(c->errmsg, expected) != 0) {
			print_error("%s:\n  expected: %s\n  actual:   %s\n",
				    ini, expected, c->errmsg);
			failures++;
		}
		/* Nothing but errmsg changed. */
		memcpy(c->errmsg, good->errmsg, sizeof c->errmsg);
		if (memcmp(c, good, sizeof *c) != 0) {
			print_error("%s: failed load changed the config\n",
				    ini);
			failures++;
		}
		free(expected);
	}
	closedir(dir);
	assert_int_equal(failures, 0);
	assert_true(n_ini >= 26);
	assert_int_equal(n_ini, n_err); /* no orphan .err either */
	free(c);
	free(good);
}

static void test_missing_file(void **state)
{
	struct config *c = new_config();

	(void)state;
	assert_int_equal(config_load(c, "config/none/such.ini"), CONFIG_E_IO);
	assert_string_equal(c->errmsg, "config/none/such.ini: cannot open: "
				       "No such file or directory");
	assert_int_equal(config_load(c, ""), CONFIG_E_IO);
	assert_string_equal(c->errmsg, "config: empty path");
	free(c);
}

static void test_directory_is_not_a_config(void **state)
{
	struct config *c = new_config();

	(void)state;
	assert_int_equal(config_load(c, "config"), CONFIG_E_IO);
	assert_string_equal(c->errmsg, "config: cannot read: Is a directory");
	free(c);
}

/* The longest line inih can hold is accepted whole; one more character is
 * an error, never a cut value. */
static void test_line_limit(void **state)
{
	static const char key[] = "data_dir = ";
	char value[CONFIG_LINE_MAX + 2];
	struct config *c = new_config();
	size_t n = CONFIG_LINE_MAX - (sizeof key - 1);
	char *path, expected[128];

	(void)state;
	memset(value, 'd', n);
	value[0] = '/';
	value[n] = '\0';
	path = witness_with_data_dir(value);
	assert_int_equal(config_load(c, path), 0);
	assert_string_equal(c->data_dir, value);
	assert_string_equal(c->join, "http://127.0.0.1:7180/");
	unlink(path);
	free(path);

	value[n] = 'd';
	value[n + 1] = '\0';
	path = witness_with_data_dir(value);
	assert_int_equal(config_load(c, path), CONFIG_E_SYNTAX);
	snprintf(expected, sizeof expected,
		 "%s:5: line too long (max %d characters)", path,
		 CONFIG_LINE_MAX);
	assert_string_equal(c->errmsg, expected);
	assert_int_equal(strlen(c->data_dir), n); /* unchanged */
	unlink(path);
	free(path);
	free(c);
}

/* Every error code has its own description. */
static void test_strerror(void **state)
{
	int code;

	(void)state;
	for (code = CONFIG_E_IO; code >= CONFIG_E_MOVED; code--)
		assert_string_not_equal(config_strerror(code), "unknown error");
	assert_string_equal(config_strerror(CONFIG_E_NO_PORT), "missing port");
	assert_string_equal(config_strerror(CONFIG_E_MOVED),
			    "key moved out of the file");
	assert_string_equal(config_strerror(CONFIG_E_MOVED - 1),
			    "unknown error");
	assert_string_equal(config_strerror(0), "unknown error");
	assert_string_equal(config_policy_name(CONFIG_POLICY_AUTO), "auto");
	assert_string_equal(config_policy_name(CONFIG_POLICY_MANUAL), "manual");
}

/* ---- config_parse_duration ---------------------------------------- */

/* What counts as loopback for [listen] insecure: a name other than
 * localhost, and the addresses that listen everywhere, do not. */
static void test_host_loopback(void **state)
{
	static const struct {
		const char *host;
		int loopback;
	} cases[] = {
	    {"127.0.0.1", 1},	    {"127.255.3.9", 1},
	    {"localhost", 1},	    {"LocalHost", 1},
	    {"::1", 1},		    {"0:0:0:0:0:0:0:1", 1},
	    {"::ffff:127.0.0.2", 1}, {"0.0.0.0", 0},
	    {"::", 0},		    {"10.0.1.10", 0},
	    {"128.0.0.1", 0},	    {"126.255.255.255", 0},
	    {"fe80::1", 0},	    {"::ffff:10.0.0.1", 0},
	    {"east", 0},	    {"localhost.example.net", 0},
	    {"", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (config_host_loopback(cases[i].host) != cases[i].loopback)
			fail_msg("%s: loopback %d, expected %d", cases[i].host,
				 config_host_loopback(cases[i].host),
				 cases[i].loopback);
}

/* [listen] insecure: in effect (with its reason) where it allows
 * something; [tls] require = false leaves the API to TLS, so only raft
 * and data count for it. */
static void test_insecure(void **state)
{
	static const char head[] =
	    "[agent]\nname = e\nid = 1\nsite = s\npool = p\n"
	    "data_dir = /d\n[cluster]\nbootstrap = 1@127.0.0.1:1\n";
	static const char tls[] = "[tls]\nca = /c\ncert = /e\nkey = /k\n";
	struct config *c = load_good("config/good/pool-bootstrap.ini");
	char text[1024];
	char *path;

	(void)state;
	assert_int_equal(c->insecure, 1);
	assert_non_null(config_insecure(c));
	assert_string_equal(config_insecure(c),
			    "no [tls]: raft, replication and the API are "
			    "neither authenticated nor encrypted");
	free(c);
	c = load_good("config/good/joiner.ini"); /* [::1], no [tls] */
	assert_int_equal(c->insecure, 0);
	assert_null(config_insecure(c));
	free(c);
	c = load_good("config/good/everything.ini"); /* [tls] */
	assert_null(config_insecure(c));
	free(c);

	/* require = false, raft and data on loopback, the API not: fine */
	snprintf(text, sizeof text,
		 "%s[listen]\nraft = 127.0.0.1:1\ndata = 127.0.0.1:2\n"
		 "api = 10.0.0.1:3\n%srequire = false\n",
		 head, tls);
	path = write_temp(text);
	c = load_good(path);
	assert_null(config_insecure(c));
	unlink(path);
	free(path);
	free(c);

	/* require = false off loopback, allowed */
	snprintf(text, sizeof text,
		 "%s[listen]\nraft = 127.0.0.1:1\ndata = 10.0.0.1:2\n"
		 "api = 10.0.0.1:3\ninsecure = true\n%srequire = false\n",
		 head, tls);
	path = write_temp(text);
	c = load_good(path);
	assert_int_equal(c->insecure, 1);
	assert_string_equal(config_insecure(c),
			    "[tls] require = false: raft and replication "
			    "accept plain peers, neither authenticated nor "
			    "encrypted");
	unlink(path);
	free(path);
	free(c);

	/* insecure = false said explicitly: the same as not set */
	snprintf(text, sizeof text,
		 "%s[listen]\nraft = 127.0.0.1:1\ndata = 127.0.0.1:2\n"
		 "api = 0.0.0.0:3\ninsecure = false\n",
		 head);
	path = write_temp(text);
	c = new_config();
	assert_int_equal(config_load(c, path), CONFIG_E_CONFLICT);
	assert_non_null(strstr(c->errmsg, "[listen] api 0.0.0.0:3 is not a "
					  "loopback address"));
	unlink(path);
	free(path);
	free(c);
}

static void test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		int rv;
		uint32_t ms;
	} cases[] = {
	    {"250ms", 0, 250},
	    {"2s", 0, 2000},
	    {"1.5s", 0, 1500},
	    {"1m", 0, 60000},
	    {"0.5m", 0, 30000},
	    {"1h", 0, 3600000},
	    {"0", 0, 0},
	    {"0ms", 0, 0},
	    {"100", 0, 100},
	    {"0.001s", 0, 1},
	    {"1.0ms", 0, 1},
	    {"007s", 0, 7000},
	    {"4294967295", 0, UINT32_MAX},
	    {"4294967.295s", 0, UINT32_MAX},
	    {"4294967296", CONFIG_E_OVERFLOW, 0},
	    {"4294968s", CONFIG_E_OVERFLOW, 0},
	    {"1200h", CONFIG_E_OVERFLOW, 0},
	    {"99999999999999999999999999ms", CONFIG_E_OVERFLOW, 0},
	    {"-1", CONFIG_E_NEGATIVE, 0},
	    {"-2s", CONFIG_E_NEGATIVE, 0},
	    {"-0.5s", CONFIG_E_NEGATIVE, 0},
	    {"", CONFIG_E_EMPTY, 0},
	    {"abc", CONFIG_E_INVALID, 0},
	    {"ms", CONFIG_E_INVALID, 0},
	    {"1.5", CONFIG_E_INVALID, 0},
	    {"1.5ms", CONFIG_E_INVALID, 0},
	    {"1.0005s", CONFIG_E_INVALID, 0},
	    {"1.s", CONFIG_E_INVALID, 0},
	    {".5s", CONFIG_E_INVALID, 0},
	    {"2 s", CONFIG_E_INVALID, 0},
	    {" 2s", CONFIG_E_INVALID, 0},
	    {"2s ", CONFIG_E_INVALID, 0},
	    {"2S", CONFIG_E_INVALID, 0},
	    {"2d", CONFIG_E_INVALID, 0},
	    {"2sec", CONFIG_E_INVALID, 0},
	    {"1e3", CONFIG_E_INVALID, 0},
	    {"+5", CONFIG_E_INVALID, 0},
	    {"-", CONFIG_E_INVALID, 0},
	    {"1.0000000001s", CONFIG_E_INVALID, 0},
	    {"99999999999999999999x", CONFIG_E_INVALID, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint32_t ms = 12345;
		int rv = config_parse_duration(cases[i].s, &ms);

		if (rv != cases[i].rv)
			print_error("duration '%s': rv %d, expected %d\n",
				    cases[i].s, rv, cases[i].rv);
		assert_int_equal(rv, cases[i].rv);
		assert_int_equal(ms, rv == 0 ? cases[i].ms : 12345);
	}
	assert_int_equal(config_parse_duration(NULL, NULL), CONFIG_E_EMPTY);
}

/* ---- config_parse_hostport ---------------------------------------- */

static void test_parse_hostport(void **state)
{
	static const struct {
		const char *s;
		int rv;
		const char *host;
		uint16_t port;
	} cases[] = {
	    {"127.0.0.1:7001", 0, "127.0.0.1", 7001},
	    {"0.0.0.0:1", 0, "0.0.0.0", 1},
	    {"localhost:65535", 0, "localhost", 65535},
	    {"pool-east.dc1.example.com:80", 0, "pool-east.dc1.example.com",
	     80},
	    {"a:1", 0, "a", 1},
	    {"[::1]:7001", 0, "::1", 7001},
	    {"[2001:db8::10]:443", 0, "2001:db8::10", 443},
	    {"[::ffff:10.0.0.1]:9", 0, "::ffff:10.0.0.1", 9},
	    {"", CONFIG_E_EMPTY, NULL, 0},
	    {"127.0.0.1", CONFIG_E_NO_PORT, NULL, 0},
	    {"127.0.0.1:", CONFIG_E_NO_PORT, NULL, 0},
	    {"localhost", CONFIG_E_NO_PORT, NULL, 0},
	    {"[::1]", CONFIG_E_NO_PORT, NULL, 0},
	    {"[::1]:", CONFIG_E_NO_PORT, NULL, 0},
	    {"h:0", CONFIG_E_RANGE, NULL, 0},
	    {"h:65536", CONFIG_E_RANGE, NULL, 0},
	    {"h:70000", CONFIG_E_RANGE, NULL, 0},
	    {"h:99999999999999999999999", CONFIG_E_RANGE, NULL, 0},
	    {"h:http", CONFIG_E_BAD_PORT, NULL, 0},
	    {"h:-1", CONFIG_E_BAD_PORT, NULL, 0},
	    {"h:+1", CONFIG_E_BAD_PORT, NULL, 0},
	    {"h:80x", CONFIG_E_BAD_PORT, NULL, 0},
	    {"h: 80", CONFIG_E_BAD_PORT, NULL, 0},
	    {":80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"::1:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"[::1:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"[]:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"[zz]:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"[127.0.0.1]:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"[::1]x80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"256.0.0.1:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"1.2.3:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"bad_host:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"-a:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"a-:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"a..b:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {".a:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"a.:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"a b:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"user@h:80", CONFIG_E_BAD_HOST, NULL, 0},
	    {"bad_host", CONFIG_E_BAD_HOST, NULL, 0},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:"
	     "1",
	     CONFIG_E_BAD_HOST, NULL, 0}, /* label of 64 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char host[CONFIG_HOST_LEN] = "unchanged";
		uint16_t port = 4242;
		int rv =
		    config_parse_hostport(cases[i].s, host, sizeof host, &port);

		if (rv != cases[i].rv)
			print_error("hostport '%s': rv %d, expected %d\n",
				    cases[i].s, rv, cases[i].rv);
		assert_int_equal(rv, cases[i].rv);
		if (rv == 0) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		} else {
			assert_string_equal(host, "unchanged");
			assert_int_equal(port, 4242);
		}
	}
}

static void test_parse_hostport_small_buffer(void **state)
{
	char host[10] = "unchanged";
	char longhost[CONFIG_HOST_LEN + 16];
	uint16_t port = 0;

	(void)state;
	/* Exactly fits: 9 characters and the NUL. */
	assert_int_equal(
	    config_parse_hostport("localhost:1", host, sizeof host, &port), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(
	    config_parse_hostport("localhost2:1", host, sizeof host, &port),
	    CONFIG_E_TOO_LONG);
	assert_string_equal(host, "localhost");
	assert_int_equal(
	    config_parse_hostport("[2001:db8::1]:1", host, sizeof host, &port),
	    CONFIG_E_TOO_LONG);
	assert_int_equal(config_parse_hostport(NULL, host, sizeof host, &port),
			 CONFIG_E_EMPTY);

	/* A name of valid labels that does not fit CONFIG_HOST_LEN. */
	memset(longhost, 'a', sizeof longhost);
	for (size_t i = 50; i < sizeof longhost - 3; i += 50)
		longhost[i] = '.';
	strcpy(longhost + sizeof longhost - 3, ":1");
	assert_int_equal(
	    config_parse_hostport(longhost, host, sizeof host, &port),
	    CONFIG_E_TOO_LONG);
}

/* ---- log ---------------------------------------------------------- */

static void test_log_level_parse(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("error"), LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("warn"), LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("info"), LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("INFO"), -1);
	assert_int_equal(log_level_parse("warning"), -1);
	assert_int_equal(log_level_parse("info "), -1);
	assert_int_equal(log_level_parse(""), -1);
	assert_int_equal(log_level_parse(NULL), -1);
	assert_string_equal(log_level_name(LOG_LEVEL_WARN), "warn");
	assert_string_equal(log_level_name(7), "?");
}

/* Read what the logger wrote into the pipe (non-blocking). */
static size_t drain(int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size - 1);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		n = 0;
	}
	buf[n] = '\0';
	return (size_t)n;
}

static bool is_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void test_log_output(void **state)
{
	char buf[LOG_LINE_MAX * 2], env[64];
	int fds[2];
	struct stat st;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);

	/* Foreground: "YYYY-MM-DDTHH:MM:SS.mmmZ info  raft: message". */
	log_set_sink(fds[1], 0);
	log_set_level(LOG_LEVEL_INFO);
	errno = ERANGE;
	LOG_INFO("raft", "elected in term %d", 7);
	assert_int_equal(errno, ERANGE); /* preserved */
	assert_int_equal(drain(fds[0], buf, sizeof buf),
			 24 + strlen(" info  raft: elected in term 7\n"));
	assert_true(is_digits(buf, 4) && buf[4] == '-' && buf[7] == '-');
	assert_true(buf[10] == 'T' && buf[13] == ':' && buf[16] == ':');
	assert_true(buf[19] == '.' && is_digits(buf + 20, 3) && buf[23] == 'Z');
	assert_string_equal(buf + 24, " info  raft: elected in term 7\n");

	LOG_ERROR("store", "x");
	drain(fds[0], buf, sizeof buf);
	assert_string_equal(buf + 24, " error store: x\n");
	LOG_WARN(NULL, "no module");
	drain(fds[0], buf, sizeof buf);
	assert_string_equal(buf + 24, " warn  no module\n");

	/* Below the level: nothing, and arguments are not evaluated. */
	{
		int evaluated = 0;
		LOG_DEBUG("raft", "%d", ++evaluated);
		assert_int_equal(evaluated, 0);
		assert_int_equal(drain(fds[0], buf, sizeof buf), 0);
	}

	/* journald: priority prefix, no timestamp. */
	log_set_sink(fds[1], 1);
	log_set_level(LOG_LEVEL_DEBUG);
	LOG_DEBUG("api", "GET %s", "/v1/status");
	drain(fds[0], buf, sizeof buf);
	assert_string_equal(buf, "<7>api: GET /v1/status\n");
	LOG_INFO("api", "a");
	LOG_WARN("api", "b");
	LOG_ERROR("api", "c");
	drain(fds[0], buf, sizeof buf);
	assert_string_equal(buf, "<6>api: a\n<4>api: b\n<3>api: c\n");

	/* One message stays one line. */
	log_msg(LOG_LEVEL_INFO, "api", "two\nlines\r\tand tab");
	drain(fds[0], buf, sizeof buf);
	assert_string_equal(buf, "<6>api: two lines  and tab\n");

	/* A message longer than a line is cut, still one line. */
	{
		char big[LOG_LINE_MAX * 2];
		memset(big, 'x', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		log_msg(LOG_LEVEL_INFO, "api", "%s", big);
		assert_int_equal(drain(fds[0], buf, sizeof buf),
				 LOG_LINE_MAX - 1);
		assert_int_equal(buf[LOG_LINE_MAX - 2], '\n');
		assert_ptr_equal(strchr(buf, '\n'), buf + LOG_LINE_MAX - 2);
	}

	/* Invalid levels change nothing and print nothing. */
	log_set_level(42);
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	log_msg(42, "api", "nope");
	log_msg(-1, "api", "nope");
	assert_int_equal(drain(fds[0], buf, sizeof buf), 0);

	/* Detection: $JOURNAL_STREAM naming this very fd means journald. */
	assert_int_equal(fstat(fds[1], &st), 0);
	snprintf(env, sizeof env, "%ju:%ju", (uintmax_t)st.st_dev,
		 (uintmax_t)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_set_sink(fds[1], -1);
	LOG_INFO("m", "j");
	drain(fds[0], buf, sizeof buf);
	assert_string_equal(buf, "<6>m: j\n");

	/* ... and naming another file means the foreground format. */
	snprintf(env, sizeof env, "%ju:%ju", (uintmax_t)st.st_dev,
		 (uintmax_t)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	log_set_sink(fds[1], -1);
	LOG_INFO("m", "j");
	drain(fds[0], buf, sizeof buf);
	assert_string_equal(buf + 24, " info  m: j\n");
	unsetenv("JOURNAL_STREAM");

	log_set_sink(2, -1);
	log_set_level(LOG_LEVEL_INFO);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_good_pool_bootstrap),
	    cmocka_unit_test(test_good_witness),
	    cmocka_unit_test(test_good_joiner),
	    cmocka_unit_test(test_good_everything),
	    cmocka_unit_test(test_every_key_in_effect),
	    cmocka_unit_test(test_bad_golden),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_directory_is_not_a_config),
	    cmocka_unit_test(test_line_limit),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_host_loopback),
	    cmocka_unit_test(test_insecure),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_parse_hostport),
	    cmocka_unit_test(test_parse_hostport_small_buffer),
	    cmocka_unit_test(test_log_level_parse),
	    cmocka_unit_test(test_log_output),
	    cmocka_unit_test(test_good_store_content),
	    cmocka_unit_test(test_parse_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
