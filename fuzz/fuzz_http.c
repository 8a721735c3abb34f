/* fuzz_http: the HTTP/1.1 server (agent/http.h) on a libuv loop, fed each
 * input over a loopback TCP connection.
 *
 * One server (127.0.0.1, ephemeral port, small limits) lives for the whole
 * run. Each input is written by a plain non-blocking client socket, which
 * then shuts down its side and reads until the server closes; the loop
 * runs until every connection handle of the server is closed. The handler
 * answers by path:
 *   /stream...   streamed body (stream_match), pulled piece by piece and
 *                answered at its end; /stream-early answers at the first
 *                piece, before the body is read
 *   /chunked...  answered with http_respond_start/write/end, chunked
 *   /error...    http_respond_error() with the path as message (quoting)
 *   /borrow...   body echoed back straight from the request's own fields
 *                (http.h allows it: they are valid until http_respond()
 *                returns); from a copy when FUZZ_SKIP_KNOWN is set in the
 *                environment, which scripts/fuzz does while the
 *                regression input of that bug still fails
 *   anything     query parameter and header lookups, body echoed back
 *                from a copy
 * Properties checked: no crash, no leak (LeakSanitizer), every request
 * answered exactly once (on_done statuses in 100..599), request fields as
 * http.h promises (body NUL-terminated, no NUL in the path, no control
 * character in the path, decoded or as sent, nor in the query), the bytes
 * received parse as HTTP responses (requests with HEAD excepted, whose
 * answers carry a length but no body), and every input ends within
 * FUZZ_HTTP_DEADLINE_MS (a hang aborts). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h> /* to check that the answers parse */

#include "agent/http.h"
#include "fuzz/fuzz_util.h"

#define FUZZ_HTTP_DEADLINE_MS 10000
#define RESPONSE_MAX (256 * 1024)

struct stream_arg {
	struct http_request *req;
	size_t bytes;
	int early;
};

struct chunk_arg {
	struct http_request *req;
	int writes;
};

static uv_loop_t loop;
static struct http_server server;
static int port;
static unsigned long handled, done;
static int skip_known; /* FUZZ_SKIP_KNOWN set: /borrow answers from a copy */

static const char hello[] = "hello, chunked world\n";

static int has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			return 1;
		}
	}
	return 0;
}

static int prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int stream_match(void *data, const struct http_request *req)
{
	return prefix(req->path, "/stream");
}

static void on_done(void *data, const struct http_request *req, int status,
		    uint64_t duration_ns)
{
	FUZZ_CHECK(status >= 100 && status <= 599, "done with status %d",
		   status);
	done++;
}

static void body_cb(void *arg, struct http_request *req, const void *data,
		    size_t len, int last)
{
	struct stream_arg *sa = arg;

	FUZZ_CHECK(sa->req == req, "body of another request");
	FUZZ_CHECK(last == 0 || len == 0, "last %d with %zu bytes", last, len);
	sa->bytes += len;
	if (last == 0 && sa->early) {
		http_respond(req, 200, "text/plain", "early\n", 6, NULL);
		free(sa);
		return;
	}
	if (last == 0) {
		http_request_resume(req);
		return;
	}
	if (last == 1) {
		char text[64];
		int n = snprintf(text, sizeof text, "%zu bytes\n", sa->bytes);

		http_respond(req, 200, "text/plain", text, (size_t)n, NULL);
	} else {
		FUZZ_CHECK(last < 0, "last %d", last);
		http_respond(req, 400, NULL, NULL, 0, NULL);
	}
	free(sa);
}

static void chunk_done(void *arg, int status)
{
	struct chunk_arg *ca = arg;
	int rv;

	if (status == 0 && ++ca->writes < 3) {
		rv = http_respond_write(ca->req, hello, sizeof hello - 1,
					chunk_done, ca);
		if (rv == 0) {
			return;
		}
	}
	http_respond_end(ca->req);
	free(ca);
}

/* Answer with a copy of the body (and content type) of req. */
static void echo(struct http_request *req, const char *type,
		 const char *extra)
{
	char ctype[128];
	char *body = fuzz_dup(req->body, req->body_len);
	size_t len = req->body_len;

	snprintf(ctype, sizeof ctype, "%s", type != NULL ? type : "text/plain");
	http_respond(req, type != NULL ? 201 : 200, ctype, body, len, extra);
	free(body);
}

static void handler(struct http_request *req)
{
	char value[64];
	const char *h;
	int rv;

	handled++;
	FUZZ_CHECK(req->body != NULL && req->body[req->body_len] == '\0',
		   "body not terminated");
	FUZZ_CHECK(req->path != NULL && req->path[0] != '\0' &&
		       req->query != NULL && req->method != NULL,
		   "request fields");
	FUZZ_CHECK(!has_control(req->path) && !has_control(req->raw_path) &&
		       !has_control(req->query),
		   "a control character reached the handler");
	if (req->streaming) {
		struct stream_arg *sa = calloc(1, sizeof *sa);

		FUZZ_CHECK(sa != NULL, "out of memory");
		FUZZ_CHECK(stream_match(NULL, req), "streamed unasked");
		sa->req = req;
		sa->early = prefix(req->path, "/stream-early");
		rv = http_request_on_body(req, body_cb, sa);
		if (rv != 0) {
			free(sa);
			http_respond(req, 500, NULL, NULL, 0, NULL);
		}
		return;
	}
	if (prefix(req->path, "/chunked")) {
		struct chunk_arg *ca = calloc(1, sizeof *ca);

		FUZZ_CHECK(ca != NULL, "out of memory");
		ca->req = req;
		if (http_respond_start(req, 200, "text/plain",
				       HTTP_LENGTH_CHUNKED, NULL) != 0 ||
		    http_respond_write(req, hello, sizeof hello - 1, chunk_done,
				       ca) != 0) {
			http_respond_end(req);
			free(ca);
		}
		return;
	}
	if (prefix(req->path, "/error")) {
		http_respond_error(req, 404, "not_found", req->path);
		return;
	}
	rv = http_query_param(req, "name", value, sizeof value);
	FUZZ_CHECK(rv == 0 || rv == UV_ENOENT || rv == UV_EINVAL ||
		       rv == UV_ENOBUFS,
		   "http_query_param returned %d", rv);
	FUZZ_CHECK(rv != 0 || fuzz_terminated(value, sizeof value),
		   "query value not terminated");
	h = http_request_header(req, "Content-Type");
	if (prefix(req->path, "/borrow") && !skip_known) {
		/* http.h: every field of req stays valid until http_respond()
		 * returns, so its own strings may be handed back to it */
		http_respond(req, 200, h, req->body, req->body_len, NULL);
		return;
	}
	echo(req, h, rv == 0 ? "X-Name: given\r\n" : NULL);
}

static void setup(void)
{
	struct http_server_config cfg;
	int rv;

	skip_known = getenv("FUZZ_SKIP_KNOWN") != NULL;
	FUZZ_CHECK(uv_loop_init(&loop) == 0, "uv_loop_init");
	memset(&cfg, 0, sizeof cfg);
	cfg.host = "127.0.0.1";
	cfg.port = 0;
	cfg.max_body = 4096;
	cfg.max_header = 2048;
	cfg.idle_timeout_ms = 2000;
	cfg.max_connections = 8;
	cfg.on_done = on_done;
	cfg.stream_match = stream_match;
	rv = http_server_init(&server, &loop, &cfg, handler, NULL);
	FUZZ_CHECK(rv == 0, "http_server_init: %s", uv_strerror(rv));
	port = http_server_port(&server);
}

/* Response parsing: only whether http-parser accepts the stream. */
static int parse_responses(const char *buf, size_t len)
{
	http_parser p;
	http_parser_settings s;

	memset(&s, 0, sizeof s);
	http_parser_init(&p, HTTP_RESPONSE);
	http_parser_execute(&p, &s, buf, len);
	if (HTTP_PARSER_ERRNO(&p) == HPE_OK) {
		http_parser_execute(&p, &s, NULL, 0); /* end of stream */
	}
	return HTTP_PARSER_ERRNO(&p) == HPE_OK;
}

static int connect_client(void)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* loopback: the kernel completes the handshake from the backlog. A
	 * signal (libFuzzer's timers) may interrupt the call while the
	 * handshake goes on: wait for it and ask again. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		struct pollfd pfd = {fd, POLLOUT, 0};

		if (errno == EISCONN) {
			break;
		}
		FUZZ_CHECK(errno == EINTR || errno == EALREADY ||
			       errno == EINPROGRESS,
			   "connect: %s", strerror(errno));
		poll(&pfd, 1, 100);
	}
	FUZZ_CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0, "fcntl");
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *resp;
	size_t resp_len = 0, sent = 0;
	uint64_t start;
	int fd, eof = 0, wr_shut = 0, reset = 0;

	if (resp == NULL) {
		setup();
		resp = malloc(RESPONSE_MAX);
		FUZZ_CHECK(resp != NULL, "out of memory");
	}
	fd = connect_client();
	start = uv_hrtime();
	while (!eof || server.conns != NULL) {
		struct pollfd pfd[2];
		int timeout = uv_backend_timeout(&loop);

		FUZZ_CHECK((uv_hrtime() - start) / 1000000 <
			       FUZZ_HTTP_DEADLINE_MS,
			   "connection still open after %d ms (sent %zu of %zu, "
			   "eof %d)",
			   FUZZ_HTTP_DEADLINE_MS, sent, size, eof);
		pfd[0].fd = uv_backend_fd(&loop);
		pfd[0].events = POLLIN;
		pfd[1].fd = eof ? -1 : fd;
		pfd[1].events = (short)(POLLIN | (wr_shut ? 0 : POLLOUT));
		if (timeout < 0 || timeout > 50) {
			timeout = 50;
		}
		poll(pfd, 2, timeout);
		uv_run(&loop, UV_RUN_NOWAIT);

		if (!wr_shut) {
			while (sent < size) {
				ssize_t n = send(fd, data + sent, size - sent,
						 MSG_NOSIGNAL);

				if (n <= 0) {
					break;
				}
				sent += (size_t)n;
			}
			if (sent == size) {
				shutdown(fd, SHUT_WR);
				wr_shut = 1;
			} else if (errno == EPIPE || errno == ECONNRESET) {
				wr_shut = 1; /* the server closed: stop */
				reset = 1;
			}
		}
		while (!eof) {
			char tmp[4096];
			ssize_t n = recv(fd, tmp, sizeof tmp, 0);

			if (n > 0) {
				size_t k = (size_t)n;

				if (k > RESPONSE_MAX - resp_len) {
					k = RESPONSE_MAX - resp_len;
				}
				memcpy(resp + resp_len, tmp, k);
				resp_len += k;
				continue;
			}
			if (n < 0 && errno == ECONNRESET) {
				reset = 1; /* answer bytes may be lost */
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				eof = 1;
			}
			break;
		}
	}
	close(fd);
	/* let the server notice and close; nothing may stay open */
	uv_run(&loop, UV_RUN_NOWAIT);
	FUZZ_CHECK(server.conns == NULL, "a connection outlived its input");
	FUZZ_CHECK(server.orphans == NULL, "a request was never answered");
	if (!reset && resp_len < RESPONSE_MAX && memmem(data, size, "HEAD", 4) == NULL) {
		FUZZ_CHECK(parse_responses(resp, resp_len),
			   "the server's bytes do not parse as responses");
	}
	return 0;
}
