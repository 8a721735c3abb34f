/* content: the poolpairctl commands that stream conference content, and
 * their progress bar (see content.h). */
#include "agent/ctl/content.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/ctl/data.h"
#include "agent/ctl/status.h"

#define CONTENT_ERROR_BODY (64L * 1024) /* bytes kept of a failed answer */
#define CONTENT_BAR_WIDTH 24
#define CONTENT_BAR_EVERY 0.1 /* seconds between two drawings */

/* ---- the progress bar -------------------------------------------------- */

/* The progress bar of one transfer (client_xfer.data). */
struct bar {
	FILE *err;	/* borrowed: where it is drawn */
	double started; /* monotonic seconds */
	double drawn_at;
	int drawn; /* the bar is on the screen */
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Draw the bar: done of total bytes (total 0: unknown). */
static void bar_draw(struct bar *b, int64_t done, int64_t total, double now)
{
	double secs = now - b->started;
	double rate = secs > 0 ? (double)done / secs : 0;
	char d[32], t[32], r[32];
	char bar[CONTENT_BAR_WIDTH + 1];
	char line[160];

	ctl_format_bytes((double)done, d, sizeof(d));
	ctl_format_bytes(rate, r, sizeof(r));
	if (total > 0) {
		int pct = (int)((double)done * 100.0 / (double)total);
		int fill =
		    (int)((double)done * CONTENT_BAR_WIDTH / (double)total);
		int i;

		if (pct > 100)
			pct = 100;
		if (fill > CONTENT_BAR_WIDTH)
			fill = CONTENT_BAR_WIDTH;
		for (i = 0; i < CONTENT_BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[CONTENT_BAR_WIDTH] = '\0';
		ctl_format_bytes((double)total, t, sizeof(t));
		snprintf(line, sizeof(line), "%3d%% [%s] %s / %s  %s/s", pct,
			 bar, d, t, r);
	} else {
		snprintf(line, sizeof(line), "%s  %s/s", d, r);
	}
	fprintf(b->err, "\r%-72s", line);
	fflush(b->err);
	b->drawn = 1;
	b->drawn_at = now;
}

/* Bytes done and total of the body or the answer, whichever moves. */
static void bar_amount(const struct client_xfer *x, int64_t dltotal,
		       int64_t *done, int64_t *total)
{
	if (x->in != NULL) {
		*done = x->sent;
		*total = x->body_len;
	} else {
		*done = x->received;
		*total = x->status >= 200 && x->status < 300 ? dltotal : 0;
	}
}

/* client_xfer.progress: draw now and then while bytes move; after a hop,
 * finish a drawn bar with its last state and a newline. */
static void bar_progress(struct client_xfer *x, int64_t total, int final)
{
	struct bar *b = x->data;
	double now = now_seconds();
	int64_t done, all;

	if (final) {
		if (!b->drawn)
			return;
		bar_amount(x, total, &done, &all);
		bar_draw(b, done, all, now);
		fputc('\n', b->err);
		b->drawn = 0;
		return;
	}
	if (now - b->drawn_at < CONTENT_BAR_EVERY)
		return;
	if (x->in == NULL && x->received == 0)
		return; /* nothing of the content yet */
	bar_amount(x, total, &done, &all);
	bar_draw(b, done, all, now);
}

/* Run x on ctl's client with a progress bar (bar, zeroed) on ctl->err
 * when it is a terminal. As data_transfer(). */
static int content_transfer(struct ctl *ctl, struct client_xfer *x,
			    struct bar *bar)
{
	if (isatty(fileno(ctl->err))) {
		bar->err = ctl->err;
		bar->started = now_seconds();
		x->progress = bar_progress;
		x->data = bar;
	}
	return data_transfer(ctl, x);
}

/* ---- the commands ------------------------------------------------------ */

static int content_args(struct ctl *ctl, const struct ctl_args *a)
{
	if (data_check_sip(ctl, a, a->pos[0]) != CTL_OK ||
	    data_check_segment(ctl, a, "conference id", a->pos[1]) != CTL_OK ||
	    data_check_segment(ctl, a, "content name", a->pos[2]) != CTL_OK)
		return CTL_USAGE;
	if (a->pos[3][0] == '\0')
		return ctl_usage_error(ctl, a, "empty file name");
	return CTL_OK;
}

int content_cmd_upload(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *conf = a->pos[1];
	const char *name = a->pos[2];
	const char *file = a->pos[3];
	struct client_xfer x = {.method = "PUT"};
	struct bar bar = {0};
	struct stat st;
	char size[32];
	char *path;
	json_t *resp;
	int rv;

	if (content_args(ctl, a) != CTL_OK)
		return CTL_USAGE;
	if (strcmp(file, "-") == 0)
		return ctl_usage_error(ctl, a,
				       "content is read from a file, not "
				       "stdin");
	x.in = fopen(file, "rb");
	if (x.in == NULL) {
		ctl_say(ctl->err, "poolpairctl: cannot open %s: %s", file,
			strerror(errno));
		return CTL_FAILED;
	}
	if (fstat(fileno(x.in), &st) != 0 || !S_ISREG(st.st_mode)) {
		ctl_say(ctl->err, "poolpairctl: %s is not a regular file",
			file);
		fclose(x.in);
		return CTL_FAILED;
	}
	path = data_user_path(sip, 4, "conferences", conf, "content", name);
	if (path == NULL) {
		fclose(x.in);
		return ctl_out_of_memory(ctl);
	}
	x.path = path;
	x.in_name = file;
	x.body_len = (int64_t)st.st_size;
	x.content_type = "application/octet-stream";
	x.stream = 1;
	x.max = (size_t)CONTENT_ERROR_BODY;
	rv = content_transfer(ctl, &x, &bar);
	free(path);
	fclose(x.in);
	if (rv == CTL_OK)
		rv = data_answer(ctl, &x, &resp);
	client_xfer_release(&x);
	if (rv != CTL_OK)
		return rv;
	ctl_format_bytes((double)st.st_size, size, sizeof(size));
	return data_write_done(ctl, resp,
			       "uploaded %s (%s) to conference %s of %s", name,
			       size, conf, sip);
}

/* Open a temporary file beside file for a download. Returns the stream
 * and *tmp (malloc()ed name), or NULL (reported). */
static FILE *download_open(struct ctl *ctl, const char *file, char **tmp)
{
	mode_t mask;
	FILE *f;
	int fd;

	if (asprintf(tmp, "%s.partXXXXXX", file) < 0) {
		*tmp = NULL;
		ctl_out_of_memory(ctl);
		return NULL;
	}
	fd = mkstemp(*tmp);
	if (fd < 0) {
		ctl_say(ctl->err, "poolpairctl: cannot write %s: %s", file,
			strerror(errno));
		free(*tmp);
		*tmp = NULL;
		return NULL;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0 || (f = fdopen(fd, "wb")) == NULL) {
		ctl_say(ctl->err, "poolpairctl: cannot open %s: %s", *tmp,
			strerror(errno));
		close(fd);
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		return NULL;
	}
	return f;
}

/* Flush, sync and close the downloaded f, then move tmp to file. Returns
 * CTL_OK or CTL_FAILED (reported; tmp removed). */
static int download_finish(struct ctl *ctl, FILE *f, const char *tmp,
			   const char *file)
{
	int failed = fflush(f) != 0 || fsync(fileno(f)) != 0;
	int saved = errno;

	if (fclose(f) != 0 && !failed) {
		failed = 1;
		saved = errno;
	}
	if (failed) {
		ctl_say(ctl->err, "poolpairctl: cannot write %s: %s", tmp,
			strerror(saved));
		unlink(tmp);
		return CTL_FAILED;
	}
	if (rename(tmp, file) != 0) {
		ctl_say(ctl->err, "poolpairctl: cannot rename %s to %s: %s",
			tmp, file, strerror(errno));
		unlink(tmp);
		return CTL_FAILED;
	}
	return CTL_OK;
}

int content_cmd_download(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *conf = a->pos[1];
	const char *name = a->pos[2];
	const char *file = a->pos[3];
	int to_stdout = strcmp(file, "-") == 0;
	struct client_xfer x = {.method = "GET"};
	struct bar bar = {0};
	struct stat st;
	char *tmp = NULL;
	char size[32];
	char *path;
	json_t *resp = NULL;
	int rv;

	if (content_args(ctl, a) != CTL_OK)
		return CTL_USAGE;
	if (!to_stdout && stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
		ctl_say(ctl->err, "poolpairctl: %s is a directory", file);
		return CTL_FAILED;
	}
	path = data_user_path(sip, 4, "conferences", conf, "content", name);
	if (path == NULL)
		return ctl_out_of_memory(ctl);
	x.out = to_stdout ? ctl->out : download_open(ctl, file, &tmp);
	if (x.out == NULL) {
		free(path);
		return CTL_FAILED;
	}
	x.path = path;
	x.accept = "application/octet-stream, application/json";
	x.out_name = to_stdout ? "stdout" : tmp;
	x.stream = 1;
	x.max = (size_t)CONTENT_ERROR_BODY;
	rv = content_transfer(ctl, &x, &bar);
	free(path);
	if (rv == CTL_OK)
		rv = data_answer(ctl, &x, &resp);
	client_xfer_release(&x);
	json_decref(resp); /* a 2xx body went to the file */
	if (to_stdout) {
		if (rv == CTL_OK && fflush(ctl->out) != 0) {
			ctl_say(ctl->err,
				"poolpairctl: cannot write stdout: %s",
				strerror(errno));
			rv = CTL_FAILED;
		}
		return rv;
	}
	if (rv != CTL_OK) {
		fclose(x.out);
		unlink(tmp);
		free(tmp);
		return rv;
	}
	rv = download_finish(ctl, x.out, tmp, file);
	free(tmp);
	if (rv != CTL_OK)
		return rv;
	if (ctl->json) {
		json_t *done =
		    json_pack("{s:s, s:s, s:s, s:s, s:I}", "sip", sip,
			      "conference", conf, "name", name, "file", file,
			      "bytes", (json_int_t)x.received);

		/* NULL also when the file name is not utf-8: say it in text */
		if (done != NULL) {
			rv = ctl_print_json(ctl, done);
			json_decref(done);
			return rv;
		}
	}
	ctl_format_bytes((double)x.received, size, sizeof(size));
	ctl_say(ctl->out, "downloaded %s (%s) of conference %s of %s to %s",
		name, size, conf, sip, file);
	return CTL_OK;
}
