/* verify: compare the two copies of a user set and repair the backup copy
 * from the owner's (`poolpairctl backup verify POOL`).
 *
 * Routes (JSON answers, errors as {"error", "message"}):
 *
 *   POST /v1/backup/{pool}/verify[?repair=true|false][&remove_users=...]
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
 *        verify.c runs it (the orchestrator), verify_repair.c the repairs.
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
 *        alphabet, padded: verify_b64.h) or raw with Content-Type
 *        application/x-protobuf. Applied with store_repair() to the backup
 *        copy held here; refused with 409 not_backup when this agent's
 *        pool is not the pair of the user set's owner. 200 {"user_set",
 *        "kind", "key", "op"}; 400 when the body does not decode or the
 *        record is malformed (nothing changes), 409 stale_epoch.
 *        These three, the pair's side, are verify_peer.c.
 *
 * Loop thread only. */
#ifndef POOLPAIR_VERIFY_H
#define POOLPAIR_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "agent/clock.h"
#include "agent/hclient.h"
#include "agent/http.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "consensus/fsm.h"
#include "replication/store.h"

/* Longest wait for the outbox of the user set to drain, before comparing
 * and before the second digest. */
#define VERIFY_DRAIN_MS 10000

/* Whole verify: past it the answer says "complete": false. */
#define VERIFY_DEADLINE_MS 120000

/* Differences listed in one answer (the total is still counted). */
#define VERIFY_DIFF_MAX 10000

/* About the largest JSON answer of GET /v1/internal/keys. */
#define VERIFY_PAGE_BYTES (512 * 1024)

/* What verify needs from the data plane (bound to it by the agent). */
struct verify_data_ops {
	/* Whether the store may be used now. When it may not, answers req
	 * (503: no store here, or the store is not open yet) and returns
	 * false. */
	bool (*ready)(void *impl, struct http_request *req);
	/* The same for a read of the copy (digest, keys): a standby holding
	 * a hot copy serves it too. NULL: ready. */
	bool (*ready_read)(void *impl, struct http_request *req);
	/* A hybrid logical clock reading, for the repairs that carry no
	 * stored one (deletes, purges, content chunks). */
	uint64_t (*hlc)(void *impl);
};

/* What a verify module is given; every pointer borrowed: it must outlive
 * the module (until its close callback). */
struct verify_deps {
	uv_loop_t *loop;		 /* the drain timers */
	const struct fsm *fsm;		 /* read only: pools, owners, pairs,
					    members' API addresses */
	const struct proposer *proposer; /* only: is a leader known */
	struct store *store;		 /* used only while data->ready */
	struct hclient *calls;		 /* the calls to the pair's agent */
	const struct clock *clock;	 /* monotonic: drain wait, deadline */
	const char *pool;		 /* this agent's pool, "" for a
					    witness (copied) */
	const struct verify_data_ops *data_ops; /* static */
	void *data;				/* handed to data_ops */
};

enum verify_module_state {
	VERIFY_UNINIT = 0, /* zeroed memory */
	VERIFY_OPEN,
	VERIFY_CLOSING, /* verify_close() called; runs still ending */
	VERIFY_CLOSED,	/* the close callback ran (or is running) */
};

struct verify_run;

/* The module. Fields are private. */
struct verify {
	struct verify_deps d; /* copied; d.pool points to pool */
	char pool[FSM_NAME_LEN];
	int state;		 /* enum verify_module_state */
	struct verify_run *runs; /* verifies answering, owned */
	unsigned n_runs;	 /* runs not yet freed (timers closing too) */
	void (*close_cb)(struct verify *v);
	struct tls_quiet quiet; /* repairs refused (caller.h) */
};

/* Set v up (caller memory, valid until the close callback). deps is
 * copied; what it points to is borrowed. Holds no handle until a verify
 * runs. Returns 0, or UV_EINVAL when a pointer of deps is missing. */
int verify_init(struct verify *v, const struct verify_deps *deps);

/* Close v: every verify still running ends with an answer — those
 * waiting on the pair (their call is cancelled: 502) or on a drain timer
 * (503) at once, those waiting on the store when it answers (503) — and
 * cb fires once, when the last one is freed: from a later loop callback,
 * or synchronously from here when no verify is running (v then holds no
 * handle). cb may be NULL; v may be freed from cb on. Answers already
 * given to the pair's requests (the internal routes) hold nothing of v.
 * On zeroed memory (no verify_init()) cb fires at once. A second call is
 * ignored. */
void verify_close(struct verify *v, void (*cb)(struct verify *v));

/* Handlers of the route table (routes.c, route.h) for the routes above;
 * module is the struct verify (ROUTE_MOD_VERIFY). Each answers req exactly
 * once, now or later. */
void verify_route_start(void *module, struct http_request *req,
			const struct route_params *p);
void verify_route_digest(void *module, struct http_request *req,
			 const struct route_params *p);
void verify_route_keys(void *module, struct http_request *req,
		       const struct route_params *p);
void verify_route_repair(void *module, struct http_request *req,
			 const struct route_params *p);

#endif
