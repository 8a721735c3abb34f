/* cmd: the one encoder of Raft commands (poolpair.Command,
 * proto/control.proto), the only input of the state machine (fsm.h).
 *
 * Every command carries the wall-clock time of its proposer and who asked;
 * cmd_init() sets both, cmd_pack() encodes. Ops built in more than one
 * place (failover, failback, the moves of the CMS, recorded events, the
 * policy) have typed constructors that do both. Nothing outside consensus/
 * packs a Command: the agent builds the op's message (or calls a
 * constructor) and hands the packed bytes to node_apply() (or a proposer),
 * which takes them.
 *
 * Pure: no I/O, no clock (time arrives in struct cmd_ctx), no globals;
 * every function is reentrant.
 *
 * Errors: 0, or a negative code of this module's range, -5801..-5899
 * (README, "Error codes"). On error *out is left empty ({NULL, 0}). */
#ifndef POOLPAIR_CMD_H
#define POOLPAIR_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/fsm.h"
#include "control.pb-c.h"

enum {
	CMD_E_NOMEM = -5801,   /* out of memory */
	CMD_E_INVALID = -5802, /* no op set */
};

/* Message of a CMD_E_* code ("out of memory"); "unknown error" else. */
const char *cmd_strerror(int rv);

/* Facts every command carries. Borrowed for the call only. */
struct cmd_ctx {
	uint64_t time_ms; /* wall clock of the proposer, ms since the epoch */
	const char *who;  /* "operator@host", "agent:east-1", "leader:auto";
			     NULL encodes "" */
};

/* One encoded Command. buf is malloc()ed and owned by whoever holds the
 * struct (cmd_buf_free(), or hand it to node_apply(), which takes it);
 * {NULL, 0} when empty. */
struct cmd_buf {
	void *buf;
	size_t len;
};

/* Frees b->buf and empties *b. b may be NULL. */
void cmd_buf_free(struct cmd_buf *b);

/* Initialise *c as a command of ctx. who_buf (FSM_WHO_LEN bytes, owned by
 * the caller, alive until c is packed) receives ctx->who as valid UTF-8
 * without control characters (a bad byte becomes '?'), cut at a character
 * boundary to fit; c->who points to it. Set c->op_case and the op's field
 * afterwards. */
void cmd_init(Poolpair__Command *c, const struct cmd_ctx *ctx,
	      char who_buf[FSM_WHO_LEN]);

/* Encode *c (borrowed) into *out. A command without an op is
 * CMD_E_INVALID (the FSM would refuse it as malformed). Returns 0,
 * CMD_E_INVALID or CMD_E_NOMEM. */
int cmd_pack(const Poolpair__Command *c, struct cmd_buf *out);

/* ---- typed constructors: cmd_init + the op + cmd_pack ----
 * Strings are borrowed for the call; NULL encodes "". Each returns as
 * cmd_pack(). */

/* Data at risk a decision names: writes the pair has not acknowledged. */
struct cmd_risk {
	uint64_t records;
	uint64_t bytes;
	uint64_t ms; /* age of the oldest */
};

/* Where the pair's copy stood when it took the user set over, per lane. */
struct cmd_takeover {
	uint64_t data_seq;
	uint64_t content_seq;
};

struct cmd_failover {
	const char *pool;
	bool planned;	/* drain first (false: disaster, owner changes now) */
	bool forced;	/* --force */
	bool automatic; /* the leader's automatic failover */
	const char *reason;
	struct cmd_risk risk;
	struct cmd_takeover takeover; /* disaster only */
};

/* failover_begin: planned (failing_over, drain) or disaster (owner =
 * pair, epoch + 1, at once). */
int cmd_failover_begin(const struct cmd_ctx *ctx, const struct cmd_failover *f,
		       struct cmd_buf *out);

/* failover_complete: a planned failover drained: owner = pair. */
int cmd_failover_complete(const struct cmd_ctx *ctx, const char *pool,
			  const struct cmd_risk *risk,
			  const struct cmd_takeover *takeover,
			  struct cmd_buf *out);

/* failover_abort: a planned failover that cannot finish: back to normal. */
int cmd_failover_abort(const struct cmd_ctx *ctx, const char *pool,
		       const char *reason, struct cmd_buf *out);

/* pool_recovering: the failed pool is back (failed_over → recovering). */
int cmd_pool_recovering(const struct cmd_ctx *ctx, const char *pool,
			struct cmd_buf *out);

/* failback_begin (forced: also from failed_over, without catching up). */
int cmd_failback_begin(const struct cmd_ctx *ctx, const char *pool, bool forced,
		       struct cmd_buf *out);

/* failback_complete: owner = the pool itself, normal, epoch + 1. */
int cmd_failback_complete(const struct cmd_ctx *ctx, const char *pool,
			  struct cmd_buf *out);

/* failback_abort: back to recovering. */
int cmd_failback_abort(const struct cmd_ctx *ctx, const char *pool,
		       const char *reason, struct cmd_buf *out);

/* cms_failover: a planned move of the CMS (begin, drain) or a disaster
 * one (at once, with the data at risk). */
int cmd_cms_failover(const struct cmd_ctx *ctx, bool planned, bool forced,
		     const struct cmd_risk *risk, const char *reason,
		     struct cmd_buf *out);

/* cms_failover_complete / _abort of the planned move begun at since_ms. */
int cmd_cms_failover_complete(const struct cmd_ctx *ctx, uint64_t since_ms,
			      struct cmd_buf *out);
int cmd_cms_failover_abort(const struct cmd_ctx *ctx, uint64_t since_ms,
			   const char *reason, struct cmd_buf *out);

/* record_event: something decided outside the FSM, kept in the history
 * (a hook's outcome, a forced recovery). */
struct cmd_event {
	const char *what;
	const char *detail;
	bool ok;
	bool forced;
	bool keep; /* kept beyond the history ring like forced decisions */
};
int cmd_record_event(const struct cmd_ctx *ctx, const struct cmd_event *e,
		     struct cmd_buf *out);

/* set_policy: the whole policy, or (merge) only the fields flagged has_*;
 * if_never_set: only while no policy was ever committed. */
struct cmd_policy {
	const char *failover; /* "auto", "manual", "" (the default) */
	uint32_t max_lag_on_failover_ms;
	uint32_t cooldown_ms;
	bool merge;
	bool has_failover;
	bool has_max_lag;
	bool has_cooldown;
	bool if_never_set;
};
int cmd_set_policy(const struct cmd_ctx *ctx, const struct cmd_policy *p,
		   struct cmd_buf *out);

/* Where the copy of user_set stood at the new writer, per lane (0 data,
 * 1 content). */
struct cmd_writer_seq {
	const char *user_set;
	uint64_t seq[2];
};

/* pool_writer: member_id becomes the writer of pool if the pool's writer
 * token is still expect_token (the token of the view the decision was made
 * on); reason says why, for the history. A local takeover (fsm.h) needs
 * seqs: one per user set the pool owns (fsm_pool_owned_sets()); n_seqs
 * entries of seqs (borrowed; NULL with 0). */
struct cmd_writer {
	const char *pool;
	uint64_t member_id;
	uint64_t expect_token;
	const char *reason;
	const struct cmd_writer_seq *seqs;
	size_t n_seqs;
};
int cmd_pool_writer(const struct cmd_ctx *ctx, const struct cmd_writer *w,
		    struct cmd_buf *out);

/* pool_sync: standby (0: none) becomes the synchronous standby of pool if
 * the pool's writer token is still writer_token (asked by that writer);
 * reason says why, for the history. */
struct cmd_pool_sync {
	const char *pool;
	uint64_t writer_token;
	uint64_t standby;
	const char *reason;
};
int cmd_pool_sync(const struct cmd_ctx *ctx, const struct cmd_pool_sync *s,
		  struct cmd_buf *out);

#endif
