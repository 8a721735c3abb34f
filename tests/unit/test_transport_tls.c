/* Tests of consensus/transport_tls.c: the raft_uv_transport methods over
 * real loopback connections, as raft_uv drives them (init, listen,
 * connect, close), without a raft instance. */
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "consensus/transport_tls.h"
#include "pki_fixture.h"

#define BIG (4u << 20) /* beyond the bridge's high-water mark */
#define FLOOD (9 * TRANSPORT_TLS_PENDING_PER_ADDR) /* above 64 */

static int group_setup(void **state)
{
	(void)state;
	if (pki_open("transport") != 0)
		return -1;
	pki_ca("a", "");
	pki_ca("b", "");
	pki_issue("a", "n1", "--role agent --agent-id 1");
	pki_issue("a", "n2", "--role agent --agent-id 2");
	pki_issue("a", "rd", "--role reader");
	pki_issue("b", "rogue", "--role agent --agent-id 3");
	sh("cat %s/a/ca.crt %s/b/ca.crt > %s/b/trust.crt", pki_dir, pki_dir,
	   pki_dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	pki_close();
	return 0;
}

static void ctx_load(struct tls_ctx *c, const char *ca, const char *name)
{
	/* everyone trusts a; b's impostor trusts both */
	if (tls_ctx_init(c,
			 path("%s", strcmp(ca, "b") == 0 ? "b/trust.crt"
							 : "a/ca.crt"),
			 path("%s/%s.crt", ca, name),
			 path("%s/%s.key", ca, name)) != 0)
		fail_msg("ctx %s: %s", name, c->errmsg);
}

/* A free loopback port (bound, then released). */
static int free_port(void)
{
	uv_loop_t loop;
	uv_tcp_t t;
	struct sockaddr_in a;
	struct sockaddr_storage ss;
	int len = sizeof ss, port;

	uv_loop_init(&loop);
	uv_tcp_init(&loop, &t);
	uv_ip4_addr("127.0.0.1", 0, &a);
	assert_int_equal(uv_tcp_bind(&t, (struct sockaddr *)&a, 0), 0);
	uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return port;
}

/* ---- fixture ---- */

struct fix {
	uv_loop_t loop;
	struct tls_ctx ctx_srv, ctx_cli;
	struct raft_uv_transport srv, cli;
	bool cli_plain; /* client is raft_uv_tcp */
	char srv_addr[64];
	char cli_addr[64];
	char srv_log[2048];
	char cli_log[2048];
	/* accepted */
	int accepted;
	raft_id acc_id;
	char acc_addr[64];
	uv_stream_t *acc_stream;
	/* connected */
	struct raft_uv_connect creq;
	int connect_status;
	bool connected;
	uv_stream_t *cli_stream;
	/* transfer */
	char *big;
	size_t got;
	bool got_mismatch;
	uv_write_t wreq;
	char echo[16];
	size_t echo_got;
	int closed_transports;
	uv_timer_t guard;
};

static void logf_srv(void *arg, bool warn, const char *msg)
{
	struct fix *f = arg;
	size_t n = strlen(f->srv_log);

	(void)warn;
	snprintf(f->srv_log + n, sizeof f->srv_log - n, "%s\n", msg);
}

static void logf_cli(void *arg, bool warn, const char *msg)
{
	struct fix *f = arg;
	size_t n = strlen(f->cli_log);

	(void)warn;
	snprintf(f->cli_log + n, sizeof f->cli_log - n, "%s\n", msg);
}

static void on_guard(uv_timer_t *t)
{
	(void)t;
	fail_msg("test timed out");
}

static void on_accept(struct raft_uv_transport *t, raft_id id,
		      const char *address, uv_stream_t *stream)
{
	struct fix *f = t->data;

	f->accepted++;
	f->acc_id = id;
	snprintf(f->acc_addr, sizeof f->acc_addr, "%s", address);
	f->acc_stream = stream;
	stream->data = f;
}

static void on_connect(struct raft_uv_connect *req, uv_stream_t *stream,
		       int status)
{
	struct fix *f = req->data;

	f->connected = true;
	f->connect_status = status;
	f->cli_stream = stream;
	if (stream != NULL)
		stream->data = f;
}

/* How a fixture starts beyond the defaults (the client raft id 2 dials
 * id 1, the server's deadline its default, the client connects at once). */
struct opts {
	raft_id cli_id;		  /* the client's own id (its hello) */
	raft_id dial_id;	  /* the id it dials at the server */
	unsigned srv_deadline_ms; /* the server's handshake_ms */
	unsigned cli_deadline_ms; /* the client's */
	bool no_connect;	  /* the test calls fix_connect() */
};

static void fix_connect(struct fix *f, raft_id dial_id)
{
	f->creq.data = f;
	assert_int_equal(f->cli.connect(&f->cli, &f->creq, dial_id,
					f->srv_addr, on_connect),
			 0);
}

static void fix_start_opts(struct fix *f, bool require, const char *cli_ca,
			   const char *cli_name, const struct opts *o)
{
	struct transport_tls_config cfg;

	memset(f, 0, sizeof *f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	ctx_load(&f->ctx_srv, "a", "n1");
	snprintf(f->srv_addr, sizeof f->srv_addr, "127.0.0.1:%d", free_port());
	snprintf(f->cli_addr, sizeof f->cli_addr, "127.0.0.1:%d", free_port());

	memset(&cfg, 0, sizeof cfg);
	cfg.ctx = &f->ctx_srv;
	cfg.require = require;
	cfg.handshake_ms = o->srv_deadline_ms;
	cfg.log = logf_srv;
	cfg.log_arg = f;
	f->srv.version = 1;
	f->srv.data = f;
	assert_int_equal(transport_tls_init(&f->srv, &f->loop, &cfg), 0);
	assert_int_equal(f->srv.init(&f->srv, 1, f->srv_addr), 0);
	assert_int_equal(f->srv.listen(&f->srv, on_accept), 0);

	f->cli.version = 1;
	f->cli.data = f;
	if (cli_name == NULL) {
		f->cli_plain = true;
		assert_int_equal(raft_uv_tcp_init(&f->cli, &f->loop), 0);
	} else {
		ctx_load(&f->ctx_cli, cli_ca, cli_name);
		cfg.ctx = &f->ctx_cli;
		cfg.require = true;
		cfg.handshake_ms = o->cli_deadline_ms;
		cfg.log = logf_cli;
		assert_int_equal(transport_tls_init(&f->cli, &f->loop, &cfg),
				 0);
	}
	assert_int_equal(f->cli.init(&f->cli, o->cli_id, f->cli_addr), 0);
	if (!o->no_connect)
		fix_connect(f, o->dial_id);
	uv_timer_init(&f->loop, &f->guard);
	f->guard.data = f;
	uv_timer_start(&f->guard, on_guard, 20000, 0);
}

static void fix_start(struct fix *f, bool require, const char *cli_ca,
		      const char *cli_name)
{
	const struct opts o = {.cli_id = 2, .dial_id = 1};

	fix_start_opts(f, require, cli_ca, cli_name, &o);
}

static void run_until(struct fix *f, bool (*cond)(struct fix *f))
{
	while (!cond(f))
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void transport_closed(struct raft_uv_transport *t)
{
	struct fix *f = t->data;

	f->closed_transports++;
}

static void fix_end(struct fix *f)
{
	if (f->acc_stream != NULL)
		uv_close((uv_handle_t *)f->acc_stream, (uv_close_cb)raft_free);
	if (f->cli_stream != NULL)
		uv_close((uv_handle_t *)f->cli_stream, (uv_close_cb)raft_free);
	f->srv.close(&f->srv, transport_closed);
	f->cli.close(&f->cli, transport_closed);
	uv_close((uv_handle_t *)&f->guard, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->closed_transports, 2);
	transport_tls_close(&f->srv);
	if (f->cli_plain)
		raft_uv_tcp_close(&f->cli);
	else
		transport_tls_close(&f->cli);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	tls_ctx_close(&f->ctx_srv);
	tls_ctx_close(&f->ctx_cli);
	free(f->big);
}

static bool accepted_and_connected(struct fix *f)
{
	return f->accepted > 0 && f->connected;
}

static bool connected(struct fix *f) { return f->connected; }

/* ---- data through the bridge ---- */

static void big_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(size);
	buf->len = size;
}

static void big_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct fix *f = s->data;

	if (n > 0) {
		if (f->got + (size_t)n > BIG ||
		    memcmp(f->big + f->got, buf->base, (size_t)n) != 0)
			f->got_mismatch = true;
		f->got += (size_t)n;
	}
	free(buf->base);
}

static void echo_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct fix *f = s->data;

	if (n > 0 && f->echo_got + (size_t)n < sizeof f->echo) {
		memcpy(f->echo + f->echo_got, buf->base, (size_t)n);
		f->echo_got += (size_t)n;
	}
	free(buf->base);
}

static bool all_received(struct fix *f)
{
	return f->got >= BIG || f->got_mismatch;
}

static bool echo_received(struct fix *f) { return f->echo_got >= 5; }

static void test_link_and_bridge(void **state)
{
	struct fix *f = malloc(sizeof *f);
	uv_buf_t b;

	(void)state;
	fix_start(f, true, "a", "n2");
	run_until(f, accepted_and_connected);
	assert_int_equal(f->connect_status, 0);
	assert_non_null(f->cli_stream);
	assert_int_equal(f->accepted, 1);
	/* what raft_uv_tcp would have told raft */
	assert_int_equal(f->acc_id, 2);
	assert_string_equal(f->acc_addr, f->cli_addr);
	assert_non_null(strstr(f->srv_log, "(id 2, tls, CN=n2) up"));
	assert_non_null(strstr(f->cli_log, "(id 1, CN=n1) up"));
	assert_int_equal(transport_tls_links(&f->srv), 1);
	assert_int_equal(transport_tls_links(&f->cli), 1);

	/* 4 MiB from the client's raft end to the server's, in order */
	f->big = malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		f->big[i] = (char)(i * 2654435761u >> 13);
	b = uv_buf_init(f->big, BIG);
	assert_int_equal(uv_read_start(f->acc_stream, big_alloc, big_read), 0);
	assert_int_equal(uv_write(&f->wreq, f->cli_stream, &b, 1, NULL), 0);
	run_until(f, all_received);
	assert_false(f->got_mismatch);
	assert_int_equal(f->got, BIG);

	/* and back */
	b = uv_buf_init("hello", 5);
	assert_int_equal(uv_read_start(f->cli_stream, big_alloc, echo_read), 0);
	assert_int_equal(uv_write(&f->wreq, f->acc_stream, &b, 1, NULL), 0);
	run_until(f, echo_received);
	assert_memory_equal(f->echo, "hello", 5);
	fix_end(f);
	free(f);
}

static void test_other_ca_refused(void **state)
{
	struct fix *f = malloc(sizeof *f);

	(void)state;
	fix_start(f, true, "b", "rogue");
	run_until(f, connected);
	assert_int_equal(f->connect_status, RAFT_NOCONNECTION);
	assert_null(f->cli_stream);
	assert_int_equal(f->accepted, 0);
	assert_non_null(strstr(f->srv_log, ": peer certificate from an unknown "
					   "CA (CN=rogue)"));
	assert_non_null(
	    strstr(f->cli_log, "peer refused our certificate: unknown CA"));

	/* raft retries: the same refusal is logged once a minute, not
	 * every time (the peer's port changes, the key does not) */
	for (int i = 0; i < 3; i++) {
		f->connected = false;
		assert_int_equal(f->cli.connect(&f->cli, &f->creq, 1,
						f->srv_addr, on_connect),
				 0);
		run_until(f, connected);
		assert_int_equal(f->connect_status, RAFT_NOCONNECTION);
	}
	{
		const char *first = strstr(f->srv_log, "unknown CA (CN=rogue)");

		assert_non_null(first);
		assert_null(strstr(first + 1, "unknown CA (CN=rogue)"));
		first = strstr(f->cli_log, "refused our certificate");
		assert_null(strstr(first + 1, "refused our certificate"));
	}
	fix_end(f);
	free(f);
}

static void test_role_refused(void **state)
{
	struct fix *f = malloc(sizeof *f);

	(void)state;
	fix_start(f, true, "a", "rd");
	run_until(f, connected);
	assert_int_equal(f->connect_status, RAFT_NOCONNECTION);
	assert_int_equal(f->accepted, 0);
	assert_non_null(
	    strstr(f->srv_log, "role reader not allowed here (CN=rd)"));
	assert_non_null(strstr(f->cli_log, "peer refused the handshake (is "
					   "our role allowed there?)"));
	fix_end(f);
	free(f);
}

static bool srv_logged(struct fix *f)
{
	return strstr(f->srv_log, "plain connection refused") != NULL;
}

static void test_plain_peer(void **state)
{
	struct fix *f = malloc(sizeof *f);
	uv_buf_t b;

	(void)state;
	/* require: raft_uv_tcp's plain handshake is refused */
	fix_start(f, true, NULL, NULL);
	run_until(f, srv_logged);
	assert_int_equal(f->accepted, 0);
	assert_non_null(strstr(f->srv_log, "refused 127.0.0.1:"));
	run_until(f, connected);
	fix_end(f);

	/* require = false: accepted as plain, with a warning */
	fix_start(f, false, NULL, NULL);
	run_until(f, accepted_and_connected);
	assert_int_equal(f->connect_status, 0);
	assert_int_equal(f->acc_id, 2);
	assert_non_null(strstr(f->srv_log, "accepting a plain connection"));
	assert_non_null(strstr(f->srv_log, "(id 2, plain, CN=-) up"));
	b = uv_buf_init("hello", 5);
	assert_int_equal(uv_read_start(f->acc_stream, big_alloc, echo_read), 0);
	assert_int_equal(uv_write(&f->wreq, f->cli_stream, &b, 1, NULL), 0);
	run_until(f, echo_received);
	assert_memory_equal(f->echo, "hello", 5);
	fix_end(f);
	free(f);
}

/* ---- limits before authentication ---- */

/* A raw TCP connection from 127.0.0.<host> that never says anything. */
struct raw {
	uv_tcp_t tcp;
	uv_connect_t req;
	struct fix *f;
	bool closed; /* the server closed it */
};

static int raws_closed;
static int first_closed = -1;
static struct raw *raws;

static void raw_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(size);
	buf->len = size;
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct raw *r = s->data;

	free(buf->base);
	if (n >= 0 || r->closed)
		return;
	r->closed = true;
	if (first_closed < 0)
		first_closed = (int)(r - raws);
	raws_closed++;
	uv_read_stop(s);
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct raw *r = req->data;

	if (status != 0) {
		uv_buf_t none = uv_buf_init(NULL, 0);

		raw_read((uv_stream_t *)&r->tcp, status, &none);
		return;
	}
	assert_int_equal(uv_read_start((uv_stream_t *)&r->tcp, raw_alloc,
				       raw_read),
			 0);
}

/* n raw connections to the server; connection i from 127.0.0.(2 + i /
 * per_host). */
static void raws_open(struct fix *f, int n, int per_host)
{
	struct sockaddr_in to;
	int port;

	raws = calloc((size_t)n, sizeof *raws);
	raws_closed = 0;
	first_closed = -1;
	sscanf(f->srv_addr, "127.0.0.1:%d", &port);
	uv_ip4_addr("127.0.0.1", port, &to);
	for (int i = 0; i < n; i++) {
		struct sockaddr_in from;
		char host[32];

		snprintf(host, sizeof host, "127.0.0.%d", 2 + i / per_host);
		uv_ip4_addr(host, 0, &from);
		raws[i].f = f;
		uv_tcp_init(&f->loop, &raws[i].tcp);
		raws[i].tcp.data = &raws[i];
		raws[i].req.data = &raws[i];
		assert_int_equal(uv_tcp_bind(&raws[i].tcp,
					     (struct sockaddr *)&from, 0),
				 0);
		assert_int_equal(uv_tcp_connect(&raws[i].req, &raws[i].tcp,
						(struct sockaddr *)&to,
						raw_connected),
				 0);
	}
}

static void raws_end(int n)
{
	for (int i = 0; i < n; i++)
		uv_close((uv_handle_t *)&raws[i].tcp, NULL);
}

static bool one_raw_closed(struct fix *f)
{
	(void)f;
	return raws_closed >= 1;
}

static void test_silent_per_address(void **state)
{
	/* silent connections from one address: the ninth is closed at once,
	 * the eight before it wait for their deadline */
	struct fix *f = malloc(sizeof *f);
	const int n = TRANSPORT_TLS_PENDING_PER_ADDR + 1;

	(void)state;
	fix_start(f, true, "a", "n2");
	run_until(f, accepted_and_connected);
	raws_open(f, n, n);
	run_until(f, one_raw_closed);
	assert_int_equal(first_closed, n - 1);
	assert_int_equal(raws_closed, 1);
	assert_non_null(strstr(f->srv_log, "refused 127.0.0.2:"));
	assert_non_null(strstr(f->srv_log, ": 8 connections from 127.0.0.2 "
					   "already in their handshakes"));
	/* the established link is unaffected */
	assert_int_equal(transport_tls_links(&f->srv), 1);
	raws_end(n);
	fix_end(f);
	free(raws);
	free(f);
}

/* A TLS client with n2's certificate that completes the handshake and
 * then says nothing. */
struct mute {
	struct tls_conn conn;
	bool handshake_done;
	bool ended; /* the server closed it */
	bool closed;
};

static void mute_handshake(struct tls_conn *c, int status)
{
	struct mute *m = c->data;

	assert_int_equal(status, 0);
	m->handshake_done = true;
}

static void mute_read(struct tls_conn *c, ssize_t n, const char *data)
{
	struct mute *m = c->data;

	(void)data;
	if (n < 0)
		m->ended = true;
}

static void mute_closed(struct tls_conn *c)
{
	struct mute *m = c->data;

	m->closed = true;
}

static struct mute *mute;

static void mute_connected(uv_connect_t *req, int status)
{
	assert_int_equal(status, 0);
	assert_int_equal(tls_conn_start(&mute->conn, mute_handshake, mute_read),
			 0);
	free(req);
}

static bool silent_ones_closed(struct fix *f)
{
	(void)f;
	return raws_closed >= 1 && mute->ended;
}

static void test_silent_deadline(void **state)
{
	struct fix *f = malloc(sizeof *f);
	const struct opts o = {.cli_id = 2, .dial_id = 1,
			       .srv_deadline_ms = 300};
	struct sockaddr_in to;
	uv_connect_t *req = malloc(sizeof *req);
	int port;

	(void)state;
	fix_start_opts(f, true, "a", "n2", &o);
	run_until(f, accepted_and_connected);
	/* one raw connection that never starts TLS, one TLS client that
	 * never sends its raft hello */
	raws_open(f, 1, 1);
	mute = calloc(1, sizeof *mute);
	assert_int_equal(tls_conn_init(&mute->conn, &f->loop, &f->ctx_cli,
				       TLS_CLIENT, TLS_ROLE_AGENT),
			 0);
	mute->conn.data = mute;
	sscanf(f->srv_addr, "127.0.0.1:%d", &port);
	uv_ip4_addr("127.0.0.1", port, &to);
	assert_int_equal(uv_tcp_connect(req, &mute->conn.tcp,
					(struct sockaddr *)&to, mute_connected),
			 0);
	run_until(f, silent_ones_closed);
	assert_true(mute->handshake_done);
	assert_non_null(
	    strstr(f->srv_log, ": no tls handshake within 300 ms of accept"));
	assert_non_null(
	    strstr(f->srv_log, ": no raft handshake within 300 ms of accept"));
	/* the real link lives on past the deadline */
	assert_int_equal(transport_tls_links(&f->srv), 1);
	tls_conn_close(&mute->conn, mute_closed);
	raws_end(1);
	fix_end(f);
	assert_true(mute->closed);
	free(mute);
	free(raws);
	free(f);
}

/* A server with n1's certificate that completes the TLS handshake, reads
 * the raft hello and never acknowledges it. */
struct mute_srv {
	uv_tcp_t listener;
	struct tls_conn conn;
	struct tls_ctx *ctx;
	bool accepted;
	bool closed;
};

static void mute_srv_handshake(struct tls_conn *c, int status)
{
	(void)c;
	(void)status;
}

static void mute_srv_read(struct tls_conn *c, ssize_t n, const char *data)
{
	(void)c;
	(void)n;
	(void)data;
}

static void mute_srv_accept(uv_stream_t *s, int status)
{
	struct mute_srv *m = s->data;

	assert_int_equal(status, 0);
	assert_false(m->accepted);
	assert_int_equal(tls_conn_init(&m->conn, s->loop, m->ctx, TLS_SERVER,
				       TLS_ROLE_AGENT),
			 0);
	m->conn.data = m;
	assert_int_equal(uv_accept(s, (uv_stream_t *)&m->conn.tcp), 0);
	assert_int_equal(
	    tls_conn_start(&m->conn, mute_srv_handshake, mute_srv_read), 0);
	m->accepted = true;
}

static void mute_srv_closed(struct tls_conn *c)
{
	struct mute_srv *m = c->data;

	m->closed = true;
}

static void test_no_ack_deadline(void **state)
{
	/* raft dials agent 1; the server proves it is agent 1 but never
	 * accepts the hello: the attempt fails at the client's deadline */
	struct fix *f = malloc(sizeof *f);
	const struct opts o = {.cli_id = 2, .dial_id = 1, .no_connect = true,
			       .cli_deadline_ms = 300};
	struct mute_srv *m = calloc(1, sizeof *m);
	struct sockaddr_in a;
	char addr[64];
	int port = free_port();

	(void)state;
	fix_start_opts(f, true, "a", "n2", &o);
	m->ctx = &f->ctx_srv;
	uv_tcp_init(&f->loop, &m->listener);
	m->listener.data = m;
	uv_ip4_addr("127.0.0.1", port, &a);
	assert_int_equal(uv_tcp_bind(&m->listener, (struct sockaddr *)&a, 0),
			 0);
	assert_int_equal(
	    uv_listen((uv_stream_t *)&m->listener, 8, mute_srv_accept), 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	f->creq.data = f;
	assert_int_equal(
	    f->cli.connect(&f->cli, &f->creq, 1, addr, on_connect), 0);
	run_until(f, connected);
	assert_true(m->accepted);
	assert_int_equal(f->connect_status, RAFT_NOCONNECTION);
	assert_null(f->cli_stream);
	assert_non_null(strstr(f->cli_log, ": not accepted within 300 ms of "
					   "the tcp connect"));
	tls_conn_close(&m->conn, mute_srv_closed);
	uv_close((uv_handle_t *)&m->listener, NULL);
	fix_end(f);
	assert_true(m->closed);
	free(m);
	free(f);
}

static bool flood_settled(struct fix *f)
{
	(void)f;
	return raws_closed >= FLOOD - TRANSPORT_TLS_PENDING;
}

static void test_peer_while_flooded(void **state)
{
	/* FLOOD silent connections from 9 addresses (8 each): the places
	 * for links in their handshakes are all taken, yet a real peer
	 * still gets its link */
	struct fix *f = malloc(sizeof *f);
	const struct opts o = {.cli_id = 2, .dial_id = 1, .no_connect = true};

	(void)state;
	fix_start_opts(f, true, "a", "n2", &o);
	raws_open(f, FLOOD, TRANSPORT_TLS_PENDING_PER_ADDR);
	run_until(f, flood_settled);
	assert_int_equal(raws_closed, FLOOD - TRANSPORT_TLS_PENDING);
	assert_non_null(strstr(f->srv_log, ": closed for a newer connection: "
					   "32 already in their handshakes, "
					   "8 of them from 127.0.0."));
	fix_connect(f, 1);
	run_until(f, accepted_and_connected);
	assert_int_equal(f->connect_status, 0);
	assert_int_equal(f->acc_id, 2);
	assert_int_equal(transport_tls_links(&f->srv), 1);
	/* it took the place of one flooding link */
	assert_int_equal(raws_closed, FLOOD - TRANSPORT_TLS_PENDING + 1);
	raws_end(FLOOD);
	fix_end(f);
	free(raws);
	free(f);
}

/* ---- a certificate speaks for one agent ---- */

static void test_hello_claims_other_agent(void **state)
{
	/* n2's certificate (agent 2) claiming raft id 1 in its hello */
	struct fix *f = malloc(sizeof *f);
	const struct opts o = {.cli_id = 1, .dial_id = 1};

	(void)state;
	fix_start_opts(f, true, "a", "n2", &o);
	run_until(f, connected);
	assert_int_equal(f->connect_status, RAFT_NOCONNECTION);
	assert_null(f->cli_stream);
	assert_int_equal(f->accepted, 0);
	assert_int_equal(transport_tls_links(&f->srv), 0);
	assert_non_null(strstr(f->srv_log, "refused 127.0.0.1:"));
	assert_non_null(strstr(f->srv_log, ": raft handshake claims id 1, "
					   "certificate names agent 2 "
					   "(CN=n2)"));
	assert_non_null(strstr(f->cli_log, "peer closed the connection "
					   "before accepting us"));

	/* retried, it is refused again and logged once a minute */
	for (int i = 0; i < 3; i++) {
		f->connected = false;
		fix_connect(f, 1);
		run_until(f, connected);
		assert_int_equal(f->connect_status, RAFT_NOCONNECTION);
	}
	assert_int_equal(f->accepted, 0);
	{
		const char *first = strstr(f->srv_log, "claims id 1");

		assert_null(strstr(first + 1, "claims id 1"));
	}
	fix_end(f);
	free(f);
}

static void test_server_not_the_dialled_agent(void **state)
{
	/* raft dials id 3 at an address where agent 1 (n1) answers */
	struct fix *f = malloc(sizeof *f);
	const struct opts o = {.cli_id = 2, .dial_id = 3};

	(void)state;
	fix_start_opts(f, true, "a", "n2", &o);
	run_until(f, connected);
	assert_int_equal(f->connect_status, RAFT_NOCONNECTION);
	assert_null(f->cli_stream);
	assert_int_equal(transport_tls_links(&f->cli), 0);
	assert_non_null(strstr(f->cli_log, "connect 127.0.0.1:"));
	assert_non_null(strstr(f->cli_log, ": server certificate names agent "
					   "1 (CN=n1), not raft id 3"));
	assert_int_equal(f->accepted, 0);
	fix_end(f);
	free(f);
}

static bool cancelled(struct fix *f) { return f->connected; }

static void test_close_cancels_connect(void **state)
{
	struct fix *f = malloc(sizeof *f);

	(void)state;
	fix_start(f, true, "a", "n2");
	/* close the client at once: its pending connect ends as canceled */
	f->cli.close(&f->cli, transport_closed);
	run_until(f, cancelled);
	assert_int_equal(f->connect_status, RAFT_CANCELED);
	f->srv.close(&f->srv, transport_closed);
	uv_close((uv_handle_t *)&f->guard, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->closed_transports, 2);
	transport_tls_close(&f->srv);
	transport_tls_close(&f->cli);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	tls_ctx_close(&f->ctx_srv);
	tls_ctx_close(&f->ctx_cli);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_link_and_bridge),
	    cmocka_unit_test(test_other_ca_refused),
	    cmocka_unit_test(test_role_refused),
	    cmocka_unit_test(test_plain_peer),
	    cmocka_unit_test(test_close_cancels_connect),
	    cmocka_unit_test(test_silent_per_address),
	    cmocka_unit_test(test_silent_deadline),
	    cmocka_unit_test(test_peer_while_flooded),
	    cmocka_unit_test(test_no_ack_deadline),
	    cmocka_unit_test(test_hello_claims_other_agent),
	    cmocka_unit_test(test_server_not_the_dialled_agent),
	};

	/* a peer that closes first must not kill the test with SIGPIPE:
	 * the write fails with EPIPE, as in poolpaird */
	signal(SIGPIPE, SIG_IGN);

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
