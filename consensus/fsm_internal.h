/* fsm_internal: helpers shared by the parts of the fsm module (fsm.c: apply
 * and dispatch; fsm_topology.c, fsm_failover.c, fsm_policy.c: the
 * operations; fsm_check.c: text, validation, look-ups, the pre-scan;
 * fsm_history.c; fsm_snapshot.c). Not part of the module's interface: only
 * those files (and the fuzz targets, which check the pre-scan) include it. */
#ifndef POOLPAIR_CONSENSUS_FSM_INTERNAL_H
#define POOLPAIR_CONSENSUS_FSM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/fsm.h"
#include "control.pb-c.h"

/* Command nesting (topology inside a step inside a topology ...) deeper
 * than this is refused before decoding, so the decoder never recurses far. */
#define FSM_MAX_COMMAND_DEPTH 4
#define CLIP_LEN 64 /* a name as shown in a summary or reason */

/* Outcome of one operation while it is being applied. now is an input:
 * the time_ms of the command (0 when it has none). */
struct outcome {
	int code;
	char what[FSM_WHAT_LEN];
	char reason[FSM_REASON_LEN];
	bool forced;
	bool keep;             /* of a kind the history keeps (see fsm.h) */
	bool quiet;            /* accepted, changed nothing: no history entry */
	uint64_t now;
	uint64_t risk_records; /* data at risk named by a failover decision */
	uint64_t risk_bytes;
	uint64_t risk_ms;
};

/* ---- text helpers (fsm_check.c) ---- */

/* s, or "" when s is NULL (protobuf-c leaves absent strings NULL). */
static inline const char *fsm_str(const char *s) { return s != NULL ? s : ""; }

/* snprintf into dst (cap bytes); dst is "" if formatting fails. */
__attribute__((format(printf, 3, 4))) void fsm_fmt(char *dst, size_t cap,
						   const char *format, ...);

/* Set o->code to code and o->reason to the formatted text. Returns code. */
__attribute__((format(printf, 3, 4))) int fsm_fail(struct outcome *o, int code,
						   const char *format, ...);

/* A name as shown in text: printable ASCII only, at most 63 characters
 * (longer ones end in "..."). s must not be NULL. Returns dst. */
const char *fsm_clip(char dst[CLIP_LEN], const char *s);

/* Copy free text (at most len bytes of src, stopping at a NUL) into dst of
 * cap > 0 bytes: valid UTF-8 is kept, control characters and invalid bytes
 * become '?', and the copy never ends inside a sequence. */
void fsm_text_copy(char *dst, size_t cap, const char *src, size_t len);

/* A state as words in a sentence: "failed over", "recovering", ... */
const char *fsm_state_words(int state);

/* Set a name field so that no byte of an older, longer value stays behind
 * (the state is compared and snapshotted as a whole). */
void fsm_name_set(char dst[FSM_NAME_LEN], const char *src);

/* Set a reason field from free text (NULL is ""). */
void fsm_reason_set(char dst[FSM_REASON_LEN], const char *src);

/* "12 records / 3.4 KB / 850 ms at risk", or "nothing at risk", of the
 * data at risk in o. */
void fsm_risk_text(char *dst, size_t cap, const struct outcome *o);

/* ---- validation (fsm_check.c); strings must not be NULL ---- */

/* Non-empty, shorter than FSM_NAME_LEN, only [A-Za-z0-9._-]: what a
 * restored snapshot may hold (a name written before names starting with '-'
 * were refused still restores). */
bool fsm_name_ok(const char *s);

/* Refuse with FSM_E_INVALID unless s is a valid name (fsm_name_ok() and
 * not starting with '-'); field says what it names ("pool name", "site",
 * ...). Returns 0 or the code. */
int fsm_check_name(struct outcome *o, const char *field, const char *s);

/* Printable ASCII without spaces, shorter than FSM_ADDR_LEN ("" is ok). */
bool fsm_addr_ok(const char *s);

/* Addresses are host:port: printable ASCII without spaces, shorter than
 * FSM_ADDR_LEN; required says whether an empty one is refused. Returns 0
 * or FSM_E_INVALID with o filled in. */
int fsm_check_addr(struct outcome *o, const char *field, const char *s,
		   bool required);

bool fsm_edition_ok(const char *s);  /* "enterprise" or "standard" */
bool fsm_kind_ok(const char *s);     /* "physical" or "virtual" */
bool fsm_failover_ok(const char *s); /* "auto" or "manual" */

/* ---- lookups (fsm_check.c): index into f's arrays, or -1 ---- */

int fsm_site_index(const struct fsm *f, const char *name);
int fsm_pool_index(const struct fsm *f, const char *name);
int fsm_member_index(const struct fsm *f, uint64_t id);
int fsm_sba_index(const struct fsm *f, const char *name);

/* ---- dispatch (fsm.c) ---- */

/* Apply one decoded command to f, filling o (o->now set by the caller).
 * is_step: cmd is a step of a topology, where only topology operations
 * are allowed. On refusal f is unchanged. Returns o->code. */
int fsm_apply_op(struct fsm *f, const Poolpair__Command *cmd, bool is_step,
		 struct outcome *o);

/* ---- the topology (fsm_topology.c) ----
 *
 * One function per operation of proto/control.proto (see fsm.h for what
 * each refuses). Each fills o (what, and reason on refusal); on refusal f
 * is unchanged. Return o->code. fsm_op_topology applies its steps through
 * fsm_apply_op on a staged copy and keeps it only when every step was
 * accepted. */

int fsm_op_register_member(struct fsm *f,
			   const Poolpair__CmdRegisterMember *c,
			   struct outcome *o);
int fsm_op_remove_member(struct fsm *f, const Poolpair__CmdRemoveMember *c,
			 struct outcome *o);
int fsm_op_add_site(struct fsm *f, const Poolpair__CmdAddSite *c,
		    struct outcome *o);
int fsm_op_remove_site(struct fsm *f, const Poolpair__CmdRemoveSite *c,
		       struct outcome *o);
int fsm_op_add_pool(struct fsm *f, const Poolpair__CmdAddPool *c,
		    struct outcome *o);
int fsm_op_remove_pool(struct fsm *f, const Poolpair__CmdRemovePool *c,
		       struct outcome *o);
int fsm_op_pair(struct fsm *f, const Poolpair__CmdPair *c, struct outcome *o);
int fsm_op_unpair(struct fsm *f, const Poolpair__CmdUnpair *c,
		  struct outcome *o);
int fsm_op_pair_mode(struct fsm *f, const Poolpair__CmdPairMode *c,
		     struct outcome *o);
int fsm_op_add_sba(struct fsm *f, const Poolpair__CmdAddSba *c,
		   struct outcome *o);
int fsm_op_remove_sba(struct fsm *f, const Poolpair__CmdRemoveSba *c,
		      struct outcome *o);
int fsm_op_cms_place(struct fsm *f, const Poolpair__CmdCmsPlace *c,
		     struct outcome *o);
int fsm_op_topology(struct fsm *f, const Poolpair__CmdTopology *t,
		    struct outcome *o);

/* ---- the history (fsm_history.c) ---- */

/* Record the outcome o of the decision just applied as the next history
 * entry (time_ms and who, who_len bytes, of the command); an entry it
 * pushes out of the ring joins the kept ones when kept. Fills res (may be
 * NULL). */
void fsm_history_record(struct fsm *f, uint64_t time_ms, const char *who,
			size_t who_len, const struct outcome *o,
			struct fsm_result *res);

/* ---- failover decisions (fsm_failover.c, fsm_cms.c) ----
 *
 * Two state machines (see fsm.h): a pool's, given in fsm_failover.c, and
 * the CMS's, given in fsm_cms.c. Each is a struct fo_machine: its ops and
 * its table of transitions {state, op, next, guard, effect}. One function
 * in fsm_failover.c applies both: for a decision it runs the op's
 * describe and lookup, finds the transition of (state, op) — none: the
 * op's refuse — runs its guard, then its effect, and enters next. */

/* What a failover decision carries, whatever its command. Strings are
 * borrowed from the command. */
struct fo_args {
	int op;		    /* enum fsm_failover_op */
	const char *pool;   /* pool ops: the pool named (never NULL) */
	bool forced;
	bool automatic;	    /* a failover_begin of the automatic failover */
	const char *reason; /* free text, may be NULL */
	uint64_t takeover_seq[2]; /* where the pair's copy stood, per lane */
	uint64_t since_ms;	  /* CMS complete, abort: the move meant */
};

/* One decision while it is checked and applied. */
struct fo_ctx {
	const struct fo_args *a;
	/* pool ops: the pool named and its pair; CMS ops: the pool of the
	 * active CMS and its pair; indexes into f->pools, -1 until a lookup
	 * or guard found them */
	int pi, qi;
	char risk[96]; /* the data at risk of the outcome, as text */
};

/* A check: 0, or the refusal's code with o filled in; f unchanged. */
typedef int (*fo_check_fn)(const struct fsm *f, struct fo_ctx *c,
			   struct outcome *o);

/* What a transition does besides entering its next state; it writes the
 * outcome's final what (and reason, forced). Runs only after every check
 * passed. */
typedef void (*fo_effect_fn)(struct fsm *f, struct fo_ctx *c,
			     struct outcome *o);

struct fo_op {
	const char *name; /* fsm_failover_op_name() */
	/* the outcome's what before anything is checked */
	void (*describe)(const struct fsm *f, struct fo_ctx *c,
			 struct outcome *o);
	fo_check_fn lookup; /* before the state is read; NULL: none */
	fo_check_fn refuse; /* the state has no transition for the op:
			       always a refusal */
	int want;	    /* the state a refusal names, where it names one */
};

struct fo_transition {
	int state;
	int op;
	int next;
	fo_check_fn guard;   /* NULL: none */
	fo_effect_fn effect; /* NULL: none */
};

struct fo_machine {
	int first_op; /* its ops are first_op .. first_op + n_ops - 1 */
	int n_ops;
	const struct fo_op *ops; /* indexed by op - first_op */
	const struct fo_transition *table;
	size_t n_transitions;
	/* the machine's state (after lookup) */
	int (*state)(const struct fsm *f, const struct fo_ctx *c);
	/* record a transition: enter state next, since now */
	void (*enter)(struct fsm *f, const struct fo_ctx *c, int next,
		      uint64_t now);
};

/* The CMS's machine (fsm_cms.c): ops FSM_OP_CMS_PLANNED and after. */
extern const struct fo_machine fsm_cms_machine;

/* Apply the failover decision cmd (its op_case one of failover_begin,
 * failover_complete, failover_abort, pool_recovering, failback_begin,
 * failback_complete, failback_abort, cms_failover, cms_failover_complete,
 * cms_failover_abort; any other is FSM_E_MALFORMED) as fsm.h says. On
 * refusal f is unchanged. Returns o->code. */
int fsm_op_failover(struct fsm *f, const Poolpair__Command *cmd,
		    struct outcome *o);

/* ---- policy and maintenance (fsm_policy.c) ---- */

/* The set_policy and pool_pause commands (see fsm.h). On refusal f is
 * unchanged. Return o->code. */
int fsm_op_set_policy(struct fsm *f, const Poolpair__CmdSetPolicy *c,
		      struct outcome *o);
int fsm_op_pool_pause(struct fsm *f, const Poolpair__CmdPoolPause *c,
		      struct outcome *o);

/* ---- the writer of a pool (fsm_writer.c) ---- */

/* The pool_writer command (see fsm.h). On refusal f is unchanged.
 * Returns o->code. */
int fsm_op_pool_writer(struct fsm *f, const Poolpair__CmdPoolWriter *c,
		       struct outcome *o);

/* The pool_sync command (see fsm.h). On refusal f is unchanged; the value
 * held already sets o->quiet. Returns o->code. */
int fsm_op_pool_sync(struct fsm *f, const Poolpair__CmdPoolSync *c,
		     struct outcome *o);

/* Before member id is removed: FSM_E_FULL (o filled in) when it is the
 * writer of a pool whose token cannot be raised any more, else 0. */
int fsm_writer_check_remove(const struct fsm *f, uint64_t id,
			    struct outcome *o);

/* Member m (borrowed) is being removed: a pool it is the writer of gets
 * no writer, no sync standby and a raised token (fsm_writer_check_remove()
 * said yes), a pool it is the sync standby of gets none; the changes are
 * appended to o->what: "remove member 5 (east2), writer of pool-east: no
 * writer, token 4", "..., sync standby of pool-east: none". */
void fsm_writer_removed(struct fsm *f, const struct fsm_member *m,
			struct outcome *o);

/* ---- bounded pre-scan of the wire format (fsm_check.c) ----
 *
 * protobuf-c decodes nested messages recursively without a depth limit; a
 * Command can nest itself through CmdTopology, so 1 MiB of nesting would
 * exhaust the stack. The scan walks the wire structure iteratively per
 * level and stops at FSM_MAX_COMMAND_DEPTH, and picks up time_ms and who
 * of the outer command for the history. */

enum scan_result { SCAN_OK, SCAN_BROKEN, SCAN_DEEP };

struct scan {
	uint64_t time_ms;
	const char *who; /* borrowed from the scanned buffer, not terminated */
	size_t who_len;
};

/* Scan the Command in buf[0..len) at nesting depth (0 for the outer one),
 * filling sc from the outer command. buf must not be NULL. */
enum scan_result fsm_scan_command(const uint8_t *buf, size_t len,
				  unsigned depth, struct scan *sc);

#endif
