/* loadgen's modes (see loadgen.h) as phases: load is one closed-loop phase
 * (users 0..N-1), model one open-loop phase of --duration s at --active x
 * --per-user-min / 60 writes/s, ramp one phase per rate of --rates, --step
 * s each, stopping after the first whose lag p99 is 1 s or more or whose
 * answered rate is under 95 % of the offered one. A 1 ms tick offers the
 * writes that are due, ends the offer when the phase's time (or user
 * count) is over, waits for the outstanding answers and then up to
 * LG_DRAIN_MS for west's acknowledgements, reports the phase (a JSON line
 * on stdout unless --json, which prints the whole run at the end) and
 * starts the next one or stops. The run fails when it lasts longer than
 * --deadline; a request with no answer within --timeout-ms fails it too
 * (hclient's deadline, lg_req.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen.h"

static void phase_start(struct lg *g, const char *name, double offered)
{
	free(g->ph.wlat.v);
	free(g->ph.lag.v);
	memset(&g->ph, 0, sizeof g->ph);
	g->ph.name = name;
	g->ph.offered = offered;
	g->ph.t_start = lg_now_ns();
	g->ph.acked_at_start = g->acked;
	lg_proc_mark_all(g, g->ph.mark0);
	g->ph.self_cpu0 = lg_self_cpu_s();
	g->offering = true;
	g->draining = false;
	if (offered > 0)
		fprintf(stderr, "loadgen: %s at %.0f/s\n", name, offered);
	else
		fprintf(stderr, "loadgen: %s\n", name);
}

static bool phase_end(struct lg *g)
{
	struct lg_phase *p = &g->ph;
	json_t *j;
	bool go_on = true;

	p->t_end = lg_now_ns();
	p->acked_at_end = g->acked;
	p->unacked = g->heap_n;
	lg_proc_mark_all(g, p->mark1);
	p->self_cpu1 = lg_self_cpu_s();
	/* what was not acked counts as lag up to now, so a stuck stream
	 * shows in the percentiles */
	while (g->heap_n > 0) {
		struct lg_pending q = lg_heap_pop(g);
		if (lg_samples_add(&p->lag,
				   (double)(p->t_end - q.t_answer) / 1e6) != 0)
			lg_fail(g, "out of memory");
	}
	j = lg_phase_json(g);
	if (j == NULL) {
		lg_fail(g, "out of memory");
		return false;
	}
	if (!g->o.json) {
		char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
		printf("%s\n", s ? s : "");
		fflush(stdout);
		free(s);
	}
	if (g->o.mode == MODE_RAMP) {
		double ans =
		    json_real_value(json_object_get(j, "answered_per_s"));
		double p99 = json_real_value(json_object_get(j, "lag_p99_ms"));
		json_object_set_new(j, "within_target",
				    json_boolean(p99 < 1000.0 &&
						 ans >= 0.95 * p->offered &&
						 p->unacked == 0));
		if (!(p99 < 1000.0 && ans >= 0.95 * p->offered))
			go_on = false;
	} else {
		go_on = false;
	}
	json_array_append_new(json_object_get(g->out, "phases"), j);
	return go_on;
}

static void next_phase(struct lg *g)
{
	switch (g->o.mode) {
	case MODE_LOAD:
		phase_start(g, "load users", 0);
		break;
	case MODE_MODEL:
		phase_start(g, "user model",
			    (double)g->o.active * g->o.per_user_min / 60.0);
		break;
	case MODE_RAMP:
		phase_start(g, "ramp", g->o.rates[g->rate_idx]);
		break;
	}
}

static void on_tick(uv_timer_t *t)
{
	struct lg *g = t->data;
	uint64_t now = lg_now_ns();
	struct lg_phase *p = &g->ph;

	if (g->failed) {
		lg_stop(g);
		return;
	}
	if ((now - g->t_run0) / 1000000000ULL >= g->o.deadline_s) {
		lg_fail(g, "run longer than %u s", g->o.deadline_s);
		lg_stop(g);
		return;
	}
	if (g->offering) {
		bool done;
		if (g->o.mode == MODE_LOAD)
			done = g->next_user >= g->o.users;
		else if (g->o.mode == MODE_MODEL)
			done = now - p->t_start >=
			       (uint64_t)g->o.duration_s * 1000000000ULL;
		else
			done = now - p->t_start >=
			       (uint64_t)g->o.step_s * 1000000000ULL;
		if (done) {
			g->offering = false;
			g->draining = true;
		} else {
			lg_dispatch(g);
		}
	}
	if (g->draining && g->inflight == 0) {
		if (p->t_end_offer == 0)
			p->t_end_offer = now;
		if (g->heap_n == 0 || now - p->t_end_offer >=
					  (uint64_t)LG_DRAIN_MS * 1000000ULL) {
			g->draining = false;
			bool go_on = phase_end(g);
			if (go_on && g->o.mode == MODE_RAMP &&
			    g->rate_idx + 1 < g->o.n_rates) {
				g->rate_idx++;
				next_phase(g);
			} else {
				lg_stop(g);
			}
		}
	}
}

static void on_closed(uv_handle_t *h) { (void)h; }

void lg_stop(struct lg *g)
{
	if (g->stopping)
		return;
	g->stopping = true;
	uv_timer_stop(&g->tick);
	uv_timer_stop(&g->poll_timer);
	uv_close((uv_handle_t *)&g->tick, on_closed);
	uv_close((uv_handle_t *)&g->poll_timer, on_closed);
	if (g->client_open)
		hclient_close(&g->client, NULL);
}

void lg_mode_start(struct lg *g)
{
	next_phase(g);
	uv_timer_start(&g->tick, on_tick, LG_TICK_MS, LG_TICK_MS);
}
