/* users: the poolpairctl commands on users (see users.h). */
#include "agent/ctl/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/data.h"
#include "agent/ctl/status.h"

int users_kind_valid(const char *kind)
{
	return strcmp(kind, "profile") == 0 || strcmp(kind, "contacts") == 0 ||
	       strcmp(kind, "settings") == 0;
}

int users_cmd_enable(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *pool = a->opt[0];
	json_t *body;
	json_t *resp;
	int rv;

	if (data_check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	if (pool == NULL)
		return ctl_usage_error(ctl, a, "missing --pool");
	if (data_check_segment(ctl, a, "--pool", pool) != CTL_OK)
		return CTL_USAGE;
	body = json_pack("{s:s, s:s}", "sip", sip, "pool", pool);
	if (body == NULL)
		return ctl_out_of_memory(ctl);
	rv = data_call(ctl, "POST", "/v1/users", body, &resp);
	json_decref(body);
	if (rv != CTL_OK)
		return rv;
	return data_write_done(ctl, resp, "enabled %s on %s", sip, pool);
}

int users_cmd_disable(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	char *path;
	json_t *resp;
	int rv;

	if (data_check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	path = data_user_path(sip, 0);
	if (path == NULL)
		return ctl_out_of_memory(ctl);
	rv = data_call(ctl, "DELETE", path, NULL, &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	return data_write_done(ctl, resp, "disabled %s", sip);
}

int users_cmd_set(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *kind = a->pos[1];
	json_t *value;
	json_t *resp;
	int rv;

	if (data_check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	if (!users_kind_valid(kind))
		return ctl_usage_error(ctl, a,
				       "bad kind '%s' (profile, contacts or "
				       "settings)",
				       kind);
	rv = data_load_value(ctl, a, &value);
	if (rv != CTL_OK)
		return rv;
	rv = data_put_value(ctl, data_user_path(sip, 1, kind), value, &resp);
	if (rv != CTL_OK)
		return rv;
	return data_write_done(ctl, resp, "stored %s of %s", kind, sip);
}

int users_cmd_get(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *kind = a->pos[1];

	if (data_check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	if (!users_kind_valid(kind))
		return ctl_usage_error(ctl, a,
				       "bad kind '%s' (profile, contacts or "
				       "settings)",
				       kind);
	return data_get_value(ctl, data_user_path(sip, 1, kind));
}

int users_cmd_locate(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const rows[][2] = {
	    {"sip", "sip"},
	    {"home pool", "home_pool"},
	    {"enabled", "enabled"},
	    {"owner", "owner"},
	    {"owner api", "owner_api"},
	    {"epoch", "epoch"},
	};
	const char *sip = a->pos[0];
	char *path;
	json_t *resp;
	size_t i;
	int rv;

	if (data_check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	path = data_user_path(sip, 1, "location");
	if (path == NULL)
		return ctl_out_of_memory(ctl);
	rv = data_call(ctl, "GET", path, NULL, &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	if (ctl->json) {
		rv = ctl_print_json(ctl, resp);
		json_decref(resp);
		return rv;
	}
	if (!json_is_object(resp)) {
		json_decref(resp);
		return ctl_bad_answer(ctl, "not an object");
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *v = json_object_get(resp, rows[i][1]);
		char num[32];
		const char *text = "-";

		if (json_is_string(v) && json_string_length(v) > 0)
			text = json_string_value(v);
		else if (json_is_integer(v))
			text =
			    data_int_text(resp, rows[i][1], num, sizeof(num));
		else if (json_is_boolean(v))
			text = json_is_true(v) ? "yes" : "no";
		ctl_say(ctl->out, "%-10s %s", rows[i][0], text);
	}
	json_decref(resp);
	return CTL_OK;
}
