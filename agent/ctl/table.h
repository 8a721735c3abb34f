/* table: column-aligned plain-text tables for poolpairctl.
 *
 * A table has a fixed set of columns named by a header row. Rows are
 * filled cell by cell; every cell is copied. table_render() sizes each
 * column to its widest cell and writes the header and the rows, columns
 * separated by two spaces, no trailing blanks. Control characters in cells
 * are written as '?' so that server data cannot break the alignment or
 * reach the terminal as escape sequences. Text is treated as bytes (one
 * byte, one column).
 *
 * Usage:
 *	struct table t;
 *	const char *hdr[] = {"POOL", "SITE"};
 *	if (table_init(&t, 2, hdr) != 0) ...
 *	table_row(&t);
 *	table_cell(&t, "pool-east");
 *	table_cellf(&t, "%d", 42);
 *	table_render(&t, stdout);
 *	table_close(&t);
 */
#ifndef POOLPAIR_CTL_TABLE_H
#define POOLPAIR_CTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_MAX_COLS 16

enum {
	TABLE_ENOMEM = -1, /* out of memory */
	TABLE_EFULL = -2,  /* more cells than columns in a row */
	TABLE_ENOROW = -3, /* table_cell() before the first table_row() */
	TABLE_EINVAL = -4, /* bad column count or header */
};

struct table {
	size_t ncols;
	char *header[TABLE_MAX_COLS]; /* owned copies */
	char **cells;		      /* owned: nrows * ncols, NULL = empty */
	size_t nrows;
	size_t cap_rows;
	size_t cur_col; /* next cell to fill in the last row */
	int err;	/* first error of a fill call, or 0 */
};

/* Start a table with ncols columns (1..TABLE_MAX_COLS) named by headers
 * (ncols non-NULL strings, copied). Returns 0, TABLE_EINVAL or
 * TABLE_ENOMEM; on error t needs no table_close(). */
int table_init(struct table *t, size_t ncols, const char *const *headers);

/* Begin a new row; its cells are empty until filled. Returns 0 or
 * TABLE_ENOMEM. */
int table_row(struct table *t);

/* Fill the next cell of the current row with a copy of s (NULL is written
 * as "-"). Returns 0, TABLE_ENOROW, TABLE_EFULL or TABLE_ENOMEM. An error
 * is also remembered in t->err so a caller may check once after filling. */
int table_cell(struct table *t, const char *s);

/* As table_cell() with printf-style formatting. */
int table_cellf(struct table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Number of rows added so far. */
size_t table_rows(const struct table *t);

/* Write the header and all rows to out (borrowed). Unfilled cells are
 * written empty. Returns 0, or -1 when writing to out failed. */
int table_render(const struct table *t, FILE *out);

/* Free everything the table owns. t may be reused with table_init(). */
void table_close(struct table *t);

#endif
