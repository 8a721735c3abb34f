/* config_files: the files a configuration names, checked before the agent
 * starts (and by `poolpaird --check`), so that a key others can read, a
 * config others can change (it holds hook commands, run by the agent) or a
 * data directory others can write is refused rather than used:
 *
 *   config file  refused when writable by others; only warned about when
 *                its directory is writable by others without the sticky
 *                bit (anyone could replace it)
 *   [tls] key    refused when group or others have any access to it, or
 *                when another user than the agent's (effective uid) owns
 *                it; a key that cannot be found is left to the TLS
 *                context, which says so
 *   data_dir     refused when it is not a directory or is writable by
 *                others; created mode 0700 (with its missing parents, also
 *                0700) when missing and CONFIG_FILES_CREATE is given
 *
 * Messages say what to run: "tls key FILE is readable by group/others
 * (mode 0644): chmod 600 FILE". Blocking file I/O: call at start, never on
 * the event loop. Nothing here keeps a pointer to its arguments. */
#ifndef POOLPAIR_AGENT_CONFIG_FILES_H
#define POOLPAIR_AGENT_CONFIG_FILES_H

#include <stddef.h>

#include "agent/config.h"

enum config_files_flag {
	CONFIG_FILES_CREATE = 1, /* create a missing data_dir (mode 0700) */
};

/* Check the files of c (borrowed) as above; flags are enum
 * config_files_flag bits. Returns 0 with warn (warnlen bytes) set to one
 * warning or "", or -1 with err (errlen bytes) set to the first refusal.
 * err and warn are always NUL-terminated. */
int config_check_files(const struct config *c, unsigned flags, char *err,
		       size_t errlen, char *warn, size_t warnlen);

#endif
