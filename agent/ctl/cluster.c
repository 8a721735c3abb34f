/* cluster: the poolpairctl commands on members, sites and the CMS (see
 * cluster.h). */
#include "agent/ctl/cluster.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/ctl/status.h"
#include "agent/ctl/table.h"

/* ---- members ---------------------------------------------------------- */

int cluster_cmd_member_list(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	json_t *list;
	int rv = ctl_get_list(ctl, "/v1/members", "members", &resp, &list);

	if (rv != CTL_OK || list == NULL)
		return rv;
	if (json_array_size(list) == 0)
		ctl_say(ctl->out, "no members");
	else
		rv = ctl_render_members(ctl, list);
	json_decref(resp);
	return rv;
}

static int parse_member_id(const char *s, unsigned long long *id)
{
	return ctl_parse_uint(s, INT64_MAX, id) != 0 || *id == 0 ? -1 : 0;
}

int cluster_cmd_member_add(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const roles[] = {"voter", "standby", "spare", NULL};
	const char *role = a->opt[0];
	unsigned long long id;
	json_t *body;
	json_t *resp;
	int rv;

	if (parse_member_id(a->pos[0], &id) != 0)
		return ctl_usage_error(
		    ctl, a, "bad member id '%s' (a number > 0)", a->pos[0]);
	if (a->pos[1][0] == '\0')
		return ctl_usage_error(ctl, a, "empty address");
	if (ctl_args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	if (role != NULL && !ctl_one_of(role, roles))
		return ctl_usage_error(ctl, a,
				       "bad --role '%s' (voter, standby or "
				       "spare)",
				       role);
	body =
	    json_pack("{s:I, s:s}", "id", (json_int_t)id, "address", a->pos[1]);
	if (body != NULL && role != NULL &&
	    json_object_set_new(body, "role", json_string(role)) != 0) {
		json_decref(body);
		body = NULL;
	}
	if (body == NULL)
		return ctl_out_of_memory(ctl);
	rv = ctl_call(ctl, "POST", "/v1/members", body, &resp);
	json_decref(body);
	if (rv != CTL_OK)
		return rv;
	return ctl_write_done(
	    ctl, resp,
	    "member %llu (%s) added; it becomes %s once it has "
	    "caught up",
	    id, a->pos[1], role != NULL ? role : "voter or standby");
}

int cluster_cmd_member_remove(struct ctl *ctl, const struct ctl_args *a)
{
	unsigned long long id;
	char path[64];
	json_t *resp;
	int rv;

	if (parse_member_id(a->pos[0], &id) != 0)
		return ctl_usage_error(
		    ctl, a, "bad member id '%s' (a number > 0)", a->pos[0]);
	snprintf(path, sizeof(path), "/v1/members/%llu", id);
	rv = ctl_call(ctl, "DELETE", path, NULL, &resp);
	if (rv != CTL_OK)
		return rv;
	return ctl_write_done(ctl, resp, "member %llu removed", id);
}

/* ---- sites ------------------------------------------------------------ */

int cluster_cmd_site_add(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *resp;
	int rv;

	if (ctl_args_utf8(ctl, a) != CTL_OK)
		return CTL_USAGE;
	rv = ctl_post_owned(ctl, "/v1/sites",
			    json_pack("{s:s}", "name", a->pos[0]), &resp);
	if (rv != CTL_OK)
		return rv;
	return ctl_write_done(ctl, resp, "site %s added", a->pos[0]);
}

int cluster_cmd_site_list(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const hdr[] = {"SITE"};
	struct table t;
	json_t *resp;
	json_t *list;
	json_t *v;
	size_t i;
	int rv = ctl_get_list(ctl, "/v1/sites", "sites", &resp, &list);

	if (rv != CTL_OK || list == NULL)
		return rv;
	if (json_array_size(list) == 0) {
		ctl_say(ctl->out, "no sites");
		json_decref(resp);
		return CTL_OK;
	}
	if (table_init(&t, 1, hdr) != 0) {
		json_decref(resp);
		return ctl_out_of_memory(ctl);
	}
	json_array_foreach (list, i, v) {
		table_row(&t);
		ctl_cell_json(&t, v);
	}
	rv = ctl_render(ctl, &t);
	json_decref(resp);
	return rv;
}

int cluster_cmd_site_remove(struct ctl *ctl, const struct ctl_args *a)
{
	return ctl_delete_named(ctl, "/v1/sites", a->pos[0], "site %s removed");
}

/* ---- the CMS ---------------------------------------------------------- */

int cluster_cmd_cms_show(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *cms;
	int rv = ctl_call(ctl, "GET", "/v1/cms", NULL, &cms);

	if (rv != CTL_OK)
		return rv;
	if (ctl->json)
		rv = ctl_print_json(ctl, cms);
	else if (!json_is_object(cms))
		rv = ctl_bad_answer(ctl, "cms is not an object");
	else
		ctl_say_cms(ctl, "cms: ", cms);
	json_decref(cms);
	return rv;
}
