/* tls: the error codes, role names and the classification of failures
 * that contexts (tls_ctx.c) and connections (tls_conn.c) share; see tls.h.
 * Repeated warnings are tls_quiet.c's. */
#include "tls/tls.h"
#include "tls/tls_internal.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

/* ---- codes and roles ---- */

const char *tls_strerror(int rv)
{
	switch (rv) {
	case 0:
		return "ok";
	case TLS_E_CONFIG:
		return "unusable tls configuration";
	case TLS_E_NOMEM:
		return "out of memory";
	case TLS_E_UNKNOWN_CA:
		return "peer certificate from an unknown CA";
	case TLS_E_EXPIRED:
		return "peer certificate expired";
	case TLS_E_NOT_YET_VALID:
		return "peer certificate not yet valid";
	case TLS_E_NO_CERT:
		return "peer presented no certificate";
	case TLS_E_REFUSED:
		return "peer refused our certificate";
	case TLS_E_NOT_TLS:
		return "plain connection refused: not TLS";
	case TLS_E_ROLE:
		return "peer role not allowed here";
	case TLS_E_PROTOCOL:
		return "tls protocol error";
	case TLS_E_TIMEOUT:
		return "tls handshake timed out";
	case TLS_E_EOF:
		return "connection closed by peer";
	case TLS_E_STATE:
		return "not possible in this connection state";
	case TLS_E_CLOSING:
		return "connection closing";
	case TLS_E_REVOKED:
		return "peer certificate revoked";
	default:
		if (rv < 0 && rv > -4100)
			return uv_strerror(rv); /* libuv's, UV_EAI_* and UV_EOF too */
		return "unknown error";
	}
}

const char *tls_role_name(int role)
{
	switch (role) {
	case TLS_ROLE_AGENT:
		return "agent";
	case TLS_ROLE_OPERATOR:
		return "operator";
	case TLS_ROLE_READER:
		return "reader";
	default:
		return "none";
	}
}

int tls_role_parse(const char *name)
{
	if (name == NULL)
		return TLS_ROLE_NONE;
	if (strcmp(name, "agent") == 0)
		return TLS_ROLE_AGENT;
	if (strcmp(name, "operator") == 0)
		return TLS_ROLE_OPERATOR;
	if (strcmp(name, "reader") == 0)
		return TLS_ROLE_READER;
	return TLS_ROLE_NONE;
}

/* ---- failures ---- */

/* The reason of the first queued OpenSSL error ("" when none); clears the
 * queue. */
void tls_ssl_reason(char *out, size_t len)
{
	unsigned long e = ERR_peek_error(); /* the first: the root cause */

	out[0] = '\0';
	if (e != 0) {
		const char *r = ERR_reason_error_string(e);

		snprintf(out, len, "%s", r != NULL ? r : "unknown reason");
	}
	ERR_clear_error();
}

int tls_verify_error(long verify_result)
{
	switch (verify_result) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return TLS_E_UNKNOWN_CA;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return TLS_E_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLS_E_NOT_YET_VALID;
	case X509_V_ERR_CERT_REVOKED:
		return TLS_E_REVOKED;
	case X509_V_ERR_APPLICATION_VERIFICATION: /* verify_cb, tls_conn.c */
		return TLS_E_ROLE;
	default:
		return TLS_E_PROTOCOL;
	}
}

int tls_ssl_error(unsigned long e, char *msg, size_t len)
{
	const char *why;
	int rv = TLS_E_REFUSED;

	switch (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e)
							  : 0) {
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		why = "peer refused our certificate: unknown CA";
		break;
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
		why = "peer refused our certificate: certificate expired";
		break;
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
		why = "peer refused our certificate: certificate revoked";
		break;
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
		why = "peer refused our certificate (expired, not yet valid "
		      "or otherwise bad)";
		break;
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		why = "peer refused the handshake (is our role allowed "
		      "there?)";
		break;
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		why = "peer requires a certificate";
		break;
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		rv = TLS_E_NO_CERT;
		why = "peer presented no certificate";
		break;
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
		rv = TLS_E_NOT_TLS;
		why = "peer is not speaking TLS";
		break;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		rv = TLS_E_PROTOCOL;
		why = "peer does not speak TLS 1.3";
		break;
	default:
		rv = TLS_E_PROTOCOL;
		why = "";
		break;
	}
	snprintf(msg, len, "%s", why);
	return rv;
}
