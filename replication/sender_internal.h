/* sender_internal: what the sender's three files share; not used outside
 * them. The contract is sender.h.
 *
 *   sender.c         the API, lane states, stats, and the plumbing below
 *   sender_dial.c    a lane's connection: resolve, connect, TLS, fail,
 *                    backoff, reconnect
 *   sender_stream.c  on a connection that is up: positions and HELLO, the
 *                    outbox pump and its window, acks, pings, frames read
 *
 * A lane's connection is current while its gen has not moved: every
 * request the sender makes of the store or the resolver (struct tx_op)
 * carries the gen it was made under, and its completion does nothing when
 * the connection it was made for has ended (sender_op_end()).
 *
 * Everything here: loop thread only. */
#ifndef POOLPAIR_REPLICATION_SENDER_INTERNAL_H
#define POOLPAIR_REPLICATION_SENDER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/sender.h"
#include "replication/store.h"
#include "replication/stream_common.h"
#include "tls/tls.h"

#define TX_LANES 2

/* One batch in flight: acknowledged once the pair acks last_seq. */
struct tx_inflight {
	uint64_t last_seq;
	uint64_t bytes;
};

/* One (user set, lane) stream. */
struct tx_stream {
	char user_set[STREAM_NAME_MAX];
	int lane;
	/* from the store */
	uint64_t epoch, head_seq, lag_records, lag_bytes, oldest_hlc;
	uint64_t applied_seq; /* records of this stream the store received
				 from the pair (before it took the set over) */
	uint64_t acked_seq;   /* max of store and pair acks */
	/* this connection */
	uint64_t sent_seq;
	int ready;	    /* resumed: may send */
	int blocked;	    /* cannot continue on this connection (logged) */
	uint64_t wake;	    /* bumped by notify */
	uint64_t wake_done; /* wake value an empty read covered */
	struct tx_inflight *inflight; /* owned ring */
	size_t if_cap, if_head, if_n;
	/* counters */
	uint64_t records_sent, batches_sent, batches_dict, bytes_raw,
	    bytes_wire;
	struct stream_rate rate;
};

/* What to do once a connection's handle has closed. */
enum tx_after { TX_AFTER_BACKOFF, TX_AFTER_START };

struct tx_lane {
	struct sender *s;
	int lane;
	enum sender_state state;
	uint64_t gen;	      /* bumped whenever a connection ends */
	struct tls_conn conn; /* TLS with the sender's context, else plain */
	int tcp_open;	      /* conn initialised, its close not finished */
	int conn_closing;     /* tls_conn_close() called */
	uv_connect_t connect;
	uv_timer_t backoff;
	uv_timer_t ping;
	enum tx_after after;
	struct frame_decoder dec;
	struct batch_dict dict; /* history of this connection's batches */
	int dict_mode;		/* the receiver accepted the dictionary mode */
	int hello_sent;
	int reading_outbox; /* an outbox read of this connection in flight */
	size_t rr;	    /* round robin over user sets */
	uint64_t last_rx_ms;
	uint64_t inflight_bytes;
	unsigned backoff_ms;
	uint64_t reconnects;
	char last_error[STREAM_ERRMSG_LEN];
};

struct sender {
	uv_loop_t *loop;
	struct store *store; /* borrowed */
	char local_pool[STREAM_NAME_MAX];
	char peer_pool[STREAM_NAME_MAX];
	uint64_t agent_id;
	char *host;	     /* owned, NULL: idle */
	struct tls_ctx *tls; /* borrowed, NULL: plain */
	uint16_t port;
	size_t n_user_sets;
	struct tx_stream streams[SENDER_MAX_USER_SETS * TX_LANES];
	struct tx_lane lanes[TX_LANES];
	size_t window, batch_bytes, batch_records;
	int lz4_dict_off;
	unsigned ping_ms, timeout_ms, backoff_min, backoff_max, stats_ms;
	stream_log_fn log;
	void (*on_ack)(void *arg, const char *user_set, int lane,
		       uint64_t acked_seq);
	void *arg;
	uv_timer_t stats_timer;
	int stats_reading;
	uint64_t rng;
	unsigned handles; /* open libuv handles */
	unsigned pending; /* store and resolver requests in flight */
	int closing;
	void (*close_cb)(void *arg);
	void *close_arg;
};

/* A store or resolver request tied to one connection of a lane. */
struct tx_op {
	struct tx_lane *l; /* NULL: not tied to a connection */
	struct sender *s;
	uint64_t gen;
	size_t stream;
	uint64_t wake; /* outbox reads: wake value when issued */
	uv_getaddrinfo_t gai;
};

/* ---- sender.c ---- */

/* Formats and hands a line to the configured log callback, if any. */
void sender_log(struct sender *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "data" or "content": the name of @l's lane. Static string. */
const char *sender_lane_name(const struct tx_lane *l);

/* The one place where a lane's connection changes state; logs
 * "old -> new" (info when it starts streaming, else debug). */
void sender_lane_set_state(struct tx_lane *l, enum sender_state next);

/* Stream @i (user set index) of @l's lane. Borrowed from @s. */
struct tx_stream *sender_lane_stream(struct sender *s, struct tx_lane *l,
				     size_t i);

/* A new request tied to @l's current connection (@l NULL: to none) and to
 * stream slot @stream; NULL when out of memory. The caller counts it in
 * s->pending once it is issued, or frees it when issuing fails. */
struct tx_op *sender_op_new(struct sender *s, struct tx_lane *l, size_t stream);

/* Ends an op's life: returns 1 when its connection is still the current
 * one and the sender is not closing. Frees op (and may free the sender,
 * when it was the last thing a close waited for). */
int sender_op_end(struct tx_op *op);

/* Frees the sender and calls the close callback once it is closing and no
 * handle or request is left; does nothing before. */
void sender_maybe_finish(struct sender *s);

/* ---- sender_dial.c ---- */

/* Starts @l's next connection: resolves the peer (state RESOLVING), or
 * goes IDLE when there is no peer or no user set. */
void sender_dial_start(struct tx_lane *l);

/* End the lane's current connection (if any); then reconnect at once
 * (TX_AFTER_START) or after a backoff. Requests of the old connection are
 * ignored when they complete. */
void sender_dial_reset(struct tx_lane *l, enum tx_after after);

/* The connection of @l failed: the reason (printf-formatted, lowercase) is
 * kept in last_error and logged with the peer, the connection is reset and
 * retried after the backoff. Ignored while not connected or connecting. */
void sender_dial_fail(struct tx_lane *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Close callback of a lane's tls_conn (c->data is the lane). */
void sender_dial_closed(struct tls_conn *c);

/* ---- sender_stream.c ---- */

/* The connection of @l is up (TLS done): start reading frames and pinging,
 * read the store's positions and send HELLO (state HANDSHAKING). */
void sender_stream_begin(struct tx_lane *l);

/* Read callback of a lane's tls_conn: decodes and handles every frame of
 * the chunk (c->data is the lane). */
void sender_stream_read(struct tls_conn *c, ssize_t nread, const char *data);

/* Start the next outbox read when the window has room. One read per
 * connection at a time, user sets in turn. Does nothing unless @l is
 * streaming. */
void sender_stream_pump(struct tx_lane *l);

/* Takes the store's positions @p (borrowed) into every stream of @s: epoch,
 * head, lag; acked_seq only grows. */
void sender_stream_take_positions(struct sender *s,
				  const struct store_positions *p);

#endif /* POOLPAIR_REPLICATION_SENDER_INTERNAL_H */
