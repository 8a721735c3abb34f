/* fuzz_batch_budget: what decoding a batch may allocate
 * (replication/batch.h: BATCH_MAX_RECORDS, batch_unpack_budget,
 * batch_unpack, batch_decode).
 *
 * Input: byte 0 picks the mode (low 2 bits), the rest is the data:
 *   mode 0: the data is a packed RecordBatch, unpacked with batch_unpack
 *           and, for comparison, with protobuf-c's own allocator;
 *   mode 1: byte 1 gives the raw size, 2^(byte 1 % 23) bytes at most
 *           BATCH_DEFAULT_MAX_RAW; the rest is a pattern repeated to fill
 *           it (cut at the end): many small records or fields from a few
 *           input bytes, as an lz4 payload would carry them;
 *   mode 2: the same, but the repeated pattern is the body of one record
 *           (0a, its length, the body);
 *   mode 3: as mode 1, the raw bytes lz4-compressed (with a correct
 *           prefix) and decoded with batch_decode.
 * Properties checked:
 *   - batch_unpack gives 0, BATCH_E_BUDGET or BATCH_E_PROTO, and never
 *     allocates more than batch_unpack_budget(len, BATCH_MAX_RECORDS),
 *     nor, when it decodes, more than batch_unpack_budget(len, records);
 *   - a decoded batch holds at most BATCH_MAX_RECORDS records;
 *   - mode 0: what protobuf-c refuses is refused; what batch_unpack
 *     decodes, protobuf-c decodes to the same message (packed bytes
 *     compared); and a batch protobuf-c decodes that is canonical (packs
 *     back to the input bytes), has no unknown fields and at most
 *     BATCH_MAX_RECORDS records (what batch_encode writes) is never
 *     refused for its budget;
 *   - batch_decode of a payload agrees with batch_unpack of its raw bytes.
 */
#include <lz4.h>
#include <string.h>

#include "fuzz/fuzz_util.h"
#include "replication/batch.h"
#include "replication/frame.h"

static void *pack(const Poolpair__Repl__RecordBatch *b, size_t *len)
{
	void *buf;

	*len = poolpair__repl__record_batch__get_packed_size(b);
	buf = malloc(*len > 0 ? *len : 1);
	FUZZ_CHECK(buf != NULL, "out of memory");
	poolpair__repl__record_batch__pack(b, buf);
	return buf;
}

static int has_unknown(const Poolpair__Repl__RecordBatch *b)
{
	if (b->base.n_unknown_fields > 0) {
		return 1;
	}
	for (size_t i = 0; i < b->n_records; i++) {
		if (b->records[i]->base.n_unknown_fields > 0) {
			return 1;
		}
	}
	return 0;
}

/* batch_unpack of raw, its properties; returns its code and, on success,
 * the batch in *out (the caller frees it) when out is not NULL. */
static int unpack(const uint8_t *raw, size_t len,
		  Poolpair__Repl__RecordBatch **out)
{
	Poolpair__Repl__RecordBatch *b = NULL;
	size_t charged = 0;
	int rv;

	rv = batch_unpack(len > 0 ? raw : NULL, len, &b, &charged);
	FUZZ_CHECK(rv == 0 || rv == BATCH_E_BUDGET || rv == BATCH_E_PROTO,
		   "batch_unpack returned %d", rv);
	FUZZ_CHECK(charged <= batch_unpack_budget(len, BATCH_MAX_RECORDS),
		   "allocated %zu for %zu raw bytes", charged, len);
	if (rv != 0) {
		FUZZ_CHECK(b == NULL, "*out written on error");
		return rv;
	}
	FUZZ_CHECK(b != NULL, "batch_unpack gave 0 without a batch");
	FUZZ_CHECK(b->n_records <= BATCH_MAX_RECORDS, "%zu records decoded",
		   b->n_records);
	FUZZ_CHECK(charged <= batch_unpack_budget(len, b->n_records),
		   "allocated %zu for %zu raw bytes, %zu records", charged, len,
		   b->n_records);
	if (out != NULL) {
		*out = b;
	} else {
		poolpair__repl__record_batch__free_unpacked(b, NULL);
	}
	return rv;
}

/* Mode 0: against protobuf-c's own allocator (small inputs only: it has
 * no bound). */
static void differential(const uint8_t *raw, size_t len)
{
	static const uint8_t empty[1];
	Poolpair__Repl__RecordBatch *mine = NULL, *theirs;
	void *p1, *p2;
	size_t l1, l2;
	int rv;

	rv = unpack(raw, len, &mine);
	theirs = poolpair__repl__record_batch__unpack(NULL, len,
						      len > 0 ? raw : empty);
	if (theirs == NULL) {
		FUZZ_CHECK(rv != 0, "decoded what protobuf-c refuses");
		return;
	}
	if (rv == 0) {
		p1 = pack(mine, &l1);
		p2 = pack(theirs, &l2);
		FUZZ_CHECK(l1 == l2 && memcmp(p1, p2, l1) == 0,
			   "decoded to another message than protobuf-c");
		free(p1);
		free(p2);
		poolpair__repl__record_batch__free_unpacked(mine, NULL);
	} else {
		FUZZ_CHECK(rv == BATCH_E_BUDGET,
			   "protobuf-c decodes it, batch_unpack says %s",
			   batch_strerror(rv));
		p2 = pack(theirs, &l2);
		FUZZ_CHECK(!(l2 == len && memcmp(p2, raw, len) == 0 &&
			     !has_unknown(theirs) &&
			     theirs->n_records <= BATCH_MAX_RECORDS),
			   "a canonical batch of %zu records refused for its "
			   "budget",
			   theirs->n_records);
		free(p2);
	}
	poolpair__repl__record_batch__free_unpacked(theirs, NULL);
}

/* The raw bytes of modes 1-3: size from sel, filled with pat (n bytes),
 * as one record's body when one_record. Returns them (malloc()ed). */
static uint8_t *fill(uint8_t sel, const uint8_t *pat, size_t n, int one_record,
		     size_t *len)
{
	size_t size = (size_t)1 << (sel % 23), head = 0, i;
	uint8_t *raw;
	uint64_t body;

	if (size > BATCH_DEFAULT_MAX_RAW) {
		size = BATCH_DEFAULT_MAX_RAW;
	}
	raw = malloc(size + 16);
	FUZZ_CHECK(raw != NULL, "out of memory");
	if (one_record) {
		raw[head++] = 0x0a;
		body = size;
		while (body >= 0x80) {
			raw[head++] = (uint8_t)(body | 0x80);
			body >>= 7;
		}
		raw[head++] = (uint8_t)body;
	}
	for (i = 0; i < size; i++) {
		raw[head + i] = pat[i % n];
	}
	*len = head + size;
	return raw;
}

/* Mode 3: through the lz4 decoder. */
static void compressed(const uint8_t *raw, size_t len)
{
	int bound = LZ4_compressBound((int)len), zl, r1, r2;
	uint8_t *z = malloc(BATCH_PREFIX_LEN + (size_t)bound);
	Poolpair__Repl__RecordBatch *b = NULL;

	FUZZ_CHECK(z != NULL, "out of memory");
	z[0] = (uint8_t)len;
	z[1] = (uint8_t)(len >> 8);
	z[2] = (uint8_t)(len >> 16);
	z[3] = (uint8_t)(len >> 24);
	zl = LZ4_compress_default(
	    (const char *)raw, (char *)z + BATCH_PREFIX_LEN, (int)len, bound);
	FUZZ_CHECK(zl > 0, "LZ4_compress_default failed");
	r1 = batch_decode(z, BATCH_PREFIX_LEN + (size_t)zl, FRAME_FLAG_LZ4, 0,
			  &b);
	r2 = unpack(raw, len, NULL);
	FUZZ_CHECK(r1 == r2, "batch_decode says %s, batch_unpack %s",
		   batch_strerror(r1), batch_strerror(r2));
	if (r1 == 0) {
		poolpair__repl__record_batch__free_unpacked(b, NULL);
	}
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *raw;
	size_t len;

	if (size < 1) {
		return 0;
	}
	if ((data[0] & 3) == 0) {
		uint8_t *copy = fuzz_dup(data + 1, size - 1);

		if (size - 1 <= ((size_t)64 << 10)) {
			differential(copy, size - 1);
		} else {
			unpack(copy, size - 1, NULL);
		}
		free(copy);
		return 0;
	}
	if (size < 3) {
		return 0;
	}
	raw = fill(data[1], data + 2, size - 2, (data[0] & 3) == 2, &len);
	if ((data[0] & 3) == 3) {
		compressed(raw, len);
	} else {
		unpack(raw, len, NULL);
	}
	free(raw);
	return 0;
}
