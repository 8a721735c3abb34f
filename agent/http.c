/* http: HTTP/1.1 server on libuv; see http.h for the contract.
 *
 * Every connection walks one state machine (conn_set_state() checks each
 * transition against the table below):
 *
 *   ACCEPTING --admitted--> HANDSHAKE --TLS up (plain: next turn)--> READING
 *   READING --request complete--> HANDLING
 *   READING --headers of a streamed request--> BODY --body read--> HANDLING
 *   HANDLING, BODY --http_respond--> WRITING
 *   HANDLING, BODY --http_respond_start--> SENDING --respond_end--> WRITING
 *   WRITING --written, keep-alive--> READING
 *   WRITING --written, last answer--> LINGERING --EOF/timer--> CLOSING
 *   any state --error, timeout, server close--> CLOSING
 *
 * In BODY the handler holds the request and pulls the body: each piece the
 * parser yields is handed to the body callback, and the socket is read
 * again only after http_request_resume(). An answer given in BODY is the
 * last one on the connection (the rest of the body is never parsed).
 *
 * While HANDLING and WRITING the socket is not read; bytes already read
 * beyond the current request (pipelining) wait in conn->in and are parsed
 * when the connection is READING again. LINGERING shuts the write side
 * down and discards input until the peer closes, so that unread request
 * bytes do not turn the final answer into a reset.
 *
 * The socket is a struct tls_conn: TLS 1.3 with the server's context (the
 * client's certificate role and name go into each request), plain TCP
 * without one. A failed handshake is logged and closes the connection.
 *
 * Memory of a connection is freed only in the close callback of its last
 * handle. A request with the handler when its connection closes becomes an
 * orphan: it keeps its own memory, forgets the connection, and
 * http_respond() only frees it. */
#include "agent/http.h"
#include "agent/http_util.h"
#include "agent/log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_READ_CHUNK (16 * 1024)
#define HTTP_LINGER_MS 2000
#define HTTP_BACKLOG 511

enum conn_state {
	CONN_ACCEPTING, /* handles initialised, not admitted yet */
	CONN_HANDSHAKE, /* admitted; TLS handshake running */
	CONN_READING,	/* reading and parsing the next request */
	CONN_BODY,	/* a streamed request is with the handler, body read
			   as the handler asks for it */
	CONN_HANDLING,	/* a complete request is with the handler */
	CONN_SENDING,	/* a streamed answer is being written in pieces */
	CONN_WRITING,	/* the answer is being written */
	CONN_LINGERING, /* last answer written, write side shut, draining */
	CONN_CLOSING,	/* handles closing; freed in the last close callback */
	CONN_STATE_COUNT
};

#define BIT(s) (1u << (s))
static const unsigned conn_transitions[CONN_STATE_COUNT] = {
    [CONN_ACCEPTING] = BIT(CONN_HANDSHAKE) | BIT(CONN_CLOSING),
    [CONN_HANDSHAKE] = BIT(CONN_READING) | BIT(CONN_CLOSING),
    [CONN_READING] = BIT(CONN_BODY) | BIT(CONN_HANDLING) | BIT(CONN_CLOSING),
    [CONN_BODY] = BIT(CONN_HANDLING) | BIT(CONN_SENDING) | BIT(CONN_WRITING) |
		  BIT(CONN_CLOSING),
    [CONN_HANDLING] = BIT(CONN_SENDING) | BIT(CONN_WRITING) | BIT(CONN_CLOSING),
    [CONN_SENDING] = BIT(CONN_WRITING) | BIT(CONN_CLOSING),
    [CONN_WRITING] =
	BIT(CONN_READING) | BIT(CONN_LINGERING) | BIT(CONN_CLOSING),
    [CONN_LINGERING] = BIT(CONN_CLOSING),
    [CONN_CLOSING] = 0,
};

/* Reject codes the parser callbacks leave for conn_process(). */
#define REJECT_SILENT (-1) /* close without an answer */

/* Why the parser paused: what conn_process() does next. */
enum pause_reason {
	PAUSE_MESSAGE, /* a request is complete */
	PAUSE_HEADERS, /* the headers of a streamed request are complete */
	PAUSE_BODY     /* a piece of a streamed body is ready */
};

struct http_conn {
	struct http_server *server;
	struct http_conn *prev, *next;
	enum conn_state state;
	struct tls_conn tls; /* the socket, TLS or plain */
	uv_timer_t timer;
	int handles_open;
	int read_active;   /* tls_conn_read_start() is in effect */
	int read_starting; /* inside tls_conn_read_start(): only buffer */
	http_parser parser;
	struct http_request *req; /* being parsed, or with the handler */
	size_t header_bytes;	  /* of the message being parsed */
	int headers_done;	  /* of the message being parsed */
	int reject_status;	  /* 0, an HTTP status or REJECT_SILENT */
	enum pause_reason pause;  /* set with every http_parser_pause() */
	const char *piece;	  /* PAUSE_BODY: the piece, inside in[] */
	size_t piece_len;
	int delivering; /* inside the body callback */
	const char *reject_code;
	const char *reject_message;
	char *in; /* bytes read, not parsed yet: in[in_off .. in_off+in_len) */
	size_t in_off, in_len, in_cap;
	char peer[HTTP_PEER_LEN];
};

enum write_kind {
	WRITE_CONTINUE, /* "100 Continue" */
	WRITE_HEAD,	/* status line and headers of a streamed answer */
	WRITE_BODY,	/* a piece of a streamed answer (http_respond_write) */
	WRITE_ANSWER_KEEP, /* an answer; the connection stays open */
	WRITE_ANSWER_LAST  /* an answer; the connection closes after it */
};

struct conn_write {
	uv_write_t req;
	struct http_conn *conn;
	enum write_kind kind;
	struct http_request *owner; /* WRITE_BODY: NULL once it ended */
	http_write_done_fn done;    /* WRITE_BODY */
	void *arg;
	uv_buf_t bufs[3]; /* WRITE_BODY: chunk size line, data, CRLF */
	unsigned nbufs;	  /* 0: the single buffer bytes[0..len) */
	char chunk_line[24];
	size_t len;
	char bytes[];
};

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void conn_close(struct http_conn *c);
static void conn_process(struct http_conn *c);

/* ---- connection state ---- */

static const char *const conn_state_names[CONN_STATE_COUNT] = {
    [CONN_ACCEPTING] = "accepting", [CONN_HANDSHAKE] = "handshake",
    [CONN_READING] = "reading",	    [CONN_BODY] = "body",
    [CONN_HANDLING] = "handling",   [CONN_SENDING] = "sending",
    [CONN_WRITING] = "writing",	    [CONN_LINGERING] = "lingering",
    [CONN_CLOSING] = "closing",
};

/* The one place where a connection changes state. */
static void conn_set_state(struct http_conn *c, enum conn_state next)
{
	if (!(conn_transitions[c->state] & BIT(next)))
		LOG_ERROR("http", "conn %s: bad transition %s -> %s", c->peer,
			  conn_state_names[c->state], conn_state_names[next]);
	assert(conn_transitions[c->state] & BIT(next));
	LOG_DEBUG("http", "conn %s: %s -> %s", c->peer,
		  conn_state_names[c->state], conn_state_names[next]);
	c->state = next;
}

static void conn_timer_cb(uv_timer_t *t) { conn_close(t->data); }

static void conn_timer_start(struct http_conn *c, uint64_t ms)
{
	uv_timer_start(&c->timer, conn_timer_cb, ms, 0);
}

static void conn_reject(struct http_conn *c, int status, const char *code,
			const char *message)
{
	if (c->reject_status != 0) {
		return; /* the first reason wins */
	}
	c->reject_status = status;
	c->reject_code = code;
	c->reject_message = message;
}

/* ---- requests ---- */

static struct http_request *request_new(struct http_conn *c)
{
	struct http_request *req = calloc(1, sizeof *req);

	if (req == NULL) {
		return NULL;
	}
	req->method = "";
	req->path = "";
	req->query = "";
	req->body = "";
	memcpy(req->peer, c->peer, sizeof req->peer);
	req->role = c->tls.peer_role;
	memcpy(req->identity, c->tls.peer_identity, sizeof req->identity);
	req->data = c->server->data;
	req->start_ns = uv_hrtime();
	req->conn = c;
	req->server = c->server;
	return req;
}

static void request_free(struct http_request *req)
{
	size_t i;

	if (req->send_pending != NULL) {
		req->send_pending->owner = NULL;
	}
	for (i = 0; i < req->n_headers; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	free(req->url);
	free(req->path_buf);
	free(req->query_buf);
	free(req->body_buf);
	free(req);
}

static void orphan_link(struct http_server *s, struct http_request *req)
{
	req->conn = NULL;
	req->orphan_prev = NULL;
	req->orphan_next = s->orphans;
	if (s->orphans != NULL) {
		s->orphans->orphan_prev = req;
	}
	s->orphans = req;
}

static void orphan_unlink(struct http_server *s, struct http_request *req)
{
	if (req->orphan_prev != NULL) {
		req->orphan_prev->orphan_next = req->orphan_next;
	} else {
		s->orphans = req->orphan_next;
	}
	if (req->orphan_next != NULL) {
		req->orphan_next->orphan_prev = req->orphan_prev;
	}
	req->orphan_prev = req->orphan_next = NULL;
}

/* Appends @n bytes to the NUL-terminated string *@s of length *@len. */
static int str_append(char **s, size_t *len, const char *at, size_t n)
{
	char *p = realloc(*s, *len + n + 1);

	if (p == NULL) {
		return UV_ENOMEM;
	}
	memcpy(p + *len, at, n);
	*len += n;
	p[*len] = '\0';
	*s = p;
	return 0;
}

/* ---- parser callbacks ---- */

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	c->header_bytes = 0;
	c->headers_done = 0;
	if (c->req == NULL) {
		c->req = request_new(c);
	}
	if (c->req == NULL) {
		conn_reject(c, REJECT_SILENT, NULL, NULL);
		return -1;
	}
	return 0;
}

/* Counts request-line and header bytes; rejects with 431 past the limit. */
static int count_header_bytes(struct http_conn *c, size_t n)
{
	c->header_bytes += n;
	if (c->header_bytes > c->server->max_header) {
		conn_reject(c, 431, "too_large", "request headers too large");
		return -1;
	}
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;

	if (count_header_bytes(c, n) != 0) {
		return -1;
	}
	if (req->url == NULL) {
		req->method_id = (enum http_method)p->method;
		req->method = http_method_str(req->method_id);
	}
	if (str_append(&req->url, &req->url_len, at, n) != 0) {
		conn_reject(c, REJECT_SILENT, NULL, NULL);
		return -1;
	}
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;
	struct http_header *h;

	if (count_header_bytes(c, n) != 0) {
		return -1;
	}
	if (c->headers_done) {
		return 0; /* trailer of a chunked body: counted, not kept */
	}
	if (req->n_headers == 0 || req->last_was_value) {
		if (count_header_bytes(c, 4) != 0) { /* ": " and CRLF */
			return -1;
		}
		if (req->n_headers == req->cap_headers) {
			size_t cap =
			    req->cap_headers ? 2 * req->cap_headers : 8;
			struct http_header *hs;

			hs = realloc(req->headers, cap * sizeof *hs);
			if (hs == NULL) {
				goto err_nomem;
			}
			req->headers = hs;
			req->cap_headers = cap;
		}
		h = &req->headers[req->n_headers];
		h->name = NULL;
		h->value = strdup("");
		if (h->value == NULL) {
			goto err_nomem;
		}
		req->n_headers++;
		req->name_len = 0;
		req->value_len = 0;
		req->last_was_value = 0;
	}
	h = &req->headers[req->n_headers - 1];
	if (str_append(&h->name, &req->name_len, at, n) != 0) {
		goto err_nomem;
	}
	return 0;

err_nomem:
	conn_reject(c, REJECT_SILENT, NULL, NULL);
	return -1;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;
	struct http_header *h;

	if (count_header_bytes(c, n) != 0) {
		return -1;
	}
	if (c->headers_done || req->n_headers == 0) {
		return 0;
	}
	h = &req->headers[req->n_headers - 1];
	if (h->name == NULL) {
		/* a value needs a name; the parser never does this */
		conn_reject(c, 400, "bad_request", "header value without name");
		return -1;
	}
	req->last_was_value = 1;
	if (str_append(&h->value, &req->value_len, at, n) != 0) {
		conn_reject(c, REJECT_SILENT, NULL, NULL);
		return -1;
	}
	return 0;
}

/* Splits the request target into the decoded path and the raw query. */
static int request_parse_target(struct http_conn *c, struct http_request *req)
{
	struct http_parser_url u;
	const char *path = "/";
	size_t path_len = 1;
	int rv;

	if (req->url == NULL || req->url_len > UINT16_MAX) {
		conn_reject(c, 400, "bad_request", "invalid request target");
		return -1;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(req->url, req->url_len,
				  req->method_id == HTTP_CONNECT, &u) != 0) {
		conn_reject(c, 400, "bad_request", "invalid request target");
		return -1;
	}
	if (u.field_set & (1u << UF_PATH)) {
		path = req->url + u.field_data[UF_PATH].off;
		path_len = u.field_data[UF_PATH].len;
	}
	req->path_buf = malloc(path_len + 1);
	if (req->path_buf == NULL) {
		conn_reject(c, REJECT_SILENT, NULL, NULL);
		return -1;
	}
	rv = http_util_pct_decode(path, path_len, 0, req->path_buf,
				  path_len + 1);
	if (rv != 0) {
		conn_reject(c, 400, "bad_request",
			    "invalid percent-encoding in path");
		return -1;
	}
	req->path = req->path_buf;
	if (u.field_set & (1u << UF_QUERY)) {
		req->query_buf = strndup(req->url + u.field_data[UF_QUERY].off,
					 u.field_data[UF_QUERY].len);
		if (req->query_buf == NULL) {
			conn_reject(c, REJECT_SILENT, NULL, NULL);
			return -1;
		}
		req->query = req->query_buf;
	}
	return 0;
}

static void conn_write_continue(struct http_conn *c);

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;
	const char *expect;
	int has_body;
	size_t i;

	c->headers_done = 1;
	for (i = 0; i < req->n_headers; i++) {
		char *v = req->headers[i].value;
		size_t n = strlen(v);

		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
			v[--n] = '\0';
		}
	}
	req->http_major = p->http_major;
	req->http_minor = p->http_minor;
	req->method_id = (enum http_method)p->method;
	req->method = http_method_str(req->method_id);
	if (request_parse_target(c, req) != 0) {
		return -1;
	}
	has_body = (p->flags & F_CHUNKED) != 0 ||
		   ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
	expect = http_request_header(req, "Expect");
	if (has_body && c->server->stream_match != NULL &&
	    c->server->stream_match(c->server->data, req)) {
		req->streaming = 1;
		req->expect_continue =
		    expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
		    (p->http_major > 1 ||
		     (p->http_major == 1 && p->http_minor >= 1));
		/* to the handler now; the body waits for it */
		c->pause = PAUSE_HEADERS;
		http_parser_pause(p, 1);
		return 0;
	}
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
		if (p->content_length > c->server->max_body) {
			conn_reject(c, 413, "too_large",
				    "request body too large");
			return -1;
		}
		req->body_buf = malloc((size_t)p->content_length + 1);
		if (req->body_buf == NULL) {
			conn_reject(c, REJECT_SILENT, NULL, NULL);
			return -1;
		}
		req->body_cap = (size_t)p->content_length + 1;
	}
	if (has_body && expect != NULL &&
	    strcasecmp(expect, "100-continue") == 0 &&
	    (p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1))) {
		conn_write_continue(c);
		if (c->reject_status != 0) {
			return -1;
		}
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;

	if (req->streaming) {
		/* handed over by conn_process(), which stops the parser here */
		c->piece = at;
		c->piece_len = n;
		c->pause = PAUSE_BODY;
		http_parser_pause(p, 1);
		return 0;
	}
	if (n > c->server->max_body - req->body_len) {
		conn_reject(c, 413, "too_large", "request body too large");
		return -1;
	}
	if (req->body_len + n + 1 > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap : 1024;
		char *b;

		while (cap < req->body_len + n + 1) {
			cap *= 2;
		}
		if (cap > c->server->max_body + 1) {
			cap = c->server->max_body + 1;
		}
		b = realloc(req->body_buf, cap);
		if (b == NULL) {
			conn_reject(c, REJECT_SILENT, NULL, NULL);
			return -1;
		}
		req->body_buf = b;
		req->body_cap = cap;
	}
	memcpy(req->body_buf + req->body_len, at, n);
	req->body_len += n;
	req->body_buf[req->body_len] = '\0';
	req->body = req->body_buf;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->req->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	/* Stop here: the next pipelined request waits for this answer. */
	c->pause = PAUSE_MESSAGE;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- writing ---- */

static void conn_linger(struct http_conn *c);

static void conn_read_off(struct http_conn *c)
{
	if (c->read_active) {
		tls_conn_read_stop(&c->tls);
		c->read_active = 0;
	}
}

/* After the last bytes of an answer are written. */
static void conn_answer_written(struct http_conn *c, enum write_kind kind)
{
	if (kind == WRITE_ANSWER_LAST) {
		conn_linger(c);
		return;
	}
	conn_set_state(c, CONN_READING);
	conn_process(c);
}

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
			conn_close(c);
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
		conn_close(c);
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
		conn_answer_written(c, kind);
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

static void conn_write_continue(struct http_conn *c)
{
	struct conn_write *w =
	    write_new(WRITE_CONTINUE, continue_line, sizeof continue_line - 1);

	if (w == NULL || conn_write(c, w) != 0) {
		conn_reject(c, REJECT_SILENT, NULL, NULL);
	}
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
			status, http_util_reason_phrase(status), type_line,
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
		 http_util_reason_phrase(status), type_line, length_line,
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
	conn_set_state(c, CONN_WRITING);
	conn_timer_start(c, c->server->idle_timeout_ms);
	return 0;
}

/* The handler is done with @req: count it and tell on_done. */
static void request_finished(struct http_request *req, int status)
{
	struct http_server *s = req->server;

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
		orphan_unlink(req->server, req);
	}
	request_free(req);
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
	head_only = req->method_id == HTTP_HEAD && req->url != NULL;
	c->req = NULL;
	conn_read_off(c);
	/* the answer may point into the request (a header value, its body):
	 * it is copied out before the request goes */
	rv = conn_write_answer(c, status, content_type, body, len,
			       extra_headers, keep, head_only);
	request_free(req);
	if (rv != 0) {
		conn_close(c);
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
	    (req->method_id == HTTP_HEAD && req->url != NULL) ||
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
	conn_read_off(c);
	conn_set_state(c, CONN_SENDING);
	w = answer_head(status, content_type, length_line, extra_headers, keep,
			0);
	if (w == NULL) {
		conn_close(c);
		return UV_ENOMEM;
	}
	w->kind = WRITE_HEAD;
	if (conn_write(c, w) != 0) {
		conn_close(c);
		return UV_ECONNRESET;
	}
	conn_timer_start(c, c->server->idle_timeout_ms);
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
		conn_close(c);
		return rv;
	}
	req->send_pending = w;
	req->send_written += len;
	conn_timer_start(c, c->server->idle_timeout_ms);
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
	request_free(req); /* detaches a write in flight */
	if (!complete) {
		conn_close(c); /* the client must see the body is cut */
		return;
	}
	w = chunked ? write_new(WRITE_ANSWER_LAST, last_chunk,
				sizeof last_chunk - 1)
		    : write_new(WRITE_ANSWER_LAST, "", 0);
	if (w == NULL) {
		conn_close(c);
		return;
	}
	w->kind = keep ? WRITE_ANSWER_KEEP : WRITE_ANSWER_LAST;
	conn_set_state(c, CONN_WRITING);
	if (conn_write(c, w) != 0) {
		conn_close(c);
		return;
	}
	conn_timer_start(c, c->server->idle_timeout_ms);
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

/* ---- reading ---- */

/* Plaintext from the connection (borrowed for the call). */
static void conn_on_read(struct tls_conn *t, ssize_t nread, const char *data)
{
	struct http_conn *c = t->data;
	size_t n = (size_t)nread;

	if (nread < 0) {
		conn_close(c); /* EOF, reset or a TLS error */
		return;
	}
	if (c->state == CONN_LINGERING || c->state == CONN_CLOSING) {
		return; /* discarded */
	}
	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len);
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len < n) {
		size_t cap = c->in_len + n;
		char *p;

		if (cap < HTTP_READ_CHUNK) {
			cap = HTTP_READ_CHUNK;
		}
		p = realloc(c->in, cap);
		if (p == NULL) {
			conn_close(c);
			return;
		}
		c->in = p;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, data, n);
	c->in_len += n;
	if (c->read_starting) {
		return; /* conn_read_on()'s caller parses it */
	}
	if (c->state == CONN_READING || c->state == CONN_BODY) {
		conn_process(c);
	}
}

/* Plaintext may come inside this call: it is only buffered then, for the
 * caller to parse. */
static void conn_read_on(struct http_conn *c)
{
	if (c->read_active) {
		return;
	}
	c->read_active = 1;
	c->read_starting = 1;
	tls_conn_read_start(&c->tls);
	c->read_starting = 0;
}

/* A complete request goes to the handler. */
static void conn_dispatch(struct http_conn *c)
{
	struct http_request *req = c->req;

	conn_set_state(c, CONN_HANDLING);
	conn_read_off(c);
	uv_timer_stop(&c->timer);
	c->server->handler(req);
}

/* Answers a request the server refuses itself, then closes. */
static void conn_answer_reject(struct http_conn *c)
{
	int status = c->reject_status;

	c->reject_status = 0;
	if (status == REJECT_SILENT || c->state == CONN_BODY) {
		/* in BODY the request is the handler's: it learns of the end
		 * through its body callback */
		conn_close(c);
		return;
	}
	if (c->req == NULL) {
		c->req = request_new(c);
		if (c->req == NULL) {
			conn_close(c);
			return;
		}
	}
	c->req->keep_alive = 0;
	conn_set_state(c, CONN_HANDLING);
	conn_read_off(c);
	uv_timer_stop(&c->timer);
	http_respond_error(c->req, status, c->reject_code, c->reject_message);
}

/* Whether the parser is to run: a request is being read, or a streamed
 * body the handler waits for. */
static int conn_parsing(const struct http_conn *c)
{
	if (c->state == CONN_READING) {
		return 1;
	}
	return c->state == CONN_BODY && c->req != NULL &&
	       c->req->body_cb != NULL && !c->req->body_paused;
}

/* The headers of a streamed request are complete: to the handler. */
static void conn_dispatch_stream(struct http_conn *c)
{
	conn_set_state(c, CONN_BODY);
	conn_read_off(c);
	uv_timer_stop(&c->timer);
	c->server->handler(c->req);
}

/* Hands the piece the parser stopped at to the body callback. */
static void conn_deliver(struct http_conn *c)
{
	struct http_request *req = c->req;

	req->body_paused = 1;
	c->delivering = 1;
	req->body_cb(req->body_arg, req, c->piece, c->piece_len, 0);
	c->delivering = 0;
	c->piece = NULL;
	c->piece_len = 0;
}

/* The streamed body is complete: the request becomes a plain one with the
 * handler. */
static void conn_body_done(struct http_conn *c)
{
	struct http_request *req = c->req;
	http_body_fn cb = req->body_cb;

	req->body_cb = NULL;
	conn_set_state(c, CONN_HANDLING);
	conn_read_off(c);
	uv_timer_stop(&c->timer);
	cb(req->body_arg, req, NULL, 0, 1);
}

static void conn_paused(struct http_conn *c)
{
	switch (c->pause) {
	case PAUSE_HEADERS:
		conn_dispatch_stream(c);
		break;
	case PAUSE_BODY:
		conn_deliver(c);
		break;
	case PAUSE_MESSAGE:
		if (c->state == CONN_BODY) {
			conn_body_done(c);
		} else {
			conn_dispatch(c);
		}
		break;
	}
}

static void conn_process(struct http_conn *c)
{
again:
	while (conn_parsing(c) && c->in_len > 0) {
		size_t n = http_parser_execute(&c->parser, &parser_settings,
					       c->in + c->in_off, c->in_len);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

		c->in_off += n;
		c->in_len -= n;
		if (c->reject_status != 0) {
			conn_answer_reject(c);
			return;
		}
		if (e == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			conn_paused(c);
			continue;
		}
		if (e != HPE_OK && c->state == CONN_BODY) {
			LOG_DEBUG("http", "conn %s: bad body: %s", c->peer,
				  http_errno_description(e));
			conn_close(c); /* the handler learns of it */
			return;
		}
		if (e == HPE_HEADER_OVERFLOW) {
			conn_reject(c, 431, "too_large",
				    "request headers too large");
			conn_answer_reject(c);
			return;
		}
		if (e != HPE_OK) {
			conn_reject(c, 400, "bad_request",
				    http_errno_description(e));
			conn_answer_reject(c);
			return;
		}
		if (c->in_len > 0) {
			/* stopped without error or pause: an upgrade to a
			 * protocol this server does not speak */
			conn_close(c);
			return;
		}
	}
	if (c->state == CONN_BODY && !conn_parsing(c)) {
		/* the handler has the piece: nothing is read until it
		 * resumes, so the client is held back */
		conn_read_off(c);
		uv_timer_stop(&c->timer);
		return;
	}
	if (!conn_parsing(c)) {
		return;
	}
	c->in_off = 0;
	conn_read_on(c);
	if (c->in_len > 0) {
		goto again; /* buffered while reading started */
	}
	if (conn_parsing(c)) {
		conn_timer_start(c, c->server->idle_timeout_ms);
	}
}

/* ---- streamed requests ---- */

static void conn_resume_cb(uv_timer_t *t)
{
	struct http_conn *c = t->data;

	if (c->state == CONN_BODY) {
		conn_process(c);
	}
}

/* Parses on in a later loop turn, never inside the caller's call. */
static void conn_resume_later(struct http_conn *c)
{
	uv_timer_start(&c->timer, conn_resume_cb, 0, 0);
}

int http_request_on_body(struct http_request *req, http_body_fn cb, void *arg)
{
	struct http_conn *c;

	if (req == NULL || cb == NULL || !req->streaming || req->body_started ||
	    req->sending) {
		return UV_EINVAL;
	}
	c = req->conn;
	if (c == NULL) {
		return UV_ECONNRESET;
	}
	if (c->state != CONN_BODY || c->req != req) {
		return UV_EINVAL;
	}
	req->body_started = 1;
	req->body_cb = cb;
	req->body_arg = arg;
	req->body_paused = 0;
	if (req->expect_continue) {
		struct conn_write *w = write_new(WRITE_CONTINUE, continue_line,
						 sizeof continue_line - 1);

		req->expect_continue = 0;
		/* without it a client sends the body after its own wait */
		if (w != NULL) {
			conn_write(c, w);
		}
	}
	conn_resume_later(c);
	return 0;
}

void http_request_resume(struct http_request *req)
{
	struct http_conn *c;

	if (req == NULL || (c = req->conn) == NULL || c->state != CONN_BODY ||
	    c->req != req || !req->body_paused) {
		return;
	}
	req->body_paused = 0;
	if (!c->delivering) {
		conn_resume_later(c);
	}
}

/* ---- closing ---- */

static void conn_shutdown_cb(struct tls_conn *t, int status, void *arg)
{
	struct http_conn *c = arg;

	(void)t;
	if (status < 0 && c->state != CONN_CLOSING) {
		conn_close(c);
	}
}

static void conn_linger(struct http_conn *c)
{
	uint64_t ms = c->server->idle_timeout_ms;

	conn_set_state(c, CONN_LINGERING);
	if (tls_conn_shutdown(&c->tls, conn_shutdown_cb, c) != 0) {
		conn_close(c);
		return;
	}
	conn_read_on(c);
	if (c->state == CONN_LINGERING) {
		conn_timer_start(c, ms < HTTP_LINGER_MS ? ms : HTTP_LINGER_MS);
	}
}

static void server_maybe_closed(struct http_server *s)
{
	struct http_request *req;

	if (s->state != HTTP_SERVER_CLOSING || s->listener_open ||
	    s->conns != NULL) {
		return;
	}
	/* Requests still with the handler outlive the server. */
	while ((req = s->orphans) != NULL) {
		orphan_unlink(s, req);
		req->server = NULL;
	}
	s->state = HTTP_SERVER_CLOSED;
	if (s->close_cb != NULL) {
		s->close_cb(s);
	}
}

static void conn_release(struct http_conn *c)
{
	struct http_server *s = c->server;

	if (--c->handles_open > 0) {
		return;
	}
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		s->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	if (c->req != NULL) {
		request_free(c->req); /* partly parsed, never handled */
	}
	free(c->in);
	free(c);
	server_maybe_closed(s);
}

static void conn_close_cb(uv_handle_t *h) { conn_release(h->data); }

static void conn_tls_close_cb(struct tls_conn *t) { conn_release(t->data); }

static void conn_close(struct http_conn *c)
{
	enum conn_state old = c->state;
	struct http_request *req = NULL;

	if (old == CONN_CLOSING) {
		return;
	}
	conn_set_state(c, CONN_CLOSING);
	if (old != CONN_ACCEPTING) {
		c->server->n_conns--;
	}
	if ((old == CONN_HANDLING || old == CONN_BODY || old == CONN_SENDING) &&
	    c->req != NULL) {
		req = c->req;
		orphan_link(c->server, req);
		c->req = NULL;
	}
	c->read_active = 0;
	tls_conn_close(&c->tls, conn_tls_close_cb);
	uv_close((uv_handle_t *)&c->timer, conn_close_cb);
	if (req != NULL && req->body_cb != NULL) {
		/* a streamed body that will never complete; last, as the
		 * handler may answer (and so free) the request here */
		http_body_fn cb = req->body_cb;

		req->body_cb = NULL;
		cb(req->body_arg, req, NULL, 0, UV_ECONNRESET);
	}
}

/* ---- accepting ---- */

static void format_peer(struct http_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	char host[INET6_ADDRSTRLEN] = "";

	if (uv_tcp_getpeername(&c->tls.tcp, (struct sockaddr *)&ss, &len) !=
	    0) {
		return;
	}
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		uv_ip4_name(in, host, sizeof host);
		snprintf(c->peer, sizeof c->peer, "%s:%u", host,
			 (unsigned)ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)&ss;

		uv_ip6_name(in6, host, sizeof host);
		snprintf(c->peer, sizeof c->peer, "[%s]:%u", host,
			 (unsigned)ntohs(in6->sin6_port));
	}
}

static void conn_on_handshake(struct tls_conn *t, int status)
{
	struct http_conn *c = t->data;

	if (c->state != CONN_HANDSHAKE) {
		return;
	}
	if (status != 0) {
		const char *why =
		    t->errmsg[0] != '\0' ? t->errmsg : tls_strerror(status);
		char msg[TLS_ERRMSG_LEN + 64];

		/* a client retrying: once a minute per address and reason */
		if (c->server->tls == NULL)
			LOG_WARN("http", "conn %s: %s", c->peer, why);
		else if (tls_quiet_pass(&c->server->tls->quiet, c->peer, why,
					uv_now(c->server->loop), msg,
					sizeof msg))
			LOG_WARN("http", "conn %s: %s", c->peer, msg);
		conn_close(c);
		return;
	}
	/* the TLS layer reads from now on */
	c->read_active = 1;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	conn_set_state(c, CONN_READING);
	conn_process(c);
}

static void server_connection_cb(uv_stream_t *listener, int status)
{
	struct http_server *s = listener->data;
	struct http_conn *c;

	if (status < 0) {
		LOG_WARN("http", "accept: %s", uv_strerror(status));
		return;
	}
	if (s->state != HTTP_SERVER_RUNNING) {
		return;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		/* without a handle libuv pauses accepting until the next
		 * uv_accept(); nothing better can be done without memory */
		LOG_ERROR("http", "accept: out of memory");
		return;
	}
	c->server = s;
	c->state = CONN_ACCEPTING;
	if (tls_conn_init(&c->tls, s->loop, s->tls, TLS_SERVER,
			  TLS_ROLES_ANY) != 0) {
		LOG_ERROR("http", "accept: %s", c->tls.errmsg);
		free(c);
		return;
	}
	uv_timer_init(s->loop, &c->timer);
	c->tls.data = c;
	c->timer.data = c;
	c->handles_open = 2;
	c->next = s->conns;
	if (s->conns != NULL) {
		s->conns->prev = c;
	}
	s->conns = c;
	snprintf(c->peer, sizeof c->peer, "unknown");
	if (uv_accept(listener, (uv_stream_t *)&c->tls.tcp) != 0) {
		conn_close(c);
		return;
	}
	format_peer(c);
	if (s->n_conns >= s->max_connections) {
		LOG_WARN("http", "conn %s: refused, %u connections open",
			 c->peer, s->n_conns);
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tls.tcp, 1);
	conn_set_state(c, CONN_HANDSHAKE);
	s->n_conns++;
	if (s->tls != NULL &&
	    s->idle_timeout_ms < (uint64_t)TLS_HANDSHAKE_TIMEOUT_MS) {
		tls_conn_set_timeout(&c->tls, (unsigned)s->idle_timeout_ms);
	}
	if (tls_conn_start(&c->tls, conn_on_handshake, conn_on_read) != 0) {
		conn_close(c);
	}
}

/* ---- server ---- */

static void listener_free_cb(uv_handle_t *h) { free(h); }

static void listener_close_cb(uv_handle_t *h)
{
	struct http_server *s = h->data;

	free(h);
	s->listener = NULL;
	s->listener_open = 0;
	server_maybe_closed(s);
}

/* Creates a bound, listening, non-blocking socket; returns it or a negative
 * libuv error. Done by hand so that every common failure (address in use,
 * permission) leaves no handle behind. */
static int listen_socket(const struct sockaddr *sa, socklen_t salen, int *port)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	int one = 1;
	int fd, rv;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		return uv_translate_sys_error(errno);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, sa, salen) != 0 || listen(fd, HTTP_BACKLOG) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		rv = uv_translate_sys_error(errno);
		close(fd);
		return rv;
	}
	if (bound.ss_family == AF_INET) {
		*port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	} else {
		*port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
	}
	return fd;
}

int http_server_init(struct http_server *s, uv_loop_t *loop,
		     const struct http_server_config *cfg,
		     http_handler_fn handler, void *data)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	const struct sockaddr *sa;
	socklen_t salen;
	uv_tcp_t *listener;
	int fd, port = 0, rv;

	if (s == NULL || loop == NULL || cfg == NULL || handler == NULL ||
	    cfg->host == NULL || cfg->port < 0 || cfg->port > 65535) {
		return UV_EINVAL;
	}
	if (uv_ip4_addr(cfg->host, cfg->port, &in4) == 0) {
		sa = (const struct sockaddr *)&in4;
		salen = sizeof in4;
	} else if (uv_ip6_addr(cfg->host, cfg->port, &in6) == 0) {
		sa = (const struct sockaddr *)&in6;
		salen = sizeof in6;
	} else {
		return UV_EINVAL;
	}
	fd = listen_socket(sa, salen, &port);
	if (fd < 0) {
		return fd;
	}
	listener = malloc(sizeof *listener);
	if (listener == NULL) {
		rv = UV_ENOMEM;
		goto err_after_socket;
	}
	rv = uv_tcp_init(loop, listener);
	if (rv != 0) {
		free(listener);
		goto err_after_socket;
	}
	rv = uv_tcp_open(listener, fd);
	if (rv != 0) {
		uv_close((uv_handle_t *)listener, listener_free_cb);
		goto err_after_socket;
	}
	listener->data = s;
	rv = uv_listen((uv_stream_t *)listener, HTTP_BACKLOG,
		       server_connection_cb);
	if (rv != 0) {
		/* closes fd; the handle is freed on the next loop turn */
		uv_close((uv_handle_t *)listener, listener_free_cb);
		return rv;
	}

	memset(s, 0, sizeof *s);
	s->state = HTTP_SERVER_RUNNING;
	s->loop = loop;
	s->listener = listener;
	s->listener_open = 1;
	s->port = port;
	s->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
	s->max_header =
	    cfg->max_header ? cfg->max_header : HTTP_DEFAULT_MAX_HEADER;
	s->idle_timeout_ms = cfg->idle_timeout_ms
				 ? cfg->idle_timeout_ms
				 : HTTP_DEFAULT_IDLE_TIMEOUT_MS;
	s->max_connections = cfg->max_connections
				 ? cfg->max_connections
				 : HTTP_DEFAULT_MAX_CONNECTIONS;
	s->handler = handler;
	s->on_done = cfg->on_done;
	s->stream_match = cfg->stream_match;
	s->tls = cfg->tls;
	s->data = data;
	return 0;

err_after_socket:
	close(fd);
	return rv;
}

int http_server_port(const struct http_server *s) { return s->port; }

void http_server_close(struct http_server *s, void (*cb)(struct http_server *s))
{
	struct http_conn *c;

	if (s->state != HTTP_SERVER_RUNNING) {
		return;
	}
	s->state = HTTP_SERVER_CLOSING;
	s->close_cb = cb;
	uv_close((uv_handle_t *)s->listener, listener_close_cb);
	for (c = s->conns; c != NULL; c = c->next) {
		conn_close(c);
	}
}
