/* Tests of the HTTP server's limits before authentication and deadlines
 * (agent/http.h, "Deadlines", "Connections before authentication", the
 * control characters of the path and cfg->on_head): a server on 127.0.0.1,
 * port 0, on a private loop in the main thread; clients are blocking
 * sockets in a second thread, bound to 127.0.0.x source addresses where
 * the test needs several client addresses. Every assertion runs in the
 * main thread once the client is done. alarm() ends a test that hangs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/http.h"
#include "agent/http_util.h"
#include "pki_fixture.h"
#include "tls/tls.h"

#define N_OUT 8
#define OUT_CAP 4096

struct lx {
	uv_loop_t loop;
	struct http_server server;
	struct http_server_config cfg;
	struct tls_ctx tls;
	int with_tls;
	uv_async_t async;
	pthread_t thread;
	void (*client)(struct lx *x);
	int port;
	int closed;

	/* loop thread */
	int handled;
	int body_last; /* the streamed body's last value */
	int done_calls;
	int done_status;

	/* client thread */
	char out[N_OUT][OUT_CAP];
	size_t out_len[N_OUT];
};

/* ---- client side (second thread) ---- */

/* A connection from source address @src (NULL: any) to the server. */
static int cl_connect_from(int port, const char *src)
{
	struct sockaddr_in sin;
	struct timeval tv = {.tv_sec = 5};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (src != NULL) {
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		inet_pton(AF_INET, src, &sin.sin_addr);
		if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
			close(fd);
			return -1;
		}
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void cl_send(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0) {
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/* Reads until EOF, error or timeout into out[i]. */
static void cl_read_all(struct lx *x, int i, int fd)
{
	for (;;) {
		ssize_t r = recv(fd, x->out[i] + x->out_len[i],
				 OUT_CAP - 1 - x->out_len[i], 0);

		if (r <= 0) {
			if (r < 0 && x->out_len[i] == 0) {
				snprintf(x->out[i], OUT_CAP, "recv: %s",
					 strerror(errno));
				x->out_len[i] = strlen(x->out[i]);
			}
			break;
		}
		x->out_len[i] += (size_t)r;
		if (x->out_len[i] == OUT_CAP - 1) {
			break;
		}
	}
	x->out[i][x->out_len[i]] = '\0';
}

/* Sends @s one byte every @ms until the server says something (or @s is
 * all sent), then reads what it says into out[i]. */
static void cl_dribble(struct lx *x, int i, int fd, const char *s, int ms)
{
	for (; *s != '\0'; s++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, ms) != 0) {
			break; /* an answer, or the end */
		}
		if (send(fd, s, 1, MSG_NOSIGNAL) != 1) {
			break;
		}
	}
	cl_read_all(x, i, fd);
}

static void *client_main(void *arg)
{
	struct lx *x = arg;

	x->client(x);
	uv_async_send(&x->async);
	return NULL;
}

/* ---- server side (loop thread) ---- */

static void closed_cb(struct http_server *s)
{
	struct lx *x = (struct lx *)((char *)s - offsetof(struct lx, server));

	x->closed = 1;
}

static void async_cb(uv_async_t *a)
{
	struct lx *x = a->data;

	uv_close((uv_handle_t *)a, NULL);
	http_server_close(&x->server, closed_cb);
}

static void on_done(void *data, const struct http_request *req, int status,
		    uint64_t duration_ns)
{
	struct lx *x = data;

	(void)req;
	(void)duration_ns;
	x->done_calls++;
	x->done_status = status;
}

static int stream_match(void *data, const struct http_request *req)
{
	(void)data;
	return strncmp(req->path, "/s/", 3) == 0;
}

static void on_head(void *data, const struct http_request *req,
		    struct http_head_verdict *v)
{
	(void)data;
	if (strcmp(req->path, "/forbid") == 0) {
		v->status = 403;
		v->code = "forbidden";
		snprintf(v->message, sizeof v->message, "role %s not allowed",
			 tls_role_name(req->role));
	} else if (strcmp(req->path, "/small") == 0) {
		v->max_body = 10;
	}
}

static void body_cb(void *arg, struct http_request *req, const void *data,
		    size_t len, int last)
{
	struct lx *x = arg;

	(void)data;
	(void)len;
	x->body_last = last;
	if (last == 0) {
		http_request_resume(req);
		return;
	}
	/* after UV_ETIMEDOUT the server has answered: this only frees */
	http_respond(req, last > 0 ? 200 : 500, "text/plain", "end", 3, NULL);
}

static void handler(struct http_request *req)
{
	struct lx *x = req->data;

	x->handled++;
	if (req->streaming) {
		assert_int_equal(http_request_on_body(req, body_cb, x), 0);
		return;
	}
	http_respond(req, 200, "text/plain", "ok", 2, NULL);
}

static struct lx *lx_new(const struct http_server_config *cfg, int with_tls)
{
	struct lx *x = calloc(1, sizeof *x);

	assert_non_null(x);
	alarm(30);
	assert_int_equal(uv_loop_init(&x->loop), 0);
	if (cfg != NULL) {
		x->cfg = *cfg;
	}
	x->cfg.host = "127.0.0.1";
	x->cfg.port = 0;
	x->cfg.on_done = on_done;
	x->cfg.on_head = on_head;
	x->cfg.stream_match = stream_match;
	if (with_tls) {
		assert_int_equal(pki_open("limits"), 0);
		pki_ca("a", "");
		pki_issue("a", "srv", "--role operator");
		pki_ctx(&x->tls, "a", "srv");
		pki_close();
		x->with_tls = 1;
		x->cfg.tls = &x->tls;
	}
	assert_int_equal(
	    http_server_init(&x->server, &x->loop, &x->cfg, handler, x), 0);
	x->port = http_server_port(&x->server);
	assert_int_equal(uv_async_init(&x->loop, &x->async, async_cb), 0);
	x->async.data = x;
	return x;
}

/* Runs @client in a thread until it is done, closes the server and runs
 * the loop dry. */
static void lx_run(struct lx *x, void (*client)(struct lx *x))
{
	x->client = client;
	assert_int_equal(pthread_create(&x->thread, NULL, client_main, x), 0);
	assert_int_equal(uv_run(&x->loop, UV_RUN_DEFAULT), 0);
	pthread_join(x->thread, NULL);
	assert_true(x->closed);
	assert_int_equal(uv_loop_close(&x->loop), 0);
}

static void lx_free(struct lx *x)
{
	alarm(0);
	if (x->with_tls) {
		tls_ctx_close(&x->tls);
	}
	free(x);
}

static int status_of(const char *answer)
{
	int status = 0;

	if (sscanf(answer, "HTTP/1.1 %d", &status) != 1) {
		return 0;
	}
	return status;
}

/* ---- control characters in the path ---- */

static void client_control(struct lx *x)
{
	int fd = cl_connect_from(x->port, NULL);

	cl_send(fd, "GET /a%0D%0ALocation:%20http://evil/ HTTP/1.1\r\n\r\n");
	cl_read_all(x, 0, fd);
	close(fd);
	fd = cl_connect_from(x->port, NULL);
	cl_send(fd, "GET /a%7Fb HTTP/1.1\r\n\r\n");
	cl_read_all(x, 1, fd);
	close(fd);
	fd = cl_connect_from(x->port, NULL);
	cl_send(fd, "GET /a\tb HTTP/1.1\r\n\r\n");
	cl_read_all(x, 2, fd);
	close(fd);
	fd = cl_connect_from(x->port, NULL);
	cl_send(fd, "GET /a?x=\x0c HTTP/1.1\r\n\r\n");
	cl_read_all(x, 3, fd);
	close(fd);
	fd = cl_connect_from(x->port, NULL); /* still served */
	cl_send(fd, "GET /a%20b HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(x, 4, fd);
	close(fd);
}

static void test_control_characters_400(void **state)
{
	struct lx *x = lx_new(NULL, 0);

	(void)state;
	lx_run(x, client_control);
	assert_int_equal(status_of(x->out[0]), 400);
	assert_non_null(strstr(x->out[0], "control character in path"));
	assert_null(strstr(x->out[0], "evil"));
	assert_int_equal(status_of(x->out[1]), 400);
	assert_int_equal(status_of(x->out[2]), 400);
	assert_non_null(
	    strstr(x->out[2], "control character in request target"));
	assert_int_equal(status_of(x->out[3]), 400);
	assert_int_equal(status_of(x->out[4]), 200);
	assert_int_equal(x->handled, 1);
	lx_free(x);
}

static void test_path_decode(void **state)
{
	static const struct {
		const char *raw;
		int rv;
		const char *out;
	} cases[] = {
	    {"/v1/pools/pool%2Deast", 0, "/v1/pools/pool-east"},
	    {"/a+b%20c", 0, "/a+b c"},
	    {"/%e2%82%ac", 0, "/\xe2\x82\xac"},
	    {"/a%0D%0ALocation:%20x", UV_EILSEQ, ""},
	    {"/a%0a", UV_EILSEQ, ""},
	    {"/a%1f", UV_EILSEQ, ""},
	    {"/a%7F", UV_EILSEQ, ""},
	    {"/a\tb", UV_EILSEQ, ""},
	    {"/a\x0c", UV_EILSEQ, ""},
	    {"/a%00", UV_EINVAL, NULL},
	    {"/a%2", UV_EINVAL, NULL},
	    {"/a%zz", UV_EINVAL, NULL},
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rv = http_util_path_decode(
		    cases[i].raw, strlen(cases[i].raw), out, sizeof out);

		assert_int_equal(rv, cases[i].rv);
		if (cases[i].out != NULL) {
			assert_string_equal(out, cases[i].out);
		}
	}
	assert_int_equal(http_util_path_decode("/abcdef", 7, out, 4),
			 UV_ENOBUFS);
}

/* ---- deadlines ---- */

static void client_slow_head(struct lx *x)
{
	int fd = cl_connect_from(x->port, NULL);

	/* a byte every 20 ms: the idle timeout never fires */
	cl_dribble(
	    x, 0, fd,
	    "GET /x HTTP/1.1\r\nX-Slow: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\r\n\r\n",
	    20);
	close(fd);
}

static void test_head_deadline_408(void **state)
{
	struct http_server_config cfg = {.idle_timeout_ms = 2000,
					 .head_timeout_ms = 300};
	struct lx *x = lx_new(&cfg, 0);

	(void)state;
	lx_run(x, client_slow_head);
	assert_int_equal(status_of(x->out[0]), 408);
	assert_non_null(strstr(x->out[0], "\"request_timeout\""));
	assert_non_null(strstr(x->out[0], "Connection: close"));
	assert_int_equal(x->handled, 0);
	assert_int_equal(x->server.stats.timeouts_head, 1);
	lx_free(x);
}

static const char slow_body[] =
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789";

static void client_slow_body(struct lx *x)
{
	int fd = cl_connect_from(x->port, NULL);

	cl_send(fd, "POST /x HTTP/1.1\r\nContent-Length: 210\r\n\r\n");
	cl_dribble(x, 0, fd, slow_body, 20);
	close(fd);
}

static void test_body_rate_408(void **state)
{
	/* 20 ms a byte is 50 bytes/s: under 1000 bytes/s */
	struct http_server_config cfg = {.idle_timeout_ms = 2000,
					 .min_body_rate = 1000,
					 .body_window_ms = 300};
	struct lx *x = lx_new(&cfg, 0);

	(void)state;
	lx_run(x, client_slow_body);
	assert_int_equal(status_of(x->out[0]), 408);
	assert_non_null(strstr(x->out[0], "request body too slow"));
	assert_int_equal(x->handled, 0);
	assert_int_equal(x->server.stats.timeouts_body, 1);
	lx_free(x);
}

static void client_slow_stream(struct lx *x)
{
	int fd = cl_connect_from(x->port, NULL);

	cl_send(fd, "PUT /s/up HTTP/1.1\r\nContent-Length: 210\r\n\r\n");
	cl_dribble(x, 0, fd, slow_body, 20);
	close(fd);
}

static void test_stream_body_rate_408(void **state)
{
	struct http_server_config cfg = {.idle_timeout_ms = 2000,
					 .min_body_rate = 1000,
					 .body_window_ms = 300};
	struct lx *x = lx_new(&cfg, 0);

	(void)state;
	lx_run(x, client_slow_stream);
	assert_int_equal(status_of(x->out[0]), 408);
	assert_non_null(strstr(x->out[0], "request body too slow"));
	assert_int_equal(x->handled, 1);
	assert_int_equal(x->body_last, UV_ETIMEDOUT);
	assert_int_equal(x->done_calls, 1);
	assert_int_equal(x->done_status, 408);
	assert_int_equal(x->server.stats.timeouts_body, 1);
	lx_free(x);
}

static void client_silent(struct lx *x)
{
	int fd = cl_connect_from(x->port, NULL);

	/* no TLS handshake at all: closed at the handshake deadline, long
	 * before the idle timeout (60 s) or the receive timeout (5 s) */
	cl_read_all(x, 0, fd);
	close(fd);
}

static void test_handshake_deadline(void **state)
{
	struct http_server_config cfg = {.handshake_timeout_ms = 200};
	struct lx *x = lx_new(&cfg, 1);

	(void)state;
	lx_run(x, client_silent);
	assert_string_equal(x->out[0], "");
	assert_int_equal(x->server.stats.timeouts_handshake, 1);
	lx_free(x);
}

/* ---- on_head: before the body ---- */

static void client_head_verdict(struct lx *x)
{
	int fd = cl_connect_from(x->port, NULL);

	/* the body never comes: the answer must not wait for it */
	cl_send(fd, "POST /forbid HTTP/1.1\r\nContent-Length: 100\r\n"
		    "Expect: 100-continue\r\n\r\n");
	cl_read_all(x, 0, fd);
	close(fd);
	fd = cl_connect_from(x->port, NULL);
	cl_send(fd, "POST /small HTTP/1.1\r\nContent-Length: 11\r\n\r\n"
		    "0123456789a");
	cl_read_all(x, 1, fd);
	close(fd);
	fd = cl_connect_from(x->port, NULL);
	cl_send(fd, "POST /small HTTP/1.1\r\nContent-Length: 10\r\n"
		    "Connection: close\r\n\r\n0123456789");
	cl_read_all(x, 2, fd);
	close(fd);
	fd = cl_connect_from(x->port, NULL);
	cl_send(fd, "POST /other HTTP/1.1\r\nContent-Length: 11\r\n"
		    "Connection: close\r\n\r\n0123456789a");
	cl_read_all(x, 3, fd);
	close(fd);
}

static void test_head_verdict_before_body(void **state)
{
	struct lx *x = lx_new(NULL, 0);

	(void)state;
	lx_run(x, client_head_verdict);
	assert_int_equal(status_of(x->out[0]), 403);
	assert_null(strstr(x->out[0], "100 Continue"));
	assert_non_null(strstr(x->out[0], "{\"error\":\"forbidden\","
					  "\"message\":\"role none not "
					  "allowed\"}"));
	assert_non_null(strstr(x->out[0], "Connection: close"));
	assert_int_equal(status_of(x->out[1]), 413);
	assert_int_equal(status_of(x->out[2]), 200);
	assert_int_equal(status_of(x->out[3]), 200);
	assert_int_equal(x->handled, 2);
	lx_free(x);
}

/* ---- connections before authentication ---- */

static void client_per_address(struct lx *x)
{
	int a = cl_connect_from(x->port, "127.0.0.2");
	int b = cl_connect_from(x->port, "127.0.0.2");
	int c, d;

	usleep(300 * 1000); /* a and b are past the grace */
	c = cl_connect_from(x->port, "127.0.0.2");
	cl_read_all(x, 0, c); /* refused: closed without a byte */
	close(c);
	d = cl_connect_from(x->port, "127.0.0.3");
	cl_send(d, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(x, 1, d);
	close(d);
	/* a finishes its first request: served */
	cl_send(a, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(x, 2, a);
	close(a);
	close(b);
}

static void test_per_address_cap(void **state)
{
	struct http_server_config cfg = {.max_unauthenticated_per_address = 2,
					 .unauth_grace_ms = 100};
	struct lx *x = lx_new(&cfg, 0);

	(void)state;
	lx_run(x, client_per_address);
	assert_true(strncmp(x->out[0], "HTTP", 4) != 0);
	assert_int_equal(status_of(x->out[1]), 200);
	assert_int_equal(status_of(x->out[2]), 200);
	assert_int_equal(x->server.stats.refused_address, 1);
	lx_free(x);
}

static void client_evict(struct lx *x)
{
	int k = cl_connect_from(x->port, "127.0.0.4");
	int fds[3], d, i;

	/* an established connection (its first request done) */
	cl_send(k, "GET /keep HTTP/1.1\r\n\r\n");
	usleep(100 * 1000);
	for (i = 0; i < 3; i++) {
		fds[i] = cl_connect_from(x->port, "127.0.0.2");
		usleep(20 * 1000);
	}
	usleep(300 * 1000); /* they are past the grace, the pool full */
	d = cl_connect_from(x->port, "127.0.0.3");
	cl_send(d, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(x, 0, d);
	close(d);
	cl_read_all(x, 1, fds[0]); /* the oldest went */
	for (i = 0; i < 3; i++) {
		close(fds[i]);
	}
	/* the established one was never at stake */
	cl_send(k, "GET /again HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(x, 2, k);
	close(k);
}

static void test_unauthenticated_evicted_for_another_address(void **state)
{
	struct http_server_config cfg = {.max_connections = 16,
					 .max_unauthenticated = 3,
					 .max_unauthenticated_per_address = 3,
					 .unauth_grace_ms = 100};
	struct lx *x = lx_new(&cfg, 0);

	(void)state;
	lx_run(x, client_evict);
	assert_int_equal(status_of(x->out[0]), 200);
	assert_string_equal(x->out[1], "");
	assert_int_equal(status_of(x->out[2]), 200);
	/* the keep-alive answer and the second one on the same connection */
	assert_non_null(strstr(x->out[2] + 4, "HTTP/1.1 200"));
	assert_int_equal(x->server.stats.evicted, 1);
	assert_int_equal(x->server.stats.refused_address, 0);
	lx_free(x);
}

static void client_burst(struct lx *x)
{
	int fds[N_OUT], i;

	/* all connected (the kernel's backlog) before any request */
	for (i = 0; i < N_OUT; i++) {
		fds[i] = cl_connect_from(x->port, NULL);
	}
	for (i = 0; i < N_OUT; i++) {
		cl_send(fds[i], "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
	}
	for (i = 0; i < N_OUT; i++) {
		cl_read_all(x, i, fds[i]);
		close(fds[i]);
	}
}

static void test_burst_waits_for_room(void **state)
{
	/* young connections are never refused for their number: the
	 * accept waits for room */
	struct http_server_config cfg = {.max_connections = 16,
					 .max_unauthenticated = 2,
					 .max_unauthenticated_per_address = 2,
					 .unauth_grace_ms = 5000};
	struct lx *x = lx_new(&cfg, 0);
	int i;

	(void)state;
	lx_run(x, client_burst);
	for (i = 0; i < N_OUT; i++) {
		assert_int_equal(status_of(x->out[i]), 200);
	}
	assert_int_equal(x->handled, N_OUT);
	assert_int_equal(x->server.stats.refused_address, 0);
	assert_int_equal(x->server.stats.evicted, 0);
	lx_free(x);
}

static void test_config_errors(void **state)
{
	struct http_server_config cfg = {.host = "127.0.0.1",
					 .max_connections = 4,
					 .max_unauthenticated = 5};
	struct http_server s;
	uv_loop_t loop;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(http_server_init(&s, &loop, &cfg, handler, NULL),
			 UV_EINVAL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_control_characters_400),
	    cmocka_unit_test(test_path_decode),
	    cmocka_unit_test(test_head_deadline_408),
	    cmocka_unit_test(test_body_rate_408),
	    cmocka_unit_test(test_stream_body_rate_408),
	    cmocka_unit_test(test_handshake_deadline),
	    cmocka_unit_test(test_head_verdict_before_body),
	    cmocka_unit_test(test_per_address_cap),
	    cmocka_unit_test(test_unauthenticated_evicted_for_another_address),
	    cmocka_unit_test(test_burst_waits_for_room),
	    cmocka_unit_test(test_config_errors),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
