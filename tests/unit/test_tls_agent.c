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

#include "pki_fixture.h"
#include "tls/tls.h"

/* A certificate signed by CA a with the URI SANs given (comma-separated
 * "URI:..." list), written as pki_dir/NAME.crt. */
static void raw_cert(const char *name, const char *sans)
{
	sh("cd %s && openssl req -new -nodes -newkey ec -pkeyopt "
		"ec_paramgen_curve:P-256 -subj /OU=agent/CN=%s -keyout %s.key "
		"-out %s.csr 2>/dev/null && printf 'subjectAltName=%s\\n' > "
		"%s.ext && openssl x509 -req -in %s.csr -CA a/ca.crt -CAkey "
		"a/ca.key -CAcreateserial -days 2 -extfile %s.ext -out %s.crt "
		"2>/dev/null",
		pki_dir, name, name, name, sans, name, name, name, name);
}

static int group_setup(void **state)
{
	(void)state;
	if (pki_open("tls-agent") != 0)
		return -1;
	pki_ca("a", "");
	pki_issue("a", "east", "--role agent --agent-id 1 --pool pool-east");
	pki_issue("a", "witness", "--role agent --agent-id 3");
	pki_issue("a", "big",
		  "--role agent --agent-id 922337203685477580 --pool p.1_x");
	pki_issue("a", "east2", "--role agent --agent-id 2 --pool pool-east");
	pki_issue("a", "eastw", "--role agent --agent-id 1 --pool pool-west");
	pki_issue("a", "east1b", "--role agent --agent-id 1 --pool pool-east");
	pki_issue("a", "ops", "--role operator");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	pki_close();
	return 0;
}

static X509 *load(const char *name)
{
	FILE *f = fopen(path("%s", name), "r");
	X509 *x;


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
	    sh_status(CERT_TOOL " issue %s/a x --role agent 2>/dev/null", pki_dir), 0);
	assert_int_not_equal(
	    sh_status(CERT_TOOL " issue %s/a x --role agent --agent-id 0 2>/dev/null",
	       pki_dir),
	    0);
	assert_int_not_equal(
	    sh_status(CERT_TOOL " issue %s/a x --role agent --agent-id 1x 2>/dev/null",
	       pki_dir),
	    0);
	assert_int_not_equal(sh_status(CERT_TOOL " issue %s/a x --role agent "
					  "--agent-id 1 --pool -x 2>/dev/null",
				pki_dir),
			     0);
	assert_int_not_equal(sh_status(CERT_TOOL " issue %s/a x --role operator "
					  "--agent-id 1 2>/dev/null",
				pki_dir),
			     0);
	assert_int_not_equal(access(path("a/x.crt"), F_OK), 0);
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

	assert_non_null(c);
	if (tls_ctx_init(c, path("a/ca.crt"), path("%s.crt", name),
			 path("%s.key", name)) != 0)
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

/* Copy CA a's certificate NAME and its key to me/me.{crt,key}, the files
 * of the reload test's context. */
static void use_cert(const char *name)
{
	sh("mkdir -p %s/me && cp %s/a/%s.crt %s/me/me.crt && cp %s/a/%s.key "
	   "%s/me/me.key",
	   pki_dir, pki_dir, name, pki_dir, pki_dir, name, pki_dir);
}

/* A reload renews the certificate; it cannot make the process another
 * agent (its id and pool come from its configuration, checked at start). */
static void test_reload_keeps_agent(void **state)
{
	struct tls_ctx *c;

	(void)state;
	use_cert("east");
	c = malloc(sizeof *c);
	assert_non_null(c);
	assert_int_equal(tls_ctx_init(c, path("a/ca.crt"), path("me/me.crt"),
				      path("me/me.key")),
			 0);

	/* another agent of the same pool: refused, the old one kept */
	use_cert("east2");
	assert_int_equal(tls_ctx_reload(c), TLS_E_CONFIG);
	assert_non_null(strstr(c->errmsg, "names agent 2 (pool \"pool-east\"), "
					  "the running one agent 1"));
	assert_int_equal(c->generation, 1);
	assert_int_equal(c->agent, 1);
	assert_string_equal(c->identity, "east");

	/* the same agent in another pool: refused too */
	use_cert("eastw");
	assert_int_equal(tls_ctx_reload(c), TLS_E_CONFIG);
	assert_non_null(strstr(c->errmsg, "(pool \"pool-west\"), the running "
					  "one agent 1 (pool \"pool-east\")"));
	assert_int_equal(c->generation, 1);

	/* a renewal for the same agent and pool: in use */
	use_cert("east1b");
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
