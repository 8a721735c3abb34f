/* verify: compare the two copies of a user set and repair the backup copy
 * from the owner's (`poolpairctl backup verify POOL`).
 *
 * Routes (JSON answers, errors as {"error", "message"}):
 *
 *   POST /v1/backup/{pool}/verify[?repair=true|false]
 *        At an agent of the pool that owns user set {pool}. Waits (at most
 *        VERIFY_DRAIN_MS) until the outbox of {pool} is empty, digests the
 *        local copy and the pair agent's copy (GET /v1/internal/digest),
 *        lists the keys of every bucket that differs on both sides
 *        (store_diff_keys, GET /v1/internal/keys), reports each key that
 *        differs and, unless repair=false, sends the owner's item to the
 *        pair (POST /v1/internal/repair), then digests both copies again.
 *        404 unknown pool, 409 not_paired, 421 not_owner (with "owner" and
 *        "owner_api"), 502 when the pair agent fails or answers nonsense,
 *        503 while the store or the cluster state is not ready.
 *
 *   GET  /v1/internal/digest?user_set=U
 *        {"user_set", "items", "buckets": [{"count", "hash"}] x 64}, hash
 *        as 16 lowercase hex digits.
 *
 *   GET  /v1/internal/keys?user_set=U&bucket=B[&offset=N]
 *        {"user_set", "bucket", "total", "offset", "keys": [{"kind", "key"
 *        or "key_b64", "hash"}], "next": N | null}: the items of bucket B
 *        ordered by kind and key, from index N, at most about
 *        VERIFY_PAGE_BYTES of JSON per answer ("next" is where to go on).
 *        "key_b64" replaces "key" for a key that is not UTF-8.
 *
 *   POST /v1/internal/repair
 *        Body: a packed poolpair.repl.ChangeRecord, base64 (standard
 *        alphabet, padded) or raw with Content-Type application/x-protobuf.
 *        Applied with store_repair() to the backup copy held here; refused
 *        with 409 not_backup when this agent's pool is not the pair of the
 *        user set's owner. 200 {"user_set", "kind", "key", "op"}; 400 when
 *        the body does not decode or the record is malformed (nothing
 *        changes), 409 stale_epoch.
 *
 * Loop thread only. */
#ifndef POOLPAIR_VERIFY_H
#define POOLPAIR_VERIFY_H

#include <stdbool.h>

#include "agent/http.h"
#include "agent/route.h"

struct agent;

/* Longest wait for the outbox of the user set to drain, before comparing
 * and before the second digest. */
#define VERIFY_DRAIN_MS 10000

/* Whole verify: past it the answer says "complete": false. */
#define VERIFY_DEADLINE_MS 120000

/* Differences listed in one answer (the total is still counted). */
#define VERIFY_DIFF_MAX 10000

/* About the largest JSON answer of GET /v1/internal/keys. */
#define VERIFY_PAGE_BYTES (512 * 1024)

/* Handlers of the route table (routes.c, route.h) for the routes above;
 * module is the struct agent (borrowed: it must outlive the request).
 * Each answers req exactly once, now or later. */
void verify_route_start(void *module, struct http_request *req,
			const struct route_params *p);
void verify_route_digest(void *module, struct http_request *req,
			 const struct route_params *p);
void verify_route_keys(void *module, struct http_request *req,
		       const struct route_params *p);
void verify_route_repair(void *module, struct http_request *req,
			 const struct route_params *p);

#endif
