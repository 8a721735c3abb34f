/* Tests of tls/ (tls.h) over real loopback connections on a libuv loop, with
 * certificates made by scripts/poolpair-cert; revocation (CRLs) is in
 * test_tls_crl.c. */
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/ssl.h>

#include "pki_fixture.h"
#include "tls/tls.h"
#include "tls_pair_fixture.h"

static int group_setup(void **state)
{
	(void)state;
	if (pki_open("tls") != 0)
		return -1;
	pki_ca("a", "");
	pki_ca("b", "--cn other");
	pki_issue("a", "n1", "--role agent --agent-id 1");
	pki_issue("a", "n2", "--role agent --agent-id 2");
	/* a renewal of n1's (the same agent), named n1b to tell them apart */
	pki_issue("a", "n1b", "--role agent --agent-id 1");
	pki_issue("a", "op", "--role operator");
	pki_issue("a", "rd", "--role reader");
	pki_issue("a", "old",
		  "--role agent --agent-id 3 --not-before '10 days ago' "
		  "--not-after '1 day ago'");
	pki_issue("a", "fut",
		  "--role agent --agent-id 4 --not-before '+5 days'");
	pki_issue("b", "rogue", "--role agent --agent-id 5");
	/* trusting both CAs: an impostor of b that accepts a's servers */
	sh("cat %s/a/ca.crt %s/b/ca.crt > %s/ab.crt", pki_dir, pki_dir,
	   pki_dir);
	/* a certificate with no role at all */
	sh("openssl req -new -x509 -nodes -newkey ec -pkeyopt "
	   "ec_paramgen_curve:P-256 -subj /CN=norole -keyout %s/norole.key "
	   "-out %s/norole.crt -days 2 2>/dev/null",
	   pki_dir, pki_dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	pki_close();
	return 0;
}

/* ---- tests ---- */

static void test_handshake_roles(void **state)
{
	const char *names[] = {"n2", "op", "rd"};
	const int roles[] = {TLS_ROLE_AGENT, TLS_ROLE_OPERATOR,
			     TLS_ROLE_READER};
	struct tls_ctx *s = ctx_new("a", "n1");

	(void)state;
	assert_int_equal(s->role, TLS_ROLE_AGENT);
	assert_string_equal(s->identity, "n1");
	assert_int_equal(s->generation, 1);
	for (int i = 0; i < 3; i++) {
		struct tls_ctx *c = ctx_new("a", names[i]);
		struct pair *p = pair_new(s, c);

		pair_start(p);
		pair_run(p);
		assert_int_equal(p->s.hs_status, 0);
		assert_int_equal(p->c.hs_status, 0);
		assert_int_equal(p->s.state_at_handshake, TLS_CONN_OPEN);
		assert_int_equal(p->s.role, roles[i]);
		assert_string_equal(p->s.identity, names[i]);
		/* only n2 names an agent (2) */
		assert_int_equal(p->s.agent, i == 0 ? 2 : 0);
		assert_int_equal(p->c.role, TLS_ROLE_AGENT);
		assert_string_equal(p->c.identity, "n1");
		assert_int_equal(p->c.agent, 1);
		assert_string_equal(p->s.got, "ping");
		assert_string_equal(p->c.got, "pong");
		/* thin-stream TCP on both ends, dialled and accepted */
		assert_int_equal(p->s.nodelay_at_handshake, 1);
		assert_int_equal(p->s.thin_at_handshake, 1);
		assert_int_equal(p->c.nodelay_at_handshake, 1);
		assert_int_equal(p->c.thin_at_handshake, 1);
		/* the client closed with close_notify: clean EOF */
		assert_int_equal(p->s.read_end, TLS_E_EOF);
		free(p);
		ctx_free(c);
	}
	ctx_free(s);
}

static void test_role_not_allowed(void **state)
{
	struct tls_ctx *s = ctx_new("a", "n1");
	struct tls_ctx *c = ctx_new("a", "op");
	struct pair *p = pair_new(s, c);

	(void)state;
	p->s_allowed = TLS_ROLE_AGENT;
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, TLS_E_ROLE);
	assert_string_equal(p->s.hs_err,
			    "role operator not allowed here (CN=op)");
	/* TLS 1.3: the client finished its side, then got the alert */
	assert_int_equal(p->c.hs_status, 0);
	assert_int_equal(p->c.read_end, TLS_E_REFUSED);
	assert_string_equal(p->c.read_err,
			    "peer refused the handshake (is our role allowed "
			    "there?)");
	assert_string_equal(p->c.got, "");

	/* and a client that wants an agent but meets a reader */
	free(p);
	ctx_free(c);
	ctx_free(s);
	s = ctx_new("a", "rd");
	c = ctx_new("a", "n1");
	p = pair_new(s, c);
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->c.hs_status, TLS_E_ROLE);
	assert_string_equal(p->c.hs_err,
			    "role reader not allowed here (CN=rd)");
	assert_int_equal(p->s.hs_status, TLS_E_REFUSED);
	free(p);
	ctx_free(c);
	ctx_free(s);
}

static void test_unknown_ca(void **state)
{
	struct tls_ctx *s = ctx_new("a", "n1");
	struct tls_ctx *c = ctx_cross("b", "rogue"); /* trusts a and b, is b */
	struct pair *p = pair_new(s, c);

	(void)state;
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, TLS_E_UNKNOWN_CA);
	assert_string_equal(p->s.hs_err,
			    "peer certificate from an unknown CA (CN=rogue)");
	assert_int_equal(p->c.read_end, TLS_E_REFUSED);
	assert_string_equal(p->c.read_err,
			    "peer refused our certificate: unknown CA");
	free(p);
	ctx_free(c);

	/* the other direction: a server from another CA */
	c = ctx_new("a", "n2");
	struct tls_ctx *rogue = ctx_cross("b", "rogue");
	p = pair_new(rogue, c);
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->c.hs_status, TLS_E_UNKNOWN_CA);
	assert_string_equal(p->c.hs_err,
			    "peer certificate from an unknown CA (CN=rogue)");
	assert_int_equal(p->s.hs_status, TLS_E_REFUSED);
	assert_string_equal(p->s.hs_err,
			    "peer refused our certificate: unknown CA");
	free(p);
	ctx_free(rogue);
	ctx_free(c);
	ctx_free(s);
}

static void test_expired_and_not_yet_valid(void **state)
{
	struct tls_ctx *s = ctx_new("a", "n1");
	struct tls_ctx *old = ctx_new("a", "old");
	struct tls_ctx *fut = ctx_new("a", "fut");
	struct pair *p = pair_new(s, old);

	(void)state;
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, TLS_E_EXPIRED);
	assert_string_equal(p->s.hs_err, "peer certificate expired (CN=old)");
	assert_int_equal(p->c.read_end, TLS_E_REFUSED);
	assert_string_equal(
	    p->c.read_err, "peer refused our certificate: certificate expired");
	free(p);

	p = pair_new(s, fut);
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, TLS_E_NOT_YET_VALID);
	assert_string_equal(p->s.hs_err,
			    "peer certificate not yet valid (CN=fut)");
	assert_int_equal(p->c.read_end, TLS_E_REFUSED);
	free(p);

	/* an expired server is refused by the client */
	p = pair_new(old, s);
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->c.hs_status, TLS_E_EXPIRED);
	assert_string_equal(p->c.hs_err, "peer certificate expired (CN=old)");
	assert_int_equal(p->s.hs_status, TLS_E_REFUSED);
	free(p);
	ctx_free(fut);
	ctx_free(old);
	ctx_free(s);
}

static void test_plain_refused(void **state)
{
	struct tls_ctx *s = ctx_new("a", "n1");
	struct pair *p = pair_new(s, NULL);

	(void)state;
	p->plain_client = true;
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, TLS_E_NOT_TLS);
	assert_string_equal(p->s.hs_err, "plain connection refused: not TLS");
	assert_int_equal(p->c.read_end, UV_EOF);
	assert_int_equal(p->c.ngot, 0);
	free(p);

	/* with allow_plain the bytes come through as they are */
	p = pair_new(s, NULL);
	p->plain_client = true;
	p->allow_plain = true;
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, 0);
	assert_int_equal(p->s.state_at_handshake, TLS_CONN_PLAIN);
	assert_int_equal(p->s.role, TLS_ROLE_NONE);
	assert_string_equal(p->s.got, "hello, this is not tls\r\n");
	assert_string_equal(p->c.got, "plain-answer");
	free(p);
	ctx_free(s);
}

static void test_shutdown(void **state)
{
	/* half-close, TLS and plain: the answer arrives, then a clean EOF */
	struct tls_ctx *s = ctx_new("a", "n1");
	struct tls_ctx *c = ctx_new("a", "n2");

	(void)state;
	for (int plain = 0; plain < 2; plain++) {
		struct pair *p = plain ? pair_new(NULL, NULL) : pair_new(s, c);

		p->c_allowed = TLS_ROLES_ANY;
		p->server_shutdown = true;
		pair_start(p);
		pair_run(p);
		assert_true(p->shutdown_done);
		assert_int_equal(p->shutdown_status, 0);
		assert_string_equal(p->c.got, "pong");
		assert_int_equal(p->c.read_end, TLS_E_EOF);
		assert_string_equal(p->c.read_err,
				    "peer closed the connection");
		assert_int_equal(p->s.read_end, TLS_E_EOF);
		free(p);
	}
	ctx_free(c);
	ctx_free(s);
}

static void test_without_tls(void **state)
{
	/* no context on either end: the same interface, plain bytes */
	struct pair *p = pair_new(NULL, NULL);

	(void)state;
	p->c_allowed = TLS_ROLES_ANY;
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, 0);
	assert_int_equal(p->c.hs_status, 0);
	assert_int_equal(p->s.state_at_handshake, TLS_CONN_PLAIN);
	assert_int_equal(p->c.state_at_handshake, TLS_CONN_PLAIN);
	assert_int_equal(p->s.thin_at_handshake, 1);
	assert_int_equal(p->c.thin_at_handshake, 1);
	assert_int_equal(p->s.role, TLS_ROLE_NONE);
	assert_string_equal(p->s.got, "ping");
	assert_string_equal(p->c.got, "pong");
	assert_int_equal(p->s.read_end, TLS_E_EOF);
	free(p);
}

static void test_ctx_errors(void **state)
{
	struct tls_ctx c;

	(void)state;
	assert_int_equal(tls_ctx_init(&c, path("a/ca.crt"), path("a/none.crt"),
				      path("a/n1.key")),
			 TLS_E_CONFIG);
	assert_non_null(strstr(c.errmsg, "none.crt: No such file"));
	assert_int_equal(tls_ctx_init(&c, path("a/ca.crt"), path("a/n1.crt"),
				      path("a/n2.key")),
			 TLS_E_CONFIG);
	assert_non_null(strstr(c.errmsg, "does not match"));
	assert_int_equal(tls_ctx_init(&c, path("a/n1.key"), path("a/n1.crt"),
				      path("a/n1.key")),
			 TLS_E_CONFIG);
	assert_non_null(strstr(c.errmsg, "ca "));
	assert_int_equal(tls_ctx_init(&c, path("a/ca.crt"), path("norole.crt"),
				      path("norole.key")),
			 TLS_E_CONFIG);
	assert_non_null(strstr(c.errmsg, "no role"));
	/* our own certificate from another CA: a configuration mistake */
	assert_int_equal(tls_ctx_init(&c, path("a/ca.crt"), path("b/rogue.crt"),
				      path("b/rogue.key")),
			 TLS_E_CONFIG);
	assert_non_null(strstr(c.errmsg, "rogue.crt does not verify against "
					 "ca"));
	/* outside its dates: loads, with a warning */
	assert_int_equal(tls_ctx_init(&c, path("a/ca.crt"), path("a/old.crt"),
				      path("a/old.key")),
			 0);
	assert_non_null(strstr(c.warning, "old.crt has expired"));
	assert_true(c.not_after < (int64_t)time(NULL));
	tls_ctx_close(&c);
	assert_int_equal(tls_ctx_init(&c, path("a/ca.crt"), path("a/fut.crt"),
				      path("a/fut.key")),
			 0);
	assert_non_null(strstr(c.warning, "fut.crt is not yet valid"));
	tls_ctx_close(&c);
	assert_int_equal(tls_ctx_init(&c, path("a/ca.crt"), path("a/n1.crt"),
				      path("a/n1.key")),
			 0);
	assert_string_equal(c.warning, "");
	assert_true(c.not_after > (int64_t)time(NULL) + 86400 * 800);
	tls_ctx_close(&c);
	assert_null(c.ssl);
}

static void test_reload(void **state)
{
	struct tls_ctx *s, *c = ctx_new("a", "n2");
	struct pair *p1, *p2;
	uv_loop_t loop;
	int st = 1;

	(void)state;
	/* the server's files: a copy of n1's */
	sh("mkdir -p %s/srv && cp %s/a/n1.crt %s/srv/me.crt && "
	   "cp %s/a/n1.key %s/srv/me.key",
	   pki_dir, pki_dir, pki_dir, pki_dir, pki_dir);
	s = malloc(sizeof *s);
	assert_int_equal(tls_ctx_init(s, path("a/ca.crt"), path("srv/me.crt"),
				      path("srv/me.key")),
			 0);
	p1 = pair_new(s, c);
	p1->keep = true; /* first connection stays open */
	pair_start(p1);
	while (strstr(p1->c.got, "pong") == NULL)
		uv_run(&p1->loop, UV_RUN_ONCE);
	assert_string_equal(p1->c.identity, "n1");

	/* broken files: error, old context kept */
	sh("echo garbage > %s/srv/me.crt", pki_dir);
	assert_int_equal(tls_ctx_reload(s), TLS_E_CONFIG);
	assert_non_null(strstr(s->errmsg, "me.crt"));
	assert_int_equal(s->generation, 1);
	assert_string_equal(s->identity, "n1");

	/* renewed files (another name, to tell them apart) */
	sh("cp %s/a/n1b.crt %s/srv/me.crt && cp %s/a/n1b.key %s/srv/me.key",
	   pki_dir, pki_dir, pki_dir, pki_dir);
	uv_loop_init(&loop);
	assert_int_equal(tls_ctx_reload_async(s, &loop, on_reloaded, &st), 0);
	assert_int_equal(tls_ctx_reload_async(s, &loop, on_reloaded, &st),
			 TLS_E_STATE);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(st, 0);
	assert_int_equal(s->generation, 2);
	assert_string_equal(s->identity, "n1b");

	/* a new connection sees the new certificate */
	p2 = pair_new(s, c);
	pair_start(p2);
	pair_run(p2);
	assert_int_equal(p2->c.hs_status, 0);
	assert_string_equal(p2->c.identity, "n1b");
	assert_string_equal(p2->c.got, "pong");
	free(p2);

	/* the old connection still works on the old context */
	{
		uv_buf_t b = uv_buf_init("ping", 4);

		p1->s.ngot = 0;
		p1->s.got[0] = '\0';
		p1->c.ngot = 0;
		p1->c.got[0] = '\0';
		p1->keep = false;
		assert_int_equal(tls_conn_write(&p1->c.conn, &b, 1, NULL, NULL),
				 0);
		pair_run(p1);
		assert_string_equal(p1->c.got, "pong");
		assert_int_equal(p1->s.read_end, TLS_E_EOF);
	}
	free(p1);
	ctx_free(s);
	ctx_free(c);
}

static void test_timeout(void **state)
{
	/* a client that connects and says nothing: the server gives up */
	struct tls_ctx *s = ctx_new("a", "n1");
	struct pair *p = pair_new(s, NULL);

	(void)state;
	p->plain_client = true;
	p->silent = true;
	p->timeout_ms = 200;
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, TLS_E_TIMEOUT);
	assert_string_equal(p->s.hs_err,
			    "tls handshake timed out after 200 ms");
	assert_int_equal(p->c.read_end, UV_EOF);
	free(p);
	ctx_free(s);
}

static void test_strings(void **state)
{
	(void)state;
	assert_string_equal(tls_role_name(TLS_ROLE_OPERATOR), "operator");
	assert_int_equal(tls_role_parse("reader"), TLS_ROLE_READER);
	assert_int_equal(tls_role_parse("admin"), TLS_ROLE_NONE);
	assert_string_equal(tls_strerror(TLS_E_NOT_TLS),
			    "plain connection refused: not TLS");
	assert_string_equal(tls_strerror(UV_ECONNRESET),
			    uv_strerror(UV_ECONNRESET));
}

/* Repeated warnings: once a minute per address (without the port) and
 * message, then with the count of those left out. */
static void test_quiet(void **state)
{
	struct tls_quiet q;
	char out[TLS_ERRMSG_LEN + 64];

	(void)state;
	memset(&q, 0, sizeof q);
	assert_true(tls_quiet_pass(&q, "10.0.0.1:4000", "unknown CA", 1000, out,
				   sizeof out));
	assert_string_equal(out, "unknown CA");
	/* the same client from another port, the same reason: counted */
	assert_false(tls_quiet_pass(&q, "10.0.0.1:4001", "unknown CA", 2000,
				    out, sizeof out));
	assert_false(tls_quiet_pass(&q, "10.0.0.1:4002", "unknown CA", 3000,
				    out, sizeof out));
	/* another reason, another address, an IPv6 one: logged */
	assert_true(tls_quiet_pass(&q, "10.0.0.1:4003", "expired", 3000, out,
				   sizeof out));
	assert_true(tls_quiet_pass(&q, "10.0.0.2:4000", "unknown CA", 3000, out,
				   sizeof out));
	assert_true(tls_quiet_pass(&q, "[::1]:4000", "unknown CA", 3000, out,
				   sizeof out));
	assert_false(tls_quiet_pass(&q, "[::1]:4009", "unknown CA", 3001, out,
				    sizeof out));
	/* a minute after the first: logged with the count */
	assert_true(tls_quiet_pass(&q, "10.0.0.1:4010", "unknown CA",
				   1000 + TLS_QUIET_MS, out, sizeof out));
	assert_string_equal(
	    out, "unknown CA (and 2 more like it in the last minute)");
	assert_false(tls_quiet_pass(&q, "10.0.0.1:4011", "unknown CA",
				    1001 + TLS_QUIET_MS, out, sizeof out));
	/* more kinds than slots: the oldest goes, nothing breaks */
	for (unsigned i = 0; i < 3 * TLS_QUIET_SLOTS; i++) {
		char addr[32];

		snprintf(addr, sizeof addr, "10.1.0.%u:1", i);
		assert_true(tls_quiet_pass(&q, addr, "x", 5000 + TLS_QUIET_MS,
					   out, sizeof out));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_quiet),
	    cmocka_unit_test(test_ctx_errors),
	    cmocka_unit_test(test_handshake_roles),
	    cmocka_unit_test(test_role_not_allowed),
	    cmocka_unit_test(test_unknown_ca),
	    cmocka_unit_test(test_expired_and_not_yet_valid),
	    cmocka_unit_test(test_plain_refused),
	    cmocka_unit_test(test_without_tls),
	    cmocka_unit_test(test_shutdown),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_timeout),
	};

	/* a peer that closes first must not kill the test with SIGPIPE:
	 * the write fails with EPIPE, as in poolpaird */
	signal(SIGPIPE, SIG_IGN);

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
