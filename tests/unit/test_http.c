/* Tests of the HTTP server (agent/http.h, agent/http_*.c): a server on
 * 127.0.0.1, port 0, on a private loop in the main thread; clients are
 * blocking sockets in a second thread that only record what they receive
 * (all assertions run in the main thread). alarm() ends a test that hangs. */
#include <signal.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <http_parser.h> /* the server's 400 message is the parser's */

#include "agent/hclient.h"
#include "agent/http.h"
#include "pki_fixture.h"
#include "tls/tls.h"

#define OUT_CAP 16384
#define N_OUT 4

struct fx {
	uv_loop_t loop;
	struct http_server server;
	struct http_server_config cfg;
	uv_async_t client_async;
	uv_timer_t timer;
	pthread_t thread;
	void (*client)(struct fx *f);
	int port;
	int client_signalled; /* client thread: async sent */
	int client_finished;  /* loop thread: async received */
	int close_requested;
	int server_closed;
	int expect_handled; /* requests the handler must see before closing */

	/* loop thread: handler side */
	struct http_request *held;
	int handled;
	int done_calls;
	int done_status[8];
	char peers[2][HTTP_PEER_LEN];
	uint64_t done_duration_ns;
	int orphan_answered;

	/* loop thread: streamed requests and answers */
	uv_timer_t stimer;
	int up_paused; /* a piece is held; none may come before resume */
	int up_early;  /* pieces delivered while paused (must stay 0) */
	int up_last;   /* the last value seen by the body callback */
	uint64_t up_bytes, up_hash;
	size_t up_max_piece;
	uint64_t down_total, down_off;
	int down_error; /* status of the first failed write, 0 if none */
	int down_ended;
	unsigned char *down_buf;

	/* client thread: streamed data received */
	uint64_t cl_bytes, cl_hash;

	/* client thread: what it received */
	char out[N_OUT][OUT_CAP];
	size_t out_len[N_OUT];
	long rc[N_OUT];
	double elapsed_ms;
};

/* ---- client side (second thread) ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cl_connect(int port)
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

static void cl_send_n(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0) {
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void cl_send(int fd, const char *s) { cl_send_n(fd, s, strlen(s)); }

/* Reads until EOF, error or timeout into out[i]; rc[i] = last recv(). */
static void cl_read_all(struct fx *f, int i, int fd)
{
	for (;;) {
		ssize_t r = recv(fd, f->out[i] + f->out_len[i],
				 OUT_CAP - 1 - f->out_len[i], 0);

		if (r <= 0) {
			f->rc[i] = r < 0 ? -errno : 0;
			break;
		}
		f->out_len[i] += (size_t)r;
		if (f->out_len[i] == OUT_CAP - 1) {
			break;
		}
	}
	f->out[i][f->out_len[i]] = '\0';
}

/* Reads exactly @n bytes (or until EOF/timeout) into out[i]. */
static void cl_read_n(struct fx *f, int i, int fd, size_t n)
{
	size_t want = f->out_len[i] + n;

	while (f->out_len[i] < want && f->out_len[i] < OUT_CAP - 1) {
		ssize_t r = recv(fd, f->out[i] + f->out_len[i],
				 want - f->out_len[i], 0);

		if (r <= 0) {
			f->rc[i] = r < 0 ? -errno : 0;
			break;
		}
		f->out_len[i] += (size_t)r;
	}
	f->out[i][f->out_len[i]] = '\0';
}

/* Reads one response with a Content-Length into out[i]; byte by byte
 * through the headers so that nothing of a following response is taken. */
static void cl_read_response(struct fx *f, int i, int fd)
{
	const char *cl;
	size_t start = f->out_len[i];

	while (strstr(f->out[i] + start, "\r\n\r\n") == NULL) {
		size_t before = f->out_len[i];

		cl_read_n(f, i, fd, 1);
		if (f->out_len[i] == before) {
			return;
		}
	}
	cl = strstr(f->out[i] + start, "Content-Length: ");
	if (cl != NULL) {
		size_t len = strtoul(cl + 16, NULL, 10);

		cl_read_n(f, i, fd, len);
	}
}

static void cl_done(struct fx *f)
{
	if (!f->client_signalled) {
		f->client_signalled = 1;
		uv_async_send(&f->client_async);
	}
}

static void *client_main(void *arg)
{
	struct fx *f = arg;

	f->client(f);
	cl_done(f);
	return NULL;
}

/* ---- server side (loop thread) ---- */

static void maybe_finish(struct fx *f);

static void server_closed_cb(struct http_server *s)
{
	struct fx *f = (struct fx *)((char *)s - offsetof(struct fx, server));

	f->server_closed = 1;
	if (f->held != NULL) {
		/* the server is gone: answering only frees the request */
		http_respond(f->held, 200, "text/plain", "late", 4, NULL);
		f->held = NULL;
		f->orphan_answered = 1;
	}
	maybe_finish(f);
}

static void maybe_finish(struct fx *f)
{
	if (!f->client_finished || f->held != NULL ||
	    f->handled < f->expect_handled) {
		return;
	}
	if (!uv_is_closing((uv_handle_t *)&f->timer)) {
		uv_close((uv_handle_t *)&f->timer, NULL);
		uv_close((uv_handle_t *)&f->stimer, NULL);
	}
	if (!f->close_requested) {
		f->close_requested = 1;
		http_server_close(&f->server, server_closed_cb);
	}
}

static void client_async_cb(uv_async_t *a)
{
	struct fx *f = a->data;

	f->client_finished = 1;
	uv_close((uv_handle_t *)a, NULL);
	maybe_finish(f);
}

static void async_answer_cb(uv_timer_t *t)
{
	struct fx *f = t->data;
	struct http_request *req = f->held;

	f->held = NULL;
	http_respond(req, 200, "text/plain", "later", 5, "X-Async: yes\r\n");
	maybe_finish(f);
}

static void on_done(void *data, const struct http_request *req, int status,
		    uint64_t duration_ns)
{
	struct fx *f = data;

	if (f->done_calls < 8) {
		f->done_status[f->done_calls] = status;
	}
	f->done_calls++;
	f->done_duration_ns = duration_ns;
	assert_non_null(req->method);
	assert_non_null(req->path);
}

/* ---- streaming (loop thread) ---- */

#define BIG ((uint64_t)50 * 1000 * 1000)
#define DOWN_PIECE ((size_t)1 << 20)
#define FNV_INIT 14695981039346656037ULL

/* Byte @i of every test stream. */
static unsigned char pattern(uint64_t i)
{
	return (unsigned char)(i ^ (i >> 8) ^ (i >> 17) ^ 0x5a);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int stream_match(void *data, const struct http_request *req)
{
	return strncmp(req->path, "/s/up", 5) == 0;
}

static void resume_cb(uv_timer_t *t)
{
	struct fx *f = t->data;

	f->up_paused = 0;
	http_request_resume(f->held);
}

static void up_body(void *arg, struct http_request *req, const void *data,
		    size_t len, int last)
{
	struct fx *f = arg;
	char text[128];
	int n;

	if (f->up_paused) {
		f->up_early++;
	}
	f->up_last = last;
	if (last < 0) {
		/* the client went away: answering only frees the request */
		f->held = NULL;
		http_respond(req, 500, NULL, NULL, 0, NULL);
		maybe_finish(f);
		return;
	}
	if (last) {
		n = snprintf(text, sizeof text, "bytes=%llu hash=%016llx",
			     (unsigned long long)f->up_bytes,
			     (unsigned long long)f->up_hash);
		f->held = NULL;
		http_respond(req, 200, "text/plain", text, (size_t)n, NULL);
		maybe_finish(f);
		return;
	}
	if (len > f->up_max_piece) {
		f->up_max_piece = len;
	}
	f->up_hash = fnv(f->up_hash, data, len);
	f->up_bytes += len;
	/* resume from a later loop turn: the server must wait for it */
	f->up_paused = 1;
	uv_timer_start(&f->stimer, resume_cb, 0, 0);
}

static void down_next(struct fx *f);

static void down_written(void *arg, int status)
{
	struct fx *f = arg;

	if (status != 0) {
		if (f->down_error == 0) {
			f->down_error = status;
		}
		f->down_ended = 1;
		http_respond_end(f->held);
		f->held = NULL;
		maybe_finish(f);
		return;
	}
	down_next(f);
}

static void down_next(struct fx *f)
{
	size_t n = DOWN_PIECE, i;
	int rv;

	if (f->down_off == f->down_total) {
		f->down_ended = 1;
		http_respond_end(f->held);
		f->held = NULL;
		maybe_finish(f);
		return;
	}
	if (f->down_total - f->down_off < n) {
		n = (size_t)(f->down_total - f->down_off);
	}
	for (i = 0; i < n; i++) {
		f->down_buf[i] = pattern(f->down_off + i);
	}
	rv = http_respond_write(f->held, f->down_buf, n, down_written, f);
	if (rv != 0) {
		down_written(f, rv);
		return;
	}
	/* one write in flight */
	assert_int_equal(
	    http_respond_write(f->held, f->down_buf, 1, down_written, f),
	    UV_EBUSY);
	f->down_off += n;
}

static void stream_handler(struct http_request *req)
{
	struct fx *f = req->data;

	if (strcmp(req->path, "/s/up413") == 0) {
		assert_true(req->streaming);
		http_respond_error(req, 413, "too_large", "no room");
		return;
	}
	if (strncmp(req->path, "/s/up", 5) == 0) {
		assert_true(req->streaming);
		assert_int_equal(req->body_len, 0);
		f->held = req;
		f->up_hash = FNV_INIT;
		assert_int_equal(http_request_on_body(req, up_body, f), 0);
		assert_int_equal(http_request_on_body(req, up_body, f),
				 UV_EINVAL);
		return;
	}
	/* /s/down, /s/down-chunked: a streamed answer */
	assert_false(req->streaming);
	assert_int_equal(http_respond_write(req, "x", 1, down_written, f),
			 UV_EINVAL); /* not started */
	f->held = req;
	f->down_total = BIG;
	f->down_off = 0;
	if (f->down_buf == NULL) {
		f->down_buf = malloc(DOWN_PIECE);
		assert_non_null(f->down_buf);
	}
	assert_int_equal(
	    http_respond_start(
		req, 200, "application/octet-stream",
		strcmp(req->path, "/s/down") == 0 ? BIG : HTTP_LENGTH_CHUNKED,
		"X-Stream: 1\r\n"),
	    0);
	down_next(f);
}

static void handler(struct http_request *req)
{
	struct fx *f = req->data;
	const char *who;
	char name[64];
	char *body;
	size_t cap;
	int n;

	if (strncmp(req->path, "/s/", 3) == 0) {
		f->handled++;
		stream_handler(req);
		return;
	}

	if (f->handled < 2) {
		memcpy(f->peers[f->handled], req->peer, HTTP_PEER_LEN);
	}
	f->handled++;
	if (strcmp(req->path, "/async") == 0) {
		f->held = req;
		uv_timer_start(&f->timer, async_answer_cb, 20, 0);
		return;
	}
	if (strcmp(req->path, "/hold") == 0) {
		f->held = req;
		f->close_requested = 1;
		http_server_close(&f->server, server_closed_cb);
		return;
	}
	if (strcmp(req->path, "/close-then-answer") == 0) {
		f->close_requested = 1;
		http_server_close(&f->server, server_closed_cb);
		http_respond_json(req, 200, "{}", NULL);
		return;
	}
	if (strcmp(req->path, "/error") == 0) {
		http_respond_error(req, 409, "exists",
				   "a \"quoted\" line\nnext\x01\x1f tab\t "
				   "back\\slash \xff"
				   " end \xc3\xa9");
		return;
	}
	if (strcmp(req->path, "/json") == 0) {
		http_respond_json(req, 201, "{\"ok\":true}", "X-Extra: 1\r\n");
		return;
	}
	if (strcmp(req->path, "/empty") == 0) {
		http_respond(req, 204, NULL, NULL, 0, NULL);
		return;
	}
	if (strcmp(req->path, "/q") == 0) {
		char a[16], b[16], c[16], d[16], e[16], lg[5], nm[16], x[16];
		int rd, re, rl, rx;

		assert_int_equal(http_query_param(req, "a", a, sizeof a), 0);
		assert_int_equal(http_query_param(req, "b", b, sizeof b), 0);
		assert_int_equal(http_query_param(req, "c", c, sizeof c), 0);
		rd = http_query_param(req, "d", d, sizeof d);
		re = http_query_param(req, "e", e, sizeof e);
		rl = http_query_param(req, "long", lg, sizeof lg);
		assert_int_equal(http_query_param(req, "name", nm, sizeof nm),
				 0);
		rx = http_query_param(req, "missing", x, sizeof x);
		cap = 256;
		body = malloc(cap);
		assert_non_null(body);
		n = snprintf(body, cap,
			     "a=%s b=%s c=%s d=%d e=%d long=%d:%s "
			     "name=%s missing=%d",
			     a, b, c, rd, re, rl, lg, nm, rx);
		http_respond(req, 200, "text/plain", body, (size_t)n, NULL);
		free(body);
		return;
	}
	/* echo */
	who = http_request_header(req, "x-WHO");
	if (http_query_param(req, "name", name, sizeof name) != 0) {
		snprintf(name, sizeof name, "-");
	}
	cap = req->body_len + 512;
	body = malloc(cap);
	assert_non_null(body);
	n = snprintf(body, cap, "%s %s q=%s name=%s who=%s len=%zu body=%s",
		     req->method, req->path, req->query, name, who ? who : "-",
		     req->body_len, req->body);
	http_respond(req, 200, "text/plain", body, (size_t)n, NULL);
	free(body);
}

static struct fx *fx_new(const struct http_server_config *cfg)
{
	struct fx *f = calloc(1, sizeof *f);

	assert_non_null(f);
	alarm(20);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	if (cfg != NULL) {
		f->cfg = *cfg;
	} else {
		f->cfg.max_body = 1024;
		f->cfg.max_header = 1024;
		f->cfg.idle_timeout_ms = 5000;
		f->cfg.max_connections = 8;
	}
	f->cfg.host = "127.0.0.1";
	f->cfg.port = 0;
	f->cfg.on_done = on_done;
	f->cfg.stream_match = stream_match;
	assert_int_equal(
	    http_server_init(&f->server, &f->loop, &f->cfg, handler, f), 0);
	f->port = http_server_port(&f->server);
	assert_true(f->port > 0);
	assert_int_equal(
	    uv_async_init(&f->loop, &f->client_async, client_async_cb), 0);
	f->client_async.data = f;
	uv_timer_init(&f->loop, &f->timer);
	f->timer.data = f;
	uv_timer_init(&f->loop, &f->stimer);
	f->stimer.data = f;
	return f;
}

/* Runs @client in a thread until it is done and every expected request
 * was handled, closes the server and runs the loop dry. */
static void fx_run(struct fx *f, void (*client)(struct fx *f))
{
	f->client = client;
	assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	pthread_join(f->thread, NULL);
	assert_true(f->server_closed);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void fx_free(struct fx *f)
{
	alarm(0);
	free(f->down_buf);
	free(f);
}

/* The exact bytes of a text/plain answer. */
static char *ok_text(const char *body, int keep)
{
	static char buf[OUT_CAP];

	snprintf(buf, sizeof buf,
		 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		 "Content-Length: %zu\r\nConnection: %s\r\n\r\n%s",
		 strlen(body), keep ? "keep-alive" : "close", body);
	return buf;
}

static void expect_error(const char *got, int status, const char *reason,
			 const char *json)
{
	char want[1024];

	snprintf(want, sizeof want,
		 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		 status, reason, strlen(json), json);
	assert_string_equal(got, want);
}

/* ---- tests ---- */

static void client_get_query(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /pools/x?name=pool%20east+b&b=2 HTTP/1.1\r\n"
		    "Host: t\r\nX-Who: alice \r\n\r\n");
	cl_read_response(f, 0, fd);
	close(fd);
}

static void test_get_with_query(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_get_query);
	assert_string_equal(f->out[0],
			    ok_text("GET /pools/x q=name=pool%20east+b&b=2 "
				    "name=pool east b who=alice len=0 body=",
				    1));
	assert_int_equal(f->handled, 1);
	assert_int_equal(f->done_calls, 1);
	assert_int_equal(f->done_status[0], 200);
	assert_int_equal(f->server.requests_total, 1);
	assert_true(strncmp(f->peers[0], "127.0.0.1:", 10) == 0);
	fx_free(f);
}

static void client_post(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "POST /echo HTTP/1.1\r\nContent-Length: 11\r\n"
		    "Content-Type: text/plain\r\n\r\nhello world");
	cl_read_response(f, 0, fd);
	close(fd);
}

static void test_post_body_echoed(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_post);
	assert_string_equal(
	    f->out[0],
	    ok_text("POST /echo q= name=- who=- len=11 body=hello world", 1));
	fx_free(f);
}

static void client_chunked(struct fx *f)
{
	static const char req[] =
	    "POST /chunked HTTP/1.1\r\nHost: t\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
	int fd = cl_connect(f->port);
	size_t i;

	/* in small pieces, so that every parser callback is split */
	for (i = 0; i < sizeof req - 1; i += 7) {
		size_t n = sizeof req - 1 - i < 7 ? sizeof req - 1 - i : 7;

		cl_send_n(fd, req + i, n);
		usleep(1000);
	}
	cl_read_response(f, 0, fd);
	close(fd);
}

static void test_chunked_body(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_chunked);
	assert_string_equal(
	    f->out[0],
	    ok_text("POST /chunked q= name=- who=- len=11 body=hello world",
		    1));
	fx_free(f);
}

static void client_keep_alive(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /one HTTP/1.1\r\n\r\n");
	cl_read_response(f, 0, fd);
	cl_send(fd, "GET /two HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(f, 1, fd);
	close(fd);
}

static void test_keep_alive(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 2;
	fx_run(f, client_keep_alive);
	assert_string_equal(f->out[0],
			    ok_text("GET /one q= name=- who=- len=0 body=", 1));
	assert_string_equal(f->out[1],
			    ok_text("GET /two q= name=- who=- len=0 body=", 0));
	assert_int_equal(f->rc[1], 0); /* closed by the server */
	assert_string_equal(f->peers[0], f->peers[1]); /* one connection */
	assert_int_equal(f->server.requests_total, 2);
	fx_free(f);
}

static void client_pipelined(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
		    "GET /b?name=x HTTP/1.1\r\n\r\n"
		    "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(f, 0, fd);
	close(fd);
}

static void test_pipelined_in_order(void **state)
{
	struct fx *f = fx_new(NULL);
	char want[OUT_CAP];

	f->expect_handled = 3;
	fx_run(f, client_pipelined);
	snprintf(want, sizeof want, "%s",
		 ok_text("POST /a q= name=- who=- len=3 body=abc", 1));
	strcat(want, ok_text("GET /b q=name=x name=x who=- len=0 body=", 1));
	strcat(want, ok_text("GET /c q= name=- who=- len=0 body=", 0));
	assert_string_equal(f->out[0], want);
	assert_int_equal(f->rc[0], 0);
	fx_free(f);
}

static void client_async(struct fx *f)
{
	int fd = cl_connect(f->port);
	double t0 = now_ms();

	cl_send(fd, "GET /async HTTP/1.1\r\n\r\n");
	cl_read_response(f, 0, fd);
	f->elapsed_ms = now_ms() - t0;
	close(fd);
}

static void test_async_answer(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_async);
	assert_string_equal(f->out[0],
			    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			    "Content-Length: 5\r\nConnection: keep-alive\r\n"
			    "X-Async: yes\r\n\r\nlater");
	assert_true(f->elapsed_ms >= 15.0);
	assert_int_equal(f->done_calls, 1);
	assert_true(f->done_duration_ns >= 15u * 1000 * 1000);
	fx_free(f);
}

static void client_disconnect(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /async HTTP/1.1\r\n\r\n");
	close(fd);
}

static void test_disconnect_before_async_answer(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_disconnect);
	assert_int_equal(f->handled, 1);
	assert_null(f->held);
	assert_int_equal(f->done_calls, 1);
	assert_int_equal(f->done_status[0], 200);
	fx_free(f);
}

static void client_hold(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /hold HTTP/1.1\r\n\r\n");
	cl_read_all(f, 0, fd);
	close(fd);
}

static void test_server_close_with_pending_request(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_hold);
	assert_int_equal(f->out_len[0], 0); /* closed without an answer */
	assert_true(f->orphan_answered);
	/* answered after the server was closed: not observed any more */
	assert_int_equal(f->done_calls, 0);
	assert_int_equal(f->server.requests_total, 0);
	fx_free(f);
}

static void client_close_then_answer(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /close-then-answer HTTP/1.1\r\n\r\n");
	cl_read_all(f, 0, fd);
	close(fd);
}

static void test_answer_while_server_closing(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_close_then_answer);
	assert_int_equal(f->out_len[0], 0);
	assert_int_equal(f->done_calls, 1);
	assert_int_equal(f->server.requests_total, 1);
	fx_free(f);
}

static void client_oversize_body(struct fx *f)
{
	char chunk[4000];
	int fd = cl_connect(f->port);

	memset(chunk, 'x', sizeof chunk);
	cl_send(fd, "POST /big HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
	cl_send_n(fd, chunk, sizeof chunk);
	cl_read_all(f, 0, fd);
	close(fd);

	fd = cl_connect(f->port);
	cl_send(fd, "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "300\r\n");
	cl_send_n(fd, chunk, 0x300);
	cl_send(fd, "\r\n300\r\n");
	cl_send_n(fd, chunk, 0x300);
	cl_send(fd, "\r\n0\r\n\r\n");
	cl_read_all(f, 1, fd);
	close(fd);
}

static void test_oversize_body_413(void **state)
{
	static const char json[] =
	    "{\"error\":\"too_large\",\"message\":\"request body too large\"}";
	struct fx *f = fx_new(NULL);

	fx_run(f, client_oversize_body);
	expect_error(f->out[0], 413, "Payload Too Large", json);
	expect_error(f->out[1], 413, "Payload Too Large", json);
	assert_int_equal(f->rc[0], 0);
	assert_int_equal(f->handled, 0);
	assert_int_equal(f->done_calls, 2);
	assert_int_equal(f->done_status[0], 413);
	fx_free(f);
}

static void client_oversize_headers(struct fx *f)
{
	char big[2100];
	int fd = cl_connect(f->port);

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cl_send(fd, "GET / HTTP/1.1\r\nX-Big: ");
	cl_send(fd, big);
	cl_send(fd, "\r\n\r\n");
	cl_read_all(f, 0, fd);
	close(fd);

	/* many small headers count as well */
	fd = cl_connect(f->port);
	cl_send(fd, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 300; i++) {
		cl_send(fd, "A: b\r\n");
	}
	cl_send(fd, "\r\n");
	cl_read_all(f, 1, fd);
	close(fd);
}

static void test_oversize_headers_431(void **state)
{
	static const char json[] = "{\"error\":\"too_large\","
				   "\"message\":\"request headers too large\"}";
	struct fx *f = fx_new(NULL);

	fx_run(f, client_oversize_headers);
	expect_error(f->out[0], 431, "Request Header Fields Too Large", json);
	expect_error(f->out[1], 431, "Request Header Fields Too Large", json);
	assert_int_equal(f->handled, 0);
	fx_free(f);
}

static void client_garbage(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send_n(fd, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
	cl_read_all(f, 0, fd);
	close(fd);

	fd = cl_connect(f->port);
	cl_send(fd, "GET / HTTP/1.1\r\nContent-Length: 1\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n");
	cl_read_all(f, 1, fd);
	close(fd);
}

static void test_garbage_400(void **state)
{
	char json[256];
	struct fx *f = fx_new(NULL);

	fx_run(f, client_garbage);
	snprintf(json, sizeof json,
		 "{\"error\":\"bad_request\",\"message\":\"%s\"}",
		 http_errno_description(HPE_INVALID_METHOD));
	expect_error(f->out[0], 400, "Bad Request", json);
	assert_true(strncmp(f->out[1], "HTTP/1.1 400 Bad Request\r\n", 26) ==
		    0);
	assert_non_null(strstr(f->out[1], "\"error\":\"bad_request\""));
	assert_int_equal(f->handled, 0);
	assert_int_equal(f->done_calls, 2);
	assert_int_equal(f->done_status[0], 400);
	fx_free(f);
}

static void client_percent(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /users/sip%3Aalice%40example.com/pro%66ile%20x+y"
		    "?k=%41 HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(f, 0, fd);
	close(fd);
}

static void test_percent_decoded_path(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_percent);
	assert_string_equal(f->out[0],
			    ok_text("GET /users/sip:alice@example.com/profile "
				    "x+y q=k=%41 name=- who=- len=0 body=",
				    0));
	fx_free(f);
}

static void client_bad_percent(struct fx *f)
{
	static const char *const paths[] = {"/a%zz", "/a%4", "/a%00b"};
	int i;

	for (i = 0; i < 3; i++) {
		char req[128];
		int fd = cl_connect(f->port);

		snprintf(req, sizeof req, "GET %s HTTP/1.1\r\n\r\n", paths[i]);
		cl_send(fd, req);
		cl_read_all(f, i, fd);
		close(fd);
	}
}

static void test_bad_percent_400(void **state)
{
	static const char json[] =
	    "{\"error\":\"bad_request\","
	    "\"message\":\"invalid percent-encoding in path\"}";
	struct fx *f = fx_new(NULL);
	int i;

	fx_run(f, client_bad_percent);
	for (i = 0; i < 3; i++) {
		expect_error(f->out[i], 400, "Bad Request", json);
	}
	assert_int_equal(f->handled, 0);
	fx_free(f);
}

static void client_error_json(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /error HTTP/1.1\r\n\r\n");
	cl_read_response(f, 0, fd);
	cl_send(fd, "POST /json HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	cl_read_response(f, 1, fd);
	cl_send(fd, "DELETE /empty HTTP/1.1\r\n\r\n");
	cl_read_response(f, 2, fd); /* no Content-Length: headers only */
	cl_send(fd, "HEAD /x HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(f, 3, fd);
	close(fd);
}

static void test_error_json_escaping(void **state)
{
	static const char json[] =
	    "{\"error\":\"exists\",\"message\":\"a \\\"quoted\\\" line\\n"
	    "next\\u0001\\u001f tab\\t back\\\\slash \\ufffd end "
	    "\xc3\xa9\"}";
	char want[512];
	struct fx *f = fx_new(NULL);

	f->expect_handled = 4;
	fx_run(f, client_error_json);
	snprintf(want, sizeof want,
		 "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n%s",
		 strlen(json), json);
	assert_string_equal(f->out[0], want);
	assert_string_equal(f->out[1],
			    "HTTP/1.1 201 Created\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: 11\r\nConnection: keep-alive\r\n"
			    "X-Extra: 1\r\n\r\n{\"ok\":true}");
	assert_string_equal(f->out[2], "HTTP/1.1 204 No Content\r\n"
				       "Connection: keep-alive\r\n\r\n");
	/* HEAD: the length of the body that GET would get, no body */
	assert_string_equal(f->out[3],
			    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			    "Content-Length: 35\r\nConnection: close\r\n\r\n");
	fx_free(f);
}

static void test_json_quote(void **state)
{
	char buf[64];
	size_t n;

	n = http_json_quote(buf, sizeof buf, "a\"b\\c\r\x7f\xe2\x82\xac");
	assert_string_equal(buf, "\"a\\\"b\\\\c\\r\\u007f\xe2\x82\xac\"");
	assert_int_equal(n, strlen(buf));
	/* overlong, surrogate, truncated sequences */
	http_json_quote(buf, sizeof buf, "\xc0\xaf|\xed\xa0\x80|\xe2\x82");
	assert_string_equal(buf, "\"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
				 "\\ufffd\\ufffd\"");
	http_json_quote(buf, sizeof buf, NULL);
	assert_string_equal(buf, "\"\"");
	/* too small: the needed length, a NUL-terminated prefix */
	n = http_json_quote(buf, 4, "abcdef");
	assert_int_equal(n, 8);
	assert_string_equal(buf, "\"ab");
	assert_int_equal(http_json_quote(NULL, 0, "\n"), 4);
}

static void client_expect(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "POST /e HTTP/1.1\r\nContent-Length: 5\r\n"
		    "Expect: 100-continue\r\n\r\n");
	cl_read_n(f, 0, fd, strlen("HTTP/1.1 100 Continue\r\n\r\n"));
	cl_send(fd, "hello");
	cl_read_response(f, 1, fd);
	close(fd);

	/* over the limit: 413 at once, no 100 Continue */
	fd = cl_connect(f->port);
	cl_send(fd, "POST /e HTTP/1.1\r\nContent-Length: 5000\r\n"
		    "Expect: 100-continue\r\n\r\n");
	cl_read_all(f, 2, fd);
	close(fd);
}

static void test_expect_100_continue(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_expect);
	assert_string_equal(f->out[0], "HTTP/1.1 100 Continue\r\n\r\n");
	assert_string_equal(
	    f->out[1], ok_text("POST /e q= name=- who=- len=5 body=hello", 1));
	expect_error(f->out[2], 413, "Payload Too Large",
		     "{\"error\":\"too_large\","
		     "\"message\":\"request body too large\"}");
	fx_free(f);
}

static void client_query_params(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /q?a=1&b=x%20y+z&c&d=%zz&e=%00&long=0123456789"
		    "&n%61me=v HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(f, 0, fd);
	close(fd);
}

static void test_query_params(void **state)
{
	char body[256];
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_query_params);
	snprintf(body, sizeof body,
		 "a=1 b=x y z c= d=%d e=%d long=%d: name=v missing=%d",
		 UV_EINVAL, UV_EINVAL, UV_ENOBUFS, UV_ENOENT);
	assert_string_equal(f->out[0], ok_text(body, 0));
	fx_free(f);
}

static void client_http10(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /old HTTP/1.0\r\n\r\n");
	cl_read_all(f, 0, fd);
	close(fd);

	fd = cl_connect(f->port);
	cl_send(fd, "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	cl_read_response(f, 1, fd);
	cl_send(fd, "GET /ka2 HTTP/1.0\r\n\r\n");
	cl_read_all(f, 2, fd);
	close(fd);
}

static void test_http10_keep_alive(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 3;
	fx_run(f, client_http10);
	assert_string_equal(f->out[0],
			    ok_text("GET /old q= name=- who=- len=0 body=", 0));
	assert_int_equal(f->rc[0], 0);
	assert_string_equal(f->out[1],
			    ok_text("GET /ka q= name=- who=- len=0 body=", 1));
	assert_string_equal(f->out[2],
			    ok_text("GET /ka2 q= name=- who=- len=0 body=", 0));
	fx_free(f);
}

static void client_idle_open(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "GET /idle HTTP/1.1\r\n\r\n");
	cl_read_response(f, 0, fd);
	/* the server closes while this connection is open and idle */
	cl_done(f);
	cl_read_all(f, 1, fd);
	close(fd);
}

static void test_server_close_with_idle_connection(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_idle_open); /* asserts uv_loop_close() == 0 */
	assert_string_equal(
	    f->out[0], ok_text("GET /idle q= name=- who=- len=0 body=", 1));
	assert_int_equal(f->out_len[1], 0);
	assert_int_equal(f->rc[1], 0); /* EOF, not a timeout */
	fx_free(f);
}

static void client_idle_timeout(struct fx *f)
{
	int fd = cl_connect(f->port);
	double t0 = now_ms();

	cl_send(fd, "GET /partial HTTP/1.1\r\nHost:");
	cl_read_all(f, 0, fd);
	f->elapsed_ms = now_ms() - t0;
	close(fd);
}

static void test_idle_timeout(void **state)
{
	struct http_server_config cfg = {.idle_timeout_ms = 50};
	struct fx *f = fx_new(&cfg);

	fx_run(f, client_idle_timeout);
	assert_int_equal(f->out_len[0], 0);
	assert_int_equal(f->rc[0], 0);
	assert_true(f->elapsed_ms >= 40.0);
	assert_true(f->elapsed_ms < 3000.0);
	assert_int_equal(f->handled, 0);
	fx_free(f);
}

static void client_max_connections(struct fx *f)
{
	int a = cl_connect(f->port);
	int b;

	cl_send(a, "GET /first HTTP/1.1\r\n\r\n");
	cl_read_response(f, 0, a);
	b = cl_connect(f->port); /* over the limit: accepted and closed */
	cl_read_all(f, 1, b);
	close(b);
	cl_send(a, "GET /again HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(f, 2, a);
	close(a);
}

static void test_max_connections(void **state)
{
	struct http_server_config cfg = {.max_connections = 1};
	struct fx *f = fx_new(&cfg);

	f->expect_handled = 2;
	fx_run(f, client_max_connections);
	assert_string_equal(
	    f->out[0], ok_text("GET /first q= name=- who=- len=0 body=", 1));
	assert_int_equal(f->out_len[1], 0);
	assert_true(f->rc[1] == 0 || f->rc[1] == -ECONNRESET);
	assert_string_equal(
	    f->out[2], ok_text("GET /again q= name=- who=- len=0 body=", 0));
	fx_free(f);
}

static void dummy_handler(struct http_request *req)
{
	http_respond(req, 500, NULL, NULL, 0, NULL);
}

static void test_init_errors(void **state)
{
	struct http_server_config cfg = {.host = "127.0.0.1"};
	struct http_server s, t;
	uv_loop_t loop;

	assert_int_equal(uv_loop_init(&loop), 0);
	cfg.host = "not-an-address";
	assert_int_equal(http_server_init(&s, &loop, &cfg, dummy_handler, NULL),
			 UV_EINVAL);
	cfg.host = "127.0.0.1";
	cfg.port = 70000;
	assert_int_equal(http_server_init(&s, &loop, &cfg, dummy_handler, NULL),
			 UV_EINVAL);
	cfg.port = 0;
	assert_int_equal(http_server_init(&s, &loop, &cfg, NULL, NULL),
			 UV_EINVAL);
	/* the port is taken */
	assert_int_equal(http_server_init(&s, &loop, &cfg, dummy_handler, NULL),
			 0);
	cfg.port = http_server_port(&s);
	assert_int_equal(http_server_init(&t, &loop, &cfg, dummy_handler, NULL),
			 UV_EADDRINUSE);
	http_server_close(&s, NULL);
	http_server_close(&s, NULL); /* ignored */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	/* IPv6 loopback, when the host has it */
	assert_int_equal(uv_loop_init(&loop), 0);
	cfg.host = "::1";
	cfg.port = 0;
	if (http_server_init(&s, &loop, &cfg, dummy_handler, NULL) == 0) {
		assert_true(http_server_port(&s) > 0);
		http_server_close(&s, NULL);
		assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	}
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- streaming ---- */

/* Reads the head of an answer (byte by byte, up to the blank line) into
 * out[i]. */
static void cl_read_head(struct fx *f, int i, int fd)
{
	while (strstr(f->out[i], "\r\n\r\n") == NULL) {
		size_t before = f->out_len[i];

		cl_read_n(f, i, fd, 1);
		if (f->out_len[i] == before) {
			return;
		}
	}
}

/* Reads @n body bytes into the running hash; returns the bytes read. */
static uint64_t cl_read_body(struct fx *f, int fd, uint64_t n)
{
	static unsigned char buf[65536];
	uint64_t got = 0;

	while (got < n) {
		size_t want =
		    n - got < sizeof buf ? (size_t)(n - got) : sizeof buf;
		ssize_t r = recv(fd, buf, want, 0);

		if (r <= 0) {
			break;
		}
		f->cl_hash = fnv(f->cl_hash, buf, (size_t)r);
		got += (uint64_t)r;
	}
	f->cl_bytes += got;
	return got;
}

static void cl_send_pattern(int fd, uint64_t from, uint64_t n)
{
	static unsigned char buf[100000];

	while (n > 0) {
		size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
		size_t i;

		for (i = 0; i < k; i++) {
			buf[i] = pattern(from + i);
		}
		cl_send_n(fd, (const char *)buf, k);
		from += k;
		n -= k;
	}
}

static uint64_t pattern_hash(uint64_t n)
{
	uint64_t h = FNV_INIT, i;

	for (i = 0; i < n; i++) {
		unsigned char b = pattern(i);

		h = fnv(h, &b, 1);
	}
	return h;
}

static char *up_text(uint64_t n)
{
	static char buf[128];

	snprintf(buf, sizeof buf, "bytes=%llu hash=%016llx",
		 (unsigned long long)n, (unsigned long long)pattern_hash(n));
	return buf;
}

static void client_upload_length(struct fx *f)
{
	int fd = cl_connect(f->port);
	char head[128];

	snprintf(head, sizeof head,
		 "PUT /s/up HTTP/1.1\r\nContent-Length: %llu\r\n\r\n",
		 (unsigned long long)BIG);
	cl_send(fd, head);
	cl_send_pattern(fd, 0, BIG);
	cl_read_response(f, 0, fd);
	/* the connection stays usable: a buffered request follows */
	cl_send(fd, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
	cl_read_response(f, 1, fd);
	close(fd);
}

static void test_stream_upload_length(void **state)
{
	struct fx *f = fx_new(NULL); /* max_body 1024: streaming ignores it */

	f->expect_handled = 2;
	fx_run(f, client_upload_length);
	assert_string_equal(f->out[0], ok_text(up_text(BIG), 1));
	assert_string_equal(
	    f->out[1], ok_text("POST /echo q= name=- who=- len=2 body=hi", 1));
	assert_int_equal(f->up_early, 0);
	assert_int_equal(f->up_last, 1);
	assert_true(f->up_max_piece <= 2 * 64 * 1024);
	assert_int_equal(f->done_status[0], 200);
	fx_free(f);
}

static void client_upload_chunked(struct fx *f)
{
	int fd = cl_connect(f->port);
	uint64_t off = 0;
	size_t k = 1;

	cl_send(fd, "PUT /s/up-chunked HTTP/1.1\r\nExpect: 100-continue\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n");
	cl_read_head(f, 1, fd); /* the 100 Continue */
	while (off < BIG) {
		char line[32];
		size_t n = BIG - off < k ? (size_t)(BIG - off) : k;

		snprintf(line, sizeof line, "%zx\r\n", n);
		cl_send(fd, line);
		cl_send_pattern(fd, off, n);
		cl_send(fd, "\r\n");
		off += n;
		k = k * 3 + 7; /* sizes from 1 byte to megabytes */
		if (k > 3000000) {
			k = 1;
		}
	}
	cl_send(fd, "0\r\n\r\n");
	cl_read_response(f, 0, fd);
	close(fd);
}

static void test_stream_upload_chunked(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_upload_chunked);
	assert_string_equal(f->out[1], "HTTP/1.1 100 Continue\r\n\r\n");
	assert_string_equal(f->out[0], ok_text(up_text(BIG), 1));
	assert_int_equal(f->up_early, 0);
	assert_true(f->up_max_piece <= 2 * 64 * 1024);
	fx_free(f);
}

static void client_upload_413(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "PUT /s/up413 HTTP/1.1\r\nContent-Length: 50000000\r\n"
		    "\r\n");
	cl_send_pattern(fd, 0, 100000);
	cl_read_all(f, 0, fd); /* the answer, then the server closes */
	close(fd);
}

static void test_stream_upload_early_413(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_upload_413);
	expect_error(f->out[0], 413, "Payload Too Large",
		     "{\"error\":\"too_large\",\"message\":\"no room\"}");
	assert_int_equal(f->rc[0], 0);
	fx_free(f);
}

static void client_upload_vanish(struct fx *f)
{
	int fd = cl_connect(f->port);

	cl_send(fd, "PUT /s/up HTTP/1.1\r\nContent-Length: 50000000\r\n\r\n");
	cl_send_pattern(fd, 0, 1000000);
	usleep(100000);
	close(fd);
}

static void test_stream_upload_client_vanishes(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_upload_vanish);
	assert_int_equal(f->up_last, UV_ECONNRESET);
	assert_true(f->up_bytes > 0 && f->up_bytes <= 1000000);
	assert_int_equal(f->done_calls, 1);
	fx_free(f);
}

/* Reads a chunked body into the running hash. */
static void cl_read_chunked(struct fx *f, int fd)
{
	for (;;) {
		char line[64] = "";
		size_t n = 0;
		unsigned long long k;
		char crlf[2];

		while (n < sizeof line - 1 && recv(fd, line + n, 1, 0) == 1) {
			if (n > 0 && line[n - 1] == '\r' && line[n] == '\n') {
				break;
			}
			n++;
		}
		k = strtoull(line, NULL, 16);
		if (k == 0) {
			recv(fd, crlf, 2, MSG_WAITALL); /* final CRLF */
			return;
		}
		if (cl_read_body(f, fd, k) != k ||
		    recv(fd, crlf, 2, MSG_WAITALL) != 2) {
			return;
		}
	}
}

static void client_download(struct fx *f)
{
	int fd = cl_connect(f->port);
	const char *cl;

	f->cl_hash = FNV_INIT;
	cl_send(fd, "GET /s/down HTTP/1.1\r\n\r\n");
	cl_read_head(f, 0, fd);
	cl = strstr(f->out[0], "Content-Length: ");
	if (cl != NULL) {
		cl_read_body(f, fd, strtoull(cl + 16, NULL, 10));
	}
	cl_send(fd, "GET /s/down-chunked HTTP/1.1\r\n\r\n");
	cl_read_head(f, 1, fd);
	cl_read_chunked(f, fd);
	cl_send(fd, "GET /after HTTP/1.1\r\nConnection: close\r\n\r\n");
	cl_read_all(f, 2, fd);
	close(fd);
}

static void test_stream_download(void **state)
{
	struct fx *f = fx_new(NULL);
	uint64_t h = pattern_hash(BIG);
	unsigned char b;
	uint64_t i;

	f->expect_handled = 3;
	fx_run(f, client_download);
	assert_string_equal(f->out[0],
			    "HTTP/1.1 200 OK\r\n"
			    "Content-Type: application/octet-stream\r\n"
			    "Content-Length: 50000000\r\n"
			    "Connection: keep-alive\r\nX-Stream: 1\r\n\r\n");
	assert_string_equal(f->out[1],
			    "HTTP/1.1 200 OK\r\n"
			    "Content-Type: application/octet-stream\r\n"
			    "Transfer-Encoding: chunked\r\n"
			    "Connection: keep-alive\r\nX-Stream: 1\r\n\r\n");
	assert_int_equal(f->cl_bytes, 2 * BIG);
	/* the hash ran over both bodies, one after the other */
	for (i = 0; i < BIG; i++) {
		b = pattern(i);
		h = fnv(h, &b, 1);
	}
	assert_true(f->cl_hash == h);
	assert_string_equal(
	    f->out[2], ok_text("GET /after q= name=- who=- len=0 body=", 0));
	assert_int_equal(f->down_error, 0);
	assert_int_equal(f->done_calls, 3);
	assert_int_equal(f->done_status[0], 200);
	fx_free(f);
}

static void client_download_vanish(struct fx *f)
{
	int fd = cl_connect(f->port);

	f->cl_hash = FNV_INIT;
	cl_send(fd, "GET /s/down HTTP/1.1\r\n\r\n");
	cl_read_head(f, 0, fd);
	cl_read_body(f, fd, 1000000);
	close(fd);
}

static void test_stream_download_client_vanishes(void **state)
{
	struct fx *f = fx_new(NULL);

	f->expect_handled = 1;
	fx_run(f, client_download_vanish);
	assert_true(f->down_error < 0);
	assert_true(f->down_ended);
	assert_true(f->down_off < BIG);
	assert_int_equal(f->done_calls, 1);
	fx_free(f);
}

/* ---- TLS: the server with a context, hclient as the client ---- */

#define TLS_BIG (300 * 1024)

static int tls_group_setup(void **state)
{
	(void)state;
	if (pki_open("http") != 0) {
		return -1;
	}
	pki_ca("a", "");
	pki_ca("b", "--cn other");
	pki_issue("a", "srv", "--role agent --agent-id 1");
	pki_issue("a", "peer", "--role agent --agent-id 2");
	pki_issue("a", "op", "--role operator");
	pki_issue("a", "rd", "--role reader");
	pki_issue("a", "old",
		  "--role agent --agent-id 3 --not-before '10 days ago' "
		  "--not-after '1 day ago'");
	pki_issue("b", "rogue", "--role agent --agent-id 4");
	return 0;
}

static int tls_group_teardown(void **state)
{
	(void)state;
	pki_close();
	return 0;
}

struct tfx {
	uv_loop_t loop;
	struct http_server server;
	struct tls_ctx srv_ctx;
	struct tls_ctx cli_ctx;
	struct hclient client;
	bool srv_tls, cli_tls;
	int port;
	/* handler side */
	int handled;
	int role;
	char identity[TLS_NAME_LEN];
	size_t body_len;
	uint64_t body_hash;
	char *big;
	/* client side */
	int calls;
	int err;
	int status;
	char *body;
	size_t resp_len;
};

static void tls_handler(struct http_request *req)
{
	struct tfx *t = req->data;
	char out[256];

	t->handled++;
	t->role = req->role;
	snprintf(t->identity, sizeof t->identity, "%s", req->identity);
	t->body_len = req->body_len;
	t->body_hash = fnv(14695981039346656037ULL,
			   (const unsigned char *)req->body, req->body_len);
	if (strcmp(req->path, "/big") == 0) {
		http_respond(req, 200, "application/octet-stream", t->big,
			     TLS_BIG, NULL);
		return;
	}
	snprintf(out, sizeof out, "{\"role\":\"%s\",\"identity\":\"%s\"}",
		 tls_role_name(req->role), req->identity);
	http_respond_json(req, 200, out, NULL);
}

static void tls_server_closed(struct http_server *s) { (void)s; }

static void tls_on_response(void *arg, int err,
			    const struct hclient_response *resp)
{
	struct tfx *t = arg;

	t->calls++;
	t->err = err;
	if (resp != NULL) {
		t->status = resp->status;
		t->resp_len = resp->body_len;
		t->body = malloc(resp->body_len + 1);
		assert_non_null(t->body);
		memcpy(t->body, resp->body, resp->body_len + 1);
	}
	http_server_close(&t->server, tls_server_closed);
	hclient_close(&t->client, NULL);
}

/* Server with certificate srv of CA a (srv_cert NULL: plain), client with
 * cli_ca/cli_cert (cli_cert NULL: plain), one request, loop run dry. */
static struct tfx *tls_exchange(const char *srv_cert, const char *cli_ca,
				const char *cli_cert, const char *method,
				const char *path, const char *body,
				size_t body_len)
{
	struct tfx *t = calloc(1, sizeof *t);
	struct http_server_config cfg;
	size_t i;

	assert_non_null(t);
	alarm(20);
	t->big = malloc(TLS_BIG);
	assert_non_null(t->big);
	for (i = 0; i < TLS_BIG; i++) {
		t->big[i] = (char)pattern(i);
	}
	assert_int_equal(uv_loop_init(&t->loop), 0);
	memset(&cfg, 0, sizeof cfg);
	cfg.host = "127.0.0.1";
	cfg.max_body = 1024 * 1024;
	cfg.idle_timeout_ms = 5000;
	if (srv_cert != NULL) {
		pki_ctx(&t->srv_ctx, "a", srv_cert);
		t->srv_tls = true;
		cfg.tls = &t->srv_ctx;
	}
	assert_int_equal(
	    http_server_init(&t->server, &t->loop, &cfg, tls_handler, t), 0);
	t->port = http_server_port(&t->server);
	if (cli_cert != NULL) {
		pki_ctx(&t->cli_ctx, cli_ca, cli_cert);
		t->cli_tls = true;
	}
	assert_int_equal(hclient_init(&t->client, &t->loop,
				      t->cli_tls ? &t->cli_ctx : NULL),
			 0);
	assert_int_equal(hclient_request(&t->client, method, "127.0.0.1",
					 (uint16_t)t->port, path, NULL, body,
					 body_len, 5000, tls_on_response, t,
					 NULL),
			 0);
	assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(t->client.state, HCLIENT_CLOSED);
	if (t->cli_tls) {
		tls_ctx_close(&t->cli_ctx);
	}
	if (t->srv_tls) {
		tls_ctx_close(&t->srv_ctx);
	}
	assert_int_equal(uv_loop_close(&t->loop), 0);
	alarm(0);
	assert_int_equal(t->calls, 1);
	return t;
}

static void tfx_free(struct tfx *t)
{
	free(t->big);
	free(t->body);
	free(t);
}

static void test_tls_get_role_and_identity(void **state)
{
	struct tfx *t;

	(void)state;
	t = tls_exchange("srv", "a", "peer", "GET", "/v1/status", NULL, 0);
	assert_int_equal(t->err, 0);
	assert_int_equal(t->status, 200);
	assert_int_equal(t->handled, 1);
	assert_int_equal(t->role, TLS_ROLE_AGENT);
	assert_string_equal(t->identity, "peer");
	assert_string_equal(t->body,
			    "{\"role\":\"agent\",\"identity\":\"peer\"}");
	tfx_free(t);

	t = tls_exchange("srv", "a", "op", "GET", "/v1/status", NULL, 0);
	assert_int_equal(t->err, 0);
	assert_int_equal(t->role, TLS_ROLE_OPERATOR);
	assert_string_equal(t->identity, "op");
	tfx_free(t);

	t = tls_exchange("srv", "a", "rd", "GET", "/v1/status", NULL, 0);
	assert_int_equal(t->err, 0);
	assert_int_equal(t->role, TLS_ROLE_READER);
	tfx_free(t);
}

/* Bodies over many TLS records, both ways. */
static void test_tls_large_bodies(void **state)
{
	struct tfx *t;
	char *body = malloc(200 * 1024);
	size_t i;

	(void)state;
	assert_non_null(body);
	for (i = 0; i < 200 * 1024; i++) {
		body[i] = (char)pattern(i + 7);
	}
	t = tls_exchange("srv", "a", "peer", "POST", "/up", body, 200 * 1024);
	assert_int_equal(t->err, 0);
	assert_int_equal(t->status, 200);
	assert_int_equal(t->body_len, 200 * 1024);
	assert_true(t->body_hash == fnv(14695981039346656037ULL,
					(unsigned char *)body, 200 * 1024));
	tfx_free(t);
	free(body);

	t = tls_exchange("srv", "a", "peer", "GET", "/big", NULL, 0);
	assert_int_equal(t->err, 0);
	assert_int_equal(t->resp_len, TLS_BIG);
	for (i = 0; i < TLS_BIG; i++) {
		if ((unsigned char)t->body[i] != pattern(i)) {
			fail_msg("byte %zu differs", i);
		}
	}
	tfx_free(t);
}

/* Plain mode: role none, no identity, same code path. */
static void test_tls_plain_server_and_client(void **state)
{
	struct tfx *t;

	(void)state;
	t = tls_exchange(NULL, NULL, NULL, "GET", "/x", NULL, 0);
	assert_int_equal(t->err, 0);
	assert_int_equal(t->status, 200);
	assert_int_equal(t->role, TLS_ROLE_NONE);
	assert_string_equal(t->identity, "");
	tfx_free(t);
}

/* Every refused handshake: the handler never runs, the client gets an
 * error, not a response. */
static void test_tls_refused(void **state)
{
	struct tfx *t;

	(void)state;
	/* plain HTTP to a TLS server */
	t = tls_exchange("srv", NULL, NULL, "GET", "/x", NULL, 0);
	assert_true(t->err < 0);
	assert_int_equal(t->handled, 0);
	tfx_free(t);

	/* a client certificate from another CA */
	t = tls_exchange("srv", "b", "rogue", "GET", "/x", NULL, 0);
	assert_true(t->err < 0);
	assert_int_equal(t->handled, 0);
	tfx_free(t);

	/* an expired client certificate */
	t = tls_exchange("srv", "a", "old", "GET", "/x", NULL, 0);
	assert_true(t->err < 0);
	assert_int_equal(t->handled, 0);
	tfx_free(t);

	/* hclient wants an agent behind the address: a reader is refused */
	t = tls_exchange("rd", "a", "peer", "GET", "/x", NULL, 0);
	assert_int_equal(t->err, TLS_E_ROLE);
	assert_int_equal(t->handled, 0);
	tfx_free(t);

	/* TLS to a plain server */
	t = tls_exchange(NULL, "a", "peer", "GET", "/x", NULL, 0);
	assert_true(t->err < 0);
	assert_int_equal(t->handled, 0);
	assert_string_equal(hclient_strerror(TLS_E_ROLE),
			    tls_strerror(TLS_E_ROLE));
	tfx_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_with_query),
	    cmocka_unit_test(test_post_body_echoed),
	    cmocka_unit_test(test_chunked_body),
	    cmocka_unit_test(test_keep_alive),
	    cmocka_unit_test(test_pipelined_in_order),
	    cmocka_unit_test(test_async_answer),
	    cmocka_unit_test(test_disconnect_before_async_answer),
	    cmocka_unit_test(test_server_close_with_pending_request),
	    cmocka_unit_test(test_answer_while_server_closing),
	    cmocka_unit_test(test_oversize_body_413),
	    cmocka_unit_test(test_oversize_headers_431),
	    cmocka_unit_test(test_garbage_400),
	    cmocka_unit_test(test_percent_decoded_path),
	    cmocka_unit_test(test_bad_percent_400),
	    cmocka_unit_test(test_error_json_escaping),
	    cmocka_unit_test(test_json_quote),
	    cmocka_unit_test(test_expect_100_continue),
	    cmocka_unit_test(test_query_params),
	    cmocka_unit_test(test_http10_keep_alive),
	    cmocka_unit_test(test_server_close_with_idle_connection),
	    cmocka_unit_test(test_idle_timeout),
	    cmocka_unit_test(test_max_connections),
	    cmocka_unit_test(test_init_errors),
	    cmocka_unit_test(test_stream_upload_length),
	    cmocka_unit_test(test_stream_upload_chunked),
	    cmocka_unit_test(test_stream_upload_early_413),
	    cmocka_unit_test(test_stream_upload_client_vanishes),
	    cmocka_unit_test(test_stream_download),
	    cmocka_unit_test(test_stream_download_client_vanishes),
	};

	/* a peer that closes first must not kill the test with SIGPIPE:
	 * the write fails with EPIPE, as in poolpaird */
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT); /* hclient, the TLS client */
	const struct CMUnitTest tls_tests[] = {
	    cmocka_unit_test(test_tls_get_role_and_identity),
	    cmocka_unit_test(test_tls_large_bodies),
	    cmocka_unit_test(test_tls_plain_server_and_client),
	    cmocka_unit_test(test_tls_refused),
	};
	int failed;

	failed = cmocka_run_group_tests(tests, NULL, NULL);
	failed += cmocka_run_group_tests(tls_tests, tls_group_setup,
					 tls_group_teardown);
	return failed;
}
