/* fuzz_cmd: encoded poolpair.Command values and a populated FSM state,
 * shared by the consensus and request fuzz targets and the seed corpus
 * generator.
 *
 * Every builder returns a malloc()ed buffer the caller owns and frees with
 * free(), its length in *len; it aborts when out of memory (a fuzz harness
 * has nothing better to do). Strings are borrowed for the call. */
#ifndef POOLPAIR_FUZZ_CMD_H
#define POOLPAIR_FUZZ_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/fsm.h"

#define FUZZ_TIME_MS 1764150000000ull /* time_ms of every built command */

/* Commands, one builder per op of proto/control.proto. */
void *fuzz_cmd_add_site(const char *name, size_t *len);
void *fuzz_cmd_remove_site(const char *name, size_t *len);
void *fuzz_cmd_add_pool(const char *name, const char *site,
			const char *edition, const char *kind, const char *os,
			uint32_t capacity, size_t *len);
void *fuzz_cmd_remove_pool(const char *name, size_t *len);
void *fuzz_cmd_pair(const char *a, const char *b, bool force, size_t *len);
void *fuzz_cmd_unpair(const char *pool, size_t *len);
void *fuzz_cmd_add_sba(const char *name, const char *site,
		       const char *backup_pool, size_t *len);
void *fuzz_cmd_remove_sba(const char *name, size_t *len);
void *fuzz_cmd_register_member(uint64_t id, const char *name,
			       const char *site, const char *pool,
			       size_t *len);
void *fuzz_cmd_remove_member(uint64_t id, size_t *len);
void *fuzz_cmd_set_policy(const char *failover, uint32_t max_lag_ms,
			  uint32_t cooldown_ms, bool merge, size_t *len);
void *fuzz_cmd_cms_place(const char *pool, size_t *len);
void *fuzz_cmd_failover_begin(const char *pool, bool planned, bool forced,
			      size_t *len);
void *fuzz_cmd_failover_complete(const char *pool, size_t *len);
void *fuzz_cmd_failover_abort(const char *pool, size_t *len);
void *fuzz_cmd_pool_recovering(const char *pool, size_t *len);
void *fuzz_cmd_failback_begin(const char *pool, bool forced, size_t *len);
void *fuzz_cmd_failback_complete(const char *pool, size_t *len);
void *fuzz_cmd_failback_abort(const char *pool, size_t *len);
/* planned: the begin of a planned move; else a disaster move naming data
 * at risk. */
void *fuzz_cmd_cms_failover(bool planned, bool forced, size_t *len);
void *fuzz_cmd_cms_failover_complete(uint64_t since_ms, size_t *len);
void *fuzz_cmd_cms_failover_abort(uint64_t since_ms, size_t *len);
void *fuzz_cmd_pair_mode(const char *pool, int mode, uint32_t sync_timeout_ms,
			 size_t *len);
/* keep: an event of a kept kind (a rebuild, a recovery). */
void *fuzz_cmd_record_event(const char *what, bool ok, bool keep,
			    size_t *len);
void *fuzz_cmd_pool_pause(const char *pool, bool paused, size_t *len);
/* A disaster failover_begin made by the automatic failover. */
void *fuzz_cmd_failover_auto(const char *pool, size_t *len);
/* pool_writer over expect_token; with seqs, a position for each of the
 * user sets pool owns in f (fsm_pool_owned_sets(); f may be NULL: none),
 * data seq 100 + i, content seq 200 + i for the i-th. */
void *fuzz_cmd_pool_writer(const struct fsm *f, const char *pool,
			   uint64_t member_id, uint64_t expect_token,
			   size_t *len);
void *fuzz_cmd_pool_sync(const char *pool, uint64_t writer_token,
			 uint64_t standby, size_t *len);

/* A topology command whose steps are the n encoded commands at steps
 * (each steps[i] of lens[i] bytes, borrowed). Aborts when a step does not
 * decode. */
void *fuzz_cmd_topology(void *const *steps, const size_t *lens, size_t n,
			size_t *len);

/* Fill f (fsm_init() first) with a small deployment: sites east, west,
 * north and south; members 1 (east-1, pool-east), 2 (west-1, pool-west)
 * and 3 (witness-1 at north); pools pool-east and pool-west (paired),
 * pool-std-e and pool-south (paired; pool-std-e failed over, owned by
 * pool-south, recovering, paused), pool-lone (unpaired); SBA sba-east
 * backed up by pool-east; the CMS on pool-east; policy auto. Aborts if a command of
 * the script is refused: the fuzz targets rely on that state. */
void fuzz_state_populate(struct fsm *f);

/* Calls emit once per seed command (each valid or near-valid against the
 * populated state, covering every op) with a short name. buf is borrowed
 * for the call. */
void fuzz_seed_commands(void (*emit)(void *arg, const char *name,
				     const void *buf, size_t len),
			void *arg);

#endif /* POOLPAIR_FUZZ_CMD_H */
