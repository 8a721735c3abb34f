/* config_files: who may read the TLS key, who may change the config, and
 * the data directory (config_files.h). */
#include "agent/config_files.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "NAME" of uid, or "uid N" when it has no name. */
static void user_name(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL)
		snprintf(out, len, "%s", res->pw_name);
	else
		snprintf(out, len, "uid %u", (unsigned)uid);
}

static int check_config(const struct config *c, char *err, size_t errlen,
			char *warn, size_t warnlen)
{
	char dir[CONFIG_PATH_LEN], ebuf[128];
	const char *slash;
	struct stat st;

	if (stat(c->path, &st) != 0) {
		snprintf(err, errlen, "config %s: %s", c->path,
			 strerror_r(errno, ebuf, sizeof ebuf));
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen,
			 "config %s is writable by others (mode 0%03o): it "
			 "holds hook commands the agent runs; chmod o-w %s",
			 c->path, (unsigned)(st.st_mode & 07777), c->path);
		return -1;
	}
	slash = strrchr(c->path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == c->path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - c->path),
			 c->path);
	if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) &&
	    !(st.st_mode & S_ISVTX))
		snprintf(warn, warnlen,
			 "config %s is in %s, writable by others without the "
			 "sticky bit (mode 0%03o): anyone can replace it; "
			 "chmod o-w %s",
			 c->path, dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

static int check_key(const struct config *c, char *err, size_t errlen)
{
	char owner[64], self[64];
	struct stat st;
	unsigned mode;

	if (c->tls_key[0] == '\0' || stat(c->tls_key, &st) != 0)
		return 0; /* no [tls], or tls_ctx_init() says why */
	mode = (unsigned)(st.st_mode & 07777);
	if (mode & (S_IRGRP | S_IROTH)) {
		snprintf(err, errlen,
			 "tls key %s is readable by group/others (mode 0%03o): "
			 "chmod 600 %s",
			 c->tls_key, mode, c->tls_key);
		return -1;
	}
	if (mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
			 "tls key %s is open to group/others (mode 0%03o): "
			 "chmod 600 %s",
			 c->tls_key, mode, c->tls_key);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		user_name(st.st_uid, owner, sizeof owner);
		user_name(geteuid(), self, sizeof self);
		snprintf(err, errlen,
			 "tls key %s is owned by %s, not by %s that runs the "
			 "agent: chown %s %s",
			 c->tls_key, owner, self, self, c->tls_key);
		return -1;
	}
	return 0;
}

/* mkdir -p path, each missing directory mode 0700. */
static int make_dir(const char *path)
{
	char tmp[CONFIG_PATH_LEN];
	size_t i, len = strlen(path);

	if (len == 0 || len >= sizeof tmp)
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -errno;
		tmp[i] = i < len ? '/' : '\0';
	}
	return 0;
}

static int check_data_dir(const struct config *c, unsigned flags,
			  char *err, size_t errlen)
{
	char ebuf[128];
	struct stat st;
	int rv;

	if (stat(c->data_dir, &st) != 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "data_dir %s: %s", c->data_dir,
				 strerror_r(errno, ebuf, sizeof ebuf));
			return -1;
		}
		if (!(flags & CONFIG_FILES_CREATE))
			return 0; /* made at start */
		rv = make_dir(c->data_dir);
		if (rv != 0) {
			snprintf(err, errlen, "data_dir %s: cannot create: %s",
				 c->data_dir, strerror_r(-rv, ebuf, sizeof ebuf));
			return -1;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "data_dir %s is not a directory",
			 c->data_dir);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen,
			 "data_dir %s is writable by others (mode 0%03o): "
			 "chmod o-w %s",
			 c->data_dir, (unsigned)(st.st_mode & 07777),
			 c->data_dir);
		return -1;
	}
	return 0;
}

int config_check_files(const struct config *c, unsigned flags, char *err,
		       size_t errlen, char *warn, size_t warnlen)
{
	if (errlen > 0)
		err[0] = '\0';
	if (warnlen > 0)
		warn[0] = '\0';
	if (check_config(c, err, errlen, warn, warnlen) != 0 ||
	    check_key(c, err, errlen) != 0 ||
	    check_data_dir(c, flags, err, errlen) != 0)
		return -1;
	return 0;
}
