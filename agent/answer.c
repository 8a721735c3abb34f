/* answer: JSON answers and the mapping of other layers' codes to HTTP
 * (see answer.h). */
#include "agent/answer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dataplane.h"
#include "replication/store.h"

/* ---- JSON ---- */

void answer_json_headers(struct http_request *req, int status, json_t *body,
			 const char *extra_headers)
{
	char *text;

	if (body == NULL) {
		http_respond_error(req, 500, "internal",
				   "out of memory rendering the answer");
		return;
	}
	text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(body);
	if (text == NULL) {
		http_respond_error(req, 500, "internal",
				   "out of memory rendering the answer");
		return;
	}
	http_respond_json(req, status, text, extra_headers);
	free(text);
}

void answer_json(struct http_request *req, int status, json_t *body)
{
	answer_json_headers(req, status, body, NULL);
}

/* ---- the state machine ---- */

int answer_fsm_status(int code)
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
	case FSM_E_STALE:
	case FSM_E_REFUSED:
		return 409;
	default:
		return 400;
	}
}

void answer_fsm_refusal(struct http_request *req, int code, const char *reason)
{
	http_respond_error(
	    req, answer_fsm_status(code), fsm_code_name(code),
	    reason != NULL && reason[0] != '\0' ? reason : fsm_code_name(code));
}

/* ---- the store ---- */

int answer_store_describe(int rv, const char *errmsg, const char **code,
			  char *msg, size_t len)
{
	int status;

	switch (rv) {
	case STORE_E_STALE_EPOCH:
		*code = "stale_epoch";
		status = 409;
		break;
	case STORE_E_NOT_FOUND:
		*code = "not_found";
		status = 404;
		break;
	case STORE_E_FULL:
		*code = "full";
		status = 507;
		break;
	case STORE_E_RESERVE:
		*code = "insufficient_storage";
		status = 507;
		break;
	case STORE_E_INVALID:
		*code = "invalid";
		status = 400;
		break;
	default:
		*code = "unavailable";
		status = 503;
		break;
	}
	snprintf(msg, len, "store: %s",
		 errmsg != NULL && errmsg[0] ? errmsg : store_strerror(rv));
	return status;
}

void answer_store_error(struct http_request *req, int rv, const char *errmsg)
{
	char msg[320];
	const char *code;
	int status = answer_store_describe(rv, errmsg, &code, msg, sizeof msg);

	http_respond_error(req, status, code, msg);
}

/* ---- writes the data plane refuses ---- */

int answer_write_status(int refusal)
{
	return refusal == DATAPLANE_E_NOT_OWNER ||
		       refusal == DATAPLANE_E_NOT_WRITER
		   ? 421
		   : 503;
}

const char *answer_write_code(int refusal)
{
	switch (refusal) {
	case DATAPLANE_E_NOT_OWNER:
		return "not_owner";
	case DATAPLANE_E_NOT_WRITER:
		return "not_writer";
	default:
		return "unavailable";
	}
}

void answer_not_writer(struct http_request *req, const char *pool,
		       const struct fsm_member *writer, const char *scheme)
{
	const char *name = writer != NULL ? writer->name : "";
	char msg[256], api[FSM_ADDR_LEN + 16] = "";

	if (writer != NULL && writer->api_address[0] != '\0')
		snprintf(api, sizeof api, "%s://%s", scheme,
			 writer->api_address);
	snprintf(msg, sizeof msg,
		 "standby of %s; the writer is %s: send it there", pool,
		 name[0] != '\0' ? name : "an unknown member");
	answer_json(req, 421,
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "error",
			      "not_writer", "message", msg, "pool", pool,
			      "writer", name, "api", api));
}

const char *answer_owner_api(const struct fsm *f, const char *pool)
{
	const char *api = fsm_pool_api(f, pool);

	return api != NULL ? api : "";
}

void answer_not_owner_message(const struct fsm_pool *p, char *msg, size_t len)
{
	snprintf(msg, len,
		 "the user set of %s is owned by %s (epoch %" PRIu64
		 "): write there",
		 p->name, p->owner, p->epoch);
}

void answer_not_owner(struct http_request *req, const struct fsm *f,
		      const struct fsm_pool *p)
{
	char msg[256];

	answer_not_owner_message(p, msg, sizeof msg);
	answer_json(req, 421,
		    json_pack("{s:s, s:s, s:s, s:s, s:I}", "error", "not_owner",
			      "message", msg, "owner", p->owner, "owner_api",
			      answer_owner_api(f, p->owner), "epoch",
			      (json_int_t)p->epoch));
}

/* ---- the request parser, the proposer ---- */

void answer_request_error(struct http_request *req,
			  const struct request_error *err)
{
	http_respond_error(req, err->status, err->code, err->message);
}

void answer_proposal_error(struct http_request *req, const struct proposer *p,
			   int rv)
{
	char msg[256];

	switch (rv) {
	case PROPOSER_E_UNKNOWN:
		http_respond_error(req, 503, "unavailable",
				   "leadership was lost while deciding: the "
				   "outcome is unknown, read the state again");
		break;
	case PROPOSER_E_CLOSING:
		http_respond_error(req, 503, "unavailable",
				   "the agent is shutting down");
		break;
	case PROPOSER_E_BUSY:
		http_respond_error(req, 409, "busy",
				   "a membership change is already in "
				   "progress: retry shortly");
		break;
	case PROPOSER_E_NOT_LEADER:
		http_respond_error(req, 503, "no_leader",
				   "this agent lost the leadership: retry");
		break;
	default:
		http_respond_error(req, 500, "internal",
				   proposer_strerror(p, rv, msg, sizeof msg));
		break;
	}
}
