/* crc32c: CRC-32C, slicing-by-8 tables and the SSE4.2 instruction. */
#include "replication/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HAVE_X86 1
#include <nmmintrin.h>
#else
#define CRC32C_HAVE_X86 0
#endif

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

/* table[0] is the classic byte-at-a-time table; table[k][b] is the CRC of
 * byte b followed by k zero bytes, which lets the loop fold 8 bytes at a
 * time. Written once under pthread_once, read-only afterwards. */
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;

		for (int i = 0; i < 8; i++)
			c = (c >> 1) ^ ((c & 1u) ? CRC32C_POLY : 0u);
		table[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int k = 1; k < 8; k++)
			table[k][b] = (table[k - 1][b] >> 8) ^
				      table[0][table[k - 1][b] & 0xffu];
}

static uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len == 0)
		return crc;
	pthread_once(&table_once, table_build);
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = load_le32(p) ^ crc;
		uint32_t hi = load_le32(p + 4);

		crc = table[7][lo & 0xffu] ^ table[6][(lo >> 8) & 0xffu] ^
		      table[5][(lo >> 16) & 0xffu] ^ table[4][lo >> 24] ^
		      table[3][hi & 0xffu] ^ table[2][(hi >> 8) & 0xffu] ^
		      table[1][(hi >> 16) & 0xffu] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xffu];
	return ~crc;
}

#if CRC32C_HAVE_X86
bool crc32c_hw_available(void) { return __builtin_cpu_supports("sse4.2"); }

__attribute__((target("sse4.2"))) static uint32_t
hw_update(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = ~crc;

	while (len > 0 && ((uintptr_t)p & 7u) != 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, sizeof(w));
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	if (len == 0)
		return crc;
	if (!crc32c_hw_available())
		return crc32c_sw(crc, buf, len);
	return hw_update(crc, buf, len);
}
#else
bool crc32c_hw_available(void) { return false; }

uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_sw(crc, buf, len);
}
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (crc32c_hw_available())
		return crc32c_hw(crc, buf, len);
	return crc32c_sw(crc, buf, len);
}
