/* fuzz_config: the configuration parser (agent/config.h).
 *
 * The input is written to a memfd and loaded through /proc/self/fd/N, as a
 * file would be. Properties checked:
 *   - the result is 0 or a known error code; an error leaves every field
 *     but errmsg as it was and sets a terminated "PATH..." errmsg;
 *   - an accepted file obeys what the header promises: ids in range, names
 *     of [A-Za-z0-9._-], required addresses with ports, exactly one of
 *     bootstrap and join (bootstrap listing this agent), timeouts ordered,
 *     max_voters 1, 3 or 5, tls all or none;
 *   - loading the same file twice gives the same struct (compared with
 *     the bytes after each string's NUL zeroed);
 *   - the input's first line through config_parse_duration() and
 *     config_parse_hostport() gives a known code, outputs untouched on
 *     error, a port in 1..65535 on success. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/config.h"
#include "fuzz/fuzz_util.h"

static int fd = -1;
static char path[64];

static int name_ok(const char *s, int may_be_empty)
{
	size_t i, n = strlen(s);

	if (n == 0) {
		return may_be_empty;
	}
	if (n >= CONFIG_NAME_LEN) {
		return 0;
	}
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-')) {
			return 0;
		}
	}
	return 1;
}

static void check_accepted(const struct config *c)
{
	unsigned i;
	int self = 0;
	int tls = (c->tls_ca[0] != '\0') + (c->tls_cert[0] != '\0') +
		  (c->tls_key[0] != '\0');

	FUZZ_CHECK(strcmp(c->path, path) == 0, "path '%s'", c->path);
	FUZZ_CHECK(c->agent_id >= 1 && c->agent_id <= CONFIG_ID_MAX,
		   "agent id %llu", (unsigned long long)c->agent_id);
	FUZZ_CHECK(name_ok(c->agent_name, 0) && name_ok(c->site, 0) &&
		       name_ok(c->pool, 1),
		   "name, site or pool not a name");
	FUZZ_CHECK(fuzz_terminated(c->data_dir, CONFIG_PATH_LEN) &&
		       c->data_dir[0] != '\0',
		   "data_dir");
	FUZZ_CHECK(c->listen_raft.port != 0 && c->listen_api.port != 0,
		   "raft or api without a port");
	FUZZ_CHECK(c->pool[0] == '\0' || c->listen_data.port != 0,
		   "pool without a data address");
	FUZZ_CHECK(fuzz_terminated(c->listen_raft.host, CONFIG_HOST_LEN) &&
		       c->listen_raft.host[0] != '\0',
		   "raft host");
	FUZZ_CHECK((c->n_bootstrap > 0) != (c->join[0] != '\0'),
		   "bootstrap %u and join '%s'", c->n_bootstrap, c->join);
	FUZZ_CHECK(c->n_bootstrap <= CONFIG_MAX_BOOTSTRAP, "n_bootstrap %u",
		   c->n_bootstrap);
	for (i = 0; i < c->n_bootstrap; i++) {
		FUZZ_CHECK(c->bootstrap[i].port != 0 &&
			       fuzz_terminated(c->bootstrap[i].host,
					       CONFIG_HOST_LEN),
			   "bootstrap peer %u", i);
		if (c->bootstrap[i].id == c->agent_id) {
			self = 1;
		}
	}
	FUZZ_CHECK(c->n_bootstrap == 0 || self,
		   "bootstrap does not list the agent");
	FUZZ_CHECK(c->heartbeat_timeout_ms < c->election_timeout_ms &&
		       c->heartbeat_ms < c->lease_ms &&
		       c->drift_margin_ms < c->lease_ms,
		   "timeouts out of order");
	FUZZ_CHECK(c->max_voters == 1 || c->max_voters == 3 ||
		       c->max_voters == 5,
		   "max_voters %u", c->max_voters);
	FUZZ_CHECK(c->policy == CONFIG_POLICY_MANUAL ||
		       c->policy == CONFIG_POLICY_AUTO,
		   "policy %d", c->policy);
	FUZZ_CHECK(tls == 0 || tls == 3, "%d of the three tls paths", tls);
	FUZZ_CHECK(fuzz_terminated(c->pre_failover, CONFIG_COMMAND_LEN) &&
		       fuzz_terminated(c->fence_command, CONFIG_COMMAND_LEN) &&
		       fuzz_terminated(c->on_owner_change, CONFIG_COMMAND_LEN),
		   "hook commands");
	FUZZ_CHECK(c->errmsg[0] == '\0', "errmsg '%s' on success", c->errmsg);
}

/* Zero what follows the NUL of a string field (its tail carries no
 * meaning and need not be the same from one load to the next). */
static void tail(char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n < cap) {
		memset(s + n, 0, cap - n);
	}
}

#define TAIL(f) tail((f), sizeof(f))

/* c with every string tail zeroed, so that two loads compare bytewise. */
static void canon(struct config *c)
{
	unsigned i;

	TAIL(c->path);
	TAIL(c->agent_name);
	TAIL(c->site);
	TAIL(c->pool);
	TAIL(c->data_dir);
	TAIL(c->listen_raft.address);
	TAIL(c->listen_raft.host);
	TAIL(c->listen_data.address);
	TAIL(c->listen_data.host);
	TAIL(c->listen_api.address);
	TAIL(c->listen_api.host);
	for (i = 0; i < CONFIG_MAX_BOOTSTRAP; i++) {
		TAIL(c->bootstrap[i].address);
		TAIL(c->bootstrap[i].host);
	}
	TAIL(c->join);
	TAIL(c->pre_failover);
	TAIL(c->fence_command);
	TAIL(c->on_owner_change);
	TAIL(c->tls_ca);
	TAIL(c->tls_cert);
	TAIL(c->tls_key);
	TAIL(c->errmsg);
}

static void check_values(const uint8_t *data, size_t size)
{
	char line[256];
	char host[CONFIG_HOST_LEN];
	size_t n = 0;
	uint32_t ms = 0xdeadbeef;
	uint16_t port = 0xbeef;
	int rv;

	while (n < size && n < sizeof line - 1 && data[n] != '\n' &&
	       data[n] != '\0') {
		line[n] = (char)data[n];
		n++;
	}
	line[n] = '\0';

	rv = config_parse_duration(line, &ms);
	FUZZ_CHECK(rv == 0 || rv == CONFIG_E_EMPTY || rv == CONFIG_E_NEGATIVE ||
		       rv == CONFIG_E_OVERFLOW || rv == CONFIG_E_INVALID,
		   "config_parse_duration returned %d", rv);
	FUZZ_CHECK(rv == 0 || ms == 0xdeadbeef, "duration written on error");

	memset(host, 'h', sizeof host);
	rv = config_parse_hostport(line, host, sizeof host, &port);
	FUZZ_CHECK(rv == 0 || (rv <= CONFIG_E_FIRST && rv >= CONFIG_E_BAD_HOST),
		   "config_parse_hostport returned %d", rv);
	if (rv == 0) {
		FUZZ_CHECK(port >= 1 && fuzz_terminated(host, sizeof host) &&
			       host[0] != '\0',
			   "hostport '%s' gave port %u", line, port);
	} else {
		size_t i;

		FUZZ_CHECK(port == 0xbeef, "port written on error");
		for (i = 0; i < sizeof host; i++) {
			FUZZ_CHECK(host[i] == 'h', "host written on error");
		}
	}
	(void)config_strerror(rv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c, was, again;
	int rv;

	if (fd < 0) {
		fd = memfd_create("poolpaird.conf", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0, "memfd_create failed");
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate failed");
	FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size,
		   "pwrite failed");

	memset(&c, 0x5a, sizeof c);
	memcpy(&was, &c, sizeof c);
	rv = config_load(&c, path);
	FUZZ_CHECK(rv == 0 || (rv <= CONFIG_E_FIRST && rv >= CONFIG_E_BAD_HOST),
		   "config_load returned %d", rv);
	if (rv != 0) {
		FUZZ_CHECK(memcmp(&c, &was, offsetof(struct config, errmsg)) == 0,
			   "a refused file changed the struct");
		FUZZ_CHECK(fuzz_terminated(c.errmsg, sizeof c.errmsg) &&
			       strncmp(c.errmsg, path, strlen(path)) == 0 &&
			       c.errmsg[strlen(path)] == ':',
			   "errmsg '%.80s'", c.errmsg);
	} else {
		check_accepted(&c);
	}
	memset(&again, 0x5a, sizeof again);
	FUZZ_CHECK(config_load(&again, path) == rv,
		   "a second load gives another code");
	canon(&c);
	canon(&again);
	FUZZ_CHECK(rv != 0 || memcmp(&again, &c, sizeof c) == 0,
		   "a second load gives another config");
	check_values(data, size);
	return 0;
}
