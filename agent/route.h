/* route: the router of the agent's HTTP API. A table of routes (the
 * agent's is in routes.c) says, for a method and a path pattern, who may
 * call it, whether only the leader answers it, and which handler of which
 * module instance answers it; the router matches each request against the
 * table and does everything that is not the handler's: 404, 405 with an
 * Allow header, the role check, the path parameters, the redirect to the
 * leader. Handlers receive the parsed parameters and never look at the
 * path.
 *
 * Patterns. A pattern is '/'-separated segments: a literal ("v1",
 * "pools"), a parameter "{name}" matching one non-empty segment, or, as
 * the last segment only, "{name*}" matching the non-empty rest of the
 * path, '/' included (content names). Segments are compared and
 * parameters given percent-decoded, once, from the path as the client sent
 * it (so "%2F" in a parameter is a '/' in its value, never a separator).
 * When several patterns match a path the most specific wins, segment by
 * segment from the left: a literal before a parameter before a rest. No
 * two patterns of a table may have the same shape (router_check()).
 *
 * Before the body. For a request with a body, router_head() (the server's
 * on_head) runs once its headers are complete, before any of the body is
 * read or a 100 Continue sent: a client whose role may not call the route
 * is answered 403 there (the body is never read), and the body is limited
 * to ROUTE_CONTROL_MAX_BODY (64 KiB), or ROUTE_DATA_MAX_BODY for a route
 * with ROUTE_DATA (user data, batches, CMS documents, repairs), beyond
 * which the server answers 413. A ROUTE_STREAM route's body is the
 * handler's to limit.
 *
 * Order of the answers, for a request:
 *   400 bad_request          (the server) a control character in the
 *                            path, decoded or as sent
 *   404 not_found            no pattern matches the path
 *   405 method_not_allowed   the best pattern has no route for the method;
 *                            Allow lists the methods it has (table order)
 *   403 forbidden            with roles on ([tls]), the client's
 *                            certificate role is not among the route's
 *                            (logged as "api: forbidden: ...")
 *   400 invalid              a parameter holds a control character
 *                            (the server refuses them first: a table
 *                            used without it)
 *   500 internal             out of memory
 *   307 / 503 no_leader      ROUTE_LEADER on a follower (docs/api.md,
 *                            "Followers"), or no leader known
 *   the handler, otherwise.
 *
 * Loop thread only. A router holds no handle: it needs no closing. */
#ifndef POOLPAIR_ROUTE_H
#define POOLPAIR_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/http.h"
#include "agent/proposer.h"

/* Errors of route_match() and router_check(), in this module's range
 * -5901..-5999 (README, "Error codes"). */
enum {
	ROUTE_E_NOT_FOUND = -5901, /* no pattern matches the path */
	ROUTE_E_METHOD = -5902,	   /* the path has no such method */
	ROUTE_E_BAD_PARAM = -5903, /* a control character, or an escape that
				      does not decode */
	ROUTE_E_BAD_TABLE = -5904, /* router_check(): see errmsg */
	ROUTE_E_NOMEM = -5905,	   /* out of memory */
};

#define ROUTE_MAX_PARAMS 4

/* Route flags. */
enum {
	ROUTE_LEADER = 1u << 0,	  /* a follower redirects to the leader (307) */
	ROUTE_STREAM = 1u << 1,	  /* the request body is streamed to the handler
				     (http.h, "Streaming") */
	ROUTE_INTERNAL = 1u << 2, /* between agents, under /v1/internal/ */
	ROUTE_DATA = 1u << 3,	  /* a body up to ROUTE_DATA_MAX_BODY */
};

/* Body limits (router_head()). A user-data value is at most 1 MiB
 * (users.h); the rest of a data body (a batch's items, a repair's record
 * envelope, base64 of a repair) fits in 4 KiB more. */
#define ROUTE_CONTROL_MAX_BODY ((size_t)64 * 1024)
#define ROUTE_DATA_MAX_BODY (((size_t)1 << 20) + 4096)

/* Who may call a route with roles on: masks of TLS_ROLE_* (tls/tls.h). */
#define ROUTE_READERS TLS_ROLES_ANY			   /* reads */
#define ROUTE_WRITERS (TLS_ROLE_OPERATOR | TLS_ROLE_AGENT) /* writes */
#define ROUTE_AGENTS TLS_ROLE_AGENT			   /* internal */

/* The module instances a table's handlers are given, by index; the router
 * holds one pointer per index (router_config.modules). */
enum route_module {
	ROUTE_MOD_FAILOVER, /* struct failover */
	ROUTE_MOD_CMS_MOVE, /* struct cms_move */
	ROUTE_MOD_RISK,	    /* struct risk */
	ROUTE_MOD_VERIFY,   /* struct verify */
	ROUTE_MOD_RECOVER,  /* struct recover */
	ROUTE_MOD_API,	    /* struct api */
	ROUTE_MOD_MEMBERS,  /* struct members */
	ROUTE_MOD_USERS,    /* struct users (users.h) */
	ROUTE_MOD_CONTENT,  /* struct content (content.h) */
	ROUTE_MOD_REJOIN,   /* struct rejoin (rejoin.h) */
	ROUTE_MOD_REBUILD,  /* struct rebuild (rebuild.h) */
	ROUTE_MOD_WRITER,   /* struct writer (writer.h) */
	ROUTE_MOD__COUNT
};

struct route;

/* The path parameters of a matched request. */
struct route_params {
	const struct route *route; /* the route matched */
	int arg;		   /* route->arg */
	unsigned n;
	struct {
		const char *name; /* the pattern's name, not NUL-terminated */
		size_t name_len;
		const char *value; /* decoded, NUL-terminated */
	} p[ROUTE_MAX_PARAMS];
	char *buf; /* owned: holds the values */
};

/* The value of parameter name (decoded, NUL-terminated, never empty),
 * or NULL when the pattern has none of that name. Borrowed from p: valid
 * while the handler runs; copy what is kept. */
const char *route_param(const struct route_params *p, const char *name);

/* A handler answers req (exactly once, now or later: http.h). module is
 * the instance the route names; p is valid for the call only. */
typedef void (*route_handler_fn)(void *module, struct http_request *req,
				 const struct route_params *p);

struct route {
	const char *method;  /* "GET", "POST", "PUT", "DELETE" */
	const char *pattern; /* "/v1/pools/{name}/failover" */
	unsigned roles;	     /* ROUTE_READERS, ROUTE_WRITERS, ROUTE_AGENTS */
	unsigned flags;	     /* ROUTE_LEADER | ROUTE_STREAM | ROUTE_INTERNAL */
	int module;	     /* enum route_module */
	route_handler_fn handler;
	int arg; /* handed to the handler as p->arg (e.g. which of two
		    actions one handler serves) */
};

/* THE table of the agent's API (routes.c), and its length. */
extern const struct route agent_routes[];
extern const size_t agent_routes_count;

/* Match method and path (as sent: percent-encoded, no query) against
 * table[0..n). 0: *p is filled (route, arg, parameters; p->buf owned:
 * route_params_free()). ROUTE_E_NOT_FOUND; ROUTE_E_BAD_PARAM or
 * ROUTE_E_NOMEM (p->route is set: the route that matched); or
 * ROUTE_E_METHOD: allow (when non-NULL, allow_len bytes) receives the
 * methods of the best pattern, ", "-separated. On error nothing is left
 * to free (p->buf is NULL).
 * Pure: no I/O. */
int route_match(const struct route *table, size_t n, const char *method,
		const char *path, struct route_params *p, char *allow,
		size_t allow_len);

/* Free what route_match() put in p. p may hold nothing. */
void route_params_free(struct route_params *p);

/* Whether a client of role (TLS_ROLE_*, TLS_ROLE_NONE on a plain
 * connection) may call route when roles are checked. */
bool route_allows(const struct route *route, int role);

/* Checks a table: every route has a method, a pattern that parses, a
 * handler, roles and a module in range; no two patterns have the same
 * shape unless they are the same string; no pattern has two routes of
 * one method. 0, or ROUTE_E_BAD_TABLE with errmsg (errlen bytes) saying
 * which. */
int router_check(const struct route *table, size_t n, char *errmsg,
		 size_t errlen);

struct router_config {
	const struct route *routes; /* borrowed: static */
	size_t n_routes;
	void *modules[ROUTE_MOD__COUNT]; /* borrowed: outlive the router */
	const struct proposer *proposer; /* borrowed: leader, redirects */
	const char *scheme; /* "http" or "https": of the redirects */
	bool roles;	    /* check the certificate roles ([tls]) */
};

struct router {
	struct router_config cfg;
	uint64_t redirects; /* answered 307 (read-only) */
	uint64_t forbidden; /* answered 403 (read-only) */
};

/* Set up r over cfg (copied). Returns 0 or ROUTE_E_BAD_TABLE (the table
 * fails router_check(); errmsg filled). */
int router_init(struct router *r, const struct router_config *cfg, char *errmsg,
		size_t errlen);

/* Answer req: by the table, or the router's own answers above. */
void router_dispatch(struct router *r, struct http_request *req);

/* What to do with req, whose headers are complete and whose body is not
 * read yet (for http_server_config.on_head): with roles on, 403 when the
 * client's role may not call the route it matches (counted and logged as
 * router_dispatch() does); else its body limit (above). */
void router_head(struct router *r, const struct http_request *req,
		 struct http_head_verdict *v);

/* Whether req (headers complete, no body yet) goes to a ROUTE_STREAM
 * route: for http_server_config.stream_match. */
bool router_streams(const struct router *r, const struct http_request *req);

#endif
