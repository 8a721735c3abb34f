/* members: registration, join, heartbeats and voter placement (see
 * members.h). */
#include "agent/members.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/backup.h"
#include "agent/hclient.h"
#include "agent/log.h"
#include "agent/members_internal.h"
#include "agent/recover.h"
#include "agent/request.h"
#include "consensus/placement.h"

#define MOD "members"
#define MS 1000000ULL /* ns per ms */

static uint64_t reachable_window_ns(const struct members *m)
{
	const struct config *c = &m->agent->cfg;

	return (uint64_t)(c->lease_ms + c->grace_ms) * MS;
}

/* How long a voter must be silent before the placement replaces it. */
static uint64_t replace_window_ns(const struct members *m)
{
	const struct config *c = &m->agent->cfg;
	uint64_t ms = 10ULL * c->election_timeout_ms;

	if (ms < 10000)
		ms = 10000;
	return ms * MS;
}

int members_init(struct members *m, struct agent *a)
{
	int rv;

	memset(m, 0, sizeof *m);
	m->agent = a;
	m->reg_state = REG_UNREGISTERED;
	m->join_state = JOIN_NONE;
	m->join_backoff_ms = 250;
	rv = uv_timer_init(a->loop, &m->tick);
	m->tick.data = m;
	return rv;
}

/* ---- where the leader's API is ---- */

struct target {
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
};

/* The leader's API from the applied state, else the join URL (a follower
 * there redirects us). Returns 0 when a target is known. */
static int leader_target(struct members *m, struct target *t)
{
	struct agent *a = m->agent;
	uint64_t leader = node_leader(&a->node, NULL);
	const struct fsm_member *lm =
	    leader != 0 ? fsm_member_find(&a->fsm, leader) : NULL;
	char url[FSM_ADDR_LEN + 16];

	if (lm != NULL && lm->api_address[0] != '\0') {
		snprintf(url, sizeof url, "http://%s/", lm->api_address);
		return hclient_parse_url(url, t->host, sizeof t->host, &t->port,
					 NULL, 0);
	}
	if (m->hint_host[0] != '\0') {
		snprintf(t->host, sizeof t->host, "%s", m->hint_host);
		t->port = m->hint_port;
		return 0;
	}
	if (a->cfg.join[0] != '\0')
		return hclient_parse_url(a->cfg.join, t->host, sizeof t->host,
					 &t->port, NULL, 0);
	return -1;
}

/* A follower answered 307: remember the leader it named; anything else
 * that failed forgets the hint. */
static void learn_hint(struct members *m, int err,
		       const struct hclient_response *resp)
{
	char host[HCLIENT_HOST_MAX];
	uint16_t port;

	if (err == 0 && resp->status == 307 && resp->location != NULL &&
	    hclient_parse_url(resp->location, host, sizeof host, &port, NULL,
			      0) == 0) {
		snprintf(m->hint_host, sizeof m->hint_host, "%s", host);
		m->hint_port = port;
	} else if (err != 0 || resp->status >= 300) {
		m->hint_host[0] = '\0';
	}
}

/* ---- registration ---- */

static void self_member(struct members *m, struct fsm_member *out)
{
	const struct config *c = &m->agent->cfg;

	memset(out, 0, sizeof *out);
	out->id = c->agent_id;
	snprintf(out->name, sizeof out->name, "%s", c->agent_name);
	snprintf(out->site, sizeof out->site, "%s", c->site);
	snprintf(out->pool, sizeof out->pool, "%s", c->pool);
	snprintf(out->raft_address, sizeof out->raft_address, "%s",
		 c->listen_raft.address);
	snprintf(out->data_address, sizeof out->data_address, "%s",
		 c->listen_data.address);
	snprintf(out->api_address, sizeof out->api_address, "%s",
		 c->listen_api.address);
}

static bool registered(struct members *m)
{
	struct fsm_member want;
	const struct fsm_member *have;

	self_member(m, &want);
	have = fsm_member_find(&m->agent->fsm, want.id);
	return have != NULL && strcmp(have->name, want.name) == 0 &&
	       strcmp(have->site, want.site) == 0 &&
	       strcmp(have->pool, want.pool) == 0 &&
	       strcmp(have->raft_address, want.raft_address) == 0 &&
	       strcmp(have->data_address, want.data_address) == 0 &&
	       strcmp(have->api_address, want.api_address) == 0;
}

void members_on_applied(struct members *m)
{
	if (m->reg_state == REG_SENDING)
		return;
	m->reg_state = registered(m) ? REG_DONE : REG_UNREGISTERED;
}

static void reg_local_done(void *arg, int status, const struct fsm_result *res)
{
	struct members *m = arg;

	m->reg_state = REG_UNREGISTERED;
	if (status != 0 || res->code != FSM_OK) {
		LOG_WARN(MOD, "registration failed: %s",
			 status != 0 ? node_strerror(status) : res->reason);
		m->reg_next_ns = uv_hrtime() + 1000 * MS;
		return;
	}
	members_on_applied(m);
	if (m->reg_state == REG_DONE)
		LOG_INFO(MOD, "registered as member %" PRIu64,
			 m->agent->cfg.agent_id);
}

static void reg_remote_done(void *arg, int err,
			    const struct hclient_response *resp)
{
	struct members *m = arg;

	m->reg_req = NULL;
	m->reg_state = REG_UNREGISTERED;
	if (m->closing)
		return;
	learn_hint(m, err, resp);
	if (err == 0 && resp->status == 307) {
		m->reg_next_ns = uv_hrtime(); /* repeat at the leader now */
		return;
	}
	if (err != 0 || resp->status != 200) {
		LOG_DEBUG(MOD, "registration not accepted yet: %s",
			  err != 0 ? hclient_strerror(err) : resp->body);
		m->reg_next_ns = uv_hrtime() + 1000 * MS;
		return;
	}
	/* done once the command reaches our own FSM */
	m->reg_next_ns = uv_hrtime() + 2000 * MS;
	members_on_applied(m);
}

static void register_self(struct members *m)
{
	struct agent *a = m->agent;
	struct fsm_member self;
	uint64_t now = uv_hrtime();

	if (m->reg_state != REG_UNREGISTERED || now < m->reg_next_ns)
		return;
	self_member(m, &self);
	if (node_is_leader(&a->node)) {
		struct request_cmd cmd = {0};
		struct request_ctx ctx;
		char who[FSM_WHO_LEN];
		int rv;

		snprintf(who, sizeof who, "agent:%s", a->cfg.agent_name);
		ctx.time_ms = agent_now_ms();
		ctx.who = who;
		if (request_cmd_register_member(&self, &ctx, &cmd) != 0)
			return;
		m->reg_state = REG_SENDING;
		rv = node_apply(&a->node, cmd.buf, cmd.len, reg_local_done, m);
		if (rv != 0) {
			m->reg_state = REG_UNREGISTERED;
			m->reg_next_ns = now + 500 * MS;
		}
		return;
	}
	{
		struct target t;
		json_t *body;
		char *text;
		int rv;

		if (leader_target(m, &t) != 0)
			return;
		body = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
				 (json_int_t)self.id, "name", self.name, "site",
				 self.site, "pool", self.pool, "raft",
				 self.raft_address, "data", self.data_address,
				 "api", self.api_address);
		text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (text == NULL)
			return;
		rv = hclient_request(&a->calls, "POST", t.host, t.port,
				     "/v1/internal/register", NULL, text,
				     strlen(text), 2000, reg_remote_done, m,
				     &m->reg_req);
		free(text);
		if (rv == 0)
			m->reg_state = REG_SENDING;
		else
			m->reg_next_ns = now + 1000 * MS;
	}
}

/* ---- join ---- */

static void join_done(void *arg, int err, const struct hclient_response *resp)
{
	struct members *m = arg;

	m->join_req = NULL;
	if (m->closing)
		return;
	if (err == 0 && (resp->status == 200 || resp->status == 202)) {
		LOG_INFO(MOD, "joined the cluster through %s", m->agent->cfg.join);
		m->join_state = JOIN_DONE;
		return;
	}
	if (err == 0 && resp->status == 307 && resp->location != NULL) {
		/* ask the leader directly next time */
		snprintf(m->join_redirect, sizeof m->join_redirect, "%s",
			 resp->location);
		m->join_state = JOIN_WAITING;
		m->join_next_ns = uv_hrtime();
		return;
	}
	LOG_WARN(MOD, "join through %s not accepted yet: %s",
		 m->join_redirect[0] ? m->join_redirect : m->agent->cfg.join,
		 err != 0 ? hclient_strerror(err) : resp->body);
	m->join_redirect[0] = '\0';
	m->join_state = JOIN_WAITING;
	m->join_next_ns = uv_hrtime() + (uint64_t)m->join_backoff_ms * MS;
	if (m->join_backoff_ms < 5000)
		m->join_backoff_ms *= 2;
}

static void join(struct members *m)
{
	struct agent *a = m->agent;
	char host[HCLIENT_HOST_MAX];
	char path[512];
	uint16_t port;
	char body[FSM_ADDR_LEN + 64];
	const char *url = m->join_redirect[0] ? m->join_redirect : a->cfg.join;
	int rv;

	if (m->join_state != JOIN_WAITING || uv_hrtime() < m->join_next_ns)
		return;
	if (node_role_of(&a->node, a->cfg.agent_id) >= 0) {
		m->join_state = JOIN_DONE; /* already in the configuration */
		return;
	}
	if (hclient_parse_url(url, host, sizeof host, &port, path,
			      sizeof path) != 0) {
		LOG_ERROR(MOD, "join url %s is not a valid http url", url);
		m->join_redirect[0] = '\0';
		m->join_next_ns = uv_hrtime() + 5000 * MS;
		return;
	}
	snprintf(body, sizeof body, "{\"id\":%" PRIu64 ",\"address\":\"%s\"}",
		 a->cfg.agent_id, a->cfg.listen_raft.address);
	rv = hclient_request(&a->calls, "POST", host, port, "/v1/members", NULL,
			     body, strlen(body), 3000, join_done, m,
			     &m->join_req);
	if (rv != 0) {
		m->join_next_ns = uv_hrtime() + 1000 * MS;
		return;
	}
	m->join_state = JOIN_ASKING;
}

/* ---- heartbeats ---- */

static struct members_seen *seen_slot(struct members *m, uint64_t id,
				      bool create)
{
	for (unsigned i = 0; i < m->n_seen; i++)
		if (m->seen[i].id == id)
			return &m->seen[i];
	if (!create || m->n_seen == FSM_MAX_MEMBERS)
		return NULL;
	memset(&m->seen[m->n_seen], 0, sizeof m->seen[m->n_seen]);
	m->seen[m->n_seen].id = id;
	m->seen[m->n_seen].lease = -1;
	return &m->seen[m->n_seen++];
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
	s->last_ns = uv_hrtime();
	s->applied = r->applied;
	memcpy(s->sets, r->sets, n * sizeof *r->sets);
	s->n_sets = n;
	memcpy(s->streams, r->streams, k * sizeof *r->streams);
	s->n_streams = k;
	s->lease = r->lease;
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
	struct agent *a = m->agent;
	uint64_t now = uv_hrtime();

	for (unsigned i = 0; i < a->fsm.n_members; i++) {
		const struct fsm_member *fm = &a->fsm.members[i];
		struct members_seen *s;

		if (strcmp(fm->pool, pool) != 0)
			continue;
		if (fm->id == a->cfg.agent_id) {
			/* this agent: its own live report */
			m->self_n = dataplane_set_reports(&a->data, m->self_sets,
							  MEMBERS_SETS);
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

const struct members_seen *members_seen_get(struct members *m, uint64_t id)
{
	return seen_slot(m, id, false);
}

bool members_heard(struct members *m, uint64_t id, uint64_t window_ms)
{
	struct members_seen *s;

	if (id == m->agent->cfg.agent_id)
		return true;
	s = seen_slot(m, id, false);
	return s != NULL && s->last_ns != 0 &&
	       (uv_hrtime() - s->last_ns) / MS <= window_ms;
}

uint64_t members_pool_silence_ms(struct members *m, const char *pool,
				 const struct members_seen **lag)
{
	struct agent *a = m->agent;
	uint64_t now = uv_hrtime();
	uint64_t best = UINT64_MAX;

	if (lag != NULL)
		*lag = NULL;
	for (unsigned i = 0; i < a->fsm.n_members; i++) {
		const struct fsm_member *fm = &a->fsm.members[i];
		struct members_seen *s;
		uint64_t ms;

		if (strcmp(fm->pool, pool) != 0)
			continue;
		if (fm->id == a->cfg.agent_id) {
			best = 0;
			continue;
		}
		s = seen_slot(m, fm->id, false);
		if (s == NULL || s->last_ns < m->leader_since_ns ||
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

/* Silent for longer than window (from the leader's point of view)? */
static bool silent_for(struct members *m, uint64_t id, uint64_t window)
{
	uint64_t now = uv_hrtime();
	struct members_seen *s;

	if (id == m->agent->cfg.agent_id)
		return false;
	s = seen_slot(m, id, false);
	if (s != NULL && s->last_ns >= m->leader_since_ns)
		return now - s->last_ns > window;
	return now - m->leader_since_ns > window;
}

int members_reachable(struct members *m, uint64_t id)
{
	if (!node_is_leader(&m->agent->node) || m->leader_since_ns == 0)
		return -1;
	return silent_for(m, id, reachable_window_ns(m)) ? 0 : 1;
}

static void heartbeat_done(void *arg, int err,
			   const struct hclient_response *resp)
{
	struct members *m = arg;
	json_t *root;
	json_int_t lease = 0;

	m->hb_req = NULL;
	if (m->closing)
		return;
	learn_hint(m, err, resp);
	if (err != 0 || resp->status != 200) {
		m->heartbeats_failed++;
		return;
	}
	root = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (root != NULL) {
		json_int_t commit = 0, leader = 0, term = 0, clock = 0;

		if (json_unpack(root, "{s:I}", "commit_index", &commit) != 0 ||
		    commit < 0)
			commit = 0;
		if (json_unpack(root, "{s:I}", "leader", &leader) != 0 ||
		    leader < 0)
			leader = 0;
		if (json_unpack(root, "{s:I}", "lease_ms", &lease) != 0 ||
		    lease < 0)
			lease = 0;
		lease_answer(&m->lease, uv_hrtime(), m->hb_sent_ns,
			     (uint64_t)leader, (uint64_t)commit, (uint64_t)lease,
			     m->agent->cfg.drift_margin_ms);
		/* the clock to echo; an older leader sends none */
		memset(&m->echo_next, 0, sizeof m->echo_next);
		if (json_unpack(root, "{s:I, s:I}", "clock_ms", &clock, "term",
				&term) == 0 &&
		    clock > 0 && term > 0 && leader > 0) {
			m->echo_next.clock_ms = (uint64_t)clock;
			m->echo_next.term = (uint64_t)term;
			m->echo_next.leader = (uint64_t)leader;
		}
	}
	json_decref(root);
}

static void report_done(void *arg, int err,
			const struct hclient_response *resp)
{
	struct members *m = arg;

	(void)err;
	(void)resp;
	m->reports_inflight--;
}

/* The same report to every other agent, so that whichever becomes leader
 * knows every pool's last lag (the data at risk) even when the pool's
 * agent was the leader itself when it died. */
static void report_peers(struct members *m, const char *text,
			 const char *leader_host, uint16_t leader_port)
{
	struct agent *a = m->agent;
	char url[FSM_ADDR_LEN + 16];
	char host[HCLIENT_HOST_MAX];
	uint16_t port;

	for (unsigned i = 0; i < a->fsm.n_members; i++) {
		const struct fsm_member *fm = &a->fsm.members[i];

		if (fm->id == a->cfg.agent_id || fm->api_address[0] == '\0' ||
		    m->reports_inflight >= 16)
			continue;
		snprintf(url, sizeof url, "http://%s/", fm->api_address);
		if (hclient_parse_url(url, host, sizeof host, &port, NULL, 0) !=
			0 ||
		    (port == leader_port && strcmp(host, leader_host) == 0))
			continue;
		if (hclient_request(&a->calls, "POST", host, port,
				    "/v1/internal/report", NULL, text,
				    strlen(text), a->cfg.heartbeat_ms * 4,
				    report_done, m, NULL) == 0)
			m->reports_inflight++;
	}
}

/* This agent's report (owned by the caller), or NULL. */
static json_t *report_json(struct members *m)
{
	struct agent *a = m->agent;
	struct members_set_report sets[MEMBERS_SETS];
	unsigned n = dataplane_set_reports(&a->data, sets, MEMBERS_SETS);
	struct members_stream_report streams[MEMBERS_STREAMS];
	unsigned k = backup_stream_reports(&a->data, streams, MEMBERS_STREAMS);
	json_t *arr, *sarr;

	arr = json_array();
	for (unsigned i = 0; arr != NULL && i < n; i++)
		json_array_append_new(
		    arr, json_pack("{s:s, s:I, s:I, s:I, s:b}", "user_set",
				   sets[i].user_set, "lag_records",
				   (json_int_t)sets[i].lag_records, "lag_bytes",
				   (json_int_t)sets[i].lag_bytes, "lag_ms",
				   (json_int_t)sets[i].lag_ms, "drained",
				   sets[i].drained));
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
	return json_pack("{s:I, s:I, s:o, s:o, s:b}", "id",
			 (json_int_t)a->cfg.agent_id, "applied",
			 (json_int_t)node_applied_index(&a->node), "sets", arr,
			 "streams", sarr, "lease", members_lease_valid(m));
}

/* This agent's report as JSON text (malloc()ed), or NULL. */
static char *report_text(struct members *m)
{
	json_t *body = report_json(m);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	return text;
}

/* To a heartbeat's body: the echo of the last answer's clock, when this
 * agent is still in the answer's term and sees the same leader (lease.h).
 * Only the heartbeat carries it: an agent of an earlier version refuses a
 * report with it, and only a leader that sends a clock gets one back.
 * Returns 0 or -1 (out of memory). */
static int echo_add(struct members *m, json_t *body)
{
	struct node *n = &m->agent->node;
	const struct members_echo *e = &m->echo_next;

	if (e->clock_ms == 0 || node_term(n) != e->term ||
	    node_leader(n, NULL) != e->leader)
		return 0;
	return json_object_set_new(
	    body, "echo",
	    json_pack("{s:I, s:I, s:I}", "clock_ms", (json_int_t)e->clock_ms,
		      "term", (json_int_t)node_term(n), "leader",
		      (json_int_t)node_leader(n, NULL)));
}

static void heartbeat(struct members *m)
{
	struct agent *a = m->agent;
	struct target t;
	json_t *body;
	char *report, *text;

	if (m->hb_req != NULL || leader_target(m, &t) != 0)
		return;
	body = report_json(m);
	if (body == NULL)
		return;
	report = json_dumps(body, JSON_COMPACT);
	text = echo_add(m, body) == 0 ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text != NULL) {
		m->hb_sent_ns = uv_hrtime();
		if (hclient_request(&a->calls, "POST", t.host, t.port,
				    "/v1/internal/heartbeat", NULL, text,
				    strlen(text), a->cfg.heartbeat_ms * 4,
				    heartbeat_done, m, &m->hb_req) == 0)
			m->heartbeats_sent++;
	}
	if (report != NULL)
		report_peers(m, report, t.host, t.port);
	free(text);
	free(report);
}

/* The leader sends no heartbeat, but reports like everyone else. */
static void leader_report(struct members *m)
{
	char *text;

	if (m->agent->cfg.pool[0] == '\0')
		return;
	text = report_text(m);
	if (text == NULL)
		return;
	report_peers(m, text, "", 0);
	free(text);
}

/* ---- voter placement (leader) ---- */

static int to_placement_role(int raft_role)
{
	switch (raft_role) {
	case RAFT_VOTER:
		return PLACEMENT_VOTER;
	case RAFT_STANDBY:
		return PLACEMENT_STANDBY;
	default:
		return PLACEMENT_SPARE;
	}
}

static int to_raft_role(int role)
{
	switch (role) {
	case PLACEMENT_VOTER:
		return RAFT_VOTER;
	case PLACEMENT_STANDBY:
		return RAFT_STANDBY;
	default:
		return RAFT_SPARE;
	}
}

static void placement_done(void *arg, int status)
{
	struct members *m = arg;

	m->placing = false;
	if (status != 0)
		LOG_WARN(MOD, "placement change failed: %s",
			 node_strerror(status));
}

static void place(struct members *m)
{
	struct agent *a = m->agent;
	const struct raft_configuration *c = node_configuration(&a->node);
	struct placement_member pm[PLACEMENT_MAX];
	struct placement_change ch;
	uint64_t last = node_last_index(&a->node);
	unsigned n = 0;
	int rv;

	if (m->placing || node_changing(&a->node) || c->n > PLACEMENT_MAX)
		return;
	/* judge nobody during the first window of a new leadership */
	if (uv_hrtime() - m->leader_since_ns < reachable_window_ns(m))
		return;
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		const struct fsm_member *fm = fsm_member_find(&a->fsm, s->id);
		bool is_self = s->id == a->cfg.agent_id;
		uint64_t match = 0;
		bool reach = !silent_for(m, s->id, s->role == RAFT_VOTER
							 ? replace_window_ns(m)
							 : reachable_window_ns(m));

		memset(&pm[n], 0, sizeof pm[n]);
		pm[n].id = s->id;
		snprintf(pm[n].site, sizeof pm[n].site, "%s",
			 fm != NULL && fm->site[0] ? fm->site : "-");
		pm[n].role = to_placement_role(s->role);
		pm[n].reachable = reach;
		pm[n].is_leader = is_self;
		if (is_self)
			pm[n].caught_up = true;
		else if (fm == NULL)
			pm[n].caught_up = false; /* never promote the unknown */
		else if (s->role == RAFT_SPARE)
			pm[n].caught_up = reach; /* a spare gets no log */
		else
			pm[n].caught_up =
			    node_match_index(&a->node, s->id, &match) == 0 &&
			    match + 64 >= last;
		n++;
	}
	rv = placement_next(pm, n, a->cfg.max_voters, &ch);
	if (rv <= 0) {
		if (rv < 0)
			LOG_DEBUG(MOD, "placement: %s", placement_strerror(rv));
		return;
	}
	LOG_INFO(MOD, "placement: member %" PRIu64 " becomes %s", ch.id,
		 placement_role_name(ch.role));
	m->placing = true;
	rv = node_assign(&a->node, ch.id, to_raft_role(ch.role), placement_done,
			 m);
	if (rv != 0) {
		m->placing = false;
		LOG_WARN(MOD, "placement: assign %" PRIu64 ": %s", ch.id,
			 node_strerror(rv));
		return;
	}
	m->placement_changes++;
}

/* ---- the tick ---- */

static void tick(uv_timer_t *t)
{
	struct members *m = t->data;
	struct agent *a = m->agent;

	if (m->closing)
		return;
	if (node_is_leader(&a->node)) {
		if (m->leader_since_ns == 0) {
			m->leader_since_ns = uv_hrtime();
			LOG_INFO(MOD, "leading term %" PRIu64,
				 node_term(&a->node));
		}
		members_lease_tick(m, true);
		leader_report(m);
		recover_note_tick(a);
		register_self(m);
		place(m);
	} else {
		m->leader_since_ns = 0;
		members_lease_tick(m, false);
		join(m);
		register_self(m);
		heartbeat(m);
	}
}

int members_start(struct members *m, bool join_cluster)
{
	m->tick.data = m;
	if (join_cluster) {
		m->join_state = JOIN_WAITING;
		m->join_next_ns = 0;
	}
	return uv_timer_start(&m->tick, tick, 0, m->agent->cfg.heartbeat_ms);
}

static void tick_closed(uv_handle_t *h)
{
	struct members *m = h->data;

	m->agent->pending_closes--;
	agent_closed_one(m->agent);
}

void members_close(struct members *m)
{
	if (m->agent == NULL || m->closing)
		return;
	m->closing = true;
	if (m->hb_req != NULL)
		hclient_cancel(m->hb_req);
	if (m->reg_req != NULL)
		hclient_cancel(m->reg_req);
	if (m->join_req != NULL)
		hclient_cancel(m->join_req);
	m->hb_req = m->reg_req = m->join_req = NULL;
	m->agent->pending_closes++;
	uv_close((uv_handle_t *)&m->tick, tick_closed);
}
