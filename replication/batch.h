/* batch: change records <-> the payload of a RECORDS frame.
 *
 * A batch is one Poolpair__Repl__RecordBatch (proto/replication.proto)
 * packed with protobuf-c. When lz4 makes it smaller, the payload is
 *
 *   u32 little-endian: size of the packed RecordBatch ("raw size")
 *   an lz4 block of those raw bytes
 *
 * and the frame carries FRAME_FLAG_LZ4 (frame.h); otherwise the payload is
 * the packed RecordBatch itself and the flag is clear.
 *
 * Dictionary mode. A batch of a few records has little to compress on its
 * own, but much in common with the batches sent just before it on the same
 * connection. When both ends agreed on it in the HELLO exchange
 * (Hello.lz4_dict), each end keeps a struct batch_dict: the last
 * BATCH_DICT_MAX raw bytes of every batch of the connection, in order (the
 * raw bytes of batch 1, then of batch 2, ..., truncated at the front). The
 * sender compresses each batch with that history as an lz4 prefix
 * dictionary and marks the frame FRAME_FLAG_LZ4 | FRAME_FLAG_DICT (or sends
 * it raw, flags 0, when that is not smaller); the receiver decompresses it
 * against its own copy. Every batch enters the history of both ends after
 * it was encoded or decoded, whatever its flags, so the two copies stay
 * equal as long as batches are decoded in the order they were encoded and
 * none is lost, which one TCP connection guarantees. Both ends start a
 * connection with an empty history; a decoding error drops the connection,
 * and the next one starts empty again. A FRAME_FLAG_DICT payload is
 *
 *   u32 little-endian: raw size;  u32 little-endian: CRC32C of the raw
 *   batch;  the lz4 block
 *
 * The frame's CRC covers the compressed bytes only, and a block decoded
 * against another history than it was made with (a frame replayed or
 * duplicated on the way, a history out of step) inflates to other bytes of
 * the same size, often a well-formed batch with other records: the raw
 * CRC refuses it (BATCH_E_CORRUPT) before anything is applied.
 *
 * The decoder checks the declared raw size against a maximum before
 * allocating anything, and decompresses only with LZ4_decompress_safe or
 * LZ4_decompress_safe_usingDict with the output limited to that size, so
 * no input can make it read or write out of bounds or allocate more than
 * max_raw plus the history, plus what protobuf-c allocates for the
 * message: the raw batch's records are counted first (at most
 * BATCH_MAX_RECORDS, else BATCH_E_BUDGET), and protobuf-c unpacks it
 * through an allocator with a budget of batch_unpack_budget(raw size,
 * records): about twice the raw size plus a few hundred bytes per record.
 * A batch that would need more (2-byte empty records, thousands of tiny
 * unknown fields) fails cleanly with BATCH_E_BUDGET; a batch of records
 * as batch_encode writes them always fits. Without the budget, a 66 KB
 * lz4 payload inflating to 16 MiB of 2-byte records made protobuf-c
 * allocate 1.4 GB.
 *
 * Decoding checks the encoding; batch_validate() then checks what the
 * records say (names, sizes, known enums, sequence order) before anything
 * is applied.
 *
 * Pure: no I/O, no clocks, no global state; any thread (a batch_dict is
 * used by one thread at a time). */
#ifndef POOLPAIR_BATCH_H
#define POOLPAIR_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "replication.pb-c.h"

/* Raw size a decoder accepts by default: a sender's batch is about
 * SENDER_DEFAULT_BATCH_BYTES (1 MiB) plus its last record (a value or
 * chunk of at most 1 MiB, a key of 1 KiB). */
#define BATCH_DEFAULT_MAX_RAW ((size_t)4 << 20) /* 4 MiB */
/* Records one batch may hold (a sender's default is 1024). */
#define BATCH_MAX_RECORDS 4096
#define BATCH_BUDGET_BASE ((size_t)64 << 10) /* see batch_unpack_budget */
#define BATCH_PREFIX_LEN 4    /* the u32 raw size of a compressed batch */
#define BATCH_DICT_PREFIX_LEN 8 /* raw size and raw CRC32C (dictionary) */
#define BATCH_USER_SET_MAX 63 /* bytes of a user set name */
#define BATCH_KEY_MAX 1024    /* bytes of a key */
#define BATCH_VALUE_MAX ((size_t)1 << 20) /* value of a put: 1 MiB */
#define BATCH_CHUNK_MAX ((size_t)1 << 20) /* value of a content chunk */
#define BATCH_ERRMSG_LEN 256 /* enough for any batch_validate message */
#define BATCH_DICT_MAX ((size_t)64 << 10) /* history kept: lz4's window */

/* Error codes: negative, in this module's range -5301..-5399 (README,
 * "Error codes"); batch_strerror() gives their messages. */
enum batch_error {
	BATCH_E_ARG = -5301,	   /* invalid argument (caller error) */
	BATCH_E_NOMEM = -5302,	   /* out of memory */
	BATCH_E_TOO_LARGE = -5303, /* raw size over the maximum */
	BATCH_E_CORRUPT = -5304,   /* lz4 block or size prefix is damaged */
	BATCH_E_PROTO = -5305,	   /* the protobuf does not decode */
	BATCH_E_FLAGS = -5306,	   /* unknown flag bits, or DICT without LZ4 */
	BATCH_E_INVALID = -5307,   /* a record breaks a batch_validate rule */
	BATCH_E_DICT = -5308,	   /* dictionary batch, dictionary mode off */
	BATCH_E_BUDGET = -5309,	   /* more than BATCH_MAX_RECORDS records, or
				      unpacking needs more memory than
				      batch_unpack_budget() allows */
};

/* Sizes of one encoded batch, for the compression ratio in status. */
struct batch_stats {
	size_t raw_bytes;  /* packed RecordBatch, before compression */
	size_t wire_bytes; /* the payload as sent (== *len) */
};

/* The history of one direction of one connection in dictionary mode (see
 * above). Fields are private: use the functions below. An encoder's and a
 * decoder's history are equal when buf[0, len) are the same bytes; tests
 * may compare them. A batch_dict serves one end: use it only with
 * batch_encode_dict() or only with batch_decode_dict(). */
struct batch_dict {
	uint8_t *buf; /* owned: the history is buf[0, len); NULL until used */
	size_t len;   /* bytes of history, at most BATCH_DICT_MAX */
	size_t cap;   /* bytes allocated at buf */
	void *lz;     /* owned: an encoder's LZ4_stream_t, NULL until used */
};

/* Make d an empty history (so is a zeroed struct). Allocates nothing;
 * cannot fail. d not NULL. */
void batch_dict_init(struct batch_dict *d);

/* Empty the history (a new connection). Keeps what is allocated, but no
 * more than about BATCH_DICT_MAX of history room. d not NULL. */
void batch_dict_reset(struct batch_dict *d);

/* Free what d holds; d may be NULL. Afterwards d is an empty history
 * again (batch_dict_init() is not needed to reuse it). */
void batch_dict_close(struct batch_dict *d);

/* Encode the n records at recs (borrowed for the call; recs may be NULL
 * when n is 0; no element may be NULL) as a RECORDS payload.
 * On success returns 0, sets *payload to a malloc()ed buffer that the
 * caller now owns and frees with free() (never NULL, even for an empty
 * batch), *len to its length, *flags to FRAME_FLAG_LZ4 or 0 (pass it to
 * frame_encode_header()), and fills *st when st is not NULL.
 * Records are not validated here; the caller produced them. The caller
 * keeps batches small enough for the peer's frame maximum (frame.h) by
 * looking at *len. Errors: BATCH_E_ARG (payload, len or flags NULL, a NULL
 * record, or recs NULL with n > 0), BATCH_E_TOO_LARGE (packed size over
 * BATCH_DEFAULT_MAX_RAW, or more than BATCH_MAX_RECORDS records, which
 * the peer would refuse), BATCH_E_NOMEM. On
 * error nothing is written through the output pointers. */
int batch_encode(const Poolpair__Repl__ChangeRecord *const *recs, size_t n,
		 void **payload, size_t *len, uint16_t *flags,
		 struct batch_stats *st);

/* Same in dictionary mode: compress against dict (borrowed for the call;
 * the encoder's history of this connection, not NULL), then add the batch
 * to it. *flags is FRAME_FLAG_LZ4 | FRAME_FLAG_DICT or 0; either way the
 * batch is now part of dict, as it will be of the receiver's history once
 * it decodes the frame, so the caller must send every batch encoded here,
 * in this order, on the connection dict belongs to (or drop the
 * connection). Errors as batch_encode, plus BATCH_E_ARG for dict NULL; on
 * error dict is unchanged and nothing is to be sent. */
int batch_encode_dict(const Poolpair__Repl__ChangeRecord *const *recs, size_t n,
		      struct batch_dict *dict, void **payload, size_t *len,
		      uint16_t *flags, struct batch_stats *st);

/* The allocation budget of unpacking a raw batch of raw_len bytes holding
 * n_records records (see above): 2 * raw_len + n_records * (the size of a
 * ChangeRecord, its array slot and malloc's share of it and its strings)
 * + BATCH_BUDGET_BASE. */
size_t batch_unpack_budget(size_t raw_len, size_t n_records);

/* Unpack the len bytes at raw (borrowed; a packed RecordBatch, no prefix,
 * not compressed; may be NULL when len is 0) under that budget: what
 * batch_decode does after decompressing. On success *out as for
 * batch_decode. *charged (when not NULL) receives the bytes allocated
 * while unpacking, counted as the budget counts them, also on error.
 * Errors: BATCH_E_ARG, BATCH_E_BUDGET, BATCH_E_PROTO. */
int batch_unpack(const void *raw, size_t len,
		 Poolpair__Repl__RecordBatch **out, size_t *charged);

/* Decode the len bytes at payload (borrowed for the call; may be NULL when
 * len is 0), with the flags of its frame, into a RecordBatch.
 * max_raw is the largest raw size accepted, 0 for BATCH_DEFAULT_MAX_RAW.
 * On success returns 0 and sets *out to a message the caller now owns and
 * frees with poolpair__repl__record_batch__free_unpacked(*out, NULL); it
 * does not point into payload. Errors: BATCH_E_ARG (out NULL, payload NULL
 * with len > 0), BATCH_E_FLAGS (unknown bits, FRAME_FLAG_DICT without
 * FRAME_FLAG_LZ4), BATCH_E_DICT (FRAME_FLAG_DICT: this call has no
 * history), BATCH_E_TOO_LARGE (declared raw size, or an uncompressed
 * payload, over max_raw), BATCH_E_CORRUPT (short prefix, or an lz4 block
 * that is damaged or does not inflate to exactly the declared size),
 * BATCH_E_BUDGET, BATCH_E_PROTO, BATCH_E_NOMEM. On error *out is untouched. */
int batch_decode(const void *payload, size_t len, uint16_t flags,
		 size_t max_raw, Poolpair__Repl__RecordBatch **out);

/* Same on a connection in dictionary mode: dict (borrowed for the call)
 * is the receiver's history of this connection, or NULL when the mode was
 * not agreed (then this is batch_decode). Frames with FRAME_FLAG_DICT are
 * decompressed against it; on success the batch, whatever its flags, is
 * added to it. Frames must be decoded in the order they arrived. Errors as
 * batch_decode; on error dict keeps the bytes it had, and the caller drops
 * the connection (the sender's history already holds the batch). The
 * history costs at most BATCH_DICT_MAX + max_raw bytes while a batch is
 * decoded, about BATCH_DICT_MAX between batches. */
int batch_decode_dict(const void *payload, size_t len, uint16_t flags,
		      size_t max_raw, struct batch_dict *dict,
		      Poolpair__Repl__RecordBatch **out);

/* Check every record of b (borrowed) before it is applied:
 *   - user_set non-empty, at most BATCH_USER_SET_MAX bytes;
 *   - key non-empty, at most BATCH_KEY_MAX bytes;
 *   - op, kind and lane are values of the enums in replication.proto;
 *   - seq >= 1, and strictly increasing within the batch per
 *     (user_set, lane), in the order the records appear;
 *   - put: value at most BATCH_VALUE_MAX bytes;
 *   - delete: empty value;
 *   - content chunk: kind KIND_CONTENT, lane LANE_CONTENT, value at most
 *     BATCH_CHUNK_MAX bytes, offset + value length <= total.
 * An empty batch is valid.
 * Returns 0, BATCH_E_INVALID (a rule is broken), BATCH_E_NOMEM or
 * BATCH_E_ARG (b NULL). On error, when errbuf is not NULL and len > 0, a
 * NUL-terminated lowercase message naming the record is written there
 * ("record 3: seq 7 does not follow 9 for pool-east/data"), truncated to
 * len bytes; BATCH_ERRMSG_LEN is always enough. */
int batch_validate(const Poolpair__Repl__RecordBatch *b, char *errbuf,
		   size_t len);

/* Check a SEED_RECORDS batch (item states of a seed, store_seed.h) before
 * it is stored: every record as batch_validate() checks it, except that
 * seq is not checked (a record carries the seq of its item's last change,
 * in key order, not a stream sequence) and:
 *   - at least one record, all of one (user_set, lane);
 *   - KIND_CONTENT exactly on LANE_CONTENT, and only as content chunks;
 *   - a delete only for KIND_USER (a disabled user), whose value is the
 *     home pool (at most BATCH_USER_SET_MAX bytes).
 * Whether the records follow the copy's seed mark, and chunks the bytes
 * already stored, is checked by store_seed_apply(). Returns and messages
 * as batch_validate(). */
int batch_validate_seed(const Poolpair__Repl__RecordBatch *b, char *errbuf,
			size_t len);

/* Message for a batch error code; lowercase, static storage. Unknown
 * codes give "unknown batch error". */
const char *batch_strerror(int err);

#endif /* POOLPAIR_BATCH_H */
