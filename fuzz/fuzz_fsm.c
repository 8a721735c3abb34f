/* fuzz_fsm: arbitrary Raft commands applied to a state that already holds
 * sites, members, pools, pairs, an SBA, the CMS and a failed-over pool.
 *
 * Input: up to FSM_FUZZ_MAX_CMDS commands, each a u16 little-endian length
 * then that many bytes (the last one takes what is left when the length
 * runs past the end). Properties checked:
 *   - the bounded pre-scan (fsm_scan_command) of the whole input returns
 *     a known result and borrows `who` from inside the input;
 *   - every command gives a known code, res->code equal to the return, a
 *     terminated reason, exactly one new history entry holding that code
 *     (or, accepted with res->seq 0, no entry and the state unchanged);
 *   - a refused command changes nothing but the history;
 *   - the state stays within its capacities, every name terminated;
 *   - fsm_snapshot -> fsm_restore -> fsm_snapshot is byte-identical;
 *   - fsm_failover_check of each pool answers what fsm_apply of a
 *     failover_begin of it answers, fsm_cms_failover_check what a
 *     cms_failover answers, fsm_pool_writer_check of each pool and each
 *     member what a pool_writer over the pool's token with the positions
 *     of what it owns answers;
 *   - a pool's sync standby is 0 or a member of the pool, not its writer,
 *     and only with a writer;
 *   - pairs' modes are async or sync (async and 0 unpaired), a planned
 *     CMS move drains only from a paired pool, the kept history stays
 *     within its cap. */
#include <stddef.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"
#include "fuzz/fuzz_cmd.h"
#include "fuzz/fuzz_util.h"

#define FSM_FUZZ_MAX_CMDS 16

static struct fsm base;
static int base_ready;

/* Whether a and b hold the same topology, CMS and policy (everything but
 * the history). Elements are compared as bytes: a refused command must not
 * have written to them at all. */
static int same_but_history(const struct fsm *a, const struct fsm *b)
{
	return a->n_sites == b->n_sites && a->n_members == b->n_members &&
	       a->n_pools == b->n_pools && a->n_sbas == b->n_sbas &&
	       memcmp(a->sites, b->sites, sizeof a->sites) == 0 &&
	       memcmp(a->members, b->members, sizeof a->members) == 0 &&
	       memcmp(a->pools, b->pools, sizeof a->pools) == 0 &&
	       memcmp(a->sbas, b->sbas, sizeof a->sbas) == 0 &&
	       memcmp(a->cms_active, b->cms_active, sizeof a->cms_active) ==
		   0 &&
	       a->cms_epoch == b->cms_epoch &&
	       a->cms_floor_epoch == b->cms_floor_epoch &&
	       a->cms_state == b->cms_state &&
	       a->cms_since_ms == b->cms_since_ms &&
	       memcmp(a->cms_writer_seq, b->cms_writer_seq,
		      sizeof a->cms_writer_seq) == 0 &&
	       a->cms_writer_epoch == b->cms_writer_epoch &&
	       memcmp(&a->policy, &b->policy, sizeof a->policy) == 0;
}

static void check_bounds(const struct fsm *f)
{
	unsigned i;

	FUZZ_CHECK(f->n_sites <= FSM_MAX_SITES, "n_sites %u", f->n_sites);
	FUZZ_CHECK(f->n_members <= FSM_MAX_MEMBERS, "n_members %u",
		   f->n_members);
	FUZZ_CHECK(f->n_pools <= FSM_MAX_POOLS, "n_pools %u", f->n_pools);
	FUZZ_CHECK(f->n_sbas <= FSM_MAX_SBAS, "n_sbas %u", f->n_sbas);
	for (i = 0; i < f->n_sites; i++) {
		FUZZ_CHECK(fuzz_terminated(f->sites[i].name, FSM_NAME_LEN),
			   "site %u name", i);
	}
	for (i = 0; i < f->n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];

		FUZZ_CHECK(fuzz_terminated(p->name, FSM_NAME_LEN) &&
			       fuzz_terminated(p->pair, FSM_NAME_LEN) &&
			       fuzz_terminated(p->owner, FSM_NAME_LEN) &&
			       fuzz_terminated(p->unsupported_reason,
					       FSM_REASON_LEN) &&
			       fuzz_terminated(p->last_failover_reason,
					       FSM_REASON_LEN) &&
			       fuzz_terminated(p->pause_reason,
					       FSM_REASON_LEN),
			   "pool %u strings", i);
		FUZZ_CHECK(p->state >= FSM_STATE_NORMAL &&
			       p->state <= FSM_STATE_FAILING_BACK,
			   "pool %s state %d", p->name, p->state);
		FUZZ_CHECK(p->pair[0] == '\0' ||
			       fsm_pool_find(f, p->pair) != NULL,
			   "pool %s paired with unknown %s", p->name, p->pair);
		FUZZ_CHECK((p->repl_mode == FSM_REPL_ASYNC ||
			    p->repl_mode == FSM_REPL_SYNC) &&
			       p->sync_timeout_ms <= FSM_SYNC_TIMEOUT_MAX_MS &&
			       (p->pair[0] != '\0' ||
				(p->repl_mode == FSM_REPL_ASYNC &&
				 p->sync_timeout_ms == 0)),
			   "pool %s mode %d timeout %u", p->name, p->repl_mode,
			   (unsigned)p->sync_timeout_ms);
		FUZZ_CHECK(p->floor_epoch >= 1 && p->floor_epoch <= p->epoch,
			   "pool %s floor epoch %llu, epoch %llu", p->name,
			   (unsigned long long)p->floor_epoch,
			   (unsigned long long)p->epoch);
		FUZZ_CHECK(p->sync_standby == 0 ||
			       (p->writer != 0 &&
				p->sync_standby != p->writer &&
				fsm_member_find(f, p->sync_standby) != NULL &&
				strcmp(fsm_member_find(f, p->sync_standby)->pool,
				       p->name) == 0),
			   "pool %s sync standby %llu, writer %llu", p->name,
			   (unsigned long long)p->sync_standby,
			   (unsigned long long)p->writer);
		FUZZ_CHECK(p->writer_epoch <= p->epoch,
			   "pool %s writer epoch %llu past epoch %llu",
			   p->name, (unsigned long long)p->writer_epoch,
			   (unsigned long long)p->epoch);
	}
	for (i = 0; i < f->n_members; i++) {
		FUZZ_CHECK(fuzz_terminated(f->members[i].name, FSM_NAME_LEN) &&
			       fuzz_terminated(f->members[i].raft_address,
					       FSM_ADDR_LEN),
			   "member %u strings", i);
	}
	FUZZ_CHECK(fuzz_terminated(f->cms_active, FSM_NAME_LEN), "cms_active");
	FUZZ_CHECK(f->cms_state == FSM_STATE_NORMAL ||
		       (f->cms_state == FSM_STATE_FAILING_OVER &&
			fsm_pool_find(f, f->cms_active) != NULL &&
			fsm_pool_find(f, f->cms_active)->pair[0] != '\0'),
		   "cms state %d on %s", f->cms_state, f->cms_active);
	FUZZ_CHECK(f->cms_writer_epoch <= f->cms_epoch,
		   "cms writer epoch %llu past epoch %llu",
		   (unsigned long long)f->cms_writer_epoch,
		   (unsigned long long)f->cms_epoch);
	FUZZ_CHECK(f->cms_floor_epoch <= f->cms_epoch &&
		       (f->cms_active[0] == '\0' || f->cms_floor_epoch >= 1),
		   "cms floor epoch %llu, epoch %llu",
		   (unsigned long long)f->cms_floor_epoch,
		   (unsigned long long)f->cms_epoch);
	FUZZ_CHECK(f->n_kept <= FSM_HISTORY_KEPT, "n_kept %u", f->n_kept);
}

static void check_round_trip(const struct fsm *f)
{
	static struct fsm g;
	void *s1, *s2;
	size_t l1, l2;

	FUZZ_CHECK(fsm_snapshot(f, &s1, &l1) == 0, "fsm_snapshot failed");
	fsm_init(&g);
	FUZZ_CHECK(fsm_restore(&g, s1, l1) == 0,
		   "fsm_restore refused the snapshot of a live state");
	FUZZ_CHECK(fsm_snapshot(&g, &s2, &l2) == 0, "fsm_snapshot failed");
	FUZZ_CHECK(l1 == l2 && memcmp(s1, s2, l1) == 0,
		   "snapshot of the restored state differs (%zu vs %zu bytes)",
		   l1, l2);
	free(s1);
	free(s2);
}

/* A copy of f good for applying one more command and reading its
 * outcome: everything before the history, and the history's counters
 * (the entries themselves are left as they were in dst: the outcome does
 * not read them, and the whole struct is large). */
static void copy_for_apply(struct fsm *dst, const struct fsm *src)
{
	memcpy(dst, src, offsetof(struct fsm, history));
	dst->decisions = src->decisions;
	dst->n_kept = src->n_kept;
	dst->kept_head = src->kept_head;
	dst->kept_dropped = src->kept_dropped;
}

/* fsm_failover_check and fsm_cms_failover_check must answer what
 * fsm_apply answers. */
static void check_what_if(const struct fsm *f)
{
	static struct fsm g;
	unsigned i;
	int planned;

	for (i = 0; i < 4; i++) {
		bool pl = i & 1, forced = i & 2;
		struct fsm_result r1, r2;
		void *cmd;
		size_t len;
		int c1, c2;

		c1 = fsm_cms_failover_check(f, pl, forced, &r1);
		copy_for_apply(&g, f);
		cmd = fuzz_cmd_cms_failover(pl, forced, &len);
		c2 = fsm_apply(&g, cmd, len, &r2);
		free(cmd);
		FUZZ_CHECK(c1 == c2 && (c1 == FSM_OK ||
					strcmp(r1.reason, r2.reason) == 0),
			   "cms check (planned %d, forced %d) says %s (%s), "
			   "apply says %s (%s)",
			   pl, forced, fsm_code_name(c1), r1.reason,
			   fsm_code_name(c2), r2.reason);
	}

	for (i = 0; i < f->n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];

		bool stranger = false;

		for (unsigned m = 0; m <= f->n_members; m++) {
			/* every agent of the pool, the first member that is
			 * not, and id 0 */
			uint64_t id = m < f->n_members ? f->members[m].id : 0;
			struct fsm_result r1, r2;
			void *cmd;
			size_t len;
			int c1, c2;

			if (m < f->n_members &&
			    strcmp(f->members[m].pool, p->name) != 0) {
				if (stranger)
					continue;
				stranger = true;
			}

			c1 = fsm_pool_writer_check(f, p->name, id, &r1);
			copy_for_apply(&g, f);
			cmd = fuzz_cmd_pool_writer(f, p->name, id,
						   p->writer_token, &len);
			c2 = fsm_apply(&g, cmd, len, &r2);
			free(cmd);
			FUZZ_CHECK(c1 == c2 && strcmp(r1.reason, r2.reason) == 0,
				   "writer check of %s to %llu says %s (%s), "
				   "apply says %s (%s)",
				   p->name, (unsigned long long)id,
				   fsm_code_name(c1), r1.reason,
				   fsm_code_name(c2), r2.reason);
		}
	}

	for (i = 0; i < f->n_pools; i++) {
		for (planned = 0; planned <= 1; planned++) {
			struct fsm_result r1, r2;
			bool moves = false;
			void *cmd;
			size_t len;
			int c1, c2;

			c1 = fsm_failover_check(f, f->pools[i].name, planned,
						&r1, &moves);
			copy_for_apply(&g, f);
			cmd = fuzz_cmd_failover_begin(f->pools[i].name, planned,
						      false, &len);
			c2 = fsm_apply(&g, cmd, len, &r2);
			free(cmd);
			FUZZ_CHECK(c1 == c2,
				   "failover check of %s (planned %d) says %s, "
				   "apply says %s (%s)",
				   f->pools[i].name, planned, fsm_code_name(c1),
				   fsm_code_name(c2), r2.reason);
			FUZZ_CHECK(c1 == FSM_OK || strcmp(r1.reason, r2.reason) == 0,
				   "failover check reason '%s', apply '%s'",
				   r1.reason, r2.reason);
			FUZZ_CHECK(!moves || c1 == FSM_OK,
				   "cms_moves set on a refusal");
		}
	}
}

static void apply_one(struct fsm *f, const uint8_t *data, size_t len)
{
	static struct fsm before;
	struct fsm_result res;
	const struct fsm_history *h;
	void *cmd = fuzz_dup(data, len);
	int code;

	/* everything but the history ring is compared afterwards */
	memcpy(&before, f, offsetof(struct fsm, history));
	before.decisions = f->decisions;
	memset(&res, 0xa5, sizeof res);
	code = fsm_apply(f, cmd, len, &res);
	free(cmd);
	FUZZ_CHECK(code >= 0 && code < FSM_CODE_COUNT, "code %d", code);
	FUZZ_CHECK(code == res.code, "returned %d, res.code %d", code,
		   res.code);
	FUZZ_CHECK(fuzz_terminated(res.reason, sizeof res.reason),
		   "reason not terminated");
	if (code == FSM_OK && res.seq == 0) {
		/* accepted, changed nothing: no history entry */
		FUZZ_CHECK(f->decisions == before.decisions &&
			       same_but_history(&before, f),
			   "a decision without a history entry changed the "
			   "state");
		check_bounds(f);
		return;
	}
	FUZZ_CHECK(f->decisions == before.decisions + 1,
		   "decisions %llu after %llu",
		   (unsigned long long)f->decisions,
		   (unsigned long long)before.decisions);
	FUZZ_CHECK(res.seq == f->decisions, "res.seq %llu",
		   (unsigned long long)res.seq);
	h = fsm_history_get(f, res.seq);
	FUZZ_CHECK(h != NULL && h->code == code &&
		       fuzz_terminated(h->who, FSM_WHO_LEN) &&
		       fuzz_terminated(h->what, FSM_WHAT_LEN) &&
		       fuzz_terminated(h->reason, FSM_REASON_LEN),
		   "history entry of the decision");
	FUZZ_CHECK(code == FSM_OK || same_but_history(&before, f),
		   "refused command (%s: %s) changed the state",
		   fsm_code_name(code), res.reason);
	check_bounds(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fsm f;
	struct scan sc;
	enum scan_result sr;
	size_t pos = 0;
	unsigned n = 0;

	if (!base_ready) {
		fsm_init(&base);
		fuzz_state_populate(&base);
		base_ready = 1;
	}

	/* the pre-scan on its own, over the whole input */
	if (size > 0) {
		uint8_t *copy = fuzz_dup(data, size);

		memset(&sc, 0, sizeof sc);
		sr = fsm_scan_command(copy, size, 0, &sc);
		FUZZ_CHECK(sr == SCAN_OK || sr == SCAN_BROKEN || sr == SCAN_DEEP,
			   "scan result %d", (int)sr);
		FUZZ_CHECK(sc.who == NULL ||
			       ((const uint8_t *)sc.who >= copy &&
				sc.who_len <= size &&
				(const uint8_t *)sc.who + sc.who_len <=
				    copy + size),
			   "scan borrowed who from outside the input");
		free(copy);
	}

	memcpy(&f, &base, sizeof f);
	while (pos < size && n < FSM_FUZZ_MAX_CMDS) {
		size_t len;

		if (size - pos < 2) {
			break;
		}
		len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
		pos += 2;
		if (len > size - pos) {
			len = size - pos;
		}
		apply_one(&f, data + pos, len);
		pos += len;
		n++;
	}
	check_round_trip(&f);
	check_what_if(&f);
	return 0;
}
