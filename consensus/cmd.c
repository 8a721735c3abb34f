/* cmd: the one encoder of Raft commands (see cmd.h). */
#include "consensus/cmd.h"

#include <stdlib.h>
#include <string.h>

const char *cmd_strerror(int rv)
{
	switch (rv) {
	case CMD_E_NOMEM:
		return "out of memory";
	case CMD_E_INVALID:
		return "command without an op";
	default:
		return "unknown error";
	}
}

void cmd_buf_free(struct cmd_buf *b)
{
	if (b == NULL)
		return;
	free(b->buf);
	b->buf = NULL;
	b->len = 0;
}

/* protobuf-c string fields are not const; the encoder only reads them. */
static char *str(const char *s) { return (char *)(s != NULL ? s : ""); }

/* Length of the UTF-8 character at s (1..4), 0 when s does not start a
 * valid one (stray continuation, bad lead, overlong, surrogate, beyond
 * U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t len, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (len == 3) {
		cp = (unsigned)(c & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6;
		if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	} else if (len == 4) {
		cp = (unsigned)(c & 0x07) << 18 | (unsigned)(s[1] & 0x3f) << 12;
		if (cp < 0x10000 || cp > 0x10ffff)
			return 0;
	}
	return len;
}

/* who into dst (FSM_WHO_LEN bytes) as valid UTF-8 without control
 * characters: a bad byte becomes '?'; the copy stops at a character
 * boundary. */
static void who_copy(char *dst, const char *who)
{
	const unsigned char *s = (const unsigned char *)(who ? who : "");
	size_t o = 0;

	while (*s != '\0') {
		size_t len = utf8_len(s);

		if (len == 0 || (len == 1 && (s[0] < 0x20 || s[0] == 0x7f))) {
			if (o + 1 >= FSM_WHO_LEN)
				break;
			dst[o++] = '?';
			s += 1;
			continue;
		}
		if (o + len >= FSM_WHO_LEN)
			break;
		memcpy(dst + o, s, len);
		o += len;
		s += len;
	}
	dst[o] = '\0';
}

void cmd_init(Poolpair__Command *c, const struct cmd_ctx *ctx,
	      char who_buf[FSM_WHO_LEN])
{
	poolpair__command__init(c);
	who_copy(who_buf, ctx->who);
	c->time_ms = ctx->time_ms;
	c->who = who_buf;
}

int cmd_pack(const Poolpair__Command *c, struct cmd_buf *out)
{
	size_t len;
	void *buf;

	out->buf = NULL;
	out->len = 0;
	if (c == NULL || c->op_case == POOLPAIR__COMMAND__OP__NOT_SET)
		return CMD_E_INVALID;
	len = poolpair__command__get_packed_size(c);
	buf = malloc(len > 0 ? len : 1);
	if (buf == NULL)
		return CMD_E_NOMEM;
	out->len = poolpair__command__pack(c, buf);
	out->buf = buf;
	return 0;
}

/* ---- typed constructors ---- */

int cmd_failover_begin(const struct cmd_ctx *ctx, const struct cmd_failover *f,
		       struct cmd_buf *out)
{
	Poolpair__CmdFailoverBegin op = POOLPAIR__CMD_FAILOVER_BEGIN__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.pool = str(f->pool);
	op.planned = f->planned;
	op.forced = f->forced;
	op.automatic = f->automatic;
	op.reason = str(f->reason);
	op.data_at_risk_records = f->risk.records;
	op.data_at_risk_bytes = f->risk.bytes;
	op.data_at_risk_ms = f->risk.ms;
	op.takeover_data_seq = f->takeover.data_seq;
	op.takeover_content_seq = f->takeover.content_seq;
	c.op_case = POOLPAIR__COMMAND__OP_FAILOVER_BEGIN;
	c.failover_begin = &op;
	return cmd_pack(&c, out);
}

int cmd_failover_complete(const struct cmd_ctx *ctx, const char *pool,
			  const struct cmd_risk *risk,
			  const struct cmd_takeover *takeover,
			  struct cmd_buf *out)
{
	Poolpair__CmdFailoverComplete op =
	    POOLPAIR__CMD_FAILOVER_COMPLETE__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.pool = str(pool);
	if (risk != NULL) {
		op.data_at_risk_records = risk->records;
		op.data_at_risk_bytes = risk->bytes;
		op.data_at_risk_ms = risk->ms;
	}
	if (takeover != NULL) {
		op.takeover_data_seq = takeover->data_seq;
		op.takeover_content_seq = takeover->content_seq;
	}
	c.op_case = POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE;
	c.failover_complete = &op;
	return cmd_pack(&c, out);
}

int cmd_failover_abort(const struct cmd_ctx *ctx, const char *pool,
		       const char *reason, struct cmd_buf *out)
{
	Poolpair__CmdFailoverAbort op = POOLPAIR__CMD_FAILOVER_ABORT__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.pool = str(pool);
	op.reason = str(reason);
	c.op_case = POOLPAIR__COMMAND__OP_FAILOVER_ABORT;
	c.failover_abort = &op;
	return cmd_pack(&c, out);
}

int cmd_pool_recovering(const struct cmd_ctx *ctx, const char *pool,
			struct cmd_buf *out)
{
	Poolpair__CmdPoolRecovering op = POOLPAIR__CMD_POOL_RECOVERING__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.pool = str(pool);
	c.op_case = POOLPAIR__COMMAND__OP_POOL_RECOVERING;
	c.pool_recovering = &op;
	return cmd_pack(&c, out);
}

int cmd_failback_begin(const struct cmd_ctx *ctx, const char *pool, bool forced,
		       struct cmd_buf *out)
{
	Poolpair__CmdFailbackBegin op = POOLPAIR__CMD_FAILBACK_BEGIN__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.pool = str(pool);
	op.forced = forced;
	c.op_case = POOLPAIR__COMMAND__OP_FAILBACK_BEGIN;
	c.failback_begin = &op;
	return cmd_pack(&c, out);
}

int cmd_failback_complete(const struct cmd_ctx *ctx, const char *pool,
			  struct cmd_buf *out)
{
	Poolpair__CmdFailbackComplete op =
	    POOLPAIR__CMD_FAILBACK_COMPLETE__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.pool = str(pool);
	c.op_case = POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE;
	c.failback_complete = &op;
	return cmd_pack(&c, out);
}

int cmd_failback_abort(const struct cmd_ctx *ctx, const char *pool,
		       const char *reason, struct cmd_buf *out)
{
	Poolpair__CmdFailbackAbort op = POOLPAIR__CMD_FAILBACK_ABORT__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.pool = str(pool);
	op.reason = str(reason);
	c.op_case = POOLPAIR__COMMAND__OP_FAILBACK_ABORT;
	c.failback_abort = &op;
	return cmd_pack(&c, out);
}

int cmd_cms_failover(const struct cmd_ctx *ctx, bool planned, bool forced,
		     const struct cmd_risk *risk, const char *reason,
		     struct cmd_buf *out)
{
	Poolpair__CmdCmsFailover op = POOLPAIR__CMD_CMS_FAILOVER__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.planned = planned;
	op.forced = forced;
	if (risk != NULL) {
		op.data_at_risk_records = risk->records;
		op.data_at_risk_bytes = risk->bytes;
		op.data_at_risk_ms = risk->ms;
	}
	op.reason = str(reason);
	c.op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER;
	c.cms_failover = &op;
	return cmd_pack(&c, out);
}

int cmd_cms_failover_complete(const struct cmd_ctx *ctx, uint64_t since_ms,
			      struct cmd_buf *out)
{
	Poolpair__CmdCmsFailoverComplete op =
	    POOLPAIR__CMD_CMS_FAILOVER_COMPLETE__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.since_ms = since_ms;
	c.op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER_COMPLETE;
	c.cms_failover_complete = &op;
	return cmd_pack(&c, out);
}

int cmd_cms_failover_abort(const struct cmd_ctx *ctx, uint64_t since_ms,
			   const char *reason, struct cmd_buf *out)
{
	Poolpair__CmdCmsFailoverAbort op =
	    POOLPAIR__CMD_CMS_FAILOVER_ABORT__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.since_ms = since_ms;
	op.reason = str(reason);
	c.op_case = POOLPAIR__COMMAND__OP_CMS_FAILOVER_ABORT;
	c.cms_failover_abort = &op;
	return cmd_pack(&c, out);
}

int cmd_record_event(const struct cmd_ctx *ctx, const struct cmd_event *e,
		     struct cmd_buf *out)
{
	Poolpair__CmdRecordEvent op = POOLPAIR__CMD_RECORD_EVENT__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.what = str(e->what);
	op.detail = str(e->detail);
	op.ok = e->ok;
	op.forced = e->forced;
	op.keep = e->keep;
	c.op_case = POOLPAIR__COMMAND__OP_RECORD_EVENT;
	c.record_event = &op;
	return cmd_pack(&c, out);
}

int cmd_set_policy(const struct cmd_ctx *ctx, const struct cmd_policy *p,
		   struct cmd_buf *out)
{
	Poolpair__CmdSetPolicy op = POOLPAIR__CMD_SET_POLICY__INIT;
	Poolpair__Policy pol = POOLPAIR__POLICY__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	pol.failover = str(p->failover);
	pol.max_lag_on_failover_ms = p->max_lag_on_failover_ms;
	pol.cooldown_ms = p->cooldown_ms;
	op.policy = &pol;
	op.merge = p->merge;
	op.has_failover = p->has_failover;
	op.has_max_lag = p->has_max_lag;
	op.has_cooldown = p->has_cooldown;
	op.if_never_set = p->if_never_set;
	c.op_case = POOLPAIR__COMMAND__OP_SET_POLICY;
	c.set_policy = &op;
	return cmd_pack(&c, out);
}

int cmd_pool_writer(const struct cmd_ctx *ctx, const struct cmd_writer *w,
		    struct cmd_buf *out)
{
	Poolpair__CmdPoolWriter op = POOLPAIR__CMD_POOL_WRITER__INIT;
	Poolpair__WriterSeq *seqs = NULL;
	Poolpair__WriterSeq **ptrs = NULL;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];
	int rv;

	out->buf = NULL;
	out->len = 0;
	if (w->n_seqs > 0) {
		seqs = calloc(w->n_seqs, sizeof(*seqs));
		ptrs = calloc(w->n_seqs, sizeof(*ptrs));
		if (seqs == NULL || ptrs == NULL) {
			free(seqs);
			free(ptrs);
			return CMD_E_NOMEM;
		}
	}
	cmd_init(&c, ctx, who);
	op.pool = str(w->pool);
	op.member_id = w->member_id;
	op.expect_token = w->expect_token;
	op.reason = str(w->reason);
	for (size_t i = 0; i < w->n_seqs; i++) {
		poolpair__writer_seq__init(&seqs[i]);
		seqs[i].user_set = str(w->seqs[i].user_set);
		seqs[i].data_seq = w->seqs[i].seq[0];
		seqs[i].content_seq = w->seqs[i].seq[1];
		ptrs[i] = &seqs[i];
	}
	op.n_seqs = w->n_seqs;
	op.seqs = ptrs;
	c.op_case = POOLPAIR__COMMAND__OP_POOL_WRITER;
	c.pool_writer = &op;
	rv = cmd_pack(&c, out);
	free(seqs);
	free(ptrs);
	return rv;
}

int cmd_pool_sync(const struct cmd_ctx *ctx, const struct cmd_pool_sync *s,
		  struct cmd_buf *out)
{
	Poolpair__CmdPoolSync op = POOLPAIR__CMD_POOL_SYNC__INIT;
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, ctx, who);
	op.pool = str(s->pool);
	op.writer_token = s->writer_token;
	op.standby = s->standby;
	op.reason = str(s->reason);
	c.op_case = POOLPAIR__COMMAND__OP_POOL_SYNC;
	c.pool_sync = &op;
	return cmd_pack(&c, out);
}
