/* bench_decisions: control-plane decisions per second through the HTTP API.
 *
 * A closed-loop load generator on libuv: C request slots, each with one
 * request outstanding, over agent/hclient.h (libcurl's multi interface on
 * the loop, connections kept alive: C slots use C connections). A write is
 * `PUT /v1/policy` with a new `cooldown_ms` each time, i.e. one committed
 * Raft decision; its 200 answer must carry that value and a decision number
 * above the slot's previous one. A read is `GET /v1/status`. When the given
 * agent answers the first write with 307, the run moves to the leader it
 * names (once). More new connections to one agent than slots means the
 * agent does not keep connections alive: the run fails.
 *
 * Latency is from the start of the request (hclient_request()) to the
 * complete answer received.
 * Exit status: 0 ok, 1 the run failed, 2 bad usage. */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "agent/hclient.h"

#define MAX_CONNECTIONS 256
#define MAX_COUNT 10000000UL
#define MAX_COOLDOWN_MS 3600000U /* the API's bound on durations */
#define ADDR_LEN 64
#define RUN_CONN_S 86400 /* connections are kept for the whole run */

enum op { OP_WRITE, OP_READ };

enum phase {
	PHASE_RESOLVE, /* one write to find the leader */
	PHASE_WARMUP,
	PHASE_MEASURE,
	PHASE_CLOSING,
};

struct opts {
	char api[ADDR_LEN];
	enum op op;
	bool concurrent;
	unsigned connections;
	unsigned long count;
	unsigned long warmup;
	unsigned timeout_ms; /* per request, connecting included */
	unsigned deadline_s; /* whole run */
	bool json;
	const char *trace; /* file of one line per measured request, or NULL */
};

/* One request outstanding at a time. */
struct conn {
	struct bench *b;
	unsigned idx;
	bool waiting;	   /* a request is outstanding */
	uint32_t value;	   /* cooldown_ms sent */
	uint64_t start_ns; /* of the outstanding request */
	uint64_t start_wall_ns; /* the same instant, CLOCK_REALTIME */
	json_int_t last_decision;
	bool in_measure; /* the outstanding request counts */
};

struct bench {
	struct opts o;
	uv_loop_t loop;
	uv_timer_t deadline;
	struct hclient client;
	bool client_open;
	struct conn *conns;
	char target[ADDR_LEN]; /* where requests go, "HOST:PORT" */
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	unsigned new_conns; /* connections opened to target */
	bool redirected;
	enum phase phase;
	unsigned long issued, done, target_n;
	uint64_t measure_start_ns, measure_end_ns;
	uint32_t value_base;
	uint32_t seq;
	double *lat; /* ms, o.count entries */
	unsigned long n_lat;
	FILE *trace; /* --trace */
	int failed;
	char errmsg[512];
	json_int_t *decisions; /* every decision number answered */
	unsigned long n_decisions, max_decisions;
	unsigned long n_other_value; /* answers showing another cooldown */
};

static void bench_fail(struct bench *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bench_close(struct bench *b);
static void conn_next(struct conn *c);

/* Starts the slots after the first: once the leader is known. */
static void open_rest(struct bench *b)
{
	unsigned i;

	for (i = 1; i < b->o.connections; i++)
		conn_next(&b->conns[i]);
}

/* The warmup or measured run is complete: no request is outstanding. */
static void phase_end(struct bench *b)
{
	unsigned i;

	if (b->phase == PHASE_MEASURE) {
		b->measure_end_ns = uv_hrtime();
		bench_close(b);
		return;
	}
	b->phase = PHASE_MEASURE;
	b->issued = b->done = 0;
	b->target_n = b->o.count;
	b->measure_start_ns = uv_hrtime();
	for (i = 0; i < b->o.connections; i++)
		conn_next(&b->conns[i]);
}

static const char *op_path(enum op op)
{
	return op == OP_WRITE ? "PUT /v1/policy" : "GET /v1/status";
}

/* ---- addresses ---- */

/* Parses "A.B.C.D:PORT" or "localhost:PORT" (as 127.0.0.1) into host and
 * port. */
static int addr_parse(const char *s, char *host, size_t hostlen,
		      uint16_t *port)
{
	struct sockaddr_in sa;
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long p;
	size_t hl;

	if (colon == NULL || colon == s)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl >= hostlen || hl >= ADDR_LEN)
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, hostlen, "127.0.0.1");
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    p == 0 || p > 65535)
		return -EINVAL;
	if (uv_ip4_addr(host, (int)p, &sa) != 0)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_decision(const void *a, const void *b)
{
	json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;

	return (x > y) - (x < y);
}

/* Returns the first decision number answered twice, or 0. */
static json_int_t duplicate_decision(json_int_t *v, size_t n)
{
	size_t i;

	qsort(v, n, sizeof *v, cmp_decision);
	for (i = 1; i < n; i++)
		if (v[i] == v[i - 1])
			return v[i];
	return 0;
}

/* Now on the system clock (for --trace: lines up with other logs). */
static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Measured requests slower than ms (v sorted, n entries). */
static size_t count_above(const double *v, size_t n, double ms)
{
	size_t k = n;

	while (k > 0 && v[k - 1] > ms)
		k--;
	return n - k;
}

/* Nearest-rank percentile of sorted v[0..n-1], n > 0. */
static double percentile(const double *v, size_t n, double p)
{
	size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* ---- HTTP answers ---- */

/* Checks a write's answer; returns 0 or -1 with the reason in why. */
static int check_write(struct conn *c, const json_t *root, char *why,
		       size_t whylen)
{
	json_t *decision = json_object_get(root, "decision");
	json_t *policy = json_object_get(root, "policy");
	json_t *cooldown = json_object_get(policy, "cooldown_ms");
	json_int_t d;

	if (!json_is_integer(decision) || !json_is_integer(cooldown)) {
		snprintf(why, whylen, "answer lacks decision or cooldown_ms");
		return -1;
	}
	d = json_integer_value(decision);
	/* The answer shows the policy when it is sent: with several
	 * connections a later decision may already be applied. */
	if (json_integer_value(cooldown) != (json_int_t)c->value) {
		if (!c->b->o.concurrent) {
			snprintf(why, whylen, "cooldown_ms %lld, sent %u",
				 (long long)json_integer_value(cooldown),
				 c->value);
			return -1;
		}
		c->b->n_other_value++;
	}
	if (d <= c->last_decision) {
		snprintf(why, whylen, "decision %lld not above previous %lld",
			 (long long)d, (long long)c->last_decision);
		return -1;
	}
	c->last_decision = d;
	if (c->b->n_decisions < c->b->max_decisions)
		c->b->decisions[c->b->n_decisions++] = d;
	return 0;
}

/* A 307 to the first write: the run moves to the leader it names. */
static void redirect(struct conn *c, const char *location)
{
	struct bench *b = c->b;
	char host[HCLIENT_HOST_MAX];
	uint16_t port;

	if (location == NULL ||
	    hclient_parse_url(location, host, sizeof host, &port, NULL, 0) !=
		0 ||
	    strlen(host) + 7 > sizeof b->target) {
		bench_fail(b, "307 with unusable Location \"%s\"",
			   location != NULL ? location : "");
		return;
	}
	memcpy(b->host, host, strlen(host) + 1);
	b->port = port;
	snprintf(b->target, sizeof b->target, "%s:%u", host, (unsigned)port);
	b->redirected = true;
	b->new_conns = 0;
	b->issued--; /* the redirected write is sent again */
	conn_next(c);
}

/* Completion of c's request (hclient_cb). */
static void conn_answer(void *arg, int err, const struct hclient_response *r)
{
	struct conn *c = arg;
	struct bench *b = c->b;
	double ms = (double)(uv_hrtime() - c->start_ns) / 1e6;
	json_t *root;
	json_error_t jerr;
	char why[160];
	int rv;

	c->waiting = false;
	if (b->phase == PHASE_CLOSING)
		return; /* cancelled by the close */
	if (err != 0) {
		bench_fail(b, "connection %u: %s", c->idx,
			   err == UV_ETIMEDOUT ? "no answer in time"
			   : err == UV_EOF     ? "closed by the server"
					       : hclient_strerror(err));
		return;
	}
	if (r->new_connection && ++b->new_conns > b->o.connections) {
		bench_fail(b, "%s: server does not keep the connection alive",
			   op_path(b->o.op));
		return;
	}
	if (b->phase == PHASE_RESOLVE && r->status == 307 && !b->redirected) {
		redirect(c, r->location);
		return;
	}
	if (r->status != 200) {
		bench_fail(b, "%s: status %d: %.200s", op_path(b->o.op),
			   r->status, r->body);
		return;
	}
	root = json_loadb(r->body, r->body_len, 0, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		bench_fail(b, "%s: answer is not a JSON object: %.200s",
			   op_path(b->o.op), r->body);
		return;
	}
	if (b->o.op == OP_WRITE) {
		rv = check_write(c, root, why, sizeof why);
	} else {
		rv = json_is_object(json_object_get(root, "cluster")) ? 0 : -1;
		snprintf(why, sizeof why, "status lacks cluster");
	}
	json_decref(root);
	if (rv != 0) {
		bench_fail(b, "%s: %s", op_path(b->o.op), why);
		return;
	}
	if (c->in_measure && b->n_lat < b->o.count) {
		b->lat[b->n_lat++] = ms;
		if (b->trace != NULL)
			fprintf(b->trace, "%llu.%09llu %u %.3f %lld\n",
				(unsigned long long)(c->start_wall_ns /
						     1000000000ULL),
				(unsigned long long)(c->start_wall_ns %
						     1000000000ULL),
				c->idx, ms, (long long)c->last_decision);
	}
	b->done++;
	if (b->phase == PHASE_RESOLVE) {
		b->phase = PHASE_WARMUP;
		open_rest(b);
	}
	if (b->done == b->target_n)
		phase_end(b);
	else
		conn_next(c);
}

/* ---- requests ---- */

/* Sends the next request on c if the phase wants one. */
static void conn_next(struct conn *c)
{
	struct bench *b = c->b;
	char body[48];
	int rv;

	if (c->waiting || b->phase == PHASE_CLOSING ||
	    b->issued >= b->target_n)
		return;
	if (b->phase == PHASE_RESOLVE && c->idx != 0)
		return;
	c->in_measure = b->phase == PHASE_MEASURE;
	b->issued++;
	c->waiting = true;
	c->start_ns = uv_hrtime();
	c->start_wall_ns = wall_ns();
	if (b->o.op == OP_WRITE) {
		c->value = 1 + (b->value_base + b->seq++) % MAX_COOLDOWN_MS;
		snprintf(body, sizeof body, "{\"cooldown_ms\":%u}", c->value);
		rv = hclient_request(&b->client, "PUT", b->host, b->port,
				     "/v1/policy",
				     "X-Poolpair-Who: bench_decisions\r\n", body,
				     strlen(body), b->o.timeout_ms, conn_answer,
				     c, NULL);
	} else {
		rv = hclient_request(&b->client, "GET", b->host, b->port,
				     "/v1/status", NULL, NULL, 0,
				     b->o.timeout_ms, conn_answer, c, NULL);
	}
	if (rv != 0) {
		c->waiting = false;
		bench_fail(b, "connection %u: request: %s", c->idx,
			   hclient_strerror(rv));
	}
}

/* ---- life cycle ---- */

static void deadline_cb(uv_timer_t *t)
{
	struct bench *b = t->data;

	bench_fail(b, "run not done within %u s (%lu of %lu answered)",
		   b->o.deadline_s, b->done, b->target_n);
}

static void bench_fail(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	if (b->failed == 0) {
		b->failed = 1;
		va_start(ap, fmt);
		vsnprintf(b->errmsg, sizeof b->errmsg, fmt, ap);
		va_end(ap);
	}
	bench_close(b);
}

/* Cancels what is outstanding (the callbacks see PHASE_CLOSING), closes
 * the connections and the handles; uv_run() then returns. */
static void bench_close(struct bench *b)
{
	if (b->phase == PHASE_CLOSING)
		return;
	b->phase = PHASE_CLOSING;
	uv_close((uv_handle_t *)&b->deadline, NULL);
	if (b->client_open)
		hclient_close(&b->client, NULL);
}

/* ---- output ---- */

static void print_results(struct bench *b)
{
	double secs = (double)(b->measure_end_ns - b->measure_start_ns) / 1e9;
	double per_s = secs > 0 ? (double)b->n_lat / secs : 0;
	size_t n = b->n_lat;
	double p50, p90, p99, p999, max;
	size_t over1, over5;
	const char *mode = b->o.concurrent ? "concurrent" : "sequential";
	const char *opn = b->o.op == OP_WRITE ? "write" : "read";

	qsort(b->lat, n, sizeof *b->lat, cmp_double);
	p50 = percentile(b->lat, n, 50);
	p90 = percentile(b->lat, n, 90);
	p99 = percentile(b->lat, n, 99);
	p999 = percentile(b->lat, n, 99.9);
	max = b->lat[n - 1];
	over1 = count_above(b->lat, n, 1.0);
	over5 = count_above(b->lat, n, 5.0);
	if (b->o.json) {
		printf("{\"bench\":\"decisions\",\"op\":\"%s\",\"request\":"
		       "\"%s\",\"api\":\"%s\",\"given_api\":\"%s\","
		       "\"mode\":\"%s\",\"connections\":%u,\"count\":%zu,"
		       "\"warmup\":%lu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
		       "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
		       "\"over_1ms\":%zu,\"over_5ms\":%zu,\"per_s\":%.0f,"
		       "\"answers_showing_later_policy\":%lu}\n",
		       opn, op_path(b->o.op), b->target, b->o.api, mode,
		       b->o.connections, n, b->o.warmup, p50, p90, p99, p999,
		       max, over1, over5, per_s, b->n_other_value);
		return;
	}
	printf("decisions: %s at %s%s%s%s, %s, %u connection%s, warmup %lu\n",
	       op_path(b->o.op), b->target,
	       b->redirected ? " (redirected from " : "",
	       b->redirected ? b->o.api : "", b->redirected ? ")" : "", mode, b->o.connections,
	       b->o.connections == 1 ? "" : "s", b->o.warmup);
	printf("%-10s %8s %9s %9s %9s %9s %9s %10s\n", "op", "count",
	       "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
	       b->o.op == OP_WRITE ? "decisions/s" : "reads/s");
	printf("%-10s %8zu %9.3f %9.3f %9.3f %9.3f %9.3f %10.0f\n", opn, n,
	       p50, p90, p99, p999, max, per_s);
	printf("slower than 1 ms: %zu, slower than 5 ms: %zu\n", over1, over5);
	if (b->n_other_value > 0)
		printf("%lu answers showed a policy set by a later decision\n",
		       b->n_other_value);
}

/* ---- arguments ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_decisions --api HOST:PORT [options]\n"
		"  --api HOST:PORT      an agent's API (IPv4 or localhost); a "
		"follower's 307 is followed once\n"
		"  --mode MODE          sequential (1 connection) or concurrent "
		"(default sequential)\n"
		"  --connections C      concurrent connections, 1..%d "
		"(default 8)\n"
		"  --op OP              write (PUT /v1/policy, a decision) or "
		"read (GET /v1/status) (default write)\n"
		"  --count N            measured requests (default 2000)\n"
		"  --warmup W           unmeasured requests first (default 200)\n"
		"  --timeout-ms MS      per request and per connect (default "
		"5000)\n"
		"  --deadline S         whole run (default 120)\n"
		"  --json               print one JSON object\n"
		"  --trace FILE         write one line per measured request: "
		"start (Unix s, system clock), connection, latency ms, "
		"decision\n",
		MAX_CONNECTIONS);
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max,
			unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	bool have_conns = false;
	unsigned long v = 0;
	int i;

	*o = (struct opts){.op = OP_WRITE,
			   .connections = 8,
			   .count = 2000,
			   .warmup = 200,
			   .timeout_ms = 5000,
			   .deadline_s = 120};
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true, takes = true;
		char host[ADDR_LEN];
		uint16_t port;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
			takes = false;
		} else if (strcmp(a, "--trace") == 0) {
			ok = val != NULL && val[0] != '\0';
			o->trace = val;
		} else if (strcmp(a, "--api") == 0) {
			ok = val != NULL && strlen(val) < sizeof o->api &&
			     addr_parse(val, host, sizeof host, &port) == 0;
			if (ok)
				strcpy(o->api, val);
		} else if (strcmp(a, "--mode") == 0) {
			ok = val != NULL && (strcmp(val, "sequential") == 0 ||
					     strcmp(val, "concurrent") == 0);
			o->concurrent = ok && strcmp(val, "concurrent") == 0;
		} else if (strcmp(a, "--op") == 0) {
			ok = val != NULL && (strcmp(val, "write") == 0 ||
					     strcmp(val, "read") == 0);
			o->op = ok && strcmp(val, "read") == 0 ? OP_READ
							       : OP_WRITE;
		} else if (strcmp(a, "--connections") == 0) {
			ok = parse_ulong(val, 1, MAX_CONNECTIONS, &v);
			o->connections = (unsigned)v;
			have_conns = true;
		} else if (strcmp(a, "--count") == 0) {
			ok = parse_ulong(val, 1, MAX_COUNT, &o->count);
		} else if (strcmp(a, "--warmup") == 0) {
			ok = parse_ulong(val, 0, MAX_COUNT, &o->warmup);
		} else if (strcmp(a, "--timeout-ms") == 0) {
			ok = parse_ulong(val, 1, 600000, &v);
			o->timeout_ms = (unsigned)v;
		} else if (strcmp(a, "--deadline") == 0) {
			ok = parse_ulong(val, 1, 3600, &v);
			o->deadline_s = (unsigned)v;
		} else {
			fprintf(stderr, "bench_decisions: unknown option %s\n",
				a);
			usage(stderr);
			return 2;
		}
		if (!ok) {
			fprintf(stderr,
				"bench_decisions: bad value for %s: %s\n", a,
				val != NULL ? val : "(missing)");
			usage(stderr);
			return 2;
		}
		if (takes)
			i++;
	}
	if (o->api[0] == '\0') {
		fprintf(stderr, "bench_decisions: --api is required\n");
		usage(stderr);
		return 2;
	}
	if (!o->concurrent) {
		if (have_conns && o->connections != 1) {
			fprintf(stderr, "bench_decisions: sequential mode uses "
					"one connection\n");
			return 2;
		}
		o->connections = 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench *b;
	unsigned i;
	int rv, status = 1;
	json_int_t dup;

	signal(SIGPIPE, SIG_IGN); /* libcurl writing to a closed socket */
	b = calloc(1, sizeof *b);
	if (b == NULL) {
		fprintf(stderr, "bench_decisions: out of memory\n");
		return 1;
	}
	rv = parse_args(argc, argv, &b->o);
	if (rv != 0) {
		free(b);
		return rv;
	}
	strcpy(b->target, b->o.api);
	addr_parse(b->target, b->host, sizeof b->host, &b->port);
	b->lat = calloc(b->o.count, sizeof *b->lat);
	b->conns = calloc(b->o.connections, sizeof *b->conns);
	b->max_decisions = b->o.count + b->o.warmup + 1;
	b->decisions = calloc(b->max_decisions, sizeof *b->decisions);
	if (b->lat == NULL || b->conns == NULL || b->decisions == NULL) {
		fprintf(stderr, "bench_decisions: out of memory\n");
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "bench_decisions: libcurl: cannot initialise\n");
		goto out;
	}
	rv = uv_loop_init(&b->loop);
	if (rv != 0) {
		fprintf(stderr, "bench_decisions: loop: %s\n", uv_strerror(rv));
		goto out_curl;
	}
	rv = hclient_init(&b->client, &b->loop, NULL);
	if (rv == 0)
		rv = hclient_set_pool(&b->client, b->o.connections + 1,
				      RUN_CONN_S, RUN_CONN_S);
	if (rv != 0) {
		fprintf(stderr, "bench_decisions: http client: %s\n",
			hclient_strerror(rv));
		if (b->client.state == HCLIENT_OPEN) {
			hclient_close(&b->client, NULL);
			uv_run(&b->loop, UV_RUN_DEFAULT);
		}
		uv_loop_close(&b->loop);
		goto out_curl;
	}
	b->client_open = true;
	if (b->o.trace != NULL) {
		b->trace = fopen(b->o.trace, "w");
		if (b->trace == NULL) {
			fprintf(stderr, "bench_decisions: %s: %s\n",
				b->o.trace, strerror(errno));
			hclient_close(&b->client, NULL);
			uv_run(&b->loop, UV_RUN_DEFAULT);
			uv_loop_close(&b->loop);
			goto out_curl;
		}
	}
	b->value_base = (uint32_t)((uv_hrtime() / 1000) % MAX_COOLDOWN_MS);
	uv_timer_init(&b->loop, &b->deadline);
	b->deadline.data = b;
	uv_timer_start(&b->deadline, deadline_cb, b->o.deadline_s * 1000ULL, 0);
	/* Writes start with one request on slot 0 to find the leader; it is
	 * part of the warmup. */
	if (b->o.op == OP_WRITE) {
		b->phase = PHASE_RESOLVE;
		b->target_n = b->o.warmup > 0 ? b->o.warmup : 1;
	} else if (b->o.warmup > 0) {
		b->phase = PHASE_WARMUP;
		b->target_n = b->o.warmup;
	} else {
		b->phase = PHASE_MEASURE;
		b->target_n = b->o.count;
		b->measure_start_ns = uv_hrtime();
	}
	for (i = 0; i < b->o.connections; i++) {
		b->conns[i].b = b;
		b->conns[i].idx = i;
	}
	conn_next(&b->conns[0]);
	if (b->o.op == OP_READ)
		open_rest(b);
	uv_run(&b->loop, UV_RUN_DEFAULT);
	rv = uv_loop_close(&b->loop);
	if (rv != 0)
		fprintf(stderr, "bench_decisions: loop close: %s\n",
			uv_strerror(rv));
	if (b->failed) {
		fprintf(stderr, "bench_decisions: %s\n", b->errmsg);
	} else if (b->n_lat != b->o.count) {
		fprintf(stderr, "bench_decisions: %lu of %lu answers measured\n",
			b->n_lat, b->o.count);
	} else if ((dup = duplicate_decision(b->decisions, b->n_decisions)) !=
		   0) {
		fprintf(stderr, "bench_decisions: decision %lld answered twice\n",
			(long long)dup);
	} else {
		print_results(b);
		status = 0;
	}
	if (b->trace != NULL && fclose(b->trace) != 0) {
		fprintf(stderr, "bench_decisions: %s: %s\n", b->o.trace,
			strerror(errno));
		status = 1;
	}
out_curl:
	curl_global_cleanup();
out:
	free(b->conns);
	free(b->decisions);
	free(b->lat);
	free(b);
	return status;
}
