/* client: the HTTP client of poolpairctl. */
#include "agent/ctl/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent/ctl/client_internal.h"
#include "tls/tls.h"

static void client_err(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void client_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

static int client_is_http_url(const char *url)
{
	return strncmp(url, "http://", 7) == 0 ||
	       strncmp(url, "https://", 8) == 0;
}

/* Copy of s keeping only printable non-blank ASCII (header-safe). */
static void client_header_safe(char *dst, size_t len, const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n + 1 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch > 0x20 && ch < 0x7f)
			dst[n++] = (char)ch;
	}
	dst[n] = '\0';
}

static char *client_who_header(void)
{
	char user[128] = "";
	char host[256] = "";
	char raw[256];
	const char *login = getlogin();
	char *hdr;

	if (login == NULL || *login == '\0') {
		struct passwd *pw = getpwuid(geteuid());

		login = pw != NULL ? pw->pw_name : NULL;
	}
	client_header_safe(user, sizeof(user), login);
	if (gethostname(raw, sizeof(raw)) == 0) {
		raw[sizeof(raw) - 1] = '\0';
		client_header_safe(host, sizeof(host), raw);
	}
	if (asprintf(&hdr, "X-Poolpair-Who: %s@%s", user[0] ? user : "unknown",
		     host[0] ? host : "unknown") < 0)
		return NULL;
	return hdr;
}

int client_init(struct client *c, const char *base_url, long timeout_ms)
{
	size_t len;

	memset(c, 0, sizeof(*c));
	if (base_url == NULL || !client_is_http_url(base_url) ||
	    timeout_ms <= 0)
		return CLIENT_EINVAL;
	c->base = strdup(base_url);
	if (c->base == NULL)
		goto err;
	len = strlen(c->base);
	while (len > 0 && c->base[len - 1] == '/')
		c->base[--len] = '\0';
	c->who_header = client_who_header();
	if (c->who_header == NULL)
		goto err_after_base;
	c->curl = curl_easy_init();
	if (c->curl == NULL)
		goto err_after_who;
	c->timeout_ms = timeout_ms;
	return 0;

err_after_who:
	free(c->who_header);
err_after_base:
	free(c->base);
err:
	memset(c, 0, sizeof(*c));
	return CLIENT_ENOMEM;
}

/* Forget the members learnt. */
static void client_members_free(struct client *c)
{
	size_t i;

	for (i = 0; i < c->n_members; i++)
		free(c->members[i]);
	free(c->members);
	c->members = NULL;
	c->n_members = 0;
	c->members_known = 0;
}

void client_close(struct client *c)
{
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	client_members_free(c);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_crl);
	free(c->who_header);
	free(c->base);
	memset(c, 0, sizeof(*c));
}

int client_set_base(struct client *c, const char *base_url)
{
	char *base;
	size_t len;

	if (base_url == NULL || !client_is_http_url(base_url))
		return CLIENT_EINVAL;
	base = strdup(base_url);
	if (base == NULL)
		return CLIENT_ENOMEM;
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	free(c->base);
	c->base = base;
	return 0;
}

/* ---- transfer ---------------------------------------------------------- */

static size_t client_read(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct client_xfer *x = data;
	int64_t left = x->body_len - x->sent;
	size_t n = size * nmemb;
	size_t got;

	if ((int64_t)n > left)
		n = (size_t)left;
	if (n == 0)
		return 0;
	got = fread(ptr, 1, n, x->in);
	if (got == 0) {
		if (ferror(x->in))
			x->in_errno = errno != 0 ? errno : EIO;
		else
			x->in_short = 1;
		return CURL_READFUNC_ABORT;
	}
	x->sent += (int64_t)got;
	return got;
}

static size_t client_write(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct client_xfer *x = data;
	size_t n = size * nmemb;

	if (x->out != NULL) {
		long status = 0;

		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
		x->status = status;
		if (status >= 200 && status < 300) {
			if (fwrite(ptr, 1, n, x->out) != n) {
				x->out_errno = errno != 0 ? errno : EIO;
				return 0;
			}
			x->received += (int64_t)n;
			return n;
		}
	}
	if (n > x->max - x->len) {
		x->too_big = 1;
		return 0;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *p;

		while (cap < x->len + n + 1)
			cap *= 2;
		p = realloc(x->buf, cap);
		if (p == NULL) {
			x->nomem = 1;
			return 0;
		}
		x->buf = p;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, ptr, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

static int client_info(void *data, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct client_xfer *x = data;

	x->progress(x, (int64_t)dltotal, 0);
	return 0;
}

/* "scheme://host:port" of url, for messages. */
static void client_origin(char *dst, size_t len, const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p != NULL ? strchr(p + 3, '/') : NULL;
	n = p != NULL ? (size_t)(p - url) : strlen(url);
	if (n >= len)
		n = len - 1;
	memcpy(dst, url, n);
	dst[n] = '\0';
}

/* Append a copy of line to *list. Returns 0 or -1 (out of memory, *list
 * unchanged). */
static int client_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = curl_slist_append(*list, line);

	if (n == NULL)
		return -1;
	*list = n;
	return 0;
}

/* The request headers of x (a list the caller frees), or NULL when out
 * of memory. */
static struct curl_slist *client_headers(const struct client *c,
					 const struct client_xfer *x)
{
	struct curl_slist *headers = NULL;
	char accept[128], ctype[128];

	snprintf(accept, sizeof(accept), "Accept: %s",
		 x->accept != NULL ? x->accept : "application/json");
	if (x->content_type != NULL)
		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
			 x->content_type);
	if (client_header(&headers, accept) != 0 ||
	    client_header(&headers, "Expect:") != 0 ||
	    client_header(&headers, c->who_header) != 0 ||
	    (x->content_type != NULL && client_header(&headers, ctype) != 0)) {
		curl_slist_free_all(headers);
		return NULL;
	}
	return headers;
}

/* Set up one hop of x on the (reset) easy handle: the one set-up of
 * every transfer poolpairctl makes. */
static int client_setup(struct client *c, struct client_xfer *x,
			struct curl_slist *headers, char *curl_err)
{
	CURL *curl = c->curl;
	CURLcode rc = CURLE_OK;

	curl_easy_reset(curl);
	c->peer_refused = 0;
	c->peer_revoked = 0;
	c->peer_role = TLS_ROLE_NONE;
	c->peer_identity[0] = '\0';
#define CLIENT_SET(opt, val)                                                   \
	do {                                                                   \
		if (rc == CURLE_OK)                                            \
			rc = curl_easy_setopt(curl, opt, val);                 \
	} while (0)
	CLIENT_SET(CURLOPT_URL, x->url);
	CLIENT_SET(CURLOPT_PROTOCOLS_STR, "http,https");
	CLIENT_SET(CURLOPT_NOSIGNAL, 1L);
	CLIENT_SET(CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	if (x->stream) {
		/* no progress at all for the timeout ends the transfer */
		CLIENT_SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
		CLIENT_SET(CURLOPT_LOW_SPEED_TIME,
			   (c->timeout_ms + 999) / 1000);
	} else {
		CLIENT_SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
	}
	CLIENT_SET(CURLOPT_FOLLOWLOCATION, 0L);
	CLIENT_SET(CURLOPT_HTTPHEADER, headers);
	CLIENT_SET(CURLOPT_WRITEFUNCTION, client_write);
	CLIENT_SET(CURLOPT_WRITEDATA, x);
	CLIENT_SET(CURLOPT_ERRORBUFFER, curl_err);
	if (x->progress != NULL) {
		CLIENT_SET(CURLOPT_XFERINFOFUNCTION, client_info);
		CLIENT_SET(CURLOPT_XFERINFODATA, x);
		CLIENT_SET(CURLOPT_NOPROGRESS, 0L);
	}
	if (x->in != NULL) {
		CLIENT_SET(CURLOPT_UPLOAD, 1L);
		CLIENT_SET(CURLOPT_READFUNCTION, client_read);
		CLIENT_SET(CURLOPT_READDATA, x);
		CLIENT_SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
		if (strcmp(x->method, "PUT") != 0)
			CLIENT_SET(CURLOPT_CUSTOMREQUEST, x->method);
	} else if (x->body != NULL) {
		CLIENT_SET(CURLOPT_POSTFIELDS, x->body);
		CLIENT_SET(CURLOPT_POSTFIELDSIZE_LARGE,
			   (curl_off_t)x->body_len);
		if (strcmp(x->method, "POST") != 0)
			CLIENT_SET(CURLOPT_CUSTOMREQUEST, x->method);
	} else if (strcmp(x->method, "POST") == 0) {
		CLIENT_SET(CURLOPT_POSTFIELDS, "");
		CLIENT_SET(CURLOPT_POSTFIELDSIZE, 0L);
	} else if (strcmp(x->method, "GET") == 0) {
		CLIENT_SET(CURLOPT_HTTPGET, 1L);
	} else {
		CLIENT_SET(CURLOPT_CUSTOMREQUEST, x->method);
	}
#undef CLIENT_SET
	if (rc != CURLE_OK || client_apply_tls(c, curl) != 0)
		return CLIENT_EINVAL;
	return 0;
}

/* What to try when a transfer failed in a way TLS explains, or "". */
static const char *client_tls_hint(const struct client *c, CURLcode rc,
				   const char *url)
{
	int https = strncmp(url, "https://", 8) == 0;

	if (!https && rc == CURLE_GOT_NOTHING)
		return " (an agent with [tls] answers https:// only)";
	if (https && rc == CURLE_PEER_FAILED_VERIFICATION)
		return " (the agent's certificate must verify against --ca or "
		       "POOLPAIR_CA)";
	if (https && c->tls_cert == NULL &&
	    (rc == CURLE_RECV_ERROR || rc == CURLE_SSL_CONNECT_ERROR ||
	     rc == CURLE_SEND_ERROR))
		return " (the agent wants a client certificate: --cert and "
		       "--key, or POOLPAIR_CERT and POOLPAIR_KEY)";
	return "";
}

/* Map a failed hop to a CLIENT_E* code and message: first what the
 * callbacks ran into, then libcurl's code. */
static int client_transfer_error(struct client *c, const struct client_xfer *x,
				 CURLcode rc, const char *curl_err,
				 char *errbuf, size_t errlen)
{
	char origin[256];
	long os_errno = 0;
	const char *why = curl_err[0] ? curl_err : curl_easy_strerror(rc);

	client_origin(origin, sizeof(origin), x->url);
	if (x->in_errno != 0) {
		client_err(errbuf, errlen, "cannot read %s: %s", x->in_name,
			   strerror(x->in_errno));
		return CLIENT_EIO;
	}
	if (x->in_short) {
		client_err(errbuf, errlen, "%s shrank while it was sent",
			   x->in_name);
		return CLIENT_EIO;
	}
	if (x->out_errno != 0) {
		client_err(errbuf, errlen, "cannot write %s: %s", x->out_name,
			   strerror(x->out_errno));
		return CLIENT_EIO;
	}
	if (x->too_big) {
		client_err(errbuf, errlen,
			   "answer from %s is larger than %zu bytes", origin,
			   x->max);
		return CLIENT_ETOOBIG;
	}
	if (x->nomem) {
		client_err(errbuf, errlen, "out of memory reading from %s",
			   origin);
		return CLIENT_ENOMEM;
	}
	if (c->peer_refused) {
		client_err(errbuf, errlen,
			   "%s is not a poolpair agent: its certificate "
			   "(CN=%s) has role %s, a server must have role "
			   "agent",
			   origin, c->peer_identity[0] ? c->peer_identity : "?",
			   tls_role_name(c->peer_role));
		return CLIENT_EPEER;
	}
	if (c->peer_revoked) {
		client_err(errbuf, errlen,
			   "the certificate of %s (CN=%s) is revoked by crl %s",
			   origin, c->peer_identity[0] ? c->peer_identity : "?",
			   c->tls_crl != NULL ? c->tls_crl : "?");
		return CLIENT_EPEER;
	}
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
		if (rc == CURLE_COULDNT_CONNECT && os_errno != 0)
			why = strerror((int)os_errno);
		client_err(errbuf, errlen, "cannot reach %s: %s", origin, why);
		return CLIENT_ECONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		client_err(errbuf, errlen, "%s from %s within %ld ms",
			   x->stream ? "no progress" : "no answer", origin,
			   c->timeout_ms);
		return CLIENT_ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		client_err(errbuf, errlen, "out of memory");
		return CLIENT_ENOMEM;
	default:
		client_err(errbuf, errlen, "request to %s failed: %s%s", origin,
			   why, client_tls_hint(c, rc, x->url));
		return CLIENT_EPROTO;
	}
}

/* Start the body and the answer again for a new hop. */
static int client_rewind(struct client_xfer *x)
{
	x->sent = 0;
	x->len = 0;
	x->too_big = 0;
	if (x->in != NULL && fseeko(x->in, 0, SEEK_SET) != 0) {
		x->in_errno = errno;
		return -1;
	}
	return 0;
}

/* After a hop that carried bytes: the progress with its final figures. */
static void client_progress_end(struct client *c, struct client_xfer *x)
{
	curl_off_t total = -1;

	if (x->progress == NULL)
		return;
	curl_easy_getinfo(c->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
	x->progress(x, total > 0 ? (int64_t)total : 0, 1);
}

/* client_transfer(), following redirects when follow is set, else
 * stopping at the first answer, whatever it is. */
static int client_hops(struct client *c, struct client_xfer *x, int follow,
		       char *errbuf, size_t errlen)
{
	struct curl_slist *headers = NULL;
	char curl_err[CURL_ERROR_SIZE];
	int hop;
	int rv;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	x->curl = c->curl;
	if (x->max == 0)
		x->max = (size_t)CLIENT_MAX_RESPONSE;
	if (x->method == NULL || x->path == NULL || x->path[0] != '/') {
		client_err(errbuf, errlen, "bad request path");
		return CLIENT_EINVAL;
	}
	if (asprintf(&x->url, "%s%s", c->base, x->path) < 0) {
		x->url = NULL;
		client_err(errbuf, errlen, "out of memory");
		return CLIENT_ENOMEM;
	}
	headers = client_headers(c, x);
	if (headers == NULL) {
		client_err(errbuf, errlen, "out of memory");
		return CLIENT_ENOMEM;
	}
	for (hop = 0;; hop++) {
		char *location = NULL;
		char origin[256];
		CURLcode rc;

		curl_err[0] = '\0';
		if (client_rewind(x) != 0) {
			rv = client_transfer_error(c, x, CURLE_READ_ERROR,
						   curl_err, errbuf, errlen);
			break;
		}
		rv = client_setup(c, x, headers, curl_err);
		if (rv != 0) {
			client_err(errbuf, errlen, "cannot set up request");
			break;
		}
		rc = curl_easy_perform(c->curl);
		client_progress_end(c, x);
		if (rc != CURLE_OK) {
			rv = client_transfer_error(c, x, rc, curl_err, errbuf,
						   errlen);
			break;
		}
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &x->status);
		if (!follow || (x->status != 307 && x->status != 308))
			break;
		client_origin(origin, sizeof(origin), x->url);
		curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &location);
		if (location == NULL || !client_is_http_url(location)) {
			client_err(errbuf, errlen,
				   "redirect from %s without a usable location",
				   origin);
			rv = CLIENT_EREDIRECT;
			break;
		}
		if (hop == CLIENT_MAX_REDIRECTS) {
			client_err(errbuf, errlen,
				   "too many redirects (more than %d), last "
				   "from %s",
				   CLIENT_MAX_REDIRECTS, origin);
			rv = CLIENT_EREDIRECT;
			break;
		}
		location = strdup(location);
		if (location == NULL) {
			client_err(errbuf, errlen, "out of memory");
			rv = CLIENT_ENOMEM;
			break;
		}
		rv = client_redirect_ok(c, x->url, location, errbuf, errlen);
		if (rv != 0) {
			free(location);
			break;
		}
		free(x->url);
		x->url = location;
	}
	curl_slist_free_all(headers);
	return rv;
}

int client_transfer(struct client *c, struct client_xfer *x, char *errbuf,
		    size_t errlen)
{
	return client_hops(c, x, 1, errbuf, errlen);
}

/* ---- redirects ---------------------------------------------------------- */

/* Learn the API addresses of the cluster's members from the agent of the
 * base URL (GET /v1/members, no redirect followed). Returns 0 or a
 * CLIENT_E* code with errbuf set. */
static int client_members_load(struct client *c, char *errbuf, size_t errlen)
{
	struct client_xfer x = {.method = "GET", .path = "/v1/members"};
	json_t *answer = NULL, *list, *m;
	char why[384];
	size_t i;
	int rv;

	rv = client_hops(c, &x, 0, why, sizeof why);
	if (rv == 0 && x.status != 200) {
		snprintf(why, sizeof why, "%s/v1/members answered http %ld",
			 c->base, x.status);
		rv = CLIENT_EPROTO;
	}
	if (rv == 0) {
		answer = json_loadb(x.buf != NULL ? x.buf : "", x.len, 0, NULL);
		list = json_object_get(answer, "members");
		if (!json_is_array(list)) {
			snprintf(why, sizeof why,
				 "%s/v1/members: no list of members", c->base);
			rv = CLIENT_EPROTO;
		}
	}
	client_xfer_release(&x);
	if (rv != 0) {
		json_decref(answer);
		client_err(errbuf, errlen, "%s", why);
		return rv;
	}
	c->members = calloc(json_array_size(list) + 1, sizeof(char *));
	if (c->members == NULL)
		goto nomem;
	json_array_foreach (list, i, m) {
		const char *api = json_string_value(json_object_get(m, "api"));

		if (api == NULL || api[0] == '\0')
			continue;
		c->members[c->n_members] = strdup(api);
		if (c->members[c->n_members] == NULL)
			goto nomem;
		c->n_members++;
	}
	c->members_known = 1;
	json_decref(answer);
	return 0;

nomem:
	json_decref(answer);
	client_members_free(c);
	client_err(errbuf, errlen, "out of memory");
	return CLIENT_ENOMEM;
}

int client_redirect_ok(struct client *c, const char *from, const char *to,
		       char *errbuf, size_t errlen)
{
	char origin[256];
	const char *host;
	size_t n, i;
	int rv;

	client_origin(origin, sizeof(origin), from);
	if (!client_is_http_url(to)) {
		client_err(errbuf, errlen,
			   "refused redirect from %s to %s: not an http:// or "
			   "https:// url",
			   origin, to);
		return CLIENT_EREDIRECT;
	}
	if (strncmp(from, "https://", 8) == 0 &&
	    strncmp(to, "https://", 8) != 0) {
		client_err(errbuf, errlen,
			   "refused redirect from %s to %s: from https to "
			   "http would send the request in the clear",
			   origin, to);
		return CLIENT_EREDIRECT;
	}
	host = strstr(to, "://") + 3;
	n = strcspn(host, "/?#");
	if (!c->members_known) {
		char why[384];

		rv = client_members_load(c, why, sizeof why);
		if (rv != 0) {
			client_err(errbuf, errlen,
				   "refused redirect from %s to %s: cannot "
				   "learn the cluster's members: %s",
				   origin, to, why);
			return rv;
		}
	}
	for (i = 0; i < c->n_members; i++)
		if (strlen(c->members[i]) == n &&
		    strncasecmp(c->members[i], host, n) == 0)
			return 0;
	client_err(errbuf, errlen,
		   "refused redirect from %s to %s: %.*s is not the api "
		   "address of a member of the cluster",
		   origin, to, (int)n, host);
	return CLIENT_EREDIRECT;
}

/* ---- answers ------------------------------------------------------------ */

void client_xfer_release(struct client_xfer *x)
{
	free(x->buf);
	free(x->url);
	x->buf = NULL;
	x->url = NULL;
	x->len = 0;
	x->cap = 0;
}

/* ---- JSON requests ------------------------------------------------------ */

int client_request(struct client *c, const char *method, const char *path,
		   json_t *body, long *status, json_t **response, char *errbuf,
		   size_t errlen)
{
	struct client_xfer x = {.method = method, .path = path};
	char *body_str = NULL;
	json_error_t jerr;
	int rv;

	*status = 0;
	*response = NULL;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (method == NULL || path == NULL || path[0] != '/') {
		client_err(errbuf, errlen, "bad request path");
		return CLIENT_EINVAL;
	}
	if (body != NULL) {
		body_str = json_dumps(body, JSON_COMPACT);
		if (body_str == NULL) {
			client_err(errbuf, errlen,
				   "cannot encode request body");
			return CLIENT_ENOMEM;
		}
		x.body = body_str;
		x.body_len = (int64_t)strlen(body_str);
		x.content_type = "application/json";
	}
	rv = client_transfer(c, &x, errbuf, errlen);
	*status = x.status;
	if (rv == 0 && x.len > 0) {
		*response = json_loadb(x.buf, x.len, 0, &jerr);
		if (*response == NULL) {
			char origin[256];

			client_origin(origin, sizeof(origin), x.url);
			client_err(
			    errbuf, errlen,
			    "bad answer from %s (http %ld): not json: %s",
			    origin, x.status, jerr.text);
			rv = CLIENT_EPROTO;
		}
	}
	client_xfer_release(&x);
	free(body_str);
	return rv;
}

char *client_escape(const char *segment)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(segment);
	char *out = malloc(len * 3 + 1);
	char *p = out;

	if (out == NULL)
		return NULL;
	for (; *segment != '\0'; segment++) {
		unsigned char ch = (unsigned char)*segment;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '~' || ch == '-') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}

const char *client_strerror(int code)
{
	switch (code) {
	case 0:
		return "ok";
	case CLIENT_ENOMEM:
		return "out of memory";
	case CLIENT_EINVAL:
		return "invalid argument";
	case CLIENT_ECONNECT:
		return "cannot connect";
	case CLIENT_ETIMEDOUT:
		return "timed out";
	case CLIENT_EPROTO:
		return "bad answer";
	case CLIENT_EREDIRECT:
		return "bad redirect";
	case CLIENT_ETOOBIG:
		return "answer too large";
	case CLIENT_EIO:
		return "input/output error";
	case CLIENT_EPEER:
		return "server is not an agent";
	default:
		return "unknown error";
	}
}
