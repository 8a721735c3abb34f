/* route: the router of the agent's HTTP API (see route.h). */
#include "agent/route.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/http_util.h"
#include "agent/log.h"

/* The router's log lines are the API's ("api: forbidden: ..."). */
#define MOD "api"

/* ---- patterns ---- */

enum seg_kind {
	SEG_LITERAL, /* matches itself; the most specific */
	SEG_PARAM,   /* {name}: one non-empty segment */
	SEG_REST,    /* {name*}: the non-empty rest, '/' included */
};

struct seg {
	int kind;      /* enum seg_kind */
	const char *s; /* literal text, or the parameter's name */
	size_t len;
};

static bool literal_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       c == '~';
}

static bool name_char(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

/* The next segment of pattern at *pos (which is at a '/', or at the end).
 * Returns 1 with *seg filled and *pos past it, 0 at the end, -1 when the
 * pattern is malformed. */
static int pattern_next(const char *pattern, size_t *pos, struct seg *seg)
{
	const char *s = pattern + *pos;
	size_t len;

	if (*s == '\0')
		return 0;
	if (*s != '/')
		return -1;
	s++;
	len = strcspn(s, "/");
	if (len == 0)
		return -1;
	*pos += 1 + len;
	if (s[0] == '{') {
		bool rest = len >= 4 && s[len - 2] == '*';
		size_t name_len = len - 2 - (rest ? 1 : 0);

		if (s[len - 1] != '}' || name_len == 0)
			return -1;
		for (size_t i = 0; i < name_len; i++)
			if (!name_char(s[1 + i]))
				return -1;
		if (rest && pattern[*pos] != '\0')
			return -1; /* a rest is the last segment */
		seg->kind = rest ? SEG_REST : SEG_PARAM;
		seg->s = s + 1;
		seg->len = name_len;
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		if (!literal_char(s[i]))
			return -1;
	seg->kind = SEG_LITERAL;
	seg->s = s;
	seg->len = len;
	return 1;
}

/* Number of segments of a well-formed pattern, -1 when malformed. */
static int pattern_parse(const char *pattern, struct seg *segs, int max)
{
	size_t pos = 0;
	int n = 0, rv, params = 0;
	struct seg seg;

	if (pattern == NULL || pattern[0] != '/')
		return -1;
	while ((rv = pattern_next(pattern, &pos, &seg)) == 1) {
		if (n == max)
			return -1;
		if (seg.kind != SEG_LITERAL && ++params > ROUTE_MAX_PARAMS)
			return -1;
		segs[n++] = seg;
	}
	return rv == 0 && n > 0 ? n : -1;
}

#define MAX_SEGS 16

/* ---- matching ---- */

static bool has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Decode raw[0..len) into out (cap bytes). 0, or -1 when an escape is
 * malformed or decodes to NUL. */
static int decode(const char *raw, size_t len, char *out, size_t cap)
{
	return http_util_pct_decode(raw, len, 0, out, cap) == 0 ? 0 : -1;
}

/* Does pattern (segs[0..n)) match path? rank[i] receives the kind of
 * segment i (lower: more specific). When p is non-NULL the parameters go
 * to p (values in p->buf, which has room for the whole path). Returns 1
 * (match), 0 (no match) or -1 (it matches, but a parameter does not
 * decode or holds a control character). */
static int match_one(const struct seg *segs, int n, const char *path, int *rank,
		     struct route_params *p)
{
	const char *s = path;
	char tmp[256];
	size_t off = 0;
	int bad = 0;

	for (int i = 0; i < n; i++) {
		size_t len;

		if (*s != '/')
			return 0;
		s++;
		len = segs[i].kind == SEG_REST ? strlen(s) : strcspn(s, "/");
		if (len == 0)
			return 0; /* an empty segment matches nothing */
		rank[i] = segs[i].kind;
		if (segs[i].kind == SEG_LITERAL) {
			if (len >= sizeof tmp ||
			    decode(s, len, tmp, sizeof tmp) ||
			    strlen(tmp) != segs[i].len ||
			    memcmp(tmp, segs[i].s, segs[i].len) != 0)
				return 0;
		} else if (p != NULL) {
			char *v = p->buf + off;

			if (decode(s, len, v, len + 1) != 0) {
				v[0] = '\0';
				bad = 1;
			} else if (has_control(v)) {
				bad = 1;
			}
			p->p[p->n].name = segs[i].s;
			p->p[p->n].name_len = segs[i].len;
			p->p[p->n].value = v;
			p->n++;
			off += strlen(v) + 1;
		}
		s += len;
	}
	if (*s != '\0')
		return 0;
	return bad ? -1 : 1;
}

/* a is more specific than b (ranks of na and nb segments). */
static bool more_specific(const int *a, int na, const int *b, int nb)
{
	int n = na < nb ? na : nb;

	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i];
	return na > nb;
}

void route_params_free(struct route_params *p)
{
	free(p->buf);
	p->buf = NULL;
	p->n = 0;
}

const char *route_param(const struct route_params *p, const char *name)
{
	size_t len = strlen(name);

	for (unsigned i = 0; i < p->n; i++)
		if (p->p[i].name_len == len &&
		    memcmp(p->p[i].name, name, len) == 0)
			return p->p[i].value;
	return NULL;
}

int route_match(const struct route *table, size_t n, const char *method,
		const char *path, struct route_params *p, char *allow,
		size_t allow_len)
{
	const char *best = NULL;
	int best_rank[MAX_SEGS], best_n = 0;
	const struct route *found = NULL;
	struct seg segs[MAX_SEGS];
	size_t off = 0;
	int rv;

	memset(p, 0, sizeof *p);
	if (allow != NULL && allow_len > 0)
		allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int rank[MAX_SEGS];
		int ns;

		if (best != NULL && strcmp(table[i].pattern, best) == 0)
			continue;
		ns = pattern_parse(table[i].pattern, segs, MAX_SEGS);
		if (ns < 0 || match_one(segs, ns, path, rank, NULL) == 0)
			continue;
		if (best == NULL ||
		    more_specific(rank, ns, best_rank, best_n)) {
			best = table[i].pattern;
			memcpy(best_rank, rank, sizeof(int) * (size_t)ns);
			best_n = ns;
		}
	}
	if (best == NULL)
		return ROUTE_E_NOT_FOUND;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i].pattern, best) != 0)
			continue;
		if (strcmp(table[i].method, method) == 0) {
			found = &table[i];
			break;
		}
		if (allow != NULL && off < allow_len) {
			int w = snprintf(allow + off, allow_len - off, "%s%s",
					 off > 0 ? ", " : "", table[i].method);

			off += w > 0 ? (size_t)w : 0;
		}
	}
	if (found == NULL)
		return ROUTE_E_METHOD;
	p->route = found;
	p->arg = found->arg;
	p->buf = malloc(strlen(path) + ROUTE_MAX_PARAMS + 1);
	if (p->buf == NULL)
		return ROUTE_E_NOMEM;
	rv = match_one(segs, pattern_parse(best, segs, MAX_SEGS), path,
		       best_rank, p);
	if (rv != 1) {
		route_params_free(p);
		return ROUTE_E_BAD_PARAM;
	}
	return 0;
}

/* ---- the table ---- */

/* Same shape: the same segments, parameters named alike or not. */
static bool same_shape(const struct seg *a, int na, const struct seg *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++) {
		if (a[i].kind != b[i].kind)
			return false;
		if (a[i].kind == SEG_LITERAL &&
		    (a[i].len != b[i].len || memcmp(a[i].s, b[i].s, a[i].len)))
			return false;
	}
	return true;
}

int router_check(const struct route *table, size_t n, char *errmsg,
		 size_t errlen)
{
	struct seg a[MAX_SEGS], b[MAX_SEGS];

	for (size_t i = 0; i < n; i++) {
		const struct route *r = &table[i];
		int na = pattern_parse(r->pattern, a, MAX_SEGS);

		if (r->method == NULL || r->method[0] == '\0' || na < 0 ||
		    r->handler == NULL || r->roles == 0 ||
		    (r->roles & ~(unsigned)TLS_ROLES_ANY) != 0 ||
		    r->module < 0 || r->module >= ROUTE_MOD__COUNT ||
		    (r->flags & ~(unsigned)(ROUTE_LEADER | ROUTE_STREAM |
					    ROUTE_INTERNAL | ROUTE_DATA)) !=
			0) {
			snprintf(errmsg, errlen,
				 "route %zu (%s %s): bad method, pattern, "
				 "handler, roles, module or flags",
				 i, r->method != NULL ? r->method : "?",
				 r->pattern != NULL ? r->pattern : "?");
			return ROUTE_E_BAD_TABLE;
		}
		for (size_t j = 0; j < i; j++) {
			const struct route *q = &table[j];
			int nb = pattern_parse(q->pattern, b, MAX_SEGS);

			if (strcmp(q->pattern, r->pattern) == 0) {
				if (strcmp(q->method, r->method) != 0)
					continue;
				snprintf(errmsg, errlen,
					 "%s %s is in the table twice",
					 r->method, r->pattern);
				return ROUTE_E_BAD_TABLE;
			}
			if (same_shape(a, na, b, nb)) {
				snprintf(errmsg, errlen,
					 "%s and %s match the same paths",
					 q->pattern, r->pattern);
				return ROUTE_E_BAD_TABLE;
			}
		}
	}
	return 0;
}

/* ---- the router ---- */

int router_init(struct router *r, const struct router_config *cfg, char *errmsg,
		size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->cfg = *cfg;
	return router_check(cfg->routes, cfg->n_routes, errmsg, errlen);
}

static void method_not_allowed(struct http_request *req, const char *allow)
{
	char headers[96];
	char msg[128];

	snprintf(headers, sizeof headers, "Allow: %s\r\n", allow);
	snprintf(msg, sizeof msg, "%s is not allowed here (allowed: %s)",
		 req->method, allow);
	answer_json_headers(req, 405,
			    json_pack("{s:s, s:s}", "error",
				      "method_not_allowed", "message", msg),
			    headers);
}

bool route_allows(const struct route *route, int role)
{
	return (role & (int)route->roles) != 0;
}

/* With roles on: false, counted and logged, when the client may not call
 * route; msg (len bytes) then says why. */
static bool allowed(struct router *r, const struct route *route,
		    const struct http_request *req, char *msg, size_t len)
{
	if (!r->cfg.roles || route_allows(route, req->role))
		return true;
	r->forbidden++;
	LOG_WARN(MOD, "forbidden: %s (role %s) %s %s from %s",
		 req->identity[0] != '\0' ? req->identity : "?",
		 tls_role_name(req->role), req->method, req->path, req->peer);
	snprintf(msg, len, "role %s not allowed here",
		 tls_role_name(req->role));
	return false;
}

/* With roles on: answers 403 and returns false when the client may not
 * call route. */
static bool authorized(struct router *r, const struct route *route,
		       struct http_request *req)
{
	char msg[96];

	if (allowed(r, route, req, msg, sizeof msg))
		return true;
	http_respond_error(req, 403, "forbidden", msg);
	return false;
}

/* A ROUTE_LEADER request reached a follower: send the client to the
 * leader. Returns true when the request was answered. */
static bool redirected(struct router *r, struct http_request *req)
{
	const struct proposer *pr = r->cfg.proposer;
	const char *api = "";
	char location[FSM_ADDR_LEN + 1024];
	char headers[sizeof location + 32];
	uint64_t leader;

	if (proposer_is_leader(pr))
		return false;
	if (http_util_has_control(req->raw_path, strlen(req->raw_path)) ||
	    http_util_has_control(req->query, strlen(req->query))) {
		/* the server refuses them first; never in a header */
		http_respond_error(req, 400, "bad_request",
				   "control character in the request target");
		return true;
	}
	leader = proposer_leader(pr, &api);
	if (leader == 0) {
		http_respond_error(req, 503, "no_leader",
				   "no leader is known yet: retry shortly");
		return true;
	}
	if (api[0] == '\0') {
		char msg[128];

		snprintf(msg, sizeof msg,
			 "leader %" PRIu64 " has not registered its API "
			 "address yet: retry shortly",
			 leader);
		http_respond_error(req, 503, "no_leader", msg);
		return true;
	}
	snprintf(location, sizeof location, "%s://%s%s%s%s", r->cfg.scheme, api,
		 req->raw_path, req->query[0] != '\0' ? "?" : "", req->query);
	snprintf(headers, sizeof headers, "Location: %s\r\n", location);
	r->redirects++;
	answer_json_headers(req, 307,
			    json_pack("{s:s, s:s, s:s}", "error", "not_leader",
				      "message",
				      "this agent is a follower: repeat the "
				      "request at the leader",
				      "leader", api),
			    headers);
	return true;
}

void router_dispatch(struct router *r, struct http_request *req)
{
	struct route_params p;
	char allow[64];
	int rv = route_match(r->cfg.routes, r->cfg.n_routes, req->method,
			     req->raw_path, &p, allow, sizeof allow);

	if (rv == ROUTE_E_NOT_FOUND) {
		http_respond_error(req, 404, "not_found", "no such path");
		return;
	}
	if (rv == ROUTE_E_METHOD) {
		method_not_allowed(req, allow);
		return;
	}
	if (!authorized(r, p.route, req)) {
		route_params_free(&p);
		return;
	}
	if (rv == ROUTE_E_NOMEM) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	if (rv != 0) {
		http_respond_error(req, 400, "invalid",
				   "a path parameter holds a control "
				   "character");
		return;
	}
	if ((p.route->flags & ROUTE_LEADER) != 0 && redirected(r, req)) {
		route_params_free(&p);
		return;
	}
	p.route->handler(r->cfg.modules[p.route->module], req, &p);
	route_params_free(&p);
}

void router_head(struct router *r, const struct http_request *req,
		 struct http_head_verdict *v)
{
	struct route_params p;
	int rv = route_match(r->cfg.routes, r->cfg.n_routes, req->method,
			     req->raw_path, &p, NULL, 0);

	v->max_body = ROUTE_CONTROL_MAX_BODY;
	if (rv != 0 && p.route == NULL)
		return; /* 404 or 405, answered after a small body */
	if (!allowed(r, p.route, req, v->message, sizeof v->message)) {
		v->status = 403;
		v->code = "forbidden";
	} else if ((p.route->flags & ROUTE_DATA) != 0) {
		v->max_body = ROUTE_DATA_MAX_BODY;
	}
	route_params_free(&p);
}

bool router_streams(const struct router *r, const struct http_request *req)
{
	struct route_params p;
	bool stream;

	if (route_match(r->cfg.routes, r->cfg.n_routes, req->method,
			req->raw_path, &p, NULL, 0) != 0)
		return false;
	stream = (p.route->flags & ROUTE_STREAM) != 0;
	route_params_free(&p);
	return stream;
}
