/* content: the conference content routes of the API,
 * /v1/users/{sip}/conferences/{id}/content/{name} (name may hold '/').
 *
 * PUT streams the body into the store in STORE_CONTENT_CHUNK records
 * (OP_CONTENT_CHUNK), one chunk in memory at a time: the body is read on
 * only once the previous chunk is durable. Accepted only by the agent of
 * the pool that owns the user's user set (421 otherwise, as in users.h);
 * answered 201 once the last chunk is durable. GET streams the stored bytes
 * of a complete item back from any pool agent that holds a copy (own or
 * backup), one piece in memory at a time.
 *
 * Space. A PUT whose declared size is more than the space above the
 * store's reserve (replication/store.h, "Reserve"; the last figures
 * measured) is answered 507 insufficient_storage before its body is read;
 * each chunk is checked against the reserve again as it is written (a
 * write refused for the reserve is answered 507 insufficient_storage,
 * the item stays incomplete).
 *
 * Incomplete uploads. An upload that stops (the connection cut, the
 * client gone, a chunk refused) leaves an incomplete item, never served
 * (409). Every sweep (content_sweep.c: at the first tick once the store is
 * open, then every upload_timeout / 4, at least 1 s and at most 60 s), the
 * writer of a pool removes the incomplete items of the user sets its pool
 * owns whose last chunk is older than upload_timeout and that no upload of
 * this agent is writing: an OP_DELETE of the item, replicated to the pair
 * like any write (its copy drops the item too). Their pages become free
 * pages of the store, used again before the file grows. The same timer
 * refreshes the store's space figures (store_space_refresh) every 2 s.
 *
 * Loop thread only. */
#ifndef POOLPAIR_CONTENT_H
#define POOLPAIR_CONTENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "agent/clock.h"
#include "agent/dataplane.h"
#include "agent/http.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "consensus/fsm.h"

struct content_deps {
	uv_loop_t *loop;		 /* borrowed: the sweep's timer */
	const struct clock *clock;	 /* borrowed: the sweep's wall time */
	uint32_t upload_timeout_ms;	 /* [content] upload_timeout, > 0 */
	const struct fsm *fsm;		 /* borrowed, read only */
	const struct proposer *proposer; /* borrowed: whether a leader is
					    known (the state still loading) */
	struct dataplane *data;		 /* borrowed: store, write rules */
	const char *pool;		 /* copied: "" for a witness */
};

struct upload;
struct content;
typedef void (*content_close_cb)(struct content *c);

/* Uploads and downloads in flight hold no handle of their own (each ends
 * with its request and store operation); the sweep's timer is the only
 * handle (content_close). The module must outlive the API server and the
 * store: store callbacks may still come after content_close(). */
struct content {
	struct content_deps deps; /* deps.pool points to pool */
	char pool[FSM_NAME_LEN];
	struct upload *uploads; /* in flight, linked */
	uv_timer_t timer;
	bool timer_open;
	bool closing;
	content_close_cb close_cb;
	uint64_t next_sweep_ms;	 /* wall time of the next sweep, 0: at once */
	uint64_t next_space_ms;	 /* of the next store_space_refresh */
	unsigned sweeping;	 /* store operations of the sweep in flight */
	uint64_t removed;	 /* incomplete items removed (a counter) */
	uint64_t removed_bytes;	 /* their stored bytes */
};

/* Prepare (deps copied; its pointers must outlive c) and, for a pool
 * agent with a loop, start the sweep's timer. Returns 0 or a libuv
 * error. */
int content_init(struct content *c, const struct content_deps *deps);

/* Stop the sweep (no new store operation starts) and close its timer; cb
 * (may be NULL) fires once, from a loop callback. Returns 0, or -EALREADY
 * when there is nothing to close (cb never fires). */
int content_close(struct content *c, content_close_cb cb);

/* Whether an upload of this agent is writing key (a content key) into
 * user_set now (content.c; for the sweep). */
bool content_uploading(const struct content *c, const char *user_set,
		       const char *key);

/* w set (the rest zero) for a content record of pool p about key, op one
 * of POOLPAIR__REPL__OP__OP_*, stamped with the data plane's clock now
 * (content.c; an upload's chunk and the sweep's delete). */
void content_write_init(struct content *c, const struct fsm_pool *p, int op,
			const char *key, struct store_write *w);

/* One tick of the sweep's timer (content_sweep.c). */
void content_sweep_tick(struct content *c);

/* GET /v1/status's self.disk (content_sweep.c): the store's last space
 * figures {free_bytes (the filesystem of data_dir), size_bytes,
 * store_free_bytes (free pages in the store file), reserve_bytes,
 * room_bytes (free + store_free - reserve, at least 0), under_reserve,
 * uploads_removed, uploads_removed_bytes}, with "warning" (a sentence)
 * while under the reserve and "error" when the measure failed; NULL when
 * the store is not open (a new reference). */
json_t *content_disk_json(const struct content *c);

/* Handlers of the route table (routes.c, route.h); module is the struct
 * content. PUT is a ROUTE_STREAM route: its body comes streamed (a buffered
 * one, from a server that does not stream it, is stored the same way from
 * its buffered body). */
void content_route_put(void *module, struct http_request *req,
		       const struct route_params *p);
void content_route_get(void *module, struct http_request *req,
		       const struct route_params *p);

#endif
