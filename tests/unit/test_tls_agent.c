/* Tests of the agent a certificate speaks for (tls.h: tls_cert_agent,
 * tls_ctx_check_agent, and a reload that would change it), with
 * certificates made by scripts/poolpair-cert and by the openssl command
 * line for the malformed ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls/tls.h"

#define CERT_TOOL "../../scripts/poolpair-cert"

static char dir[256];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command; its exit status. */
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rv;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	rv = system(cmd);
	return WIFEXITED(rv) ? WEXITSTATUS(rv) : -1;
}

static void must(int rv) { assert_int_equal(rv, 0); }

/* A certificate signed by CA a with the URI SANs given (comma-separated
 * "URI:..." list), written as dir/NAME.crt. */
static void raw_cert(const char *name, const char *sans)
{
	must(sh("cd %s && openssl req -new -nodes -newkey ec -pkeyopt "
		"ec_paramgen_curve:P-256 -subj /OU=agent/CN=%s -keyout %s.key "
		"-out %s.csr 2>/dev/null && printf 'subjectAltName=%s\\n' > "
		"%s.ext && openssl x509 -req -in %s.csr -CA a/ca.crt -CAkey "
		"a/ca.key -CAcreateserial -days 2 -extfile %s.ext -out %s.crt "
		"2>/dev/null",
		dir, name, name, name, sans, name, name, name, name));
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/pp-test-tls-agent-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	if (sh(CERT_TOOL " ca %s/a >/dev/null", dir) != 0 ||
	    sh(CERT_TOOL " issue %s/a east --role agent --agent-id 1 --pool "
			 "pool-east >/dev/null",
	       dir) != 0 ||
	    sh(CERT_TOOL " issue %s/a witness --role agent --agent-id 3 "
			 ">/dev/null",
	       dir) != 0 ||
	    sh(CERT_TOOL " issue %s/a big --role agent --agent-id "
			 "922337203685477580 --pool p.1_x >/dev/null",
	       dir) != 0 ||
	    sh(CERT_TOOL " issue %s/a east2 --role agent --agent-id 2 --pool "
			 "pool-east >/dev/null",
	       dir) != 0 ||
	    sh(CERT_TOOL " issue %s/a eastw --role agent --agent-id 1 --pool "
			 "pool-west >/dev/null",
	       dir) != 0 ||
	    sh(CERT_TOOL " issue %s/a east1b --role agent --agent-id 1 --pool "
			 "pool-east >/dev/null",
	       dir) != 0 ||
	    sh(CERT_TOOL " issue %s/a ops --role operator >/dev/null", dir) !=
		0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sh("rm -rf %s", dir);
	return 0;
}

static X509 *load(const char *name)
{
	char p[512];
	FILE *f;
	X509 *x;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static uint64_t agent_of(const char *name, char *pool, size_t len)
{
	X509 *x = load(name);
	uint64_t id = tls_cert_agent(x, pool, len);

	X509_free(x);
	return id;
}

static void test_issued(void **state)
{
	char pool[TLS_POOL_LEN];

	(void)state;
	assert_int_equal(agent_of("a/east.crt", pool, sizeof pool), 1);
	assert_string_equal(pool, "pool-east");
	assert_int_equal(agent_of("a/witness.crt", pool, sizeof pool), 3);
	assert_string_equal(pool, "");
	assert_int_equal(agent_of("a/big.crt", pool, sizeof pool),
			 922337203685477580ULL);
	assert_string_equal(pool, "p.1_x");
	/* an operator's names no agent */
	strcpy(pool, "junk");
	assert_int_equal(agent_of("a/ops.crt", pool, sizeof pool), 0);
	assert_string_equal(pool, "");
	/* a pool that does not fit the caller's buffer: speaks for none */
	assert_int_equal(agent_of("a/east.crt", pool, 5), 0);
}

/* The script refuses what would make an agent certificate name nobody or
 * somebody malformed. */
static void test_issue_refused(void **state)
{
	(void)state;
	assert_int_not_equal(
	    sh(CERT_TOOL " issue %s/a x --role agent 2>/dev/null", dir), 0);
	assert_int_not_equal(
	    sh(CERT_TOOL " issue %s/a x --role agent --agent-id 0 2>/dev/null",
	       dir),
	    0);
	assert_int_not_equal(
	    sh(CERT_TOOL " issue %s/a x --role agent --agent-id 1x 2>/dev/null",
	       dir),
	    0);
	assert_int_not_equal(sh(CERT_TOOL " issue %s/a x --role agent "
					  "--agent-id 1 --pool -x 2>/dev/null",
				dir),
			     0);
	assert_int_not_equal(sh(CERT_TOOL " issue %s/a x --role operator "
					  "--agent-id 1 2>/dev/null",
				dir),
			     0);
	{
		char p[512];

		snprintf(p, sizeof p, "%s/a/x.crt", dir);
		assert_int_not_equal(access(p, F_OK), 0);
	}
}

static void test_malformed(void **state)
{
	static const struct {
		const char *name;
		const char *sans;
	} bad[] = {
	    {"two", "URI:urn:poolpair:agent:1,URI:urn:poolpair:agent:2"},
	    {"zero", "URI:urn:poolpair:agent:0"},
	    {"lead0", "URI:urn:poolpair:agent:01"},
	    {"sign", "URI:urn:poolpair:agent:+1"},
	    {"huge", "URI:urn:poolpair:agent:9223372036854775808"},
	    {"empty", "URI:urn:poolpair:agent:"},
	    {"twopools", "URI:urn:poolpair:agent:1,URI:urn:poolpair:pool:a,"
			 "URI:urn:poolpair:pool:b"},
	    {"dash", "URI:urn:poolpair:agent:1,URI:urn:poolpair:pool:-x"},
	    {"space", "URI:urn:poolpair:agent:1,URI:urn:poolpair:pool:a%%20b"},
	    {"poolonly", "URI:urn:poolpair:pool:pool-east"},
	};
	char pool[TLS_POOL_LEN], file[64];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		raw_cert(bad[i].name, bad[i].sans);
		snprintf(file, sizeof file, "%s.crt", bad[i].name);
		strcpy(pool, "junk");
		if (agent_of(file, pool, sizeof pool) != 0)
			fail_msg("%s (%s) names an agent", bad[i].name,
				 bad[i].sans);
		assert_string_equal(pool, "");
	}
	/* the largest id a JSON integer holds is fine */
	raw_cert("max", "URI:urn:poolpair:agent:9223372036854775807");
	assert_int_equal(agent_of("max.crt", pool, sizeof pool), INT64_MAX);
}

static struct tls_ctx *ctx_of(const char *name)
{
	struct tls_ctx *c = malloc(sizeof *c);
	char ca[512], crt[512], key[512];

	assert_non_null(c);
	snprintf(ca, sizeof ca, "%s/a/ca.crt", dir);
	snprintf(crt, sizeof crt, "%s/%s.crt", dir, name);
	snprintf(key, sizeof key, "%s/%s.key", dir, name);
	if (tls_ctx_init(c, ca, crt, key) != 0)
		fail_msg("ctx %s: %s", name, c->errmsg);
	return c;
}

static void test_check_agent(void **state)
{
	struct tls_ctx *c = ctx_of("a/east");
	struct tls_ctx *w = ctx_of("a/witness");
	char msg[TLS_ERRMSG_LEN + TLS_PATH_LEN];

	(void)state;
	assert_int_equal(c->agent, 1);
	assert_string_equal(c->pool, "pool-east");
	assert_int_equal(
	    tls_ctx_check_agent(c, 1, "pool-east", msg, sizeof msg), 0);
	assert_int_equal(
	    tls_ctx_check_agent(c, 2, "pool-east", msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "names agent 1 (pool \"pool-east\"), this "
				    "agent is 2 (pool \"pool-east\")"));
	assert_non_null(strstr(msg, "--agent-id 2 --pool pool-east"));
	assert_int_equal(
	    tls_ctx_check_agent(c, 1, "pool-west", msg, sizeof msg), -1);
	assert_int_equal(tls_ctx_check_agent(c, 1, "", msg, sizeof msg), -1);
	assert_int_equal(tls_ctx_check_agent(w, 3, "", msg, sizeof msg), 0);
	assert_int_equal(
	    tls_ctx_check_agent(w, 3, "pool-east", msg, sizeof msg), -1);
	tls_ctx_close(c);
	tls_ctx_close(w);
	free(c);
	free(w);

	/* a certificate naming no agent (made without the script) */
	raw_cert("noagent", "URI:urn:poolpair:role:agent");
	c = ctx_of("noagent");
	assert_int_equal(c->agent, 0);
	assert_int_equal(
	    tls_ctx_check_agent(c, 1, "pool-east", msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "names no agent: reissue it with "
				    "poolpair-cert issue DIR noagent --role "
				    "agent --agent-id 1 --pool pool-east"));
	tls_ctx_close(c);
	free(c);
}

/* A reload renews the certificate; it cannot make the process another
 * agent (its id and pool come from its configuration, checked at start). */
static void test_reload_keeps_agent(void **state)
{
	struct tls_ctx *c;
	char ca[512], crt[512], key[512];

	(void)state;
	must(sh("mkdir -p %s/me && cp %s/a/east.crt %s/me/me.crt && cp "
		"%s/a/east.key %s/me/me.key",
		dir, dir, dir, dir, dir));
	c = malloc(sizeof *c);
	assert_non_null(c);
	snprintf(ca, sizeof ca, "%s/a/ca.crt", dir);
	snprintf(crt, sizeof crt, "%s/me/me.crt", dir);
	snprintf(key, sizeof key, "%s/me/me.key", dir);
	assert_int_equal(tls_ctx_init(c, ca, crt, key), 0);

	/* another agent of the same pool: refused, the old one kept */
	must(sh("cp %s/a/east2.crt %s/me/me.crt && cp %s/a/east2.key "
		"%s/me/me.key",
		dir, dir, dir, dir));
	assert_int_equal(tls_ctx_reload(c), TLS_E_CONFIG);
	assert_non_null(strstr(c->errmsg, "names agent 2 (pool \"pool-east\"), "
					  "the running one agent 1"));
	assert_int_equal(c->generation, 1);
	assert_int_equal(c->agent, 1);
	assert_string_equal(c->identity, "east");

	/* the same agent in another pool: refused too */
	must(sh("cp %s/a/eastw.crt %s/me/me.crt && cp %s/a/eastw.key "
		"%s/me/me.key",
		dir, dir, dir, dir));
	assert_int_equal(tls_ctx_reload(c), TLS_E_CONFIG);
	assert_non_null(strstr(c->errmsg, "(pool \"pool-west\"), the running "
					  "one agent 1 (pool \"pool-east\")"));
	assert_int_equal(c->generation, 1);

	/* a renewal for the same agent and pool: in use */
	must(sh("cp %s/a/east1b.crt %s/me/me.crt && cp %s/a/east1b.key "
		"%s/me/me.key",
		dir, dir, dir, dir));
	assert_int_equal(tls_ctx_reload(c), 0);
	assert_int_equal(c->generation, 2);
	assert_string_equal(c->identity, "east1b");
	assert_int_equal(c->agent, 1);
	tls_ctx_close(c);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issued),
	    cmocka_unit_test(test_issue_refused),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_check_agent),
	    cmocka_unit_test(test_reload_keeps_agent),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
