/* backup: backup status per direction and category (see backup.h). */
#include "agent/backup.h"

#include <stdio.h>
#include <string.h>

#include "agent/members.h"

#define MS 1000000ULL /* ns per ms */

static const char *row_state(const struct sender_stats *st)
{
	bool connected = st->state == SENDER_STREAMING;

	if (st->seeding && connected)
		return "seeding";
	if (st->lag_records > 0)
		return connected ? "backlog" : "error";
	return connected ? "steady" : "final";
}

size_t backup_stream_count(struct dataplane *dp)
{
	return dp->sender != NULL ? sender_stream_count(dp->sender) : 0;
}

int backup_row_figures(struct backup_row *row, uint64_t now_ms)
{
	struct sender_stats *st = &row->st;
	bool content = st->lane == POOLPAIR__REPL__LANE__LANE_CONTENT;
	bool cms = strcmp(st->user_set, DATAPLANE_CMS) == 0;

	if (cms && content)
		return 1;
	/* the position of a user set taken over counts what was received */
	if (st->applied_seq > st->head_seq)
		st->head_seq = st->applied_seq;
	row->category = content ? "content" : cms ? "cms" : "user_data";
	row->state = row_state(st);
	row->lag_seconds = 0;
	if (st->lag_records > 0 && st->oldest_unacked_hlc != 0 &&
	    hlc_ms(st->oldest_unacked_hlc) < now_ms)
		row->lag_seconds =
		    (double)(now_ms - hlc_ms(st->oldest_unacked_hlc)) / 1000.0;
	row->compression_ratio =
	    st->bytes_raw > 0 ? (double)st->bytes_wire / (double)st->bytes_raw
			      : 0;
	return 0;
}

int backup_row(struct dataplane *dp, size_t i, struct backup_row *row)
{
	int rv = dataplane_stream_stats(dp, i, &row->st);

	if (rv != 0)
		return rv;
	return backup_row_figures(row, clock_wall_ms(dp->deps.clock));
}

unsigned backup_stream_reports(struct dataplane *dp,
			       struct members_stream_report *out, unsigned max)
{
	size_t n = backup_stream_count(dp);
	unsigned k = 0;

	for (size_t i = 0; i < n && k < max; i++) {
		struct backup_row row;
		struct members_stream_report *r = &out[k];

		if (backup_row(dp, i, &row) != 0)
			continue;
		memset(r, 0, sizeof *r);
		snprintf(r->user_set, sizeof r->user_set, "%s",
			 row.st.user_set);
		snprintf(r->category, sizeof r->category, "%s", row.category);
		snprintf(r->state, sizeof r->state, "%s", row.state);
		r->head_seq = row.st.head_seq;
		r->acked_seq = row.st.acked_seq;
		r->lag_records = row.st.lag_records;
		r->lag_bytes = row.st.lag_bytes;
		r->lag_ms = (uint64_t)(row.lag_seconds * 1000.0);
		k++;
	}
	return k;
}

json_t *backup_row_json(const char *from, const char *to,
			const struct backup_row *row)
{
	const struct sender_stats *st = &row->st;
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, "
	    "s:f, s:f, s:I, s:s, s:s}",
	    "from", from, "to", to, "user_set", st->user_set, "category",
	    row->category, "state", row->state, "connection",
	    sender_state_name(st->state), "head_seq", (json_int_t)st->head_seq,
	    "acked_seq", (json_int_t)st->acked_seq, "lag_records",
	    (json_int_t)st->lag_records, "lag_bytes", (json_int_t)st->lag_bytes,
	    "lag_seconds", row->lag_seconds, "records_per_second",
	    st->records_per_s, "bytes_per_second", st->bytes_per_s,
	    "compression_ratio", row->compression_ratio, "reconnects",
	    (json_int_t)st->reconnects, "peer", st->peer, "error",
	    st->last_error);

	/* a seed of the pair's copy: how far it is */
	if (o != NULL && st->seeding &&
	    json_object_update_new(
		o, json_pack("{s:b, s:I, s:I, s:I, s:I}", "seeding", 1,
			     "seed_items", (json_int_t)st->seed_items,
			     "seed_items_total",
			     (json_int_t)st->seed_items_total, "seed_bytes",
			     (json_int_t)st->seed_bytes, "seed_bytes_total",
			     (json_int_t)st->seed_bytes_total)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *backup_local(struct dataplane *dp)
{
	json_t *arr = json_array();
	size_t n = backup_stream_count(dp);

	for (size_t i = 0; arr != NULL && i < n; i++) {
		struct backup_row row;

		if (backup_row(dp, i, &row) != 0)
			continue;
		json_array_append_new(arr,
				      backup_row_json(dp->pool, dp->pair, &row));
	}
	return arr;
}

json_t *backup_ack_rows(struct dataplane *dp)
{
	json_t *arr = json_array();
	size_t n = backup_stream_count(dp);

	for (size_t i = 0; arr != NULL && i < n; i++) {
		struct backup_row row;
		json_t *b = json_array();

		if (b == NULL || backup_row(dp, i, &row) != 0) {
			json_decref(b);
			continue;
		}
		for (unsigned k = 0; k < ACKHIST_BUCKETS; k++)
			json_array_append_new(
			    b, json_pack("[f, I]", ACKHIST_LE[k],
					 (json_int_t)ackhist_cumulative(
					     &row.st.ack, k)));
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:f}", "from",
			      dp->pool, "to", dp->pair, "user_set",
			      row.st.user_set, "category", row.category,
			      "buckets", b, "count",
			      (json_int_t)row.st.ack.count, "sum",
			      row.st.ack.sum));
	}
	return arr;
}

/* ---- the cluster's view, for GET /v1/status ---- */

static json_t *cluster_row(const char *from, const char *to,
			   const char *user_set, const char *category,
			   const char *state, uint64_t head, uint64_t acked,
			   uint64_t lag_records, uint64_t lag_bytes,
			   double lag_s, const char *source, double age_s,
			   bool stale)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, "
			 "s:f, s:s, s:f, s:b}",
			 "from", from, "to", to, "user_set", user_set,
			 "category", category, "state", state, "head_seq",
			 (json_int_t)head, "acked_seq", (json_int_t)acked,
			 "lag_records", (json_int_t)lag_records, "lag_bytes",
			 (json_int_t)lag_bytes, "lag_seconds", lag_s, "source",
			 source, "age_seconds", age_s, "stale", stale);
}

/* The newest report with streams from an agent of pool (not this one),
 * or of any kind when none has streams; NULL when none was heard. */
static const struct members_seen *
newest_report(const struct backup_cluster_src *src, const char *pool,
	      const char **name)
{
	const struct members_seen *best = NULL;

	for (unsigned i = 0; i < src->fsm->n_members; i++) {
		const struct fsm_member *fm = &src->fsm->members[i];
		const struct members_seen *s;

		if (strcmp(fm->pool, pool) != 0 || fm->id == src->self_id)
			continue;
		s = src->seen(src->seen_impl, fm->id);
		if (s == NULL || s->last_ns == 0)
			continue;
		if (best == NULL ||
		    (s->n_streams > 0) > (best->n_streams > 0) ||
		    ((s->n_streams > 0) == (best->n_streams > 0) &&
		     s->last_ns > best->last_ns)) {
			best = s;
			*name = fm->name;
		}
	}
	return best;
}

/* Rows of pool p (paired) as its agents last reported them. */
static void cluster_pool(const struct backup_cluster_src *src,
			 const struct fsm_pool *p, json_t *arr)
{
	const char *name = "";
	const struct members_seen *s = newest_report(src, p->name, &name);
	uint64_t stale_ms = src->stale_ms;
	uint64_t age_ms;
	bool stale;

	age_ms = s != NULL
		     ? (clock_mono_ns(src->data->deps.clock) - s->last_ns) / MS
		     : 0;
	stale = s == NULL || age_ms > stale_ms;
	if (s != NULL && s->n_streams == 0 && !stale)
		return; /* heard just now: it sends nothing (it owns nothing) */
	if (s == NULL || s->n_streams == 0) {
		/* nothing known of this direction: say so */
		json_t *row = json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:n, s:o, "
		    "s:o, s:b}",
		    "from", p->name, "to", p->pair, "user_set", p->name,
		    "category", "user_data", "state", "unknown", "head_seq",
		    "acked_seq", "lag_records", "lag_bytes", "lag_seconds",
		    "source", s != NULL ? json_string(name) : json_null(),
		    "age_seconds",
		    s != NULL ? json_real((double)age_ms / 1000.0)
			      : json_null(),
		    "stale", true);

		json_array_append_new(arr, row);
		return;
	}
	for (unsigned k = 0; k < s->n_streams; k++) {
		const struct members_stream_report *r = &s->streams[k];

		json_array_append_new(
		    arr, cluster_row(p->name, p->pair, r->user_set, r->category,
				     stale ? "unknown" : r->state, r->head_seq,
				     r->acked_seq, r->lag_records, r->lag_bytes,
				     (double)r->lag_ms / 1000.0, name,
				     (double)age_ms / 1000.0, stale));
	}
}

json_t *backup_cluster(const struct backup_cluster_src *src)
{
	const struct fsm *f = src->fsm;
	json_t *arr = json_array();

	for (unsigned i = 0; arr != NULL && i < f->n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];
		size_t n = backup_stream_count(src->data);

		if (p->pair[0] == '\0')
			continue;
		if (strcmp(p->name, src->data->pool) != 0 || n == 0) {
			cluster_pool(src, p, arr);
			continue;
		}
		/* this agent's own streams: live */
		for (size_t k = 0; k < n; k++) {
			struct backup_row row;

			if (backup_row(src->data, k, &row) != 0)
				continue;
			json_array_append_new(
			    arr, cluster_row(p->name, p->pair, row.st.user_set,
					     row.category, row.state,
					     row.st.head_seq, row.st.acked_seq,
					     row.st.lag_records,
					     row.st.lag_bytes, row.lag_seconds,
					     src->self_name, 0, false));
		}
	}
	return arr;
}
