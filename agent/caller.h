/* caller: who an HTTP request speaks for, by its client certificate.
 *
 * With [tls] an agent's certificate names the one agent it speaks for
 * (tls_cert_agent(): URI SANs urn:poolpair:agent:ID and
 * urn:poolpair:pool:POOL; the router's role check already made sure the
 * client holds role agent on /v1/internal/). An agent-to-agent message
 * that claims to come from an agent (a registration, a heartbeat, a
 * report, a rejoin), or that only one agent may send (a takeover: the
 * leader; a repair: the writer of the owner pool; a pool-sync: the pool's
 * writer), is refused unless the certificate names that agent; a
 * certificate naming no agent speaks for none. Without TLS (a plain
 * connection) nothing is authenticated and every check passes.
 *
 * The same certificate decides what the audit trail records as who asked
 * (caller_who()).
 *
 * Loop thread only (caller_check() logs through a struct tls_quiet). */
#ifndef POOLPAIR_CALLER_H
#define POOLPAIR_CALLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/http.h"
#include "tls/tls.h"

/* Whether req may speak for agent id (and, when pool is non-NULL, for an
 * agent of pool: "" is a witness, which has none). 0 when it may: a plain
 * connection (req->tls 0), or a certificate naming agent id (of pool).
 * -1 otherwise, with why (len bytes) saying so: "certificate speaks for
 * agent 3, not 1", "certificate speaks for no agent, not 1", or
 * "certificate speaks for agent 1 of pool pool-east, not of pool
 * pool-west". id 0 is no agent (none may send it now: no leader is
 * known, the pool has no writer): with TLS it is always refused
 * ("certificate speaks for agent 3, but no agent may send this now").
 * Pure. */
int caller_speaks_for(const struct http_request *req, uint64_t id,
		      const char *pool, char *why, size_t len);

/* caller_speaks_for(), and on a refusal: answers req 403
 * {"error": "forbidden", "message": WHY, "reason": WHY} (what, when
 * non-NULL and non-empty, is added to WHY after ": ", e.g. "only the
 * leader asks a takeover") and logs a warning naming the route, the
 * peer, its certificate's CN, the agent claimed and the agent certified,
 * through quiet (once a minute per peer address and message: a retrying
 * peer does not flood the log). Returns true when req may go on, false
 * when it was answered. */
bool caller_check(struct tls_quiet *quiet, struct http_request *req,
		  uint64_t id, const char *pool, const char *what);

/* Who asked, for the audit trail (the who of a command, in the history):
 * - with TLS, the client certificate's CN, followed by the
 *   X-Poolpair-Who header in parentheses when one is sent ("ops
 *   (alice@host)"): the header may add a label, never replace the name;
 * - without TLS (nothing authenticated), the X-Poolpair-Who header as
 *   sent, or "api:PEER" when absent.
 * out (len bytes) receives it, cut to fit. Pure. */
void caller_who(const struct http_request *req, char *out, size_t len);

#endif
