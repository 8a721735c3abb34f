/* lsync_client: pool_sync asks to the leader (see lsync_client.h). */
#include "agent/lsync_client.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log.h"

#define MOD "lsync"

void lsync_client_init(struct lsync_client *c,
		       const struct lsync_client_deps *d)
{
	memset(c, 0, sizeof *c);
	c->d = *d;
}

int lsync_client_outcome(int err, const struct hclient_response *resp,
			 uint64_t *standby, char *msg, size_t len)
{
	json_t *root = NULL;
	json_int_t v = -1;
	const char *text = NULL;
	int outcome = DATAPLANE_ASK_UNKNOWN;

	*standby = 0;
	if (err != 0) {
		snprintf(msg, len, "%s", hclient_strerror(err));
		return outcome;
	}
	root = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (root != NULL)
		json_unpack(root, "{s?s}", "message", &text);
	if (resp->status == 200 && root != NULL &&
	    json_unpack(root, "{s:I}", "sync_standby", &v) == 0 && v >= 0) {
		*standby = (uint64_t)v;
		snprintf(msg, len, "committed");
		outcome = DATAPLANE_ASK_COMMITTED;
	} else if (resp->status == 200) {
		snprintf(msg, len, "an answer without sync_standby");
	} else if (resp->status == 409 || resp->status == 400 ||
		   resp->status == 403 || resp->status == 404) {
		/* refused before anything was proposed (404: a leader
		 * without the endpoint, or the pool unknown) */
		snprintf(msg, len, "HTTP %d: %s", resp->status,
			 text != NULL ? text : "refused");
		outcome = DATAPLANE_ASK_REFUSED;
	} else if (resp->status == 307) {
		snprintf(msg, len, "not the leader: redirected");
	} else {
		snprintf(msg, len, "HTTP %d%s%s", resp->status,
			 text != NULL ? ": " : "", text != NULL ? text : "");
	}
	json_decref(root);
	return outcome;
}

static void done(void *arg, int err, const struct hclient_response *resp)
{
	struct lsync_client *c = arg;
	dataplane_ask_cb cb = c->cb;
	uint64_t standby;
	char msg[256];
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	int outcome = lsync_client_outcome(err, resp, &standby, msg,
					   sizeof msg);

	c->req = NULL;
	c->cb = NULL;
	/* a follower names the leader: ask it next time */
	if (err == 0 && resp->status == 307 && resp->location != NULL &&
	    hclient_parse_url(resp->location, host, sizeof host, &port, NULL,
			      0) == 0) {
		snprintf(c->hint_host, sizeof c->hint_host, "%s", host);
		c->hint_port = port;
	} else if (outcome == DATAPLANE_ASK_UNKNOWN) {
		c->hint_host[0] = '\0';
	}
	cb(c->arg, outcome, standby, msg);
}

/* Where the leader's API is: the proposer's view, else a follower's
 * redirection. 0 or -1 (no leader known). */
static int leader_target(struct lsync_client *c, char *host, uint16_t *port)
{
	const char *api = "";
	uint64_t leader = proposer_leader(c->d.proposer, &api);
	char url[FSM_ADDR_LEN + 16];

	if (leader != 0 && api != NULL && api[0] != '\0') {
		snprintf(url, sizeof url, "http://%s/", api);
		return hclient_parse_url(url, host, HCLIENT_HOST_MAX, port,
					 NULL, 0) == 0
			   ? 0
			   : -1;
	}
	if (c->hint_host[0] != '\0') {
		snprintf(host, HCLIENT_HOST_MAX, "%s", c->hint_host);
		*port = c->hint_port;
		return 0;
	}
	return -1;
}

static int ask(void *impl, const char *pool, uint64_t writer_token,
	       uint64_t standby, const char *reason, dataplane_ask_cb cb,
	       void *arg)
{
	struct lsync_client *c = impl;
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	json_t *body;
	char *text;
	int rv;

	if (c->req != NULL)
		return UV_EBUSY;
	if (leader_target(c, host, &port) != 0)
		return UV_EAGAIN;
	body = json_pack("{s:s, s:I, s:I, s:s}", "pool", pool, "writer_token",
			 (json_int_t)writer_token, "standby",
			 (json_int_t)standby, "reason", reason);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		return UV_ENOMEM;
	c->cb = cb;
	c->arg = arg;
	rv = hclient_request(c->d.calls, "POST", host, port,
			     "/v1/internal/pool-sync", NULL, text, strlen(text),
			     LSYNC_CLIENT_TIMEOUT_MS, done, c, &c->req);
	free(text);
	if (rv != 0) {
		c->cb = NULL;
		return rv;
	}
	LOG_DEBUG(MOD,
		  "asking the leader at %s:%u: pool_sync %s standby=%" PRIu64
		 " (%s)",
		  host, (unsigned)port, pool, standby, reason);
	return 0;
}

static const struct dataplane_ask_ops ask_ops = {.ask = ask};

void lsync_client_ask(struct lsync_client *c, struct dataplane_ask *out)
{
	out->ops = &ask_ops;
	out->impl = c;
}
