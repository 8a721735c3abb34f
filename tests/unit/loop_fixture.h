/* loop_fixture: what the tests over a libuv loop and stores share: running
 * a loop until something holds (or a deadline), and removing a store's
 * files. */
#ifndef POOLPAIR_TESTS_LOOP_FIXTURE_H
#define POOLPAIR_TESTS_LOOP_FIXTURE_H

#include <uv.h>

/* Run loop until done(arg) or timeout_ms passed; whether done(arg). */
int loop_until(uv_loop_t *loop, int (*done)(void *arg), void *arg,
	       unsigned timeout_ms);

/* Remove the store file dir/name and its -wal and -shm files (those that
 * exist). */
void db_files_remove(const char *dir, const char *name);

#endif
