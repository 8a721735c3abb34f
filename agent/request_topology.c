/* request_topology: the declarative topology body, validated and diffed
 * against the current state into one topology command. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/request.h"
#include "agent/request_internal.h"
#include "control.pb-c.h"

/* Format into dst; a longer text is cut (the diff is for humans). */
static void say(char *dst, size_t dstlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *dst, size_t dstlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dstlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		dst[0] = '\0';
}

#define TOPO_MAX_PAIRS (FSM_MAX_POOLS / 2)

/* The wanted topology, validated. */
struct topo {
	bool has_sites, has_cms, has_policy;
	char sites[FSM_MAX_SITES][FSM_NAME_LEN];
	unsigned n_sites;
	struct fsm_pool pools[FSM_MAX_POOLS];
	unsigned n_pools;
	struct pair_req pairs[TOPO_MAX_PAIRS];
	unsigned n_pairs;
	struct fsm_sba sbas[FSM_MAX_SBAS];
	unsigned n_sbas;
	char cms[FSM_NAME_LEN];
	struct fsm_policy policy; /* merged over the current one */
};

enum step_op {
	STEP_UNPAIR,
	STEP_REMOVE_SBA,
	STEP_REMOVE_POOL,
	STEP_REMOVE_SITE,
	STEP_ADD_SITE,
	STEP_ADD_POOL,
	STEP_PAIR,
	STEP_PAIR_MODE,
	STEP_ADD_SBA,
	STEP_CMS_PLACE,
	STEP_SET_POLICY,
};

static const char *const step_names[] = {
    [STEP_UNPAIR] = "unpair",
    [STEP_REMOVE_SBA] = "remove_sba",
    [STEP_REMOVE_POOL] = "remove_pool",
    [STEP_REMOVE_SITE] = "remove_site",
    [STEP_ADD_SITE] = "add_site",
    [STEP_ADD_POOL] = "add_pool",
    [STEP_PAIR] = "pair",
    [STEP_PAIR_MODE] = "pair_mode",
    [STEP_ADD_SBA] = "add_sba",
    [STEP_CMS_PLACE] = "cms_place",
    [STEP_SET_POLICY] = "set_policy",
};

/* One step; pointers borrow from the struct topo or the state. */
struct step {
	enum step_op op;
	const char *name; /* site, pool or SBA; unpair: one pool of the pair */
	const char *b;	  /* pair: second pool */
	bool force;
	int mode;		  /* pair, pair_mode: enum fsm_repl_mode */
	uint32_t sync_timeout_ms; /* pair, pair_mode: 0 default / keep */
	const struct fsm_pool *pool;	 /* add_pool */
	const struct fsm_sba *sba;	 /* add_sba */
	const struct fsm_policy *policy; /* set_policy */
};

struct steps {
	struct step *v;
	struct topology_diff_item *items;
	unsigned n, cap;
};

/* Append a step and its diff line; NULL when out of memory. */
static struct topology_diff_item *steps_push(struct steps *s,
					     const struct step *st)
{
	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		struct step *v = realloc(s->v, cap * sizeof(*v));
		struct topology_diff_item *it;

		if (v == NULL)
			return NULL;
		s->v = v;
		it = realloc(s->items, cap * sizeof(*it));
		if (it == NULL)
			return NULL;
		s->items = it;
		s->cap = cap;
	}
	s->v[s->n] = *st;
	memset(&s->items[s->n], 0, sizeof(s->items[s->n]));
	snprintf(s->items[s->n].op, sizeof(s->items[s->n].op), "%s",
		 step_names[st->op]);
	return &s->items[s->n++];
}

static int topo_pool_index(const struct topo *t, const char *name)
{
	unsigned i;

	for (i = 0; i < t->n_pools; i++)
		if (strcmp(t->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct fsm_sba *topo_sba(const struct topo *t, const char *name)
{
	unsigned i;

	for (i = 0; i < t->n_sbas; i++)
		if (strcmp(t->sbas[i].name, name) == 0)
			return &t->sbas[i];
	return NULL;
}

static bool topo_has_site(const struct topo *t, const char *name)
{
	unsigned i;

	for (i = 0; i < t->n_sites; i++)
		if (strcmp(t->sites[i], name) == 0)
			return true;
	return false;
}

static bool topo_has_pair(const struct topo *t, const char *a, const char *b)
{
	unsigned i;

	for (i = 0; i < t->n_pairs; i++) {
		const struct pair_req *p = &t->pairs[i];
		if ((strcmp(p->a, a) == 0 && strcmp(p->b, b) == 0) ||
		    (strcmp(p->a, b) == 0 && strcmp(p->b, a) == 0))
			return true;
	}
	return false;
}

/* True when a pool or SBA of t names the site. */
static bool topo_names_site(const struct topo *t, const char *site)
{
	unsigned i;

	for (i = 0; i < t->n_pools; i++)
		if (strcmp(t->pools[i].site, site) == 0)
			return true;
	for (i = 0; i < t->n_sbas; i++)
		if (strcmp(t->sbas[i].site, site) == 0)
			return true;
	return false;
}

/* State lookups by hand: the state is read, nothing else of fsm is used. */
static const struct fsm_pool *state_pool(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_pools && i < FSM_MAX_POOLS; i++)
		if (strcmp(f->pools[i].name, name) == 0)
			return &f->pools[i];
	return NULL;
}

static const struct fsm_sba *state_sba(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_sbas && i < FSM_MAX_SBAS; i++)
		if (strcmp(f->sbas[i].name, name) == 0)
			return &f->sbas[i];
	return NULL;
}

static bool state_has_site(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_sites && i < FSM_MAX_SITES; i++)
		if (strcmp(f->sites[i].name, name) == 0)
			return true;
	return false;
}

static bool state_member_names_site(const struct fsm *f, const char *site)
{
	unsigned i;

	for (i = 0; i < f->n_members && i < FSM_MAX_MEMBERS; i++)
		if (strcmp(f->members[i].site, site) == 0)
			return true;
	return false;
}

/* An array field of TOPO holding at most max entries; NULL when absent. */
static int get_array(const json_t *o, const char *key, size_t max,
		     const char *noun, json_t **out, struct request_error *err)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return request_bad_type(err, "topology.", key, "an array");
	if (json_array_size(v) > max)
		return request_fail(
		    err, -EINVAL, "invalid",
		    "field 'topology.%s' lists %zu %s; the cluster "
		    "holds at most %zu",
		    key, json_array_size(v), noun, max);
	*out = v;
	return 0;
}

/* An array element that must be an object; where receives its prefix. */
static int element_object(json_t *arr, size_t i, const char *key, char *where,
			  size_t wlen, json_t **out, struct request_error *err)
{
	*out = json_array_get(arr, i);
	snprintf(where, wlen, "topology.%s[%zu].", key, i);
	if (!json_is_object(*out))
		return request_fail(
		    err, -EINVAL, "bad_type",
		    "field 'topology.%s[%zu]' must be an object", key, i);
	return 0;
}

static int parse_topo_sites(json_t *arr, struct topo *t,
			    struct request_error *err)
{
	char where[48];
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);
		unsigned j;

		snprintf(where, sizeof(where), "topology.sites[%zu]", i);
		if (!json_is_string(v))
			return request_bad_type(err, where, "", "a string");
		if (!request_name_ok(json_string_value(v),
				     json_string_length(v)))
			return request_fail(
			    err, -EINVAL, "invalid",
			    "field '%s' must be 1-%d characters of "
			    "[A-Za-z0-9._-], not starting with '-'",
			    where, FSM_NAME_LEN - 1);
		for (j = 0; j < t->n_sites; j++)
			if (strcmp(t->sites[j], json_string_value(v)) == 0)
				return request_fail(err, -EINVAL, "invalid",
						    "site %s is listed twice",
						    t->sites[j]);
		memcpy(t->sites[t->n_sites++], json_string_value(v),
		       json_string_length(v) + 1);
	}
	return 0;
}

static int parse_topo_pools(json_t *arr, struct topo *t,
			    struct request_error *err)
{
	char where[48];
	json_t *o;
	size_t i;
	int rc;

	for (i = 0; i < json_array_size(arr); i++) {
		struct fsm_pool *p = &t->pools[t->n_pools];
		if ((rc = element_object(arr, i, "pools", where, sizeof(where),
					 &o, err)) != 0 ||
		    (rc = request_parse_pool(o, where, p, err)) != 0)
			return rc;
		if (topo_pool_index(t, p->name) >= 0)
			return request_fail(err, -EINVAL, "invalid",
					    "pool %s is listed twice", p->name);
		t->n_pools++;
	}
	return 0;
}

static int parse_topo_pairs(json_t *arr, struct topo *t,
			    struct request_error *err)
{
	char where[48];
	json_t *o;
	size_t i;
	int rc;

	for (i = 0; i < json_array_size(arr); i++) {
		struct pair_req *p = &t->pairs[t->n_pairs];
		const char *pools[2];
		unsigned j, k;

		if ((rc = element_object(arr, i, "pairs", where, sizeof(where),
					 &o, err)) != 0 ||
		    (rc = request_parse_pair(o, where, p, err)) != 0)
			return rc;
		if (strcmp(p->a, p->b) == 0)
			return request_fail(
			    err, -EINVAL, "invalid",
			    "pair %s %s pairs a pool with itself", p->a, p->b);
		pools[0] = p->a;
		pools[1] = p->b;
		for (k = 0; k < 2; k++) {
			if (topo_pool_index(t, pools[k]) < 0)
				return request_fail(
				    err, -EINVAL, "invalid",
				    "pair %s %s names pool %s, which "
				    "is not in topology.pools",
				    p->a, p->b, pools[k]);
			for (j = 0; j < t->n_pairs; j++)
				if (strcmp(t->pairs[j].a, pools[k]) == 0 ||
				    strcmp(t->pairs[j].b, pools[k]) == 0)
					return request_fail(
					    err, -EINVAL, "invalid",
					    "pool %s is in two pairs",
					    pools[k]);
		}
		t->n_pairs++;
	}
	return 0;
}

static int parse_topo_sbas(json_t *arr, struct topo *t,
			   struct request_error *err)
{
	char where[48];
	json_t *o;
	size_t i;
	int rc;

	for (i = 0; i < json_array_size(arr); i++) {
		struct fsm_sba *s = &t->sbas[t->n_sbas];
		if ((rc = element_object(arr, i, "sbas", where, sizeof(where),
					 &o, err)) != 0 ||
		    (rc = request_parse_sba(o, where, s, err)) != 0)
			return rc;
		if (topo_sba(t, s->name) != NULL)
			return request_fail(err, -EINVAL, "invalid",
					    "sba %s is listed twice", s->name);
		if (topo_pool_index(t, s->backup_pool) < 0)
			return request_fail(
			    err, -EINVAL, "invalid",
			    "sba %s names backup pool %s, which is not "
			    "in topology.pools",
			    s->name, s->backup_pool);
		t->n_sbas++;
	}
	return 0;
}

/* Parse and validate TOPO (an object) into t; cross references checked.
 * Pools are parsed before pairs, SBAs and cms, whatever the key order. */
static int parse_topo(const json_t *o, const struct fsm *state, struct topo *t,
		      struct request_error *err)
{
	static const char *const keys[] = {"sites", "pools",  "pairs", "sbas",
					   "cms",   "policy", NULL};
	json_t *sites, *pools, *pairs, *sbas, *policy;
	int rc;

	t->policy = state->policy;
	t->policy.failover[sizeof(t->policy.failover) - 1] = '\0';
	if ((rc = request_check_keys(o, "topology.", keys, err)) != 0 ||
	    (rc = get_array(o, "sites", FSM_MAX_SITES, "sites", &sites, err)) !=
		0 ||
	    (rc = get_array(o, "pools", FSM_MAX_POOLS, "pools", &pools, err)) !=
		0 ||
	    (rc = get_array(o, "pairs", TOPO_MAX_PAIRS, "pairs", &pairs,
			    err)) != 0 ||
	    (rc = get_array(o, "sbas", FSM_MAX_SBAS, "sbas", &sbas, err)) != 0)
		return rc;
	t->has_sites = sites != NULL;
	if ((sites && (rc = parse_topo_sites(sites, t, err)) != 0) ||
	    (pools && (rc = parse_topo_pools(pools, t, err)) != 0) ||
	    (pairs && (rc = parse_topo_pairs(pairs, t, err)) != 0) ||
	    (sbas && (rc = parse_topo_sbas(sbas, t, err)) != 0))
		return rc;
	if ((rc = request_get_name(o, "topology.", "cms", false, t->cms,
				   err)) != 0)
		return rc;
	t->has_cms = t->cms[0] != '\0';
	if (t->has_cms && topo_pool_index(t, t->cms) < 0)
		return request_fail(err, -EINVAL, "invalid",
				    "cms pool %s is not in topology.pools",
				    t->cms);
	policy = json_object_get(o, "policy");
	if (policy != NULL) {
		if (!json_is_object(policy))
			return request_bad_type(err, "topology.", "policy",
						"an object");
		if ((rc = request_parse_policy(policy, "topology.policy.",
					       &t->policy, err)) != 0)
			return rc;
		t->has_policy = true;
	}
	return 0;
}

/* A pool of TOPO that exists with other attributes is refused. */
static int check_pool_unchanged(const struct fsm_pool *now,
				const struct fsm_pool *want,
				struct request_error *err)
{
	static const char fmt[] = "pool %s differs from the cluster "
				  "(%s %s \xe2\x86\x92 %s): remove it first";

	if (strcmp(now->site, want->site) != 0)
		return request_fail(err, -EINVAL, "invalid", fmt, want->name,
				    "site", now->site, want->site);
	if (strcmp(now->edition, want->edition) != 0)
		return request_fail(err, -EINVAL, "invalid", fmt, want->name,
				    "edition", now->edition, want->edition);
	if (strcmp(now->kind, want->kind) != 0)
		return request_fail(err, -EINVAL, "invalid", fmt, want->name,
				    "kind", now->kind, want->kind);
	if (strcmp(now->os, want->os) != 0)
		return request_fail(err, -EINVAL, "invalid", fmt, want->name,
				    "os", now->os, want->os);
	if (now->capacity != want->capacity)
		return request_fail(
		    err, -EINVAL, "invalid",
		    "pool %s differs from the cluster (capacity %u "
		    "\xe2\x86\x92 %u): remove it first",
		    want->name, (unsigned)now->capacity,
		    (unsigned)want->capacity);
	return 0;
}

static bool sba_same(const struct fsm_sba *a, const struct fsm_sba *b)
{
	return strcmp(a->site, b->site) == 0 &&
	       strcmp(a->backup_pool, b->backup_pool) == 0;
}

static bool policy_same(const struct fsm_policy *a, const struct fsm_policy *b)
{
	return strncmp(a->failover, b->failover, sizeof(a->failover)) == 0 &&
	       a->max_lag_on_failover_ms == b->max_lag_on_failover_ms &&
	       a->cooldown_ms == b->cooldown_ms;
}

static int push_add_pool(struct steps *s, const struct fsm_pool *p)
{
	struct step st = {.op = STEP_ADD_POOL, .name = p->name, .pool = p};
	struct topology_diff_item *it = steps_push(s, &st);
	char cap[32] = "";

	if (it == NULL)
		return -ENOMEM;
	if (p->capacity > 0)
		snprintf(cap, sizeof(cap), ", capacity %u",
			 (unsigned)p->capacity);
	say(it->what, sizeof(it->what), "add pool %s (%s, %s, %s, %s%s)",
	    p->name, p->site, p->edition, p->kind, p->os, cap);
	return 0;
}

/* A pair of the file already paired so in state a: a pair_mode step when
 * the file names a mode or a timeout the pair does not have (what it
 * leaves out stays as it is). Returns 0 or -ENOMEM. */
static int pair_mode_step(struct steps *s, const struct fsm_pool *a,
			  const struct pair_req *p)
{
	struct step st = {.op = STEP_PAIR_MODE, .name = p->a, .b = p->b};
	struct topology_diff_item *it;
	uint32_t timeout = p->sync_timeout_ms != 0
			       ? p->sync_timeout_ms
			       : fsm_pool_sync_timeout_ms(a);

	st.mode = p->has_mode ? p->mode : a->repl_mode;
	st.sync_timeout_ms = p->sync_timeout_ms;
	if (st.mode == a->repl_mode &&
	    timeout == fsm_pool_sync_timeout_ms(a))
		return 0;
	if ((it = steps_push(s, &st)) == NULL)
		return -ENOMEM;
	say(it->what, sizeof(it->what),
	    "pair mode %s %s %s -> %s (sync timeout %u ms)", p->a, p->b,
	    fsm_repl_mode_name(a->repl_mode), fsm_repl_mode_name(st.mode),
	    (unsigned)timeout);
	return 0;
}

/* The steps, in the documented order. */
static int plan_steps(const struct fsm *f, const struct topo *t,
		      struct steps *s)
{
	unsigned n_pools =
	    f->n_pools < FSM_MAX_POOLS ? f->n_pools : FSM_MAX_POOLS;
	unsigned n_sbas = f->n_sbas < FSM_MAX_SBAS ? f->n_sbas : FSM_MAX_SBAS;
	unsigned n_sites =
	    f->n_sites < FSM_MAX_SITES ? f->n_sites : FSM_MAX_SITES;
	const char *first_added = NULL;
	struct topology_diff_item *it;
	int cms_first = -1;
	unsigned i;

	/* unpair: each current pair once, from its first pool */
	for (i = 0; i < n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];
		const struct fsm_pool *q;
		struct step st = {.op = STEP_UNPAIR, .name = p->name};

		if (p->pair[0] == '\0')
			continue;
		q = state_pool(f, p->pair);
		if (q != NULL && q < p && strcmp(q->pair, p->name) == 0)
			continue; /* listed with q */
		if (topo_has_pair(t, p->name, p->pair))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "unpair %s %s", p->name,
		    p->pair);
	}
	/* remove SBAs gone or changed */
	for (i = 0; i < n_sbas; i++) {
		const struct fsm_sba *now = &f->sbas[i];
		const struct fsm_sba *want = topo_sba(t, now->name);
		struct step st = {.op = STEP_REMOVE_SBA, .name = now->name};

		if (want != NULL && sba_same(now, want))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "remove sba %s", now->name);
	}
	/* remove pools gone */
	for (i = 0; i < n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];
		struct step st = {.op = STEP_REMOVE_POOL, .name = p->name};

		if (topo_pool_index(t, p->name) >= 0)
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "remove pool %s", p->name);
	}
	/* remove sites: only with a "sites" key, never a member's site */
	for (i = 0; t->has_sites && i < n_sites; i++) {
		const char *name = f->sites[i].name;
		struct step st = {.op = STEP_REMOVE_SITE, .name = name};

		if (topo_has_site(t, name) || topo_names_site(t, name) ||
		    state_member_names_site(f, name))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "remove site %s", name);
	}
	/* add sites listed and absent */
	for (i = 0; i < t->n_sites; i++) {
		struct step st = {.op = STEP_ADD_SITE, .name = t->sites[i]};

		if (state_has_site(f, t->sites[i]))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "add site %s", t->sites[i]);
	}
	/* add pools; with no CMS placed the first pool added hosts it, so
	 * the wanted CMS pool goes first */
	if (f->cms_active[0] == '\0' && t->has_cms &&
	    state_pool(f, t->cms) == NULL) {
		cms_first = topo_pool_index(t, t->cms);
		if (push_add_pool(s, &t->pools[cms_first]) != 0)
			return -ENOMEM;
		first_added = t->cms;
	}
	for (i = 0; i < t->n_pools; i++) {
		if ((int)i == cms_first || state_pool(f, t->pools[i].name))
			continue;
		if (push_add_pool(s, &t->pools[i]) != 0)
			return -ENOMEM;
		if (first_added == NULL)
			first_added = t->pools[i].name;
	}
	/* pair what is not paired exactly so now */
	for (i = 0; i < t->n_pairs; i++) {
		const struct pair_req *p = &t->pairs[i];
		const struct fsm_pool *a = state_pool(f, p->a);
		struct step st = {.op = STEP_PAIR,
				  .name = p->a,
				  .b = p->b,
				  .force = p->force};

		st.mode = p->mode;
		st.sync_timeout_ms = p->sync_timeout_ms;
		if (a != NULL && strcmp(a->pair, p->b) == 0) {
			if (pair_mode_step(s, a, p) != 0)
				return -ENOMEM;
			continue;
		}
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "pair %s %s%s%s", p->a, p->b,
		    p->mode == FSM_REPL_SYNC ? " (sync)" : "",
		    p->force ? " (forced)" : "");
	}
	/* add SBAs new or changed */
	for (i = 0; i < t->n_sbas; i++) {
		const struct fsm_sba *want = &t->sbas[i];
		const struct fsm_sba *now = state_sba(f, want->name);
		struct step st = {
		    .op = STEP_ADD_SBA, .name = want->name, .sba = want};

		if (now != NULL && sba_same(now, want))
			continue;
		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what), "add sba %s (%s, backup %s)",
		    want->name, want->site, want->backup_pool);
	}
	/* cms: compare with where it will be after the steps above */
	if (t->has_cms) {
		const char *cms =
		    f->cms_active[0] != '\0' ? f->cms_active : first_added;
		struct step st = {.op = STEP_CMS_PLACE, .name = t->cms};

		if (cms == NULL || strncmp(cms, t->cms, FSM_NAME_LEN) != 0) {
			if ((it = steps_push(s, &st)) == NULL)
				return -ENOMEM;
			say(it->what, sizeof(it->what), "place cms on %s",
			    t->cms);
		}
	}
	if (t->has_policy && !policy_same(&f->policy, &t->policy)) {
		struct step st = {.op = STEP_SET_POLICY, .policy = &t->policy};

		if ((it = steps_push(s, &st)) == NULL)
			return -ENOMEM;
		say(it->what, sizeof(it->what),
		    "set policy failover %s, max lag %u ms, cooldown %u ms",
		    t->policy.failover[0] != '\0' ? t->policy.failover
						   : "default",
		    (unsigned)t->policy.max_lag_on_failover_ms,
		    (unsigned)t->policy.cooldown_ms);
	}
	return 0;
}

/* Protobuf storage of one step. */
struct pb_step {
	Poolpair__Command cmd;
	union {
		Poolpair__CmdUnpair unpair;
		Poolpair__CmdRemoveSba remove_sba;
		Poolpair__CmdRemovePool remove_pool;
		Poolpair__CmdRemoveSite remove_site;
		Poolpair__CmdAddSite add_site;
		Poolpair__CmdAddPool add_pool;
		Poolpair__CmdPair pair;
		Poolpair__CmdPairMode pair_mode;
		Poolpair__CmdAddSba add_sba;
		Poolpair__CmdCmsPlace cms_place;
		Poolpair__CmdSetPolicy set_policy;
	} u;
	Poolpair__Pool pool;
	Poolpair__Sba sba;
	Poolpair__Policy policy;
};

static void pb_step(struct pb_step *p, const struct step *st,
		    const struct request_ctx *ctx, char *who)
{
	Poolpair__Command *c = &p->cmd;

	poolpair__command__init(c);
	c->time_ms = ctx->time_ms;
	c->who = who;
	switch (st->op) {
	case STEP_UNPAIR:
		poolpair__cmd_unpair__init(&p->u.unpair);
		p->u.unpair.pool = request_str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_UNPAIR;
		c->unpair = &p->u.unpair;
		break;
	case STEP_REMOVE_SBA:
		poolpair__cmd_remove_sba__init(&p->u.remove_sba);
		p->u.remove_sba.name = request_str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_REMOVE_SBA;
		c->remove_sba = &p->u.remove_sba;
		break;
	case STEP_REMOVE_POOL:
		poolpair__cmd_remove_pool__init(&p->u.remove_pool);
		p->u.remove_pool.name = request_str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_REMOVE_POOL;
		c->remove_pool = &p->u.remove_pool;
		break;
	case STEP_REMOVE_SITE:
		poolpair__cmd_remove_site__init(&p->u.remove_site);
		p->u.remove_site.name = request_str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_REMOVE_SITE;
		c->remove_site = &p->u.remove_site;
		break;
	case STEP_ADD_SITE:
		poolpair__cmd_add_site__init(&p->u.add_site);
		p->u.add_site.name = request_str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
		c->add_site = &p->u.add_site;
		break;
	case STEP_ADD_POOL:
		poolpair__cmd_add_pool__init(&p->u.add_pool);
		request_pb_pool(&p->pool, st->pool);
		p->u.add_pool.pool = &p->pool;
		c->op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
		c->add_pool = &p->u.add_pool;
		break;
	case STEP_PAIR:
		poolpair__cmd_pair__init(&p->u.pair);
		p->u.pair.a = request_str(st->name);
		p->u.pair.b = request_str(st->b);
		p->u.pair.force = st->force;
		p->u.pair.mode = (Poolpair__ReplMode)st->mode;
		p->u.pair.sync_timeout_ms = st->sync_timeout_ms;
		c->op_case = POOLPAIR__COMMAND__OP_PAIR;
		c->pair = &p->u.pair;
		break;
	case STEP_PAIR_MODE:
		poolpair__cmd_pair_mode__init(&p->u.pair_mode);
		p->u.pair_mode.pool = request_str(st->name);
		p->u.pair_mode.mode = (Poolpair__ReplMode)st->mode;
		p->u.pair_mode.sync_timeout_ms = st->sync_timeout_ms;
		c->op_case = POOLPAIR__COMMAND__OP_PAIR_MODE;
		c->pair_mode = &p->u.pair_mode;
		break;
	case STEP_ADD_SBA:
		poolpair__cmd_add_sba__init(&p->u.add_sba);
		request_pb_sba(&p->sba, st->sba);
		p->u.add_sba.sba = &p->sba;
		c->op_case = POOLPAIR__COMMAND__OP_ADD_SBA;
		c->add_sba = &p->u.add_sba;
		break;
	case STEP_CMS_PLACE:
		poolpair__cmd_cms_place__init(&p->u.cms_place);
		p->u.cms_place.pool = request_str(st->name);
		c->op_case = POOLPAIR__COMMAND__OP_CMS_PLACE;
		c->cms_place = &p->u.cms_place;
		break;
	case STEP_SET_POLICY:
		poolpair__cmd_set_policy__init(&p->u.set_policy);
		request_pb_policy(&p->policy, st->policy);
		p->u.set_policy.policy = &p->policy;
		c->op_case = POOLPAIR__COMMAND__OP_SET_POLICY;
		c->set_policy = &p->u.set_policy;
		break;
	}
}

/* One Command of op topology holding every step. */
static int pack_topology(const struct steps *s, const struct request_ctx *ctx,
			 struct request_cmd *out, struct request_error *err)
{
	Poolpair__CmdTopology op = POOLPAIR__CMD_TOPOLOGY__INIT;
	Poolpair__Command c, **ptrs;
	struct pb_step *pb;
	char who[FSM_WHO_LEN];
	unsigned i;
	int rc;

	pb = calloc(s->n, sizeof(*pb));
	ptrs = calloc(s->n, sizeof(*ptrs));
	if (pb == NULL || ptrs == NULL) {
		free(pb);
		free(ptrs);
		return request_fail_nomem(err);
	}
	request_cmd_init(&c, ctx, who);
	for (i = 0; i < s->n; i++) {
		pb_step(&pb[i], &s->v[i], ctx, who);
		ptrs[i] = &pb[i].cmd;
	}
	op.n_steps = s->n;
	op.steps = ptrs;
	c.op_case = POOLPAIR__COMMAND__OP_TOPOLOGY;
	c.topology = &op;
	rc = request_cmd_pack(&c, out, err);
	free(ptrs);
	free(pb);
	return rc;
}

int request_topology(const char *body, size_t len, const struct fsm *state,
		     const struct request_ctx *ctx, struct topology_plan *plan,
		     struct request_error *err)
{
	static const char *const keys[] = {"topology", "dry_run", NULL};
	struct steps s = {0};
	struct topo *t = NULL;
	json_t *root, *v;
	bool dry_run = false;
	unsigned i;
	int rc;

	memset(plan, 0, sizeof(*plan));
	if ((rc = request_parse_body(body, len, &root, err)) != 0)
		return rc;
	if ((rc = request_check_keys(root, "", keys, err)) != 0 ||
	    (rc = request_get_field(root, "", "topology", true, &v, err)) !=
		0 ||
	    (rc = request_get_bool(root, "", "dry_run", &dry_run, err)) != 0)
		goto err_after_root;
	if (!json_is_object(v)) {
		rc = request_bad_type(err, "", "topology", "an object");
		goto err_after_root;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		rc = request_fail_nomem(err);
		goto err_after_root;
	}
	if ((rc = parse_topo(v, state, t, err)) != 0)
		goto err_after_topo;
	for (i = 0; i < t->n_pools; i++) {
		const struct fsm_pool *now =
		    state_pool(state, t->pools[i].name);
		if (now != NULL &&
		    (rc = check_pool_unchanged(now, &t->pools[i], err)) != 0)
			goto err_after_topo;
	}
	if (plan_steps(state, t, &s) != 0) {
		rc = request_fail_nomem(err);
		goto err_after_steps;
	}
	if (s.n > FSM_MAX_TOPOLOGY_STEPS) {
		rc = request_fail(
		    err, -EINVAL, "invalid",
		    "the topology needs %u steps; one decision holds at "
		    "most %d",
		    s.n, FSM_MAX_TOPOLOGY_STEPS);
		goto err_after_steps;
	}
	if (s.n > 0 && (rc = pack_topology(&s, ctx, &plan->cmd, err)) != 0)
		goto err_after_steps;
	plan->items = s.items;
	plan->n = s.n;
	plan->dry_run = dry_run;
	free(s.v);
	free(t);
	json_decref(root);
	return 0;

err_after_steps:
	free(s.v);
	free(s.items);
err_after_topo:
	free(t);
err_after_root:
	json_decref(root);
	return rc;
}

void topology_plan_free(struct topology_plan *plan)
{
	if (plan == NULL)
		return;
	free(plan->items);
	free(plan->cmd.buf);
	memset(plan, 0, sizeof(*plan));
}
