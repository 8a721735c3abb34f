/* fuzz_fsm_restore: arbitrary bytes as a snapshot (poolpair.State).
 *
 * Properties checked:
 *   - a refused snapshot leaves the state exactly as it was;
 *   - an accepted one gives a state whose snapshot restores again and
 *     snapshots to the same bytes;
 *   - every seed command (fuzz_cmd.h) then applies to the restored state
 *     without breaking anything AddressSanitizer or UBSan can see, and the
 *     state still round-trips. */
#include <errno.h>
#include <string.h>

#include "consensus/fsm.h"
#include "fuzz/fuzz_cmd.h"
#include "fuzz/fuzz_util.h"

#define MAX_SEEDS 64

static struct fsm base;
static void *base_snap;
static size_t base_snap_len;
static void *seeds[MAX_SEEDS];
static size_t seed_lens[MAX_SEEDS];
static size_t n_seeds;

static void keep_seed(void *arg, const char *name, const void *buf,
		      size_t len)
{
	if (n_seeds < MAX_SEEDS) {
		seeds[n_seeds] = fuzz_dup(buf, len);
		seed_lens[n_seeds] = len;
		n_seeds++;
	}
}

static void setup(void)
{
	fsm_init(&base);
	fuzz_state_populate(&base);
	FUZZ_CHECK(fsm_snapshot(&base, &base_snap, &base_snap_len) == 0,
		   "fsm_snapshot failed");
	fuzz_seed_commands(keep_seed, NULL);
}

static void round_trip(const struct fsm *f)
{
	static struct fsm g;
	void *s1, *s2;
	size_t l1, l2;

	FUZZ_CHECK(fsm_snapshot(f, &s1, &l1) == 0, "fsm_snapshot failed");
	fsm_init(&g);
	FUZZ_CHECK(fsm_restore(&g, s1, l1) == 0,
		   "fsm_restore refused the snapshot of a restored state");
	FUZZ_CHECK(fsm_snapshot(&g, &s2, &l2) == 0, "fsm_snapshot failed");
	FUZZ_CHECK(l1 == l2 && memcmp(s1, s2, l1) == 0,
		   "snapshot changed across restore (%zu vs %zu bytes)", l1,
		   l2);
	free(s1);
	free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fsm f;
	void *in = fuzz_dup(data, size);
	void *s;
	size_t len, i;
	int rv;

	if (base_snap == NULL) {
		setup();
	}
	memcpy(&f, &base, sizeof f);
	rv = fsm_restore(&f, in, size);
	free(in);
	if (rv != 0) {
		FUZZ_CHECK(rv == -EINVAL, "fsm_restore returned %d", rv);
		FUZZ_CHECK(fsm_snapshot(&f, &s, &len) == 0,
			   "fsm_snapshot failed");
		FUZZ_CHECK(len == base_snap_len &&
			       memcmp(s, base_snap, len) == 0,
			   "a refused snapshot changed the state");
		free(s);
		return 0;
	}
	round_trip(&f);
	for (i = 0; i < n_seeds; i++) {
		struct fsm_result res;
		int code = fsm_apply(&f, seeds[i], seed_lens[i], &res);

		FUZZ_CHECK(code >= 0 && code < FSM_CODE_COUNT, "code %d", code);
	}
	round_trip(&f);
	return 0;
}
