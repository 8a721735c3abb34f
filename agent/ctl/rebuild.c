/* rebuild: poolpairctl pool rebuild-status (see rebuild.h). */
#include "agent/ctl/rebuild.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/ctl/status.h"
#include "agent/ctl/table.h"

#define MB 1e6
#define BAR_WIDTH 30
#define TTY_POLL_US 500000
#define PLAIN_POLL_US 2000000

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static double real(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "?";
}

/* "eta 7 s", or "eta unknown" for null. */
static void eta_text(json_t *eta, char *buf, size_t len)
{
	if (json_is_integer(eta))
		snprintf(buf, len, "eta %lld s",
			 (long long)json_integer_value(eta));
	else
		snprintf(buf, len, "eta unknown");
}

/* "pool-east (recovering, pair pool-west): rebuilding, not caught up" */
static void say_head(struct ctl *ctl, json_t *r)
{
	json_t *pair = json_object_get(r, "pair");
	json_t *heard = json_object_get(r, "heard");
	bool rebuilding = json_is_true(json_object_get(r, "rebuilding"));
	bool caught_up = json_is_true(json_object_get(r, "caught_up"));

	ctl_say(ctl->out, "%s (%s, pair %s): %s%s%s", str(r, "pool"),
		str(r, "state"),
		json_is_string(pair) ? json_string_value(pair) : "none",
		rebuilding ? "being rebuilt, " : "",
		caught_up ? "caught up" : "not caught up",
		json_is_string(pair) &&
			!json_is_true(json_object_get(heard, "pair"))
		    ? " (no recent report of the pair)"
		    : "");
}

static int show(struct ctl *ctl, json_t *r)
{
	static const char *const hdr[] = {"USER-SET", "LANE", "ITEMS",
					  "BYTES",    "RATE", "ETA"};
	json_t *streams = json_object_get(r, "streams");
	struct table t;
	json_t *s;
	size_t i;

	say_head(ctl, r);
	if (json_array_size(streams) == 0)
		return CTL_OK;
	if (table_init(&t, 6, hdr) != 0)
		return ctl_out_of_memory(ctl);
	json_array_foreach (streams, i, s) {
		char eta[32];

		table_row(&t);
		ctl_cell_key(&t, s, "user_set");
		ctl_cell_key(&t, s, "lane");
		table_cellf(&t, "%lld of %lld", num(s, "items"),
			    num(s, "items_total"));
		table_cellf(&t, "%.1f of %.1f MB", (double)num(s, "bytes") / MB,
			    (double)num(s, "bytes_total") / MB);
		table_cellf(&t, "%.1f MB/s, %.0f items/s",
			    real(s, "rate_bytes_s") / MB,
			    real(s, "rate_items_s"));
		eta_text(json_object_get(s, "eta_s"), eta, sizeof eta);
		table_cell(&t, eta + 4);
	}
	return ctl_render(ctl, &t);
}

/* Plain lines, one per seed (or the head when none runs). */
static void plain_lines(struct ctl *ctl, json_t *r)
{
	json_t *streams = json_object_get(r, "streams");
	json_t *s;
	size_t i;

	if (json_array_size(streams) == 0) {
		say_head(ctl, r);
		return;
	}
	json_array_foreach (streams, i, s) {
		char eta[32];

		eta_text(json_object_get(s, "eta_s"), eta, sizeof eta);
		ctl_say(ctl->out,
			"seed of %s %s lane to %s: %lld of %lld items, %.1f of "
			"%.1f MB, %.1f MB/s, %s",
			str(s, "user_set"), str(s, "lane"), str(r, "pool"),
			num(s, "items"), num(s, "items_total"),
			(double)num(s, "bytes") / MB,
			(double)num(s, "bytes_total") / MB,
			real(s, "rate_bytes_s") / MB, eta);
	}
	fflush(ctl->out);
}

/* The bar over every seed, redrawn in place. */
static void bar(struct ctl *ctl, json_t *r)
{
	json_t *streams = json_object_get(r, "streams");
	long long items = 0, items_total = 0, bytes = 0, bytes_total = 0;
	double rate = 0, frac;
	long long eta = 0;
	bool eta_known = true;
	char etabuf[32] = "eta unknown";
	json_t *s;
	size_t i;
	int done;

	json_array_foreach (streams, i, s) {
		json_t *e = json_object_get(s, "eta_s");

		items += num(s, "items");
		items_total += num(s, "items_total");
		bytes += num(s, "bytes");
		bytes_total += num(s, "bytes_total");
		rate += real(s, "rate_bytes_s");
		if (!json_is_integer(e))
			eta_known = false;
		else if (json_integer_value(e) > eta)
			eta = (long long)json_integer_value(e);
	}
	if (json_array_size(streams) == 0) {
		fprintf(ctl->out, "\r\033[K%s: %s, %s", str(r, "pool"),
			str(r, "state"),
			json_is_true(json_object_get(r, "caught_up"))
			    ? "caught up"
			    : "not caught up, no seed runs");
		fflush(ctl->out);
		return;
	}
	if (eta_known)
		snprintf(etabuf, sizeof etabuf, "eta %lld s", eta);
	frac = bytes_total > 0	 ? (double)bytes / (double)bytes_total
	       : items_total > 0 ? (double)items / (double)items_total
				 : 0;
	if (frac > 1)
		frac = 1;
	done = (int)(frac * BAR_WIDTH);
	fprintf(ctl->out, "\r\033[K[");
	for (int k = 0; k < BAR_WIDTH; k++)
		fputc(k < done ? '#' : '.', ctl->out);
	fprintf(ctl->out,
		"] %3.0f%%  %lld/%lld items  %.1f/%.1f MB  %.1f MB/s  %s",
		frac * 100.0, items, items_total, (double)bytes / MB,
		(double)bytes_total / MB, rate / MB, etabuf);
	fflush(ctl->out);
}

/* GET path as ctl_call(); with a bar on the line (drawn), an error is
 * said on a line of its own. */
static int poll_once(struct ctl *ctl, const char *path, json_t **r, bool drawn)
{
	struct ctl quiet = *ctl;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int rv;

	mem = drawn ? open_memstream(&buf, &len) : NULL;
	if (mem == NULL)
		return ctl_call(ctl, "GET", path, NULL, r);
	quiet.err = mem;
	rv = ctl_call(&quiet, "GET", path, NULL, r);
	fclose(mem);
	if (rv != CTL_OK) {
		fputc('\n', ctl->out);
		fflush(ctl->out);
	}
	if (buf != NULL)
		fputs(buf, ctl->err);
	free(buf);
	return rv;
}

int rebuild_cmd_status(struct ctl *ctl, const struct ctl_args *a)
{
	bool follow = a->opt[0] != NULL;
	bool tty = follow && !ctl->json && isatty(fileno(ctl->out));
	bool drawn = false; /* a bar is on the line: end it */
	char *path, *seg;
	json_t *r = NULL;
	int rv;

	seg = ctl_path_join("/v1/pools", a->pos[0]);
	path = seg != NULL ? malloc(strlen(seg) + sizeof "/rebuild") : NULL;
	if (path == NULL) {
		free(seg);
		return ctl_out_of_memory(ctl);
	}
	sprintf(path, "%s/rebuild", seg);
	free(seg);
	for (;;) {
		bool caught_up;

		rv = poll_once(ctl, path, &r, drawn);
		if (rv != CTL_OK) {
			drawn = false; /* the line was ended */
			break;
		}
		if (!json_is_object(r) ||
		    !json_is_string(json_object_get(r, "pool"))) {
			rv = ctl_bad_answer(ctl, "no rebuild figures");
			break;
		}
		caught_up = json_is_true(json_object_get(r, "caught_up"));
		if (!follow) {
			rv = ctl->json ? ctl_print_json(ctl, r) : show(ctl, r);
			break;
		}
		if (ctl->json)
			rv = ctl_print_json(ctl, r);
		else if (tty) {
			bar(ctl, r);
			drawn = true;
		} else if (!caught_up)
			plain_lines(ctl, r);
		if (caught_up) {
			if (drawn)
				fputc('\n', ctl->out);
			drawn = false;
			if (!ctl->json)
				ctl_say(ctl->out, "%s: caught up with %s",
					str(r, "pool"), str(r, "pair"));
			break;
		}
		if (!json_is_string(json_object_get(r, "pair"))) {
			if (drawn)
				fputc('\n', ctl->out);
			drawn = false;
			fprintf(ctl->err,
				"poolpairctl: %s is not paired: there is no "
				"pair to rebuild it from\n",
				a->pos[0]);
			rv = CTL_FAILED;
			break;
		}
		json_decref(r);
		r = NULL;
		usleep(tty ? TTY_POLL_US : PLAIN_POLL_US);
	}
	if (drawn)
		fputc('\n', ctl->out);
	json_decref(r);
	free(path);
	return rv;
}
