/* receiver: accepts the pair's replication connections and applies the
 * records they carry to this pool's store.
 *
 * It listens on the agent's data address. A connection opens with the
 * sender's HELLO, which must name the expected peer pool as from_pool, this
 * pool as to_pool, only user sets this receiver accepts and, when one is
 * set (peer_agent, receiver_set_peer_agent), the expected agent as its
 * agent_id: only the writer of a pool streams it; otherwise it is refused
 * with an ERROR frame and a log line. Over TLS the sender's certificate
 * must speak for that agent_id and that from_pool (tls_conn.peer_agent,
 * peer_pool; a certificate naming no agent speaks for none): otherwise
 * the HELLO is refused the same way ("hello refused: certificate speaks
 * for agent 3, not 7"), counted as a hello error and logged as a warning
 * once per address and minute, before it could replace any connection.
 * Plain connections (no TLS, or tls_require off) carry no identity to
 * check. The receiver answers with
 * its own HELLO holding the sequence it has applied for every (user set,
 * lane) the sender named (store_stream_positions), so the sender resumes
 * right after it. The answer accepts the lz4 dictionary mode (batch.h)
 * when the sender's HELLO offered it and lz4_dict_off is not set; the
 * connection then keeps the history of its batches (empty at the start of
 * each connection), and a batch with FRAME_FLAG_DICT on a connection that
 * did not agree on it is bad input. A newer connection naming a (user set,
 * lane) replaces an older one still open.
 *
 * Seed (store_seed.h). The HELLO answer also carries, per (user set,
 * lane), the seed row of that stream when one is there (store_seed_states:
 * F, epoch, mark, counters), so the sender resumes it after the mark. The
 * sender then sends SEED_BEGIN (stored with store_seed_begin, which keeps
 * a row of the same F), SEED_RECORDS batches (batch_decode, never in
 * dictionary mode, batch_validate_seed, the records of the one stream
 * whose seed began on this connection, store_seed_apply), each answered
 * with an ACK of acked_seq 0 and the seed's progress, and SEED_END, whose
 * from_seq, items and bytes must equal this connection's SEED_BEGIN and
 * what it stored since (store_seed_figures); store_seed_end, then the ACK
 * of acked_seq F and on_apply(F). RECORDS of a stream with a seed row are
 * refused until its SEED_END is stored. Every step is stored in order, one
 * at a time, reading paused meanwhile, as for RECORDS. Bad input (a seed
 * frame for a stream not in the HELLO or not the one seeding, seed records
 * before SEED_BEGIN, a record of another user set or lane, a chunk that
 * is not the next bytes of its item, a SEED_END that differs) drops the
 * connection like any other: nothing of a refused batch is stored, and
 * the seed row's mark stays where the last stored batch left it.
 *
 * Per connection:
 *
 *   hello -> positions -> streaming <-> applying (a batch or a seed step)
 *      \          \            \            \
 *       +----------+------------+------------+--> closing
 *
 * Limits before a sender is known. A connection counts against max_conns
 * only once its HELLO is accepted (with TLS: after the handshake and the
 * checks of its certificate); until then it is pending: at most
 * max_pending of them at once, max_pending_per_addr from one address, a
 * frame of at most RECEIVER_HELLO_MAX_PAYLOAD, and hello_timeout_ms from
 * accept to an accepted HELLO, however slowly the bytes come. A
 * connection over a limit is closed at once (without an answer) and one
 * past its deadline is dropped; both are counted as hello errors and
 * logged as warnings, the first of a kind per address and minute. So
 * connections that never say who they are cannot take the places of the
 * pair's sender. A HELLO accepted while max_conns connections stream
 * already is refused ("too many connections").
 *
 * Frames are decoded with frame_decoder (at most max_payload bytes), each
 * RECORDS payload with batch_decode_dict (on the loop thread, strictly in
 * arrival order, as the history requires) and batch_validate, and applied
 * with store_apply_batch, one at a time and in order: while an apply is in
 * flight the connection stops reading (backpressure). After each apply a
 * cumulative ACK carries the positions the store returned. PING is answered
 * with PONG. Bad input (CRC mismatch, truncated or oversize frame, unknown
 * type or version, undecodable protobuf, a batch that fails validation or
 * names a user set or lane not in the HELLO, a sequence gap), a disk-full
 * or other store error, or silence for timeout_ms closes that connection
 * with a log line naming the peer and the reason. The store makes applies
 * idempotent, so nothing is applied twice or skipped.
 *
 * Committed epochs. The epoch a record carries comes from the wire: the
 * receiver takes none above the committed epoch of its user set, handed
 * in by the control plane with receiver_set_epoch() (as the accepted
 * user sets and writer are). A RECORDS batch with such a record, a
 * SEED_BEGIN of such an epoch or a SEED_RECORDS batch with such an item
 * state is refused before anything of it is stored: the connection is
 * dropped with an ERROR frame naming the user set and both epochs,
 * counted as RECEIVER_ERR_EPOCH and logged as a warning (the first of a
 * kind per address and minute; tls_quiet_pass). A user set whose
 * committed epoch was never handed in has committed epoch 0: all of its
 * records are refused. The refusal is transient: right after a change of
 * owner the new owner's records may come before this agent applied the
 * commit; its sender reconnects after its backoff and is accepted once
 * receiver_set_epoch() caught up, nothing stored meanwhile, nothing
 * archived as stale.
 *
 * In-site copy. A receiver whose peer_pool is its own local_pool accepts
 * the stream of its own pool's writer (HELLO from_pool == to_pool): a hot
 * standby's copy. With outbox_mode, RECORDS are applied with
 * store_apply_batch_outbox instead of store_apply_batch, so that each
 * record is also kept in this store's outbox as if written here; the
 * position of a stream (HELLO answer, ACK, on_apply) is then its head_seq
 * (in general: the larger of applied_seq and head_seq). Seeds are stored
 * with store_seed_* in either mode.
 *
 * Threads: loop thread only; callbacks fire on the loop thread. No global
 * state. Memory per connection: one read buffer, the decoder, which holds
 * at most one frame, and in dictionary mode the history (about
 * BATCH_DICT_MAX bytes, plus the batch being decoded).
 *
 * Errors: 0, or a negative STREAM_E_* (stream_common.h) or libuv code. */
#ifndef POOLPAIR_REPLICATION_RECEIVER_H
#define POOLPAIR_REPLICATION_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "replication/store.h"
#include "replication/stream_common.h"

struct tls_ctx;

#define RECEIVER_MAX_USER_SETS 16
#define RECEIVER_MAX_EPOCHS 128 /* user sets with a committed epoch */
/* The largest frame a sender sends: a batch of at most
 * BATCH_DEFAULT_MAX_RAW (4 MiB, batch.h), and a prefix. */
#define RECEIVER_DEFAULT_MAX_PAYLOAD (((size_t)4 << 20) + ((size_t)64 << 10))
/* The largest frame before the HELLO is accepted (a HELLO names at most
 * 64 streams). */
#define RECEIVER_HELLO_MAX_PAYLOAD ((size_t)64 << 10)

/* Why a connection was dropped; index of receiver_stats.errors. */
enum receiver_reason {
	RECEIVER_ERR_FRAME = 0, /* damaged, oversize or unknown frame */
	RECEIVER_ERR_TRUNCATED, /* peer closed in the middle of a frame */
	RECEIVER_ERR_PROTO,     /* undecodable protobuf or batch */
	RECEIVER_ERR_BATCH,     /* batch failed validation */
	RECEIVER_ERR_HELLO,     /* HELLO refused, or a frame out of order */
	RECEIVER_ERR_GAP,       /* sequence gap (STORE_E_GAP) */
	RECEIVER_ERR_STORE,     /* store error (disk full, I/O, ...) */
	RECEIVER_ERR_TIMEOUT,   /* peer silent for timeout_ms */
	RECEIVER_ERR_IO,        /* socket error */
	RECEIVER_ERR_SEED,      /* a seed frame out of order, for another
				   stream, or a SEED_END that does not
				   match what was stored */
	RECEIVER_ERR_EPOCH,     /* a record or seed of an epoch above the
				   committed epoch of its user set */
	RECEIVER_ERR_COUNT
};

/* Name of a reason ("frame"), or "?". Static storage. */
const char *receiver_reason_name(int reason);

struct receiver_config {
	const char *local_pool; /* required: this pool (copied) */
	const char *peer_pool;  /* required: the only pool accepted (copied) */
	uint64_t peer_agent;    /* the only agent accepted (HELLO agent_id):
				   the writer of peer_pool; 0: any, see
				   receiver_set_peer_agent() */
	uint64_t agent_id;      /* sent in the HELLO answer */
	const char *host;       /* listen address, numeric ("127.0.0.1",
				   "::"); required (copied) */
	uint16_t port;          /* 0: any free port, see receiver_port() */
	const char *const *user_sets; /* accepted user sets, at most
					 RECEIVER_MAX_USER_SETS (copied) */
	size_t n_user_sets;
	size_t max_payload;     /* largest frame payload; 0:
				   RECEIVER_DEFAULT_MAX_PAYLOAD */
	unsigned timeout_ms;    /* silent connection dropped; 0: 10000 */
	unsigned max_conns;     /* connections with an accepted HELLO at
				   once; 0: 16 */
	unsigned max_pending;   /* connections without one yet (TLS
				   handshake and HELLO) at once; 0: 64 */
	unsigned max_pending_per_addr; /* of them from one address; 0: 4 */
	unsigned hello_timeout_ms; /* from accept to an accepted HELLO,
				      however the peer trickles bytes;
				      0: 5000 */
	int lz4_dict_off;       /* 1: never accept the dictionary mode, as a
				   peer that predates it */
	int outbox_mode;        /* 1: RECORDS applied with
				   store_apply_batch_outbox (a standby's
				   copy: each record also kept in the outbox
				   as if written here) */
	stream_log_fn log;      /* may be NULL */
	struct tls_ctx *tls;	/* NULL: plain TCP; else TLS 1.3 with this
				   context (tls/tls.h, borrowed: must outlive
				   the receiver; a reload applies to the next
				   connection); a sender must hold a
				   certificate of role agent. A refused
				   handshake is logged "receiver: refused
				   ADDR: reason" and counted as hello */
	int tls_require;	/* with tls, 0: a sender that does not speak
				   TLS is accepted in plain (migration) */
	/* Fired after each apply with the new position of every (user set,
	 * lane) the batch named (the larger of applied and head seq). May be NULL. Neither it nor log
	 * may call receiver_close() or receiver_set_user_sets(): defer
	 * those (e.g. to a zero timer). */
	void (*on_apply)(void *arg, const char *user_set, int lane,
			 uint64_t applied_seq);
	void *arg; /* passed to log and on_apply */
};

struct receiver_stats {
	uint64_t connections;     /* accepted since init */
	uint64_t active;          /* open now */
	uint64_t pending;         /* of them without an accepted HELLO */
	uint64_t handshakes;      /* HELLOs accepted */
	uint64_t batches;         /* batches applied */
	uint64_t batches_dict;    /* decoded against the history */
	uint64_t records_applied; /* records applied to the copy */
	uint64_t duplicates;      /* already applied: skipped */
	uint64_t archived;        /* stale epoch: archived */
	uint64_t errors[RECEIVER_ERR_COUNT]; /* dropped connections */
	char last_error[STREAM_ERRMSG_LEN];  /* "" when none yet */
};

struct receiver;

/* Create a receiver applying to store (borrowed; open until the close
 * callback), bind cfg->host:cfg->port and listen. cfg is copied. On
 * success *rp owns the receiver until receiver_close(). Returns 0,
 * STREAM_E_ARG, STREAM_E_NOMEM, or libuv's error (UV_EADDRINUSE,
 * UV_EINVAL for a bad address...); on error nothing is left behind. */
int receiver_init(struct receiver **rp, uv_loop_t *loop, struct store *store,
		  const struct receiver_config *cfg);

/* The port bound (useful with port 0), or a negative libuv code. */
int receiver_port(const struct receiver *r);

/* Replace the accepted user sets (copied). Connections whose HELLO named a
 * user set no longer accepted are closed. Returns 0, STREAM_E_ARG,
 * STREAM_E_CLOSING. */
int receiver_set_user_sets(struct receiver *r, const char *const *user_sets,
			   size_t n);

/* Replace the accepted peer pool (copied; it may be local_pool: an
 * in-site stream from this pool's own writer) and user sets (copied, as
 * receiver_set_user_sets). Connections whose HELLO no longer matches
 * (another from_pool, or a user set no longer accepted) are closed with an
 * ERROR frame and counted as hello errors; those still waiting for their
 * HELLO are checked against the new values when it comes. Nothing changes
 * on error. Returns 0, STREAM_E_ARG (bad pool name, too many or bad user
 * set names), STREAM_E_CLOSING. Not from on_apply or log (defer it). */
int receiver_set_peer(struct receiver *r, const char *peer_pool,
		      const char *const *user_sets, size_t n);

/* Accept only the agent agent_id (the HELLO's agent_id: the current writer
 * of the peer pool; for a standby, of its own pool), or any agent with 0.
 * A HELLO from another agent is refused with an ERROR frame and the log
 * line "... agent N is not the writer of POOL", counted as a hello error;
 * connections already open from another agent are closed the same way
 * when this changes (those still waiting for their HELLO are checked when
 * it comes). It applies to whatever peer pool is accepted
 * (receiver_set_peer does not change it). Returns 0 or STREAM_E_CLOSING.
 * Not from on_apply or log (defer it). */
int receiver_set_peer_agent(struct receiver *r, uint64_t agent_id);

/* The committed epoch of user_set (copied; a user set name as in
 * receiver_set_user_sets) is epoch now: records and seeds of user_set
 * above it are refused (see "Committed epochs" above); connections
 * already open are not touched. Call it for every user set this receiver
 * may accept, and again whenever the committed state changes (a lower
 * value than before is taken as given). At most RECEIVER_MAX_EPOCHS user
 * sets. Returns 0, STREAM_E_ARG (bad name), STREAM_E_NOMEM (table full),
 * STREAM_E_CLOSING. */
int receiver_set_epoch(struct receiver *r, const char *user_set,
		       uint64_t epoch);

/* The committed epoch of user_set handed in, 0 when none was. */
uint64_t receiver_epoch(const struct receiver *r, const char *user_set);

/* Copy the counters into *out. */
void receiver_get_stats(const struct receiver *r, struct receiver_stats *out);

/* A seed (store_seed.h) this receiver carried since init, running or
 * ended: known from a seed row in a HELLO answer or from a SEED_BEGIN,
 * updated with each stored batch. */
struct receiver_seed {
	char user_set[STREAM_NAME_MAX];
	int lane;		   /* POOLPAIR__REPL__LANE__LANE_* */
	bool active;		   /* false: ended (caught up to from_seq) */
	uint64_t from_seq;	   /* the owner's position F */
	uint64_t items;		   /* stored so far, over resumes */
	uint64_t bytes;
	uint64_t items_total;	   /* as the sender counted them (0 until
				      its SEED_BEGIN on this receiver) */
	uint64_t bytes_total;
};

/* Copy up to max seeds into out (newest state of each (user set, lane),
 * at most RECEIVER_MAX_USER_SETS * 2). out may be NULL when max is 0.
 * Returns how many there are (may be more than max). */
size_t receiver_seeds(const struct receiver *r, struct receiver_seed *out,
		      size_t max);

/* Stop listening, close every connection, wait for applies in flight,
 * free the receiver, then call cb(arg) (may be NULL). r must not be used
 * after this call. */
void receiver_close(struct receiver *r, void (*cb)(void *arg), void *arg);

#endif /* POOLPAIR_REPLICATION_RECEIVER_H */
