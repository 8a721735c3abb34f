/* verify_internal: what the files of the verify module share (verify.c,
 * verify_repair.c, verify_peer.c, verify_util.c). Not for other modules.
 *
 * One verify (POST /v1/backup/{pool}/verify) is a struct verify_run
 * driven by an explicit state machine:
 *
 *   init -> drain -> digest_local -> digest_remote
 *        -> (keys_local -> keys_remote)* per differing bucket
 *        -> (repair_read <-> repair_send)* per difference
 *        -> redrain -> redigest_local -> redigest_remote -> done
 *
 * Exactly one store operation, HTTP request or timer is in flight at any
 * time; its callback makes the next move. vrun_to() is the one transition
 * function (it checks the move against the table and logs it);
 * vrun_finish() is the one completion point: the HTTP answer is sent
 * there, the run leaves the module's list, and its memory goes when its
 * timer has closed.
 *
 * Loop thread only. */
#ifndef POOLPAIR_VERIFY_INTERNAL_H
#define POOLPAIR_VERIFY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/hclient.h"
#include "agent/verify.h"

#define VERIFY_MOD "verify"
#define KIND_CONTENT POOLPAIR__REPL__KIND__KIND_CONTENT
#define KIND_USER POOLPAIR__REPL__KIND__KIND_USER
#define VERIFY_KEYS_MAX ((size_t)1 << 20) /* keys of one bucket, one side */

/* ---- verify_util.c: names, parsing, key lists ------------------------ */

/* "profile", ..., "user"; "unknown" otherwise. Static strings. */
/* "put", "delete", "content_chunk", "purge"; "unknown" otherwise. */
const char *verify_op_name(int op);
/* The message of a failed store operation: errmsg when set, else the
 * code's. */
const char *verify_emsg(const char *errmsg, int status);
/* A user set name as in the FSM: 1..63 of [A-Za-z0-9._-]. */
bool verify_name_ok(const char *s);
/* Unsigned decimal in [0, max] into *out; false on anything else. */
bool verify_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* Exactly 16 lowercase hex digits into *out; false otherwise. */
bool verify_parse_hash(const char *s, uint64_t *out);
/* Set "key" (when UTF-8) or "key_b64" of obj. Returns 0 or -1. */
int verify_json_set_key(json_t *obj, const char *key);
/* Order of items: by kind, then key (bytes). */
int verify_key_cmp(int ka, const char *a, int kb, const char *b);

struct vkey {
	int kind;
	char *key; /* owned */
	uint64_t hash;
};

/* The keys of one bucket, on one side, as compared. */
struct vkeys {
	struct vkey *v; /* owned */
	size_t n, cap;
};

/* Append a copy of key (klen bytes). 0 or -ENOMEM. */
int vkeys_add(struct vkeys *k, int kind, const char *key, size_t klen,
	      uint64_t hash);
/* Sort by verify_key_cmp(). */
void vkeys_sort(struct vkeys *k);
/* Free every key and the array; k is empty again. */
void vkeys_clear(struct vkeys *k);

/* ---- one verify -------------------------------------------------------- */

enum vrun_state {
	VS_INIT,
	VS_DRAIN,	    /* waiting for the outbox of the user set to empty */
	VS_DIGEST_LOCAL,    /* store_digest of the owner's copy */
	VS_DIGEST_REMOTE,   /* GET /v1/internal/digest at the pair */
	VS_KEYS_LOCAL,	    /* store_diff_keys of the current bucket */
	VS_KEYS_REMOTE,	    /* GET /v1/internal/keys at the pair (paged) */
	VS_REPAIR_READ,	    /* reading the owner's item (or its next chunk) */
	VS_REPAIR_SEND,	    /* POST /v1/internal/repair at the pair */
	VS_REDRAIN,	    /* as VS_DRAIN, before the second digest */
	VS_REDIGEST_LOCAL,  /* the second digest, here */
	VS_REDIGEST_REMOTE, /* the second digest, at the pair */
	VS_DONE,
	VS_N_STATES
};

enum vproblem {
	VP_MISSING_AT_BACKUP,
	VP_ONLY_AT_BACKUP,
	VP_DIFFERENT,
};

struct vdiff {
	int kind;
	char *key;   /* owned */
	int problem; /* enum vproblem */
	bool repaired;
	char *note; /* owned, NULL when none: why it was not repaired */
};

struct verify_run {
	struct verify *m;	  /* the module; borrowed */
	struct verify_run *next;  /* the module's list */
	struct verify_run *prev;
	struct http_request *req; /* borrowed until vrun_finish() */
	struct hclient_req *call; /* the pair request in flight, or NULL */
	uv_timer_t timer;	  /* the drain poll; closed at the finish */
	int state;		  /* enum vrun_state */
	bool repair;		  /* repairs wanted (?repair=false: no) */
	bool remove_users;	  /* users only at the backup are removed too
				     (?remove_users=true: a failback, where
				     they are the archived never-shipped tail) */
	char user_set[FSM_NAME_LEN];
	char owner[FSM_NAME_LEN];
	char backup[FSM_NAME_LEN];
	char backup_api[FSM_ADDR_LEN];
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	uint64_t epoch;	     /* owner epoch the repairs are sent under */
	uint64_t start_ms;   /* monotonic clock at the start */
	uint64_t drain_ms;   /* monotonic clock when the current drain began */
	uint64_t lag;	     /* outbox records of the user set, last seen */
	bool drained;	     /* the first drain reached 0 */
	uint64_t lag_before; /* lag when comparing began */
	bool incomplete;     /* stopped at the deadline */

	struct store_digest_bucket local[STORE_DIGEST_BUCKETS];
	struct store_digest_bucket remote[STORE_DIGEST_BUCKETS];
	uint64_t items_local, items_remote;
	unsigned differing[STORE_DIGEST_BUCKETS];
	unsigned n_differing;
	unsigned bi; /* index into differing of the bucket being listed */
	struct vkeys lk, rk;
	uint64_t roffset; /* next page of the remote keys */

	struct vdiff *diffs; /* owned, at most VERIFY_DIFF_MAX */
	size_t n_diffs, cap_diffs;
	uint64_t diffs_total;
	size_t di;	   /* difference being repaired */
	size_t n_repaired; /* differences repaired */
	bool attempted;	   /* a repair was sent */

	/* the item being repaired */
	int step;	   /* user records: 0 put, 1 the delete that disables */
	bool user_enabled; /* of the owner's user record */
	uint64_t coff;	   /* content: next offset to read */
	uint64_t ctotal, cstored;
	Poolpair__Repl__ChangeRecord rec; /* to send; key, user_set point
					     into the run, value to vbuf */
	uint8_t *vbuf;			  /* owned copy of the value */
	char vkey[STORE_KEY_MAX + 1];

	/* the second digest */
	struct store_digest_bucket after_local[STORE_DIGEST_BUCKETS];
	bool equal_after;
};

/* verify.c: the orchestrator. */

/* The one transition function: checks next against the table (aborts on
 * a move it does not allow: a bug) and logs "old -> new". */
void vrun_to(struct verify_run *r, int next);
/* The one completion point: answers (status 200: the report; otherwise
 * code and msg) and ends r. r is gone for the caller. */
void vrun_finish(struct verify_run *r, int status, const char *code,
		 const char *msg);
/* vrun_finish() with a formatted message. */
void vrun_fail(struct verify_run *r, int status, const char *code,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Whether the deadline passed (marks r incomplete, logs it once). */
bool vrun_past_deadline(struct verify_run *r);
/* Start a request to the pair (body may be NULL; verb names it in the
 * message of a failure: "cannot <verb> <pair> at <address>"). On failure
 * r is finished (502, or 503 while the module closes). */
void vrun_pair_call(struct verify_run *r, const char *verb,
		    const char *method, const char *path, const char *headers,
		    const char *body, size_t body_len, hclient_cb cb);
/* Take a pair answer in cb: clears r->call. */
void vrun_pair_answered(struct verify_run *r);
/* A pair answer that is not a 200 (or no answer): finish r with 502. */
void vrun_pair_error(struct verify_run *r, const char *what, int err,
		     const struct hclient_response *resp);
/* The drain before the second digest (VS_REDRAIN). */
void vrun_redrain(struct verify_run *r);

/* verify_repair.c: the repairs, after every differing bucket is compared
 * (or the deadline passed). Ends in vrun_redrain() or vrun_finish(). */
void vrun_start_repairs(struct verify_run *r);

#endif
