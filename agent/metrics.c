/* metrics: Prometheus text rendering of the agent's figures (see
 * metrics.h). */
#include "agent/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Upper bounds of the latency buckets, seconds. */
static const double bucket_le[METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,   0.025,   0.05,   0.1,   0.5,    1.0};

static const char *method_names[METRICS_METHODS] = {"GET", "POST", "PUT",
						     "DELETE", "other"};
static const char *class_names[METRICS_CLASSES] = {"1xx", "2xx", "3xx",
						    "4xx", "5xx", "other"};

int metrics_init(struct metrics *m, const struct metrics_deps *deps)
{
	memset(m, 0, sizeof *m);
	m->d = *deps;
	return 0;
}

void metrics_close(struct metrics *m, void (*cb)(struct metrics *m))
{
	if (cb != NULL)
		cb(m);
}

void metrics_decided(struct metrics *m, int status,
		     const struct fsm_result *res)
{
	if (status == PROPOSER_E_UNKNOWN)
		m->decisions_unknown++;
	else if (status == 0 && res->code == FSM_OK)
		m->decisions_ok++;
	else if (status == 0)
		m->decisions_refused++;
}

static int method_index(const char *method)
{
	for (int i = 0; i < METRICS_METHODS - 1; i++)
		if (strcmp(method, method_names[i]) == 0)
			return i;
	return METRICS_METHODS - 1;
}

void metrics_observe(struct metrics *m, const char *method, int status,
		     uint64_t duration_ns)
{
	int cls = status >= 100 && status < 600 ? status / 100 - 1
						: METRICS_CLASSES - 1;
	double secs = (double)duration_ns / 1e9;

	m->requests[method_index(method)][cls]++;
	m->latency_count++;
	m->latency_sum += secs;
	for (int i = 0; i < METRICS_BUCKETS; i++)
		if (secs <= bucket_le[i])
			m->latency_buckets[i]++;
}

/* A growing text buffer. */
struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t cap = o->cap * 2 + (size_t)n + 1;
			char *nb = realloc(o->buf, cap);

			if (nb == NULL) {
				o->failed = 1;
				return;
			}
			o->buf = nb;
			o->cap = cap;
		}
	}
}

static void gauge(struct out *o, const char *name, const char *help,
		  double value)
{
	put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name,
	    name, value);
}

static void counter(struct out *o, const char *name, const char *help,
		    uint64_t value)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
	    name, (unsigned long long)value);
}

/* The leader's own lease: how old the newest proof of each source is, and
 * how long its last barrier took to commit (only on the leader). */
static void lease_metrics(const struct metrics *mt,
			  const struct metrics_members *m, struct out *o)
{
	uint64_t now = clock_mono_ns(mt->d.clock);
	const char *names[2] = {"barrier", "echoes"};
	uint64_t proved[2] = {m->barrier_proved_ns, m->echoes_proved_ns};
	bool leader = proposer_is_leader(mt->d.proposer);

	put(o, "# HELP poolpair_lease_proof_age_seconds the leader: age of "
	       "the newest time its own lease was proved from, by source (a "
	       "committed barrier's start, the heartbeats' echoes)\n"
	       "# TYPE poolpair_lease_proof_age_seconds gauge\n");
	for (int i = 0; i < 2; i++)
		if (leader && proved[i] != 0 && proved[i] <= now)
			put(o,
			    "poolpair_lease_proof_age_seconds{source=\"%s\"} "
			    "%.3f\n",
			    names[i], (double)(now - proved[i]) / 1e9);
	put(o, "# HELP poolpair_lease_barrier_seconds the leader: how long "
	       "its last committed barrier took\n"
	       "# TYPE poolpair_lease_barrier_seconds gauge\n");
	if (leader && m->barrier_took_ns != 0)
		put(o, "poolpair_lease_barrier_seconds %.3f\n",
		    (double)m->barrier_took_ns / 1e9);
}

/* The seeds of the streams (rows of dataplane_seed_rows()), labelled
 * user_set, lane and role (sender: this store seeds the pair's copy;
 * receiver: this copy is seeded). */
/* The lag of each standby of this writer's pool (rows of
 * metrics_data.standbys). */
static void standby_metrics(struct out *o, json_t *rows)
{
	size_t i;
	json_t *v;

	if (rows == NULL || json_array_size(rows) == 0)
		return;
	put(o, "# HELP poolpair_standby_lag_records records of the writer "
	       "not yet acknowledged by a standby of its pool\n"
	       "# TYPE poolpair_standby_lag_records gauge\n");
	json_array_foreach(rows, i, v)
	    put(o,
		"poolpair_standby_lag_records{pool=\"%s\",standby=\"%s\"} "
		"%lld\n",
		json_string_value(json_object_get(v, "pool")),
		json_string_value(json_object_get(v, "standby")),
		(long long)json_integer_value(
		    json_object_get(v, "lag_records")));
	put(o, "# HELP poolpair_standby_lag_seconds age of the oldest record "
	       "of the writer not yet acknowledged by a standby\n"
	       "# TYPE poolpair_standby_lag_seconds gauge\n");
	json_array_foreach(rows, i, v)
	    put(o,
		"poolpair_standby_lag_seconds{pool=\"%s\",standby=\"%s\"} "
		"%.3f\n",
		json_string_value(json_object_get(v, "pool")),
		json_string_value(json_object_get(v, "standby")),
		(double)json_integer_value(json_object_get(v, "lag_ms")) /
		    1000.0);
}

/* The labels of a replication stream's row (a JSON object with from, to,
 * user_set, category) into buf. */
static void stream_labels(json_t *v, char *buf, size_t len)
{
	snprintf(buf, len,
		 "from=\"%s\",to=\"%s\",user_set=\"%s\",category=\"%s\"",
		 json_string_value(json_object_get(v, "from")),
		 json_string_value(json_object_get(v, "to")),
		 json_string_value(json_object_get(v, "user_set")),
		 json_string_value(json_object_get(v, "category")));
}

/* The replication acknowledgement histogram, per stream (labels as the
 * poolpair_backup_* gauges). */
static void ack_metrics(struct out *o, json_t *rows)
{
	json_t *v, *b;
	size_t i, k;

	if (json_array_size(rows) == 0)
		return;
	put(o, "# HELP poolpair_replication_ack_seconds time from a "
	       "record's local commit to the pair's acknowledgement of it\n"
	       "# TYPE poolpair_replication_ack_seconds histogram\n");
	json_array_foreach(rows, i, v)
	{
		char labels[256];

		stream_labels(v, labels, sizeof labels);
		json_array_foreach(json_object_get(v, "buckets"), k, b)
		put(o, "poolpair_replication_ack_seconds_bucket{%s,le=\"%g\"} "
		       "%lld\n",
		    labels, json_real_value(json_array_get(b, 0)),
		    (long long)json_integer_value(json_array_get(b, 1)));
		put(o,
		    "poolpair_replication_ack_seconds_bucket{%s,le=\"+Inf\"} "
		    "%lld\n"
		    "poolpair_replication_ack_seconds_sum{%s} %.6f\n"
		    "poolpair_replication_ack_seconds_count{%s} %lld\n",
		    labels,
		    (long long)json_integer_value(json_object_get(v, "count")),
		    labels, json_real_value(json_object_get(v, "sum")), labels,
		    (long long)json_integer_value(json_object_get(v, "count")));
	}
}

static void seed_metrics(struct out *o, json_t *rows)
{
	/* the JSON's names, and the metrics' (a gauge cannot end in _total:
	 * promtool check metrics) */
	static const char *const keys[] = {"items", "items_total", "bytes",
					   "bytes_total", "active"};
	static const char *const names[] = {"items", "items_expected",
					    "bytes", "bytes_expected",
					    "active"};
	static const char *const help[] = {
	    "items of the seed stored so far at the copy",
	    "items the seed sends in all (counted at its start)",
	    "bytes (keys and values) of the seed stored so far",
	    "bytes the seed sends in all (counted at its start)",
	    "1 while the seed runs (the copy rebuilt from the owner's "
	    "store)"};
	json_t *v;
	size_t i;

	/* each family in one group */
	for (int k = 0; k < 5; k++) {
		put(o, "# HELP poolpair_seed_%s %s\n"
		       "# TYPE poolpair_seed_%s gauge\n",
		    names[k], help[k], names[k]);
		json_array_foreach(rows, i, v)
		{
			char labels[256];

			snprintf(
			    labels, sizeof labels,
			    "user_set=\"%s\",lane=\"%s\",role=\"%s\"",
			    json_string_value(json_object_get(v, "user_set")),
			    json_string_value(json_object_get(v, "lane")),
			    json_string_value(json_object_get(v, "role")));
			if (k < 4)
				put(o, "poolpair_seed_%s{%s} %lld\n", names[k],
				    labels,
				    (long long)json_integer_value(
					json_object_get(v, keys[k])));
			else
				put(o, "poolpair_seed_%s{%s} %d\n", names[k],
				    labels,
				    json_is_true(json_object_get(v, "active")));
		}
	}
}

static void metrics_data(const struct metrics *m, struct out *o)
{
	const struct metrics_sources *src = m->d.src;
	struct metrics_data dd = {0};
	struct metrics_data *dp = &dd;
	json_t *arr;
	size_t i;
	json_t *v;

	if (!src->ops->data(src->impl, &dd))
		return;
	put(o, "# HELP poolpair_store_writes_total local writes committed "
	       "(ok) or refused\n# TYPE poolpair_store_writes_total counter\n"
	       "poolpair_store_writes_total{result=\"ok\"} %llu\n"
	       "poolpair_store_writes_total{result=\"refused\"} %llu\n",
	    (unsigned long long)dp->writes_ok,
	    (unsigned long long)dp->writes_refused);
	if (dp->store_open)
		put(o,
		    "# HELP poolpair_store_transactions_total write "
		    "transactions committed (group commit)\n"
		    "# TYPE poolpair_store_transactions_total counter\n"
		    "poolpair_store_transactions_total %llu\n"
		    "# HELP poolpair_store_commit_seconds_total time spent in "
		    "COMMIT (fsync)\n"
		    "# TYPE poolpair_store_commit_seconds_total counter\n"
		    "poolpair_store_commit_seconds_total %.6f\n",
		    (unsigned long long)dp->transactions,
		    (double)dp->commit_ns / 1e9);
	if (dp->space_known)
		put(o,
		    "# HELP poolpair_disk_free_bytes bytes free on the "
		    "filesystem of data_dir (the store, the Raft log)\n"
		    "# TYPE poolpair_disk_free_bytes gauge\n"
		    "poolpair_disk_free_bytes %llu\n"
		    "# HELP poolpair_disk_size_bytes size of that filesystem\n"
		    "# TYPE poolpair_disk_size_bytes gauge\n"
		    "poolpair_disk_size_bytes %llu\n"
		    "# HELP poolpair_store_free_bytes free pages inside the "
		    "store file (used before it grows)\n"
		    "# TYPE poolpair_store_free_bytes gauge\n"
		    "poolpair_store_free_bytes %llu\n"
		    "# HELP poolpair_disk_reserve_bytes space kept for "
		    "replication and the Raft log ([store] reserve)\n"
		    "# TYPE poolpair_disk_reserve_bytes gauge\n"
		    "poolpair_disk_reserve_bytes %llu\n"
		    "# HELP poolpair_disk_under_reserve 1 while local writes "
		    "are refused 507 for the reserve\n"
		    "# TYPE poolpair_disk_under_reserve gauge\n"
		    "poolpair_disk_under_reserve %d\n",
		    (unsigned long long)dp->disk_free,
		    (unsigned long long)dp->disk_size,
		    (unsigned long long)dp->store_free,
		    (unsigned long long)dp->reserve, dp->under_reserve ? 1 : 0);
	counter(o, "poolpair_content_incomplete_removed_total",
		"incomplete uploads removed after [content] upload_timeout",
		dp->uploads_removed);
	put(o, "# HELP poolpair_replication_sync 1 in the current replication "
	       "mode (async, sync, fallback)\n"
	       "# TYPE poolpair_replication_sync gauge\n"
	       "poolpair_replication_sync{mode=\"async\"} %d\n"
	       "poolpair_replication_sync{mode=\"sync\"} %d\n"
	       "poolpair_replication_sync{mode=\"fallback\"} %d\n"
	       "# HELP poolpair_replication_sync_fallbacks_total times sync "
	       "mode fell back to async (the pair acknowledged nothing for "
	       "sync_timeout)\n"
	       "# TYPE poolpair_replication_sync_fallbacks_total counter\n"
	       "poolpair_replication_sync_fallbacks_total %llu\n",
	    dp->sync == METRICS_SYNC_OFF, dp->sync == METRICS_SYNC_ON,
	    dp->sync == METRICS_SYNC_FALLBACK,
	    (unsigned long long)dp->sync_fallbacks);
	put(o, "# HELP poolpair_local_sync_fallbacks_total times the writer "
	       "lost its synchronous standby and dropped it\n"
	       "# TYPE poolpair_local_sync_fallbacks_total counter\n"
	       "poolpair_local_sync_fallbacks_total %llu\n"
	       "# HELP poolpair_local_sync_waiting writes waiting for the "
	       "acknowledgement of a local standby\n"
	       "# TYPE poolpair_local_sync_waiting gauge\n"
	       "poolpair_local_sync_waiting %llu\n",
	    (unsigned long long)dp->local_sync_fallbacks,
	    (unsigned long long)dp->local_sync_waiting);
	standby_metrics(o, dd.standbys);
	json_decref(dd.standbys);
	seed_metrics(o, dd.seeds);
	json_decref(dd.seeds);
	ack_metrics(o, dd.acks);
	json_decref(dd.acks);
	arr = dd.streams;
	if (arr == NULL)
		return;
	put(o, "# HELP poolpair_backup_lag_records records not yet "
	       "acknowledged by the pair\n"
	       "# TYPE poolpair_backup_lag_records gauge\n"
	       "# HELP poolpair_backup_lag_bytes bytes not yet acknowledged\n"
	       "# TYPE poolpair_backup_lag_bytes gauge\n"
	       "# HELP poolpair_backup_lag_seconds age of the oldest "
	       "unacknowledged record\n"
	       "# TYPE poolpair_backup_lag_seconds gauge\n"
	       "# HELP poolpair_backup_acked_seq last sequence the pair "
	       "acknowledged\n# TYPE poolpair_backup_acked_seq gauge\n"
	       "# HELP poolpair_backup_head_seq last sequence written\n"
	       "# TYPE poolpair_backup_head_seq gauge\n"
	       "# HELP poolpair_backup_compression_ratio wire bytes / raw "
	       "bytes\n# TYPE poolpair_backup_compression_ratio gauge\n"
	       "# HELP poolpair_backup_records_per_second records shipped "
	       "per second\n"
	       "# TYPE poolpair_backup_records_per_second gauge\n");
	json_array_foreach(arr, i, v)
	{
		char labels[256];

		stream_labels(v, labels, sizeof labels);
		put(o,
		    "poolpair_backup_lag_records{%s} %lld\n"
		    "poolpair_backup_lag_bytes{%s} %lld\n"
		    "poolpair_backup_lag_seconds{%s} %.3f\n"
		    "poolpair_backup_acked_seq{%s} %lld\n"
		    "poolpair_backup_head_seq{%s} %lld\n"
		    "poolpair_backup_compression_ratio{%s} %.4f\n"
		    "poolpair_backup_records_per_second{%s} %.1f\n",
		    labels,
		    (long long)json_integer_value(json_object_get(v, "lag_records")),
		    labels,
		    (long long)json_integer_value(json_object_get(v, "lag_bytes")),
		    labels, json_real_value(json_object_get(v, "lag_seconds")),
		    labels,
		    (long long)json_integer_value(json_object_get(v, "acked_seq")),
		    labels,
		    (long long)json_integer_value(json_object_get(v, "head_seq")),
		    labels,
		    json_real_value(json_object_get(v, "compression_ratio")),
		    labels,
		    json_real_value(json_object_get(v, "records_per_second")));
	}
	json_decref(arr);
}

char *metrics_render(const struct metrics *m, size_t *len)
{
	const struct metrics_sources *src = m->d.src;
	const struct proposer *pr = m->d.proposer;
	const struct fsm *f = m->d.fsm;
	struct metrics_members mm = {0};
	uint64_t taken = 0, restored = 0;
	struct out o = {0};
	const struct raft_configuration *c =
	    src->ops->configuration(src->impl);
	unsigned roles[3] = {0, 0, 0};
	const char *role_names[3] = {"standby", "voter", "spare"};
	uint64_t cum;

	o.cap = 4096;
	o.buf = malloc(o.cap);
	if (o.buf == NULL)
		return NULL;
	o.buf[0] = '\0';

	gauge(&o, "poolpair_raft_term", "current raft term",
	      (double)proposer_term(pr));
	gauge(&o, "poolpair_raft_leader_id",
	      "raft id of the leader this agent knows, 0 when none",
	      (double)proposer_leader(pr, NULL));
	gauge(&o, "poolpair_raft_is_leader", "1 when this agent leads",
	      proposer_is_leader(pr) ? 1 : 0);
	gauge(&o, "poolpair_raft_commit_index", "raft commit index",
	      (double)proposer_commit_index(pr));
	gauge(&o, "poolpair_raft_applied_index", "raft last applied index",
	      (double)proposer_applied_index(pr));
	gauge(&o, "poolpair_raft_last_index", "raft last log index",
	      (double)src->ops->last_index(src->impl));
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].role >= 0 && c->servers[i].role < 3)
			roles[c->servers[i].role]++;
	put(&o, "# HELP poolpair_raft_members members of the raft "
		"configuration by role\n# TYPE poolpair_raft_members gauge\n");
	for (int r = 0; r < 3; r++)
		put(&o, "poolpair_raft_members{role=\"%s\"} %u\n",
		    role_names[r], roles[r]);
	put(&o, "# HELP poolpair_member_reachable 1 when the leader hears "
		"from the member (only on the leader)\n"
		"# TYPE poolpair_member_reachable gauge\n");
	for (unsigned i = 0; i < c->n; i++) {
		int reach = src->ops->reachable(src->impl, c->servers[i].id);

		if (reach >= 0)
			put(&o, "poolpair_member_reachable{id=\"%llu\"} %d\n",
			    (unsigned long long)c->servers[i].id, reach);
	}
	src->ops->members(src->impl, &mm);
	lease_metrics(m, &mm, &o);
	if (src->ops->election_timeout != NULL)
		put(&o,
		    "# HELP poolpair_raft_election_timeout_seconds the Raft "
		    "election timeout in effect, scaled to the round trip\n"
		    "# TYPE poolpair_raft_election_timeout_seconds gauge\n"
		    "poolpair_raft_election_timeout_seconds %.3f\n",
		    src->ops->election_timeout(src->impl) / 1000.0);
	src->ops->snapshots(src->impl, &taken, &restored);
	put(&o, "# HELP poolpair_raft_snapshots_total snapshots taken and "
		"restored\n# TYPE poolpair_raft_snapshots_total counter\n"
		"poolpair_raft_snapshots_total{op=\"taken\"} %llu\n"
		"poolpair_raft_snapshots_total{op=\"restored\"} %llu\n",
	    (unsigned long long)taken, (unsigned long long)restored);

	counter(&o, "poolpair_fsm_decisions_total",
		"decisions applied to the state machine (history sequence)",
		f->decisions);
	put(&o, "# HELP poolpair_api_decisions_total outcomes of decisions "
		"proposed through this agent\n"
		"# TYPE poolpair_api_decisions_total counter\n"
		"poolpair_api_decisions_total{result=\"ok\"} %llu\n"
		"poolpair_api_decisions_total{result=\"refused\"} %llu\n"
		"poolpair_api_decisions_total{result=\"unknown\"} %llu\n",
	    (unsigned long long)m->decisions_ok,
	    (unsigned long long)m->decisions_refused,
	    (unsigned long long)m->decisions_unknown);
	gauge(&o, "poolpair_pools", "pools defined", f->n_pools);
	gauge(&o, "poolpair_sites", "sites defined", f->n_sites);
	gauge(&o, "poolpair_sbas", "SBAs defined", f->n_sbas);
	put(&o, "# HELP poolpair_pool_epoch epoch of each pool's user set\n"
		"# TYPE poolpair_pool_epoch gauge\n");
	for (unsigned i = 0; i < f->n_pools; i++)
		put(&o, "poolpair_pool_epoch{pool=\"%s\",owner=\"%s\"} %llu\n",
		    f->pools[i].name, f->pools[i].owner,
		    (unsigned long long)f->pools[i].epoch);
	put(&o, "# HELP poolpair_pool_writer member id of each pool's writer "
		"(0: none)\n"
		"# TYPE poolpair_pool_writer gauge\n");
	for (unsigned i = 0; i < f->n_pools; i++)
		put(&o, "poolpair_pool_writer{pool=\"%s\"} %llu\n",
		    f->pools[i].name, (unsigned long long)f->pools[i].writer);
	put(&o, "# HELP poolpair_pool_writer_token fencing token of each "
		"pool's writer, raised by every change of writer\n"
		"# TYPE poolpair_pool_writer_token gauge\n");
	for (unsigned i = 0; i < f->n_pools; i++)
		put(&o, "poolpair_pool_writer_token{pool=\"%s\"} %llu\n",
		    f->pools[i].name,
		    (unsigned long long)f->pools[i].writer_token);
	put(&o, "# HELP poolpair_pool_sync_standby member id of each pool's "
		"synchronous standby (0: none)\n"
		"# TYPE poolpair_pool_sync_standby gauge\n");
	for (unsigned i = 0; i < f->n_pools; i++)
		put(&o, "poolpair_pool_sync_standby{pool=\"%s\"} %llu\n",
		    f->pools[i].name,
		    (unsigned long long)f->pools[i].sync_standby);

	put(&o, "# HELP poolpair_api_requests_total API requests by method "
		"and status class\n"
		"# TYPE poolpair_api_requests_total counter\n");
	for (int i = 0; i < METRICS_METHODS; i++)
		for (int k = 0; k < METRICS_CLASSES; k++)
			if (m->requests[i][k] > 0)
				put(&o,
				    "poolpair_api_requests_total{method=\"%s\","
				    "code=\"%s\"} %llu\n",
				    method_names[i], class_names[k],
				    (unsigned long long)m->requests[i][k]);
	counter(&o, "poolpair_api_redirects_total",
		"writes sent to the leader with 307",
		src->ops->redirects(src->impl));
	{
		struct metrics_connections mc;

		memset(&mc, 0, sizeof mc);
		src->ops->connections(src->impl, &mc);
		put(&o,
		    "# HELP poolpair_api_connections_refused_total API "
		    "connections refused (limit: all connections; address: "
		    "too many not authenticated from one address) or closed "
		    "before authentication to make room (evicted)\n"
		    "# TYPE poolpair_api_connections_refused_total counter\n"
		    "poolpair_api_connections_refused_total{reason=\"limit\"} "
		    "%llu\n"
		    "poolpair_api_connections_refused_total{reason=\"address\"} "
		    "%llu\n"
		    "poolpair_api_connections_refused_total{reason=\"evicted\"} "
		    "%llu\n",
		    (unsigned long long)mc.refused_limit,
		    (unsigned long long)mc.refused_address,
		    (unsigned long long)mc.evicted);
		put(&o,
		    "# HELP poolpair_api_timeouts_total API connections closed "
		    "at a deadline: TLS handshake, request headers (408), "
		    "body rate (408)\n"
		    "# TYPE poolpair_api_timeouts_total counter\n"
		    "poolpair_api_timeouts_total{phase=\"handshake\"} %llu\n"
		    "poolpair_api_timeouts_total{phase=\"head\"} %llu\n"
		    "poolpair_api_timeouts_total{phase=\"body\"} %llu\n",
		    (unsigned long long)mc.timeouts_handshake,
		    (unsigned long long)mc.timeouts_head,
		    (unsigned long long)mc.timeouts_body);
	}
	put(&o, "# HELP poolpair_api_request_duration_seconds API request "
		"latency\n"
		"# TYPE poolpair_api_request_duration_seconds histogram\n");
	cum = 0;
	for (int i = 0; i < METRICS_BUCKETS; i++) {
		cum = m->latency_buckets[i];
		put(&o,
		    "poolpair_api_request_duration_seconds_bucket{le=\"%g\"} "
		    "%llu\n",
		    bucket_le[i], (unsigned long long)cum);
	}
	put(&o,
	    "poolpair_api_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "poolpair_api_request_duration_seconds_sum %.9f\n"
	    "poolpair_api_request_duration_seconds_count %llu\n",
	    (unsigned long long)m->latency_count, m->latency_sum,
	    (unsigned long long)m->latency_count);
	put(&o, "# HELP poolpair_heartbeats_total heartbeats sent to the "
		"leader\n# TYPE poolpair_heartbeats_total counter\n"
		"poolpair_heartbeats_total{result=\"sent\"} %llu\n"
		"poolpair_heartbeats_total{result=\"failed\"} %llu\n",
	    (unsigned long long)mm.heartbeats_sent,
	    (unsigned long long)mm.heartbeats_failed);
	metrics_data(m, &o);
	gauge(&o, "poolpair_uptime_seconds", "seconds since the agent started",
	      (double)(clock_mono_ns(m->d.clock) - m->d.started_ns) / 1e9);

	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
