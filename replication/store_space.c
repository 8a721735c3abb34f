/* store_space: the space left for the store and its reserve (store.h,
 * "Reserve"): the measure on the thread pool, the charge of a local write
 * against it, and the figures on the loop thread. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "replication/store_internal.h"

/* a local write takes its record three times (the copy, the outbox, the
 * write-ahead log) and some pages of index and positions */
#define SPACE_FACTOR 3
#define SPACE_SLACK 4096

static const char *const sql_freelist = "PRAGMA freelist_count";
static const char *const sql_page_size = "PRAGMA page_size";

static uint64_t pragma_u64(struct store_conn *c, const char *const *sql)
{
	sqlite3_stmt *st = store_stmt(c, sql);
	uint64_t v = 0;

	if (st == NULL)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
		v = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

void store_space_measure(struct store_conn *c)
{
	struct store_space *sp = &c->space;
	const struct store_config *cfg = c->space_cfg;
	struct statvfs v;
	struct timespec ts;

	memset(sp, 0, sizeof *sp);
	clock_gettime(CLOCK_REALTIME, &ts);
	sp->measured_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	sp->db_free =
	    pragma_u64(c, &sql_freelist) * pragma_u64(c, &sql_page_size);
	if (c->space_path == NULL || cfg == NULL) {
		sp->err = EINVAL;
		return;
	}
	if (statvfs(c->space_path, &v) != 0) {
		sp->err = errno != 0 ? errno : EIO;
		return;
	}
	sp->fs_free = (uint64_t)v.f_bavail * v.f_frsize;
	sp->fs_size = (uint64_t)v.f_blocks * v.f_frsize;
	if (cfg->reserve_percent > 0)
		sp->reserve =
		    sp->fs_size / 100 *
		    (cfg->reserve_percent > 100 ? 100 : cfg->reserve_percent);
	else
		sp->reserve = cfg->reserve;
}

int store_space_charge(struct store_conn *c, struct store_op *op)
{
	const struct store_change *ch = &op->ch;
	const struct store_space *sp = &c->space;
	uint64_t need, left;

	if (ch->op == POOLPAIR__REPL__OP__OP_DELETE || sp->measured_ms == 0 ||
	    sp->err != 0 || sp->reserve == 0)
		return 0;
	need = SPACE_FACTOR * (strlen(ch->key) + ch->value_len) + SPACE_SLACK;
	left = sp->fs_free + sp->db_free;
	left = left > c->space_used ? left - c->space_used : 0;
	if (left < sp->reserve || left - sp->reserve < need)
		return store_op_fail(
		    op, STORE_E_RESERVE,
		    "the disk holding the store has %llu bytes free, at its "
		    "reserve of %llu bytes: writes are refused until space is "
		    "freed",
		    (unsigned long long)left, (unsigned long long)sp->reserve);
	c->space_used += need;
	return 0;
}

/* ---- loop thread ------------------------------------------------------ */

uint64_t store_space_room(const struct store_space *sp)
{
	uint64_t have;

	if (sp->measured_ms == 0 || sp->err != 0)
		return UINT64_MAX;
	have = sp->fs_free + sp->db_free;
	return have > sp->reserve ? have - sp->reserve : 0;
}

bool store_space_under(const struct store_space *sp)
{
	return sp->measured_ms != 0 && sp->err == 0 && sp->reserve > 0 &&
	       sp->fs_free + sp->db_free < sp->reserve;
}

const struct store_space *store_space(const struct store *s)
{
	return &s->space;
}
