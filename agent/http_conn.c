/* http_conn: a connection of the HTTP server, from the end of the TLS
 * handshake to the close of its last handle: the state machine (its table
 * is here, its picture in http_internal.h), the requests it creates,
 * reading and parsing, handing requests and streamed bodies to the
 * handler, lingering after the last answer, closing. */
#include "agent/http_internal.h"
#include "agent/log.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_READ_CHUNK (16 * 1024)
#define HTTP_LINGER_MS 2000

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

static void conn_process(struct http_conn *c);
static void conn_linger(struct http_conn *c);

/* ---- connection state ---- */

static const char *const conn_state_names[CONN_STATE_COUNT] = {
    [CONN_ACCEPTING] = "accepting", [CONN_HANDSHAKE] = "handshake",
    [CONN_READING] = "reading",	    [CONN_BODY] = "body",
    [CONN_HANDLING] = "handling",   [CONN_SENDING] = "sending",
    [CONN_WRITING] = "writing",	    [CONN_LINGERING] = "lingering",
    [CONN_CLOSING] = "closing",
};

/* The one place where a connection changes state. */
void http_conn_set_state(struct http_conn *c, enum conn_state next)
{
	if (!(conn_transitions[c->state] & BIT(next)))
		LOG_ERROR("http", "conn %s: bad transition %s -> %s", c->peer,
			  conn_state_names[c->state], conn_state_names[next]);
	assert(conn_transitions[c->state] & BIT(next));
	LOG_DEBUG("http", "conn %s: %s -> %s", c->peer,
		  conn_state_names[c->state], conn_state_names[next]);
	c->state = next;
}

static void conn_timer_cb(uv_timer_t *t) { http_conn_close(t->data); }

static void conn_deadline_cb(uv_timer_t *t);

void http_conn_timer_start(struct http_conn *c, uint64_t ms)
{
	uv_timer_start(&c->timer, conn_timer_cb, ms, 0);
}

void http_conn_reject(struct http_conn *c, int status, const char *code,
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

struct http_request *http_conn_request_new(struct http_conn *c)
{
	struct http_request *req = calloc(1, sizeof *req);

	if (req == NULL) {
		return NULL;
	}
	req->method = "";
	req->path = "";
	req->raw_path = "";
	req->query = "";
	req->body = "";
	memcpy(req->peer, c->peer, sizeof req->peer);
	req->role = c->tls.peer_role;
	memcpy(req->identity, c->tls.peer_identity, sizeof req->identity);
	req->tls = c->tls.state != TLS_CONN_PLAIN;
	req->peer_agent = c->tls.peer_agent;
	memcpy(req->peer_pool, c->tls.peer_pool, sizeof req->peer_pool);
	req->data = c->server->data;
	req->start_ns = uv_hrtime();
	req->conn = c;
	req->server = c->server;
	return req;
}

void http_conn_request_free(struct http_request *req)
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

/* ---- reading ---- */

void http_conn_read_off(struct http_conn *c)
{
	if (c->read_active) {
		tls_conn_read_stop(&c->tls);
		c->read_active = 0;
	}
}

/* After the last bytes of an answer are written. */
void http_conn_answer_written(struct http_conn *c, enum write_kind kind)
{
	if (kind == WRITE_ANSWER_LAST) {
		conn_linger(c);
		return;
	}
	http_conn_set_state(c, CONN_READING);
	/* a pipelined request already begun is due from now */
	c->phase = c->in_len > 0 ? PHASE_HEAD : PHASE_IDLE;
	c->head_deadline = uv_now(c->server->loop) + c->server->head_timeout_ms;
	conn_process(c);
}

/* Plaintext from the connection (borrowed for the call). */
static void conn_on_read(struct tls_conn *t, ssize_t nread, const char *data)
{
	struct http_conn *c = t->data;
	size_t n = (size_t)nread;

	if (nread < 0) {
		http_conn_close(c); /* EOF, reset or a TLS error */
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
			http_conn_close(c);
			return;
		}
		c->in = p;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, data, n);
	c->in_len += n;
	if (c->phase == PHASE_IDLE && c->state == CONN_READING) {
		/* the first byte of the next request: its head is due */
		c->phase = PHASE_HEAD;
		c->head_deadline =
		    uv_now(c->server->loop) + c->server->head_timeout_ms;
	} else if (c->phase == PHASE_BODY) {
		c->window_bytes += n;
	}
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

	http_conn_set_state(c, CONN_HANDLING);
	http_conn_read_off(c);
	uv_timer_stop(&c->timer);
	c->phase = PHASE_IDLE;
	http_server_authenticated(c->server, c); /* plain: its first request */
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
		http_conn_close(c);
		return;
	}
	if (c->req == NULL) {
		c->req = http_conn_request_new(c);
		if (c->req == NULL) {
			http_conn_close(c);
			return;
		}
	}
	c->req->keep_alive = 0;
	http_conn_set_state(c, CONN_HANDLING);
	http_conn_read_off(c);
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
	http_conn_set_state(c, CONN_BODY);
	http_conn_read_off(c);
	uv_timer_stop(&c->timer);
	c->window_end = 0; /* the window starts when the server reads */
	c->window_left = 0;
	http_server_authenticated(c->server, c);
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
	http_conn_set_state(c, CONN_HANDLING);
	http_conn_read_off(c);
	uv_timer_stop(&c->timer);
	c->phase = PHASE_IDLE;
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
		enum http_parse_status e;
		const char *why;
		size_t n = http_parse_execute(c, c->in + c->in_off, c->in_len,
					      &e, &why);

		c->in_off += n;
		c->in_len -= n;
		if (c->reject_status != 0) {
			conn_answer_reject(c);
			return;
		}
		if (e == HTTP_PARSE_PAUSED) {
			conn_paused(c);
			continue;
		}
		if (e != HTTP_PARSE_OK && c->state == CONN_BODY) {
			LOG_DEBUG("http", "conn %s: bad body: %s", c->peer,
				  why);
			http_conn_close(c); /* the handler learns of it */
			return;
		}
		if (e == HTTP_PARSE_HEADER_OVERFLOW) {
			http_conn_reject(c, 431, "too_large",
					 "request headers too large");
			conn_answer_reject(c);
			return;
		}
		if (e != HTTP_PARSE_OK) {
			http_conn_reject(c, 400, "bad_request", why);
			conn_answer_reject(c);
			return;
		}
		if (c->in_len > 0) {
			/* stopped without error or pause: an upgrade to a
			 * protocol this server does not speak */
			http_conn_close(c);
			return;
		}
	}
	if (c->state == CONN_BODY && !conn_parsing(c)) {
		/* the handler has the piece: nothing is read until it
		 * resumes, so the client is held back; its time does not
		 * count against the client's body rate */
		http_conn_read_off(c);
		uv_timer_stop(&c->timer);
		if (c->window_end != 0) {
			uint64_t now = uv_now(c->server->loop);

			c->window_left =
			    c->window_end > now ? c->window_end - now : 1;
			c->window_end = 0;
		}
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
		http_conn_arm(c);
	}
}

/* ---- deadlines (http.h, "Deadlines") ---- */

void http_conn_arm(struct http_conn *c)
{
	struct http_server *s = c->server;
	uint64_t now = uv_now(s->loop);
	uint64_t at = now + s->idle_timeout_ms;

	if (c->phase == PHASE_HEAD && c->head_deadline < at) {
		at = c->head_deadline;
	} else if (c->phase == PHASE_BODY) {
		if (c->window_end == 0) {
			c->window_end =
			    now + (c->window_left > 0 ? c->window_left
						      : s->body_window_ms);
			c->window_left = 0;
		}
		if (c->window_end < at) {
			at = c->window_end;
		}
	}
	uv_timer_start(&c->timer, conn_deadline_cb, at > now ? at - now : 0, 0);
}

/* A streamed body came too slowly: the server answers 408 for the
 * handler, which learns of it through its body callback. */
static void conn_body_timeout(struct http_conn *c, const char *msg)
{
	struct http_request *req = c->req;
	http_body_fn cb = req->body_cb;

	req->body_cb = NULL;
	req->timed_out = 1;
	c->req = NULL;
	http_server_orphan_link(c->server, req);
	http_conn_read_off(c);
	uv_timer_stop(&c->timer);
	if (http_respond_conn_error(c, 408, "request_timeout", msg) != 0) {
		http_conn_close(c);
	}
	cb(req->body_arg, req, NULL, 0, UV_ETIMEDOUT);
}

static void conn_deadline_cb(uv_timer_t *t)
{
	struct http_conn *c = t->data;
	struct http_server *s = c->server;
	uint64_t now = uv_now(s->loop);
	const char *msg;

	if (c->phase == PHASE_HEAD && now >= c->head_deadline) {
		s->stats.timeouts_head++;
		msg = "request headers not complete in time";
	} else if (c->phase == PHASE_BODY && c->window_end != 0 &&
		   now >= c->window_end) {
		if (c->window_bytes * 1000 >=
		    (uint64_t)s->min_body_rate * s->body_window_ms) {
			c->window_bytes = 0; /* fast enough: the next one */
			c->window_end = now + s->body_window_ms;
			http_conn_arm(c);
			return;
		}
		s->stats.timeouts_body++;
		msg = "request body too slow";
	} else {
		http_conn_close(c); /* idle */
		return;
	}
	http_server_warn(s, c, msg);
	if (c->state == CONN_BODY) {
		conn_body_timeout(c, msg);
		return;
	}
	http_conn_reject(c, 408, "request_timeout", msg);
	conn_answer_reject(c);
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
		req->expect_continue = 0;
		/* without it a client sends the body after its own wait */
		(void)http_respond_continue(c);
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

/* ---- handshake ---- */

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

		if (status == TLS_E_TIMEOUT) {
			/* a flood's: once a minute in all */
			c->server->stats.timeouts_handshake++;
			http_server_warn(c->server, c,
					 "closed: tls handshake not done in "
					 "time");
			http_conn_close(c);
			return;
		}
		/* a client retrying: once a minute per address and reason */
		if (c->server->tls == NULL)
			LOG_WARN("http", "conn %s: %s", c->peer, why);
		else if (tls_quiet_pass(&c->server->tls->quiet, c->peer, why,
					uv_now(c->server->loop), msg,
					sizeof msg))
			LOG_WARN("http", "conn %s: %s", c->peer, msg);
		http_conn_close(c);
		return;
	}
	/* the TLS layer reads from now on */
	c->read_active = 1;
	if (c->server->tls != NULL) {
		http_server_authenticated(c->server, c);
	}
	http_conn_set_state(c, CONN_READING);
	conn_process(c);
}

int http_conn_start(struct http_conn *c)
{
	return tls_conn_start(&c->tls, conn_on_handshake, conn_on_read);
}

/* ---- closing ---- */

static void conn_shutdown_cb(struct tls_conn *t, int status, void *arg)
{
	struct http_conn *c = arg;

	(void)t;
	if (status < 0 && c->state != CONN_CLOSING) {
		http_conn_close(c);
	}
}

static void conn_linger(struct http_conn *c)
{
	uint64_t ms = c->server->idle_timeout_ms;

	http_conn_set_state(c, CONN_LINGERING);
	if (tls_conn_shutdown(&c->tls, conn_shutdown_cb, c) != 0) {
		http_conn_close(c);
		return;
	}
	conn_read_on(c);
	if (c->state == CONN_LINGERING) {
		http_conn_timer_start(c, ms < HTTP_LINGER_MS ? ms
							     : HTTP_LINGER_MS);
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
		http_conn_request_free(
		    c->req); /* partly parsed, never handled */
	}
	http_parse_free(c->parse);
	free(c->in);
	free(c);
	http_server_maybe_closed(s);
}

static void conn_close_cb(uv_handle_t *h) { conn_release(h->data); }

static void conn_tls_close_cb(struct tls_conn *t) { conn_release(t->data); }

void http_conn_close(struct http_conn *c)
{
	enum conn_state old = c->state;
	struct http_request *req = NULL;

	if (old == CONN_CLOSING) {
		return;
	}
	http_conn_set_state(c, CONN_CLOSING);
	if (old != CONN_ACCEPTING) {
		c->server->n_conns--;
	}
	if (c->server->held == c) {
		c->server->held = NULL;
	}
	http_server_authenticated(c->server, c); /* leaves the count */
	if ((old == CONN_HANDLING || old == CONN_BODY || old == CONN_SENDING) &&
	    c->req != NULL) {
		req = c->req;
		http_server_orphan_link(c->server, req);
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
