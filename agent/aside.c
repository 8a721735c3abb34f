/* aside: broken files moved aside, never deleted (see aside.h). */
#include "agent/aside.h"

#include <errno.h>
#include <raft.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "consensus/node.h"

int aside_move(const char *data_dir, const char *const *names, size_t n,
	       char *where, size_t len, char *why, size_t why_len)
{
	char stamp[32], from[4096], to[4096];
	struct stat st;
	struct tm tm;
	time_t now = time(NULL);
	int moved = 0;

	where[0] = '\0';
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (size_t i = 0; i < n; i++) {
		snprintf(from, sizeof from, "%s/%s", data_dir, names[i]);
		if (lstat(from, &st) != 0)
			continue;
		if (where[0] == '\0') {
			for (unsigned k = 0;; k++) {
				if (k == 0)
					snprintf(where, len, "%s/aside-%s",
						 data_dir, stamp);
				else
					snprintf(where, len, "%s/aside-%s-%u",
						 data_dir, stamp, k);
				if (mkdir(where, 0750) == 0)
					break;
				if (errno != EEXIST || k == 100) {
					snprintf(why, why_len, "mkdir %s: %s",
						 where, strerror(errno));
					return -errno;
				}
			}
		}
		snprintf(to, sizeof to, "%s/%s", where, names[i]);
		if (rename(from, to) != 0) {
			int e = errno;

			snprintf(why, why_len, "rename %s to %s: %s", from, to,
				 strerror(e));
			return -e;
		}
		moved++;
	}
	return moved;
}

bool aside_raft_broken(int node_rv)
{
	return node_rv == node_raft_err(RAFT_CORRUPT) ||
	       node_rv == node_raft_err(RAFT_MALFORMED);
}

struct check {
	uv_work_t work;
	const char *path;
	int result;
	char why[256];
};

static int first_row(void *arg, int n, char **vals, char **cols)
{
	struct check *c = arg;

	(void)cols;
	if (c->why[0] == '\0' && n > 0)
		snprintf(c->why, sizeof c->why, "%s",
			 vals[0] != NULL ? vals[0] : "(null)");
	else if (n > 0)
		c->result = 1; /* more than one row: not "ok" */
	return 0;
}

static void check_work(uv_work_t *w)
{
	struct check *c = w->data;
	sqlite3 *db = NULL;
	char *err = NULL;
	struct stat st;
	int rv;

	if (stat(c->path, &st) != 0) {
		c->result = 0; /* no store yet */
		return;
	}
	rv = sqlite3_open_v2(c->path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rv == SQLITE_OK)
		rv = sqlite3_exec(db, "PRAGMA integrity_check", first_row, c,
				  &err);
	if (rv == SQLITE_CORRUPT || rv == SQLITE_NOTADB) {
		c->result = 1;
		snprintf(c->why, sizeof c->why, "%s",
			 err != NULL ? err : sqlite3_errstr(rv));
	} else if (rv != SQLITE_OK) {
		c->result = -EIO;
		snprintf(c->why, sizeof c->why, "%s",
			 err != NULL ? err : sqlite3_errstr(rv));
	} else if (c->result == 0 && strcmp(c->why, "ok") != 0) {
		c->result = 1;
	}
	sqlite3_free(err);
	sqlite3_close(db);
}

static void check_done(uv_work_t *w, int status)
{
	struct check *c = w->data;

	if (status != 0) {
		c->result = status;
		snprintf(c->why, sizeof c->why, "%s", uv_strerror(status));
	}
}

int aside_store_check_run(uv_loop_t *loop, const char *path, char *why,
			  size_t why_len)
{
	struct check c;
	int rv;

	memset(&c, 0, sizeof c);
	c.work.data = &c;
	c.path = path;
	rv = uv_queue_work(loop, &c.work, check_work, check_done);
	if (rv != 0) {
		snprintf(why, why_len, "%s", uv_strerror(rv));
		return rv;
	}
	uv_run(loop, UV_RUN_DEFAULT);
	snprintf(why, why_len, "%s", c.why);
	return c.result;
}
