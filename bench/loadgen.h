/* loadgen's shared state and the contracts between its files (see
 * loadgen.c for what the program does and its options):
 *
 *   loadgen.c    options, main, and the helpers below (lg_fail, lg_now_ns)
 *   lg_req.c     the writes: request slots over one hclient (agent/hclient.h,
 *                connections kept alive for the whole run), request bodies,
 *                dispatch (open and closed loop) and the write answers
 *   lg_lag.c     the lag poller (GET /v1/backup every --poll-ms) and the
 *                writes waiting for west's acknowledgement (a min-heap by seq)
 *   lg_mode.c    the modes load/model/ramp as phases: start, the 1 ms tick,
 *                the drain, the end of a phase, the stop
 *   lg_report.c  samples and percentiles, /proc marks, a phase's JSON report
 *
 * Everything runs on the one loop thread: no locking. A failure is recorded
 * once by lg_fail() (first message wins); the tick then stops the run. */
#ifndef POOLPAIR_BENCH_LOADGEN_H
#define POOLPAIR_BENCH_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "agent/hclient.h"
#include "tls/tls.h"

#define LG_MAX_CONNECTIONS 1024
#define LG_MAX_PIDS 4
#define LG_MAX_RATES 32
#define LG_ADDR_LEN 64
#define LG_NAME_LEN 64
#define LG_PATH_LEN 512
#define LG_BODY_MAX 8192 /* a body of one write (values are at most 8000) */
#define LG_BATCH_MAX 1000
#define LG_ITEM_OVERHEAD 160 /* JSON around one batch item, generous */
#define LG_TICK_MS 1
#define LG_DRAIN_MS 10000   /* wait for acks after a phase */
#define LG_RUN_CONN_S 86400 /* connections are kept for the whole run */

enum lg_mode { MODE_LOAD, MODE_MODEL, MODE_RAMP };

struct lg_opts {
	char api[LG_ADDR_LEN];
	char ca[LG_PATH_LEN], cert[LG_PATH_LEN],
	    key[LG_PATH_LEN]; /* "": plain */
	char pool[LG_NAME_LEN];
	char domain[LG_NAME_LEN];
	enum lg_mode mode;
	unsigned connections;
	unsigned long users;  /* load: users to create; model: enabled */
	unsigned long active; /* model, ramp: users written to */
	double per_user_min;  /* model: writes per active user per minute */
	unsigned duration_s;  /* model */
	unsigned step_s;      /* ramp */
	double rates[LG_MAX_RATES];
	unsigned n_rates;
	unsigned record_bytes; /* ramp */
	unsigned batch;	       /* writes per request; 0: one PUT each */
	bool binary;	       /* batches as a packed poolpair.api.UserBatch */
	unsigned poll_ms;
	unsigned timeout_ms;
	unsigned deadline_s;
	unsigned long seed;
	char pid_name[LG_MAX_PIDS][LG_NAME_LEN];
	int pid[LG_MAX_PIDS];
	unsigned n_pids;
	bool json;
};

/* One request outstanding at a time: a write slot, or the poller. */
struct lg_slot {
	struct lg *lg;
	bool busy;	    /* a request is outstanding */
	const char *method; /* static string */
	char path[256];
	char *body; /* owned, body_cap bytes */
	size_t body_len, body_cap;
	uint64_t t_sent; /* when the request started (hclient_request) */
	size_t payload;	 /* value bytes of the outstanding write(s) */
	unsigned items;	 /* writes in the outstanding request; 0: one */
	char *scratch;	 /* owned, LG_BODY_MAX: a value before it is framed */
};

/* A write answered, waiting for west's acknowledgement of its seq. */
struct lg_pending {
	uint64_t seq;
	uint64_t t_answer; /* ns */
	uint32_t payload;
};

struct lg_samples {
	double *v;
	size_t n, cap;
};

struct lg_proc_mark {
	double cpu_s;
	long rss_kb, hwm_kb;
};

struct lg_phase {
	const char *name;
	double offered; /* writes/s, 0 for closed loop */
	uint64_t t_start, t_end_offer, t_end;
	uint64_t issued, ok, failed;
	uint64_t payload_bytes, acked_payload_bytes;
	uint64_t acked_at_start, acked_at_end, first_seq, last_seq;
	uint64_t unacked;
	struct lg_samples wlat; /* write answer latency, ms */
	struct lg_samples lag;	/* replication lag, ms */
	struct lg_proc_mark mark0[LG_MAX_PIDS], mark1[LG_MAX_PIDS];
	double self_cpu0, self_cpu1; /* this process's CPU seconds */
	double max_lag_records;
	unsigned status_codes[6]; /* by class: 1xx..5xx, 0 = no answer */
};

struct lg {
	struct lg_opts o;
	uv_loop_t *loop;
	struct tls_ctx tls;
	bool tls_on;
	char host[LG_ADDR_LEN]; /* of o.api */
	uint16_t port;
	struct hclient client;
	bool client_open;
	struct lg_slot *conns; /* o.connections write slots */
	struct lg_slot poller;
	unsigned opened; /* connections answered once (lg_req_open) */
	uv_timer_t tick;
	uv_timer_t poll_timer;
	uint64_t rng;
	/* current phase */
	struct lg_phase ph;
	bool offering;	    /* issuing new writes */
	bool draining;	    /* waiting for acks */
	uint64_t next_user; /* load mode */
	uint64_t inflight;
	unsigned rate_idx;
	/* lag tracking */
	struct lg_pending *heap;
	size_t heap_n, heap_cap;
	uint64_t acked; /* newest acked_seq seen */
	bool acked_known;
	uint64_t t_acked; /* when it was seen */
	uint64_t polls, poll_errors;
	/* results */
	json_t *out;
	int failed;
	char errmsg[256];
	bool stopping;
	uint64_t t_run0;
	long clk_tck;
};

static inline uint64_t lg_now_ns(void) { return uv_hrtime(); }

/* ---- loadgen.c ---- */

/* Record the run's failure (the first one only) and print it. */
void lg_fail(struct lg *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- lg_req.c ---- */

/* Set up the write slots and open o.connections connections: as many
 * `GET /v1/backup` at once, so that every connection is up (TCP and TLS)
 * before the first phase; g->opened counts those answered. Returns 0 or
 * a negative libuv code (out of memory, client refused the request). */
int lg_req_open(struct lg *g);

/* Start the writes that are due (open loop) or wanted (closed loop) on the
 * idle slots. */
void lg_dispatch(struct lg *g);

/* Release the slots' buffers (after the loop has ended). */
void lg_req_free(struct lg *g);

/* ---- lg_lag.c ---- */

/* Start polling GET /v1/backup every o.poll_ms on g->poller (g->poll_timer
 * initialised, g->poller.lg set). */
void lg_lag_start(struct lg *g);

/* A write answered at t (ns) with seq: its lag is measured now if west has
 * already acknowledged seq, else when a backup answer says so. */
void lg_write_seq(struct lg *g, uint64_t seq, uint64_t t, uint32_t payload);

/* Take the pending write of the lowest seq; g->heap_n > 0. */
struct lg_pending lg_heap_pop(struct lg *g);

/* ---- lg_mode.c ---- */

/* Start the first phase of the mode and the tick that runs the phases
 * (g->tick initialised). */
void lg_mode_start(struct lg *g);

/* Stop the run: timers closed, the client closed (outstanding requests
 * cancelled); the loop then ends. Idempotent. */
void lg_stop(struct lg *g);

/* ---- lg_report.c ---- */

/* Append v; -ENOMEM when out of memory. */
int lg_samples_add(struct lg_samples *s, double v);

/* CPU and memory of every --pid into m[0..n_pids-1]. */
void lg_proc_mark_all(struct lg *g, struct lg_proc_mark *m);

/* CPU seconds (user + system) this process used so far. */
double lg_self_cpu_s(void);

/* The report of the phase just ended (sorts its samples); NULL when out of
 * memory. */
json_t *lg_phase_json(struct lg *g);

#endif /* POOLPAIR_BENCH_LOADGEN_H */
