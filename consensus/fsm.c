/* fsm: the pure, deterministic state machine that Raft drives. */
#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.pb-c.h"

#define FSM_MAX_COMMAND_BYTES (1u << 20)

static const char *const code_names[FSM_CODE_COUNT] = {
    [FSM_OK] = "ok",
    [FSM_E_MALFORMED] = "malformed",
    [FSM_E_INVALID] = "invalid",
    [FSM_E_EXISTS] = "exists",
    [FSM_E_NOT_FOUND] = "not_found",
    [FSM_E_FULL] = "full",
    [FSM_E_IN_USE] = "in_use",
    [FSM_E_PAIR_EDITION] = "pair_edition",
    [FSM_E_PAIR_KIND] = "pair_kind",
    [FSM_E_PAIR_OS] = "pair_os",
    [FSM_E_PAIR_SITE] = "pair_site",
    [FSM_E_PAIR_ALREADY] = "pair_already",
    [FSM_E_PAIR_SELF] = "pair_self",
    [FSM_E_FAILED_OVER] = "failed_over",
    [FSM_E_NOT_PAIRED] = "not_paired",
    [FSM_E_NESTED] = "nested",
    [FSM_E_PAIR_DOWN] = "pair_down",
    [FSM_E_NOT_FAILED_OVER] = "not_failed_over",
    [FSM_E_REFUSED_EVENT] = "event_failed",
    [FSM_E_CMS_MOVING] = "cms_moving",
};

const char *fsm_code_name(int code)
{
	if (code < 0 || code >= FSM_CODE_COUNT)
		return "unknown";
	return code_names[code];
}

int fsm_code_http(int code)
{
	switch (code) {
	case FSM_OK:
		return 0;
	case FSM_E_MALFORMED:
	case FSM_E_INVALID:
	case FSM_E_NESTED:
		return 400;
	case FSM_E_NOT_FOUND:
		return 404;
	case FSM_E_FULL:
		return 507;
	case FSM_E_EXISTS:
	case FSM_E_IN_USE:
	case FSM_E_PAIR_EDITION:
	case FSM_E_PAIR_KIND:
	case FSM_E_PAIR_OS:
	case FSM_E_PAIR_SITE:
	case FSM_E_PAIR_ALREADY:
	case FSM_E_PAIR_SELF:
	case FSM_E_FAILED_OVER:
	case FSM_E_NOT_PAIRED:
	case FSM_E_PAIR_DOWN:
	case FSM_E_NOT_FAILED_OVER:
	case FSM_E_REFUSED_EVENT:
	case FSM_E_CMS_MOVING:
		return 409;
	default:
		return 400;
	}
}

const char *fsm_failover_state_name(int state)
{
	switch (state) {
	case FSM_STATE_NORMAL:
		return "normal";
	case FSM_STATE_FAILING_OVER:
		return "failing_over";
	case FSM_STATE_FAILED_OVER:
		return "failed_over";
	case FSM_STATE_RECOVERING:
		return "recovering";
	case FSM_STATE_FAILING_BACK:
		return "failing_back";
	default:
		return "unknown";
	}
}

const char *fsm_repl_mode_name(int mode)
{
	switch (mode) {
	case FSM_REPL_ASYNC:
		return "async";
	case FSM_REPL_SYNC:
		return "sync";
	default:
		return "unknown";
	}
}

uint32_t fsm_pool_sync_timeout_ms(const struct fsm_pool *p)
{
	return p->sync_timeout_ms != 0 ? p->sync_timeout_ms
				       : FSM_SYNC_TIMEOUT_DEFAULT_MS;
}

void fsm_init(struct fsm *f)
{
	memset(f, 0, sizeof(*f));
	f->policy.max_lag_on_failover_ms = 1000;
	f->policy.cooldown_ms = 60000;
}

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

/* ---- operations ---- */

static int op_register_member(struct fsm *f,
			      const Poolpair__CmdRegisterMember *c,
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
	    fsm_check_addr(o, "api address", fsm_str(m->api_address), true))
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

static int op_remove_member(struct fsm *f, const Poolpair__CmdRemoveMember *c,
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
	memmove(&f->members[i], &f->members[i + 1],
		(f->n_members - (unsigned)i - 1) * sizeof(f->members[0]));
	f->n_members--;
	memset(&f->members[f->n_members], 0, sizeof(f->members[0]));
	return FSM_OK;
}

static int op_add_site(struct fsm *f, const Poolpair__CmdAddSite *c,
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

static int op_remove_site(struct fsm *f, const Poolpair__CmdRemoveSite *c,
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

static int op_add_pool(struct fsm *f, const Poolpair__CmdAddPool *c,
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
	dst->state = FSM_STATE_NORMAL;
	dst->failover_since_ms = o->now;
	if (f->cms_active[0] == '\0') {
		strcpy(f->cms_active, p->name);
		f->cms_epoch++;
	}
	return FSM_OK;
}

static int op_remove_pool(struct fsm *f, const Poolpair__CmdRemovePool *c,
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

static int op_pair(struct fsm *f, const Poolpair__CmdPair *c, struct outcome *o)
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
		fsm_fmt(o->what, sizeof(o->what), "pair %s %s (%s, timeout %" PRIu32
			" ms)", ca, cb, fsm_repl_mode_name(pa->repl_mode),
			pa->sync_timeout_ms);
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

static int op_unpair(struct fsm *f, const Poolpair__CmdUnpair *c,
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

static int op_pair_mode(struct fsm *f, const Poolpair__CmdPairMode *c,
			struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	struct fsm_pool *p, *q;
	char cn[CLIP_LEN];
	uint32_t timeout;
	int i, j;

	fsm_fmt(o->what, sizeof(o->what), "pair mode %s %s",
		fsm_clip(cn, name), fsm_repl_mode_name((int)c->mode));
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

static int op_add_sba(struct fsm *f, const Poolpair__CmdAddSba *c,
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

static int op_remove_sba(struct fsm *f, const Poolpair__CmdRemoveSba *c,
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

static int op_cms_place(struct fsm *f, const Poolpair__CmdCmsPlace *c,
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
		return FSM_OK;
	}
	if (strcmp(f->cms_active, name) == 0)
		return FSM_OK;
	return fsm_fail(o, FSM_E_IN_USE,
			"the active CMS is on %s: move it with a CMS failover",
			f->cms_active);
}

static int apply_op(struct fsm *f, const Poolpair__Command *cmd, bool is_step,
		    struct outcome *o);

static int op_topology(struct fsm *f, const Poolpair__CmdTopology *t,
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
		if (apply_op(work, t->steps[i], true, &step) != FSM_OK) {
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

/* ---- failover decisions ---- */

/* The pool a failover decision names and its pair, as indexes into f's
 * pools. Returns 0, or FSM_E_INVALID, FSM_E_NOT_FOUND or FSM_E_NOT_PAIRED
 * with o filled in. */
static int pool_and_pair(const struct fsm *f, const char *name,
			 struct outcome *o, int *pi, int *qi)
{
	const struct fsm_pool *p;
	char cn[CLIP_LEN];

	if (fsm_check_name(o, "pool name", name))
		return o->code;
	*pi = fsm_pool_index(f, name);
	if (*pi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				fsm_clip(cn, name));
	p = &f->pools[*pi];
	if (p->pair[0] == '\0')
		return fsm_fail(o, FSM_E_NOT_PAIRED,
				"pool %s is not paired: there is no pool to "
				"take its user set",
				p->name);
	*qi = fsm_pool_index(f, p->pair);
	if (*qi < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"pair %s of pool %s is not defined", p->pair,
				p->name);
	return FSM_OK;
}

/* Refuse, for an operation that needs pool p in state want, with
 * FSM_E_NOT_FAILED_OVER when p is normal and FSM_E_FAILED_OVER otherwise;
 * 0 when p is in state want. */
static int need_state(const struct fsm_pool *p, int want, struct outcome *o)
{
	if (p->state == want)
		return 0;
	if (p->state == FSM_STATE_NORMAL)
		return fsm_fail(o, FSM_E_NOT_FAILED_OVER,
				"pool %s is normal, not %s: it has not failed "
				"over",
				p->name, fsm_failover_state_name(want));
	return fsm_fail(o, FSM_E_FAILED_OVER, "pool %s is %s, not %s", p->name,
			fsm_failover_state_name(p->state),
			fsm_failover_state_name(want));
}

/* Refuse with FSM_E_FULL when the epoch of p (or the CMS epoch, if p hosts
 * the active CMS and cms says it moves) cannot be raised. */
static int epoch_room(const struct fsm *f, const struct fsm_pool *p, bool cms,
		      struct outcome *o)
{
	if (p->epoch == UINT64_MAX)
		return fsm_fail(
		    o, FSM_E_FULL,
		    "the epoch of pool %s cannot be raised any more", p->name);
	if (cms && strcmp(f->cms_active, p->name) == 0 &&
	    f->cms_epoch == UINT64_MAX)
		return fsm_fail(o, FSM_E_FULL,
				"the cms epoch cannot be raised any more");
	return FSM_OK;
}

/* The checks of a failover begin, shared by apply and fsm_failover_check()
 * so that the what-if answer is the decision. */
static int failover_begin_check(const struct fsm *f, const char *name,
				struct outcome *o, int *pi, int *qi)
{
	const struct fsm_pool *p, *q;

	if (pool_and_pair(f, name, o, pi, qi))
		return o->code;
	p = &f->pools[*pi];
	q = &f->pools[*qi];
	if (p->state != FSM_STATE_NORMAL)
		return fsm_fail(o, FSM_E_FAILED_OVER,
				"pool %s is %s, not normal: its failover is "
				"already under way",
				p->name, fsm_failover_state_name(p->state));
	if (strcmp(p->owner, p->name) != 0)
		return fsm_fail(o, FSM_E_FAILED_OVER,
				"the user set of %s is owned by %s, not by "
				"itself",
				p->name, p->owner);
	if (q->state != FSM_STATE_NORMAL)
		return fsm_fail(o, FSM_E_PAIR_DOWN,
				"the pair of %s is %s (%s is %s): it must be "
				"normal to take over",
				p->name, fsm_state_words(q->state), q->name,
				fsm_failover_state_name(q->state));
	return epoch_room(f, p, true, o);
}

/* The owner change of a failover: the CMS first if p hosts it, then the
 * user set. Returns whether the CMS moved. */
static bool fail_over(struct fsm *f, struct fsm_pool *p,
		      const struct fsm_pool *q, uint64_t now,
		      uint64_t takeover_data, uint64_t takeover_content)
{
	bool cms = strcmp(f->cms_active, p->name) == 0;

	p->takeover_seq[0] = takeover_data;
	p->takeover_seq[1] = takeover_content;
	if (cms) {
		fsm_name_set(f->cms_active, q->name);
		f->cms_epoch++;
		/* a planned CMS move under way ends here: it moved */
		if (f->cms_state != FSM_STATE_NORMAL) {
			f->cms_state = FSM_STATE_NORMAL;
			f->cms_since_ms = now;
		}
	}
	fsm_name_set(p->owner, q->name);
	p->epoch++;
	p->state = FSM_STATE_FAILED_OVER;
	p->failover_since_ms = now;
	return cms;
}

static int op_failover_begin(struct fsm *f, const Poolpair__CmdFailoverBegin *c,
			     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN], risk[96];
	struct fsm_pool *p;
	int pi, qi;
	bool cms;

	o->risk_records = c->data_at_risk_records;
	o->risk_bytes = c->data_at_risk_bytes;
	o->risk_ms = c->data_at_risk_ms;
	fsm_risk_text(risk, sizeof(risk), o);
	fsm_clip(cn, name);
	if (c->planned)
		fsm_fmt(o->what, sizeof(o->what), "begin planned failover %s%s",
			cn, c->forced ? " (forced)" : "");
	else
		fsm_fmt(o->what, sizeof(o->what), "failover %s (disaster, %s)",
			cn, risk);
	if (failover_begin_check(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	o->forced = c->forced || !c->planned;
	fsm_reason_set(p->last_failover_reason, c->reason);
	strcpy(o->reason, p->last_failover_reason);
	if (c->planned) {
		p->state = FSM_STATE_FAILING_OVER;
		p->failover_since_ms = o->now;
		fsm_fmt(o->what, sizeof(o->what),
			"begin planned failover %s to %s (%s)%s", p->name,
			f->pools[qi].name, risk, c->forced ? " (forced)" : "");
		return FSM_OK;
	}
	cms = fail_over(f, p, &f->pools[qi], o->now, c->takeover_data_seq,
			c->takeover_content_seq);
	if (c->automatic)
		p->last_auto_failover_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what), "%sfailover %s to %s%s (disaster, %s)",
		c->automatic ? "automatic " : "", p->name, f->pools[qi].name,
		cms ? " with the cms" : "", risk);
	return FSM_OK;
}

static int op_failover_complete(struct fsm *f,
				const Poolpair__CmdFailoverComplete *c,
				struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN], risk[96];
	struct fsm_pool *p;
	int pi, qi;
	bool cms;

	o->risk_records = c->data_at_risk_records;
	o->risk_bytes = c->data_at_risk_bytes;
	o->risk_ms = c->data_at_risk_ms;
	fsm_risk_text(risk, sizeof(risk), o);
	fsm_fmt(o->what, sizeof(o->what), "complete failover %s (%s)",
		fsm_clip(cn, name), risk);
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILING_OVER, o) ||
	    epoch_room(f, p, true, o))
		return o->code;
	cms = fail_over(f, p, &f->pools[qi], o->now, c->takeover_data_seq,
			c->takeover_content_seq);
	fsm_fmt(o->what, sizeof(o->what), "complete failover %s to %s%s (%s)",
		p->name, f->pools[qi].name, cms ? " with the cms" : "", risk);
	return FSM_OK;
}

static int op_failover_abort(struct fsm *f, const Poolpair__CmdFailoverAbort *c,
			     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "abort failover %s",
		fsm_clip(cn, name));
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILING_OVER, o))
		return o->code;
	p->state = FSM_STATE_NORMAL;
	p->failover_since_ms = o->now;
	fsm_reason_set(p->last_failover_reason, c->reason);
	strcpy(o->reason, p->last_failover_reason);
	return FSM_OK;
}

static int op_pool_recovering(struct fsm *f,
			      const Poolpair__CmdPoolRecovering *c,
			      struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "pool %s recovering",
		fsm_clip(cn, name));
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILED_OVER, o))
		return o->code;
	p->state = FSM_STATE_RECOVERING;
	p->failover_since_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what), "pool %s recovering (owner stays %s)",
		p->name, p->owner);
	return FSM_OK;
}

static int op_failback_begin(struct fsm *f, const Poolpair__CmdFailbackBegin *c,
			     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "begin failback %s%s",
		fsm_clip(cn, name), c->forced ? " (forced)" : "");
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (p->state == FSM_STATE_FAILED_OVER && !c->forced)
		return fsm_fail(o, FSM_E_FAILED_OVER,
				"pool %s is failed_over, not recovering: it "
				"must report recovering first, or the failback "
				"be forced",
				p->name);
	if (p->state != FSM_STATE_FAILED_OVER &&
	    need_state(p, FSM_STATE_RECOVERING, o))
		return o->code;
	o->forced = c->forced;
	p->state = FSM_STATE_FAILING_BACK;
	p->failover_since_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what), "begin failback %s from %s%s",
		p->name, p->owner, c->forced ? " (forced)" : "");
	return FSM_OK;
}

static int op_failback_complete(struct fsm *f,
				const Poolpair__CmdFailbackComplete *c,
				struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN], from[FSM_NAME_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "complete failback %s",
		fsm_clip(cn, name));
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILING_BACK, o) ||
	    epoch_room(f, p, false, o))
		return o->code;
	strcpy(from, p->owner);
	fsm_name_set(p->owner, p->name);
	p->epoch++;
	p->state = FSM_STATE_NORMAL;
	p->failover_since_ms = o->now;
	fsm_fmt(o->what, sizeof(o->what), "complete failback %s from %s",
		p->name, from);
	return FSM_OK;
}

static int op_failback_abort(struct fsm *f, const Poolpair__CmdFailbackAbort *c,
			     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	char cn[CLIP_LEN];
	struct fsm_pool *p;
	int pi, qi;

	fsm_fmt(o->what, sizeof(o->what), "abort failback %s",
		fsm_clip(cn, name));
	if (pool_and_pair(f, name, o, &pi, &qi))
		return o->code;
	p = &f->pools[pi];
	if (need_state(p, FSM_STATE_FAILING_BACK, o))
		return o->code;
	p->state = FSM_STATE_RECOVERING;
	p->failover_since_ms = o->now;
	fsm_reason_set(p->last_failover_reason, c->reason);
	strcpy(o->reason, p->last_failover_reason);
	return FSM_OK;
}

static int op_record_event(struct fsm *f, const Poolpair__CmdRecordEvent *c,
			   struct outcome *o)
{
	(void)f;
	if (fsm_str(c->detail)[0] != '\0' && c->ok)
		fsm_fmt(o->what, sizeof(o->what), "%s: %s", fsm_str(c->what),
			fsm_str(c->detail));
	else
		fsm_fmt(o->what, sizeof(o->what), "%s", fsm_str(c->what));
	if (fsm_str(c->what)[0] == '\0')
		return fsm_fail(o, FSM_E_INVALID, "an event needs a what");
	if (!c->ok)
		return fsm_fail(o, FSM_E_REFUSED_EVENT, "%s",
				fsm_str(c->detail)[0] ? fsm_str(c->detail)
						      : "failed");
	o->forced = c->forced;
	o->keep = c->keep;
	return FSM_OK;
}

/* Dispatch one failover decision (cmd->op_case is one of them). */
static int apply_failover_op(struct fsm *f, const Poolpair__Command *cmd,
			     struct outcome *o)
{
	switch (cmd->op_case) {
	case POOLPAIR__COMMAND__OP_FAILOVER_BEGIN:
		return op_failover_begin(f, cmd->failover_begin, o);
	case POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE:
		return op_failover_complete(f, cmd->failover_complete, o);
	case POOLPAIR__COMMAND__OP_FAILOVER_ABORT:
		return op_failover_abort(f, cmd->failover_abort, o);
	case POOLPAIR__COMMAND__OP_POOL_RECOVERING:
		return op_pool_recovering(f, cmd->pool_recovering, o);
	case POOLPAIR__COMMAND__OP_FAILBACK_BEGIN:
		return op_failback_begin(f, cmd->failback_begin, o);
	case POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE:
		return op_failback_complete(f, cmd->failback_complete, o);
	case POOLPAIR__COMMAND__OP_FAILBACK_ABORT:
		return op_failback_abort(f, cmd->failback_abort, o);
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER:
		return fsm_op_cms_failover(f, cmd->cms_failover, o);
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_COMPLETE:
		return fsm_op_cms_failover_complete(f, cmd->cms_failover_complete,
						    o);
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_ABORT:
		return fsm_op_cms_failover_abort(f, cmd->cms_failover_abort, o);
	default:
		fsm_fmt(o->what, sizeof(o->what), "malformed command");
		return fsm_fail(o, FSM_E_MALFORMED, "command has no operation");
	}
}

int fsm_failover_check(const struct fsm *f, const char *pool, bool planned,
		       struct fsm_result *res, bool *cms_moves)
{
	struct outcome o;
	int pi = -1, qi = -1;

	(void)planned; /* both kinds need the same state */
	memset(&o, 0, sizeof(o));
	failover_begin_check(f, fsm_str(pool), &o, &pi, &qi);
	if (cms_moves != NULL)
		*cms_moves = o.code == FSM_OK &&
			     strcmp(f->cms_active, f->pools[pi].name) == 0;
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->code = o.code;
		if (o.code != FSM_OK)
			strcpy(res->reason, o.reason);
	}
	return o.code;
}

/* Apply one decoded command to f. On refusal f is unchanged. */
static int apply_op(struct fsm *f, const Poolpair__Command *cmd, bool is_step,
		    struct outcome *o)
{
	o->code = FSM_OK;
	switch (cmd->op_case) {
	case POOLPAIR__COMMAND__OP_REGISTER_MEMBER:
		return op_register_member(f, cmd->register_member, o);
	case POOLPAIR__COMMAND__OP_REMOVE_MEMBER:
		return op_remove_member(f, cmd->remove_member, o);
	case POOLPAIR__COMMAND__OP_ADD_SITE:
		return op_add_site(f, cmd->add_site, o);
	case POOLPAIR__COMMAND__OP_REMOVE_SITE:
		return op_remove_site(f, cmd->remove_site, o);
	case POOLPAIR__COMMAND__OP_ADD_POOL:
		return op_add_pool(f, cmd->add_pool, o);
	case POOLPAIR__COMMAND__OP_REMOVE_POOL:
		return op_remove_pool(f, cmd->remove_pool, o);
	case POOLPAIR__COMMAND__OP_PAIR:
		return op_pair(f, cmd->pair, o);
	case POOLPAIR__COMMAND__OP_UNPAIR:
		return op_unpair(f, cmd->unpair, o);
	case POOLPAIR__COMMAND__OP_PAIR_MODE:
		return op_pair_mode(f, cmd->pair_mode, o);
	case POOLPAIR__COMMAND__OP_ADD_SBA:
		return op_add_sba(f, cmd->add_sba, o);
	case POOLPAIR__COMMAND__OP_REMOVE_SBA:
		return op_remove_sba(f, cmd->remove_sba, o);
	case POOLPAIR__COMMAND__OP_SET_POLICY:
		return fsm_op_set_policy(f, cmd->set_policy, o);
	case POOLPAIR__COMMAND__OP_CMS_PLACE:
		return op_cms_place(f, cmd->cms_place, o);
	case POOLPAIR__COMMAND__OP_FAILOVER_BEGIN:
	case POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE:
	case POOLPAIR__COMMAND__OP_FAILOVER_ABORT:
	case POOLPAIR__COMMAND__OP_POOL_RECOVERING:
	case POOLPAIR__COMMAND__OP_FAILBACK_BEGIN:
	case POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE:
	case POOLPAIR__COMMAND__OP_FAILBACK_ABORT:
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER:
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_COMPLETE:
	case POOLPAIR__COMMAND__OP_CMS_FAILOVER_ABORT:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "failover decision");
			return fsm_fail(o, FSM_E_INVALID,
					"a failover decision cannot be a "
					"topology step");
		}
		return apply_failover_op(f, cmd, o);
	case POOLPAIR__COMMAND__OP_POOL_PAUSE:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "pool pause");
			return fsm_fail(o, FSM_E_INVALID,
					"a pause or resume cannot be a "
					"topology step");
		}
		return fsm_op_pool_pause(f, cmd->pool_pause, o);
	case POOLPAIR__COMMAND__OP_RECORD_EVENT:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "event");
			return fsm_fail(o, FSM_E_INVALID,
					"an event cannot be a topology step");
		}
		return op_record_event(f, cmd->record_event, o);
	case POOLPAIR__COMMAND__OP_TOPOLOGY:
		if (is_step) {
			fsm_fmt(o->what, sizeof(o->what), "topology");
			return fsm_fail(o, FSM_E_NESTED,
					"a topology step cannot itself be a "
					"topology");
		}
		return op_topology(f, cmd->topology, o);
	default:
		fsm_fmt(o->what, sizeof(o->what), "malformed command");
		return fsm_fail(o, FSM_E_MALFORMED, "command has no operation");
	}
}

/* ---- apply ---- */

int fsm_apply(struct fsm *f, const void *buf, size_t len,
	      struct fsm_result *res)
{
	static const uint8_t empty[1];
	Poolpair__Command *cmd = NULL;
	struct outcome o;
	struct scan sc;
	enum scan_result r;

	memset(&o, 0, sizeof(o));
	memset(&sc, 0, sizeof(sc));
	sc.who = "";
	fsm_fmt(o.what, sizeof(o.what), "malformed command");
	if (buf == NULL && len > 0) {
		fsm_fail(&o, FSM_E_MALFORMED, "command has no bytes");
		goto out;
	}
	if (len > FSM_MAX_COMMAND_BYTES) {
		fsm_fail(&o, FSM_E_MALFORMED,
			 "command is %zu bytes, at most %u", len,
			 FSM_MAX_COMMAND_BYTES);
		goto out;
	}
	if (buf == NULL)
		buf = empty;
	r = fsm_scan_command(buf, len, 0, &sc);
	if (r == SCAN_BROKEN) {
		sc.time_ms = 0;
		sc.who = "";
		sc.who_len = 0;
		fsm_fail(&o, FSM_E_MALFORMED,
			 "command is not a decodable poolpair.Command");
		goto out;
	}
	if (r == SCAN_DEEP) {
		fsm_fmt(o.what, sizeof(o.what), "topology");
		fsm_fail(&o, FSM_E_NESTED,
			 "a topology step cannot itself be a topology (nested "
			 "%d or more levels deep)",
			 FSM_MAX_COMMAND_DEPTH);
		goto out;
	}
	cmd = poolpair__command__unpack(NULL, len, buf);
	if (cmd == NULL) {
		sc.time_ms = 0;
		sc.who = "";
		sc.who_len = 0;
		fsm_fail(&o, FSM_E_MALFORMED,
			 "command is not a decodable poolpair.Command");
		goto out;
	}
	sc.time_ms = cmd->time_ms;
	sc.who = fsm_str(cmd->who);
	sc.who_len = strlen(sc.who);
	o.now = cmd->time_ms;
	apply_op(f, cmd, false, &o);
out:
	fsm_history_record(f, sc.time_ms, sc.who, sc.who_len, &o, res);
	if (cmd != NULL)
		poolpair__command__free_unpacked(cmd, NULL);
	return o.code;
}
