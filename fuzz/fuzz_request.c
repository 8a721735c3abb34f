/* fuzz_request: the JSON body parsers of the control-plane API
 * (agent/request.h), each command they produce applied to the populated
 * FSM state of fuzz_cmd.h.
 *
 * Input: byte 0 picks the parser (and, for some, an option), the rest is
 * the body (for request_cmd_name: the name, up to its first NUL; for
 * request_pair_mode, byte 0 of 128 and more with the pair selector: the
 * pool's name up to the first NUL, then the body).
 * Properties checked:
 *   - the return is 0, -EINVAL, -EMSGSIZE or -ENOMEM, and on error the
 *     status matches (400, 413, 500), code and message are terminated, the
 *     message is valid UTF-8, and the output is empty;
 *   - an accepted body gives a command the FSM decodes and does not find
 *     invalid (the parser is at least as strict as the FSM), and a policy
 *     change, a pause and a resume always apply;
 *   - request_member_add and request_member_add_parse agree;
 *   - a topology plan holds a command exactly when its diff is not empty,
 *     and once its command applies, planning the same body again against
 *     the new state gives an empty diff. */
#include <errno.h>
#include <string.h>

#include "agent/request.h"
#include "fuzz/fuzz_cmd.h"
#include "fuzz/fuzz_util.h"

static struct fsm base;
static int base_ready;

static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != 0) {
		int n;

		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2) {
			n = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			n = 2;
		} else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4) {
			n = 3;
		} else {
			return 0;
		}
		p++;
		while (n-- > 0) {
			if ((*p & 0xc0) != 0x80) {
				return 0;
			}
			p++;
		}
	}
	return 1;
}

static void check_error(int rv, const struct request_error *err)
{
	FUZZ_CHECK(rv == -EINVAL || rv == -EMSGSIZE || rv == -ENOMEM,
		   "returned %d", rv);
	FUZZ_CHECK(err->status == (rv == -EINVAL ? 400
				   : rv == -EMSGSIZE ? 413
						     : 500),
		   "status %d for %d", err->status, rv);
	FUZZ_CHECK(fuzz_terminated(err->code, sizeof err->code) &&
		       err->code[0] != '\0',
		   "error code");
	FUZZ_CHECK(fuzz_terminated(err->message, sizeof err->message) &&
		       err->message[0] != '\0',
		   "error message");
	FUZZ_CHECK(utf8_ok(err->message), "message not UTF-8: %s",
		   err->message);
}

/* Apply cmd to a copy of s; returns the code. */
static int apply(const struct fsm *s, const struct request_cmd *cmd,
		 struct fsm *into, struct fsm_result *res)
{
	memcpy(into, s, sizeof *into);
	return fsm_apply(into, cmd->buf, cmd->len, res);
}

static void check_cmd(int rv, struct request_cmd *cmd,
		      const struct request_error *err, int must_apply)
{
	static struct fsm f;
	struct fsm_result res;
	int code;

	if (rv != 0) {
		check_error(rv, err);
		FUZZ_CHECK(cmd->buf == NULL && cmd->len == 0,
			   "output set on error");
		return;
	}
	FUZZ_CHECK(cmd->buf != NULL && cmd->len > 0, "empty command");
	code = apply(&base, cmd, &f, &res);
	FUZZ_CHECK(code != FSM_E_MALFORMED && code != FSM_E_INVALID,
		   "an accepted body gives a command the fsm refuses: %s: %s",
		   fsm_code_name(code), res.reason);
	FUZZ_CHECK(!must_apply || code == FSM_OK, "refused: %s: %s",
		   fsm_code_name(code), res.reason);
	free(cmd->buf);
}

static void members(const char *body, size_t len, size_t addrlen)
{
	struct request_member m;
	struct request_error e1, e2;
	char address[FSM_ADDR_LEN];
	uint64_t id = 0;
	int r1, r2;

	memset(&m, 0, sizeof m);
	r1 = request_member_add(body, len, &m, &e1);
	r2 = request_member_add_parse(body, len, &id, address, addrlen, &e2);
	if (r1 != 0) {
		check_error(r1, &e1);
		FUZZ_CHECK(r2 == r1, "member_add %d, member_add_parse %d", r1,
			   r2);
		return;
	}
	FUZZ_CHECK(m.id >= 1, "member id 0");
	FUZZ_CHECK(fuzz_terminated(m.address, sizeof m.address) &&
		       m.address[0] != '\0',
		   "member address");
	FUZZ_CHECK(m.role[0] == '\0' || strcmp(m.role, "voter") == 0 ||
		       strcmp(m.role, "standby") == 0 ||
		       strcmp(m.role, "spare") == 0,
		   "role '%.8s'", m.role);
	if (strlen(m.address) < addrlen) {
		FUZZ_CHECK(r2 == 0 && id == m.id &&
			       strcmp(address, m.address) == 0,
			   "member_add_parse disagrees (%d)", r2);
	} else {
		FUZZ_CHECK(r2 == -EINVAL, "an address that does not fit: %d",
			   r2);
		check_error(r2, &e2);
	}
}

static void topology(const char *body, size_t len,
		     const struct request_ctx *ctx)
{
	static struct fsm f;
	struct topology_plan plan, again;
	struct request_error err;
	struct fsm_result res;
	unsigned i;
	int rv, code;

	rv = request_topology(body, len, &base, ctx, &plan, &err);
	if (rv != 0) {
		check_error(rv, &err);
		FUZZ_CHECK(plan.items == NULL && plan.n == 0 &&
			       plan.cmd.buf == NULL && plan.cmd.len == 0,
			   "plan set on error");
		return;
	}
	FUZZ_CHECK(plan.n <= FSM_MAX_TOPOLOGY_STEPS, "%u steps", plan.n);
	FUZZ_CHECK((plan.n == 0) == (plan.cmd.buf == NULL),
		   "%u items, command %p", plan.n, plan.cmd.buf);
	for (i = 0; i < plan.n; i++) {
		FUZZ_CHECK(fuzz_terminated(plan.items[i].op,
					   sizeof plan.items[i].op) &&
			       fuzz_terminated(plan.items[i].what,
					       sizeof plan.items[i].what),
			   "diff item %u", i);
	}
	if (plan.n > 0) {
		code = apply(&base, &plan.cmd, &f, &res);
		FUZZ_CHECK(code != FSM_E_MALFORMED && code != FSM_E_NESTED,
			   "plan command refused: %s: %s", fsm_code_name(code),
			   res.reason);
		if (code == FSM_OK) {
			rv = request_topology(body, len, &f, ctx, &again, &err);
			FUZZ_CHECK(rv == 0, "planning again failed: %s",
				   err.message);
			FUZZ_CHECK(again.n == 0,
				   "after the plan applied, planning again "
				   "gives %u steps, the first %s: %s",
				   again.n, again.items[0].op,
				   again.items[0].what);
			topology_plan_free(&again);
		}
	}
	topology_plan_free(&plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request_ctx ctx = {FUZZ_TIME_MS, "operator@fuzz"};
	struct request_cmd cmd = {NULL, 0};
	struct request_error err;
	const char *body;
	char *copy;
	size_t len;
	int rv;

	if (!base_ready) {
		fsm_init(&base);
		fuzz_state_populate(&base);
		base_ready = 1;
	}
	if (size < 1) {
		return 0;
	}
	copy = fuzz_dup(data + 1, size - 1);
	body = copy;
	len = size - 1;
	memset(&err, 0, sizeof err);
	switch (data[0] % 10) {
	case 0:
		rv = request_site_add(body, len, &ctx, &cmd, &err);
		check_cmd(rv, &cmd, &err, 0);
		break;
	case 1:
		rv = request_pool_add(body, len, &ctx, &cmd, &err);
		check_cmd(rv, &cmd, &err, 0);
		break;
	case 2:
		if (data[0] >= 128) {
			/* pair_mode: the pool's name up to the first NUL,
			 * then the body */
			const char *nul = memchr(body, '\0', len);
			size_t nlen = nul != NULL ? (size_t)(nul - body) : len;
			char *name = malloc(nlen + 1);

			FUZZ_CHECK(name != NULL, "out of memory");
			memcpy(name, body, nlen);
			name[nlen] = '\0';
			rv = request_pair_mode(name, nul != NULL ? nul + 1 : "",
					       nul != NULL ? len - nlen - 1 : 0,
					       &ctx, &cmd, &err);
			check_cmd(rv, &cmd, &err, 0);
			free(name);
			break;
		}
		rv = request_pair(body, len, &ctx, &cmd, &err);
		check_cmd(rv, &cmd, &err, 0);
		break;
	case 3:
		rv = request_sba_add(body, len, &ctx, &cmd, &err);
		check_cmd(rv, &cmd, &err, 0);
		break;
	case 4:
		rv = request_policy_set(body, len, &base.policy, &ctx, &cmd,
					&err);
		check_cmd(rv, &cmd, &err, 1);
		break;
	case 5:
		members(body, len, data[0] >= 128 ? 16 : FSM_ADDR_LEN);
		break;
	case 6: {
		char *name = malloc(len + 1);

		FUZZ_CHECK(name != NULL, "out of memory");
		memcpy(name, body, len);
		name[len] = '\0';
		if (data[0] / 10 % 8 >= 6) {
			/* pause (6) or resume (7) pool-east, the input the body */
			rv = request_pool_pause("pool-east",
						data[0] / 10 % 8 == 6, body, len,
						&ctx, &cmd, &err);
			check_cmd(rv, &cmd, &err, 1);
			free(name);
			break;
		}
		rv = request_cmd_name(data[0] / 10 % 8, name, &ctx, &cmd, &err);
		if (rv != 0) {
			check_error(rv, &err);
			FUZZ_CHECK(cmd.buf == NULL && cmd.len == 0,
				   "output set on error");
		} else {
			check_cmd(rv, &cmd, &err, 0);
		}
		free(name);
		break;
	}
	default:
		topology(body, len, &ctx);
		break;
	}
	free(copy);
	return 0;
}
