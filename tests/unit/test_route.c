/* Tests of agent/route.c (the router) and agent/routes.c (the agent's
 * table): matching and its precedence, path parameters and their
 * decoding, 404, 405 with Allow, roles, the redirect to the leader,
 * streaming; and a walk of the real table (well formed, the conventions of
 * docs/api.md's role table, every route documented in docs/api.md). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/route.h"
#include "http_roundtrip.h"

/* ---- a table of its own ---- */

struct module {
	int calls;
	const struct route *route;
	int arg;
	char params[ROUTE_MAX_PARAMS][512];
	unsigned n;
	int streaming;
};

static void record(void *module, struct http_request *req,
		   const struct route_params *p)
{
	struct module *m = module;

	m->calls++;
	m->route = p->route;
	m->arg = p->arg;
	m->n = p->n;
	m->streaming = req->streaming;
	for (unsigned i = 0; i < p->n; i++)
		snprintf(m->params[i], sizeof m->params[i], "%.*s=%s",
			 (int)p->p[i].name_len, p->p[i].name, p->p[i].value);
	http_respond(req, 200, "text/plain", "ok", 2, NULL);
}

/* A handler that must never run (the tests for router_check). */
static void never(void *module, struct http_request *req,
		  const struct route_params *p)
{
	(void)module;
	(void)p;
	http_respond_error(req, 500, "internal", "never");
}

#define R ROUTE_READERS
#define W ROUTE_WRITERS
#define A ROUTE_AGENTS

static const struct route table[] = {
    {"GET", "/healthz", R, 0, ROUTE_MOD_API, record, 1},
    {"GET", "/v1/pools", R, 0, ROUTE_MOD_API, record, 2},
    {"POST", "/v1/pools", W, ROUTE_LEADER, ROUTE_MOD_API, record, 3},
    {"GET", "/v1/pools/{name}", R, 0, ROUTE_MOD_API, record, 4},
    {"DELETE", "/v1/pools/{name}", W, ROUTE_LEADER, ROUTE_MOD_API, record, 5},
    {"POST", "/v1/pools/{pool}/failover", W, ROUTE_LEADER, ROUTE_MOD_FAILOVER,
     record, 6},
    {"POST", "/v1/users/batch", W, 0, ROUTE_MOD_API, record, 7},
    {"DELETE", "/v1/users/{sip}", W, 0, ROUTE_MOD_API, record, 8},
    {"GET", "/v1/users/{sip}/location", R, 0, ROUTE_MOD_API, record, 9},
    {"GET", "/v1/users/{sip}/{kind}", R, 0, ROUTE_MOD_API, record, 10},
    {"PUT", "/v1/users/{sip}/{kind}", W, ROUTE_DATA, ROUTE_MOD_API, record, 11},
    {"GET", "/v1/users/{sip}/conferences/{id}/content/{name*}", R, 0,
     ROUTE_MOD_API, record, 12},
    {"PUT", "/v1/users/{sip}/conferences/{id}/content/{name*}", W, ROUTE_STREAM,
     ROUTE_MOD_API, record, 13},
    {"GET", "/v1/files/{rest*}", R, 0, ROUTE_MOD_API, record, 14},
    {"GET", "/v1/files/{one}/meta", R, 0, ROUTE_MOD_API, record, 15},
    {"POST", "/v1/internal/heartbeat", A, ROUTE_LEADER | ROUTE_INTERNAL,
     ROUTE_MOD_API, record, 16},
};
#define N (sizeof table / sizeof table[0])

/* Match and describe: "ARG name=value ..." or the error's name. */
static const char *match(const char *method, const char *path)
{
	static char out[1024];
	struct route_params p;
	char allow[64];
	int rv = route_match(table, N, method, path, &p, allow, sizeof allow);
	size_t off;

	switch (rv) {
	case 0:
		off = (size_t)snprintf(out, sizeof out, "%d", p.arg);
		assert_ptr_equal(p.route->handler, record);
		assert_int_equal(p.arg, p.route->arg);
		for (unsigned i = 0; i < p.n && off < sizeof out; i++)
			off += (size_t)snprintf(
			    out + off, sizeof out - off, " %.*s=%s",
			    (int)p.p[i].name_len, p.p[i].name, p.p[i].value);
		route_params_free(&p);
		assert_null(p.buf);
		return out;
	case ROUTE_E_NOT_FOUND:
		assert_null(p.buf);
		return "404";
	case ROUTE_E_METHOD:
		assert_null(p.buf);
		snprintf(out, sizeof out, "405 %s", allow);
		return out;
	case ROUTE_E_BAD_PARAM:
		assert_null(p.buf);
		assert_non_null(p.route);
		return "400";
	default:
		fail_msg("route_match: %d", rv);
		return NULL;
	}
}

static void matching(void **state)
{
	(void)state;
	assert_string_equal(match("GET", "/healthz"), "1");
	assert_string_equal(match("GET", "/v1/pools"), "2");
	assert_string_equal(match("POST", "/v1/pools"), "3");
	assert_string_equal(match("GET", "/v1/pools/pool-east"),
			    "4 name=pool-east");
	assert_string_equal(match("DELETE", "/v1/pools/pool-east"),
			    "5 name=pool-east");
	assert_string_equal(match("POST", "/v1/pools/pool-east/failover"),
			    "6 pool=pool-east");
	assert_string_equal(match("POST", "/v1/internal/heartbeat"), "16");
	/* nothing but whole segments, and no empty one */
	assert_string_equal(match("GET", "/"), "404");
	assert_string_equal(match("GET", ""), "404");
	assert_string_equal(match("GET", "/healthz/"), "404");
	assert_string_equal(match("GET", "/healthzz"), "404");
	assert_string_equal(match("GET", "/v1/pools/"), "404");
	assert_string_equal(match("GET", "/v1//pools"), "404");
	assert_string_equal(match("GET", "/v1/pools//x"), "404");
	assert_string_equal(match("POST", "/v1/pools/p/failover/x"), "404");
	assert_string_equal(match("POST", "/v1/pools/p/failback"), "404");
	assert_string_equal(match("GET", "/v2/pools"), "404");
	assert_string_equal(match("GET", "/V1/pools"), "404");
}

static void precedence(void **state)
{
	(void)state;
	/* a literal before a parameter */
	assert_string_equal(match("POST", "/v1/users/batch"), "7");
	assert_string_equal(match("GET", "/v1/users/sip:a@b/location"),
			    "9 sip=sip:a@b");
	assert_string_equal(match("GET", "/v1/users/sip:a@b/contacts"),
			    "10 sip=sip:a@b kind=contacts");
	/* the best pattern decides the methods: batch has only POST */
	assert_string_equal(match("DELETE", "/v1/users/batch"), "405 POST");
	assert_string_equal(match("DELETE", "/v1/users/sip:a@b"),
			    "8 sip=sip:a@b");
	/* a parameter before a rest */
	assert_string_equal(match("GET", "/v1/files/a/meta"), "15 one=a");
	assert_string_equal(match("GET", "/v1/files/a/meta/x"),
			    "14 rest=a/meta/x");
	assert_string_equal(match("GET", "/v1/files/a"), "14 rest=a");
	assert_string_equal(match("GET", "/v1/files/"), "404");
}

static void rest_holds_slashes(void **state)
{
	(void)state;
	assert_string_equal(
	    match("GET", "/v1/users/sip:a@b/conferences/c1/content/x"),
	    "12 sip=sip:a@b id=c1 name=x");
	assert_string_equal(
	    match("PUT", "/v1/users/sip:a@b/conferences/c1/content/d/e/f.pdf"),
	    "13 sip=sip:a@b id=c1 name=d/e/f.pdf");
	/* a rest is never empty */
	assert_string_equal(
	    match("GET", "/v1/users/sip:a@b/conferences/c1/content/"), "404");
	assert_string_equal(
	    match("GET", "/v1/users/sip:a@b/conferences/c1/content"), "404");
}

static void decoding(void **state)
{
	(void)state;
	/* parameters are decoded once */
	assert_string_equal(match("GET", "/v1/users/sip%3Aa%40b/location"),
			    "9 sip=sip:a@b");
	assert_string_equal(match("GET", "/v1/pools/a%2525b"), "4 name=a%25b");
	/* "%2F" in a parameter is data, not a separator */
	assert_string_equal(match("GET", "/v1/pools/a%2Fb"), "4 name=a/b");
	assert_string_equal(match("GET", "/v1/users/sip%3Aa%2Fb/location"),
			    "9 sip=sip:a/b");
	/* ... and a '/' in a rest either way */
	assert_string_equal(
	    match("GET", "/v1/users/s/conferences/c/content/a%2Fb/c"),
	    "12 sip=s id=c name=a/b/c");
	/* a literal segment matches its encoded form too */
	assert_string_equal(match("GET", "/v1/%70ools"), "2");
	assert_string_equal(match("GET", "/v1/pools/%20x"), "4 name= x");
	/* control characters are refused */
	assert_string_equal(match("GET", "/v1/pools/a%0Ab"), "400");
	assert_string_equal(match("GET", "/v1/pools/%7F"), "400");
	assert_string_equal(match("GET", "/v1/pools/%1f"), "400");
	assert_string_equal(
	    match("GET", "/v1/users/s/conferences/c/content/a%09b"), "400");
	/* escapes that do not decode */
	assert_string_equal(match("GET", "/v1/pools/a%2"), "400");
	assert_string_equal(match("GET", "/v1/pools/a%zz"), "400");
	assert_string_equal(match("GET", "/v1/pools/%00"), "400");
}

static void methods(void **state)
{
	(void)state;
	assert_string_equal(match("PUT", "/v1/pools"), "405 GET, POST");
	assert_string_equal(match("HEAD", "/v1/pools"), "405 GET, POST");
	assert_string_equal(match("POST", "/v1/pools/p"), "405 GET, DELETE");
	assert_string_equal(match("GET", "/v1/pools/p/failover"), "405 POST");
	assert_string_equal(match("DELETE", "/v1/users/s/x"), "405 GET, PUT");
	assert_string_equal(match("get", "/healthz"), "405 GET");
}

static void roles(void **state)
{
	const struct route *get = &table[1], *post = &table[2],
			   *internal = &table[N - 1];

	(void)state;
	assert_true(route_allows(get, TLS_ROLE_READER));
	assert_true(route_allows(get, TLS_ROLE_OPERATOR));
	assert_true(route_allows(get, TLS_ROLE_AGENT));
	assert_false(route_allows(get, TLS_ROLE_NONE));
	assert_false(route_allows(post, TLS_ROLE_READER));
	assert_true(route_allows(post, TLS_ROLE_OPERATOR));
	assert_true(route_allows(post, TLS_ROLE_AGENT));
	assert_false(route_allows(internal, TLS_ROLE_READER));
	assert_false(route_allows(internal, TLS_ROLE_OPERATOR));
	assert_true(route_allows(internal, TLS_ROLE_AGENT));
}

static void check_table(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(router_check(table, N, err, sizeof err), 0);
	{
		static const struct route dup[] = {
		    {"GET", "/v1/a/{x}", R, 0, 0, never, 0},
		    {"GET", "/v1/a/{x}", R, 0, 0, never, 0},
		};
		assert_int_equal(router_check(dup, 2, err, sizeof err),
				 ROUTE_E_BAD_TABLE);
		assert_string_equal(err, "GET /v1/a/{x} is in the table twice");
	}
	{
		static const struct route shape[] = {
		    {"GET", "/v1/a/{x}/b", R, 0, 0, never, 0},
		    {"POST", "/v1/a/{y}/b", W, 0, 0, never, 0},
		};
		assert_int_equal(router_check(shape, 2, err, sizeof err),
				 ROUTE_E_BAD_TABLE);
		assert_string_equal(
		    err, "/v1/a/{x}/b and /v1/a/{y}/b match the same paths");
	}
	{
		static const char *const bad[] = {
		    "v1/a",    "/",	  "/v1//a",  "/v1/a/",
		    "/v1/{x",  "/v1/{}",  "/v1/{X}", "/v1/{x*}/b",
		    "/v1/a b", "/v1/{*}", "/v1/a%",  NULL,
		};
		for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
			struct route r = {"GET", bad[i], R, 0, 0, never, 0};

			assert_int_equal(router_check(&r, 1, err, sizeof err),
					 ROUTE_E_BAD_TABLE);
		}
	}
	{
		struct route r = {"GET", "/v1/a", R, 0, 0, NULL, 0};

		assert_int_equal(router_check(&r, 1, err, sizeof err),
				 ROUTE_E_BAD_TABLE);
		r.handler = never;
		r.roles = 0;
		assert_int_equal(router_check(&r, 1, err, sizeof err),
				 ROUTE_E_BAD_TABLE);
		r.roles = R;
		r.module = ROUTE_MOD__COUNT;
		assert_int_equal(router_check(&r, 1, err, sizeof err),
				 ROUTE_E_BAD_TABLE);
		r.module = 0;
		r.flags = 1u << 7;
		assert_int_equal(router_check(&r, 1, err, sizeof err),
				 ROUTE_E_BAD_TABLE);
		r.flags = 0;
		r.method = NULL;
		assert_int_equal(router_check(&r, 1, err, sizeof err),
				 ROUTE_E_BAD_TABLE);
		r.method = "GET";
		assert_int_equal(router_check(&r, 1, err, sizeof err), 0);
	}
}

/* ---- the router, through a server ---- */

struct leader {
	bool leading;
	uint64_t id;
	const char *api;
};

static bool fake_is_leader(void *impl)
{
	return ((struct leader *)impl)->leading;
}

static uint64_t fake_leader(void *impl, const char **api)
{
	struct leader *l = impl;

	if (api != NULL)
		*api = l->api;
	return l->id;
}

static const struct proposer_ops fake_ops = {
    .is_leader = fake_is_leader,
    .leader = fake_leader,
};

struct world {
	struct module agent, failover;
	struct leader leader;
	struct proposer proposer;
	struct router router;
	struct rt rt;
};

static void dispatch(struct http_request *req)
{
	struct world *w = req->data;

	router_dispatch(&w->router, req);
}

static int stream_match(void *data, const struct http_request *req)
{
	struct world *w = data;

	return router_streams(&w->router, req);
}

static void on_head(void *data, const struct http_request *req,
		    struct http_head_verdict *v)
{
	struct world *w = data;

	router_head(&w->router, req, v);
}

/* A server as the agent's: bodies up to ROUTE_DATA_MAX_BODY, each route's
 * limit and role checked before its body (agent.c). */
static struct world *world(bool roles)
{
	struct world *w = calloc(1, sizeof *w);
	struct http_server_config hc = {.stream_match = stream_match,
					.on_head = on_head,
					.max_body = ROUTE_DATA_MAX_BODY};
	struct router_config rc = {
	    .routes = table,
	    .n_routes = N,
	    .scheme = "https",
	    .roles = roles,
	};
	char err[256];

	assert_non_null(w);
	w->leader = (struct leader){.leading = true, .id = 1, .api = ""};
	w->proposer = (struct proposer){.ops = &fake_ops, .impl = &w->leader};
	rc.modules[ROUTE_MOD_API] = &w->agent;
	rc.modules[ROUTE_MOD_FAILOVER] = &w->failover;
	rc.proposer = &w->proposer;
	assert_int_equal(router_init(&w->router, &rc, err, sizeof err), 0);
	rt_start(&w->rt, dispatch, w, &hc);
	return w;
}

static void world_end(struct world *w)
{
	rt_stop(&w->rt);
	free(w);
}

static void dispatching(void **state)
{
	struct world *w = world(false);
	char hdr[256];

	(void)state;
	assert_int_equal(
	    rt_request(&w->rt, "GET", "/v1/pools/pool%2Deast", NULL, NULL),
	    200);
	assert_int_equal(w->agent.calls, 1);
	assert_int_equal(w->agent.arg, 4);
	assert_int_equal(w->agent.n, 1);
	assert_string_equal(w->agent.params[0], "name=pool-east");

	/* each route gets its module */
	assert_int_equal(
	    rt_request(&w->rt, "POST", "/v1/pools/p1/failover", NULL, NULL),
	    200);
	assert_int_equal(w->failover.calls, 1);
	assert_string_equal(w->failover.params[0], "pool=p1");
	assert_int_equal(w->agent.calls, 1);

	assert_int_equal(rt_request(&w->rt, "GET", "/nowhere", NULL, NULL),
			 404);
	assert_string_equal(
	    rt_body(&w->rt),
	    "{\"error\":\"not_found\",\"message\":\"no such path\"}");

	assert_int_equal(rt_request(&w->rt, "PUT", "/v1/pools?x=1", NULL, "{}"),
			 405);
	assert_string_equal(rt_header(&w->rt, "Allow", hdr, sizeof hdr),
			    "GET, POST");
	assert_string_equal(
	    rt_body(&w->rt),
	    "{\"error\":\"method_not_allowed\",\"message\":\"PUT "
	    "is not allowed here (allowed: GET, POST)\"}");

	/* a control character in the path never reaches the router (the
	 * server refuses it) */
	assert_int_equal(
	    rt_request(&w->rt, "GET", "/v1/pools/a%0Db", NULL, NULL), 400);
	assert_string_equal(rt_body(&w->rt),
			    "{\"error\":\"bad_request\",\"message\":"
			    "\"control character in path\"}");
	assert_int_equal(w->agent.calls, 1);

	/* a content upload is streamed to its handler, a read is not */
	assert_int_equal(rt_request(&w->rt, "PUT",
				    "/v1/users/s/conferences/c/content/n", NULL,
				    "bytes"),
			 200);
	assert_int_equal(w->agent.streaming, 1);
	assert_string_equal(w->agent.params[2], "name=n");
	assert_int_equal(
	    rt_request(&w->rt, "PUT", "/v1/users/s/profile", NULL, "{}"), 200);
	assert_int_equal(w->agent.streaming, 0);
	assert_int_equal(w->agent.calls, 3);
	world_end(w);
}

static void leader_only(void **state)
{
	struct world *w = world(false);
	char hdr[256];

	(void)state;
	/* a follower that knows no leader */
	w->leader = (struct leader){.leading = false, .id = 0, .api = ""};
	assert_int_equal(rt_request(&w->rt, "POST", "/v1/pools", NULL, "{}"),
			 503);
	assert_string_equal(rt_body(&w->rt),
			    "{\"error\":\"no_leader\",\"message\":\"no leader "
			    "is known yet: retry shortly\"}");
	/* a leader without its API address yet */
	w->leader.id = 3;
	assert_int_equal(
	    rt_request(&w->rt, "DELETE", "/v1/pools/p", NULL, NULL), 503);
	assert_string_equal(rt_body(&w->rt),
			    "{\"error\":\"no_leader\",\"message\":\"leader 3 "
			    "has not registered its API address yet: retry "
			    "shortly\"}");
	/* 307 to the same path and query, as sent */
	w->leader.api = "10.0.0.3:7101";
	assert_int_equal(rt_request(&w->rt, "POST",
				    "/v1/pools/pool%2Deast/failover?what_if=1",
				    NULL, NULL),
			 307);
	assert_string_equal(rt_header(&w->rt, "Location", hdr, sizeof hdr),
			    "https://10.0.0.3:7101/v1/pools/pool%2Deast/"
			    "failover?what_if=1");
	assert_string_equal(
	    rt_body(&w->rt),
	    "{\"error\":\"not_leader\",\"message\":\"this agent "
	    "is a follower: repeat the request at the "
	    "leader\",\"leader\":\"10.0.0.3:7101\"}");
	assert_int_equal(w->router.redirects, 1);
	/* a control character never reaches a Location header: encoded
	 * (%0D%0A) or as sent (a form feed, which the parser lets through) */
	assert_int_equal(rt_request(&w->rt, "POST",
				    "/v1/pools/p%0D%0AX-Evil:%201/failover",
				    NULL, NULL),
			 400);
	assert_int_equal(rt_request(&w->rt, "POST",
				    "/v1/pools/p/failover?a=\x0c", NULL, NULL),
			 400);
	assert_string_equal(rt_header(&w->rt, "Location", hdr, sizeof hdr), "");
	assert_int_equal(w->router.redirects, 1);
	/* reads and routes without the flag are answered here */
	assert_int_equal(rt_request(&w->rt, "GET", "/v1/pools", NULL, NULL),
			 200);
	assert_int_equal(
	    rt_request(&w->rt, "DELETE", "/v1/users/sip:a@b", NULL, NULL), 200);
	assert_int_equal(w->agent.calls, 2);
	assert_int_equal(w->failover.calls, 0);
	/* the leader answers itself */
	w->leader.leading = true;
	assert_int_equal(rt_request(&w->rt, "POST", "/v1/pools", NULL, "{}"),
			 200);
	assert_int_equal(w->router.redirects, 1);
	world_end(w);
}

static void forbidden(void **state)
{
	struct world *w = world(true);

	(void)state;
	/* roles on: a plain client holds no role */
	assert_int_equal(rt_request(&w->rt, "GET", "/v1/pools", NULL, NULL),
			 403);
	assert_string_equal(rt_body(&w->rt),
			    "{\"error\":\"forbidden\",\"message\":\"role none "
			    "not allowed here\"}");
	assert_int_equal(w->router.forbidden, 1);
	/* 404 and 405 come first; a control character in the path before
	 * all (the server's own 400) */
	assert_int_equal(rt_request(&w->rt, "GET", "/nowhere", NULL, NULL),
			 404);
	assert_int_equal(rt_request(&w->rt, "PUT", "/v1/pools", NULL, NULL),
			 405);
	assert_int_equal(rt_request(&w->rt, "GET", "/v1/pools/%01", NULL, NULL),
			 400);
	assert_int_equal(rt_request(&w->rt, "GET", "/v1/pools/x", NULL, NULL),
			 403);
	assert_int_equal(w->router.forbidden, 2);
	assert_int_equal(w->agent.calls, 0);
	world_end(w);
}

/* A body over 64 KiB: refused on a control-plane route, taken by a data
 * route and a streamed one. */
static void body_limits(void **state)
{
	struct world *w = world(false);
	size_t n = ROUTE_CONTROL_MAX_BODY + 1;
	char *big = malloc(n + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	assert_int_equal(rt_request(&w->rt, "POST", "/v1/pools", NULL, big),
			 413);
	assert_int_equal(w->agent.calls, 0);
	assert_int_equal(
	    rt_request(&w->rt, "PUT", "/v1/users/s/profile", NULL, big), 200);
	assert_int_equal(rt_request(&w->rt, "PUT",
				    "/v1/users/s/conferences/c/content/n", NULL,
				    big),
			 200);
	assert_int_equal(w->agent.calls, 2);
	/* the control-plane limit itself is taken */
	big[ROUTE_CONTROL_MAX_BODY] = '\0';
	assert_int_equal(rt_request(&w->rt, "POST", "/v1/pools", NULL, big),
			 200);
	free(big);
	world_end(w);
}

/* With roles on, a client that may not call a route is answered 403 as
 * soon as its headers are in: no 100 Continue, no body read, no
 * handler. */
static void forbidden_before_body(void **state)
{
	struct world *w = world(true);

	(void)state;
	assert_int_equal(rt_request(&w->rt, "POST", "/v1/pools",
				    "Expect: 100-continue\r\n", "{}"),
			 403);
	assert_null(strstr(w->rt.answer, "100 Continue"));
	assert_string_equal(rt_body(&w->rt),
			    "{\"error\":\"forbidden\",\"message\":\"role none "
			    "not allowed here\"}");
	assert_int_equal(w->router.forbidden, 1);
	assert_int_equal(rt_request(&w->rt, "PUT",
				    "/v1/users/s/conferences/c/content/n",
				    "Expect: 100-continue\r\n", "bytes"),
			 403);
	assert_null(strstr(w->rt.answer, "100 Continue"));
	assert_int_equal(w->router.forbidden, 2);
	assert_int_equal(w->agent.calls, 0);
	world_end(w);
}

/* ---- the agent's table ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Runs of white space become one space (the docs wrap lines). */
static void squeeze(char *s)
{
	char *o = s;
	bool space = false;

	for (; *s != '\0'; s++) {
		if (isspace((unsigned char)*s)) {
			space = true;
			continue;
		}
		if (space && o != s)
			*o++ = ' ';
		space = false;
		*o++ = *s;
	}
	*o = '\0';
}

/* "METHOD PATTERN" occurs in text, not followed by more of a path. */
static bool documented(const char *text, const char *what)
{
	size_t n = strlen(what);

	for (const char *s = strstr(text, what); s != NULL;
	     s = strstr(s + 1, what)) {
		char c = s[n];

		if (!(isalnum((unsigned char)c) || c == '/' || c == '{' ||
		      c == '_' || c == '-'))
			return true;
	}
	return false;
}

static void the_table(void **state)
{
	char err[256];
	char *docs;

	(void)state;
	assert_true(agent_routes_count > 50);
	assert_int_equal(
	    router_check(agent_routes, agent_routes_count, err, sizeof err), 0);
	docs = slurp("../../docs/api.md");
	squeeze(docs);
	for (size_t i = 0; i < agent_routes_count; i++) {
		const struct route *r = &agent_routes[i];
		bool internal = strncmp(r->pattern, "/v1/internal/", 13) == 0;
		char what[256];
		char *star;

		assert_non_null(r->handler);
		/* docs/api.md, "TLS and roles" */
		if (internal) {
			assert_int_equal(r->roles, ROUTE_AGENTS);
			assert_true((r->flags & ROUTE_INTERNAL) != 0);
		} else if (strcmp(r->method, "GET") == 0) {
			assert_int_equal(r->roles, ROUTE_READERS);
			assert_int_equal(r->flags & ROUTE_INTERNAL, 0);
		} else {
			assert_int_equal(r->roles, ROUTE_WRITERS);
			assert_int_equal(r->flags & ROUTE_INTERNAL, 0);
		}
		/* only writes go to the leader, and only the content upload
		 * streams */
		if (r->flags & ROUTE_LEADER)
			assert_string_not_equal(r->method, "GET");
		if (r->flags & ROUTE_STREAM)
			assert_string_equal(r->method, "PUT");
		/* documented, with "{name*}" written "{name}" */
		snprintf(what, sizeof what, "%s %s", r->method, r->pattern);
		while ((star = strstr(what, "*}")) != NULL)
			memmove(star, star + 1, strlen(star + 1) + 1);
		if (!documented(docs, what))
			fail_msg("%s is not in docs/api.md", what);
	}
	free(docs);
}

/* Every route of the agent's table is reached by its own pattern, with
 * its parameters. */
static void the_table_matches_itself(void **state)
{
	(void)state;
	for (size_t i = 0; i < agent_routes_count; i++) {
		const struct route *r = &agent_routes[i];
		struct route_params p;
		char path[256], *o = path;
		const char *s = r->pattern;

		/* a path: each parameter becomes "x" */
		while (*s != '\0') {
			if (*s == '{') {
				*o++ = 'x';
				s = strchr(s, '}') + 1;
			} else {
				*o++ = *s++;
			}
		}
		*o = '\0';
		assert_int_equal(route_match(agent_routes, agent_routes_count,
					     r->method, path, &p, NULL, 0),
				 0);
		if (p.route != r)
			fail_msg("%s %s reached %s %s", r->method, path,
				 p.route->method, p.route->pattern);
		for (unsigned k = 0; k < p.n; k++)
			assert_string_equal(p.p[k].value, "x");
		route_params_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(matching),
	    cmocka_unit_test(precedence),
	    cmocka_unit_test(rest_holds_slashes),
	    cmocka_unit_test(decoding),
	    cmocka_unit_test(methods),
	    cmocka_unit_test(roles),
	    cmocka_unit_test(check_table),
	    cmocka_unit_test(dispatching),
	    cmocka_unit_test(leader_only),
	    cmocka_unit_test(forbidden),
	    cmocka_unit_test(body_limits),
	    cmocka_unit_test(forbidden_before_body),
	    cmocka_unit_test(the_table),
	    cmocka_unit_test(the_table_matches_itself),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
