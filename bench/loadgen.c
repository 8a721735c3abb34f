/* loadgen: data-plane load generator and replication-lag meter.
 *
 * Drives one pool agent's HTTP API on libuv with C keep-alive HTTP/1.1
 * connections (one request outstanding each) and measures how long each
 * write takes to be replicated to the paired pool:
 *
 *   load   POST /v1/users for users 0..N-1 (closed loop, as fast as the
 *          agent answers)
 *   model  the pool's user model, open loop: `--active` users each writing
 *          about one change a minute (PUT contacts or settings, 0.5-4 KB of
 *          JSON) for `--duration` seconds
 *   ramp   1 KB contacts writes at each offered rate of `--rates` for
 *          `--step` seconds, stopping after the first step whose lag p99 is
 *          1 s or more or whose answered rate falls under 95 % of the
 *          offered one
 *
 * With `--batch N` (model and ramp) each request is one `POST
 * /v1/users/batch` carrying N writes instead of N PUTs: rates, answered
 * counts and lag stay per write; write latency is per request.
 *
 * Replication lag: a separate connection reads `GET /v1/backup` every
 * `--poll-ms` and takes `acked_seq` of the user_data stream of the pool's
 * own user set. Each write answer carries its `seq`; its lag is the time
 * from its answer until the first backup answer received with acked_seq >=
 * seq (0 when an earlier backup answer had already passed it). The
 * resolution is therefore the poll interval plus one backup round trip.
 *
 * With `--pid NAME=PID` (repeatable) the CPU time (utime + stime of
 * /proc/PID/stat) and the RSS (VmRSS, VmHWM of /proc/PID/status) of each
 * agent are reported per phase.
 *
 * With `--ca FILE --cert FILE --key FILE` every connection is TLS 1.3 with
 * that client certificate (role operator to write), as poolpairctl's, for
 * agents with [tls]; the agent's certificate must be of role agent.
 *
 * Exit status: 0 ok, 1 the run failed, 2 bad usage. */

#include <signal.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <uv.h>

#include "tls/tls.h"

#define MAX_CONNECTIONS 1024
#define MAX_PIDS 4
#define MAX_RATES 32
#define MAX_BODY (4 * 1024 * 1024)
#define ADDR_LEN 64
#define NAME_LEN 64
#define PATH_LEN 512
#define REQ_MAX (8192 + 512)
#define BATCH_MAX 1000
#define ITEM_OVERHEAD 160 /* JSON around one batch item, generous */
#define TICK_MS 1
#define DRAIN_MS 10000 /* wait for acks after a phase */

enum mode { MODE_LOAD, MODE_MODEL, MODE_RAMP };

enum conn_state {
	CONN_CONNECTING,
	CONN_READY,
	CONN_WAITING,
	CONN_CLOSED,
};

struct opts {
	char api[ADDR_LEN];
	char ca[PATH_LEN], cert[PATH_LEN], key[PATH_LEN]; /* "": plain */
	char pool[NAME_LEN];
	char domain[NAME_LEN];
	enum mode mode;
	unsigned connections;
	unsigned long users;  /* load: users to create; model: enabled */
	unsigned long active; /* model, ramp: users written to */
	double per_user_min;  /* model: writes per active user per minute */
	unsigned duration_s;  /* model */
	unsigned step_s;      /* ramp */
	double rates[MAX_RATES];
	unsigned n_rates;
	unsigned record_bytes; /* ramp */
	unsigned batch;	       /* writes per request; 0: one PUT each */
	unsigned poll_ms;
	unsigned timeout_ms;
	unsigned deadline_s;
	unsigned long seed;
	char pid_name[MAX_PIDS][NAME_LEN];
	int pid[MAX_PIDS];
	unsigned n_pids;
	bool json;
};

struct conn {
	struct tls_conn tls; /* TLS with --ca/--cert/--key, else plain */
	uv_connect_t creq;
	http_parser parser;
	struct lg *lg;
	enum conn_state state;
	bool is_poller;
	char *req; /* owned, req_cap bytes */
	size_t req_len, req_cap;
	char *resp;
	size_t resp_len, resp_cap;
	bool complete;
	uint64_t t_sent;
	size_t payload; /* value bytes of the outstanding write(s) */
	unsigned items; /* writes in the outstanding request */
};

struct pending {
	uint64_t seq;
	uint64_t t_answer; /* ns */
	uint32_t payload;
};

struct samples {
	double *v;
	size_t n, cap;
};

struct proc_mark {
	double cpu_s;
	long rss_kb, hwm_kb;
};

struct phase {
	const char *name;
	double offered;   /* writes/s, 0 for closed loop */
	uint64_t t_start, t_end_offer, t_end;
	uint64_t issued, ok, failed;
	uint64_t payload_bytes, acked_payload_bytes;
	uint64_t acked_at_start, acked_at_end, first_seq, last_seq;
	uint64_t unacked;
	struct samples wlat; /* write answer latency, ms */
	struct samples lag;  /* replication lag, ms */
	struct proc_mark mark0[MAX_PIDS], mark1[MAX_PIDS];
	double self_cpu0, self_cpu1; /* this process's CPU seconds */
	double max_lag_records;
	unsigned status_codes[6]; /* by class: 1xx..5xx, 0 = no answer */
};

struct lg {
	struct opts o;
	uv_loop_t *loop;
	struct tls_ctx tls;
	bool tls_on;
	struct sockaddr_storage addr;
	struct conn *conns;
	struct conn poller;
	uv_timer_t tick;
	uv_timer_t poll_timer;
	uint64_t rng;
	/* current phase */
	struct phase ph;
	bool offering;   /* issuing new writes */
	bool draining;   /* waiting for acks */
	uint64_t next_user; /* load mode */
	uint64_t inflight;
	unsigned rate_idx;
	/* lag tracking */
	struct pending *heap;
	size_t heap_n, heap_cap;
	uint64_t acked;     /* newest acked_seq seen */
	bool acked_known;
	uint64_t t_acked;   /* when it was seen */
	uint64_t polls, poll_errors;
	/* results */
	json_t *out;
	int failed;
	char errmsg[256];
	bool stopping;
	uint64_t t_run0;
	long clk_tck;
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

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

static void fail(struct lg *g, const char *fmt, ...)
{
	va_list ap;

	if (g->failed)
		return;
	g->failed = 1;
	va_start(ap, fmt);
	vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "loadgen: %s\n", g->errmsg);
}

static int samples_add(struct samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		double *p = realloc(s->v, cap * sizeof *p);
		if (p == NULL)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted s; 0 when empty. */
static double pct(const struct samples *s, double p)
{
	size_t k;

	if (s->n == 0)
		return 0;
	k = (size_t)ceil(p / 100.0 * (double)s->n);
	if (k < 1)
		k = 1;
	if (k > s->n)
		k = s->n;
	return s->v[k - 1];
}

static double round3(double v)
{
	return round(v * 1000.0) / 1000.0;
}

/* ---- /proc ------------------------------------------------------------- */

static void proc_mark(struct lg *g, struct proc_mark *m, int pid)
{
	char path[64], buf[4096];
	FILE *f;
	size_t n;

	memset(m, 0, sizeof *m);
	m->cpu_s = -1;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f != NULL) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* fields after the command name, which ends with the last ')' */
		char *p = strrchr(buf, ')');
		unsigned long ut = 0, st = 0;
		if (p != NULL &&
		    sscanf(p + 2,
			   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &ut, &st) == 2)
			m->cpu_s = (double)(ut + st) / (double)g->clk_tck;
	}
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f != NULL) {
		char line[256];
		while (fgets(line, sizeof line, f) != NULL) {
			if (strncmp(line, "VmRSS:", 6) == 0)
				m->rss_kb = strtol(line + 6, NULL, 10);
			else if (strncmp(line, "VmHWM:", 6) == 0)
				m->hwm_kb = strtol(line + 6, NULL, 10);
		}
		fclose(f);
	}
}

/* CPU seconds (user + system) this process used so far. */
static double self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void proc_mark_all(struct lg *g, struct proc_mark *m)
{
	for (unsigned i = 0; i < g->o.n_pids; i++)
		proc_mark(g, &m[i], g->o.pid[i]);
}

/* ---- lag heap (min by seq) --------------------------------------------- */

static int heap_push(struct lg *g, struct pending p)
{
	size_t i;

	if (g->heap_n == g->heap_cap) {
		size_t cap = g->heap_cap ? g->heap_cap * 2 : 4096;
		struct pending *h = realloc(g->heap, cap * sizeof *h);
		if (h == NULL)
			return -ENOMEM;
		g->heap = h;
		g->heap_cap = cap;
	}
	i = g->heap_n++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (g->heap[up].seq <= p.seq)
			break;
		g->heap[i] = g->heap[up];
		i = up;
	}
	g->heap[i] = p;
	return 0;
}

static struct pending heap_pop(struct lg *g)
{
	struct pending top = g->heap[0], last = g->heap[--g->heap_n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= g->heap_n)
			break;
		if (c + 1 < g->heap_n && g->heap[c + 1].seq < g->heap[c].seq)
			c++;
		if (last.seq <= g->heap[c].seq)
			break;
		g->heap[i] = g->heap[c];
		i = c;
	}
	if (g->heap_n > 0)
		g->heap[i] = last;
	return top;
}

static void lag_record(struct lg *g, const struct pending *p, uint64_t t)
{
	double ms = t > p->t_answer ? (double)(t - p->t_answer) / 1e6 : 0;

	if (samples_add(&g->ph.lag, ms) != 0)
		fail(g, "out of memory");
	g->ph.acked_payload_bytes += p->payload;
}

static void acked_seen(struct lg *g, uint64_t acked, uint64_t t)
{
	if (!g->acked_known || acked > g->acked) {
		g->acked = acked;
		g->t_acked = t;
	}
	g->acked_known = true;
	while (g->heap_n > 0 && g->heap[0].seq <= g->acked) {
		struct pending p = heap_pop(g);
		lag_record(g, &p, t);
	}
}

/* ---- request bodies ---------------------------------------------------- */

static const char *const first_names[] = {
    "Anna",  "Ben",   "Carla", "David", "Elena", "Farid", "Grace", "Hiro",
    "Ines",  "Jonas", "Keiko", "Liam",  "Maria", "Nils",  "Olga",  "Pedro",
    "Quinn", "Rosa",  "Sven",  "Tara",  "Uma",   "Viktor", "Wen",  "Yusuf"};
static const char *const last_names[] = {
    "Andersen", "Baker",  "Castillo", "Dubois", "Eriksson", "Fischer",
    "Garcia",   "Hansen", "Ivanova",  "Jensen", "Kowalski", "Larsen",
    "Moreau",   "Novak",  "Okafor",   "Petrov", "Rossi",    "Schmidt",
    "Tanaka",   "Weber"};
static const char *const groups[] = {"Favorites", "Team", "Other Contacts",
				     "Project Orion", "Management",
				     "Support"};
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

	w = snprintf(buf, cap,
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

/* ---- connections -------------------------------------------------------- */

static void conn_send(struct conn *c);
static void dispatch(struct lg *g);

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	if (c->resp_len + len + 1 > c->resp_cap) {
		size_t cap = c->resp_cap ? c->resp_cap : 4096;
		while (cap < c->resp_len + len + 1)
			cap *= 2;
		if (cap > MAX_BODY)
			return 1;
		char *r = realloc(c->resp, cap);
		if (r == NULL)
			return 1;
		c->resp = r;
		c->resp_cap = cap;
	}
	memcpy(c->resp + c->resp_len, at, len);
	c->resp_len += len;
	c->resp[c->resp_len] = '\0';
	return 0;
}

static int on_complete(http_parser *p)
{
	struct conn *c = p->data;
	c->complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
    .on_body = on_body,
    .on_message_complete = on_complete,
};

static void poller_answer(struct lg *g, struct conn *c, uint64_t t)
{
	json_error_t jerr;
	json_t *root, *arr, *v;
	size_t i;
	bool found = false;

	if (c->parser.status_code != 200) {
		g->poll_errors++;
		return;
	}
	root = json_loadb(c->resp, c->resp_len, 0, &jerr);
	arr = root ? json_object_get(root, "backup") : NULL;
	json_array_foreach(arr, i, v)
	{
		const char *cat =
		    json_string_value(json_object_get(v, "category"));
		const char *us =
		    json_string_value(json_object_get(v, "user_set"));
		if (cat == NULL || us == NULL || strcmp(cat, "user_data") != 0 ||
		    strcmp(us, g->o.pool) != 0)
			continue;
		json_t *a = json_object_get(v, "acked_seq");
		json_t *lr = json_object_get(v, "lag_records");
		if (!json_is_integer(a))
			continue;
		found = true;
		if (json_is_integer(lr) &&
		    (double)json_integer_value(lr) > g->ph.max_lag_records)
			g->ph.max_lag_records = (double)json_integer_value(lr);
		acked_seen(g, (uint64_t)json_integer_value(a), t);
	}
	if (!found)
		g->poll_errors++;
	json_decref(root);
}

/* seq from a write answer ("seq":N); 0 when absent. */
static uint64_t answer_seq(const char *body)
{
	const char *p = body ? strstr(body, "\"seq\":") : NULL;
	return p ? strtoull(p + 6, NULL, 10) : 0;
}

static void write_seq(struct lg *g, uint64_t seq, uint64_t t,
		      uint32_t payload)
{
	if (g->ph.first_seq == 0 || seq < g->ph.first_seq)
		g->ph.first_seq = seq;
	if (seq > g->ph.last_seq)
		g->ph.last_seq = seq;
	struct pending p = {seq, t, payload};
	if (g->acked_known && seq <= g->acked) {
		/* already acknowledged by the time it was answered */
		lag_record(g, &p, t);
	} else if (heap_push(g, p) != 0) {
		fail(g, "out of memory");
	}
}

/* The answer of POST /v1/users/batch: one result per item. */
static void batch_answer(struct lg *g, struct conn *c, uint64_t t)
{
	unsigned status = c->parser.status_code;
	json_t *root = NULL, *res, *v;
	size_t i, ok = 0;
	uint32_t per = c->items ? (uint32_t)(c->payload / c->items) : 0;

	g->inflight--;
	g->ph.status_codes[status / 100 < 6 ? status / 100 : 0]++;
	if (status == 200)
		root = json_loadb(c->resp, c->resp_len, 0, NULL);
	res = json_object_get(root, "results");
	if (!json_is_array(res) || json_array_size(res) != c->items) {
		g->ph.failed += c->items;
		if (g->ph.failed <= 5 * c->items)
			fprintf(stderr, "loadgen: batch answer %u: %.200s\n",
				status, c->resp ? c->resp : "");
		json_decref(root);
		return;
	}
	json_array_foreach(res, i, v)
	{
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
		write_seq(g, (uint64_t)json_integer_value(seq), t, per);
	}
	json_decref(root);
	g->ph.ok += ok;
	g->ph.payload_bytes += ok * per;
	if (samples_add(&g->ph.wlat, (double)(t - c->t_sent) / 1e6) != 0)
		fail(g, "out of memory");
}

static void write_answer(struct lg *g, struct conn *c, uint64_t t)
{
	unsigned status = c->parser.status_code;
	uint64_t seq;

	if (c->items > 0) {
		batch_answer(g, c, t);
		return;
	}
	g->inflight--;
	g->ph.status_codes[status / 100 < 6 ? status / 100 : 0]++;
	if (status != 200 && status != 201) {
		g->ph.failed++;
		if (g->ph.failed <= 5)
			fprintf(stderr, "loadgen: answer %u: %.200s\n", status,
				c->resp ? c->resp : "");
		return;
	}
	seq = answer_seq(c->resp);
	if (seq == 0) {
		g->ph.failed++;
		return;
	}
	g->ph.ok++;
	g->ph.payload_bytes += c->payload;
	if (samples_add(&g->ph.wlat, (double)(t - c->t_sent) / 1e6) != 0)
		fail(g, "out of memory");
	write_seq(g, seq, t, (uint32_t)c->payload);
}

static void on_read(struct tls_conn *s, ssize_t nread, const char *data)
{
	struct conn *c = s->data;
	struct lg *g = c->lg;
	size_t off = 0;

	if (nread < 0) {
		if (!g->stopping)
			fail(g, "connection to %s: %s", g->o.api,
			     s->errmsg[0] != '\0' ? s->errmsg
						  : tls_strerror((int)nread));
		tls_conn_read_stop(s);
		c->state = CONN_CLOSED;
		return;
	}
	while (off < (size_t)nread) {
		size_t n = http_parser_execute(&c->parser, &parser_settings,
					       data + off, (size_t)nread - off);
		off += n;
		if (c->complete) {
			uint64_t t = now_ns();
			http_parser_pause(&c->parser, 0);
			c->complete = false;
			c->state = CONN_READY;
			if (c->is_poller) {
				g->polls++;
				poller_answer(g, c, t);
			} else {
				write_answer(g, c, t);
			}
			c->resp_len = 0;
			if (c->resp)
				c->resp[0] = '\0';
			continue;
		}
		if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
			fail(g, "bad answer from %s: %s", g->o.api,
			     http_errno_name(HTTP_PARSER_ERRNO(&c->parser)));
			tls_conn_read_stop(s);
			c->state = CONN_CLOSED;
			return;
		}
	}
	if (!c->is_poller)
		dispatch(g);
}

static void on_written(struct tls_conn *t, int status, void *arg)
{
	struct conn *c = arg;

	(void)t;
	if (status != 0 && !c->lg->stopping)
		fail(c->lg, "write to %s: %s", c->lg->o.api,
		     tls_strerror(status));
}

static void conn_send(struct conn *c)
{
	uv_buf_t b = uv_buf_init(c->req, (unsigned)c->req_len);
	int rv;

	c->state = CONN_WAITING;
	c->t_sent = now_ns();
	rv = tls_conn_write(&c->tls, &b, 1, on_written, c);
	if (rv != 0)
		fail(c->lg, "write: %s", tls_strerror(rv));
}

/* TLS up (plain: the next loop turn after connecting); reading runs. */
static void on_handshake(struct tls_conn *t, int status)
{
	struct conn *c = t->data;
	struct lg *g = c->lg;

	if (status != 0) {
		fail(g, "tls %s: %s", g->o.api,
		     t->errmsg[0] != '\0' ? t->errmsg : tls_strerror(status));
		c->state = CONN_CLOSED;
		return;
	}
	c->state = CONN_READY;
	if (!c->is_poller)
		dispatch(g);
}

static void on_connect(uv_connect_t *r, int status)
{
	struct conn *c = r->data;
	struct lg *g = c->lg;

	if (status != 0) {
		fail(g, "connect %s: %s", g->o.api, uv_strerror(status));
		c->state = CONN_CLOSED;
		return;
	}
	uv_tcp_nodelay(&c->tls.tcp, 1);
	if (tls_conn_start(&c->tls, on_handshake, on_read) != 0) {
		fail(g, "connect %s: cannot start", g->o.api);
		c->state = CONN_CLOSED;
	}
}

static int conn_open(struct lg *g, struct conn *c, bool poller)
{
	int rv;

	memset(c, 0, sizeof *c);
	c->lg = g;
	c->is_poller = poller;
	/* model values are at most 4 KB, ramp values record_bytes */
	c->req_cap = poller || g->o.batch == 0
			 ? REQ_MAX
			 : (size_t)g->o.batch *
				   ((g->o.record_bytes > 4096 ? g->o.record_bytes
							      : 4096) +
				    ITEM_OVERHEAD) +
			       1024;
	c->req = malloc(c->req_cap);
	if (c->req == NULL)
		return UV_ENOMEM;
	http_parser_init(&c->parser, HTTP_RESPONSE);
	c->parser.data = c;
	rv = tls_conn_init(&c->tls, g->loop, g->tls_on ? &g->tls : NULL,
			   TLS_CLIENT, TLS_ROLE_AGENT);
	if (rv != 0)
		return UV_ENOMEM;
	c->tls.data = c;
	c->creq.data = c;
	c->state = CONN_CONNECTING;
	rv = uv_tcp_connect(&c->creq, &c->tls.tcp,
			    (const struct sockaddr *)&g->addr, on_connect);
	if (rv != 0)
		c->state = CONN_CLOSED;
	return rv;
}

/* ---- building writes ---------------------------------------------------- */

static void user_sip(struct lg *g, char *buf, size_t cap, uint64_t i)
{
	snprintf(buf, cap, "sip:u%07" PRIu64 "@%s", i, g->o.domain);
}

static void build_post_user(struct lg *g, struct conn *c, uint64_t i)
{
	char sip[128], body[256];
	int bl;

	user_sip(g, sip, sizeof sip, i);
	bl = snprintf(body, sizeof body, "{\"sip\":\"%s\",\"pool\":\"%s\"}",
		      sip, g->o.pool);
	c->req_len = (size_t)snprintf(
	    c->req, c->req_cap,
	    "POST /v1/users HTTP/1.1\r\nHost: %s\r\nContent-Type: "
	    "application/json\r\nContent-Length: %d\r\n\r\n%s",
	    g->o.api, bl, body);
	c->payload = (size_t)bl;
}

static void build_put_value(struct lg *g, struct conn *c, bool model)
{
	char sip[128];
	char *hdr_end;
	size_t want, blen;
	int hl;
	bool settings = model && rnd_below(g, 3) == 0;
	uint64_t user = rnd(g) % g->o.active;

	want = model ? 512 + rnd_below(g, 4096 - 512 + 1) : g->o.record_bytes;
	user_sip(g, sip, sizeof sip, user);
	/* header with a fixed-width length, patched once the body is built */
	hl = snprintf(c->req, c->req_cap,
		      "PUT /v1/users/%s/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
		      "application/json\r\nContent-Length: %06u\r\n\r\n",
		      sip, settings ? "settings" : "contacts", g->o.api, 0U);
	hdr_end = c->req + hl;
	blen = settings ? body_settings(g, hdr_end, c->req_cap - (size_t)hl,
					want)
			: body_contacts(g, hdr_end, c->req_cap - (size_t)hl,
					want);
	char num[8];
	snprintf(num, sizeof num, "%06u", (unsigned)blen);
	memcpy(hdr_end - 4 - 6, num, 6);
	c->req_len = (size_t)hl + blen;
	c->payload = blen;
	c->items = 0;
}

/* POST /v1/users/batch with o.batch writes as build_put_value makes
 * them. */
static void build_batch(struct lg *g, struct conn *c, bool model)
{
	char sip[128];
	size_t n, payload = 0;
	int hl;

	hl = snprintf(c->req, c->req_cap,
		      "POST /v1/users/batch HTTP/1.1\r\nHost: %s\r\n"
		      "Content-Type: application/json\r\nContent-Length: "
		      "%08u\r\n\r\n{\"items\":[",
		      g->o.api, 0U);
	n = (size_t)hl;
	for (unsigned i = 0; i < g->o.batch; i++) {
		bool settings = model && rnd_below(g, 3) == 0;
		uint64_t user = rnd(g) % g->o.active;
		size_t want = model ? 512 + rnd_below(g, 4096 - 512 + 1)
				    : g->o.record_bytes;
		size_t vlen;

		user_sip(g, sip, sizeof sip, user);
		n += (size_t)snprintf(c->req + n, c->req_cap - n,
				      "%s{\"sip\":\"%s\",\"kind\":\"%s\","
				      "\"value\":",
				      i ? "," : "", sip,
				      settings ? "settings" : "contacts");
		vlen = settings ? body_settings(g, c->req + n, c->req_cap - n,
						want)
				: body_contacts(g, c->req + n, c->req_cap - n,
						want);
		n += vlen;
		payload += vlen;
		c->req[n++] = '}';
	}
	c->req[n++] = ']';
	c->req[n++] = '}';
	char num[12];
	snprintf(num, sizeof num, "%08u", (unsigned)(n - (size_t)hl +
						      strlen("{\"items\":[")));
	memcpy(c->req + hl - strlen("{\"items\":[") - 4 - 8, num, 8);
	c->req_len = n;
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

static void dispatch(struct lg *g)
{
	uint64_t t = now_ns();

	if (g->failed || g->stopping)
		return;
	for (unsigned i = 0; i < g->o.connections; i++) {
		struct conn *c = &g->conns[i];
		if (c->state != CONN_READY)
			continue;
		if (!write_wanted(g, t))
			return;
		if (g->o.mode == MODE_LOAD) {
			build_post_user(g, c, g->next_user++);
			g->ph.issued++;
		} else if (g->o.batch > 0) {
			build_batch(g, c, g->o.mode == MODE_MODEL);
			g->ph.issued += g->o.batch;
		} else {
			build_put_value(g, c, g->o.mode == MODE_MODEL);
			g->ph.issued++;
		}
		g->inflight++;
		conn_send(c);
	}
}

/* ---- phases ------------------------------------------------------------- */

static void phase_start(struct lg *g, const char *name, double offered)
{
	free(g->ph.wlat.v);
	free(g->ph.lag.v);
	memset(&g->ph, 0, sizeof g->ph);
	g->ph.name = name;
	g->ph.offered = offered;
	g->ph.t_start = now_ns();
	g->ph.acked_at_start = g->acked;
	proc_mark_all(g, g->ph.mark0);
	g->ph.self_cpu0 = self_cpu_s();
	g->offering = true;
	g->draining = false;
	if (offered > 0)
		fprintf(stderr, "loadgen: %s at %.0f/s\n", name, offered);
	else
		fprintf(stderr, "loadgen: %s\n", name);
}

static json_t *phase_json(struct lg *g)
{
	struct phase *p = &g->ph;
	double offer_s = (double)(p->t_end_offer - p->t_start) / 1e9;
	double span_s = (double)(p->t_end - p->t_start) / 1e9;
	uint64_t acked_recs = p->acked_at_end > p->acked_at_start
				  ? p->acked_at_end - p->acked_at_start
				  : 0;
	json_t *o, *procs;

	qsort(p->wlat.v, p->wlat.n, sizeof(double), cmp_double);
	qsort(p->lag.v, p->lag.n, sizeof(double), cmp_double);
	o = json_pack(
	    "{s:s, s:f, s:f, s:f, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, "
	    "s:f, s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:f, s:f, s:f, s:I}",
	    "phase", p->name, "offered_per_s", round3(p->offered),
	    "seconds", round3(offer_s), "answered_per_s",
	    round3(offer_s > 0 ? (double)p->ok / offer_s : 0), "ok",
	    (json_int_t)p->ok, "failed", (json_int_t)p->failed, "lag_samples",
	    (json_int_t)p->lag.n, "write_p50_ms", round3(pct(&p->wlat, 50)),
	    "write_p99_ms", round3(pct(&p->wlat, 99)), "lag_p50_ms",
	    round3(pct(&p->lag, 50)), "lag_p90_ms", round3(pct(&p->lag, 90)),
	    "lag_p99_ms", round3(pct(&p->lag, 99)), "lag_max_ms",
	    round3(p->lag.n ? p->lag.v[p->lag.n - 1] : 0), "unacked",
	    (json_int_t)p->unacked, "replicated_records_per_s",
	    round3(span_s > 0 ? (double)acked_recs / span_s : 0),
	    "replicated_mb_per_s",
	    round3(span_s > 0 ? (double)p->acked_payload_bytes / span_s / 1e6
			      : 0),
	    "value_bytes_avg",
	    round3(p->ok ? (double)p->payload_bytes / (double)p->ok : 0),
	    "span_seconds", round3(span_s), "max_lag_records_seen",
	    p->max_lag_records, "payload_bytes", (json_int_t)p->payload_bytes,
	    "first_seq", (json_int_t)p->first_seq, "poll_ms",
	    (double)g->o.poll_ms, "polls", (double)g->polls, "answer_5xx",
	    (double)p->status_codes[5], "answer_4xx",
	    (json_int_t)p->status_codes[4]);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "last_seq", json_integer((json_int_t)p->last_seq));
	procs = json_object();
	for (unsigned i = 0; i < g->o.n_pids; i++) {
		double cpu = p->mark1[i].cpu_s >= 0 && p->mark0[i].cpu_s >= 0
				 ? p->mark1[i].cpu_s - p->mark0[i].cpu_s
				 : -1;
		json_object_set_new(
		    procs, g->o.pid_name[i],
		    json_pack("{s:f, s:f, s:I, s:I}", "cpu_s", round3(cpu),
			      "cpu_percent",
			      round3(span_s > 0 && cpu >= 0
					 ? 100.0 * cpu / span_s
					 : -1),
			      "rss_kb", (json_int_t)p->mark1[i].rss_kb,
			      "hwm_kb", (json_int_t)p->mark1[i].hwm_kb));
	}
	json_object_set_new(o, "agents", procs);
	json_object_set_new(
	    o, "loadgen_cpu_percent",
	    json_real(round3(span_s > 0 ? 100.0 *
					      (p->self_cpu1 - p->self_cpu0) /
					      span_s
					: 0)));
	return o;
}

/* Ends the current phase: returns true when the run should go on. */
static bool phase_end(struct lg *g)
{
	struct phase *p = &g->ph;
	json_t *j;
	bool go_on = true;

	p->t_end = now_ns();
	p->acked_at_end = g->acked;
	p->unacked = g->heap_n;
	proc_mark_all(g, p->mark1);
	p->self_cpu1 = self_cpu_s();
	/* what was not acked counts as lag up to now, so a stuck stream
	 * shows in the percentiles */
	while (g->heap_n > 0) {
		struct pending q = heap_pop(g);
		if (samples_add(&p->lag, (double)(p->t_end - q.t_answer) / 1e6) !=
		    0)
			fail(g, "out of memory");
	}
	j = phase_json(g);
	if (j == NULL) {
		fail(g, "out of memory");
		return false;
	}
	if (!g->o.json) {
		char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
		printf("%s\n", s ? s : "");
		fflush(stdout);
		free(s);
	}
	if (g->o.mode == MODE_RAMP) {
		double ans = json_real_value(json_object_get(j, "answered_per_s"));
		double p99 = json_real_value(json_object_get(j, "lag_p99_ms"));
		json_object_set_new(j, "within_target",
				    json_boolean(p99 < 1000.0 &&
						 ans >= 0.95 * p->offered &&
						 p->unacked == 0));
		if (!(p99 < 1000.0 && ans >= 0.95 * p->offered))
			go_on = false;
	} else {
		go_on = false;
	}
	json_array_append_new(json_object_get(g->out, "phases"), j);
	return go_on;
}

static void next_phase(struct lg *g)
{
	switch (g->o.mode) {
	case MODE_LOAD:
		phase_start(g, "load users", 0);
		break;
	case MODE_MODEL:
		phase_start(g, "user model",
			    (double)g->o.active * g->o.per_user_min / 60.0);
		break;
	case MODE_RAMP:
		phase_start(g, "ramp", g->o.rates[g->rate_idx]);
		break;
	}
}

static void stop_all(struct lg *g);

static void on_tick(uv_timer_t *t)
{
	struct lg *g = t->data;
	uint64_t now = now_ns();
	struct phase *p = &g->ph;

	if (g->failed) {
		stop_all(g);
		return;
	}
	if ((now - g->t_run0) / 1000000000ULL >= g->o.deadline_s) {
		fail(g, "run longer than %u s", g->o.deadline_s);
		stop_all(g);
		return;
	}
	/* request timeouts */
	for (unsigned i = 0; i < g->o.connections; i++) {
		struct conn *c = &g->conns[i];
		if (c->state == CONN_WAITING &&
		    now - c->t_sent > (uint64_t)g->o.timeout_ms * 1000000ULL) {
			fail(g, "no answer within %u ms", g->o.timeout_ms);
			stop_all(g);
			return;
		}
	}
	if (g->offering) {
		bool done;
		if (g->o.mode == MODE_LOAD)
			done = g->next_user >= g->o.users;
		else if (g->o.mode == MODE_MODEL)
			done = now - p->t_start >=
			       (uint64_t)g->o.duration_s * 1000000000ULL;
		else
			done = now - p->t_start >=
			       (uint64_t)g->o.step_s * 1000000000ULL;
		if (done) {
			g->offering = false;
			g->draining = true;
		} else {
			dispatch(g);
		}
	}
	if (g->draining && g->inflight == 0) {
		if (p->t_end_offer == 0)
			p->t_end_offer = now;
		if (g->heap_n == 0 ||
		    now - p->t_end_offer >= (uint64_t)DRAIN_MS * 1000000ULL) {
			g->draining = false;
			bool go_on = phase_end(g);
			if (go_on && g->o.mode == MODE_RAMP &&
			    g->rate_idx + 1 < g->o.n_rates) {
				g->rate_idx++;
				next_phase(g);
			} else {
				stop_all(g);
			}
		}
	}
}

static void on_poll(uv_timer_t *t)
{
	struct lg *g = t->data;
	struct conn *c = &g->poller;

	if (c->state != CONN_READY)
		return;
	c->req_len = (size_t)snprintf(c->req, c->req_cap,
				      "GET /v1/backup HTTP/1.1\r\nHost: %s\r\n\r\n",
				      g->o.api);
	conn_send(c);
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void stop_all(struct lg *g)
{
	if (g->stopping)
		return;
	g->stopping = true;
	uv_timer_stop(&g->tick);
	uv_timer_stop(&g->poll_timer);
	uv_close((uv_handle_t *)&g->tick, on_closed);
	uv_close((uv_handle_t *)&g->poll_timer, on_closed);
	for (unsigned i = 0; i < g->o.connections; i++)
		tls_conn_close(&g->conns[i].tls, NULL);
	tls_conn_close(&g->poller.tls, NULL);
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: loadgen --api HOST:PORT --pool POOL [--mode load|model|ramp]\n"
		"  [--connections C (32)] [--users N (200000)] [--active A (40000)]\n"
		"  [--per-user-min W (1)] [--duration S (60)] [--rates R1,R2,...]\n"
		"  [--step S (10)] [--record-bytes B (1024)] [--poll-ms P (10)]\n"
		"  [--batch N (0: one PUT per write; 1..1000: POST /v1/users/batch)]\n"
		"  [--timeout-ms T (10000)] [--deadline S (300)] [--seed N]\n"
		"  [--domain D (bench.example.com)] [--pid NAME=PID ...] [--json]\n"
		"  [--ca FILE --cert FILE --key FILE (TLS 1.3, for agents with [tls])]\n");
}

static bool parse_ulong(const char *s, unsigned long lo, unsigned long hi,
			unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	unsigned long v;

	memset(o, 0, sizeof *o);
	o->mode = MODE_MODEL;
	o->connections = 32;
	o->users = 200000;
	o->active = 40000;
	o->per_user_min = 1;
	o->duration_s = 60;
	o->step_s = 10;
	o->record_bytes = 1024;
	o->poll_ms = 10;
	o->timeout_ms = 10000;
	o->deadline_s = 300;
	o->seed = 1;
	snprintf(o->domain, sizeof o->domain, "bench.example.com");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;

		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
			takes = false;
		} else if (val == NULL) {
			fprintf(stderr, "loadgen: %s needs a value\n", a);
			return -1;
		} else if (strcmp(a, "--api") == 0) {
			if (strlen(val) >= ADDR_LEN)
				goto bad;
			snprintf(o->api, sizeof o->api, "%s", val);
		} else if (strcmp(a, "--ca") == 0 || strcmp(a, "--cert") == 0 ||
			   strcmp(a, "--key") == 0) {
			char *dst = strcmp(a, "--ca") == 0     ? o->ca
				    : strcmp(a, "--cert") == 0 ? o->cert
							       : o->key;
			if (strlen(val) >= PATH_LEN || *val == '\0')
				goto bad;
			snprintf(dst, PATH_LEN, "%s", val);
		} else if (strcmp(a, "--pool") == 0) {
			if (strlen(val) >= NAME_LEN || *val == '\0')
				goto bad;
			snprintf(o->pool, sizeof o->pool, "%s", val);
		} else if (strcmp(a, "--domain") == 0) {
			if (strlen(val) >= NAME_LEN || *val == '\0' ||
			    strspn(val, "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
				strlen(val))
				goto bad;
			snprintf(o->domain, sizeof o->domain, "%s", val);
		} else if (strcmp(a, "--mode") == 0) {
			if (strcmp(val, "load") == 0)
				o->mode = MODE_LOAD;
			else if (strcmp(val, "model") == 0)
				o->mode = MODE_MODEL;
			else if (strcmp(val, "ramp") == 0)
				o->mode = MODE_RAMP;
			else
				goto bad;
		} else if (strcmp(a, "--connections") == 0) {
			if (!parse_ulong(val, 1, MAX_CONNECTIONS, &v))
				goto bad;
			o->connections = (unsigned)v;
		} else if (strcmp(a, "--users") == 0) {
			if (!parse_ulong(val, 1, 9999999, &v))
				goto bad;
			o->users = v;
		} else if (strcmp(a, "--active") == 0) {
			if (!parse_ulong(val, 1, 9999999, &v))
				goto bad;
			o->active = v;
		} else if (strcmp(a, "--per-user-min") == 0) {
			char *end;
			o->per_user_min = strtod(val, &end);
			if (*end != '\0' || !(o->per_user_min > 0) ||
			    o->per_user_min > 1000)
				goto bad;
		} else if (strcmp(a, "--duration") == 0) {
			if (!parse_ulong(val, 1, 3600, &v))
				goto bad;
			o->duration_s = (unsigned)v;
		} else if (strcmp(a, "--step") == 0) {
			if (!parse_ulong(val, 1, 600, &v))
				goto bad;
			o->step_s = (unsigned)v;
		} else if (strcmp(a, "--record-bytes") == 0) {
			if (!parse_ulong(val, 200, 8000, &v))
				goto bad;
			o->record_bytes = (unsigned)v;
		} else if (strcmp(a, "--batch") == 0) {
			if (!parse_ulong(val, 0, BATCH_MAX, &v))
				goto bad;
			o->batch = (unsigned)v;
		} else if (strcmp(a, "--poll-ms") == 0) {
			if (!parse_ulong(val, 1, 1000, &v))
				goto bad;
			o->poll_ms = (unsigned)v;
		} else if (strcmp(a, "--timeout-ms") == 0) {
			if (!parse_ulong(val, 10, 600000, &v))
				goto bad;
			o->timeout_ms = (unsigned)v;
		} else if (strcmp(a, "--deadline") == 0) {
			if (!parse_ulong(val, 1, 86400, &v))
				goto bad;
			o->deadline_s = (unsigned)v;
		} else if (strcmp(a, "--seed") == 0) {
			if (!parse_ulong(val, 1, ULONG_MAX, &v))
				goto bad;
			o->seed = v;
		} else if (strcmp(a, "--rates") == 0) {
			char tmp[512], *save = NULL, *tok;
			if (strlen(val) >= sizeof tmp)
				goto bad;
			snprintf(tmp, sizeof tmp, "%s", val);
			o->n_rates = 0;
			for (tok = strtok_r(tmp, ",", &save); tok != NULL;
			     tok = strtok_r(NULL, ",", &save)) {
				if (o->n_rates == MAX_RATES ||
				    !parse_ulong(tok, 1, 10000000, &v))
					goto bad;
				o->rates[o->n_rates++] = (double)v;
			}
			if (o->n_rates == 0)
				goto bad;
		} else if (strcmp(a, "--pid") == 0) {
			const char *eq = strchr(val, '=');
			if (eq == NULL || eq == val || o->n_pids == MAX_PIDS ||
			    (size_t)(eq - val) >= NAME_LEN ||
			    !parse_ulong(eq + 1, 1, 4194304, &v))
				goto bad;
			snprintf(o->pid_name[o->n_pids], NAME_LEN, "%.*s",
				 (int)(eq - val), val);
			o->pid[o->n_pids++] = (int)v;
		} else {
			fprintf(stderr, "loadgen: unknown option %s\n", a);
			return -1;
		}
		if (takes)
			i++;
		continue;
	bad:
		fprintf(stderr, "loadgen: bad value for %s: %s\n", a, val);
		return -1;
	}
	if (o->api[0] == '\0' || o->pool[0] == '\0') {
		fprintf(stderr, "loadgen: --api and --pool are required\n");
		return -1;
	}
	if (o->mode == MODE_RAMP && o->n_rates == 0) {
		fprintf(stderr, "loadgen: --mode ramp needs --rates\n");
		return -1;
	}
	return 0;
}

static int resolve(struct lg *g)
{
	char host[ADDR_LEN];
	const char *colon = strrchr(g->o.api, ':');
	unsigned long port;

	if (colon == NULL || colon == g->o.api ||
	    (size_t)(colon - g->o.api) >= sizeof host ||
	    !parse_ulong(colon + 1, 1, 65535, &port))
		return -EINVAL;
	snprintf(host, sizeof host, "%.*s", (int)(colon - g->o.api), g->o.api);
	return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&g->addr);
}

int main(int argc, char **argv)
{
	struct lg g;
	int rv;

	signal(SIGPIPE, SIG_IGN); /* an agent killed mid-write: EPIPE, not death */

	memset(&g, 0, sizeof g);
	if (parse_opts(&g.o, argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	if ((g.o.ca[0] != '\0') != (g.o.cert[0] != '\0') ||
	    (g.o.ca[0] != '\0') != (g.o.key[0] != '\0')) {
		fprintf(stderr, "loadgen: --ca, --cert and --key go together\n");
		return 2;
	}
	if (g.o.ca[0] != '\0') {
		if (tls_ctx_init(&g.tls, g.o.ca, g.o.cert, g.o.key) != 0) {
			fprintf(stderr, "loadgen: tls: %s\n", g.tls.errmsg);
			return 2;
		}
		g.tls_on = true;
	}
	if (resolve(&g) != 0) {
		fprintf(stderr, "loadgen: bad --api %s (want IPv4:PORT)\n",
			g.o.api);
		return 2;
	}
	g.clk_tck = sysconf(_SC_CLK_TCK);
	if (g.clk_tck <= 0)
		g.clk_tck = 100;
	g.rng = g.o.seed * 0x9E3779B97F4A7C15ULL | 1;
	g.loop = uv_default_loop();
	g.conns = calloc(g.o.connections, sizeof *g.conns);
	g.out = json_pack("{s:s, s:s, s:i, s:i, s:[]}", "api", g.o.api, "pool",
			  g.o.pool, "connections", (int)g.o.connections,
			  "batch", (int)g.o.batch, "phases");
	if (g.conns == NULL || g.out == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	g.t_run0 = now_ns();
	rv = conn_open(&g, &g.poller, true);
	for (unsigned i = 0; rv == 0 && i < g.o.connections; i++)
		rv = conn_open(&g, &g.conns[i], false);
	if (rv != 0) {
		fprintf(stderr, "loadgen: connect: %s\n", uv_strerror(rv));
		return 1;
	}
	uv_timer_init(g.loop, &g.tick);
	g.tick.data = &g;
	uv_timer_init(g.loop, &g.poll_timer);
	g.poll_timer.data = &g;
	uv_timer_start(&g.poll_timer, on_poll, 0, g.o.poll_ms);
	/* wait for the first backup answer so lag has a base */
	while (!g.acked_known && !g.failed &&
	       now_ns() - g.t_run0 < 10000000000ULL)
		uv_run(g.loop, UV_RUN_ONCE);
	if (!g.acked_known && !g.failed)
		fail(&g, "no user_data stream of %s in GET /v1/backup",
		     g.o.pool);
	if (g.failed) {
		stop_all(&g);
	} else {
		next_phase(&g);
		uv_timer_start(&g.tick, on_tick, TICK_MS, TICK_MS);
	}
	uv_run(g.loop, UV_RUN_DEFAULT);
	uv_loop_close(g.loop);
	if (g.tls_on)
		tls_ctx_close(&g.tls);
	if (g.o.json) {
		json_object_set_new(g.out, "ok", json_boolean(!g.failed));
		json_object_set_new(g.out, "error", json_string(g.errmsg));
		char *s = json_dumps(g.out, JSON_COMPACT | JSON_REAL_PRECISION(10));
		printf("%s\n", s ? s : "{}");
		free(s);
	}
	for (unsigned i = 0; i < g.o.connections; i++) {
		free(g.conns[i].resp);
		free(g.conns[i].req);
	}
	free(g.poller.resp);
	free(g.poller.req);
	free(g.conns);
	free(g.heap);
	free(g.ph.wlat.v);
	free(g.ph.lag.v);
	json_decref(g.out);
	return g.failed ? 1 : 0;
}
