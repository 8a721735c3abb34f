/* members_report: the wire form of what an agent reports with its
 * heartbeat and to the other agents (see members.h): this agent's report
 * as JSON (members_report_json) and a heartbeat body read back into a
 * struct members_heartbeat (members_heartbeat_parse), each part checked.
 * Pure: no I/O, no state of its own beyond the members module it reads. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/members.h"
#include "agent/members_internal.h"

/* The JSON of a set report: the keys of seeding only while it seeds and
 * extended (an agent of an earlier version refuses them). */
static json_t *set_json(const struct members_set_report *r, bool extended)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:b}", "user_set",
			      r->user_set, "lag_records",
			      (json_int_t)r->lag_records, "lag_bytes",
			      (json_int_t)r->lag_bytes, "lag_ms",
			      (json_int_t)r->lag_ms, "drained", r->drained);

	if (o != NULL && extended && r->seeding) {
		json_object_set_new(o, "seeding", json_true());
		json_object_set_new(o, "seed_items",
				    json_integer((json_int_t)r->seed_items));
		json_object_set_new(
		    o, "seed_items_total",
		    json_integer((json_int_t)r->seed_items_total));
	}
	return o;
}

static json_t *seed_json(const struct members_seed_report *r)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, "
			 "s:I}",
			 "user_set", r->user_set, "lane",
			 r->lane == 1 ? "content" : "data", "role",
			 r->receiver ? "receiver" : "sender", "from_seq",
			 (json_int_t)r->from_seq, "items",
			 (json_int_t)r->items, "items_total",
			 (json_int_t)r->items_total, "bytes",
			 (json_int_t)r->bytes, "bytes_total",
			 (json_int_t)r->bytes_total, "rate_items_s",
			 r->rate_items_s, "rate_bytes_s", r->rate_bytes_s,
			 "eta_s", (json_int_t)r->eta_s);

	if (o != NULL && r->ended &&
	    json_object_set_new(o, "ended", json_true()) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *copy_json(const struct members_copy_report *r)
{
	return json_pack("{s:s, s:s, s:I}", "user_set", r->user_set, "lane",
			 r->lane == 1 ? "content" : "data", "head_seq",
			 (json_int_t)r->head_seq);
}

static json_t *standby_json(const struct members_standby_report *r)
{
	return json_pack("{s:I, s:s, s:{s:I, s:I}, s:I, s:I}", "id",
			 (json_int_t)r->id, "state", r->state, "acked", "data",
			 (json_int_t)r->acked[0], "content",
			 (json_int_t)r->acked[1], "lag_records",
			 (json_int_t)r->lag_records, "lag_ms",
			 (json_int_t)r->lag_ms);
}

/* Append n items made by fn to root's array key (none: no key). 0 or -1
 * (out of memory). */
static int add_array(json_t *root, const char *key, const void *v,
		     size_t size, unsigned n, json_t *(*fn)(const void *))
{
	json_t *arr;

	if (n == 0)
		return 0;
	arr = json_array();
	for (unsigned i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, fn((const char *)v + i * size)) !=
		    0) {
			json_decref(arr);
			arr = NULL;
		}
	return arr != NULL && json_object_set_new(root, key, arr) == 0 ? 0
								      : -1;
}

static json_t *copy_json_v(const void *r) { return copy_json(r); }

static json_t *standby_json_v(const void *r) { return standby_json(r); }

static json_t *seed_json_v(const void *r);

json_t *members_report_json(struct members *m, bool extended,
			    bool *has_seeds)
{
	const struct members_host *h = m->d.host;
	struct members_set_report sets[MEMBERS_SETS];
	unsigned n = h->ops->set_reports(h->impl, sets, MEMBERS_SETS);
	struct members_stream_report streams[MEMBERS_STREAMS];
	unsigned k = h->ops->stream_reports(h->impl, streams, MEMBERS_STREAMS);
	struct members_seed_report seeds[MEMBERS_SEEDS];
	unsigned ns = h->ops->seed_reports(h->impl, seeds, MEMBERS_SEEDS);
	struct members_copy_report copies[MEMBERS_COPIES];
	unsigned nc = h->ops->copy_reports(h->impl, copies, MEMBERS_COPIES);
	struct members_standby_report sbs[MEMBERS_STANDBYS];
	unsigned nb = h->ops->standby_reports(h->impl, sbs, MEMBERS_STANDBYS);
	json_t *arr, *sarr, *root;

	/* the keys an earlier version refuses: seeds, copies, standbys */
	*has_seeds = ns > 0 || nc > 0 || nb > 0;
	for (unsigned i = 0; i < n; i++)
		if (sets[i].seeding)
			*has_seeds = true;
	arr = json_array();
	for (unsigned i = 0; arr != NULL && i < n; i++)
		json_array_append_new(arr, set_json(&sets[i], extended));
	sarr = json_array();
	for (unsigned i = 0; sarr != NULL && i < k; i++)
		json_array_append_new(
		    sarr,
		    json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
			      "user_set", streams[i].user_set, "category",
			      streams[i].category, "state", streams[i].state,
			      "head_seq", (json_int_t)streams[i].head_seq,
			      "acked_seq", (json_int_t)streams[i].acked_seq,
			      "lag_records", (json_int_t)streams[i].lag_records,
			      "lag_bytes", (json_int_t)streams[i].lag_bytes,
			      "lag_ms", (json_int_t)streams[i].lag_ms));
	root = json_pack("{s:I, s:I, s:o, s:o, s:b}", "id",
			 (json_int_t)m->d.cfg.self.id, "applied",
			 (json_int_t)proposer_applied_index(m->d.proposer),
			 "sets", arr, "streams", sarr, "lease",
			 members_lease_valid(m));
	if (root != NULL && extended &&
	    (add_array(root, "seeds", seeds, sizeof *seeds, ns, seed_json_v) !=
		 0 ||
	     add_array(root, "copies", copies, sizeof *copies, nc,
		       copy_json_v) != 0 ||
	     add_array(root, "standbys", sbs, sizeof *sbs, nb,
		       standby_json_v) != 0)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static json_t *seed_json_v(const void *r) { return seed_json(r); }

/* ---- the receiver's side ---- */

static int parse_set(json_t *v, struct members_set_report *rep)
{
	json_error_t jerr;
	const char *us;
	json_int_t lr, lb, lms, si = 0, st = 0;
	int drained, seeding = 0;

	/* seeding and its figures: optional (an earlier version sends none) */
	if (json_unpack_ex(v, &jerr, JSON_STRICT,
			   "{s:s, s:I, s:I, s:I, s:b, s?b, s?I, s?I}",
			   "user_set", &us, "lag_records", &lr, "lag_bytes",
			   &lb, "lag_ms", &lms, "drained", &drained, "seeding",
			   &seeding, "seed_items", &si, "seed_items_total",
			   &st) != 0 ||
	    lr < 0 || lb < 0 || lms < 0 || si < 0 || st < 0 ||
	    strlen(us) >= sizeof rep->user_set)
		return -1;
	snprintf(rep->user_set, sizeof rep->user_set, "%s", us);
	rep->lag_records = (uint64_t)lr;
	rep->lag_bytes = (uint64_t)lb;
	rep->lag_ms = (uint64_t)lms;
	rep->drained = drained != 0;
	rep->seeding = seeding != 0;
	rep->seed_items = (uint64_t)si;
	rep->seed_items_total = (uint64_t)st;
	return 0;
}

static int parse_seed(json_t *v, struct members_seed_report *sr)
{
	json_error_t jerr;
	const char *us, *lane, *role;
	json_int_t from = 0, items, items_total, bytes, bytes_total, eta;
	double ri, rb;
	int ended = 0;

	if (json_unpack_ex(v, &jerr, JSON_STRICT,
			   "{s:s, s:s, s:s, s?I, s:I, s:I, s:I, s:I, s:F, s:F, "
			   "s:I, s?b}",
			   "user_set", &us, "lane", &lane, "role", &role,
			   "from_seq", &from, "items", &items, "items_total", &items_total,
			   "bytes", &bytes, "bytes_total", &bytes_total,
			   "rate_items_s", &ri, "rate_bytes_s", &rb, "eta_s",
			   &eta, "ended", &ended) != 0 ||
	    from < 0 || items < 0 || items_total < 0 || bytes < 0 ||
	    bytes_total < 0 ||
	    !(ri >= 0) || !(rb >= 0) || eta < -1 ||
	    strlen(us) >= sizeof sr->user_set ||
	    (strcmp(lane, "data") != 0 && strcmp(lane, "content") != 0) ||
	    (strcmp(role, "sender") != 0 && strcmp(role, "receiver") != 0))
		return -1;
	snprintf(sr->user_set, sizeof sr->user_set, "%s", us);
	sr->lane = strcmp(lane, "content") == 0;
	sr->receiver = strcmp(role, "receiver") == 0;
	sr->from_seq = (uint64_t)from;
	sr->items = (uint64_t)items;
	sr->items_total = (uint64_t)items_total;
	sr->bytes = (uint64_t)bytes;
	sr->bytes_total = (uint64_t)bytes_total;
	sr->rate_items_s = ri;
	sr->rate_bytes_s = rb;
	sr->eta_s = (int64_t)eta;
	sr->ended = ended != 0;
	return 0;
}

static int parse_stream(json_t *v, struct members_stream_report *st)
{
	json_error_t jerr;
	const char *us, *cat, *state;
	json_int_t head, acked, lr, lb, lms;

	if (json_unpack_ex(v, &jerr, JSON_STRICT,
			   "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
			   "user_set", &us, "category", &cat, "state", &state,
			   "head_seq", &head, "acked_seq", &acked,
			   "lag_records", &lr, "lag_bytes", &lb, "lag_ms",
			   &lms) != 0 ||
	    head < 0 || acked < 0 || lr < 0 || lb < 0 || lms < 0 ||
	    strlen(us) >= sizeof st->user_set ||
	    strlen(cat) >= sizeof st->category ||
	    strlen(state) >= sizeof st->state)
		return -1;
	snprintf(st->user_set, sizeof st->user_set, "%s", us);
	snprintf(st->category, sizeof st->category, "%s", cat);
	snprintf(st->state, sizeof st->state, "%s", state);
	st->head_seq = (uint64_t)head;
	st->acked_seq = (uint64_t)acked;
	st->lag_records = (uint64_t)lr;
	st->lag_bytes = (uint64_t)lb;
	st->lag_ms = (uint64_t)lms;
	return 0;
}

static int parse_copy(json_t *v, struct members_copy_report *c)
{
	json_error_t jerr;
	const char *us, *lane;
	json_int_t head;

	if (json_unpack_ex(v, &jerr, JSON_STRICT, "{s:s, s:s, s:I}",
			   "user_set", &us, "lane", &lane, "head_seq",
			   &head) != 0 ||
	    head < 0 || strlen(us) >= sizeof c->user_set ||
	    (strcmp(lane, "data") != 0 && strcmp(lane, "content") != 0))
		return -1;
	snprintf(c->user_set, sizeof c->user_set, "%s", us);
	c->lane = strcmp(lane, "content") == 0;
	c->head_seq = (uint64_t)head;
	return 0;
}

static int parse_standby(json_t *v, struct members_standby_report *b)
{
	json_error_t jerr;
	const char *state;
	json_int_t id, data, content, lr, lms;

	if (json_unpack_ex(v, &jerr, JSON_STRICT,
			   "{s:I, s:s, s:{s:I, s:I}, s:I, s:I}", "id", &id,
			   "state", &state, "acked", "data", &data, "content",
			   &content, "lag_records", &lr, "lag_ms", &lms) != 0 ||
	    id <= 0 || data < 0 || content < 0 || lr < 0 || lms < 0 ||
	    strlen(state) >= sizeof b->state)
		return -1;
	b->id = (uint64_t)id;
	snprintf(b->state, sizeof b->state, "%s", state);
	b->acked[0] = (uint64_t)data;
	b->acked[1] = (uint64_t)content;
	b->lag_records = (uint64_t)lr;
	b->lag_ms = (uint64_t)lms;
	return 0;
}

int members_heartbeat_parse(const char *body, size_t len,
			    struct members_heartbeat *hb)
{
	json_error_t jerr;
	json_t *root, *sets = NULL, *streams = NULL, *echo = NULL, *v;
	json_t *regime = NULL;
	json_int_t rterm = 0, rage = 0;
	json_t *seeds = NULL, *copies = NULL, *standbys = NULL, *rtt = NULL;
	json_int_t id = 0, applied = 0, eclock = 0, eterm = 0, eleader = 0;
	json_int_t srtt = 0, rttvar = 0;
	struct members_report *r = &hb->report;
	int lease = -1;
	size_t i;

	memset(hb, 0, sizeof *hb);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL ||
	    json_unpack_ex(root, &jerr, JSON_STRICT,
			   "{s:I, s:I, s?o, s?o, s?b, s?o, s?o, s?o, s?o, s?o, s?o}",
			   "id", &id, "applied", &applied, "sets", &sets,
			   "streams", &streams, "lease", &lease, "echo", &echo,
			   "seeds", &seeds, "copies", &copies, "standbys",
			   &standbys, "regime", &regime, "rtt", &rtt) != 0 ||
	    id <= 0 || applied < 0 || (sets != NULL && !json_is_array(sets)) ||
	    (streams != NULL && !json_is_array(streams)) ||
	    (seeds != NULL && !json_is_array(seeds)) ||
	    (copies != NULL && !json_is_array(copies)) ||
	    (standbys != NULL && !json_is_array(standbys)))
		goto bad;
	/* the echo of the leader's clock (optional: older agents send none) */
	if (echo != NULL &&
	    (json_unpack_ex(echo, &jerr, JSON_STRICT, "{s:I, s:I, s:I}",
			    "clock_ms", &eclock, "term", &eterm, "leader",
			    &eleader) != 0 ||
	     eclock <= 0 || eterm <= 0 || eleader <= 0))
		goto bad;
	/* the regime report (optional: older agents send none, and send it
	 * only to a leader whose answers ask for it) */
	if (regime != NULL &&
	    (json_unpack_ex(regime, &jerr, JSON_STRICT, "{s:I, s:I}", "term",
			    &rterm, "age_ms", &rage) != 0 ||
	     rterm <= 0 || rage < 0))
		goto bad;
	/* the heartbeats' round trip (optional: older agents send none) */
	if (rtt != NULL &&
	    (json_unpack_ex(rtt, &jerr, JSON_STRICT, "{s:I, s:I}", "srtt_us",
			    &srtt, "rttvar_us", &rttvar) != 0 ||
	     srtt <= 0 || rttvar < 0))
		goto bad;
	if (rtt != NULL) {
		hb->has_rtt = true;
		hb->srtt_us = (uint64_t)srtt;
		hb->rttvar_us = (uint64_t)rttvar;
	}
	hb->id = (uint64_t)id;
	r->applied = (uint64_t)applied;
	r->lease = lease;
	json_array_foreach (sets, i, v) {
		if (r->n_sets == MEMBERS_SETS)
			break;
		if (parse_set(v, &r->sets[r->n_sets]) != 0)
			goto bad;
		r->n_sets++;
	}
	json_array_foreach (streams, i, v) {
		if (r->n_streams == MEMBERS_STREAMS)
			break;
		if (parse_stream(v, &r->streams[r->n_streams]) != 0)
			goto bad;
		r->n_streams++;
	}
	/* the seeds (optional: an earlier version sends none) */
	json_array_foreach (seeds, i, v) {
		if (r->n_seeds == MEMBERS_SEEDS)
			break;
		if (parse_seed(v, &r->seeds[r->n_seeds]) != 0)
			goto bad;
		r->n_seeds++;
	}
	/* a standby's copy, a writer's standbys (optional: an earlier
	 * version sends none) */
	json_array_foreach (copies, i, v) {
		if (r->n_copies == MEMBERS_COPIES)
			break;
		if (parse_copy(v, &r->copies[r->n_copies]) != 0)
			goto bad;
		r->n_copies++;
	}
	json_array_foreach (standbys, i, v) {
		if (r->n_standbys == MEMBERS_STANDBYS)
			break;
		if (parse_standby(v, &r->standbys[r->n_standbys]) != 0)
			goto bad;
		r->n_standbys++;
	}
	if (echo != NULL) {
		hb->has_echo = true;
		hb->echo.clock_ms = (uint64_t)eclock;
		hb->echo.term = (uint64_t)eterm;
		hb->echo.leader = (uint64_t)eleader;
	}
	if (regime != NULL) {
		hb->has_regime = true;
		hb->regime_term = (uint64_t)rterm;
		hb->regime_age_ms = (uint64_t)rage;
	}
	json_decref(root);
	return 0;
bad:
	json_decref(root);
	memset(hb, 0, sizeof *hb);
	return -1;
}
