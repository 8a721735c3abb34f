/* tls_pair_fixture: see tls_pair_fixture.h. */
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/ssl.h>

#include "pki_fixture.h"
#include "tls/tls.h"
#include "tls_pair_fixture.h"


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

/* An IPPROTO_TCP option of t's socket, or -1. */
static int tcp_opt(uv_tcp_t *t, int opt)
{
	uv_os_fd_t fd;
	int v = 0;
	socklen_t len = sizeof v;

	if (uv_fileno((uv_handle_t *)t, &fd) != 0 ||
	    getsockopt(fd, IPPROTO_TCP, opt, &v, &len) != 0)
		return -1;
	return v;
}

static void on_handshake(struct side *sd, int status)
{
	sd->hs_done = true;
	sd->hs_status = status;
	sd->state_at_handshake = sd->conn.state;
	sd->nodelay_at_handshake = tcp_opt(&sd->conn.tcp, TCP_NODELAY);
	sd->thin_at_handshake =
	    tcp_opt(&sd->conn.tcp, TCP_THIN_LINEAR_TIMEOUTS);
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

void pair_start(struct pair *p)
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
void pair_run(struct pair *p)
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

struct tls_ctx *ctx_new(const char *ca, const char *name)
{
	struct tls_ctx *c = malloc(sizeof *c);

	assert_non_null(c);
	pki_ctx(c, ca, name);
	return c;
}

/* ctx trusting both CAs with a certificate of one of them */
struct tls_ctx *ctx_cross(const char *ca, const char *name)
{
	struct tls_ctx *c = malloc(sizeof *c);

	assert_non_null(c);
	assert_int_equal(tls_ctx_init(c, path("ab.crt"),
				      path("%s/%s.crt", ca, name),
				      path("%s/%s.key", ca, name)),
			 0);
	return c;
}

void ctx_free(struct tls_ctx *c)
{
	tls_ctx_close(c);
	free(c);
}

struct pair *pair_new(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
	struct pair *p = calloc(1, sizeof *p);

	assert_non_null(p);
	p->sctx = sctx;
	p->cctx = cctx;
	p->s_allowed = TLS_ROLES_ANY;
	p->c_allowed = TLS_ROLE_AGENT;
	return p;
}

void on_reloaded(struct tls_ctx *c, int status, void *arg)
{
	int *out = arg;

	(void)c;
	*out = status;
}


/* Run p until its client has its pong. */
void pair_until_pong(struct pair *p)
{
	while (strstr(p->c.got, "pong") == NULL)
		uv_run(&p->loop, UV_RUN_ONCE);
}
