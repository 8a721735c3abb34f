/* request_pause: POST /v1/pools/{pool}/pause and /resume → pool_pause
 * (see request.h). */
#include <string.h>

#include "agent/request.h"
#include "agent/request_internal.h"

/* Valid UTF-8 without control characters? */
static bool text_ok(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char ch = (unsigned char)s[i];
		size_t k, len;

		if (ch < 0x20 || ch == 0x7f)
			return false;
		if (ch < 0x80) {
			i++;
			continue;
		}
		len = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc2 ? 2 : 0;
		if (len == 0 || ch > 0xf4 || i + len > n)
			return false;
		for (k = 1; k < len; k++)
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

int request_pool_pause(const char *pool, bool paused, const char *body,
		       size_t len, const struct request_ctx *ctx,
		       struct request_cmd *out, struct request_error *err)
{
	static const char *const keys[] = {"reason", NULL};
	Poolpair__CmdPoolPause op = POOLPAIR__CMD_POOL_PAUSE__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN], reason[FSM_REASON_LEN] = "";
	json_t *root = NULL, *v = NULL;
	int rc;

	out->buf = NULL;
	out->len = 0;
	if (pool == NULL || !request_name_ok(pool, strnlen(pool, FSM_NAME_LEN)))
		return request_fail(
		    err, -EINVAL, "invalid",
		    "pool name must be 1-%d characters of [A-Za-z0-9._-], "
		    "not starting with '-'",
		    FSM_NAME_LEN - 1);
	if (len > 0) {
		if ((rc = request_parse_body(body, len, &root, err)) != 0)
			return rc;
		if ((rc = request_check_keys(root, "", keys, err)) != 0 ||
		    (rc = request_get_field(root, "", "reason", false, &v,
					    err)) != 0)
			goto out;
		if (v != NULL && !json_is_string(v)) {
			rc = request_bad_type(err, "", "reason", "a string");
			goto out;
		}
		if (v != NULL && json_string_length(v) >= sizeof reason) {
			rc = request_fail(err, -EINVAL, "invalid",
					  "field 'reason' must be at most %zu "
					  "bytes",
					  sizeof reason - 1);
			goto out;
		}
		if (v != NULL && !text_ok(json_string_value(v),
					  json_string_length(v))) {
			rc = request_fail(err, -EINVAL, "invalid",
					  "field 'reason' must be text without "
					  "control characters");
			goto out;
		}
		if (v != NULL)
			memcpy(reason, json_string_value(v),
			       json_string_length(v) + 1);
	}
	request_cmd_init(&c, ctx, who);
	op.pool = request_str(pool);
	op.paused = paused;
	op.reason = reason;
	c.op_case = POOLPAIR__COMMAND__OP_POOL_PAUSE;
	c.pool_pause = &op;
	rc = request_cmd_pack(&c, out, err);
out:
	json_decref(root);
	return rc;
}
