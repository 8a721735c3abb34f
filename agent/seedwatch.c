/* seedwatch: the progress of the seeds of this agent (see seedwatch.h). */
#include "agent/seedwatch.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MB 1e6

void seedwatch_init(struct seedwatch *w) { memset(w, 0, sizeof *w); }

const char *seedwatch_lane_name(int lane)
{
	return lane == 1 ? "content" : "data";
}

const char *seedwatch_role_name(int role)
{
	return role == SEEDWATCH_RECEIVER ? "receiver" : "sender";
}

uint64_t seedwatch_remaining(bool active, uint64_t items, uint64_t items_total)
{
	if (!active)
		return 0;
	return items_total > items ? items_total - items : 1;
}

void seedwatch_rate(const struct seedwatch_stream *st, double *items_s,
		    double *bytes_s)
{
	unsigned newest, oldest, k;
	uint64_t ms;

	*items_s = *bytes_s = 0;
	if (st->n < 2)
		return;
	newest = (st->head + SEEDWATCH_SAMPLES - 1) % SEEDWATCH_SAMPLES;
	/* the oldest sample still within the window of the newest, but at
	 * least the one before the newest */
	oldest = (newest + SEEDWATCH_SAMPLES - 1) % SEEDWATCH_SAMPLES;
	for (k = 2; k <= st->n; k++) {
		unsigned i =
		    (st->head + SEEDWATCH_SAMPLES - k) % SEEDWATCH_SAMPLES;

		if (st->s[newest].ms - st->s[i].ms > SEEDWATCH_WINDOW_MS)
			break;
		oldest = i;
	}
	ms = st->s[newest].ms - st->s[oldest].ms;
	if (ms == 0)
		return;
	if (st->s[newest].items >= st->s[oldest].items)
		*items_s = (double)(st->s[newest].items - st->s[oldest].items) *
			   1000.0 / (double)ms;
	if (st->s[newest].bytes >= st->s[oldest].bytes)
		*bytes_s = (double)(st->s[newest].bytes - st->s[oldest].bytes) *
			   1000.0 / (double)ms;
}

int64_t seedwatch_eta_s(uint64_t items, uint64_t items_total, uint64_t bytes,
			uint64_t bytes_total, double items_s, double bytes_s)
{
	double left;

	if (items_total == 0 && bytes_total == 0)
		return -1; /* the sender is counting them */
	if (items >= items_total && bytes >= bytes_total)
		return 0;
	if (bytes_total > 0 && bytes_s > 0) {
		left = bytes < bytes_total ? (double)(bytes_total - bytes) : 0;
		return (int64_t)(left / bytes_s + 0.999);
	}
	if (items_s > 0) {
		left = items < items_total ? (double)(items_total - items) : 0;
		return (int64_t)(left / items_s + 0.999);
	}
	return -1;
}

const struct seedwatch_stream *seedwatch_find(const struct seedwatch *w,
					      int role, const char *user_set,
					      int lane)
{
	for (unsigned i = 0; i < w->n; i++)
		if (w->v[i].role == role && w->v[i].lane == lane &&
		    strcmp(w->v[i].user_set, user_set) == 0)
			return &w->v[i];
	return NULL;
}

void seedwatch_settled(struct seedwatch *w, int role, const char *user_set,
		       int lane)
{
	struct seedwatch_stream *st =
	    (struct seedwatch_stream *)seedwatch_find(w, role, user_set, lane);

	if (st != NULL)
		st->unfinished = false;
}

bool seedwatch_active(const struct seedwatch *w)
{
	for (unsigned i = 0; i < w->n; i++)
		if (w->v[i].active || w->v[i].unfinished)
			return true;
	return false;
}

static struct seedwatch_stream *
find(struct seedwatch *w, const struct seedwatch_sample *x, bool create)
{
	struct seedwatch_stream *st = NULL;

	for (unsigned i = 0; i < w->n; i++)
		if (w->v[i].role == x->role && w->v[i].lane == x->lane &&
		    strcmp(w->v[i].user_set, x->user_set) == 0)
			return &w->v[i];
	if (!create)
		return NULL;
	if (w->n < SEEDWATCH_MAX) {
		st = &w->v[w->n++];
	} else {
		for (unsigned i = 0; i < w->n; i++)
			if (!w->v[i].active &&
			    (st == NULL || w->v[i].ended_ms < st->ended_ms))
				st = &w->v[i];
		if (st == NULL)
			return NULL; /* every slot runs a seed */
	}
	memset(st, 0, sizeof *st);
	st->role = x->role;
	st->lane = x->lane;
	snprintf(st->user_set, sizeof st->user_set, "%s", x->user_set);
	return st;
}

/* Whether the totals of st are not known yet (the sender counts them
 * before its SEED_BEGIN). */
static bool counting(const struct seedwatch_stream *st)
{
	return st->items_total == 0 && st->bytes_total == 0;
}

/* "seed of pool-east data lane to pool-east" */
static int head(const struct seedwatch_stream *st, char *line, size_t len)
{
	int n =
	    snprintf(line, len, "seed of %s %s lane %s %s", st->user_set,
		     seedwatch_lane_name(st->lane),
		     st->role == SEEDWATCH_RECEIVER ? "from" : "to", st->peer);

	if (n < 0)
		return 0;
	return (size_t)n >= len ? (int)len - 1 : n;
}

static void progress_line(const struct seedwatch_stream *st, char *line,
			  size_t len)
{
	double items_s, bytes_s;
	int64_t eta;
	int n = head(st, line, len);
	char etabuf[32];

	seedwatch_rate(st, &items_s, &bytes_s);
	eta = seedwatch_eta_s(st->items, st->items_total, st->bytes,
			      st->bytes_total, items_s, bytes_s);
	if (eta < 0)
		snprintf(etabuf, sizeof etabuf, "eta unknown");
	else
		snprintf(etabuf, sizeof etabuf, "eta %" PRId64 " s", eta);
	snprintf(line + n, len - (size_t)n,
		 ": %" PRIu64 " of %" PRIu64 " items, %.1f of %.1f MB, "
		 "%.1f MB/s, %s",
		 st->items, st->items_total, (double)st->bytes / MB,
		 (double)st->bytes_total / MB, bytes_s / MB, etabuf);
}

/* resumed: the stream was seen cut with the same position */
static void start_line(const struct seedwatch_stream *st, bool resumed,
		       char *line, size_t len)
{
	int n = head(st, line, len);

	if (st->items == 0)
		snprintf(line + n, len - (size_t)n,
			 " started from seq %" PRIu64 ": %" PRIu64
			 " items, %.1f MB",
			 st->from_seq, st->items_total,
			 (double)st->bytes_total / MB);
	else
		snprintf(line + n, len - (size_t)n,
			 " %s from seq %" PRIu64 " at %" PRIu64 " of %" PRIu64
			 " items, %.1f of %.1f MB",
			 resumed ? "resumed" : "under way", st->from_seq,
			 st->items, st->items_total, (double)st->bytes / MB,
			 (double)st->bytes_total / MB);
}

static void end_line(const struct seedwatch_stream *st, bool done,
		     uint64_t now_ms, char *line, size_t len)
{
	int n = head(st, line, len);
	double secs = (double)(now_ms - st->started_ms) / 1000.0;
	double moved = st->bytes >= st->first_bytes
			   ? (double)(st->bytes - st->first_bytes)
			   : 0;
	double rate = secs > 0 ? moved / MB / secs : 0.0;

	if (!done)
		snprintf(line + n, len - (size_t)n,
			 " cut at %" PRIu64 " of %" PRIu64
			 " items: it resumes there when the link is back",
			 st->items, st->items_total);
	else if (st->first_items == 0 && st->first_bytes == 0)
		snprintf(line + n, len - (size_t)n,
			 " done: %" PRIu64 " items, %.1f MB in %.1f s "
			 "(%.1f MB/s)",
			 st->items, (double)st->bytes / MB, secs, rate);
	else /* seen from its middle on */
		snprintf(line + n, len - (size_t)n,
			 " done: %" PRIu64 " items, %.1f MB (the last %.1f "
			 "MB in %.1f s, %.1f MB/s)",
			 st->items, (double)st->bytes / MB, moved / MB, secs,
			 rate);
}

static void add_sample(struct seedwatch_stream *st, uint64_t now_ms)
{
	unsigned last = (st->head + SEEDWATCH_SAMPLES - 1) % SEEDWATCH_SAMPLES;

	/* figures that went back (a new seed, a store rebuilt): start over */
	if (st->n > 0 &&
	    (st->items < st->s[last].items || st->bytes < st->s[last].bytes ||
	     now_ms < st->s[last].ms))
		st->n = 0;
	st->s[st->head].ms = now_ms;
	st->s[st->head].items = st->items;
	st->s[st->head].bytes = st->bytes;
	st->head = (st->head + 1) % SEEDWATCH_SAMPLES;
	if (st->n < SEEDWATCH_SAMPLES)
		st->n++;
}

int seedwatch_sample(struct seedwatch *w, const struct seedwatch_sample *x,
		     uint64_t now_ms, char *line, size_t len)
{
	struct seedwatch_stream *st = find(w, x, x->active);
	bool was_active, restarted, resumed;
	int ev = SEEDWATCH_NONE;

	if (len > 0)
		line[0] = '\0';
	if (st == NULL)
		return SEEDWATCH_NONE;
	was_active = st->active;
	restarted = was_active && x->active && x->from_seq != st->from_seq;
	resumed = st->cut && x->from_seq == st->from_seq;
	if (x->active || was_active) {
		/* an ended or cut seed keeps its last figures */
		snprintf(st->peer, sizeof st->peer, "%s", x->peer);
		st->from_seq = x->from_seq;
		st->items = x->items;
		st->items_total = x->items_total;
		st->bytes = x->bytes;
		st->bytes_total = x->bytes_total;
	}
	if (x->active && (!was_active || restarted)) {
		st->active = true;
		st->unfinished = false;
		st->cut = false;
		st->n = 0;
		st->started_ms = now_ms;
		st->ended_ms = 0;
		st->first_items = x->items;
		st->first_bytes = x->bytes;
		st->logged_ms = now_ms;
		st->done = x->done;
		add_sample(st, now_ms);
		/* its totals are not counted yet: the line waits for them */
		st->start_pending = counting(st);
		st->start_resumed = resumed;
		if (st->start_pending)
			return SEEDWATCH_NONE;
		start_line(st, resumed, line, len);
		return SEEDWATCH_STARTED;
	}
	if (!x->active) {
		if (was_active) {
			bool done =
			    !x->gone && (st->role == SEEDWATCH_RECEIVER ||
					 x->done > st->done);

			st->active = false;
			st->start_pending = false;
			st->unfinished = !done;
			st->cut = !done;
			st->ended_ms = now_ms;
			ev = done ? SEEDWATCH_ENDED : SEEDWATCH_CUT;
			end_line(st, done, now_ms, line, len);
		}
		st->done = x->done;
		return ev;
	}
	add_sample(st, now_ms);
	if (st->start_pending) {
		if (counting(st))
			return SEEDWATCH_NONE;
		st->start_pending = false;
		st->logged_ms = now_ms;
		start_line(st, st->start_resumed, line, len);
		return SEEDWATCH_STARTED;
	}
	if (now_ms - st->logged_ms >= SEEDWATCH_LOG_MS) {
		st->logged_ms = now_ms;
		progress_line(st, line, len);
		return SEEDWATCH_PROGRESS;
	}
	return SEEDWATCH_NONE;
}

json_t *seedwatch_json(const struct seedwatch_stream *st)
{
	double items_s = 0, bytes_s = 0;
	int64_t eta = 0;
	json_t *o;

	if (st->active) {
		seedwatch_rate(st, &items_s, &bytes_s);
		eta = seedwatch_eta_s(st->items, st->items_total, st->bytes,
				      st->bytes_total, items_s, bytes_s);
	} else if (st->unfinished) {
		eta = -1; /* cut: it resumes when the link is back */
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, "
		      "s:f, s:f}",
		      "role", seedwatch_role_name(st->role), "user_set",
		      st->user_set, "lane", seedwatch_lane_name(st->lane),
		      "peer", st->peer, "active", st->active, "from_seq",
		      (json_int_t)st->from_seq, "items", (json_int_t)st->items,
		      "items_total", (json_int_t)st->items_total, "bytes",
		      (json_int_t)st->bytes, "bytes_total",
		      (json_int_t)st->bytes_total, "rate_items_s", items_s,
		      "rate_bytes_s", bytes_s);
	if (o != NULL &&
	    json_object_set_new(o, "eta_s",
				eta < 0 ? json_null()
					: json_integer((json_int_t)eta)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
