/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * fl_crc32c() is the raw update: no pre- or post-inversion, so callers choose
 * the convention. sanlock's records use seed ~1 (0xFFFFFFFE) with no final
 * XOR: fl_crc32c(0xFFFFFFFE, buf, len). fencelock's own records use the
 * standard iSCSI convention: fl_crc32c_std(buf, len) = ~fl_crc32c(~0, ...). */
#ifndef FL_CRC32C_H
#define FL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t fl_crc32c(uint32_t crc, const void *buf, size_t len);

static inline uint32_t fl_crc32c_std(const void *buf, size_t len)
{
	return ~fl_crc32c(0xFFFFFFFFu, buf, len);
}

#endif
