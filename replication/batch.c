/* batch: RecordBatch protobuf, lz4 block with a u32 raw-size prefix. */
#include "replication/batch.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

#include "replication/frame.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int batch_encode(const Poolpair__Repl__ChangeRecord *const *recs, size_t n,
		 void **payload, size_t *len, uint16_t *flags,
		 struct batch_stats *st)
{
	Poolpair__Repl__RecordBatch b = POOLPAIR__REPL__RECORD_BATCH__INIT;
	uint8_t *raw, *z;
	size_t raw_len;
	int bound, zlen;

	if (payload == NULL || len == NULL || flags == NULL ||
	    (recs == NULL && n > 0))
		return BATCH_E_ARG;
	for (size_t i = 0; i < n; i++)
		if (recs[i] == NULL)
			return BATCH_E_ARG;
	/* protobuf-c only reads the records while packing. */
	b.n_records = n;
	b.records = (Poolpair__Repl__ChangeRecord **)recs;
	raw_len = poolpair__repl__record_batch__get_packed_size(&b);
	if (raw_len > BATCH_DEFAULT_MAX_RAW)
		return BATCH_E_TOO_LARGE;
	raw = malloc(raw_len > 0 ? raw_len : 1);
	if (raw == NULL)
		return BATCH_E_NOMEM;
	if (poolpair__repl__record_batch__pack(&b, raw) != raw_len) {
		free(raw);
		return BATCH_E_ARG;
	}
	bound = LZ4_compressBound((int)raw_len);
	z = raw_len > 0 ? malloc(BATCH_PREFIX_LEN + (size_t)bound) : NULL;
	zlen = z == NULL ? 0
			 : LZ4_compress_default((const char *)raw,
						(char *)z + BATCH_PREFIX_LEN,
						(int)raw_len, bound);
	if (zlen > 0 && BATCH_PREFIX_LEN + (size_t)zlen < raw_len) {
		uint8_t *shrunk;

		put_le32(z, (uint32_t)raw_len);
		shrunk = realloc(z, BATCH_PREFIX_LEN + (size_t)zlen);
		*payload = shrunk != NULL ? shrunk : z;
		*len = BATCH_PREFIX_LEN + (size_t)zlen;
		*flags = FRAME_FLAG_LZ4;
		free(raw);
	} else {
		/* Compression did not help (or had no memory): send raw. */
		free(z);
		*payload = raw;
		*len = raw_len;
		*flags = 0;
	}
	if (st != NULL) {
		st->raw_bytes = raw_len;
		st->wire_bytes = *len;
	}
	return 0;
}

static int unpack(const uint8_t *p, size_t len,
		  Poolpair__Repl__RecordBatch **out)
{
	static const uint8_t empty[1];
	Poolpair__Repl__RecordBatch *b;

	b = poolpair__repl__record_batch__unpack(NULL, len,
						 len > 0 ? p : empty);
	if (b == NULL)
		return BATCH_E_PROTO;
	*out = b;
	return 0;
}

int batch_decode(const void *payload, size_t len, uint16_t flags,
		 size_t max_raw, Poolpair__Repl__RecordBatch **out)
{
	const uint8_t *p = payload;
	uint8_t *raw;
	uint32_t raw_len;
	int rc;

	if (out == NULL || (payload == NULL && len > 0))
		return BATCH_E_ARG;
	if ((flags & ~FRAME_FLAG_LZ4) != 0)
		return BATCH_E_FLAGS;
	if (max_raw == 0)
		max_raw = BATCH_DEFAULT_MAX_RAW;
	if ((flags & FRAME_FLAG_LZ4) == 0) {
		if (len > max_raw)
			return BATCH_E_TOO_LARGE;
		return unpack(p, len, out);
	}
	if (len < BATCH_PREFIX_LEN)
		return BATCH_E_CORRUPT;
	raw_len = get_le32(p);
	if (raw_len > max_raw || raw_len > LZ4_MAX_INPUT_SIZE)
		return BATCH_E_TOO_LARGE;
	if (len - BATCH_PREFIX_LEN > (size_t)LZ4_MAX_INPUT_SIZE)
		return BATCH_E_CORRUPT;
	raw = malloc(raw_len > 0 ? raw_len : 1);
	if (raw == NULL)
		return BATCH_E_NOMEM;
	rc =
	    LZ4_decompress_safe((const char *)p + BATCH_PREFIX_LEN, (char *)raw,
				(int)(len - BATCH_PREFIX_LEN), (int)raw_len);
	if (rc < 0 || (uint32_t)rc != raw_len) {
		free(raw);
		return BATCH_E_CORRUPT;
	}
	rc = unpack(raw, raw_len, out);
	free(raw);
	return rc;
}

static const char *lane_name(int lane)
{
	return lane == POOLPAIR__REPL__LANE__LANE_CONTENT ? "content" : "data";
}

static int invalid(char *errbuf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int invalid(char *errbuf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (errbuf != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, len, fmt, ap);
		va_end(ap);
	}
	return BATCH_E_INVALID;
}

/* Checks of one record on its own; i is its index for messages. */
static int record_check(const Poolpair__Repl__ChangeRecord *r, size_t i,
			char *errbuf, size_t len)
{
	const char *us = r->user_set != NULL ? r->user_set : "";
	const char *key = r->key != NULL ? r->key : "";
	size_t vlen = r->value.len;

	if (us[0] == '\0')
		return invalid(errbuf, len, "record %zu: empty user set", i);
	if (strlen(us) > BATCH_USER_SET_MAX)
		return invalid(errbuf, len,
			       "record %zu: user set longer than %d bytes", i,
			       BATCH_USER_SET_MAX);
	if (key[0] == '\0')
		return invalid(errbuf, len, "record %zu: empty key", i);
	if (strlen(key) > BATCH_KEY_MAX)
		return invalid(errbuf, len,
			       "record %zu: key longer than %d bytes", i,
			       BATCH_KEY_MAX);
	if ((unsigned)r->kind > POOLPAIR__REPL__KIND__KIND_USER)
		return invalid(errbuf, len, "record %zu: unknown kind %d", i,
			       (int)r->kind);
	if ((unsigned)r->lane > POOLPAIR__REPL__LANE__LANE_CONTENT)
		return invalid(errbuf, len, "record %zu: unknown lane %d", i,
			       (int)r->lane);
	if (r->seq == 0)
		return invalid(errbuf, len, "record %zu: seq 0", i);
	if (vlen > 0 && r->value.data == NULL)
		return invalid(errbuf, len, "record %zu: value without data",
			       i);
	switch (r->op) {
	case POOLPAIR__REPL__OP__OP_PUT:
		if (vlen > BATCH_VALUE_MAX)
			return invalid(errbuf, len,
				       "record %zu: value of %zu bytes over "
				       "%zu",
				       i, vlen, BATCH_VALUE_MAX);
		break;
	case POOLPAIR__REPL__OP__OP_DELETE:
		if (vlen > 0)
			return invalid(errbuf, len,
				       "record %zu: delete carries a value", i);
		break;
	case POOLPAIR__REPL__OP__OP_CONTENT_CHUNK:
		if (r->kind != POOLPAIR__REPL__KIND__KIND_CONTENT ||
		    r->lane != POOLPAIR__REPL__LANE__LANE_CONTENT)
			return invalid(errbuf, len,
				       "record %zu: content chunk outside the "
				       "content kind and lane",
				       i);
		if (vlen > BATCH_CHUNK_MAX)
			return invalid(
			    errbuf, len,
			    "record %zu: chunk of %zu bytes over %zu", i, vlen,
			    BATCH_CHUNK_MAX);
		if (vlen > r->total || r->offset > r->total - vlen)
			return invalid(errbuf, len,
				       "record %zu: chunk at %" PRIu64
				       " of %zu bytes past total %" PRIu64,
				       i, r->offset, vlen, r->total);
		break;
	default:
		return invalid(errbuf, len, "record %zu: unknown op %d", i,
			       (int)r->op);
	}
	return 0;
}

/* One record's place in its stream, for the sequence check. */
struct seq_key {
	const char *user_set;
	int lane;
	size_t index;
	uint64_t seq;
};

static int seq_key_cmp(const void *a, const void *b)
{
	const struct seq_key *x = a, *y = b;
	int c = strcmp(x->user_set, y->user_set);

	if (c != 0)
		return c;
	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

int batch_validate(const Poolpair__Repl__RecordBatch *b, char *errbuf,
		   size_t len)
{
	struct seq_key *keys;
	int rc = 0;

	if (b == NULL || (b->records == NULL && b->n_records > 0))
		return BATCH_E_ARG;
	for (size_t i = 0; i < b->n_records; i++) {
		if (b->records[i] == NULL)
			return BATCH_E_ARG;
		rc = record_check(b->records[i], i, errbuf, len);
		if (rc != 0)
			return rc;
	}
	if (b->n_records < 2)
		return 0;
	/* Sort by stream, keeping batch order within each stream, then
	 * compare neighbours: O(n log n) whatever the batch holds. */
	keys = calloc(b->n_records, sizeof(*keys));
	if (keys == NULL)
		return BATCH_E_NOMEM;
	for (size_t i = 0; i < b->n_records; i++) {
		keys[i].user_set = b->records[i]->user_set;
		keys[i].lane = (int)b->records[i]->lane;
		keys[i].index = i;
		keys[i].seq = b->records[i]->seq;
	}
	qsort(keys, b->n_records, sizeof(*keys), seq_key_cmp);
	for (size_t i = 1; i < b->n_records && rc == 0; i++) {
		const struct seq_key *x = &keys[i - 1], *y = &keys[i];

		if (strcmp(x->user_set, y->user_set) == 0 &&
		    x->lane == y->lane && y->seq <= x->seq)
			rc = invalid(errbuf, len,
				     "record %zu: seq %" PRIu64
				     " does not follow %" PRIu64 " for %s/%s",
				     y->index, y->seq, x->seq, y->user_set,
				     lane_name(y->lane));
	}
	free(keys);
	return rc;
}

const char *batch_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case BATCH_E_ARG:
		return "invalid argument";
	case BATCH_E_NOMEM:
		return "out of memory";
	case BATCH_E_TOO_LARGE:
		return "batch too large";
	case BATCH_E_CORRUPT:
		return "corrupt lz4 block";
	case BATCH_E_PROTO:
		return "undecodable record batch";
	case BATCH_E_FLAGS:
		return "unknown batch flags";
	case BATCH_E_INVALID:
		return "invalid record";
	default:
		return "unknown batch error";
	}
}
