/* loadgen: data-plane load generator and replication-lag meter.
 *
 * Drives one pool agent's HTTP API on libuv with C keep-alive HTTP/1.1
 * connections (one request outstanding each, over agent/hclient.h) and
 * measures how long each write takes to be replicated to the paired pool:
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
 * The files: see loadgen.h. Exit status: 0 ok, 1 the run failed, 2 bad
 * usage. */

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "bench/loadgen.h"

void lg_fail(struct lg *g, const char *fmt, ...)
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

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: loadgen --api HOST:PORT --pool POOL [--mode "
	    "load|model|ramp]\n"
	    "  [--connections C (32)] [--users N (200000)] [--active A "
	    "(40000)]\n"
	    "  [--per-user-min W (1)] [--duration S (60)] [--rates R1,R2,...]\n"
	    "  [--step S (10)] [--record-bytes B (1024)] [--poll-ms P (10)]\n"
	    "  [--batch N (0: one PUT per write; 1..1000: POST "
	    "/v1/users/batch)]\n"
	    "  [--binary (batches as application/x-protobuf, "
	    "proto/api.proto)]\n"
	    "  [--timeout-ms T (10000)] [--deadline S (300)] [--seed N]\n"
	    "  [--domain D (bench.example.com)] [--pid NAME=PID ...] [--json]\n"
	    "  [--ca FILE --cert FILE --key FILE (TLS 1.3, for agents with "
	    "[tls])]\n");
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

static int parse_opts(struct lg_opts *o, int argc, char **argv)
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
		} else if (strcmp(a, "--binary") == 0) {
			o->binary = true;
			takes = false;
		} else if (val == NULL) {
			fprintf(stderr, "loadgen: %s needs a value\n", a);
			return -1;
		} else if (strcmp(a, "--api") == 0) {
			if (strlen(val) >= LG_ADDR_LEN)
				goto bad;
			snprintf(o->api, sizeof o->api, "%s", val);
		} else if (strcmp(a, "--ca") == 0 || strcmp(a, "--cert") == 0 ||
			   strcmp(a, "--key") == 0) {
			char *dst = strcmp(a, "--ca") == 0     ? o->ca
				    : strcmp(a, "--cert") == 0 ? o->cert
							       : o->key;
			if (strlen(val) >= LG_PATH_LEN || *val == '\0')
				goto bad;
			snprintf(dst, LG_PATH_LEN, "%s", val);
		} else if (strcmp(a, "--pool") == 0) {
			if (strlen(val) >= LG_NAME_LEN || *val == '\0')
				goto bad;
			snprintf(o->pool, sizeof o->pool, "%s", val);
		} else if (strcmp(a, "--domain") == 0) {
			if (strlen(val) >= LG_NAME_LEN || *val == '\0' ||
			    strspn(val,
				   "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
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
			if (!parse_ulong(val, 1, LG_MAX_CONNECTIONS, &v))
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
			if (!parse_ulong(val, 0, LG_BATCH_MAX, &v))
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
				if (o->n_rates == LG_MAX_RATES ||
				    !parse_ulong(tok, 1, 10000000, &v))
					goto bad;
				o->rates[o->n_rates++] = (double)v;
			}
			if (o->n_rates == 0)
				goto bad;
		} else if (strcmp(a, "--pid") == 0) {
			const char *eq = strchr(val, '=');
			if (eq == NULL || eq == val ||
			    o->n_pids == LG_MAX_PIDS ||
			    (size_t)(eq - val) >= LG_NAME_LEN ||
			    !parse_ulong(eq + 1, 1, 4194304, &v))
				goto bad;
			snprintf(o->pid_name[o->n_pids], LG_NAME_LEN, "%.*s",
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

/* o.api as an IPv4 literal and a port. */
static int resolve(struct lg *g)
{
	struct sockaddr_in sa;
	const char *colon = strrchr(g->o.api, ':');
	unsigned long port;

	if (colon == NULL || colon == g->o.api ||
	    (size_t)(colon - g->o.api) >= sizeof g->host ||
	    !parse_ulong(colon + 1, 1, 65535, &port))
		return -EINVAL;
	snprintf(g->host, sizeof g->host, "%.*s", (int)(colon - g->o.api),
		 g->o.api);
	g->port = (uint16_t)port;
	return uv_ip4_addr(g->host, (int)port, &sa);
}

int main(int argc, char **argv)
{
	static struct lg g;
	int rv;

	signal(SIGPIPE,
	       SIG_IGN); /* an agent killed mid-write: EPIPE, not death */

	if (parse_opts(&g.o, argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	if ((g.o.ca[0] != '\0') != (g.o.cert[0] != '\0') ||
	    (g.o.ca[0] != '\0') != (g.o.key[0] != '\0')) {
		fprintf(stderr,
			"loadgen: --ca, --cert and --key go together\n");
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
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "loadgen: libcurl: cannot initialise\n");
		return 1;
	}
	g.clk_tck = sysconf(_SC_CLK_TCK);
	if (g.clk_tck <= 0)
		g.clk_tck = 100;
	g.rng = g.o.seed * 0x9E3779B97F4A7C15ULL | 1;
	g.loop = uv_default_loop();
	g.conns = calloc(g.o.connections, sizeof *g.conns);
	g.out =
	    json_pack("{s:s, s:s, s:i, s:i, s:b, s:[]}", "api", g.o.api, "pool",
		      g.o.pool, "connections", (int)g.o.connections, "batch",
		      (int)g.o.batch, "binary", g.o.binary, "phases");
	if (g.conns == NULL || g.out == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	/* every write slot and the poller keep their connection all run */
	rv = hclient_init(&g.client, g.loop, g.tls_on ? &g.tls : NULL);
	if (rv == 0) {
		g.client_open = true;
		rv = hclient_set_pool(&g.client, g.o.connections + 2,
				      LG_RUN_CONN_S, LG_RUN_CONN_S);
	}
	uv_timer_init(g.loop, &g.tick);
	g.tick.data = &g;
	uv_timer_init(g.loop, &g.poll_timer);
	g.poll_timer.data = &g;
	g.poller.lg = &g;
	g.t_run0 = lg_now_ns();
	if (rv == 0)
		rv = lg_req_open(&g);
	if (rv != 0) {
		fprintf(stderr, "loadgen: connect: %s\n", hclient_strerror(rv));
		g.failed = 1;
		lg_stop(&g);
	} else {
		lg_lag_start(&g);
		/* wait for the connections and for the first backup answer,
		 * so that lag has a base */
		while ((!g.acked_known || g.opened < g.o.connections) &&
		       !g.failed && lg_now_ns() - g.t_run0 < 10000000000ULL)
			uv_run(g.loop, UV_RUN_ONCE);
		if (g.opened < g.o.connections && !g.failed)
			lg_fail(&g,
				"connect %s: %u of %u connections up in 10 s",
				g.o.api, g.opened, g.o.connections);
		if (!g.acked_known && !g.failed)
			lg_fail(&g,
				"no user_data stream of %s in GET /v1/backup",
				g.o.pool);
		if (g.failed)
			lg_stop(&g);
		else
			lg_mode_start(&g);
	}
	uv_run(g.loop, UV_RUN_DEFAULT);
	uv_loop_close(g.loop);
	curl_global_cleanup();
	if (g.tls_on)
		tls_ctx_close(&g.tls);
	if (g.o.json) {
		json_object_set_new(g.out, "ok", json_boolean(!g.failed));
		json_object_set_new(g.out, "error", json_string(g.errmsg));
		char *s =
		    json_dumps(g.out, JSON_COMPACT | JSON_REAL_PRECISION(10));
		printf("%s\n", s ? s : "{}");
		free(s);
	}
	lg_req_free(&g);
	free(g.conns);
	free(g.heap);
	free(g.ph.wlat.v);
	free(g.ph.lag.v);
	json_decref(g.out);
	return g.failed ? 1 : 0;
}
