/* fuzz_batch_dict: the lz4 dictionary mode of RECORDS batches
 * (replication/batch.h: batch_encode_dict, batch_decode_dict).
 *
 * Input: a sequence of steps, each a kind byte, a u16 little-endian length
 * and that many bytes (the last step takes what is left):
 *   kind even: the bytes are a packed RecordBatch. When they unpack, its
 *     records go through batch_encode_dict() on the sender's history and
 *     batch_decode_dict() on the receiver's: the batch must come back the
 *     same (packed bytes compared), and the two histories must hold the
 *     same bytes after every step;
 *   kind odd: the bytes are a payload as received, decoded with
 *     batch_decode_dict() on a third history, with flags (kind >> 1) & 3
 *     (none, LZ4, DICT, LZ4 | DICT) or, for kind >= 128, no history at all.
 *     A refused payload leaves the history as it was; the connection is
 *     then dropped (the history is reset), as a receiver does.
 * Every decoded batch is also validated. */
#include <string.h>

#include "fuzz/fuzz_records.h"
#include "fuzz/fuzz_util.h"
#include "replication/batch.h"
#include "replication/frame.h"

#define MAX_STEPS 32

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

static void validate(const Poolpair__Repl__RecordBatch *b)
{
	char msg[BATCH_ERRMSG_LEN];
	int rv = batch_validate(b, msg, sizeof msg);

	FUZZ_CHECK(rv == 0 || rv == BATCH_E_INVALID || rv == BATCH_E_NOMEM,
		   "batch_validate returned %d", rv);
}

static int same_history(const struct batch_dict *a, const struct batch_dict *b)
{
	return a->len == b->len &&
	       (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

static void round_trip(const uint8_t *p, size_t n, struct batch_dict *enc,
		       struct batch_dict *dec)
{
	Poolpair__Repl__RecordBatch *in, *out = NULL;
	struct batch_stats st;
	void *payload, *p1, *p2;
	size_t len, l1, l2;
	uint16_t flags;
	int rv;

	in = poolpair__repl__record_batch__unpack(NULL, n, p);
	if (in == NULL) {
		return;
	}
	if (fuzz_has_field_zero(in)) {
		poolpair__repl__record_batch__free_unpacked(in, NULL);
		return;
	}
	rv = batch_encode_dict((const Poolpair__Repl__ChangeRecord *const *)
				   in->records,
			       in->n_records, enc, &payload, &len, &flags, &st);
	if (rv == BATCH_E_TOO_LARGE) {
		poolpair__repl__record_batch__free_unpacked(in, NULL);
		return;
	}
	FUZZ_CHECK(rv == 0, "batch_encode_dict: %s", batch_strerror(rv));
	FUZZ_CHECK(flags == 0 || flags == (FRAME_FLAG_LZ4 | FRAME_FLAG_DICT),
		   "batch_encode_dict flags 0x%x", flags);
	FUZZ_CHECK(st.wire_bytes == len, "wire_bytes %zu, len %zu",
		   st.wire_bytes, len);
	FUZZ_CHECK(enc->len <= BATCH_DICT_MAX, "history of %zu bytes",
		   enc->len);
	rv = batch_decode_dict(payload, len, flags, 0, dec, &out);
	FUZZ_CHECK(rv == 0, "own dictionary encoding does not decode: %s",
		   batch_strerror(rv));
	free(payload);
	p1 = pack(in, &l1);
	p2 = pack(out, &l2);
	FUZZ_CHECK(l1 == l2 && memcmp(p1, p2, l1) == 0,
		   "batch changed across dictionary encode and decode");
	FUZZ_CHECK(same_history(enc, dec),
		   "sender history (%zu bytes) and receiver history (%zu "
		   "bytes) differ",
		   enc->len, dec->len);
	validate(out);
	free(p1);
	free(p2);
	poolpair__repl__record_batch__free_unpacked(in, NULL);
	poolpair__repl__record_batch__free_unpacked(out, NULL);
}

static void wire(const uint8_t *p, size_t n, uint8_t kind,
		 struct batch_dict *d)
{
	static const uint16_t flag_sets[4] = {
	    0, FRAME_FLAG_LZ4, FRAME_FLAG_DICT,
	    FRAME_FLAG_LZ4 | FRAME_FLAG_DICT};
	Poolpair__Repl__RecordBatch *out = NULL;
	uint16_t flags = flag_sets[(kind >> 1) & 3];
	struct batch_dict *use = kind >= 128 ? NULL : d;
	uint8_t *before = NULL;
	size_t before_len = d->len;
	void *copy = fuzz_dup(p, n);
	int rv;

	if (d->len > 0) {
		before = fuzz_dup(d->buf, d->len);
	}
	rv = batch_decode_dict(n > 0 ? copy : NULL, n, flags, 0, use, &out);
	free(copy);
	if (rv != 0) {
		FUZZ_CHECK(rv < 0 && rv != BATCH_E_ARG && rv != BATCH_E_INVALID,
			   "batch_decode_dict returned %d", rv);
		FUZZ_CHECK(out == NULL, "*out written on error");
		FUZZ_CHECK(d->len == before_len &&
			       (before_len == 0 ||
				memcmp(d->buf, before, before_len) == 0),
			   "a refused payload changed the history");
		FUZZ_CHECK(use != NULL || (flags & FRAME_FLAG_DICT) == 0 ||
			       rv == BATCH_E_DICT || rv == BATCH_E_FLAGS,
			   "dictionary frame without a history: %s",
			   batch_strerror(rv));
		batch_dict_reset(d); /* the receiver drops the connection */
	} else {
		FUZZ_CHECK(out != NULL, "0 without a batch");
		FUZZ_CHECK(use != NULL || (flags & FRAME_FLAG_DICT) == 0,
			   "dictionary frame decoded without a history");
		FUZZ_CHECK(d->len <= BATCH_DICT_MAX, "history of %zu bytes",
			   d->len);
		validate(out);
		poolpair__repl__record_batch__free_unpacked(out, NULL);
	}
	free(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch_dict enc, dec, rx;
	size_t pos = 0;
	unsigned steps = 0;

	batch_dict_init(&enc);
	batch_dict_init(&dec);
	batch_dict_init(&rx);
	while (size - pos >= 3 && steps < MAX_STEPS) {
		uint8_t kind = data[pos];
		size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;

		pos += 3;
		if (len > size - pos) {
			len = size - pos;
		}
		if (kind % 2 == 0) {
			round_trip(data + pos, len, &enc, &dec);
		} else {
			wire(data + pos, len, kind, &rx);
		}
		pos += len;
		steps++;
	}
	batch_dict_close(&enc);
	batch_dict_close(&dec);
	batch_dict_close(&rx);
	return 0;
}
