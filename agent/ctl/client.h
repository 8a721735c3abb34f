/* client: the HTTP client of poolpairctl (libcurl easy interface): the
 * one place its libcurl handle is set up.
 *
 * client_transfer() sends one request: a body from memory or streamed
 * from a file, an answer into memory or, when it is a 2xx, streamed to a
 * file, optionally reporting progress. client_request() is a transfer of
 * JSON both ways. Every request carries `X-Poolpair-Who: USER@HOST`. A 307
 * or 308 answer (a follower pointing at the Raft leader) is followed by
 * the client itself: the same method and body are sent to the Location,
 * at most CLIENT_MAX_REDIRECTS times. Only http and https URLs are used.
 * A redirect is followed only when client_redirect_ok() allows it: never
 * from https to http, and only to the API address of a member of the
 * cluster, as the agent of the base URL lists them (GET /v1/members, asked
 * once, at the first redirect).
 *
 * TLS (client_set_tls()): TLS 1.3 only, the server's certificate checked
 * against the given CA (host names are not: poolpair certificates name
 * roles, not hosts) and required to carry role agent (an operator's or a
 * reader's certificate from the same CA is not a server), and our
 * certificate and key presented, whose role (operator, reader) decides
 * what the agents allow.
 *
 * Not thread-safe: one struct client per thread. curl_global_init() must
 * have been called before client_init(). */
#ifndef POOLPAIR_CTL_CLIENT_H
#define POOLPAIR_CTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
	CLIENT_EIO = -8,   /* reading the body or writing the answer failed */
	CLIENT_EPEER = -9, /* the server's certificate is not an agent's */
};

#define CLIENT_NAME_LEN 128 /* a certificate's CN, NUL included */

struct client {
	char *base;	  /* owned: base URL without trailing '/' */
	char *who_header; /* owned: "X-Poolpair-Who: user@host" */
	long timeout_ms;  /* per request hop */
	void *curl;	  /* owned: CURL easy handle */
	char *tls_ca;	  /* owned: CA file, or NULL (system store) */
	char *tls_cert;	  /* owned: client certificate (PEM), or NULL */
	char *tls_key;	  /* owned: its private key (PEM), or NULL */
	char *tls_crl;	  /* owned: CRL of the CA (PEM), or NULL */
	/* the API addresses ("host:port") of the cluster's members, learnt
	 * at the first redirect; owned, each and the array */
	char **members;
	size_t n_members;
	int members_known; /* members holds the list */
	/* the server certificate of the last TLS handshake: role refused,
	 * or revoked by the CRL */
	int peer_refused;
	int peer_revoked;
	int peer_role;			     /* TLS_ROLE_* */
	char peer_identity[CLIENT_NAME_LEN]; /* its CN */
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

/* Check the server's certificate against the CRL file crl (path copied;
 * PEM, poolpair-cert crl; NULL or "": none): one it revokes fails the
 * handshake (CLIENT_EPEER, "the certificate of https://HOST:PORT (CN=NAME)
 * is revoked by crl FILE"), as does a CRL that does not cover the
 * certificate's issuer. Returns 0 or CLIENT_ENOMEM (the previous setting
 * stays). */
int client_set_crl(struct client *c, const char *crl);

/* Whether a redirect from URL from to URL to (both borrowed) may be
 * followed: to is http:// or https://, not http:// when from is
 * https:// (the request would go in the clear), and its host:port is the
 * API address of a member of the cluster (the members are asked of the
 * agent of the base URL the first time; that request follows no
 * redirect). Returns 0, or CLIENT_EREDIRECT (refused) / another CLIENT_E*
 * code (the members could not be learnt) with errbuf (errlen bytes) saying
 * why and naming to. Uses the client's handle: not during a transfer. */
int client_redirect_ok(struct client *c, const char *from, const char *to,
		       char *errbuf, size_t errlen);

/* Send later requests to base_url instead (copied; as client_init()
 * takes it). Returns 0, CLIENT_EINVAL (not an http:// or https:// URL) or
 * CLIENT_ENOMEM; on error the base stays. */
int client_set_base(struct client *c, const char *base_url);

/* Release everything the client owns. */
void client_close(struct client *c);

/* One request of client_transfer(). The caller sets the request fields
 * (everything borrowed, valid until the call returns) and zeroes the
 * rest; the answer fields are filled in. Release with
 * client_xfer_release(). */
struct client_xfer {
	/* ---- request ---- */
	const char *method;	  /* "GET", "POST", "PUT", "DELETE" */
	const char *path;	  /* escaped (client_escape), from '/' */
	const char *accept;	  /* Accept header, NULL: application/json */
	const char *content_type; /* of the body, NULL: no Content-Type */
	/* the body: body_len bytes from memory (body) or streamed from the
	 * regular file in (sent from its start again on every hop), or
	 * none when both are NULL */
	const char *body;
	FILE *in;
	const char *in_name; /* in's name in messages */
	int64_t body_len;
	/* a stream: the timeout bounds connecting and any stretch without
	 * progress, not the whole transfer */
	int stream;
	/* where the body of a 2xx answer goes, or NULL: into buf */
	FILE *out;
	const char *out_name; /* out's name in messages */
	size_t max;	      /* bytes buf may hold; 0: CLIENT_MAX_RESPONSE */
	/* called while bytes move and, with final 1, after each hop
	 * (answered or failed); total is the answer's length (0 when
	 * unknown). NULL: none */
	void (*progress)(struct client_xfer *x, int64_t total, int final);
	void *data; /* for progress */

	/* ---- answer ---- */
	long status;  /* of the last answer seen, 0 when none */
	char *buf;    /* owned: the answer unless it went to out, NUL-ended */
	size_t len;   /* bytes in buf */
	int64_t sent; /* bytes of the body sent in the last hop */
	int64_t received; /* bytes written to out */
	char *url;	  /* owned: the URL of the last hop */

	/* ---- private ---- */
	void *curl; /* borrowed: the client's handle */
	size_t cap;
	int too_big;
	int nomem;
	int in_errno;
	int in_short;
	int out_errno;
};

/* Send x->method to base + x->path on the client's handle, following
 * 307/308 that client_redirect_ok() allows (the body is sent again from
 * its start). Returns 0 when an
 * answer arrived (x->status, its body in x->buf or out), or a negative
 * CLIENT_E* code with errbuf (errlen bytes, may be 0) holding a lowercase
 * message ("cannot reach http://127.0.0.1:7101: connection refused",
 * "cannot read FILE: ...", with a hint when TLS explains a failure;
 * CLIENT_EPEER: "https://127.0.0.1:7101 is not a poolpair agent: its
 * certificate (CN=op) has role operator"). A refused redirect is
 * CLIENT_EREDIRECT with x->status the 307 or 308.
 * Either way release x with client_xfer_release(). */
int client_transfer(struct client *c, struct client_xfer *x, char *errbuf,
		    size_t errlen);

/* Free what client_transfer() left in x (buf, url). */
void client_xfer_release(struct client_xfer *x);

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
