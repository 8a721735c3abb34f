/* loop_fixture: see loop_fixture.h. */
#include <stdio.h>
#include <unistd.h>

#include "loop_fixture.h"

static void deadline(uv_timer_t *t) { *(int *)t->data = 1; }

int loop_until(uv_loop_t *loop, int (*done)(void *arg), void *arg,
	       unsigned timeout_ms)
{
	uv_timer_t guard;
	int timed_out = 0, ok;

	guard.data = &timed_out;
	uv_timer_init(loop, &guard);
	uv_timer_start(&guard, deadline, timeout_ms, 0);
	while (!(ok = done(arg)) && !timed_out)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return ok;
}

void db_files_remove(const char *dir, const char *name)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix[i]);
		unlink(path);
	}
}
