/* fuzz_frame: the replication frame decoder (replication/frame.h).
 *
 * Input: byte 0 picks the decoder's max_payload, bytes 1..2 seed the way
 * the stream is cut into chunks, the rest is the byte stream of a
 * connection. The stream is decoded twice, once fed whole and once in
 * chunks of 1..64 bytes (each an exactly sized heap copy, released as soon
 * as the decoder says it is used). Properties checked:
 *   - both runs return the same frames and end the same way (the same
 *     error, or the same number of pending bytes);
 *   - each frame's payload is the bytes that follow its header in the
 *     stream, and frame_encode_header() of the frame gives that header
 *     back byte for byte;
 *   - an error is sticky; a feed before the chunk is drained is refused;
 *   - at the end, frame_decoder_pending() counts the bytes after the last
 *     frame. */
#include <string.h>

#include "fuzz/fuzz_util.h"
#include "replication/frame.h"

#define MAX_EVENTS 4096

struct run {
	size_t n;		   /* frames returned */
	uint8_t types[MAX_EVENTS];
	uint16_t flags[MAX_EVENTS];
	size_t lens[MAX_EVENTS];
	size_t consumed; /* stream bytes in the frames returned */
	int end;	 /* 0 (needs more) or the error */
	size_t pending;	 /* frame_decoder_pending() at the end */
};

static const uint8_t *stream;
static size_t stream_len;

static void on_frame(struct run *r, const struct frame *fr,
		     size_t max_payload)
{
	uint8_t hdr[FRAME_HEADER_LEN];

	FUZZ_CHECK(fr->type >= FRAME_TYPE_MIN && fr->type <= FRAME_TYPE_MAX,
		   "frame of unknown type %u", fr->type);
	FUZZ_CHECK((fr->flags & ~FRAME_FLAGS_KNOWN) == 0,
		   "frame with unknown flags 0x%x", fr->flags);
	FUZZ_CHECK(fr->len <= max_payload, "payload of %zu over %zu", fr->len,
		   max_payload);
	FUZZ_CHECK(fr->payload != NULL, "NULL payload");
	FUZZ_CHECK(r->consumed + FRAME_HEADER_LEN + fr->len <= stream_len,
		   "frame runs past the stream");
	FUZZ_CHECK(fr->len == 0 ||
		       memcmp(fr->payload,
			      stream + r->consumed + FRAME_HEADER_LEN,
			      fr->len) == 0,
		   "payload is not the bytes after the header");
	FUZZ_CHECK(frame_encode_header(hdr, fr->type, fr->flags, fr->payload,
				       fr->len) == 0,
		   "frame_encode_header refused a decoded frame");
	FUZZ_CHECK(memcmp(hdr, stream + r->consumed, FRAME_HEADER_LEN) == 0,
		   "re-encoded header differs from the one received");
	if (r->n < MAX_EVENTS) {
		r->types[r->n] = fr->type;
		r->flags[r->n] = fr->flags;
		r->lens[r->n] = fr->len;
	}
	r->n++;
	r->consumed += FRAME_HEADER_LEN + fr->len;
}

/* Drain d; returns 0 when it needs more, or the error. */
static int drain(struct frame_decoder *d, struct run *r, size_t max_payload)
{
	struct frame fr;
	int rv;

	while ((rv = frame_decoder_next(d, &fr)) == 1) {
		on_frame(r, &fr, max_payload);
	}
	if (rv < 0) {
		struct frame other;

		FUZZ_CHECK(rv != FRAME_E_ARG && rv != FRAME_E_BUSY,
			   "next returned %s", frame_strerror(rv));
		FUZZ_CHECK(frame_decoder_next(d, &other) == rv,
			   "error %s is not sticky", frame_strerror(rv));
		FUZZ_CHECK(frame_decoder_feed(d, "x", 1) == rv,
			   "feed after error %s", frame_strerror(rv));
	}
	return rv;
}

static void run_whole(struct run *r, size_t max_payload)
{
	struct frame_decoder d;
	uint8_t *chunk = fuzz_dup(stream, stream_len);

	FUZZ_CHECK(frame_decoder_init(&d, max_payload) == 0, "init");
	FUZZ_CHECK(frame_decoder_feed(&d, chunk, stream_len) == 0, "feed");
	r->end = drain(&d, r, max_payload ? max_payload
					  : FRAME_DEFAULT_MAX_PAYLOAD);
	free(chunk);
	r->pending = r->end == 0 ? frame_decoder_pending(&d) : 0;
	frame_decoder_close(&d);
}

static void run_chunked(struct run *r, size_t max_payload, uint32_t seed)
{
	struct frame_decoder d;
	size_t pos = 0;

	FUZZ_CHECK(frame_decoder_init(&d, max_payload) == 0, "init");
	r->end = 0;
	while (pos < stream_len && r->end == 0) {
		size_t n;
		uint8_t *chunk;
		int rv;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 16) % 64;
		if (n > stream_len - pos) {
			n = stream_len - pos;
		}
		chunk = fuzz_dup(stream + pos, n);
		rv = frame_decoder_feed(&d, chunk, n);
		FUZZ_CHECK(rv == 0, "feed returned %s", frame_strerror(rv));
		if ((seed >> 8) % 8 == 0) {
			rv = frame_decoder_feed(&d, chunk, n);
			FUZZ_CHECK(rv == FRAME_E_BUSY,
				   "second feed before draining gave %d", rv);
		}
		r->end = drain(&d, r, max_payload ? max_payload
						  : FRAME_DEFAULT_MAX_PAYLOAD);
		free(chunk); /* drained (or failed): the decoder let it go */
		pos += n;
	}
	r->pending = r->end == 0 ? frame_decoder_pending(&d) : 0;
	frame_decoder_close(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[8] = {0, 0, 1, 16, 100, 1000, 65536,
					FRAME_HARD_MAX_PAYLOAD};
	static struct run whole, chunked;
	size_t max_payload;
	uint32_t seed;
	size_t i;

	if (size < 3) {
		return 0;
	}
	max_payload = maxes[data[0] % 8];
	seed = (uint32_t)data[1] | (uint32_t)data[2] << 8;
	stream = data + 3;
	stream_len = size - 3;

	memset(&whole, 0, sizeof whole);
	memset(&chunked, 0, sizeof chunked);
	run_whole(&whole, max_payload);
	run_chunked(&chunked, max_payload, seed);

	FUZZ_CHECK(whole.n == chunked.n, "%zu frames whole, %zu chunked",
		   whole.n, chunked.n);
	for (i = 0; i < whole.n && i < MAX_EVENTS; i++) {
		FUZZ_CHECK(whole.types[i] == chunked.types[i] &&
			       whole.flags[i] == chunked.flags[i] &&
			       whole.lens[i] == chunked.lens[i],
			   "frame %zu differs between whole and chunked", i);
	}
	FUZZ_CHECK(whole.end == chunked.end, "ends %s whole, %s chunked",
		   frame_strerror(whole.end), frame_strerror(chunked.end));
	if (whole.end == 0) {
		FUZZ_CHECK(whole.pending == stream_len - whole.consumed,
			   "pending %zu, %zu bytes after the last frame",
			   whole.pending, stream_len - whole.consumed);
		FUZZ_CHECK(chunked.pending == whole.pending,
			   "pending %zu chunked, %zu whole", chunked.pending,
			   whole.pending);
	}
	(void)frame_type_name(stream_len > 4 ? stream[4] : 0);
	return 0;
}
