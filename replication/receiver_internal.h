/* receiver_internal: what the receiver's two files share; not used
 * outside them. The contract is receiver.h.
 *
 *   receiver.c         the API, accepting connections (TLS, limits,
 *                      silence), connection states, dropping and freeing
 *                      connections
 *   receiver_stream.c  on a connection that is up: reading, HELLO,
 *                      RECORDS applied in order, ACK, PING
 *
 * Everything here: loop thread only. */
#ifndef POOLPAIR_REPLICATION_RECEIVER_INTERNAL_H
#define POOLPAIR_REPLICATION_RECEIVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/receiver.h"
#include "replication/stream_common.h"
#include "tls/tls.h"

#define RX_MAX_NAMED 64

enum rx_state {
	RX_HELLO = 0, /* waiting for the sender's HELLO */
	RX_POSITIONS, /* reading positions for the HELLO answer */
	RX_STREAMING, /* reading frames */
	RX_APPLYING,  /* a batch is being applied; not reading */
	RX_CLOSING,   /* handle closing; freed when nothing is in flight */
};

struct rx_named {
	char user_set[STREAM_NAME_MAX];
	int lane;
};

struct rx_conn {
	struct receiver *r;
	struct rx_conn *prev, *next;
	struct tls_conn conn; /* TLS with the receiver's context, else plain */
	int conn_closing;     /* tls_conn_close() called */
	enum rx_state state;
	uint64_t id;
	char peer[64];
	struct frame_decoder dec;
	char *rbuf; /* owned, rbuf_cap bytes: the chunk the
		       decoder borrows until it drains */
	size_t rbuf_cap;
	struct batch_dict dict; /* history of the batches, in dict_mode */
	int dict_mode;		/* HELLO agreed on the dictionary mode */
	int reading;		/* tls_conn_read_start in effect */
	int ops;		/* store operations in flight */
	int handle_closed;
	uint64_t last_rx_ms;
	struct rx_named named[RX_MAX_NAMED];
	size_t n_named;
};

struct receiver {
	uv_loop_t *loop;
	struct store *store; /* borrowed */
	char local_pool[STREAM_NAME_MAX];
	char peer_pool[STREAM_NAME_MAX];
	uint64_t agent_id;
	char user_sets[RECEIVER_MAX_USER_SETS][STREAM_NAME_MAX];
	size_t n_user_sets;
	size_t max_payload;
	unsigned timeout_ms;
	unsigned max_conns;
	int lz4_dict_off;
	stream_log_fn log;
	void (*on_apply)(void *arg, const char *user_set, int lane,
			 uint64_t applied_seq);
	void *arg;
	struct tls_ctx *tls; /* borrowed, NULL: plain */
	int tls_require;     /* with tls: refuse plain senders */
	uv_tcp_t listener;
	uv_timer_t timer;
	struct rx_conn *conns;
	uint64_t next_id;
	unsigned handles; /* listener, timer */
	int closing;
	void (*close_cb)(void *arg);
	void *close_arg;
	struct receiver_stats stats;
};

/* ---- receiver.c ---- */

/* Formats and hands a line to the configured log callback, if any. */
void receiver_log(struct receiver *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one place where a connection changes state; logs "old -> new". */
void receiver_conn_set_state(struct rx_conn *c, enum rx_state next);

/* Whether @r accepts @user_set (one of its configured user sets). */
int receiver_accepts(const struct receiver *r, const char *user_set);

/* Drop @c for @reason (RECEIVER_ERR_*, counted in the stats) with a log
 * line naming the peer and the message (printf-formatted, lowercase);
 * when @tell is set the peer gets an ERROR frame with the message first.
 * Ignored once @c is closing. */
void receiver_conn_fail(struct rx_conn *c, int reason, int tell,
			const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Closes @c at once (a pending shutdown included): state CLOSING. */
void receiver_conn_close(struct rx_conn *c);

/* Frees @c once its handle is closed and no store operation of it is in
 * flight (c->ops); does nothing before. Call after each of the two ends. */
void receiver_conn_maybe_free(struct rx_conn *c);

/* ---- receiver_stream.c ---- */

/* Read callback of a connection's tls_conn (t->data is the rx_conn):
 * plaintext borrowed for the call. */
void receiver_stream_read(struct tls_conn *t, ssize_t nread, const char *data);

#endif /* POOLPAIR_REPLICATION_RECEIVER_INTERNAL_H */
