/* Tests of replication/frame.c: the frame envelope and its streaming
 * decoder, fed with good, split, damaged and random bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replication/crc32c.h"
#include "replication/frame.h"

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* A byte stream of encoded frames, grown as frames are appended. */
struct stream {
	uint8_t *b;
	size_t len;
	size_t cap;
};

static void stream_put(struct stream *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2 + 64;
		s->b = realloc(s->b, s->cap);
		assert_non_null(s->b);
	}
	if (n > 0)
		memcpy(s->b + s->len, p, n);
	s->len += n;
}

static void stream_frame(struct stream *s, uint8_t type, uint16_t flags,
			 const void *payload, size_t len)
{
	uint8_t h[FRAME_HEADER_LEN];

	assert_int_equal(frame_encode_header(h, type, flags, payload, len), 0);
	stream_put(s, h, sizeof(h));
	stream_put(s, payload, len);
}

static void stream_free(struct stream *s)
{
	free(s->b);
	memset(s, 0, sizeof(*s));
}

/* A header with arbitrary fields and a correct header checksum. */
static void craft_header(uint8_t h[FRAME_HEADER_LEN], uint32_t len,
			 uint8_t type, uint8_t version, uint16_t flags,
			 uint32_t payload_crc)
{
	uint32_t c;

	h[0] = (uint8_t)len;
	h[1] = (uint8_t)(len >> 8);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 24);
	h[4] = type;
	h[5] = version;
	h[6] = (uint8_t)flags;
	h[7] = (uint8_t)(flags >> 8);
	h[8] = (uint8_t)payload_crc;
	h[9] = (uint8_t)(payload_crc >> 8);
	h[10] = (uint8_t)(payload_crc >> 16);
	h[11] = (uint8_t)(payload_crc >> 24);
	c = crc32c(0, h, 12);
	h[12] = (uint8_t)c;
	h[13] = (uint8_t)(c >> 8);
	h[14] = (uint8_t)(c >> 16);
	h[15] = (uint8_t)(c >> 24);
}

/* What a decoder returned: frames copied out, and the final code. */
struct result {
	uint8_t type[64];
	uint16_t flags[64];
	size_t len[64];
	uint8_t *payload[64];
	int n;
	int rc; /* 0, or the first error */
};

static void result_free(struct result *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->payload[i]);
	memset(r, 0, sizeof(*r));
}

/* Drain d after a feed; returns 0 or the error met. */
static int drain(struct frame_decoder *d, struct result *r)
{
	struct frame f;
	int rc;

	while ((rc = frame_decoder_next(d, &f)) == 1) {
		assert_true(r->n < 64);
		assert_non_null(f.payload);
		r->type[r->n] = f.type;
		r->flags[r->n] = f.flags;
		r->len[r->n] = f.len;
		r->payload[r->n] = malloc(f.len + 1);
		assert_non_null(r->payload[r->n]);
		memcpy(r->payload[r->n], f.payload, f.len);
		r->n++;
	}
	return rc;
}

/* Feed s to a fresh decoder in pieces cut at the given offsets (sorted,
 * ending with s->len). Each piece is a fresh heap copy freed right after
 * draining, so ASan catches any frame kept pointing into a released
 * chunk. */
static void decode_cuts(const struct stream *s, const size_t *cuts,
			size_t ncuts, size_t max_payload, struct result *r)
{
	struct frame_decoder d;
	size_t from = 0;

	memset(r, 0, sizeof(*r));
	assert_int_equal(frame_decoder_init(&d, max_payload), 0);
	for (size_t i = 0; i < ncuts && r->rc == 0; i++) {
		size_t n = cuts[i] - from;
		uint8_t *piece = malloc(n + 1);

		assert_non_null(piece);
		memcpy(piece, s->b + from, n);
		r->rc = frame_decoder_feed(&d, piece, n);
		if (r->rc == 0)
			r->rc = drain(&d, r);
		free(piece);
		from = cuts[i];
	}
	if (r->rc == 0)
		assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_close(&d);
}

static void decode_whole(const struct stream *s, struct result *r)
{
	size_t cut = s->len;

	decode_cuts(s, &cut, 1, 0, r);
}

static const char *sample[] = {"hello from pool-east",
			       "",
			       "x",
			       "{\"seq\":1,\"key\":\"sip:a@example.com\"}",
			       "ping",
			       "pong",
			       "peer went away",
			       "seed of pool-east from 1200",
			       "item states",
			       "seed sent"};

/* One frame of each type, in order HELLO..SEED_END, plus an lz4-flagged
 * RECORDS frame at the end. */
static void stream_all_types(struct stream *s)
{
	for (uint8_t t = FRAME_TYPE_MIN; t <= FRAME_TYPE_MAX; t++)
		stream_frame(s, t, 0, sample[t], strlen(sample[t]));
	stream_frame(s, FRAME_RECORDS, FRAME_FLAG_LZ4, sample[0],
		     strlen(sample[0]));
}

static void check_all_types(const struct result *r)
{
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->n, FRAME_TYPE_MAX + 1);
	for (int i = 0; i < FRAME_TYPE_MAX; i++) {
		uint8_t t = (uint8_t)(FRAME_TYPE_MIN + i);

		assert_int_equal(r->type[i], t);
		assert_int_equal(r->flags[i], 0);
		assert_int_equal(r->len[i], strlen(sample[t]));
		assert_memory_equal(r->payload[i], sample[t], r->len[i]);
	}
	assert_int_equal(r->type[FRAME_TYPE_MAX], FRAME_RECORDS);
	assert_int_equal(r->flags[FRAME_TYPE_MAX], FRAME_FLAG_LZ4);
	assert_memory_equal(r->payload[FRAME_TYPE_MAX], sample[0],
			    strlen(sample[0]));
}

static void test_header_layout(void **state)
{
	uint8_t h[FRAME_HEADER_LEN];
	const char *p = "abc";

	(void)state;
	assert_int_equal(
	    frame_encode_header(h, FRAME_ACK, FRAME_FLAG_LZ4, p, 3), 0);
	assert_int_equal(h[0], 3);
	assert_int_equal(h[1] | h[2] | h[3], 0);
	assert_int_equal(h[4], FRAME_ACK);
	assert_int_equal(h[5], FRAME_VERSION);
	assert_int_equal(h[6], 1);
	assert_int_equal(h[7], 0);
	/* a dictionary-mode batch: both bits */
	{
		uint8_t d[FRAME_HEADER_LEN];

		assert_int_equal(
		    frame_encode_header(d, FRAME_RECORDS,
					FRAME_FLAG_LZ4 | FRAME_FLAG_DICT, p, 3),
		    0);
		assert_int_equal(d[6], 3);
		assert_int_equal(d[7], 0);
	}
	assert_int_equal((uint32_t)h[8] | (uint32_t)h[9] << 8 |
			     (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24,
			 crc32c(0, p, 3));
	assert_int_equal((uint32_t)h[12] | (uint32_t)h[13] << 8 |
			     (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24,
			 crc32c(0, h, 12));
}

static void test_encode_refusals(void **state)
{
	uint8_t h[FRAME_HEADER_LEN], before[FRAME_HEADER_LEN];

	(void)state;
	memset(h, 0xaa, sizeof(h));
	memcpy(before, h, sizeof(h));
	assert_int_equal(frame_encode_header(h, 0, 0, NULL, 0), FRAME_E_TYPE);
	assert_int_equal(frame_encode_header(h, FRAME_TYPE_MAX + 1, 0, NULL, 0),
			 FRAME_E_TYPE);
	assert_int_equal(frame_encode_header(h, FRAME_PING, 4, NULL, 0),
			 FRAME_E_FLAGS);
	assert_int_equal(frame_encode_header(h, FRAME_PING, 0, NULL, 1),
			 FRAME_E_ARG);
	assert_int_equal(frame_encode_header(NULL, FRAME_PING, 0, NULL, 0),
			 FRAME_E_ARG);
	assert_int_equal(frame_encode_header(h, FRAME_RECORDS, 0, "x",
					     FRAME_HARD_MAX_PAYLOAD + 1),
			 FRAME_E_TOO_LARGE);
	assert_memory_equal(h, before, sizeof(h));
}

static void test_decoder_init(void **state)
{
	struct frame_decoder d;

	(void)state;
	assert_int_equal(frame_decoder_init(NULL, 0), FRAME_E_ARG);
	assert_int_equal(frame_decoder_init(&d, FRAME_HARD_MAX_PAYLOAD + 1),
			 FRAME_E_ARG);
	assert_int_equal(frame_decoder_init(&d, 0), 0);
	assert_int_equal(d.max_payload, FRAME_DEFAULT_MAX_PAYLOAD);
	assert_null(d.buf);
	frame_decoder_close(&d);
	frame_decoder_close(NULL);
}

static void test_round_trip_every_type(void **state)
{
	struct stream s = {0};
	struct result r;

	(void)state;
	stream_all_types(&s);
	decode_whole(&s, &r);
	check_all_types(&r);
	result_free(&r);
	stream_free(&s);
}

/* Frames wholly inside one chunk are returned in place: no copy, no
 * buffer allocated. */
static void test_many_frames_one_chunk(void **state)
{
	struct stream s = {0};
	struct frame_decoder d;
	struct frame f;
	int n = 0;

	(void)state;
	for (int i = 0; i < 50; i++)
		stream_frame(&s, FRAME_ACK, 0, &i, sizeof(i));
	assert_int_equal(frame_decoder_init(&d, 0), 0);
	assert_int_equal(frame_decoder_feed(&d, s.b, s.len), 0);
	while (frame_decoder_next(&d, &f) == 1) {
		int v;

		assert_int_equal(f.type, FRAME_ACK);
		assert_int_equal(f.len, sizeof(int));
		assert_ptr_equal(f.payload,
				 s.b + (size_t)n * (FRAME_HEADER_LEN + 4) +
				     FRAME_HEADER_LEN);
		memcpy(&v, f.payload, sizeof(v));
		assert_int_equal(v, n);
		n++;
	}
	assert_int_equal(n, 50);
	assert_null(d.buf);
	assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_close(&d);
	stream_free(&s);
}

static void test_byte_by_byte(void **state)
{
	struct stream s = {0};
	struct result r;
	size_t *cuts;

	(void)state;
	stream_all_types(&s);
	cuts = malloc(s.len * sizeof(*cuts));
	assert_non_null(cuts);
	for (size_t i = 0; i < s.len; i++)
		cuts[i] = i + 1;
	decode_cuts(&s, cuts, s.len, 0, &r);
	check_all_types(&r);
	result_free(&r);
	free(cuts);
	stream_free(&s);
}

/* Every single split point and every pair of split points. */
static void test_split_everywhere(void **state)
{
	struct stream s = {0};
	struct result r;

	(void)state;
	stream_all_types(&s);
	for (size_t i = 0; i <= s.len; i++) {
		size_t cuts[2] = {i, s.len};

		decode_cuts(&s, cuts, 2, 0, &r);
		check_all_types(&r);
		result_free(&r);
	}
	for (size_t i = 0; i <= s.len; i++)
		for (size_t j = i; j <= s.len; j += 3) {
			size_t cuts[3] = {i, j, s.len};

			decode_cuts(&s, cuts, 3, 0, &r);
			check_all_types(&r);
			result_free(&r);
		}
	stream_free(&s);
}

static void test_zero_length_payload(void **state)
{
	struct stream s = {0};
	struct result r;

	(void)state;
	stream_frame(&s, FRAME_PING, 0, NULL, 0);
	stream_frame(&s, FRAME_PONG, 0, NULL, 0);
	assert_int_equal(s.len, 2 * FRAME_HEADER_LEN);
	decode_whole(&s, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.type[0], FRAME_PING);
	assert_int_equal(r.len[0], 0);
	assert_int_equal(r.type[1], FRAME_PONG);
	assert_int_equal(r.len[1], 0);
	result_free(&r);
	stream_free(&s);
}

/* A frame missing its last byte: the decoder waits, reports what is
 * pending, keeps waiting on an empty feed, then completes. */
static void test_truncated(void **state)
{
	struct stream s = {0};
	struct frame_decoder d;
	struct frame f;

	(void)state;
	stream_frame(&s, FRAME_HELLO, 0, "abcdef", 6);
	assert_int_equal(frame_decoder_init(&d, 0), 0);
	assert_int_equal(frame_decoder_feed(&d, s.b, s.len - 1), 0);
	assert_int_equal(frame_decoder_next(&d, &f), 0);
	assert_int_equal(frame_decoder_pending(&d), s.len - 1);
	assert_int_equal(frame_decoder_feed(&d, NULL, 0), 0);
	assert_int_equal(frame_decoder_next(&d, &f), 0);
	assert_int_equal(frame_decoder_next(&d, &f), 0);
	assert_int_equal(frame_decoder_pending(&d), s.len - 1);
	assert_int_equal(frame_decoder_feed(&d, s.b + s.len - 1, 1), 0);
	assert_int_equal(frame_decoder_next(&d, &f), 1);
	assert_int_equal(f.len, 6);
	assert_memory_equal(f.payload, "abcdef", 6);
	assert_int_equal(frame_decoder_next(&d, &f), 0);
	assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_close(&d);

	/* only part of a header */
	assert_int_equal(frame_decoder_init(&d, 0), 0);
	assert_int_equal(frame_decoder_feed(&d, s.b, 5), 0);
	assert_int_equal(frame_decoder_next(&d, &f), 0);
	assert_int_equal(frame_decoder_pending(&d), 5);
	frame_decoder_close(&d);
	stream_free(&s);
}

static int decode_error(const struct stream *s, size_t max_payload)
{
	struct result r;
	size_t cut = s->len;
	int rc;

	decode_cuts(s, &cut, 1, max_payload, &r);
	rc = r.rc;
	result_free(&r);
	return rc;
}

static void test_flipped_bits(void **state)
{
	struct stream s = {0};
	const char *p = "some payload bytes";

	(void)state;
	stream_frame(&s, FRAME_RECORDS, 0, p, strlen(p));
	for (size_t bit = 0; bit < s.len * 8; bit++) {
		int want = bit < FRAME_HEADER_LEN * 8 ? FRAME_E_HEADER_CRC
						      : FRAME_E_PAYLOAD_CRC;

		s.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(decode_error(&s, 0), want);
		s.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(decode_error(&s, 0), 0);
	stream_free(&s);
}

/* Same damage, frame split across chunks (the copying path). */
static void test_flipped_bits_split(void **state)
{
	struct stream s = {0};
	struct result r;
	const char *p = "payload split over chunks";

	(void)state;
	stream_frame(&s, FRAME_RECORDS, 0, p, strlen(p));
	for (size_t bit = 0; bit < s.len * 8; bit += 5) {
		size_t cuts[3] = {7, 20, s.len};

		s.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		decode_cuts(&s, cuts, 3, 0, &r);
		assert_int_equal(r.n, 0);
		assert_int_equal(r.rc, bit < FRAME_HEADER_LEN * 8
					   ? FRAME_E_HEADER_CRC
					   : FRAME_E_PAYLOAD_CRC);
		result_free(&r);
		s.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	stream_free(&s);
}

static void test_bad_fields(void **state)
{
	struct stream s = {0};
	uint8_t h[FRAME_HEADER_LEN];

	(void)state;
	craft_header(h, 0, FRAME_PING, 2, 0, 0);
	stream_put(&s, h, sizeof(h));
	assert_int_equal(decode_error(&s, 0), FRAME_E_VERSION);
	s.len = 0;
	craft_header(h, 0, FRAME_PING, 0, 0, 0);
	stream_put(&s, h, sizeof(h));
	assert_int_equal(decode_error(&s, 0), FRAME_E_VERSION);
	s.len = 0;
	craft_header(h, 0, 0, FRAME_VERSION, 0, 0);
	stream_put(&s, h, sizeof(h));
	assert_int_equal(decode_error(&s, 0), FRAME_E_TYPE);
	s.len = 0;
	craft_header(h, 0, FRAME_TYPE_MAX + 1, FRAME_VERSION, 0, 0);
	stream_put(&s, h, sizeof(h));
	assert_int_equal(decode_error(&s, 0), FRAME_E_TYPE);
	s.len = 0;
	craft_header(h, 0, FRAME_PING, FRAME_VERSION, 0x8000, 0);
	stream_put(&s, h, sizeof(h));
	assert_int_equal(decode_error(&s, 0), FRAME_E_FLAGS);
	s.len = 0;
	/* the first bit past the dictionary flag */
	craft_header(h, 0, FRAME_RECORDS, FRAME_VERSION, 0x0004, 0);
	stream_put(&s, h, sizeof(h));
	assert_int_equal(decode_error(&s, 0), FRAME_E_FLAGS);
	s.len = 0;
	/* a length over the maximum is refused from the header alone,
	 * before any payload arrives and before anything is allocated */
	craft_header(h, 0xffffffffu, FRAME_RECORDS, FRAME_VERSION, 0, 0);
	stream_put(&s, h, sizeof(h));
	assert_int_equal(decode_error(&s, 0), FRAME_E_TOO_LARGE);
	s.len = 0;
	craft_header(h, FRAME_DEFAULT_MAX_PAYLOAD + 1, FRAME_RECORDS,
		     FRAME_VERSION, 0, 0);
	stream_put(&s, h, sizeof(h));
	assert_int_equal(decode_error(&s, 0), FRAME_E_TOO_LARGE);
	s.len = 0;
	stream_frame(&s, FRAME_RECORDS, 0, "0123456789", 10);
	assert_int_equal(decode_error(&s, 9), FRAME_E_TOO_LARGE);
	assert_int_equal(decode_error(&s, 10), 0);
	stream_free(&s);
}

/* After an error the decoder stays failed; misuse errors do not stick. */
static void test_sticky_error_and_busy(void **state)
{
	struct stream s = {0};
	struct frame_decoder d;
	struct frame f;
	uint8_t bad[FRAME_HEADER_LEN];

	(void)state;
	stream_frame(&s, FRAME_PING, 0, NULL, 0);
	stream_frame(&s, FRAME_PONG, 0, NULL, 0);
	assert_int_equal(frame_decoder_init(&d, 0), 0);
	assert_int_equal(frame_decoder_feed(&d, s.b, s.len), 0);
	assert_int_equal(frame_decoder_feed(&d, s.b, s.len), FRAME_E_BUSY);
	assert_int_equal(frame_decoder_next(&d, NULL), FRAME_E_ARG);
	assert_int_equal(frame_decoder_next(&d, &f), 1);
	assert_int_equal(f.type, FRAME_PING);
	assert_int_equal(frame_decoder_feed(&d, s.b, s.len), FRAME_E_BUSY);
	assert_int_equal(frame_decoder_next(&d, &f), 1);
	assert_int_equal(f.type, FRAME_PONG);
	assert_int_equal(frame_decoder_next(&d, &f), 0);

	memset(bad, 0x5a, sizeof(bad));
	assert_int_equal(frame_decoder_feed(&d, bad, sizeof(bad)), 0);
	assert_int_equal(frame_decoder_next(&d, &f), FRAME_E_HEADER_CRC);
	assert_int_equal(frame_decoder_next(&d, &f), FRAME_E_HEADER_CRC);
	assert_int_equal(frame_decoder_feed(&d, s.b, s.len),
			 FRAME_E_HEADER_CRC);
	assert_int_equal(frame_decoder_next(&d, &f), FRAME_E_HEADER_CRC);
	frame_decoder_close(&d);
	stream_free(&s);
}

/* The buffer holds one frame at most and grows only as needed. */
static void test_buffer_bound(void **state)
{
	struct stream s = {0};
	struct result r;
	struct frame_decoder d;
	static uint8_t big[100000];
	size_t cuts[4];

	(void)state;
	memset(big, 'q', sizeof(big));
	stream_frame(&s, FRAME_RECORDS, 0, big, 1000);
	stream_frame(&s, FRAME_RECORDS, 0, big, sizeof(big));
	stream_frame(&s, FRAME_PING, 0, NULL, 0);
	cuts[0] = 3;
	cuts[1] = 1500;
	cuts[2] = 60000;
	cuts[3] = s.len;
	decode_cuts(&s, cuts, 4, 0, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.len[1], sizeof(big));
	assert_memory_equal(r.payload[1], big, sizeof(big));
	result_free(&r);

	/* a decoder capped at the big frame never allocates more */
	assert_int_equal(frame_decoder_init(&d, sizeof(big)), 0);
	for (size_t off = 0; off < s.len; off += 333) {
		size_t n = s.len - off < 333 ? s.len - off : 333;
		struct frame f;

		assert_int_equal(frame_decoder_feed(&d, s.b + off, n), 0);
		while (frame_decoder_next(&d, &f) == 1)
			;
		assert_true(d.buf_cap <= FRAME_HEADER_LEN + sizeof(big));
	}
	assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_close(&d);
	stream_free(&s);
}

/* True when [p, p + n) lies inside [base, base + size). */
static int in_range(const void *p, size_t n, const void *base, size_t size)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;

	return base != NULL && a >= b && n <= size && a - b <= size - n;
}

/* 100k rounds of random garbage and of damaged valid streams, fed in
 * random chunks: never a crash, never a frame whose payload checksum does
 * not match, always an error or a clean wait. */
static void test_garbage_never_crashes(void **state)
{
	uint64_t seed = 0x5eed5eed12345678ull;
	uint8_t *buf = malloc(4096);
	unsigned seen[8] = {0}; /* by 1 + FRAME_E_HEADER_CRC - code */
	unsigned frames = 0;

	(void)state;
	assert_non_null(buf);
	for (int round = 0; round < 100000; round++) {
		struct frame_decoder d;
		size_t len = (size_t)(rng_next(&seed) % 600);
		int mode = (int)(rng_next(&seed) % 3);
		size_t off = 0;
		int rc = 0;

		if (mode == 0) {
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rng_next(&seed);
		} else {
			/* valid frames, then a few bytes changed; in mode 2
			 * header checksums are fixed up afterwards so the
			 * damage reaches the later checks */
			len = 0;
			while (len < 500) {
				size_t pl = (size_t)(rng_next(&seed) % 80);
				uint8_t t = (uint8_t)(1 + rng_next(&seed) % 6);

				for (size_t i = 0; i < pl; i++)
					buf[len + FRAME_HEADER_LEN + i] =
					    (uint8_t)rng_next(&seed);
				assert_int_equal(
				    frame_encode_header(
					buf + len, t, 0,
					buf + len + FRAME_HEADER_LEN, pl),
				    0);
				len += FRAME_HEADER_LEN + pl;
			}
			for (int k = (int)(rng_next(&seed) % 4); k > 0; k--)
				buf[rng_next(&seed) % len] ^=
				    (uint8_t)(1 + rng_next(&seed) % 255);
			if (mode == 2) {
				size_t at = 0;

				while (at + FRAME_HEADER_LEN <= len) {
					uint32_t pl = (uint32_t)buf[at] |
						      (uint32_t)buf[at + 1]
							  << 8;
					uint32_t c;

					buf[at + 2] = buf[at + 3] = 0;
					c = crc32c(0, buf + at, 12);
					memcpy(buf + at + 12, &c, 4);
					at += FRAME_HEADER_LEN + pl;
				}
			}
		}
		assert_int_equal(
		    frame_decoder_init(&d, 1 + rng_next(&seed) % 300), 0);
		while (off < len && rc >= 0) {
			size_t n = 1 + (size_t)(rng_next(&seed) % 64);
			struct frame f;

			if (n > len - off)
				n = len - off;
			rc = frame_decoder_feed(&d, buf + off, n);
			while (rc >= 0 &&
			       (rc = frame_decoder_next(&d, &f)) == 1) {
				assert_true(f.type >= FRAME_TYPE_MIN &&
					    f.type <= FRAME_TYPE_MAX);
				assert_true(f.len <= d.max_payload);
				assert_int_equal(f.flags & ~FRAME_FLAGS_KNOWN,
						 0);
				assert_true(
				    in_range(f.payload, f.len, buf, len) ||
				    in_range(f.payload, f.len, d.buf,
					     d.buf_cap));
				frames++;
			}
			if (rc < 0) {
				assert_true(rc >= FRAME_E_FLAGS &&
					    rc != FRAME_E_NOMEM);
				seen[1 + FRAME_E_HEADER_CRC - rc]++;
			}
			off += n;
		}
		frame_decoder_close(&d);
	}
	free(buf);
	/* the rounds reached every check, and good frames got through */
	assert_true(frames > 1000);
	assert_true(seen[1 + FRAME_E_HEADER_CRC - FRAME_E_HEADER_CRC] > 0);
	assert_true(seen[1 + FRAME_E_HEADER_CRC - FRAME_E_PAYLOAD_CRC] > 0);
	assert_true(seen[1 + FRAME_E_HEADER_CRC - FRAME_E_TOO_LARGE] > 0);
	assert_true(seen[1 + FRAME_E_HEADER_CRC - FRAME_E_VERSION] > 0);
	assert_true(seen[1 + FRAME_E_HEADER_CRC - FRAME_E_TYPE] > 0);
	assert_true(seen[1 + FRAME_E_HEADER_CRC - FRAME_E_FLAGS] > 0);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(frame_strerror(FRAME_E_HEADER_CRC),
			    "header checksum mismatch");
	assert_string_equal(frame_strerror(FRAME_E_PAYLOAD_CRC),
			    "payload checksum mismatch");
	assert_string_equal(frame_strerror(FRAME_E_TOO_LARGE),
			    "payload too large");
	assert_string_equal(frame_strerror(FRAME_E_VERSION),
			    "unknown frame version");
	assert_string_equal(frame_strerror(FRAME_E_TYPE), "unknown frame type");
	assert_string_equal(frame_strerror(FRAME_E_NOMEM), "out of memory");
	assert_string_equal(frame_strerror(-100), "unknown frame error");
	assert_string_equal(frame_type_name(FRAME_RECORDS), "records");
	assert_string_equal(frame_type_name(0), "unknown");
	assert_string_equal(frame_type_name(FRAME_SEED_BEGIN), "seed-begin");
	assert_string_equal(frame_type_name(FRAME_SEED_RECORDS),
			    "seed-records");
	assert_string_equal(frame_type_name(FRAME_SEED_END), "seed-end");
	assert_string_equal(frame_type_name(FRAME_TYPE_MAX + 1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_layout),
	    cmocka_unit_test(test_encode_refusals),
	    cmocka_unit_test(test_decoder_init),
	    cmocka_unit_test(test_round_trip_every_type),
	    cmocka_unit_test(test_many_frames_one_chunk),
	    cmocka_unit_test(test_byte_by_byte),
	    cmocka_unit_test(test_split_everywhere),
	    cmocka_unit_test(test_zero_length_payload),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_flipped_bits),
	    cmocka_unit_test(test_flipped_bits_split),
	    cmocka_unit_test(test_bad_fields),
	    cmocka_unit_test(test_sticky_error_and_busy),
	    cmocka_unit_test(test_buffer_bound),
	    cmocka_unit_test(test_garbage_never_crashes),
	    cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
