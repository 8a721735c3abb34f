/* poolpairctl: command-line client of the poolpair HTTP API.
 *
 * main only reads the command line: global options, the command and its
 * arguments; then it hands the parsed arguments to the command (see
 * commands.h), which speaks HTTP through client.h. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/ctl/client.h"
#include "agent/ctl/commands.h"

static const char usage_text[] =
    "NAME\n"
    "    poolpairctl - control a poolpair cluster\n"
    "\n"
    "SYNOPSIS\n"
    "    poolpairctl [--api URL] [--json] [--timeout SECONDS]\n"
    "                [--ca FILE --cert FILE --key FILE] [--crl FILE]\n"
    "                COMMAND ...\n"
    "    poolpairctl help | --help\n"
    "\n"
    "DESCRIPTION\n"
    "    poolpairctl talks to any agent of a poolpair cluster over its HTTP\n"
    "    API. Reads are answered by the agent asked; a write sent to a\n"
    "    follower is redirected (307) to the Raft leader and poolpairctl\n"
    "    repeats it there, at most 5 times: only to the API address of a\n"
    "    member (GET /v1/members), never from https:// to http://. Every\n"
    "    write is recorded in the history with the caller USER@HOST.\n"
    "\n"
    "OPTIONS\n"
    "    --api URL          agent to talk to (default: $POOLPAIR_API, else\n"
    "                       http://127.0.0.1:7101)\n"
    "    --json             print the server's JSON answer instead of text\n"
    "    --timeout SECONDS  give up on a request after SECONDS (default 10)\n"
    "    --ca FILE          CA certificate the agents' certificates must\n"
    "                       verify against (https:// with [tls] agents);\n"
    "                       a server's certificate must have role agent\n"
    "    --cert FILE        our certificate (PEM), role operator to change\n"
    "                       things, reader to look\n"
    "    --key FILE         its private key (PEM)\n"
    "    --crl FILE         CRL of the CA (PEM, poolpair-cert crl): an\n"
    "                       agent whose certificate it revokes is refused\n"
    "    --help             print this text\n"
    "    Global options may also follow the command.\n"
    "\n";

/* The commands (one literal would be too long for C99). */
static const char usage_text_cmds[] =
    "COMMANDS\n"
    "    status\n"
    "        Cluster (leader, term, commit and applied index), members,\n"
    "        sites, pools, SBAs (backup pool down, resiliency mode), backup\n"
    "        figures per direction and category (live, or as reported and\n"
    "        how long ago), CMS and failover policy.\n"
    "\n"
    "    member list\n"
    "    member add ID ADDRESS [--role voter|standby|spare]\n"
    "        Add Raft member ID at its Raft address HOST:PORT. It joins as\n"
    "        spare and is made voter or standby once it has caught up.\n"
    "    member remove ID\n"
    "\n"
    "    site add NAME\n"
    "    site list\n"
    "    site remove NAME\n"
    "\n"
    "    pool add NAME --site S --edition enterprise|standard\n"
    "             --kind physical|virtual --os OS [--capacity N]\n"
    "        Define a Front End pool. The first pool hosts the active CMS.\n"
    "    pool list\n"
    "    pool remove NAME\n"
    "    pool pause NAME [--reason TEXT]\n"
    "    pool resume NAME [--reason TEXT]\n"
    "        Suspend (resume) automatic failover of a pool for planned\n"
    "        work (a committed decision; manual failover stays allowed).\n"
    "    pool writer POOL MEMBER\n"
    "        Make agent MEMBER the writer of POOL (the other agents of\n"
    "        POOL are its standbys). While POOL serves its own users only\n"
    "        its synchronous standby may become the writer (refused\n"
    "        otherwise: \"MEMBER is not caught up\").\n"
    "\n"
    "    pair A B [--force] [--mode async|sync] [--sync-timeout D]\n"
    "        Pair pools A and B. They must differ in site and match in\n"
    "        edition, kind and OS; --force pairs them anyway and the pair\n"
    "        stays marked unsupported. --mode: how writes to either pool\n"
    "        are answered (default async); --sync-timeout: how long a\n"
    "        sync write waits for the pair (default 2s).\n"
    "    pair mode POOL async|sync [--sync-timeout D]\n"
    "        Change the replication mode of POOL's pair, for both pools,\n"
    "        live. D is a duration: 1500ms, 2s, 1m (up to 1h).\n"
    "    unpair POOL\n"
    "\n"
    "    sba add NAME --site S --backup-pool POOL\n"
    "    sba list\n"
    "    sba remove NAME\n"
    "\n"
    "    cms show\n"
    "        Active and standby pool of the CMS and its epoch.\n"
    "\n"
    "    topology apply FILE [--dry-run]\n"
    "        FILE (or - for stdin) holds the whole wanted topology as JSON:\n"
    "        {\"sites\": [...], \"pools\": [...], \"pairs\": [...],\n"
    "         \"sbas\": [...], \"cms\": POOL, \"policy\": {...}}.\n"
    "        A pair may name its \"mode\" and \"sync_timeout_ms\".\n"
    "        Shows the difference to the cluster (+ add, - remove,\n"
    "        ~ change), then commits it as one decision unless --dry-run\n"
    "        is given or nothing changes.\n"
    "\n"
    "    history [--limit N] [--before SEQ]\n"
    "        N decisions (1 to 1000, default 50) before decision SEQ\n"
    "        (default: the newest), shown oldest first, with who asked,\n"
    "        refusals with their reason, forced ones and the data at\n"
    "        risk a move named. Forced and disaster decisions and\n"
    "        recoveries are kept beyond the 256 most recent. For the\n"
    "        page before, give --before the oldest SEQ shown.\n"
    "\n";

/* The disaster recovery commands (one literal would be too long for
 * C99). */
static const char usage_text_dr[] =
    "DISASTER RECOVERY COMMANDS\n"
    "    These go to the Raft leader (a follower redirects them). With\n"
    "    --what-if nothing changes: the answer says whether the move is\n"
    "    allowed and why, planned or disaster, whether the CMS moves and\n"
    "    the data at risk; the exit status is 0 when allowed, else 1.\n"
    "\n"
    "    failover POOL [--disaster] [--what-if] [--force]\n"
    "        Move POOL's users to its pair. A planned failover (POOL\n"
    "        alive) stops its writes and drains its changes first: nothing\n"
    "        is lost. --disaster skips the drain for a pool that is gone\n"
    "        (once its lease ran out; --force does not wait). Waits up to\n"
    "        60 s for the outcome.\n"
    "    failback POOL [--what-if] [--force]\n"
    "        Move POOL's users home once it is recovering and has caught\n"
    "        up (refused not_caught_up with the lag; --force anyway).\n"
    "    pool rebuild-status POOL [--follow]\n"
    "        Any agent answers (no move): where the rebuild of POOL's\n"
    "        store from its pair stands (lost with its disk, seeded from\n"
    "        the pair): per seed items, bytes, rate and time left, and\n"
    "        whether POOL has caught up, as failback wants. --follow:\n"
    "        until it has caught up (exit 0), a progress bar on a\n"
    "        terminal, else a line per seed every 2 s.\n"
    "    cms failover [--disaster] [--what-if] [--force]\n"
    "        Move the active CMS to its standby pool. Planned while the\n"
    "        pool hosting it is alive: its CMS writes stop and drain to\n"
    "        the standby, then it moves (nothing lost). --disaster when\n"
    "        that pool is gone: it moves once its lease ran out (--force\n"
    "        does not wait), recorded forced with the data at risk.\n"
    "    backup verify POOL [--no-repair]\n"
    "        Compare both copies of POOL's user set and repair the\n"
    "        backup copy from the owner's; exit 1 when they still differ.\n"
    "        May take up to about 2 minutes.\n"
    "    recover --force-quorum\n"
    "        On a survivor when the majority of voters is lost for good:\n"
    "        make a new Raft configuration from the members it hears.\n"
    "        Decisions it never received are lost.\n"
    "\n";

/* The rest of usage_text (one literal would be too long for C99). */
static const char usage_text_data[] =
    "DATA PLANE COMMANDS\n"
    "    These go to the agent of a pool. A write is accepted only by the\n"
    "    agent that owns the user's user set; another agent refuses it\n"
    "    (\"not the owner: ask HOST:PORT\"). Writes print the epoch and\n"
    "    sequence number they were stored under.\n"
    "\n"
    "    user enable SIP --pool POOL\n"
    "        Home user SIP (sip:user@host) on POOL.\n"
    "    user disable SIP\n"
    "    user set SIP profile|contacts|settings (--value JSON | --file "
    "FILE|-)\n"
    "        Store a JSON value (at most 1 MiB), checked before it is\n"
    "        sent.\n"
    "    user get SIP profile|contacts|settings\n"
    "        Print the value on stdout and \"epoch E, seq S, copy\n"
    "        own|backup|standby\" on stderr.\n"
    "    user locate SIP\n"
    "        Home pool, owning pool and its API, epoch.\n"
    "\n"
    "    conference schedule SIP ID (--value JSON | --file FILE|-)\n"
    "    conference get SIP ID\n"
    "\n"
    "    content upload SIP CONF NAME FILE\n"
    "    content download SIP CONF NAME FILE|-\n"
    "        Stream conference content from or to FILE (download: - for\n"
    "        stdout). A progress bar is shown while stderr is a terminal.\n"
    "        A download replaces FILE only once all of it arrived. The\n"
    "        timeout bounds connecting and any stretch without progress.\n"
    "\n"
    "    backup status\n"
    "        Per user set and category of what the agent asked sends its\n"
    "        pair: state, head and acknowledged sequence, lag in records,\n"
    "        bytes and seconds, rate, ratio, error while disconnected.\n"
    "    backup sync POOL [--wait SECONDS]\n"
    "        Flush POOL's changes to its pair and wait (default 60 s)\n"
    "        until the pair has all of them; progress on a terminal.\n"
    "    divergence list [--limit N]\n"
    "        Writes kept in the divergence archive: never shipped before a\n"
    "        failover, or arrived with a stale epoch.\n"
    "\n"
    "ENVIRONMENT\n"
    "    POOLPAIR_API       default for --api\n"
    "    POOLPAIR_CA, POOLPAIR_CERT, POOLPAIR_KEY, POOLPAIR_CRL\n"
    "                       defaults for --ca, --cert, --key, --crl\n"
    "\n"
    "EXIT STATUS\n"
    "    0  done\n"
    "    1  refused by the cluster, or the request failed\n"
    "       (message on stderr: \"poolpairctl: CODE: MESSAGE\", such as\n"
    "       \"poolpairctl: forbidden: role reader not allowed here\")\n"
    "    2  bad command line\n"
    "\n"
    "EXAMPLES\n"
    "    poolpairctl pool add pool-east --site east --edition enterprise \\\n"
    "        --kind physical --os windows-2019\n"
    "    poolpairctl pair pool-east pool-west\n"
    "    poolpairctl --api http://10.0.0.2:7101 status\n"
    "    poolpairctl topology apply topo.json --dry-run\n"
    "    poolpairctl user set sip:alice@example.com profile \\\n"
    "        --value '{\"display\": \"Alice\"}'\n"
    "    poolpairctl content upload sip:alice@example.com c1 slides.pdf \\\n"
    "        ./slides.pdf\n";

static const char short_usage_text[] =
    "usage: poolpairctl [--api URL] [--json] [--timeout SECONDS] [--ca F] "
    "[--cert F] [--key F] [--crl F] "
    "COMMAND ...\n"
    "run 'poolpairctl help' for the commands\n";

#define TLS_OPTS 4 /* --ca, --cert, --key, --crl */

/* Global options, from the command line or the environment. */
struct ctl_opts {
	const char *api;     /* borrowed from argv or the environment */
	const char *api_src; /* "--api" or "POOLPAIR_API", for messages */
	int json;
	long timeout_ms;
	int help;
	const char *tls[TLS_OPTS]; /* --ca, --cert, --key, --crl (or the
				    * environment) */
};

static const char *const tls_opt_names[TLS_OPTS] = {"ca", "cert", "key", "crl"};
static const char *const tls_env_names[TLS_OPTS] = {
    "POOLPAIR_CA", "POOLPAIR_CERT", "POOLPAIR_KEY", "POOLPAIR_CRL"};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("poolpairctl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	fputs(short_usage_text, stderr);
	return CTL_USAGE;
}

/* Seconds (decimal, 0 < s <= 3600) as milliseconds, or -1. */
static long parse_timeout(const char *s)
{
	char *end;
	double sec;

	if (s == NULL || *s == '\0')
		return -1;
	sec = strtod(s, &end);
	if (*end != '\0' || !isfinite(sec) || sec <= 0 || sec > 3600)
		return -1;
	return sec * 1000 < 1 ? 1 : (long)(sec * 1000 + 0.5);
}

/* Whether arg is "--NAME" or "--NAME=VALUE" for name; *value is the
 * inline value or NULL. */
static int opt_is(const char *arg, const char *name, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0)
		return 0;
	if (arg[2 + n] == '\0') {
		*value = NULL;
		return 1;
	}
	if (arg[2 + n] == '=') {
		*value = arg + 3 + n;
		return 1;
	}
	return 0;
}

/* Outcome of parse_global(). */
enum {
	GLOBAL_NO = 0,	 /* not a global option */
	GLOBAL_YES = 1,	 /* a global option, taken */
	GLOBAL_BAD = -1, /* a global option with a bad value (reported) */
};

/* Try argv[*i] as a global option; on GLOBAL_YES *i has moved past its
 * value when it took the next argument. */
static int parse_global(int argc, char *argv[], int *i, struct ctl_opts *o)
{
	const char *arg = argv[*i];
	const char *val;
	int k;

	if (opt_is(arg, "json", &val) || opt_is(arg, "help", &val)) {
		if (val != NULL) {
			usage_error("option %s takes no value", arg);
			return GLOBAL_BAD;
		}
		if (strcmp(arg, "--json") == 0)
			o->json = 1;
		else
			o->help = 1;
		return GLOBAL_YES;
	}
	for (k = 0; k < TLS_OPTS; k++) {
		if (!opt_is(arg, tls_opt_names[k], &val))
			continue;
		if (val == NULL) {
			if (*i + 1 >= argc) {
				usage_error("option %s needs a value", arg);
				return GLOBAL_BAD;
			}
			val = argv[++*i];
		}
		if (val[0] == '\0') {
			usage_error("option %s needs a file", arg);
			return GLOBAL_BAD;
		}
		o->tls[k] = val;
		return GLOBAL_YES;
	}
	if (opt_is(arg, "api", &val) || opt_is(arg, "timeout", &val)) {
		int is_api = strncmp(arg, "--api", 5) == 0;

		if (val == NULL) {
			if (*i + 1 >= argc) {
				usage_error("option %s needs a value", arg);
				return GLOBAL_BAD;
			}
			val = argv[++*i];
		}
		if (is_api) {
			o->api = val;
			o->api_src = "--api";
		} else {
			o->timeout_ms = parse_timeout(val);
			if (o->timeout_ms < 0) {
				usage_error("bad --timeout '%s' (seconds, more "
					    "than 0 and at most 3600)",
					    val);
				return GLOBAL_BAD;
			}
		}
		return GLOBAL_YES;
	}
	return GLOBAL_NO;
}

/* Parse the arguments of cmd (argv[i..argc-1]) into a. Returns CTL_OK,
 * or CTL_USAGE (reported). Global options found among them go to o. */
static int parse_command(struct ctl *ctl, const struct ctl_command *cmd,
			 int argc, char *argv[], int i, struct ctl_args *a,
			 struct ctl_opts *o)
{
	int only_pos = 0;

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	for (; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = NULL;
		size_t k;
		int rv;

		if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (a->npos == cmd->max_pos)
				return ctl_usage_error(ctl, a,
						       "unexpected argument "
						       "'%s'",
						       arg);
			a->pos[a->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = 1;
			continue;
		}
		rv = parse_global(argc, argv, &i, o);
		if (rv == GLOBAL_BAD)
			return CTL_USAGE;
		if (rv == GLOBAL_YES)
			continue;
		for (k = 0; cmd->opts[k] != NULL; k++) {
			size_t n = strcspn(cmd->opts[k], "=");
			int takes_value = cmd->opts[k][n] == '=';
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)n,
				 cmd->opts[k]);
			if (!opt_is(arg, name, &val))
				continue;
			if (a->opt[k] != NULL)
				return ctl_usage_error(
				    ctl, a, "option --%s given twice", name);
			if (!takes_value && val != NULL)
				return ctl_usage_error(ctl, a,
						       "option --%s takes no "
						       "value",
						       name);
			if (takes_value && val == NULL) {
				if (i + 1 >= argc)
					return ctl_usage_error(
					    ctl, a, "option --%s needs a value",
					    name);
				val = argv[++i];
			}
			a->opt[k] = takes_value ? val : "";
			break;
		}
		if (cmd->opts[k] == NULL)
			return ctl_usage_error(ctl, a, "unknown option '%s'",
					       arg);
	}
	if (o->help)
		return CTL_OK;
	if (a->npos < cmd->min_pos)
		return ctl_usage_error(ctl, a, "missing arguments");
	return CTL_OK;
}

/* Report an unknown command: the usages of its group when the first word
 * names one. */
static int unknown_command(int argc, char *argv[])
{
	int group = ctl_command_usages(NULL, argv[0]) > 0;

	if (group && (argc < 2 || argv[1][0] == '-'))
		fprintf(stderr, "poolpairctl: '%s' needs a subcommand\n",
			argv[0]);
	else if (group)
		fprintf(stderr, "poolpairctl: unknown command '%s %s'\n",
			argv[0], argv[1]);
	else
		fprintf(stderr, "poolpairctl: unknown command '%s'\n", argv[0]);
	if (ctl_command_usages(stderr, argv[0]) == 0)
		fputs(short_usage_text, stderr);
	return CTL_USAGE;
}

static int check_api(const char *url, const char *src)
{
	const char *host = NULL;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	if (host == NULL || *host == '\0' || *host == '/') {
		fprintf(stderr,
			"poolpairctl: bad %s '%s' (an http:// or https:// "
			"URL)\n",
			src, url);
		fputs(short_usage_text, stderr);
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* The TLS files: cert and key together, each readable. */
static int check_tls(const struct ctl_opts *o)
{
	int k;

	if ((o->tls[1] == NULL) != (o->tls[2] == NULL)) {
		fprintf(stderr, "poolpairctl: --cert and --key go together "
				"(or POOLPAIR_CERT and POOLPAIR_KEY)\n");
		return CTL_USAGE;
	}
	for (k = 0; k < TLS_OPTS; k++) {
		if (o->tls[k] != NULL && access(o->tls[k], R_OK) != 0) {
			fprintf(stderr,
				"poolpairctl: cannot read --%s %s: %s\n",
				tls_opt_names[k], o->tls[k], strerror(errno));
			return CTL_USAGE;
		}
	}
	return CTL_OK;
}

int main(int argc, char *argv[])
{
	struct ctl_opts o = {.timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS};
	struct ctl ctl = {.out = stdout, .err = stderr};
	const struct ctl_command *cmd;
	struct ctl_args args;
	struct client client;
	const char *env = getenv("POOLPAIR_API");
	int words = 0;
	int i;
	int rv;

	o.api = env != NULL && env[0] != '\0' ? env : CLIENT_DEFAULT_URL;
	o.api_src = env != NULL && env[0] != '\0' ? "POOLPAIR_API" : "--api";
	for (i = 0; i < TLS_OPTS; i++) {
		env = getenv(tls_env_names[i]);
		o.tls[i] = env != NULL && env[0] != '\0' ? env : NULL;
	}
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		rv = parse_global(argc, argv, &i, &o);
		if (rv == GLOBAL_BAD)
			return CTL_USAGE;
		if (rv == GLOBAL_NO)
			return usage_error("unknown option '%s'", argv[i]);
	}
	if (o.help || (i < argc && strcmp(argv[i], "help") == 0)) {
		fputs(usage_text, stdout);
		fputs(usage_text_cmds, stdout);
		fputs(usage_text_dr, stdout);
		fputs(usage_text_data, stdout);
		return fflush(stdout) == 0 ? CTL_OK : CTL_FAILED;
	}
	if (i >= argc) {
		fputs("poolpairctl: no command given\n", stderr);
		fputs(short_usage_text, stderr);
		return CTL_USAGE;
	}
	cmd = ctl_command_find(argc - i, argv + i, &words);
	if (cmd == NULL)
		return unknown_command(argc - i, argv + i);
	rv = parse_command(&ctl, cmd, argc, argv, i + words, &args, &o);
	if (rv != CTL_OK)
		return rv;
	if (o.help) {
		fputs(usage_text, stdout);
		fputs(usage_text_cmds, stdout);
		fputs(usage_text_dr, stdout);
		fputs(usage_text_data, stdout);
		return fflush(stdout) == 0 ? CTL_OK : CTL_FAILED;
	}
	if (check_api(o.api, o.api_src) != CTL_OK || check_tls(&o) != CTL_OK)
		return CTL_USAGE;
	ctl.json = o.json;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("poolpairctl: cannot initialise libcurl\n", stderr);
		return CTL_FAILED;
	}
	if (client_init(&client, o.api, o.timeout_ms) != 0) {
		fputs("poolpairctl: out of memory\n", stderr);
		curl_global_cleanup();
		return CTL_FAILED;
	}
	if (client_set_tls(&client, o.tls[0], o.tls[1], o.tls[2]) != 0 ||
	    client_set_crl(&client, o.tls[3]) != 0) {
		fputs("poolpairctl: out of memory\n", stderr);
		client_close(&client);
		curl_global_cleanup();
		return CTL_FAILED;
	}
	ctl.client = &client;
	rv = cmd->run(&ctl, &args);
	client_close(&client);
	curl_global_cleanup();
	if (fflush(stdout) != 0 && rv == CTL_OK) {
		fputs("poolpairctl: cannot write the output\n", stderr);
		rv = CTL_FAILED;
	}
	return rv;
}
