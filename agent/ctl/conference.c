/* conference: the poolpairctl commands on conferences (see
 * conference.h). */
#include "agent/ctl/conference.h"

#include "agent/ctl/data.h"

int conference_cmd_schedule(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *id = a->pos[1];
	json_t *value;
	json_t *resp;
	int rv;

	if (data_check_sip(ctl, a, sip) != CTL_OK ||
	    data_check_segment(ctl, a, "conference id", id) != CTL_OK)
		return CTL_USAGE;
	rv = data_load_value(ctl, a, &value);
	if (rv != CTL_OK)
		return rv;
	rv = data_put_value(ctl, data_user_path(sip, 2, "conferences", id),
			    value, &resp);
	if (rv != CTL_OK)
		return rv;
	return data_write_done(ctl, resp, "scheduled conference %s of %s", id,
			       sip);
}

int conference_cmd_get(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *id = a->pos[1];

	if (data_check_sip(ctl, a, sip) != CTL_OK ||
	    data_check_segment(ctl, a, "conference id", id) != CTL_OK)
		return CTL_USAGE;
	return data_get_value(ctl, data_user_path(sip, 2, "conferences", id));
}
