/* loadgen's report (see loadgen.h): latency and lag samples with their
 * nearest-rank percentiles, the CPU and memory of the agents (/proc) and of
 * loadgen itself (getrusage), and one phase's JSON object, whose fields and
 * meaning bench/README.md describes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench/loadgen.h"

int lg_samples_add(struct lg_samples *s, double v)
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
static double pct(const struct lg_samples *s, double p)
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

static double round3(double v) { return round(v * 1000.0) / 1000.0; }

/* ---- /proc ------------------------------------------------------------- */

static void proc_mark(struct lg *g, struct lg_proc_mark *m, int pid)
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
		/* fields after the command name, which ends with the last ')'
		 */
		char *p = strrchr(buf, ')');
		unsigned long ut = 0, st = 0;
		if (p != NULL &&
		    sscanf(
			p + 2,
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

double lg_self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void lg_proc_mark_all(struct lg *g, struct lg_proc_mark *m)
{
	for (unsigned i = 0; i < g->o.n_pids; i++)
		proc_mark(g, &m[i], g->o.pid[i]);
}

json_t *lg_phase_json(struct lg *g)
{
	struct lg_phase *p = &g->ph;
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
	    "phase", p->name, "offered_per_s", round3(p->offered), "seconds",
	    round3(offer_s), "answered_per_s",
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
	json_object_set_new(o, "last_seq",
			    json_integer((json_int_t)p->last_seq));
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
	    json_real(round3(
		span_s > 0 ? 100.0 * (p->self_cpu1 - p->self_cpu0) / span_s
			   : 0)));
	return o;
}
