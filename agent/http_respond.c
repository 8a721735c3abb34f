/* http_respond: the answers of the HTTP server, whole (http_respond) and
 * streamed (http_respond_start/write/end), and every write to a
 * connection; see http.h for the contract and http_internal.h for the
 * connection states they move through. */
#include "agent/http_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ---- */

static void conn_write_done(struct conn_write *w, int status)
{
	struct http_conn *c = w->conn;
	enum write_kind kind = w->kind;
	http_write_done_fn done = w->done;
	void *arg = w->arg;

	if (w->owner != NULL) {
		w->owner->send_pending = NULL;
	}
	free(w);
	if (kind == WRITE_BODY) {
		if (status < 0 && c->state != CONN_CLOSING) {
			http_conn_close(c);
		} else if (status == 0 && c->state == CONN_SENDING) {
			uv_timer_stop(&c->timer); /* the handler's turn */
		}
		done(arg, status);
		return;
	}
	if (c->state == CONN_CLOSING) {
		return;
	}
	if (status < 0) {
		http_conn_close(c);
		return;
	}
	switch (kind) {
	case WRITE_CONTINUE:
	case WRITE_BODY:
		break;
	case WRITE_HEAD:
		if (c->state == CONN_SENDING &&
		    (c->req == NULL || c->req->send_pending == NULL)) {
			uv_timer_stop(&c->timer);
		}
		break;
	case WRITE_ANSWER_LAST:
	case WRITE_ANSWER_KEEP:
		http_conn_answer_written(c, kind);
		break;
	}
}

static void conn_write_cb(struct tls_conn *t, int status, void *arg)
{
	(void)t;
	conn_write_done(arg, status);
}

/* A write of nothing completes after the writes queued before it. */
static void conn_empty_write_cb(uv_write_t *wr, int status)
{
	conn_write_done(wr->data, status);
}

static int conn_write(struct http_conn *c, struct conn_write *w)
{
	uv_buf_t buf = uv_buf_init(w->bytes, (unsigned)w->len);
	const uv_buf_t *bufs = w->nbufs > 0 ? w->bufs : &buf;
	unsigned n = w->nbufs > 0 ? w->nbufs : 1;
	size_t total = 0;
	unsigned i;
	int rv;

	w->conn = c;
	w->req.data = w;
	for (i = 0; i < n; i++) {
		total += bufs[i].len;
	}
	if (total == 0) {
		/* nothing for the TLS layer: libuv orders the callback */
		rv = uv_write(&w->req, (uv_stream_t *)&c->tls.tcp, &buf, 1,
			      conn_empty_write_cb);
	} else {
		rv = tls_conn_write(&c->tls, bufs, n, conn_write_cb, w);
	}
	if (rv != 0) {
		free(w);
	}
	return rv;
}

/* A write of the fixed bytes @bytes (@len) of @kind, or NULL. */
static struct conn_write *write_new(enum write_kind kind, const char *bytes,
				    size_t len)
{
	struct conn_write *w = calloc(1, sizeof *w + len);

	if (w == NULL) {
		return NULL;
	}
	w->kind = kind;
	w->len = len;
	if (len > 0) {
		memcpy(w->bytes, bytes, len);
	}
	return w;
}

int http_respond_continue(struct http_conn *c)
{
	static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct conn_write *w =
	    write_new(WRITE_CONTINUE, continue_line, sizeof continue_line - 1);

	if (w == NULL) {
		return UV_ENOMEM;
	}
	return conn_write(c, w);
}

/* Formats the status line and headers into a new write with room for
 * @room more bytes; NULL when out of memory. */
static struct conn_write *answer_head(int status, const char *content_type,
				      const char *length_line,
				      const char *extra, int keep, size_t room)
{
	size_t extra_len = extra ? strlen(extra) : 0;
	const char *extra_end = "";
	char type_line[256] = "";
	struct conn_write *w;
	int head;

	if (extra_len > 0 &&
	    (extra_len < 2 || strcmp(extra + extra_len - 2, "\r\n") != 0)) {
		extra_end = "\r\n";
	}
	if (content_type != NULL &&
	    (strlen(content_type) > sizeof type_line - 20 ||
	     strpbrk(content_type, "\r\n") != NULL)) {
		content_type = "application/octet-stream";
	}
	if (content_type != NULL) {
		snprintf(type_line, sizeof type_line, "Content-Type: %s\r\n",
			 content_type);
	}
	head = snprintf(NULL, 0, "HTTP/1.1 %d %s\r\n%s%sConnection: %s\r\n",
			status, http_parse_reason_phrase(status), type_line,
			length_line, keep ? "keep-alive" : "close");
	if (head < 0) {
		return NULL;
	}
	w = calloc(1, sizeof *w + (size_t)head + 1 + extra_len + 2 + 2 + room);
	if (w == NULL) {
		return NULL;
	}
	snprintf(w->bytes, (size_t)head + 1,
		 "HTTP/1.1 %d %s\r\n%s%sConnection: %s\r\n", status,
		 http_parse_reason_phrase(status), type_line, length_line,
		 keep ? "keep-alive" : "close");
	w->len = (size_t)head;
	memcpy(w->bytes + w->len, extra ? extra : "", extra_len);
	w->len += extra_len;
	memcpy(w->bytes + w->len, extra_end, strlen(extra_end));
	w->len += strlen(extra_end);
	memcpy(w->bytes + w->len, "\r\n", 2);
	w->len += 2;
	return w;
}

/* Formats and writes one answer; the connection moves to WRITING. */
static int conn_write_answer(struct http_conn *c, int status,
			     const char *content_type, const char *body,
			     size_t len, const char *extra, int keep,
			     int head_only)
{
	char length_line[48] = "";
	struct conn_write *w;
	size_t send_len;
	int rv;

	if (status == 204 || status == 304) {
		len = 0;
	} else {
		snprintf(length_line, sizeof length_line,
			 "Content-Length: %zu\r\n", len);
	}
	send_len = head_only ? 0 : len;
	w = answer_head(status, content_type, length_line, extra, keep,
			send_len);
	if (w == NULL) {
		return UV_ENOMEM;
	}
	if (send_len > 0) {
		memcpy(w->bytes + w->len, body, send_len);
		w->len += send_len;
	}
	w->kind = keep ? WRITE_ANSWER_KEEP : WRITE_ANSWER_LAST;
	rv = conn_write(c, w);
	if (rv != 0) {
		return rv;
	}
	http_conn_set_state(c, CONN_WRITING);
	http_conn_timer_start(c, c->server->idle_timeout_ms);
	return 0;
}

int http_respond_conn_error(struct http_conn *c, int status, const char *code,
			    const char *message)
{
	char json[512];
	size_t n = (size_t)snprintf(json, sizeof json, "{\"error\":");

	n += http_json_quote(json + n, sizeof json - n, code);
	if (n < sizeof json) {
		n += (size_t)snprintf(json + n, sizeof json - n,
				      ",\"message\":");
	}
	if (n < sizeof json) {
		n += http_json_quote(json + n, sizeof json - n, message);
	}
	if (n + 2 > sizeof json) {
		return UV_ENOBUFS;
	}
	snprintf(json + n, sizeof json - n, "}");
	return conn_write_answer(c, status, "application/json", json,
				 strlen(json), NULL, 0, 0);
}

/* The handler is done with @req: count it and tell on_done (with the
 * status the client saw). */
static void request_finished(struct http_request *req, int status)
{
	struct http_server *s = req->server;

	if (req->timed_out) {
		status = 408; /* the server answered for the handler */
	}

	if (s != NULL) {
		s->requests_total++;
		if (s->on_done != NULL) {
			s->on_done(s->data, req, status,
				   uv_hrtime() - req->start_ns);
		}
	}
}

/* Frees a request whose connection is gone. */
static void request_free_orphan(struct http_request *req)
{
	if (req->server != NULL) {
		http_server_orphan_unlink(req->server, req);
	}
	http_conn_request_free(req);
}

void http_respond(struct http_request *req, int status,
		  const char *content_type, const char *body, size_t len,
		  const char *extra_headers)
{
	struct http_server *s;
	struct http_conn *c;
	int keep, head_only, rv;

	if (req == NULL) {
		return;
	}
	if (req->sending) {
		/* misuse: a streamed answer was started; finish that */
		http_respond_end(req);
		return;
	}
	if (status < 200 || status > 599) {
		status = 500;
	}
	if (body == NULL) {
		len = 0;
	}
	request_finished(req, status);
	s = req->server;
	c = req->conn;
	if (c == NULL) {
		request_free_orphan(req);
		return;
	}
	assert((c->state == CONN_HANDLING || c->state == CONN_BODY) &&
	       c->req == req);
	/* an answer before the whole body was read is the last one */
	keep = req->keep_alive && c->state == CONN_HANDLING &&
	       s->state == HTTP_SERVER_RUNNING;
	head_only = req->method_id == HTTP_METHOD_HEAD && req->url != NULL;
	c->req = NULL;
	http_conn_read_off(c);
	/* the answer may point into the request (a header value, its body):
	 * it is copied out before the request goes */
	rv = conn_write_answer(c, status, content_type, body, len,
			       extra_headers, keep, head_only);
	http_conn_request_free(req);
	if (rv != 0) {
		http_conn_close(c);
	}
}

/* ---- streamed answers ---- */

int http_respond_start(struct http_request *req, int status,
		       const char *content_type, uint64_t length,
		       const char *extra_headers)
{
	char length_line[64] = "";
	struct http_conn *c;
	struct conn_write *w;
	int chunked, keep;

	if (req == NULL || req->sending) {
		return UV_EINVAL;
	}
	if (status < 200 || status > 599) {
		status = 500;
	}
	req->sending = 1;
	req->send_status = status;
	req->send_length = length;
	req->body_cb = NULL; /* an answer ends the body */
	req->send_head_only =
	    (req->method_id == HTTP_METHOD_HEAD && req->url != NULL) ||
	    status == 204 || status == 304;
	c = req->conn;
	if (c == NULL) {
		return UV_ECONNRESET;
	}
	assert((c->state == CONN_HANDLING || c->state == CONN_BODY) &&
	       c->req == req);
	keep = req->keep_alive && c->state == CONN_HANDLING &&
	       c->server->state == HTTP_SERVER_RUNNING;
	chunked = length == HTTP_LENGTH_CHUNKED;
	if (status == 204 || status == 304) {
		req->send_length = 0;
	} else if (chunked && (req->http_major > 1 || (req->http_major == 1 &&
						       req->http_minor >= 1))) {
		req->send_chunked = 1;
		snprintf(length_line, sizeof length_line,
			 "Transfer-Encoding: chunked\r\n");
	} else if (chunked) {
		keep = 0; /* HTTP/1.0: the body ends with the connection */
	} else {
		snprintf(length_line, sizeof length_line,
			 "Content-Length: %" PRIu64 "\r\n", length);
	}
	req->keep_alive = keep;
	http_conn_read_off(c);
	http_conn_set_state(c, CONN_SENDING);
	w = answer_head(status, content_type, length_line, extra_headers, keep,
			0);
	if (w == NULL) {
		http_conn_close(c);
		return UV_ENOMEM;
	}
	w->kind = WRITE_HEAD;
	if (conn_write(c, w) != 0) {
		http_conn_close(c);
		return UV_ECONNRESET;
	}
	http_conn_timer_start(c, c->server->idle_timeout_ms);
	return 0;
}

int http_respond_write(struct http_request *req, const void *data, size_t len,
		       http_write_done_fn done, void *arg)
{
	struct http_conn *c;
	struct conn_write *w;
	int rv;

	if (req == NULL || !req->sending || data == NULL || len == 0 ||
	    done == NULL) {
		return UV_EINVAL;
	}
	if (req->send_pending != NULL) {
		return UV_EBUSY;
	}
	if (req->send_length != HTTP_LENGTH_CHUNKED &&
	    len > req->send_length - req->send_written) {
		return UV_EINVAL;
	}
	c = req->conn;
	if (c == NULL || c->state != CONN_SENDING) {
		return UV_ECONNRESET;
	}
	w = calloc(1, sizeof *w);
	if (w == NULL) {
		return UV_ENOMEM;
	}
	w->kind = WRITE_BODY;
	w->owner = req;
	w->done = done;
	w->arg = arg;
	if (req->send_head_only) {
		w->bufs[0] = uv_buf_init(w->bytes, 0); /* completes at once */
		w->nbufs = 1;
	} else if (req->send_chunked) {
		int n = snprintf(w->chunk_line, sizeof w->chunk_line, "%zx\r\n",
				 len);

		w->bufs[0] = uv_buf_init(w->chunk_line, (unsigned)n);
		w->bufs[1] = uv_buf_init((char *)data, (unsigned)len);
		w->bufs[2] = uv_buf_init("\r\n", 2);
		w->nbufs = 3;
	} else {
		w->bufs[0] = uv_buf_init((char *)data, (unsigned)len);
		w->nbufs = 1;
	}
	rv = conn_write(c, w);
	if (rv != 0) {
		http_conn_close(c);
		return rv;
	}
	req->send_pending = w;
	req->send_written += len;
	http_conn_timer_start(c, c->server->idle_timeout_ms);
	return 0;
}

void http_respond_end(struct http_request *req)
{
	static const char last_chunk[] = "0\r\n\r\n";
	struct http_conn *c;
	struct conn_write *w;
	int complete, chunked, keep;

	if (req == NULL) {
		return;
	}
	if (!req->sending) {
		/* misuse: nothing was started; answer something whole */
		http_respond_error(req, 500, "internal", "answer not started");
		return;
	}
	request_finished(req, req->send_status);
	c = req->conn;
	if (c == NULL) {
		request_free_orphan(req);
		return;
	}
	assert(c->state == CONN_SENDING && c->req == req);
	complete =
	    req->send_pending == NULL &&
	    (req->send_head_only || req->send_length == HTTP_LENGTH_CHUNKED ||
	     req->send_written == req->send_length);
	chunked = req->send_chunked && !req->send_head_only;
	keep = req->keep_alive;
	c->req = NULL;
	http_conn_request_free(req); /* detaches a write in flight */
	if (!complete) {
		http_conn_close(c); /* the client must see the body is cut */
		return;
	}
	w = chunked ? write_new(WRITE_ANSWER_LAST, last_chunk,
				sizeof last_chunk - 1)
		    : write_new(WRITE_ANSWER_LAST, "", 0);
	if (w == NULL) {
		http_conn_close(c);
		return;
	}
	w->kind = keep ? WRITE_ANSWER_KEEP : WRITE_ANSWER_LAST;
	http_conn_set_state(c, CONN_WRITING);
	if (conn_write(c, w) != 0) {
		http_conn_close(c);
		return;
	}
	http_conn_timer_start(c, c->server->idle_timeout_ms);
}

void http_respond_json(struct http_request *req, int status, const char *json,
		       const char *extra_headers)
{
	http_respond(req, status, "application/json", json,
		     json ? strlen(json) : 0, extra_headers);
}

void http_respond_error(struct http_request *req, int status, const char *code,
			const char *message)
{
	static const char fallback[] =
	    "{\"error\":\"internal\",\"message\":\"out of memory\"}";
	size_t code_len = http_json_quote(NULL, 0, code);
	size_t msg_len = http_json_quote(NULL, 0, message);
	size_t cap = code_len + msg_len + 32;
	char *json = malloc(cap);
	size_t n;

	if (json == NULL) {
		http_respond_json(req, status, fallback, NULL);
		return;
	}
	n = (size_t)snprintf(json, cap, "{\"error\":");
	n += http_json_quote(json + n, cap - n, code);
	n += (size_t)snprintf(json + n, cap - n, ",\"message\":");
	n += http_json_quote(json + n, cap - n, message);
	snprintf(json + n, cap - n, "}");
	http_respond_json(req, status, json, NULL);
	free(json);
}
