/* bench_raft: commit latency and throughput of the Raft layer alone.
 *
 * Three libraft servers (raft_uv storage, TCP transport on loopback) run on
 * one libuv loop in this process with a trivial counting state machine.
 * After bootstrap and election the leader is driven in two ways:
 *
 *   sequential  apply one entry, wait for its callback, apply the next;
 *   pipelined   keep DEPTH entries in flight for a fixed count.
 *
 * Every figure is the time from raft_apply() to its callback, which fires
 * once the entry is committed by a majority and applied on the leader.
 * Snapshots are taken as poolpaird takes them: each server at log indexes
 * of its own phase (consensus/node.h, node_snapshot_due()), the leader
 * NODE_LEADER_SNAPSHOT_PERIODS periods apart, or, with --no-phases, every
 * threshold entries on every server alike.
 * Exit status: 0 ok, 1 the run failed, 2 bad usage. */

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "consensus/node.h"

#define N_SERVERS 3
#define MAX_DEPTH 1024
#define MAX_DEPTHS 8
#define MAX_COUNT 10000000UL
#define ELECTION_TIMEOUT_MS 1000
#define HEARTBEAT_TIMEOUT_MS 100
#define LEADER_WAIT_MS 15000
#define TICK_MS 10

enum phase {
	PHASE_ELECTION, /* waiting for a leader */
	PHASE_WARMUP,   /* sequential commits, not recorded */
	PHASE_SEQUENTIAL,
	PHASE_PIPELINED, /* one run per depth in opts.depths */
	PHASE_CLOSING,
	PHASE_DONE,
};

struct opts {
	const char *parent; /* the temp dir is created under it */
	unsigned long count;	/* sequential commits */
	unsigned long pcount;	/* commits per pipelined run */
	unsigned long warmup;
	unsigned depths[MAX_DEPTHS];
	unsigned n_depths;
	size_t size; /* entry payload bytes, multiple of 8 */
	unsigned port;
	unsigned timeout_s;
	unsigned long snap_threshold; /* entries between snapshots */
	unsigned long snap_trailing;  /* entries kept after a snapshot */
	bool no_phases;		      /* every server every threshold entries */
	bool json;
};

struct server {
	struct bench *b;
	unsigned id;
	char address[32];
	char dir[PATH_MAX];
	struct raft_uv_transport transport;
	struct raft_io io;
	struct raft_fsm fsm;
	struct raft raft;
	uint64_t applied; /* entries applied by the counting FSM */
	uint64_t last;	  /* payload of the last applied entry */
	uint64_t snapshots; /* taken */
	unsigned due;	    /* snapshot threshold armed, leader's extra aside */
	bool inited;	  /* raft_init succeeded: closing is async */
	bool closed;
};

struct slot {
	struct raft_apply req;
	struct bench *b;
	uint64_t start_ns;
	bool busy;
};

struct result {
	const char *mode;
	unsigned depth;
	unsigned long count;
	double p50, p90, p99, p999, max; /* ms */
	size_t over5; /* commits slower than 5 ms */
	uint64_t snapshots; /* taken by the three servers during the run */
	double per_s;
};

struct bench {
	struct opts o;
	uv_loop_t loop;
	uv_timer_t timer;
	struct server s[N_SERVERS];
	struct server *leader;
	char dir[PATH_MAX];
	const char *fs;
	enum phase phase;
	unsigned depth_i;   /* index into o.depths during PHASE_PIPELINED */
	unsigned long issued; /* entries applied in the current run */
	unsigned long done;   /* callbacks seen in the current run */
	unsigned long target; /* entries in the current run */
	unsigned depth;	      /* in-flight bound of the current run */
	uint64_t run_start_ns;
	uint64_t run_start_snapshots; /* taken by all servers until then */
	uint64_t deadline_ns;
	uint64_t election_deadline_ns;
	uint64_t seq; /* payload counter */
	double *lat;  /* ms, one per recorded commit of the current run */
	struct slot slots[MAX_DEPTH];
	struct result results[MAX_DEPTHS + 1];
	unsigned n_results;
	int failed; /* 0 or the first error */
	char errmsg[256];
	unsigned n_open; /* servers not yet closed */
};

static void bench_fail(struct bench *b, int rv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void bench_close(struct bench *b);
static void run_next(struct bench *b);
static void pump(struct bench *b);

static const char *phase_name(enum phase p)
{
	switch (p) {
	case PHASE_ELECTION:
		return "election";
	case PHASE_WARMUP:
		return "warmup";
	case PHASE_SEQUENTIAL:
		return "sequential";
	case PHASE_PIPELINED:
		return "pipelined";
	case PHASE_CLOSING:
		return "closing";
	case PHASE_DONE:
		return "done";
	}
	return "?";
}

/* ---- counting state machine ---- */

static int count_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct server *s = fsm->data;

	if (buf->len < sizeof(uint64_t))
		return RAFT_MALFORMED;
	memcpy(&s->last, buf->base, sizeof s->last);
	s->applied++;
	*result = NULL;
	return 0;
}

/* As poolpaird: the leader takes its snapshots NODE_LEADER_SNAPSHOT_PERIODS
 * periods apart. */
static unsigned leader_extra(const struct server *s)
{
	uint64_t extra = (uint64_t)(NODE_LEADER_SNAPSHOT_PERIODS - 1) *
			 s->b->o.snap_threshold;

	if (s != s->b->leader || extra > UINT_MAX - s->due)
		return 0;
	return (unsigned)extra;
}

static int count_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
			unsigned *n_bufs)
{
	struct server *s = fsm->data;
	struct raft_buffer *b = raft_malloc(sizeof *b);

	if (b == NULL)
		return RAFT_NOMEM;
	b->len = 2 * sizeof(uint64_t);
	b->base = raft_malloc(b->len);
	if (b->base == NULL) {
		raft_free(b);
		return RAFT_NOMEM;
	}
	memcpy(b->base, &s->applied, sizeof s->applied);
	memcpy((char *)b->base + sizeof s->applied, &s->last, sizeof s->last);
	*bufs = b;
	*n_bufs = 1;
	s->snapshots++;
	if (!s->b->o.no_phases) {
		s->due = node_snapshot_due(s->id,
					   (unsigned)s->b->o.snap_threshold,
					   raft_last_applied(&s->raft));
		raft_set_snapshot_threshold(&s->raft,
					    s->due + leader_extra(s));
	}
	return 0;
}

static int count_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct server *s = fsm->data;

	if (buf->len != 2 * sizeof(uint64_t))
		return RAFT_MALFORMED;
	memcpy(&s->applied, buf->base, sizeof s->applied);
	memcpy(&s->last, (char *)buf->base + sizeof s->applied, sizeof s->last);
	raft_free(buf->base); /* on success the FSM owns it */
	return 0;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
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

static uint64_t snapshots_taken(const struct bench *b)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < N_SERVERS; i++)
		n += b->s[i].snapshots;
	return n;
}

static void record_result(struct bench *b, const char *mode)
{
	struct result *r = &b->results[b->n_results++];
	double secs = (double)(uv_hrtime() - b->run_start_ns) / 1e9;
	size_t n = b->target;

	qsort(b->lat, n, sizeof *b->lat, cmp_double);
	r->mode = mode;
	r->depth = b->depth;
	r->count = b->target;
	r->snapshots = snapshots_taken(b) - b->run_start_snapshots;
	r->p50 = percentile(b->lat, n, 50);
	r->p90 = percentile(b->lat, n, 90);
	r->p99 = percentile(b->lat, n, 99);
	r->p999 = percentile(b->lat, n, 99.9);
	r->max = b->lat[n - 1];
	for (r->over5 = 0; r->over5 < n && b->lat[n - 1 - r->over5] > 5.0;
	     r->over5++)
		;
	r->per_s = secs > 0 ? (double)n / secs : 0;
}

/* ---- driving the leader ---- */

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct slot *sl = req->data;
	struct bench *b = sl->b;
	double ms = (double)(uv_hrtime() - sl->start_ns) / 1e6;
	unsigned long i = b->done;

	(void)result;
	sl->busy = false;
	if (b->phase == PHASE_CLOSING || b->phase == PHASE_DONE)
		return; /* cancelled by raft_close */
	if (status != 0) {
		bench_fail(b, status, "%s: commit %lu: %s", phase_name(b->phase),
			   i + 1, raft_strerror(status));
		return;
	}
	b->done++;
	if (b->lat != NULL && i < b->target)
		b->lat[i] = ms;
	if (b->done == b->target) {
		if (b->phase == PHASE_SEQUENTIAL)
			record_result(b, "sequential");
		else if (b->phase == PHASE_PIPELINED)
			record_result(b, "pipelined");
		run_next(b);
		return;
	}
	pump(b);
}

/* Issues one entry from slot sl. */
static int submit(struct bench *b, struct slot *sl)
{
	struct raft_buffer buf;
	int rv;

	buf.len = b->o.size;
	buf.base = raft_malloc(buf.len);
	if (buf.base == NULL)
		return RAFT_NOMEM;
	memset(buf.base, 0, buf.len);
	b->seq++;
	memcpy(buf.base, &b->seq, sizeof b->seq);
	sl->req.data = sl;
	sl->b = b;
	sl->start_ns = uv_hrtime();
	sl->busy = true;
	rv = raft_apply(&b->leader->raft, &sl->req, &buf, 1, apply_cb);
	if (rv != 0) {
		sl->busy = false;
		/* on any other error raft has already released the buffer */
		if (rv == RAFT_NOTLEADER)
			raft_free(buf.base);
		return rv;
	}
	b->issued++;
	return 0;
}

/* Tops the in-flight entries of the current run up to its depth. */
static void pump(struct bench *b)
{
	unsigned i, inflight = (unsigned)(b->issued - b->done);
	int rv;

	for (i = 0; i < b->depth && inflight < b->depth &&
		    b->issued < b->target;
	     i++) {
		if (b->slots[i].busy)
			continue;
		rv = submit(b, &b->slots[i]);
		if (rv != 0) {
			bench_fail(b, rv, "%s: raft_apply: %s",
				   phase_name(b->phase),
				   rv == RAFT_NOTLEADER
					   ? "leadership lost"
					   : raft_strerror(rv));
			return;
		}
		inflight++;
	}
}

static void run_start(struct bench *b, enum phase p, unsigned long target,
		      unsigned depth, bool record)
{
	b->phase = p;
	b->issued = 0;
	b->done = 0;
	b->target = target;
	b->depth = depth;
	free(b->lat);
	b->lat = NULL;
	if (record) {
		b->lat = calloc(target, sizeof *b->lat);
		if (b->lat == NULL) {
			bench_fail(b, RAFT_NOMEM, "out of memory");
			return;
		}
	}
	b->run_start_ns = uv_hrtime();
	b->run_start_snapshots = snapshots_taken(b);
	pump(b);
}

/* Moves to the next run once the current one has completed. */
static void run_next(struct bench *b)
{
	switch (b->phase) {
	case PHASE_ELECTION:
		if (b->o.warmup > 0) {
			run_start(b, PHASE_WARMUP, b->o.warmup, 1, false);
			return;
		}
		/* fall through */
	case PHASE_WARMUP:
		if (b->o.count > 0) {
			run_start(b, PHASE_SEQUENTIAL, b->o.count, 1, true);
			return;
		}
		/* fall through */
	case PHASE_SEQUENTIAL:
		b->depth_i = 0;
		if (b->o.n_depths > 0 && b->o.pcount > 0) {
			run_start(b, PHASE_PIPELINED, b->o.pcount,
				  b->o.depths[0], true);
			return;
		}
		break;
	case PHASE_PIPELINED:
		if (++b->depth_i < b->o.n_depths) {
			run_start(b, PHASE_PIPELINED, b->o.pcount,
				  b->o.depths[b->depth_i], true);
			return;
		}
		break;
	case PHASE_CLOSING:
	case PHASE_DONE:
		return;
	}
	bench_close(b);
}

static void tick_cb(uv_timer_t *t)
{
	struct bench *b = t->data;
	uint64_t now = uv_hrtime();
	unsigned i;

	if (b->phase == PHASE_ELECTION) {
		for (i = 0; i < N_SERVERS; i++) {
			if (raft_state(&b->s[i].raft) == RAFT_LEADER) {
				b->leader = &b->s[i];
				if (!b->o.no_phases)
					raft_set_snapshot_threshold(
					    &b->leader->raft,
					    b->leader->due +
						leader_extra(b->leader));
				run_next(b);
				return;
			}
		}
		if (now > b->election_deadline_ns)
			bench_fail(b, RAFT_NOCONNECTION,
				   "no leader elected within %u ms",
				   LEADER_WAIT_MS);
		return;
	}
	if (b->phase != PHASE_CLOSING && b->phase != PHASE_DONE &&
	    now > b->deadline_ns)
		bench_fail(b, RAFT_CANCELED,
			   "%s: not done within %u s (%lu of %lu commits)",
			   phase_name(b->phase), b->o.timeout_s, b->done,
			   b->target);
}

/* ---- life cycle ---- */

static void bench_fail(struct bench *b, int rv, const char *fmt, ...)
{
	va_list ap;

	if (b->failed == 0) {
		b->failed = rv != 0 ? rv : RAFT_CANCELED;
		va_start(ap, fmt);
		vsnprintf(b->errmsg, sizeof b->errmsg, fmt, ap);
		va_end(ap);
	}
	bench_close(b);
}

static void timer_close_cb(uv_handle_t *h)
{
	struct bench *b = h->data;

	b->phase = PHASE_DONE;
}

static void server_close_cb(struct raft *r)
{
	struct server *s = r->data;
	struct bench *b = s->b;

	raft_uv_close(&s->io);
	raft_uv_tcp_close(&s->transport);
	s->closed = true;
	if (--b->n_open == 0)
		uv_close((uv_handle_t *)&b->timer, timer_close_cb);
}

static void bench_close(struct bench *b)
{
	unsigned i;

	if (b->phase == PHASE_CLOSING || b->phase == PHASE_DONE)
		return;
	b->phase = PHASE_CLOSING;
	uv_timer_stop(&b->timer);
	b->n_open = 0;
	for (i = 0; i < N_SERVERS; i++)
		if (b->s[i].inited && !b->s[i].closed)
			b->n_open++;
	if (b->n_open == 0) {
		uv_close((uv_handle_t *)&b->timer, timer_close_cb);
		return;
	}
	for (i = 0; i < N_SERVERS; i++)
		if (b->s[i].inited && !b->s[i].closed)
			raft_close(&b->s[i].raft, server_close_cb);
}

/* Sets up server i; on error returns non-zero with b->errmsg set. */
static int server_init(struct bench *b, unsigned i)
{
	struct server *s = &b->s[i];
	int rv;

	s->b = b;
	s->id = i + 1;
	snprintf(s->address, sizeof s->address, "127.0.0.1:%u", b->o.port + i);
	if ((size_t)snprintf(s->dir, sizeof s->dir, "%s/%u", b->dir, s->id) >=
	    sizeof s->dir) {
		snprintf(b->errmsg, sizeof b->errmsg, "dir name too long");
		return RAFT_INVALID;
	}
	if (mkdir(s->dir, 0700) != 0) {
		snprintf(b->errmsg, sizeof b->errmsg, "mkdir %s: %s", s->dir,
			 strerror(errno));
		return RAFT_IOERR;
	}
	s->transport.version = 1;
	s->transport.data = s;
	rv = raft_uv_tcp_init(&s->transport, &b->loop);
	if (rv != 0) {
		snprintf(b->errmsg, sizeof b->errmsg, "server %u: transport: %s",
			 s->id, raft_strerror(rv));
		return rv;
	}
	rv = raft_uv_init(&s->io, &b->loop, s->dir, &s->transport);
	if (rv != 0) {
		snprintf(b->errmsg, sizeof b->errmsg, "server %u: io: %s", s->id,
			 s->io.errmsg);
		goto err_after_transport;
	}
	s->fsm.version = 2;
	s->fsm.data = s;
	s->fsm.apply = count_apply;
	s->fsm.snapshot = count_snapshot;
	s->fsm.restore = count_restore;
	s->fsm.snapshot_finalize = NULL;
	rv = raft_init(&s->raft, &s->io, &s->fsm, s->id, s->address);
	if (rv != 0) {
		snprintf(b->errmsg, sizeof b->errmsg, "server %u: raft: %s",
			 s->id, raft_errmsg(&s->raft));
		goto err_after_io;
	}
	s->raft.data = s;
	s->inited = true;
	raft_set_pre_vote(&s->raft, true);
	raft_set_election_timeout(&s->raft, ELECTION_TIMEOUT_MS);
	raft_set_heartbeat_timeout(&s->raft, HEARTBEAT_TIMEOUT_MS);
	s->due = b->o.no_phases
		     ? (unsigned)b->o.snap_threshold
		     : node_snapshot_due(s->id, (unsigned)b->o.snap_threshold, 0);
	raft_set_snapshot_threshold(&s->raft, s->due);
	raft_set_snapshot_trailing(&s->raft, (unsigned)b->o.snap_trailing);
	return 0;

err_after_io:
	raft_uv_close(&s->io);
err_after_transport:
	raft_uv_tcp_close(&s->transport);
	return rv;
}

static int server_bootstrap_start(struct bench *b, struct server *s)
{
	struct raft_configuration conf;
	unsigned i;
	int rv;

	raft_configuration_init(&conf);
	for (i = 0; i < N_SERVERS; i++) {
		rv = raft_configuration_add(&conf, b->s[i].id, b->s[i].address,
					    RAFT_VOTER);
		if (rv != 0)
			goto out;
	}
	rv = raft_bootstrap(&s->raft, &conf);
	if (rv != 0) {
		snprintf(b->errmsg, sizeof b->errmsg,
			 "server %u: bootstrap: %s", s->id,
			 rv == RAFT_CANTBOOTSTRAP ? "data dir is not empty"
						  : raft_errmsg(&s->raft));
		goto out;
	}
	rv = raft_start(&s->raft);
	if (rv != 0)
		snprintf(b->errmsg, sizeof b->errmsg, "server %u: start: %s",
			 s->id, raft_errmsg(&s->raft));
out:
	raft_configuration_close(&conf);
	return rv;
}

static const char *fs_name(const char *path)
{
	struct statfs st;

	if (statfs(path, &st) != 0)
		return "unknown";
	switch ((unsigned long)st.f_type) {
	case 0xEF53UL:
		return "ext4";
	case 0x01021994UL:
		return "tmpfs";
	case 0x58465342UL:
		return "xfs";
	case 0x9123683EUL:
		return "btrfs";
	case 0x794c7630UL:
		return "overlayfs";
	case 0x2fc12fc1UL:
		return "zfs";
	default:
		return "other";
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "bench_raft: remove %s: %s\n", path,
			strerror(errno));
	return 0;
}

/* ---- output ---- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_results(const struct bench *b)
{
	unsigned i;

	if (b->o.json) {
		printf("{\"bench\":\"raft\",\"servers\":%d,\"dir\":", N_SERVERS);
		json_str(b->dir);
		printf(",\"fs\":");
		json_str(b->fs);
		printf(",\"entry_bytes\":%zu,\"warmup\":%lu,"
		       "\"snapshot_threshold\":%lu,\"snapshot_phases\":%s,"
		       "\"results\":[",
		       b->o.size, b->o.warmup, b->o.snap_threshold,
		       b->o.no_phases ? "false" : "true");
		for (i = 0; i < b->n_results; i++) {
			const struct result *r = &b->results[i];

			printf("%s{\"mode\":\"%s\",\"depth\":%u,\"count\":%lu,"
			       "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
			       "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"over_5ms\":%zu,"
			       "\"commits_per_s\":%.0f,\"snapshots\":%" PRIu64 "}",
			       i > 0 ? "," : "", r->mode, r->depth, r->count,
			       r->p50, r->p90, r->p99, r->p999, r->max, r->over5,
			       r->per_s, r->snapshots);
		}
		printf("]}\n");
		return;
	}
	printf("raft: %d servers on 127.0.0.1:%u-%u, dir %s (%s), entry %zu "
	       "bytes, warmup %lu, snapshot every %lu\n",
	       N_SERVERS, b->o.port, b->o.port + N_SERVERS - 1, b->dir, b->fs,
	       b->o.size, b->o.warmup, b->o.snap_threshold);
	printf("%-12s %5s %8s %9s %9s %9s %9s %9s %7s %10s %9s\n", "mode",
	       "depth", "count", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
	       "max ms", ">5 ms", "commits/s", "snapshots");
	for (i = 0; i < b->n_results; i++) {
		const struct result *r = &b->results[i];

		printf("%-12s %5u %8lu %9.3f %9.3f %9.3f %9.3f %9.3f %7zu "
		       "%10.0f %9" PRIu64 "\n",
		       r->mode, r->depth, r->count, r->p50, r->p90, r->p99,
		       r->p999, r->max, r->over5, r->per_s, r->snapshots);
	}
}

/* ---- arguments ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_raft [options]\n"
		"  --dir DIR         parent of the temporary data dir "
		"(default /var/tmp)\n"
		"  --count N         sequential commits (default 2000)\n"
		"  --pipelined N     commits per pipelined run (default 10000)\n"
		"  --depth LIST      in-flight bounds, comma separated, 1..%d "
		"(default 1,16,64)\n"
		"  --warmup N        unrecorded commits first (default 200)\n"
		"  --size BYTES      entry payload, multiple of 8, 8..65536 "
		"(default 64)\n"
		"  --port PORT       first of %d loopback ports (default 19001)\n"
		"  --snapshot-threshold N  entries between snapshots "
		"(default 4096, as poolpaird)\n"
		"  --snapshot-trailing N   entries kept after a snapshot "
		"(default 8192)\n"
		"  --no-phases       every server snapshots every threshold "
		"entries (libraft alone), not at its phase as poolpaird\n"
		"  --timeout S       give up after S seconds (default 120)\n"
		"  --json            print one JSON object\n",
		MAX_DEPTH, N_SERVERS);
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

static bool parse_depths(const char *s, struct opts *o)
{
	char buf[128], *tok, *save = NULL;
	unsigned long v;

	if (s == NULL || strlen(s) >= sizeof buf)
		return false;
	strcpy(buf, s);
	o->n_depths = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (o->n_depths == MAX_DEPTHS ||
		    !parse_ulong(tok, 1, MAX_DEPTH, &v))
			return false;
		o->depths[o->n_depths++] = (unsigned)v;
	}
	return o->n_depths > 0;
}

/* Returns 0, or 2 after printing why. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	int i;
	unsigned long v;

	*o = (struct opts){.parent = "/var/tmp",
			   .count = 2000,
			   .pcount = 10000,
			   .warmup = 200,
			   .depths = {1, 16, 64},
			   .n_depths = 3,
			   .size = 64,
			   .port = 19001,
			   .timeout_s = 120,
			   .snap_threshold = 4096,
			   .snap_trailing = 8192};
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true, takes = true;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
			takes = false;
		} else if (strcmp(a, "--dir") == 0) {
			ok = val != NULL && *val != '\0';
			o->parent = val;
		} else if (strcmp(a, "--count") == 0) {
			ok = parse_ulong(val, 0, MAX_COUNT, &o->count);
		} else if (strcmp(a, "--pipelined") == 0) {
			ok = parse_ulong(val, 0, MAX_COUNT, &o->pcount);
		} else if (strcmp(a, "--warmup") == 0) {
			ok = parse_ulong(val, 0, MAX_COUNT, &o->warmup);
		} else if (strcmp(a, "--depth") == 0) {
			ok = parse_depths(val, o);
		} else if (strcmp(a, "--size") == 0) {
			ok = parse_ulong(val, 8, 65536, &v) && v % 8 == 0;
			o->size = v;
		} else if (strcmp(a, "--port") == 0) {
			ok = parse_ulong(val, 1024, 65535 - N_SERVERS + 1, &v);
			o->port = (unsigned)v;
		} else if (strcmp(a, "--snapshot-threshold") == 0) {
			ok = parse_ulong(val, 1, UINT_MAX, &o->snap_threshold);
		} else if (strcmp(a, "--no-phases") == 0) {
			o->no_phases = true;
			takes = false;
		} else if (strcmp(a, "--snapshot-trailing") == 0) {
			ok = parse_ulong(val, 0, UINT_MAX, &o->snap_trailing);
		} else if (strcmp(a, "--timeout") == 0) {
			ok = parse_ulong(val, 1, 3600, &v);
			o->timeout_s = (unsigned)v;
		} else {
			fprintf(stderr, "bench_raft: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "bench_raft: bad value for %s: %s\n", a,
				val != NULL ? val : "(missing)");
			usage(stderr);
			return 2;
		}
		if (takes)
			i++;
	}
	if (o->count == 0 && (o->pcount == 0 || o->n_depths == 0)) {
		fprintf(stderr, "bench_raft: nothing to measure\n");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench *b;
	unsigned i;
	int rv, status = 1;
	uint64_t now;

	b = calloc(1, sizeof *b);
	if (b == NULL) {
		fprintf(stderr, "bench_raft: out of memory\n");
		return 1;
	}
	rv = parse_args(argc, argv, &b->o);
	if (rv != 0) {
		free(b);
		return rv;
	}
	if ((size_t)snprintf(b->dir, sizeof b->dir, "%s/bench_raft.XXXXXX",
			     b->o.parent) >= sizeof b->dir ||
	    mkdtemp(b->dir) == NULL) {
		fprintf(stderr, "bench_raft: mkdtemp under %s: %s\n",
			b->o.parent, strerror(errno));
		free(b);
		return 1;
	}
	b->fs = fs_name(b->dir);
	rv = uv_loop_init(&b->loop);
	if (rv != 0) {
		fprintf(stderr, "bench_raft: loop: %s\n", uv_strerror(rv));
		goto out_dir;
	}
	uv_timer_init(&b->loop, &b->timer);
	b->timer.data = b;
	b->phase = PHASE_ELECTION;
	for (i = 0; i < N_SERVERS && rv == 0; i++)
		rv = server_init(b, i);
	for (i = 0; i < N_SERVERS && rv == 0; i++)
		rv = server_bootstrap_start(b, &b->s[i]);
	if (rv != 0) {
		b->failed = rv;
		bench_close(b);
	} else {
		now = uv_hrtime();
		b->election_deadline_ns = now + LEADER_WAIT_MS * 1000000ULL;
		b->deadline_ns = now + b->o.timeout_s * 1000000000ULL;
		uv_timer_start(&b->timer, tick_cb, TICK_MS, TICK_MS);
	}
	uv_run(&b->loop, UV_RUN_DEFAULT);
	rv = uv_loop_close(&b->loop);
	if (rv != 0)
		fprintf(stderr, "bench_raft: loop close: %s\n", uv_strerror(rv));
	if (b->failed != 0) {
		fprintf(stderr, "bench_raft: %s\n", b->errmsg);
	} else {
		print_results(b);
		status = 0;
		if (b->leader->applied != b->seq) {
			fprintf(stderr,
				"bench_raft: leader applied %" PRIu64
				" entries, %" PRIu64 " were committed\n",
				b->leader->applied, b->seq);
			status = 1;
		}
	}
out_dir:
	nftw(b->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(b->lat);
	free(b);
	return status;
}
