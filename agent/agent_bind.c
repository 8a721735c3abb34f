/* agent_bind: each module's dependencies, built from the agent's parts,
 * and the adapters that bind what a module reads of another (its ops
 * table) to that module's public functions (see agent_internal.h). The
 * data side's (writer, data plane) are in agent_bind_data.c. Only agent.c
 * calls these, in the order of agent_init(). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/agent_internal.h"
#include "agent/backup.h"

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
	*lag = (struct failover_lag){
	    .records = rep->lag_records,
	    .bytes = rep->lag_bytes,
	    .ms = rep->lag_ms,
	    .drained = rep->drained,
	    .seeding = rep->seeding,
	    .seed_items = rep->seed_items,
	    .seed_items_total = rep->seed_items_total,
	    .disconnected = !members_set_connected(&a->members, pool, user_set,
						   max_age_ms),
	};
	return true;
}

/* From when the leader counts a silence (members_regime_since_ns()). */
static uint64_t fo_regime_since_ns(void *impl)
{
	struct agent *a = impl;

	return members_regime_since_ns(&a->members);
}

/* When this agent became leader: which leadership (policy.h). */
static uint64_t pw_leader_since_ns(void *impl)
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

static void fo_local_takeover(void *impl, const struct fsm_pool *p,
			      struct failover_local *out)
{
	struct agent *a = impl;
	struct writer_takeover_facts t;

	writer_takeover_facts(&a->writer, p, &t);
	*out = (struct failover_local){.name = t.standby_name,
				       .silent_ms = t.silent_ms,
				       .positions = t.positions,
				       .inflight = t.inflight};
}

static const struct failover_liveness_ops fo_liveness = {
    .silence_ms = fo_silence_ms,
    .report = fo_report,
    .regime_since_ns = fo_regime_since_ns,
    .lease_valid = fo_lease_valid,
    .measure = fo_measure,
    .local_takeover = fo_local_takeover,
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
	const struct members_set_report *rep =
	    members_set_report_aged(&a->members, pool, pool, UINT64_MAX, &age);

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

void agent_bind_risk(struct agent *a)
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

/* ---- rebuild: the reports it reads (rebuild.h) ---- */

static bool rebuild_report(void *impl, const char *pool,
			   struct members_seen *out)
{
	struct agent *a = impl;
	const struct fsm *f = &a->fsm;
	uint64_t now = clock_mono_ns(a->clock);
	uint64_t stale_ns =
	    ((uint64_t)a->cfg.lease_ms + a->cfg.grace_ms) * 1000000ULL;
	const struct members_seen *best = NULL;
	/* the writer's, when the pool has one: a standby runs no stream */
	const struct fsm_member *w = fsm_pool_writer(f, pool);

	memset(out, 0, sizeof *out);
	if (a->cfg.pool[0] != '\0' && strcmp(a->cfg.pool, pool) == 0 &&
	    (w == NULL || w->id == a->cfg.agent_id)) {
		/* this agent's own side, live */
		out->id = a->cfg.agent_id;
		out->last_ns = now;
		out->n_sets =
		    dataplane_set_reports(&a->data, out->sets, MEMBERS_SETS);
		out->n_streams = backup_stream_reports(&a->data, out->streams,
						       MEMBERS_STREAMS);
		out->n_seeds = dataplane_seed_reports(&a->data, out->seeds,
						      MEMBERS_SEEDS);
		return true;
	}
	for (unsigned i = 0; i < f->n_members; i++) {
		const struct members_seen *s;

		if (strcmp(f->members[i].pool, pool) != 0 ||
		    (w != NULL && f->members[i].id != w->id))
			continue;
		s = members_seen_get(&a->members, f->members[i].id);
		if (s == NULL || s->last_ns == 0 || now - s->last_ns > stale_ns)
			continue;
		if (best == NULL || s->last_ns > best->last_ns)
			best = s;
	}
	if (best == NULL)
		return false;
	*out = *best;
	return true;
}

static uint64_t rebuild_now_ns(void *impl)
{
	struct agent *a = impl;

	return clock_mono_ns(a->clock);
}

static const struct rebuild_sources_ops rebuild_sources = {
    .report = rebuild_report,
    .now_ns = rebuild_now_ns,
};

void agent_bind_rebuild(struct agent *a)
{
	struct rebuild_deps d = {
	    .fsm = &a->fsm,
	    .ops = &rebuild_sources,
	    .impl = a,
	};

	rebuild_init(&a->rebuild, &d);
}

int agent_bind_failover(struct agent *a)
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

void agent_data_drained(void *arg, const char *user_set)
{
	struct agent *a = arg;

	(void)user_set;
	if (a->failover.d.loop == NULL)
		return; /* not bound yet */
	if (proposer_is_leader(&a->proposer))
		failover_tick(&a->failover);
	else
		members_report_now(&a->members);
}

int agent_bind_cms_move(struct agent *a)
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

/* ---- the policy watch: its view of members (policy.h) ---- */

static bool pw_current(void *impl)
{
	struct agent *a = impl;

	return members_view_current(&a->members);
}

static const struct policy_view_ops pw_view = {
    .current = pw_current,
    .leader_since_ns = pw_leader_since_ns,
};

int agent_bind_policy(struct agent *a)
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

/* ---- what verify needs from the data plane ---- */

static bool verify_store_ready(void *impl, struct http_request *req)
{
	struct agent *a = impl;

	return users_ready(&a->data, req);
}

static bool verify_store_ready_read(void *impl, struct http_request *req)
{
	struct agent *a = impl;

	return users_ready_read(&a->data, req);
}

static uint64_t verify_hlc(void *impl)
{
	struct agent *a = impl;

	return dataplane_hlc(&a->data);
}

static const struct verify_data_ops verify_data_ops = {
    .ready = verify_store_ready,
    .ready_read = verify_store_ready_read,
    .hlc = verify_hlc,
};

/* What the view reads of the other modules (view.h). */
static const struct raft_configuration *view_configuration(void *impl)
{
	struct agent *a = impl;

	return node_configuration(&a->node);
}

static const char *view_raft_state(void *impl)
{
	struct agent *a = impl;

	/* an empty Raft directory: asking the peers, then the leader */
	if (a->rejoin.state == REJOIN_PROBING)
		return "probing";
	if (a->rejoin.state == REJOIN_ASKING)
		return "rejoining";
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

static json_t *view_disk(void *impl)
{
	struct agent *a = impl;

	return content_disk_json(&a->content);
}

static json_t *view_rebuild(void *impl)
{
	struct agent *a = impl;

	return dataplane_seeds_status(&a->data);
}

/* The standbys of pool p as its writer knows them: this agent's own
 * figures when it is the writer, else the writer's last report (no word
 * of its local synchronous copy then). */
static json_t *view_standbys(void *impl, const struct fsm_pool *p,
			     const char **local_sync)
{
	struct agent *a = impl;
	const struct members_seen *s;
	json_t *arr;

	if (strcmp(p->name, a->cfg.pool) == 0 &&
	    dataplane_writer(&a->data, NULL) == 1) {
		*local_sync = dataplane_lsync_name(&a->data);
		return dataplane_lsync_standbys_json(&a->data);
	}
	s = p->writer != 0 ? members_seen_get(&a->members, p->writer) : NULL;
	if (s == NULL || s->last_ns == 0)
		return NULL;
	arr = json_array();
	for (unsigned i = 0; arr != NULL && i < s->n_standbys; i++) {
		const struct members_standby_report *r = &s->standbys[i];
		const char *state = r->state;

		if (r->id == p->sync_standby && strcmp(state, "streaming") == 0)
			state = "sync";
		json_array_append_new(
		    arr, json_pack("{s:I, s:s, s:{s:I, s:I}, s:I, s:I}", "id",
				   (json_int_t)r->id, "state", state, "acked",
				   "data", (json_int_t)r->acked[0], "content",
				   (json_int_t)r->acked[1], "lag_records",
				   (json_int_t)r->lag_records, "lag_ms",
				   (json_int_t)r->lag_ms));
	}
	return arr;
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
    .rebuild = view_rebuild,
    .disk = view_disk,
    .standbys = view_standbys,
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

static void metrics_connections(void *impl, struct metrics_connections *out)
{
	struct agent *a = impl;
	const struct http_server_stats *st = &a->api.stats;

	out->refused_limit = st->refused_limit;
	out->refused_address = st->refused_address;
	out->evicted = st->evicted;
	out->timeouts_handshake = st->timeouts_handshake;
	out->timeouts_head = st->timeouts_head;
	out->timeouts_body = st->timeouts_body;
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
		const struct store_space *sp = store_space(&dp->store);

		out->transactions = dp->store.stats.transactions;
		out->commit_ns = dp->store.stats.commit_ns;
		out->space_known = sp->measured_ms != 0 && sp->err == 0;
		out->disk_free = sp->fs_free;
		out->disk_size = sp->fs_size;
		out->store_free = sp->db_free;
		out->reserve = sp->reserve;
		out->under_reserve = store_space_under(sp);
	}
	out->uploads_removed = a->content.removed;
	out->sync = dp->sync == SYNC_ON		? METRICS_SYNC_ON
		    : dp->sync == SYNC_FALLBACK ? METRICS_SYNC_FALLBACK
						: METRICS_SYNC_OFF;
	out->sync_fallbacks = dp->sync_fallbacks;
	out->local_sync_fallbacks = dp->lsync.fallbacks;
	out->local_sync_waiting = dp->lsync.n_waiting;
	out->standbys = dataplane_lsync_standby_rows(dp);
	out->streams = backup_local(dp);
	out->acks = backup_ack_rows(dp);
	out->seeds = dataplane_seed_rows(dp);
	return true;
}

static unsigned agent_election_timeout(void *impl)
{
	struct agent *a = impl;

	return node_election_timeout(&a->node);
}

static const struct metrics_sources_ops metrics_sources_ops = {
    .configuration = metrics_configuration,
    .last_index = metrics_last_index,
    .snapshots = metrics_snapshots,
    .election_timeout = agent_election_timeout,
    .reachable = metrics_reachable,
    .members = metrics_members,
    .redirects = metrics_redirects,
    .connections = metrics_connections,
    .data = metrics_data,
};

int agent_bind_metrics(struct agent *a)
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

int agent_bind_api(struct agent *a)
{
	struct api_deps d = {
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .view = &a->view,
	    .metrics = &a->metrics,
	    .router = &a->router,
	    .insecure = config_insecure(&a->cfg),
	    .profile = config_profile_name(a->cfg.profile),
	    .who = agent_who,
	    .election_timeout = agent_election_timeout,
	    .election_timeout_arg = a,
	};

	config_timing_of(&a->cfg, &d.timing);
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

int agent_bind_recover(struct agent *a, const char *note)
{
	const struct config *cfg = &a->cfg;
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

int agent_bind_view(struct agent *a)
{
	const struct config *cfg = &a->cfg;
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

static unsigned members_seed_reports(void *impl,
				     struct members_seed_report *out,
				     unsigned max)
{
	struct agent *a = impl;

	return dataplane_seed_reports(&a->data, out, max);
}

static unsigned members_copy_reports(void *impl,
				     struct members_copy_report *out,
				     unsigned max)
{
	struct agent *a = impl;

	return dataplane_copy_reports(&a->data, out, max);
}

static unsigned members_standby_reports(void *impl,
					struct members_standby_report *out,
					unsigned max)
{
	struct agent *a = impl;

	return dataplane_standby_reports(&a->data, out, max);
}

static void members_leader_tick(void *impl)
{
	struct agent *a = impl;

	recover_tick(&a->recover);
	writer_tick(&a->writer);
}

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

/* A report says a user set drained: the failover module's decisions now
 * (a planned move completes), not at its next tick. */
static void members_drained(void *impl)
{
	struct agent *a = impl;

	if (a->failover.d.loop != NULL)
		failover_tick(&a->failover);
}

static const struct members_host_ops members_host_ops = {
    .set_reports = members_set_reports,
    .stream_reports = members_stream_reports,
    .seed_reports = members_seed_reports,
    .copy_reports = members_copy_reports,
    .standby_reports = members_standby_reports,
    .leader_tick = members_leader_tick,
    .may_write = members_may_write,
    .decided = members_decided,
    .drained = members_drained,
};

/* Raft received a leader's message (node_set_contact_cb()). */
static void members_contact(void *arg, uint64_t term)
{
	members_raft_contact(arg, term);
}

int agent_bind_members(struct agent *a)
{
	const struct config *cfg = &a->cfg;
	int rv;
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
	rv = members_init(&a->members, &d);
	if (rv == 0)
		node_set_contact_cb(&a->node, members_contact, &a->members);
	return rv;
}

/* ---- verify, the router ---- */

int agent_bind_verify(struct agent *a)
{
	struct verify_deps d = {
	    .loop = a->loop,
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .store = &a->data.store,
	    .calls = &a->calls,
	    .clock = a->clock,
	    .pool = a->cfg.pool,
	    .data_ops = &verify_data_ops,
	    .data = a,
	};

	return verify_init(&a->verify, &d);
}

int agent_bind_router(struct agent *a)
{
	struct router_config rc = {
	    .routes = agent_routes,
	    .n_routes = agent_routes_count,
	    .modules = {[ROUTE_MOD_API] = &a->apis,
			[ROUTE_MOD_FAILOVER] = &a->failover,
			[ROUTE_MOD_CMS_MOVE] = &a->cms_move,
			[ROUTE_MOD_RISK] = &a->risk,
			[ROUTE_MOD_VERIFY] = &a->verify,
			[ROUTE_MOD_RECOVER] = &a->recover,
			[ROUTE_MOD_MEMBERS] = &a->members,
			[ROUTE_MOD_USERS] = &a->users,
			[ROUTE_MOD_CONTENT] = &a->content,
			[ROUTE_MOD_REJOIN] = &a->rejoin,
			[ROUTE_MOD_REBUILD] = &a->rebuild,
			[ROUTE_MOD_WRITER] = &a->writer},
	    .proposer = &a->proposer,
	    .scheme = agent_api_scheme(a),
	    .roles = a->tls_on,
	};

	return router_init(&a->router, &rc, a->errmsg, sizeof a->errmsg);
}
