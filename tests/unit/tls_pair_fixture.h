/* tls_pair_fixture: what test_tls.c and test_tls_crl.c share: a TLS server
 * and client (or a plain client) over loopback on a loop of their own,
 * each side recording its handshake, what it read and how it ended; the
 * server answers "pong". Contexts come from pki_fixture.h's pki_dir. */
#ifndef POOLPAIR_TESTS_TLS_PAIR_FIXTURE_H
#define POOLPAIR_TESTS_TLS_PAIR_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tls/tls.h"

struct side {
	struct tls_conn conn;
	bool started;
	bool hs_done;
	int hs_status;
	char hs_err[TLS_ERRMSG_LEN];
	int role;
	uint64_t agent; /* the agent the peer's certificate names */
	char identity[TLS_NAME_LEN];
	char got[256];
	size_t ngot;
	int read_end; /* 0 while reading, else the code that ended it */
	char read_err[TLS_ERRMSG_LEN];
	bool closed;
	int state_at_handshake;
	/* the socket's TCP_NODELAY and TCP_THIN_LINEAR_TIMEOUTS at the
	 * handshake (-1: getsockopt failed) */
	int nodelay_at_handshake;
	int thin_at_handshake;
};

struct pair {
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_tcp_t raw; /* plain client */
	uv_connect_t creq;
	uv_write_t wreq;
	uv_timer_t guard;
	struct tls_ctx *sctx, *cctx;
	unsigned s_allowed, c_allowed;
	bool allow_plain;
	bool plain_client;
	bool silent;	     /* plain client sends nothing */
	unsigned timeout_ms; /* server handshake timeout, 0: 5000 */
	struct side s, c;
	int port;
	/* keep the connections open at the end (for reload tests) */
	bool keep;
	/* the server half-closes after its answer; the client waits for EOF */
	bool server_shutdown;
	int shutdown_status;
	bool shutdown_done;
};

/* Start p on a loop of its own: a listener on a free loopback port and a
 * client (TLS, or plain with plain_client) connecting to it; a guard timer
 * fails the test after 15 s. */
void pair_start(struct pair *p);
/* Run until both sides closed and every handle is gone. */
void pair_run(struct pair *p);
/* A context of CA ca's certificate name (pki_ctx), allocated. */
struct tls_ctx *ctx_new(const char *ca, const char *name);
/* ctx trusting both CAs with a certificate of one of them */
struct tls_ctx *ctx_cross(const char *ca, const char *name);
/* Close and free a context of ctx_new or ctx_cross. */
void ctx_free(struct tls_ctx *c);
/* A pair, allocated (free it): server context sctx (any role allowed),
 * client context cctx (agents allowed; NULL with plain_client). */
struct pair *pair_new(struct tls_ctx *sctx, struct tls_ctx *cctx);
/* Run p until its client has its pong. */
void pair_until_pong(struct pair *p);
/* tls_ctx_reload_async's callback: status into *(int *)arg. */
void on_reloaded(struct tls_ctx *c, int status, void *arg);

#endif
