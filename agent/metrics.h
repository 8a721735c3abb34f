/* metrics: counters and histograms of the agent, rendered in the Prometheus
 * text exposition format on GET /metrics.
 *
 * Loop thread only. */
#ifndef POOLPAIR_METRICS_H
#define POOLPAIR_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct agent;

#define METRICS_BUCKETS 12
#define METRICS_METHODS 5 /* GET POST PUT DELETE other */
#define METRICS_CLASSES 6 /* 1xx..5xx, other */

struct metrics {
	uint64_t requests[METRICS_METHODS][METRICS_CLASSES];
	/* request latency histogram (seconds), cumulative buckets */
	uint64_t latency_buckets[METRICS_BUCKETS];
	uint64_t latency_count;
	double latency_sum;
	uint64_t decisions_ok;
	uint64_t decisions_refused;
	uint64_t decisions_unknown;
};

void metrics_init(struct metrics *m);

/* Record one finished API request. */
void metrics_observe(struct metrics *m, const char *method, int status,
		     uint64_t duration_ns);

/* Render every metric of the agent. Returns a malloc()ed NUL-terminated
 * text (caller frees) or NULL on allocation failure; *len set. */
char *metrics_render(struct agent *a, size_t *len);

#endif
