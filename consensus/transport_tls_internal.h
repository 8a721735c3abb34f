/* transport_tls_internal: what the two files of the TLS transport share
 * (transport_tls.c: the transport, its handshakes and raft's methods;
 * transport_tls_link.c: a link's life, its closing and the bridge between
 * raft's end of a socketpair and the TLS connection). Not part of the
 * module's interface: only those files include it. Loop thread only. */
#ifndef POOLPAIR_CONSENSUS_TRANSPORT_TLS_INTERNAL_H
#define POOLPAIR_CONSENSUS_TRANSPORT_TLS_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/transport_tls.h"
#include "tls/tls.h"

#define HELLO_PROTOCOL 1	/* raft_uv_tcp's handshake protocol */
#define HELLO_PREAMBLE 24	/* protocol, id, address length: 3 x u64 LE */
#define HELLO_ADDR_MAX 256	/* longest address accepted, padding included */
#define HELLO_ACK 8		/* u64 LE 1: the peer accepted us */
#define BRIDGE_HIGH (1u << 20)	/* stop reading the other side above */
#define BRIDGE_LOW (256u << 10) /* ... and resume below */
#define QUIET_SLOTS 16		/* distinct warnings remembered */
#define QUIET_MS 60000		/* one line per warning and minute */

enum transport_state {
	TRANSPORT_INIT,
	TRANSPORT_LISTENING,
	TRANSPORT_CLOSING,
	TRANSPORT_CLOSED,
};

/* One link's life: outgoing RESOLVE → CONNECT → TLS → HELLO → BRIDGE;
 * incoming TLS → HELLO → BRIDGE; any state → CLOSING → freed. */
enum link_state {
	LINK_RESOLVE,
	LINK_CONNECT,
	LINK_TLS,
	LINK_HELLO,
	LINK_BRIDGE,
	LINK_CLOSING,
};

enum link_dir {
	LINK_OUT,
	LINK_IN,
};

struct transport;

struct link {
	struct transport *tr;
	struct link *prev, *next;
	int dir;   /* enum link_dir */
	int state; /* enum link_state */
	struct tls_conn conn;
	uv_getaddrinfo_t resolve;
	uv_connect_t connect;
	uv_timer_t deadline; /* TLS handshake + hello (+ ack) must end by */
	bool deadline_open;  /* deadline initialised: must be closed */
	uint64_t since_ms;   /* incoming: when accepted (loop time) */
	char from[64];	     /* incoming: "ip:port" of the TCP peer */
	char from_ip[48];    /* ... and its address alone, for the caps */
	uv_pipe_t pipe;	     /* our end of the socketpair (BRIDGE) */
	bool pipe_open;
	bool pipe_reading;
	bool conn_open;	   /* tls_conn_init succeeded: conn must be closed */
	unsigned closes;   /* handles still closing */
	size_t pipe_queue; /* bytes queued towards raft */
	/* outgoing: raft's request until its callback fired */
	struct raft_uv_connect *req;
	raft_uv_connect_cb req_cb;
	raft_id peer_id;
	char peer_address[HELLO_ADDR_MAX]; /* outgoing: to dial; incoming:
					      announced by the peer */
	char host[HELLO_ADDR_MAX];
	char port[8];
	/* hello being received (incoming) or ack (outgoing) */
	uint8_t hello[HELLO_PREAMBLE + HELLO_ADDR_MAX];
	size_t have, need;
};

struct transport {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	struct transport_tls_config cfg;
	int state; /* enum transport_state */
	raft_id id;
	char address[HELLO_ADDR_MAX];
	uv_tcp_t listener;
	bool listener_open;
	raft_uv_accept_cb accept_cb;
	raft_uv_transport_close_cb close_cb;
	struct link *links; /* every link, any state */
	unsigned bridged;
	unsigned bridged_in; /* of which incoming (TRANSPORT_TLS_LINKS_IN) */
	unsigned pending_in; /* incoming links not bridged yet
				(TRANSPORT_TLS_PENDING) */
	/* repeated warnings (a peer retrying every second) are logged once
	 * a minute, with a count of the ones left out */
	struct {
		char key[256];
		uint64_t last_ms;
		unsigned quiet;
	} quiet[QUIET_SLOTS];
};

struct pipe_write {
	uv_write_t req;
	struct link *l;
	size_t len;
	char data[];
};

/* ---- transport_tls.c ---- */

/* One line through the configured log callback (none: nothing). A
 * warning repeated within a minute (the same text but for an incoming
 * peer's port) is left out and counted in the next one let through. */
void transport_log(struct transport *tr, bool warn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* When the transport is closing and its listener and every link are
 * gone: CLOSED, and raft's close callback. */
void transport_maybe_closed(struct transport *tr);

/* ---- transport_tls_link.c ---- */

/* A new link of tr in direction dir (enum link_dir), zeroed, at the head
 * of tr's list; NULL when out of memory. */
struct link *transport_link_new(struct transport *tr, int dir);

/* Take l off tr's list (l not freed). */
void transport_link_unlink(struct link *l);

/* Close l from any state: an outgoing attempt still owed to raft gets
 * its callback (RAFT_CANCELED when the transport closes, else
 * RAFT_NOCONNECTION), the handles close, and l is freed once the last
 * one did (l may be freed on return). Idempotent. */
void transport_link_close(struct link *l);

/* Free l once no close of it is pending (l->closes 0). */
void transport_link_free_if_done(struct link *l);

/* A uv_close callback for a handle of l (h->data is l). */
void transport_link_handle_closed(uv_handle_t *h);

/* The peer of l for messages: the address dialled, or the peer's. */
const char *transport_link_peer(struct link *l);

/* Start l's deadline (tr->cfg.handshake_ms from now): unless l is bridged
 * by then, it is closed with a warning. The timer is stopped by
 * transport_link_bridge() and closed with l. Returns 0 or a libuv code. */
int transport_link_deadline(struct link *l);

/* Make the socketpair and bridge l's TLS connection to our end of it:
 * l enters LINK_BRIDGE; *raft_end (raft_malloc'ed, raft closes and frees
 * it) is raft's end. Returns 0 or a libuv code (l unchanged but for an
 * open pipe, which link_close closes). */
int transport_link_bridge(struct link *l, uv_stream_t **raft_end);

/* Queue n bytes of plaintext from the peer towards raft (reading from
 * the peer pauses while more than BRIDGE_HIGH bytes wait). Returns 0 or
 * a libuv code. */
int transport_link_to_raft(struct link *l, const char *data, size_t n);

#endif
