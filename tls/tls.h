/* tls: TLS 1.3 with mutual authentication for every link of poolpair (Raft,
 * replication, HTTP API), on a libuv loop, with OpenSSL over memory BIOs.
 *
 * Two objects:
 *
 * - struct tls_ctx: the deployment's CA, this process's certificate and key.
 *   TLS 1.3 only; the peer must present a certificate signed by the CA, in
 *   both directions; host names are never checked. A peer's identity is
 *   its certificate subject CN, its role the subject OU ("agent",
 *   "operator" or "reader") or, without an OU, a URI SAN
 *   "urn:poolpair:role:ROLE". tls_ctx_reload() swaps in a context built
 *   from the files again: new connections use it, established ones keep
 *   theirs. With a CRL (tls_ctx_set_crl()) a revoked peer certificate is
 *   refused at the handshake, and a reload ends the live connections whose
 *   peer the CRL read again revokes.
 *
 * - struct tls_conn: one connection over a uv_tcp_t it owns. The caller
 *   connects or accepts the TCP handle, then tls_conn_start() runs the
 *   handshake; plaintext arrives through a read callback and leaves through
 *   tls_conn_write(). Nothing blocks: OpenSSL only sees memory BIOs and all
 *   socket I/O is libuv's.
 *
 * Everything runs on the loop thread, except that tls_ctx_reload_async()
 * reads the files on the thread pool. */
#ifndef POOLPAIR_TLS_H
#define POOLPAIR_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

#define TLS_PATH_LEN 4096
#define TLS_ERRMSG_LEN 256
#define TLS_NAME_LEN 128
#define TLS_POOL_LEN 64 /* a pool name and its NUL (as STREAM_NAME_MAX) */
#define TLS_HANDSHAKE_TIMEOUT_MS 10000

/* Error codes (negative; libuv codes are passed through as they are, so
 * these stay clear of libuv's range, UV_EAI_* at -3000..-3014 included). */
enum {
	TLS_E_CONFIG = -3101,	     /* CA, certificate or key unusable */
	TLS_E_NOMEM = -3102,	     /* out of memory */
	TLS_E_UNKNOWN_CA = -3103,    /* peer certificate from an unknown CA */
	TLS_E_EXPIRED = -3104,	     /* peer certificate expired */
	TLS_E_NOT_YET_VALID = -3105, /* peer certificate not yet valid */
	TLS_E_NO_CERT = -3106,	     /* peer presented no certificate */
	TLS_E_REFUSED = -3107,	     /* peer refused our certificate */
	TLS_E_NOT_TLS = -3108,	     /* the peer does not speak TLS */
	TLS_E_ROLE = -3109,	     /* peer role not allowed on this link */
	TLS_E_PROTOCOL = -3110,	     /* any other TLS failure */
	TLS_E_TIMEOUT = -3111,	     /* handshake took too long */
	TLS_E_EOF = -3112,	     /* peer closed (close_notify or TCP EOF) */
	TLS_E_STATE = -3113,	     /* call not valid in this state */
	TLS_E_CLOSING = -3114,	     /* the connection is being closed */
	TLS_E_REVOKED = -3115,	     /* peer certificate revoked (CRL) */
};

/* Static lowercase message of a TLS_E_* or libuv code. */
const char *tls_strerror(int rv);

/* Roles carried by certificates; a set of them is a bit mask. */
enum tls_role {
	TLS_ROLE_NONE = 0,
	TLS_ROLE_AGENT = 1,
	TLS_ROLE_OPERATOR = 2,
	TLS_ROLE_READER = 4,
};
#define TLS_ROLES_ANY (TLS_ROLE_AGENT | TLS_ROLE_OPERATOR | TLS_ROLE_READER)

/* "agent", "operator", "reader", or "none". Static string. */
const char *tls_role_name(int role);

/* TLS_ROLE_* of a name, or TLS_ROLE_NONE for anything else. */
int tls_role_parse(const char *name);

/* ---- for TLS clients outside this module (libcurl's connections) ----
 *
 * The same role and error rules as tls_conn, for a client whose OpenSSL
 * objects another library drives. */
struct x509_st;

/* Role (TLS_ROLE_*, TLS_ROLE_NONE when it names none) of certificate x:
 * its subject OU, else a URI SAN "urn:poolpair:role:ROLE"; its subject CN
 * into identity (len bytes; "" when it has none). */
int tls_cert_role(struct x509_st *x, char *identity, size_t len);

/* The agent certificate x speaks for: the id of its URI SAN
 * "urn:poolpair:agent:ID" (decimal, 1..2^63-1), and into pool (len > 0
 * bytes) the name of its URI SAN "urn:poolpair:pool:NAME" ("" when it has
 * none: a witness). Returns 0 (and pool "") when it names no agent, names
 * one malformed, or names several agents or several pools: such a
 * certificate speaks for no agent. */
uint64_t tls_cert_agent(struct x509_st *x, char *pool, size_t len);

/* TLS_E_* of a failed certificate verification, given the X509_V_ERR_*
 * code (as SSL_get_verify_result() reports it): TLS_E_UNKNOWN_CA,
 * TLS_E_EXPIRED, TLS_E_NOT_YET_VALID, TLS_E_REVOKED, TLS_E_ROLE for
 * X509_V_ERR_APPLICATION_VERIFICATION (how a refused role is reported),
 * TLS_E_PROTOCOL for any other. */
int tls_verify_error(long verify_result);

/* TLS_E_* of a failed handshake or read, given the OpenSSL error code
 * (ERR_get_error()), with msg (len > 0 bytes) saying why: the peer refused
 * our certificate (TLS_E_REFUSED), presented none (TLS_E_NO_CERT), does
 * not speak TLS (TLS_E_NOT_TLS) or not TLS 1.3 (TLS_E_PROTOCOL). Any other
 * code: TLS_E_PROTOCOL with msg "". */
int tls_ssl_error(unsigned long e, char *msg, size_t len);

/* ---- repeated warnings ----
 *
 * A peer that keeps retrying with a refused certificate would log a line
 * per attempt. A struct tls_quiet (zeroed memory is an empty one) keeps the
 * last TLS_QUIET_SLOTS warnings: the first of a kind in TLS_QUIET_MS is
 * logged, later ones are only counted. Loop thread only. */
#define TLS_QUIET_SLOTS 8
#define TLS_QUIET_MS 60000

struct tls_quiet {
	struct {
		char key[TLS_ERRMSG_LEN];
		uint64_t last_ms; /* when one of this kind was last logged */
		unsigned left_out;
	} slot[TLS_QUIET_SLOTS];
};

/* Whether to log msg, a warning about the peer at addr ("ip:port",
 * "[v6]:port" or a name; the port is not compared, as a retrying client
 * gets a new one each time), at now_ms. When it is to be logged, out
 * (outlen > 0 bytes) receives msg, followed by " (and N more like it in the
 * last minute)" when some were left out since the last one logged. */
bool tls_quiet_pass(struct tls_quiet *q, const char *addr, const char *msg,
		    uint64_t now_ms, char *out, size_t outlen);

/* ---- context ---- */

struct tls_ctx {
	struct ssl_ctx_st
	    *ssl;	       /* owned reference; connections hold their own */
	char ca[TLS_PATH_LEN]; /* copied paths, read again by reloads */
	char cert[TLS_PATH_LEN];
	char key[TLS_PATH_LEN];
	char identity[TLS_NAME_LEN];  /* CN of our own certificate */
	int role;		      /* TLS_ROLE_* of our own certificate */
	uint64_t agent;		      /* the agent it names (tls_cert_agent) */
	char pool[TLS_POOL_LEN];      /* and its pool, "" when none */
	int64_t not_after;	      /* its end of validity, Unix seconds */
	char warning[TLS_ERRMSG_LEN]; /* "" or why peers will refuse it
					 (expired, not yet valid) */
	uint64_t generation;	/* 1 after init, +1 per successful reload */
	bool reloading;		/* an async reload is in flight */
	struct tls_quiet quiet; /* for the users' own warnings (handshakes
				   refused by or to the peers it serves) */
	char crl[TLS_PATH_LEN]; /* "" or the CRL file, read again by reloads */
	int64_t crl_next_update; /* when the CRL read last is due to be
				    replaced, Unix seconds (INT64_MAX: none) */
	unsigned revoked_closed; /* connections the last reload ended */
	struct tls_conn *conns;	 /* live TLS connections made with this
				    context (loop thread) */
	char errmsg[TLS_ERRMSG_LEN];
};

/* Build a context from PEM files (paths copied): ca holds the trusted CA
 * certificate(s), cert our certificate (chain), key its private key. The
 * certificate must match the key and carry a role. Blocking file reads:
 * call at start. Our certificate must verify against the CA (else
 * TLS_E_CONFIG); one outside its validity dates loads, with c->warning
 * saying so. Returns 0, or TLS_E_CONFIG / TLS_E_NOMEM with c->errmsg
 * naming the file and the reason; on error nothing needs closing. */
int tls_ctx_init(struct tls_ctx *c, const char *ca, const char *cert,
		 const char *key);

/* Check peers against the certificate revocation list in file crl (path
 * copied; PEM: a CRL of every CA of the context's ca file, made by
 * `poolpair-cert crl`): from now on a handshake with a peer whose
 * certificate it revokes fails with TLS_E_REVOKED. The file is read now
 * (blocking: call at start, after tls_ctx_init) and again by every
 * reload. Returns 0, or TLS_E_CONFIG (no CRL in the file, one not signed
 * by a CA of the context, a CA without a CRL, a CRL past its next update,
 * our own certificate revoked), TLS_E_STATE (closed, or a reload in
 * flight) or TLS_E_NOMEM, with c->errmsg set; on error nothing changes. */
int tls_ctx_set_crl(struct tls_ctx *c, const char *crl);

/* Whether the CRL of c (as last loaded) revokes certificate x. false
 * without a CRL. Loop thread. */
bool tls_ctx_revoked(const struct tls_ctx *c, struct x509_st *x);

/* Read the same files again (ca, cert, key and the CRL when set) and,
 * when they make a valid context, use it for every connection started
 * afterwards (established ones keep the old one until they close). With a
 * CRL, every live connection of c whose peer certificate the CRL read
 * again revokes then ends: an open one's on_read gets TLS_E_REVOKED, one
 * in its handshake its on_handshake (c->errmsg of the connection: "peer
 * certificate revoked (CN=NAME): the crl reloaded revokes it"); their
 * number is in c->revoked_closed. Returns 0, or TLS_E_CONFIG /
 * TLS_E_NOMEM with c->errmsg set; on error the old context stays in use.
 * Blocking. */
int tls_ctx_reload(struct tls_ctx *c);

/* Called once by tls_ctx_reload_async(): status 0 (new context in use,
 * connections of revoked peers ended as tls_ctx_reload() does) or as
 * tls_ctx_reload() (c->errmsg set, old context kept). */
typedef void (*tls_reload_cb)(struct tls_ctx *c, int status, void *arg);

/* tls_ctx_reload() with the files read on libuv's thread pool; the swap
 * happens on the loop thread before cb. Returns 0 (cb fires once), TLS_E_STATE
 * (a reload is already in flight) or a libuv error (cb never fires). c must
 * stay valid until cb. Loop thread. */
int tls_ctx_reload_async(struct tls_ctx *c, uv_loop_t *loop, tls_reload_cb cb,
			 void *arg);

/* Whether c's own certificate speaks for agent id of pool ("" for none):
 * 0, or -1 with msg (len > 0 bytes) saying what it names instead and how
 * to issue the right one. */
int tls_ctx_check_agent(const struct tls_ctx *c, uint64_t id, const char *pool,
			char *msg, size_t len);

/* Release our reference. Connections still open keep theirs (and are no
 * longer checked on reloads). Not while an async reload is in flight. */
void tls_ctx_close(struct tls_ctx *c);

/* ---- connection ---- */

enum tls_conn_state {
	TLS_CONN_IDLE,	    /* initialised, TCP not yet handed over */
	TLS_CONN_HANDSHAKE, /* TLS handshake running */
	TLS_CONN_OPEN,	    /* plaintext flows */
	TLS_CONN_PLAIN,	    /* plain TCP accepted (allow_plain) */
	TLS_CONN_SHUTDOWN,  /* close_notify sent, waiting for writes */
	TLS_CONN_CLOSING,   /* handles closing */
	TLS_CONN_CLOSED,
};

enum tls_mode {
	TLS_CLIENT = 0,
	TLS_SERVER = 1,
};

struct tls_conn;

/* Handshake outcome, once: 0 (state OPEN or PLAIN; peer role and identity
 * set) or a negative TLS_E_* / libuv code with c->errmsg set. After an
 * error the caller closes the connection. */
typedef void (*tls_handshake_cb)(struct tls_conn *c, int status);

/* Plaintext received: n > 0 bytes at data (borrowed, valid during the
 * call). n < 0: the stream ended: TLS_E_EOF (peer closed cleanly or TCP
 * EOF) or an error with c->errmsg set; no more reads follow; the caller
 * closes. */
typedef void (*tls_read_cb)(struct tls_conn *c, ssize_t n, const char *data);

/* A tls_conn_write() finished: status 0 (handed to the kernel) or error. */
typedef void (*tls_write_cb)(struct tls_conn *c, int status, void *arg);

/* Memory of the connection may be released. */
typedef void (*tls_close_cb)(struct tls_conn *c);

struct tls_conn {
	void *data;	 /* user data */
	uv_loop_t *loop; /* borrowed */
	uv_tcp_t tcp;	 /* owned; connect or accept it before tls_conn_start */
	uv_timer_t timer; /* handshake timeout */
	uv_shutdown_t shutdown_req;
	struct ssl_st *ssl;
	struct bio_st *net_in;	/* ciphertext from the socket, read by SSL */
	struct bio_st *net_out; /* ciphertext written by SSL, sent by us */
	int state;		/* enum tls_conn_state */
	int mode;		/* enum tls_mode */
	unsigned allowed_roles; /* TLS_ROLE_* mask the peer must match */
	bool allow_plain;	/* server: accept a peer that sends no TLS */
	bool plain_only;	/* no context given: never TLS */
	bool reading;		/* plaintext delivery wanted */
	bool failed;		/* the read side ended (EOF or error) */
	bool write_closed;	/* tls_conn_shutdown() called */
	tls_write_cb on_shutdown;
	void *shutdown_arg;
	int peer_role;			  /* TLS_ROLE_* after the handshake */
	char peer_identity[TLS_NAME_LEN]; /* subject CN, "" when plain */
	uint64_t peer_agent;		  /* the agent its certificate names
					     (tls_cert_agent), 0 when none or
					     plain */
	char peer_pool[TLS_POOL_LEN];	  /* and its pool, "" when none */
	char peer_address[64];		  /* "ip:port" of the TCP peer */
	unsigned timeout_ms;
	size_t write_queue; /* ciphertext bytes not yet written */
	unsigned pending;   /* uv handles still to close */
	tls_handshake_cb on_handshake;
	tls_read_cb on_read;
	tls_close_cb on_close;
	/* in ctx->conns from tls_conn_init until the handles are closed */
	struct tls_ctx *ctx; /* borrowed; NULL when plain or not listed */
	struct tls_conn *ctx_prev, *ctx_next;
	uint64_t generation; /* ctx->generation when the connection began */
	bool revoked;	     /* a reload found its peer revoked */
	char errmsg[TLS_ERRMSG_LEN];
};

/* Prepare c (caller-owned memory, valid until the close callback) and its
 * TCP handle on loop: then uv_tcp_connect() or uv_accept() c->tcp. The
 * connection takes a reference to the current context of ctx (so a later
 * reload does not affect it). allowed_roles: mask of TLS_ROLE_* the peer
 * must hold (TLS_ROLES_ANY: any role).
 *
 * ctx NULL makes a plain connection with the same interface (state PLAIN,
 * role NONE, on_handshake(0) on the next loop turn, bytes as they are): a
 * user of this module needs one code path whether [tls] is set or not.
 *
 * Returns 0, or TLS_E_NOMEM / TLS_E_STATE (ctx closed) with c->errmsg set
 * (nothing to close then). */
int tls_conn_init(struct tls_conn *c, uv_loop_t *loop, struct tls_ctx *ctx,
		  int mode, unsigned allowed_roles);

/* Server only, before tls_conn_start: accept a peer whose first byte is not
 * a TLS handshake record as a plain connection (state PLAIN, role NONE,
 * bytes passed through unencrypted). Off by default: such a peer fails
 * with TLS_E_NOT_TLS. */
void tls_conn_allow_plain(struct tls_conn *c, bool allow);

/* Handshake timeout (default TLS_HANDSHAKE_TIMEOUT_MS; 0: none). Before
 * tls_conn_start. */
void tls_conn_set_timeout(struct tls_conn *c, unsigned ms);

/* Start the handshake on the connected TCP handle, after setting the
 * socket's thin-stream options (tcp_thin.h: TCP_NODELAY,
 * TCP_THIN_LINEAR_TIMEOUTS). on_handshake fires once,
 * never before this call returns; on_read then receives plaintext (reading
 * starts right after a successful handshake). Returns 0, TLS_E_STATE
 * (started already) or a libuv error (no callback fires; close c). */
int tls_conn_start(struct tls_conn *c, tls_handshake_cb on_handshake,
		   tls_read_cb on_read);

/* Pause and resume plaintext delivery (back-pressure). read_start hands
 * over plaintext already decrypted before it returns (on_read may fire
 * inside it). */
void tls_conn_read_stop(struct tls_conn *c);
void tls_conn_read_start(struct tls_conn *c);

/* Encrypt and send n buffers (copied: the caller may reuse them at once).
 * cb (may be NULL) fires once the ciphertext was written or failed.
 * Returns 0 (cb will fire), TLS_E_STATE (handshake not done, shut or
 * closing), UV_EINVAL (nothing to send), TLS_E_NOMEM, TLS_E_PROTOCOL or a
 * libuv error (cb never fires). */
int tls_conn_write(struct tls_conn *c, const uv_buf_t bufs[], unsigned n,
		   tls_write_cb cb, void *arg);

/* Half-close, as uv_shutdown(): send close_notify (TLS), then shut the TCP
 * write side once queued writes are out; reading goes on until the peer
 * closes (on_read gets TLS_E_EOF). cb (may be NULL) fires once with 0 or an
 * error (UV_ECANCELED if the connection is closed first). Later writes get
 * TLS_E_STATE. Returns 0, TLS_E_STATE (not open, or already shut) or a
 * libuv error (cb never fires). */
int tls_conn_shutdown(struct tls_conn *c, tls_write_cb cb, void *arg);

/* Bytes of ciphertext queued in the kernel-bound write queue. */
size_t tls_conn_write_queue(const struct tls_conn *c);

/* Send close_notify (when the session is open), let queued writes finish,
 * close the handles and call cb (may be NULL). Pending write callbacks fire
 * with an error or 0 first, as does the callback of a uv_tcp_connect() still
 * in flight (UV_ECANCELED); no read or handshake callback fires after this
 * call. Idempotent: a second call only replaces cb. */
void tls_conn_close(struct tls_conn *c, tls_close_cb cb);

#endif
