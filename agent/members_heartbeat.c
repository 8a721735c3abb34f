/* members_heartbeat: heartbeats and reports (see members.h). Every agent
 * but the leader sends the leader a heartbeat each tick, answered with a
 * lease and the leader's clock; every pool agent sends the same report to
 * every other agent, so whichever becomes leader knows every pool's last
 * lag. This file also keeps what was heard of the others. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/caller.h"
#include "agent/hclient.h"
#include "agent/http.h"
#include "agent/log.h"
#include "agent/members.h"
#include "agent/members_internal.h"

#define MOD "members"
#define MS MEMBERS_MS

/* ---- what was heard ---- */

/* Whether id is a member: registered in the applied state, or in the
 * Raft configuration (added, not registered yet). */
static bool member_known(struct members *m, uint64_t id)
{
	const struct raft_configuration *c =
	    m->d.raft->ops->configuration(m->d.raft->impl);

	if (fsm_member_find(m->d.fsm, id) != NULL)
		return true;
	for (unsigned i = 0; c != NULL && i < c->n; i++)
		if (c->servers[i].id == id)
			return true;
	return false;
}

/* The slot of id; create: a new one when there is none, only for a member
 * (a heartbeat or report naming any other id is not kept, so made-up ids
 * never fill the table), taking the slot of one that is no longer a
 * member when the table is full. */
static struct members_seen *seen_slot(struct members *m, uint64_t id,
				      bool create)
{
	unsigned i;

	for (i = 0; i < m->n_seen; i++)
		if (m->seen[i].id == id)
			return &m->seen[i];
	if (!create || !member_known(m, id))
		return NULL;
	if (m->n_seen < FSM_MAX_MEMBERS) {
		i = m->n_seen++;
	} else {
		for (i = 0; i < m->n_seen; i++)
			if (!member_known(m, m->seen[i].id))
				break;
		if (i == m->n_seen)
			return NULL;
	}
	memset(&m->seen[i], 0, sizeof m->seen[i]);
	m->seen[i].id = id;
	m->seen[i].lease = -1;
	return &m->seen[i];
}

void members_heartbeat_seen(struct members *m, uint64_t id,
			    const struct members_report *r)
{
	struct members_seen *s = seen_slot(m, id, true);
	unsigned n = r->n_sets < MEMBERS_SETS ? r->n_sets : MEMBERS_SETS;
	unsigned k = r->n_streams < MEMBERS_STREAMS ? r->n_streams
						     : MEMBERS_STREAMS;

	if (s == NULL)
		return;
	s->last_ns = members_now_ns(m);
	s->applied = r->applied;
	memcpy(s->sets, r->sets, n * sizeof *r->sets);
	s->n_sets = n;
	memcpy(s->streams, r->streams, k * sizeof *r->streams);
	s->n_streams = k;
	k = r->n_seeds < MEMBERS_SEEDS ? r->n_seeds : MEMBERS_SEEDS;
	memcpy(s->seeds, r->seeds, k * sizeof *r->seeds);
	s->n_seeds = k;
	k = r->n_copies < MEMBERS_COPIES ? r->n_copies : MEMBERS_COPIES;
	memcpy(s->copies, r->copies, k * sizeof *r->copies);
	s->n_copies = k;
	k = r->n_standbys < MEMBERS_STANDBYS ? r->n_standbys
					     : MEMBERS_STANDBYS;
	memcpy(s->standbys, r->standbys, k * sizeof *r->standbys);
	s->n_standbys = k;
	s->lease = r->lease;
}

bool members_copy_position(struct members *m, uint64_t id,
			   const char *user_set, int lane, uint64_t *seq)
{
	struct members_copy_report own[MEMBERS_COPIES];
	const struct members_copy_report *r;
	const struct members_seen *s;
	unsigned n;

	if (id == m->d.cfg.self.id) {
		n = m->d.host->ops->copy_reports(m->d.host->impl, own,
						 MEMBERS_COPIES);
		r = own;
	} else {
		s = seen_slot(m, id, false);
		if (s == NULL)
			return false;
		n = s->n_copies;
		r = s->copies;
	}
	for (unsigned i = 0; i < n; i++)
		if (r[i].lane == lane && strcmp(r[i].user_set, user_set) == 0) {
			*seq = r[i].head_seq;
			return true;
		}
	return false;
}

const struct members_standby_report *
members_standby_figures(struct members *m, const char *pool,
			uint64_t standby_id, uint64_t max_age_ms,
			uint64_t *age_ms)
{
	const struct fsm_member *w = fsm_pool_writer(m->d.fsm, pool);
	const struct members_standby_report *r;
	struct members_seen *s;
	uint64_t now = members_now_ns(m);
	unsigned n;

	if (w == NULL)
		return NULL;
	if (w->id == m->d.cfg.self.id) {
		/* this agent writes the pool: its live figures */
		n = m->d.host->ops->standby_reports(
		    m->d.host->impl, m->self_standbys, MEMBERS_STANDBYS);
		r = m->self_standbys;
		if (age_ms != NULL)
			*age_ms = 0;
	} else {
		s = seen_slot(m, w->id, false);
		if (s == NULL || s->last_ns == 0 ||
		    (now - s->last_ns) / MS > max_age_ms)
			return NULL;
		n = s->n_standbys;
		r = s->standbys;
		if (age_ms != NULL)
			*age_ms = (now - s->last_ns) / MS;
	}
	for (unsigned i = 0; i < n; i++)
		if (r[i].id == standby_id)
			return &r[i];
	return NULL;
}

const struct members_set_report *
members_set_report(struct members *m, const char *pool, const char *user_set,
		   uint64_t max_age_ms)
{
	return members_set_report_aged(m, pool, user_set, max_age_ms, NULL);
}

const struct members_set_report *
members_set_report_aged(struct members *m, const char *pool,
			const char *user_set, uint64_t max_age_ms,
			uint64_t *age_ms)
{
	const struct fsm *f = m->d.fsm;
	uint64_t now = members_now_ns(m);

	for (unsigned i = 0; i < f->n_members; i++) {
		const struct fsm_member *fm = &f->members[i];
		struct members_seen *s;

		if (strcmp(fm->pool, pool) != 0)
			continue;
		if (fm->id == m->d.cfg.self.id) {
			/* this agent: its own live report */
			m->self_n = m->d.host->ops->set_reports(
			    m->d.host->impl, m->self_sets, MEMBERS_SETS);
			for (unsigned k = 0; k < m->self_n; k++)
				if (strcmp(m->self_sets[k].user_set,
					   user_set) == 0) {
					if (age_ms != NULL)
						*age_ms = 0;
					return &m->self_sets[k];
				}
			continue;
		}
		s = seen_slot(m, fm->id, false);
		if (s == NULL || s->last_ns == 0 ||
		    (now - s->last_ns) / MS > max_age_ms)
			continue;
		for (unsigned k = 0; k < s->n_sets; k++)
			if (strcmp(s->sets[k].user_set, user_set) == 0) {
				if (age_ms != NULL)
					*age_ms = (now - s->last_ns) / MS;
				return &s->sets[k];
			}
	}
	return NULL;
}

/* Every stream of user_set in streams[n] connected (steady, backlog or
 * seeding); true when there is none (an earlier version reports no
 * streams). */
static bool streams_connected(const struct members_stream_report *streams,
			      unsigned n, const char *user_set)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(streams[i].user_set, user_set) == 0 &&
		    strcmp(streams[i].state, "steady") != 0 &&
		    strcmp(streams[i].state, "backlog") != 0 &&
		    strcmp(streams[i].state, "seeding") != 0)
			return false;
	return true;
}

bool members_set_connected(struct members *m, const char *pool,
			   const char *user_set, uint64_t max_age_ms)
{
	const struct fsm *f = m->d.fsm;
	uint64_t now = members_now_ns(m);

	/* the same agent as members_set_report_aged() picks */
	for (unsigned i = 0; i < f->n_members; i++) {
		const struct fsm_member *fm = &f->members[i];
		struct members_seen *s;

		if (strcmp(fm->pool, pool) != 0)
			continue;
		if (fm->id == m->d.cfg.self.id) {
			struct members_stream_report st[MEMBERS_STREAMS];
			unsigned n;

			m->self_n = m->d.host->ops->set_reports(
			    m->d.host->impl, m->self_sets, MEMBERS_SETS);
			for (unsigned k = 0; k < m->self_n; k++)
				if (strcmp(m->self_sets[k].user_set,
					   user_set) == 0) {
					n = m->d.host->ops->stream_reports(
					    m->d.host->impl, st,
					    MEMBERS_STREAMS);
					return streams_connected(st, n,
								 user_set);
				}
			continue;
		}
		s = seen_slot(m, fm->id, false);
		if (s == NULL || s->last_ns == 0 ||
		    (now - s->last_ns) / MS > max_age_ms)
			continue;
		for (unsigned k = 0; k < s->n_sets; k++)
			if (strcmp(s->sets[k].user_set, user_set) == 0)
				return streams_connected(s->streams,
							 s->n_streams, user_set);
	}
	return false;
}

const struct members_seen *members_seen_get(struct members *m, uint64_t id)
{
	return seen_slot(m, id, false);
}

bool members_heard(struct members *m, uint64_t id, uint64_t window_ms)
{
	struct members_seen *s;

	if (id == m->d.cfg.self.id)
		return true;
	s = seen_slot(m, id, false);
	return s != NULL && s->last_ns != 0 &&
	       (members_now_ns(m) - s->last_ns) / MS <= window_ms;
}

uint64_t members_pool_silence_ms(struct members *m, const char *pool,
				 const struct members_seen **lag)
{
	const struct fsm *f = m->d.fsm;
	const struct fsm_member *writer = fsm_pool_writer(f, pool);
	uint64_t now = members_now_ns(m);
	uint64_t best = UINT64_MAX;
	uint64_t since = members_regime_since_ns(m);

	if (lag != NULL)
		*lag = NULL;
	for (unsigned i = 0; i < f->n_members; i++) {
		const struct fsm_member *fm = &f->members[i];
		struct members_seen *s;
		uint64_t ms;

		if (strcmp(fm->pool, pool) != 0)
			continue;
		/* the pool lives while its writer does: an alive standby
		 * keeps no copy and writes nothing */
		if (writer != NULL && fm->id != writer->id)
			continue;
		if (fm->id == m->d.cfg.self.id) {
			best = 0;
			continue;
		}
		s = seen_slot(m, fm->id, false);
		if (s == NULL || s->last_ns < since ||
		    s->last_ns == 0)
			continue;
		ms = (now - s->last_ns) / MS;
		if (ms < best) {
			best = ms;
			if (lag != NULL)
				*lag = s;
		}
	}
	return best;
}

/* ---- the sender's side ---- */

void members_heartbeat_answered(struct members *m, uint64_t sent_ns,
				const char *body, size_t len)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	json_int_t commit = 0, leader = 0, term = 0, clock = 0, lease = 0;
	struct members_echo *e = &m->echo_next;
	int wanted = 0;

	if (root == NULL)
		return;
	if (json_unpack(root, "{s:I}", "commit_index", &commit) != 0 ||
	    commit < 0)
		commit = 0;
	if (json_unpack(root, "{s:I}", "leader", &leader) != 0 || leader < 0)
		leader = 0;
	if (json_unpack(root, "{s:I}", "lease_ms", &lease) != 0 || lease < 0)
		lease = 0;
	/* from this heartbeat's own send time: an answer to an older one,
	 * arriving after a newer one's, never counts from the newer send */
	lease_answer(&m->lease, members_now_ns(m), sent_ns, (uint64_t)leader,
		     (uint64_t)commit, (uint64_t)lease,
		     m->d.cfg.drift_margin_ms);
	/* the clock to echo; an older leader sends none. Several answers
	 * may cross: a late one of the same term and leader with an older
	 * clock does not replace the newer (it would prove less). */
	if (json_unpack(root, "{s:I, s:I}", "clock_ms", &clock, "term",
			&term) == 0 &&
	    clock > 0 && term > 0 && leader > 0) {
		if (e->term != (uint64_t)term || e->leader != (uint64_t)leader ||
		    e->clock_ms < (uint64_t)clock) {
			e->clock_ms = (uint64_t)clock;
			e->term = (uint64_t)term;
			e->leader = (uint64_t)leader;
			e->regime =
			    json_is_true(json_object_get(root, "regime"));
		}
	} else {
		memset(e, 0, sizeof *e);
	}
	/* a contact with the leader of that term (lease.h: the regime
	 * bound); of an unknown term when it named none */
	if (json_unpack(root, "{s:I}", "term", &term) != 0 || term < 0)
		term = 0;
	members_regime_answer(m, (uint64_t)term);
	/* a leader that takes "rtt" in the heartbeat says so */
	if (json_unpack(root, "{s:b}", "rtt_wanted", &wanted) != 0)
		wanted = 0;
	m->rtt_leader = wanted ? (uint64_t)leader : 0;
	json_decref(root);
}

/* ---- heartbeats in flight ---- */

struct members_hb *members_hb_take(struct members *m)
{
	for (unsigned i = 0; i < MEMBERS_HB_INFLIGHT; i++) {
		struct members_hb *h = &m->hb[i];

		if (h->busy)
			continue;
		memset(h, 0, sizeof *h);
		h->m = m;
		h->busy = true;
		h->sent_ns = members_now_ns(m);
		m->hb_inflight++;
		return h;
	}
	return NULL;
}

void members_hb_release(struct members_hb *h)
{
	if (!h->busy)
		return;
	h->busy = false;
	h->req = NULL;
	h->m->hb_inflight--;
}

void members_hb_rtt(struct members *m, uint64_t rtt_ns)
{
	uint64_t d;

	if (m->hb_srtt_ns == 0) {
		m->hb_srtt_ns = rtt_ns > 0 ? rtt_ns : 1;
		m->hb_rttvar_ns = rtt_ns / 2;
		return;
	}
	d = m->hb_srtt_ns > rtt_ns ? m->hb_srtt_ns - rtt_ns
				   : rtt_ns - m->hb_srtt_ns;
	m->hb_rttvar_ns = (3 * m->hb_rttvar_ns + d) / 4;
	m->hb_srtt_ns = (7 * m->hb_srtt_ns + rtt_ns) / 8;
	if (m->hb_srtt_ns == 0)
		m->hb_srtt_ns = 1;
}

unsigned members_hb_timeout_ms(const struct members *m)
{
	const struct members_config *c = &m->d.cfg;
	uint64_t floor = (uint64_t)c->heartbeat_ms * 4;
	uint64_t ceiling = c->lease_ms > c->drift_margin_ms
			       ? c->lease_ms - c->drift_margin_ms
			       : c->lease_ms;
	uint64_t t = 4 * (m->hb_srtt_ns + 4 * m->hb_rttvar_ns) / MS;

	if (t < floor)
		t = floor;
	if (t > ceiling)
		t = ceiling;
	return t > 0 ? (unsigned)t : 1;
}

/* ---- reports to agents of an earlier version ---- */

bool members_plain_wanted(struct members *m, const char *host, uint16_t port)
{
	uint64_t now = members_now_ns(m);

	for (unsigned i = 0; i < m->n_plain; i++)
		if (m->plain[i].port == port &&
		    strcmp(m->plain[i].host, host) == 0)
			return now < m->plain[i].until_ns;
	return false;
}

void members_plain_mark(struct members *m, const char *host, uint16_t port)
{
	unsigned n = sizeof m->plain / sizeof m->plain[0];
	unsigned i, oldest = 0;

	for (i = 0; i < m->n_plain; i++) {
		if (m->plain[i].port == port &&
		    strcmp(m->plain[i].host, host) == 0)
			break;
		if (m->plain[i].until_ns < m->plain[oldest].until_ns)
			oldest = i;
	}
	if (i == m->n_plain) {
		if (m->n_plain < n)
			m->n_plain++;
		else
			i = oldest;
	}
	snprintf(m->plain[i].host, sizeof m->plain[i].host, "%s", host);
	m->plain[i].port = port;
	m->plain[i].until_ns = members_now_ns(m) + MEMBERS_PLAIN_NS;
	LOG_INFO(MOD,
		 "%s:%u refused a report with seeds (an earlier version): "
		 "sending it reports without them",
		 host, (unsigned)port);
}

static void heartbeat_done(void *arg, int err,
			   const struct hclient_response *resp)
{
	struct members_hb *h = arg;
	struct members *m = h->m;
	uint64_t sent_ns = h->sent_ns;
	bool extended = h->extended;
	char host[sizeof h->host];
	uint16_t port = h->port;

	memcpy(host, h->host, sizeof host);
	members_hb_release(h);
	if (members_closing(m))
		return;
	members_learn_hint(m, err, resp);
	if (err == 0 && resp->status == 400 && extended)
		members_plain_mark(m, host, port);
	if (err != 0 || resp->status != 200) {
		m->heartbeats_failed++;
		return;
	}
	members_hb_rtt(m, members_now_ns(m) - sent_ns);
	members_heartbeat_answered(m, sent_ns, resp->body, resp->body_len);
}

/* A report in flight to another agent. */
struct report_call {
	struct members *m;
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	bool extended; /* it carries seeds */
};

static void report_done(void *arg, int err,
			const struct hclient_response *resp)
{
	struct report_call *rc = arg;
	struct members *m = rc->m;

	m->reports_inflight--;
	if (err == 0 && resp->status == 400 && rc->extended &&
	    !members_closing(m))
		members_plain_mark(m, rc->host, rc->port);
	free(rc);
}

/* A report to the agent at host:port: full carries the seeds, plain not
 * (NULL: the same as full): an agent that refused full gets plain. */
static void report_send(struct members *m, const char *host, uint16_t port,
			const char *full, const char *plain)
{
	struct report_call *rc;
	const char *text = full;

	if (m->reports_inflight >= 16)
		return;
	rc = malloc(sizeof *rc);
	if (rc == NULL)
		return;
	rc->m = m;
	snprintf(rc->host, sizeof rc->host, "%s", host);
	rc->port = port;
	rc->extended = plain != NULL;
	if (plain != NULL && members_plain_wanted(m, host, port)) {
		text = plain;
		rc->extended = false;
	}
	if (hclient_request(m->d.calls, "POST", host, port,
			    "/v1/internal/report", NULL, text, strlen(text),
			    m->d.cfg.heartbeat_ms * 4, report_done, rc,
			    NULL) == 0)
		m->reports_inflight++;
	else
		free(rc);
}

/* The same report to every other agent, so that whichever becomes leader
 * knows every pool's last lag (the data at risk) even when the pool's
 * agent was the leader itself when it died (full and plain as
 * report_send()'s). */
static void report_peers(struct members *m, const char *full,
			 const char *plain, const char *leader_host,
			 uint16_t leader_port)
{
	const struct fsm *f = m->d.fsm;
	char url[FSM_ADDR_LEN + 16];
	char host[HCLIENT_HOST_MAX];
	uint16_t port;

	for (unsigned i = 0; i < f->n_members; i++) {
		const struct fsm_member *fm = &f->members[i];

		if (fm->id == m->d.cfg.self.id || fm->api_address[0] == '\0')
			continue;
		snprintf(url, sizeof url, "http://%s/", fm->api_address);
		if (hclient_parse_url(url, host, sizeof host, &port, NULL, 0) !=
			0 ||
		    (port == leader_port && strcmp(host, leader_host) == 0))
			continue;
		report_send(m, host, port, full, plain);
	}
}

/* This agent's report as text: *full with the seeds, *plain (NULL when
 * it would be the same) without. Both owned by the caller (free). */
static void report_texts(struct members *m, char **full, char **plain)
{
	bool has_seeds = false;
	json_t *body = members_report_json(m, true, &has_seeds);

	*full = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	*plain = NULL;
	if (*full == NULL || !has_seeds)
		return;
	body = members_report_json(m, false, &has_seeds);
	*plain = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (*plain == NULL) {
		free(*full);
		*full = NULL;
	}
}

/* To a heartbeat's body: the echo of the last answer's clock, when this
 * agent is still in the answer's term and sees the same leader (lease.h).
 * Only the heartbeat carries it: an agent of an earlier version refuses a
 * report with it, and only a leader that sends a clock gets one back.
 * Returns 0 or -1 (out of memory). */
static int echo_add(struct members *m, json_t *body)
{
	const struct proposer *p = m->d.proposer;
	const struct members_echo *e = &m->echo_next;
	uint64_t term = proposer_term(p);
	uint64_t leader = proposer_leader(p, NULL);

	if (e->clock_ms == 0 || term != e->term || leader != e->leader)
		return 0;
	return json_object_set_new(
	    body, "echo",
	    json_pack("{s:I, s:I, s:I}", "clock_ms", (json_int_t)e->clock_ms,
		      "term", (json_int_t)term, "leader", (json_int_t)leader));
}

/* To a heartbeat's body: its round trip as this agent measures it, when
 * the leader it goes to asked for it (an earlier version refuses it).
 * Returns 0 or -1 (out of memory). */
static int rtt_add(struct members *m, json_t *body)
{
	if (m->rtt_leader == 0 || m->hb_srtt_ns == 0 ||
	    m->rtt_leader != proposer_leader(m->d.proposer, NULL))
		return 0;
	return json_object_set_new(
	    body, "rtt",
	    json_pack("{s:I, s:I}", "srtt_us",
		      (json_int_t)(m->hb_srtt_ns / 1000 + 1), "rttvar_us",
		      (json_int_t)(m->hb_rttvar_ns / 1000)));
}

void members_heartbeat_tick(struct members *m)
{
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	json_t *body;
	char *full, *plain, *text;
	bool extended;
	struct members_hb *h;

	/* a new heartbeat even while earlier ones wait (MEMBERS_HB_INFLIGHT) */
	if (m->hb_inflight >= MEMBERS_HB_INFLIGHT ||
	    members_leader_target(m, host, &port) != 0)
		return;
	report_texts(m, &full, &plain);
	if (full == NULL)
		return;
	/* the heartbeat: the report, with the echo (lease.h) */
	extended = plain != NULL && !members_plain_wanted(m, host, port);
	body = json_loads(extended || plain == NULL ? full : plain, 0, NULL);
	text = body != NULL && echo_add(m, body) == 0 &&
		       members_regime_add(m, body) == 0 && rtt_add(m, body) == 0
		   ? json_dumps(body, JSON_COMPACT)
		   : NULL;
	json_decref(body);
	h = text != NULL ? members_hb_take(m) : NULL;
	if (h != NULL) {
		h->extended = extended;
		snprintf(h->host, sizeof h->host, "%s", host);
		h->port = port;
		if (hclient_request(m->d.calls, "POST", host, port,
				    "/v1/internal/heartbeat", NULL, text,
				    strlen(text), members_hb_timeout_ms(m),
				    heartbeat_done, h, &h->req) == 0)
			m->heartbeats_sent++;
		else
			members_hb_release(h);
	}
	report_peers(m, full, plain, host, port);
	free(text);
	free(full);
	free(plain);
}

void members_report_now(struct members *m)
{
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	char *full, *plain;

	if (members_closing(m) || proposer_is_leader(m->d.proposer) ||
	    members_leader_target(m, host, &port) != 0)
		return;
	report_texts(m, &full, &plain);
	if (full == NULL)
		return;
	report_send(m, host, port, full, plain);
	free(full);
	free(plain);
}

void members_leader_report_tick(struct members *m)
{
	char *full, *plain;

	if (m->d.cfg.self.pool[0] == '\0')
		return;
	report_texts(m, &full, &plain);
	if (full == NULL)
		return;
	report_peers(m, full, plain, "", 0);
	free(full);
	free(plain);
}

void members_heartbeat_received(struct members *m,
				const struct members_heartbeat *hb,
				struct members_answer *out)
{
	members_heartbeat_seen(m, hb->id, &hb->report);
	/* the answer hands out this leader's clock and a grant, and an echo
	 * may prove its lease now (counting itself at now): a contact with
	 * itself as the leader of its term (lease.h, the regime bound) */
	members_regime_answer(m, proposer_term(m->d.proposer));
	/* echoes of members only: made-up ids cannot fill the echoes */
	if (hb->has_echo && member_known(m, hb->id))
		members_echo_seen(m, hb->id, &hb->echo);
	if (hb->has_regime && member_known(m, hb->id))
		members_regime_seen(m, hb->id, hb->regime_term,
				    hb->regime_age_ms);
	/* and their round trip, for the election timeout (members_eto.c) */
	if (hb->has_rtt && member_known(m, hb->id)) {
		struct members_seen *s = seen_slot(m, hb->id, false);

		if (s != NULL) {
			s->srtt_us = hb->srtt_us;
			s->rttvar_us = hb->rttvar_us;
			s->rtt_ns = members_now_ns(m);
		}
	}
	out->term = proposer_term(m->d.proposer);
	out->leader = m->d.cfg.self.id;
	out->lease_ms = members_lease_grant(m);
	out->commit_index = proposer_commit_index(m->d.proposer);
	out->clock_ms = members_now_ns(m) / MS;
	out->regime = true;
}

/* A report that says a user set drained: the leader may move it now
 * (host op drained), not at its next tick. */
static void drained_heard(struct members *m, const struct members_report *r)
{
	if (m->d.host->ops->drained == NULL ||
	    !proposer_is_leader(m->d.proposer))
		return;
	for (unsigned i = 0; i < r->n_sets; i++)
		if (r->sets[i].drained) {
			m->d.host->ops->drained(m->d.host->impl);
			return;
		}
}

void members_route_heartbeat(void *module, struct http_request *req,
			     const struct route_params *p)
{
	struct members *m = module;
	struct members_heartbeat *hb;
	struct members_answer a;

	hb = malloc(sizeof *hb);
	if (hb == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	if (members_heartbeat_parse(req->body, req->body_len, hb) != 0) {
		free(hb);
		http_respond_error(
		    req, 400, "bad_json",
		    "heartbeat body must be {\"id\": N, \"applied\": "
		    "N, \"sets\": [{\"user_set\", \"lag_records\", "
		    "\"lag_bytes\", \"lag_ms\", \"drained\", "
		    "\"seeding\"?, \"seed_items\"?, "
		    "\"seed_items_total\"?}], "
		    "\"streams\": [{\"user_set\", \"category\", "
		    "\"state\", \"head_seq\", \"acked_seq\", "
		    "\"lag_records\", \"lag_bytes\", \"lag_ms\"}], "
		    "\"lease\": bool, \"echo\": {\"clock_ms\", "
		    "\"term\", \"leader\"}, \"regime\": {\"term\", "
		    "\"age_ms\"}, \"rtt\": {\"srtt_us\", "
		    "\"rttvar_us\"}, \"seeds\": "
		    "[{\"user_set\", \"lane\", \"role\", "
		    "\"from_seq\"?, \"items\", "
		    "\"items_total\", \"bytes\", \"bytes_total\", "
		    "\"rate_items_s\", \"rate_bytes_s\", \"eta_s\", "
		    "\"ended\"?}], \"copies\": [{\"user_set\", \"lane\", "
		    "\"head_seq\"}], \"standbys\": [{\"id\", \"state\", "
		    "\"acked\": {\"data\", \"content\"}, \"lag_records\", "
		    "\"lag_ms\"}]}");
		return;
	}
	/* an agent heartbeats and reports for itself only */
	if (!caller_check(&m->quiet, req, hb->id, NULL, NULL)) {
		free(hb);
		return;
	}
	if (p->arg != 0) { /* a report: recorded only */
		members_heartbeat_seen(m, hb->id, &hb->report);
		drained_heard(m, &hb->report);
		free(hb);
		http_respond(req, 204, "application/json", "", 0, NULL);
		return;
	}
	members_heartbeat_received(m, hb, &a);
	drained_heard(m, &hb->report);
	free(hb);
	answer_json(req, 200,
		    json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:b}", "term",
			      (json_int_t)a.term, "leader",
			      (json_int_t)a.leader, "lease_ms",
			      (json_int_t)a.lease_ms, "commit_index",
			      (json_int_t)a.commit_index, "clock_ms",
			      (json_int_t)a.clock_ms, "regime", a.regime,
			      "rtt_wanted", 1));
}
