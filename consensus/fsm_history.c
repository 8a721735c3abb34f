/* fsm_history: the record of decisions: a ring of the most recent ones and,
 * behind it, the kept ones (forced, or of a kept kind) that left the ring,
 * up to FSM_HISTORY_KEPT; reading one entry and reading by pages. */
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"

/* The i-th kept entry, oldest first (i < f->n_kept). */
static const struct fsm_history *kept_at(const struct fsm *f, unsigned i)
{
	return &f->kept[(f->kept_head + i) % FSM_HISTORY_KEPT];
}

/* Append h (it just left the ring) to the kept entries; at the cap the
 * oldest is dropped and counted. */
static void kept_push(struct fsm *f, const struct fsm_history *h)
{
	if (f->n_kept == FSM_HISTORY_KEPT) {
		f->kept_head = (f->kept_head + 1) % FSM_HISTORY_KEPT;
		f->n_kept--;
		f->kept_dropped++;
	}
	f->kept[(f->kept_head + f->n_kept) % FSM_HISTORY_KEPT] = *h;
	f->n_kept++;
}

void fsm_history_record(struct fsm *f, uint64_t time_ms, const char *who,
			size_t who_len, const struct outcome *o,
			struct fsm_result *res)
{
	struct fsm_history *h;

	f->decisions++;
	h = &f->history[(f->decisions - 1) % FSM_HISTORY];
	if (h->seq != 0 && h->kept)
		kept_push(f, h);
	memset(h, 0, sizeof(*h));
	h->seq = f->decisions;
	h->time_ms = time_ms;
	fsm_text_copy(h->who, sizeof(h->who), who, who_len);
	strcpy(h->what, o->what);
	h->code = o->code;
	strcpy(h->reason, o->reason);
	h->forced = o->forced;
	h->kept = o->code == FSM_OK && (o->forced || o->keep);
	h->data_at_risk_records = o->risk_records;
	h->data_at_risk_bytes = o->risk_bytes;
	h->data_at_risk_ms = o->risk_ms;
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->code = o->code;
		if (o->code != FSM_OK)
			strcpy(res->reason, o->reason);
		res->seq = h->seq;
	}
}

/* Index of the newest kept entry with seq <= seq, or -1. */
static long kept_floor(const struct fsm *f, uint64_t seq)
{
	long lo = 0, hi = (long)f->n_kept - 1, found = -1;

	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;

		if (kept_at(f, (unsigned)mid)->seq <= seq) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

const struct fsm_history *fsm_history_get(const struct fsm *f, uint64_t seq)
{
	const struct fsm_history *h;
	long k;

	if (seq == 0 || seq > f->decisions)
		return NULL;
	h = &f->history[(seq - 1) % FSM_HISTORY];
	if (h->seq == seq)
		return h;
	k = kept_floor(f, seq);
	if (k >= 0 && kept_at(f, (unsigned)k)->seq == seq)
		return kept_at(f, (unsigned)k);
	return NULL;
}

size_t fsm_history_page(const struct fsm *f, uint64_t before,
			const struct fsm_history **out, size_t max)
{
	uint64_t first = f->decisions > FSM_HISTORY
			     ? f->decisions - FSM_HISTORY + 1
			     : 1;
	uint64_t seq = before == 0 || before > f->decisions ? f->decisions
							     : before - 1;
	size_t n = 0;
	long k;

	/* the ring, newest first: seqs first..decisions */
	for (; n < max && seq >= first && seq > 0; seq--) {
		const struct fsm_history *h =
		    &f->history[(seq - 1) % FSM_HISTORY];

		if (h->seq == seq)
			out[n++] = h;
	}
	/* then the kept entries older than that (all of them left it) */
	for (k = kept_floor(f, seq); n < max && k >= 0; k--)
		out[n++] = kept_at(f, (unsigned)k);
	return n;
}
