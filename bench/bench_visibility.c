/* bench_visibility: how soon a write answered by the owner of a user set
 * can be read at its pair, with sub-millisecond resolution.
 *
 * Open loop on libuv over agent/hclient.h (libcurl's multi interface on
 * the loop, connections kept alive for the whole run): every 1/--rate s a
 * write `PUT /v1/users/sip:uNNNNNNN@DOMAIN/contacts` of about
 * --record-bytes of JSON goes to the owner (--owner) on one of --writers
 * connections (users 0..--users-1 in turn; they must exist in the owner's
 * pool, e.g. created by `loadgen --mode load`). When its 200 answer
 * arrives (carrying the write's seq), a probe starts on one of --readers
 * connections to the pair (--pair): it sends `GET` of the same key, and
 * again as soon as each answer comes back (one request outstanding, no
 * pause), until an answer's `seq` is at or past the write's. Per write:
 *
 *   visible = that answer's arrival - the write's answer  (an upper bound)
 *   sent    = that GET's start - the write's answer       (a lower bound:
 *             the read that found it was asked no earlier)
 *
 * The truth lies between the two; their gap is one read round trip at the
 * pair, the resolution. Only every --probe-every'th write is probed, so
 * that the readers are free when a probe starts (reads at the pair cost
 * the agent too); a probe that finds no free reader connection waits
 * for one (counted as "queued"; its visible figure then includes the wait).
 * The first --warmup writes are not measured. A write that is not
 * answered 200, a read answered other than 200 or 404 (not there yet), a
 * request over --timeout-ms or a run over --deadline fails the run.
 *
 * Exit status: 0 ok, 1 the run failed, 2 bad usage. */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "agent/hclient.h"

#define ADDR_LEN 64
#define MAX_SLOTS 256
#define MAX_COUNT 10000000UL
#define RUN_CONN_S 86400

struct opts {
	char owner[ADDR_LEN], pair[ADDR_LEN];
	char domain[64];
	unsigned long users, count, warmup;
	double rate;
	unsigned record_bytes, writers, readers, timeout_ms, deadline_s;
	unsigned long probe_every;
	bool json;
};

struct vis;

struct wslot { /* a write connection */
	struct vis *v;
	bool busy;
	unsigned long n; /* ordinal of the write */
	char path[128];
};

struct probe { /* a write answered, to be found at the pair */
	unsigned long n;
	uint64_t seq;
	uint64_t t_answer;
	char path[128];
};

struct rslot { /* a reader connection */
	struct vis *v;
	bool busy;
	struct probe p;
	uint64_t t_sent;
	unsigned long reads;
};

struct vis {
	struct opts o;
	uv_loop_t loop;
	uv_timer_t tick, deadline;
	struct hclient client;
	char ohost[ADDR_LEN], phost[ADDR_LEN];
	uint16_t oport, pport;
	struct wslot w[MAX_SLOTS];
	struct rslot r[MAX_SLOTS];
	struct probe *queue; /* probes waiting for a reader, FIFO */
	size_t q_head, q_n, q_cap;
	char *body;
	size_t body_len;
	uint64_t t0, t_measure0;
	unsigned long issued, answered, found, queued, reads, late;
	double *vis_ms, *sent_ms, *rtt_ms;
	size_t n_vis, n_rtt, cap_rtt;
	bool failed, stopping;
	char err[256];
};

static uint64_t now_ns(void) { return uv_hrtime(); }

static void fail(struct vis *v, const char *fmt, const char *a)
{
	if (!v->failed) {
		v->failed = true;
		snprintf(v->err, sizeof v->err, fmt, a);
	}
}

static void stop(struct vis *v)
{
	if (v->stopping)
		return;
	v->stopping = true;
	uv_timer_stop(&v->tick);
	uv_timer_stop(&v->deadline);
	uv_close((uv_handle_t *)&v->tick, NULL);
	uv_close((uv_handle_t *)&v->deadline, NULL);
	hclient_close(&v->client, NULL);
}

static void maybe_done(struct vis *v)
{
	unsigned i;

	if (v->failed) {
		stop(v);
		return;
	}
	if (v->issued < v->o.warmup + v->o.count || v->q_n > 0)
		return;
	for (i = 0; i < v->o.writers; i++)
		if (v->w[i].busy)
			return;
	for (i = 0; i < v->o.readers; i++)
		if (v->r[i].busy)
			return;
	stop(v);
}

static void read_next(struct rslot *r);

static void on_read(void *arg, int err, const struct hclient_response *resp)
{
	struct rslot *r = arg;
	struct vis *v = r->v;
	uint64_t t = now_ns();
	json_t *root, *seq;
	bool got = false;

	r->busy = false;
	if (v->stopping)
		return;
	if (err != 0) {
		fail(v, "read at the pair: %s", hclient_strerror(err));
		maybe_done(v);
		return;
	}
	v->reads++;
	r->reads++;
	if (v->n_rtt < v->cap_rtt)
		v->rtt_ms[v->n_rtt++] = (double)(t - r->t_sent) / 1e6;
	if (resp->status == 200) {
		root = json_loadb(resp->body, resp->body_len, 0, NULL);
		seq = root ? json_object_get(root, "seq") : NULL;
		got = json_is_integer(seq) &&
		      (uint64_t)json_integer_value(seq) >= r->p.seq;
		json_decref(root);
	} else if (resp->status != 404) {
		char code[16];
		snprintf(code, sizeof code, "%d", resp->status);
		fail(v, "read at the pair answered %s", code);
		maybe_done(v);
		return;
	}
	if (!got) {
		read_next(r);
		return;
	}
	v->found++;
	if (r->p.n >= v->o.warmup) {
		v->vis_ms[v->n_vis] = (double)(t - r->p.t_answer) / 1e6;
		v->sent_ms[v->n_vis] =
		    r->t_sent > r->p.t_answer
			? (double)(r->t_sent - r->p.t_answer) / 1e6
			: 0;
		v->n_vis++;
	}
	/* the next probe waiting, if any */
	if (v->q_n > 0) {
		r->p = v->queue[v->q_head];
		v->q_head = (v->q_head + 1) % v->q_cap;
		v->q_n--;
		read_next(r);
		return;
	}
	maybe_done(v);
}

static void read_next(struct rslot *r)
{
	struct vis *v = r->v;
	int rv;

	r->busy = true;
	r->t_sent = now_ns();
	rv = hclient_request(&v->client, "GET", v->phost, v->pport, r->p.path,
			     NULL, NULL, 0, v->o.timeout_ms, on_read, r, NULL);
	if (rv != 0) {
		r->busy = false;
		fail(v, "read at the pair: %s", hclient_strerror(rv));
		maybe_done(v);
	}
}

static void probe_start(struct vis *v, const struct probe *p)
{
	unsigned i;

	for (i = 0; i < v->o.readers; i++)
		if (!v->r[i].busy) {
			v->r[i].p = *p;
			read_next(&v->r[i]);
			return;
		}
	if (v->q_n == v->q_cap) {
		fail(v, "%s", "more probes waiting than writes");
		return;
	}
	v->queue[(v->q_head + v->q_n) % v->q_cap] = *p;
	v->q_n++;
	v->queued++;
}

static void on_write(void *arg, int err, const struct hclient_response *resp)
{
	struct wslot *w = arg;
	struct vis *v = w->v;
	uint64_t t = now_ns();
	json_t *root, *seq;
	struct probe p;

	w->busy = false;
	if (v->stopping)
		return;
	if (err != 0 || resp->status != 200) {
		char why[64];
		if (err != 0)
			snprintf(why, sizeof why, "%s", hclient_strerror(err));
		else
			snprintf(why, sizeof why, "answer %d", resp->status);
		fail(v, "write at the owner: %s", why);
		maybe_done(v);
		return;
	}
	root = json_loadb(resp->body, resp->body_len, 0, NULL);
	seq = root ? json_object_get(root, "seq") : NULL;
	if (!json_is_integer(seq)) {
		json_decref(root);
		fail(v, "%s", "write answer without seq");
		maybe_done(v);
		return;
	}
	p.n = w->n;
	p.seq = (uint64_t)json_integer_value(seq);
	p.t_answer = t;
	snprintf(p.path, sizeof p.path, "%s", w->path);
	json_decref(root);
	v->answered++;
	if (p.n % v->o.probe_every == 0)
		probe_start(v, &p);
	maybe_done(v);
}

static void issue_write(struct vis *v)
{
	unsigned i;
	int rv;

	for (i = 0; i < v->o.writers; i++)
		if (!v->w[i].busy)
			break;
	if (i == v->o.writers) {
		v->late++; /* every writer busy: the write waits a tick */
		return;
	}
	struct wslot *w = &v->w[i];
	w->busy = true;
	w->n = v->issued++;
	snprintf(w->path, sizeof w->path,
		 "/v1/users/sip:u%07lu@%s/contacts", w->n % v->o.users,
		 v->o.domain);
	/* the ordinal makes each value new */
	snprintf(v->body, 24, "[{\"n\":%12lu,", w->n);
	v->body[strlen(v->body)] = ' ';
	rv = hclient_request(&v->client, "PUT", v->ohost, v->oport, w->path,
			     "Content-Type: application/json\r\n", v->body,
			     v->body_len, v->o.timeout_ms, on_write, w, NULL);
	if (rv != 0) {
		w->busy = false;
		fail(v, "write at the owner: %s", hclient_strerror(rv));
	}
}

static void on_tick(uv_timer_t *t)
{
	struct vis *v = t->data;
	uint64_t now = now_ns();
	uint64_t due = (uint64_t)((double)(now - v->t0) * v->o.rate / 1e9) + 1;

	while (!v->failed && v->issued < due &&
	       v->issued < v->o.warmup + v->o.count) {
		unsigned long before = v->issued;
		issue_write(v);
		if (v->issued == before)
			break;
		if (v->issued == v->o.warmup)
			v->t_measure0 = now;
	}
	maybe_done(v);
}

static void on_deadline(uv_timer_t *t)
{
	struct vis *v = t->data;

	fail(v, "%s", "deadline reached");
	stop(v);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *s, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return s[k - 1];
}

static json_t *dist(double *s, size_t n)
{
	qsort(s, n, sizeof *s, cmp_double);
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "n",
			 (json_int_t)n, "p50", pct(s, n, 50), "p90",
			 pct(s, n, 90), "p99", pct(s, n, 99), "p999",
			 pct(s, n, 99.9), "max", n ? s[n - 1] : 0, "min",
			 n ? s[0] : 0);
}

static int split_addr(const char *a, char *host, uint16_t *port)
{
	const char *c = strrchr(a, ':');
	char *end;
	unsigned long p;

	if (c == NULL || c == a || (size_t)(c - a) >= ADDR_LEN)
		return -1;
	p = strtoul(c + 1, &end, 10);
	if (*end != '\0' || p == 0 || p > 65535)
		return -1;
	memcpy(host, a, (size_t)(c - a));
	host[c - a] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_visibility --owner HOST:PORT --pair HOST:PORT\n"
		"  [--users N (200)] [--rate W/s (1000)] [--count N (5000)]\n"
		"  [--warmup N (500)] [--record-bytes B (1024)]\n"
		"  [--writers C (8)] [--readers C (16)] [--probe-every K (10)]\n"
		"  [--domain D "
		"(bench.example.com)]\n"
		"  [--timeout-ms T (5000)] [--deadline S (120)] [--json]\n");
}

static int num(const char *s, unsigned long lo, unsigned long hi,
	       unsigned long *out)
{
	char *end;
	unsigned long x;

	if (s == NULL || *s == '\0')
		return -1;
	x = strtoul(s, &end, 10);
	if (*end != '\0' || x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

static int parse(struct opts *o, int argc, char **argv)
{
	unsigned long x;

	memset(o, 0, sizeof *o);
	snprintf(o->domain, sizeof o->domain, "bench.example.com");
	o->users = 200;
	o->rate = 1000;
	o->count = 5000;
	o->warmup = 500;
	o->record_bytes = 1024;
	o->writers = 8;
	o->readers = 16;
	o->timeout_ms = 5000;
	o->deadline_s = 120;
	o->probe_every = 10;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (val == NULL)
			goto bad;
		i++;
		if (strcmp(a, "--owner") == 0 || strcmp(a, "--pair") == 0) {
			if (strlen(val) >= ADDR_LEN)
				goto bad;
			snprintf(a[2] == 'o' ? o->owner : o->pair, ADDR_LEN,
				 "%s", val);
		} else if (strcmp(a, "--domain") == 0) {
			if (strlen(val) == 0 || strlen(val) >= sizeof o->domain)
				goto bad;
			snprintf(o->domain, sizeof o->domain, "%s", val);
		} else if (strcmp(a, "--users") == 0) {
			if (num(val, 1, 10000000, &o->users))
				goto bad;
		} else if (strcmp(a, "--rate") == 0) {
			if (num(val, 1, 100000, &x))
				goto bad;
			o->rate = (double)x;
		} else if (strcmp(a, "--count") == 0) {
			if (num(val, 1, MAX_COUNT, &o->count))
				goto bad;
		} else if (strcmp(a, "--warmup") == 0) {
			if (num(val, 0, MAX_COUNT, &o->warmup))
				goto bad;
		} else if (strcmp(a, "--record-bytes") == 0) {
			if (num(val, 64, 8000, &x))
				goto bad;
			o->record_bytes = (unsigned)x;
		} else if (strcmp(a, "--writers") == 0) {
			if (num(val, 1, MAX_SLOTS, &x))
				goto bad;
			o->writers = (unsigned)x;
		} else if (strcmp(a, "--readers") == 0) {
			if (num(val, 1, MAX_SLOTS, &x))
				goto bad;
			o->readers = (unsigned)x;
		} else if (strcmp(a, "--probe-every") == 0) {
			if (num(val, 1, 1000000, &o->probe_every))
				goto bad;
		} else if (strcmp(a, "--timeout-ms") == 0) {
			if (num(val, 1, 600000, &x))
				goto bad;
			o->timeout_ms = (unsigned)x;
		} else if (strcmp(a, "--deadline") == 0) {
			if (num(val, 1, 86400, &x))
				goto bad;
			o->deadline_s = (unsigned)x;
		} else {
			goto bad;
		}
		continue;
	bad:
		fprintf(stderr, "bench_visibility: bad argument %s%s%s\n", a,
			val ? " " : "", val ? val : "");
		usage(stderr);
		return -1;
	}
	if (o->owner[0] == '\0' || o->pair[0] == '\0') {
		fprintf(stderr, "bench_visibility: --owner and --pair are "
				"required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* About record_bytes of contacts-like JSON; the first 24 bytes are
 * rewritten per write (the ordinal). */
static char *make_body(unsigned bytes, size_t *len)
{
	char *b = malloc(bytes + 128);
	size_t n;
	unsigned k = 0;

	if (b == NULL)
		return NULL;
	n = (size_t)snprintf(b, bytes + 128, "[{\"n\":%12d, \"sip\":\"x\"}", 0);
	while (n + 80 < bytes)
		n += (size_t)snprintf(b + n, bytes + 128 - n,
				      ",{\"sip\":\"sip:friend%04u@bench.example."
				      "com\",\"name\":\"Friend %04u\"}",
				      k, k), k++;
	n += (size_t)snprintf(b + n, bytes + 128 - n, "]");
	*len = n;
	return b;
}

int main(int argc, char **argv)
{
	struct vis *v = calloc(1, sizeof *v);
	double secs;
	json_t *out;
	int rv;

	if (v == NULL)
		return 1;
	if (parse(&v->o, argc, argv) != 0 ||
	    split_addr(v->o.owner, v->ohost, &v->oport) != 0 ||
	    split_addr(v->o.pair, v->phost, &v->pport) != 0) {
		if (v->ohost[0] == '\0' && v->o.owner[0] != '\0')
			fprintf(stderr, "bench_visibility: bad address\n");
		return 2;
	}
	v->body = make_body(v->o.record_bytes, &v->body_len);
	v->q_cap = v->o.warmup + v->o.count;
	v->queue = calloc(v->q_cap, sizeof *v->queue);
	v->vis_ms = calloc(v->o.count, sizeof(double));
	v->sent_ms = calloc(v->o.count, sizeof(double));
	v->cap_rtt = 4000000;
	v->rtt_ms = calloc(v->cap_rtt, sizeof(double));
	if (v->body == NULL || v->queue == NULL || v->vis_ms == NULL ||
	    v->sent_ms == NULL || v->rtt_ms == NULL)
		return 1;
	for (unsigned i = 0; i < MAX_SLOTS; i++) {
		v->w[i].v = v;
		v->r[i].v = v;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	uv_loop_init(&v->loop);
	rv = hclient_init(&v->client, &v->loop, NULL);
	if (rv == 0)
		rv = hclient_set_pool(&v->client, v->o.writers + v->o.readers + 2,
				      RUN_CONN_S, RUN_CONN_S);
	if (rv != 0) {
		fprintf(stderr, "bench_visibility: client: %s\n",
			hclient_strerror(rv));
		return 1;
	}
	uv_timer_init(&v->loop, &v->tick);
	uv_timer_init(&v->loop, &v->deadline);
	v->tick.data = v->deadline.data = v;
	v->t0 = now_ns();
	if (v->o.warmup == 0)
		v->t_measure0 = v->t0;
	uv_timer_start(&v->tick, on_tick, 0, 1);
	uv_timer_start(&v->deadline, on_deadline,
		       (uint64_t)v->o.deadline_s * 1000, 0);
	uv_run(&v->loop, UV_RUN_DEFAULT);
	uv_loop_close(&v->loop);
	secs = (double)(now_ns() - v->t_measure0) / 1e9;
	if (v->failed) {
		out = json_pack("{s:s}", "error", v->err);
		if (v->o.json)
			printf("%s\n", json_dumps(out, JSON_COMPACT));
		fprintf(stderr, "bench_visibility: %s\n", v->err);
		return 1;
	}
	out = json_pack(
	    "{s:f, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}",
	    "rate", v->o.rate, "count", (json_int_t)v->o.count, "record_bytes",
	    (json_int_t)v->body_len, "warmup", (json_int_t)v->o.warmup,
	    "answered_per_s", (double)v->o.count / secs, "probe_every",
	    (json_int_t)v->o.probe_every, "reads",
	    (json_int_t)v->reads, "queued", (json_int_t)v->queued,
	    "late_ticks", (json_int_t)v->late, "readers",
	    (json_int_t)v->o.readers, "visible_ms", dist(v->vis_ms, v->n_vis),
	    "read_sent_ms", dist(v->sent_ms, v->n_vis), "read_rtt_ms",
	    dist(v->rtt_ms, v->n_rtt));
	if (v->o.json) {
		char *s = json_dumps(out, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
	} else {
		json_t *d = json_object_get(out, "visible_ms");
		json_t *s = json_object_get(out, "read_sent_ms");
		json_t *r = json_object_get(out, "read_rtt_ms");
		printf("writes %lu at %.0f/s (%zu B, %.0f/s answered), probed "
		       "%zu (every %lu), reads at the pair %lu, probes queued "
		       "%lu, ticks with every writer busy %lu\n",
		       v->o.count, v->o.rate, v->body_len, (double)v->o.count / secs,
		       v->n_vis, v->o.probe_every, v->reads, v->queued, v->late);
		printf("visible (answer of the read that found it) ms: p50 %.3f "
		       "p90 %.3f p99 %.3f max %.3f\n",
		       json_real_value(json_object_get(d, "p50")),
		       json_real_value(json_object_get(d, "p90")),
		       json_real_value(json_object_get(d, "p99")),
		       json_real_value(json_object_get(d, "max")));
		printf("lower bound (start of that read) ms: p50 %.3f p90 %.3f "
		       "p99 %.3f max %.3f\n",
		       json_real_value(json_object_get(s, "p50")),
		       json_real_value(json_object_get(s, "p90")),
		       json_real_value(json_object_get(s, "p99")),
		       json_real_value(json_object_get(s, "max")));
		printf("read round trip at the pair ms: p50 %.3f p99 %.3f\n",
		       json_real_value(json_object_get(r, "p50")),
		       json_real_value(json_object_get(r, "p99")));
	}
	json_decref(out);
	return 0;
}
