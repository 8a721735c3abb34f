/* members_join: how an agent enters the cluster (see members.h): its
 * registration in the applied state, its join to the Raft configuration,
 * and the leader's side of both (POST /v1/internal/register, POST
 * /v1/members, DELETE /v1/members/{id}). */
#include <errno.h>
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
#include "agent/request.h"

#define MOD "members"
#define MS MEMBERS_MS

/* Role of server id in c, or -1 when absent. */
static int role_of(const struct raft_configuration *c, uint64_t id)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id == id)
			return c->servers[i].role;
	return -1;
}

static const struct raft_configuration *configuration(struct members *m)
{
	return m->d.raft->ops->configuration(m->d.raft->impl);
}

/* ---- registration (this agent) ---- */

static bool registered(struct members *m)
{
	const struct fsm_member *want = &m->d.cfg.self;
	const struct fsm_member *have = fsm_member_find(m->d.fsm, want->id);

	return have != NULL && strcmp(have->name, want->name) == 0 &&
	       strcmp(have->site, want->site) == 0 &&
	       strcmp(have->pool, want->pool) == 0 &&
	       strcmp(have->raft_address, want->raft_address) == 0 &&
	       strcmp(have->data_address, want->data_address) == 0 &&
	       strcmp(have->api_address, want->api_address) == 0;
}

void members_on_applied(struct members *m)
{
	if (m->state == MEMBERS_UNINIT || m->reg_state == REG_SENDING)
		return;
	m->reg_state = registered(m) ? REG_DONE : REG_UNREGISTERED;
}

/* The state machine refused this agent's registration (code: its name,
 * message its reason): say it once as an error, ask again much later. */
static void reg_refused(struct members *m, const char *code,
			const char *message)
{
	char text[sizeof m->reg_refusal];

	snprintf(text, sizeof text, "%s: %s", code, message);
	m->reg_next_ns = members_now_ns(m) + MEMBERS_REG_REFUSED_MS * MS;
	if (strcmp(text, m->reg_refusal) == 0)
		return;
	snprintf(m->reg_refusal, sizeof m->reg_refusal, "%s", text);
	LOG_ERROR(MOD,
		  "registration of %s (id %" PRIu64 ", site %s, pool %s) "
		  "refused: %s; this agent serves nothing until its [agent] "
		  "section or the topology is fixed",
		  m->d.cfg.self.name, m->d.cfg.self.id, m->d.cfg.self.site,
		  m->d.cfg.self.pool[0] ? m->d.cfg.self.pool : "(witness)",
		  text);
}

static void reg_local_done(void *arg, int status, const struct fsm_result *res)
{
	struct members *m = arg;
	char buf[256];

	m->reg_state = REG_UNREGISTERED;
	if (status == 0 && res->code != FSM_OK) {
		reg_refused(m, fsm_code_name(res->code), res->reason);
		return;
	}
	if (status != 0 || res->code != FSM_OK) {
		LOG_WARN(MOD, "registration failed: %s",
			 status != 0 ? proposer_strerror(m->d.proposer, status,
							 buf, sizeof buf)
				     : res->reason);
		m->reg_next_ns = members_now_ns(m) + 1000 * MS;
		return;
	}
	members_on_applied(m);
	m->reg_refusal[0] = '\0';
	if (m->reg_state == REG_DONE)
		LOG_INFO(MOD, "registered as member %" PRIu64,
			 m->d.cfg.self.id);
}

static void reg_remote_done(void *arg, int err,
			    const struct hclient_response *resp)
{
	struct members *m = arg;

	m->reg_req = NULL;
	m->reg_state = REG_UNREGISTERED;
	if (members_closing(m))
		return;
	members_learn_hint(m, err, resp);
	if (err == 0 && resp->status == 307) {
		m->reg_next_ns = members_now_ns(m); /* repeat at the leader now */
		return;
	}
	if (err == 0 && (resp->status == 400 || resp->status == 409)) {
		/* refused by the state machine: {"error", "message"} */
		json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
		const char *code =
		    json_string_value(json_object_get(root, "error"));
		const char *msg =
		    json_string_value(json_object_get(root, "message"));

		if (code == NULL || strcmp(code, "busy") != 0) {
			reg_refused(m, code != NULL ? code : "refused",
				    msg != NULL ? msg : "");
			json_decref(root);
			return;
		}
		json_decref(root); /* busy: asked again shortly */
	}
	if (err != 0 || resp->status != 200) {
		LOG_DEBUG(MOD, "registration not accepted yet: %s",
			  err != 0 ? hclient_strerror(err) : resp->body);
		m->reg_next_ns = members_now_ns(m) + 1000 * MS;
		return;
	}
	/* done once the command reaches our own FSM */
	m->reg_next_ns = members_now_ns(m) + 2000 * MS;
	members_on_applied(m);
}

/* The leader registers itself through its own proposer. */
static void register_local(struct members *m, uint64_t now)
{
	const struct fsm_member *self = &m->d.cfg.self;
	struct request_cmd cmd = {0};
	struct request_ctx ctx;
	struct cmd_buf b;
	char who[FSM_WHO_LEN];

	snprintf(who, sizeof who, "agent:%s", self->name);
	ctx.time_ms = clock_wall_ms(m->d.clock);
	ctx.who = who;
	if (request_cmd_register_member(self, &ctx, &cmd) != 0)
		return;
	b.buf = cmd.buf;
	b.len = cmd.len;
	m->reg_state = REG_SENDING;
	if (proposer_submit(m->d.proposer, &b, reg_local_done, m) != 0) {
		m->reg_state = REG_UNREGISTERED;
		m->reg_next_ns = now + 500 * MS;
	}
}

/* A follower asks the leader to register it. */
static void register_remote(struct members *m, uint64_t now)
{
	const struct fsm_member *self = &m->d.cfg.self;
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	json_t *body;
	char *text;
	int rv;

	if (members_leader_target(m, host, &port) != 0)
		return;
	body = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
			 (json_int_t)self->id, "name", self->name, "site",
			 self->site, "pool", self->pool, "raft",
			 self->raft_address, "data", self->data_address, "api",
			 self->api_address);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		return;
	rv = hclient_request(m->d.calls, "POST", host, port,
			     "/v1/internal/register", NULL, text, strlen(text),
			     2000, reg_remote_done, m, &m->reg_req);
	free(text);
	if (rv == 0)
		m->reg_state = REG_SENDING;
	else
		m->reg_next_ns = now + 1000 * MS;
}

void members_register_tick(struct members *m)
{
	uint64_t now = members_now_ns(m);

	if (m->reg_state != REG_UNREGISTERED || now < m->reg_next_ns)
		return;
	if (proposer_is_leader(m->d.proposer))
		register_local(m, now);
	else
		register_remote(m, now);
}

/* ---- join (this agent) ---- */

static void join_done(void *arg, int err, const struct hclient_response *resp)
{
	struct members *m = arg;

	m->join_req = NULL;
	if (members_closing(m))
		return;
	if (err == 0 && (resp->status == 200 || resp->status == 202)) {
		LOG_INFO(MOD, "joined the cluster through %s", m->d.cfg.join);
		m->join_state = JOIN_DONE;
		return;
	}
	if (err == 0 && resp->status == 307 && resp->location != NULL) {
		/* ask the leader directly next time */
		snprintf(m->join_redirect, sizeof m->join_redirect, "%s",
			 resp->location);
		m->join_state = JOIN_WAITING;
		m->join_next_ns = members_now_ns(m);
		return;
	}
	LOG_WARN(MOD, "join through %s not accepted yet: %s",
		 m->join_redirect[0] ? m->join_redirect : m->d.cfg.join,
		 err != 0 ? hclient_strerror(err) : resp->body);
	m->join_redirect[0] = '\0';
	m->join_state = JOIN_WAITING;
	m->join_next_ns = members_now_ns(m) + (uint64_t)m->join_backoff_ms * MS;
	if (m->join_backoff_ms < 5000)
		m->join_backoff_ms *= 2;
}

void members_join_tick(struct members *m)
{
	const struct fsm_member *self = &m->d.cfg.self;
	char host[HCLIENT_HOST_MAX];
	char path[512];
	uint16_t port;
	char body[FSM_ADDR_LEN + 64];
	const char *url = m->join_redirect[0] ? m->join_redirect : m->d.cfg.join;
	int rv;

	if (m->join_state != JOIN_WAITING ||
	    members_now_ns(m) < m->join_next_ns)
		return;
	if (role_of(configuration(m), self->id) >= 0) {
		m->join_state = JOIN_DONE; /* already in the configuration */
		return;
	}
	if (hclient_parse_url(url, host, sizeof host, &port, path,
			      sizeof path) != 0) {
		LOG_ERROR(MOD, "join url %s is not a valid http url", url);
		m->join_redirect[0] = '\0';
		m->join_next_ns = members_now_ns(m) + 5000 * MS;
		return;
	}
	snprintf(body, sizeof body, "{\"id\":%" PRIu64 ",\"address\":\"%s\"}",
		 self->id, self->raft_address);
	rv = hclient_request(m->d.calls, "POST", host, port, "/v1/members",
			     NULL, body, strlen(body), 3000, join_done, m,
			     &m->join_req);
	if (rv != 0) {
		m->join_next_ns = members_now_ns(m) + 1000 * MS;
		return;
	}
	m->join_state = JOIN_ASKING;
}

/* ---- the leader's side: decisions asked through the API ---- */

struct members_op {
	struct members *m;
	struct http_request *req;
	uint64_t id;
	bool with_id; /* the answer names the member */
};

/* A proposal or configuration change failed with rv: count it, answer. */
static void op_failed(struct members *m, struct http_request *req, int rv)
{
	m->d.host->ops->decided(m->d.host->impl, rv, NULL);
	answer_proposal_error(req, m->d.proposer, rv);
}

static void op_decided(void *arg, int status, const struct fsm_result *res)
{
	struct members_op *op = arg;
	struct members *m = op->m;
	char msg[FSM_REASON_LEN + 64];

	if (status != 0) {
		op_failed(m, op->req, status);
		free(op);
		return;
	}
	m->d.host->ops->decided(m->d.host->impl, 0, res);
	if (res->code != FSM_OK) {
		snprintf(msg, sizeof msg, "%s",
			 res->reason[0] != '\0' ? res->reason
						: fsm_code_name(res->code));
		LOG_INFO(MOD, "refused decision %" PRIu64 ": %s: %s", res->seq,
			 fsm_code_name(res->code), msg);
		answer_fsm_refusal(op->req, res->code, msg);
	} else if (op->with_id) {
		answer_json(op->req, 200,
			    json_pack("{s:I, s:I}", "id", (json_int_t)op->id,
				      "decision", (json_int_t)res->seq));
	} else {
		answer_json(op->req, 200,
			    json_pack("{s:I}", "decision", (json_int_t)res->seq));
	}
	free(op);
}

/* Propose cmd (taken in every case); op (taken) answers when decided. */
static void propose(struct members *m, struct members_op *op,
		    struct request_cmd *cmd)
{
	struct cmd_buf b = {.buf = cmd->buf, .len = cmd->len};
	int rv;

	cmd->buf = NULL;
	rv = proposer_submit(m->d.proposer, &b, op_decided, op);
	if (rv != 0) {
		op_failed(m, op->req, rv);
		free(op);
	}
}

static struct members_op *op_new(struct members *m, struct http_request *req,
				 uint64_t id, bool with_id)
{
	struct members_op *op = calloc(1, sizeof *op);

	if (op == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return NULL;
	}
	op->m = m;
	op->req = req;
	op->id = id;
	op->with_id = with_id;
	return op;
}

/* ---- POST /v1/internal/register ---- */

int members_registration_parse(const char *body, size_t len,
			       struct fsm_member *out,
			       struct request_error *err)
{
	json_error_t jerr;
	json_t *root;
	json_int_t id = 0;
	const char *name, *site, *pool, *raft, *data, *api;

	memset(out, 0, sizeof *out);
	memset(err, 0, sizeof *err);
	err->status = 400;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL ||
	    json_unpack_ex(root, &jerr, JSON_STRICT,
			   "{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "id", &id,
			   "name", &name, "site", &site, "pool", &pool, "raft",
			   &raft, "data", &data, "api", &api) != 0 ||
	    id <= 0) {
		snprintf(err->code, sizeof err->code, "bad_json");
		snprintf(err->message, sizeof err->message,
			 "bad registration: %s", jerr.text);
		json_decref(root);
		return -1;
	}
	if (strlen(name) >= sizeof out->name ||
	    strlen(site) >= sizeof out->site ||
	    strlen(pool) >= sizeof out->pool ||
	    strlen(raft) >= sizeof out->raft_address ||
	    strlen(data) >= sizeof out->data_address ||
	    strlen(api) >= sizeof out->api_address) {
		json_decref(root);
		snprintf(err->code, sizeof err->code, "invalid");
		snprintf(err->message, sizeof err->message,
			 "a registration field is too long");
		return -1;
	}
	out->id = (uint64_t)id;
	strcpy(out->name, name);
	strcpy(out->site, site);
	strcpy(out->pool, pool);
	strcpy(out->raft_address, raft);
	strcpy(out->data_address, data);
	strcpy(out->api_address, api);
	json_decref(root);
	return 0;
}

void members_route_register(void *module, struct http_request *req,
			    const struct route_params *p)
{
	struct members *m = module;
	struct fsm_member fm;
	struct request_error err;
	struct request_cmd cmd = {0};
	struct request_ctx ctx;
	char who[FSM_WHO_LEN];
	struct members_op *op;

	(void)p;
	if (members_registration_parse(req->body, req->body_len, &fm, &err) !=
	    0) {
		http_respond_error(req, err.status, err.code, err.message);
		return;
	}
	/* an agent registers itself, never another: its certificate names
	 * the id and the pool ("" for a witness) it registers */
	if (!caller_check(&m->quiet, req, fm.id, fm.pool, NULL))
		return;
	snprintf(who, sizeof who, "agent:%s", fm.name);
	ctx.time_ms = clock_wall_ms(m->d.clock);
	ctx.who = who;
	if (request_cmd_register_member(&fm, &ctx, &cmd) != 0) {
		http_respond_error(req, 400, "invalid", "bad registration");
		return;
	}
	op = op_new(m, req, fm.id, false);
	if (op == NULL) {
		free(cmd.buf);
		return;
	}
	propose(m, op, &cmd);
}

/* ---- POST /v1/members ---- */

int members_join_check(const struct raft_configuration *c, uint64_t id,
		       const char *address, int *role, char *msg, size_t len)
{
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];

		if (s->id == id && strcmp(s->address, address) == 0) {
			*role = s->role;
			return 1;
		}
		if (s->id == id || strcmp(s->address, address) == 0) {
			snprintf(msg, len,
				 "member %" PRIu64 " at %s is already in the "
				 "cluster with another id or address",
				 (uint64_t)s->id, s->address);
			return -1;
		}
	}
	return 0;
}

static void member_added(void *arg, int status)
{
	struct members_op *op = arg;

	if (status != 0) {
		op_failed(op->m, op->req, status);
	} else {
		LOG_INFO(MOD, "added member %" PRIu64 " as spare", op->id);
		answer_json(op->req, 202,
			    json_pack("{s:I, s:s}", "id", (json_int_t)op->id,
				      "role", "spare"));
	}
	free(op);
}

void members_route_add(void *module, struct http_request *req,
		       const struct route_params *p)
{
	struct members *m = module;
	struct request_member rm;
	struct request_error err;
	struct members_op *op;
	char msg[256];
	int role = 0;
	int rv;

	(void)p;
	if (request_member_add(req->body, req->body_len, &rm, &err) != 0) {
		answer_request_error(req, &err);
		return;
	}
	switch (members_join_check(configuration(m), rm.id, rm.address, &role,
				   msg, sizeof msg)) {
	case 1:
		answer_json(req, 200,
			    json_pack("{s:I, s:s}", "id", (json_int_t)rm.id,
				      "role",
				      role == RAFT_VOTER     ? "voter"
				      : role == RAFT_STANDBY ? "standby"
							     : "spare"));
		return;
	case -1:
		http_respond_error(req, 409, "exists", msg);
		return;
	default:
		break;
	}
	op = op_new(m, req, rm.id, true);
	if (op == NULL)
		return;
	rv = m->d.raft->ops->add(m->d.raft->impl, rm.id, rm.address,
				 member_added, op);
	if (rv != 0) {
		free(op);
		op_failed(m, req, rv);
	}
}

/* ---- DELETE /v1/members/{id} ---- */

static void member_removed(void *arg, int status)
{
	struct members_op *op = arg;
	struct members *m = op->m;
	struct request_cmd cmd = {0};
	struct request_ctx ctx;
	char who[FSM_WHO_LEN];

	if (status != 0) {
		op_failed(m, op->req, status);
		free(op);
		return;
	}
	LOG_INFO(MOD, "removed member %" PRIu64 " from the raft configuration",
		 op->id);
	if (fsm_member_find(m->d.fsm, op->id) == NULL ||
	    !proposer_is_leader(m->d.proposer)) {
		answer_json(op->req, 200,
			    json_pack("{s:I, s:n}", "id", (json_int_t)op->id,
				      "decision"));
		free(op);
		return;
	}
	caller_who(op->req, who, sizeof who);
	ctx.time_ms = clock_wall_ms(m->d.clock);
	ctx.who = who;
	if (request_cmd_remove_member(op->id, &ctx, &cmd) != 0) {
		http_respond_error(op->req, 500, "internal", "out of memory");
		free(op);
		return;
	}
	propose(m, op, &cmd);
}

void members_route_remove(void *module, struct http_request *req,
			  const struct route_params *p)
{
	struct members *m = module;
	const char *idstr = route_param(p, "id");
	char *end;
	unsigned long long id;
	struct members_op *op;
	int rv;

	errno = 0;
	id = strtoull(idstr, &end, 10);
	if (errno != 0 || *end != '\0' || id == 0 || idstr[0] == '-') {
		http_respond_error(req, 400, "invalid",
				   "member id must be a positive integer");
		return;
	}
	if (role_of(configuration(m), id) < 0) {
		http_respond_error(req, 404, "not_found",
				   "no such member in the raft configuration");
		return;
	}
	if (id == m->d.cfg.self.id) {
		http_respond_error(req, 409, "in_use",
				   "the leader cannot remove itself: transfer "
				   "leadership or ask another agent");
		return;
	}
	op = op_new(m, req, id, true);
	if (op == NULL)
		return;
	rv = m->d.raft->ops->remove(m->d.raft->impl, id, member_removed, op);
	if (rv != 0) {
		free(op);
		op_failed(m, req, rv);
	}
}
