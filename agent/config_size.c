/* config_size: sizes in the configuration file ([store] reserve), see
 * config.h. */
#include "agent/config.h"
#include "agent/config_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int config_parse_size(const char *s, uint64_t *bytes, unsigned *percent)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {{"", 0},	  {"K", 10},   {"KiB", 10},
		     {"M", 20},	  {"MiB", 20}, {"G", 30},
		     {"GiB", 30}, {"T", 40},   {"TiB", 40}};
	uint64_t v = 0;
	const char *p = s;
	size_t i;
	int rv;

	rv = config_number_start(s);
	if (rv != 0)
		return rv;
	for (; config_is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return CONFIG_E_OVERFLOW;
		v = v * 10 + d;
	}
	if (strcmp(p, "%") == 0) {
		if (percent == NULL)
			return CONFIG_E_INVALID;
		if (v < 1 || v > CONFIG_RESERVE_PERCENT_MAX)
			return CONFIG_E_RANGE;
		*percent = (unsigned)v;
		*bytes = 0;
		return 0;
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(p, units[i].suffix) != 0)
			continue;
		if (v > (UINT64_MAX >> units[i].shift))
			return CONFIG_E_OVERFLOW;
		*bytes = v << units[i].shift;
		if (percent != NULL)
			*percent = 0;
		return 0;
	}
	return CONFIG_E_INVALID;
}

int config_set_reserve(struct parse *p, const struct key_def *k,
		       const char *value)
{
	uint64_t bytes;
	unsigned percent;
	int rv = config_parse_size(value, &bytes, &percent);
	const char *why;

	switch (rv) {
	case 0:
		p->c->store_reserve = bytes;
		p->c->store_reserve_percent = percent;
		return 0;
	case CONFIG_E_NEGATIVE:
		why = "negative size";
		break;
	case CONFIG_E_OVERFLOW:
		why = "too large";
		break;
	case CONFIG_E_RANGE:
		why = "a percentage must be 1% to 50%";
		break;
	default:
		why = "expected a size such as 0, 512MiB, 2GiB or a "
		      "percentage of the filesystem such as 1%";
		break;
	}
	config_fail(p, rv, p->lineno, "bad [%s] %s %s: %s",
		    config_section_names[k->section], k->name,
		    config_quote(value).s, why);
	return rv;
}
