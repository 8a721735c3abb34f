/* routes: THE table of the agent's HTTP API (route.h; docs/api.md says
 * what each answers). Every route of the agent is here and nowhere else:
 * its method, its pattern, who may call it with [tls] (reads: any role;
 * writes: operator or agent; /v1/internal/: agents only), whether a
 * follower redirects it to the leader, whether its body may be larger
 * than a control-plane body (DATA: user data up to 1 MiB; route.h) or is
 * streamed (STREAM), and the handler with the module instance it is
 * given. */
#include "agent/api.h"
#include "agent/cms_move.h"
#include "agent/content.h"
#include "agent/failover.h"
#include "agent/members.h"
#include "agent/rebuild.h"
#include "agent/recover.h"
#include "agent/rejoin.h"
#include "agent/request.h"
#include "agent/risk.h"
#include "agent/route.h"
#include "agent/users.h"
#include "agent/verify.h"
#include "agent/writer.h"

#define R ROUTE_READERS
#define W ROUTE_WRITERS
#define A ROUTE_AGENTS
#define LEADER ROUTE_LEADER
#define STREAM ROUTE_STREAM
#define INTERNAL ROUTE_INTERNAL
#define DATA ROUTE_DATA
#define API ROUTE_MOD_API
#define FAILOVER ROUTE_MOD_FAILOVER
#define CMS_MOVE ROUTE_MOD_CMS_MOVE
#define RECOVER ROUTE_MOD_RECOVER
#define REJOIN ROUTE_MOD_REJOIN
#define REBUILD ROUTE_MOD_REBUILD
#define RISK ROUTE_MOD_RISK
#define VERIFY ROUTE_MOD_VERIFY
#define MEMBERS ROUTE_MOD_MEMBERS
#define USERS ROUTE_MOD_USERS
#define CONTENT ROUTE_MOD_CONTENT
#define WRITER ROUTE_MOD_WRITER

const struct route agent_routes[] = {
    /* process */
    {"GET", "/healthz", R, 0, API, api_route_healthz, 0},
    {"GET", "/metrics", R, 0, API, api_route_metrics, 0},
    {"GET", "/readyz", R, 0, MEMBERS, members_route_readyz, 0},

    /* the applied state, and decisions on it */
    {"GET", "/v1/status", R, 0, API, api_route_status, 0},
    {"GET", "/v1/sites", R, 0, API, api_route_sites, 0},
    {"POST", "/v1/sites", W, LEADER, API, api_route_add, API_ADD_SITE},
    {"DELETE", "/v1/sites/{name}", W, LEADER, API, api_route_remove,
     REQUEST_REMOVE_SITE},
    {"GET", "/v1/pools", R, 0, API, api_route_pools, 0},
    {"POST", "/v1/pools", W, LEADER, API, api_route_add, API_ADD_POOL},
    {"GET", "/v1/pools/{name}", R, 0, API, api_route_pool, 0},
    {"DELETE", "/v1/pools/{name}", W, LEADER, API, api_route_remove,
     REQUEST_REMOVE_POOL},
    {"POST", "/v1/pools/{name}/pause", W, LEADER, API, api_route_pool_pause,
     1},
    {"POST", "/v1/pools/{name}/resume", W, LEADER, API, api_route_pool_pause,
     0},
    {"POST", "/v1/pools/{pool}/writer", W, LEADER, WRITER,
     writer_route_pool_writer, 0},
    {"GET", "/v1/pairs", R, 0, API, api_route_pairs, 0},
    {"POST", "/v1/pairs", W, LEADER, API, api_route_add, API_ADD_PAIR},
    {"PUT", "/v1/pairs/{pool}", W, LEADER, API, api_route_pair_mode, 0},
    {"DELETE", "/v1/pairs/{pool}", W, LEADER, API, api_route_remove,
     REQUEST_UNPAIR},
    {"GET", "/v1/sbas", R, 0, API, api_route_sbas, 0},
    {"POST", "/v1/sbas", W, LEADER, API, api_route_add, API_ADD_SBA},
    {"DELETE", "/v1/sbas/{name}", W, LEADER, API, api_route_remove,
     REQUEST_REMOVE_SBA},
    {"GET", "/v1/cms", R, 0, API, api_route_cms, 0},
    {"GET", "/v1/policy", R, 0, API, api_route_policy, 0},
    {"PUT", "/v1/policy", W, LEADER, API, api_route_policy_set, 0},
    {"GET", "/v1/members", R, 0, API, api_route_members, 0},
    {"POST", "/v1/members", W, LEADER, MEMBERS, members_route_add, 0},
    {"DELETE", "/v1/members/{id}", W, LEADER, MEMBERS, members_route_remove,
     0},
    {"GET", "/v1/history", R, 0, API, api_route_history, 0},
    {"POST", "/v1/topology", W, LEADER, API, api_route_topology, 0},

    /* failover, failback, the CMS, a lost majority */
    {"POST", "/v1/pools/{pool}/failover", W, LEADER, FAILOVER,
     failover_route_failover, 0},
    {"POST", "/v1/pools/{pool}/failback", W, LEADER, FAILOVER,
     failover_route_failback, 0},
    {"POST", "/v1/cms/failover", W, LEADER, CMS_MOVE, cms_move_route, 0},
    {"POST", "/v1/recover", W, 0, RECOVER, recover_route, 0},
    {"GET", "/v1/pools/{pool}/rebuild", R, 0, REBUILD, rebuild_route, 0},

    /* the data plane (pool agents) */
    {"POST", "/v1/users", W, 0, USERS, users_route_enable, 0},
    {"POST", "/v1/users/batch", W, DATA, USERS, users_route_batch, 0},
    {"DELETE", "/v1/users/{sip}", W, 0, USERS, users_route_disable, 0},
    {"GET", "/v1/users/{sip}/location", R, 0, USERS, users_route_locate, 0},
    {"GET", "/v1/users/{sip}/{kind}", R, 0, USERS, users_route_data, 0},
    {"PUT", "/v1/users/{sip}/{kind}", W, DATA, USERS, users_route_data, 0},
    {"GET", "/v1/users/{sip}/conferences/{id}", R, 0, USERS,
     users_route_conference, 0},
    {"PUT", "/v1/users/{sip}/conferences/{id}", W, DATA, USERS,
     users_route_conference, 0},
    {"GET", "/v1/users/{sip}/conferences/{id}/content/{name*}", R, 0, CONTENT,
     content_route_get, 0},
    {"PUT", "/v1/users/{sip}/conferences/{id}/content/{name*}", W, STREAM,
     CONTENT, content_route_put, 0},
    {"GET", "/v1/cms/documents/{name}", R, 0, USERS, cms_docs_route,
     0},
    {"PUT", "/v1/cms/documents/{name}", W, DATA, USERS, cms_docs_route,
     0},
    {"GET", "/v1/backup", R, 0, USERS, backup_sync_route_status, 0},
    {"POST", "/v1/backup/{pool}/sync", W, 0, USERS, backup_sync_route_sync, 0},
    {"POST", "/v1/backup/{pool}/verify", W, 0, VERIFY, verify_route_start,
     0},
    {"GET", "/v1/divergence", R, 0, USERS, divergence_route_list, 0},

    /* between agents */
    {"POST", "/v1/internal/register", A, LEADER | INTERNAL, MEMBERS,
     members_route_register, 0},
    {"POST", "/v1/internal/heartbeat", A, LEADER | INTERNAL, MEMBERS,
     members_route_heartbeat, 0},
    {"POST", "/v1/internal/rejoin", A, LEADER | INTERNAL, REJOIN,
     rejoin_route, 0},
    {"POST", "/v1/internal/pool-sync", A, LEADER | INTERNAL, WRITER,
     writer_route_pool_sync, 0},
    {"POST", "/v1/internal/report", A, INTERNAL, MEMBERS,
     members_route_heartbeat, 1},
    {"POST", "/v1/internal/takeover", A, INTERNAL, USERS, users_route_takeover,
     0},
    {"GET", "/v1/internal/lag", A, INTERNAL, RISK, risk_route_lag, 0},
    {"GET", "/v1/internal/digest", A, INTERNAL, VERIFY, verify_route_digest,
     0},
    {"GET", "/v1/internal/keys", A, INTERNAL, VERIFY, verify_route_keys, 0},
    {"POST", "/v1/internal/repair", A, INTERNAL | DATA, VERIFY,
     verify_route_repair, 0},
};

const size_t agent_routes_count = sizeof agent_routes / sizeof agent_routes[0];
