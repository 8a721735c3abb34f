/* stream_common: what the sender and the receiver of a replication
 * connection share — log levels and the log callback, writing one frame
 * to a libuv stream, packing and checking HELLO and ACK messages, and a
 * small ring of samples that gives throughput over the last seconds.
 *
 * Loop thread only. No global state. */
#ifndef POOLPAIR_REPLICATION_STREAM_COMMON_H
#define POOLPAIR_REPLICATION_STREAM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "replication.pb-c.h"

struct tls_conn;

/* Levels handed to the log callback: the same numbers as the agent's
 * enum log_level (0 error, 1 warn, 2 info, 3 debug), so the agent passes
 * them through unchanged. */
enum stream_log_level {
	STREAM_LOG_ERROR = 0,
	STREAM_LOG_WARN = 1,
	STREAM_LOG_INFO = 2,
	STREAM_LOG_DEBUG = 3,
};

/* Log callback of the sender and the receiver: msg is a lowercase line
 * without a newline, borrowed for the call. Called on the loop thread. */
typedef void (*stream_log_fn)(void *arg, int level, const char *msg);

#define STREAM_NAME_MAX 64  /* pool and user set names, incl. NUL */
#define STREAM_ERRMSG_LEN 256
#define STREAM_RATE_SAMPLES 8 /* throughput ring: ~the last 7 seconds */

/* Errors of the stream modules: negative, in their range -5001..-5099
 * (README, "Error codes"), besides libuv's UV_E* and tls's TLS_E_*. */
enum {
	STREAM_E_ARG = -5001,      /* invalid argument */
	STREAM_E_NOMEM = -5002,    /* out of memory */
	STREAM_E_CLOSING = -5003,  /* object closing or closed */
	STREAM_E_NOT_FOUND = -5004 /* no such user set or lane */
};

/* Message of a STREAM_E_* code, or of a libuv code; static storage. */
const char *stream_strerror(int rv);

/* Name of a lane: "data", "content", or "?" for another value. */
const char *stream_lane_name(int lane);

/* Queue one frame (header + a copy of the len bytes at payload; payload
 * borrowed for the call, may be NULL when len is 0) on the connected
 * stream h with uv_write. The copy is freed when the write completes or
 * is cancelled. Returns 0, a FRAME_E_* code (frame.h) for a bad type,
 * flags or size, STREAM_E_NOMEM, or libuv's error from uv_write. */
int stream_write_frame(uv_stream_t *h, uint8_t type, uint16_t flags,
		       const void *payload, size_t len);

/* Same, taking ownership of payload (a malloc()ed buffer, freed when the
 * write completes or fails; on any error it is freed before returning). */
int stream_write_frame_owned(uv_stream_t *h, uint8_t type, uint16_t flags,
			     void *payload, size_t len);

/* Pack msg (borrowed) and queue it as one frame of the given type, e.g.
 * FRAME_HELLO with a Poolpair__Repl__Hello. Returns what
 * stream_write_frame_owned returns. */
int stream_write_message(uv_stream_t *h, uint8_t type,
			 const ProtobufCMessage *msg);

/* The same three on a struct tls_conn (tls/tls.h), TLS or plain, whose
 * handshake is done: the frame is encrypted (or copied) at once, so an
 * owned payload is freed before returning. Return as above, with the
 * tls_conn_write() errors (TLS_E_STATE once the connection is shut or
 * closing) in place of uv_write's. */
int stream_tls_write_frame(struct tls_conn *c, uint8_t type, uint16_t flags,
			   const void *payload, size_t len);
int stream_tls_write_frame_owned(struct tls_conn *c, uint8_t type,
				 uint16_t flags, void *payload, size_t len);
int stream_tls_write_message(struct tls_conn *c, uint8_t type,
			     const ProtobufCMessage *msg);

/* Check a HELLO received from the peer (borrowed): from_pool and to_pool
 * non-empty and shorter than STREAM_NAME_MAX, at most 64 positions, each
 * with a non-empty user set name shorter than STREAM_NAME_MAX and a known
 * lane, no (user set, lane) named twice. Returns 0, or STREAM_E_ARG with
 * a lowercase reason in errbuf (len bytes). */
int stream_hello_check(const Poolpair__Repl__Hello *h, char *errbuf,
		       size_t len);

/* Same checks for an ACK (at most 64 positions). */
int stream_ack_check(const Poolpair__Repl__Ack *a, char *errbuf, size_t len);

/* Throughput over the last seconds: a ring of (time, records, bytes)
 * samples of cumulative counters. Zero-initialised is empty. */
struct stream_rate {
	uint64_t t_ms[STREAM_RATE_SAMPLES];
	uint64_t records[STREAM_RATE_SAMPLES];
	uint64_t bytes[STREAM_RATE_SAMPLES];
	unsigned n;    /* samples held, at most STREAM_RATE_SAMPLES */
	unsigned next; /* slot the next sample goes to */
};

/* Record the cumulative counters at time now_ms (monotonic ms). */
void stream_rate_sample(struct stream_rate *r, uint64_t now_ms,
			uint64_t records, uint64_t bytes);

/* Records and bytes per second between the oldest and the newest sample
 * held; both 0 with fewer than two samples. */
void stream_rate_get(const struct stream_rate *r, double *records_per_s,
		     double *bytes_per_s);

#endif /* POOLPAIR_REPLICATION_STREAM_COMMON_H */
