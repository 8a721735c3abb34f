/* fsm_topology: the operations on the topology (see fsm.h): members,
 * sites, pools, pairs (the pairing rules and the replication mode), SBAs,
 * the first placement of the CMS, and a topology of several steps applied
 * all or nothing. Each fills the outcome; on refusal the state is
 * unchanged. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"
#include "control.pb-c.h"

/* Refuse with FSM_E_FULL when site is unknown and no room is left for it
 * to be created implicitly. Returns 0 or the code. */
static int site_room(const struct fsm *f, const char *site, struct outcome *o)
{
	char c[CLIP_LEN];

	if (fsm_site_index(f, site) >= 0 || f->n_sites < FSM_MAX_SITES)
		return 0;
	return fsm_fail(
	    o, FSM_E_FULL,
	    "site %s would be site %d, at most %d sites can be defined",
	    fsm_clip(c, site), FSM_MAX_SITES + 1, FSM_MAX_SITES);
}

/* Precondition: site_room() said yes. */
static void site_ensure(struct fsm *f, const char *site)
{
	if (fsm_site_index(f, site) >= 0)
		return;
	strcpy(f->sites[f->n_sites].name, site);
	f->n_sites++;
}

/* "east2 (east, pool-east)", or "(east, witness)" without a pool. */
static void identity_text(char *dst, size_t cap, const char *name,
			  const char *site, const char *pool)
{
	char cn[CLIP_LEN], cs[CLIP_LEN], cp[CLIP_LEN];

	fsm_fmt(dst, cap, "%s (%s, %s)", fsm_clip(cn, name), fsm_clip(cs, site),
		pool[0] != '\0' ? fsm_clip(cp, pool) : "witness");
}

/* Refuse a registration of m (fields valid, pool the member's pool, ""
 * for a witness) that would give a member another identity: an id
 * registered already keeps its name, site and pool (only its addresses
 * may change); a new id cannot take the name of another; the member of a
 * defined pool sits in the pool's site. Returns 0 or the code. */
static int identity_check(const struct fsm *f, const Poolpair__Member *m,
			  const char *pool, struct outcome *o)
{
	char have[3 * CLIP_LEN + 8], want[3 * CLIP_LEN + 8];
	char cs[CLIP_LEN], cp[CLIP_LEN];
	int i = fsm_member_index(f, m->id);
	int p;

	if (i >= 0) {
		const struct fsm_member *d = &f->members[i];

		if (strcmp(d->name, m->name) != 0 ||
		    strcmp(d->site, m->site) != 0 ||
		    strcmp(d->pool, pool) != 0) {
			identity_text(have, sizeof(have), d->name, d->site,
				      d->pool);
			identity_text(want, sizeof(want), m->name, m->site,
				      pool);
			return fsm_fail(o, FSM_E_EXISTS,
					"member %" PRIu64
					" is %s, not %s: remove it before it "
					"registers with another name, site or "
					"pool",
					m->id, have, want);
		}
	} else {
		for (unsigned j = 0; j < f->n_members; j++)
			if (strcmp(f->members[j].name, m->name) == 0)
				return fsm_fail(o, FSM_E_EXISTS,
						"name %s is member %" PRIu64,
						f->members[j].name,
						f->members[j].id);
	}
	p = pool[0] != '\0' ? fsm_pool_index(f, pool) : -1;
	if (p >= 0 && strcmp(f->pools[p].site, m->site) != 0)
		return fsm_fail(o, FSM_E_INVALID, "%s is in site %s, not %s",
				fsm_clip(cp, pool), f->pools[p].site,
				fsm_clip(cs, m->site));
	return FSM_OK;
}

int fsm_op_register_member(struct fsm *f, const Poolpair__CmdRegisterMember *c,
			   struct outcome *o)
{
	const Poolpair__Member *m = c->member;
	struct fsm_member *dst;
	char cn[CLIP_LEN], cs[CLIP_LEN], cp[CLIP_LEN];
	const char *pool;
	int i;

	if (m == NULL) {
		fsm_fmt(o->what, sizeof(o->what), "register member");
		return fsm_fail(o, FSM_E_INVALID,
				"register_member has no member");
	}
	pool = fsm_str(m->pool);
	fsm_fmt(o->what, sizeof(o->what),
		"register member %" PRIu64 " %s (%s, %s)", m->id,
		fsm_clip(cn, fsm_str(m->name)), fsm_clip(cs, fsm_str(m->site)),
		pool[0] != '\0' ? fsm_clip(cp, pool) : "witness");
	if (m->id == 0)
		return fsm_fail(o, FSM_E_INVALID,
				"member id must be greater than 0");
	if (fsm_check_name(o, "member name", fsm_str(m->name)) ||
	    fsm_check_name(o, "member site", fsm_str(m->site)) ||
	    (pool[0] != '\0' && fsm_check_name(o, "member pool", pool)) ||
	    fsm_check_addr(o, "raft address", fsm_str(m->raft_address), true) ||
	    fsm_check_addr(o, "data address", fsm_str(m->data_address),
			   pool[0] != '\0') ||
	    fsm_check_addr(o, "api address", fsm_str(m->api_address), true) ||
	    identity_check(f, m, pool, o))
		return o->code;
	i = fsm_member_index(f, m->id);
	if (i < 0 && f->n_members >= FSM_MAX_MEMBERS)
		return fsm_fail(o, FSM_E_FULL,
				"member %" PRIu64
				" would be member %d, at most %d "
				"members can be registered",
				m->id, FSM_MAX_MEMBERS + 1, FSM_MAX_MEMBERS);
	if (site_room(f, m->site, o))
		return o->code;
	site_ensure(f, m->site);
	if (i < 0)
		i = (int)f->n_members++;
	dst = &f->members[i];
	memset(dst, 0, sizeof(*dst));
	dst->id = m->id;
	strcpy(dst->name, m->name);
	strcpy(dst->site, m->site);
	strcpy(dst->pool, pool);
	strcpy(dst->raft_address, m->raft_address);
	strcpy(dst->data_address, fsm_str(m->data_address));
	strcpy(dst->api_address, m->api_address);
	return FSM_OK;
}

int fsm_op_remove_member(struct fsm *f, const Poolpair__CmdRemoveMember *c,
			 struct outcome *o)
{
	int i;

	fsm_fmt(o->what, sizeof(o->what), "remove member %" PRIu64, c->id);
	if (c->id == 0)
		return fsm_fail(o, FSM_E_INVALID,
				"member id must be greater than 0");
	i = fsm_member_index(f, c->id);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"member %" PRIu64 " is not registered", c->id);
	if (fsm_writer_check_remove(f, c->id, o))
		return o->code;
	fsm_writer_removed(f, &f->members[i], o);
	memmove(&f->members[i], &f->members[i + 1],
		(f->n_members - (unsigned)i - 1) * sizeof(f->members[0]));
	f->n_members--;
	memset(&f->members[f->n_members], 0, sizeof(f->members[0]));
	return FSM_OK;
}

int fsm_op_add_site(struct fsm *f, const Poolpair__CmdAddSite *c,
		    struct outcome *o)
{
	const char *name = fsm_str(c->name);
	char cn[CLIP_LEN];

	fsm_fmt(o->what, sizeof(o->what), "add site %s", fsm_clip(cn, name));
	if (fsm_check_name(o, "site name", name))
		return o->code;
	if (fsm_site_index(f, name) >= 0)
		return fsm_fail(o, FSM_E_EXISTS, "site %s is already defined",
				cn);
	if (site_room(f, name, o))
		return o->code;
	site_ensure(f, name);
	return FSM_OK;
}

int fsm_op_remove_site(struct fsm *f, const Poolpair__CmdRemoveSite *c,
		       struct outcome *o)
{
	const char *name = fsm_str(c->name);
	char cn[CLIP_LEN];
	unsigned i;
	int s;

	fsm_fmt(o->what, sizeof(o->what), "remove site %s", fsm_clip(cn, name));
	if (fsm_check_name(o, "site name", name))
		return o->code;
	s = fsm_site_index(f, name);
	if (s < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "site %s is not defined",
				cn);
	for (i = 0; i < f->n_pools; i++)
		if (strcmp(f->pools[i].site, name) == 0)
			return fsm_fail(
			    o, FSM_E_IN_USE,
			    "site %s is the site of pool %s: remove the "
			    "pool first",
			    cn, f->pools[i].name);
	for (i = 0; i < f->n_sbas; i++)
		if (strcmp(f->sbas[i].site, name) == 0)
			return fsm_fail(
			    o, FSM_E_IN_USE,
			    "site %s is the site of sba %s: remove the "
			    "sba first",
			    cn, f->sbas[i].name);
	for (i = 0; i < f->n_members; i++)
		if (strcmp(f->members[i].site, name) == 0)
			return fsm_fail(o, FSM_E_IN_USE,
					"site %s is the site of member %" PRIu64
					" (%s): remove the member first",
					cn, f->members[i].id,
					f->members[i].name);
	memmove(&f->sites[s], &f->sites[s + 1],
		(f->n_sites - (unsigned)s - 1) * sizeof(f->sites[0]));
	f->n_sites--;
	memset(&f->sites[f->n_sites], 0, sizeof(f->sites[0]));
	return FSM_OK;
}

int fsm_op_add_pool(struct fsm *f, const Poolpair__CmdAddPool *c,
		    struct outcome *o)
{
	const Poolpair__Pool *p = c->pool;
	struct fsm_pool *dst;
	char cn[CLIP_LEN], cs[CLIP_LEN], ce[CLIP_LEN], ck[CLIP_LEN],
	    co[CLIP_LEN];

	if (p == NULL) {
		fsm_fmt(o->what, sizeof(o->what), "add pool");
		return fsm_fail(o, FSM_E_INVALID, "add_pool has no pool");
	}
	fsm_fmt(o->what, sizeof(o->what), "add pool %s (%s, %s, %s, %s)",
		fsm_clip(cn, fsm_str(p->name)), fsm_clip(cs, fsm_str(p->site)),
		fsm_clip(ce, fsm_str(p->edition)),
		fsm_clip(ck, fsm_str(p->kind)), fsm_clip(co, fsm_str(p->os)));
	if (fsm_check_name(o, "pool name", fsm_str(p->name)) ||
	    fsm_check_name(o, "pool site", fsm_str(p->site)))
		return o->code;
	if (!fsm_edition_ok(fsm_str(p->edition)))
		return fsm_fail(
		    o, FSM_E_INVALID,
		    "pool edition \"%s\" is not enterprise or standard", ce);
	if (!fsm_kind_ok(fsm_str(p->kind)))
		return fsm_fail(o, FSM_E_INVALID,
				"pool kind \"%s\" is not physical or virtual",
				ck);
	if (fsm_check_name(o, "pool os", fsm_str(p->os)))
		return o->code;
	if (fsm_pool_index(f, p->name) >= 0)
		return fsm_fail(o, FSM_E_EXISTS, "pool %s is already defined",
				cn);
	for (unsigned i = 0; i < f->n_members; i++)
		if (strcmp(f->members[i].pool, p->name) == 0 &&
		    strcmp(f->members[i].site, p->site) != 0)
			return fsm_fail(o, FSM_E_INVALID,
					"member %" PRIu64
					" (%s) of %s is in site %s, not %s",
					f->members[i].id, f->members[i].name,
					cn, f->members[i].site, cs);
	if (f->n_pools >= FSM_MAX_POOLS)
		return fsm_fail(
		    o, FSM_E_FULL,
		    "pool %s would be pool %d, at most %d pools can be "
		    "defined",
		    cn, FSM_MAX_POOLS + 1, FSM_MAX_POOLS);
	if (site_room(f, p->site, o))
		return o->code;
	site_ensure(f, p->site);
	dst = &f->pools[f->n_pools++];
	memset(dst, 0, sizeof(*dst));
	strcpy(dst->name, p->name);
	strcpy(dst->site, p->site);
	strcpy(dst->edition, p->edition);
	strcpy(dst->kind, p->kind);
	strcpy(dst->os, p->os);
	dst->capacity = p->capacity;
	dst->pair_supported = true;
	strcpy(dst->owner, p->name);
	dst->epoch = 1;
	dst->floor_epoch = 1;
	dst->state = FSM_STATE_NORMAL;
	dst->failover_since_ms = o->now;
	if (f->cms_active[0] == '\0') {
		strcpy(f->cms_active, p->name);
		f->cms_epoch++;
		f->cms_floor_epoch = f->cms_epoch;
	}
	return FSM_OK;
}

int fsm_op_remove_pool(struct fsm *f, const Poolpair__CmdRemovePool *c,
		       struct outcome *o)
{
	const char *name = fsm_str(c->name);
	char cn[CLIP_LEN];
	unsigned j;
	int i;

	fsm_fmt(o->what, sizeof(o->what), "remove pool %s", fsm_clip(cn, name));
	if (fsm_check_name(o, "pool name", name))
		return o->code;
	i = fsm_pool_index(f, name);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				cn);
	if (f->pools[i].state != FSM_STATE_NORMAL)
		return fsm_fail(
		    o, FSM_E_FAILED_OVER,
		    "pool %s is %s, not normal: fail it back before "
		    "removing it",
		    cn, fsm_failover_state_name(f->pools[i].state));
	if (f->pools[i].pair[0] != '\0')
		return fsm_fail(o, FSM_E_IN_USE,
				"pool %s is paired with %s: unpair it first",
				cn, f->pools[i].pair);
	if (strcmp(f->cms_active, name) == 0)
		return fsm_fail(
		    o, FSM_E_IN_USE,
		    "pool %s hosts the active CMS: move it with a CMS "
		    "failover first",
		    cn);
	for (j = 0; j < f->n_sbas; j++)
		if (strcmp(f->sbas[j].backup_pool, name) == 0)
			return fsm_fail(o, FSM_E_IN_USE,
					"pool %s is the backup pool of sba %s: "
					"remove the sba first",
					cn, f->sbas[j].name);
	memmove(&f->pools[i], &f->pools[i + 1],
		(f->n_pools - (unsigned)i - 1) * sizeof(f->pools[0]));
	f->n_pools--;
	memset(&f->pools[f->n_pools], 0, sizeof(f->pools[0]));
	return FSM_OK;
}

/* One broken pairing rule: its code, the refusal and a short form for the
 * unsupported reason of a forced pair. */
struct rule_break {
	int code;
	char text[FSM_REASON_LEN];
	char brief[FSM_REASON_LEN];
	const char *label;
};

static unsigned pair_rules(const struct fsm_pool *a, const struct fsm_pool *b,
			   struct rule_break br[4])
{
	unsigned n = 0;

	if (strcmp(a->edition, b->edition) != 0) {
		br[n].code = FSM_E_PAIR_EDITION;
		fsm_fmt(
		    br[n].text, sizeof(br[n].text),
		    "%s is %s but %s is %s: paired pools must have the same "
		    "edition",
		    a->name, a->edition, b->name, b->edition);
		fsm_fmt(br[n].brief, sizeof(br[n].brief), "edition %s vs %s",
			a->edition, b->edition);
		br[n++].label = "different editions";
	}
	if (strcmp(a->kind, b->kind) != 0) {
		br[n].code = FSM_E_PAIR_KIND;
		fsm_fmt(
		    br[n].text, sizeof(br[n].text),
		    "%s is %s but %s is %s: paired pools must be of the same "
		    "kind",
		    a->name, a->kind, b->name, b->kind);
		fsm_fmt(br[n].brief, sizeof(br[n].brief), "kind %s vs %s",
			a->kind, b->kind);
		br[n++].label = "different kinds";
	}
	if (strcmp(a->os, b->os) != 0) {
		br[n].code = FSM_E_PAIR_OS;
		fsm_fmt(
		    br[n].text, sizeof(br[n].text),
		    "%s runs %s but %s runs %s: paired pools must run the same "
		    "os",
		    a->name, a->os, b->name, b->os);
		fsm_fmt(br[n].brief, sizeof(br[n].brief), "os %s vs %s", a->os,
			b->os);
		br[n++].label = "different os";
	}
	if (strcmp(a->site, b->site) == 0) {
		br[n].code = FSM_E_PAIR_SITE;
		fsm_fmt(
		    br[n].text, sizeof(br[n].text),
		    "%s and %s are both in site %s: paired pools must be in "
		    "different sites",
		    a->name, b->name, a->site);
		fsm_fmt(br[n].brief, sizeof(br[n].brief), "both in site %s",
			a->site);
		br[n++].label = "same site";
	}
	return n;
}

/* "unsupported pairing: edition enterprise vs standard; os a vs b", or, if
 * that does not fit, the rules without their values. */
static void unsupported_text(char *dst, size_t cap, const struct rule_break *br,
			     unsigned n)
{
	static const char head[] = "unsupported pairing: ";
	size_t len = strlen(head);
	unsigned i;

	for (i = 0; i < n; i++)
		len += strlen(br[i].brief) + (i > 0 ? 2 : 0);
	strcpy(dst, head);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(dst, "; ");
		strcat(dst, len < cap ? br[i].brief : br[i].label);
	}
}

/* Refuse a replication mode that is not async or sync, or a sync timeout
 * above FSM_SYNC_TIMEOUT_MAX_MS, with FSM_E_INVALID. */
static int repl_mode_check(struct outcome *o, int mode, uint32_t timeout_ms)
{
	if (mode != FSM_REPL_ASYNC && mode != FSM_REPL_SYNC)
		return fsm_fail(o, FSM_E_INVALID,
				"replication mode %d is not async (0) or sync "
				"(1)",
				mode);
	if (timeout_ms > FSM_SYNC_TIMEOUT_MAX_MS)
		return fsm_fail(o, FSM_E_INVALID,
				"sync timeout %" PRIu32 " ms is above %d ms",
				timeout_ms, FSM_SYNC_TIMEOUT_MAX_MS);
	return FSM_OK;
}

int fsm_op_pair(struct fsm *f, const Poolpair__CmdPair *c, struct outcome *o)
{
	const char *a = fsm_str(c->a), *b = fsm_str(c->b);
	struct fsm_pool *pa, *pb;
	struct rule_break br[4];
	char ca[CLIP_LEN], cb[CLIP_LEN];
	unsigned n;
	int ia, ib;

	fsm_fmt(o->what, sizeof(o->what), "pair %s %s", fsm_clip(ca, a),
		fsm_clip(cb, b));
	if (fsm_check_name(o, "pool name", a) ||
	    fsm_check_name(o, "pool name", b))
		return o->code;
	ia = fsm_pool_index(f, a);
	if (ia < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				ca);
	ib = fsm_pool_index(f, b);
	if (ib < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				cb);
	if (ia == ib)
		return fsm_fail(o, FSM_E_PAIR_SELF,
				"pool %s cannot be paired with itself", ca);
	pa = &f->pools[ia];
	pb = &f->pools[ib];
	if (pa->pair[0] != '\0')
		return fsm_fail(
		    o, FSM_E_PAIR_ALREADY,
		    "%s is already paired with %s: each pool can be in "
		    "at most one pair",
		    ca, pa->pair);
	if (pb->pair[0] != '\0')
		return fsm_fail(
		    o, FSM_E_PAIR_ALREADY,
		    "%s is already paired with %s: each pool can be in "
		    "at most one pair",
		    cb, pb->pair);
	n = pair_rules(pa, pb, br);
	if (n > 0 && !c->force)
		return fsm_fail(o, br[0].code, "%s", br[0].text);
	if (repl_mode_check(o, (int)c->mode, c->sync_timeout_ms))
		return o->code;
	strcpy(pa->pair, pb->name);
	strcpy(pb->pair, pa->name);
	pa->repl_mode = pb->repl_mode = (int)c->mode;
	pa->sync_timeout_ms = pb->sync_timeout_ms =
	    c->sync_timeout_ms != 0 ? c->sync_timeout_ms
				    : FSM_SYNC_TIMEOUT_DEFAULT_MS;
	if (c->mode != POOLPAIR__REPL_MODE__REPL_ASYNC)
		fsm_fmt(o->what, sizeof(o->what),
			"pair %s %s (%s, timeout %" PRIu32 " ms)", ca, cb,
			fsm_repl_mode_name(pa->repl_mode), pa->sync_timeout_ms);
	pa->pair_supported = pb->pair_supported = n == 0;
	pa->unsupported_reason[0] = '\0';
	if (n > 0) {
		unsupported_text(pa->unsupported_reason,
				 sizeof(pa->unsupported_reason), br, n);
		o->forced = true;
		fsm_fmt(o->what, sizeof(o->what), "pair %s %s (%s%s)", ca, cb,
			pa->repl_mode == FSM_REPL_SYNC ? "sync, " : "",
			"forced");
		fsm_fmt(o->reason, sizeof(o->reason), "%s",
			pa->unsupported_reason);
	}
	strcpy(pb->unsupported_reason, pa->unsupported_reason);
	return FSM_OK;
}

int fsm_op_unpair(struct fsm *f, const Poolpair__CmdUnpair *c,
		  struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	struct fsm_pool *p, *q = NULL;
	char cn[CLIP_LEN];
	int i, j;

	fsm_fmt(o->what, sizeof(o->what), "unpair %s", fsm_clip(cn, name));
	if (fsm_check_name(o, "pool name", name))
		return o->code;
	i = fsm_pool_index(f, name);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				cn);
	p = &f->pools[i];
	if (p->pair[0] == '\0')
		return fsm_fail(o, FSM_E_NOT_PAIRED, "pool %s is not paired",
				cn);
	j = fsm_pool_index(f, p->pair);
	if (j >= 0)
		q = &f->pools[j];
	if (p->state != FSM_STATE_NORMAL)
		return fsm_fail(
		    o, FSM_E_FAILED_OVER,
		    "pool %s is %s, not normal: fail it back before "
		    "unpairing",
		    cn, fsm_failover_state_name(p->state));
	if (q != NULL && q->state != FSM_STATE_NORMAL)
		return fsm_fail(
		    o, FSM_E_FAILED_OVER,
		    "pool %s is %s, not normal: fail it back before "
		    "unpairing",
		    q->name, fsm_failover_state_name(q->state));
	if (strcmp(p->owner, p->name) != 0)
		return fsm_fail(
		    o, FSM_E_FAILED_OVER,
		    "the user set of %s is owned by %s: fail it back "
		    "before unpairing",
		    cn, p->owner);
	if (q != NULL && strcmp(q->owner, q->name) != 0)
		return fsm_fail(
		    o, FSM_E_FAILED_OVER,
		    "the user set of %s is owned by %s: fail it back "
		    "before unpairing",
		    q->name, q->owner);
	if (f->cms_state != FSM_STATE_NORMAL &&
	    (strcmp(f->cms_active, p->name) == 0 ||
	     (q != NULL && strcmp(f->cms_active, q->name) == 0)))
		return fsm_fail(o, FSM_E_CMS_MOVING,
				"the CMS is moving from %s to its pair: wait "
				"for the move to end before unpairing",
				f->cms_active);
	p->pair[0] = '\0';
	p->pair_supported = true;
	p->unsupported_reason[0] = '\0';
	p->repl_mode = FSM_REPL_ASYNC;
	p->sync_timeout_ms = 0;
	if (q != NULL) {
		q->pair[0] = '\0';
		q->pair_supported = true;
		q->unsupported_reason[0] = '\0';
		q->repl_mode = FSM_REPL_ASYNC;
		q->sync_timeout_ms = 0;
	}
	return FSM_OK;
}

int fsm_op_pair_mode(struct fsm *f, const Poolpair__CmdPairMode *c,
		     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	struct fsm_pool *p, *q;
	char cn[CLIP_LEN];
	uint32_t timeout;
	int i, j;

	fsm_fmt(o->what, sizeof(o->what), "pair mode %s %s", fsm_clip(cn, name),
		fsm_repl_mode_name((int)c->mode));
	if (fsm_check_name(o, "pool name", name) ||
	    repl_mode_check(o, (int)c->mode, c->sync_timeout_ms))
		return o->code;
	i = fsm_pool_index(f, name);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				cn);
	p = &f->pools[i];
	if (p->pair[0] == '\0')
		return fsm_fail(o, FSM_E_NOT_PAIRED,
				"pool %s is not paired: the mode is the "
				"pair's",
				cn);
	j = fsm_pool_index(f, p->pair);
	if (j < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"pair %s of pool %s is not defined", p->pair,
				p->name);
	q = &f->pools[j];
	timeout = c->sync_timeout_ms != 0 ? c->sync_timeout_ms
					  : fsm_pool_sync_timeout_ms(p);
	p->repl_mode = q->repl_mode = (int)c->mode;
	p->sync_timeout_ms = q->sync_timeout_ms = timeout;
	fsm_fmt(o->what, sizeof(o->what),
		"pair mode %s %s %s (sync timeout %" PRIu32 " ms)", p->name,
		q->name, fsm_repl_mode_name(p->repl_mode), timeout);
	return FSM_OK;
}

int fsm_op_add_sba(struct fsm *f, const Poolpair__CmdAddSba *c,
		   struct outcome *o)
{
	const Poolpair__Sba *s = c->sba;
	struct fsm_sba *dst;
	char cn[CLIP_LEN], cs[CLIP_LEN], cb[CLIP_LEN];

	if (s == NULL) {
		fsm_fmt(o->what, sizeof(o->what), "add sba");
		return fsm_fail(o, FSM_E_INVALID, "add_sba has no sba");
	}
	fsm_fmt(o->what, sizeof(o->what), "add sba %s (%s, backup %s)",
		fsm_clip(cn, fsm_str(s->name)), fsm_clip(cs, fsm_str(s->site)),
		fsm_clip(cb, fsm_str(s->backup_pool)));
	if (fsm_check_name(o, "sba name", fsm_str(s->name)) ||
	    fsm_check_name(o, "sba site", fsm_str(s->site)) ||
	    fsm_check_name(o, "sba backup pool", fsm_str(s->backup_pool)))
		return o->code;
	if (fsm_sba_index(f, s->name) >= 0)
		return fsm_fail(o, FSM_E_EXISTS, "sba %s is already defined",
				cn);
	if (fsm_pool_index(f, s->backup_pool) < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"backup pool %s of sba %s is not defined", cb,
				cn);
	if (f->n_sbas >= FSM_MAX_SBAS)
		return fsm_fail(
		    o, FSM_E_FULL,
		    "sba %s would be sba %d, at most %d sbas can be "
		    "defined",
		    cn, FSM_MAX_SBAS + 1, FSM_MAX_SBAS);
	if (site_room(f, s->site, o))
		return o->code;
	site_ensure(f, s->site);
	dst = &f->sbas[f->n_sbas++];
	memset(dst, 0, sizeof(*dst));
	strcpy(dst->name, s->name);
	strcpy(dst->site, s->site);
	strcpy(dst->backup_pool, s->backup_pool);
	return FSM_OK;
}

int fsm_op_remove_sba(struct fsm *f, const Poolpair__CmdRemoveSba *c,
		      struct outcome *o)
{
	const char *name = fsm_str(c->name);
	char cn[CLIP_LEN];
	int i;

	fsm_fmt(o->what, sizeof(o->what), "remove sba %s", fsm_clip(cn, name));
	if (fsm_check_name(o, "sba name", name))
		return o->code;
	i = fsm_sba_index(f, name);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "sba %s is not defined",
				cn);
	memmove(&f->sbas[i], &f->sbas[i + 1],
		(f->n_sbas - (unsigned)i - 1) * sizeof(f->sbas[0]));
	f->n_sbas--;
	memset(&f->sbas[f->n_sbas], 0, sizeof(f->sbas[0]));
	return FSM_OK;
}

int fsm_op_cms_place(struct fsm *f, const Poolpair__CmdCmsPlace *c,
		     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN];
	int i;

	fsm_fmt(o->what, sizeof(o->what), "place cms on %s",
		fsm_clip(cn, name));
	if (fsm_check_name(o, "pool name", name))
		return o->code;
	i = fsm_pool_index(f, name);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				cn);
	if (f->cms_active[0] == '\0') {
		strcpy(f->cms_active, f->pools[i].name);
		f->cms_epoch++;
		f->cms_floor_epoch = f->cms_epoch;
		return FSM_OK;
	}
	if (strcmp(f->cms_active, name) == 0)
		return FSM_OK;
	return fsm_fail(o, FSM_E_IN_USE,
			"the active CMS is on %s: move it with a CMS failover",
			f->cms_active);
}

int fsm_op_topology(struct fsm *f, const Poolpair__CmdTopology *t,
		    struct outcome *o)
{
	struct fsm *work;
	size_t i, n = t->n_steps;

	fsm_fmt(o->what, sizeof(o->what), "topology: %zu step%s", n,
		n == 1 ? "" : "s");
	if (n > FSM_MAX_TOPOLOGY_STEPS)
		return fsm_fail(o, FSM_E_INVALID,
				"topology has %zu steps, at most %d", n,
				FSM_MAX_TOPOLOGY_STEPS);
	for (i = 0; i < n; i++) {
		if (t->steps[i] == NULL)
			return fsm_fail(o, FSM_E_MALFORMED, "step %zu is empty",
					i + 1);
		if (t->steps[i]->op_case == POOLPAIR__COMMAND__OP_TOPOLOGY)
			return fsm_fail(o, FSM_E_NESTED,
					"step %zu (topology): a topology step "
					"cannot itself be a topology",
					i + 1);
	}
	if (n == 0)
		return FSM_OK;
	/* Steps never touch the history, so only the part before it is
	 * staged and copied back. */
	work = malloc(sizeof(*work));
	if (work == NULL)
		return fsm_fail(o, FSM_E_FULL,
				"no memory to stage the topology");
	memcpy(work, f, offsetof(struct fsm, history));
	for (i = 0; i < n; i++) {
		struct outcome step;

		memset(&step, 0, sizeof(step));
		step.now = o->now;
		if (fsm_apply_op(work, t->steps[i], true, &step) != FSM_OK) {
			free(work);
			return fsm_fail(o, step.code, "step %zu (%s): %s",
					i + 1, step.what, step.reason);
		}
		if (step.forced && !o->forced) {
			o->forced = true;
			fsm_fmt(o->reason, sizeof(o->reason),
				"step %zu (%s): %s", i + 1, step.what,
				step.reason);
		}
	}
	memcpy(f, work, offsetof(struct fsm, history));
	free(work);
	return FSM_OK;
}
