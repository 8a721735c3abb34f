/* Tests of the memory bounds of replication/batch.c's decoder: the raw
 * size limit, the records counted before unpacking and protobuf-c's
 * allocation budget (batch_unpack_budget). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lz4.h>

#include "replication/batch.h"
#include "replication/frame.h"

/* The payload of raw (len bytes) as a compressed batch: prefix + lz4. */
static uint8_t *compress(const uint8_t *raw, size_t len, size_t *out_len)
{
	int bound = LZ4_compressBound((int)len);
	uint8_t *z = malloc(BATCH_PREFIX_LEN + (size_t)bound);
	int zl;

	assert_non_null(z);
	z[0] = (uint8_t)len;
	z[1] = (uint8_t)(len >> 8);
	z[2] = (uint8_t)(len >> 16);
	z[3] = (uint8_t)(len >> 24);
	zl = LZ4_compress_default(
	    (const char *)raw, (char *)z + BATCH_PREFIX_LEN, (int)len, bound);
	assert_true(zl > 0);
	*out_len = BATCH_PREFIX_LEN + (size_t)zl;
	return z;
}

/* len bytes of empty records (0a 00: field 1, length 0). */
static uint8_t *empty_records(size_t len)
{
	uint8_t *r = malloc(len);
	size_t i;

	assert_non_null(r);
	for (i = 0; i + 1 < len; i += 2) {
		r[i] = 0x0a;
		r[i + 1] = 0x00;
	}
	return r;
}

/* A 66 KB payload that inflates to the raw limit in 2-byte records: two
 * million records, which protobuf-c used to allocate (~350 MB here, 1.4
 * GB at the former 16 MiB limit) before anything was validated. Refused
 * before unpacking now. */
static void test_tiny_records_refused(void **state)
{
	size_t raw_len = BATCH_DEFAULT_MAX_RAW, zlen;
	uint8_t *raw = empty_records(raw_len);
	uint8_t *z = compress(raw, raw_len, &zlen);
	Poolpair__Repl__RecordBatch *b = NULL;
	size_t charged = 1;

	(void)state;
	assert_true(zlen < 70000);
	assert_int_equal(batch_decode(z, zlen, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_BUDGET);
	assert_null(b);
	assert_int_equal(batch_unpack(raw, raw_len, &b, &charged),
			 BATCH_E_BUDGET);
	assert_int_equal(charged, 0); /* nothing allocated */
	/* one record more than a batch may hold, the same */
	assert_int_equal(
	    batch_unpack(raw, 2 * (BATCH_MAX_RECORDS + 1), &b, NULL),
	    BATCH_E_BUDGET);
	/* as many as it may hold: unpacked */
	assert_int_equal(batch_unpack(raw, 2 * BATCH_MAX_RECORDS, &b, &charged),
			 0);
	assert_int_equal(b->n_records, BATCH_MAX_RECORDS);
	assert_true(charged <= batch_unpack_budget(2 * BATCH_MAX_RECORDS,
						   BATCH_MAX_RECORDS));
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	assert_string_equal(batch_strerror(BATCH_E_BUDGET),
			    "batch would unpack into more records or memory "
			    "than its size allows");
	free(raw);
	free(z);
}

/* The former raw limit is refused before anything is allocated. */
static void test_raw_limit(void **state)
{
	uint8_t z[16] = {0};
	Poolpair__Repl__RecordBatch *b = NULL;

	(void)state;
	assert_int_equal(BATCH_DEFAULT_MAX_RAW, (size_t)4 << 20);
	z[2] = 0x00;
	z[3] = 0x01; /* 16 MiB */
	assert_int_equal(batch_decode(z, sizeof(z), FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_TOO_LARGE);
	z[0] = 0x01;
	z[3] = 0x00;
	z[2] = 0x40; /* 4 MiB + 1 */
	assert_int_equal(batch_decode(z, sizeof(z), FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_TOO_LARGE);
	assert_null(b);
}

/* A varint at p; returns its length. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* One record of nothing but tiny unknown fields: one record, but every
 * 2 bytes would cost protobuf-c ~40 (an entry and a copy of each); the
 * budget stops it, within the budget. */
static void test_unknown_fields_over_budget(void **state)
{
	size_t fields = 500000, raw_len, i, zlen, charged;
	uint8_t *raw = malloc(16 + 2 * fields);
	uint8_t *z;
	Poolpair__Repl__RecordBatch *b = NULL;

	(void)state;
	assert_non_null(raw);
	raw[0] = 0x0a;
	raw_len = 1 + put_varint(raw + 1, 2 * fields);
	for (i = 0; i < fields; i++) {
		raw[raw_len++] = 0x78; /* field 15, varint 0 */
		raw[raw_len++] = 0x00;
	}
	z = compress(raw, raw_len, &zlen);
	assert_int_equal(batch_decode(z, zlen, FRAME_FLAG_LZ4, 0, &b),
			 BATCH_E_BUDGET);
	assert_null(b);
	assert_int_equal(batch_unpack(raw, raw_len, &b, &charged),
			 BATCH_E_BUDGET);
	assert_true(charged <= batch_unpack_budget(raw_len, 1));
	/* a few of them (a newer peer's fields) are fine */
	raw_len = 0;
	raw[raw_len++] = 0x0a;
	raw[raw_len++] = 6 + 2 * 8;
	raw[raw_len++] = 0x0a; /* user_set "x" */
	raw[raw_len++] = 0x01;
	raw[raw_len++] = 'x';
	raw[raw_len++] = 0x3a; /* key "k" */
	raw[raw_len++] = 0x01;
	raw[raw_len++] = 'k';
	for (i = 0; i < 8; i++) {
		raw[raw_len++] = 0x78;
		raw[raw_len++] = 0x01;
	}
	assert_int_equal(batch_unpack(raw, raw_len, &b, &charged), 0);
	assert_int_equal(b->n_records, 1);
	assert_string_equal(b->records[0]->key, "k");
	assert_int_equal(b->records[0]->base.n_unknown_fields, 8);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	free(raw);
	free(z);
}

/* What a sender sends always fits: BATCH_MAX_RECORDS small records, and
 * a batch of about 1 MiB that ends with a 1 MiB content chunk. */
static void test_real_batches_fit(void **state)
{
	Poolpair__Repl__ChangeRecord *r;
	const Poolpair__Repl__ChangeRecord **p;
	Poolpair__Repl__RecordBatch *b = NULL;
	static char keys[BATCH_MAX_RECORDS + 1][48];
	uint8_t *chunk = calloc(1, (size_t)1 << 20);
	void *payload;
	size_t len, n, i;
	uint16_t flags;

	(void)state;
	r = calloc(BATCH_MAX_RECORDS + 1, sizeof(*r));
	p = calloc(BATCH_MAX_RECORDS + 1, sizeof(*p));
	assert_non_null(r);
	assert_non_null(p);
	assert_non_null(chunk);
	for (i = 0; i <= BATCH_MAX_RECORDS; i++) {
		poolpair__repl__change_record__init(&r[i]);
		snprintf(keys[i], sizeof(keys[i]), "sip:u%zu@e.com", i);
		r[i].user_set = "p";
		r[i].epoch = 1;
		r[i].seq = i + 1;
		r[i].op = POOLPAIR__REPL__OP__OP_DELETE;
		r[i].key = keys[i];
		p[i] = &r[i];
	}
	/* the smallest real records, as many as a batch holds */
	assert_int_equal(
	    batch_encode(p, BATCH_MAX_RECORDS, &payload, &len, &flags, NULL),
	    0);
	assert_int_equal(batch_decode(payload, len, flags, 0, &b), 0);
	assert_int_equal(b->n_records, BATCH_MAX_RECORDS);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	free(payload);
	/* one more is refused by the encoder already */
	assert_int_equal(batch_encode(p, BATCH_MAX_RECORDS + 1, &payload, &len,
				      &flags, NULL),
			 BATCH_E_TOO_LARGE);
	/* 1000 settings records of ~1 KiB, then a 1 MiB content chunk */
	n = 1001;
	for (i = 0; i < n - 1; i++) {
		r[i].op = POOLPAIR__REPL__OP__OP_PUT;
		r[i].kind = POOLPAIR__REPL__KIND__KIND_SETTINGS;
		r[i].value.data = chunk;
		r[i].value.len = 1000;
	}
	r[n - 1].op = POOLPAIR__REPL__OP__OP_CONTENT_CHUNK;
	r[n - 1].kind = POOLPAIR__REPL__KIND__KIND_CONTENT;
	r[n - 1].lane = POOLPAIR__REPL__LANE__LANE_CONTENT;
	r[n - 1].value.data = chunk;
	r[n - 1].value.len = (size_t)1 << 20;
	r[n - 1].total = (size_t)1 << 20;
	assert_int_equal(batch_encode(p, n, &payload, &len, &flags, NULL), 0);
	assert_int_equal(batch_decode(payload, len, flags, 0, &b), 0);
	assert_int_equal(b->n_records, n);
	assert_int_equal(b->records[n - 1]->value.len, (size_t)1 << 20);
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	free(payload);
	free(chunk);
	free(p);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tiny_records_refused),
	    cmocka_unit_test(test_raw_limit),
	    cmocka_unit_test(test_unknown_fields_over_budget),
	    cmocka_unit_test(test_real_batches_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
