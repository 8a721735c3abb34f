/* Tests of agent/verify_b64.c: the padded standard base64 of the verify
 * routes, over OpenSSL. The reference decoder below is the one the module
 * had before it used OpenSSL: what it accepted (and decoded to) is what
 * the module must accept, no more, no less. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/verify_b64.h"

/* ---- the reference: the hand-written decoder verify.c had ------------- */

static const char ref_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int ref_value(char c)
{
	const char *p = c != '\0' ? strchr(ref_chars, c) : NULL;

	return p != NULL ? (int)(p - ref_chars) : -1;
}

static int ref_decode(const char *in, size_t n, uint8_t *out, size_t *outlen)
{
	size_t i, o = 0, pad = 0;

	while (n > 0 && (in[n - 1] == '\n' || in[n - 1] == '\r' ||
			 in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
	if (n == 0 || n % 4 != 0)
		return -EINVAL;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n; i += 4) {
		int v[4];
		bool last = i + 4 == n;

		for (int j = 0; j < 4; j++) {
			if (last && in[i + j] == '=' && j >= 4 - (int)pad) {
				v[j] = 0;
				continue;
			}
			v[j] = ref_value(in[i + j]);
			if (v[j] < 0)
				return -EINVAL;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];

		out[o++] = (uint8_t)(w >> 16);
		if (!last || pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (!last || pad < 1)
			out[o++] = (uint8_t)w;
	}
	*outlen = o;
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static void decodes_to(const char *in, size_t n, const void *want,
		       size_t want_len)
{
	uint8_t *out = NULL;
	size_t len = 0;

	assert_int_equal(verify_b64_decode(in, n, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
	free(out);
}

static void refused(const char *in, size_t n)
{
	uint8_t *out = (uint8_t *)"untouched";
	size_t len = 77;

	assert_int_equal(verify_b64_decode(in, n, &out, &len), -EINVAL);
	assert_string_equal((const char *)out, "untouched");
	assert_int_equal(len, 77);
}

#define REFUSED(s) refused(s, sizeof(s) - 1)
#define DECODES(s, w) decodes_to(s, sizeof(s) - 1, w, sizeof(w) - 1)

/* ---- tests ------------------------------------------------------------- */

/* RFC 4648's vectors, both ways. */
static void test_rfc4648(void **state)
{
	static const char *const plain[] = {"",	   "f",	    "fo",    "foo",
					    "foob", "fooba", "foobar"};
	static const char *const coded[] = {"",		"Zg==",	    "Zm8=",
					    "Zm9v",	"Zm9vYg==", "Zm9vYmE=",
					    "Zm9vYmFy"};

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		size_t len = 99;
		char *s = verify_b64_encode((const uint8_t *)plain[i],
					    strlen(plain[i]), &len);

		assert_non_null(s);
		assert_string_equal(s, coded[i]);
		assert_int_equal(len, strlen(coded[i]));
		free(s);
		if (i > 0)
			decodes_to(coded[i], strlen(coded[i]), plain[i],
				   strlen(plain[i]));
	}
}

/* The standard alphabet's last two characters, and every byte value. */
static void test_alphabet_and_all_bytes(void **state)
{
	static const uint8_t fb[] = {0xfb, 0xff};
	uint8_t all[256];
	size_t len;
	char *s;

	(void)state;
	s = verify_b64_encode(fb, sizeof fb, &len);
	assert_string_equal(s, "+/8=");
	free(s);
	DECODES("+/8=", "\xfb\xff");
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	s = verify_b64_encode(all, sizeof all, &len);
	assert_non_null(s);
	assert_int_equal(len, 344);
	decodes_to(s, len, all, sizeof all);
	free(s);
}

/* Trailing blanks and line ends are dropped; bits below the last byte
 * are not checked (as before). */
static void test_accepted_forms(void **state)
{
	(void)state;
	DECODES("Zm9v\r\n", "foo");
	DECODES("Zg== \t\n", "f");
	DECODES("Zh==", "f"); /* not canonical: taken as before */
	DECODES("AAAA", "\0\0\0");
}

/* What EVP_DecodeBlock alone would take and the module must refuse. */
static void test_refused(void **state)
{
	(void)state;
	REFUSED("");
	REFUSED(" \r\n");
	REFUSED("Zg=");	     /* not a multiple of four */
	REFUSED("Zg");	     /* unpadded */
	REFUSED(" Zg==");    /* leading blank (EVP skips it) */
	REFUSED("\tZm9v");   /* leading tab (EVP skips it) */
	REFUSED("Zm9v-");    /* trailing '-' (EVP drops it) */
	REFUSED("Zm9v----"); /* EVP drops trailing '-' */
	REFUSED("====");     /* EVP takes '=' as a zero sextet */
	REFUSED("Z===");
	REFUSED("Zg=a");
	REFUSED("Z=g=");
	REFUSED("Zg==Zm9v"); /* padding in the middle */
	REFUSED("Zm9v\nYmFy");
	REFUSED("Zm9-"); /* url-safe alphabet */
	REFUSED("Zm9_");
	REFUSED("Zm\0v");
	REFUSED("Zm\xc3v");
}

/* Every string of up to 8 characters (two groups) over a small alphabet
 * of the characters that matter (a letter, '+', '=', ' ', '\n', '-',
 * NUL):
 * accepted, refused and decoded exactly as the reference does. */
static void test_same_as_reference(void **state)
{
	static const char sym[] = {'A', '+', '=', ' ', '\n', '-', '\0'};
	const size_t ns = sizeof sym;
	char in[8];
	uint8_t ref[8];
	unsigned long checked = 0, accepted = 0;

	(void)state;
	for (size_t n = 0; n <= 8; n++) {
		unsigned long total = 1;

		for (size_t i = 0; i < n; i++)
			total *= ns;
		for (unsigned long c = 0; c < total; c++) {
			unsigned long x = c;
			uint8_t *out = NULL;
			size_t len = 0, rlen = 0;
			int rv, rrv;

			for (size_t i = 0; i < n; i++, x /= ns)
				in[i] = sym[x % ns];
			rrv = ref_decode(in, n, ref, &rlen);
			rv = verify_b64_decode(in, n, &out, &len);
			if (rv != rrv)
				fail_msg("length %zu case %lu: %d, reference "
					 "%d",
					 n, c, rv, rrv);
			if (rv == 0) {
				assert_int_equal(len, rlen);
				assert_memory_equal(out, ref, len);
				free(out);
				accepted++;
			}
			checked++;
		}
	}
	assert_true(accepted > 1000);
	assert_true(checked > 5000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4648),
	    cmocka_unit_test(test_alphabet_and_all_bytes),
	    cmocka_unit_test(test_accepted_forms),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_same_as_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
