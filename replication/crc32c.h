/* crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * The checksum of every frame header and payload on a replication
 * connection (see frame.h). Pure: no I/O, no allocation, no mutable global
 * state; every function may be called from any thread.
 *
 * The value is the standard CRC-32C (initial value all ones, final XOR all
 * ones, as in iSCSI and ext4): crc32c(0, "123456789", 9) == 0xE3069283.
 * It is incremental: start with 0 and pass each result back in, so
 * crc32c(crc32c(0, a, la), b, lb) equals the checksum of a followed by b. */
#ifndef POOLPAIR_CRC32C_H
#define POOLPAIR_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) with the len bytes at buf and return the new
 * value. buf is borrowed for the call; it may be NULL only when len is 0.
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked at run
 * time), the table version otherwise; both give the same value. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* Same contract as crc32c(), always computed with the portable
 * slicing-by-8 tables. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* True when crc32c_hw() may be called on this CPU. */
bool crc32c_hw_available(void);

/* Same contract as crc32c(), computed with the SSE4.2 crc32 instruction.
 * Precondition: crc32c_hw_available() is true (otherwise it falls back to
 * crc32c_sw(), so it never faults). */
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);

#endif /* POOLPAIR_CRC32C_H */
