/* failover_peer: the leader's calls to the agent of the new owner before
 * the owner of a user set changes: the takeover position, and the verify
 * of both copies before a failback (see failover.h). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "agent/failover_internal.h"
#include "agent/hclient.h"
#include "agent/log.h"

#define MOD FO_MOD

static void step_set(struct failover_pool *fp, int next)
{
	failover_step_set(fp->owner, fp, next);
}

/* ---- the takeover position at the new owner, then the decision ---- */

/* The takeover answer {data_seq, content_seq, pool}: true with the
 * positions when it is well formed and comes from p's pair. */
static bool takeover_parse(struct failover *fo, struct failover_pool *fp,
			   const struct hclient_response *resp,
			   struct cmd_takeover *at)
{
	const struct fsm_pool *p = fsm_pool_find(fo->d.fsm, fp->pool);
	json_int_t data_seq = -1, content_seq = -1;
	const char *by = NULL;
	json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);

	if (root == NULL ||
	    json_unpack(root, "{s:I, s:I, s:s}", "data_seq", &data_seq,
			"content_seq", &content_seq, "pool", &by) != 0 ||
	    data_seq < 0 || content_seq < 0 || p == NULL ||
	    strcmp(by, p->pair) != 0) {
		LOG_WARN(MOD, "%s: bad takeover answer: %.*s", fp->pool,
			 (int)(resp->body_len > 200 ? 200 : resp->body_len),
			 resp->body);
		json_decref(root);
		return false;
	}
	LOG_INFO(MOD, "%s: %s took over at data %" PRId64 ", content %" PRId64,
		 fp->pool, by, (int64_t)data_seq, (int64_t)content_seq);
	json_decref(root);
	*at = (struct cmd_takeover){(uint64_t)data_seq, (uint64_t)content_seq};
	return true;
}

static void takeover_answer(void *arg, int err,
			    const struct hclient_response *resp)
{
	struct failover_pool *fp = arg;
	struct failover *fo = fp->owner;
	struct cmd_ctx ctx;
	struct cmd_risk risk;
	struct cmd_takeover at;
	struct cmd_buf cmd;
	int packed;

	fp->req = NULL;
	if (fo->closing)
		return;
	if (err != 0 || resp->status != 200) {
		LOG_WARN(MOD, "%s: takeover at the pair failed: %s", fp->pool,
			 err != 0 ? hclient_strerror(err) : resp->body);
		snprintf(fp->refusal, sizeof fp->refusal,
			 "the pair did not confirm the takeover: %s",
			 err != 0 ? hclient_strerror(err) : "refused");
		step_set(fp, FO_IDLE);
		return;
	}
	if (!takeover_parse(fo, fp, resp, &at)) {
		step_set(fp, FO_IDLE);
		return;
	}
	ctx = failover_cmd_now(fo, fp->who);
	risk = (struct cmd_risk){fp->risk_records, fp->risk_bytes, fp->risk_ms};
	if (fp->complete) {
		packed = cmd_failover_complete(&ctx, fp->pool, &risk, &at, &cmd);
	} else {
		struct cmd_failover f = {
		    .pool = fp->pool,
		    .planned = false,
		    .forced = fp->forced,
		    .automatic = fp->automatic,
		    .reason = fp->reason,
		    .risk = risk,
		    .takeover = at,
		};

		packed = cmd_failover_begin(&ctx, &f, &cmd);
	}
	step_set(fp, FO_PROPOSING);
	if (failover_propose(fo, fp->pool, packed, &cmd,
			     fp->complete ? "failover" : "disaster failover") !=
	    0)
		step_set(fp, FO_IDLE);
}

void failover_takeover(struct failover *fo, struct failover_pool *fp,
		       const struct fsm_pool *p)
{
	const char *api = fsm_pool_api(fo->d.fsm, p->pair);
	char host[HCLIENT_HOST_MAX];
	char url[FSM_ADDR_LEN + 16];
	char body[FSM_NAME_LEN + 32];
	uint16_t port;

	if (api == NULL) {
		snprintf(fp->refusal, sizeof fp->refusal,
			 "no agent of %s is registered", p->pair);
		step_set(fp, FO_IDLE);
		return;
	}
	snprintf(url, sizeof url, "http://%s/", api);
	if (hclient_parse_url(url, host, sizeof host, &port, NULL, 0) != 0) {
		step_set(fp, FO_IDLE);
		return;
	}
	snprintf(body, sizeof body, "{\"user_set\":\"%s\"}", p->name);
	step_set(fp, FO_TAKEOVER);
	if (hclient_request(fo->d.calls, "POST", host, port,
			    "/v1/internal/takeover", NULL, body, strlen(body),
			    5000, takeover_answer, fp, &fp->req) != 0) {
		fp->req = NULL;
		step_set(fp, FO_IDLE);
	}
}

/* ---- failback: the owner repairs the returning pool's copy first ---- */

static void verify_answer(void *arg, int err,
			  const struct hclient_response *resp)
{
	struct failover_pool *fp = arg;
	struct failover *fo = fp->owner;
	json_t *root = NULL;
	json_int_t repaired = 0, differences = 0;
	int equal = 0;
	struct cmd_ctx ctx;
	struct cmd_buf cmd;
	int packed;

	fp->req = NULL;
	if (fo->closing)
		return;
	if (err == 0 && resp->status == 200)
		root = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (root == NULL ||
	    json_unpack(root, "{s:b, s:I, s:I}", "equal_after", &equal,
			"repaired", &repaired, "differences_total",
			&differences) != 0 ||
	    !equal) {
		LOG_WARN(MOD,
			 "%s: verify before the failback did not leave both "
			 "copies equal (%s); trying again",
			 fp->pool,
			 err != 0 ? hclient_strerror(err)
			 : root == NULL ? "no answer"
					: "copies still differ");
		json_decref(root);
		fp->retry_after_ms = clock_wall_ms(fo->d.clock) + 1000;
		step_set(fp, FO_IDLE);
		return;
	}
	json_decref(root);
	LOG_INFO(MOD,
		 "%s: copies verified before the failback: %" PRId64
		 " differences, %" PRId64 " repaired from the owner",
		 fp->pool, (int64_t)differences, (int64_t)repaired);
	ctx = failover_cmd_now(fo, "leader:drained");
	packed = cmd_failback_complete(&ctx, fp->pool, &cmd);
	step_set(fp, FO_PROPOSING);
	if (failover_propose(fo, fp->pool, packed, &cmd, "failback") != 0)
		step_set(fp, FO_IDLE);
}

/* Drained back: before the owner changes, the current owner (the pair)
 * digests both copies and repairs the returning pool's copy from its own.
 * Whatever the returning pool kept of its never-shipped tail (archived,
 * but still in its copy) or missed is put right here, so both copies are
 * equal when it owns its users again. */
void failover_failback_verify(struct failover *fo, struct failover_pool *fp,
			      const struct fsm_pool *p, uint64_t now_ms)
{
	const char *api = fsm_pool_api(fo->d.fsm, p->pair);
	char host[HCLIENT_HOST_MAX];
	char url[FSM_ADDR_LEN + 16];
	char path[FSM_NAME_LEN + 48];
	uint16_t port;

	snprintf(url, sizeof url, "http://%s/", api != NULL ? api : "");
	if (api == NULL ||
	    hclient_parse_url(url, host, sizeof host, &port, NULL, 0) != 0) {
		fp->retry_after_ms = now_ms + 1000;
		return;
	}
	snprintf(path, sizeof path,
		 "/v1/backup/%s/verify?repair=true&remove_users=true",
		 p->name);
	step_set(fp, FO_VERIFY);
	if (hclient_request(fo->d.calls, "POST", host, port, path, NULL, NULL,
			    0, FO_VERIFY_TIMEOUT_MS, verify_answer, fp,
			    &fp->req) != 0) {
		fp->req = NULL;
		fp->retry_after_ms = now_ms + 1000;
		step_set(fp, FO_IDLE);
	}
}
