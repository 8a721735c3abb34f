/* Tests of tls/'s revocation (tls.h: tls_ctx_set_crl, tls_ctx_revoked, a
 * reload that revokes live peers) over real loopback connections, with
 * CRLs made by scripts/poolpair-cert. */
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
	if (pki_open("tls-crl") != 0)
		return -1;
	pki_ca("b", "--cn other");
	/* CA r and its CRL (nothing revoked yet) */
	pki_ca("r", "--cn revoking");
	pki_issue("r", "r1", "--role agent --agent-id 1");
	pki_issue("r", "r2", "--role agent --agent-id 2");
	pki_issue("r", "r3", "--role agent --agent-id 3");
	sh(CERT_TOOL " crl %s/r >/dev/null", pki_dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	pki_close();
	return 0;
}

static struct tls_ctx *ctx_crl(const char *name, const char *crl)
{
	struct tls_ctx *c = ctx_new("r", name);

	if (tls_ctx_set_crl(c, crl) != 0)
		fail_msg("crl %s: %s", crl, c->errmsg);
	return c;
}

static void test_crl_errors(void **state)
{
	struct tls_ctx *c = ctx_new("r", "r1");
	char want[TLS_ERRMSG_LEN];

	(void)state;
	assert_string_equal(c->crl, "");
	assert_int_equal(tls_ctx_set_crl(c, path("r/none.crl")), TLS_E_CONFIG);
	snprintf(want, sizeof want,
		 "crl %s/r/none.crl: No such file or directory", pki_dir);
	assert_string_equal(c->errmsg, want);
	/* not a CRL */
	assert_int_equal(tls_ctx_set_crl(c, path("r/r1.crt")), TLS_E_CONFIG);
	assert_non_null(strstr(c->errmsg, "no crl in the file"));
	/* a CRL of another CA */
	sh(CERT_TOOL " crl %s/b >/dev/null", pki_dir);
	assert_int_equal(tls_ctx_set_crl(c, path("b/ca.crl")), TLS_E_CONFIG);
	assert_non_null(strstr(c->errmsg, "b/ca.crl: not issued by the ca"));
	/* past its next update */
	sh(CERT_TOOL " crl %s/r --next-update '2 minutes ago' >/dev/null && "
		     "mv %s/r/ca.crl %s/r/expired.crl && " CERT_TOOL
		     " crl %s/r >/dev/null",
	   pki_dir, pki_dir, pki_dir, pki_dir);
	assert_int_equal(tls_ctx_set_crl(c, path("r/expired.crl")),
			 TLS_E_CONFIG);
	assert_non_null(strstr(c->errmsg, "expired.crl has expired"));
	/* nothing changed by the failures */
	assert_string_equal(c->crl, "");
	assert_int_equal(c->crl_next_update, INT64_MAX);
	assert_int_equal(c->generation, 1);
	/* a CRL of the CA */
	assert_int_equal(tls_ctx_set_crl(c, path("r/ca.crl")), 0);
	assert_string_equal(c->crl, path("r/ca.crl"));
	assert_true(c->crl_next_update > (int64_t)time(NULL) + 29 * 86400);
	assert_int_equal(c->generation, 1);
	ctx_free(c);

	/* a CA trusted without a CRL would refuse all its peers */
	c = malloc(sizeof *c);
	sh("cat %s/r/ca.crt %s/b/ca.crt > %s/rb.crt", pki_dir, pki_dir, pki_dir);
	assert_int_equal(
	    tls_ctx_init(c, path("rb.crt"), path("r/r1.crt"), path("r/r1.key")),
	    0);
	assert_int_equal(tls_ctx_set_crl(c, path("r/ca.crl")), TLS_E_CONFIG);
	assert_non_null(
	    strstr(c->errmsg, "no crl of the ca CN=other (every ca trusted"));
	sh("cat %s/r/ca.crl %s/b/ca.crl > %s/rb.crl", pki_dir, pki_dir, pki_dir);
	assert_int_equal(tls_ctx_set_crl(c, path("rb.crl")), 0);
	ctx_free(c);
}

/* A handshake with a revoked peer fails, whichever side revokes it, and
 * the revoked side is told why. */
static void test_crl_handshake(void **state)
{
	struct tls_ctx *s, *c, *r3;
	char want[TLS_ERRMSG_LEN];
	struct pair *p;

	(void)state;
	sh(CERT_TOOL " issue %s/r gone --role agent --agent-id 9 >/dev/null && " CERT_TOOL
		     " revoke %s/r gone >/dev/null && " CERT_TOOL
		     " crl %s/r >/dev/null && cp %s/r/ca.crl %s/r/gone.crl",
	   pki_dir, pki_dir, pki_dir, pki_dir, pki_dir);
	s = ctx_crl("r1", path("r/gone.crl"));
	c = ctx_new("r", "gone");
	/* our own certificate revoked: refused */
	assert_int_equal(tls_ctx_set_crl(c, path("r/gone.crl")), TLS_E_CONFIG);
	snprintf(want, sizeof want,
		 "cert %s/r/gone.crt is revoked by crl %s/r/gone.crl", pki_dir,
		 pki_dir);
	assert_string_equal(c->errmsg, want);
	assert_true(tls_ctx_revoked(s, SSL_CTX_get0_certificate(c->ssl)));
	assert_false(tls_ctx_revoked(c, SSL_CTX_get0_certificate(c->ssl)));
	assert_false(tls_ctx_revoked(s, SSL_CTX_get0_certificate(s->ssl)));

	/* the server has the CRL */
	p = pair_new(s, c);
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, TLS_E_REVOKED);
	assert_string_equal(p->s.hs_err, "peer certificate revoked (CN=gone)");
	assert_int_equal(p->c.read_end != 0 ? p->c.read_end : p->c.hs_status,
			 TLS_E_REFUSED);
	assert_string_equal(p->c.read_end != 0 ? p->c.read_err : p->c.hs_err,
			    "peer refused our certificate: certificate "
			    "revoked");
	free(p);

	/* the client has it */
	p = pair_new(c, s);
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->c.hs_status, TLS_E_REVOKED);
	assert_string_equal(p->c.hs_err, "peer certificate revoked (CN=gone)");
	assert_int_equal(p->s.hs_status, TLS_E_REFUSED);
	free(p);

	/* a peer not revoked */
	r3 = ctx_new("r", "r3");
	p = pair_new(s, r3);
	pair_start(p);
	pair_run(p);
	assert_int_equal(p->s.hs_status, 0);
	assert_int_equal(p->c.hs_status, 0);
	assert_string_equal(p->c.got, "pong");
	free(p);
	ctx_free(r3);
	ctx_free(c);
	ctx_free(s);
}

/* A reload with a CRL that revokes a peer ends the live connections of
 * that peer (server and client side), and only those; new ones are
 * refused. */
static void test_crl_reload_closes(void **state)
{
	struct tls_ctx *s, *c2, *c3, *s3, *k;
	struct pair *p2, *p3, *px, *pn;
	uv_buf_t b = uv_buf_init("ping", 4);
	uv_loop_t loop;
	int st = 1;

	(void)state;
	sh("cp %s/r/ca.crl %s/r/live.crl", pki_dir, pki_dir);
	s = ctx_crl("r1", path("r/live.crl")); /* server: r1 */
	k = ctx_crl("r2", path("r/live.crl")); /* a client with the CRL */
	c2 = ctx_new("r", "r2");
	c3 = ctx_new("r", "r3");
	s3 = ctx_new("r", "r3");
	p2 = pair_new(s, c2); /* r2 -> r1 */
	p3 = pair_new(s, c3); /* r3 -> r1 */
	px = pair_new(s3, k); /* r2 (with the CRL) -> r3 */
	p2->keep = p3->keep = px->keep = true;
	pair_start(p2);
	pair_until_pong(p2);
	pair_start(p3);
	pair_until_pong(p3);
	pair_start(px);
	pair_until_pong(px);

	/* a reload that revokes nobody ends nothing */
	assert_int_equal(tls_ctx_reload(s), 0);
	assert_int_equal(s->revoked_closed, 0);
	assert_int_equal(p3->s.read_end, 0);

	/* r3 revoked: the new CRL in place, then a reload */
	sh(CERT_TOOL " revoke %s/r r3 >/dev/null && " CERT_TOOL
		     " crl %s/r >/dev/null && cp %s/r/ca.crl %s/r/live.crl",
	   pki_dir, pki_dir, pki_dir, pki_dir);
	assert_int_equal(tls_ctx_reload(s), 0);
	assert_int_equal(s->generation, 3);
	assert_int_equal(s->revoked_closed, 1);
	assert_int_equal(p3->s.read_end, TLS_E_REVOKED);
	assert_string_equal(p3->s.read_err,
			    "peer certificate revoked (CN=r3): the crl "
			    "reloaded revokes it");
	assert_int_equal(p2->s.read_end, 0);
	pair_run(p3); /* the server side closed: so does the client */
	assert_true(p3->s.closed);
	assert_true(p3->c.closed);
	assert_int_equal(p3->c.read_end, TLS_E_EOF);
	free(p3);

	/* the same on the thread pool, on a client: its server r3 */
	uv_loop_init(&loop);
	assert_int_equal(tls_ctx_reload_async(k, &loop, on_reloaded, &st), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(st, 0);
	assert_int_equal(k->revoked_closed, 1);
	assert_int_equal(px->c.read_end, TLS_E_REVOKED);
	pair_run(px);
	assert_true(px->s.closed);
	free(px);

	/* r2's connection goes on */
	p2->s.ngot = p2->c.ngot = 0;
	p2->s.got[0] = p2->c.got[0] = '\0';
	p2->keep = false;
	assert_int_equal(tls_conn_write(&p2->c.conn, &b, 1, NULL, NULL), 0);
	pair_run(p2);
	assert_string_equal(p2->c.got, "pong");
	assert_int_equal(p2->s.read_end, TLS_E_EOF);
	free(p2);

	/* and r3 cannot come back */
	pn = pair_new(s, c3);
	pair_start(pn);
	pair_run(pn);
	assert_int_equal(pn->s.hs_status, TLS_E_REVOKED);
	free(pn);
	/* every connection closed has left the list */
	assert_null(s->conns);
	assert_null(k->conns);
	ctx_free(c2);
	ctx_free(c3);
	ctx_free(s3);
	ctx_free(k);
	ctx_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crl_errors),
	    cmocka_unit_test(test_crl_handshake),
	    cmocka_unit_test(test_crl_reload_closes),
	};

	/* a peer that closes first must not kill the test with SIGPIPE:
	 * the write fails with EPIPE, as in poolpaird */
	signal(SIGPIPE, SIG_IGN);

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
