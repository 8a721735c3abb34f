/* Tests of agent/config_files.c: the modes and owners of the files a
 * configuration names, on real files in a scratch directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/config_files.h"

struct fx {
	char dir[64];			/* scratch directory, mode 0700 */
	struct config c;		/* path, tls_key and data_dir in dir */
	char err[CONFIG_PATH_LEN * 3];
	char warn[CONFIG_PATH_LEN * 3];
};

static void touch(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);

	assert_non_null(fx);
	umask(022);
	snprintf(fx->dir, sizeof fx->dir, "/tmp/poolpair-test-files-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	config_defaults(&fx->c);
	snprintf(fx->c.path, sizeof fx->c.path, "%s/poolpaird.conf", fx->dir);
	touch(fx->c.path, 0640);
	snprintf(fx->c.tls_key, sizeof fx->c.tls_key, "%s/east-1.key",
		 fx->dir);
	touch(fx->c.tls_key, 0600);
	snprintf(fx->c.data_dir, sizeof fx->c.data_dir, "%s/data", fx->dir);
	assert_int_equal(mkdir(fx->c.data_dir, 0750), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static int check(struct fx *fx, unsigned flags)
{
	memset(fx->err, 'E', sizeof fx->err);
	memset(fx->warn, 'W', sizeof fx->warn);
	fx->err[sizeof fx->err - 1] = '\0';
	fx->warn[sizeof fx->warn - 1] = '\0';
	return config_check_files(&fx->c, flags, fx->err, sizeof fx->err,
				  fx->warn, sizeof fx->warn);
}

static void expect_ok(struct fx *fx, unsigned flags)
{
	if (check(fx, flags) != 0)
		fail_msg("refused: %s", fx->err);
	assert_string_equal(fx->err, "");
}

/* The refusal, word for word (PATH stands for the file's path). */
static void expect_refused(struct fx *fx, const char *fmt, const char *path,
			   unsigned mode)
{
	char want[sizeof fx->err];

	snprintf(want, sizeof want, fmt, path, mode, path);
	assert_int_equal(check(fx, 0), -1);
	assert_string_equal(fx->err, want);
}

/* What a fresh, sane set of files gives: nothing to say. */
static void test_all_fine(void **state)
{
	struct fx *fx = *state;

	expect_ok(fx, 0);
	assert_string_equal(fx->warn, "");
	fx->c.tls_key[0] = '\0'; /* no [tls] */
	expect_ok(fx, 0);
	assert_string_equal(fx->warn, "");
}

static void test_key_mode(void **state)
{
	static const char readable[] =
	    "tls key %s is readable by group/others (mode 0%03o): chmod 600 "
	    "%s";
	static const char open_[] =
	    "tls key %s is open to group/others (mode 0%03o): chmod 600 %s";
	struct fx *fx = *state;

	assert_int_equal(chmod(fx->c.tls_key, 0644), 0);
	expect_refused(fx, readable, fx->c.tls_key, 0644);
	assert_int_equal(chmod(fx->c.tls_key, 0640), 0);
	expect_refused(fx, readable, fx->c.tls_key, 0640);
	assert_int_equal(chmod(fx->c.tls_key, 0604), 0);
	expect_refused(fx, readable, fx->c.tls_key, 0604);
	assert_int_equal(chmod(fx->c.tls_key, 0620), 0);
	expect_refused(fx, open_, fx->c.tls_key, 0620);
	assert_int_equal(chmod(fx->c.tls_key, 0601), 0);
	expect_refused(fx, open_, fx->c.tls_key, 0601);
	assert_int_equal(chmod(fx->c.tls_key, 0400), 0);
	expect_ok(fx, 0);
	assert_int_equal(chmod(fx->c.tls_key, 0600), 0);
	expect_ok(fx, 0);
	/* a missing key is the TLS context's to report */
	assert_int_equal(unlink(fx->c.tls_key), 0);
	expect_ok(fx, 0);
}

/* A key owned by another user than the agent's is refused, whatever its
 * mode. Changing a file's owner needs root: as another user the part is
 * skipped, and says so. */
static void test_key_owner(void **state)
{
	struct fx *fx = *state;
	char want[sizeof fx->err];

	if (geteuid() != 0) {
		print_message("not root: the key owner check is not run\n");
		skip();
	}
	assert_int_equal(chown(fx->c.tls_key, 65534, (gid_t)-1), 0);
	assert_int_equal(check(fx, 0), -1);
	snprintf(want, sizeof want, "tls key %s is owned by ", fx->c.tls_key);
	assert_memory_equal(fx->err, want, strlen(want));
	snprintf(want, sizeof want, ", not by root that runs the agent: "
				    "chown root %s",
		 fx->c.tls_key);
	assert_non_null(strstr(fx->err, want));
	assert_int_equal(chown(fx->c.tls_key, 0, (gid_t)-1), 0);
	expect_ok(fx, 0);
}

static void test_config_writable(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(chmod(fx->c.path, 0666), 0);
	expect_refused(fx,
		       "config %s is writable by others (mode 0%03o): it "
		       "holds hook commands the agent runs; chmod o-w %s",
		       fx->c.path, 0666);
	assert_int_equal(chmod(fx->c.path, 0602), 0);
	expect_refused(fx,
		       "config %s is writable by others (mode 0%03o): it "
		       "holds hook commands the agent runs; chmod o-w %s",
		       fx->c.path, 0602);
	/* readable by all, or writable by its group: not refused */
	assert_int_equal(chmod(fx->c.path, 0664), 0);
	expect_ok(fx, 0);
}

/* A directory others may write, without the sticky bit, lets anyone
 * replace the config: a warning, not a refusal; with the sticky bit (as
 * /tmp) others cannot, and nothing is said. */
static void test_config_dir(void **state)
{
	struct fx *fx = *state;
	char want[sizeof fx->warn];

	assert_int_equal(chmod(fx->dir, 0777), 0);
	expect_ok(fx, 0);
	snprintf(want, sizeof want,
		 "config %s is in %s, writable by others without the sticky "
		 "bit (mode 0777): anyone can replace it; chmod o-w %s",
		 fx->c.path, fx->dir, fx->dir);
	assert_string_equal(fx->warn, want);
	assert_int_equal(chmod(fx->dir, 01777), 0);
	expect_ok(fx, 0);
	assert_string_equal(fx->warn, "");
	assert_int_equal(chmod(fx->dir, 0700), 0);
	expect_ok(fx, 0);
	assert_string_equal(fx->warn, "");
}

static void test_config_missing(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(unlink(fx->c.path), 0);
	assert_int_equal(check(fx, 0), -1);
	assert_non_null(strstr(fx->err, "No such file or directory"));
}

static void test_data_dir(void **state)
{
	struct fx *fx = *state;
	struct stat st;
	char want[sizeof fx->err];

	assert_int_equal(chmod(fx->c.data_dir, 0777), 0);
	expect_refused(fx,
		       "data_dir %s is writable by others (mode 0%03o): "
		       "chmod o-w %s",
		       fx->c.data_dir, 0777);
	assert_int_equal(chmod(fx->c.data_dir, 0775), 0);
	expect_ok(fx, 0);

	/* missing: made 0700 at start, with its parents; --check only
	 * looks */
	snprintf(fx->c.data_dir, sizeof fx->c.data_dir, "%s/a/b/data",
		 fx->dir);
	expect_ok(fx, 0);
	assert_int_equal(stat(fx->c.data_dir, &st), -1);
	assert_int_equal(errno, ENOENT);
	expect_ok(fx, CONFIG_FILES_CREATE);
	assert_int_equal(stat(fx->c.data_dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(want, sizeof want, "%s/a", fx->dir);
	assert_int_equal(stat(want, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	expect_ok(fx, CONFIG_FILES_CREATE); /* there now: left as it is */

	/* a file where the directory should be */
	snprintf(fx->c.data_dir, sizeof fx->c.data_dir, "%s", fx->c.tls_key);
	assert_int_equal(check(fx, CONFIG_FILES_CREATE), -1);
	snprintf(want, sizeof want, "data_dir %s is not a directory",
		 fx->c.tls_key);
	assert_string_equal(fx->err, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_all_fine, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_writable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_config_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_missing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_data_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
