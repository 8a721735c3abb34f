/* fsm_snapshot: the FSM state to and from a poolpair.State snapshot; restore
 * checks every field and cross-reference before it replaces the state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"
#include "control.pb-c.h"

#define FSM_MAX_SNAPSHOT_BYTES (4u << 20)
#define FSM_SNAPSHOT_VERSION 1

/* ---- snapshot ---- */

struct snap_parts {
	Poolpair__Site *sites;
	Poolpair__Site **site_ptrs;
	Poolpair__Member *members;
	Poolpair__Member **member_ptrs;
	Poolpair__Pool *pools;
	Poolpair__PoolState *pool_states;
	Poolpair__PoolState **pool_ptrs;
	Poolpair__Sba *sbas;
	Poolpair__Sba **sba_ptrs;
	Poolpair__HistoryEntry *history;
	Poolpair__HistoryEntry **history_ptrs;
	Poolpair__HistoryEntry *kept;
	Poolpair__HistoryEntry **kept_ptrs;
};

static void snap_parts_free(struct snap_parts *s)
{
	free(s->sites);
	free(s->site_ptrs);
	free(s->members);
	free(s->member_ptrs);
	free(s->pools);
	free(s->pool_states);
	free(s->pool_ptrs);
	free(s->sbas);
	free(s->sba_ptrs);
	free(s->history);
	free(s->history_ptrs);
	free(s->kept);
	free(s->kept_ptrs);
}

/* calloc that never asks for 0 bytes, so NULL always means no memory */
static void *snap_alloc(size_t n, size_t size)
{
	return calloc(n > 0 ? n : 1, size);
}

/* e points into h (borrowed strings). */
static void history_entry(Poolpair__HistoryEntry *e,
			  const struct fsm_history *h)
{
	poolpair__history_entry__init(e);
	e->seq = h->seq;
	e->time_ms = h->time_ms;
	e->who = (char *)h->who;
	e->what = (char *)h->what;
	e->code = h->code;
	e->reason = (char *)h->reason;
	e->forced = h->forced;
	e->kept = h->kept;
	e->data_at_risk_records = h->data_at_risk_records;
	e->data_at_risk_bytes = h->data_at_risk_bytes;
	e->data_at_risk_ms = h->data_at_risk_ms;
}

int fsm_snapshot(const struct fsm *f, void **buf, size_t *len)
{
	Poolpair__State st = POOLPAIR__STATE__INIT;
	Poolpair__Cms cms = POOLPAIR__CMS__INIT;
	Poolpair__Policy policy = POOLPAIR__POLICY__INIT;
	struct snap_parts s;
	uint64_t first, count, k;
	size_t n_hist = 0, size;
	unsigned i;
	void *out;

	memset(&s, 0, sizeof(s));
	s.sites = snap_alloc(f->n_sites, sizeof(*s.sites));
	s.site_ptrs = snap_alloc(f->n_sites, sizeof(*s.site_ptrs));
	s.members = snap_alloc(f->n_members, sizeof(*s.members));
	s.member_ptrs = snap_alloc(f->n_members, sizeof(*s.member_ptrs));
	s.pools = snap_alloc(f->n_pools, sizeof(*s.pools));
	s.pool_states = snap_alloc(f->n_pools, sizeof(*s.pool_states));
	s.pool_ptrs = snap_alloc(f->n_pools, sizeof(*s.pool_ptrs));
	s.sbas = snap_alloc(f->n_sbas, sizeof(*s.sbas));
	s.sba_ptrs = snap_alloc(f->n_sbas, sizeof(*s.sba_ptrs));
	s.history = snap_alloc(FSM_HISTORY, sizeof(*s.history));
	s.history_ptrs = snap_alloc(FSM_HISTORY, sizeof(*s.history_ptrs));
	s.kept = snap_alloc(f->n_kept, sizeof(*s.kept));
	s.kept_ptrs = snap_alloc(f->n_kept, sizeof(*s.kept_ptrs));
	if (s.sites == NULL || s.site_ptrs == NULL || s.members == NULL ||
	    s.member_ptrs == NULL || s.pools == NULL || s.pool_states == NULL ||
	    s.pool_ptrs == NULL || s.sbas == NULL || s.sba_ptrs == NULL ||
	    s.history == NULL || s.history_ptrs == NULL || s.kept == NULL ||
	    s.kept_ptrs == NULL)
		goto err_after_alloc;

	st.version = FSM_SNAPSHOT_VERSION;
	for (i = 0; i < f->n_sites; i++) {
		poolpair__site__init(&s.sites[i]);
		s.sites[i].name = (char *)f->sites[i].name;
		s.site_ptrs[i] = &s.sites[i];
	}
	st.n_sites = f->n_sites;
	st.sites = s.site_ptrs;

	for (i = 0; i < f->n_members; i++) {
		const struct fsm_member *m = &f->members[i];
		Poolpair__Member *pm = &s.members[i];

		poolpair__member__init(pm);
		pm->id = m->id;
		pm->name = (char *)m->name;
		pm->site = (char *)m->site;
		pm->pool = (char *)m->pool;
		pm->raft_address = (char *)m->raft_address;
		pm->data_address = (char *)m->data_address;
		pm->api_address = (char *)m->api_address;
		s.member_ptrs[i] = pm;
	}
	st.n_members = f->n_members;
	st.members = s.member_ptrs;

	for (i = 0; i < f->n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];
		Poolpair__Pool *pp = &s.pools[i];
		Poolpair__PoolState *ps = &s.pool_states[i];

		poolpair__pool__init(pp);
		pp->name = (char *)p->name;
		pp->site = (char *)p->site;
		pp->edition = (char *)p->edition;
		pp->kind = (char *)p->kind;
		pp->os = (char *)p->os;
		pp->capacity = p->capacity;
		poolpair__pool_state__init(ps);
		ps->pool = pp;
		ps->pair = (char *)p->pair;
		ps->pair_supported = p->pair_supported;
		ps->unsupported_reason = (char *)p->unsupported_reason;
		ps->owner = (char *)p->owner;
		ps->epoch = p->epoch;
		ps->state = (Poolpair__FailoverState)p->state;
		ps->failover_since_ms = p->failover_since_ms;
		ps->takeover_data_seq = p->takeover_seq[0];
		ps->takeover_content_seq = p->takeover_seq[1];
		ps->last_failover_reason = (char *)p->last_failover_reason;
		ps->repl_mode = (Poolpair__ReplMode)p->repl_mode;
		ps->sync_timeout_ms = p->sync_timeout_ms;
		ps->last_auto_failover_ms = p->last_auto_failover_ms;
		ps->paused = p->paused;
		ps->paused_since_ms = p->paused_since_ms;
		ps->pause_reason = (char *)p->pause_reason;
		ps->writer = p->writer;
		ps->writer_token = p->writer_token;
		ps->sync_standby = p->sync_standby;
		ps->writer_data_seq = p->writer_seq[0];
		ps->writer_content_seq = p->writer_seq[1];
		ps->writer_epoch = p->writer_epoch;
		ps->floor_epoch = p->floor_epoch;
		s.pool_ptrs[i] = ps;
	}
	st.n_pools = f->n_pools;
	st.pools = s.pool_ptrs;

	for (i = 0; i < f->n_sbas; i++) {
		poolpair__sba__init(&s.sbas[i]);
		s.sbas[i].name = (char *)f->sbas[i].name;
		s.sbas[i].site = (char *)f->sbas[i].site;
		s.sbas[i].backup_pool = (char *)f->sbas[i].backup_pool;
		s.sba_ptrs[i] = &s.sbas[i];
	}
	st.n_sbas = f->n_sbas;
	st.sbas = s.sba_ptrs;

	cms.active = (char *)f->cms_active;
	cms.epoch = f->cms_epoch;
	cms.state = (Poolpair__FailoverState)f->cms_state;
	cms.since_ms = f->cms_since_ms;
	cms.writer_data_seq = f->cms_writer_seq[0];
	cms.writer_content_seq = f->cms_writer_seq[1];
	cms.writer_epoch = f->cms_writer_epoch;
	cms.floor_epoch = f->cms_floor_epoch;
	st.cms = &cms;
	policy.failover = (char *)f->policy.failover;
	policy.max_lag_on_failover_ms = f->policy.max_lag_on_failover_ms;
	policy.cooldown_ms = f->policy.cooldown_ms;
	policy.set = f->policy.set;
	st.policy = &policy;

	first = f->decisions > FSM_HISTORY ? f->decisions - FSM_HISTORY + 1 : 1;
	count = f->decisions < FSM_HISTORY ? f->decisions : FSM_HISTORY;
	for (k = 0; k < count; k++) {
		const struct fsm_history *h =
		    &f->history[(first + k - 1) % FSM_HISTORY];

		if (h->seq != first + k)
			continue;
		history_entry(&s.history[n_hist], h);
		s.history_ptrs[n_hist] = &s.history[n_hist];
		n_hist++;
	}
	st.n_history = n_hist;
	st.history = s.history_ptrs;
	st.decisions = f->decisions;
	for (i = 0; i < f->n_kept; i++) {
		history_entry(&s.kept[i],
			      &f->kept[(f->kept_head + i) % FSM_HISTORY_KEPT]);
		s.kept_ptrs[i] = &s.kept[i];
	}
	st.n_kept_history = f->n_kept;
	st.kept_history = s.kept_ptrs;
	st.kept_dropped = f->kept_dropped;

	size = poolpair__state__get_packed_size(&st);
	out = malloc(size > 0 ? size : 1);
	if (out == NULL)
		goto err_after_alloc;
	poolpair__state__pack(&st, out);
	snap_parts_free(&s);
	*buf = out;
	*len = size;
	return 0;

err_after_alloc:
	snap_parts_free(&s);
	return -ENOMEM;
}

/* ---- restore ---- */

/* Copy src into dst when it fits; false otherwise. */
static bool put(char *dst, size_t cap, const char *src)
{
	size_t n;

	src = fsm_str(src);
	n = strlen(src);
	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

static bool put_name(char *dst, const char *src)
{
	return fsm_name_ok(fsm_str(src)) && put(dst, FSM_NAME_LEN, src);
}

static bool restore_members(struct fsm *t, const Poolpair__State *st)
{
	size_t i;

	if (st->n_members > FSM_MAX_MEMBERS)
		return false;
	for (i = 0; i < st->n_members; i++) {
		const Poolpair__Member *m = st->members[i];
		struct fsm_member *d = &t->members[i];

		if (m == NULL || m->id == 0 || fsm_member_index(t, m->id) >= 0)
			return false;
		if (!put_name(d->name, m->name) ||
		    !put_name(d->site, m->site) ||
		    (fsm_str(m->pool)[0] != '\0' &&
		     !put_name(d->pool, m->pool)) ||
		    !put(d->raft_address, FSM_ADDR_LEN, m->raft_address) ||
		    !put(d->data_address, FSM_ADDR_LEN, m->data_address) ||
		    !put(d->api_address, FSM_ADDR_LEN, m->api_address) ||
		    !fsm_addr_ok(d->raft_address) ||
		    !fsm_addr_ok(d->data_address) ||
		    !fsm_addr_ok(d->api_address) ||
		    d->raft_address[0] == '\0' || d->api_address[0] == '\0' ||
		    (d->pool[0] != '\0' && d->data_address[0] == '\0') ||
		    fsm_site_index(t, d->site) < 0)
			return false;
		d->id = m->id;
		t->n_members++;
	}
	return true;
}

/* A writer is a member registered for pool p, in its site, with a token
 * raised at least once; no writer (0, and in states older than the field)
 * goes with any token. The members are restored already. */
static bool writer_ok(const struct fsm *t, const struct fsm_pool *p,
		      uint64_t writer, uint64_t token)
{
	int m;

	if (writer == 0)
		return true;
	m = fsm_member_index(t, writer);
	return token != 0 && m >= 0 && strcmp(t->members[m].pool, p->name) == 0 &&
	       strcmp(t->members[m].site, p->site) == 0;
}

static bool restore_pools(struct fsm *t, const Poolpair__State *st)
{
	size_t i;

	if (st->n_pools > FSM_MAX_POOLS)
		return false;
	for (i = 0; i < st->n_pools; i++) {
		const Poolpair__PoolState *ps = st->pools[i];
		struct fsm_pool *d = &t->pools[i];
		const Poolpair__Pool *p;

		if (ps == NULL || ps->pool == NULL)
			return false;
		p = ps->pool;
		if (!put_name(d->name, p->name) ||
		    fsm_pool_index(t, d->name) >= 0 ||
		    !put_name(d->site, p->site) ||
		    fsm_site_index(t, d->site) < 0 ||
		    !fsm_edition_ok(fsm_str(p->edition)) ||
		    !put(d->edition, FSM_NAME_LEN, p->edition) ||
		    !fsm_kind_ok(fsm_str(p->kind)) ||
		    !put(d->kind, FSM_NAME_LEN, p->kind) ||
		    !put_name(d->os, p->os) ||
		    (fsm_str(ps->pair)[0] != '\0' &&
		     !put_name(d->pair, ps->pair)) ||
		    !put(d->unsupported_reason, FSM_REASON_LEN,
			 ps->unsupported_reason) ||
		    !put(d->last_failover_reason, FSM_REASON_LEN,
			 ps->last_failover_reason) ||
		    !put(d->pause_reason, FSM_REASON_LEN, ps->pause_reason) ||
		    (!ps->paused && (ps->paused_since_ms != 0 ||
				     d->pause_reason[0] != '\0')) ||
		    !put_name(d->owner, ps->owner) || ps->epoch == 0 ||
		    ps->floor_epoch > ps->epoch ||
		    (int)ps->state < FSM_STATE_NORMAL ||
		    (int)ps->state > FSM_STATE_FAILING_BACK ||
		    ((int)ps->repl_mode != FSM_REPL_ASYNC &&
		     (int)ps->repl_mode != FSM_REPL_SYNC) ||
		    ps->sync_timeout_ms > FSM_SYNC_TIMEOUT_MAX_MS)
			return false;
		d->repl_mode = (int)ps->repl_mode;
		d->sync_timeout_ms = ps->sync_timeout_ms;
		d->capacity = p->capacity;
		d->pair_supported = ps->pair_supported;
		d->epoch = ps->epoch;
		/* a state older than the floor: every epoch was an owner's */
		d->floor_epoch =
		    ps->floor_epoch != 0 ? ps->floor_epoch : ps->epoch;
		d->state = (int)ps->state;
		d->failover_since_ms = ps->failover_since_ms;
		d->takeover_seq[0] = ps->takeover_data_seq;
		d->takeover_seq[1] = ps->takeover_content_seq;
		d->last_auto_failover_ms = ps->last_auto_failover_ms;
		d->paused = ps->paused;
		d->paused_since_ms = ps->paused_since_ms;
		if (!writer_ok(t, d, ps->writer, ps->writer_token))
			return false;
		d->writer = ps->writer;
		d->writer_token = ps->writer_token;
		/* a sync standby is a standby: of a pool with a writer */
		if (ps->sync_standby != 0 &&
		    (ps->writer == 0 || ps->sync_standby == ps->writer ||
		     !writer_ok(t, d, ps->sync_standby, ps->writer_token)))
			return false;
		d->sync_standby = ps->sync_standby;
		d->writer_seq[0] = ps->writer_data_seq;
		d->writer_seq[1] = ps->writer_content_seq;
		/* the epoch of the last local takeover: never past the
		 * user set's (0 from older states: none known) */
		if (ps->writer_epoch > ps->epoch)
			return false;
		d->writer_epoch = ps->writer_epoch;
		t->n_pools++;
	}
	/* Pairs are symmetric and consistent; owners are the pool or its
	 * pair, as the failover state says: the pool itself while normal or
	 * failing over, its pair from failed over until failed back. An
	 * unpaired pool is normal and owns itself; of two paired pools at
	 * most one is not normal. */
	for (i = 0; i < t->n_pools; i++) {
		const struct fsm_pool *p = &t->pools[i];
		int j;

		bool owns_self = p->state == FSM_STATE_NORMAL ||
				 p->state == FSM_STATE_FAILING_OVER;

		if (p->pair[0] == '\0') {
			if (!p->pair_supported ||
			    p->unsupported_reason[0] != '\0' ||
			    p->state != FSM_STATE_NORMAL ||
			    strcmp(p->owner, p->name) != 0 ||
			    p->repl_mode != FSM_REPL_ASYNC ||
			    p->sync_timeout_ms != 0)
				return false;
			continue;
		}
		j = fsm_pool_index(t, p->pair);
		if (j < 0 || (size_t)j == i ||
		    strcmp(t->pools[j].pair, p->name) != 0 ||
		    t->pools[j].pair_supported != p->pair_supported ||
		    strcmp(t->pools[j].unsupported_reason,
			   p->unsupported_reason) != 0 ||
		    (p->pair_supported && p->unsupported_reason[0] != '\0') ||
		    t->pools[j].repl_mode != p->repl_mode ||
		    t->pools[j].sync_timeout_ms != p->sync_timeout_ms ||
		    strcmp(p->owner, owns_self ? p->name : p->pair) != 0 ||
		    (p->state != FSM_STATE_NORMAL &&
		     t->pools[j].state != FSM_STATE_NORMAL))
			return false;
	}
	return true;
}

/* One entry into h; false when out of bounds. Only an accepted decision
 * can be kept. */
static bool restore_entry(struct fsm_history *h,
			  const Poolpair__HistoryEntry *e)
{
	if (e == NULL || e->seq == 0 || e->code < 0 ||
	    e->code >= FSM_CODE_COUNT || (e->kept && e->code != FSM_OK) ||
	    !put(h->who, FSM_WHO_LEN, e->who) ||
	    !put(h->what, FSM_WHAT_LEN, e->what) ||
	    !put(h->reason, FSM_REASON_LEN, e->reason))
		return false;
	h->seq = e->seq;
	h->time_ms = e->time_ms;
	h->code = e->code;
	h->forced = e->forced;
	h->kept = e->kept;
	h->data_at_risk_records = e->data_at_risk_records;
	h->data_at_risk_bytes = e->data_at_risk_bytes;
	h->data_at_risk_ms = e->data_at_risk_ms;
	return true;
}

/* The ring, then the kept entries: kept ones, in seq order, all older
 * than the ring, at most FSM_HISTORY_KEPT. */
static bool restore_history(struct fsm *t, const Poolpair__State *st)
{
	uint64_t prev = 0, first;
	size_t i;

	if (st->n_history > FSM_HISTORY || st->n_history > st->decisions ||
	    st->n_kept_history > FSM_HISTORY_KEPT)
		return false;
	/* every site, member, pool and SBA came by a decision (a state cut
	 * short before its history reads as one without any) */
	if (st->decisions == 0 &&
	    st->n_sites + st->n_members + st->n_pools + st->n_sbas > 0)
		return false;
	t->decisions = st->decisions;
	first = st->decisions > FSM_HISTORY ? st->decisions - FSM_HISTORY + 1
					    : 1;
	for (i = 0; i < st->n_history; i++) {
		const Poolpair__HistoryEntry *e = st->history[i];

		if (e == NULL || e->seq <= prev || e->seq > st->decisions ||
		    st->decisions - e->seq >= FSM_HISTORY ||
		    !restore_entry(&t->history[(e->seq - 1) % FSM_HISTORY], e))
			return false;
		prev = e->seq;
	}
	prev = 0;
	for (i = 0; i < st->n_kept_history; i++) {
		const Poolpair__HistoryEntry *e = st->kept_history[i];

		if (e == NULL || e->seq <= prev || e->seq >= first ||
		    !e->kept || !restore_entry(&t->kept[i], e))
			return false;
		prev = e->seq;
	}
	t->n_kept = (unsigned)st->n_kept_history;
	t->kept_head = 0;
	t->kept_dropped = st->kept_dropped;
	return true;
}

/* Fill t (zeroed) from st; false on anything out of bounds. */
static bool restore_into(struct fsm *t, const Poolpair__State *st)
{
	size_t i;

	if (st->version != FSM_SNAPSHOT_VERSION || st->policy == NULL ||
	    st->n_sites > FSM_MAX_SITES || st->n_sbas > FSM_MAX_SBAS)
		return false;
	for (i = 0; i < st->n_sites; i++) {
		if (st->sites[i] == NULL ||
		    !put_name(t->sites[i].name, st->sites[i]->name) ||
		    fsm_site_index(t, t->sites[i].name) >= 0)
			return false;
		t->n_sites++;
	}
	if (!restore_members(t, st) || !restore_pools(t, st))
		return false;
	for (i = 0; i < st->n_sbas; i++) {
		const Poolpair__Sba *s = st->sbas[i];
		struct fsm_sba *d = &t->sbas[i];

		if (s == NULL || !put_name(d->name, s->name) ||
		    fsm_sba_index(t, d->name) >= 0 ||
		    !put_name(d->site, s->site) ||
		    fsm_site_index(t, d->site) < 0 ||
		    !put_name(d->backup_pool, s->backup_pool) ||
		    fsm_pool_index(t, d->backup_pool) < 0)
			return false;
		t->n_sbas++;
	}
	if (st->cms != NULL && fsm_str(st->cms->active)[0] != '\0') {
		if (!put_name(t->cms_active, st->cms->active) ||
		    fsm_pool_index(t, t->cms_active) < 0 || st->cms->epoch == 0)
			return false;
	}
	t->cms_epoch = st->cms != NULL ? st->cms->epoch : 0;
	if (st->cms != NULL && st->cms->floor_epoch > st->cms->epoch)
		return false;
	t->cms_floor_epoch = st->cms != NULL && st->cms->floor_epoch != 0
				 ? st->cms->floor_epoch
				 : t->cms_epoch;
	if (st->cms != NULL) {
		int cs = (int)st->cms->state;
		int pi = fsm_pool_index(t, t->cms_active);

		/* a planned move drains only from a placed, paired CMS */
		if (cs != FSM_STATE_NORMAL &&
		    (cs != FSM_STATE_FAILING_OVER || pi < 0 ||
		     t->pools[pi].pair[0] == '\0'))
			return false;
		t->cms_state = cs;
		t->cms_since_ms = st->cms->since_ms;
		t->cms_writer_seq[0] = st->cms->writer_data_seq;
		t->cms_writer_seq[1] = st->cms->writer_content_seq;
		if (st->cms->writer_epoch > st->cms->epoch)
			return false;
		t->cms_writer_epoch = st->cms->writer_epoch;
	}
	if (fsm_str(st->policy->failover)[0] != '\0' &&
	    !fsm_failover_ok(fsm_str(st->policy->failover)))
		return false;
	strcpy(t->policy.failover, fsm_str(st->policy->failover));
	t->policy.max_lag_on_failover_ms = st->policy->max_lag_on_failover_ms;
	t->policy.cooldown_ms = st->policy->cooldown_ms;
	/* a failover policy is only ever chosen by a set_policy; snapshots
	 * older than the set flag hold one without it */
	t->policy.set = st->policy->set || t->policy.failover[0] != '\0';
	return restore_history(t, st);
}

int fsm_restore(struct fsm *f, const void *buf, size_t len)
{
	static const uint8_t empty[1];
	Poolpair__State *st;
	struct fsm *t;
	int rv = -EINVAL;

	if ((buf == NULL && len > 0) || len > FSM_MAX_SNAPSHOT_BYTES)
		return -EINVAL;
	st = poolpair__state__unpack(NULL, len, buf != NULL ? buf : empty);
	if (st == NULL)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		rv = -ENOMEM;
		goto err_after_unpack;
	}
	if (!restore_into(t, st))
		goto err_after_alloc;
	memcpy(f, t, sizeof(*f));
	rv = 0;
err_after_alloc:
	free(t);
err_after_unpack:
	poolpair__state__free_unpacked(st, NULL);
	return rv;
}
