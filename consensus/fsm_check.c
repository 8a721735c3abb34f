/* fsm_check: text helpers, name and address validation, lookups and the
 * bounded wire pre-scan shared by apply (fsm.c) and restore
 * (fsm_snapshot.c). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/fsm_internal.h"
#include "control.pb-c.h"

/* ---- text helpers ---- */

void fsm_fmt(char *dst, size_t cap, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	if (vsnprintf(dst, cap, format, ap) < 0)
		dst[0] = '\0';
	va_end(ap);
}

int fsm_fail(struct outcome *o, int code, const char *format, ...)
{
	va_list ap;

	o->code = code;
	va_start(ap, format);
	if (vsnprintf(o->reason, sizeof(o->reason), format, ap) < 0)
		o->reason[0] = '\0';
	va_end(ap);
	return code;
}

/* A name as shown in text: printable ASCII only, at most 63 characters
 * (longer ones end in "..."). Returns dst. */
const char *fsm_clip(char dst[CLIP_LEN], const char *s)
{
	size_t len = strlen(s);
	size_t keep = len < CLIP_LEN ? len : CLIP_LEN - 4;
	size_t i;

	for (i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (keep < len) {
		memcpy(dst + keep, "...", 3);
		keep += 3;
	}
	dst[keep] = '\0';
	return dst;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/* Copy free text (who asked) into dst: valid UTF-8 is kept, control
 * characters and invalid bytes become '?', and the copy stops before a
 * character that would not fit, so it never ends inside a sequence. */
void fsm_text_copy(char *dst, size_t cap, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t in = 0, out = 0;

	while (in < len && s[in] != '\0') {
		size_t n = utf8_len(s + in, len - in);

		if (n == 0 || s[in] < 0x20 || s[in] == 0x7f) {
			if (out + 1 >= cap)
				break;
			dst[out++] = '?';
			in++;
			continue;
		}
		if (out + n >= cap)
			break;
		memcpy(dst + out, s + in, n);
		out += n;
		in += n;
	}
	dst[out] = '\0';
}

/* ---- words of decisions ---- */

const char *fsm_state_words(int state)
{
	switch (state) {
	case FSM_STATE_NORMAL:
		return "normal";
	case FSM_STATE_FAILING_OVER:
		return "failing over";
	case FSM_STATE_FAILED_OVER:
		return "failed over";
	case FSM_STATE_RECOVERING:
		return "recovering";
	case FSM_STATE_FAILING_BACK:
		return "failing back";
	default:
		return "in an unknown state";
	}
}

void fsm_name_set(char dst[FSM_NAME_LEN], const char *src)
{
	memset(dst, 0, FSM_NAME_LEN);
	strcpy(dst, src);
}

void fsm_reason_set(char dst[FSM_REASON_LEN], const char *src)
{
	src = fsm_str(src);
	memset(dst, 0, FSM_REASON_LEN);
	fsm_text_copy(dst, FSM_REASON_LEN, src, strlen(src));
}

/* "3.4 KB": bytes in binary units with one (truncated) decimal. */
static void bytes_text(char *dst, size_t cap, uint64_t b)
{
	static const char *const units[] = {"B",  "KB", "MB", "GB",
					    "TB", "PB", "EB"};
	uint64_t unit = 1;
	unsigned u = 0;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && b / unit >= 1024) {
		unit *= 1024;
		u++;
	}
	if (u == 0)
		fsm_fmt(dst, cap, "%" PRIu64 " B", b);
	else
		fsm_fmt(dst, cap, "%" PRIu64 ".%" PRIu64 " %s", b / unit,
			(b % unit) * 10 / unit, units[u]);
}

void fsm_risk_text(char *dst, size_t cap, const struct outcome *o)
{
	char size[32];

	if (o->risk_records == 0 && o->risk_bytes == 0 && o->risk_ms == 0) {
		fsm_fmt(dst, cap, "nothing at risk");
		return;
	}
	bytes_text(size, sizeof(size), o->risk_bytes);
	fsm_fmt(dst, cap, "%" PRIu64 " record%s / %s / %" PRIu64 " ms at risk",
		o->risk_records, o->risk_records == 1 ? "" : "s", size,
		o->risk_ms);
}

/* ---- validation ---- */

enum name_problem { NAME_OK, NAME_EMPTY, NAME_LONG, NAME_CHARS };

static enum name_problem name_check(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return NAME_EMPTY;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= FSM_NAME_LEN - 1)
			return NAME_LONG;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return NAME_CHARS;
	}
	return NAME_OK;
}

bool fsm_name_ok(const char *s) { return name_check(s) == NAME_OK; }

/* Refuse with FSM_E_INVALID unless s is a valid name; field says what it
 * names ("pool name", "site", ...). Returns 0 or the code. */
int fsm_check_name(struct outcome *o, const char *field, const char *s)
{
	char c[CLIP_LEN];

	switch (name_check(s)) {
	case NAME_OK:
		/* hooks get pool and site names in their environment: a
		 * script passing one on would hand a command an option */
		if (s[0] == '-')
			return fsm_fail(o, FSM_E_INVALID,
					"%s \"%s\" starts with '-'", field,
					fsm_clip(c, s));
		return 0;
	case NAME_EMPTY:
		return fsm_fail(o, FSM_E_INVALID, "%s is empty", field);
	case NAME_LONG:
		return fsm_fail(o, FSM_E_INVALID,
				"%s \"%s\" is %zu characters long, at most %d",
				field, fsm_clip(c, s), strlen(s),
				FSM_NAME_LEN - 1);
	default:
		return fsm_fail(
		    o, FSM_E_INVALID,
		    "%s \"%s\" has a character outside [A-Za-z0-9._-]", field,
		    fsm_clip(c, s));
	}
}

bool fsm_addr_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= FSM_ADDR_LEN - 1 || c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

/* Addresses are host:port: printable ASCII without spaces, shorter than
 * FSM_ADDR_LEN; required says whether an empty one is refused. */
int fsm_check_addr(struct outcome *o, const char *field, const char *s,
		   bool required)
{
	char c[CLIP_LEN];

	if (s[0] == '\0') {
		if (!required)
			return 0;
		return fsm_fail(o, FSM_E_INVALID, "member %s is empty", field);
	}
	if (strlen(s) >= FSM_ADDR_LEN)
		return fsm_fail(o, FSM_E_INVALID,
				"member %s is %zu characters long, at most %d",
				field, strlen(s), FSM_ADDR_LEN - 1);
	if (!fsm_addr_ok(s))
		return fsm_fail(
		    o, FSM_E_INVALID,
		    "member %s \"%s\" has a space or a non-printable "
		    "character",
		    field, fsm_clip(c, s));
	return 0;
}

bool fsm_edition_ok(const char *s)
{
	return strcmp(s, "enterprise") == 0 || strcmp(s, "standard") == 0;
}

bool fsm_kind_ok(const char *s)
{
	return strcmp(s, "physical") == 0 || strcmp(s, "virtual") == 0;
}

bool fsm_failover_ok(const char *s)
{
	return strcmp(s, "auto") == 0 || strcmp(s, "manual") == 0;
}

/* ---- lookups ---- */

int fsm_site_index(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_sites; i++)
		if (strcmp(f->sites[i].name, name) == 0)
			return (int)i;
	return -1;
}

int fsm_pool_index(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_pools; i++)
		if (strcmp(f->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

int fsm_member_index(const struct fsm *f, uint64_t id)
{
	unsigned i;

	for (i = 0; i < f->n_members; i++)
		if (f->members[i].id == id)
			return (int)i;
	return -1;
}

int fsm_sba_index(const struct fsm *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_sbas; i++)
		if (strcmp(f->sbas[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct fsm_pool *fsm_pool_find(const struct fsm *f, const char *name)
{
	int i = name != NULL ? fsm_pool_index(f, name) : -1;

	return i < 0 ? NULL : &f->pools[i];
}

const struct fsm_member *fsm_member_find(const struct fsm *f, uint64_t id)
{
	int i = fsm_member_index(f, id);

	return i < 0 ? NULL : &f->members[i];
}

const struct fsm_sba *fsm_sba_find(const struct fsm *f, const char *name)
{
	int i = name != NULL ? fsm_sba_index(f, name) : -1;

	return i < 0 ? NULL : &f->sbas[i];
}

bool fsm_site_exists(const struct fsm *f, const char *name)
{
	return name != NULL && fsm_site_index(f, name) >= 0;
}

const char *fsm_pool_api(const struct fsm *f, const char *pool)
{
	const struct fsm_member *w = fsm_pool_writer(f, pool);

	return w != NULL && w->api_address[0] != '\0' ? w->api_address
							: NULL;
}

/* ---- bounded pre-scan of the wire format (see fsm_internal.h) ---- */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	unsigned shift;

	for (shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*p >= end)
			return false;
		b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = r;
			return true;
		}
	}
	return false;
}

/* Next field at *p: its number, wire type, varint value or the bounds of
 * its length-delimited payload. false when the structure is broken. */
static bool wire_next(const uint8_t **p, const uint8_t *end, uint64_t *field,
		      unsigned *type, uint64_t *value, const uint8_t **sub,
		      size_t *sub_len)
{
	uint64_t key, len;

	if (!read_varint(p, end, &key))
		return false;
	*field = key >> 3;
	*type = (unsigned)(key & 7);
	if (*field == 0 || *field > 0x1fffffff)
		return false;
	switch (*type) {
	case 0:
		return read_varint(p, end, value);
	case 1:
		if (end - *p < 8)
			return false;
		*p += 8;
		return true;
	case 2:
		if (!read_varint(p, end, &len) || len > (uint64_t)(end - *p))
			return false;
		*sub = *p;
		*sub_len = (size_t)len;
		*p += len;
		return true;
	case 5:
		if (end - *p < 4)
			return false;
		*p += 4;
		return true;
	default:
		return false;
	}
}

static enum scan_result scan_topology(const uint8_t *buf, size_t len,
				      unsigned depth, struct scan *sc)
{
	const uint8_t *p = buf, *end = buf + len;

	while (p < end) {
		uint64_t field, value;
		const uint8_t *sub = NULL;
		size_t sub_len = 0;
		unsigned type;
		enum scan_result r;

		if (!wire_next(&p, end, &field, &type, &value, &sub, &sub_len))
			return SCAN_BROKEN;
		if (field != 1 || type != 2)
			continue;
		r = fsm_scan_command(sub, sub_len, depth + 1, sc);
		if (r != SCAN_OK)
			return r;
	}
	return SCAN_OK;
}

enum scan_result fsm_scan_command(const uint8_t *buf, size_t len,
				  unsigned depth, struct scan *sc)
{
	const uint8_t *p = buf, *end = buf + len;

	while (p < end) {
		uint64_t field, value = 0;
		const uint8_t *sub = NULL;
		size_t sub_len = 0;
		unsigned type;
		enum scan_result r;

		if (!wire_next(&p, end, &field, &type, &value, &sub, &sub_len))
			return SCAN_BROKEN;
		if (depth == 0 && field == 1 && type == 0)
			sc->time_ms = value;
		if (depth == 0 && field == 2 && type == 2) {
			sc->who = (const char *)sub;
			sc->who_len = sub_len;
		}
		if (field != POOLPAIR__COMMAND__OP_TOPOLOGY || type != 2)
			continue;
		if (depth + 1 >= FSM_MAX_COMMAND_DEPTH)
			return SCAN_DEEP;
		r = scan_topology(sub, sub_len, depth, sc);
		if (r != SCAN_OK)
			return r;
	}
	return SCAN_OK;
}
