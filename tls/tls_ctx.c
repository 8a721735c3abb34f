/* tls_ctx: contexts (the CA, our certificate and key, loaded, checked and
 * reloaded, on the loop or the thread pool) and the role and identity a
 * certificate carries; see tls.h. */
#include "tls/tls.h"
#include "tls/tls_internal.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TLS_ROLE_URI_PREFIX "urn:poolpair:role:"
#define TLS_AGENT_URI_PREFIX "urn:poolpair:agent:"
#define TLS_POOL_URI_PREFIX "urn:poolpair:pool:"

/* ---- certificates ---- */

/* Entry nid of the subject into out ("" when absent); with want_role, the
 * first entry that names a role. */
static void subject_entry(X509 *x, int nid, bool want_role, char *out,
			  size_t len)
{
	X509_NAME *name = X509_get_subject_name(x);
	int i = -1;

	out[0] = '\0';
	if (name == NULL)
		return;
	while ((i = X509_NAME_get_index_by_NID(name, nid, i)) >= 0) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(e);
		int n = ASN1_STRING_length(s);
		const unsigned char *d = ASN1_STRING_get0_data(s);

		if (n < 0 || (size_t)n >= len || memchr(d, '\0', (size_t)n))
			continue;
		memcpy(out, d, (size_t)n);
		out[n] = '\0';
		if (!want_role || tls_role_parse(out) != TLS_ROLE_NONE)
			return;
		out[0] = '\0';
	}
}

/* Call fn(uri, arg) for each URI SAN of x that fits in 128 bytes and holds
 * no NUL, until fn returns false. */
static void each_uri_san(X509 *x, bool (*fn)(const char *uri, void *arg),
			 void *arg)
{
	GENERAL_NAMES *names =
	    X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

	if (names == NULL)
		return;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const unsigned char *d;
		char buf[128];
		int n;

		if (g->type != GEN_URI)
			continue;
		n = ASN1_STRING_length(g->d.uniformResourceIdentifier);
		d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		if (n <= 0 || n >= (int)sizeof buf ||
		    memchr(d, '\0', (size_t)n))
			continue;
		memcpy(buf, d, (size_t)n);
		buf[n] = '\0';
		if (!fn(buf, arg))
			break;
	}
	GENERAL_NAMES_free(names);
}

static bool role_uri(const char *uri, void *arg)
{
	int *role = arg;
	size_t plen = strlen(TLS_ROLE_URI_PREFIX);

	if (strncmp(uri, TLS_ROLE_URI_PREFIX, plen) == 0)
		*role = tls_role_parse(uri + plen);
	return *role == TLS_ROLE_NONE;
}

static int role_from_san(X509 *x)
{
	int role = TLS_ROLE_NONE;

	each_uri_san(x, role_uri, &role);
	return role;
}

struct agent_sans {
	unsigned agents, pools; /* how many of each were seen */
	bool bad;		/* one was malformed */
	uint64_t id;
	char pool[TLS_POOL_LEN];
};

/* A pool name as the rest of poolpair accepts it: 1..63 of
 * [A-Za-z0-9._-], not starting with '-'. */
static bool pool_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= TLS_POOL_LEN || s[0] == '-')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789._-") == n;
}

static bool agent_uri(const char *uri, void *arg)
{
	struct agent_sans *a = arg;
	size_t alen = strlen(TLS_AGENT_URI_PREFIX);
	size_t plen = strlen(TLS_POOL_URI_PREFIX);

	if (strncmp(uri, TLS_AGENT_URI_PREFIX, alen) == 0) {
		const char *d = uri + alen;
		uint64_t id = 0;

		a->agents++;
		if (*d == '\0' || *d == '0' || strlen(d) > 19 ||
		    strspn(d, "0123456789") != strlen(d)) {
			a->bad = true;
			return true;
		}
		for (; *d != '\0'; d++)
			id = id * 10 + (uint64_t)(*d - '0');
		if (id > INT64_MAX)
			a->bad = true;
		a->id = id;
	} else if (strncmp(uri, TLS_POOL_URI_PREFIX, plen) == 0) {
		a->pools++;
		if (!pool_name_ok(uri + plen))
			a->bad = true;
		else
			snprintf(a->pool, sizeof a->pool, "%s", uri + plen);
	}
	return true;
}

uint64_t tls_cert_agent(X509 *x, char *pool, size_t len)
{
	struct agent_sans a;

	memset(&a, 0, sizeof a);
	if (len > 0)
		pool[0] = '\0';
	each_uri_san(x, agent_uri, &a);
	if (a.bad || a.agents != 1 || a.pools > 1 || strlen(a.pool) >= len)
		return 0;
	memcpy(pool, a.pool, strlen(a.pool) + 1);
	return a.id;
}

/* Role (subject OU, else URI SAN) and identity (CN) of a certificate. */
int tls_cert_role(X509 *x, char *identity, size_t len)
{
	char ou[64];
	int role;

	subject_entry(x, NID_commonName, false, identity, len);
	subject_entry(x, NID_organizationalUnitName, true, ou, sizeof ou);
	role = tls_role_parse(ou);
	if (role == TLS_ROLE_NONE)
		role = role_from_san(x);
	return role;
}

/* ---- context ---- */

struct built {
	SSL_CTX *ssl;
	int role;
	int64_t not_after;
	int64_t crl_next_update;
	char warning[TLS_ERRMSG_LEN];
	char identity[TLS_NAME_LEN];
	uint64_t agent;
	char pool[TLS_POOL_LEN];
	char errmsg[TLS_ERRMSG_LEN];
};

static int check_file(const char *what, const char *path, char *errmsg)
{
	if (path == NULL || path[0] == '\0') {
		snprintf(errmsg, TLS_ERRMSG_LEN, "%s: no file given", what);
		return TLS_E_CONFIG;
	}
	if (access(path, R_OK) != 0) {
		snprintf(errmsg, TLS_ERRMSG_LEN, "%s %s: %s", what, path,
			 strerror(errno));
		return TLS_E_CONFIG;
	}
	return 0;
}

/* Our own certificate against our own CA: one from another CA is a
 * configuration mistake (every peer would refuse it); one outside its
 * validity is only a warning (peers refuse it, but the files may be renewed
 * and reloaded without a restart). */
static int check_own(SSL_CTX *ctx, X509 *own, const char *ca, const char *cert,
		     const char *crl, struct built *b)
{
	X509_STORE_CTX *x = X509_STORE_CTX_new();
	STACK_OF(X509) *chain = NULL;
	const ASN1_TIME *na = X509_get0_notAfter(own);
	struct tm tm;
	int err;

	if (x == NULL) {
		snprintf(b->errmsg, sizeof b->errmsg, "out of memory");
		return TLS_E_NOMEM;
	}
	SSL_CTX_get0_chain_certs(ctx, &chain);
	if (X509_STORE_CTX_init(x, SSL_CTX_get_cert_store(ctx), own, chain) !=
	    1) {
		X509_STORE_CTX_free(x);
		ERR_clear_error();
		snprintf(b->errmsg, sizeof b->errmsg, "out of memory");
		return TLS_E_NOMEM;
	}
	err =
	    X509_verify_cert(x) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(x);
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	if (na != NULL && ASN1_TIME_to_tm(na, &tm) == 1)
		b->not_after = (int64_t)timegm(&tm);
	switch (err) {
	case X509_V_OK:
		return 0;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		snprintf(b->warning, sizeof b->warning,
			 "cert %s has expired: peers will refuse it", cert);
		return 0;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(b->warning, sizeof b->warning,
			 "cert %s is not yet valid: peers will refuse it",
			 cert);
		return 0;
	case X509_V_ERR_CERT_REVOKED:
		snprintf(b->errmsg, sizeof b->errmsg,
			 "cert %s is revoked by crl %s", cert, crl);
		return TLS_E_CONFIG;
	default:
		snprintf(b->errmsg, sizeof b->errmsg,
			 "cert %s does not verify against ca %s: %s", cert, ca,
			 X509_verify_cert_error_string(err));
		return TLS_E_CONFIG;
	}
}

/* Build a context from the files (crl "": none); thread-safe (no loop
 * access). */
static int build(const char *ca, const char *cert, const char *key,
		 const char *crl, struct built *b)
{
	char why[160];
	SSL_CTX *ctx;
	X509 *own;
	int rv;

	memset(b, 0, sizeof *b);
	b->not_after = INT64_MAX;
	b->crl_next_update = INT64_MAX;
	if ((rv = check_file("ca", ca, b->errmsg)) != 0 ||
	    (rv = check_file("cert", cert, b->errmsg)) != 0 ||
	    (rv = check_file("key", key, b->errmsg)) != 0)
		return rv;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_method());
	if (ctx == NULL) {
		snprintf(b->errmsg, sizeof b->errmsg, "out of memory");
		return TLS_E_NOMEM;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		tls_ssl_reason(why, sizeof why);
		snprintf(b->errmsg, sizeof b->errmsg, "tls 1.3: %s", why);
		goto err;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		tls_ssl_reason(why, sizeof why);
		snprintf(b->errmsg, sizeof b->errmsg,
			 "ca %s: no usable certificate (%s)", ca, why);
		goto err;
	}
	if (crl[0] != '\0') {
		rv = tls_crl_load(SSL_CTX_get_cert_store(ctx), crl, b->errmsg,
				  &b->crl_next_update);
		if (rv != 0)
			goto err;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_ssl_reason(why, sizeof why);
		snprintf(b->errmsg, sizeof b->errmsg,
			 "cert %s: no usable certificate (%s)", cert, why);
		goto err;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(b->errmsg, sizeof b->errmsg,
				 "key %s does not match cert %s", key, cert);
			goto err;
		}
		tls_ssl_reason(why, sizeof why);
		snprintf(b->errmsg, sizeof b->errmsg,
			 "key %s: no usable private key (%s)", key, why);
		goto err;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(b->errmsg, sizeof b->errmsg,
			 "key %s does not match cert %s", key, cert);
		goto err;
	}
	own = SSL_CTX_get0_certificate(ctx);
	b->role = own != NULL
		      ? tls_cert_role(own, b->identity, sizeof b->identity)
		      : TLS_ROLE_NONE;
	if (b->role == TLS_ROLE_NONE) {
		snprintf(b->errmsg, sizeof b->errmsg,
			 "cert %s: no role (subject OU agent, operator or "
			 "reader)",
			 cert);
		goto err;
	}
	b->agent = tls_cert_agent(own, b->pool, sizeof b->pool);
	rv = check_own(ctx, own, ca, cert, crl, b);
	if (rv != 0)
		goto err;
	SSL_CTX_set_verify(
	    ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	b->ssl = ctx;
	return 0;

err:
	SSL_CTX_free(ctx);
	return rv == TLS_E_NOMEM ? TLS_E_NOMEM : TLS_E_CONFIG;
}

/* Use b from now on; a reload counts a generation more. */
static void install(struct tls_ctx *c, struct built *b, bool reload)
{
	if (c->ssl != NULL)
		SSL_CTX_free(c->ssl); /* live connections hold their own ref */
	c->ssl = b->ssl;
	c->role = b->role;
	c->not_after = b->not_after;
	c->crl_next_update = b->crl_next_update;
	memcpy(c->identity, b->identity, sizeof c->identity);
	c->agent = b->agent;
	memcpy(c->pool, b->pool, sizeof c->pool);
	memcpy(c->warning, b->warning, sizeof c->warning);
	if (reload || c->generation == 0)
		c->generation++;
	c->errmsg[0] = '\0';
}

/* A reload may renew the certificate, not change the agent it names: who a
 * running process is comes from its configuration, checked at start. On a
 * change b is released and its errmsg says why. */
static int same_holder(const struct tls_ctx *c, struct built *b)
{
	if (b->agent == c->agent && strcmp(b->pool, c->pool) == 0)
		return 0;
	snprintf(b->errmsg, sizeof b->errmsg,
		 "cert %s names agent %llu (pool \"%s\"), the running one "
		 "agent %llu (pool \"%s\"): restart to change it",
		 c->cert, (unsigned long long)b->agent, b->pool,
		 (unsigned long long)c->agent, c->pool);
	SSL_CTX_free(b->ssl);
	b->ssl = NULL;
	return TLS_E_CONFIG;
}

int tls_ctx_check_agent(const struct tls_ctx *c, uint64_t id, const char *pool,
			char *msg, size_t len)
{
	char opt[TLS_POOL_LEN + 16] = "";

	if (c->agent == id && strcmp(c->pool, pool) == 0)
		return 0;
	if (pool[0] != '\0')
		snprintf(opt, sizeof opt, " --pool %s", pool);
	if (c->agent == 0)
		snprintf(
		    msg, len,
		    "cert %s names no agent: reissue it with poolpair-cert "
		    "issue DIR %s --role agent --agent-id %llu%s",
		    c->cert, c->identity[0] ? c->identity : "NAME",
		    (unsigned long long)id, opt);
	else
		snprintf(msg, len,
			 "cert %s names agent %llu (pool \"%s\"), this agent "
			 "is %llu (pool \"%s\"): reissue it with "
			 "poolpair-cert issue DIR %s --role agent --agent-id "
			 "%llu%s",
			 c->cert, (unsigned long long)c->agent, c->pool,
			 (unsigned long long)id, pool,
			 c->identity[0] ? c->identity : "NAME",
			 (unsigned long long)id, opt);
	return -1;
}

static int copy_path(char *dst, const char *src, const char *what, char *errmsg)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= TLS_PATH_LEN) {
		snprintf(errmsg, TLS_ERRMSG_LEN, "%s: path too long", what);
		return TLS_E_CONFIG;
	}
	memcpy(dst, src != NULL ? src : "", n + 1);
	return 0;
}

int tls_ctx_init(struct tls_ctx *c, const char *ca, const char *cert,
		 const char *key)
{
	struct built b;
	int rv;

	memset(c, 0, sizeof *c);
	if ((rv = copy_path(c->ca, ca, "ca", c->errmsg)) != 0 ||
	    (rv = copy_path(c->cert, cert, "cert", c->errmsg)) != 0 ||
	    (rv = copy_path(c->key, key, "key", c->errmsg)) != 0)
		return rv;
	rv = build(c->ca, c->cert, c->key, c->crl, &b);
	if (rv != 0) {
		memcpy(c->errmsg, b.errmsg, sizeof c->errmsg);
		return rv;
	}
	install(c, &b, false);
	return 0;
}

int tls_ctx_set_crl(struct tls_ctx *c, const char *crl)
{
	char old[TLS_PATH_LEN];
	struct built b;
	int rv;

	if (c->reloading || c->ssl == NULL) {
		snprintf(c->errmsg, sizeof c->errmsg,
			 "crl: context closed or reloading");
		return TLS_E_STATE;
	}
	memcpy(old, c->crl, sizeof old);
	if ((rv = copy_path(c->crl, crl, "crl", c->errmsg)) != 0)
		return rv;
	rv = build(c->ca, c->cert, c->key, c->crl, &b);
	if (rv != 0) {
		memcpy(c->crl, old, sizeof c->crl);
		memcpy(c->errmsg, b.errmsg, sizeof c->errmsg);
		return rv;
	}
	install(c, &b, false);
	return 0;
}

int tls_ctx_reload(struct tls_ctx *c)
{
	struct built b;
	int rv;

	if (c->reloading) {
		snprintf(c->errmsg, sizeof c->errmsg,
			 "a reload is already in flight");
		return TLS_E_STATE;
	}
	rv = build(c->ca, c->cert, c->key, c->crl, &b);
	if (rv == 0)
		rv = same_holder(c, &b);
	if (rv != 0) {
		memcpy(c->errmsg, b.errmsg, sizeof c->errmsg);
		return rv;
	}
	install(c, &b, true);
	tls_conns_check_revoked(c);
	return 0;
}

struct reload_work {
	uv_work_t req;
	struct tls_ctx *c;
	struct built b;
	int rv;
	tls_reload_cb cb;
	void *arg;
};

static void reload_work(uv_work_t *req)
{
	struct reload_work *w = req->data;

	w->rv = build(w->c->ca, w->c->cert, w->c->key, w->c->crl, &w->b);
}

static void reload_after(uv_work_t *req, int status)
{
	struct reload_work *w = req->data;
	struct tls_ctx *c = w->c;
	int rv = status != 0 ? status : w->rv;

	c->reloading = false;
	if (rv == 0)
		rv = same_holder(c, &w->b);
	if (rv == 0) {
		install(c, &w->b, true);
		tls_conns_check_revoked(c);
	} else {
		if (w->b.ssl != NULL)
			SSL_CTX_free(w->b.ssl);
		if (status != 0)
			snprintf(c->errmsg, sizeof c->errmsg, "reload: %s",
				 uv_strerror(status));
		else
			memcpy(c->errmsg, w->b.errmsg, sizeof c->errmsg);
	}
	w->cb(c, rv, w->arg);
	free(w);
}

int tls_ctx_reload_async(struct tls_ctx *c, uv_loop_t *loop, tls_reload_cb cb,
			 void *arg)
{
	struct reload_work *w;
	int rv;

	if (c->reloading)
		return TLS_E_STATE;
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return TLS_E_NOMEM;
	w->req.data = w;
	w->c = c;
	w->cb = cb;
	w->arg = arg;
	rv = uv_queue_work(loop, &w->req, reload_work, reload_after);
	if (rv != 0) {
		free(w);
		return rv;
	}
	c->reloading = true;
	return 0;
}

void tls_ctx_close(struct tls_ctx *c)
{
	tls_conns_detach(c);
	if (c->ssl != NULL)
		SSL_CTX_free(c->ssl);
	c->ssl = NULL;
}
