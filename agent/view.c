/* view: JSON renderings for the API (see view.h). */
#include "agent/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void view_time_iso(uint64_t ms, char *out, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

static const char *role_name(int role)
{
	switch (role) {
	case RAFT_VOTER:
		return "voter";
	case RAFT_STANDBY:
		return "standby";
	case RAFT_SPARE:
		return "spare";
	default:
		return "none";
	}
}

int view_init(struct view *v, const struct view_deps *deps)
{
	v->d = *deps;
	return 0;
}

void view_close(struct view *v, void (*cb)(struct view *v))
{
	if (cb != NULL)
		cb(v);
}

static bool leads(const struct view *v)
{
	return proposer_is_leader(v->d.proposer);
}

static json_t *view_pool_base(const struct view *v, const struct fsm_pool *p);

/* A pool is healthy when the leader hears from its writer (from an agent
 * of that pool while it has none). On a follower this is unknown
 * (null). */
static json_t *pool_healthy(const struct view *v, const char *pool)
{
	const struct fsm *f = v->d.fsm;
	const struct fsm_pool *p = fsm_pool_find(f, pool);
	bool any = false;

	if (!leads(v))
		return json_null();
	for (unsigned i = 0; i < f->n_members; i++) {
		const struct fsm_member *m = &f->members[i];

		if (strcmp(m->pool, pool) != 0)
			continue;
		/* the writer, when there is one: a standby writes nothing */
		if (p != NULL && p->writer != 0 && m->id != p->writer)
			continue;
		if (v->d.src->ops->reachable(v->d.src->impl, m->id) == 1)
			any = true;
	}
	return json_boolean(any);
}

/* The figures of standby id among known (the writer's word), or NULL. */
static json_t *known_standby(json_t *known, uint64_t id)
{
	size_t i;
	json_t *k;

	json_array_foreach(known, i, k)
	{
		if ((uint64_t)json_integer_value(json_object_get(k, "id")) == id)
			return k;
	}
	return NULL;
}

/* The pool's writer {id, name, token} (id 0 and name "" while it has
 * none), its synchronous standby {id, name} (id 0 and name "" while it
 * has none), its standbys (the pool's other agents in the applied state,
 * with the writer's figures of each when known, else those null) and
 * local_sync, the writer's local synchronous copy: its own word when
 * known, else from the applied state ("sync" with a sync standby, "none"
 * without standbys, "fallback" otherwise). */
static void view_pool_writer(const struct view *view, const struct fsm_pool *p,
			     json_t *v)
{
	const struct fsm *f = view->d.fsm;
	const struct fsm_member *w = fsm_pool_writer(f, p->name);
	const struct fsm_member *s = fsm_pool_sync_standby(f, p->name);
	const char *local_sync = NULL;
	json_t *known =
	    view->d.src->ops->standbys(view->d.src->impl, p, &local_sync);
	json_t *standbys = json_array();

	for (unsigned i = 0; standbys != NULL && i < f->n_members; i++) {
		const struct fsm_member *m = &f->members[i];
		json_t *k;

		if (strcmp(m->pool, p->name) != 0 || (w != NULL && m->id == w->id))
			continue;
		k = known_standby(known, m->id);
		if (k != NULL)
			json_array_append_new(
			    standbys,
			    json_pack("{s:I, s:s, s:O, s:O, s:O, s:O}", "id",
				      (json_int_t)m->id, "name", m->name,
				      "state", json_object_get(k, "state"),
				      "acked", json_object_get(k, "acked"),
				      "lag_records",
				      json_object_get(k, "lag_records"),
				      "lag_ms", json_object_get(k, "lag_ms")));
		else
			json_array_append_new(
			    standbys,
			    json_pack("{s:I, s:s, s:n, s:n, s:n, s:n}", "id",
				      (json_int_t)m->id, "name", m->name,
				      "state", "acked", "lag_records",
				      "lag_ms"));
	}
	json_decref(known);
	if (local_sync == NULL)
		local_sync = p->sync_standby != 0 ? "sync"
			     : json_array_size(standbys) == 0 ? "none"
							      : "fallback";
	json_object_set_new(
	    v, "writer",
	    json_pack("{s:I, s:s, s:I}", "id",
		      (json_int_t)(w != NULL ? w->id : 0), "name",
		      w != NULL ? w->name : "", "token",
		      (json_int_t)p->writer_token));
	json_object_set_new(v, "standbys", standbys);
	json_object_set_new(
	    v, "sync_standby",
	    json_pack("{s:I, s:s}", "id", (json_int_t)p->sync_standby, "name",
		      s != NULL ? s->name : ""));
	json_object_set_new(v, "local_sync", json_string(local_sync));
}

json_t *view_pool(const struct view *view, const struct fsm_pool *p)
{
	json_t *v = view_pool_base(view, p);

	if (v == NULL)
		return NULL;
	view_pool_writer(view, p, v);
	json_object_set_new(v, "failover_since_ms",
			    json_integer((json_int_t)p->failover_since_ms));
	json_object_set_new(v, "last_failover_reason",
			    json_string(p->last_failover_reason));
	/* the replication mode is the pair's */
	json_object_set_new(v, "replication_mode",
			    p->pair[0] != '\0'
				? json_string(fsm_repl_mode_name(p->repl_mode))
				: json_null());
	json_object_set_new(
	    v, "sync_timeout_ms",
	    p->pair[0] != '\0'
		? json_integer((json_int_t)fsm_pool_sync_timeout_ms(p))
		: json_null());
	json_object_set_new(v, "last_auto_failover_ms",
			    json_integer((json_int_t)p->last_auto_failover_ms));
	json_object_set_new(v, "paused", json_boolean(p->paused));
	if (p->paused) {
		char when[40];

		view_time_iso(p->paused_since_ms, when, sizeof when);
		json_object_set_new(v, "paused_since", json_string(when));
		json_object_set_new(
		    v, "paused_since_ms",
		    json_integer((json_int_t)p->paused_since_ms));
		json_object_set_new(v, "pause_reason",
				    json_string(p->pause_reason));
	}
	if (leads(view))
		json_object_set_new(v, "auto_failover_refusal",
				    json_string(view->d.src->ops->auto_refusal(
					view->d.src->impl, p->name)));
	return v;
}

static json_t *view_pool_base(const struct view *v, const struct fsm_pool *p)
{
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:s, s:s, s:s, s:I, "
	    "s:o, s:b}",
	    "name", p->name, "site", p->site, "edition", p->edition, "kind",
	    p->kind, "os", p->os, "capacity", (json_int_t)p->capacity, "pair",
	    p->pair, "supported", p->pair_supported, "unsupported_reason",
	    p->unsupported_reason, "state", fsm_failover_state_name(p->state),
	    "owner", p->owner, "epoch", (json_int_t)p->epoch, "healthy",
	    pool_healthy(v, p->name), "hosts_cms",
	    strcmp(v->d.fsm->cms_active, p->name) == 0);
}

json_t *view_pools(const struct view *v)
{
	json_t *arr = json_array();

	for (unsigned i = 0; arr != NULL && i < v->d.fsm->n_pools; i++)
		json_array_append_new(arr, view_pool(v, &v->d.fsm->pools[i]));
	return arr;
}

json_t *view_pairs(const struct view *v)
{
	json_t *arr = json_array();

	for (unsigned i = 0; arr != NULL && i < v->d.fsm->n_pools; i++) {
		const struct fsm_pool *p = &v->d.fsm->pools[i];
		const struct fsm_pool *q;

		if (p->pair[0] == '\0')
			continue;
		q = fsm_pool_find(v->d.fsm, p->pair);
		/* list each pair once, from the pool defined first */
		if (q == NULL || q < p)
			continue;
		json_array_append_new(arr, view_pair(p));
	}
	return arr;
}

json_t *view_pair(const struct fsm_pool *p)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:s, s:I}", "a", p->name, "b",
			 p->pair, "supported", p->pair_supported, "reason",
			 p->unsupported_reason, "mode",
			 fsm_repl_mode_name(p->repl_mode), "sync_timeout_ms",
			 (json_int_t)fsm_pool_sync_timeout_ms(p));
}

/* Whether pool p is down as this agent sees it: not normal (failing over,
 * failed over, recovering, failing back), or none of its agents heard
 * within lease + grace, or none of those heard holding a lease. 1 down
 * (why says how), 0 up, -1 unknown (this agent started too recently to
 * have heard anyone). */
static int pool_down(const struct view *v, const struct fsm_pool *p, char *why,
		     size_t len)
{
	const struct fsm *f = v->d.fsm;
	const struct view_sources *src = v->d.src;
	uint64_t window_ms = (uint64_t)v->d.lease_ms + v->d.grace_ms;
	uint64_t now = clock_mono_ns(v->d.clock);
	bool any = false, heard = false;

	why[0] = '\0';
	if (p->state != FSM_STATE_NORMAL) {
		snprintf(why, len, "%s is %s", p->name,
			 fsm_failover_state_name(p->state));
		return 1;
	}
	for (unsigned i = 0; i < f->n_members; i++) {
		const struct fsm_member *m = &f->members[i];
		struct view_heard h;

		if (strcmp(m->pool, p->name) != 0)
			continue;
		/* the writer, when there is one: a standby writes nothing */
		if (p->writer != 0 && m->id != p->writer)
			continue;
		any = true;
		if (m->id == v->d.self_id) {
			struct view_lease l;

			src->ops->lease(src->impl, &l);
			if (l.valid)
				return 0;
			heard = true;
			continue;
		}
		if (!src->ops->heard(src->impl, m->id, &h) || h.last_ns == 0 ||
		    (now - h.last_ns) / 1000000 > window_ms)
			continue;
		heard = true;
		if (h.lease != 0)
			return 0;
	}
	if (!any)
		snprintf(why, len, "no agent of %s is registered", p->name);
	else if (heard)
		snprintf(why, len, "no agent of %s holds a lease", p->name);
	else if ((now - v->d.started_ns) / 1000000 <= window_ms)
		return -1;
	else
		snprintf(why, len, "no agent of %s heard for %.1f s", p->name,
			 (double)window_ms / 1000.0);
	return 1;
}

json_t *view_sbas(const struct view *v)
{
	const struct fsm *f = v->d.fsm;
	json_t *arr = json_array();

	for (unsigned i = 0; arr != NULL && i < f->n_sbas; i++) {
		const struct fsm_sba *s = &f->sbas[i];
		const struct fsm_pool *p = fsm_pool_find(f, s->backup_pool);
		char why[160] = "";
		int down = p != NULL ? pool_down(v, p, why, sizeof why) : -1;
		bool moved = p != NULL && strcmp(p->owner, p->name) != 0;

		/* the users of the SBA lose their backup registrar when the
		 * backup pool is down, failed over or not */
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:s, s:o, s:s, s:o}", "name", s->name,
			      "site", s->site, "backup_pool", s->backup_pool,
			      "backup_pool_down",
			      down < 0 ? json_null() : json_boolean(down),
			      "backup_pool_down_reason", why, "resiliency_mode",
			      down < 0 && !moved
				  ? json_null()
				  : json_boolean(down > 0 || moved)));
	}
	return arr;
}

json_t *view_sites(const struct view *v)
{
	json_t *arr = json_array();

	for (unsigned i = 0; arr != NULL && i < v->d.fsm->n_sites; i++)
		json_array_append_new(arr,
				      json_string(v->d.fsm->sites[i].name));
	return arr;
}

json_t *view_cms(const struct view *v)
{
	const struct fsm *f = v->d.fsm;
	const struct fsm_pool *p = fsm_pool_find(f, f->cms_active);

	return json_pack("{s:s, s:s, s:I, s:s, s:I}", "active", f->cms_active,
			 "standby", p != NULL ? p->pair : "", "epoch",
			 (json_int_t)f->cms_epoch, "state",
			 fsm_failover_state_name(f->cms_state), "since_ms",
			 (json_int_t)f->cms_since_ms);
}

json_t *view_policy(const struct fsm_policy *p, const char *effective)
{
	return json_pack("{s:s, s:b, s:I, s:I}", "failover", effective,
			 "failover_default", p->failover[0] == '\0',
			 "max_lag_on_failover_ms",
			 (json_int_t)p->max_lag_on_failover_ms, "cooldown_ms",
			 (json_int_t)p->cooldown_ms);
}

json_t *view_members(const struct view *v)
{
	const struct view_sources *src = v->d.src;
	const struct raft_configuration *c = src->ops->configuration(src->impl);
	json_t *arr = json_array();

	for (unsigned i = 0; arr != NULL && i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		const struct fsm_member *m = fsm_member_find(v->d.fsm, s->id);
		int reach = src->ops->reachable(src->impl, s->id);

		json_array_append_new(
		    arr,
		    json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
			      "id", (json_int_t)s->id, "name",
			      m != NULL ? m->name : "", "site",
			      m != NULL ? m->site : "", "pool",
			      m != NULL ? m->pool : "", "role",
			      role_name(s->role), "raft", s->address, "api",
			      m != NULL ? m->api_address : "", "data",
			      m != NULL ? m->data_address : "", "reachable",
			      reach < 0 ? json_null() : json_boolean(reach)));
	}
	return arr;
}

json_t *view_history(const struct view *v, uint64_t before, size_t limit)
{
	const struct fsm_history **page;
	json_t *arr = json_array();
	json_t *next = json_null();
	size_t n;

	if (limit > VIEW_HISTORY_MAX)
		limit = VIEW_HISTORY_MAX;
	page = calloc(limit + 1, sizeof(*page));
	if (page == NULL) {
		json_decref(arr);
		return NULL;
	}
	/* one more than asked: is there an older page? */
	n = fsm_history_page(v->d.fsm, before, page, limit + 1);
	if (n > limit) {
		n = limit;
		json_decref(next);
		next = json_integer((json_int_t)page[n - 1]->seq);
	}
	for (size_t i = 0; arr != NULL && i < n; i++) {
		const struct fsm_history *h = page[i];
		char when[40];

		view_time_iso(h->time_ms, when, sizeof when);
		json_array_append_new(
		    arr,
		    json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
			      "seq", (json_int_t)h->seq, "time_ms",
			      (json_int_t)h->time_ms, "time", when, "who",
			      h->who, "what", h->what, "result",
			      h->code == FSM_OK ? "ok" : "refused", "code",
			      fsm_code_name(h->code), "reason", h->reason,
			      "forced", h->forced));
		if (h->kept)
			json_object_set_new(
			    json_array_get(arr, json_array_size(arr) - 1),
			    "kept", json_true());
		if (h->data_at_risk_records || h->data_at_risk_bytes ||
		    h->data_at_risk_ms) {
			json_t *entry =
			    json_array_get(arr, json_array_size(arr) - 1);

			json_object_set_new(
			    entry, "data_at_risk",
			    json_pack(
				"{s:I, s:I, s:f}", "records",
				(json_int_t)h->data_at_risk_records, "bytes",
				(json_int_t)h->data_at_risk_bytes, "seconds",
				(double)h->data_at_risk_ms / 1000.0));
		}
	}
	free(page);
	return json_pack("{s:o, s:o, s:I, s:I, s:I}", "history", arr,
			 "next_before", next, "decisions",
			 (json_int_t)v->d.fsm->decisions, "kept",
			 (json_int_t)v->d.fsm->n_kept, "kept_dropped",
			 (json_int_t)v->d.fsm->kept_dropped);
}

/* FNV-1a of the FSM snapshot: equal on every agent that applied the same
 * entries (the state machine is deterministic). */
static json_t *state_digest(const struct fsm *f)
{
	void *buf;
	size_t len;
	uint64_t h = 0xcbf29ce484222325ULL;
	char hex[17];

	if (fsm_snapshot(f, &buf, &len) != 0)
		return json_null();
	for (size_t i = 0; i < len; i++) {
		h ^= ((const unsigned char *)buf)[i];
		h *= 0x100000001b3ULL;
	}
	free(buf);
	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
	return json_string(hex);
}

json_t *view_status(const struct view *v)
{
	const struct fsm *f = v->d.fsm;
	const struct view_sources *src = v->d.src;
	const char *leader_addr = NULL;
	uint64_t leader = src->ops->leader_raft(src->impl, &leader_addr);
	const struct fsm_member *lm =
	    leader ? fsm_member_find(f, leader) : NULL;
	json_t *jleader = json_null();
	struct view_lease l;
	json_t *st;

	if (leader != 0)
		jleader =
		    json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)leader,
			      "name", lm != NULL ? lm->name : "", "raft",
			      leader_addr != NULL ? leader_addr : "", "api",
			      lm != NULL ? lm->api_address : "");
	src->ops->lease(src->impl, &l);

	st = json_pack(
	    "{s:{s:I, s:s, s:s, s:s, s:s, s:{s:b, s:I, s:I, s:s, s:b}, s:o}, "
	    "s:{s:o, s:I, s:I, s:I, s:I, s:o, s:o}, "
	    "s:o, s:o, s:o, s:o, s:o, s:o}",
	    "self", "id", (json_int_t)v->d.self_id, "name", v->d.self_name,
	    "site", v->d.self_site, "pool", v->d.self_pool, "state",
	    src->ops->raft_state(src->impl), "lease", "valid", l.valid,
	    "left_ms", (json_int_t)l.left_ms, "granted_by",
	    (json_int_t)l.granted_by, "source", l.source, "view_current",
	    l.view_current, "rebuild", src->ops->rebuild(src->impl),
	    "cluster", "leader", jleader, "term",
	    (json_int_t)proposer_term(v->d.proposer), "commit_index",
	    (json_int_t)proposer_commit_index(v->d.proposer), "applied_index",
	    (json_int_t)proposer_applied_index(v->d.proposer), "decisions",
	    (json_int_t)f->decisions, "state_digest", state_digest(f),
	    "members", view_members(v), "sites", view_sites(v), "pools",
	    view_pools(v), "sbas", view_sbas(v), "cms", view_cms(v), "policy",
	    view_policy(&f->policy, fsm_failover_policy(f)), "backup",
	    src->ops->backup(src->impl));
	if (st != NULL && src->ops->disk != NULL) {
		json_t *disk = src->ops->disk(src->impl);

		if (disk != NULL)
			json_object_set_new(json_object_get(st, "self"), "disk",
					    disk);
	}
	return st;
}
