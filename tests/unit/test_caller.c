/* Tests of agent/caller.c: what a request's client certificate speaks for
 * (caller_speaks_for) and who the audit trail records (caller_who), on
 * requests as the HTTP server fills them. caller_check's answers are
 * tested over HTTP in test_writer_api.c (pool-sync). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/caller.h"

/* A request from peer 10.0.0.9:4000, plain or over TLS with a
 * certificate of CN cn naming agent (of pool; NULL: none). */
static void request(struct http_request *req, int tls, const char *cn,
		    uint64_t agent, const char *pool)
{
	memset(req, 0, sizeof *req);
	snprintf(req->peer, sizeof req->peer, "10.0.0.9:4000");
	req->tls = tls;
	if (!tls)
		return;
	snprintf(req->identity, sizeof req->identity, "%s", cn);
	req->peer_agent = agent;
	snprintf(req->peer_pool, sizeof req->peer_pool, "%s",
		 pool != NULL ? pool : "");
}

static void with_who(struct http_request *req, struct http_header *h,
		     const char *value)
{
	h->name = "X-Poolpair-Who";
	h->value = (char *)value;
	req->headers = h;
	req->n_headers = 1;
}

static void test_plain_speaks_for_anyone(void **state)
{
	struct http_request req;
	char why[128] = "";

	(void)state;
	request(&req, 0, NULL, 0, NULL);
	assert_int_equal(caller_speaks_for(&req, 1, "pool-east", why,
					   sizeof why),
			 0);
	assert_int_equal(caller_speaks_for(&req, 7, NULL, why, sizeof why), 0);
	assert_string_equal(why, "");
}

static void test_certificate_speaks_for_its_agent(void **state)
{
	struct http_request req;
	char why[128];

	(void)state;
	request(&req, 1, "east", 1, "pool-east");
	assert_int_equal(caller_speaks_for(&req, 1, "pool-east", why,
					   sizeof why),
			 0);
	assert_int_equal(caller_speaks_for(&req, 1, NULL, why, sizeof why), 0);
	assert_int_equal(caller_speaks_for(&req, 2, NULL, why, sizeof why),
			 -1);
	assert_string_equal(why, "certificate speaks for agent 1, not 2");
	assert_int_equal(caller_speaks_for(&req, 1, "pool-west", why,
					   sizeof why),
			 -1);
	assert_string_equal(why, "certificate speaks for agent 1 of pool "
				 "pool-east, not of pool pool-west");
	/* an agent of a pool does not speak for a witness (no pool) */
	assert_int_equal(caller_speaks_for(&req, 1, "", why, sizeof why), -1);
	assert_string_equal(why, "certificate speaks for agent 1 of pool "
				 "pool-east, not of no pool");
	/* nobody may: no leader known, no writer */
	assert_int_equal(caller_speaks_for(&req, 0, NULL, why, sizeof why),
			 -1);
	assert_string_equal(why, "certificate speaks for agent 1, but no "
				 "agent may send this now");
}

static void test_witness_and_unnamed(void **state)
{
	struct http_request req;
	char why[128];

	(void)state;
	request(&req, 1, "witness", 3, NULL);
	assert_int_equal(caller_speaks_for(&req, 3, "", why, sizeof why), 0);
	assert_int_equal(caller_speaks_for(&req, 1, "pool-east", why,
					   sizeof why),
			 -1);
	assert_string_equal(why, "certificate speaks for agent 3, not 1");
	assert_int_equal(caller_speaks_for(&req, 3, "pool-east", why,
					   sizeof why),
			 -1);
	assert_string_equal(why, "certificate speaks for agent 3 of no pool, "
				 "not of pool pool-east");
	/* a certificate naming no agent speaks for none */
	request(&req, 1, "old", 0, NULL);
	assert_int_equal(caller_speaks_for(&req, 3, NULL, why, sizeof why),
			 -1);
	assert_string_equal(why, "certificate speaks for no agent, not 3");
}

static void test_who_with_tls_is_the_certificate(void **state)
{
	struct http_request req;
	struct http_header h;
	char who[96];

	(void)state;
	request(&req, 1, "ops", 0, NULL);
	caller_who(&req, who, sizeof who);
	assert_string_equal(who, "ops");
	/* the header adds a label, never replaces the name */
	with_who(&req, &h, "east-1");
	caller_who(&req, who, sizeof who);
	assert_string_equal(who, "ops (east-1)");
	with_who(&req, &h, "alice@host");
	caller_who(&req, who, sizeof who);
	assert_string_equal(who, "ops (alice@host)");
	/* cut to fit, the name first */
	caller_who(&req, who, 6);
	assert_string_equal(who, "ops (");
}

static void test_who_without_tls_is_the_header(void **state)
{
	struct http_request req;
	struct http_header h;
	char who[96];

	(void)state;
	request(&req, 0, NULL, 0, NULL);
	caller_who(&req, who, sizeof who);
	assert_string_equal(who, "api:10.0.0.9:4000");
	with_who(&req, &h, "alice@host");
	caller_who(&req, who, sizeof who);
	assert_string_equal(who, "alice@host");
	with_who(&req, &h, "");
	caller_who(&req, who, sizeof who);
	assert_string_equal(who, "api:10.0.0.9:4000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_speaks_for_anyone),
	    cmocka_unit_test(test_certificate_speaks_for_its_agent),
	    cmocka_unit_test(test_witness_and_unnamed),
	    cmocka_unit_test(test_who_with_tls_is_the_certificate),
	    cmocka_unit_test(test_who_without_tls_is_the_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
