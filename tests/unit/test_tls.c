/* Tests of tls/ (tls.h) over real loopback connections on a libuv loop, with
 * certificates made by scripts/poolpair-cert. */
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
	/* CA r and its CRL (nothing revoked yet) for the revocation tests */
	pki_ca("r", "--cn revoking");
	pki_issue("r", "r1", "--role agent --agent-id 1");
	pki_issue("r", "r2", "--role agent --agent-id 2");
	pki_issue("r", "r3", "--role agent --agent-id 3");
	sh(CERT_TOOL " crl %s/r >/dev/null", pki_dir);
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

/* ---- a client and a server over loopback ---- */

struct side {
	struct tls_conn conn;
	bool started;
	bool hs_done;
	int hs_status;
	char hs_err[TLS_ERRMSG_LEN];
	int role;
	uint64_t agent; /* the agent the peer's certificate names */
	char identity[TLS_NAME_LEN];
	char got[256];
	size_t ngot;
	int read_end; /* 0 while reading, else the code that ended it */
	char read_err[TLS_ERRMSG_LEN];
	bool closed;
	int state_at_handshake;
};

struct pair {
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_tcp_t raw; /* plain client */
	uv_connect_t creq;
	uv_write_t wreq;
	uv_timer_t guard;
	struct tls_ctx *sctx, *cctx;
	unsigned s_allowed, c_allowed;
	bool allow_plain;
	bool plain_client;
	bool silent;	     /* plain client sends nothing */
	unsigned timeout_ms; /* server handshake timeout, 0: 5000 */
	struct side s, c;
	int port;
	/* keep the connections open at the end (for reload tests) */
	bool keep;
	/* the server half-closes after its answer; the client waits for EOF */
	bool server_shutdown;
	int shutdown_status;
	bool shutdown_done;
};

static void side_closed(struct tls_conn *conn)
{
	struct side *sd = conn->data;

	sd->closed = true;
}

static void on_guard(uv_timer_t *t)
{
	struct pair *p = t->data;

	fail_msg("test timed out (server hs %d, client hs %d)", p->s.hs_status,
		 p->c.hs_status);
}

static void maybe_stop_guard(struct pair *p)
{
	bool s_done = !p->s.started || p->s.closed || p->keep;
	bool c_done = p->plain_client || p->c.closed || p->keep;

	if (s_done && c_done)
		uv_close((uv_handle_t *)&p->guard, NULL);
}

static void on_server_read(struct tls_conn *conn, ssize_t n, const char *d);
static void on_client_read(struct tls_conn *conn, ssize_t n, const char *d);

static void record_read(struct side *sd, ssize_t n, const char *d)
{
	if (n < 0) {
		sd->read_end = (int)n;
		snprintf(sd->read_err, sizeof sd->read_err, "%s",
			 sd->conn.errmsg);
		return;
	}
	if (sd->ngot + (size_t)n < sizeof sd->got) {
		memcpy(sd->got + sd->ngot, d, (size_t)n);
		sd->ngot += (size_t)n;
		sd->got[sd->ngot] = '\0';
	}
}

static struct pair *pair_of_server(struct tls_conn *conn)
{
	return (struct pair *)((char *)conn->data - offsetof(struct pair, s));
}

static struct pair *pair_of_client(struct tls_conn *conn)
{
	return (struct pair *)((char *)conn->data - offsetof(struct pair, c));
}

static void close_side(struct pair *p, struct side *sd)
{
	tls_conn_close(&sd->conn, side_closed);
	(void)p;
}

static void on_shut(struct tls_conn *conn, int status, void *arg)
{
	struct pair *p = arg;

	(void)conn;
	p->shutdown_done = true;
	p->shutdown_status = status;
}

static void on_server_read(struct tls_conn *conn, ssize_t n, const char *d)
{
	struct pair *p = pair_of_server(conn);
	struct side *sd = &p->s;

	record_read(sd, n, d);
	if (n < 0) {
		close_side(p, sd);
		return;
	}
	if (strstr(sd->got, "ping") != NULL && !p->plain_client) {
		uv_buf_t b = uv_buf_init("pong", 4);

		assert_int_equal(tls_conn_write(conn, &b, 1, NULL, NULL), 0);
		if (p->server_shutdown) {
			assert_int_equal(tls_conn_shutdown(conn, on_shut, p),
					 0);
			assert_int_equal(
			    tls_conn_write(conn, &b, 1, NULL, NULL),
			    TLS_E_STATE);
			assert_int_equal(tls_conn_shutdown(conn, on_shut, p),
					 TLS_E_STATE);
		}
	}
	if (p->plain_client && strstr(sd->got, "hello") != NULL) {
		uv_buf_t b = uv_buf_init("plain-answer", 12);

		assert_int_equal(tls_conn_write(conn, &b, 1, NULL, NULL), 0);
		close_side(p, sd);
	}
}

static void on_client_read(struct tls_conn *conn, ssize_t n, const char *d)
{
	struct pair *p = pair_of_client(conn);
	struct side *sd = &p->c;

	record_read(sd, n, d);
	if (n < 0 || (strstr(sd->got, "pong") != NULL && !p->keep &&
		      !p->server_shutdown))
		close_side(p, sd);
}

static void on_handshake(struct side *sd, int status)
{
	sd->hs_done = true;
	sd->hs_status = status;
	sd->state_at_handshake = sd->conn.state;
	snprintf(sd->hs_err, sizeof sd->hs_err, "%s", sd->conn.errmsg);
	sd->role = sd->conn.peer_role;
	sd->agent = sd->conn.peer_agent;
	snprintf(sd->identity, sizeof sd->identity, "%s",
		 sd->conn.peer_identity);
}

static void on_server_handshake(struct tls_conn *conn, int status)
{
	struct pair *p = pair_of_server(conn);

	on_handshake(&p->s, status);
	if (status != 0)
		close_side(p, &p->s);
}

static void on_client_handshake(struct tls_conn *conn, int status)
{
	struct pair *p = pair_of_client(conn);

	on_handshake(&p->c, status);
	if (status != 0) {
		close_side(p, &p->c);
		return;
	}
	uv_buf_t b = uv_buf_init("ping", 4);
	assert_int_equal(tls_conn_write(conn, &b, 1, NULL, NULL), 0);
}

static void on_accept(uv_stream_t *server, int status)
{
	struct pair *p = server->data;

	assert_int_equal(status, 0);
	assert_int_equal(tls_conn_init(&p->s.conn, &p->loop, p->sctx,
				       TLS_SERVER, p->s_allowed),
			 0);
	p->s.conn.data = &p->s;
	p->s.started = true;
	tls_conn_allow_plain(&p->s.conn, p->allow_plain);
	tls_conn_set_timeout(&p->s.conn, p->timeout_ms ? p->timeout_ms : 5000);
	assert_int_equal(uv_accept(server, (uv_stream_t *)&p->s.conn.tcp), 0);
	assert_int_equal(
	    tls_conn_start(&p->s.conn, on_server_handshake, on_server_read), 0);
	uv_close((uv_handle_t *)&p->listener, NULL); /* one connection */
}

static void on_tls_connected(uv_connect_t *req, int status)
{
	struct pair *p = req->data;

	assert_int_equal(status, 0);
	assert_int_equal(
	    tls_conn_start(&p->c.conn, on_client_handshake, on_client_read), 0);
}

static void on_raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct pair *p = s->data;

	if (n > 0 && p->c.ngot + (size_t)n < sizeof p->c.got) {
		memcpy(p->c.got + p->c.ngot, buf->base, (size_t)n);
		p->c.ngot += (size_t)n;
	}
	free(buf->base);
	if (n < 0) {
		p->c.read_end = (int)n;
		uv_close((uv_handle_t *)s, NULL);
		p->c.closed = true;
	}
}

static void raw_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(size);
	buf->len = size;
}

static void on_raw_connected(uv_connect_t *req, int status)
{
	struct pair *p = req->data;
	static char hello[] = "hello, this is not tls\r\n";
	uv_buf_t b = uv_buf_init(hello, sizeof hello - 1);

	assert_int_equal(status, 0);
	if (!p->silent)
		assert_int_equal(
		    uv_write(&p->wreq, (uv_stream_t *)&p->raw, &b, 1, NULL), 0);
	assert_int_equal(
	    uv_read_start((uv_stream_t *)&p->raw, raw_alloc, on_raw_read), 0);
}

static void pair_start(struct pair *p)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof bound;

	assert_int_equal(uv_loop_init(&p->loop), 0);
	uv_tcp_init(&p->loop, &p->listener);
	p->listener.data = p;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	assert_int_equal(uv_tcp_bind(&p->listener, (struct sockaddr *)&addr, 0),
			 0);
	assert_int_equal(uv_listen((uv_stream_t *)&p->listener, 8, on_accept),
			 0);
	uv_tcp_getsockname(&p->listener, (struct sockaddr *)&bound, &len);
	p->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	uv_ip4_addr("127.0.0.1", p->port, &addr);
	p->creq.data = p;
	if (p->plain_client) {
		uv_tcp_init(&p->loop, &p->raw);
		p->raw.data = p;
		assert_int_equal(uv_tcp_connect(&p->creq, &p->raw,
						(struct sockaddr *)&addr,
						on_raw_connected),
				 0);
	} else {
		assert_int_equal(tls_conn_init(&p->c.conn, &p->loop, p->cctx,
					       TLS_CLIENT, p->c_allowed),
				 0);
		p->c.conn.data = &p->c;
		p->c.started = true;
		assert_int_equal(uv_tcp_connect(&p->creq, &p->c.conn.tcp,
						(struct sockaddr *)&addr,
						on_tls_connected),
				 0);
	}
	uv_timer_init(&p->loop, &p->guard);
	p->guard.data = p;
	uv_timer_start(&p->guard, on_guard, 15000, 0);
}

/* Run until both sides closed and every handle is gone. */
static void pair_run(struct pair *p)
{
	while (uv_run(&p->loop, UV_RUN_ONCE) != 0) {
		if (!uv_is_closing((uv_handle_t *)&p->guard)) {
			bool s_done = !p->s.started || p->s.closed;
			bool c_done = p->c.closed;

			if (s_done && c_done)
				maybe_stop_guard(p);
		}
	}
	assert_int_equal(uv_loop_close(&p->loop), 0);
}

static struct tls_ctx *ctx_new(const char *ca, const char *name)
{
	struct tls_ctx *c = malloc(sizeof *c);

	assert_non_null(c);
	pki_ctx(c, ca, name);
	return c;
}

/* ctx trusting both CAs with a certificate of one of them */
static struct tls_ctx *ctx_cross(const char *ca, const char *name)
{
	struct tls_ctx *c = malloc(sizeof *c);

	assert_non_null(c);
	assert_int_equal(tls_ctx_init(c, path("ab.crt"),
				      path("%s/%s.crt", ca, name),
				      path("%s/%s.key", ca, name)),
			 0);
	return c;
}

static void ctx_free(struct tls_ctx *c)
{
	tls_ctx_close(c);
	free(c);
}

static struct pair *pair_new(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
	struct pair *p = calloc(1, sizeof *p);

	assert_non_null(p);
	p->sctx = sctx;
	p->cctx = cctx;
	p->s_allowed = TLS_ROLES_ANY;
	p->c_allowed = TLS_ROLE_AGENT;
	return p;
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

static void on_reloaded(struct tls_ctx *c, int status, void *arg)
{
	int *out = arg;

	(void)c;
	*out = status;
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

/* ---- revocation ---- */

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

/* Run p until its client has its pong. */
static void pair_until_pong(struct pair *p)
{
	while (strstr(p->c.got, "pong") == NULL)
		uv_run(&p->loop, UV_RUN_ONCE);
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
	    cmocka_unit_test(test_crl_errors),
	    cmocka_unit_test(test_crl_handshake),
	    cmocka_unit_test(test_crl_reload_closes),
	    cmocka_unit_test(test_timeout),
	};

	/* a peer that closes first must not kill the test with SIGPIPE:
	 * the write fails with EPIPE, as in poolpaird */
	signal(SIGPIPE, SIG_IGN);

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
