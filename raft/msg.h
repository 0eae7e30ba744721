/* Wire encoding of Raft messages (struct raft_msg, raft/raft.h).
 *
 * Little-endian, versioned: every message starts with a 4-byte magic "FLRM",
 * a version byte (RAFT_MSG_VERSION) and the type. Every length is checked
 * against the buffer before use, every count against its bound, so a
 * malformed, truncated or hostile buffer yields -FL_EINVAL, never a crash or
 * an over-read. There is no checksum here: the transport frames and checks
 * its frames (TCP, CRC-32C in the frame). Configurations use
 * raft_config_encode() from raft.h. */
#ifndef FL_RAFT_MSG_H
#define FL_RAFT_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"
#include "raft/raft.h"

#define RAFT_MSG_MAGIC 0x4d524c46u /* "FLRM" little-endian */
#define RAFT_MSG_VERSION 1
/* Bounds a decoder enforces (an encoder refuses larger messages). */
#define RAFT_MSG_MAX_ENTRIES 4096u
#define RAFT_MSG_MAX_ENTRY_BYTES (16u << 20)

/* Bytes raft_msg_encode() needs for m (0 if m is invalid). */
size_t raft_msg_encoded_size(const struct raft_msg *m);

/* Encodes m into buf[cap]. Returns the number of bytes written (> 0), or
 * -FL_EINVAL if m is invalid (unknown type, counts over the bounds) or cap is
 * too small. */
FL_MUST_CHECK int raft_msg_encode(const struct raft_msg *m, uint8_t *buf, size_t cap);

/* Decodes buf[len] into *out. On success returns 0; out->append.entries is
 * then an array allocated by the decoder (release with raft_msg_release())
 * whose data pointers, like out->snapshot.data, point INTO buf: buf must
 * outlive *out. On any malformed or truncated input returns -FL_EINVAL
 * (-FL_EVERSION for a different version) and *out needs no release. */
FL_MUST_CHECK int raft_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *out);

/* Frees what raft_msg_decode() allocated; safe on a zeroed message. */
void raft_msg_release(struct raft_msg *m);

#endif
