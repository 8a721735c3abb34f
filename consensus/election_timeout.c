/* election_timeout: the election timeout scaled to the round trip (see
 * election_timeout.h). */
#include "consensus/election_timeout.h"

unsigned election_timeout_wanted(uint64_t srtt_us, uint64_t rttvar_us)
{
	uint64_t us;

	if (srtt_us == 0)
		return 0;
	if (srtt_us > UINT32_MAX || rttvar_us > UINT32_MAX)
		return UINT32_MAX;
	us = ELECTION_TIMEOUT_K * (srtt_us + 4 * rttvar_us);
	return (unsigned)((us + 999) / 1000);
}

unsigned election_timeout_next(unsigned configured_ms, unsigned current_ms,
			       uint64_t srtt_us, uint64_t rttvar_us)
{
	uint64_t ceil = (uint64_t)ELECTION_TIMEOUT_CEIL * configured_ms;
	uint64_t want = election_timeout_wanted(srtt_us, rttvar_us);
	uint64_t cur = current_ms;
	uint64_t step;

	if (want < configured_ms)
		want = configured_ms;
	if (want > ceil)
		want = ceil;
	if (cur < configured_ms || cur > ceil)
		cur = cur < configured_ms ? configured_ms : ceil;
	if (want >= cur)
		return (unsigned)want; /* rising: at once */
	step = (cur - want) / ELECTION_TIMEOUT_DECAY;
	if (step == 0)
		step = 1;
	return (unsigned)(cur - step);
}
