/* dataplane_seed: the seeds of this agent's streams as an operator
 * follows them (see dataplane.h): the sender's seeds of the pair's copy
 * and the receiver's seeds of this agent's copy, sampled into a
 * seedwatch (agent/seedwatch.h) for the rates, the log lines, status,
 * the metrics and the reports to the other agents. */
#include <stdio.h>
#include <string.h>

#include "agent/dataplane_internal.h"
#include "agent/log.h"
#include "agent/members.h"

#define MOD DATAPLANE_MOD_REPL
#define SEED_SAMPLE_MS 50 /* the sync timer ticks every 100 ms */

static void seed_log(int ev, const char *line)
{
	if (ev == SEEDWATCH_CUT)
		LOG_WARN(MOD, "%s", line);
	else if (ev != SEEDWATCH_NONE)
		LOG_INFO(MOD, "%s", line);
}

static void sample(struct dataplane *dp, const struct seedwatch_sample *x,
		   uint64_t now, bool *seen)
{
	char line[320];
	int ev = seedwatch_sample(&dp->seeds, x, now, line, sizeof line);

	seed_log(ev, line);
	for (unsigned i = 0; i < dp->seeds.n; i++) {
		const struct seedwatch_stream *st = &dp->seeds.v[i];

		if (st->role == x->role && st->lane == x->lane &&
		    strcmp(st->user_set, x->user_set) == 0)
			seen[i] = true;
	}
}

void dataplane_seeds_tick(struct dataplane *dp)
{
	uint64_t now = clock_mono_ns(dp->deps.clock) / 1000000;
	bool seen[SEEDWATCH_MAX] = {false};
	size_t n = dp->sender != NULL ? sender_stream_count(dp->sender) : 0;

	if (dp->seeds_ms != 0 && now - dp->seeds_ms < SEED_SAMPLE_MS)
		return;
	dp->seeds_ms = now;
	for (size_t i = 0; i < n; i++) {
		struct sender_stats st;
		struct seedwatch_sample x;

		if (sender_stats_at(dp->sender, i, &st) != 0)
			continue;
		x = (struct seedwatch_sample){
		    .role = SEEDWATCH_SENDER,
		    .user_set = st.user_set,
		    .lane = st.lane,
		    .peer = dp->pair,
		    .active = st.seeding,
		    .from_seq = st.seed_from_seq,
		    .items = st.seed_items,
		    .items_total = st.seed_items_total,
		    .bytes = st.seed_bytes,
		    .bytes_total = st.seed_bytes_total,
		    .done = st.seeds_done,
		};
		sample(dp, &x, now, seen);
		/* connected without a seed: a cut one needs no more */
		if (!st.seeding && st.state == SENDER_STREAMING)
			seedwatch_settled(&dp->seeds, SEEDWATCH_SENDER,
					  st.user_set, st.lane);
	}
	if (dp->receiver != NULL) {
		struct receiver_seed rs[SEEDWATCH_MAX];
		size_t k = receiver_seeds(dp->receiver, rs, SEEDWATCH_MAX);

		if (k > SEEDWATCH_MAX)
			k = SEEDWATCH_MAX;
		for (size_t i = 0; i < k; i++) {
			struct seedwatch_sample x = {
			    .role = SEEDWATCH_RECEIVER,
			    .user_set = rs[i].user_set,
			    .lane = rs[i].lane,
			    .peer = dp->pair,
			    .active = rs[i].active,
			    .from_seq = rs[i].from_seq,
			    .items = rs[i].items,
			    .items_total = rs[i].items_total,
			    .bytes = rs[i].bytes,
			    .bytes_total = rs[i].bytes_total,
			};

			sample(dp, &x, now, seen);
		}
	}
	/* a seed whose stream is gone (the sender or receiver closed, the
	 * user set no longer sent) stopped where it was, and nothing of this
	 * agent waits for it any more (a sender made anew resumes it at its
	 * handshake) */
	for (unsigned i = 0; i < dp->seeds.n; i++) {
		struct seedwatch_stream *st = &dp->seeds.v[i];
		char user_set[SEEDWATCH_NAME_LEN], peer[SEEDWATCH_NAME_LEN];
		struct seedwatch_sample x;
		char line[320];

		if (seen[i] || (!st->active && !st->unfinished))
			continue;
		/* the sample must not point into the stream it updates */
		snprintf(user_set, sizeof user_set, "%s", st->user_set);
		snprintf(peer, sizeof peer, "%s", st->peer);
		x = (struct seedwatch_sample){
		    .role = st->role,
		    .user_set = user_set,
		    .lane = st->lane,
		    .peer = peer,
		    .active = false,
		    .from_seq = st->from_seq,
		    .items = st->items,
		    .items_total = st->items_total,
		    .bytes = st->bytes,
		    .bytes_total = st->bytes_total,
		    .done = st->done,
		    .gone = true,
		};
		seed_log(
		    seedwatch_sample(&dp->seeds, &x, now, line, sizeof line),
		    line);
		seedwatch_settled(&dp->seeds, x.role, user_set, x.lane);
	}
}

void dataplane_seed_lag(struct sender_stats *st)
{
	uint64_t left;

	if (!st->seeding)
		return;
	left = seedwatch_remaining(true, st->seed_items, st->seed_items_total);
	if (st->lag_records < left)
		st->lag_records = left;
	left = st->seed_bytes_total > st->seed_bytes
		   ? st->seed_bytes_total - st->seed_bytes
		   : 0;
	if (st->lag_bytes < left)
		st->lag_bytes = left;
}

void dataplane_seed_unfinished(struct dataplane *dp, struct sender_stats *st)
{
	const struct seedwatch_stream *w;

	if (st->seeding)
		return;
	w = seedwatch_find(&dp->seeds, SEEDWATCH_SENDER, st->user_set,
			   st->lane);
	if (w == NULL || !w->unfinished)
		return;
	st->seeding = true;
	st->seed_from_seq = w->from_seq;
	st->seed_items = w->items;
	st->seed_items_total = w->items_total;
	st->seed_bytes = w->bytes;
	st->seed_bytes_total = w->bytes_total;
}

bool dataplane_sender_seeding(struct dataplane *dp)
{
	size_t n = dp->sender != NULL ? sender_stream_count(dp->sender) : 0;

	for (size_t i = 0; i < n; i++) {
		struct sender_stats st;

		if (sender_stats_at(dp->sender, i, &st) != 0)
			continue;
		dataplane_seed_unfinished(dp, &st);
		if (st.seeding)
			return true;
	}
	return false;
}

json_t *dataplane_seed_rows(struct dataplane *dp)
{
	json_t *arr = json_array();

	for (unsigned i = 0; arr != NULL && i < dp->seeds.n; i++)
		json_array_append_new(arr, seedwatch_json(&dp->seeds.v[i]));
	return arr;
}

json_t *dataplane_seeds_status(struct dataplane *dp)
{
	if (dp->state == DP_NONE)
		return json_null();
	return json_pack("{s:b, s:o}", "rebuilding",
			 seedwatch_active(&dp->seeds), "streams",
			 dataplane_seed_rows(dp));
}

unsigned dataplane_seed_reports(struct dataplane *dp,
				struct members_seed_report *out, unsigned max)
{
	unsigned k = 0;

	/* the running (or cut) ones first, then those that ended */
	for (unsigned i = 0; i < 2 * dp->seeds.n && k < max; i++) {
		const struct seedwatch_stream *st =
		    &dp->seeds.v[i % dp->seeds.n];
		struct members_seed_report *r = &out[k];
		bool ended = !st->active && !st->unfinished && !st->cut &&
			     st->ended_ms != 0;

		if (i < dp->seeds.n ? !st->active && !st->unfinished : !ended)
			continue;
		memset(r, 0, sizeof *r);
		snprintf(r->user_set, sizeof r->user_set, "%s", st->user_set);
		r->lane = st->lane;
		r->receiver = st->role == SEEDWATCH_RECEIVER;
		r->from_seq = st->from_seq;
		r->items = st->items;
		r->items_total = st->items_total;
		r->bytes = st->bytes;
		r->bytes_total = st->bytes_total;
		seedwatch_rate(st, &r->rate_items_s, &r->rate_bytes_s);
		r->eta_s = seedwatch_eta_s(st->items, st->items_total,
					   st->bytes, st->bytes_total,
					   r->rate_items_s, r->rate_bytes_s);
		r->ended = ended;
		k++;
	}
	return k;
}
