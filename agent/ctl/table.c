/* table: column-aligned plain-text tables. */
#include "agent/ctl/table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int table_init(struct table *t, size_t ncols, const char *const *headers)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	if (ncols == 0 || ncols > TABLE_MAX_COLS || headers == NULL)
		return TABLE_EINVAL;
	for (i = 0; i < ncols; i++) {
		if (headers[i] == NULL)
			goto err_inval;
		t->header[i] = strdup(headers[i]);
		if (t->header[i] == NULL)
			goto err_nomem;
	}
	t->ncols = ncols;
	return 0;

err_nomem:
	while (i-- > 0)
		free(t->header[i]);
	memset(t, 0, sizeof(*t));
	return TABLE_ENOMEM;
err_inval:
	while (i-- > 0)
		free(t->header[i]);
	memset(t, 0, sizeof(*t));
	return TABLE_EINVAL;
}

int table_row(struct table *t)
{
	if (t->nrows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 8;
		char **cells =
		    realloc(t->cells, cap * t->ncols * sizeof(*cells));

		if (cells == NULL) {
			t->err = t->err ? t->err : TABLE_ENOMEM;
			return TABLE_ENOMEM;
		}
		t->cells = cells;
		t->cap_rows = cap;
	}
	memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof(*t->cells));
	t->nrows++;
	t->cur_col = 0;
	return 0;
}

static int table_fail(struct table *t, int err)
{
	if (t->err == 0)
		t->err = err;
	return err;
}

int table_cell(struct table *t, const char *s)
{
	char *copy;

	if (t->nrows == 0)
		return table_fail(t, TABLE_ENOROW);
	if (t->cur_col >= t->ncols)
		return table_fail(t, TABLE_EFULL);
	copy = strdup(s != NULL ? s : "-");
	if (copy == NULL)
		return table_fail(t, TABLE_ENOMEM);
	t->cells[(t->nrows - 1) * t->ncols + t->cur_col] = copy;
	t->cur_col++;
	return 0;
}

int table_cellf(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;
	int rv;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return table_fail(t, TABLE_ENOMEM);
	rv = table_cell(t, s);
	free(s);
	return rv;
}

size_t table_rows(const struct table *t) { return t->nrows; }

/* Write s padded to width (no padding when last), control bytes as '?'. */
static void table_put(FILE *out, const char *s, size_t width, int last)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0'; s++, n++) {
		unsigned char ch = (unsigned char)*s;

		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, out);
	}
	if (last)
		return;
	for (; n < width + 2; n++)
		fputc(' ', out);
}

int table_render(const struct table *t, FILE *out)
{
	size_t width[TABLE_MAX_COLS];
	size_t r;
	size_t c;

	for (c = 0; c < t->ncols; c++)
		width[c] = strlen(t->header[c]);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t len = s != NULL ? strlen(s) : 0;

			if (len > width[c])
				width[c] = len;
		}
	}
	for (c = 0; c < t->ncols; c++)
		table_put(out, t->header[c], width[c], c + 1 == t->ncols);
	fputc('\n', out);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++)
			table_put(out, t->cells[r * t->ncols + c], width[c],
				  c + 1 == t->ncols);
		fputc('\n', out);
	}
	return ferror(out) ? -1 : 0;
}

void table_close(struct table *t)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		free(t->header[i]);
	if (t->cells != NULL) {
		for (i = 0; i < t->nrows * t->ncols; i++)
			free(t->cells[i]);
		free(t->cells);
	}
	memset(t, 0, sizeof(*t));
}
