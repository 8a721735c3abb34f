/* http_roundtrip: a test helper (header only) that runs an agent/http_*
 * server on 127.0.0.1, port 0, on a private loop in the main thread, and
 * sends it one raw request at a time from a second thread with a blocking
 * socket ("Connection: close" is added), returning what came back. The
 * handler runs on the loop thread, as in the agent. */
#ifndef POOLPAIR_TEST_HTTP_ROUNDTRIP_H
#define POOLPAIR_TEST_HTTP_ROUNDTRIP_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent/http.h"

#define RT_CAP 65536

struct rt {
	uv_loop_t loop;
	struct http_server server;
	uv_async_t done;
	int port;
	int closed;
	/* one exchange */
	pthread_t thread;
	const char *request;
	size_t request_len;
	char answer[RT_CAP];
	size_t answer_len;
	volatile int finished;
};

static void rt_server_closed(struct http_server *s)
{
	struct rt *rt = (struct rt *)((char *)s - offsetof(struct rt, server));

	rt->closed = 1;
}

static void rt_done(uv_async_t *a) { (void)a; }

/* Start the server with handler and data (req->data); cfg may be NULL. */
static void rt_start(struct rt *rt, http_handler_fn handler, void *data,
		     const struct http_server_config *cfg)
{
	struct http_server_config c;

	memset(rt, 0, sizeof *rt);
	if (cfg != NULL)
		c = *cfg;
	else
		memset(&c, 0, sizeof c);
	c.host = "127.0.0.1";
	c.port = 0;
	if (uv_loop_init(&rt->loop) != 0 ||
	    uv_async_init(&rt->loop, &rt->done, rt_done) != 0 ||
	    http_server_init(&rt->server, &rt->loop, &c, handler, data) != 0)
		abort();
	rt->port = http_server_port(&rt->server);
}

static void rt_stop(struct rt *rt)
{
	http_server_close(&rt->server, rt_server_closed);
	uv_close((uv_handle_t *)&rt->done, NULL);
	while (!rt->closed)
		uv_run(&rt->loop, UV_RUN_ONCE);
	uv_run(&rt->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&rt->loop) != 0)
		abort();
}

static void *rt_client(void *arg)
{
	struct rt *rt = arg;
	struct sockaddr_in sin;
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t off = 0;

	rt->answer_len = 0;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)rt->port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0) {
			while (off < rt->request_len) {
				ssize_t w =
				    send(fd, rt->request + off,
					 rt->request_len - off, MSG_NOSIGNAL);
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			for (;;) {
				ssize_t r =
				    recv(fd, rt->answer + rt->answer_len,
					 RT_CAP - 1 - rt->answer_len, 0);
				if (r <= 0)
					break;
				rt->answer_len += (size_t)r;
				if (rt->answer_len == RT_CAP - 1)
					break;
			}
		}
		close(fd);
	}
	rt->answer[rt->answer_len] = '\0';
	rt->finished = 1;
	uv_async_send(&rt->done);
	return NULL;
}

/* Send "METHOD TARGET HTTP/1.1" with extra headers (complete lines, may
 * be NULL) and body (may be NULL); run the loop until the answer is in.
 * Returns the status of the answer (0 when none came); rt->answer holds
 * all of it. */
static int rt_request(struct rt *rt, const char *method, const char *target,
		      const char *headers, const char *body)
{
	char *req;
	size_t blen = body != NULL ? strlen(body) : 0;
	size_t cap = strlen(method) + strlen(target) +
		     (headers != NULL ? strlen(headers) : 0) + blen + 256;
	int status = 0;

	req = malloc(cap);
	if (req == NULL)
		abort();
	snprintf(req, cap,
		 "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		 "Content-Length: %zu\r\n%s\r\n%s",
		 method, target, blen, headers != NULL ? headers : "",
		 body != NULL ? body : "");
	rt->request = req;
	rt->request_len = strlen(req);
	rt->finished = 0;
	if (pthread_create(&rt->thread, NULL, rt_client, rt) != 0)
		abort();
	while (!rt->finished)
		uv_run(&rt->loop, UV_RUN_ONCE);
	pthread_join(rt->thread, NULL);
	free(req);
	if (sscanf(rt->answer, "HTTP/1.1 %d", &status) != 1)
		status = 0;
	return status;
}

/* The body of the last answer (after the blank line), "" when none. */
static const char *rt_body(const struct rt *rt)
{
	const char *b = strstr(rt->answer, "\r\n\r\n");

	return b != NULL ? b + 4 : "";
}

/* The value of header name in the last answer into out (cap bytes);
 * returns out, "" when absent. name is matched as written. */
static const char *rt_header(const struct rt *rt, const char *name, char *out,
			     size_t cap)
{
	char pat[128];
	const char *h, *end;

	snprintf(pat, sizeof pat, "\r\n%s: ", name);
	out[0] = '\0';
	h = strstr(rt->answer, pat);
	if (h == NULL || cap == 0)
		return out;
	h += strlen(pat);
	end = strstr(h, "\r\n");
	if (end == NULL)
		return out;
	snprintf(out, cap, "%.*s", (int)(end - h), h);
	return out;
}

#endif
