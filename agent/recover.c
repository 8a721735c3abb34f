/* recover: forced quorum recovery (see recover.h). */
#include "agent/recover.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/answer.h"
#include "agent/log.h"
#include "consensus/cmd.h"

#define MOD "recover"
#define FILE_NAME "raft-recover.json"

static void file_path(const char *data_dir, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", data_dir, FILE_NAME);
}

int recover_load(const char *data_dir, struct node_config *nc, char *what,
		 size_t whatlen, char *errmsg, size_t errlen)
{
	char path[4200];
	json_error_t jerr;
	json_t *root, *voters, *v;
	size_t i;

	what[0] = '\0';
	file_path(data_dir, path, sizeof path);
	if (access(path, F_OK) != 0)
		return 0;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	voters = root != NULL ? json_object_get(root, "voters") : NULL;
	if (!json_is_array(voters) || json_array_size(voters) == 0 ||
	    json_array_size(voters) > NODE_MAX_PEERS) {
		snprintf(errmsg, errlen, "%s: not a recovery file (%s)", path,
			 root == NULL ? jerr.text : "bad voters");
		json_decref(root);
		return -EINVAL;
	}
	nc->n_recover = 0;
	json_array_foreach (voters, i, v) {
		json_int_t id = 0;
		const char *addr = NULL;

		if (json_unpack(v, "{s:I, s:s}", "id", &id, "address", &addr) !=
			0 ||
		    id <= 0 || strlen(addr) >= NODE_ADDR_LEN) {
			snprintf(errmsg, errlen, "%s: bad voter %zu", path, i);
			json_decref(root);
			return -EINVAL;
		}
		nc->recover[nc->n_recover].id = (uint64_t)id;
		snprintf(nc->recover[nc->n_recover].address, NODE_ADDR_LEN,
			 "%s", addr);
		nc->n_recover++;
	}
	snprintf(what, whatlen, "%s",
		 json_string_value(json_object_get(root, "what")) != NULL
		     ? json_string_value(json_object_get(root, "what"))
		     : "recover --force-quorum");
	json_decref(root);
	LOG_WARN(MOD, "APPLYING A FORCED QUORUM RECOVERY: the raft "
		      "configuration becomes %u voter(s) from %s",
		 nc->n_recover, path);
	return 0;
}

static void recover_done(const char *data_dir)
{
	char path[4200];

	file_path(data_dir, path, sizeof path);
	if (unlink(path) != 0 && errno != ENOENT)
		LOG_WARN(MOD, "cannot remove %s: %s", path, strerror(errno));
}

/* ---- the module ---- */

int recover_init(struct recover *r, const struct recover_deps *deps)
{
	memset(r, 0, sizeof *r);
	r->d = *deps;
	return 0;
}

void recover_started(struct recover *r)
{
	if (r->d.note[0] != '\0')
		recover_done(r->d.data_dir);
}

void recover_close(struct recover *r, void (*cb)(struct recover *r))
{
	r->closed = true;
	if (cb != NULL)
		cb(r);
}

/* ---- the request ---- */

static void recover_call(struct recover *r, struct http_request *req)
{
	const struct recover_host *h = r->d.host;
	const struct raft_configuration *c = h->ops->configuration(h->impl);
	uint64_t window = (uint64_t)r->d.lease_ms + r->d.grace_ms;
	json_error_t jerr;
	json_t *root, *voters, *file;
	int force = 0;
	unsigned voters_old = 0, voters_heard = 0, n_new = 0;
	char path[4200], tmp[4300], what[FSM_WHAT_LEN], who[FSM_WHO_LEN];
	char names[160] = "";

	root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
			  &jerr);
	if (root == NULL || json_unpack_ex(root, &jerr, JSON_STRICT, "{s:b}",
					   "force_quorum", &force) != 0 ||
	    !force) {
		json_decref(root);
		http_respond_error(req, 400, "invalid",
				   "body must be {\"force_quorum\": true}: a "
				   "forced recovery must be asked for "
				   "explicitly");
		return;
	}
	json_decref(root);
	voters = json_array();
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		bool heard = h->ops->heard(h->impl, s->id, window);

		if (s->role == RAFT_VOTER) {
			voters_old++;
			if (heard)
				voters_heard++;
		}
		if (!heard || n_new == NODE_MAX_PEERS || n_new == 5)
			continue;
		json_array_append_new(voters,
				      json_pack("{s:I, s:s}", "id",
						(json_int_t)s->id, "address",
						s->address));
		n_new++;
		snprintf(names + strlen(names), sizeof names - strlen(names),
			 "%s%" PRIu64, names[0] ? "," : "", (uint64_t)s->id);
	}
	if (voters_old == 0 || voters_heard * 2 > voters_old) {
		char msg[200];

		json_decref(voters);
		snprintf(msg, sizeof msg,
			 "the quorum is not lost: %u of %u voters answer; "
			 "nothing to recover",
			 voters_heard, voters_old);
		http_respond_error(req, 409, "quorum_not_lost", msg);
		return;
	}
	if (n_new == 0 || !h->ops->is_member(h->impl, r->d.self_id)) {
		json_decref(voters);
		http_respond_error(req, 409, "not_member",
				   "this agent is not in the raft "
				   "configuration");
		return;
	}
	r->d.who(req, who, sizeof who);
	snprintf(what, sizeof what,
		 "recover --force-quorum by %s: voters %s (%u of %u old voters "
		 "lost)",
		 who, names, voters_old - voters_heard, voters_old);
	file = json_pack("{s:o, s:s}", "voters", json_deep_copy(voters), "what",
			 what);
	file_path(r->d.data_dir, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	/* written once, before the agent restarts: a blocking write of a few
	 * bytes is acceptable on this exceptional path */
	if (file == NULL || json_dump_file(file, tmp, JSON_INDENT(2)) != 0 ||
	    rename(tmp, path) != 0) {
		json_decref(file);
		json_decref(voters);
		http_respond_error(req, 500, "internal",
				   "cannot write the recovery file");
		return;
	}
	json_decref(file);
	LOG_WARN(MOD, "FORCED QUORUM RECOVERY asked by %s: %u of %u voters "
		      "are lost; the new configuration is voters %s. The agent "
		      "restarts to apply it. Lost voters that return must be "
		      "removed or re-added.",
		 who, voters_old - voters_heard, voters_old, names);
	answer_json(req, 202,
		json_pack("{s:o, s:s}", "voters", voters, "warning",
			  "forced recovery: decisions the lost voters had "
			  "acknowledged but that never reached a survivor are "
			  "gone; the agent restarts now"));
	h->ops->restart(h->impl);
}

void recover_route(void *module, struct http_request *req,
		   const struct route_params *p)
{
	recover_call(module, req);
}

/* ---- the history note ---- */

static void noted(void *arg, int status, const struct fsm_result *res)
{
	struct recover *r = arg;

	r->noting = false;
	if (r->closed)
		return;
	if (status == 0 && res->code == FSM_OK) {
		LOG_WARN(MOD, "forced recovery recorded in the history "
			      "(decision %" PRIu64 ")",
			 res->seq);
		r->d.note[0] = '\0';
	}
}

void recover_tick(struct recover *r)
{
	struct cmd_ctx ctx = {.time_ms = clock_wall_ms(r->d.clock),
			      .who = "agent:recover"};
	struct cmd_event e = {
	    .what = r->d.note,
	    .forced = true,
	    .ok = true,
	    .keep = true, /* a recovery: kept in the history like forced ones */
	};
	struct cmd_buf cmd;

	if (r->closed || r->d.note[0] == '\0' || r->noting ||
	    !proposer_is_leader(r->d.proposer))
		return;
	if (cmd_record_event(&ctx, &e, &cmd) != 0)
		return;
	if (proposer_submit(r->d.proposer, &cmd, noted, r) == 0)
		r->noting = true;
}
