/* poolpaird: the poolpair agent. Loads the config, wires the agent and runs
 * the loop; everything else lives in the modules. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent/agent.h"
#include "agent/aside.h"
#include "agent/config.h"
#include "agent/config_files.h"
#include "agent/log.h"
#include "tls/tls.h"

/* --check: the [tls] files must make a context with role agent that names
 * this agent. */
static int check_tls(const struct config *cfg)
{
	char why[TLS_ERRMSG_LEN + TLS_PATH_LEN];
	struct tls_ctx tls;
	bool ok;

	if (cfg->tls_ca[0] == '\0')
		return 0;
	if (tls_ctx_init(&tls, cfg->tls_ca, cfg->tls_cert, cfg->tls_key) != 0) {
		fprintf(stderr, "poolpaird: %s: [tls] %s\n", cfg->path,
			tls.errmsg);
		return -1;
	}
	if (cfg->tls_crl[0] != '\0' &&
	    tls_ctx_set_crl(&tls, cfg->tls_crl) != 0) {
		fprintf(stderr, "poolpaird: %s: [tls] %s\n", cfg->path,
			tls.errmsg);
		tls_ctx_close(&tls);
		return -1;
	}
	if (tls.warning[0] != '\0')
		fprintf(stderr, "poolpaird: %s: [tls] warning: %s\n", cfg->path,
			tls.warning);
	ok = tls.role == TLS_ROLE_AGENT;
	if (!ok)
		fprintf(stderr,
			"poolpaird: %s: [tls] cert %s has role %s; an agent "
			"needs role agent\n",
			cfg->path, cfg->tls_cert, tls_role_name(tls.role));
	else if (tls_ctx_check_agent(&tls, cfg->agent_id, cfg->pool, why,
				     sizeof why) != 0) {
		fprintf(stderr, "poolpaird: %s: [tls] %s\n", cfg->path, why);
		ok = false;
	}
	tls_ctx_close(&tls);
	return ok ? 0 : -1;
}

/* A store that fails PRAGMA integrity_check (on the thread pool, before
 * the agent runs) is moved aside: the agent starts with an empty one.
 * Returns 0, or -1 when the broken store could not be moved. */
static int store_check(uv_loop_t *loop, const struct config *cfg)
{
	static const char *const names[] = {"store.db", "store.db-wal",
					    "store.db-shm"};
	char path[4200], why[512], where[4200];
	int rv;

	snprintf(path, sizeof path, "%s/store.db", cfg->data_dir);
	rv = aside_store_check_run(loop, path, why, sizeof why);
	if (rv < 0) {
		LOG_WARN("main", "store %s not checked: %s", path, why);
		return 0;
	}
	if (rv == 0)
		return 0;
	LOG_ERROR("main", "store %s fails its integrity check: %s", path, why);
	rv = aside_move(cfg->data_dir, names, 3, where, sizeof where, why,
			sizeof why);
	if (rv < 0) {
		LOG_ERROR("main", "cannot move the broken store aside: %s",
			  why);
		return -1;
	}
	LOG_ERROR("main",
		  "BROKEN STORE MOVED ASIDE to %s (nothing deleted): the "
		  "agent starts with an empty store",
		  where);
	return 0;
}

/* The Raft directory failed to load: moved aside, the agent starts again
 * on an empty one (it asks its peers and rejoins). 0 when moved. */
static int raft_aside(const struct config *cfg)
{
	static const char *const names[] = {"raft"};
	char why[512], where[4200];
	int rv = aside_move(cfg->data_dir, names, 1, where, sizeof where, why,
			    sizeof why);

	if (rv <= 0) {
		LOG_ERROR("main",
			  "cannot move the broken raft directory "
			  "aside: %s",
			  rv < 0 ? why : "it is not there");
		return -1;
	}
	LOG_ERROR("main",
		  "BROKEN RAFT DIRECTORY MOVED ASIDE to %s (nothing deleted): "
		  "starting again on an empty one, which rejoins the cluster",
		  where);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: poolpaird [--check] -c FILE\n"
		   "\n"
		   "  -c, --config FILE  agent configuration (INI, see "
		   "poolpaird.conf(5))\n"
		   "  -n, --check        validate the configuration (and the "
		   "[tls] files), print\n"
		   "                     its timing profile and values, and "
		   "exit (0 valid, 1 not)\n"
		   "      --first-start  a new cluster: an empty data_dir of a "
		   "bootstrap member\n"
		   "                     without [cluster] peers may bootstrap "
		   "(see poolpaird(8))\n"
		   "  -h, --help         this text\n"
		   "  -V, --version      print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'n'},
	    {"first-start", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	char why[CONFIG_ERRMSG_LEN + CONFIG_PATH_LEN];
	char warn[CONFIG_ERRMSG_LEN + CONFIG_PATH_LEN];
	int check = 0;
	bool first_start = false;
	bool raft_broken = false;
	int c, rv;
	static struct config cfg;
	static struct agent agent;
	uv_loop_t loop;

	while ((c = getopt_long(argc, argv, "c:nhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'F':
			first_start = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("poolpaird %s\n", POOLPAIR_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	config_defaults(&cfg);
	if (config_load(&cfg, path) != 0) {
		fprintf(stderr, "poolpaird: %s\n", cfg.errmsg);
		return 1;
	}
	cfg.first_start = first_start ? 1 : 0;
	if (check) {
		if (check_tls(&cfg) != 0)
			return 1;
		if (config_check_files(&cfg, 0, why, sizeof why, warn,
				       sizeof warn) != 0) {
			fprintf(stderr, "poolpaird: %s\n", why);
			return 1;
		}
		if (warn[0] != '\0')
			fprintf(stderr, "poolpaird: warning: %s\n", warn);
		if (config_insecure(&cfg) != NULL)
			fprintf(stderr,
				"poolpaird: %s: warning: [listen] insecure = "
				"true: %s\n",
				path, config_insecure(&cfg));
		config_timing_describe(&cfg, why, sizeof why);
		printf("%s: %s\n", path, why);
		printf("%s: ok\n", path);
		return 0;
	}
	log_set_level(cfg.log_level);
	config_timing_describe(&cfg, why, sizeof why);
	LOG_INFO("main", "timing: %s", why);
	/* the key, the config and data_dir: before anything uses them */
	if (config_check_files(&cfg, CONFIG_FILES_CREATE, why, sizeof why,
			       warn, sizeof warn) != 0) {
		LOG_ERROR("main", "%s", why);
		return 1;
	}
	if (warn[0] != '\0')
		LOG_WARN("main", "%s", warn);
	signal(SIGPIPE, SIG_IGN);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		LOG_ERROR("main", "cannot initialise libcurl");
		return 1;
	}
	uv_loop_init(&loop);
	if (cfg.pool[0] != '\0' && store_check(&loop, &cfg) != 0) {
		uv_loop_close(&loop);
		curl_global_cleanup();
		return 1;
	}
	rv = agent_init(&agent, &loop, &cfg);
	if (rv == 0) {
		rv = agent_start(&agent);
		raft_broken = rv != 0 && aside_raft_broken(rv);
	}
	if (rv != 0) {
		LOG_ERROR("main", "%s", agent.errmsg);
		agent_abort(&agent);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	curl_global_cleanup();
	if (raft_broken && raft_aside(&cfg) == 0) {
		/* start again on an empty Raft directory: it rejoins; never
		 * with --first-start, which could bootstrap it blindly */
		int k = 0;

		for (int i = 0; i < argc; i++)
			if (strcmp(argv[i], "--first-start") != 0)
				argv[k++] = argv[i];
		argv[k] = NULL;
		execv("/proc/self/exe", argv);
		LOG_ERROR("main", "restart failed: %s", strerror(errno));
		return 1;
	}
	if (rv == 0 && agent.restart_requested) {
		/* a forced quorum recovery: start again to apply it */
		LOG_WARN("main", "restarting to apply the recovery");
		execv("/proc/self/exe", argv);
		LOG_ERROR("main", "restart failed: %s", strerror(errno));
		return 1;
	}
	return rv == 0 ? agent.exit_code : 1;
}
