/* loadgen's writes (see loadgen.h): o.connections request slots, each with
 * at most one request outstanding, over one hclient (libcurl's multi
 * interface on the loop; agent/hclient.h) whose pool keeps every connection
 * for the whole run. lg_req_open() brings the connections up before the
 * first phase (one GET /v1/backup per slot, all at once), so that no phase
 * pays for connecting or a TLS handshake. Then each write is one request:
 *
 *   load          POST /v1/users {"sip","pool"} for the next user
 *   model, ramp   PUT /v1/users/SIP/contacts|settings with a fresh value
 *                 (model: 0.5-4 KB, settings one time in three; ramp:
 *                 --record-bytes of contacts) for a random active user
 *   --batch N     POST /v1/users/batch with N such writes
 *
 * A write's latency runs from the start of its request (hclient_request())
 * to its complete answer (the callback); its seq goes to the lag meter
 * (lg_lag.c). An answer other than 200/201 (a batch item other than 200)
 * counts as failed; a request that fails (connection, TLS, no answer within
 * --timeout-ms) fails the run. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/batch_pb.h"
#include "bench/loadgen.h"

static uint64_t rnd(struct lg *g)
{
	/* xorshift64* */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 2685821657736338717ULL;
}

static unsigned rnd_below(struct lg *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

/* ---- request bodies ---------------------------------------------------- */

static const char *const first_names[] = {
    "Anna",  "Ben",   "Carla", "David", "Elena", "Farid",  "Grace", "Hiro",
    "Ines",  "Jonas", "Keiko", "Liam",	"Maria", "Nils",   "Olga",  "Pedro",
    "Quinn", "Rosa",  "Sven",  "Tara",	"Uma",	 "Viktor", "Wen",   "Yusuf"};
static const char *const last_names[] = {
    "Andersen", "Baker",  "Castillo", "Dubois",	 "Eriksson",
    "Fischer",	"Garcia", "Hansen",   "Ivanova", "Jensen",
    "Kowalski", "Larsen", "Moreau",   "Novak",	 "Okafor",
    "Petrov",	"Rossi",  "Schmidt",  "Tanaka",	 "Weber"};
static const char *const groups[] = {"Favorites",      "Team",
				     "Other Contacts", "Project Orion",
				     "Management",     "Support"};
static const char *const presence[] = {"available", "busy", "away",
				       "do-not-disturb", "offline"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Contacts-like JSON of about `want` bytes (at least one contact) into
 * buf[cap]. Returns its length. */
static size_t body_contacts(struct lg *g, char *buf, size_t cap, size_t want)
{
	size_t n = 0;
	int w;

	w = snprintf(buf, cap, "{\"version\":%u,\"contacts\":[",
		     rnd_below(g, 100000));
	n = (size_t)w;
	for (unsigned i = 0;; i++) {
		const char *fn = first_names[rnd_below(g, NELEM(first_names))];
		const char *ln = last_names[rnd_below(g, NELEM(last_names))];
		char entry[384];
		w = snprintf(
		    entry, sizeof entry,
		    "%s{\"uri\":\"sip:%c%s%u@%s\",\"name\":\"%s %s\","
		    "\"group\":\"%s\",\"tel\":\"+4%u%08u\",\"presence\":\"%s\","
		    "\"favorite\":%s,\"added\":%u}",
		    i ? "," : "", fn[0] | 0x20, ln, rnd_below(g, 1000),
		    g->o.domain, fn, ln, groups[rnd_below(g, NELEM(groups))],
		    rnd_below(g, 10), rnd_below(g, 100000000),
		    presence[rnd_below(g, NELEM(presence))],
		    rnd_below(g, 4) ? "false" : "true",
		    1700000000U + rnd_below(g, 60000000));
		if (i > 0 && n + (size_t)w + 2 > want)
			break;
		if (n + (size_t)w + 3 > cap)
			break;
		memcpy(buf + n, entry, (size_t)w);
		n += (size_t)w;
	}
	memcpy(buf + n, "]}", 3);
	return n + 2;
}

/* Settings-like JSON of about `want` bytes. */
static size_t body_settings(struct lg *g, char *buf, size_t cap, size_t want)
{
	size_t n;
	int w;

	w = snprintf(
	    buf, cap,
	    "{\"presence\":\"%s\",\"ringtone\":%u,\"forward\":"
	    "{\"enabled\":%s,\"target\":\"tel:+4%u%08u\",\"delay_s\":%u},"
	    "\"privacy\":\"%s\",\"notes\":[",
	    presence[rnd_below(g, NELEM(presence))], rnd_below(g, 12),
	    rnd_below(g, 2) ? "true" : "false", rnd_below(g, 10),
	    rnd_below(g, 100000000), 5 * rnd_below(g, 7),
	    rnd_below(g, 2) ? "contacts" : "everyone");
	n = (size_t)w;
	for (unsigned i = 0;; i++) {
		char entry[256];
		w = snprintf(entry, sizeof entry,
			     "%s{\"at\":%u,\"text\":\"meeting with %s %s about "
			     "item %u\",\"pinned\":%s}",
			     i ? "," : "", 1700000000U + rnd_below(g, 60000000),
			     first_names[rnd_below(g, NELEM(first_names))],
			     last_names[rnd_below(g, NELEM(last_names))],
			     rnd_below(g, 10000),
			     rnd_below(g, 5) ? "false" : "true");
		if (i > 0 && n + (size_t)w + 2 > want)
			break;
		if (n + (size_t)w + 3 > cap)
			break;
		memcpy(buf + n, entry, (size_t)w);
		n += (size_t)w;
	}
	memcpy(buf + n, "]}", 3);
	return n + 2;
}

/* seq from a write answer ("seq":N); 0 when absent. */
static uint64_t answer_seq(const char *body)
{
	const char *p = body ? strstr(body, "\"seq\":") : NULL;
	return p ? strtoull(p + 6, NULL, 10) : 0;
}

/* The answer of POST /v1/users/batch: one result per item. */
static void batch_answer(struct lg *g, struct lg_slot *c,
			 const struct hclient_response *r, uint64_t t)
{
	unsigned status = (unsigned)r->status;
	json_t *root = NULL, *res, *v;
	size_t i, ok = 0;
	uint32_t per = c->items ? (uint32_t)(c->payload / c->items) : 0;

	g->inflight--;
	g->ph.status_codes[status / 100 < 6 ? status / 100 : 0]++;
	if (status == 200)
		root = json_loadb(r->body, r->body_len, 0, NULL);
	res = json_object_get(root, "results");
	if (!json_is_array(res) || json_array_size(res) != c->items) {
		g->ph.failed += c->items;
		if (g->ph.failed <= 5 * c->items)
			fprintf(stderr, "loadgen: batch answer %u: %.200s\n",
				status, r->body);
		json_decref(root);
		return;
	}
	json_array_foreach (res, i, v) {
		json_t *seq = json_object_get(v, "seq");
		if (json_integer_value(json_object_get(v, "status")) != 200 ||
		    !json_is_integer(seq) || json_integer_value(seq) <= 0) {
			g->ph.failed++;
			if (g->ph.failed <= 5) {
				char *d = json_dumps(v, JSON_COMPACT);
				fprintf(stderr, "loadgen: batch item: %.200s\n",
					d ? d : "");
				free(d);
			}
			continue;
		}
		ok++;
		lg_write_seq(g, (uint64_t)json_integer_value(seq), t, per);
	}
	json_decref(root);
	g->ph.ok += ok;
	g->ph.payload_bytes += ok * per;
	if (lg_samples_add(&g->ph.wlat, (double)(t - c->t_sent) / 1e6) != 0)
		lg_fail(g, "out of memory");
}

static void write_answer(struct lg *g, struct lg_slot *c,
			 const struct hclient_response *r, uint64_t t)
{
	unsigned status = (unsigned)r->status;
	uint64_t seq;

	if (c->items > 0) {
		batch_answer(g, c, r, t);
		return;
	}
	g->inflight--;
	g->ph.status_codes[status / 100 < 6 ? status / 100 : 0]++;
	if (status != 200 && status != 201) {
		g->ph.failed++;
		if (g->ph.failed <= 5)
			fprintf(stderr, "loadgen: answer %u: %.200s\n", status,
				r->body);
		return;
	}
	seq = answer_seq(r->body);
	if (seq == 0) {
		g->ph.failed++;
		return;
	}
	g->ph.ok++;
	g->ph.payload_bytes += c->payload;
	if (lg_samples_add(&g->ph.wlat, (double)(t - c->t_sent) / 1e6) != 0)
		lg_fail(g, "out of memory");
	lg_write_seq(g, seq, t, (uint32_t)c->payload);
}

/* ---- building writes ---------------------------------------------------- */

static void user_sip(struct lg *g, char *buf, size_t cap, uint64_t i)
{
	snprintf(buf, cap, "sip:u%07" PRIu64 "@%s", i, g->o.domain);
}

static void build_post_user(struct lg *g, struct lg_slot *c, uint64_t i)
{
	char sip[128], body[256];
	int bl;

	user_sip(g, sip, sizeof sip, i);
	bl = snprintf(body, sizeof body, "{\"sip\":\"%s\",\"pool\":\"%s\"}",
		      sip, g->o.pool);
	c->method = "POST";
	snprintf(c->path, sizeof c->path, "/v1/users");
	memcpy(c->body, body, (size_t)bl + 1);
	c->body_len = (size_t)bl;
	c->payload = (size_t)bl;
}

static void build_put_value(struct lg *g, struct lg_slot *c, bool model)
{
	char sip[128];
	size_t want, blen;
	bool settings = model && rnd_below(g, 3) == 0;
	uint64_t user = rnd(g) % g->o.active;

	want = model ? 512 + rnd_below(g, 4096 - 512 + 1) : g->o.record_bytes;
	user_sip(g, sip, sizeof sip, user);
	c->method = "PUT";
	snprintf(c->path, sizeof c->path, "/v1/users/%s/%s", sip,
		 settings ? "settings" : "contacts");
	blen = settings ? body_settings(g, c->body, c->body_cap, want)
			: body_contacts(g, c->body, c->body_cap, want);
	c->body_len = blen;
	c->payload = blen;
	c->items = 0;
}

/* POST /v1/users/batch with o.batch writes as build_put_value makes
 * them. */
static void build_batch(struct lg *g, struct lg_slot *c, bool model)
{
	char sip[128];
	size_t n, payload = 0;

	c->method = "POST";
	snprintf(c->path, sizeof c->path, "/v1/users/batch");
	n = (size_t)snprintf(c->body, c->body_cap, "{\"items\":[");
	for (unsigned i = 0; i < g->o.batch; i++) {
		bool settings = model && rnd_below(g, 3) == 0;
		uint64_t user = rnd(g) % g->o.active;
		size_t want = model ? 512 + rnd_below(g, 4096 - 512 + 1)
				    : g->o.record_bytes;
		size_t vlen;

		user_sip(g, sip, sizeof sip, user);
		n += (size_t)snprintf(c->body + n, c->body_cap - n,
				      "%s{\"sip\":\"%s\",\"kind\":\"%s\","
				      "\"value\":",
				      i ? "," : "", sip,
				      settings ? "settings" : "contacts");
		vlen =
		    settings
			? body_settings(g, c->body + n, c->body_cap - n, want)
			: body_contacts(g, c->body + n, c->body_cap - n, want);
		n += vlen;
		payload += vlen;
		c->body[n++] = '}';
	}
	c->body[n++] = ']';
	c->body[n++] = '}';
	c->body_len = n;
	c->payload = payload;
	c->items = g->o.batch;
}

/* A varint at p; its length. */
static size_t pb_varint(char *p, uint64_t v)
{
	size_t n = 0;

	do {
		uint8_t b = v & 0x7f;

		v >>= 7;
		p[n++] = (char)(v ? b | 0x80 : b);
	} while (v);
	return n;
}

/* A length-delimited field (number num) of len bytes at p + the key and
 * length (at most 6 bytes). */
static size_t pb_len_field(char *p, unsigned num, const void *data, size_t len)
{
	size_t n = pb_varint(p, (uint64_t)num << 3 | 2);

	n += pb_varint(p + n, len);
	memcpy(p + n, data, len);
	return n + len;
}

/* The same writes as build_batch, as a packed poolpair.api.UserBatch
 * (proto/api.proto) for Content-Type application/x-protobuf. */
static void build_batch_pb(struct lg *g, struct lg_slot *c, bool model)
{
	char sip[128], item[LG_BODY_MAX + 256];
	size_t n = 0, payload = 0;

	c->method = "POST";
	snprintf(c->path, sizeof c->path, "/v1/users/batch");
	for (unsigned i = 0; i < g->o.batch; i++) {
		bool settings = model && rnd_below(g, 3) == 0;
		uint64_t user = rnd(g) % g->o.active;
		size_t want = model ? 512 + rnd_below(g, 4096 - 512 + 1)
				    : g->o.record_bytes;
		const char *kind = settings ? "settings" : "contacts";
		size_t vlen, ilen;

		user_sip(g, sip, sizeof sip, user);
		vlen = settings
			   ? body_settings(g, c->scratch, LG_BODY_MAX, want)
			   : body_contacts(g, c->scratch, LG_BODY_MAX, want);
		ilen = pb_len_field(item, 1, sip, strlen(sip));
		ilen += pb_len_field(item + ilen, 2, kind, strlen(kind));
		ilen += pb_len_field(item + ilen, 3, c->scratch, vlen);
		if (n + ilen + 6 > c->body_cap)
			break;
		n += pb_len_field(c->body + n, 1, item, ilen);
		payload += vlen;
	}
	c->body_len = n;
	c->payload = payload;
	c->items = g->o.batch;
}

/* Whether a write is due now (open loop) or wanted (closed loop). */
static bool write_wanted(struct lg *g, uint64_t t)
{
	if (!g->offering)
		return false;
	if (g->o.mode == MODE_LOAD)
		return g->next_user < g->o.users;
	double due = g->ph.offered * (double)(t - g->ph.t_start) / 1e9;
	return (double)g->ph.issued < due;
}

static void on_write_answer(void *arg, int err,
			    const struct hclient_response *r)
{
	struct lg_slot *c = arg;
	struct lg *g = c->lg;
	uint64_t t = lg_now_ns();

	c->busy = false;
	if (g->stopping)
		return; /* cancelled by the stop */
	if (err != 0) {
		if (err == UV_ETIMEDOUT)
			lg_fail(g, "no answer within %u ms", g->o.timeout_ms);
		else
			lg_fail(g, "connection to %s: %s", g->o.api,
				hclient_strerror(err));
		return;
	}
	write_answer(g, c, r, t);
	lg_dispatch(g);
}

static void slot_send(struct lg *g, struct lg_slot *c)
{
	int rv;

	c->busy = true;
	c->t_sent = lg_now_ns();
	rv = hclient_request(&g->client, c->method, g->host, g->port, c->path,
			     c->items > 0 && g->o.binary
				 ? "Content-Type: " BATCH_PB_CONTENT_TYPE "\r\n"
				 : NULL,
			     c->body, c->body_len, g->o.timeout_ms,
			     on_write_answer, c, NULL);
	if (rv != 0) {
		c->busy = false;
		lg_fail(g, "write: %s", hclient_strerror(rv));
	}
}

void lg_dispatch(struct lg *g)
{
	uint64_t t = lg_now_ns();

	if (g->failed || g->stopping)
		return;
	for (unsigned i = 0; i < g->o.connections; i++) {
		struct lg_slot *c = &g->conns[i];
		if (c->busy)
			continue;
		if (!write_wanted(g, t))
			return;
		if (g->o.mode == MODE_LOAD) {
			build_post_user(g, c, g->next_user++);
			g->ph.issued++;
		} else if (g->o.batch > 0) {
			if (g->o.binary)
				build_batch_pb(g, c, g->o.mode == MODE_MODEL);
			else
				build_batch(g, c, g->o.mode == MODE_MODEL);
			g->ph.issued += g->o.batch;
		} else {
			build_put_value(g, c, g->o.mode == MODE_MODEL);
			g->ph.issued++;
		}
		g->inflight++;
		slot_send(g, c);
	}
}

/* ---- opening the connections ------------------------------------------- */

static void on_opened(void *arg, int err, const struct hclient_response *r)
{
	struct lg_slot *c = arg;
	struct lg *g = c->lg;

	c->busy = false;
	if (g->stopping)
		return;
	if (err != 0) {
		lg_fail(g, "connect %s: %s", g->o.api, hclient_strerror(err));
		return;
	}
	if (r->status != 200) {
		lg_fail(g, "connect %s: GET /v1/backup answered %d", g->o.api,
			r->status);
		return;
	}
	g->opened++;
}

int lg_req_open(struct lg *g)
{
	/* model values are at most 4 KB, ramp values record_bytes */
	size_t cap = g->o.batch == 0
			 ? LG_BODY_MAX
			 : (size_t)g->o.batch * ((g->o.record_bytes > 4096
						      ? g->o.record_bytes
						      : 4096) +
						 LG_ITEM_OVERHEAD) +
			       1024;
	int rv;

	for (unsigned i = 0; i < g->o.connections; i++) {
		struct lg_slot *c = &g->conns[i];

		c->lg = g;
		c->body_cap = cap;
		c->body = malloc(cap);
		c->scratch = g->o.binary ? malloc(LG_BODY_MAX) : NULL;
		if (c->body == NULL || (g->o.binary && c->scratch == NULL))
			return UV_ENOMEM;
	}
	for (unsigned i = 0; i < g->o.connections; i++) {
		struct lg_slot *c = &g->conns[i];

		c->busy = true;
		rv = hclient_request(&g->client, "GET", g->host, g->port,
				     "/v1/backup", NULL, NULL, 0,
				     g->o.timeout_ms, on_opened, c, NULL);
		if (rv != 0) {
			c->busy = false;
			return rv;
		}
	}
	return 0;
}

void lg_req_free(struct lg *g)
{
	for (unsigned i = 0; g->conns != NULL && i < g->o.connections; i++) {
		free(g->conns[i].body);
		free(g->conns[i].scratch);
	}
}
