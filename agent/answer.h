/* answer: how the API answers. JSON bodies, and the one place where a
 * code of another layer becomes an HTTP status and an error code: the
 * state machine's refusals (consensus/fsm.h), the store's errors
 * (replication/store.h), the data plane's refusals of a write
 * (dataplane.h), the proposer's errors (proposer.h) and the request
 * parser's (request.h). consensus/ and replication/ know nothing of HTTP;
 * docs/api.md lists what each code is answered with.
 *
 * Every error answer is {"error": CODE, "message": TEXT} (see http.h's
 * http_respond_error()), some with more fields named below. Each function
 * that takes a request answers it: the request is gone when it returns.
 *
 * Loop thread only. */
#ifndef POOLPAIR_ANSWER_H
#define POOLPAIR_ANSWER_H

#include <jansson.h>
#include <stddef.h>

#include "agent/http.h"
#include "agent/proposer.h"
#include "agent/request.h"
#include "consensus/fsm.h"

/* ---- JSON ---- */

/* Answer with body (a new reference: taken, freed here) as compact JSON,
 * non-ASCII escaped; a NULL body or an encoding failure is answered 500
 * internal. extra_headers as for http_respond(). */
void answer_json(struct http_request *req, int status, json_t *body);
void answer_json_headers(struct http_request *req, int status, json_t *body,
			 const char *extra_headers);

/* ---- the state machine ---- */

/* HTTP status of a refusal of the state machine: 0 for FSM_OK; 400 for
 * malformed, invalid, nested (and any unknown code); 404 not found; 507
 * full; 409 for every other refusal (exists, in use, pairing rules,
 * failover states, CMS moving, a failed recorded event). */
int answer_fsm_status(int code);

/* Answers a refusal: answer_fsm_status(code), fsm_code_name(code), and
 * reason (the code's name when reason is NULL or ""). */
void answer_fsm_refusal(struct http_request *req, int code, const char *reason);

/* ---- the store ---- */

/* HTTP status and error code (*code, static) of a failed store operation
 * by its STORE_E_* rv: 409 stale_epoch, 404 not_found, 507 full, 507
 * insufficient_storage (STORE_E_RESERVE: the disk at its reserve), 400
 * invalid, anything else 503 unavailable. Writes the message into msg
 * (len bytes): "store: " and errmsg, or the code's message when errmsg is
 * NULL or "". Returns the status. */
int answer_store_describe(int rv, const char *errmsg, const char **code,
			  char *msg, size_t len);

/* Answers a failed store operation as answer_store_describe() says. */
void answer_store_error(struct http_request *req, int rv, const char *errmsg);

/* ---- writes the data plane refuses ---- */

/* HTTP status of a refusal of dataplane_may_write() or
 * dataplane_may_write_cms(): 421 for DATAPLANE_E_NOT_OWNER and
 * DATAPLANE_E_NOT_WRITER, 503 for anything else (not now: no lease, a
 * drain, the store not open, catching up, no writer yet). */
int answer_write_status(int refusal);

/* The error code of such a refusal: "not_owner", "not_writer" or
 * "unavailable". Static string. */
const char *answer_write_code(int refusal);

/* Answers 421 not_writer: this agent is a standby of pool, whose writer
 * (NULL: not known here) takes its writes and reads. The body also names
 * "pool", "writer" (its name, "" unknown) and "api", the writer's API as
 * a URL (scheme "http" or "https", "" unknown):
 * {"error": "not_writer", "message": "standby of P; the writer is W: ...",
 *  "pool": P, "writer": W, "api": "http://host:port"}. */
void answer_not_writer(struct http_request *req, const char *pool,
		       const struct fsm_member *writer, const char *scheme);

/* API address of the first agent of pool registered in f with one, ""
 * when none (borrowed from f: valid until the next apply). */
const char *answer_owner_api(const struct fsm *f, const char *pool);

/* "the user set of P is owned by O (epoch E): write there" into msg. */
void answer_not_owner_message(const struct fsm_pool *p, char *msg, size_t len);

/* Answers 421 not_owner: the user set of p is owned by another pool. The
 * body also names "owner", "owner_api" (answer_owner_api() in f) and
 * "epoch". */
void answer_not_owner(struct http_request *req, const struct fsm *f,
		      const struct fsm_pool *p);

/* ---- a durable write released without its acknowledgement ---- */

/* A write durable here that waited for a copy's acknowledgement and was
 * released DP_RELEASE_FAILED (dataplane.h: this agent stopped being its
 * pool's writer, or shut down, before the acknowledgement) is not a
 * success: 503 not_durable with this message (a batch item likewise). */
#define ANSWER_NOT_DURABLE_STATUS 503
#define ANSWER_NOT_DURABLE_CODE "not_durable"
#define ANSWER_NOT_DURABLE_MESSAGE                                             \
	"the writer changed (or shut down) before the synchronous copy "       \
	"acknowledged this write: it may be missing from the pool's data "     \
	"(this agent then keeps it in its divergence archive); read it "       \
	"back before writing it again"

/* ---- the request parser, the proposer ---- */

/* Answers err's status, code and message. */
void answer_request_error(struct http_request *req,
			  const struct request_error *err);

/* Answers a proposal (or barrier, or configuration change) that failed
 * with rv: 503 unavailable for PROPOSER_E_UNKNOWN (the outcome is unknown:
 * read the state again) and PROPOSER_E_CLOSING, 409 busy for
 * PROPOSER_E_BUSY, 503 no_leader for PROPOSER_E_NOT_LEADER, else 500
 * internal with proposer_strerror()'s message. */
void answer_proposal_error(struct http_request *req, const struct proposer *p,
			   int rv);

#endif
