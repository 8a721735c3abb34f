/* client: the HTTP client of poolpairctl (libcurl easy interface).
 *
 * Sends one JSON request to the poolpair API and parses the JSON answer.
 * Every request carries `X-Poolpair-Who: USER@HOST`. A 307 or 308 answer
 * (a follower pointing at the Raft leader) is followed by the client
 * itself: the same method and body are sent to the Location, at most
 * CLIENT_MAX_REDIRECTS times. Only http and https URLs are used.
 *
 * TLS (client_set_tls()): TLS 1.3 only, the server's certificate checked
 * against the given CA (host names are not: poolpair certificates name
 * roles, not hosts), and our certificate and key presented, whose role
 * (operator, reader) decides what the agents allow.
 *
 * Not thread-safe: one struct client per thread. curl_global_init() must
 * have been called before client_init(). */
#ifndef POOLPAIR_CTL_CLIENT_H
#define POOLPAIR_CTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#define CLIENT_DEFAULT_URL "http://127.0.0.1:7101"
#define CLIENT_DEFAULT_TIMEOUT_MS 10000L
#define CLIENT_MAX_REDIRECTS 5
#define CLIENT_MAX_RESPONSE (16L * 1024 * 1024) /* bytes of one answer */

/* Error codes (negative). client_strerror() names them. */
enum {
	CLIENT_ENOMEM = -1,    /* out of memory */
	CLIENT_EINVAL = -2,    /* bad argument: base URL, method, path */
	CLIENT_ECONNECT = -3,  /* cannot resolve or connect to the server */
	CLIENT_ETIMEDOUT = -4, /* no complete answer within the timeout */
	CLIENT_EPROTO = -5,    /* transfer failed or the answer is not JSON */
	CLIENT_EREDIRECT = -6, /* too many redirects or a bad Location */
	CLIENT_ETOOBIG = -7,   /* answer larger than CLIENT_MAX_RESPONSE */
};

struct client {
	char *base;	  /* owned: base URL without trailing '/' */
	char *who_header; /* owned: "X-Poolpair-Who: user@host" */
	long timeout_ms;  /* per request hop */
	void *curl;	  /* owned: CURL easy handle */
	char *tls_ca;	  /* owned: CA file, or NULL (system store) */
	char *tls_cert;	  /* owned: client certificate (PEM), or NULL */
	char *tls_key;	  /* owned: its private key (PEM), or NULL */
};

/* Prepare a client for base_url (copied; "http://host:port", optionally
 * with a path prefix; trailing slashes are dropped). timeout_ms > 0 bounds
 * every hop of a request. Returns 0, CLIENT_EINVAL (URL does not start
 * with http:// or https://, or timeout_ms <= 0) or CLIENT_ENOMEM; on error
 * nothing needs closing. */
int client_init(struct client *c, const char *base_url, long timeout_ms);

/* Use TLS settings for every later request (paths copied; each may be
 * NULL or "": not set). cert and key go together. Returns 0, CLIENT_EINVAL
 * (cert without key or key without cert) or CLIENT_ENOMEM; on error the
 * previous settings stay. */
int client_set_tls(struct client *c, const char *ca, const char *cert,
		   const char *key);

/* Apply the TLS settings of c to curl (a CURL easy handle, borrowed), for
 * transfers made outside client_request(). Returns 0 or CLIENT_EINVAL
 * (libcurl refused an option: built without TLS). */
int client_apply_tls(const struct client *c, void *curl);

/* Release everything the client owns. */
void client_close(struct client *c);

/* Send `method` ("GET", "POST", "PUT", "DELETE") to base + path. path
 * (borrowed) starts with '/' and is already escaped (see client_escape).
 * body (borrowed, may be NULL) is sent as application/json.
 *
 * Returns 0 when an HTTP answer arrived: *status is its code (any, also
 * 4xx/5xx) and *response is the parsed JSON body (owned by the caller:
 * json_decref it), or NULL when the body was empty. Returns a negative
 * CLIENT_E* code when no usable answer arrived; errbuf (errlen bytes,
 * may be 0) then holds a lowercase message such as
 * "cannot reach http://127.0.0.1:7101: connection refused", *response is
 * NULL and *status is the last HTTP code seen or 0. */
int client_request(struct client *c, const char *method, const char *path,
		   json_t *body, long *status, json_t **response, char *errbuf,
		   size_t errlen);

/* Percent-encode one path segment (every byte outside [A-Za-z0-9._~-]).
 * Returns a malloc()ed string owned by the caller, or NULL when out of
 * memory. */
char *client_escape(const char *segment);

/* Static message of a CLIENT_E* code ("unknown error" for others). */
const char *client_strerror(int code);

#endif
