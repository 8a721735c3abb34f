/* topology: load, diff and apply a declarative topology. */
#include "agent/ctl/topology.h"

#include <errno.h>
#include <string.h>

int topology_load(const char *path, FILE *in, json_t **topo, char *errbuf,
		  size_t errlen)
{
	const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
	FILE *f = in;
	json_error_t jerr;
	json_t *v;
	int read_errno = 0;

	*topo = NULL;
	if (strcmp(path, "-") != 0) {
		f = fopen(path, "r");
		if (f == NULL) {
			snprintf(errbuf, errlen, "cannot open %s: %s", name,
				 strerror(errno));
			return -1;
		}
	}
	errno = 0;
	v = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL && ferror(f))
		read_errno = errno != 0 ? errno : EIO;
	if (f != in)
		fclose(f);
	if (v == NULL) {
		if (read_errno != 0)
			snprintf(errbuf, errlen, "cannot read %s: %s", name,
				 strerror(read_errno));
		else
			snprintf(errbuf, errlen, "%s:%d:%d: %s", name,
				 jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		snprintf(errbuf, errlen,
			 "%s: the topology must be a json object", name);
		return -1;
	}
	*topo = v;
	return 0;
}

size_t topology_print_diff(json_t *diff, FILE *out)
{
	json_t *d;
	size_t i;

	if (!json_is_array(diff))
		return 0;
	json_array_foreach (diff, i, d) {
		const char *op = json_string_value(json_object_get(d, "op"));
		const char *what =
		    json_string_value(json_object_get(d, "what"));
		const char *sign = "~";

		if (op != NULL && strncmp(op, "add", 3) == 0)
			sign = "+";
		else if (op != NULL && strncmp(op, "remove", 6) == 0)
			sign = "-";
		if (what == NULL || what[0] == '\0')
			what = op != NULL ? op : "(unnamed change)";
		ctl_say(out, "%s %s", sign, what);
	}
	return json_array_size(diff);
}

/* POST {"topology": topo, "dry_run": dry_run}; on CTL_OK *resp is an
 * object with a "diff" array (owned by the caller). */
static int topology_post(struct ctl *ctl, json_t *topo, int dry_run,
			 json_t **resp)
{
	json_t *body =
	    json_pack("{s:O, s:b}", "topology", topo, "dry_run", dry_run);
	int rv;

	*resp = NULL;
	if (body == NULL) {
		ctl_say(ctl->err, "poolpairctl: out of memory");
		return CTL_FAILED;
	}
	rv = ctl_call(ctl, "POST", "/v1/topology", body, resp);
	json_decref(body);
	if (rv != CTL_OK)
		return rv;
	if (!json_is_array(json_object_get(*resp, "diff"))) {
		json_decref(*resp);
		*resp = NULL;
		ctl_say(ctl->err, "poolpairctl: bad answer: no 'diff' list");
		return CTL_FAILED;
	}
	return CTL_OK;
}

int topology_apply(struct ctl *ctl, const struct ctl_args *a)
{
	int dry_run = a->opt[0] != NULL;
	char errbuf[512];
	json_t *topo;
	json_t *plan;
	json_t *done;
	json_t *decision;
	int rv;

	if (topology_load(a->pos[0], stdin, &topo, errbuf, sizeof(errbuf)) !=
	    0) {
		ctl_say(ctl->err, "poolpairctl: %s", errbuf);
		return CTL_FAILED;
	}
	rv = topology_post(ctl, topo, 1, &plan);
	if (rv != CTL_OK)
		goto out;
	if (json_array_size(json_object_get(plan, "diff")) == 0 || dry_run) {
		if (ctl->json)
			rv = ctl_print_json(ctl, plan);
		else if (topology_print_diff(json_object_get(plan, "diff"),
					     ctl->out) == 0)
			ctl_say(ctl->out, "nothing to change");
		else
			ctl_say(ctl->out, "dry run: nothing applied");
		goto out_after_plan;
	}
	if (!ctl->json)
		topology_print_diff(json_object_get(plan, "diff"), ctl->out);

	rv = topology_post(ctl, topo, 0, &done);
	if (rv != CTL_OK)
		goto out_after_plan;
	if (ctl->json) {
		rv = ctl_print_json(ctl, done);
		goto out_after_done;
	}
	if (!json_is_true(json_object_get(done, "applied"))) {
		ctl_say(ctl->out, "nothing to change (the cluster already "
				  "matches the topology)");
		goto out_after_done;
	}
	if (!json_equal(json_object_get(plan, "diff"),
			json_object_get(done, "diff"))) {
		ctl_say(ctl->out, "the state changed meanwhile; applied:");
		topology_print_diff(json_object_get(done, "diff"), ctl->out);
	}
	decision = json_object_get(done, "decision");
	if (json_is_integer(decision))
		ctl_say(ctl->out, "applied as decision %" JSON_INTEGER_FORMAT,
			json_integer_value(decision));
	else
		ctl_say(ctl->out, "applied");

out_after_done:
	json_decref(done);
out_after_plan:
	json_decref(plan);
out:
	json_decref(topo);
	return rv;
}
