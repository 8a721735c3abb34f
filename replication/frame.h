/* frame: the envelope of every message on a replication connection.
 *
 * Wire layout, all integers little-endian, a 16-byte header then the
 * payload:
 *
 *   offset size field
 *        0    4 payload length in bytes (the payload as sent, after any
 *               compression)
 *        4    1 type (enum frame_type)
 *        5    1 version (FRAME_VERSION)
 *        6    2 flags (FRAME_FLAG_*; unknown bits are refused)
 *        8    4 CRC-32C of the payload (crc32c.h; 0 for an empty payload)
 *       12    4 CRC-32C of header bytes 0..11
 *
 * The header checksum is checked before the length is trusted, so a
 * corrupted length never makes a receiver wait for or allocate a bogus
 * amount of data. Payloads are protobuf messages of proto/replication.proto
 * (HELLO: Hello, RECORDS: a batch from batch.h, ACK: Ack, ERROR: UTF-8
 * text, SEED_BEGIN: SeedBegin, SEED_RECORDS: a batch from batch.h of item
 * states, never in dictionary mode, SEED_END: SeedEnd); PING and PONG
 * (keep-alive) normally carry none. The seed frames fill a copy that lacks
 * records its owner's outbox no longer holds (store_seed.h, sender.h).
 *
 * Pure: no I/O, no clocks. The encoder is stateless; a decoder is owned by
 * one connection (one thread) and decodes only from the bytes it was given,
 * whatever they are: bad input gives an error, never a crash. */
#ifndef POOLPAIR_FRAME_H
#define POOLPAIR_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN 16
#define FRAME_VERSION 1
#define FRAME_FLAG_LZ4 0x0001u /* payload is an lz4 batch (batch.h) */
/* With FRAME_FLAG_LZ4 only: the lz4 block was compressed against the
 * connection's history of earlier batches (batch.h, "dictionary mode").
 * Sent only to a receiver whose HELLO answer set lz4_dict. */
#define FRAME_FLAG_DICT 0x0002u
#define FRAME_FLAGS_KNOWN 0x0003u /* every flag this version understands */
#define FRAME_DEFAULT_MAX_PAYLOAD ((size_t)4 << 20) /* 4 MiB */
#define FRAME_HARD_MAX_PAYLOAD ((size_t)64 << 20)   /* 64 MiB */

enum frame_type {
	FRAME_HELLO = 1,	/* handshake: pools, user sets, positions */
	FRAME_RECORDS = 2,	/* a batch of change records */
	FRAME_ACK = 3,		/* cumulative acknowledgement */
	FRAME_PING = 4,		/* keep-alive request */
	FRAME_PONG = 5,		/* keep-alive answer */
	FRAME_ERROR = 6,	/* the peer explains why it drops the link */
	FRAME_SEED_BEGIN = 7,	/* a seed of one stream starts */
	FRAME_SEED_RECORDS = 8, /* a batch of item states of that seed */
	FRAME_SEED_END = 9,	/* every item state was sent */
};
#define FRAME_TYPE_MIN FRAME_HELLO
#define FRAME_TYPE_MAX FRAME_SEED_END

/* Error codes: negative, in this module's range -5201..-5299 (README,
 * "Error codes"); frame_strerror() gives their messages. */
enum frame_error {
	FRAME_E_HEADER_CRC = -5201,  /* header checksum mismatch */
	FRAME_E_PAYLOAD_CRC = -5202, /* payload checksum mismatch */
	FRAME_E_TOO_LARGE = -5203,   /* payload longer than the maximum */
	FRAME_E_VERSION = -5204,     /* unknown frame version */
	FRAME_E_TYPE = -5205,	     /* unknown frame type */
	FRAME_E_NOMEM = -5206,	     /* out of memory */
	FRAME_E_FLAGS = -5207,	     /* unknown flag bits */
	FRAME_E_ARG = -5208,	     /* invalid argument (caller error) */
	FRAME_E_BUSY = -5209,	     /* fed before the previous chunk drained */
};

/* A decoded frame. payload is borrowed from the decoder (or from the chunk
 * last fed to it) and valid until the next call of frame_decoder_feed(),
 * frame_decoder_next() or frame_decoder_close() on that decoder, and only
 * while that chunk is alive. When len is 0, payload is not NULL but must
 * not be read. */
struct frame {
	uint8_t type;	     /* enum frame_type */
	uint16_t flags;	     /* FRAME_FLAG_* */
	const void *payload; /* borrowed, see above */
	size_t len;	     /* payload length */
};

/* Streaming decoder. Fields are private: use the functions below. It keeps
 * a borrowed pointer to the chunk being decoded and copies into its own
 * buffer only a frame that is split across chunks, so it holds at most one
 * frame (header + max payload) and grows that buffer only as far as the
 * frames it meets need. */
struct frame_decoder {
	size_t max_payload; /* largest payload accepted */
	const uint8_t *in;  /* borrowed: chunk being decoded */
	size_t in_len;	    /* its length */
	size_t in_pos;	    /* bytes of it already used */
	uint8_t *buf;	    /* owned: partial frame, NULL until needed */
	size_t buf_cap;	    /* bytes allocated at buf */
	size_t buf_len;	    /* bytes of the partial frame in buf */
	int release;	    /* 1: buf holds the frame last returned */
	int err;	    /* first error met (sticky), or 0 */
};

/* Write the header for a frame of the given type and flags whose payload
 * is the len bytes at payload into out (FRAME_HEADER_LEN bytes). payload
 * is borrowed for the call and may be NULL only when len is 0. The caller
 * then sends out followed by the payload bytes.
 * Returns 0, or FRAME_E_TYPE (unknown type), FRAME_E_FLAGS (unknown flag
 * bits), FRAME_E_TOO_LARGE (len > FRAME_HARD_MAX_PAYLOAD), FRAME_E_ARG
 * (out NULL, or payload NULL with len > 0); on error out is untouched. */
int frame_encode_header(uint8_t out[FRAME_HEADER_LEN], uint8_t type,
			uint16_t flags, const void *payload, size_t len);

/* Prepare d to decode a new connection's byte stream. max_payload is the
 * largest payload accepted (0 for FRAME_DEFAULT_MAX_PAYLOAD). Allocates
 * nothing. Returns 0, or FRAME_E_ARG (d NULL, or max_payload >
 * FRAME_HARD_MAX_PAYLOAD), leaving d unusable. */
int frame_decoder_init(struct frame_decoder *d, size_t max_payload);

/* Change the largest payload d accepts (0 for FRAME_DEFAULT_MAX_PAYLOAD)
 * from the next frame header it reads on (e.g. small until a peer said
 * who it is). Returns 0, or FRAME_E_ARG (d NULL, max_payload >
 * FRAME_HARD_MAX_PAYLOAD), changing nothing. */
int frame_decoder_set_max(struct frame_decoder *d, size_t max_payload);

/* Free the decoder's buffer. d may be NULL. Afterwards d may be
 * initialised again. */
void frame_decoder_close(struct frame_decoder *d);

/* Hand the decoder the next len bytes received. buf is borrowed until
 * frame_decoder_next() has returned 0 or an error: the caller frees or
 * reuses it only then (frames entirely inside the chunk are returned
 * without copying; the unfinished tail is copied in by
 * frame_decoder_next()). Call frame_decoder_next() until it returns 0
 * before feeding again. len may be 0 (buf may then be NULL).
 * Returns 0; the sticky error if the decoder failed earlier;
 * FRAME_E_BUSY (the previous chunk is not drained; nothing changes) or
 * FRAME_E_ARG (d NULL, buf NULL with len > 0). */
int frame_decoder_feed(struct frame_decoder *d, const void *buf, size_t len);

/* Take the next complete frame.
 * Returns 1 and fills *out (see struct frame for how long it is valid);
 * 0 when more bytes are needed (the fed chunk is then fully used and may
 * be released); or a negative error: FRAME_E_HEADER_CRC, FRAME_E_VERSION,
 * FRAME_E_TYPE, FRAME_E_FLAGS, FRAME_E_TOO_LARGE (length over
 * max_payload), FRAME_E_PAYLOAD_CRC, FRAME_E_NOMEM, FRAME_E_ARG (d or out
 * NULL). After an error other than FRAME_E_ARG the decoder stays failed:
 * every later call returns the same error, and the caller drops the
 * connection. *out is written only when 1 is returned. */
int frame_decoder_next(struct frame_decoder *d, struct frame *out);

/* Bytes received but not yet returned as part of a frame (a partial frame
 * plus what is left of the fed chunk). 0 at a clean frame boundary, which
 * tells a caller at end of stream whether the peer stopped mid-frame. */
size_t frame_decoder_pending(const struct frame_decoder *d);

/* Message for a frame error code ("header checksum mismatch"); lowercase,
 * static storage. Unknown codes give "unknown frame error". */
const char *frame_strerror(int err);

/* Name of a frame type ("records", "seed-begin"), or "unknown". Static
 * storage. */
const char *frame_type_name(uint8_t type);

#endif /* POOLPAIR_FRAME_H */
