/* request: JSON request bodies → encoded poolpair.Command. See request.h. */
#include "agent/request.h"
#include "agent/request_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control.pb-c.h"

static const char *const editions[] = {"enterprise", "standard", NULL};
static const char *const kinds[] = {"physical", "virtual", NULL};
/* "default": no choice, the FSM's default (encoded as "") */
static const char *const failovers[] = {"auto", "manual", "default", NULL};
static const char *const repl_modes[] = {"async", "sync", NULL};
static const char *const roles[] = {"voter", "standby", "spare", NULL};

/* ---- objects shared by single requests and the topology ---- */

int request_parse_pool(const json_t *o, const char *where, struct fsm_pool *p,
		       struct request_error *err)
{
	static const char *const keys[] = {
	    "name", "site", "edition", "kind", "os", "capacity", NULL};
	json_int_t cap = 0;
	bool present;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = request_check_keys(o, where, keys, err)) != 0 ||
	    (rc = request_get_name(o, where, "name", true, p->name, err)) !=
		0 ||
	    (rc = request_get_name(o, where, "site", true, p->site, err)) !=
		0 ||
	    (rc = request_get_choice(o, where, "edition", true, editions,
				     p->edition, sizeof(p->edition), err)) !=
		0 ||
	    (rc = request_get_choice(o, where, "kind", true, kinds, p->kind,
				     sizeof(p->kind), err)) != 0 ||
	    (rc = request_get_name(o, where, "os", true, p->os, err)) != 0 ||
	    (rc = request_get_int(o, where, "capacity", false, 0,
				  REQUEST_MAX_CAPACITY, &cap, &present, err)) !=
		0)
		return rc;
	p->capacity = (uint32_t)cap;
	return 0;
}

int request_get_repl_mode(const json_t *obj, const char *where, bool *has_mode,
			  int *mode, uint32_t *timeout_ms,
			  struct request_error *err)
{
	char m[8];
	json_int_t t = 0;
	bool present;
	int rc;

	*has_mode = false;
	*mode = FSM_REPL_ASYNC;
	*timeout_ms = 0;
	if ((rc = request_get_choice(obj, where, "mode", false, repl_modes, m,
				     sizeof(m), err)) != 0 ||
	    (rc = request_get_int(obj, where, "sync_timeout_ms", false, 1,
				  REQUEST_MAX_DURATION_MS, &t, &present,
				  err)) != 0)
		return rc;
	if (m[0] != '\0') {
		*has_mode = true;
		*mode = strcmp(m, "sync") == 0 ? FSM_REPL_SYNC : FSM_REPL_ASYNC;
	}
	*timeout_ms = (uint32_t)t;
	return 0;
}

int request_parse_pair(const json_t *o, const char *where, struct pair_req *p,
		       struct request_error *err)
{
	static const char *const keys[] = {
	    "a", "b", "force", "mode", "sync_timeout_ms", NULL};
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = request_check_keys(o, where, keys, err)) != 0 ||
	    (rc = request_get_name(o, where, "a", true, p->a, err)) != 0 ||
	    (rc = request_get_name(o, where, "b", true, p->b, err)) != 0 ||
	    (rc = request_get_bool(o, where, "force", &p->force, err)) != 0 ||
	    (rc = request_get_repl_mode(o, where, &p->has_mode, &p->mode,
					&p->sync_timeout_ms, err)) != 0)
		return rc;
	return 0;
}

int request_parse_sba(const json_t *o, const char *where, struct fsm_sba *s,
		      struct request_error *err)
{
	static const char *const keys[] = {"name", "site", "backup_pool", NULL};
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = request_check_keys(o, where, keys, err)) != 0 ||
	    (rc = request_get_name(o, where, "name", true, s->name, err)) !=
		0 ||
	    (rc = request_get_name(o, where, "site", true, s->site, err)) !=
		0 ||
	    (rc = request_get_name(o, where, "backup_pool", true,
				   s->backup_pool, err)) != 0)
		return rc;
	return 0;
}

/* Fields present in o replace those of *p. */
int request_parse_policy(const json_t *o, const char *where,
			 struct fsm_policy *p, struct request_error *err)
{
	bool has[3];

	return request_parse_policy_fields(o, where, p, has, err);
}

int request_parse_policy_fields(const json_t *o, const char *where,
				struct fsm_policy *p, bool has[3],
				struct request_error *err)
{
	static const char *const keys[] = {"failover", "max_lag_on_failover_ms",
					   "cooldown_ms", NULL};
	char failover[sizeof(p->failover)];
	json_int_t lag = 0, cooldown = 0;
	bool has_lag, has_cooldown;
	int rc;

	if ((rc = request_check_keys(o, where, keys, err)) != 0 ||
	    (rc = request_get_choice(o, where, "failover", false, failovers,
				     failover, sizeof(failover), err)) != 0 ||
	    (rc = request_get_int(o, where, "max_lag_on_failover_ms", false, 0,
				  REQUEST_MAX_DURATION_MS, &lag, &has_lag,
				  err)) != 0 ||
	    (rc = request_get_int(o, where, "cooldown_ms", false, 0,
				  REQUEST_MAX_DURATION_MS, &cooldown,
				  &has_cooldown, err)) != 0)
		return rc;
	has[0] = failover[0] != '\0';
	has[1] = has_lag;
	has[2] = has_cooldown;
	if (strcmp(failover, "default") == 0)
		memset(p->failover, 0, sizeof(p->failover));
	else if (has[0])
		memcpy(p->failover, failover, sizeof(p->failover));
	if (has_lag)
		p->max_lag_on_failover_ms = (uint32_t)lag;
	if (has_cooldown)
		p->cooldown_ms = (uint32_t)cooldown;
	return 0;
}

/* ---- encoding ---- */

void request_cmd_init(Poolpair__Command *c, const struct request_ctx *ctx,
		      char *who)
{
	struct cmd_ctx cc = {.time_ms = ctx->time_ms, .who = ctx->who};

	cmd_init(c, &cc, who);
}

int request_cmd_pack(const Poolpair__Command *c, struct request_cmd *out,
		     struct request_error *err)
{
	struct cmd_buf b;

	if (cmd_pack(c, &b) != 0)
		return request_fail_nomem(err);
	out->buf = b.buf;
	out->len = b.len;
	return 0;
}

void request_pb_pool(Poolpair__Pool *pb, const struct fsm_pool *p)
{
	poolpair__pool__init(pb);
	pb->name = request_str(p->name);
	pb->site = request_str(p->site);
	pb->edition = request_str(p->edition);
	pb->kind = request_str(p->kind);
	pb->os = request_str(p->os);
	pb->capacity = p->capacity;
}

void request_pb_sba(Poolpair__Sba *pb, const struct fsm_sba *s)
{
	poolpair__sba__init(pb);
	pb->name = request_str(s->name);
	pb->site = request_str(s->site);
	pb->backup_pool = request_str(s->backup_pool);
}

void request_pb_policy(Poolpair__Policy *pb, const struct fsm_policy *p)
{
	poolpair__policy__init(pb);
	pb->failover = request_str(p->failover);
	pb->max_lag_on_failover_ms = p->max_lag_on_failover_ms;
	pb->cooldown_ms = p->cooldown_ms;
}

static void out_clear(struct request_cmd *out)
{
	out->buf = NULL;
	out->len = 0;
}

/* ---- single commands ---- */

int request_site_add(const char *body, size_t len,
		     const struct request_ctx *ctx, struct request_cmd *out,
		     struct request_error *err)
{
	static const char *const keys[] = {"name", NULL};
	Poolpair__CmdAddSite op = POOLPAIR__CMD_ADD_SITE__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN], name[FSM_NAME_LEN];
	json_t *root;
	int rc;

	out_clear(out);
	if ((rc = request_parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = request_check_keys(root, "", keys, err);
	if (rc == 0)
		rc = request_get_name(root, "", "name", true, name, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	op.name = name;
	request_cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
	c.add_site = &op;
	return request_cmd_pack(&c, out, err);
}

int request_pool_add(const char *body, size_t len,
		     const struct request_ctx *ctx, struct request_cmd *out,
		     struct request_error *err)
{
	Poolpair__CmdAddPool op = POOLPAIR__CMD_ADD_POOL__INIT;
	Poolpair__Pool pool;
	Poolpair__Command c;
	struct fsm_pool p;
	char who[FSM_WHO_LEN];
	json_t *root;
	int rc;

	out_clear(out);
	if ((rc = request_parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = request_parse_pool(root, "", &p, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	request_pb_pool(&pool, &p);
	op.pool = &pool;
	request_cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
	c.add_pool = &op;
	return request_cmd_pack(&c, out, err);
}

int request_pair(const char *body, size_t len, const struct request_ctx *ctx,
		 struct request_cmd *out, struct request_error *err)
{
	Poolpair__CmdPair op = POOLPAIR__CMD_PAIR__INIT;
	Poolpair__Command c;
	struct pair_req p;
	char who[FSM_WHO_LEN];
	json_t *root;
	int rc;

	out_clear(out);
	if ((rc = request_parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = request_parse_pair(root, "", &p, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	op.a = p.a;
	op.b = p.b;
	op.force = p.force;
	op.mode = (Poolpair__ReplMode)p.mode;
	op.sync_timeout_ms = p.sync_timeout_ms;
	request_cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_PAIR;
	c.pair = &op;
	return request_cmd_pack(&c, out, err);
}

int request_pair_mode(const char *pool, const char *body, size_t len,
		      const struct request_ctx *ctx, struct request_cmd *out,
		      struct request_error *err)
{
	static const char *const keys[] = {"mode", "sync_timeout_ms", NULL};
	Poolpair__CmdPairMode op = POOLPAIR__CMD_PAIR_MODE__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];
	uint32_t timeout_ms;
	bool has_mode;
	json_t *root;
	int mode, rc;

	out_clear(out);
	if (pool == NULL || !request_name_ok(pool, strnlen(pool, FSM_NAME_LEN)))
		return request_fail(
		    err, -EINVAL, "invalid",
		    "pool name must be 1-%d characters of [A-Za-z0-9._-], "
		    "not starting with '-'",
		    FSM_NAME_LEN - 1);
	if ((rc = request_parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = request_check_keys(root, "", keys, err);
	if (rc == 0)
		rc = request_get_repl_mode(root, "", &has_mode, &mode,
					   &timeout_ms, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	if (!has_mode)
		return request_fail(err, -EINVAL, "missing_field",
				    "missing field 'mode' (async or sync)");
	op.pool = request_str(pool);
	op.mode = (Poolpair__ReplMode)mode;
	op.sync_timeout_ms = timeout_ms;
	request_cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_PAIR_MODE;
	c.pair_mode = &op;
	return request_cmd_pack(&c, out, err);
}

int request_sba_add(const char *body, size_t len, const struct request_ctx *ctx,
		    struct request_cmd *out, struct request_error *err)
{
	Poolpair__CmdAddSba op = POOLPAIR__CMD_ADD_SBA__INIT;
	Poolpair__Sba sba;
	Poolpair__Command c;
	struct fsm_sba s;
	char who[FSM_WHO_LEN];
	json_t *root;
	int rc;

	out_clear(out);
	if ((rc = request_parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = request_parse_sba(root, "", &s, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	request_pb_sba(&sba, &s);
	op.sba = &sba;
	request_cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_ADD_SBA;
	c.add_sba = &op;
	return request_cmd_pack(&c, out, err);
}

int request_policy_set(const char *body, size_t len,
		       const struct fsm_policy *current,
		       const struct request_ctx *ctx, struct request_cmd *out,
		       struct request_error *err)
{
	struct cmd_ctx cc = {.time_ms = ctx->time_ms, .who = ctx->who};
	struct fsm_policy p = *current;
	struct cmd_policy pol;
	struct cmd_buf b;
	bool has[3];
	json_t *root;
	int rc;

	out_clear(out);
	p.failover[sizeof(p.failover) - 1] = '\0';
	if ((rc = request_parse_body(body, len, &root, err)) != 0)
		return rc;
	rc = request_parse_policy_fields(root, "", &p, has, err);
	json_decref(root);
	if (rc != 0)
		return rc;
	pol = (struct cmd_policy){
	    .failover = p.failover,
	    .max_lag_on_failover_ms = p.max_lag_on_failover_ms,
	    .cooldown_ms = p.cooldown_ms,
	    .merge = true,
	    .has_failover = has[0],
	    .has_max_lag = has[1],
	    .has_cooldown = has[2],
	};
	if (cmd_set_policy(&cc, &pol, &b) != 0)
		return request_fail_nomem(err);
	out->buf = b.buf;
	out->len = b.len;
	return 0;
}

int request_member_add(const char *body, size_t len, struct request_member *m,
		       struct request_error *err)
{
	static const char *const keys[] = {"id", "address", "role", NULL};
	json_int_t id = 0;
	bool present;
	json_t *root, *v;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = request_parse_body(body, len, &root, err)) != 0)
		return rc;
	if ((rc = request_check_keys(root, "", keys, err)) != 0 ||
	    (rc = request_get_int(root, "", "id", true, 1, REQUEST_JINT_MAX,
				  &id, &present, err)) != 0 ||
	    (rc = request_get_field(root, "", "address", true, &v, err)) != 0)
		goto out;
	if (!json_is_string(v)) {
		rc = request_bad_type(err, "", "address", "a string");
		goto out;
	}
	if (!request_address_ok(json_string_value(v), json_string_length(v))) {
		rc = request_fail(
		    err, -EINVAL, "invalid",
		    "field 'address' must be host:port with a port of "
		    "1-65535");
		goto out;
	}
	memcpy(m->address, json_string_value(v), json_string_length(v) + 1);
	rc = request_get_choice(root, "", "role", false, roles, m->role,
				sizeof(m->role), err);
	m->id = (uint64_t)id;
out:
	json_decref(root);
	if (rc != 0)
		memset(m, 0, sizeof(*m));
	return rc;
}

int request_member_add_parse(const char *body, size_t len, uint64_t *id,
			     char *address, size_t addrlen,
			     struct request_error *err)
{
	struct request_member m;
	size_t n;
	int rc;

	*id = 0;
	if (addrlen > 0)
		address[0] = '\0';
	rc = request_member_add(body, len, &m, err);
	if (rc != 0)
		return rc;
	n = strlen(m.address);
	if (n >= addrlen)
		return request_fail(
		    err, -EINVAL, "invalid",
		    "field 'address' is longer than %zu characters",
		    addrlen > 0 ? addrlen - 1 : 0);
	memcpy(address, m.address, n + 1);
	*id = m.id;
	return 0;
}

int request_cmd_name(int op, const char *name, const struct request_ctx *ctx,
		     struct request_cmd *out, struct request_error *err)
{
	static const char *const nouns[] = {
	    [REQUEST_REMOVE_SITE] = "site", [REQUEST_REMOVE_POOL] = "pool",
	    [REQUEST_UNPAIR] = "pool",	    [REQUEST_REMOVE_SBA] = "sba",
	    [REQUEST_CMS_PLACE] = "pool",
	};
	union {
		Poolpair__CmdRemoveSite remove_site;
		Poolpair__CmdRemovePool remove_pool;
		Poolpair__CmdUnpair unpair;
		Poolpair__CmdRemoveSba remove_sba;
		Poolpair__CmdCmsPlace cms_place;
	} u;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	out_clear(out);
	if (op < REQUEST_REMOVE_SITE || op > REQUEST_CMS_PLACE)
		return request_fail(err, -EINVAL, "invalid",
				    "unknown operation %d", op);
	if (name == NULL || !request_name_ok(name, strnlen(name, FSM_NAME_LEN)))
		return request_fail(
		    err, -EINVAL, "invalid",
		    "%s name must be 1-%d characters of [A-Za-z0-9._-], "
		    "not starting with '-'",
		    nouns[op], FSM_NAME_LEN - 1);
	request_cmd_init(&c, ctx, who);
	switch (op) {
	case REQUEST_REMOVE_SITE:
		poolpair__cmd_remove_site__init(&u.remove_site);
		u.remove_site.name = request_str(name);
		c.op_case = POOLPAIR__COMMAND__OP_REMOVE_SITE;
		c.remove_site = &u.remove_site;
		break;
	case REQUEST_REMOVE_POOL:
		poolpair__cmd_remove_pool__init(&u.remove_pool);
		u.remove_pool.name = request_str(name);
		c.op_case = POOLPAIR__COMMAND__OP_REMOVE_POOL;
		c.remove_pool = &u.remove_pool;
		break;
	case REQUEST_UNPAIR:
		poolpair__cmd_unpair__init(&u.unpair);
		u.unpair.pool = request_str(name);
		c.op_case = POOLPAIR__COMMAND__OP_UNPAIR;
		c.unpair = &u.unpair;
		break;
	case REQUEST_REMOVE_SBA:
		poolpair__cmd_remove_sba__init(&u.remove_sba);
		u.remove_sba.name = request_str(name);
		c.op_case = POOLPAIR__COMMAND__OP_REMOVE_SBA;
		c.remove_sba = &u.remove_sba;
		break;
	default: /* REQUEST_CMS_PLACE */
		poolpair__cmd_cms_place__init(&u.cms_place);
		u.cms_place.pool = request_str(name);
		c.op_case = POOLPAIR__COMMAND__OP_CMS_PLACE;
		c.cms_place = &u.cms_place;
		break;
	}
	return request_cmd_pack(&c, out, err);
}

#define TERMINATED(arr) (memchr((arr), '\0', sizeof(arr)) != NULL)

int request_cmd_register_member(const struct fsm_member *m,
				const struct request_ctx *ctx,
				struct request_cmd *out)
{
	Poolpair__CmdRegisterMember op = POOLPAIR__CMD_REGISTER_MEMBER__INIT;
	Poolpair__Member mb = POOLPAIR__MEMBER__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	out_clear(out);
	if (!TERMINATED(m->name) || !TERMINATED(m->site) ||
	    !TERMINATED(m->pool) || !TERMINATED(m->raft_address) ||
	    !TERMINATED(m->data_address) || !TERMINATED(m->api_address))
		return -EINVAL;
	mb.id = m->id;
	mb.name = request_str(m->name);
	mb.site = request_str(m->site);
	mb.pool = request_str(m->pool);
	mb.raft_address = request_str(m->raft_address);
	mb.data_address = request_str(m->data_address);
	mb.api_address = request_str(m->api_address);
	op.member = &mb;
	request_cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
	c.register_member = &op;
	return request_cmd_pack(&c, out, NULL);
}

int request_cmd_remove_member(uint64_t id, const struct request_ctx *ctx,
			      struct request_cmd *out)
{
	Poolpair__CmdRemoveMember op = POOLPAIR__CMD_REMOVE_MEMBER__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	out_clear(out);
	op.id = id;
	request_cmd_init(&c, ctx, who);
	c.op_case = POOLPAIR__COMMAND__OP_REMOVE_MEMBER;
	c.remove_member = &op;
	return request_cmd_pack(&c, out, NULL);
}
