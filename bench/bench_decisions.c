/* bench_decisions: control-plane decisions per second through the HTTP API.
 *
 * A closed-loop load generator on libuv: C keep-alive HTTP/1.1 connections,
 * each with one request outstanding. A write is `PUT /v1/policy` with a new
 * `cooldown_ms` each time, i.e. one committed Raft decision; its 200 answer
 * must carry that value and a decision number above the connection's
 * previous one. A read is `GET /v1/status`. When the given agent answers
 * the first write with 307, the run moves to the leader it names (once).
 *
 * Latency is from the first byte written to the complete answer parsed.
 * Exit status: 0 ok, 1 the run failed, 2 bad usage. */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <jansson.h>
#include <uv.h>

#define MAX_CONNECTIONS 256
#define MAX_COUNT 10000000UL
#define MAX_BODY (1024 * 1024)
#define MAX_COOLDOWN_MS 3600000U /* the API's bound on durations */
#define ADDR_LEN 64

enum op { OP_WRITE, OP_READ };

enum phase {
	PHASE_RESOLVE, /* one write to find the leader */
	PHASE_WARMUP,
	PHASE_MEASURE,
	PHASE_CLOSING,
};

enum conn_state {
	CONN_IDLE_CLOSED, /* handle initialised, not connected */
	CONN_CONNECTING,
	CONN_READY, /* connected, no request outstanding */
	CONN_WAITING,
	CONN_REOPENING, /* closing to connect to the leader */
	CONN_CLOSING,
	CONN_CLOSED,
};

struct opts {
	char api[ADDR_LEN];
	enum op op;
	bool concurrent;
	unsigned connections;
	unsigned long count;
	unsigned long warmup;
	unsigned timeout_ms; /* per request, and for connecting */
	unsigned deadline_s; /* whole run */
	bool json;
};

struct conn {
	struct bench *b;
	unsigned idx;
	enum conn_state state;
	uv_tcp_t tcp;
	uv_connect_t connect;
	uv_write_t write;
	uv_timer_t timer;
	unsigned open_handles; /* of tcp and timer, while closing */
	http_parser parser;
	char req[512];
	size_t req_len;
	char rbuf[64 * 1024];
	char *body; /* owned, MAX_BODY + 1 */
	size_t body_len;
	bool body_too_large;
	bool in_location;
	char location[256];
	bool complete;
	uint32_t value;	   /* cooldown_ms sent */
	uint64_t start_ns; /* of the outstanding request */
	json_int_t last_decision;
	bool in_measure; /* the outstanding request counts */
};

struct bench {
	struct opts o;
	uv_loop_t loop;
	uv_timer_t deadline;
	struct conn *conns;
	char target[ADDR_LEN]; /* where requests go */
	struct sockaddr_in addr;
	bool redirected;
	enum phase phase;
	unsigned long issued, done, target_n;
	uint64_t measure_start_ns, measure_end_ns;
	uint32_t value_base;
	uint32_t seq;
	double *lat; /* ms, o.count entries */
	unsigned long n_lat;
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
static void conn_open(struct conn *c);
static void conn_close_cb(uv_handle_t *h);

/* Opens the connections after the first: once the leader is known. */
static void open_rest(struct bench *b)
{
	unsigned i;

	for (i = 1; i < b->o.connections; i++)
		if (b->conns[i].state == CONN_IDLE_CLOSED)
			conn_open(&b->conns[i]);
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

/* The tcp handle of a redirected connection is closed: reconnect it. */
static void reopen_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (c->b->phase == PHASE_CLOSING) {
		conn_close_cb(h);
		return;
	}
	conn_open(c);
}

static const char *op_path(enum op op)
{
	return op == OP_WRITE ? "PUT /v1/policy" : "GET /v1/status";
}

/* ---- addresses ---- */

/* Parses "A.B.C.D:PORT" or "localhost:PORT". */
static int addr_parse(const char *s, struct sockaddr_in *out)
{
	char host[ADDR_LEN];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;
	size_t hl;

	if (colon == NULL || colon == s)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl >= sizeof host)
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    port == 0 || port > 65535)
		return -EINVAL;
	return uv_ip4_addr(host, (int)port, out);
}

/* "http://HOST:PORT/..." → "HOST:PORT". */
static int location_addr(const char *loc, char *out, size_t outlen)
{
	const char *p, *slash;
	size_t n;

	if (strncmp(loc, "http://", 7) != 0)
		return -EINVAL;
	p = loc + 7;
	slash = strchr(p, '/');
	n = slash != NULL ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= outlen)
		return -EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
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

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	c->in_location = len == 8 && strncasecmp(at, "location", 8) == 0;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	size_t have;

	if (!c->in_location)
		return 0;
	have = strlen(c->location);
	if (have + len >= sizeof c->location)
		return -1;
	memcpy(c->location + have, at, len);
	c->location[have + len] = '\0';
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	if (c->body_len + len > MAX_BODY) {
		c->body_too_large = true;
		return -1;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct conn *c = p->data;

	c->complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

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

/* Handles a complete answer on c. */
static void conn_answer(struct conn *c)
{
	struct bench *b = c->b;
	unsigned status = c->parser.status_code;
	double ms = (double)(uv_hrtime() - c->start_ns) / 1e6;
	json_t *root;
	json_error_t jerr;
	char why[160];
	int rv;

	uv_timer_stop(&c->timer);
	c->state = CONN_READY;
	c->body[c->body_len] = '\0';
	if (b->phase == PHASE_RESOLVE && status == 307 && !b->redirected) {
		if (location_addr(c->location, b->target, sizeof b->target) !=
			    0 ||
		    addr_parse(b->target, &b->addr) != 0) {
			bench_fail(b, "307 with unusable Location \"%s\"",
				   c->location);
			return;
		}
		b->redirected = true;
		c->state = CONN_REOPENING;
		b->issued--; /* the redirected write is sent again */
		uv_close((uv_handle_t *)&c->tcp, reopen_close_cb);
		return;
	}
	if (status != 200) {
		bench_fail(b, "%s: status %u: %.200s", op_path(b->o.op),
			   status, c->body);
		return;
	}
	if (!http_should_keep_alive(&c->parser)) {
		bench_fail(b, "%s: server does not keep the connection alive",
			   op_path(b->o.op));
		return;
	}
	root = json_loadb(c->body, c->body_len, 0, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		bench_fail(b, "%s: answer is not a JSON object: %.200s",
			   op_path(b->o.op), c->body);
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
	if (c->in_measure && b->n_lat < b->o.count)
		b->lat[b->n_lat++] = ms;
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

/* ---- connections ---- */

static void conn_timeout_cb(uv_timer_t *t)
{
	struct conn *c = t->data;

	bench_fail(c->b, "connection %u: %s after %u ms", c->idx,
		   c->state == CONN_CONNECTING ? "no connection"
					       : "no answer",
		   c->b->o.timeout_ms);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	buf->base = c->rbuf;
	buf->len = sizeof c->rbuf;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	struct bench *b = c->b;
	size_t used;

	if (c->state == CONN_CLOSING || c->state == CONN_REOPENING ||
	    b->phase == PHASE_CLOSING)
		return;
	if (nread < 0) {
		bench_fail(b, "connection %u: %s", c->idx,
			   nread == UV_EOF ? "closed by the server"
					   : uv_strerror((int)nread));
		return;
	}
	if (nread == 0)
		return;
	if (c->state != CONN_WAITING) {
		bench_fail(b, "connection %u: unexpected bytes from the server",
			   c->idx);
		return;
	}
	used = http_parser_execute(&c->parser, &parser_settings, buf->base,
				   (size_t)nread);
	if (c->complete) {
		if (used != (size_t)nread) {
			bench_fail(b, "connection %u: bytes after the answer",
				   c->idx);
			return;
		}
		conn_answer(c);
		return;
	}
	if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
		bench_fail(b, "connection %u: bad answer: %s", c->idx,
			   c->body_too_large
				   ? "body too large"
				   : http_errno_description(
					     HTTP_PARSER_ERRNO(&c->parser)));
	}
}

static void write_cb(uv_write_t *w, int status)
{
	struct conn *c = w->data;

	if (status != 0 && status != UV_ECANCELED)
		bench_fail(c->b, "connection %u: write: %s", c->idx,
			   uv_strerror(status));
}

/* Sends the next request on c if the phase wants one. */
static void conn_next(struct conn *c)
{
	struct bench *b = c->b;
	uv_buf_t buf;
	char body[48];
	int n, rv;

	if (c->state != CONN_READY || b->phase == PHASE_CLOSING ||
	    b->issued >= b->target_n)
		return;
	if (b->phase == PHASE_RESOLVE && c->idx != 0)
		return;
	if (b->o.op == OP_WRITE) {
		c->value = 1 + (b->value_base + b->seq++) % MAX_COOLDOWN_MS;
		snprintf(body, sizeof body, "{\"cooldown_ms\":%u}", c->value);
		n = snprintf(c->req, sizeof c->req,
			     "PUT /v1/policy HTTP/1.1\r\nHost: %s\r\n"
			     "Content-Type: application/json\r\n"
			     "X-Poolpair-Who: bench_decisions\r\n"
			     "Content-Length: %zu\r\n\r\n%s",
			     b->target, strlen(body), body);
	} else {
		n = snprintf(c->req, sizeof c->req,
			     "GET /v1/status HTTP/1.1\r\nHost: %s\r\n\r\n",
			     b->target);
	}
	if (n < 0 || (size_t)n >= sizeof c->req) {
		bench_fail(b, "request too long");
		return;
	}
	c->req_len = (size_t)n;
	http_parser_init(&c->parser, HTTP_RESPONSE);
	c->parser.data = c;
	c->body_len = 0;
	c->body_too_large = false;
	c->location[0] = '\0';
	c->in_location = false;
	c->complete = false;
	c->in_measure = b->phase == PHASE_MEASURE;
	b->issued++;
	c->state = CONN_WAITING;
	c->start_ns = uv_hrtime();
	buf = uv_buf_init(c->req, (unsigned)c->req_len);
	c->write.data = c;
	rv = uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, write_cb);
	if (rv != 0) {
		bench_fail(b, "connection %u: write: %s", c->idx,
			   uv_strerror(rv));
		return;
	}
	uv_timer_start(&c->timer, conn_timeout_cb, b->o.timeout_ms, 0);
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	struct bench *b = c->b;
	int rv;

	if (c->state != CONN_CONNECTING)
		return;
	uv_timer_stop(&c->timer);
	if (status != 0) {
		bench_fail(b, "connection %u: connect %s: %s", c->idx,
			   b->target, uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	rv = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	if (rv != 0) {
		bench_fail(b, "connection %u: read: %s", c->idx,
			   uv_strerror(rv));
		return;
	}
	c->state = CONN_READY;
	conn_next(c);
}

/* Connects c (its tcp handle free) to b->addr. */
static void conn_open(struct conn *c)
{
	struct bench *b = c->b;
	int rv;

	rv = uv_tcp_init(&b->loop, &c->tcp);
	if (rv != 0) {
		bench_fail(b, "connection %u: %s", c->idx, uv_strerror(rv));
		return;
	}
	c->tcp.data = c;
	c->connect.data = c;
	c->state = CONN_CONNECTING;
	rv = uv_tcp_connect(&c->connect, &c->tcp,
			    (const struct sockaddr *)&b->addr, connect_cb);
	if (rv != 0) {
		bench_fail(b, "connection %u: connect %s: %s", c->idx,
			   b->target, uv_strerror(rv));
		return;
	}
	uv_timer_start(&c->timer, conn_timeout_cb, b->o.timeout_ms, 0);
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

static void conn_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles == 0)
		c->state = CONN_CLOSED;
}

static void bench_close(struct bench *b)
{
	unsigned i;

	if (b->phase == PHASE_CLOSING)
		return;
	b->phase = PHASE_CLOSING;
	uv_close((uv_handle_t *)&b->deadline, NULL);
	for (i = 0; i < b->o.connections; i++) {
		struct conn *c = &b->conns[i];

		if (c->state == CONN_CLOSED || c->state == CONN_CLOSING)
			continue;
		/* a reopening tcp handle is already closing: reopen_close_cb
		 * counts it; an idle one was never initialised */
		c->open_handles = c->state == CONN_IDLE_CLOSED ? 1 : 2;
		if (c->state != CONN_IDLE_CLOSED &&
		    c->state != CONN_REOPENING)
			uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
		c->state = CONN_CLOSING;
		uv_close((uv_handle_t *)&c->timer, conn_close_cb);
	}
}

/* ---- output ---- */

static void print_results(struct bench *b)
{
	double secs = (double)(b->measure_end_ns - b->measure_start_ns) / 1e9;
	double per_s = secs > 0 ? (double)b->n_lat / secs : 0;
	size_t n = b->n_lat;
	double p50, p90, p99, max;
	const char *mode = b->o.concurrent ? "concurrent" : "sequential";
	const char *opn = b->o.op == OP_WRITE ? "write" : "read";

	qsort(b->lat, n, sizeof *b->lat, cmp_double);
	p50 = percentile(b->lat, n, 50);
	p90 = percentile(b->lat, n, 90);
	p99 = percentile(b->lat, n, 99);
	max = b->lat[n - 1];
	if (b->o.json) {
		printf("{\"bench\":\"decisions\",\"op\":\"%s\",\"request\":"
		       "\"%s\",\"api\":\"%s\",\"given_api\":\"%s\","
		       "\"mode\":\"%s\",\"connections\":%u,\"count\":%zu,"
		       "\"warmup\":%lu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
		       "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"per_s\":%.0f,"
		       "\"answers_showing_later_policy\":%lu}\n",
		       opn, op_path(b->o.op), b->target, b->o.api, mode,
		       b->o.connections, n, b->o.warmup, p50, p90, p99, max,
		       per_s, b->n_other_value);
		return;
	}
	printf("decisions: %s at %s%s%s%s, %s, %u connection%s, warmup %lu\n",
	       op_path(b->o.op), b->target,
	       b->redirected ? " (redirected from " : "",
	       b->redirected ? b->o.api : "", b->redirected ? ")" : "", mode, b->o.connections,
	       b->o.connections == 1 ? "" : "s", b->o.warmup);
	printf("%-10s %8s %9s %9s %9s %9s %10s\n", "op", "count", "p50 ms",
	       "p90 ms", "p99 ms", "max ms",
	       b->o.op == OP_WRITE ? "decisions/s" : "reads/s");
	printf("%-10s %8zu %9.3f %9.3f %9.3f %9.3f %10.0f\n", opn, n, p50, p90,
	       p99, max, per_s);
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
		"  --json               print one JSON object\n",
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
		struct sockaddr_in sa;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
			takes = false;
		} else if (strcmp(a, "--api") == 0) {
			ok = val != NULL && strlen(val) < sizeof o->api &&
			     addr_parse(val, &sa) == 0;
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
	addr_parse(b->target, &b->addr);
	b->lat = calloc(b->o.count, sizeof *b->lat);
	b->conns = calloc(b->o.connections, sizeof *b->conns);
	b->max_decisions = b->o.count + b->o.warmup + 1;
	b->decisions = calloc(b->max_decisions, sizeof *b->decisions);
	if (b->lat == NULL || b->conns == NULL || b->decisions == NULL) {
		fprintf(stderr, "bench_decisions: out of memory\n");
		goto out;
	}
	for (i = 0; i < b->o.connections; i++) {
		b->conns[i].body = malloc(MAX_BODY + 1);
		if (b->conns[i].body == NULL) {
			fprintf(stderr, "bench_decisions: out of memory\n");
			goto out;
		}
	}
	rv = uv_loop_init(&b->loop);
	if (rv != 0) {
		fprintf(stderr, "bench_decisions: loop: %s\n", uv_strerror(rv));
		goto out;
	}
	b->value_base = (uint32_t)((uv_hrtime() / 1000) % MAX_COOLDOWN_MS);
	uv_timer_init(&b->loop, &b->deadline);
	b->deadline.data = b;
	uv_timer_start(&b->deadline, deadline_cb, b->o.deadline_s * 1000ULL, 0);
	/* Writes start with one request on connection 0 to find the leader;
	 * it is part of the warmup. */
	if (b->o.op == OP_WRITE) {
		b->phase = PHASE_RESOLVE;
		b->target_n = b->o.warmup > 0 ? b->o.warmup : 1;
	} else if (b->o.warmup > 0) {
		b->phase = PHASE_WARMUP;
		b->target_n = b->o.warmup;
	} else {
		b->phase = PHASE_MEASURE;
		b->target_n = b->o.count;
	}
	for (i = 0; i < b->o.connections; i++) {
		struct conn *c = &b->conns[i];

		c->b = b;
		c->idx = i;
		c->state = CONN_IDLE_CLOSED;
		uv_timer_init(&b->loop, &c->timer);
		c->timer.data = c;
	}
	conn_open(&b->conns[0]);
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
out:
	if (b->conns != NULL)
		for (i = 0; i < b->o.connections; i++)
			free(b->conns[i].body);
	free(b->conns);
	free(b->decisions);
	free(b->lat);
	free(b);
	return status;
}
