/* fsm: the pure, deterministic state machine that Raft drives. */
#include "consensus/fsm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.pb-c.h"

#define FSM_MAX_COMMAND_BYTES (1u << 20)
#define FSM_MAX_SNAPSHOT_BYTES (4u << 20)
#define FSM_SNAPSHOT_VERSION 1
/* Command nesting (topology inside a step inside a topology ...) deeper
 * than this is refused before decoding, so the decoder never recurses far. */
#define FSM_MAX_COMMAND_DEPTH 4
#define CLIP_LEN 64 /* a name as shown in a summary or reason */

/* Outcome of one operation while it is being applied. */
struct outcome {
	int code;
	char what[FSM_WHAT_LEN];
	char reason[FSM_REASON_LEN];
	bool forced;
};

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

void fsm_init(struct fsm *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->policy.failover, "manual");
	f->policy.max_lag_on_failover_ms = 1000;
	f->policy.cooldown_ms = 60000;
}

/* ---- text helpers ---- */

static const char *str(const char *s) { return s != NULL ? s : ""; }

__attribute__((format(printf, 3, 4))) static void fmt(char *dst, size_t cap,
						      const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	if (vsnprintf(dst, cap, format, ap) < 0)
		dst[0] = '\0';
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static int
fail(struct outcome *o, int code, const char *format, ...)
{
	va_list ap;

	o->code = code;
	va_start(ap, format);
	if (vsnprintf(o->reason, sizeof(o->reason), format, ap) < 0)
		o->reason[0] = '\0';
	va_end(ap);
	return code;
}

/* A name as shown in text: printable ASCII only, at most 63 characters
 * (longer ones end in "..."). Returns dst. */
static const char *clip(char dst[CLIP_LEN], const char *s)
{
	size_t len = strlen(s);
	size_t keep = len < CLIP_LEN ? len : CLIP_LEN - 4;
	size_t i;

	for (i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (keep < len) {
		memcpy(dst + keep, "...", 3);
		keep += 3;
	}
	dst[keep] = '\0';
	return dst;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/* Copy free text (who asked) into dst: valid UTF-8 is kept, control
 * characters and invalid bytes become '?', and the copy stops before a
 * character that would not fit, so it never ends inside a sequence. */
static void text_copy(char *dst, size_t cap, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t in = 0, out = 0;

	while (in < len && s[in] != '\0') {
		size_t n = utf8_len(s + in, len - in);

		if (n == 0 || s[in] < 0x20 || s[in] == 0x7f) {
			if (out + 1 >= cap)
				break;
			dst[out++] = '?';
			in++;
			continue;
		}
		if (out + n >= cap)
			break;
		memcpy(dst + out, s + in, n);
		out += n;
		in += n;
	}
	dst[out] = '\0';
}

/* ---- validation ---- */

enum name_problem { NAME_OK, NAME_EMPTY, NAME_LONG, NAME_CHARS };

static enum name_problem name_check(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return NAME_EMPTY;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= FSM_NAME_LEN - 1)
			return NAME_LONG;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return NAME_CHARS;
	}
	return NAME_OK;
}

static bool name_ok(const char *s) { return name_check(s) == NAME_OK; }

/* Refuse with FSM_E_INVALID unless s is a valid name; field says what it
 * names ("pool name", "site", ...). Returns 0 or the code. */
static int check_name(struct outcome *o, const char *field, const char *s)
{
	char c[CLIP_LEN];

	switch (name_check(s)) {
	case NAME_OK:
		return 0;
	case NAME_EMPTY:
		return fail(o, FSM_E_INVALID, "%s is empty", field);
	case NAME_LONG:
		return fail(o, FSM_E_INVALID,
			    "%s \"%s\" is %zu characters long, at most %d",
			    field, clip(c, s), strlen(s), FSM_NAME_LEN - 1);
	default:
		return fail(o, FSM_E_INVALID,
			    "%s \"%s\" has a character outside [A-Za-z0-9._-]",
			    field, clip(c, s));
	}
}

static bool addr_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= FSM_ADDR_LEN - 1 || c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

/* Addresses are host:port: printable ASCII without spaces, shorter than
 * FSM_ADDR_LEN; required says whether an empty one is refused. */
static int check_addr(struct outcome *o, const char *field, const char *s,
		      bool required)
{
	char c[CLIP_LEN];

	if (s[0] == '\0') {
		if (!required)
			return 0;
		return fail(o, FSM_E_INVALID, "member %s is empty", field);
	}
	if (strlen(s) >= FSM_ADDR_LEN)
		return fail(o, FSM_E_INVALID,
			    "member %s is %zu characters long, at most %d",
			    field, strlen(s), FSM_ADDR_LEN - 1);
	if (!addr_ok(s))
		return fail(o, FSM_E_INVALID,
			    "member %s \"%s\" has a space or a non-printable "
			    "character",
			    field, clip(c, s));
	return 0;
}

static bool edition_ok(const char *s)
{
	return strcmp(s, "enterprise") == 0 || strcmp(s, "standard") == 0;
}

static bool kind_ok(const char *s)
{
	return strcmp(s, "physical") == 0 || strcmp(s, "virtual") == 0;
}

static bool failover_ok(const char *s)
{
	return strcmp(s, "auto") == 0 || strcmp(s, "manual") == 0;
}

/* ---- lookups ---- */

static int site_index(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_sites; i++)
		if (strcmp(f->sites[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int pool_index(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_pools; i++)
		if (strcmp(f->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int member_index(const struct fsm *f, uint64_t id)
{
	unsigned i;

	for (i = 0; i < f->n_members; i++)
		if (f->members[i].id == id)
			return (int)i;
	return -1;
}

static int sba_index(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_sbas; i++)
		if (strcmp(f->sbas[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct fsm_pool *fsm_pool_find(const struct fsm *f, const char *name)
{
	int i = name != NULL ? pool_index(f, name) : -1;

	return i < 0 ? NULL : &f->pools[i];
}

const struct fsm_member *fsm_member_find(const struct fsm *f, uint64_t id)
{
	int i = member_index(f, id);

	return i < 0 ? NULL : &f->members[i];
}

const struct fsm_sba *fsm_sba_find(const struct fsm *f, const char *name)
{
	int i = name != NULL ? sba_index(f, name) : -1;

	return i < 0 ? NULL : &f->sbas[i];
}

bool fsm_site_exists(const struct fsm *f, const char *name)
{
	return name != NULL && site_index(f, name) >= 0;
}

const struct fsm_history *fsm_history_get(const struct fsm *f, uint64_t seq)
{
	const struct fsm_history *h;

	if (seq == 0 || seq > f->decisions)
		return NULL;
	h = &f->history[(seq - 1) % FSM_HISTORY];
	return h->seq == seq ? h : NULL;
}

/* Refuse with FSM_E_FULL when site is unknown and no room is left for it
 * to be created implicitly. Returns 0 or the code. */
static int site_room(const struct fsm *f, const char *site, struct outcome *o)
{
	char c[CLIP_LEN];

	if (site_index(f, site) >= 0 || f->n_sites < FSM_MAX_SITES)
		return 0;
	return fail(o, FSM_E_FULL,
		    "site %s would be site %d, at most %d sites can be defined",
		    clip(c, site), FSM_MAX_SITES + 1, FSM_MAX_SITES);
}

/* Precondition: site_room() said yes. */
static void site_ensure(struct fsm *f, const char *site)
{
	if (site_index(f, site) >= 0)
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
		fmt(o->what, sizeof(o->what), "register member");
		return fail(o, FSM_E_INVALID, "register_member has no member");
	}
	pool = str(m->pool);
	fmt(o->what, sizeof(o->what), "register member %" PRIu64 " %s (%s, %s)",
	    m->id, clip(cn, str(m->name)), clip(cs, str(m->site)),
	    pool[0] != '\0' ? clip(cp, pool) : "witness");
	if (m->id == 0)
		return fail(o, FSM_E_INVALID,
			    "member id must be greater than 0");
	if (check_name(o, "member name", str(m->name)) ||
	    check_name(o, "member site", str(m->site)) ||
	    (pool[0] != '\0' && check_name(o, "member pool", pool)) ||
	    check_addr(o, "raft address", str(m->raft_address), true) ||
	    check_addr(o, "data address", str(m->data_address),
		       pool[0] != '\0') ||
	    check_addr(o, "api address", str(m->api_address), true))
		return o->code;
	i = member_index(f, m->id);
	if (i < 0 && f->n_members >= FSM_MAX_MEMBERS)
		return fail(o, FSM_E_FULL,
			    "member %" PRIu64 " would be member %d, at most %d "
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
	strcpy(dst->data_address, str(m->data_address));
	strcpy(dst->api_address, m->api_address);
	return FSM_OK;
}

static int op_remove_member(struct fsm *f, const Poolpair__CmdRemoveMember *c,
			    struct outcome *o)
{
	int i;

	fmt(o->what, sizeof(o->what), "remove member %" PRIu64, c->id);
	if (c->id == 0)
		return fail(o, FSM_E_INVALID,
			    "member id must be greater than 0");
	i = member_index(f, c->id);
	if (i < 0)
		return fail(o, FSM_E_NOT_FOUND,
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
	const char *name = str(c->name);
	char cn[CLIP_LEN];

	fmt(o->what, sizeof(o->what), "add site %s", clip(cn, name));
	if (check_name(o, "site name", name))
		return o->code;
	if (site_index(f, name) >= 0)
		return fail(o, FSM_E_EXISTS, "site %s is already defined", cn);
	if (site_room(f, name, o))
		return o->code;
	site_ensure(f, name);
	return FSM_OK;
}

static int op_remove_site(struct fsm *f, const Poolpair__CmdRemoveSite *c,
			  struct outcome *o)
{
	const char *name = str(c->name);
	char cn[CLIP_LEN];
	unsigned i;
	int s;

	fmt(o->what, sizeof(o->what), "remove site %s", clip(cn, name));
	if (check_name(o, "site name", name))
		return o->code;
	s = site_index(f, name);
	if (s < 0)
		return fail(o, FSM_E_NOT_FOUND, "site %s is not defined", cn);
	for (i = 0; i < f->n_pools; i++)
		if (strcmp(f->pools[i].site, name) == 0)
			return fail(
			    o, FSM_E_IN_USE,
			    "site %s is the site of pool %s: remove the "
			    "pool first",
			    cn, f->pools[i].name);
	for (i = 0; i < f->n_sbas; i++)
		if (strcmp(f->sbas[i].site, name) == 0)
			return fail(o, FSM_E_IN_USE,
				    "site %s is the site of sba %s: remove the "
				    "sba first",
				    cn, f->sbas[i].name);
	for (i = 0; i < f->n_members; i++)
		if (strcmp(f->members[i].site, name) == 0)
			return fail(o, FSM_E_IN_USE,
				    "site %s is the site of member %" PRIu64
				    " (%s): remove the member first",
				    cn, f->members[i].id, f->members[i].name);
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
		fmt(o->what, sizeof(o->what), "add pool");
		return fail(o, FSM_E_INVALID, "add_pool has no pool");
	}
	fmt(o->what, sizeof(o->what), "add pool %s (%s, %s, %s, %s)",
	    clip(cn, str(p->name)), clip(cs, str(p->site)),
	    clip(ce, str(p->edition)), clip(ck, str(p->kind)),
	    clip(co, str(p->os)));
	if (check_name(o, "pool name", str(p->name)) ||
	    check_name(o, "pool site", str(p->site)))
		return o->code;
	if (!edition_ok(str(p->edition)))
		return fail(o, FSM_E_INVALID,
			    "pool edition \"%s\" is not enterprise or standard",
			    ce);
	if (!kind_ok(str(p->kind)))
		return fail(o, FSM_E_INVALID,
			    "pool kind \"%s\" is not physical or virtual", ck);
	if (check_name(o, "pool os", str(p->os)))
		return o->code;
	if (pool_index(f, p->name) >= 0)
		return fail(o, FSM_E_EXISTS, "pool %s is already defined", cn);
	if (f->n_pools >= FSM_MAX_POOLS)
		return fail(o, FSM_E_FULL,
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
	if (f->cms_active[0] == '\0') {
		strcpy(f->cms_active, p->name);
		f->cms_epoch++;
	}
	return FSM_OK;
}

static int op_remove_pool(struct fsm *f, const Poolpair__CmdRemovePool *c,
			  struct outcome *o)
{
	const char *name = str(c->name);
	char cn[CLIP_LEN];
	unsigned j;
	int i;

	fmt(o->what, sizeof(o->what), "remove pool %s", clip(cn, name));
	if (check_name(o, "pool name", name))
		return o->code;
	i = pool_index(f, name);
	if (i < 0)
		return fail(o, FSM_E_NOT_FOUND, "pool %s is not defined", cn);
	if (f->pools[i].pair[0] != '\0')
		return fail(o, FSM_E_IN_USE,
			    "pool %s is paired with %s: unpair it first", cn,
			    f->pools[i].pair);
	if (strcmp(f->cms_active, name) == 0)
		return fail(o, FSM_E_IN_USE,
			    "pool %s hosts the active CMS: move it with a CMS "
			    "failover first",
			    cn);
	for (j = 0; j < f->n_sbas; j++)
		if (strcmp(f->sbas[j].backup_pool, name) == 0)
			return fail(o, FSM_E_IN_USE,
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
		fmt(br[n].text, sizeof(br[n].text),
		    "%s is %s but %s is %s: paired pools must have the same "
		    "edition",
		    a->name, a->edition, b->name, b->edition);
		fmt(br[n].brief, sizeof(br[n].brief), "edition %s vs %s",
		    a->edition, b->edition);
		br[n++].label = "different editions";
	}
	if (strcmp(a->kind, b->kind) != 0) {
		br[n].code = FSM_E_PAIR_KIND;
		fmt(br[n].text, sizeof(br[n].text),
		    "%s is %s but %s is %s: paired pools must be of the same "
		    "kind",
		    a->name, a->kind, b->name, b->kind);
		fmt(br[n].brief, sizeof(br[n].brief), "kind %s vs %s", a->kind,
		    b->kind);
		br[n++].label = "different kinds";
	}
	if (strcmp(a->os, b->os) != 0) {
		br[n].code = FSM_E_PAIR_OS;
		fmt(br[n].text, sizeof(br[n].text),
		    "%s runs %s but %s runs %s: paired pools must run the same "
		    "os",
		    a->name, a->os, b->name, b->os);
		fmt(br[n].brief, sizeof(br[n].brief), "os %s vs %s", a->os,
		    b->os);
		br[n++].label = "different os";
	}
	if (strcmp(a->site, b->site) == 0) {
		br[n].code = FSM_E_PAIR_SITE;
		fmt(br[n].text, sizeof(br[n].text),
		    "%s and %s are both in site %s: paired pools must be in "
		    "different sites",
		    a->name, b->name, a->site);
		fmt(br[n].brief, sizeof(br[n].brief), "both in site %s",
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

static int op_pair(struct fsm *f, const Poolpair__CmdPair *c, struct outcome *o)
{
	const char *a = str(c->a), *b = str(c->b);
	struct fsm_pool *pa, *pb;
	struct rule_break br[4];
	char ca[CLIP_LEN], cb[CLIP_LEN];
	unsigned n;
	int ia, ib;

	fmt(o->what, sizeof(o->what), "pair %s %s", clip(ca, a), clip(cb, b));
	if (check_name(o, "pool name", a) || check_name(o, "pool name", b))
		return o->code;
	ia = pool_index(f, a);
	if (ia < 0)
		return fail(o, FSM_E_NOT_FOUND, "pool %s is not defined", ca);
	ib = pool_index(f, b);
	if (ib < 0)
		return fail(o, FSM_E_NOT_FOUND, "pool %s is not defined", cb);
	if (ia == ib)
		return fail(o, FSM_E_PAIR_SELF,
			    "pool %s cannot be paired with itself", ca);
	pa = &f->pools[ia];
	pb = &f->pools[ib];
	if (pa->pair[0] != '\0')
		return fail(o, FSM_E_PAIR_ALREADY,
			    "%s is already paired with %s: each pool can be in "
			    "at most one pair",
			    ca, pa->pair);
	if (pb->pair[0] != '\0')
		return fail(o, FSM_E_PAIR_ALREADY,
			    "%s is already paired with %s: each pool can be in "
			    "at most one pair",
			    cb, pb->pair);
	n = pair_rules(pa, pb, br);
	if (n > 0 && !c->force)
		return fail(o, br[0].code, "%s", br[0].text);
	strcpy(pa->pair, pb->name);
	strcpy(pb->pair, pa->name);
	pa->pair_supported = pb->pair_supported = n == 0;
	pa->unsupported_reason[0] = '\0';
	if (n > 0) {
		unsupported_text(pa->unsupported_reason,
				 sizeof(pa->unsupported_reason), br, n);
		o->forced = true;
		fmt(o->what, sizeof(o->what), "pair %s %s (forced)", ca, cb);
		fmt(o->reason, sizeof(o->reason), "%s", pa->unsupported_reason);
	}
	strcpy(pb->unsupported_reason, pa->unsupported_reason);
	return FSM_OK;
}

static int op_unpair(struct fsm *f, const Poolpair__CmdUnpair *c,
		     struct outcome *o)
{
	const char *name = str(c->pool);
	struct fsm_pool *p, *q = NULL;
	char cn[CLIP_LEN];
	int i, j;

	fmt(o->what, sizeof(o->what), "unpair %s", clip(cn, name));
	if (check_name(o, "pool name", name))
		return o->code;
	i = pool_index(f, name);
	if (i < 0)
		return fail(o, FSM_E_NOT_FOUND, "pool %s is not defined", cn);
	p = &f->pools[i];
	if (p->pair[0] == '\0')
		return fail(o, FSM_E_NOT_PAIRED, "pool %s is not paired", cn);
	j = pool_index(f, p->pair);
	if (j >= 0)
		q = &f->pools[j];
	if (p->state != FSM_STATE_NORMAL)
		return fail(o, FSM_E_FAILED_OVER,
			    "pool %s is %s, not normal: fail it back before "
			    "unpairing",
			    cn, fsm_failover_state_name(p->state));
	if (q != NULL && q->state != FSM_STATE_NORMAL)
		return fail(o, FSM_E_FAILED_OVER,
			    "pool %s is %s, not normal: fail it back before "
			    "unpairing",
			    q->name, fsm_failover_state_name(q->state));
	if (strcmp(p->owner, p->name) != 0)
		return fail(o, FSM_E_FAILED_OVER,
			    "the user set of %s is owned by %s: fail it back "
			    "before unpairing",
			    cn, p->owner);
	if (q != NULL && strcmp(q->owner, q->name) != 0)
		return fail(o, FSM_E_FAILED_OVER,
			    "the user set of %s is owned by %s: fail it back "
			    "before unpairing",
			    q->name, q->owner);
	p->pair[0] = '\0';
	p->pair_supported = true;
	p->unsupported_reason[0] = '\0';
	if (q != NULL) {
		q->pair[0] = '\0';
		q->pair_supported = true;
		q->unsupported_reason[0] = '\0';
	}
	return FSM_OK;
}

static int op_add_sba(struct fsm *f, const Poolpair__CmdAddSba *c,
		      struct outcome *o)
{
	const Poolpair__Sba *s = c->sba;
	struct fsm_sba *dst;
	char cn[CLIP_LEN], cs[CLIP_LEN], cb[CLIP_LEN];

	if (s == NULL) {
		fmt(o->what, sizeof(o->what), "add sba");
		return fail(o, FSM_E_INVALID, "add_sba has no sba");
	}
	fmt(o->what, sizeof(o->what), "add sba %s (%s, backup %s)",
	    clip(cn, str(s->name)), clip(cs, str(s->site)),
	    clip(cb, str(s->backup_pool)));
	if (check_name(o, "sba name", str(s->name)) ||
	    check_name(o, "sba site", str(s->site)) ||
	    check_name(o, "sba backup pool", str(s->backup_pool)))
		return o->code;
	if (sba_index(f, s->name) >= 0)
		return fail(o, FSM_E_EXISTS, "sba %s is already defined", cn);
	if (pool_index(f, s->backup_pool) < 0)
		return fail(o, FSM_E_NOT_FOUND,
			    "backup pool %s of sba %s is not defined", cb, cn);
	if (f->n_sbas >= FSM_MAX_SBAS)
		return fail(o, FSM_E_FULL,
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
	const char *name = str(c->name);
	char cn[CLIP_LEN];
	int i;

	fmt(o->what, sizeof(o->what), "remove sba %s", clip(cn, name));
	if (check_name(o, "sba name", name))
		return o->code;
	i = sba_index(f, name);
	if (i < 0)
		return fail(o, FSM_E_NOT_FOUND, "sba %s is not defined", cn);
	memmove(&f->sbas[i], &f->sbas[i + 1],
		(f->n_sbas - (unsigned)i - 1) * sizeof(f->sbas[0]));
	f->n_sbas--;
	memset(&f->sbas[f->n_sbas], 0, sizeof(f->sbas[0]));
	return FSM_OK;
}

static int op_set_policy(struct fsm *f, const Poolpair__CmdSetPolicy *c,
			 struct outcome *o)
{
	const Poolpair__Policy *p = c->policy;
	char cf[CLIP_LEN];

	if (p == NULL) {
		fmt(o->what, sizeof(o->what), "set policy");
		return fail(o, FSM_E_INVALID, "set_policy has no policy");
	}
	fmt(o->what, sizeof(o->what),
	    "set policy failover %s, max lag %" PRIu32 " ms, cooldown %" PRIu32
	    " ms",
	    clip(cf, str(p->failover)), p->max_lag_on_failover_ms,
	    p->cooldown_ms);
	if (!failover_ok(str(p->failover)))
		return fail(o, FSM_E_INVALID,
			    "policy failover \"%s\" is not auto or manual", cf);
	memset(&f->policy, 0, sizeof(f->policy));
	strcpy(f->policy.failover, p->failover);
	f->policy.max_lag_on_failover_ms = p->max_lag_on_failover_ms;
	f->policy.cooldown_ms = p->cooldown_ms;
	return FSM_OK;
}

static int op_cms_place(struct fsm *f, const Poolpair__CmdCmsPlace *c,
			struct outcome *o)
{
	const char *name = str(c->pool);
	char cn[CLIP_LEN];
	int i;

	fmt(o->what, sizeof(o->what), "place cms on %s", clip(cn, name));
	if (check_name(o, "pool name", name))
		return o->code;
	i = pool_index(f, name);
	if (i < 0)
		return fail(o, FSM_E_NOT_FOUND, "pool %s is not defined", cn);
	if (f->cms_active[0] == '\0') {
		strcpy(f->cms_active, f->pools[i].name);
		f->cms_epoch++;
		return FSM_OK;
	}
	if (strcmp(f->cms_active, name) == 0)
		return FSM_OK;
	return fail(o, FSM_E_IN_USE,
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

	fmt(o->what, sizeof(o->what), "topology: %zu step%s", n,
	    n == 1 ? "" : "s");
	if (n > FSM_MAX_TOPOLOGY_STEPS)
		return fail(o, FSM_E_INVALID,
			    "topology has %zu steps, at most %d", n,
			    FSM_MAX_TOPOLOGY_STEPS);
	for (i = 0; i < n; i++) {
		if (t->steps[i] == NULL)
			return fail(o, FSM_E_MALFORMED, "step %zu is empty",
				    i + 1);
		if (t->steps[i]->op_case == POOLPAIR__COMMAND__OP_TOPOLOGY)
			return fail(o, FSM_E_NESTED,
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
		return fail(o, FSM_E_FULL, "no memory to stage the topology");
	memcpy(work, f, offsetof(struct fsm, history));
	for (i = 0; i < n; i++) {
		struct outcome step;

		memset(&step, 0, sizeof(step));
		if (apply_op(work, t->steps[i], true, &step) != FSM_OK) {
			free(work);
			return fail(o, step.code, "step %zu (%s): %s", i + 1,
				    step.what, step.reason);
		}
		if (step.forced && !o->forced) {
			o->forced = true;
			fmt(o->reason, sizeof(o->reason), "step %zu (%s): %s",
			    i + 1, step.what, step.reason);
		}
	}
	memcpy(f, work, offsetof(struct fsm, history));
	free(work);
	return FSM_OK;
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
	case POOLPAIR__COMMAND__OP_ADD_SBA:
		return op_add_sba(f, cmd->add_sba, o);
	case POOLPAIR__COMMAND__OP_REMOVE_SBA:
		return op_remove_sba(f, cmd->remove_sba, o);
	case POOLPAIR__COMMAND__OP_SET_POLICY:
		return op_set_policy(f, cmd->set_policy, o);
	case POOLPAIR__COMMAND__OP_CMS_PLACE:
		return op_cms_place(f, cmd->cms_place, o);
	case POOLPAIR__COMMAND__OP_TOPOLOGY:
		if (is_step) {
			fmt(o->what, sizeof(o->what), "topology");
			return fail(o, FSM_E_NESTED,
				    "a topology step cannot itself be a "
				    "topology");
		}
		return op_topology(f, cmd->topology, o);
	default:
		fmt(o->what, sizeof(o->what), "malformed command");
		return fail(o, FSM_E_MALFORMED, "command has no operation");
	}
}

/* ---- bounded pre-scan of the wire format ----
 *
 * protobuf-c decodes nested messages recursively without a depth limit; a
 * Command can nest itself through CmdTopology, so 1 MiB of nesting would
 * exhaust the stack. The scan walks the wire structure iteratively per
 * level and stops at FSM_MAX_COMMAND_DEPTH, and picks up time_ms and who
 * of the outer command for the history. */

enum scan_result { SCAN_OK, SCAN_BROKEN, SCAN_DEEP };

struct scan {
	uint64_t time_ms;
	const char *who;
	size_t who_len;
};

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	unsigned shift;

	for (shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*p >= end)
			return false;
		b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = r;
			return true;
		}
	}
	return false;
}

/* Next field at *p: its number, wire type, varint value or the bounds of
 * its length-delimited payload. false when the structure is broken. */
static bool wire_next(const uint8_t **p, const uint8_t *end, uint64_t *field,
		      unsigned *type, uint64_t *value, const uint8_t **sub,
		      size_t *sub_len)
{
	uint64_t key, len;

	if (!read_varint(p, end, &key))
		return false;
	*field = key >> 3;
	*type = (unsigned)(key & 7);
	if (*field == 0 || *field > 0x1fffffff)
		return false;
	switch (*type) {
	case 0:
		return read_varint(p, end, value);
	case 1:
		if (end - *p < 8)
			return false;
		*p += 8;
		return true;
	case 2:
		if (!read_varint(p, end, &len) || len > (uint64_t)(end - *p))
			return false;
		*sub = *p;
		*sub_len = (size_t)len;
		*p += len;
		return true;
	case 5:
		if (end - *p < 4)
			return false;
		*p += 4;
		return true;
	default:
		return false;
	}
}

static enum scan_result scan_command(const uint8_t *buf, size_t len,
				     unsigned depth, struct scan *sc);

static enum scan_result scan_topology(const uint8_t *buf, size_t len,
				      unsigned depth, struct scan *sc)
{
	const uint8_t *p = buf, *end = buf + len;

	while (p < end) {
		uint64_t field, value;
		const uint8_t *sub = NULL;
		size_t sub_len = 0;
		unsigned type;
		enum scan_result r;

		if (!wire_next(&p, end, &field, &type, &value, &sub, &sub_len))
			return SCAN_BROKEN;
		if (field != 1 || type != 2)
			continue;
		r = scan_command(sub, sub_len, depth + 1, sc);
		if (r != SCAN_OK)
			return r;
	}
	return SCAN_OK;
}

static enum scan_result scan_command(const uint8_t *buf, size_t len,
				     unsigned depth, struct scan *sc)
{
	const uint8_t *p = buf, *end = buf + len;

	while (p < end) {
		uint64_t field, value = 0;
		const uint8_t *sub = NULL;
		size_t sub_len = 0;
		unsigned type;
		enum scan_result r;

		if (!wire_next(&p, end, &field, &type, &value, &sub, &sub_len))
			return SCAN_BROKEN;
		if (depth == 0 && field == 1 && type == 0)
			sc->time_ms = value;
		if (depth == 0 && field == 2 && type == 2) {
			sc->who = (const char *)sub;
			sc->who_len = sub_len;
		}
		if (field != POOLPAIR__COMMAND__OP_TOPOLOGY || type != 2)
			continue;
		if (depth + 1 >= FSM_MAX_COMMAND_DEPTH)
			return SCAN_DEEP;
		r = scan_topology(sub, sub_len, depth, sc);
		if (r != SCAN_OK)
			return r;
	}
	return SCAN_OK;
}

/* ---- apply ---- */

static void record(struct fsm *f, uint64_t time_ms, const char *who,
		   size_t who_len, const struct outcome *o,
		   struct fsm_result *res)
{
	struct fsm_history *h;

	f->decisions++;
	h = &f->history[(f->decisions - 1) % FSM_HISTORY];
	memset(h, 0, sizeof(*h));
	h->seq = f->decisions;
	h->time_ms = time_ms;
	text_copy(h->who, sizeof(h->who), who, who_len);
	strcpy(h->what, o->what);
	h->code = o->code;
	strcpy(h->reason, o->reason);
	h->forced = o->forced;
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->code = o->code;
		if (o->code != FSM_OK)
			strcpy(res->reason, o->reason);
		res->seq = h->seq;
	}
}

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
	fmt(o.what, sizeof(o.what), "malformed command");
	if (buf == NULL && len > 0) {
		fail(&o, FSM_E_MALFORMED, "command has no bytes");
		goto out;
	}
	if (len > FSM_MAX_COMMAND_BYTES) {
		fail(&o, FSM_E_MALFORMED, "command is %zu bytes, at most %u",
		     len, FSM_MAX_COMMAND_BYTES);
		goto out;
	}
	if (buf == NULL)
		buf = empty;
	r = scan_command(buf, len, 0, &sc);
	if (r == SCAN_BROKEN) {
		sc.time_ms = 0;
		sc.who = "";
		sc.who_len = 0;
		fail(&o, FSM_E_MALFORMED,
		     "command is not a decodable poolpair.Command");
		goto out;
	}
	if (r == SCAN_DEEP) {
		fmt(o.what, sizeof(o.what), "topology");
		fail(&o, FSM_E_NESTED,
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
		fail(&o, FSM_E_MALFORMED,
		     "command is not a decodable poolpair.Command");
		goto out;
	}
	sc.time_ms = cmd->time_ms;
	sc.who = str(cmd->who);
	sc.who_len = strlen(sc.who);
	apply_op(f, cmd, false, &o);
out:
	record(f, sc.time_ms, sc.who, sc.who_len, &o, res);
	if (cmd != NULL)
		poolpair__command__free_unpacked(cmd, NULL);
	return o.code;
}

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
}

/* calloc that never asks for 0 bytes, so NULL always means no memory */
static void *snap_alloc(size_t n, size_t size)
{
	return calloc(n > 0 ? n : 1, size);
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
	if (s.sites == NULL || s.site_ptrs == NULL || s.members == NULL ||
	    s.member_ptrs == NULL || s.pools == NULL || s.pool_states == NULL ||
	    s.pool_ptrs == NULL || s.sbas == NULL || s.sba_ptrs == NULL ||
	    s.history == NULL || s.history_ptrs == NULL)
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
	st.cms = &cms;
	policy.failover = (char *)f->policy.failover;
	policy.max_lag_on_failover_ms = f->policy.max_lag_on_failover_ms;
	policy.cooldown_ms = f->policy.cooldown_ms;
	st.policy = &policy;

	first = f->decisions > FSM_HISTORY ? f->decisions - FSM_HISTORY + 1 : 1;
	count = f->decisions < FSM_HISTORY ? f->decisions : FSM_HISTORY;
	for (k = 0; k < count; k++) {
		const struct fsm_history *h = fsm_history_get(f, first + k);
		Poolpair__HistoryEntry *e = &s.history[n_hist];

		if (h == NULL)
			continue;
		poolpair__history_entry__init(e);
		e->seq = h->seq;
		e->time_ms = h->time_ms;
		e->who = (char *)h->who;
		e->what = (char *)h->what;
		e->code = h->code;
		e->reason = (char *)h->reason;
		e->forced = h->forced;
		s.history_ptrs[n_hist++] = e;
	}
	st.n_history = n_hist;
	st.history = s.history_ptrs;
	st.decisions = f->decisions;

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

	src = str(src);
	n = strlen(src);
	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

static bool put_name(char *dst, const char *src)
{
	return name_ok(str(src)) && put(dst, FSM_NAME_LEN, src);
}

static bool restore_members(struct fsm *t, const Poolpair__State *st)
{
	size_t i;

	if (st->n_members > FSM_MAX_MEMBERS)
		return false;
	for (i = 0; i < st->n_members; i++) {
		const Poolpair__Member *m = st->members[i];
		struct fsm_member *d = &t->members[i];

		if (m == NULL || m->id == 0 || member_index(t, m->id) >= 0)
			return false;
		if (!put_name(d->name, m->name) ||
		    !put_name(d->site, m->site) ||
		    (str(m->pool)[0] != '\0' && !put_name(d->pool, m->pool)) ||
		    !put(d->raft_address, FSM_ADDR_LEN, m->raft_address) ||
		    !put(d->data_address, FSM_ADDR_LEN, m->data_address) ||
		    !put(d->api_address, FSM_ADDR_LEN, m->api_address) ||
		    !addr_ok(d->raft_address) || !addr_ok(d->data_address) ||
		    !addr_ok(d->api_address) || d->raft_address[0] == '\0' ||
		    d->api_address[0] == '\0' ||
		    (d->pool[0] != '\0' && d->data_address[0] == '\0') ||
		    site_index(t, d->site) < 0)
			return false;
		d->id = m->id;
		t->n_members++;
	}
	return true;
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
		    pool_index(t, d->name) >= 0 ||
		    !put_name(d->site, p->site) || site_index(t, d->site) < 0 ||
		    !edition_ok(str(p->edition)) ||
		    !put(d->edition, FSM_NAME_LEN, p->edition) ||
		    !kind_ok(str(p->kind)) ||
		    !put(d->kind, FSM_NAME_LEN, p->kind) ||
		    !put_name(d->os, p->os) ||
		    (str(ps->pair)[0] != '\0' &&
		     !put_name(d->pair, ps->pair)) ||
		    !put(d->unsupported_reason, FSM_REASON_LEN,
			 ps->unsupported_reason) ||
		    !put_name(d->owner, ps->owner) || ps->epoch == 0 ||
		    (int)ps->state < FSM_STATE_NORMAL ||
		    (int)ps->state > FSM_STATE_FAILING_BACK)
			return false;
		d->capacity = p->capacity;
		d->pair_supported = ps->pair_supported;
		d->epoch = ps->epoch;
		d->state = (int)ps->state;
		t->n_pools++;
	}
	/* Pairs are symmetric and consistent; owners are the pool or its
	 * pair. */
	for (i = 0; i < t->n_pools; i++) {
		const struct fsm_pool *p = &t->pools[i];
		int j;

		if (p->pair[0] == '\0') {
			if (!p->pair_supported ||
			    p->unsupported_reason[0] != '\0' ||
			    strcmp(p->owner, p->name) != 0)
				return false;
			continue;
		}
		j = pool_index(t, p->pair);
		if (j < 0 || (size_t)j == i ||
		    strcmp(t->pools[j].pair, p->name) != 0 ||
		    t->pools[j].pair_supported != p->pair_supported ||
		    strcmp(t->pools[j].unsupported_reason,
			   p->unsupported_reason) != 0 ||
		    (p->pair_supported && p->unsupported_reason[0] != '\0') ||
		    (strcmp(p->owner, p->name) != 0 &&
		     strcmp(p->owner, p->pair) != 0))
			return false;
	}
	return true;
}

static bool restore_history(struct fsm *t, const Poolpair__State *st)
{
	uint64_t prev = 0;
	size_t i;

	if (st->n_history > FSM_HISTORY || st->n_history > st->decisions)
		return false;
	t->decisions = st->decisions;
	for (i = 0; i < st->n_history; i++) {
		const Poolpair__HistoryEntry *e = st->history[i];
		struct fsm_history *h;

		if (e == NULL || e->seq <= prev || e->seq > st->decisions ||
		    st->decisions - e->seq >= FSM_HISTORY || e->code < 0 ||
		    e->code >= FSM_CODE_COUNT)
			return false;
		prev = e->seq;
		h = &t->history[(e->seq - 1) % FSM_HISTORY];
		if (!put(h->who, FSM_WHO_LEN, e->who) ||
		    !put(h->what, FSM_WHAT_LEN, e->what) ||
		    !put(h->reason, FSM_REASON_LEN, e->reason))
			return false;
		h->seq = e->seq;
		h->time_ms = e->time_ms;
		h->code = e->code;
		h->forced = e->forced;
	}
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
		    site_index(t, t->sites[i].name) >= 0)
			return false;
		t->n_sites++;
	}
	if (!restore_members(t, st) || !restore_pools(t, st))
		return false;
	for (i = 0; i < st->n_sbas; i++) {
		const Poolpair__Sba *s = st->sbas[i];
		struct fsm_sba *d = &t->sbas[i];

		if (s == NULL || !put_name(d->name, s->name) ||
		    sba_index(t, d->name) >= 0 || !put_name(d->site, s->site) ||
		    site_index(t, d->site) < 0 ||
		    !put_name(d->backup_pool, s->backup_pool) ||
		    pool_index(t, d->backup_pool) < 0)
			return false;
		t->n_sbas++;
	}
	if (st->cms != NULL && str(st->cms->active)[0] != '\0') {
		if (!put_name(t->cms_active, st->cms->active) ||
		    pool_index(t, t->cms_active) < 0 || st->cms->epoch == 0)
			return false;
	}
	t->cms_epoch = st->cms != NULL ? st->cms->epoch : 0;
	if (!failover_ok(str(st->policy->failover)))
		return false;
	strcpy(t->policy.failover, st->policy->failover);
	t->policy.max_lag_on_failover_ms = st->policy->max_lag_on_failover_ms;
	t->policy.cooldown_ms = st->policy->cooldown_ms;
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
