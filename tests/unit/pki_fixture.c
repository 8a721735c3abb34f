/* pki_fixture: see pki_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "pki_fixture.h"

char pki_dir[256];

int pki_open(const char *name)
{
	snprintf(pki_dir, sizeof pki_dir, "/tmp/pp-test-%s-XXXXXX", name);
	return mkdtemp(pki_dir) == NULL ? -1 : 0;
}

void pki_close(void) { sh("rm -rf %s", pki_dir); }

static int vrun(char *cmd, size_t size, const char *fmt, va_list ap)
{
	int rv;

	vsnprintf(cmd, size, fmt, ap);
	rv = system(cmd);
	return WIFEXITED(rv) ? WEXITSTATUS(rv) : -1;
}

int sh_status(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = vrun(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return rv;
}

void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = vrun(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (rv != 0)
		fail_msg("command failed (%d): %s", rv, cmd);
}

const char *path(const char *fmt, ...)
{
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % 8];
	char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	snprintf(b, 512, "%s/%s", pki_dir, name);
	return b;
}

void pki_ca(const char *ca, const char *args)
{
	sh(CERT_TOOL " ca %s/%s %s >/dev/null", pki_dir, ca, args);
}

void pki_issue(const char *ca, const char *name, const char *args)
{
	sh(CERT_TOOL " issue %s/%s %s %s >/dev/null", pki_dir, ca, name, args);
}

void pki_ctx(struct tls_ctx *c, const char *ca, const char *name)
{
	if (tls_ctx_init(c, path("%s/ca.crt", ca), path("%s/%s.crt", ca, name),
			 path("%s/%s.key", ca, name)) != 0)
		fail_msg("tls_ctx_init %s: %s", name, c->errmsg);
}
