/* Asynchronous HTTP/1.1 client on a libuv loop, for agent-to-agent calls.
 *
 * One request = one TCP connection (`Connection: close`), one response
 * parsed with http-parser. Used for heartbeats to the Raft leader, join and
 * registration calls. With a TLS context (hclient_request_tls()) the
 * connection is TLS 1.3 with this process's certificate, and the server
 * must present one of role agent from the same CA. Nothing blocks: names other
 * than IP literals and "localhost" are resolved with uv_getaddrinfo() (libuv
 * thread pool).
 *
 * Every function here is loop-thread only: call it from the thread that runs
 * the loop given to hclient_request(), never concurrently. No global state.
 *
 * Life of a request:
 *
 *   hclient_request() == 0  ->  the callback fires exactly once, later, from
 *                               a loop callback (or synchronously from
 *                               hclient_cancel()), whatever happens: success,
 *                               resolve/connect/write/read error, malformed
 *                               response, timeout or cancellation.
 *   hclient_request()  < 0  ->  the callback never fires.
 *
 * The request's memory is released only after its libuv handles have
 * closed, so the loop must keep running for a short while after the
 * callback; uv_loop_close() succeeds once it has. Redirects are not
 * followed: a 3xx response is delivered as is, with its Location header in
 * resp->location (hand it to hclient_parse_url() to follow it).
 *
 * The process must ignore SIGPIPE (as any libuv program writing to
 * sockets): a peer that closes early then yields UV_EPIPE, not a signal.
 */
#ifndef POOLPAIR_AGENT_HCLIENT_H
#define POOLPAIR_AGENT_HCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct tls_ctx;

/* Largest response body accepted; a larger one fails with UV_E2BIG. */
#define HCLIENT_BODY_MAX ((size_t)1 << 20)

/* Largest Location header value kept; a longer one fails with UV_E2BIG. */
#define HCLIENT_LOCATION_MAX 8192

/* Host name buffer size that always suffices for hclient_parse_url(). */
#define HCLIENT_HOST_MAX 256

struct hclient_response {
	int status;	      /* HTTP status code, 100..999 */
	const char *body;     /* never NULL; body[body_len] == '\0' (the body
				 itself may contain NUL bytes); de-chunked */
	size_t body_len;      /* <= HCLIENT_BODY_MAX */
	const char *location; /* Location header value, NUL-terminated, or
				 NULL when the response has none */
};

/* Completion callback, called exactly once per request accepted by
 * hclient_request().
 *
 * err is 0 when a complete response was received (any status code, 4xx and
 * 5xx included) and resp then points to it. Otherwise err is negative and
 * resp is NULL:
 *   - libuv codes from resolving/connecting/writing/reading, passed
 *     through (UV_ECONNREFUSED, UV_ECONNRESET, UV_EAI_NONAME, ...);
 *   - UV_ETIMEDOUT   the whole request took longer than timeout_ms;
 *   - UV_ECANCELED   hclient_cancel() was called;
 *   - UV_EOF         the server closed the connection before the response
 *                    was complete;
 *   - UV_EPROTO      the response is not valid HTTP/1.x (or asks for a
 *                    protocol upgrade);
 *   - UV_E2BIG       the body exceeds HCLIENT_BODY_MAX, or the Location
 *                    header exceeds HCLIENT_LOCATION_MAX;
 *   - UV_ENOMEM      out of memory while receiving;
 *   - TLS_E_*        (tls/tls.h) the TLS handshake or session failed:
 *                    unknown CA, expired certificate, wrong role, the
 *                    server does not speak TLS...; the reason is logged.
 * hclient_strerror() names any of these codes.
 *
 * resp and everything it points to are borrowed and valid only during the
 * callback: copy what you need. When the callback runs, the request handle
 * returned through hclient_request()'s out is already dead: do not pass it
 * to hclient_cancel() from here or later. The callback may start new
 * requests. */
typedef void (*hclient_cb)(void *arg, int err,
			   const struct hclient_response *resp);

/* One in-flight request; opaque, owned by this module. */
struct hclient_req;

/* Start an HTTP/1.1 request: "METHOD path HTTP/1.1" to host:port.
 *
 * loop          the loop to run on (borrowed; must outlive the request).
 * method        an HTTP token such as "GET", "POST", "PUT", "DELETE".
 * host          IPv4 literal, IPv6 literal (bare or in [brackets], with an
 *               optional %zone), "localhost" (taken as 127.0.0.1) or a DNS
 *               name of letters, digits, '.', '-', '_'; at most 255 bytes.
 *               Only the first address a name resolves to is tried.
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
 * timeout_ms    overall deadline, > 0: covers resolving, connecting, sending
 *               and receiving. When it passes, the connection is closed and
 *               the callback gets UV_ETIMEDOUT.
 * cb, arg       completion callback (required) and its argument (borrowed;
 *               must stay valid until the callback has run).
 * out           NULL, or where to store the request handle for
 *               hclient_cancel(); the handle stays valid until the callback
 *               starts running. Left untouched on error.
 *
 * A response to a HEAD request is taken to have no body.
 *
 * Returns 0 when the request started (the callback will fire once), or
 * UV_EINVAL for a bad argument, UV_ENOMEM, or an error from starting the
 * resolver or the connection; on error nothing is left running and the
 * callback never fires. */
int hclient_request(uv_loop_t *loop, const char *method, const char *host,
		    uint16_t port, const char *path, const char *extra_headers,
		    const char *body, size_t body_len, unsigned timeout_ms,
		    hclient_cb cb, void *arg, struct hclient_req **out);

/* Abort a request whose callback has not run yet.
 *
 * The callback runs synchronously, inside this call, with UV_ECANCELED and
 * resp NULL; when hclient_cancel() returns the callback has completed and
 * req is no longer valid. The connection and timer are closed
 * asynchronously (the memory goes once they are), so keep the loop
 * running. Precondition: req came from hclient_request() and its callback
 * has not started; calling it from inside that callback, or twice, is a
 * use-after-free. */
void hclient_cancel(struct hclient_req *req);

/* hclient_request() over TLS when tls is not NULL (borrowed: its memory
 * must stay valid until the callback, as a refused handshake is counted in
 * its quiet table and logged at most once a minute per server and reason;
 * the request takes its own reference to the current context, so a reload
 * or tls_ctx_close() afterwards does not affect it): the handshake presents
 * tls's certificate and requires the server's to verify against its CA and
 * carry role agent. tls NULL: exactly hclient_request(). The scheme of a
 * URL does not choose: the caller does, by passing a context or not.
 * Returns as hclient_request(), plus TLS_E_NOMEM / TLS_E_STATE (context
 * closed) when the connection cannot be prepared. */
int hclient_request_tls(uv_loop_t *loop, struct tls_ctx *tls,
			const char *method, const char *host, uint16_t port,
			const char *path, const char *extra_headers,
			const char *body, size_t body_len, unsigned timeout_ms,
			hclient_cb cb, void *arg, struct hclient_req **out);

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
