/* agent: wiring of one poolpaird process (see agent.h): the order in
 * which the parts are made, started and closed. What each module is given
 * is built in agent_bind.c and agent_bind_data.c. */
#include "agent/agent.h"
#include "agent/agent_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/caller.h"
#include "agent/clock.h"
#include "agent/log.h"
#include "agent/notify.h"

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

static void agent_set_state(struct agent *a, int state)
{
	if (a->state == state)
		return;
	LOG_INFO(MOD, "%s -> %s", state_name(a->state), state_name(state));
	a->state = state;
}

void agent_who(const struct http_request *req, char *out, size_t len)
{
	caller_who(req, out, len);
}

static void on_applied(void *arg)
{
	struct agent *a = arg;

	api_on_applied(&a->apis);
	members_on_applied(&a->members);
	dataplane_on_applied(&a->data);
}

/* ---- closing ---- */

#define AGENT_OF(p, member)                                                    \
	((struct agent *)((char *)(p)-offsetof(struct agent, member)))

/* One part the agent closes finished closing; the agent is closed when
 * none is left. */
static void part_closed(struct agent *a)
{
	a->pending_closes--;
	if (a->pending_closes == 0 && a->state == AGENT_CLOSING) {
		agent_set_state(a, AGENT_CLOSED);
		/* an async reload in flight releases it when it ends */
		if (a->tls_on && !a->tls.reloading)
			tls_ctx_close(&a->tls);
		LOG_INFO(MOD, "stopped");
	}
}

static void handle_closed(uv_handle_t *h) { part_closed(h->data); }

static void close_handle(struct agent *a, uv_handle_t *h)
{
	if (h->loop == NULL || uv_is_closing(h))
		return;
	h->data = a;
	a->pending_closes++;
	uv_close(h, handle_closed);
}

static void server_closed(struct http_server *s)
{
	part_closed(AGENT_OF(s, api));
}

static void verify_closed(struct verify *v)
{
	part_closed(AGENT_OF(v, verify));
}

static void users_closed(struct users *u) { part_closed(AGENT_OF(u, users)); }

static void content_closed(struct content *c)
{
	part_closed(AGENT_OF(c, content));
}

static void data_closed(struct dataplane *dp)
{
	part_closed(AGENT_OF(dp, data));
}

static void members_closed(struct members *m)
{
	part_closed(AGENT_OF(m, members));
}

static void cms_move_closed(struct cms_move *cm)
{
	part_closed(AGENT_OF(cm, cms_move));
}

static void failover_closed(struct failover *fo)
{
	part_closed(AGENT_OF(fo, failover));
}

static void policy_closed(struct policy_watch *pw)
{
	part_closed(AGENT_OF(pw, policy));
}

static void rejoin_closed(struct rejoin *r)
{
	part_closed(AGENT_OF(r, rejoin));
}

static void node_closed(struct node *n) { part_closed(AGENT_OF(n, node)); }

static void calls_closed(struct hclient *c) { part_closed(AGENT_OF(c, calls)); }

/* Close every part: the agent's own handles, then the modules in the
 * reverse order of agent_init() (those that hold no handle close at once:
 * the router, risk, writer, api, metrics, recover, view), then
 * the API server (after the modules, so that what they answer as they
 * close still reaches the client), the node and the HTTP client (what is still
 * in flight is cancelled). Each part that closes later is counted in
 * pending_closes; the agent is closed when the count is back to 0. */
static void close_all(struct agent *a)
{
	if (a->state == AGENT_CLOSING || a->state == AGENT_CLOSED)
		return;
	agent_set_state(a, AGENT_CLOSING);
	/* held while the closes are issued: a part whose callback fires at
	 * once cannot end the shutdown before the others are asked */
	a->pending_closes++;
	close_handle(a, (uv_handle_t *)&a->sigterm);
	close_handle(a, (uv_handle_t *)&a->sigint);
	close_handle(a, (uv_handle_t *)&a->sighup);
	close_handle(a, (uv_handle_t *)&a->watchdog);
	close_handle(a, (uv_handle_t *)&a->stop_timer);

	a->pending_closes++;
	verify_close(&a->verify, verify_closed);
	if (a->users.deps.data != NULL) { /* users_init() done */
		a->pending_closes++;
		users_close(&a->users, users_closed);
	}
	/* the sweep's timer (its store operations end with the store) */
	if (content_close(&a->content, content_closed) == 0)
		a->pending_closes++;
	if (a->data.deps.fsm != NULL) { /* dataplane_init() called */
		a->pending_closes++;
		dataplane_close(&a->data, data_closed);
	}
	if (a->members.state == MEMBERS_READY ||
	    a->members.state == MEMBERS_RUNNING) {
		a->pending_closes++;
		members_close(&a->members, members_closed);
	}
	if (rejoin_close(&a->rejoin, rejoin_closed) == 0)
		a->pending_closes++;
	/* these answer 0 and call back later, or -EALREADY and never */
	if (cms_move_close(&a->cms_move, cms_move_closed) == 0)
		a->pending_closes++;
	if (failover_close(&a->failover, failover_closed) == 0)
		a->pending_closes++;
	if (policy_close(&a->policy, policy_closed) == 0)
		a->pending_closes++;
	writer_close(&a->writer);
	api_close(&a->apis, NULL);
	metrics_close(&a->metrics, NULL);
	recover_close(&a->recover, NULL);
	view_close(&a->view, NULL);

	if (a->api.state == HTTP_SERVER_RUNNING && a->api.loop != NULL) {
		a->pending_closes++;
		http_server_close(&a->api, server_closed);
	}
	a->pending_closes++;
	node_close(&a->node, node_closed);
	if (a->calls.state == HCLIENT_OPEN) {
		a->pending_closes++;
		hclient_close(&a->calls, calls_closed);
	}
	part_closed(a); /* the guard */
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
			LOG_INFO(MOD,
				 "transferring leadership before stopping");
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

/* Say when our own certificate is unusable or close to its end, and
 * when the CRL is due to be replaced. */
static void tls_check_validity(const struct tls_ctx *c)
{
	int64_t left = c->not_after - (int64_t)time(NULL);
	int64_t crl_left = c->crl_next_update - (int64_t)time(NULL);

	if (c->crl[0] != '\0' && crl_left < 7 * 86400)
		LOG_WARN("tls",
			 "crl %s is due to be replaced in %lld hours: make it "
			 "again (poolpair-cert crl) and send SIGHUP; once "
			 "expired it cannot be loaded and every handshake "
			 "fails",
			 c->crl, (long long)(crl_left / 3600));

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
	if (c->crl[0] != '\0')
		LOG_INFO("tls",
			 "crl %s reloaded: %u connection%s of revoked peers "
			 "closed",
			 c->crl, c->revoked_closed,
			 c->revoked_closed == 1 ? "" : "s");
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
	LOG_INFO("tls", "SIGHUP: reloading %s, %s and %s%s%s", a->tls.ca,
		 a->tls.cert, a->tls.key, a->tls.crl[0] ? " and crl " : "",
		 a->tls.crl);
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
	char why[TLS_ERRMSG_LEN + TLS_PATH_LEN];
	int rv;

	if (cfg->tls_ca[0] == '\0')
		return 0;
	rv = tls_ctx_init(&a->tls, cfg->tls_ca, cfg->tls_cert, cfg->tls_key);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "tls: %s", a->tls.errmsg);
		return rv;
	}
	if (cfg->tls_crl[0] != '\0') {
		rv = tls_ctx_set_crl(&a->tls, cfg->tls_crl);
		if (rv != 0) {
			snprintf(a->errmsg, sizeof a->errmsg, "tls: %s",
				 a->tls.errmsg);
			tls_ctx_close(&a->tls);
			return rv;
		}
		LOG_INFO("tls",
			 "crl %s: revoked peers are refused, on every link",
			 cfg->tls_crl);
	}
	if (a->tls.role != TLS_ROLE_AGENT) {
		snprintf(a->errmsg, sizeof a->errmsg,
			 "tls: cert %s has role %s; an agent needs role agent",
			 cfg->tls_cert, tls_role_name(a->tls.role));
		tls_ctx_close(&a->tls);
		return TLS_E_CONFIG;
	}
	if (tls_ctx_check_agent(&a->tls, cfg->agent_id, cfg->pool, why,
				sizeof why) != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "tls: %s", why);
		tls_ctx_close(&a->tls);
		return TLS_E_CONFIG;
	}
	a->tls_on = true;
	LOG_INFO("tls",
		 "TLS 1.3 on raft, replication and the API as %s (role "
		 "agent, agent %llu)%s",
		 a->tls.identity, (unsigned long long)a->tls.agent,
		 cfg->tls_require ? ""
				  : "; plain peers accepted (require = "
				    "false; the API still requires TLS)");
	tls_check_validity(&a->tls);
	return 0;
}

/* [listen] insecure = true: say loudly what is left unprotected. */
static void insecure_warn(const struct config *cfg)
{
	if (!cfg->insecure)
		return;
	if (cfg->tls_ca[0] == '\0')
		LOG_WARN(MOD,
			 "INSECURE ([listen] insecure = true): no [tls]: raft "
			 "%s, replication %s and the API %s are neither "
			 "authenticated nor encrypted; whoever reaches them "
			 "can act as any agent or operator",
			 cfg->listen_raft.address,
			 cfg->listen_data.address[0] ? cfg->listen_data.address
						     : "(none)",
			 cfg->listen_api.address);
	else
		LOG_WARN(MOD,
			 "INSECURE ([listen] insecure = true): [tls] require "
			 "= false: raft %s and replication %s accept plain "
			 "peers, neither authenticated nor encrypted; whoever "
			 "reaches them can act as any agent there",
			 cfg->listen_raft.address,
			 cfg->listen_data.address[0] ? cfg->listen_data.address
						     : "(none)");
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	notify_watchdog();
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

/* A module's init failed with a libuv code: say which. */
static int init_failed(struct agent *a, const char *what, int rv)
{
	snprintf(a->errmsg, sizeof a->errmsg, "%s: %s", what, uv_strerror(rv));
	return rv;
}

int agent_init(struct agent *a, uv_loop_t *loop, const struct config *cfg)
{
	char recover_note[FSM_WHAT_LEN];
	struct node_config nc;
	struct http_server_config hc;
	bool probe;
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
	insecure_warn(cfg);
	rv = hclient_init(&a->calls, loop, agent_tls(a));
	if (rv != 0)
		return init_failed(a, "http client", rv);
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
	/* an empty Raft directory decides before Raft starts (rejoin.h) */
	probe = nc.n_recover == 0 &&
		(nc.n_bootstrap > 0 || cfg->join[0] != '\0') &&
		!rejoin_raft_has_state(nc.dir);
	nc.bootstrap_later = probe;
	rv = rejoin_init(&a->rejoin, a, probe);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "rejoin: %s",
			 uv_strerror(rv));
		return rv;
	}
	rv = node_init(&a->node, loop, &nc, &a->fsm);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "raft: %s",
			 a->node.errmsg);
		return rv;
	}
	node_set_applied_cb(&a->node, on_applied, a);
	proposer_node(&a->proposer, &a->node);

	/* the modules (agent_internal.h says the order) */
	agent_bind_view(a);
	agent_bind_recover(a, recover_note);
	agent_bind_metrics(a);
	agent_bind_api(a);
	rv = agent_bind_policy(a);
	if (rv != 0)
		return init_failed(a, "policy", rv);
	agent_bind_risk(a);
	agent_bind_rebuild(a);
	rv = agent_bind_failover(a);
	if (rv != 0)
		return init_failed(a, "failover", rv);
	rv = agent_bind_cms_move(a);
	if (rv != 0)
		return init_failed(a, "cms", rv);
	agent_bind_writer(a);
	rv = agent_bind_members(a);
	if (rv != 0)
		return init_failed(a, "members", rv);
	rv = agent_bind_data(a);
	if (rv != 0)
		return rv;
	rv = agent_bind_verify(a);
	if (rv != 0)
		return init_failed(a, "verify", rv);
	rv = agent_bind_router(a);
	if (rv != 0)
		return rv;

	memset(&hc, 0, sizeof hc);
	/* the largest body (user data); router_head() gives each route its
	 * limit, 64 KiB for the control plane, before the body is read */
	hc.max_body = ROUTE_DATA_MAX_BODY;
	hc.on_head = api_on_head;
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

int agent_start_raft(struct agent *a, bool join)
{
	int rv = node_start(&a->node);

	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "raft: %s",
			 a->node.errmsg);
		return rv;
	}
	recover_started(&a->recover);
	rv = members_start(&a->members, join);
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
	return 0;
}

int agent_start(struct agent *a)
{
	char status[128];
	int rv;

	if (a->rejoin.state == REJOIN_PROBING)
		rv = rejoin_start(&a->rejoin);
	else
		rv = agent_start_raft(a, a->cfg.join[0] != '\0' &&
					     a->cfg.n_bootstrap == 0);
	if (rv != 0)
		return rv;
	uv_signal_start(&a->sigterm, on_signal, SIGTERM);
	uv_signal_start(&a->sigint, on_signal, SIGINT);
	uv_signal_start(&a->sighup, on_sighup, SIGHUP);
	a->watchdog_usec = notify_watchdog_usec();
	if (a->watchdog_usec > 0)
		uv_timer_start(&a->watchdog, on_watchdog, 0,
			       a->watchdog_usec / 2000);
	agent_set_state(a, AGENT_RUNNING);
	LOG_INFO(MOD, "agent %s (id %" PRIu64 ", site %s%s%s) raft %s api %s",
		 a->cfg.agent_name, a->cfg.agent_id, a->cfg.site,
		 a->cfg.pool[0] ? ", pool " : ", witness", a->cfg.pool,
		 a->cfg.listen_raft.address, a->cfg.listen_api.address);
	snprintf(status, sizeof status, "serving api on %s",
		 a->cfg.listen_api.address);
	notify_ready(status);
	return 0;
}

void agent_abort(struct agent *a)
{
	if (a->state == AGENT_INIT)
		a->state = AGENT_RUNNING; /* so close_all proceeds */
	close_all(a);
}
