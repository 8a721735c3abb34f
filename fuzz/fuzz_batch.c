/* fuzz_batch: change-record batches (replication/batch.h), decoded and
 * validated, with and without FRAME_FLAG_LZ4.
 *
 * Input: byte 0 picks the mode (low 2 bits) and max_raw (next 3 bits),
 * the rest is the payload:
 *   mode 0: the payload as sent, flags 0;
 *   mode 1: the payload as sent, FRAME_FLAG_LZ4 (prefix + lz4 block);
 *   mode 2: the payload is a packed RecordBatch that the harness
 *           compresses (correct prefix) and decodes with FRAME_FLAG_LZ4:
 *           the outcome must equal decoding it with flags 0;
 *   mode 3: the first two payload bytes are the frame flags (any bits,
 *           the ones not defined yet included).
 * Properties checked, whenever a batch decodes:
 *   - batch_validate gives 0 or BATCH_E_INVALID with a terminated message;
 *   - so does batch_validate_seed (a SEED_RECORDS batch), and a batch it
 *     accepts holds records of one (user set, lane) only;
 *   - batch_encode of its records decodes again to the same message
 *     (packed bytes compared) that validates the same way. */
#include <lz4.h>
#include <string.h>

#include "fuzz/fuzz_records.h"
#include "fuzz/fuzz_util.h"
#include "replication/batch.h"
#include "replication/frame.h"

static const size_t max_raws[8] = {0, 0, 0, 1, 64, 1024, 65536,
				   BATCH_DEFAULT_MAX_RAW};

static int validate(const Poolpair__Repl__RecordBatch *b)
{
	char msg[BATCH_ERRMSG_LEN];
	char tiny[8];
	int rv;

	memset(msg, 'x', sizeof msg);
	rv = batch_validate(b, msg, sizeof msg);
	FUZZ_CHECK(rv == 0 || rv == BATCH_E_INVALID || rv == BATCH_E_NOMEM,
		   "batch_validate returned %d", rv);
	if (rv == BATCH_E_INVALID) {
		FUZZ_CHECK(fuzz_terminated(msg, sizeof msg),
			   "validate message not terminated");
		FUZZ_CHECK(strlen(msg) > 0, "validate gave no message");
		memset(tiny, 'x', sizeof tiny);
		FUZZ_CHECK(batch_validate(b, tiny, sizeof tiny) == rv &&
			       fuzz_terminated(tiny, sizeof tiny),
			   "validate into a short buffer");
	}
	return rv;
}

static void validate_seed(const Poolpair__Repl__RecordBatch *b)
{
	char msg[BATCH_ERRMSG_LEN];
	int rv;

	memset(msg, 'x', sizeof msg);
	rv = batch_validate_seed(b, msg, sizeof msg);
	FUZZ_CHECK(rv == 0 || rv == BATCH_E_INVALID,
		   "batch_validate_seed returned %d", rv);
	if (rv == BATCH_E_INVALID) {
		FUZZ_CHECK(fuzz_terminated(msg, sizeof msg) && strlen(msg) > 0,
			   "validate_seed message not terminated or empty");
		return;
	}
	FUZZ_CHECK(b->n_records > 0, "seed batch without records accepted");
	for (size_t i = 1; i < b->n_records; i++)
		FUZZ_CHECK(b->records[i]->lane == b->records[0]->lane &&
			       strcmp(b->records[i]->user_set,
				      b->records[0]->user_set) == 0,
			   "seed batch of two streams accepted");
}

/* The records of b packed as a RecordBatch (fields of the batch message
 * that this version does not know are left out: batch_encode() writes
 * only the records). */
static void *pack(const Poolpair__Repl__RecordBatch *b, size_t *len)
{
	Poolpair__Repl__RecordBatch only = POOLPAIR__REPL__RECORD_BATCH__INIT;
	void *buf;

	only.n_records = b->n_records;
	only.records = b->records;
	*len = poolpair__repl__record_batch__get_packed_size(&only);
	buf = malloc(*len > 0 ? *len : 1);
	FUZZ_CHECK(buf != NULL, "out of memory");
	poolpair__repl__record_batch__pack(&only, buf);
	return buf;
}

/* b decoded: validate it, encode it again, decode that, compare. */
static void check_decoded(const Poolpair__Repl__RecordBatch *b)
{
	Poolpair__Repl__RecordBatch *again = NULL;
	struct batch_stats st;
	void *payload, *p1, *p2;
	size_t len, l1, l2;
	uint16_t flags;
	int v1, rv;

	v1 = validate(b);
	validate_seed(b);
	if (fuzz_has_field_zero(b)) {
		return;
	}
	rv = batch_encode((const Poolpair__Repl__ChangeRecord *const *)
			      b->records,
			  b->n_records, &payload, &len, &flags, &st);
	FUZZ_CHECK(rv == 0, "batch_encode of a decoded batch: %s",
		   batch_strerror(rv));
	FUZZ_CHECK(st.wire_bytes == len, "wire_bytes %zu, len %zu",
		   st.wire_bytes, len);
	FUZZ_CHECK(flags == 0 || flags == FRAME_FLAG_LZ4,
		   "batch_encode flags 0x%x", flags);
	FUZZ_CHECK(flags == 0 || len < st.raw_bytes,
		   "compressed although it does not shrink");
	rv = batch_decode(payload, len, flags, 0, &again);
	FUZZ_CHECK(rv == 0, "own encoding does not decode: %s",
		   batch_strerror(rv));
	free(payload);
	p1 = pack(b, &l1);
	p2 = pack(again, &l2);
	FUZZ_CHECK(l1 == l2 && memcmp(p1, p2, l1) == 0,
		   "batch changed across encode and decode");
	FUZZ_CHECK(validate(again) == v1, "validation differs after encode");
	free(p1);
	free(p2);
	poolpair__repl__record_batch__free_unpacked(again, NULL);
}

/* Decode; on success check and free. Returns the code, and the packed
 * decoded message in *packed (malloc()ed, NULL on error) when asked. */
static int decode(const uint8_t *p, size_t n, uint16_t flags, size_t max_raw,
		  void **packed, size_t *packed_len)
{
	Poolpair__Repl__RecordBatch *b = NULL;
	void *copy = fuzz_dup(p, n);
	int rv;

	rv = batch_decode(n > 0 ? copy : NULL, n, flags, max_raw, &b);
	free(copy);
	if (packed != NULL) {
		*packed = NULL;
	}
	if (rv != 0) {
		FUZZ_CHECK(rv < 0 && rv != BATCH_E_ARG && rv != BATCH_E_INVALID,
			   "batch_decode returned %d", rv);
		FUZZ_CHECK(b == NULL, "*out written on error");
		FUZZ_CHECK(strcmp(batch_strerror(rv), "unknown batch error") != 0,
			   "no message for %d", rv);
		return rv;
	}
	FUZZ_CHECK(b != NULL, "batch_decode gave 0 without a batch");
	if ((flags & ~FRAME_FLAG_LZ4) != 0) {
		/* accepted: only flags defined since are allowed through */
		FUZZ_CHECK((flags & ~FRAME_FLAGS_KNOWN) == 0,
			   "batch_decode accepted unknown flags 0x%x", flags);
	}
	check_decoded(b);
	if (packed != NULL) {
		*packed = pack(b, packed_len);
	}
	poolpair__repl__record_batch__free_unpacked(b, NULL);
	return rv;
}

/* Mode 2: compress p ourselves; must decode as the plain payload does. */
static void differential(const uint8_t *p, size_t n, size_t max_raw)
{
	int bound = LZ4_compressBound((int)n);
	uint8_t *z;
	int zlen;
	void *a, *b;
	size_t la = 0, lb = 0;
	int ra, rb;

	if (n > (size_t)1 << 20 || bound <= 0) {
		return;
	}
	z = malloc(BATCH_PREFIX_LEN + (size_t)bound);
	FUZZ_CHECK(z != NULL, "out of memory");
	z[0] = (uint8_t)n;
	z[1] = (uint8_t)(n >> 8);
	z[2] = (uint8_t)(n >> 16);
	z[3] = (uint8_t)(n >> 24);
	zlen = LZ4_compress_default((const char *)p, (char *)z + BATCH_PREFIX_LEN,
				    (int)n, bound);
	FUZZ_CHECK(n == 0 || zlen > 0, "LZ4_compress_default failed");
	ra = decode(p, n, 0, max_raw, &a, &la);
	rb = decode(z, BATCH_PREFIX_LEN + (size_t)zlen, FRAME_FLAG_LZ4, max_raw,
		    &b, &lb);
	FUZZ_CHECK(ra == rb, "plain gives %s, lz4 gives %s", batch_strerror(ra),
		   batch_strerror(rb));
	if (ra == 0) {
		FUZZ_CHECK(la == lb && memcmp(a, b, la) == 0,
			   "plain and lz4 decode to different batches");
	}
	free(a);
	free(b);
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max_raw;
	uint16_t flags;

	if (size < 1) {
		return 0;
	}
	max_raw = max_raws[(data[0] >> 2) % 8];
	switch (data[0] & 3) {
	case 0:
		decode(data + 1, size - 1, 0, max_raw, NULL, NULL);
		break;
	case 1:
		decode(data + 1, size - 1, FRAME_FLAG_LZ4, max_raw, NULL, NULL);
		break;
	case 2:
		differential(data + 1, size - 1, max_raw);
		break;
	default:
		if (size < 3) {
			return 0;
		}
		flags = (uint16_t)(data[1] | data[2] << 8);
		decode(data + 3, size - 3, flags, max_raw, NULL, NULL);
		break;
	}
	return 0;
}
