/* caller: who an HTTP request speaks for, by its client certificate (see
 * caller.h). */
#include "agent/caller.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/log.h"

#define MOD "api"

int caller_speaks_for(const struct http_request *req, uint64_t id,
		      const char *pool, char *why, size_t len)
{
	if (!req->tls)
		return 0; /* plain: nothing to check (nothing is proved) */
	if (req->peer_agent == 0) {
		snprintf(why, len,
			 "certificate speaks for no agent, not %" PRIu64, id);
		return -1;
	}
	if (id == 0) {
		snprintf(why, len,
			 "certificate speaks for agent %" PRIu64
			 ", but no agent may send this now",
			 req->peer_agent);
		return -1;
	}
	if (req->peer_agent != id) {
		snprintf(why, len,
			 "certificate speaks for agent %" PRIu64
			 ", not %" PRIu64,
			 req->peer_agent, id);
		return -1;
	}
	if (pool != NULL && strcmp(req->peer_pool, pool) != 0) {
		snprintf(why, len,
			 "certificate speaks for agent %" PRIu64 " of %s%s, "
			 "not of %s%s",
			 id, req->peer_pool[0] != '\0' ? "pool " : "no pool",
			 req->peer_pool, pool[0] != '\0' ? "pool " : "no pool",
			 pool);
		return -1;
	}
	return 0;
}

bool caller_check(struct tls_quiet *quiet, struct http_request *req,
		  uint64_t id, const char *pool, const char *what)
{
	char why[256], reason[512], key[TLS_ERRMSG_LEN];
	char out[TLS_ERRMSG_LEN + 64];
	json_t *body;

	if (caller_speaks_for(req, id, pool, why, sizeof why) == 0)
		return true;
	snprintf(reason, sizeof reason, "%s%s%s", why,
		 what != NULL && what[0] != '\0' ? ": " : "",
		 what != NULL ? what : "");
	/* one kind per peer, route and certificate: a flood of made-up ids
	 * is one warning a minute, with the count of the others */
	snprintf(key, sizeof key, "%s %.96s CN %.64s agent %" PRIu64,
		 req->method, req->path, req->identity, req->peer_agent);
	if (tls_quiet_pass(quiet, req->peer, key, req->start_ns / 1000000,
			   out, sizeof out)) {
		/* out is key and what was left out since the last one */
		const char *more = strlen(out) > strlen(key)
				       ? out + strlen(key)
				       : "";

		LOG_WARN(MOD,
			 "forbidden: %s %.96s from %s (CN %.64s, agent "
			 "%" PRIu64 ") claims agent %" PRIu64 ": %s%s",
			 req->method, req->path, req->peer,
			 req->identity[0] != '\0' ? req->identity : "?",
			 req->peer_agent, id, reason, more);
	}
	body = json_pack("{s:s, s:s, s:s}", "error", "forbidden", "message",
			 reason, "reason", reason);
	answer_json(req, 403, body);
	return false;
}

void caller_who(const struct http_request *req, char *out, size_t len)
{
	const char *who = http_request_header(req, "X-Poolpair-Who");
	bool label = who != NULL && who[0] != '\0';

	if (req->tls)
		snprintf(out, len, "%s%s%s%s",
			 req->identity[0] != '\0' ? req->identity : "?",
			 label ? " (" : "", label ? who : "", label ? ")" : "");
	else if (label)
		snprintf(out, len, "%s", who);
	else
		snprintf(out, len, "api:%s", req->peer);
}
