/* http: a small HTTP/1.1 server on a libuv loop (requests parsed by
 * http-parser 2.9, which only agent/http_parse.c knows).
 *
 * One request at a time per connection: pipelined requests are answered in
 * order, the next one is parsed only after the previous answer is written.
 * Bodies are buffered whole, up to max_body bytes (Content-Length or
 * chunked). The handler answers with exactly one http_respond*() call, at
 * once or later from any loop callback (e.g. after a Raft commit).
 *
 * Streaming. A request with a body for which cfg->stream_match() answers
 * true goes to the handler as soon as its headers are complete, with
 * req->streaming = 1 and no body: the handler pulls the body through
 * http_request_on_body() and http_request_resume(), piece by piece, with no
 * max_body limit (the handler decides). An answer given before the whole
 * body was read closes the connection after it is written. Any request may
 * be answered in pieces instead of with http_respond(): http_respond_start(),
 * then http_respond_write() as often as needed (one write in flight), then
 * http_respond_end().
 *
 * The server answers on its own, without calling the handler:
 *   400 bad_request  malformed request, invalid percent-encoding, or a
 *                    path (decoded or as sent) or query holding a control
 *                    character (bytes 0x00-0x1f, 0x7f) (then closes)
 *   403, ...         what cfg->on_head refused, before any of the body is
 *                    read (closes, the body is not read)
 *   408 request_timeout  the request line and headers not complete within
 *                    head_timeout_ms of their first byte (of the accept
 *                    for a connection's first request), or a body slower
 *                    than min_body_rate (see "Deadlines"; closes)
 *   413 too_large    body over max_body, or over the limit cfg->on_head
 *                    gave the request (closes, the rest is not read)
 *   431 too_large    request line and headers over max_header (closes)
 * and sends "HTTP/1.1 100 Continue" to a request with
 * "Expect: 100-continue" whose body is within the limit (never to one
 * on_head refused).
 *
 * Deadlines. A TLS handshake must end within handshake_timeout_ms of the
 * accept. The request line and headers of a request must be complete
 * within head_timeout_ms of their first byte (for a connection's first
 * request: of the accept), however steadily the bytes come. A body must
 * arrive at min_body_rate bytes/s or more, averaged over each window of
 * body_window_ms while the server waits for it (time a streamed body's
 * handler holds a piece does not count). Between requests of a kept-alive
 * connection, and between any two bytes, idle_timeout_ms applies (closes
 * without an answer). A request past a deadline is answered 408 and the
 * connection closed; a streamed one's body callback then gets
 * UV_ETIMEDOUT.
 *
 * Connections before authentication. A connection is unauthenticated
 * until its TLS handshake ends (with cfg->tls) or its first request is
 * complete (plain). At most max_unauthenticated connections, fewer than
 * max_connections, are unauthenticated at once, so that authenticated
 * connections (those of the agents) always have room. From one client
 * address (the IP, any port) at most max_unauthenticated_per_address are:
 * a further one is refused (accepted and closed at once) while one of
 * them has been unauthenticated for unauth_grace_ms or more, or while all
 * are taken and one (of any address) is that old. When the
 * unauthenticated connections are at their limit, a connection from an
 * address under its own limit takes the place of the oldest one
 * unauthenticated for unauth_grace_ms or more, which is closed; when none
 * is that old (a burst of new connections), accepting pauses until one
 * authenticates, closes or ages, and the kernel's backlog holds the
 * others. Refusals, evictions and deadlines are logged at most once a
 * minute per kind, whatever the address (struct tls_quiet), and counted in
 * struct http_server_stats.
 *
 * TLS. With cfg->tls every connection is TLS 1.3 with a client
 * certificate from the context's CA (any role); a client that fails the
 * handshake (plain HTTP, unknown CA, expired certificate...) is logged as
 * `http: conn ADDR: reason` and closed without an answer. Each request
 * carries the client's role and certificate name for the handler to
 * authorise.
 *
 * All functions: loop thread only. No global state: several servers may run
 * in one process and on one loop. */
#ifndef POOLPAIR_HTTP_H
#define POOLPAIR_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tls/tls.h"

#define HTTP_DEFAULT_MAX_BODY (64 * 1024)
#define HTTP_DEFAULT_MAX_HEADER (16 * 1024)
#define HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000
#define HTTP_DEFAULT_MAX_CONNECTIONS 256
#define HTTP_DEFAULT_HANDSHAKE_TIMEOUT_MS 3000 /* from the accept */
#define HTTP_DEFAULT_HEAD_TIMEOUT_MS 10000     /* request line + headers */
#define HTTP_DEFAULT_MIN_BODY_RATE 1024	       /* bytes/s */
#define HTTP_DEFAULT_BODY_WINDOW_MS 10000      /* over which it is averaged */
#define HTTP_DEFAULT_MAX_UNAUTHENTICATED 128   /* at most max_connections/2 */
#define HTTP_DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS 8
#define HTTP_DEFAULT_UNAUTH_GRACE_MS 1000
#define HTTP_PEER_LEN 64 /* "[v6 address]:port" fits */
#define HTTP_LENGTH_CHUNKED                                                    \
	UINT64_MAX /* http_respond_start(): length unknown */

struct http_server;
struct http_conn;
struct http_request;
struct conn_write;

/* Request methods, as the server names them (req->method_id). Any other
 * method the parser accepts is HTTP_METHOD_OTHER; req->method spells each
 * one. */
enum http_method_id {
	HTTP_METHOD_OTHER = 0,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_CONNECT,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_TRACE,
	HTTP_METHOD_PATCH,
};

/* Called once per complete, well-formed request (a streamed one: once its
 * headers are complete). The handler borrows @req until it passes it to
 * http_respond() (or a convenience wrapper) or http_respond_end(), which it
 * must do exactly once, now or later, on the loop thread. */
typedef void (*http_handler_fn)(struct http_request *req);

/* Whether the request whose headers are complete (method, path, query and
 * headers are set, no body yet) is to be streamed. @data as given to
 * http_server_init(). Must not keep @req nor answer it. */
typedef int (*http_stream_match_fn)(void *data, const struct http_request *req);

/* A piece of a streamed request body, in order. @last is 0 while more is to
 * come, 1 on the final call (the body is complete; @len is 0 then), or a
 * negative libuv error on the final call (@len is 0; the body will never
 * complete): UV_ECONNRESET (the connection was lost or the body was
 * malformed) or UV_ETIMEDOUT (the body came slower than the minimum rate:
 * the server answered 408 for the request and closes; answering @req only
 * frees it).
 * @data is borrowed for the call only: copy what you keep. After a call
 * with @last == 0 nothing more is read from the client until
 * http_request_resume(). The callback may answer the request (after which
 * it is not called again). No call follows a call with @last != 0. */
typedef void (*http_body_fn)(void *arg, struct http_request *req,
			     const void *data, size_t len, int last);

/* What cfg->on_head decides for a request whose headers are complete. */
struct http_head_verdict {
	size_t max_body;   /* 0: the server's max_body; else this request's
			      (413 beyond it; ignored for a streamed one) */
	int status;	   /* 0: go on; else answer this status now, with
			      {"error":code,"message":message}, read none of the
			      body (no 100 Continue) and close */
	const char *code;  /* static string */
	char message[128]; /* NUL-terminated */
};

/* Called for every request with a body (Content-Length > 0 or chunked)
 * when its headers are complete, before any of the body is read or a 100
 * Continue is sent: method, path, query, headers, role and identity are
 * set. @v is zeroed; fill it. @data as given to http_server_init(). Must
 * not keep @req nor answer it. */
typedef void (*http_head_fn)(void *data, const struct http_request *req,
			     struct http_head_verdict *v);

/* Called once per http_respond_write(): @status 0 once the bytes are handed
 * to the kernel, or a negative libuv error (the client vanished, the write
 * timed out, the server closed). */
typedef void (*http_write_done_fn)(void *arg, int status);

/* Called from http_respond() for every finished request, including the
 * 400/413/431 answers the server gives itself and requests whose connection
 * closed before the answer (as long as the server is not closed yet).
 * @req is borrowed for the duration of the call; @duration_ns runs from the
 * first byte of the request to the call. */
typedef void (*http_done_fn)(void *data, const struct http_request *req,
			     int status, uint64_t duration_ns);

struct http_server_config {
	const char *host;	  /* numeric IPv4 or IPv6 address; borrowed
				     during http_server_init() only */
	int port;		  /* 0..65535; 0 picks an ephemeral port */
	size_t max_body;	  /* bytes; 0 = HTTP_DEFAULT_MAX_BODY */
	size_t max_header;	  /* request line + headers, bytes;
				     0 = HTTP_DEFAULT_MAX_HEADER */
	uint64_t idle_timeout_ms; /* 0 = HTTP_DEFAULT_IDLE_TIMEOUT_MS; also
				     bounds the time to write one answer */
	unsigned max_connections; /* 0 = HTTP_DEFAULT_MAX_CONNECTIONS; over it
				     a connection is accepted and closed */
	http_done_fn on_done;	  /* optional, NULL for none */
	http_stream_match_fn stream_match; /* optional, NULL: no streaming */
	http_head_fn on_head; /* optional, NULL: every body up to max_body */
	/* "Deadlines" and "Connections before authentication" above; 0
	 * takes the HTTP_DEFAULT_* (max_unauthenticated: at most
	 * max_connections / 2, and at least 1). max_unauthenticated above
	 * max_connections is UV_EINVAL. */
	uint64_t handshake_timeout_ms;
	uint64_t head_timeout_ms;
	size_t min_body_rate; /* bytes/s */
	uint64_t body_window_ms;
	unsigned max_unauthenticated;
	unsigned max_unauthenticated_per_address;
	uint64_t unauth_grace_ms;
	struct tls_ctx *tls; /* optional, NULL: plain HTTP. Borrowed: must
				outlive the server; a reload of it applies to
				connections accepted afterwards */
};

struct http_header {
	char *name;  /* owned by the request, NUL-terminated */
	char *value; /* owned by the request, NUL-terminated, trimmed */
};

/* One request. Every field is owned by the server module and valid until
 * http_respond() returns; the handler reads them and must not free or
 * modify them. */
struct http_request {
	const char *method;	       /* "GET", "POST", ... (static string) */
	enum http_method_id method_id; /* HTTP_METHOD_* of method */
	const char *path;	       /* percent-decoded, no query, no NUL */
	const char *raw_path;	       /* the path as sent (not decoded), no
					  query; it decodes without error */
	const char *query;	       /* raw query after '?', "" when none */
	const char *body;	       /* NUL-terminated; "" when none */
	size_t body_len;	       /* bytes in body, without the NUL */
	char peer[HTTP_PEER_LEN];      /* "127.0.0.1:43210", "[::1]:43210" */
	void *data;		       /* borrowed from http_server_init() */
	uint64_t start_ns;	       /* uv_hrtime() at the first byte */
	unsigned short http_major;
	unsigned short http_minor;
	int keep_alive; /* 1 if the connection stays open after the answer */
	int streaming;	/* 1: the body comes through http_request_on_body() */
	int role;	/* TLS_ROLE_* of the client certificate; TLS_ROLE_NONE
			   on a plain connection */
	char identity[TLS_NAME_LEN];  /* its subject CN, "" when plain */
	int tls;		      /* 1: the connection is TLS (identity
					 checked), 0: plain */
	uint64_t peer_agent;	      /* the agent the client certificate
					 names (tls_cert_agent), 0 when none
					 or plain */
	char peer_pool[TLS_POOL_LEN]; /* and its pool, "" when none */

	/* private to the server (agent/http_*.c) */
	struct http_conn *conn;	    /* NULL once the connection is gone */
	struct http_server *server; /* NULL once the server is closed */
	struct http_request *orphan_prev, *orphan_next;
	struct http_header *headers;
	size_t n_headers, cap_headers;
	size_t name_len, value_len; /* of the header being parsed */
	int last_was_value;
	char *url;
	size_t url_len;
	char *path_buf, *query_buf, *body_buf;
	size_t body_cap;
	int expect_continue;  /* streaming: send 100 Continue on demand */
	http_body_fn body_cb; /* streaming: NULL before and after the body */
	void *body_arg;
	int body_paused;    /* streaming: waiting for http_request_resume */
	int body_started;   /* streaming: http_request_on_body() called */
	int sending;	    /* http_respond_start() was called */
	int send_chunked;   /* the answer uses chunked encoding */
	int send_head_only; /* HEAD, 204, 304: the body is not sent */
	int send_status;
	uint64_t send_length;  /* declared Content-Length */
	uint64_t send_written; /* body bytes accepted by http_respond_write */
	struct conn_write *send_pending; /* the write in flight */
	size_t body_limit; /* bytes; the server's max_body or on_head's */
	int timed_out;	   /* the server answered 408 for the handler */
};

/* What the server refused or cut (read-only; counters since init). */
struct http_server_stats {
	uint64_t refused_limit;	     /* max_connections reached */
	uint64_t refused_address;    /* max_unauthenticated_per_address */
	uint64_t evicted;	     /* unauthenticated, closed for room */
	uint64_t timeouts_handshake; /* TLS handshake too slow */
	uint64_t timeouts_head;	     /* 408: headers too slow */
	uint64_t timeouts_body;	     /* 408: body too slow */
};

enum http_server_state {
	HTTP_SERVER_RUNNING,
	HTTP_SERVER_CLOSING,
	HTTP_SERVER_CLOSED
};

/* A listening server. Embed it anywhere; it must stay at the same address
 * from http_server_init() until its close callback. */
struct http_server {
	uint64_t requests_total; /* finished requests (read-only) */
	struct http_server_stats stats;

	/* private to the server (agent/http_*.c) */
	enum http_server_state state;
	uv_loop_t *loop;
	uv_tcp_t *listener; /* owned; freed in its close callback */
	int listener_open;
	int port;
	size_t max_body;
	size_t max_header;
	uint64_t idle_timeout_ms;
	unsigned max_connections;
	unsigned n_conns; /* admitted connections not yet closing */
	uint64_t handshake_timeout_ms;
	uint64_t head_timeout_ms;
	size_t min_body_rate;
	uint64_t body_window_ms;
	unsigned max_unauth;
	unsigned max_unauth_per_address;
	uint64_t unauth_grace_ms;
	unsigned n_unauth;	 /* admitted, not authenticated, not closing */
	struct http_conn *held;	 /* accepted, waiting for room (paused) */
	int accept_pending;	 /* libuv holds an accepted socket for us */
	uv_timer_t accept_timer; /* retries admission while paused */
	int accept_timer_open;
	struct tls_quiet quiet; /* refusals, evictions, deadlines */
	http_handler_fn handler;
	http_done_fn on_done;
	http_stream_match_fn stream_match;
	http_head_fn on_head;
	struct tls_ctx *tls; /* borrowed, NULL: plain */
	void *data;
	struct http_conn *conns;      /* every connection with open handles */
	struct http_request *orphans; /* pending requests without connection */
	void (*close_cb)(struct http_server *s);
};

/* Binds @cfg->host:@cfg->port, listens and starts accepting on @loop.
 * @handler is required; @data is handed to it as req->data and to
 * cfg->on_done. @cfg is copied (host is not kept).
 * Returns 0, or a negative libuv error (UV_EINVAL for a bad argument or a
 * host that is not a numeric address, UV_EADDRINUSE, UV_EACCES, ...); on
 * error nothing was started, no callback fires and @s needs no closing. */
int http_server_init(struct http_server *s, uv_loop_t *loop,
		     const struct http_server_config *cfg,
		     http_handler_fn handler, void *data);

/* The port the server listens on (the ephemeral one when cfg->port was 0).
 * Precondition: http_server_init() returned 0. */
int http_server_port(const struct http_server *s);

/* Stops listening and closes every connection. @cb (may be NULL) fires
 * once, from a later loop iteration, when every handle is closed; @s may be
 * freed from then on. A request still held by the handler stays valid:
 * answering it later only frees it. A second call is ignored. */
void http_server_close(struct http_server *s,
		       void (*cb)(struct http_server *s));

/* Value of the first header named @name (ASCII case-insensitive), or NULL.
 * The string is owned by the request. */
const char *http_request_header(const struct http_request *req,
				const char *name);

/* Looks up @name in the query string (names compared after
 * percent-decoding) and copies its percent-decoded value ('+' is a space)
 * into @out, NUL-terminated. A parameter without '=' has the value "".
 * Returns 0, UV_ENOENT when absent, UV_EINVAL when the value is badly
 * encoded or decodes to a NUL, UV_ENOBUFS when it does not fit in @outlen
 * bytes (then @out holds "" when @outlen > 0). */
int http_query_param(const struct http_request *req, const char *name,
		     char *out, size_t outlen);

/* Answers @req and frees it: the request is gone when this returns.
 * @status outside 200..599 is sent as 500. @content_type may be NULL (no
 * Content-Type). @body (@len bytes, may be NULL when @len is 0) and
 * @extra_headers (NULL, or complete "Name: value\r\n" lines) are copied.
 * No body and no Content-Length go with 204 and 304, no body with HEAD.
 * If the connection is already gone the request is just freed.
 * Precondition: called exactly once per request handed to the handler,
 * which was not passed to http_respond_start(). */
void http_respond(struct http_request *req, int status,
		  const char *content_type, const char *body, size_t len,
		  const char *extra_headers);

/* Streamed request body: starts delivering the body of @req to @cb.
 * Precondition: req->streaming, called at most once, @req not answered.
 * Sends "100 Continue" first when the client asked for it. @cb fires later
 * (never from within this call). Returns 0, UV_EINVAL (not a streamed
 * request, or already called) or UV_ECONNRESET (the connection is gone: @cb
 * never fires; the handler still answers @req, which only frees it). */
int http_request_on_body(struct http_request *req, http_body_fn cb, void *arg);

/* Lets the server read the next piece of a streamed body after @cb
 * returned from a call with last == 0. The next call of @cb comes later,
 * never from within this function. Does nothing when the body is not
 * paused, the request was answered or its connection is gone. */
void http_request_resume(struct http_request *req);

/* Starts a streamed answer to @req: sends the status line and headers.
 * @length is the body size in bytes (sent as Content-Length), or
 * HTTP_LENGTH_CHUNKED (chunked encoding; to an HTTP/1.0 client the body
 * ends with the connection). @content_type and @extra_headers as for
 * http_respond(). 204, 304 and HEAD answers carry no body: writes are then
 * accepted and discarded. Precondition: @req not answered yet. Whatever it
 * returns, the handler must finish with http_respond_end(); the request
 * stays valid until then. Returns 0, or a negative libuv error
 * (UV_ECONNRESET when the connection is gone, UV_ENOMEM): writes then
 * fail. */
int http_respond_start(struct http_request *req, int status,
		       const char *content_type, uint64_t length,
		       const char *extra_headers);

/* Sends @len bytes of the body started by http_respond_start(). @data is
 * borrowed until @done fires (not copied). At most one write in flight.
 * Returns 0 (then @done fires exactly once, later, never from within this
 * call), or a negative libuv error and @done never fires: UV_EINVAL (no
 * answer started, @len 0, or more than the declared length), UV_EBUSY (a
 * write is in flight), UV_ECONNRESET (the connection is gone), UV_ENOMEM. */
int http_respond_write(struct http_request *req, const void *data, size_t len,
		       http_write_done_fn done, void *arg);

/* Finishes the answer started by http_respond_start() and frees @req: it
 * is gone when this returns. If fewer bytes than the declared length were
 * written, or a write is still in flight (its @done then fires with an
 * error), the connection is closed: the client sees a truncated body. */
void http_respond_end(struct http_request *req);

/* http_respond() with Content-Type application/json and the NUL-terminated
 * @json (NULL = empty body). */
void http_respond_json(struct http_request *req, int status, const char *json,
		       const char *extra_headers);

/* Answers {"error":CODE,"message":MESSAGE} as application/json. Both
 * strings are JSON-escaped (quotes, backslashes, control characters; bytes
 * that are not UTF-8 become U+FFFD); NULL counts as "". */
void http_respond_error(struct http_request *req, int status, const char *code,
			const char *message);

/* Writes @in as a JSON string literal with its quotes into @out, escaping as
 * http_respond_error() does. Returns the length it needs without the NUL
 * (at most 6 * strlen(in) + 2); writes nothing beyond @outlen bytes and
 * always NUL-terminates when @outlen > 0. */
size_t http_json_quote(char *out, size_t outlen, const char *in);

#endif /* POOLPAIR_HTTP_H */
