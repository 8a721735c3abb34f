/* Unit tests of agent/batch_pb.c (the binary batch body decoded in place,
 * checked against protobuf-c's packing of proto/api.proto) and
 * agent/json_check.c (a value checked as JSON without building it: the
 * scan accepts only what jansson accepts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent/batch_pb.h"
#include "agent/json_check.h"
#include "api.pb-c.h"

static struct batch_pb_item items[BATCH_PB_MAX_ITEMS];
static char msg[256];

/* A packed UserBatch of n items "sip:uI@x", kind, value. */
static uint8_t *pack(size_t n, const char *kind, const char *value, size_t *len)
{
	Poolpair__Api__UserBatch b = POOLPAIR__API__USER_BATCH__INIT;
	Poolpair__Api__UserWrite *w = calloc(n, sizeof *w);
	Poolpair__Api__UserWrite **pw = calloc(n, sizeof *pw);
	char(*sips)[32] = calloc(n, 32);
	uint8_t *out;

	assert_non_null(w);
	assert_non_null(pw);
	assert_non_null(sips);
	for (size_t i = 0; i < n; i++) {
		poolpair__api__user_write__init(&w[i]);
		snprintf(sips[i], 32, "sip:u%zu@x", i);
		w[i].sip = sips[i];
		w[i].kind = (char *)kind;
		w[i].value.data = (uint8_t *)value;
		w[i].value.len = strlen(value);
		pw[i] = &w[i];
	}
	b.n_items = n;
	b.items = pw;
	*len = poolpair__api__user_batch__get_packed_size(&b);
	out = malloc(*len + 1);
	assert_non_null(out);
	assert_int_equal(poolpair__api__user_batch__pack(&b, out), *len);
	free(w);
	free(pw);
	free(sips);
	return out;
}

static int decode(const void *buf, size_t len)
{
	return batch_pb_decode(buf, len, items, BATCH_PB_MAX_ITEMS, msg,
			       sizeof msg);
}

static void assert_span(const void *p, size_t n, const char *want)
{
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

static void test_decodes_in_place(void **state)
{
	const char *v = "{\"contacts\": [ {\"sip\": \"sip:b@x\"} ]}";
	size_t len;
	uint8_t *buf = pack(3, "contacts", v, &len);

	(void)state;
	assert_int_equal(decode(buf, len), 3);
	for (size_t i = 0; i < 3; i++) {
		char sip[32];

		snprintf(sip, sizeof sip, "sip:u%zu@x", i);
		assert_span(items[i].sip, items[i].sip_len, sip);
		assert_span(items[i].kind, items[i].kind_len, "contacts");
		assert_span(items[i].value, items[i].value_len, v);
		/* pointers into the body, not copies */
		assert_true(items[i].value > buf &&
			    items[i].value + items[i].value_len <= buf + len);
	}
	free(buf);
}

static void test_empty_and_absent(void **state)
{
	/* one item with no field at all: every field empty */
	static const uint8_t empty_item[] = {0x0a, 0x00};

	(void)state;
	assert_int_equal(decode("", 0), 0);
	assert_int_equal(decode(empty_item, sizeof empty_item), 1);
	assert_null(items[0].sip);
	assert_int_equal(items[0].sip_len, 0);
	assert_int_equal(items[0].value_len, 0);
}

/* Unknown fields of every wire type are skipped; a field given twice
 * takes the last value (as protobuf-c's unpack). */
static void test_unknown_fields_and_last_wins(void **state)
{
	static const uint8_t buf[] = {
	    0x10, 0x96, 0x01,			    /* field 2 varint (batch) */
	    0x0a, 29,				    /* items[0] */
	    0x0a, 0x03, 'a',  'b', 'c',		    /* sip "abc" */
	    0x0a, 0x03, 's',  'i', 'p',		    /* sip again: "sip" */
	    0x20, 0x01,				    /* field 4 varint */
	    0x29, 1,	2,    3,   4,	5, 6, 7, 8, /* field 5 fixed64 */
	    0x35, 1,	2,    3,   4,		    /* field 6 fixed32 */
	    0x1a, 0x01, '1',			    /* value "1" */
	    0x3a, 0x00,				    /* field 7 empty bytes */
	};
	Poolpair__Api__UserBatch *b;

	(void)state;
	assert_int_equal(decode(buf, sizeof buf), 1);
	assert_span(items[0].sip, items[0].sip_len, "sip");
	assert_null(items[0].kind);
	assert_span(items[0].value, items[0].value_len, "1");
	/* protobuf-c reads the same message the same way */
	b = poolpair__api__user_batch__unpack(NULL, sizeof buf, buf);
	assert_non_null(b);
	assert_int_equal(b->n_items, 1);
	assert_string_equal(b->items[0]->sip, "sip");
	assert_int_equal(b->items[0]->value.len, 1);
	poolpair__api__user_batch__free_unpacked(b, NULL);
}

static void assert_refused(const void *buf, size_t len, const char *part)
{
	memset(msg, 'x', sizeof msg);
	assert_int_equal(decode(buf, len), -1);
	assert_non_null(memchr(msg, '\0', sizeof msg));
	if (strstr(msg, part) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", msg, part);
}

static void test_refuses_bad_bodies(void **state)
{
	static const uint8_t trunc_key[] = {0x0a, 0x01, 0x80};
	static const uint8_t past_end[] = {0x0a, 0x05, 0x0a, 0x01};
	static const uint8_t item_past_end[] = {0x0a, 0x03, 0x0a, 0x05, 'a'};
	static const uint8_t items_varint[] = {0x08, 0x01};
	static const uint8_t sip_varint[] = {0x0a, 0x02, 0x08, 0x01};
	static const uint8_t kind_fixed[] = {0x0a, 0x05, 0x15, 1, 2, 3, 4};
	static const uint8_t value_varint[] = {0x0a, 0x02, 0x18, 0x00};
	static const uint8_t group[] = {0x1b, 0x1c};
	static const uint8_t wire7[] = {0x0f};
	static const uint8_t field0[] = {0x02, 0x00};
	static const uint8_t trunc_fixed[] = {0x11, 1, 2, 3};
	static const uint8_t trunc_varint[] = {0x10, 0xff, 0xff};
	static const uint8_t long_varint[] = {0x10, 0xff, 0xff, 0xff,
					      0xff, 0xff, 0xff, 0xff,
					      0xff, 0xff, 0xff, 0x01};
	static const uint8_t long_len[] = {0x0a, 0x80, 0x80, 0x80,
					   0x80, 0x80, 0x00};
	static const uint8_t huge_len[] = {0x0a, 0xff, 0xff, 0xff, 0x0f};
	uint8_t *many = malloc(2 * (BATCH_PB_MAX_ITEMS + 1));
	size_t len;
	uint8_t *ok = pack(2, "settings", "{}", &len);

	(void)state;
	assert_refused(trunc_key, sizeof trunc_key, "items[0]: truncated");
	assert_refused(past_end, sizeof past_end, "past the end");
	assert_refused(item_past_end, sizeof item_past_end,
		       "items[0]: length past the end");
	assert_refused(items_varint, sizeof items_varint,
		       "items is not a message");
	assert_refused(sip_varint, sizeof sip_varint,
		       "items[0]: sip is not a string");
	assert_refused(kind_fixed, sizeof kind_fixed,
		       "items[0]: kind is not a string");
	assert_refused(value_varint, sizeof value_varint,
		       "items[0]: value is not bytes");
	assert_refused(group, sizeof group, "wire type 3");
	assert_refused(wire7, sizeof wire7, "wire type 7");
	assert_refused(field0, sizeof field0, "field number 0");
	assert_refused(trunc_fixed, sizeof trunc_fixed, "truncated fixed");
	assert_refused(trunc_varint, sizeof trunc_varint, "truncated varint");
	assert_refused(long_varint, sizeof long_varint, "truncated varint");
	assert_refused(long_len, sizeof long_len, "past the end");
	assert_refused(huge_len, sizeof huge_len, "past the end");
	/* every cut of a good body is refused, or decodes fewer items */
	for (size_t cut = 1; cut < len; cut++) {
		int n = decode(ok, len - cut);

		assert_true(n == -1 || n < 2);
	}
	assert_non_null(many);
	for (size_t i = 0; i < BATCH_PB_MAX_ITEMS + 1; i++) {
		many[2 * i] = 0x0a;
		many[2 * i + 1] = 0x00;
	}
	assert_int_equal(decode(many, 2 * BATCH_PB_MAX_ITEMS),
			 BATCH_PB_MAX_ITEMS);
	assert_refused(many, 2 * (BATCH_PB_MAX_ITEMS + 1),
		       "more than 1000 items");
	/* a short message buffer stays terminated */
	assert_int_equal(
	    batch_pb_decode(group, sizeof group, items, 10, msg, 4), -1);
	assert_int_equal(strlen(msg), 3);
	free(many);
	free(ok);
}

static void test_content_type(void **state)
{
	(void)state;
	assert_true(batch_pb_content_type("application/x-protobuf"));
	assert_true(batch_pb_content_type(" Application/X-Protobuf ; v=1"));
	assert_false(batch_pb_content_type(NULL));
	assert_false(batch_pb_content_type("application/json"));
	assert_false(batch_pb_content_type("application/x-protobufs"));
}

static bool jansson_accepts(const char *s)
{
	json_t *v = json_loadb(s, strlen(s),
			       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

	json_decref(v);
	return v != NULL;
}

/* JSON texts the scan decides itself, and that jansson accepts too. */
static void test_json_fast_accepts(void **state)
{
	static const char *const ok[] = {
	    "{}",
	    "[]",
	    "0",
	    "-0",
	    "1.5",
	    "-12.25e",
	    "\"\"",
	    "true",
	    "false",
	    "null",
	    " \t\r\n{\"a\" : [1, 2.0, -3, \"x\\n\\\"\\/\"], \"b\": {}} ",
	    "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"",
	    "[{\"a\":1,\"b\":2},{\"a\":1,\"b\":2}]",
	    "123456789012345678",
	    "{\"a\":{\"a\":{\"a\":1}}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		bool want = strcmp(ok[i], "-12.25e") != 0;

		if (json_check_fast(ok[i], strlen(ok[i])) != want)
			fail_msg("scan of %s", ok[i]);
		if (want)
			assert_true(jansson_accepts(ok[i]));
		assert_int_equal(
		    json_check(ok[i], strlen(ok[i]), msg, sizeof msg),
		    want ? 0 : -1);
	}
}

/* Texts the scan leaves to jansson: json_check's verdict is jansson's. */
static void test_json_slow_cases(void **state)
{
	static const char *const cases[] = {
	    /* jansson accepts */
	    "\"\\u00e9\"",
	    "1e5",
	    "{\"a\\n\":1}",
	    "1234567890123456789.5",
	    /* jansson refuses */
	    "{\"a\":1,\"a\":2}",
	    "",
	    " ",
	    "{",
	    "[1,]",
	    "{\"a\" 1}",
	    "01",
	    "-",
	    "1.",
	    ".5",
	    "tru",
	    "nul",
	    "[1] x",
	    "\"\\x\"",
	    "\"\xc3\"",
	    "\"\xed\xa0\x80\"",
	    "\"\xc0\xaf\"",
	    "\"\xf4\x90\x80\x80\"",
	    "\"\\ud800\"",
	    "\"\\u0000\"",
	    "1e999",
	    "99999999999999999999",
	    "\"a\x01\"",
	    "'a'",
	    "NaN",
	    "[\"a\"]]",
	    "{\"a\":1}}",
	};
	char big[200];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *s = cases[i];
		bool jok = jansson_accepts(s);

		assert_false(json_check_fast(s, strlen(s)));
		memset(msg, 'x', sizeof msg);
		assert_int_equal(json_check(s, strlen(s), msg, sizeof msg),
				 jok ? 0 : -1);
		assert_non_null(memchr(msg, '\0', sizeof msg));
		if (!jok)
			assert_true(strlen(msg) > 0);
		assert_int_equal(jok, i < 4);
	}
	/* a NUL inside the value */
	assert_false(json_check_fast("\"a\0b\"", 5));
	assert_int_equal(json_check("\"a\0b\"", 5, msg, sizeof msg), -1);
	/* deeper than the scan goes: jansson decides */
	memset(big, '[', 100);
	memset(big + 100, ']', 100);
	assert_false(json_check_fast(big, sizeof big));
	assert_int_equal(json_check(big, sizeof big, msg, sizeof msg), 0);
	/* duplicates in an inner object after a closed sibling */
	assert_false(json_check_fast("[{\"a\":1},{\"b\":1,\"b\":2}]", 23));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decodes_in_place),
	    cmocka_unit_test(test_empty_and_absent),
	    cmocka_unit_test(test_unknown_fields_and_last_wins),
	    cmocka_unit_test(test_refuses_bad_bodies),
	    cmocka_unit_test(test_content_type),
	    cmocka_unit_test(test_json_fast_accepts),
	    cmocka_unit_test(test_json_slow_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
