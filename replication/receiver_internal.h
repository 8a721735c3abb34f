/* receiver_internal: what the receiver's three files share; not used
 * outside them. The contract is receiver.h.
 *
 *   receiver.c         the API, accepting connections (TLS, limits,
 *                      silence), connection states, dropping and freeing
 *                      connections
 *   receiver_stream.c  on a connection that is up: reading, HELLO,
 *                      RECORDS applied in order, ACK, PING
 *   receiver_seed.c    the seed rows in the HELLO answer, SEED_BEGIN,
 *                      SEED_RECORDS and SEED_END stored in order, their
 *                      ACKs, the seeds this receiver carried
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
#include "replication/store_seed.h"
#include "replication/stream_common.h"
#include "tls/tls.h"

#define RX_MAX_NAMED 64

/* What a connection counts against (struct rx_conn.counted). */
enum {
	RX_COUNT_NONE = 0, /* nothing: closing, or not yet accepted */
	RX_COUNT_PENDING,  /* max_pending, max_pending_per_addr */
	RX_COUNT_STREAM,   /* max_conns: its HELLO was accepted */
};

enum rx_state {
	RX_HELLO = 0, /* waiting for the sender's HELLO */
	RX_POSITIONS, /* reading positions for the HELLO answer */
	RX_STREAMING, /* reading frames */
	RX_APPLYING,  /* a batch or a seed step is being stored; not reading */
	RX_CLOSING,   /* handle closing; freed when nothing is in flight */
};

/* A (user set, lane) the sender's HELLO named. */
struct rx_named {
	char user_set[STREAM_NAME_MAX];
	int lane;
	/* the HELLO answer */
	uint64_t epoch;
	uint64_t acked_seq;
	/* its seed (receiver_seed.c) */
	int seed_row;		       /* a seed row was there at the HELLO, or
					  a SEED_BEGIN stored one: no RECORDS
					  until its SEED_END is stored */
	uint64_t row_from_seq;	       /* that row's F */
	uint64_t row_items, row_bytes; /* its counters then */
	int seeding;		       /* SEED_BEGIN stored on this connection,
					  SEED_END not yet */
	uint64_t seed_from_seq, seed_epoch;
	uint64_t base_items, base_bytes; /* the row's counters at SEED_BEGIN */
	uint64_t items, bytes;		 /* stored since SEED_BEGIN
					    (store_seed_figures) */
};

/* The seed step being stored on a connection (one at a time). */
struct rx_seed_step {
	size_t named;			   /* index in c->named */
	uint64_t from_seq, epoch;	   /* SEED_BEGIN, SEED_END */
	uint64_t items_total, bytes_total; /* SEED_BEGIN */
	uint64_t items, bytes; /* SEED_RECORDS: store_seed_figures */
	int kind;	       /* the batch's last record: the mark */
	char key[STORE_KEY_MAX + 1];
	uint64_t offset;
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
	uint64_t accepted_ms;	/* when it was accepted */
	char addr[64];		/* the peer's address, without the port */
	int counted;		/* RX_COUNT_*: what it counts against */
	char from_pool[STREAM_NAME_MAX]; /* of the accepted HELLO */
	uint64_t from_agent;		 /* its agent_id */
	struct rx_named named[RX_MAX_NAMED];
	size_t n_named;
	struct rx_seed_step *step; /* owned, NULL until a seed batch came */
};

/* The committed epoch of a user set (receiver_set_epoch). */
struct rx_epoch {
	char user_set[STREAM_NAME_MAX];
	uint64_t epoch;
};

struct receiver {
	uv_loop_t *loop;
	struct store *store; /* borrowed */
	char local_pool[STREAM_NAME_MAX];
	char peer_pool[STREAM_NAME_MAX];
	uint64_t peer_agent; /* the only agent accepted; 0: any */
	uint64_t agent_id;
	char user_sets[RECEIVER_MAX_USER_SETS][STREAM_NAME_MAX];
	size_t n_user_sets;
	size_t max_payload;
	unsigned timeout_ms;
	unsigned max_conns;
	unsigned max_pending;
	unsigned max_pending_per_addr;
	unsigned hello_timeout_ms;
	unsigned n_streaming; /* connections counted RX_COUNT_STREAM */
	int lz4_dict_off;
	int outbox_mode; /* RECORDS through store_apply_batch_outbox */
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
	struct receiver_seed seeds[RECEIVER_MAX_USER_SETS * 2];
	size_t n_seeds;
	struct rx_epoch epochs[RECEIVER_MAX_EPOCHS];
	size_t n_epochs;
	struct tls_quiet quiet; /* warnings a retrying peer repeats */
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

/* Same, logged through r->quiet (the first of a kind per address and
 * minute): for refusals a retrying sender repeats. Always tells. */
void receiver_conn_refuse(struct rx_conn *c, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether a record or seed of @user_set at @epoch may be stored: at most
 * the committed epoch handed in (receiver_set_epoch). If not, @c is
 * refused (receiver_conn_refuse, RECEIVER_ERR_EPOCH) naming @what ("record
 * 3", "seed begin") and 0 is returned. */
int receiver_epoch_ok(struct rx_conn *c, const char *user_set, uint64_t epoch,
		      const char *what);

/* @c's HELLO passed every check: count it against max_conns instead of
 * the pending limits and let it read frames up to max_payload. Returns 0,
 * or -1 after refusing @c (too many connections). */
int receiver_conn_admit(struct rx_conn *c);

/* Closes @c at once (a pending shutdown included): state CLOSING. */
void receiver_conn_close(struct rx_conn *c);

/* Frees @c once its handle is closed and no store operation of it is in
 * flight (c->ops); does nothing before. Call after each of the two ends. */
void receiver_conn_maybe_free(struct rx_conn *c);

/* ---- receiver_stream.c ---- */

/* Read callback of a connection's tls_conn (t->data is the rx_conn):
 * plaintext borrowed for the call. */
void receiver_stream_read(struct tls_conn *t, ssize_t nread, const char *data);

/* Index in c->named of (user_set, lane), or -1. */
int receiver_named_find(const struct rx_conn *c, const char *user_set,
			int lane);

/* Write the HELLO answer: every named stream's position (c->named) and
 * the seed row of each found in @rows (borrowed; NULL: none); then c
 * streams. Called once the store was read (state RX_POSITIONS). */
void receiver_stream_answer_hello(struct rx_conn *c,
				  const struct store_seed_states *rows);

/* A store step of c (apply, seed step) ended without error: read the next
 * frames (state RX_STREAMING). */
void receiver_stream_resume(struct rx_conn *c);

/* ---- receiver_seed.c ---- */

/* Read the seed rows for the HELLO answer of c (state RX_POSITIONS, the
 * positions already in c->named), then answer. */
void receiver_seed_hello(struct rx_conn *c);

/* Handle a SEED_BEGIN, SEED_RECORDS or SEED_END frame of c (state
 * RX_STREAMING): bad input drops c; otherwise the step is stored (state
 * RX_APPLYING) and acknowledged. */
void receiver_seed_frame(struct rx_conn *c, const struct frame *f);

#endif /* POOLPAIR_REPLICATION_RECEIVER_INTERNAL_H */
