/* make_corpus: writes the seed corpora of the fuzz targets.
 *
 *   make_corpus OUTDIR
 *
 * creates OUTDIR/TARGET/NAME for every target of fuzz/meson.build: small
 * valid inputs built with the project's own encoders (frames, batches,
 * commands, snapshots) or written out as text (HTTP requests, JSON bodies,
 * configuration files), and near-valid ones (a checksum off, a length
 * past the end, a field of the wrong type). The input layout of each
 * target is described at the top of its fuzz_TARGET.c. Run by
 * fuzz/make-corpus, which refreshes fuzz/corpus/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/request.h"
#include "consensus/fsm.h"
#include "fuzz/fuzz_cmd.h"
#include "replication/batch.h"
#include "replication/crc32c.h"
#include "replication/frame.h"

static const char *outdir;
static unsigned written;

static void die(const char *what)
{
	fprintf(stderr, "make_corpus: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put(const char *target, const char *name, const void *buf,
		size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", outdir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		die(path);
	}
	snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	if (f == NULL) {
		die(path);
	}
	if (len > 0 && fwrite(buf, 1, len, f) != len) {
		die(path);
	}
	if (fclose(f) != 0) {
		die(path);
	}
	written++;
}

static void put_text(const char *target, const char *name, const char *text)
{
	put(target, name, text, strlen(text));
}

/* A growable byte buffer. */
struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = (b->len + len) * 2 + 64;
		uint8_t *p = realloc(b->p, cap);

		if (p == NULL) {
			die("realloc");
		}
		b->p = p;
		b->cap = cap;
	}
	if (len > 0) {
		memcpy(b->p + b->len, data, len);
	}
	b->len += len;
}

static void add_u8(struct buf *b, uint8_t v)
{
	add(b, &v, 1);
}

static void add_u16(struct buf *b, uint16_t v)
{
	add_u8(b, (uint8_t)v);
	add_u8(b, (uint8_t)(v >> 8));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ---- records and batches ------------------------------------------ */

#define N_RECS 6

static char big_value[8192];

/* Fills recs[0..N_RECS) with a small mixed batch of pool-east. */
static void sample_records(Poolpair__Repl__ChangeRecord recs[N_RECS])
{
	static const char *const keys[N_RECS] = {
	    "sip:alice@example.com/contacts", "sip:alice@example.com/settings",
	    "sip:bob@example.com/profile",    "sip:bob@example.com/contacts",
	    "conf/42/slides.pptx",	      "conf/42/slides.pptx"};
	unsigned i;

	for (i = 0; i < N_RECS; i++) {
		poolpair__repl__change_record__init(&recs[i]);
		recs[i].user_set = (char *)"pool-east";
		recs[i].epoch = 3;
		recs[i].seq = 10 + i;
		recs[i].hlc = ((uint64_t)1764150000000ull << 16) | i;
		recs[i].key = (char *)keys[i];
		recs[i].value.data = (uint8_t *)"{\"groups\":[\"team\"]}";
		recs[i].value.len = 20;
	}
	recs[1].kind = POOLPAIR__REPL__KIND__KIND_SETTINGS;
	recs[2].kind = POOLPAIR__REPL__KIND__KIND_PROFILE;
	recs[3].op = POOLPAIR__REPL__OP__OP_DELETE;
	recs[3].value.data = NULL;
	recs[3].value.len = 0;
	for (i = 4; i < N_RECS; i++) {
		recs[i].op = POOLPAIR__REPL__OP__OP_CONTENT_CHUNK;
		recs[i].kind = POOLPAIR__REPL__KIND__KIND_CONTENT;
		recs[i].lane = POOLPAIR__REPL__LANE__LANE_CONTENT;
		recs[i].seq = i - 3;
		recs[i].value.data = (uint8_t *)big_value;
		recs[i].value.len = 1000;
		recs[i].offset = (i - 4) * 1000;
		recs[i].total = 2000;
	}
}

/* Encode n records of recs; *flags as batch_encode() sets them. */
static void *encode(Poolpair__Repl__ChangeRecord *recs, size_t n,
		    size_t *len, uint16_t *flags)
{
	const Poolpair__Repl__ChangeRecord *ptrs[N_RECS + 2];
	void *payload;
	size_t i;

	for (i = 0; i < n; i++) {
		ptrs[i] = &recs[i];
	}
	if (batch_encode(ptrs, n, &payload, len, flags, NULL) != 0) {
		fputs("make_corpus: batch_encode failed\n", stderr);
		exit(1);
	}
	return payload;
}

/* Packed RecordBatch of n records (for batch mode 2). */
static void *pack_batch(Poolpair__Repl__ChangeRecord *recs, size_t n,
			size_t *len)
{
	Poolpair__Repl__ChangeRecord *ptrs[N_RECS + 2];
	Poolpair__Repl__RecordBatch b = POOLPAIR__REPL__RECORD_BATCH__INIT;
	void *out;
	size_t i;

	for (i = 0; i < n; i++) {
		ptrs[i] = &recs[i];
	}
	b.n_records = n;
	b.records = ptrs;
	*len = poolpair__repl__record_batch__get_packed_size(&b);
	out = malloc(*len + 1);
	if (out == NULL) {
		die("malloc");
	}
	poolpair__repl__record_batch__pack(&b, out);
	return out;
}

static void put_batch(const char *name, uint8_t mode, const void *p,
		      size_t len)
{
	struct buf b = {0};

	add_u8(&b, mode);
	add(&b, p, len);
	put("batch", name, b.p, b.len);
	free(b.p);
}

static void batch_corpus(void)
{
	Poolpair__Repl__ChangeRecord recs[N_RECS];
	struct buf b = {0};
	uint16_t flags;
	size_t len;
	void *p;

	sample_records(recs);
	p = encode(recs, 4, &len, &flags);
	put_batch("data-plain", 0, p, len);
	free(p);

	/* compressible values: batch_encode picks lz4 */
	memset(big_value, 'a', sizeof big_value);
	p = encode(recs, N_RECS, &len, &flags);
	put_batch(flags ? "content-lz4" : "content-plain", flags ? 1 : 0, p,
		  len);
	if (flags != 0 && len > 8) {
		uint8_t *q = malloc(len);

		if (q == NULL) {
			die("malloc");
		}
		memcpy(q, p, len);
		put_le32(q, 17); /* declared raw size that is wrong */
		put_batch("lz4-bad-size", 1, q, len);
		memcpy(q, p, len);
		q[len / 2] ^= 0x40;
		put_batch("lz4-flipped", 1, q, len);
		put_batch("lz4-truncated", 1, p, len - 3);
		free(q);
	}
	free(p);

	p = pack_batch(recs, N_RECS, &len);
	put_batch("packed-for-lz4", 2, p, len);
	free(p);

	p = encode(recs, 0, &len, &flags);
	put_batch("empty", 0, p, len);
	free(p);

	/* invalid records: seq going back, empty key, delete with a value */
	recs[1].seq = 5;
	recs[2].key = (char *)"";
	recs[3].value.data = (uint8_t *)"x";
	recs[3].value.len = 1;
	p = encode(recs, 4, &len, &flags);
	put_batch("invalid-records", 0, p, len);
	free(p);
	sample_records(recs);
	recs[5].offset = 1500; /* past total */
	recs[4].lane = POOLPAIR__REPL__LANE__LANE_DATA;
	p = pack_batch(recs, N_RECS, &len);
	put_batch("invalid-chunks", 2, p, len);
	free(p);

	/* a SEED_RECORDS batch: item states in key order, seqs of their
	 * last changes, a disabled user as a delete with its home pool */
	sample_records(recs);
	recs[0].seq = 90;
	recs[1].seq = 4;
	recs[2].seq = 61;
	recs[3].kind = POOLPAIR__REPL__KIND__KIND_USER;
	recs[3].key = (char *)"sip:carol@example.com";
	recs[3].value.data = (uint8_t *)"pool-east";
	recs[3].value.len = 9;
	p = encode(recs, 4, &len, &flags);
	put_batch("seed-items", 0, p, len);
	free(p);
	sample_records(recs);
	recs[5].seq = 3; /* the item's last change, not a stream order */
	p = encode(recs + 4, 2, &len, &flags);
	put_batch("seed-content", flags ? 1 : 0, p, len);
	free(p);

	/* mode 3: the flags are given */
	p = encode(recs, 2, &len, &flags);
	add_u8(&b, 3);
	add_u16(&b, 0x0003);
	add(&b, p, len);
	put("batch", "flags-3", b.p, b.len);
	b.p[1] = 0x04;
	b.p[2] = 0x80;
	put("batch", "flags-unknown", b.p, b.len);
	free(b.p);
	free(p);
}

/* batch_budget: byte 0 mode, then a packed batch (mode 0) or a size and
 * a pattern (modes 1-3; see fuzz_batch_budget.c). */
static void put_budget(const char *name, uint8_t mode, int sel,
		       const void *p, size_t len)
{
	struct buf b = {0};

	add_u8(&b, mode);
	if (sel >= 0) {
		add_u8(&b, (uint8_t)sel);
	}
	add(&b, p, len);
	put("batch_budget", name, b.p, b.len);
	free(b.p);
}

static void batch_budget_corpus(void)
{
	static const uint8_t empty_record[] = {0x0a, 0x00};
	static const uint8_t unknown_field[] = {0x78, 0x00};
	static const uint8_t small_record[] = {0x0a, 0x06, 0x0a, 0x01,
					       'p',  0x3a, 0x01, 'k'};
	Poolpair__Repl__ChangeRecord recs[N_RECS];
	size_t len;
	void *p;

	sample_records(recs);
	p = pack_batch(recs, N_RECS, &len);
	put_budget("packed", 0, -1, p, len);
	free(p);
	put_budget("empty-records-64k", 1, 16, empty_record,
		   sizeof empty_record);
	put_budget("small-records-4k-lz4", 3, 12, small_record,
		   sizeof small_record);
	put_budget("unknown-fields-64k", 2, 16, unknown_field,
		   sizeof unknown_field);
}

/* batch_dict: steps of kind, u16 length, bytes (see fuzz_batch_dict.c). */
static void add_step(struct buf *b, uint8_t kind, const void *p, size_t len)
{
	add_u8(b, kind);
	add_u16(b, (uint16_t)len);
	add(b, p, len);
}

static void batch_dict_corpus(void)
{
	Poolpair__Repl__ChangeRecord recs[N_RECS];
	const Poolpair__Repl__ChangeRecord *ptrs[N_RECS];
	struct batch_dict sender;
	struct buf rt = {0}, wr = {0};
	unsigned i, k;

	memset(big_value, 'b', sizeof big_value);
	sample_records(recs);
	for (k = 0; k < N_RECS; k++) {
		ptrs[k] = &recs[k];
	}
	batch_dict_init(&sender);
	for (i = 0; i < 4; i++) {
		uint16_t flags;
		size_t len;
		void *p;

		for (k = 0; k < N_RECS; k++) {
			recs[k].seq += N_RECS;
			recs[k].hlc += 1000;
		}
		p = pack_batch(recs, 4, &len);
		add_step(&rt, 0, p, len);
		free(p);
		if (batch_encode_dict(ptrs, 4, &sender, &p, &len, &flags,
				      NULL) != 0) {
			fputs("make_corpus: batch_encode_dict failed\n", stderr);
			exit(1);
		}
		/* kind odd: flags (kind >> 1) & 3; 7 is LZ4 | DICT */
		add_step(&wr, flags != 0 ? 7 : 1, p, len);
		free(p);
	}
	put("batch_dict", "records", rt.p, rt.len);
	put("batch_dict", "wire", wr.p, wr.len);
	add(&rt, wr.p, wr.len);
	put("batch_dict", "both", rt.p, rt.len);
	wr.p[0] = 128 + 7; /* a dictionary frame where the mode is off */
	put("batch_dict", "wire-no-dict", wr.p, wr.len);
	batch_dict_close(&sender);
	free(rt.p);
	free(wr.p);
}

/* ---- frames -------------------------------------------------------- */

/* Append a frame with a correct header. */
static void add_frame(struct buf *b, uint8_t type, uint16_t flags,
		      const void *payload, size_t len)
{
	uint8_t h[FRAME_HEADER_LEN];

	if (frame_encode_header(h, type, flags, payload, len) != 0) {
		fputs("make_corpus: frame_encode_header failed\n", stderr);
		exit(1);
	}
	add(b, h, sizeof h);
	add(b, payload, len);
}

/* Append a frame header with any fields, its header checksum right. */
static void add_raw_header(struct buf *b, uint32_t len, uint8_t type,
			   uint8_t version, uint16_t flags, uint32_t pcrc)
{
	uint8_t h[FRAME_HEADER_LEN];

	put_le32(h, len);
	h[4] = type;
	h[5] = version;
	h[6] = (uint8_t)flags;
	h[7] = (uint8_t)(flags >> 8);
	put_le32(h + 8, pcrc);
	put_le32(h + 12, crc32c(0, h, 12));
	add(b, h, sizeof h);
}

static void put_frames(const char *name, uint8_t max_sel, const struct buf *s)
{
	struct buf b = {0};

	add_u8(&b, max_sel);
	add_u8(&b, 0x5b);
	add_u8(&b, 0x13);
	add(&b, s->p, s->len);
	put("frame", name, b.p, b.len);
	free(b.p);
}

/* A seed on a connection: SEED_BEGIN, SEED_RECORDS, the ACK of its
 * progress, SEED_END, the ACK of F. */
static void put_seed_session(Poolpair__Repl__ChangeRecord recs[N_RECS])
{
	struct buf t = {0};
	Poolpair__Repl__SeedBegin sb = POOLPAIR__REPL__SEED_BEGIN__INIT;
	Poolpair__Repl__SeedEnd se = POOLPAIR__REPL__SEED_END__INIT;
	Poolpair__Repl__SeedProgress sp =
	    POOLPAIR__REPL__SEED_PROGRESS__INIT;
	Poolpair__Repl__StreamPosition pos =
	    POOLPAIR__REPL__STREAM_POSITION__INIT;
	Poolpair__Repl__StreamPosition *pp[1] = {&pos};
	Poolpair__Repl__Ack ack = POOLPAIR__REPL__ACK__INIT;
	uint8_t m[256];
	size_t ml;
	uint16_t flags;
	size_t len;
	void *p;

	add_frame(&t, FRAME_HELLO, 0,
		  "\x0a\x09pool-east\x12\x09pool-west", 22);
	sb.user_set = (char *)"pool-east";
	sb.from_seq = 1200;
	sb.epoch = 3;
	sb.items_total = 4;
	sb.bytes_total = 180;
	ml = poolpair__repl__seed_begin__pack(&sb, m);
	add_frame(&t, FRAME_SEED_BEGIN, 0, m, ml);
	p = encode(recs, 4, &len, &flags);
	add_frame(&t, FRAME_SEED_RECORDS, flags, p, len);
	free(p);
	sp.from_seq = 1200;
	sp.epoch = 3;
	sp.started = 1;
	sp.key = (char *)"sip:bob@example.com/contacts";
	sp.items = 4;
	sp.bytes = 180;
	pos.user_set = (char *)"pool-east";
	pos.seed = &sp;
	ack.positions = pp;
	ack.n_positions = 1;
	ml = poolpair__repl__ack__pack(&ack, m);
	add_frame(&t, FRAME_ACK, 0, m, ml);
	se.user_set = (char *)"pool-east";
	se.from_seq = 1200;
	se.items = 4;
	se.bytes = 180;
	ml = poolpair__repl__seed_end__pack(&se, m);
	add_frame(&t, FRAME_SEED_END, 0, m, ml);
	pos.seed = NULL;
	pos.acked_seq = 1200;
	ml = poolpair__repl__ack__pack(&ack, m);
	add_frame(&t, FRAME_ACK, 0, m, ml);
	put_frames("session-seed", 0, &t);
	free(t.p);
}

static void frame_corpus(void)
{
	Poolpair__Repl__ChangeRecord recs[N_RECS];
	static const char err[] = "stale epoch 2 for pool-east";
	struct buf s = {0};
	uint16_t flags;
	size_t len;
	void *p;

	sample_records(recs);
	add_frame(&s, FRAME_HELLO, 0, "\x0a\x09pool-east\x12\x09pool-west",
		  22);
	p = encode(recs, N_RECS, &len, &flags);
	add_frame(&s, FRAME_RECORDS, flags, p, len);
	free(p);
	add_frame(&s, FRAME_ACK, 0, "\x0a\x09pool-east\x20\x0f", 13);
	add_frame(&s, FRAME_PING, 0, NULL, 0);
	add_frame(&s, FRAME_PONG, 0, NULL, 0);
	put_frames("session", 0, &s);
	put_seed_session(recs);
	put_frames("session-max-100", 4, &s);
	put_frames("session-cut", 0,
		   &(struct buf){s.p, s.len - 7, s.cap}); /* mid-frame */
	s.p[FRAME_HEADER_LEN + 3] ^= 1; /* payload of the HELLO */
	put_frames("payload-crc", 0, &s);
	s.p[FRAME_HEADER_LEN + 3] ^= 1;
	s.p[2] ^= 1; /* length of the first header */
	put_frames("header-crc", 0, &s);
	s.len = 0;

	add_frame(&s, FRAME_ERROR, 0, err, sizeof err - 1);
	put_frames("error", 0, &s);
	s.len = 0;
	add_raw_header(&s, 4, FRAME_PING, FRAME_VERSION, 0, crc32c(0, "abcd", 4));
	add(&s, "abcd", 4);
	add_raw_header(&s, 0, FRAME_TYPE_MAX + 1, FRAME_VERSION, 0, 0);
	put_frames("bad-type", 0, &s);
	s.len = 0;
	add_raw_header(&s, 0, FRAME_PING, 2, 0, 0);
	put_frames("bad-version", 0, &s);
	s.len = 0;
	add_raw_header(&s, 0, FRAME_PING, FRAME_VERSION, 0x8000, 0);
	put_frames("bad-flags", 0, &s);
	s.len = 0;
	add_raw_header(&s, 0x7fffffff, FRAME_RECORDS, FRAME_VERSION, 0, 0);
	put_frames("too-large", 0, &s);
	s.len = 0;
	add_raw_header(&s, 200, FRAME_RECORDS, FRAME_VERSION, FRAME_FLAG_LZ4, 0);
	put_frames("over-max", 3, &s);
	free(s.p);
}

/* ---- commands and snapshots ---------------------------------------- */

struct seeds {
	struct buf chain; /* every seed command, in order */
};

static void put_fsm_one(void *arg, const char *name, const void *buf,
			size_t len)
{
	struct seeds *sd = arg;
	struct buf b = {0};
	char file[64];

	add_u16(&b, (uint16_t)len);
	add(&b, buf, len);
	snprintf(file, sizeof file, "one-%s", name);
	put("fsm", file, b.p, b.len);
	add(&sd->chain, b.p, b.len);
	free(b.p);
}

/* Append cmd (owned: freed here) of *len bytes. The length is read
 * through a pointer because the encoder that sets it is an argument of
 * the same call: C leaves the order of a call's argument evaluations
 * unspecified, so a length passed by value could be read first. */
static void add_cmd(struct buf *b, void *cmd, const size_t *len)
{
	add_u16(b, (uint16_t)*len);
	add(b, cmd, *len);
	free(cmd);
}

static void fsm_corpus(void)
{
	struct seeds sd = {{0}};
	struct buf b = {0};
	static struct fsm f;
	size_t len;
	void *snap;

	fuzz_seed_commands(put_fsm_one, &sd);
	put("fsm", "all-seeds", sd.chain.p, sd.chain.len);

	/* a planned failover and failback, start to end */
	add_cmd(&b, fuzz_cmd_failover_begin("pool-east", true, false, &len),
		&len);
	add_cmd(&b, fuzz_cmd_failover_complete("pool-east", &len), &len);
	add_cmd(&b, fuzz_cmd_pool_recovering("pool-east", &len), &len);
	add_cmd(&b, fuzz_cmd_failback_begin("pool-east", false, &len), &len);
	add_cmd(&b, fuzz_cmd_failback_abort("pool-east", &len), &len);
	add_cmd(&b, fuzz_cmd_failback_begin("pool-east", false, &len), &len);
	add_cmd(&b, fuzz_cmd_failback_complete("pool-east", &len), &len);
	put("fsm", "failover-cycle", b.p, b.len);
	b.len = 0;
	add_cmd(&b, fuzz_cmd_failback_begin("pool-std-e", false, &len), &len);
	add_cmd(&b, fuzz_cmd_failback_complete("pool-std-e", &len), &len);
	add_cmd(&b, fuzz_cmd_unpair("pool-std-e", &len), &len);
	add_cmd(&b, fuzz_cmd_remove_pool("pool-std-e", &len), &len);
	add_cmd(&b, fuzz_cmd_cms_failover(false, true, &len), &len);
	put("fsm", "failback-and-remove", b.p, b.len);
	b.len = 0;
	/* a planned move of the CMS, aborted, then one that completes */
	add_cmd(&b, fuzz_cmd_cms_failover(true, false, &len), &len);
	add_cmd(&b, fuzz_cmd_cms_failover_abort(FUZZ_TIME_MS, &len), &len);
	add_cmd(&b, fuzz_cmd_cms_failover(true, true, &len), &len);
	add_cmd(&b, fuzz_cmd_pair_mode("pool-east", 1, 800, &len), &len);
	add_cmd(&b, fuzz_cmd_cms_failover_complete(FUZZ_TIME_MS, &len), &len);
	put("fsm", "cms-planned", b.p, b.len);
	b.len = 0;
	/* a second agent of pool-east: the writer, its synchronous standby
	 * (asked twice: the second changes nothing), a local takeover with
	 * the positions of what pool-east owns, the former writer removed */
	fsm_init(&f);
	fuzz_state_populate(&f);
	add_cmd(&b, fuzz_cmd_register_member(4, "east-2", "east", "pool-east",
					     &len),
		&len);
	add_cmd(&b, fuzz_cmd_pool_writer(NULL, "pool-east", 1, 0, &len), &len);
	add_cmd(&b, fuzz_cmd_pool_sync("pool-east", 1, 4, &len), &len);
	add_cmd(&b, fuzz_cmd_pool_sync("pool-east", 1, 4, &len), &len);
	add_cmd(&b, fuzz_cmd_pool_writer(&f, "pool-east", 4, 1, &len), &len);
	add_cmd(&b, fuzz_cmd_remove_member(1, &len), &len);
	add_cmd(&b, fuzz_cmd_pool_sync("pool-east", 2, 0, &len), &len);
	put("fsm", "local-takeover", b.p, b.len);
	b.len = 0;
	/* 300 kept events: the history keeps them past its ring */
	for (int i = 0; i < 300; i++)
		add_cmd(&b,
			fuzz_cmd_record_event("rebuild of east-1", true, true,
					      &len),
			&len);
	put("fsm", "kept-events", b.p, b.len);
	b.len = 0;
	add_u16(&b, 3);
	add(&b, "\xa2\x01\x00", 3); /* topology, no steps */
	add_u16(&b, 5);
	add(&b, "\x08\x01\x12\x01\x41", 5); /* time and who, no op */
	put("fsm", "no-op", b.p, b.len);
	free(b.p);
	free(sd.chain.p);

	/* snapshots: empty, populated, after the seed chain */
	fsm_init(&f);
	if (fsm_snapshot(&f, &snap, &len) != 0) {
		die("fsm_snapshot");
	}
	put("fsm_restore", "empty", snap, len);
	free(snap);
	fuzz_state_populate(&f);
	if (fsm_snapshot(&f, &snap, &len) != 0) {
		die("fsm_snapshot");
	}
	put("fsm_restore", "populated", snap, len);
	((uint8_t *)snap)[len / 2] ^= 0x20;
	put("fsm_restore", "populated-flipped", snap, len);
	free(snap);
	/* past the ring, with kept entries, a sync pair, a CMS moving */
	for (int i = 0; i < 300; i++) {
		void *cmd = fuzz_cmd_record_event("rebuild of east-1", true,
						  i % 3 == 0, &len);

		fsm_apply(&f, cmd, len, NULL);
		free(cmd);
	}
	{
		void *cmd = fuzz_cmd_pair_mode("pool-west", 1, 900, &len);

		fsm_apply(&f, cmd, len, NULL);
		free(cmd);
		cmd = fuzz_cmd_cms_failover(true, false, &len);
		fsm_apply(&f, cmd, len, NULL);
		free(cmd);
	}
	if (fsm_snapshot(&f, &snap, &len) != 0) {
		die("fsm_snapshot");
	}
	put("fsm_restore", "kept-history", snap, len);
	free(snap);
	/* after a local takeover: a sync standby, positions, epochs raised */
	fsm_init(&f);
	fuzz_state_populate(&f);
	{
		void *cmd[5];
		size_t lens[5];

		cmd[0] = fuzz_cmd_register_member(4, "east-2", "east",
						  "pool-east", &lens[0]);
		cmd[1] = fuzz_cmd_register_member(5, "east-3", "east",
						  "pool-east", &lens[1]);
		cmd[2] = fuzz_cmd_pool_writer(NULL, "pool-east", 1, 0,
					      &lens[2]);
		cmd[3] = fuzz_cmd_pool_sync("pool-east", 1, 4, &lens[3]);
		for (int i = 0; i < 4; i++) {
			fsm_apply(&f, cmd[i], lens[i], NULL);
			free(cmd[i]);
		}
		cmd[0] = fuzz_cmd_pool_writer(&f, "pool-east", 4, 1, &lens[0]);
		cmd[1] = fuzz_cmd_pool_sync("pool-east", 2, 5, &lens[1]);
		for (int i = 0; i < 2; i++) {
			fsm_apply(&f, cmd[i], lens[i], NULL);
			free(cmd[i]);
		}
	}
	if (fsm_snapshot(&f, &snap, &len) != 0) {
		die("fsm_snapshot");
	}
	put("fsm_restore", "local-takeover", snap, len);
	free(snap);
}

/* ---- JSON bodies --------------------------------------------------- */

static void put_request(const char *name, uint8_t sel, const char *body)
{
	struct buf b = {0};

	add_u8(&b, sel);
	add(&b, body, strlen(body));
	put("request", name, b.p, b.len);
	free(b.p);
}

static void request_corpus(void)
{
	put_request("site", 0, "{\"name\": \"central\"}");
	put_request("site-bad-type", 0, "{\"name\": 7}");
	put_request("pool", 1,
		    "{\"name\": \"pool-new\", \"site\": \"west\", \"edition\": "
		    "\"standard\", \"kind\": \"virtual\", \"os\": "
		    "\"windows-2016\", \"capacity\": 500}");
	put_request("pool-unknown-field", 1,
		    "{\"name\": \"p\", \"site\": \"west\", \"edition\": "
		    "\"enterprise\", \"kind\": \"physical\", \"os\": \"w\", "
		    "\"color\": \"red\"}");
	{
		/* the pool's name, a NUL, then the body */
		static const char pm[] = "pool-east\0{\"mode\": \"sync\", "
					 "\"sync_timeout_ms\": 1500}";
		struct buf b = {0};

		add_u8(&b, 128 + 2);
		add(&b, pm, sizeof pm - 1);
		put("request", "pair-mode", b.p, b.len);
		free(b.p);
	}
	put_request("pair", 2,
		    "{\"a\": \"pool-lone\", \"b\": \"pool-east\", \"force\": "
		    "true}");
	put_request("sba", 3,
		    "{\"name\": \"sba-west\", \"site\": \"west\", "
		    "\"backup_pool\": \"pool-west\"}");
	put_request("policy", 4,
		    "{\"failover\": \"manual\", \"max_lag_on_failover_ms\": 500, "
		    "\"cooldown_ms\": 120000}");
	put_request("policy-empty", 4, "{}");
	put_request("member", 5,
		    "{\"id\": 4, \"address\": \"[::1]:7004\", \"role\": "
		    "\"standby\"}");
	put_request("member-short-buffer", 128 + 5,
		    "{\"id\": 5, \"address\": \"host-name.example.com:7005\"}");
	put_request("name-remove-pool", 6 + 10, "pool-lone");
	put_request("name-cms-place", 6 + 40, "pool-west");
	put_request("pool-pause", 6 + 60, "{\"reason\": \"planned work\"}");
	put_request("pool-resume", 6 + 70, "");
	put_request("policy-default", 4, "{\"failover\": \"default\"}");
	put_request("topology-same", 7,
		    "{\"topology\": {\"sites\": [\"east\", \"west\", \"north\", "
		    "\"south\"], \"pools\": [{\"name\": \"pool-east\", "
		    "\"site\": \"east\", \"edition\": \"enterprise\", \"kind\": "
		    "\"physical\", \"os\": \"windows-2019\", \"capacity\": "
		    "10000}, {\"name\": \"pool-west\", \"site\": \"west\", "
		    "\"edition\": \"enterprise\", \"kind\": \"physical\", "
		    "\"os\": \"windows-2019\", \"capacity\": 10000}], "
		    "\"pairs\": [{\"a\": \"pool-east\", \"b\": "
		    "\"pool-west\"}], \"cms\": \"pool-east\"}}");
	put_request("topology-new", 8,
		    "{\"topology\": {\"sites\": [\"a\", \"b\"], \"pools\": "
		    "[{\"name\": \"pa\", \"site\": \"a\", \"edition\": "
		    "\"standard\", \"kind\": \"virtual\", \"os\": \"w\"}, "
		    "{\"name\": \"pb\", \"site\": \"b\", \"edition\": "
		    "\"standard\", \"kind\": \"virtual\", \"os\": \"w\"}], "
		    "\"pairs\": [{\"a\": \"pa\", \"b\": \"pb\", \"force\": "
		    "false}], \"sbas\": [{\"name\": \"s1\", \"site\": \"a\", "
		    "\"backup_pool\": \"pa\"}], \"cms\": \"pa\", \"policy\": "
		    "{\"failover\": \"auto\", \"cooldown_ms\": 1000}}, "
		    "\"dry_run\": true}");
	put_request("topology-empty", 9, "{\"topology\": {}}");
	put_request("not-json", 9, "{\"topology\": [1, 2");
}

/* ---- HTTP requests -------------------------------------------------- */

static void http_corpus(void)
{
	put_text("http", "get", "GET /v1/status?name=east%2D1&x HTTP/1.1\r\n"
				"Host: 127.0.0.1\r\n\r\n");
	put_text("http", "post-json",
		 "POST /v1/sites HTTP/1.1\r\nHost: a\r\nContent-Type: "
		 "application/json\r\nContent-Length: 18\r\n\r\n"
		 "{\"name\": \"east\"}\r\n");
	put_text("http", "pipelined",
		 "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /error/%41%00 "
		 "HTTP/1.1\r\n\r\nDELETE /b?name=%zz HTTP/1.1\r\n"
		 "Connection: close\r\n\r\n");
	put_text("http", "chunked-body",
		 "PUT /v1/users/alice HTTP/1.1\r\nTransfer-Encoding: "
		 "chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
	put_text("http", "stream",
		 "POST /stream/upload HTTP/1.1\r\nContent-Length: 11\r\n"
		 "Expect: 100-continue\r\n\r\nhello world");
	put_text("http", "stream-early",
		 "POST /stream-early HTTP/1.1\r\nTransfer-Encoding: chunked"
		 "\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\nGET / HTTP/1.1\r\n"
		 "\r\n");
	put_text("http", "chunked-answer",
		 "GET /chunked HTTP/1.1\r\n\r\nGET /chunked HTTP/1.0\r\n\r\n");
	put_text("http", "head", "HEAD /chunked HTTP/1.1\r\n\r\n");
	put_text("http", "too-large",
		 "POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\nabc");
	put_text("http", "bad", "GET /\x01 HTTP/9.9\r\n\r\n");
	put_text("http", "http10-keepalive",
		 "GET /x?name=a+b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
		 "GET /y HTTP/1.0\r\n\r\n");
}

/* ---- request paths -------------------------------------------------- */

static void path_corpus(void)
{
	put_text("path", "pool", "/v1/pools/pool%2Deast/failover");
	put_text("path", "content",
		 "/v1/users/sip%3Aalice%40example.com/conferences/7/content/"
		 "slides/a%20b.pdf");
	put_text("path", "crlf", "/v1/pools/p%0D%0ALocation:%20http://x/");
	put_text("path", "raw-tab", "/v1/pools/a\tb");
	put_text("path", "bad-escape", "/v1/pools/%zz%2");
	put_text("path", "internal", "/v1/internal/heartbeat");
}

/* ---- configuration files ------------------------------------------- */

static void config_corpus(void)
{
	put_text("config", "member",
		 "; east-1\n[agent]\nname = east-1\nid = 1\nsite = east\n"
		 "pool = pool-east\ndata_dir = /var/lib/poolpair\n\n[listen]\n"
		 "raft = 10.0.1.10:7001\napi = 10.0.1.10:7101\ndata = "
		 "10.0.1.10:7201\n\n[cluster]\nbootstrap = 1@10.0.1.10:7001, "
		 "2@10.0.2.10:7001, 3@10.0.3.10:7001\nelection_timeout = 1s\n"
		 "heartbeat_timeout = 100ms\nmax_voters = 5\nsnapshot_threshold"
		 " = 4096\nsnapshot_trailing = 8192\n\n[failover]\nheartbeat = "
		 "250ms\nlease = 2s\ngrace = 1.5s\ndrift_margin = 100\npolicy = "
		 "auto\nmax_lag_on_failover = 1m\ncooldown = 1h\npre_failover = "
		 "/usr/bin/true pre\nfence_command = /usr/local/bin/fence "
		 "--pool east\non_owner_change = logger owner\nhook_timeout = "
		 "10s\n\n[log]\nlevel = debug\n");
	put_text("config", "witness",
		 "[agent]\nname: witness-1\nid: 3\nsite: north\ndata_dir: /tmp/w"
		 "\n[listen]\nraft = [::1]:7003\napi = localhost:7103\n"
		 "[cluster]\njoin = http://127.0.0.1:7101\n"
		 "[tls]\nca = /etc/pp/ca.pem\ncert = /etc/pp/w.pem\n"
		 "key = /etc/pp/w.key\n");
	put_text("config", "errors",
		 "[agent]\nname = east 1\nid = -4\nid = 99999999999999999999\n"
		 "[nowhere]\nx = y\n[listen]\nraft = 1.2.3.4\napi = :80\n"
		 "[failover]\nlease = 1.0005s\nheartbeat = 5m ; comment\n");
	put_text("config", "duration-line", "1.5s\n");
	put_text("config", "hostport-line", "[fe80::1]:65535\n");
}

/* ---- the binary batch body (proto/api.proto) ---------------------- */

static void pb_len(struct buf *b, unsigned num, const void *data, size_t len)
{
	uint8_t h[12];
	size_t n = 0;
	uint64_t v = (uint64_t)num << 3 | 2;

	for (int k = 0; k < 2; k++, v = len) {
		do {
			h[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
			v >>= 7;
		} while (v != 0);
	}
	add(b, h, n);
	add(b, data, len);
}

static void pb_item(struct buf *b, const char *sip, const char *kind,
		    const char *value)
{
	struct buf it = {0};

	pb_len(&it, 1, sip, strlen(sip));
	pb_len(&it, 2, kind, strlen(kind));
	pb_len(&it, 3, value, strlen(value));
	pb_len(b, 1, it.p, it.len);
	free(it.p);
}

static void batch_pb_corpus(void)
{
	struct buf b = {0};

	pb_item(&b, "sip:alice@example.com", "contacts",
		"{\"contacts\": [{\"sip\": \"sip:bob@example.com\", "
		"\"name\": \"B\u00f6b\", \"fav\": true, \"n\": -1.5}]}");
	put("batch_pb", "one", b.p, b.len);
	pb_item(&b, "sip:bob@example.com", "settings",
		"{\"dnd\":false,\"a\":{\"a\":[null,1e3,\"\xc3\xa9\"]}}");
	pb_item(&b, "sip:carol@example.com", "profile", "\"x\"");
	put("batch_pb", "three", b.p, b.len);
	b.len = 0;
	pb_item(&b, "sip:d@example.com", "profile", "{\"k\":1,\"k\":2}");
	put("batch_pb", "duplicate-key", b.p, b.len);
	put_text("batch_pb", "unknown-fields",
		 "\x10\x96\x01\x0a\x0c\x0a\x03sip\x20\x01\x1a\x01"
		 "1\x3a\x00");
	free(b.p);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: make_corpus OUTDIR\n", stderr);
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
		die(outdir);
	}
	batch_corpus();
	batch_dict_corpus();
	batch_budget_corpus();
	frame_corpus();
	fsm_corpus();
	request_corpus();
	http_corpus();
	path_corpus();
	config_corpus();
	batch_pb_corpus();
	printf("make_corpus: %u files in %s\n", written, outdir);
	return 0;
}
