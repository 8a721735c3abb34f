/* Tests of replication/batch.c: change records to and from RECORDS
 * payloads, lz4 compression, damaged input and record validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replication/batch.h"
#include "replication/frame.h"

#define OP_PUT POOLPAIR__REPL__OP__OP_PUT
#define OP_DELETE POOLPAIR__REPL__OP__OP_DELETE
#define OP_CHUNK POOLPAIR__REPL__OP__OP_CONTENT_CHUNK
#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define LANE_CONTENT POOLPAIR__REPL__LANE__LANE_CONTENT

typedef Poolpair__Repl__ChangeRecord record;

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void rec_set(record *r, const char *user_set, uint64_t seq, int op,
		    int kind, int lane, const char *key, const void *value,
		    size_t vlen)
{
	poolpair__repl__change_record__init(r);
	r->user_set = (char *)user_set;
	r->epoch = 3;
	r->seq = seq;
	r->hlc = ((uint64_t)1700000000000 << 16) | seq;
	r->op = (Poolpair__Repl__Op)op;
	r->kind = (Poolpair__Repl__Kind)kind;
	r->lane = (Poolpair__Repl__Lane)lane;
	r->key = (char *)key;
	r->value.data = (uint8_t *)value;
	r->value.len = vlen;
}

static void assert_rec_equal(const record *a, const record *b)
{
	assert_string_equal(a->user_set, b->user_set);
	assert_int_equal(a->epoch, b->epoch);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->hlc, b->hlc);
	assert_int_equal(a->op, b->op);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->lane, b->lane);
	assert_string_equal(a->key, b->key);
	assert_int_equal(a->value.len, b->value.len);
	if (a->value.len > 0)
		assert_memory_equal(a->value.data, b->value.data, a->value.len);
	assert_int_equal(a->offset, b->offset);
	assert_int_equal(a->total, b->total);
}

/* Encode, decode, compare, validate. Returns the flags used. */
static uint16_t round_trip(const record *const *recs, size_t n,
			   struct batch_stats *st)
{
	void *payload = NULL;
	size_t len = 0;
	uint16_t flags = 0xffff;
	Poolpair__Repl__RecordBatch *b = NULL;
	char err[BATCH_ERRMSG_LEN];

	assert_int_equal(batch_encode(recs, n, &payload, &len, &flags, st), 0);
	assert_non_null(payload);
	assert_true(flags == 0 || flags == FRAME_FLAG_LZ4);
	if (st != NULL)
		assert_int_equal(st->wire_bytes, len);
	assert_int_equal(batch_decode(payload, len, flags, 0, &b), 0);
	assert_non_null(b);
	assert_int_equal(b->n_records, n);
	for (size_t i = 0; i < n; i++)
		assert_rec_equal(recs[i], b->records[i]);
	assert_int_equal(batch_validate(b, err, sizeof(err)), 0);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	free(payload);
	return flags;
}

static void test_round_trip_mixed(void **state)
{
	record r[6];
	const record *p[6];
	static const char chunk[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

	(void)state;
	rec_set(&r[0], "pool-east", 1, OP_PUT,
		POOLPAIR__REPL__KIND__KIND_PROFILE, LANE_DATA,
		"sip:alice@example.com/profile", "{\"name\":\"Alice\"}", 16);
	rec_set(&r[1], "pool-east", 1, OP_CHUNK,
		POOLPAIR__REPL__KIND__KIND_CONTENT, LANE_CONTENT,
		"sip:alice@example.com/conferences/c1/content/slides.png",
		chunk, sizeof(chunk) - 1);
	r[1].offset = 4096;
	r[1].total = 8192;
	rec_set(&r[2], "pool-east", 2, OP_DELETE,
		POOLPAIR__REPL__KIND__KIND_CONTACTS, LANE_DATA,
		"sip:bob@example.com/contacts", NULL, 0);
	rec_set(&r[3], "cms", 7, OP_PUT, POOLPAIR__REPL__KIND__KIND_CMS,
		LANE_DATA, "topology.xml", "<topology/>", 11);
	rec_set(&r[4], "pool-east", 3, OP_PUT, POOLPAIR__REPL__KIND__KIND_USER,
		LANE_DATA, "sip:carol@example.com", "enabled", 7);
	rec_set(&r[5], "pool-east", 2, OP_CHUNK,
		POOLPAIR__REPL__KIND__KIND_CONTENT, LANE_CONTENT,
		"sip:alice@example.com/conferences/c1/content/slides.png",
		chunk, 0);
	r[5].offset = 8192;
	r[5].total = 8192;
	for (int i = 0; i < 6; i++)
		p[i] = &r[i];
	round_trip(p, 6, NULL);
	round_trip(p, 1, NULL);
}

static void test_empty_batch(void **state)
{
	void *payload = NULL;
	size_t len = 99;
	uint16_t flags = 99;
	struct batch_stats st;
	Poolpair__Repl__RecordBatch *b = NULL;

	(void)state;
	assert_int_equal(batch_encode(NULL, 0, &payload, &len, &flags, &st), 0);
	assert_non_null(payload);
	assert_int_equal(len, 0);
	assert_int_equal(flags, 0);
	assert_int_equal(st.raw_bytes, 0);
	assert_int_equal(st.wire_bytes, 0);
	assert_int_equal(batch_decode(payload, 0, 0, 0, &b), 0);
	assert_int_equal(b->n_records, 0);
	assert_int_equal(batch_validate(b, NULL, 0), 0);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	assert_int_equal(batch_decode(NULL, 0, 0, 0, &b), 0);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	free(payload);
}

/* A contacts document as a front end would store it: a JSON array of
 * contacts with the same field names again and again. */
static size_t contacts_json_n(char *out, size_t cap, unsigned user,
			      int ncontacts, uint64_t *s)
{
	static const char *first[] = {"alice", "bob",	"carol", "dave",
				      "erin",  "frank", "grace", "heidi"};
	static const char *groups[] = {"Team", "Favorites", "Other Contacts",
				       "Project Falcon"};
	size_t n = (size_t)snprintf(out, cap,
				    "{\"owner\":\"sip:user%u@"
				    "example.com\",\"contacts\":[",
				    user);

	for (int c = 0; c < ncontacts; c++) {
		uint64_t x = rng_next(s);

		n += (size_t)snprintf(
		    out + n, cap - n,
		    "%s{\"uri\":\"sip:%s.%u@example.com\",\"displayName\":"
		    "\"%s %u\",\"group\":\"%s\",\"subscribed\":%s,"
		    "\"privacyRelationship\":\"Colleagues\","
		    "\"tags\":[\"%s\"],\"lastModified\":"
		    "\"2024-05-%02uT10:%02u:00Z\"}",
		    c > 0 ? "," : "", first[x % 8], (unsigned)(x >> 8) % 997,
		    first[(x >> 20) % 8], (unsigned)(x >> 24) % 997,
		    groups[(x >> 30) % 4], (x >> 33) & 1 ? "true" : "false",
		    (x >> 34) & 1 ? "work" : "external",
		    (unsigned)(1 + (x >> 40) % 28), (unsigned)((x >> 48) % 60));
		assert_true(n < cap);
	}
	n += (size_t)snprintf(out + n, cap - n, "]}");
	assert_true(n < cap);
	return n;
}

static size_t contacts_json(char *out, size_t cap, unsigned user, uint64_t *s)
{
	return contacts_json_n(out, cap, user, 20, s);
}

static void test_compression_ratio(void **state)
{
	enum { N = 200 };
	record *r = calloc(N, sizeof(*r));
	const record **p = calloc(N, sizeof(*p));
	char(*json)[8192] = calloc(N, sizeof(*json));
	char(*keys)[80] = calloc(N, sizeof(*keys));
	struct batch_stats st;
	uint64_t s = 7;
	uint16_t flags;

	(void)state;
	assert_non_null(r);
	assert_non_null(p);
	assert_non_null(json);
	assert_non_null(keys);
	for (unsigned i = 0; i < N; i++) {
		size_t n = contacts_json(json[i], sizeof(json[i]), i, &s);

		snprintf(keys[i], sizeof(keys[i]),
			 "sip:user%u@example.com/contacts", i);
		rec_set(&r[i], "pool-east", i + 1, OP_PUT,
			POOLPAIR__REPL__KIND__KIND_CONTACTS, LANE_DATA, keys[i],
			json[i], n);
		p[i] = &r[i];
	}
	flags = round_trip(p, N, &st);
	assert_int_equal(flags, FRAME_FLAG_LZ4);
	assert_true(st.raw_bytes > 100000);
	/* at most 40% of the raw size on the wire */
	assert_true(st.wire_bytes * 100 <= st.raw_bytes * 40);
	free(r);
	free(p);
	free(json);
	free(keys);
}

/* Data lz4 cannot shrink goes out uncompressed, flag clear. */
static void test_incompressible_stored_raw(void **state)
{
	static uint8_t noise[3000];
	record r;
	const record *p = &r;
	struct batch_stats st;
	uint64_t s = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)rng_next(&s);
	rec_set(&r, "pool-west", 1, OP_PUT, POOLPAIR__REPL__KIND__KIND_SETTINGS,
		LANE_DATA, "sip:dave@example.com/settings", noise,
		sizeof(noise));
	assert_int_equal(round_trip(&p, 1, &st), 0);
	assert_int_equal(st.raw_bytes, st.wire_bytes);
}

/* A compressed payload of n similar put records, for damage tests. */
static void compressed_sample(void **payload, size_t *len)
{
	record r[30];
	const record *p[30];
	char keys[30][64];
	uint16_t flags;
	const char *settings = "{\"presence\":\"available\",\"notes\":\"\"}";

	for (int i = 0; i < 30; i++) {
		snprintf(keys[i], sizeof(keys[i]),
			 "sip:user%d@example.com/settings", i);
		rec_set(&r[i], "pool-east", (uint64_t)i + 1, OP_PUT,
			POOLPAIR__REPL__KIND__KIND_SETTINGS, LANE_DATA, keys[i],
			settings, strlen(settings));
		p[i] = &r[i];
	}
	assert_int_equal(batch_encode(p, 30, payload, len, &flags, NULL), 0);
	assert_int_equal(flags, FRAME_FLAG_LZ4);
}

static void test_corrupt_lz4(void **state)
{
	void *payload;
	size_t len;
	uint8_t *z, *copy;
	Poolpair__Repl__RecordBatch *b = (void *)&b; /* must stay untouched */
	Poolpair__Repl__RecordBatch *const untouched = b;
	uint32_t raw;

	(void)state;
	compressed_sample(&payload, &len);
	z = payload;
	copy = malloc(len);
	assert_non_null(copy);
	raw = (uint32_t)z[0] | (uint32_t)z[1] << 8 | (uint32_t)z[2] << 16 |
	      (uint32_t)z[3] << 24;

	/* truncated block */
	assert_int_equal(batch_decode(z, len - 1, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_CORRUPT);
	assert_int_equal(batch_decode(z, 4 + 3, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_CORRUPT);
	/* short size prefix */
	assert_int_equal(batch_decode(z, 3, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_CORRUPT);
	assert_int_equal(batch_decode(z, 0, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_CORRUPT);
	/* declared size one off either way */
	memcpy(copy, z, len);
	copy[0] = (uint8_t)(raw - 1);
	assert_int_equal(batch_decode(copy, len, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_CORRUPT);
	copy[0] = (uint8_t)(raw + 1);
	assert_int_equal(batch_decode(copy, len, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_CORRUPT);
	/* a block of garbage */
	memcpy(copy, z, 4);
	memset(copy + 4, 0xff, len - 4);
	assert_int_equal(batch_decode(copy, len, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_CORRUPT);
	assert_ptr_equal(b, untouched);

	/* random damage: an error or a decoded batch, never a crash */
	{
		uint64_t s = 1234;
		int errors = 0;

		for (int round = 0; round < 20000; round++) {
			Poolpair__Repl__RecordBatch *got = NULL;
			int rc;

			memcpy(copy, z, len);
			for (int k = 1 + (int)(rng_next(&s) % 3); k > 0; k--)
				copy[4 + rng_next(&s) % (len - 4)] ^=
				    (uint8_t)(1 + rng_next(&s) % 255);
			rc = batch_decode(copy, len, FRAME_FLAG_LZ4, 0, &got);
			if (rc == 0) {
				char err[BATCH_ERRMSG_LEN];

				(void)batch_validate(got, err, sizeof(err));
				poolpair__repl__record_batch__free_unpacked(
				    got, NULL);
			} else {
				assert_true(rc == BATCH_E_CORRUPT ||
					    rc == BATCH_E_PROTO);
				assert_null(got);
				errors++;
			}
		}
		assert_true(errors > 1000);
	}
	free(copy);
	free(payload);
}

static void test_raw_size_over_max(void **state)
{
	void *payload;
	size_t len;
	uint8_t *z;
	Poolpair__Repl__RecordBatch *b = NULL;
	uint32_t raw;

	(void)state;
	compressed_sample(&payload, &len);
	z = payload;
	raw = (uint32_t)z[0] | (uint32_t)z[1] << 8 | (uint32_t)z[2] << 16 |
	      (uint32_t)z[3] << 24;
	/* the caller's maximum just below the real size */
	assert_int_equal(batch_decode(z, len, FRAME_FLAG_LZ4, raw - 1, &b),
			 BATCH_E_TOO_LARGE);
	assert_int_equal(batch_decode(z, len, FRAME_FLAG_LZ4, raw, &b), 0);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	b = NULL;
	/* a declared size over the default, refused before allocating */
	z[0] = z[1] = z[2] = z[3] = 0xff;
	assert_int_equal(batch_decode(z, len, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_TOO_LARGE);
	z[0] = 0x01;
	z[1] = z[2] = 0;
	z[3] = 0x01; /* 16 MiB + 1 */
	assert_int_equal(batch_decode(z, len, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_TOO_LARGE);
	assert_null(b);
	/* an uncompressed payload is held to the same maximum */
	assert_int_equal(batch_decode(z, len, 0, len - 1, &b),
			 BATCH_E_TOO_LARGE);
	free(payload);
}

static void test_undecodable_protobuf(void **state)
{
	/* field 1, wire type 7 (no such type) */
	static const uint8_t bad_wire[] = {0x0f, 0x01, 0x02};
	/* field 1 (records), length 50, only 2 bytes follow */
	static const uint8_t short_len[] = {0x0a, 0x32, 0x08, 0x01};
	/* a record whose user_set (field 1) has a varint that never ends */
	static const uint8_t bad_varint[] = {0x0a, 0x04, 0x10,
					     0xff, 0xff, 0xff};
	Poolpair__Repl__RecordBatch *b = NULL;
	static uint8_t garbage[200];

	(void)state;
	assert_int_equal(batch_decode(bad_wire, sizeof(bad_wire), 0, 0, &b),
			 BATCH_E_PROTO);
	assert_int_equal(batch_decode(short_len, sizeof(short_len), 0, 0, &b),
			 BATCH_E_PROTO);
	assert_int_equal(batch_decode(bad_varint, sizeof(bad_varint), 0, 0, &b),
			 BATCH_E_PROTO);
	memset(garbage, 0xff, sizeof(garbage));
	assert_int_equal(batch_decode(garbage, sizeof(garbage), 0, 0, &b),
			 BATCH_E_PROTO);
	assert_null(b);
}

static void test_decode_arguments(void **state)
{
	Poolpair__Repl__RecordBatch *b = NULL;
	void *payload = NULL;
	size_t len = 0;
	uint16_t flags = 0;
	const record *nullrec = NULL;

	(void)state;
	assert_int_equal(batch_decode("x", 1, 0x0004, 0, &b), BATCH_E_FLAGS);
	assert_int_equal(batch_decode("x", 1, FRAME_FLAG_DICT, 0, &b),
			 BATCH_E_FLAGS);
	assert_int_equal(batch_decode("x", 1, 0, 0, NULL), BATCH_E_ARG);
	assert_int_equal(batch_decode(NULL, 1, 0, 0, &b), BATCH_E_ARG);
	assert_int_equal(batch_encode(NULL, 1, &payload, &len, &flags, NULL),
			 BATCH_E_ARG);
	assert_int_equal(
	    batch_encode(&nullrec, 1, &payload, &len, &flags, NULL),
	    BATCH_E_ARG);
	assert_int_equal(batch_encode(NULL, 0, NULL, &len, &flags, NULL),
			 BATCH_E_ARG);
	assert_null(payload);
	assert_null(b);
	assert_int_equal(batch_validate(NULL, NULL, 0), BATCH_E_ARG);
	assert_string_equal(batch_strerror(BATCH_E_CORRUPT),
			    "corrupt lz4 block");
	assert_string_equal(batch_strerror(-99), "unknown batch error");
}

/* Validate a batch of n records; returns the code, message in err. */
static int validate(record *r, size_t n, char *err, size_t errlen)
{
	Poolpair__Repl__RecordBatch b = POOLPAIR__REPL__RECORD_BATCH__INIT;
	record *p[8];

	for (size_t i = 0; i < n; i++)
		p[i] = &r[i];
	b.n_records = n;
	b.records = p;
	err[0] = '\0';
	return batch_validate(&b, err, errlen);
}

static void expect_refusal(record *r, size_t n, const char *msg)
{
	char err[BATCH_ERRMSG_LEN];

	assert_int_equal(validate(r, n, err, sizeof(err)), BATCH_E_INVALID);
	assert_string_equal(err, msg);
}

static void put(record *r, const char *us, uint64_t seq)
{
	rec_set(r, us, seq, OP_PUT, POOLPAIR__REPL__KIND__KIND_PROFILE,
		LANE_DATA, "sip:a@example.com/profile", "{}", 2);
}

static void chunk(record *r, uint64_t seq, uint64_t off, size_t len,
		  uint64_t total)
{
	static uint8_t data[64];

	rec_set(r, "pool-east", seq, OP_CHUNK,
		POOLPAIR__REPL__KIND__KIND_CONTENT, LANE_CONTENT,
		"sip:a@example.com/conferences/1/content/a.bin", data, len);
	r->offset = off;
	r->total = total;
}

static void test_validation_refusals(void **state)
{
	record r[4];
	char err[BATCH_ERRMSG_LEN];
	static char long_name[BATCH_USER_SET_MAX + 2];
	static char long_key[BATCH_KEY_MAX + 2];
	static char ok_key[BATCH_KEY_MAX + 1];

	(void)state;
	memset(long_name, 'p', BATCH_USER_SET_MAX + 1);
	memset(long_key, 'k', BATCH_KEY_MAX + 1);
	memset(ok_key, 'k', BATCH_KEY_MAX);

	put(&r[0], "pool-east", 1);
	put(&r[1], "pool-west", 1); /* another stream starts at 1 too */
	assert_int_equal(validate(r, 2, err, sizeof(err)), 0);

	put(&r[1], "", 2);
	expect_refusal(r, 2, "record 1: empty user set");
	put(&r[1], NULL, 2);
	expect_refusal(r, 2, "record 1: empty user set");
	put(&r[1], long_name, 2);
	expect_refusal(r, 2, "record 1: user set longer than 63 bytes");
	long_name[BATCH_USER_SET_MAX] = '\0'; /* exactly 63 is fine */
	assert_int_equal(validate(r, 2, err, sizeof(err)), 0);

	put(&r[0], "pool-east", 1);
	r[0].key = long_key;
	expect_refusal(r, 1, "record 0: key longer than 1024 bytes");
	r[0].key = ok_key;
	assert_int_equal(validate(r, 1, err, sizeof(err)), 0);
	r[0].key = "";
	expect_refusal(r, 1, "record 0: empty key");

	put(&r[0], "pool-east", 0);
	expect_refusal(r, 1, "record 0: seq 0");

	put(&r[0], "pool-east", 1);
	r[0].op = (Poolpair__Repl__Op)3;
	expect_refusal(r, 1, "record 0: unknown op 3");
	put(&r[0], "pool-east", 1);
	r[0].kind = (Poolpair__Repl__Kind)7;
	expect_refusal(r, 1, "record 0: unknown kind 7");
	put(&r[0], "pool-east", 1);
	r[0].kind = (Poolpair__Repl__Kind)-1;
	expect_refusal(r, 1, "record 0: unknown kind -1");
	put(&r[0], "pool-east", 1);
	r[0].lane = (Poolpair__Repl__Lane)2;
	expect_refusal(r, 1, "record 0: unknown lane 2");

	/* value sizes: a put of exactly 1 MiB passes, one byte more not */
	put(&r[0], "pool-east", 1);
	r[0].value.data = calloc(1, BATCH_VALUE_MAX + 1);
	assert_non_null(r[0].value.data);
	r[0].value.len = BATCH_VALUE_MAX;
	assert_int_equal(validate(r, 1, err, sizeof(err)), 0);
	r[0].value.len = BATCH_VALUE_MAX + 1;
	expect_refusal(r, 1, "record 0: value of 1048577 bytes over 1048576");
	free(r[0].value.data);

	rec_set(&r[0], "pool-east", 1, OP_DELETE,
		POOLPAIR__REPL__KIND__KIND_CONTACTS, LANE_DATA, "k", "x", 1);
	expect_refusal(r, 1, "record 0: delete carries a value");

	/* chunks */
	chunk(&r[0], 1, 0, 64, 100);
	chunk(&r[1], 2, 64, 36, 100);
	assert_int_equal(validate(r, 2, err, sizeof(err)), 0);
	chunk(&r[1], 2, 64, 37, 100);
	expect_refusal(r, 2,
		       "record 1: chunk at 64 of 37 bytes past total 100");
	chunk(&r[1], 2, UINT64_MAX, 1, 100);
	expect_refusal(r, 2,
		       "record 1: chunk at 18446744073709551615 of 1 bytes "
		       "past total 100");
	chunk(&r[1], 2, 0, 10, 5);
	expect_refusal(r, 2, "record 1: chunk at 0 of 10 bytes past total 5");
	chunk(&r[1], 2, 64, 36, 100);
	r[1].lane = LANE_DATA;
	expect_refusal(r, 2,
		       "record 1: content chunk outside the content kind and "
		       "lane");
	chunk(&r[1], 2, 64, 36, 100);
	r[1].kind = POOLPAIR__REPL__KIND__KIND_PROFILE;
	expect_refusal(r, 2,
		       "record 1: content chunk outside the content kind and "
		       "lane");

	/* sequence order per (user set, lane) */
	put(&r[0], "pool-east", 5);
	put(&r[1], "pool-east", 5);
	expect_refusal(r, 2,
		       "record 1: seq 5 does not follow 5 for "
		       "pool-east/data");
	put(&r[0], "pool-east", 9);
	put(&r[1], "cms", 1);
	put(&r[2], "pool-east", 7);
	expect_refusal(r, 3,
		       "record 2: seq 7 does not follow 9 for "
		       "pool-east/data");
	/* the same numbers in different lanes or user sets are fine */
	put(&r[0], "pool-east", 5);
	chunk(&r[1], 5, 0, 1, 1);
	put(&r[2], "cms", 5);
	put(&r[3], "pool-east", 6);
	assert_int_equal(validate(r, 4, err, sizeof(err)), 0);
	chunk(&r[3], 4, 0, 1, 1);
	expect_refusal(r, 4,
		       "record 3: seq 4 does not follow 5 for "
		       "pool-east/content");

	/* a short errbuf gets a truncated, terminated message */
	put(&r[0], "", 1);
	assert_int_equal(validate(r, 1, err, 8), BATCH_E_INVALID);
	assert_string_equal(err, "record ");
	assert_int_equal(validate(r, 1, err, 0), BATCH_E_INVALID);
}

static int validate_seed(record *r, size_t n, char *err, size_t errlen)
{
	Poolpair__Repl__RecordBatch b = POOLPAIR__REPL__RECORD_BATCH__INIT;
	record *p[8];

	for (size_t i = 0; i < n; i++)
		p[i] = &r[i];
	b.n_records = n;
	b.records = p;
	err[0] = '\0';
	return batch_validate_seed(&b, err, errlen);
}

static void expect_seed_refusal(record *r, size_t n, const char *msg)
{
	char err[BATCH_ERRMSG_LEN];

	assert_int_equal(validate_seed(r, n, err, sizeof(err)),
			 BATCH_E_INVALID);
	assert_string_equal(err, msg);
}

/* Item states of a seed: any seq in any order, a disabled user as a
 * delete with its home pool; one stream per batch, content only as
 * chunks on the content lane; the per-record rules of batch_validate. */
static void test_validate_seed(void **state)
{
	record r[4];
	char err[BATCH_ERRMSG_LEN];

	(void)state;
	/* key order, seqs of the items' last changes: 9, 3, 0 */
	put(&r[0], "pool-east", 9);
	put(&r[1], "pool-east", 3);
	r[1].key = "sip:b@example.com";
	rec_set(&r[2], "pool-east", 0, OP_DELETE,
		POOLPAIR__REPL__KIND__KIND_USER, LANE_DATA,
		"sip:c@example.com", "pool-east", 9);
	assert_int_equal(validate_seed(r, 3, err, sizeof(err)), 0);
	/* batch_validate refuses the same batch */
	assert_int_equal(validate(r, 3, err, sizeof(err)), BATCH_E_INVALID);

	expect_seed_refusal(r, 0, "seed batch without records");
	put(&r[1], "pool-west", 3);
	expect_seed_refusal(r, 2,
			    "record 1: pool-west/data in a seed batch of "
			    "pool-east/data");
	chunk(&r[1], 4, 0, 10, 10);
	expect_seed_refusal(r, 2,
			    "record 1: pool-east/content in a seed batch of "
			    "pool-east/data");
	rec_set(&r[1], "pool-east", 3, OP_DELETE,
		POOLPAIR__REPL__KIND__KIND_CONTACTS, LANE_DATA, "sip:b", NULL,
		0);
	expect_seed_refusal(r, 2,
			    "record 1: delete in a seed of other than a user");
	put(&r[1], "pool-east", 3);
	r[1].kind = POOLPAIR__REPL__KIND__KIND_CONTENT;
	expect_seed_refusal(r, 2, "record 1: content item on the data lane");
	put(&r[1], "pool-east", 3);
	r[1].lane = LANE_CONTENT;
	expect_seed_refusal(r, 2, "record 1: data item on the content lane");
	rec_set(&r[1], "pool-east", 3, OP_PUT,
		POOLPAIR__REPL__KIND__KIND_CONTENT, LANE_CONTENT, "k", "x", 1);
	expect_seed_refusal(r, 2,
			    "record 1: content item state other than a chunk");

	/* content: chunks of two items, the second cut short by the owner's
	 * upload; a chunk past its total is refused as in a stream */
	chunk(&r[0], 7, 0, 64, 100);
	chunk(&r[1], 7, 64, 36, 100);
	chunk(&r[2], 2, 0, 10, 50);
	r[2].key = "sip:a@example.com/conferences/1/content/b.bin";
	assert_int_equal(validate_seed(r, 3, err, sizeof(err)), 0);
	chunk(&r[2], 2, 45, 10, 50);
	expect_seed_refusal(r, 3,
			    "record 2: chunk at 45 of 10 bytes past total 50");
	put(&r[0], "", 1);
	expect_seed_refusal(r, 1, "record 0: empty user set");
	assert_int_equal(batch_validate_seed(NULL, err, sizeof(err)),
			 BATCH_E_ARG);
}

/* A decoded batch with a broken record is refused by validation: the
 * receiver's path end to end. */
static void test_decode_then_refuse(void **state)
{
	record r[2];
	const record *p[2] = {&r[0], &r[1]};
	void *payload;
	size_t len;
	uint16_t flags;
	Poolpair__Repl__RecordBatch *b;
	char err[BATCH_ERRMSG_LEN];

	(void)state;
	put(&r[0], "pool-east", 3);
	put(&r[1], "pool-east", 2);
	assert_int_equal(batch_encode(p, 2, &payload, &len, &flags, NULL), 0);
	assert_int_equal(batch_decode(payload, len, flags, 0, &b), 0);
	assert_int_equal(batch_validate(b, err, sizeof(err)), BATCH_E_INVALID);
	assert_string_equal(err, "record 1: seq 2 does not follow 3 for "
				 "pool-east/data");
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	free(payload);
}

/* ---- dictionary mode ------------------------------------------------------
 */

/* Both ends of one connection in dictionary mode, and what their history
 * must hold: the last BATCH_DICT_MAX packed bytes of every batch so far. */
struct link {
	struct batch_dict enc, dec;
	uint8_t want[BATCH_DICT_MAX];
	size_t want_len;
	size_t raw, wire; /* totals */
	size_t dict_frames;
};

static void link_init(struct link *l)
{
	memset(l, 0, sizeof(*l));
	batch_dict_init(&l->enc);
	batch_dict_init(&l->dec);
}

static void link_close(struct link *l)
{
	batch_dict_close(&l->enc);
	batch_dict_close(&l->dec);
}

/* What a new connection does on both ends. */
static void link_reset(struct link *l)
{
	batch_dict_reset(&l->enc);
	batch_dict_reset(&l->dec);
	l->want_len = 0;
}

static void want_append(struct link *l, const uint8_t *p, size_t n)
{
	if (n >= BATCH_DICT_MAX) {
		memcpy(l->want, p + n - BATCH_DICT_MAX, BATCH_DICT_MAX);
		l->want_len = BATCH_DICT_MAX;
		return;
	}
	if (l->want_len + n > BATCH_DICT_MAX) {
		size_t keep = BATCH_DICT_MAX - n;

		memmove(l->want, l->want + l->want_len - keep, keep);
		l->want_len = keep;
	}
	memcpy(l->want + l->want_len, p, n);
	l->want_len += n;
}

static void assert_histories(const struct link *l)
{
	assert_int_equal(l->enc.len, l->want_len);
	assert_int_equal(l->dec.len, l->want_len);
	if (l->want_len > 0) {
		assert_memory_equal(l->enc.buf, l->want, l->want_len);
		assert_memory_equal(l->dec.buf, l->want, l->want_len);
	}
}

/* Encode on one end, decode on the other, compare records and both
 * histories. Returns the flags; *payload_out, when not NULL, gets the
 * payload (caller frees). */
static uint16_t link_send(struct link *l, const record *const *recs, size_t n,
			  void **payload_out, size_t *len_out)
{
	Poolpair__Repl__RecordBatch view = POOLPAIR__REPL__RECORD_BATCH__INIT;
	Poolpair__Repl__RecordBatch *b = NULL;
	struct batch_stats st;
	void *payload = NULL;
	size_t len = 0, raw_len;
	uint16_t flags = 0xffff;
	uint8_t *raw;

	view.n_records = n;
	view.records = (record **)recs;
	raw_len = poolpair__repl__record_batch__get_packed_size(&view);
	raw = malloc(raw_len + 1);
	assert_non_null(raw);
	poolpair__repl__record_batch__pack(&view, raw);

	assert_int_equal(
	    batch_encode_dict(recs, n, &l->enc, &payload, &len, &flags, &st),
	    0);
	assert_non_null(payload);
	assert_true(flags == 0 || flags == (FRAME_FLAG_LZ4 | FRAME_FLAG_DICT));
	assert_int_equal(st.raw_bytes, raw_len);
	assert_int_equal(st.wire_bytes, len);
	assert_int_equal(batch_decode_dict(payload, len, flags, 0, &l->dec, &b),
			 0);
	assert_int_equal(b->n_records, n);
	for (size_t i = 0; i < n; i++)
		assert_rec_equal(recs[i], b->records[i]);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	want_append(l, raw, raw_len);
	assert_histories(l);
	free(raw);
	l->raw += raw_len;
	l->wire += len;
	if (flags != 0)
		l->dict_frames++;
	if (payload_out != NULL) {
		*payload_out = payload;
		*len_out = len;
	} else {
		free(payload);
	}
	return flags;
}

/* n contacts-like records of user set pool-east from seq, values of 1 to
 * 12 contacts (about 0.3 to 3.5 KB). Storage is the caller's. */
static void contacts_batch(record *r, const record **p, char (*json)[8192],
			   char (*keys)[80], size_t n, uint64_t seq,
			   uint64_t *rng)
{
	for (size_t i = 0; i < n; i++) {
		unsigned user = (unsigned)(rng_next(rng) % 40000);
		int nc = 1 + (int)(rng_next(rng) % 12);
		size_t len =
		    contacts_json_n(json[i], sizeof(json[i]), user, nc, rng);

		snprintf(keys[i], sizeof(keys[i]),
			 "sip:u%07u@bench.example.com/contacts", user);
		rec_set(&r[i], "pool-east", seq + i, OP_PUT,
			POOLPAIR__REPL__KIND__KIND_CONTACTS, LANE_DATA, keys[i],
			json[i], len);
		p[i] = &r[i];
	}
}

/* Many batches of one to three records, as at a low write rate: both
 * histories stay equal after every batch, and the dictionary gets the
 * small batches to what a large batch achieves alone. */
static void test_dict_small_batches(void **state)
{
	enum { BATCHES = 600, MAXN = 3 };
	struct link *l = malloc(sizeof(*l));
	record r[MAXN];
	const record *p[MAXN];
	char(*json)[8192] = calloc(MAXN, sizeof(*json));
	char(*keys)[80] = calloc(MAXN, sizeof(*keys));
	uint64_t rng = 42, seq = 1;
	size_t plain_wire = 0;

	(void)state;
	assert_non_null(l);
	assert_non_null(json);
	assert_non_null(keys);
	link_init(l);
	for (int i = 0; i < BATCHES; i++) {
		size_t n = 1 + (size_t)(rng_next(&rng) % MAXN);
		void *payload;
		size_t len;
		uint16_t flags;

		contacts_batch(r, p, json, keys, n, seq, &rng);
		seq += n;
		link_send(l, p, n, NULL, NULL);
		/* the same batch on its own, for comparison */
		assert_int_equal(
		    batch_encode(p, n, &payload, &len, &flags, NULL), 0);
		plain_wire += len;
		free(payload);
	}
	printf("# %d batches: %zu raw bytes, %zu on the wire with the "
	       "history (%.1f %%), %zu each on its own (%.1f %%)\n",
	       BATCHES, l->raw, l->wire,
	       100.0 * (double)l->wire / (double)l->raw, plain_wire,
	       100.0 * (double)plain_wire / (double)l->raw);
	assert_int_equal(l->enc.len, BATCH_DICT_MAX); /* history full */
	assert_true(l->dict_frames >= BATCHES - 5);
	/* on its own each small batch compresses worse than with the
	 * connection's history, which is at most 35 % of raw here */
	assert_true(l->wire * 100 <= l->raw * 35);
	assert_true(l->wire * 10 <= plain_wire * 8);
	link_close(l);
	free(l);
	free(json);
	free(keys);
}

/* Empty, incompressible and large (over the history size) batches in the
 * stream: every one enters both histories the same way. */
static void test_dict_mixed_batches(void **state)
{
	static uint8_t noise[5000];
	struct link *l = malloc(sizeof(*l));
	record r[40];
	const record *p[40];
	char(*json)[8192] = calloc(40, sizeof(*json));
	char(*keys)[80] = calloc(40, sizeof(*keys));
	uint64_t rng = 9, seq = 1;
	size_t big_cap;

	(void)state;
	assert_non_null(l);
	assert_non_null(json);
	assert_non_null(keys);
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)rng_next(&rng);
	link_init(l);
	/* empty batch first: nothing enters the history */
	assert_int_equal(link_send(l, NULL, 0, NULL, NULL), 0);
	assert_int_equal(l->enc.len, 0);
	contacts_batch(r, p, json, keys, 2, seq, &rng);
	seq += 2;
	assert_int_equal(link_send(l, p, 2, NULL, NULL),
			 FRAME_FLAG_LZ4 | FRAME_FLAG_DICT);
	/* incompressible (nothing in it is in the history either): sent
	 * raw, and still part of both histories */
	rec_set(&r[0], "q", 7, OP_PUT, POOLPAIR__REPL__KIND__KIND_SETTINGS,
		LANE_DATA, "k", noise, sizeof(noise));
	assert_int_equal(link_send(l, p, 1, NULL, NULL), 0);
	/* the same noise again is now found in the history */
	rec_set(&r[0], "q", 8, OP_PUT, POOLPAIR__REPL__KIND__KIND_SETTINGS,
		LANE_DATA, "k", noise, sizeof(noise));
	assert_int_equal(link_send(l, p, 1, NULL, NULL),
			 FRAME_FLAG_LZ4 | FRAME_FLAG_DICT);
	assert_true(l->wire < l->raw / 2);
	/* a batch larger than the history: only its tail is kept */
	contacts_batch(r, p, json, keys, 40, seq, &rng);
	for (int i = 0; i < 40; i++) {
		/* 40 x ~5 KB */
		size_t len = contacts_json_n(json[i], sizeof(json[i]),
					     (unsigned)i, 20, &rng);
		r[i].value.len = len;
	}
	seq += 40;
	link_send(l, p, 40, NULL, NULL);
	assert_int_equal(l->enc.len, BATCH_DICT_MAX);
	big_cap = l->dec.cap;
	/* the room a large batch took is given back afterwards */
	assert_true(big_cap <= 2 * BATCH_DICT_MAX);
	assert_true(l->enc.cap <= 2 * BATCH_DICT_MAX);
	contacts_batch(r, p, json, keys, 1, seq, &rng);
	link_send(l, p, 1, NULL, NULL);
	link_close(l);
	free(l);
	free(json);
	free(keys);
}

/* A damaged dictionary batch is refused and leaves the history as it was;
 * a batch decoded against the wrong history (one end reset, the other
 * not) is refused; after both ends reset, the stream goes on. */
static void test_dict_corrupt(void **state)
{
	struct link *l = malloc(sizeof(*l));
	record r[3];
	const record *p[3];
	char(*json)[8192] = calloc(3, sizeof(*json));
	char(*keys)[80] = calloc(3, sizeof(*keys));
	uint8_t *before = malloc(BATCH_DICT_MAX);
	Poolpair__Repl__RecordBatch *b = NULL;
	uint64_t rng = 5, seq = 1;
	void *payload;
	uint8_t *z, *copy;
	size_t len, hist_len;
	uint16_t flags;
	uint32_t raw;
	int errors = 0;

	(void)state;
	assert_non_null(l);
	assert_non_null(json);
	assert_non_null(keys);
	assert_non_null(before);
	link_init(l);
	for (int i = 0; i < 30; i++) {
		contacts_batch(r, p, json, keys, 2, seq, &rng);
		seq += 2;
		link_send(l, p, 2, NULL, NULL);
	}
	/* the next batch repeats the last one's values: mostly references
	 * into the history */
	contacts_batch(r, p, json, keys, 2, seq, &rng);
	assert_int_equal(
	    batch_encode_dict(p, 2, &l->enc, &payload, &len, &flags, NULL), 0);
	assert_int_equal(flags, FRAME_FLAG_LZ4 | FRAME_FLAG_DICT);
	z = payload;
	copy = malloc(len);
	assert_non_null(copy);
	hist_len = l->dec.len;
	memcpy(before, l->dec.buf, hist_len);
	raw = (uint32_t)z[0] | (uint32_t)z[1] << 8 | (uint32_t)z[2] << 16 |
	      (uint32_t)z[3] << 24;

	/* truncated, declared size off by one, size over the maximum */
	assert_int_equal(batch_decode_dict(z, len - 1, flags, 0, &l->dec, &b),
			 BATCH_E_CORRUPT);
	assert_int_equal(batch_decode_dict(z, 3, flags, 0, &l->dec, &b),
			 BATCH_E_CORRUPT);
	memcpy(copy, z, len);
	copy[0] = (uint8_t)(raw + 1);
	assert_int_equal(batch_decode_dict(copy, len, flags, 0, &l->dec, &b),
			 BATCH_E_CORRUPT);
	assert_int_equal(batch_decode_dict(z, len, flags, raw - 1, &l->dec, &b),
			 BATCH_E_TOO_LARGE);
	copy[0] = copy[1] = copy[2] = copy[3] = 0xff;
	assert_int_equal(batch_decode_dict(copy, len, flags, 0, &l->dec, &b),
			 BATCH_E_TOO_LARGE);
	/* the dictionary flag is needed to read it: without it lz4 finds
	 * references to bytes it does not have */
	assert_int_equal(
	    batch_decode_dict(z, len, FRAME_FLAG_LZ4, 0, &l->dec, &b),
	    BATCH_E_CORRUPT);
	assert_null(b);
	assert_int_equal(l->dec.len, hist_len);
	assert_memory_equal(l->dec.buf, before, hist_len);

	/* random damage: an error or some batch, never a crash, and the
	 * history moves only when a batch decoded */
	for (int round = 0; round < 5000; round++) {
		struct batch_dict d;
		Poolpair__Repl__RecordBatch *got = NULL;
		int rc;

		batch_dict_init(&d);
		d.buf = malloc(BATCH_DICT_MAX);
		assert_non_null(d.buf);
		d.cap = BATCH_DICT_MAX;
		d.len = hist_len;
		memcpy(d.buf, before, hist_len);
		memcpy(copy, z, len);
		for (int k = 1 + (int)(rng_next(&rng) % 3); k > 0; k--)
			copy[4 + rng_next(&rng) % (len - 4)] ^=
			    (uint8_t)(1 + rng_next(&rng) % 255);
		rc = batch_decode_dict(copy, len, flags, 0, &d, &got);
		if (rc == 0) {
			poolpair__repl__record_batch__free_unpacked(got, NULL);
		} else {
			assert_true(rc == BATCH_E_CORRUPT ||
				    rc == BATCH_E_PROTO);
			assert_null(got);
			assert_int_equal(d.len, hist_len);
			assert_memory_equal(d.buf, before, hist_len);
			errors++;
		}
		batch_dict_close(&d);
	}
	assert_true(errors > 500);

	/* the receiver reconnected (empty history), the sender did not */
	batch_dict_reset(&l->dec);
	assert_int_equal(batch_decode_dict(z, len, flags, 0, &l->dec, &b),
			 BATCH_E_CORRUPT);
	assert_int_equal(l->dec.len, 0);
	free(payload);
	free(copy);

	/* a new connection: both ends start over and agree again */
	link_reset(l);
	assert_histories(l);
	for (int i = 0; i < 10; i++) {
		contacts_batch(r, p, json, keys, 3, seq, &rng);
		seq += 3;
		link_send(l, p, 3, NULL, NULL);
	}
	assert_true(l->enc.len > 0);
	link_close(l);
	free(l);
	free(before);
	free(json);
	free(keys);
}

/* A peer that did not agree on the dictionary mode refuses its frames;
 * misuse of a history is refused and changes nothing. */
/* A dictionary block decoded against another history than it was made
 * with inflates to other bytes of the same size; when the histories hold
 * batches of the same shape that is a well-formed batch with other
 * records. The raw CRC refuses it and the history stays as it was; the
 * frame replayed on a fresh pair of histories (a duplicated frame) is
 * refused the same way. */
static void test_dict_other_history(void **state)
{
	struct batch_dict enc, dec, other;
	record a[2], x[2];
	const record *pa[2] = {&a[0], &a[1]}, *px[2] = {&x[0], &x[1]};
	Poolpair__Repl__RecordBatch *b = NULL;
	const char *v = "{\"presence\":\"available\",\"note\":\"in a meeting "
			"until four\",\"device\":\"desk\"}";
	void *payload;
	size_t len, before;
	uint16_t flags;

	(void)state;
	batch_dict_init(&enc);
	batch_dict_init(&dec);
	batch_dict_init(&other);
	rec_set(&a[0], "pool-east", 1, OP_PUT,
		POOLPAIR__REPL__KIND__KIND_SETTINGS, LANE_DATA,
		"sip:alice@example.com/settings", v, strlen(v));
	rec_set(&a[1], "pool-east", 2, OP_PUT,
		POOLPAIR__REPL__KIND__KIND_SETTINGS, LANE_DATA,
		"sip:aaron@example.com/settings", v, strlen(v));
	/* same shape and sizes, other keys */
	rec_set(&x[0], "pool-east", 1, OP_PUT,
		POOLPAIR__REPL__KIND__KIND_SETTINGS, LANE_DATA,
		"sip:mallo@example.com/settings", v, strlen(v));
	rec_set(&x[1], "pool-east", 2, OP_PUT,
		POOLPAIR__REPL__KIND__KIND_SETTINGS, LANE_DATA,
		"sip:malla@example.com/settings", v, strlen(v));
	/* the sender's history holds a, the receiver's holds x */
	assert_int_equal(
	    batch_encode_dict(pa, 2, &enc, &payload, &len, &flags, NULL), 0);
	free(payload);
	assert_int_equal(
	    batch_encode_dict(px, 2, &other, &payload, &len, &flags, NULL), 0);
	assert_int_equal(batch_decode_dict(payload, len, flags, 0, &dec, &b),
			 0);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	b = NULL;
	free(payload);
	assert_int_equal(enc.len, dec.len);
	/* the same records again: almost all of it refers to the history */
	assert_int_equal(
	    batch_encode_dict(pa, 2, &enc, &payload, &len, &flags, NULL), 0);
	assert_int_equal(flags, FRAME_FLAG_LZ4 | FRAME_FLAG_DICT);
	before = dec.len;
	assert_int_equal(batch_decode_dict(payload, len, flags, 0, &dec, &b),
			 BATCH_E_CORRUPT);
	assert_null(b);
	assert_int_equal(dec.len, before);
	/* the CRC is what refuses it: with the right history it decodes */
	batch_dict_reset(&other);
	batch_dict_reset(&dec);
	{
		void *p1;
		size_t l1;
		uint16_t f1;
		struct batch_dict e2;

		batch_dict_init(&e2);
		assert_int_equal(
		    batch_encode_dict(pa, 2, &e2, &p1, &l1, &f1, NULL), 0);
		assert_int_equal(batch_decode_dict(p1, l1, f1, 0, &dec, &b), 0);
		poolpair__repl__record_batch__free_unpacked(b, NULL);
		b = NULL;
		free(p1);
		assert_int_equal(
		    batch_encode_dict(pa, 2, &e2, &p1, &l1, &f1, NULL), 0);
		assert_int_equal(batch_decode_dict(p1, l1, f1, 0, &dec, &b), 0);
		assert_int_equal(b->n_records, 2);
		assert_rec_equal(b->records[0], &a[0]);
		poolpair__repl__record_batch__free_unpacked(b, NULL);
		b = NULL;
		/* the same frame once more (duplicated on the way): refused,
		 * or (here the history repeats itself) the very same records,
		 * which apply as duplicates; never other records */
		before = dec.len;
		if (batch_decode_dict(p1, l1, f1, 0, &dec, &b) == 0) {
			assert_int_equal(b->n_records, 2);
			assert_rec_equal(b->records[0], &a[0]);
			assert_rec_equal(b->records[1], &a[1]);
			poolpair__repl__record_batch__free_unpacked(b, NULL);
			b = NULL;
		} else {
			assert_null(b);
			assert_int_equal(dec.len, before);
		}
		free(p1);
		batch_dict_close(&e2);
	}
	free(payload);
	batch_dict_close(&enc);
	batch_dict_close(&dec);
	batch_dict_close(&other);
}

static void test_dict_not_negotiated(void **state)
{
	struct batch_dict enc, dec;
	record r[2];
	const record *p[2] = {&r[0], &r[1]};
	Poolpair__Repl__RecordBatch *b = NULL;
	const char *v = "{\"presence\":\"available\",\"presence2\":"
			"\"available\",\"presence3\":\"available\"}";
	void *payload, *other;
	size_t len, olen;
	uint16_t flags, oflags;

	(void)state;
	batch_dict_init(&enc);
	batch_dict_init(&dec);
	rec_set(&r[0], "pool-east", 1, OP_PUT,
		POOLPAIR__REPL__KIND__KIND_SETTINGS, LANE_DATA,
		"sip:alice@example.com/settings", v, strlen(v));
	rec_set(&r[1], "pool-east", 2, OP_PUT,
		POOLPAIR__REPL__KIND__KIND_SETTINGS, LANE_DATA,
		"sip:bob@example.com/settings", v, strlen(v));
	assert_int_equal(
	    batch_encode_dict(p, 2, &enc, &payload, &len, &flags, NULL), 0);
	assert_int_equal(flags, FRAME_FLAG_LZ4 | FRAME_FLAG_DICT);
	assert_int_equal(batch_decode(payload, len, flags, 0, &b),
			 BATCH_E_DICT);
	assert_int_equal(batch_decode_dict(payload, len, flags, 0, NULL, &b),
			 BATCH_E_DICT);
	assert_null(b);
	assert_string_equal(batch_strerror(BATCH_E_DICT),
			    "dictionary batch without the dictionary mode");
	/* the frame itself is well-formed: a peer that agreed reads it */
	assert_int_equal(batch_decode_dict(payload, len, flags, 0, &dec, &b),
			 0);
	assert_int_equal(b->n_records, 2);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	/* a history serves one end only */
	assert_int_equal(
	    batch_encode_dict(p, 2, &dec, &other, &olen, &oflags, NULL),
	    BATCH_E_ARG);
	assert_int_equal(batch_decode_dict(payload, len, flags, 0, &enc, &b),
			 BATCH_E_ARG);
	assert_int_equal(
	    batch_encode_dict(p, 2, NULL, &other, &olen, &oflags, NULL),
	    BATCH_E_ARG);
	assert_int_equal(enc.len, dec.len);
	assert_memory_equal(enc.buf, dec.buf, enc.len);
	/* a frame without the dictionary flag on a dictionary connection
	 * (plain lz4 or raw) decodes and joins the history */
	free(payload);
	assert_int_equal(batch_encode(p, 2, &payload, &len, &flags, NULL), 0);
	assert_int_equal(flags, FRAME_FLAG_LZ4);
	olen = dec.len;
	assert_int_equal(batch_decode_dict(payload, len, flags, 0, &dec, &b),
			 0);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	assert_true(dec.len > olen);
	free(payload);
	batch_dict_close(&enc);
	batch_dict_close(&dec);
	batch_dict_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_mixed),
	    cmocka_unit_test(test_empty_batch),
	    cmocka_unit_test(test_compression_ratio),
	    cmocka_unit_test(test_incompressible_stored_raw),
	    cmocka_unit_test(test_corrupt_lz4),
	    cmocka_unit_test(test_raw_size_over_max),
	    cmocka_unit_test(test_undecodable_protobuf),
	    cmocka_unit_test(test_decode_arguments),
	    cmocka_unit_test(test_validation_refusals),
	    cmocka_unit_test(test_validate_seed),
	    cmocka_unit_test(test_decode_then_refuse),
	    cmocka_unit_test(test_dict_small_batches),
	    cmocka_unit_test(test_dict_mixed_batches),
	    cmocka_unit_test(test_dict_corrupt),
	    cmocka_unit_test(test_dict_not_negotiated),
	    cmocka_unit_test(test_dict_other_history),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
