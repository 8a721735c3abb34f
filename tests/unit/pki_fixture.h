/* pki_fixture: what the unit tests over TLS share: a temporary directory
 * (pki_dir) of CAs and certificates made by scripts/poolpair-cert, the
 * shell commands that make them, and contexts loaded from it. */
#ifndef POOLPAIR_TESTS_PKI_FIXTURE_H
#define POOLPAIR_TESTS_PKI_FIXTURE_H

#include "tls/tls.h"

/* From tests/unit, where the unit programs run. */
#define CERT_TOOL "../../scripts/poolpair-cert"

extern char pki_dir[256];

/* Make pki_dir: a new /tmp/pp-test-NAME-XXXXXX. 0, or -1. */
int pki_open(const char *name);
/* Remove pki_dir and all in it. */
void pki_close(void);

/* Run a shell command (printf format); its exit status, -1 if it did not
 * exit. */
int sh_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a shell command; the test fails unless it exits 0. */
void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* pki_dir/NAME (printf format), in one of 8 buffers used in turn. */
const char *path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CA pki_dir/CA (poolpair-cert ca, with args, e.g. "--cn other", or ""). */
void pki_ca(const char *ca, const char *args);
/* Certificate NAME of CA CA (poolpair-cert issue, args e.g. "--role agent
 * --agent-id 1"): pki_dir/CA/NAME.{crt,key}. */
void pki_issue(const char *ca, const char *name, const char *args);
/* c initialised from pki_dir/CA/ca.crt and NAME.{crt,key} of CA; the test
 * fails if it cannot be. */
void pki_ctx(struct tls_ctx *c, const char *ca, const char *name);

#endif
