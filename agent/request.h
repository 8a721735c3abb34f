/* request: JSON bodies of the control-plane API → encoded poolpair.Command.
 *
 * Every write of docs/api.md that becomes a Raft decision goes through here:
 * the body is parsed with jansson, validated strictly (no unknown fields, no
 * wrong types, no missing fields, no out-of-range values) and encoded as one
 * poolpair.Command (proto/control.proto) ready for raft_apply(). The module
 * is pure: no I/O, no clock, no globals. Time and caller arrive in a
 * struct request_ctx; the only state read is a borrowed `const struct fsm *`
 * (topology diff) or `const struct fsm_policy *` (policy merge).
 *
 * Return values (all functions): 0 on success; otherwise a negative errno
 * and, where the function takes one, `err` filled:
 *   -EINVAL    status 400, code bad_json | unknown_field | bad_type |
 *              missing_field | invalid
 *   -EMSGSIZE  status 413, code too_large (body larger than
 *              REQUEST_MAX_BODY bytes)
 *   -ENOMEM    status 500, code internal
 * Messages are lowercase without a full stop and name the offending field
 * ("field 'capacity' must be an integer", "unknown field 'foo'"); bytes taken
 * from the input are shown as printable ASCII only. On error every output is
 * left empty (NULL buffer, length 0) and nothing is allocated.
 *
 * Field rules: names (site, pool, SBA, os, pair members, CMS pool) are 1..63
 * characters of [A-Za-z0-9._-]; edition enterprise|standard; kind
 * physical|virtual; capacity integer 0..10000000; force boolean; member id
 * integer >= 1; address host:port with port 1..65535; policy failover
 * auto|manual|default (default: no choice, encoded as "": the FSM's
 * default, auto with a witness and manual without); durations (…_ms)
 * integers 0..3600000; a pair's mode async|sync, its sync_timeout_ms
 * 1..3600000.
 *
 * Thread safety: every function is reentrant (no shared state). */
#ifndef POOLPAIR_REQUEST_H
#define POOLPAIR_REQUEST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/fsm.h"

#define REQUEST_MAX_BODY 65536 /* bytes; larger bodies are too_large */
#define REQUEST_MAX_CAPACITY 10000000
#define REQUEST_MAX_DURATION_MS 3600000
#define REQUEST_MAX_DEPTH 32 /* JSON nesting accepted at all */

/* What went wrong, ready for {"error": code, "message": message}. */
struct request_error {
	int status;	   /* HTTP status: 400, 413 or 500 */
	char code[32];	   /* "bad_json", "unknown_field", "bad_type", ... */
	char message[256]; /* human text, NUL-terminated, valid UTF-8 */
};

/* One encoded poolpair.Command. `buf` is malloc()ed and owned by the caller
 * (release with free()); {NULL, 0} when there is nothing. */
struct request_cmd {
	void *buf;
	size_t len;
};

/* Facts the command carries besides the body. Borrowed for the call only.
 * `who` may be NULL (encoded as ""); it is cut to FSM_WHO_LEN - 1 bytes at
 * a UTF-8 character boundary. */
struct request_ctx {
	uint64_t time_ms; /* wall clock of the proposer, ms since the epoch */
	const char *who;  /* "operator@host", "api:127.0.0.1:5000", ... */
};

/* Common preconditions of the body parsers below: `body` points to `len`
 * readable bytes (may be NULL only when len is 0; it need not be
 * NUL-terminated); ctx, out and err are non-NULL. */

/* POST /v1/sites {"name"} → add_site. */
int request_site_add(const char *body, size_t len,
		     const struct request_ctx *ctx, struct request_cmd *out,
		     struct request_error *err);

/* POST /v1/pools {"name", "site", "edition", "kind", "os", "capacity"?}
 * → add_pool. capacity defaults to 0 (unspecified). */
int request_pool_add(const char *body, size_t len,
		     const struct request_ctx *ctx, struct request_cmd *out,
		     struct request_error *err);

/* POST /v1/pairs {"a", "b", "force"?, "mode"?, "sync_timeout_ms"?} →
 * pair. force defaults to false, mode (async|sync) to async,
 * sync_timeout_ms (1..REQUEST_MAX_DURATION_MS) to the FSM's default.
 * Pairing rules (same pool, editions, sites...) are the FSM's to judge. */
int request_pair(const char *body, size_t len, const struct request_ctx *ctx,
		 struct request_cmd *out, struct request_error *err);

/* PUT /v1/pairs/{pool} {"mode", "sync_timeout_ms"?} → pair_mode of the
 * pair of `pool` (borrowed; a bad name is -EINVAL `invalid`). mode is
 * required (missing_field); without sync_timeout_ms the pair keeps its
 * timeout. */
int request_pair_mode(const char *pool, const char *body, size_t len,
		      const struct request_ctx *ctx, struct request_cmd *out,
		      struct request_error *err);

/* POST /v1/sbas {"name", "site", "backup_pool"} → add_sba. */
int request_sba_add(const char *body, size_t len, const struct request_ctx *ctx,
		    struct request_cmd *out, struct request_error *err);

/* Policy change {"failover"?, "max_lag_on_failover_ms"?, "cooldown_ms"?}
 * → set_policy holding `current` (borrowed, non-NULL) with the given fields
 * replaced, flagged `merge` with the fields that were present: the FSM
 * replaces only those, when the decision applies, so concurrent changes of
 * different fields both take effect. An empty object changes nothing. */
int request_policy_set(const char *body, size_t len,
		       const struct fsm_policy *current,
		       const struct request_ctx *ctx, struct request_cmd *out,
		       struct request_error *err);

/* POST /v1/members {"id", "address", "role"?}: parsed, not encoded (adding
 * a Raft member is raft_add, not an FSM command). */
struct request_member {
	uint64_t id;		    /* >= 1 */
	char address[FSM_ADDR_LEN]; /* host:port, host a name, IPv4 or [IPv6] */
	char role[8];		    /* voter|standby|spare; "" when absent */
};
int request_member_add(const char *body, size_t len, struct request_member *m,
		       struct request_error *err);

/* Same as request_member_add, writing the id to *id and the address to
 * `address` (addrlen bytes, NUL-terminated; an address that does not fit is
 * `invalid`); the role is validated and dropped. */
int request_member_add_parse(const char *body, size_t len, uint64_t *id,
			     char *address, size_t addrlen,
			     struct request_error *err);

/* POST /v1/pools/{pool}/pause (paused true) or /resume (false) with an
 * optional body {"reason"?} (an empty body is {}): pool_pause. pool is
 * borrowed, NUL-terminated; a bad name is `invalid`; the reason is text of
 * at most FSM_REASON_LEN - 1 bytes without control characters. */
int request_pool_pause(const char *pool, bool paused, const char *body,
		       size_t len, const struct request_ctx *ctx,
		       struct request_cmd *out, struct request_error *err);

/* Commands that take only a name from the URL path. */
enum request_name_op {
	REQUEST_REMOVE_SITE, /* DELETE /v1/sites/{name}  → remove_site */
	REQUEST_REMOVE_POOL, /* DELETE /v1/pools/{name}  → remove_pool */
	REQUEST_UNPAIR,	     /* DELETE /v1/pairs/{pool}  → unpair */
	REQUEST_REMOVE_SBA,  /* DELETE /v1/sbas/{name}   → remove_sba */
	REQUEST_CMS_PLACE,   /* place the active CMS     → cms_place */
};

/* `name` (borrowed, NUL-terminated, non-NULL) must be a valid name, else
 * -EINVAL with code `invalid`; an unknown `op` is -EINVAL too. */
int request_cmd_name(int op, const char *name, const struct request_ctx *ctx,
		     struct request_cmd *out, struct request_error *err);

/* register_member carrying a copy of *m (borrowed; its strings must be
 * NUL-terminated within their arrays, else -EINVAL). Returns 0, -EINVAL or
 * -ENOMEM. */
int request_cmd_register_member(const struct fsm_member *m,
				const struct request_ctx *ctx,
				struct request_cmd *out);

/* remove_member of `id`. Returns 0 or -ENOMEM. */
int request_cmd_remove_member(uint64_t id, const struct request_ctx *ctx,
			      struct request_cmd *out);

/* ---- declarative topology: POST /v1/topology ---- */

/* One line of the diff shown to the operator. */
struct topology_diff_item {
	char op[24];	/* "unpair", "remove_sba", "remove_pool", "remove_site",
			   "add_site", "add_pool", "pair", "pair_mode",
			   "add_sba", "cms_place", "set_policy" */
	char what[192]; /* "add pool pool-east (east, enterprise, physical,
			   windows-2019)"; cut when longer */
};

struct topology_plan {
	/* malloc()ed, n entries, in step order */
	struct topology_diff_item *items;
	unsigned n;
	bool dry_run;		/* the body's "dry_run" (default false) */
	struct request_cmd cmd; /* one Command, op topology, holding
				   every step in order; {NULL, 0}
				   when the diff is empty */
};

/* Parse {"topology": TOPO, "dry_run"?} (TOPO as in docs/api.md, every key
 * optional) and compute the steps that take `state` (borrowed, read only)
 * to TOPO. TOPO is the whole wanted topology: a missing "pools", "pairs" or
 * "sbas" key means none are wanted. Rules:
 *  - pools/SBAs/pairs in the state but not in TOPO are removed (a pair by
 *    unpairing one of its pools); those in TOPO but not in the state are
 *    added. A pair whose pools are paired differently now is unpaired first.
 *  - a pool in both with another site, edition, kind, os or capacity is
 *    `invalid` (remove it first); an SBA in both with another site or
 *    backup pool is removed and added again.
 *  - sites listed in "sites" and absent are added; a site is removed only
 *    when TOPO has a "sites" key without it, no pool or SBA of TOPO and no
 *    member of the cluster names it.
 *  - "cms" must name a pool of TOPO; cms_place is emitted when the active
 *    CMS would differ after the other steps. With no CMS placed yet the
 *    first pool added hosts it, so the "cms" pool is added first.
 *  - "policy" fields are merged over the current policy; set_policy is
 *    emitted when the result differs.
 *  - pairs/sbas/cms naming a pool not in TOPO "pools", a name listed twice,
 *    a pool in two pairs, a pair of a pool with itself, more objects than
 *    the FSM holds, or more than FSM_MAX_TOPOLOGY_STEPS steps: `invalid`.
 *  - a pair may name its "mode" (async|sync) and "sync_timeout_ms": a new
 *    pair is made with them; a pair already so paired gets a pair_mode
 *    step when they differ from its own (left out: unchanged).
 * Step order: unpair, remove_sba, remove_pool, remove_site, add_site,
 * add_pool, pair, pair_mode, add_sba, cms_place, set_policy.
 * On success *plan is filled and owned by the caller (topology_plan_free);
 * on error *plan is left empty ({0}) and err is filled. */
int request_topology(const char *body, size_t len, const struct fsm *state,
		     const struct request_ctx *ctx, struct topology_plan *plan,
		     struct request_error *err);

/* Release what request_topology put in *plan and empty it. Safe on an
 * empty plan; plan may be NULL. */
void topology_plan_free(struct topology_plan *plan);

#endif
