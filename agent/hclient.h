/* Asynchronous HTTP/1.1 client on a libuv loop, for agent-to-agent calls
 * (heartbeats, reports, registration, join, takeover, verify).
 *
 * libcurl's multi interface driven by the loop: one struct hclient per
 * agent holds the connection pool; each socket libcurl opens is watched by
 * a uv_poll handle and its one timeout by a uv_timer, so nothing blocks and
 * no thread of ours is involved (names other than IP literals are resolved
 * by libcurl's threaded resolver; "localhost" by libcurl itself, 127.0.0.1
 * first). Connections are kept alive and reused: a call to a peer it
 * already talks to opens no new TCP connection and does no TLS handshake.
 * A connection is reused while idle for at most HCLIENT_CONN_IDLE_S and
 * while younger than HCLIENT_CONN_LIFE_S; then it is closed and the next
 * call opens a new one (hclient_set_pool() changes both, and how many
 * connections are kept).
 *
 * With a TLS context every connection is TLS 1.3: it presents the
 * context's certificate and requires the server's to verify against the
 * context's CA (only that CA: the system's bundle is never loaded) and to
 * carry role agent; host names are not checked. Certificate, key and CA are
 * taken from the context when a connection is opened, so after a reload
 * (tls_ctx_reload*) every new connection uses the new files, and none
 * older than HCLIENT_CONN_LIFE_S stays in use. libcurl's TLS session cache
 * is on (it serves only when the server issues session tickets; poolpair's
 * servers issue none, so a new connection is a full handshake). A refused
 * handshake is logged at most once a minute per server and reason (the
 * context's quiet table).
 *
 * Every function here is loop-thread only: call it from the thread that
 * runs the client's loop, never concurrently. No global state, except that
 * the process calls curl_global_init() once before any hclient_init().
 *
 * Life of a request:
 *
 *   hclient_request() == 0  ->  the callback fires exactly once, later, from
 *                               a loop callback (or synchronously from
 *                               hclient_cancel() or hclient_close()),
 *                               whatever happens: success, resolve/connect/
 *                               write/read error, malformed response,
 *                               timeout or cancellation.
 *   hclient_request()  < 0  ->  the callback never fires.
 *
 * The request's memory is released when its callback returns. Redirects
 * are not followed: a 3xx response is delivered as is, with its Location
 * header in resp->location (hand it to hclient_parse_url() to follow it).
 *
 * The process must ignore SIGPIPE (as any libuv program writing to
 * sockets). */
#ifndef POOLPAIR_AGENT_HCLIENT_H
#define POOLPAIR_AGENT_HCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct tls_ctx;
struct hclient_sock;
struct hclient_req;

/* Largest response body accepted; a larger one fails with UV_E2BIG. */
#define HCLIENT_BODY_MAX ((size_t)1 << 20)

/* Largest Location header value kept; a longer one fails with UV_E2BIG. */
#define HCLIENT_LOCATION_MAX 8192

/* Host name buffer size that always suffices for hclient_parse_url(). */
#define HCLIENT_HOST_MAX 256

/* A kept-alive connection idle this long is not reused (below the agents'
 * own idle timeout, 60 s, so that a server never closes one as it is
 * reused). */
#define HCLIENT_CONN_IDLE_S 30

/* A connection this old is not reused: bounds how long one made before a
 * reload of the TLS context stays in use. */
#define HCLIENT_CONN_LIFE_S 60

/* Most idle connections kept in the pool (the oldest go first). */
#define HCLIENT_CONN_MAX 32

/* Bounds of hclient_set_pool()'s arguments. */
#define HCLIENT_POOL_CONN_LIMIT 4096
#define HCLIENT_POOL_SECONDS_LIMIT 86400

enum hclient_state {
	HCLIENT_UNINIT = 0, /* zeroed memory, or hclient_init() failed */
	HCLIENT_OPEN,	    /* requests may be started */
	HCLIENT_CLOSING,    /* hclient_close() called; handles closing */
	HCLIENT_CLOSED,	    /* the close callback ran (or is running) */
};

struct hclient;

/* hclient_close() finished: every handle is closed; c may be freed. */
typedef void (*hclient_close_cb)(struct hclient *c);

/* One client: the connection pool and its loop handles. The fields are
 * private to this module, except data. */
struct hclient {
	void *data;		     /* user data, untouched */
	int state;		     /* enum hclient_state */
	uv_loop_t *loop;	     /* borrowed */
	struct tls_ctx *tls;	     /* borrowed; NULL: plain http */
	void *multi;		     /* owned CURLM; NULL once closed */
	void *share;		     /* owned CURLSH: TLS sessions */
	uv_timer_t timer;	     /* libcurl's timeout */
	struct hclient_sock *socks;  /* watched sockets, owned */
	struct hclient_sock **by_fd; /* owned: the watcher in socks of each
					socket number, or NULL */
	size_t by_fd_len;
	void **spare; /* owned: finished CURL easy handles,
			 reset, for the next requests */
	unsigned n_spare;
	struct hclient_req *reqs; /* requests in flight, owned */
	unsigned closing_handles; /* handles whose close is pending */
	hclient_close_cb close_cb;
	unsigned conn_max; /* hclient_set_pool() */
	unsigned conn_idle_s;
	unsigned conn_life_s;
};

/* Set up c (caller-owned memory, valid until the close callback) on loop.
 * tls: NULL for plain http, else the context whose certificate, key and CA
 * every connection uses (borrowed: it must stay loaded — no
 * tls_ctx_close() — until hclient_close() has completed; reloads are
 * welcome). Returns 0 (state HCLIENT_OPEN; close it with hclient_close()),
 * UV_ENOMEM, or UV_ENOTSUP when tls is given and libcurl is not built
 * with OpenSSL; on error nothing needs closing. */
int hclient_init(struct hclient *c, uv_loop_t *loop, struct tls_ctx *tls);

/* Close c: every request in flight gets its callback, synchronously,
 * with UV_ECANCELED (they may start no new request: hclient_request()
 * refuses them); connections are closed; the handles close, and cb (may
 * be NULL) fires once from a later loop callback, after which c may be
 * freed. Allowed from inside a request callback. Only for a client in
 * state HCLIENT_OPEN; a second call is ignored. */
void hclient_close(struct hclient *c, hclient_close_cb cb);

/* Size and ages of c's connection pool. hclient_init() sets
 * HCLIENT_CONN_MAX, HCLIENT_CONN_IDLE_S and HCLIENT_CONN_LIFE_S, which
 * suit an agent's few peers; a client with many requests in flight to one
 * server (the load generators in bench/) sets its own so that every
 * connection it opened stays in use for the whole run.
 *
 * conn_max      1..HCLIENT_POOL_CONN_LIMIT: most connections kept open
 *               (in use or idle; beyond it the oldest idle one is closed
 *               when a request ends). Takes effect at once.
 * idle_s        1..HCLIENT_POOL_SECONDS_LIMIT: a connection idle longer is
 *               not reused.
 * life_s        1..HCLIENT_POOL_SECONDS_LIMIT: a connection older is not
 *               reused (libcurl counts whole seconds: one is reused until
 *               it is life_s + 1 s old; likewise idle_s).
 * idle_s and life_s apply to requests started after the call.
 *
 * The client also keeps up to conn_max finished libcurl transfer handles
 * (reset) for the next requests, so that a busy client does not allocate
 * one per request.
 *
 * Returns 0, UV_EINVAL for a value out of bounds (nothing changed),
 * UV_ECANCELED when c is not open, or UV_ENOMEM. */
int hclient_set_pool(struct hclient *c, unsigned conn_max, unsigned idle_s,
		     unsigned life_s);

struct hclient_response {
	int status;	      /* HTTP status code, 200..999 */
	const char *body;     /* never NULL; body[body_len] == '\0' (the body
				 itself may contain NUL bytes); de-chunked */
	size_t body_len;      /* <= HCLIENT_BODY_MAX */
	const char *location; /* Location header value, NUL-terminated, or
				 NULL when the response has none */
	int new_connection;   /* 1: this request opened the connection it
				 was answered on; 0: it reused a kept one */
};

/* Completion callback, called exactly once per request accepted by
 * hclient_request().
 *
 * err is 0 when a complete response was received (any final status code,
 * 4xx and 5xx included) and resp then points to it. Otherwise err is
 * negative and resp is NULL:
 *   - UV_ECONNREFUSED, UV_ECONNRESET, UV_ENETUNREACH, ... the system's
 *                    error from connecting, sending or receiving;
 *   - UV_EAI_NONAME  the host name does not resolve;
 *   - UV_ETIMEDOUT   the whole request took longer than timeout_ms;
 *   - UV_ECANCELED   hclient_cancel() or hclient_close() was called;
 *   - UV_EOF         the server closed the connection before the response
 *                    was complete;
 *   - UV_EPROTO      the response is not valid HTTP/1.x (or switches
 *                    protocols);
 *   - UV_E2BIG       the body exceeds HCLIENT_BODY_MAX, or the Location
 *                    header exceeds HCLIENT_LOCATION_MAX;
 *   - UV_ENOMEM      out of memory;
 *   - TLS_E_*        (tls/tls.h) the TLS handshake or session failed:
 *                    TLS_E_UNKNOWN_CA, TLS_E_EXPIRED, TLS_E_NOT_YET_VALID
 *                    (the server's certificate), TLS_E_ROLE (the server's
 *                    certificate is not an agent's), TLS_E_REFUSED (the
 *                    server refused ours), TLS_E_NOT_TLS, TLS_E_EOF (closed
 *                    during the handshake), TLS_E_STATE (the context is
 *                    not loaded), TLS_E_PROTOCOL; the reason is logged;
 *   - UV_EIO         any other failure of libcurl's.
 * hclient_strerror() names any of these codes.
 *
 * resp and everything it points to are borrowed and valid only during the
 * callback: copy what you need. When the callback runs, the request handle
 * returned through hclient_request()'s out is already dead: do not pass it
 * to hclient_cancel() from here or later. The callback may start new
 * requests, cancel others, or close the client. */
typedef void (*hclient_cb)(void *arg, int err,
			   const struct hclient_response *resp);

/* Start an HTTP/1.1 request "METHOD path" to host:port, over TLS when the
 * client has a context (https), else plain (http).
 *
 * c             an open client.
 * method        an HTTP token such as "GET", "POST", "PUT", "DELETE".
 * host          IPv4 literal, IPv6 literal (bare or in [brackets], with an
 *               optional %zone), "localhost" or a DNS name of letters,
 *               digits, '.', '-', '_'; at most 255 bytes.
 * port          1..65535.
 * path          origin-form target starting with '/' (query allowed); no
 *               spaces or control characters.
 * extra_headers NULL or zero or more complete "Name: value\r\n" lines
 *               (borrowed; copied). They may not set Host, Content-Length,
 *               Connection or Transfer-Encoding, which this module sends.
 * body          NULL for no body, else body_len bytes (borrowed; copied).
 *               With a body, "Content-Type: application/json" is sent
 *               unless extra_headers has its own Content-Type.
 *               Content-Length is sent whenever body is non-NULL or the
 *               method is neither GET nor HEAD (so a body-less POST says
 *               "Content-Length: 0").
 * timeout_ms    overall deadline, > 0: covers resolving, connecting, the
 *               handshake, sending and receiving. When it passes, the
 *               connection is closed and the callback gets UV_ETIMEDOUT.
 * cb, arg       completion callback (required) and its argument (borrowed;
 *               must stay valid until the callback has run).
 * out           NULL, or where to store the request handle for
 *               hclient_cancel(); the handle stays valid until the callback
 *               starts running. Left untouched on error.
 *
 * A response to a HEAD request is taken to have no body.
 *
 * Returns 0 when the request started (the callback will fire once), or
 * UV_EINVAL for a bad argument, UV_ECANCELED when the client is not open,
 * UV_ENOMEM; on error nothing is left running and the callback never
 * fires. */
int hclient_request(struct hclient *c, const char *method, const char *host,
		    uint16_t port, const char *path, const char *extra_headers,
		    const char *body, size_t body_len, unsigned timeout_ms,
		    hclient_cb cb, void *arg, struct hclient_req **out);

/* Abort a request whose callback has not run yet.
 *
 * The callback runs synchronously, inside this call, with UV_ECANCELED and
 * resp NULL; when hclient_cancel() returns the callback has completed and
 * req is no longer valid. A connection in use by the request is closed (a
 * later request opens a new one). Precondition: req came from
 * hclient_request() and its callback has not started; calling it from
 * inside that callback, or twice, is a use-after-free. */
void hclient_cancel(struct hclient_req *req);

/* Lowercase static message of an error passed to an hclient_cb (libuv or
 * TLS_E_* code). */
const char *hclient_strerror(int err);

/* Split an absolute URL "http[s]://host[:port][/path][?query][#fragment]".
 *
 * The scheme is matched case-insensitively. host may be a name, an IPv4
 * literal or an IPv6 literal in brackets ("http://[::1]:8080/"); the
 * brackets are removed in the output, so it can go straight to
 * hclient_request(). The port defaults to 80 (443 for https); port 0 is
 * refused. The path
 * output is the path plus "?query" (the fragment is dropped), "/" when the
 * URL has none. Use it also on a 307 response's Location value.
 *
 * host          output buffer of hostlen bytes (HCLIENT_HOST_MAX always
 *               suffices for a valid URL); receives a NUL-terminated host.
 * port          output.
 * path          NULL when not wanted, else an output buffer of pathlen
 *               bytes receiving the NUL-terminated path.
 *
 * Returns 0, or:
 *   UV_EINVAL            not an absolute URL (no "scheme://"), empty or
 *                        malformed host, user info ("user@host"), bad or
 *                        zero port, invalid characters;
 *   UV_EPROTONOSUPPORT   a scheme other than http and https;
 *   UV_ENOBUFS           host or path does not fit its buffer.
 * On error the outputs are left unchanged. */
int hclient_parse_url(const char *url, char *host, size_t hostlen,
		      uint16_t *port, char *path, size_t pathlen);

#endif /* POOLPAIR_AGENT_HCLIENT_H */
