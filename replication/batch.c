/* batch: RecordBatch protobuf, lz4 block with a u32 raw-size prefix, on
 * its own or against the connection's history (dictionary mode). */
#include "replication/batch.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

#include "replication/crc32c.h"
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

/* Room for history kept between batches: what is allocated above this
 * after a large batch is given back. */
#define DICT_KEEP_CAP (BATCH_DICT_MAX + ((size_t)64 << 10))

/* Common checks of the encoders; the batch view of recs in *b, its packed
 * size in *raw_len. */
static int encode_prepare(const Poolpair__Repl__ChangeRecord *const *recs,
			  size_t n, void **payload, size_t *len,
			  uint16_t *flags, Poolpair__Repl__RecordBatch *b,
			  size_t *raw_len)
{
	if (payload == NULL || len == NULL || flags == NULL ||
	    (recs == NULL && n > 0))
		return BATCH_E_ARG;
	for (size_t i = 0; i < n; i++)
		if (recs[i] == NULL)
			return BATCH_E_ARG;
	/* protobuf-c only reads the records while packing. */
	b->n_records = n;
	b->records = (Poolpair__Repl__ChangeRecord **)recs;
	*raw_len = poolpair__repl__record_batch__get_packed_size(b);
	if (*raw_len > BATCH_DEFAULT_MAX_RAW || n > BATCH_MAX_RECORDS)
		return BATCH_E_TOO_LARGE;
	return 0;
}

static void encode_done(void *payload, size_t len, uint16_t flags,
			size_t raw_len, void **payload_out, size_t *len_out,
			uint16_t *flags_out, struct batch_stats *st)
{
	*payload_out = payload;
	*len_out = len;
	*flags_out = flags;
	if (st != NULL) {
		st->raw_bytes = raw_len;
		st->wire_bytes = len;
	}
}

int batch_encode(const Poolpair__Repl__ChangeRecord *const *recs, size_t n,
		 void **payload, size_t *len, uint16_t *flags,
		 struct batch_stats *st)
{
	Poolpair__Repl__RecordBatch b = POOLPAIR__REPL__RECORD_BATCH__INIT;
	uint8_t *raw, *z;
	size_t raw_len;
	int bound, zlen, rc;

	rc = encode_prepare(recs, n, payload, len, flags, &b, &raw_len);
	if (rc != 0)
		return rc;
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
		encode_done(shrunk != NULL ? shrunk : z,
			    BATCH_PREFIX_LEN + (size_t)zlen, FRAME_FLAG_LZ4,
			    raw_len, payload, len, flags, st);
		free(raw);
	} else {
		/* Compression did not help (or had no memory): send raw. */
		free(z);
		encode_done(raw, raw_len, 0, raw_len, payload, len, flags, st);
	}
	return 0;
}

/* ---- dictionary mode ---------------------------------------------------- */

void batch_dict_init(struct batch_dict *d) { memset(d, 0, sizeof(*d)); }

void batch_dict_close(struct batch_dict *d)
{
	if (d == NULL)
		return;
	free(d->buf);
	if (d->lz != NULL)
		LZ4_freeStream(d->lz);
	memset(d, 0, sizeof(*d));
}

void batch_dict_reset(struct batch_dict *d)
{
	d->len = 0;
	if (d->cap > DICT_KEEP_CAP) {
		free(d->buf);
		d->buf = NULL;
		d->cap = 0;
	}
	/* forget the old history and every position lz4 indexed in it */
	if (d->lz != NULL)
		LZ4_initStream(d->lz, sizeof(LZ4_stream_t));
}

/* Encoder: move the history to a new buffer of cap bytes. The stream
 * refers to the history where it is, so LZ4_saveDict does the move: it
 * copies the bytes and re-points the stream without indexing them again.
 * On failure nothing changes. */
static int enc_move(struct batch_dict *d, size_t cap)
{
	uint8_t *nb = malloc(cap);

	if (nb == NULL)
		return BATCH_E_NOMEM;
	d->len = (size_t)LZ4_saveDict(d->lz, (char *)nb, (int)d->len);
	free(d->buf);
	d->buf = nb;
	d->cap = cap;
	return 0;
}

/* Encoder: make room for need raw bytes right after the history, where
 * lz4 reads them as the continuation of its prefix. */
static int enc_reserve(struct batch_dict *d, size_t need)
{
	size_t cap;

	if (d->lz == NULL) {
		if (d->len > 0)
			return BATCH_E_ARG; /* a decoder's history */
		d->lz = LZ4_createStream();
		if (d->lz == NULL)
			return BATCH_E_NOMEM;
	}
	if (d->buf != NULL && d->cap - d->len >= need)
		return 0;
	cap = d->len + need;
	if (cap < DICT_KEEP_CAP)
		cap = DICT_KEEP_CAP;
	return enc_move(d, cap);
}

int batch_encode_dict(const Poolpair__Repl__ChangeRecord *const *recs, size_t n,
		      struct batch_dict *dict, void **payload, size_t *len,
		      uint16_t *flags, struct batch_stats *st)
{
	Poolpair__Repl__RecordBatch b = POOLPAIR__REPL__RECORD_BATCH__INIT;
	uint8_t *raw, *z, *shrunk;
	size_t raw_len, out_len;
	uint16_t out_flags;
	int bound, zlen, rc;

	if (dict == NULL)
		return BATCH_E_ARG;
	rc = encode_prepare(recs, n, payload, len, flags, &b, &raw_len);
	if (rc != 0)
		return rc;
	if (raw_len == 0) {
		/* nothing to add to the history */
		z = malloc(1);
		if (z == NULL)
			return BATCH_E_NOMEM;
		encode_done(z, 0, 0, 0, payload, len, flags, st);
		return 0;
	}
	rc = enc_reserve(dict, raw_len);
	if (rc != 0)
		return rc;
	raw = dict->buf + dict->len;
	if (poolpair__repl__record_batch__pack(&b, raw) != raw_len)
		return BATCH_E_ARG;
	/* Big enough for the compressed block or, when that does not help,
	 * for the raw batch (the bound is never below the raw size), so
	 * nothing can fail once the stream has taken the batch. */
	bound = LZ4_compressBound((int)raw_len);
	z = malloc(BATCH_DICT_PREFIX_LEN + (size_t)bound);
	if (z == NULL)
		return BATCH_E_NOMEM;
	/* raw follows the history in memory: lz4 sees history + raw as one
	 * stream and may refer back into the history */
	zlen = LZ4_compress_fast_continue(dict->lz, (const char *)raw,
					  (char *)z + BATCH_DICT_PREFIX_LEN,
					  (int)raw_len, bound, 1);
	if (zlen > 0 && BATCH_DICT_PREFIX_LEN + (size_t)zlen < raw_len) {
		put_le32(z, (uint32_t)raw_len);
		put_le32(z + BATCH_PREFIX_LEN, crc32c(0, raw, raw_len));
		out_len = BATCH_DICT_PREFIX_LEN + (size_t)zlen;
		out_flags = FRAME_FLAG_LZ4 | FRAME_FLAG_DICT;
	} else {
		memcpy(z, raw, raw_len);
		out_len = raw_len;
		out_flags = 0;
	}
	if (zlen > 0) {
		/* keep the last BATCH_DICT_MAX bytes of history + raw */
		dict->len = (size_t)LZ4_saveDict(dict->lz, (char *)dict->buf,
						 (int)BATCH_DICT_MAX);
	} else {
		/* lz4 refused the block (it cannot with this bound): start
		 * the history over from its bytes, as the decoder keeps it */
		size_t total = dict->len + raw_len;
		size_t keep = total < BATCH_DICT_MAX ? total : BATCH_DICT_MAX;

		memmove(dict->buf, dict->buf + total - keep, keep);
		dict->len = keep;
		LZ4_loadDict(dict->lz, (const char *)dict->buf, (int)keep);
	}
	if (dict->cap > DICT_KEEP_CAP)
		(void)enc_move(dict, DICT_KEEP_CAP); /* else keep the room */
	shrunk = realloc(z, out_len > 0 ? out_len : 1);
	encode_done(shrunk != NULL ? shrunk : z, out_len, out_flags, raw_len,
		    payload, len, flags, st);
	return 0;
}

/* The records a packed RecordBatch holds: its top-level field-1 tags,
 * counted without allocating. Stops counting past BATCH_MAX_RECORDS.
 * Returns the count, or -1 when the bytes are no protobuf message (left
 * to protobuf-c to refuse). */
static long count_records(const uint8_t *p, size_t len)
{
	size_t i = 0;
	long n = 0;

	while (i < len && n <= (long)BATCH_MAX_RECORDS) {
		uint64_t tag = 0, v = 0;
		unsigned shift;

		for (shift = 0; i < len && shift < 64; shift += 7) {
			tag |= (uint64_t)(p[i] & 0x7f) << shift;
			if ((p[i++] & 0x80) == 0)
				break;
		}
		if (shift >= 64 || (i == len && (p[i - 1] & 0x80) != 0))
			return -1;
		switch (tag & 7) {
		case 0: /* varint */
			while (i < len && (p[i] & 0x80) != 0)
				i++;
			if (i++ >= len)
				return -1;
			break;
		case 1: /* fixed64 */
			if (len - i < 8)
				return -1;
			i += 8;
			break;
		case 5: /* fixed32 */
			if (len - i < 4)
				return -1;
			i += 4;
			break;
		case 2: /* length-delimited */
			for (shift = 0; i < len && shift < 64; shift += 7) {
				v |= (uint64_t)(p[i] & 0x7f) << shift;
				if ((p[i++] & 0x80) == 0)
					break;
			}
			if (shift >= 64 || (p[i - 1] & 0x80) != 0 ||
			    v > len - i)
				return -1;
			i += (size_t)v;
			if (tag >> 3 == 1)
				n++;
			break;
		default:
			return -1;
		}
	}
	return n;
}

/* protobuf-c allocates through this while it unpacks a batch: every
 * allocation is counted (with BATCH_ALLOC_OVERHEAD for malloc's own) and
 * refused once the budget is spent, so that a few bytes on the wire cannot
 * make it allocate much more. What it gives is malloc()ed: the message is
 * freed with free_unpacked(..., NULL) as usual. */
struct budget {
	size_t left;
	size_t charged; /* allocated so far, malloc's share included */
	int spent;	/* an allocation was refused */
};

#define BATCH_ALLOC_OVERHEAD 16

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;
	size_t cost = size + BATCH_ALLOC_OVERHEAD;

	if (cost < size || cost > b->left) {
		b->spent = 1;
		return NULL;
	}
	b->left -= cost;
	b->charged += cost;
	return malloc(size > 0 ? size : 1);
}

static void budget_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

size_t batch_unpack_budget(size_t raw_len, size_t n_records)
{
	/* per record: its struct, its slot in the array, and malloc's
	 * share of it and of its strings; the strings' bytes and the
	 * fields of a newer peer are in raw_len (twice: their copies and
	 * what protobuf-c keeps of each unknown field) */
	size_t per_record = sizeof(Poolpair__Repl__ChangeRecord) +
			    sizeof(void *) + 8 * BATCH_ALLOC_OVERHEAD;

	return 2 * raw_len + n_records * per_record + BATCH_BUDGET_BASE;
}

int batch_unpack(const void *raw, size_t len, Poolpair__Repl__RecordBatch **out,
		 size_t *charged)
{
	static const uint8_t empty[1];
	Poolpair__Repl__RecordBatch *b;
	struct budget budget = {0, 0, 0};
	ProtobufCAllocator a = {budget_alloc, budget_free, &budget};
	long n;

	if (charged != NULL)
		*charged = 0;
	if (out == NULL || (raw == NULL && len > 0))
		return BATCH_E_ARG;
	n = count_records(raw, len);
	if (n > (long)BATCH_MAX_RECORDS)
		return BATCH_E_BUDGET;
	budget.left = batch_unpack_budget(len, n > 0 ? (size_t)n : 0);
	b = poolpair__repl__record_batch__unpack(&a, len,
						 len > 0 ? raw : empty);
	if (charged != NULL)
		*charged = budget.charged;
	if (b == NULL)
		return budget.spent ? BATCH_E_BUDGET : BATCH_E_PROTO;
	*out = b;
	return 0;
}

static int unpack(const uint8_t *p, size_t len,
		  Poolpair__Repl__RecordBatch **out)
{
	return batch_unpack(p, len, out, NULL);
}

/* The flag checks of both decoders. */
static int decode_flags(uint16_t flags, const struct batch_dict *dict)
{
	if ((flags & ~(FRAME_FLAG_LZ4 | FRAME_FLAG_DICT)) != 0)
		return BATCH_E_FLAGS;
	if ((flags & FRAME_FLAG_DICT) != 0 && (flags & FRAME_FLAG_LZ4) == 0)
		return BATCH_E_FLAGS;
	if ((flags & FRAME_FLAG_DICT) != 0 && dict == NULL)
		return BATCH_E_DICT;
	return 0;
}

/* The size prefix of an lz4 payload, checked against max_raw. */
static int decode_prefix(const uint8_t *p, size_t len, size_t max_raw,
			 uint32_t *raw_len)
{
	if (len < BATCH_PREFIX_LEN)
		return BATCH_E_CORRUPT;
	*raw_len = get_le32(p);
	if (*raw_len > max_raw || *raw_len > LZ4_MAX_INPUT_SIZE)
		return BATCH_E_TOO_LARGE;
	if (len - BATCH_PREFIX_LEN > (size_t)LZ4_MAX_INPUT_SIZE)
		return BATCH_E_CORRUPT;
	return 0;
}

int batch_decode(const void *payload, size_t len, uint16_t flags,
		 size_t max_raw, Poolpair__Repl__RecordBatch **out)
{
	return batch_decode_dict(payload, len, flags, max_raw, NULL, out);
}

/* Decoder: room for need bytes after the history (need <= max_raw, which
 * the caller checked). */
static int dec_reserve(struct batch_dict *d, size_t need)
{
	size_t cap;
	uint8_t *nb;

	if (d->lz != NULL)
		return BATCH_E_ARG; /* an encoder's history */
	if (d->buf != NULL && d->cap - d->len >= need)
		return 0;
	cap = d->len + need;
	if (cap < DICT_KEEP_CAP)
		cap = DICT_KEEP_CAP;
	nb = realloc(d->buf, cap);
	if (nb == NULL)
		return BATCH_E_NOMEM;
	d->buf = nb;
	d->cap = cap;
	return 0;
}

/* Decoder: the added bytes after the history joined it; keep the last
 * BATCH_DICT_MAX and give back room a large batch took. */
static void dec_slide(struct batch_dict *d, size_t added)
{
	size_t total = d->len + added;
	uint8_t *nb;

	if (total > BATCH_DICT_MAX) {
		memmove(d->buf, d->buf + total - BATCH_DICT_MAX,
			BATCH_DICT_MAX);
		total = BATCH_DICT_MAX;
	}
	d->len = total;
	if (d->cap > DICT_KEEP_CAP) {
		nb = realloc(d->buf, DICT_KEEP_CAP);
		if (nb != NULL) {
			d->buf = nb;
			d->cap = DICT_KEEP_CAP;
		}
	}
}

/* Dictionary mode: the raw batch is put right after the history, unpacked
 * from there, and joins the history only when it decoded. */
static int decode_with_dict(const uint8_t *p, size_t len, uint16_t flags,
			    size_t max_raw, struct batch_dict *d,
			    Poolpair__Repl__RecordBatch **out)
{
	uint8_t *raw;
	uint32_t raw_len;
	int rc;

	if ((flags & FRAME_FLAG_LZ4) == 0) {
		if (len > max_raw)
			return BATCH_E_TOO_LARGE;
		rc = dec_reserve(d, len);
		if (rc != 0)
			return rc;
		raw = d->buf + d->len;
		if (len > 0)
			memcpy(raw, p, len);
		raw_len = (uint32_t)len;
	} else {
		rc = decode_prefix(p, len, max_raw, &raw_len);
		if (rc != 0)
			return rc;
		rc = dec_reserve(d, raw_len);
		if (rc != 0)
			return rc;
		raw = d->buf + d->len;
		if ((flags & FRAME_FLAG_DICT) != 0) {
			if (len < BATCH_DICT_PREFIX_LEN)
				return BATCH_E_CORRUPT;
			rc = LZ4_decompress_safe_usingDict(
			    (const char *)p + BATCH_DICT_PREFIX_LEN,
			    (char *)raw, (int)(len - BATCH_DICT_PREFIX_LEN),
			    (int)raw_len, (const char *)d->buf, (int)d->len);
			if (rc >= 0 && (uint32_t)rc == raw_len &&
			    crc32c(0, raw, raw_len) !=
				get_le32(p + BATCH_PREFIX_LEN))
				return BATCH_E_CORRUPT; /* another history */
		} else {
			rc = LZ4_decompress_safe(
			    (const char *)p + BATCH_PREFIX_LEN, (char *)raw,
			    (int)(len - BATCH_PREFIX_LEN), (int)raw_len);
		}
		if (rc < 0 || (uint32_t)rc != raw_len)
			return BATCH_E_CORRUPT;
	}
	rc = unpack(raw, raw_len, out);
	if (rc != 0)
		return rc;
	dec_slide(d, raw_len);
	return 0;
}

int batch_decode_dict(const void *payload, size_t len, uint16_t flags,
		      size_t max_raw, struct batch_dict *dict,
		      Poolpair__Repl__RecordBatch **out)
{
	const uint8_t *p = payload;
	uint8_t *raw;
	uint32_t raw_len;
	int rc;

	if (out == NULL || (payload == NULL && len > 0))
		return BATCH_E_ARG;
	rc = decode_flags(flags, dict);
	if (rc != 0)
		return rc;
	if (max_raw == 0)
		max_raw = BATCH_DEFAULT_MAX_RAW;
	if (dict != NULL)
		return decode_with_dict(p, len, flags, max_raw, dict, out);
	if ((flags & FRAME_FLAG_LZ4) == 0) {
		if (len > max_raw)
			return BATCH_E_TOO_LARGE;
		return unpack(p, len, out);
	}
	rc = decode_prefix(p, len, max_raw, &raw_len);
	if (rc != 0)
		return rc;
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

/* Checks of one record on its own; i is its index for messages. seed: an
 * item state of a seed batch (any seq; a disabled user is a delete that
 * carries its home pool; no other delete). */
static int record_check(const Poolpair__Repl__ChangeRecord *r, size_t i,
			int seed, char *errbuf, size_t len)
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
	if (r->seq == 0 && !seed)
		return invalid(errbuf, len, "record %zu: seq 0", i);
	if (seed && (r->kind == POOLPAIR__REPL__KIND__KIND_CONTENT) !=
			(r->lane == POOLPAIR__REPL__LANE__LANE_CONTENT))
		return invalid(
		    errbuf, len, "record %zu: %s item on the %s lane", i,
		    r->kind == POOLPAIR__REPL__KIND__KIND_CONTENT ? "content"
								  : "data",
		    lane_name((int)r->lane));
	if (seed && r->kind == POOLPAIR__REPL__KIND__KIND_CONTENT &&
	    r->op != POOLPAIR__REPL__OP__OP_CONTENT_CHUNK)
		return invalid(errbuf, len,
			       "record %zu: content item state other than a "
			       "chunk",
			       i);
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
		if (seed && r->kind != POOLPAIR__REPL__KIND__KIND_USER)
			return invalid(errbuf, len,
				       "record %zu: delete in a seed of other "
				       "than a user",
				       i);
		if (seed && vlen > BATCH_USER_SET_MAX)
			return invalid(errbuf, len,
				       "record %zu: home pool of %zu bytes", i,
				       vlen);
		if (vlen > 0 && !seed)
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
		rc = record_check(b->records[i], i, 0, errbuf, len);
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

int batch_validate_seed(const Poolpair__Repl__RecordBatch *b, char *errbuf,
			size_t len)
{
	const Poolpair__Repl__ChangeRecord *first;

	if (b == NULL || (b->records == NULL && b->n_records > 0))
		return BATCH_E_ARG;
	if (b->n_records == 0)
		return invalid(errbuf, len, "seed batch without records");
	for (size_t i = 0; i < b->n_records; i++) {
		if (b->records[i] == NULL)
			return BATCH_E_ARG;
		int rc = record_check(b->records[i], i, 1, errbuf, len);
		if (rc != 0)
			return rc;
	}
	first = b->records[0];
	for (size_t i = 1; i < b->n_records; i++) {
		const Poolpair__Repl__ChangeRecord *r = b->records[i];

		if (r->lane != first->lane ||
		    strcmp(r->user_set, first->user_set) != 0)
			return invalid(errbuf, len,
				       "record %zu: %s/%s in a seed batch of "
				       "%s/%s",
				       i, r->user_set, lane_name((int)r->lane),
				       first->user_set,
				       lane_name((int)first->lane));
	}
	return 0;
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
	case BATCH_E_DICT:
		return "dictionary batch without the dictionary mode";
	case BATCH_E_BUDGET:
		return "batch would unpack into more records or memory than "
		       "its size allows";
	default:
		return "unknown batch error";
	}
}
