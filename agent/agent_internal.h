/* agent_internal: what agent.c, agent_bind.c and agent_bind_data.c
 * share. Not part of the agent's interface (agent.h): only those files
 * include it.
 *
 * agent_bind_<module>() builds the module's dependencies from the agent's
 * parts (the loop, the applied state, the proposer, the HTTP client, the
 * clock, the config values the module reads, and the ops tables that bind
 * what it reads of the other modules to them) and initialises it. Each
 * returns as the module's init (0 or negative; the message of a failure
 * is agent.c's to write into a->errmsg, except agent_bind_data() and
 * agent_bind_router(), which write it themselves). agent_init() calls
 * them in this order, after the node and the proposer exist; what a
 * module reads of a later one is only read once the agent runs:
 *   view, recover, metrics, api, policy, risk, rebuild, failover,
 *   cms_move, writer, members, data (data plane, users, content), verify,
 *   router.
 * Loop thread only. */
#ifndef POOLPAIR_AGENT_INTERNAL_H
#define POOLPAIR_AGENT_INTERNAL_H

#include <stddef.h>

#include "agent/agent.h"

int agent_bind_view(struct agent *a);
/* note: the recovery recover_load() read at this start ("" none). */
int agent_bind_recover(struct agent *a, const char *note);
int agent_bind_metrics(struct agent *a);
int agent_bind_api(struct agent *a);
int agent_bind_policy(struct agent *a);
void agent_bind_risk(struct agent *a);
void agent_bind_rebuild(struct agent *a);
int agent_bind_failover(struct agent *a);
int agent_bind_cms_move(struct agent *a);
void agent_bind_writer(struct agent *a);
int agent_bind_members(struct agent *a);
int agent_bind_data(struct agent *a);
int agent_bind_verify(struct agent *a);
int agent_bind_router(struct agent *a);

/* The data plane's deps.drained (dataplane.h): a drain of this agent's
 * writes completed; the leader hears it now (this agent leads: its
 * failover decisions run at once; else its report goes to the leader). */
void agent_data_drained(void *arg, const char *user_set);

/* The [tls] context every link of this agent uses (borrowed: valid until
 * the agent is closed), or NULL when there is no [tls] section. */
struct tls_ctx *agent_tls(struct agent *a);

/* "https" with [tls], else "http": the scheme of the URLs the agent gives
 * out (redirects to the leader). Static string. */
const char *agent_api_scheme(const struct agent *a);

/* Who asked, for a command: caller_who() (with TLS the certificate's CN,
 * labelled by X-Poolpair-Who; without, the header or "api:PEER"). */
void agent_who(const struct http_request *req, char *out, size_t len);

#endif
