/* topology: `poolpairctl topology apply FILE [--dry-run]`.
 *
 * Loads a declarative topology (the TOPO object of docs/api.md) from a
 * file or stdin, checks that it is well-formed JSON, asks the server for
 * the diff against the current state (dry run), shows it, and, unless
 * told not to or there is nothing to change, commits it as one decision. */
#ifndef POOLPAIR_CTL_TOPOLOGY_H
#define POOLPAIR_CTL_TOPOLOGY_H

#include <jansson.h>
#include <stdio.h>

#include "agent/ctl/ctl.h"

/* Read the topology from path, or from in (borrowed) when path is "-".
 * Duplicate keys are refused. On success returns 0 and *topo is a JSON
 * object owned by the caller. On error returns -1, *topo is NULL and
 * errbuf (errlen bytes) holds a message: "cannot open PATH: REASON",
 * "PATH:LINE:COLUMN: REASON" for a syntax error, or "PATH: the topology
 * must be a json object". */
int topology_load(const char *path, FILE *in, json_t **topo, char *errbuf,
		  size_t errlen);

/* Write a diff (borrowed: the "diff" array of a POST /v1/topology answer)
 * to out, one line per entry: "+ WHAT" for an op starting with "add",
 * "- WHAT" for one starting with "remove", "~ WHAT" for any other.
 * Returns the number of entries (0 when diff is not an array). */
size_t topology_print_diff(json_t *diff, FILE *out);

/* The command. a->pos[0] is FILE or "-", a->opt[0] is set for
 * --dry-run. Returns CTL_OK, CTL_FAILED (unreadable or malformed file,
 * refused or failed request) or CTL_USAGE. */
int topology_apply(struct ctl *ctl, const struct ctl_args *a);

#endif
