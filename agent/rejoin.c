/* rejoin: an empty Raft directory decides before Raft runs, and the leader
 * takes a lost member back (see rejoin.h). */
#include "agent/rejoin.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/answer.h"
#include "agent/caller.h"
#include "agent/hclient.h"
#include "agent/log.h"
#include "agent/request.h"
#include "consensus/cmd.h"

#define MOD "rejoin"
#define BACKOFF_MAX_MS 5000

bool rejoin_raft_has_state(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL)
		found =
		    strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return found;
}

static void add_url(struct rejoin *r, const char *url)
{
	for (unsigned i = 0; i < r->n_urls; i++)
		if (strcmp(r->urls[i], url) == 0)
			return;
	if (r->n_urls < REJOIN_MAX_PEERS)
		snprintf(r->urls[r->n_urls++], sizeof r->urls[0], "%s", url);
}

int rejoin_init(struct rejoin *r, struct agent *a, bool probe)
{
	const struct config *c = &a->cfg;
	int rv;

	memset(r, 0, sizeof *r);
	r->agent = a;
	r->state = probe ? REJOIN_PROBING : REJOIN_NONE;
	r->backoff_ms = 250;
	for (unsigned i = 0; i < c->n_peers; i++)
		add_url(r, c->peers[i]);
	if (c->join[0] != '\0')
		add_url(r, c->join);
	rv = uv_timer_init(a->loop, &r->timer);
	if (rv == 0)
		r->timer_open = true;
	r->timer.data = r;
	return rv;
}

/* ---- the agent side: probe, decide, ask ---- */

static void schedule(struct rejoin *r, void (*fn)(uv_timer_t *),
		     unsigned delay_ms)
{
	if (!r->closing)
		uv_timer_start(&r->timer, fn, delay_ms, 0);
}

static unsigned next_backoff(struct rejoin *r)
{
	unsigned d = r->backoff_ms;

	if (r->backoff_ms < BACKOFF_MAX_MS)
		r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS
				    ? BACKOFF_MAX_MS
				    : r->backoff_ms * 2;
	return d;
}

static void probe_round(uv_timer_t *t);
static void ask(uv_timer_t *t);

/* After a rejoin: a spare gets no log entries, so it cannot learn the
 * leader from the log; when members has no hint of it either (a heartbeat
 * failed, the leader changed), point it at the peers one after the other:
 * a follower answers 307 to the leader. */
static void keep_hint(uv_timer_t *t)
{
	struct rejoin *r = t->data;
	struct agent *a = r->agent;
	char host[HCLIENT_HOST_MAX];
	uint16_t port;

	if (r->n_urls == 0 || node_leader(&a->node, NULL) != 0 ||
	    a->members.hint_host[0] != '\0')
		return;
	if (hclient_parse_url(r->urls[r->round++ % r->n_urls], host,
			      sizeof host, &port, NULL, 0) == 0) {
		snprintf(a->members.hint_host, sizeof a->members.hint_host,
			 "%s", host);
		a->members.hint_port = port;
	}
}

/* Raft may start: the decision is taken (and, for a rejoin, the leader
 * removed the old incarnation). */
static void go(struct rejoin *r, bool join)
{
	struct agent *a = r->agent;

	r->state = REJOIN_DONE;
	if (!join && !r->closing)
		uv_timer_start(&r->timer, keep_hint, 1000, 1000);
	if (agent_start_raft(a, join) != 0) {
		LOG_ERROR(MOD, "%s", a->errmsg);
		a->exit_code = 1;
		agent_stop(a);
	}
}

/* The status of a peer: whether it runs Raft with a configuration, whether
 * that holds this agent's id, and its leader's API. */
static void read_status(struct rejoin *r, unsigned i, const char *body,
			size_t len)
{
	struct rejoin_answer *ans = &r->answers[i];
	json_t *root = json_loadb(body, len, 0, NULL);
	json_t *members, *m;
	const char *leader_api = NULL;
	size_t k;

	if (root == NULL)
		return;
	members = json_object_get(json_object_get(root, "cluster"), "members");
	if (json_is_array(members)) {
		json_t *term =
		    json_object_get(json_object_get(root, "cluster"), "term");

		ans->answered = true;
		if (json_is_integer(term) && json_integer_value(term) > 0)
			ans->term = (uint64_t)json_integer_value(term);
		ans->has_cluster = json_array_size(members) > 0;
		json_array_foreach (members, k, m) {
			json_t *id = json_object_get(m, "id");

			if (json_is_integer(id) &&
			    (uint64_t)json_integer_value(id) ==
				r->agent->cfg.agent_id)
				ans->knows_id = true;
		}
	}
	if (json_unpack(root, "{s:{s:{s:s}}}", "cluster", "leader", "api",
			&leader_api) == 0 &&
	    leader_api[0] != '\0')
		snprintf(r->target, sizeof r->target, "%s://%s/",
			 r->agent->tls_on ? "https" : "http", leader_api);
	else if (ans->has_cluster && r->target[0] == '\0')
		snprintf(r->target, sizeof r->target, "%s", r->urls[i]);
	json_decref(root);
}

static void decide(struct rejoin *r)
{
	struct agent *a = r->agent;
	const struct config *c = &a->cfg;
	struct rejoin_situation s = {
	    .bootstrap = c->n_bootstrap > 0,
	    .alone = c->n_bootstrap == 1 && c->bootstrap[0].id == c->agent_id,
	    .first_start = c->first_start != 0,
	};
	enum rejoin_decision d = rejoin_decide(&s, r->answers, r->n_urls);
	char waiting[512] = "";
	size_t used = 0;
	int rv;

	switch (d) {
	case REJOIN_BOOTSTRAP:
		LOG_INFO(MOD,
			 "empty raft directory and no cluster at any peer "
			 "(%u asked): first start, bootstrapping",
			 r->n_urls);
		rv = node_bootstrap(&a->node);
		if (rv != 0) {
			LOG_ERROR(MOD, "bootstrap: %s", a->node.errmsg);
			a->exit_code = 1;
			agent_stop(a);
			return;
		}
		go(r, false);
		return;
	case REJOIN_JOIN:
		LOG_INFO(MOD,
			 "empty raft directory, the cluster does not know "
			 "id %" PRIu64 ": joining",
			 c->agent_id);
		go(r, true);
		return;
	case REJOIN_REJOIN:
		LOG_WARN(MOD,
			 "empty raft directory but the cluster exists: "
			 "rejoining as member %" PRIu64 " through %s (raft "
			 "waits until the old incarnation is removed)",
			 c->agent_id, r->target);
		r->state = REJOIN_ASKING;
		schedule(r, ask, 0);
		return;
	case REJOIN_REFUSE:
		LOG_ERROR(MOD,
			  "the raft directory %s/raft is empty and [cluster] "
			  "peers is not set: a first start cannot be told from "
			  "a lost disk; set [cluster] peers to the other "
			  "members' API URLs, or start a new cluster with "
			  "poolpaird --first-start",
			  c->data_dir);
		a->exit_code = 1;
		agent_stop(a);
		return;
	case REJOIN_WAIT:
		break;
	}
	for (unsigned i = 0; i < r->n_urls; i++)
		if (!r->answers[i].answered && used < sizeof waiting)
			used += (size_t)snprintf(waiting + used,
						 sizeof waiting - used, "%s%s",
						 used ? ", " : "", r->urls[i]);
	if (r->round == 1 || r->round % 5 == 0)
		LOG_WARN(MOD,
			 "empty raft directory: raft not started, waiting for "
			 "%s (round %u)",
			 used ? waiting : "a cluster to join", r->round);
	schedule(r, probe_round, next_backoff(r));
}

struct probe_slot {
	struct rejoin *r;
	unsigned i;
};

static void probe_done(void *arg, int err, const struct hclient_response *resp)
{
	struct probe_slot *ps = arg;
	struct rejoin *r = ps->r;
	unsigned i = ps->i;

	free(ps);
	r->reqs[i] = NULL;
	r->inflight--;
	if (r->closing)
		return;
	if (err == 0 && resp->status == 200)
		read_status(r, i, resp->body, resp->body_len);
	else
		LOG_DEBUG(MOD, "%s: %s", r->urls[i],
			  err != 0 ? hclient_strerror(err) : resp->body);
	if (r->inflight == 0)
		decide(r);
}

static void probe_round(uv_timer_t *t)
{
	struct rejoin *r = t->data;
	struct agent *a = r->agent;

	r->round++;
	memset(r->answers, 0, sizeof r->answers);
	r->target[0] = '\0';
	for (unsigned i = 0; i < r->n_urls; i++) {
		char host[HCLIENT_HOST_MAX];
		uint16_t port;
		struct probe_slot *ps;

		if (hclient_parse_url(r->urls[i], host, sizeof host, &port,
				      NULL, 0) != 0)
			continue;
		ps = malloc(sizeof *ps);
		if (ps == NULL)
			continue;
		ps->r = r;
		ps->i = i;
		if (hclient_request(&a->calls, "GET", host, port, "/v1/status",
				    NULL, NULL, 0, 2000, probe_done, ps,
				    &r->reqs[i]) != 0) {
			free(ps);
			continue;
		}
		r->inflight++;
	}
	if (r->inflight == 0)
		decide(r);
}

static void ask_done(void *arg, int err, const struct hclient_response *resp)
{
	struct rejoin *r = arg;
	struct agent *a = r->agent;
	char host[HCLIENT_HOST_MAX];
	uint16_t port;

	r->ask_req = NULL;
	if (r->closing)
		return;
	if (err == 0 && resp->status == 307 && resp->location != NULL) {
		snprintf(r->target, sizeof r->target, "%s", resp->location);
		schedule(r, ask, 0);
		return;
	}
	if (err == 0 && resp->status == 200) {
		LOG_WARN(MOD,
			 "the cluster removed the old incarnation of member "
			 "%" PRIu64 " and added it back as a spare: starting "
			 "raft with an empty log",
			 a->cfg.agent_id);
		/* heartbeats go to that leader until the log names one */
		if (hclient_parse_url(r->target, host, sizeof host, &port, NULL,
				      0) == 0) {
			snprintf(a->members.hint_host,
				 sizeof a->members.hint_host, "%s", host);
			a->members.hint_port = port;
		}
		go(r, false);
		return;
	}
	LOG_WARN(MOD, "rejoin through %s not accepted yet: %s", r->target,
		 err != 0 ? hclient_strerror(err) : resp->body);
	/* ask the peers again: the leader may have changed */
	r->state = REJOIN_PROBING;
	schedule(r, probe_round, next_backoff(r));
}

static void ask(uv_timer_t *t)
{
	struct rejoin *r = t->data;
	struct agent *a = r->agent;
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	json_t *body;
	char *text;
	int rv = -1;

	body = json_pack("{s:I, s:s}", "id", (json_int_t)a->cfg.agent_id,
			 "address", a->cfg.listen_raft.address);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text != NULL && hclient_parse_url(r->target, host, sizeof host,
					      &port, NULL, 0) == 0)
		rv = hclient_request(
		    &a->calls, "POST", host, port, "/v1/internal/rejoin", NULL,
		    text, strlen(text), 30000, ask_done, r, &r->ask_req);
	free(text);
	if (rv != 0) {
		r->state = REJOIN_PROBING;
		schedule(r, probe_round, next_backoff(r));
	}
}

int rejoin_start(struct rejoin *r)
{
	if (r->state != REJOIN_PROBING)
		return 0;
	LOG_WARN(MOD,
		 "raft directory %s/raft holds no state: asking %u peer(s) "
		 "whether a cluster exists before raft starts",
		 r->agent->cfg.data_dir, r->n_urls);
	schedule(r, probe_round, 0);
	return 0;
}

static void timer_closed(uv_handle_t *h)
{
	struct rejoin *r = h->data;

	if (r->close_cb != NULL)
		r->close_cb(r);
}

int rejoin_close(struct rejoin *r, void (*cb)(struct rejoin *r))
{
	if (r->agent == NULL || r->closing)
		return -EALREADY;
	r->closing = true;
	for (unsigned i = 0; i < REJOIN_MAX_PEERS; i++)
		if (r->reqs[i] != NULL) {
			struct hclient_req *q = r->reqs[i];

			r->reqs[i] = NULL;
			hclient_cancel(q);
		}
	if (r->ask_req != NULL) {
		struct hclient_req *q = r->ask_req;

		r->ask_req = NULL;
		hclient_cancel(q);
	}
	if (!r->timer_open)
		return -EALREADY;
	r->timer_open = false;
	r->close_cb = cb;
	uv_close((uv_handle_t *)&r->timer, timer_closed);
	return 0;
}

/* ---- the leader side: POST /v1/internal/rejoin ---- */

static void serve_end(struct rejoin *r, int status, const char *code,
		      const char *msg)
{
	struct http_request *req = r->serving.req;

	r->busy = false;
	r->serving.req = NULL;
	if (status == 200)
		answer_json(req, 200,
			    json_pack("{s:I, s:s, s:b}", "id",
				      (json_int_t)r->serving.id, "role",
				      "spare", "removed", r->serving.removed));
	else
		http_respond_error(req, status, code, msg);
}

static void transferred(void *arg, int status)
{
	(void)arg;
	(void)status;
}

/* Raft refuses every configuration change although none is in flight
 * (its uncommitted index is at or below the commit index: seen on a
 * leader that learnt the last change as a follower): this leader can
 * neither remove nor add a member, so it hands the leadership over (at
 * most every 10 s); the rejoining agent asks the next leader. */
static void unstick(struct rejoin *r)
{
	struct node *n = &r->agent->node;
	uint64_t now = uv_now(r->agent->loop);

	if (node_changing(n) || now - r->unstick_ms < 10000)
		return;
	r->unstick_ms = now;
	LOG_WARN(MOD,
		 "raft refuses configuration changes although none is in "
		 "flight (uncommitted index %llu, commit index %llu): handing "
		 "the leadership over",
		 (unsigned long long)n->raft.configuration_uncommitted_index,
		 (unsigned long long)node_commit_index(n));
	node_transfer(n, 0, transferred, NULL);
}

static void serve_fail(struct rejoin *r, int rv, const char *step)
{
	char msg[256];

	snprintf(msg, sizeof msg, "rejoin of member %" PRIu64 ": %s: %s",
		 r->serving.id, step, node_strerror(rv));
	LOG_WARN(MOD, "%s", msg);
	serve_end(r, 503, "unavailable", msg);
	if (rv == NODE_E_BUSY)
		unstick(r);
}

/* A history entry, kept beyond the ring like forced decisions. */
static int note(struct rejoin *r, const char *what, proposer_cb cb)
{
	struct agent *a = r->agent;
	struct cmd_ctx ctx = {.time_ms = clock_wall_ms(a->clock), .who = "agent:rejoin"};
	struct cmd_event e = {.what = what, .ok = true, .keep = true};
	struct cmd_buf cmd;

	if (cmd_record_event(&ctx, &e, &cmd) != 0)
		return -1;
	return proposer_submit(&a->proposer, &cmd, cb, r);
}

static void noted_added(void *arg, int status, const struct fsm_result *res)
{
	struct rejoin *r = arg;

	(void)res;
	if (status != 0) {
		serve_fail(r, status, "history");
		return;
	}
	serve_end(r, 200, NULL, NULL);
}

static void added(void *arg, int status)
{
	struct rejoin *r = arg;
	char what[256];

	if (status != 0) {
		serve_fail(r, status, "add back");
		return;
	}
	LOG_WARN(MOD, "rejoin of member %" PRIu64 ": added back as spare",
		 r->serving.id);
	snprintf(what, sizeof what,
		 "rebuild member %" PRIu64 " %s (data lost): added back as "
		 "spare",
		 r->serving.id, r->serving.name);
	if (note(r, what, noted_added) != 0)
		serve_end(r, 200, NULL, NULL); /* the change is made */
}

static void add_back(struct rejoin *r)
{
	struct agent *a = r->agent;
	int rv =
	    node_add(&a->node, r->serving.id, r->serving.address, added, r);

	if (rv != 0)
		serve_fail(r, rv, "add back");
}

static void noted_removed(void *arg, int status, const struct fsm_result *res)
{
	struct rejoin *r = arg;

	(void)res;
	if (status != 0) {
		serve_fail(r, status, "history");
		return;
	}
	add_back(r);
}

static void removed(void *arg, int status)
{
	struct rejoin *r = arg;
	char what[256];

	if (status != 0) {
		serve_fail(r, status, "remove");
		return;
	}
	r->serving.removed = true;
	LOG_WARN(MOD,
		 "rejoin of member %" PRIu64 ": old incarnation removed "
		 "(committed)",
		 r->serving.id);
	snprintf(what, sizeof what,
		 "rebuild member %" PRIu64 " %s (data lost): old incarnation "
		 "removed",
		 r->serving.id, r->serving.name);
	if (note(r, what, noted_removed) != 0)
		add_back(r);
}

void rejoin_route(void *module, struct http_request *req,
		  const struct route_params *p)
{
	struct rejoin *r = module;
	struct agent *a = r->agent;
	struct request_member m;
	struct request_error err;
	const struct raft_configuration *c;
	const struct fsm_member *fm;
	int rv;

	(void)p;
	if (request_member_add(req->body, req->body_len, &m, &err) != 0) {
		answer_request_error(req, &err);
		return;
	}
	/* an agent asks to rejoin for itself only */
	if (!caller_check(&r->quiet, req, m.id, NULL, NULL))
		return;
	if (m.id == a->cfg.agent_id) {
		http_respond_error(req, 409, "conflict",
				   "the leader cannot rejoin itself");
		return;
	}
	fm = fsm_member_find(&a->fsm, m.id);
	if (fm != NULL && fm->raft_address[0] != '\0' &&
	    strcmp(fm->raft_address, m.address) != 0) {
		char msg[256];

		snprintf(msg, sizeof msg,
			 "member %" PRIu64 " is registered at %s, not %s", m.id,
			 fm->raft_address, m.address);
		http_respond_error(req, 409, "conflict", msg);
		return;
	}
	c = node_configuration(&a->node);
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id != m.id &&
		    strcmp(c->servers[i].address, m.address) == 0) {
			http_respond_error(req, 409, "conflict",
					   "another member has that raft "
					   "address");
			return;
		}
	if (r->busy || node_changing(&a->node)) {
		http_respond_error(req, 503, "busy",
				   "a configuration change is in progress: "
				   "retry");
		return;
	}
	r->busy = true;
	r->serving.req = req;
	r->serving.id = m.id;
	r->serving.removed = false;
	snprintf(r->serving.address, sizeof r->serving.address, "%s",
		 m.address);
	snprintf(r->serving.name, sizeof r->serving.name, "%s",
		 fm != NULL ? fm->name : "?");
	LOG_WARN(MOD,
		 "member %" PRIu64 " %s asks to rejoin with an empty log: "
		 "removing the old incarnation first",
		 m.id, r->serving.name);
	if (node_role_of(&a->node, m.id) < 0) {
		add_back(r);
		return;
	}
	rv = node_remove(&a->node, m.id, removed, r);
	if (rv != 0)
		serve_fail(r, rv, "remove");
}
