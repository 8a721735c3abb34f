/* agent: wiring of one poolpaird process (see agent.h). */
#include "agent/agent.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/api.h"
#include "agent/backup.h"
#include "agent/clock.h"
#include "agent/log.h"
#include "agent/notify.h"
#include "agent/recover.h"
#include "agent/risk.h"
#include "agent/users.h"

#define MOD "agent"

static const char *state_name(int state)
{
	switch (state) {
	case AGENT_INIT:
		return "init";
	case AGENT_RUNNING:
		return "running";
	case AGENT_STOPPING:
		return "stopping";
	case AGENT_CLOSING:
		return "closing";
	case AGENT_CLOSED:
		return "closed";
	default:
		return "?";
	}
}

void agent_set_state(struct agent *a, int state)
{
	if (a->state == state)
		return;
	LOG_INFO(MOD, "%s -> %s", state_name(a->state), state_name(state));
	a->state = state;
}

uint64_t agent_now_ms(void)
{
	return clock_wall_ms(clock_system());
}

void agent_who(const struct http_request *req, char *out, size_t len)
{
	const char *who = http_request_header(req, "X-Poolpair-Who");

	if (who != NULL && who[0] != '\0')
		snprintf(out, len, "%s", who);
	else
		snprintf(out, len, "api:%s", req->peer);
}

static void on_applied(void *arg)
{
	struct agent *a = arg;

	api_on_applied(&a->apis);
	members_on_applied(&a->members);
	dataplane_on_applied(&a->data);
}

/* ---- failover: its view of the other modules (failover.h) ---- */

static uint64_t fo_silence_ms(void *impl, const char *pool)
{
	struct agent *a = impl;

	return members_pool_silence_ms(&a->members, pool, NULL);
}

static bool fo_report(void *impl, const char *pool, const char *user_set,
		      uint64_t max_age_ms, struct failover_lag *lag,
		      uint64_t *age_ms)
{
	struct agent *a = impl;
	const struct members_set_report *rep = members_set_report_aged(
	    &a->members, pool, user_set, max_age_ms, age_ms);

	if (rep == NULL)
		return false;
	*lag = (struct failover_lag){rep->lag_records, rep->lag_bytes,
				     rep->lag_ms, rep->drained};
	return true;
}

static uint64_t fo_leader_since_ns(void *impl)
{
	struct agent *a = impl;

	return a->members.leader_since_ns;
}

static bool fo_lease_valid(void *impl)
{
	struct agent *a = impl;

	return members_lease_valid(&a->members);
}

static int fo_measure(void *impl, const char *pool, bool ask_live, risk_cb cb,
		      void *arg)
{
	struct agent *a = impl;

	return risk_measure(&a->risk, pool, ask_live, cb, arg);
}

static const struct failover_liveness_ops fo_liveness = {
    .silence_ms = fo_silence_ms,
    .report = fo_report,
    .leader_since_ns = fo_leader_since_ns,
    .lease_valid = fo_lease_valid,
    .measure = fo_measure,
};

/* ---- risk: its view of members (risk.h) ---- */

static uint64_t risk_heard_last(void *impl, const char *pool)
{
	struct agent *a = impl;
	const struct members_seen *seen = NULL;

	members_pool_silence_ms(&a->members, pool, &seen);
	return seen != NULL ? seen->id : 0;
}

static bool risk_last_report(void *impl, const char *pool,
			     struct risk_figure *r)
{
	struct agent *a = impl;
	uint64_t age = 0;
	const struct members_set_report *rep = members_set_report_aged(
	    &a->members, pool, pool, UINT64_MAX, &age);

	if (rep == NULL)
		return false;
	r->records = rep->lag_records;
	r->bytes = rep->lag_bytes;
	r->ms = rep->lag_ms;
	r->age_ms = age;
	return true;
}

static const struct risk_ops risk_members = {
    .heard_last = risk_heard_last,
    .last_report = risk_last_report,
};

static void risk_setup(struct agent *a)
{
	struct risk_deps d = {
	    .fsm = &a->fsm,
	    .calls = &a->calls,
	    .clock = a->clock,
	    .data = &a->data,
	    .agent_id = a->cfg.agent_id,
	    .ops = &risk_members,
	    .impl = a,
	};

	risk_init(&a->risk, &d);
}

static int failover_setup(struct agent *a)
{
	struct failover_deps d = {
	    .loop = a->loop,
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .calls = &a->calls,
	    .clock = a->clock,
	    .liveness = {&fo_liveness, a},
	    .who = agent_who,
	    .lease_ms = a->cfg.lease_ms,
	    .grace_ms = a->cfg.grace_ms,
	    .hook_timeout_ms = a->cfg.hook_timeout_ms,
	    .pre_failover = a->cfg.pre_failover,
	    .fence_command = a->cfg.fence_command,
	    .on_owner_change = a->cfg.on_owner_change,
	};

	return failover_init(&a->failover, &d);
}

static int cms_move_setup(struct agent *a)
{
	struct cms_move_deps d = {
	    .loop = a->loop,
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .liveness = {&fo_liveness, a},
	    .who = agent_who,
	    .lease_ms = a->cfg.lease_ms,
	    .grace_ms = a->cfg.grace_ms,
	};

	return cms_move_init(&a->cms_move, &d);
}

static void cms_move_closed(struct cms_move *cm)
{
	struct agent *a = (struct agent *)((char *)cm -
					   offsetof(struct agent, cms_move));

	a->pending_closes--;
	agent_closed_one(a);
}

static void failover_closed(struct failover *fo)
{
	struct agent *a = (struct agent *)((char *)fo -
					   offsetof(struct agent, failover));

	a->pending_closes--;
	agent_closed_one(a);
}

/* ---- the policy watch: its view of members (policy.h) ---- */

static bool pw_current(void *impl)
{
	struct agent *a = impl;

	return members_view_current(&a->members);
}

static const struct policy_view_ops pw_view = {
    .current = pw_current,
    .leader_since_ns = fo_leader_since_ns,
};

static int policy_setup(struct agent *a)
{
	struct policy_deps d = {
	    .loop = a->loop,
	    .cfg = &a->cfg,
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .view = &pw_view,
	    .view_impl = a,
	};

	return policy_init(&a->policy, &d);
}

static void policy_closed(struct policy_watch *pw)
{
	struct agent *a = (struct agent *)((char *)pw -
					   offsetof(struct agent, policy));

	a->pending_closes--;
	agent_closed_one(a);
}

/* ---- what verify needs from the data plane ---- */

static bool verify_store_ready(void *impl, struct http_request *req)
{
	struct agent *a = impl;

	return users_ready(&a->data, req);
}

static uint64_t verify_hlc(void *impl)
{
	struct agent *a = impl;

	return dataplane_hlc(&a->data);
}

static const struct verify_data_ops verify_data_ops = {
    .ready = verify_store_ready,
    .hlc = verify_hlc,
};

/* ---- closing ---- */

void agent_closed_one(struct agent *a)
{
	if (a->pending_closes == 0 && a->state == AGENT_CLOSING) {
		agent_set_state(a, AGENT_CLOSED);
		/* an async reload in flight releases it when it ends */
		if (a->tls_on && !a->tls.reloading)
			tls_ctx_close(&a->tls);
		LOG_INFO(MOD, "stopped");
	}
}

static void handle_closed(uv_handle_t *h)
{
	struct agent *a = h->data;

	a->pending_closes--;
	agent_closed_one(a);
}

static void api_closed(struct http_server *s)
{
	struct agent *a =
	    (struct agent *)((char *)s - offsetof(struct agent, api));

	a->pending_closes--;
	agent_closed_one(a);
}

static void close_handle(struct agent *a, uv_handle_t *h)
{
	if (h->loop == NULL || uv_is_closing(h))
		return;
	h->data = a;
	a->pending_closes++;
	uv_close(h, handle_closed);
}

static void calls_closed(struct hclient *c)
{
	struct agent *a = c->data;

	a->pending_closes--;
	agent_closed_one(a);
}

static void members_closed(struct members *m)
{
	struct agent *a = (struct agent *)((char *)m -
					   offsetof(struct agent, members));

	a->pending_closes--;
	agent_closed_one(a);
}

static void node_closed_cb(struct node *n)
{
	struct agent *a = (struct agent *)((char *)n -
					   offsetof(struct agent, node));

	a->pending_closes--;
	agent_closed_one(a);
}

static void verify_closed(struct verify *v)
{
	struct agent *a = (struct agent *)((char *)v -
					   offsetof(struct agent, verify));

	a->pending_closes--;
	agent_closed_one(a);
}

/* ---- the data modules: their dependencies on the others ---- */

static bool data_lease_held(void *impl)
{
	return members_lease_valid(impl);
}

static bool data_view_current(void *impl)
{
	return members_view_current(impl);
}

static const struct dataplane_lease_ops data_lease_ops = {
    .held = data_lease_held,
    .view_current = data_view_current,
};

static const struct members_seen *backup_seen(void *impl, uint64_t id)
{
	return members_seen_get(impl, id);
}

static void data_closed(struct dataplane *dp)
{
	struct agent *a =
	    (struct agent *)((char *)dp - offsetof(struct agent, data));

	a->pending_closes--;
	agent_closed_one(a);
}

static void users_closed(struct users *u)
{
	struct agent *a =
	    (struct agent *)((char *)u - offsetof(struct agent, users));

	a->pending_closes--;
	agent_closed_one(a);
}

static int data_init(struct agent *a)
{
	const struct config *cfg = &a->cfg;
	struct dataplane_deps dd = {
	    .loop = a->loop,
	    .fsm = &a->fsm,
	    .clock = a->clock,
	    .lease = {&data_lease_ops, &a->members},
	    .tls = agent_tls(a),
	    .tls_require = cfg->tls_require != 0,
	    .agent_id = cfg->agent_id,
	    .pool = cfg->pool,
	    .data_dir = cfg->data_dir,
	    .data_host = cfg->listen_data.host,
	    .data_port = cfg->listen_data.port,
	};
	struct users_deps ud = {
	    .loop = a->loop,
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .data = &a->data,
	    .pool = cfg->pool,
	};
	struct content_deps cd = {
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .data = &a->data,
	    .pool = cfg->pool,
	};
	int rv;

	a->backup_src = (struct backup_cluster_src){
	    .fsm = &a->fsm,
	    .data = &a->data,
	    .seen = backup_seen,
	    .seen_impl = &a->members,
	    .self_id = cfg->agent_id,
	    .self_name = cfg->agent_name,
	    .stale_ms = (uint64_t)cfg->lease_ms + cfg->grace_ms,
	};
	rv = dataplane_init(&a->data, &dd);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "%s", a->data.errmsg);
		return rv;
	}
	users_init(&a->users, &ud);
	content_init(&a->content, &cd);
	return 0;
}

static void close_all(struct agent *a)
{
	if (a->state == AGENT_CLOSING || a->state == AGENT_CLOSED)
		return;
	agent_set_state(a, AGENT_CLOSING);
	if (a->members.state == MEMBERS_READY ||
	    a->members.state == MEMBERS_RUNNING) {
		a->pending_closes++;
		members_close(&a->members, members_closed);
	}
	if (failover_close(&a->failover, failover_closed) == 0)
		a->pending_closes++;
	if (policy_close(&a->policy, policy_closed) == 0)
		a->pending_closes++;
	if (cms_move_close(&a->cms_move, cms_move_closed) == 0)
		a->pending_closes++;
	if (a->users.deps.data != NULL) { /* users_init() done */
		a->pending_closes++;
		users_close(&a->users, users_closed);
	}
	if (a->calls.state == HCLIENT_OPEN) {
		/* what is still in flight is cancelled (UV_ECANCELED) */
		a->pending_closes++;
		hclient_close(&a->calls, calls_closed);
	}
	if (a->data.deps.fsm != NULL) { /* dataplane_init() called */
		a->pending_closes++;
		dataplane_close(&a->data, data_closed);
	}
	if (a->api.state == HTTP_SERVER_RUNNING && a->api.loop != NULL) {
		a->pending_closes++;
		http_server_close(&a->api, api_closed);
	}
	a->pending_closes++;
	node_close(&a->node, node_closed_cb);
	/* after node_close: the count stays above zero if verify's callback
	 * fires at once (no verify running) */
	a->pending_closes++;
	verify_close(&a->verify, verify_closed);
	close_handle(a, (uv_handle_t *)&a->sigterm);
	close_handle(a, (uv_handle_t *)&a->sigint);
	close_handle(a, (uv_handle_t *)&a->sighup);
	close_handle(a, (uv_handle_t *)&a->watchdog);
	close_handle(a, (uv_handle_t *)&a->stop_timer);
}

static void transfer_timeout(uv_timer_t *t)
{
	struct agent *a = t->data;

	LOG_WARN(MOD, "leadership transfer did not finish in time");
	close_all(a);
}

static void transferred(void *arg, int status)
{
	struct agent *a = arg;

	/* after the timeout the node is already closing: nothing to say */
	if (a->state == AGENT_STOPPING) {
		uv_timer_stop(&a->stop_timer);
		LOG_INFO(MOD, "leadership transfer %s",
			 node_is_leader(&a->node) ? "did not complete"
						  : "done");
	}
	close_all(a);
}

void agent_stop(struct agent *a)
{
	int rv;

	if (a->state != AGENT_RUNNING && a->state != AGENT_INIT)
		return;
	notify_stopping();
	agent_set_state(a, AGENT_STOPPING);
	if (node_is_leader(&a->node)) {
		rv = node_transfer(&a->node, 0, transferred, a);
		if (rv == 0) {
			LOG_INFO(MOD, "transferring leadership before stopping");
			uv_timer_start(&a->stop_timer, transfer_timeout,
				       2ULL * a->cfg.election_timeout_ms, 0);
			return;
		}
		LOG_INFO(MOD, "no leadership transfer: %s", node_strerror(rv));
	}
	close_all(a);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct agent *a = s->data;

	LOG_INFO(MOD, "received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	agent_stop(a);
}

/* Say when our own certificate is unusable or close to its end. */
static void tls_check_validity(const struct tls_ctx *c)
{
	int64_t left = c->not_after - (int64_t)time(NULL);

	if (c->warning[0] != '\0')
		LOG_ERROR("tls", "%s", c->warning);
	else if (left < 30 * 86400)
		LOG_WARN("tls",
			 "cert %s expires in %lld days: renew it and send "
			 "SIGHUP",
			 c->cert, (long long)(left / 86400));
}

static void tls_reloaded(struct tls_ctx *c, int status, void *arg)
{
	struct agent *a = arg;

	if (a->state == AGENT_CLOSED) {
		tls_ctx_close(c);
		return;
	}
	if (status != 0) {
		LOG_ERROR("tls",
			  "reload failed, the current certificates stay in "
			  "use: %s",
			  c->errmsg);
		return;
	}
	LOG_INFO("tls",
		 "reloaded %s (CN=%s, role %s, generation %llu): new "
		 "connections use it, open ones keep theirs",
		 c->cert, c->identity, tls_role_name(c->role),
		 (unsigned long long)c->generation);
	tls_check_validity(c);
}

static void on_sighup(uv_signal_t *s, int signum)
{
	struct agent *a = s->data;
	int rv;

	(void)signum;
	if (!a->tls_on) {
		LOG_INFO("tls", "SIGHUP: no [tls] section, nothing to reload");
		return;
	}
	LOG_INFO("tls", "SIGHUP: reloading %s, %s and %s", a->tls.ca,
		 a->tls.cert, a->tls.key);
	rv = tls_ctx_reload_async(&a->tls, a->loop, tls_reloaded, a);
	if (rv != 0)
		LOG_WARN("tls", "SIGHUP: %s",
			 rv == TLS_E_STATE ? "a reload is already running"
					   : tls_strerror(rv));
}

static void raft_tls_log(void *arg, bool warn, const char *msg)
{
	(void)arg;
	if (warn)
		LOG_WARN("raft", "%s", msg);
	else
		LOG_INFO("raft", "%s", msg);
}

struct tls_ctx *agent_tls(struct agent *a)
{
	return a->tls_on ? &a->tls : NULL;
}

const char *agent_api_scheme(const struct agent *a)
{
	return a->tls_on ? "https" : "http";
}

/* [tls]: the context every link uses. Its own certificate must say agent. */
static int tls_setup(struct agent *a, const struct config *cfg)
{
	int rv;

	if (cfg->tls_ca[0] == '\0')
		return 0;
	rv = tls_ctx_init(&a->tls, cfg->tls_ca, cfg->tls_cert, cfg->tls_key);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "tls: %s",
			 a->tls.errmsg);
		return rv;
	}
	if (a->tls.role != TLS_ROLE_AGENT) {
		snprintf(a->errmsg, sizeof a->errmsg,
			 "tls: cert %s has role %s; an agent needs role agent",
			 cfg->tls_cert, tls_role_name(a->tls.role));
		tls_ctx_close(&a->tls);
		return TLS_E_CONFIG;
	}
	a->tls_on = true;
	LOG_INFO("tls",
		 "TLS 1.3 on raft, replication and the API as %s (role "
		 "agent)%s",
		 a->tls.identity,
		 cfg->tls_require ? ""
				  : "; plain peers accepted (require = "
				    "false; the API still requires TLS)");
	tls_check_validity(&a->tls);
	return 0;
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	notify_watchdog();
}

/* ---- set-up ---- */

/* What the view reads of the other modules (view.h). */
static const struct raft_configuration *view_configuration(void *impl)
{
	struct agent *a = impl;

	return node_configuration(&a->node);
}

static const char *view_raft_state(void *impl)
{
	struct agent *a = impl;

	return node_state_name(&a->node);
}

static uint64_t view_leader_raft(void *impl, const char **address)
{
	struct agent *a = impl;

	return node_leader(&a->node, address);
}

static int view_reachable(void *impl, uint64_t id)
{
	struct agent *a = impl;

	return members_reachable(&a->members, id);
}

static bool view_heard(void *impl, uint64_t id, struct view_heard *out)
{
	struct agent *a = impl;
	const struct members_seen *s = members_seen_get(&a->members, id);

	if (s == NULL)
		return false;
	out->last_ns = s->last_ns;
	out->lease = s->lease;
	return true;
}

static void view_lease(void *impl, struct view_lease *out)
{
	struct agent *a = impl;

	out->valid = members_lease_valid(&a->members);
	out->left_ms =
	    lease_left_ms(&a->members.lease, clock_mono_ns(a->clock));
	out->granted_by = a->members.lease.granted_by;
	out->source = lease_source_name(a->members.lease.source);
	out->view_current = members_view_current(&a->members);
}

static const char *view_auto_refusal(void *impl, const char *pool)
{
	struct agent *a = impl;

	return failover_refusal(&a->failover, pool);
}

static json_t *view_backup(void *impl)
{
	struct agent *a = impl;

	return backup_cluster(&a->backup_src);
}

static const struct view_sources_ops view_sources_ops = {
    .configuration = view_configuration,
    .raft_state = view_raft_state,
    .leader_raft = view_leader_raft,
    .reachable = view_reachable,
    .heard = view_heard,
    .lease = view_lease,
    .auto_refusal = view_auto_refusal,
    .backup = view_backup,
};

/* What the metrics read of the other modules (metrics.h). */
static const struct raft_configuration *metrics_configuration(void *impl)
{
	struct agent *a = impl;

	return node_configuration(&a->node);
}

static uint64_t metrics_last_index(void *impl)
{
	struct agent *a = impl;

	return node_last_index(&a->node);
}

static void metrics_snapshots(void *impl, uint64_t *taken, uint64_t *restored)
{
	struct agent *a = impl;

	*taken = a->node.snapshots_taken;
	*restored = a->node.snapshots_restored;
}

static int metrics_reachable(void *impl, uint64_t id)
{
	struct agent *a = impl;

	return members_reachable(&a->members, id);
}

static void metrics_members(void *impl, struct metrics_members *out)
{
	struct agent *a = impl;
	const struct members *m = &a->members;

	out->barrier_proved_ns = m->barrier_proved_ns;
	out->echoes_proved_ns = m->echoes_proved_ns;
	out->barrier_took_ns = m->barrier_took_ns;
	out->heartbeats_sent = m->heartbeats_sent;
	out->heartbeats_failed = m->heartbeats_failed;
}

static uint64_t metrics_redirects(void *impl)
{
	struct agent *a = impl;

	return a->router.redirects;
}

static bool metrics_data(void *impl, struct metrics_data *out)
{
	struct agent *a = impl;
	struct dataplane *dp = &a->data;

	if (dp->state == DP_NONE)
		return false;
	out->store_open = dp->state == DP_OPEN;
	out->writes_ok = dp->writes_ok;
	out->writes_refused = dp->writes_refused;
	if (out->store_open) {
		out->transactions = dp->store.stats.transactions;
		out->commit_ns = dp->store.stats.commit_ns;
	}
	out->sync = dp->sync == SYNC_ON	      ? METRICS_SYNC_ON
		    : dp->sync == SYNC_FALLBACK ? METRICS_SYNC_FALLBACK
						: METRICS_SYNC_OFF;
	out->sync_fallbacks = dp->sync_fallbacks;
	out->streams = backup_local(dp);
	return true;
}

static const struct metrics_sources_ops metrics_sources_ops = {
    .configuration = metrics_configuration,
    .last_index = metrics_last_index,
    .snapshots = metrics_snapshots,
    .reachable = metrics_reachable,
    .members = metrics_members,
    .redirects = metrics_redirects,
    .data = metrics_data,
};

static int metrics_setup(struct agent *a)
{
	struct metrics_deps d = {
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .src = &a->metrics_src,
	    .started_ns = a->started_ns,
	};

	a->metrics_src.ops = &metrics_sources_ops;
	a->metrics_src.impl = a;
	return metrics_init(&a->metrics, &d);
}

static int api_setup(struct agent *a)
{
	struct api_deps d = {
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .view = &a->view,
	    .metrics = &a->metrics,
	    .router = &a->router,
	    .who = agent_who,
	};

	return api_init(&a->apis, &d);
}

/* What recover asks of the rest of the agent (recover.h). */
static const struct raft_configuration *recover_configuration(void *impl)
{
	struct agent *a = impl;

	return node_configuration(&a->node);
}

static bool recover_heard(void *impl, uint64_t id, uint64_t window_ms)
{
	struct agent *a = impl;

	return members_heard(&a->members, id, window_ms);
}

static bool recover_is_member(void *impl, uint64_t id)
{
	struct agent *a = impl;

	return node_role_of(&a->node, id) >= 0;
}

static void recover_restart(void *impl)
{
	struct agent *a = impl;

	a->restart_requested = true;
	agent_stop(a);
}

static const struct recover_host_ops recover_host_ops = {
    .configuration = recover_configuration,
    .heard = recover_heard,
    .is_member = recover_is_member,
    .restart = recover_restart,
};

static int recover_setup(struct agent *a, const struct config *cfg,
			 const char *note)
{
	struct recover_deps d = {
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .host = &a->recover_host,
	    .who = agent_who,
	    .self_id = cfg->agent_id,
	    .lease_ms = cfg->lease_ms,
	    .grace_ms = cfg->grace_ms,
	};

	a->recover_host.ops = &recover_host_ops;
	a->recover_host.impl = a;
	snprintf(d.data_dir, sizeof d.data_dir, "%s", cfg->data_dir);
	snprintf(d.note, sizeof d.note, "%s", note);
	return recover_init(&a->recover, &d);
}

void recover_note_tick(struct agent *a)
{
	recover_tick(&a->recover);
}

static int view_setup(struct agent *a, const struct config *cfg)
{
	struct view_deps d = {
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .src = &a->view_src,
	    .self_id = cfg->agent_id,
	    .lease_ms = cfg->lease_ms,
	    .grace_ms = cfg->grace_ms,
	    .started_ns = a->started_ns,
	};

	a->view_src.ops = &view_sources_ops;
	a->view_src.impl = a;
	snprintf(d.self_name, sizeof d.self_name, "%s", cfg->agent_name);
	snprintf(d.self_site, sizeof d.self_site, "%s", cfg->site);
	snprintf(d.self_pool, sizeof d.self_pool, "%s", cfg->pool);
	return view_init(&a->view, &d);
}

/* What members asks of the rest of the agent (members.h). */
static unsigned members_set_reports(void *impl, struct members_set_report *out,
				    unsigned max)
{
	struct agent *a = impl;

	return dataplane_set_reports(&a->data, out, max);
}

static unsigned members_stream_reports(void *impl,
				       struct members_stream_report *out,
				       unsigned max)
{
	struct agent *a = impl;

	return backup_stream_reports(&a->data, out, max);
}

static void members_leader_tick(void *impl) { recover_note_tick(impl); }

static int members_may_write(void *impl, const struct fsm_pool *p, char *why,
			     size_t len)
{
	struct agent *a = impl;

	return dataplane_may_write(&a->data, p, why, len);
}

static void members_decided(void *impl, int status,
			    const struct fsm_result *res)
{
	struct agent *a = impl;

	metrics_decided(&a->metrics, status, res);
}

static const struct members_host_ops members_host_ops = {
    .set_reports = members_set_reports,
    .stream_reports = members_stream_reports,
    .leader_tick = members_leader_tick,
    .may_write = members_may_write,
    .decided = members_decided,
};

static int members_setup(struct agent *a, const struct config *cfg)
{
	struct members_deps d = {
	    .loop = a->loop,
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .raft = &a->members_raft,
	    .calls = &a->calls,
	    .clock = a->clock,
	    .host = &a->members_host,
	};
	struct fsm_member *self = &d.cfg.self;

	members_raft_node(&a->members_raft, &a->node);
	a->members_host.ops = &members_host_ops;
	a->members_host.impl = a;
	self->id = cfg->agent_id;
	snprintf(self->name, sizeof self->name, "%s", cfg->agent_name);
	snprintf(self->site, sizeof self->site, "%s", cfg->site);
	snprintf(self->pool, sizeof self->pool, "%s", cfg->pool);
	snprintf(self->raft_address, sizeof self->raft_address, "%s",
		 cfg->listen_raft.address);
	snprintf(self->data_address, sizeof self->data_address, "%s",
		 cfg->listen_data.address);
	snprintf(self->api_address, sizeof self->api_address, "%s",
		 cfg->listen_api.address);
	snprintf(d.cfg.join, sizeof d.cfg.join, "%s", cfg->join);
	d.cfg.heartbeat_ms = cfg->heartbeat_ms;
	d.cfg.lease_ms = cfg->lease_ms;
	d.cfg.grace_ms = cfg->grace_ms;
	d.cfg.drift_margin_ms = cfg->drift_margin_ms;
	d.cfg.election_timeout_ms = cfg->election_timeout_ms;
	d.cfg.max_voters = cfg->max_voters;
	return members_init(&a->members, &d);
}

static void to_node_config(const struct config *c, struct node_config *nc)
{
	memset(nc, 0, sizeof *nc);
	nc->id = c->agent_id;
	snprintf(nc->address, sizeof nc->address, "%s", c->listen_raft.address);
	snprintf(nc->dir, sizeof nc->dir, "%s/raft", c->data_dir);
	for (unsigned i = 0; i < c->n_bootstrap && i < NODE_MAX_PEERS; i++) {
		nc->bootstrap[i].id = c->bootstrap[i].id;
		snprintf(nc->bootstrap[i].address,
			 sizeof nc->bootstrap[i].address, "%s",
			 c->bootstrap[i].address);
		nc->n_bootstrap++;
	}
	nc->max_voters = c->max_voters;
	nc->election_timeout_ms = c->election_timeout_ms;
	nc->heartbeat_timeout_ms = c->heartbeat_timeout_ms;
	nc->snapshot_threshold = c->snapshot_threshold;
	nc->snapshot_trailing = c->snapshot_trailing;
}

int agent_init(struct agent *a, uv_loop_t *loop, const struct config *cfg)
{
	char recover_note[FSM_WHAT_LEN];
	struct node_config nc;
	struct http_server_config hc;
	int rv;

	memset(a, 0, sizeof *a);
	a->loop = loop;
	a->cfg = *cfg;
	a->clock = clock_system();
	a->started_ns = uv_hrtime();
	a->state = AGENT_INIT;
	fsm_init(&a->fsm);

	rv = tls_setup(a, cfg);
	if (rv != 0)
		return rv;
	rv = hclient_init(&a->calls, loop, agent_tls(a));
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "http client: %s",
			 uv_strerror(rv));
		return rv;
	}
	a->calls.data = a;
	to_node_config(cfg, &nc);
	if (a->tls_on) {
		nc.tls.ctx = &a->tls;
		nc.tls.require = cfg->tls_require != 0;
		nc.tls.handshake_ms = 5000; /* a silent peer costs no more */
		nc.tls.log = raft_tls_log;
		nc.tls.log_arg = a;
	}
	rv = recover_load(cfg->data_dir, &nc, recover_note, sizeof recover_note,
			  a->errmsg, sizeof a->errmsg);
	if (rv != 0)
		return rv;
	rv = node_init(&a->node, loop, &nc, &a->fsm);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "raft: %s",
			 a->node.errmsg);
		return rv;
	}
	node_set_applied_cb(&a->node, on_applied, a);
	proposer_node(&a->proposer, &a->node);
	view_setup(a, cfg);
	recover_setup(a, cfg, recover_note);
	metrics_setup(a);
	api_setup(a);

	rv = policy_setup(a);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "policy: %s",
			 uv_strerror(rv));
		return rv;
	}
	risk_setup(a);
	rv = failover_setup(a);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "failover: %s",
			 uv_strerror(rv));
		return rv;
	}
	rv = cms_move_setup(a);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "cms: %s",
			 uv_strerror(rv));
		return rv;
	}

	rv = members_setup(a, cfg);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "members: %s",
			 uv_strerror(rv));
		return rv;
	}

	rv = data_init(a);
	if (rv != 0)
		return rv;

	{
		struct verify_deps vd = {
		    .loop = loop,
		    .fsm = &a->fsm,
		    .proposer = &a->proposer,
		    .store = &a->data.store,
		    .calls = &a->calls,
		    .clock = a->clock,
		    .pool = a->cfg.pool,
		    .data_ops = &verify_data_ops,
		    .data = a,
		};

		rv = verify_init(&a->verify, &vd);
		if (rv != 0) {
			snprintf(a->errmsg, sizeof a->errmsg, "verify: %s",
				 uv_strerror(rv));
			return rv;
		}
	}

	{
		struct router_config rc = {
		    .routes = agent_routes,
		    .n_routes = agent_routes_count,
		    .modules = {[ROUTE_MOD_AGENT] = a,
				[ROUTE_MOD_API] = &a->apis,
				[ROUTE_MOD_FAILOVER] = &a->failover,
				[ROUTE_MOD_CMS_MOVE] = &a->cms_move,
				[ROUTE_MOD_RISK] = &a->risk,
				[ROUTE_MOD_VERIFY] = &a->verify,
				[ROUTE_MOD_RECOVER] = &a->recover,
				[ROUTE_MOD_MEMBERS] = &a->members,
				[ROUTE_MOD_USERS] = &a->users,
				[ROUTE_MOD_CONTENT] = &a->content},
		    .proposer = &a->proposer,
		    .scheme = agent_api_scheme(a),
		    .roles = a->tls_on,
		};

		rv = router_init(&a->router, &rc, a->errmsg, sizeof a->errmsg);
		if (rv != 0)
			return rv;
	}

	memset(&hc, 0, sizeof hc);
	hc.max_body = ((size_t)1 << 20) + 4096; /* a user-data value: 1 MiB */
	hc.host = strcmp(cfg->listen_api.host, "localhost") == 0
		      ? "127.0.0.1"
		      : cfg->listen_api.host;
	hc.port = cfg->listen_api.port;
	hc.on_done = api_on_done;
	hc.stream_match = api_stream_match;
	hc.tls = agent_tls(a);
	rv = http_server_init(&a->api, loop, &hc, api_handle, &a->apis);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "api listen %s: %s",
			 cfg->listen_api.address, uv_strerror(rv));
		a->api.state = HTTP_SERVER_CLOSED;
		return rv;
	}

	uv_signal_init(loop, &a->sigterm);
	uv_signal_init(loop, &a->sigint);
	uv_signal_init(loop, &a->sighup);
	a->sighup.data = a;
	uv_timer_init(loop, &a->watchdog);
	uv_timer_init(loop, &a->stop_timer);
	a->stop_timer.data = a;
	a->sigterm.data = a;
	a->sigint.data = a;
	a->watchdog.data = a;
	return 0;
}

int agent_start(struct agent *a)
{
	char status[128];
	int rv;

	rv = node_start(&a->node);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "raft: %s",
			 a->node.errmsg);
		return rv;
	}
	recover_started(&a->recover);
	rv = members_start(&a->members, a->cfg.join[0] != '\0' &&
					    a->cfg.n_bootstrap == 0);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "members: %s",
			 uv_strerror(rv));
		return rv;
	}
	rv = failover_start(&a->failover);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "failover: %s",
			 uv_strerror(rv));
		return rv;
	}
	rv = cms_move_start(&a->cms_move);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "cms: %s",
			 uv_strerror(rv));
		return rv;
	}
	rv = policy_start(&a->policy);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "policy: %s",
			 uv_strerror(rv));
		return rv;
	}
	rv = dataplane_start(&a->data);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "data: %s",
			 uv_strerror(rv));
		return rv;
	}
	uv_signal_start(&a->sigterm, on_signal, SIGTERM);
	uv_signal_start(&a->sigint, on_signal, SIGINT);
	uv_signal_start(&a->sighup, on_sighup, SIGHUP);
	a->watchdog_usec = notify_watchdog_usec();
	if (a->watchdog_usec > 0)
		uv_timer_start(&a->watchdog, on_watchdog, 0,
			       a->watchdog_usec / 2000);
	agent_set_state(a, AGENT_RUNNING);
	LOG_INFO(MOD,
		 "agent %s (id %" PRIu64 ", site %s%s%s) raft %s api %s",
		 a->cfg.agent_name, a->cfg.agent_id, a->cfg.site,
		 a->cfg.pool[0] ? ", pool " : ", witness", a->cfg.pool,
		 a->cfg.listen_raft.address, a->cfg.listen_api.address);
	snprintf(status, sizeof status, "serving api on %s",
		 a->cfg.listen_api.address);
	notify_ready(status);
	return 0;
}

void agent_data_written(struct agent *a)
{
	dataplane_written(&a->data);
}

void agent_abort(struct agent *a)
{
	if (a->state == AGENT_INIT)
		a->state = AGENT_RUNNING; /* so close_all proceeds */
	close_all(a);
}
