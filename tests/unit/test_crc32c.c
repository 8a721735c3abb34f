/* Tests of replication/crc32c.c: CRC-32C values, incremental use, and the
 * agreement of the table and SSE4.2 versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replication/crc32c.h"

/* xorshift64: a fixed-seed generator, so every run sees the same data. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f)
{
	uint8_t buf[32];

	assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(f(0, buf, sizeof(buf)), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(f(0, buf, sizeof(buf)), 0x62A8AB43u);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(f(0, buf, sizeof(buf)), 0x46DD794Eu);
	assert_int_equal(f(0, NULL, 0), 0u);
	assert_int_equal(f(0x12345678u, NULL, 0), 0x12345678u);
}

static void test_vectors_default(void **state)
{
	(void)state;
	check_vectors(crc32c);
}

static void test_vectors_sw(void **state)
{
	(void)state;
	check_vectors(crc32c_sw);
}

static void test_vectors_hw(void **state)
{
	(void)state;
	if (!crc32c_hw_available())
		skip();
	check_vectors(crc32c_hw);
}

/* Checksumming in pieces gives the one-shot value, for every version. */
static void test_incremental(void **state)
{
	static uint8_t buf[4096];
	uint64_t s = 0x9e3779b97f4a7c15u;
	crc_fn fns[] = {crc32c, crc32c_sw, crc32c_hw};

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng_next(&s);
	for (int round = 0; round < 500; round++) {
		size_t len = (size_t)(rng_next(&s) % (sizeof(buf) + 1));
		uint32_t whole = crc32c_sw(0, buf, len);

		for (size_t f = 0; f < sizeof(fns) / sizeof(fns[0]); f++) {
			uint32_t c = 0;
			size_t off = 0;

			while (off < len) {
				size_t piece = (size_t)(rng_next(&s) % 40);

				if (piece > len - off)
					piece = len - off;
				c = fns[f](c, buf + off, piece);
				off += piece;
			}
			assert_int_equal(c, whole);
		}
	}
}

/* Table and instruction agree on every length and alignment. */
static void test_sw_hw_agree(void **state)
{
	static uint8_t buf[1100];
	uint64_t s = 42;

	(void)state;
	if (!crc32c_hw_available())
		skip();
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng_next(&s);
	for (size_t off = 0; off < 16; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len += 7) {
			uint32_t seed = (uint32_t)rng_next(&s);

			assert_int_equal(crc32c_sw(seed, buf + off, len),
					 crc32c_hw(seed, buf + off, len));
		}
}

/* A single flipped bit always changes the checksum. */
static void test_detects_bit_flip(void **state)
{
	uint8_t buf[64];
	uint32_t good;

	(void)state;
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	good = crc32c(0, buf, sizeof(buf));
	for (unsigned bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(crc32c(0, buf, sizeof(buf)), good);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(crc32c(0, buf, sizeof(buf)), good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors_default),
	    cmocka_unit_test(test_vectors_sw),
	    cmocka_unit_test(test_vectors_hw),
	    cmocka_unit_test(test_incremental),
	    cmocka_unit_test(test_sw_hw_agree),
	    cmocka_unit_test(test_detects_bit_flip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
