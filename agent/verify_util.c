/* verify_util: names, parsers and the key lists the verify files share
 * (verify_internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/verify_b64.h"
#include "agent/verify_internal.h"

const char *verify_op_name(int op)
{
	switch (op) {
	case POOLPAIR__REPL__OP__OP_PUT:
		return "put";
	case POOLPAIR__REPL__OP__OP_DELETE:
		return "delete";
	case POOLPAIR__REPL__OP__OP_CONTENT_CHUNK:
		return "content_chunk";
	case POOLPAIR__REPL__OP__OP_PURGE_USER:
		return "purge";
	default:
		return "unknown";
	}
}

const char *verify_emsg(const char *errmsg, int status)
{
	return errmsg != NULL && errmsg[0] ? errmsg : store_strerror(status);
}

bool verify_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= FSM_NAME_LEN)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

bool verify_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

bool verify_parse_hash(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (strlen(s) != 16)
		return false;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

int verify_json_set_key(json_t *obj, const char *key)
{
	json_t *s = json_string(key);
	char *b;
	size_t n;

	if (s != NULL)
		return json_object_set_new(obj, "key", s);
	b = verify_b64_encode((const uint8_t *)key, strlen(key), &n);
	if (b == NULL)
		return -1;
	s = json_string(b);
	free(b);
	return s != NULL ? json_object_set_new(obj, "key_b64", s) : -1;
}

int verify_key_cmp(int ka, const char *a, int kb, const char *b)
{
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return strcmp(a, b);
}

int vkeys_add(struct vkeys *k, int kind, const char *key, size_t klen,
	      uint64_t hash)
{
	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 64;
		struct vkey *nv = realloc(k->v, ncap * sizeof *nv);

		if (nv == NULL)
			return -ENOMEM;
		k->v = nv;
		k->cap = ncap;
	}
	k->v[k->n].key = strndup(key, klen);
	if (k->v[k->n].key == NULL)
		return -ENOMEM;
	k->v[k->n].kind = kind;
	k->v[k->n].hash = hash;
	k->n++;
	return 0;
}

static int vkey_qcmp(const void *x, const void *y)
{
	const struct vkey *a = x, *b = y;

	return verify_key_cmp(a->kind, a->key, b->kind, b->key);
}

void vkeys_sort(struct vkeys *k)
{
	if (k->n > 0) /* k->v is NULL when empty */
		qsort(k->v, k->n, sizeof *k->v, vkey_qcmp);
}

void vkeys_clear(struct vkeys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].key);
	free(k->v);
	memset(k, 0, sizeof *k);
}
