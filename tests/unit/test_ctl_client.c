/* Tests of poolpairctl's HTTP client (agent/ctl/client.c) against fake
 * servers on loopback: plain or TLS (certificates made by
 * scripts/poolpair-cert), each answering canned answers by path from a
 * thread of its own. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/ctl/client.h"
#include "pki_fixture.h"

static int group_setup(void **state)
{
	(void)state;
	if (pki_open("ctl") != 0)
		return -1;
	pki_ca("a", "");
	pki_issue("a", "n1", "--role agent --agent-id 1");
	pki_issue("a", "op", "--role operator");
	pki_issue("a", "rd", "--role reader");
	pki_issue("a", "gone", "--role agent --agent-id 2");
	sh(CERT_TOOL " revoke %s/a gone >/dev/null", pki_dir);
	sh(CERT_TOOL " crl %s/a >/dev/null", pki_dir);
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	pki_close();
	return 0;
}

/* ---- a fake server ---- */

#define FAKE_ROUTES 4

struct fake {
	int fd;
	int port;
	SSL_CTX *ssl; /* NULL: plain */
	pthread_t thread;
	struct {
		const char *path;  /* exact request path */
		char answer[1024]; /* the whole answer, headers and body */
	} route[FAKE_ROUTES];
	int hits[FAKE_ROUTES]; /* requests per route */
	int requests;	       /* all requests read */
};

/* Read one request's head (a small one: the tests send no large body) and
 * its body into buf; returns its length or -1. */
static ssize_t fake_read(SSL *ssl, int fd, char *buf, size_t len)
{
	size_t n = 0;
	char *end;

	while (n + 1 < len) {
		ssize_t got = ssl != NULL
				  ? SSL_read(ssl, buf + n, (int)(len - n - 1))
				  : read(fd, buf + n, len - n - 1);

		if (got <= 0)
			return -1;
		n += (size_t)got;
		buf[n] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL) {
			const char *cl = strcasestr(buf, "content-length:");
			size_t want = (size_t)(end + 4 - buf);

			if (cl != NULL && cl < end)
				want += strtoul(cl + 15, NULL, 10);
			if (n >= want)
				return (ssize_t)n;
		}
	}
	return -1;
}

static void fake_serve(struct fake *f, int fd)
{
	char buf[8192], reqpath[512] = "";
	SSL *ssl = NULL;
	const char *answer =
	    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
	    "Content-Length: 21\r\nConnection: close\r\n\r\n"
	    "{\"error\":\"not_found\"}";
	int i;

	if (f->ssl != NULL) {
		ssl = SSL_new(f->ssl);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) != 1)
			goto out;
	}
	if (fake_read(ssl, fd, buf, sizeof buf) < 0 ||
	    sscanf(buf, "%*s %511s", reqpath) != 1)
		goto out;
	__atomic_add_fetch(&f->requests, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < FAKE_ROUTES; i++) {
		if (f->route[i].path != NULL &&
		    strcmp(f->route[i].path, reqpath) == 0) {
			__atomic_add_fetch(&f->hits[i], 1, __ATOMIC_SEQ_CST);
			answer = f->route[i].answer;
			break;
		}
	}
	if (ssl != NULL)
		SSL_write(ssl, answer, (int)strlen(answer));
	else if (write(fd, answer, strlen(answer)) < 0)
		goto out;
out:
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	ERR_clear_error();
	close(fd);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd;

	while ((fd = accept(f->fd, NULL, NULL)) >= 0)
		fake_serve(f, fd);
	return NULL;
}

/* Start a fake server; cert NULL: plain, else TLS with DIR/a/NAME. Its
 * routes are set with fake_route() before the first request. */
static void fake_start(struct fake *f, const char *cert)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int one = 1;

	memset(f, 0, sizeof *f);
	if (cert != NULL) {
		f->ssl = SSL_CTX_new(TLS_server_method());
		assert_non_null(f->ssl);
		SSL_CTX_set_min_proto_version(f->ssl, TLS1_3_VERSION);
		assert_int_equal(SSL_CTX_use_certificate_chain_file(
				     f->ssl, path("a/%s.crt", cert)),
				 1);
		assert_int_equal(
		    SSL_CTX_use_PrivateKey_file(f->ssl, path("a/%s.key", cert),
						SSL_FILETYPE_PEM),
		    1);
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->fd >= 0);
	setsockopt(f->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->fd, 16), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sa, &len), 0);
	f->port = ntohs(sa.sin_port);
}

static void fake_run(struct fake *f)
{
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_route(struct fake *f, int i, const char *p, int status,
		       const char *extra_headers, const char *body)
{
	f->route[i].path = p;
	snprintf(f->route[i].answer, sizeof f->route[i].answer,
		 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
		 status, strlen(body), extra_headers, body);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->fd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->fd);
	if (f->ssl != NULL)
		SSL_CTX_free(f->ssl);
}

static int hits(struct fake *f, int i)
{
	return __atomic_load_n(&f->hits[i], __ATOMIC_SEQ_CST);
}

static void client_for(struct client *c, const char *scheme, int port)
{
	char url[128];

	snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, port);
	assert_int_equal(client_init(c, url, 5000), 0);
}

/* ---- the server's certificate ---- */

/* An agent's certificate is a server's. */
static void test_tls_agent_server(void **state)
{
	struct client c;
	struct fake f;
	json_t *resp = NULL;
	char err[512];
	long status;

	(void)state;
	fake_start(&f, "n1");
	fake_route(&f, 0, "/v1/status", 200, "", "{\"ok\":true}");
	fake_run(&f);
	client_for(&c, "https", f.port);
	assert_int_equal(client_set_tls(&c, path("a/ca.crt"), path("a/op.crt"),
					path("a/op.key")),
			 0);
	assert_int_equal(client_request(&c, "GET", "/v1/status", NULL, &status,
					&resp, err, sizeof err),
			 0);
	assert_int_equal(status, 200);
	assert_true(json_is_true(json_object_get(resp, "ok")));
	json_decref(resp);
	client_close(&c);
	fake_stop(&f);
}

/* An operator's or a reader's certificate of the same CA is not an
 * agent's: no request is sent to such a server. */
static void refused_as_server(const char *cert, const char *role)
{
	struct client c;
	struct fake f;
	json_t *resp = NULL;
	char err[512], want[256];
	long status;

	fake_start(&f, cert);
	fake_route(&f, 0, "/v1/status", 200, "", "{\"ok\":true}");
	fake_run(&f);
	client_for(&c, "https", f.port);
	assert_int_equal(client_set_tls(&c, path("a/ca.crt"), path("a/op.crt"),
					path("a/op.key")),
			 0);
	assert_int_equal(client_request(&c, "GET", "/v1/status", NULL, &status,
					&resp, err, sizeof err),
			 CLIENT_EPEER);
	assert_null(resp);
	snprintf(want, sizeof want,
		 "https://127.0.0.1:%d is not a poolpair agent: its "
		 "certificate (CN=%s) has role %s, a server must have role "
		 "agent",
		 f.port, cert, role);
	assert_string_equal(err, want);
	assert_int_equal(hits(&f, 0), 0);
	client_close(&c);
	fake_stop(&f);
}

static void test_tls_operator_server_refused(void **state)
{
	(void)state;
	refused_as_server("op", "operator");
}

static void test_tls_reader_server_refused(void **state)
{
	(void)state;
	refused_as_server("rd", "reader");
}

/* With a CRL, an agent whose certificate it revokes is refused; the
 * others are not. */
static void test_tls_crl(void **state)
{
	struct client c;
	struct fake f, g;
	json_t *resp = NULL;
	char err[512], want[512];
	long status;

	(void)state;
	fake_start(&f, "gone");
	fake_route(&f, 0, "/v1/status", 200, "", "{\"ok\":true}");
	fake_run(&f);
	fake_start(&g, "n1");
	fake_route(&g, 0, "/v1/status", 200, "", "{\"ok\":true}");
	fake_run(&g);
	client_for(&c, "https", f.port);
	assert_int_equal(client_set_tls(&c, path("a/ca.crt"), path("a/op.crt"),
					path("a/op.key")),
			 0);
	/* without the CRL it is taken */
	assert_int_equal(client_request(&c, "GET", "/v1/status", NULL, &status,
					&resp, err, sizeof err),
			 0);
	assert_int_equal(status, 200);
	json_decref(resp);
	resp = NULL;
	assert_int_equal(client_set_crl(&c, path("a/ca.crl")), 0);
	assert_int_equal(client_request(&c, "GET", "/v1/status", NULL, &status,
					&resp, err, sizeof err),
			 CLIENT_EPEER);
	snprintf(want, sizeof want,
		 "the certificate of https://127.0.0.1:%d (CN=gone) is "
		 "revoked by crl %s",
		 f.port, path("a/ca.crl"));
	assert_string_equal(err, want);
	assert_int_equal(hits(&f, 0), 1);
	client_close(&c);
	client_for(&c, "https", g.port);
	assert_int_equal(client_set_tls(&c, path("a/ca.crt"), path("a/op.crt"),
					path("a/op.key")),
			 0);
	assert_int_equal(client_set_crl(&c, path("a/ca.crl")), 0);
	assert_int_equal(client_request(&c, "GET", "/v1/status", NULL, &status,
					&resp, err, sizeof err),
			 0);
	assert_int_equal(status, 200);
	json_decref(resp);
	client_close(&c);
	fake_stop(&f);
	fake_stop(&g);
}

/* ---- redirects ---- */

/* a (with certificate a_cert, or plain) and b started, not running: a
 * answers POST /v1/sites with a 307 to b's /v1/sites (its Location header
 * written to loc), b with 201 {"decision":7}. */
static void redirect_start(struct fake *a, struct fake *b, const char *a_cert,
			   char *loc, size_t loc_len)
{
	fake_start(a, a_cert);
	fake_start(b, NULL);
	snprintf(loc, loc_len, "Location: http://127.0.0.1:%d/v1/sites\r\n",
		 b->port);
	fake_route(a, 0, "/v1/sites", 307, loc, "{\"error\":\"not_leader\"}");
	fake_route(b, 0, "/v1/sites", 201, "", "{\"decision\":7}");
}

/* A follower's 307 to another member is followed; the members are asked
 * of the agent first talked to. */
static void test_redirect_to_member(void **state)
{
	struct client c;
	struct fake a, b;
	json_t *resp = NULL;
	char err[512], loc[128], members[256];
	long status;

	(void)state;
	redirect_start(&a, &b, NULL, loc, sizeof loc);
	snprintf(members, sizeof members,
		 "{\"members\":[{\"id\":1,\"api\":\"127.0.0.1:%d\"},"
		 "{\"id\":2,\"api\":\"127.0.0.1:%d\"},{\"id\":3}]}",
		 a.port, b.port);
	fake_route(&a, 1, "/v1/members", 200, "", members);
	fake_run(&a);
	fake_run(&b);
	client_for(&c, "http", a.port);
	assert_int_equal(client_request(&c, "POST", "/v1/sites", NULL, &status,
					&resp, err, sizeof err),
			 0);
	assert_int_equal(status, 201);
	assert_int_equal(json_integer_value(json_object_get(resp, "decision")),
			 7);
	json_decref(resp);
	assert_int_equal(hits(&a, 1), 1);
	assert_int_equal(hits(&b, 0), 1);
	/* the members are learnt once */
	resp = NULL;
	assert_int_equal(client_request(&c, "POST", "/v1/sites", NULL, &status,
					&resp, err, sizeof err),
			 0);
	assert_int_equal(status, 201);
	json_decref(resp);
	assert_int_equal(hits(&a, 1), 1);
	assert_int_equal(hits(&b, 0), 2);
	client_close(&c);
	fake_stop(&a);
	fake_stop(&b);
}

/* A 307 to an address that is no member's API is not followed, and says
 * which Location was refused. */
static void test_redirect_to_stranger_refused(void **state)
{
	struct client c;
	struct fake a, b;
	json_t *resp = NULL;
	char err[512], loc[128], members[256], want[512];
	long status;

	(void)state;
	redirect_start(&a, &b, NULL, loc, sizeof loc);
	snprintf(members, sizeof members,
		 "{\"members\":[{\"id\":1,\"api\":\"127.0.0.1:%d\"}]}", a.port);
	fake_route(&a, 1, "/v1/members", 200, "", members);
	fake_run(&a);
	fake_run(&b);
	client_for(&c, "http", a.port);
	assert_int_equal(client_request(&c, "POST", "/v1/sites", NULL, &status,
					&resp, err, sizeof err),
			 CLIENT_EREDIRECT);
	assert_null(resp);
	assert_int_equal(status, 307);
	snprintf(want, sizeof want,
		 "refused redirect from http://127.0.0.1:%d to "
		 "http://127.0.0.1:%d/v1/sites: 127.0.0.1:%d is not the api "
		 "address of a member of the cluster",
		 a.port, b.port, b.port);
	assert_string_equal(err, want);
	assert_int_equal(hits(&a, 1), 1);
	assert_int_equal(b.requests, 0);
	client_close(&c);
	fake_stop(&a);
	fake_stop(&b);
}

/* Members that cannot be learnt: no redirect is followed. */
static void test_redirect_members_unknown(void **state)
{
	struct client c;
	struct fake a, b;
	json_t *resp = NULL;
	char err[512], loc[128];
	long status;

	(void)state;
	redirect_start(&a, &b, NULL, loc, sizeof loc);
	fake_run(&a);
	fake_run(&b);
	client_for(&c, "http", a.port);
	assert_int_equal(client_request(&c, "POST", "/v1/sites", NULL, &status,
					&resp, err, sizeof err),
			 CLIENT_EPROTO);
	assert_non_null(strstr(err, "cannot learn the cluster's members"));
	assert_non_null(strstr(err, "answered http 404"));
	assert_int_equal(b.requests, 0);
	client_close(&c);
	fake_stop(&a);
	fake_stop(&b);
}

/* From https to http is refused even to a member: the request and our
 * answer would cross the network in the clear. */
static void test_redirect_https_to_http_refused(void **state)
{
	struct client c;
	struct fake a, b;
	json_t *resp = NULL;
	char err[512], loc[128], members[256], want[512];
	long status;

	(void)state;
	redirect_start(&a, &b, "n1", loc, sizeof loc);
	snprintf(members, sizeof members,
		 "{\"members\":[{\"id\":1,\"api\":\"127.0.0.1:%d\"},"
		 "{\"id\":2,\"api\":\"127.0.0.1:%d\"}]}",
		 a.port, b.port);
	fake_route(&a, 1, "/v1/members", 200, "", members);
	fake_run(&a);
	fake_run(&b);
	client_for(&c, "https", a.port);
	assert_int_equal(client_set_tls(&c, path("a/ca.crt"), path("a/op.crt"),
					path("a/op.key")),
			 0);
	assert_int_equal(client_request(&c, "POST", "/v1/sites", NULL, &status,
					&resp, err, sizeof err),
			 CLIENT_EREDIRECT);
	snprintf(want, sizeof want,
		 "refused redirect from https://127.0.0.1:%d to "
		 "http://127.0.0.1:%d/v1/sites: from https to http would "
		 "send the request in the clear",
		 a.port, b.port);
	assert_string_equal(err, want);
	assert_int_equal(b.requests, 0);
	client_close(&c);
	fake_stop(&a);
	fake_stop(&b);
}

/* client_redirect_ok() on its own: the same rules for what poolpairctl
 * follows outside a 307 (a standby's 421 naming its writer). */
static void test_redirect_ok_rules(void **state)
{
	struct client c;
	struct fake a;
	char err[512], members[256], from[64], to[128];

	(void)state;
	fake_start(&a, NULL);
	snprintf(members, sizeof members,
		 "{\"members\":[{\"id\":1,\"api\":\"127.0.0.1:%d\"},"
		 "{\"id\":2,\"api\":\"agent-2.example:7101\"}]}",
		 a.port);
	fake_route(&a, 0, "/v1/members", 200, "", members);
	fake_run(&a);
	client_for(&c, "http", a.port);
	snprintf(from, sizeof from, "http://127.0.0.1:%d/v1/users/x", a.port);
	assert_int_equal(client_redirect_ok(&c, from,
					    "http://AGENT-2.example:7101/v1/x",
					    err, sizeof err),
			 0);
	assert_int_equal(client_redirect_ok(&c, from,
					    "https://agent-2.example:7101", err,
					    sizeof err),
			 0);
	/* a longer or shorter host:port is another address */
	assert_int_equal(client_redirect_ok(&c, from,
					    "http://agent-2.example:71010/",
					    err, sizeof err),
			 CLIENT_EREDIRECT);
	assert_int_equal(client_redirect_ok(&c, from,
					    "http://agent-2.example:710/", err,
					    sizeof err),
			 CLIENT_EREDIRECT);
	/* user information makes another authority */
	assert_int_equal(
	    client_redirect_ok(&c, from, "http://agent-2.example:7101@evil:80/",
			       err, sizeof err),
	    CLIENT_EREDIRECT);
	assert_int_equal(client_redirect_ok(&c, from, "ftp://agent-2.example",
					    err, sizeof err),
			 CLIENT_EREDIRECT);
	snprintf(to, sizeof to, "https://127.0.0.1:%d/v1/x", a.port);
	assert_int_equal(client_redirect_ok(&c, to, "http://127.0.0.1:1/v1/x",
					    err, sizeof err),
			 CLIENT_EREDIRECT);
	assert_non_null(strstr(err, "from https to http"));
	assert_int_equal(hits(&a, 0), 1);
	client_close(&c);
	fake_stop(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tls_agent_server),
	    cmocka_unit_test(test_tls_operator_server_refused),
	    cmocka_unit_test(test_tls_reader_server_refused),
	    cmocka_unit_test(test_tls_crl),
	    cmocka_unit_test(test_redirect_to_member),
	    cmocka_unit_test(test_redirect_to_stranger_refused),
	    cmocka_unit_test(test_redirect_members_unknown),
	    cmocka_unit_test(test_redirect_https_to_http_refused),
	    cmocka_unit_test(test_redirect_ok_rules),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
