/* aside: broken files of data_dir are moved aside, never deleted.
 *
 * A Raft directory that fails to load (a segment or the metadata fails its
 * checksum or cannot be parsed) or a store that fails `PRAGMA
 * integrity_check` is renamed into data_dir/aside-YYYYmmddTHHMMSSZ/ (a
 * suffix -N when that exists), and the agent starts as on an empty disk:
 * an empty Raft directory asks its peers and rejoins (rejoin.h); an empty
 * store is created again.
 *
 * Startup only: these run before the loop serves anything (the store check
 * on the thread pool, through aside_store_check_run()). */
#ifndef POOLPAIR_ASIDE_H
#define POOLPAIR_ASIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* Rename the entries names[0..n) of data_dir that exist into a new
 * data_dir/aside-TIMESTAMP/; its path into where (len bytes). Returns the
 * number moved (0: none existed, no directory made) or a negative errno
 * value with why set. */
int aside_move(const char *data_dir, const char *const *names, size_t n,
	       char *where, size_t len, char *why, size_t why_len);

/* Whether a node_start() error (node.h) means that the Raft directory
 * failed to load: a checksum mismatch or malformed data (not an I/O or
 * listen error). */
bool aside_raft_broken(int node_rv);

/* PRAGMA integrity_check of the SQLite file path, on loop's thread pool;
 * runs loop until done (call it before anything else uses loop). Returns 1
 * broken (why says how), 0 sound or missing, negative when it could not be
 * checked (why set). */
int aside_store_check_run(uv_loop_t *loop, const char *path, char *why,
			  size_t why_len);

#endif
