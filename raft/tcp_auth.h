/* The cluster-key handshake and the authenticated framing of the TCP
 * transport (raft/tcp.c), as pure functions over byte buffers so that they
 * can be tested without sockets. All cryptography is libsodium's.
 *
 * Every host of a cluster holds the same 32-byte cluster key (two during a
 * rotation: the current one and the next). A connection is opened by the
 * host that sends on it (the initiator) and accepted by the one that
 * receives (the responder); three fixed-size messages authenticate it:
 *
 *   HELLO  (initiator -> responder, 72 bytes)
 *     0 u32 magic "FLHS"   4 u16 version (2)   6 u16 length (72)
 *     8 u8[16] cluster uuid   24 u64 initiator id   32 u64 responder id
 *     40 u8[32] the initiator's ephemeral X25519 public key (crypto_kx)
 *   REPLY  (responder -> initiator, 104 bytes)
 *     0 u32 magic "FLHR"   4 u16 version   6 u16 length (104)
 *     8 u8[32] the responder's ephemeral public key
 *     40 u8[32] MAC under its current key   72 u8[32] MAC under its next key
 *        (random bytes when it holds one key only)
 *   FINISH (initiator -> responder, 48 bytes)
 *     0 u32 magic "FLHF"   4 u16 version   6 u16 length (48)
 *     8 u8 which of the responder's MACs matched (0 or 1)  9..15 zero
 *     16 u8[32] the initiator's MAC
 *
 * th = BLAKE2b-256(HELLO || REPLY[0..40)) is the transcript: both ids, the
 * uuid and both ephemeral keys. The responder's MAC under key K is keyed
 * BLAKE2b-256(K, "fencelock-hs-resp" || th), the initiator's the same with
 * "fencelock-hs-init": each side proves it holds K for exactly this
 * exchange between exactly these two host ids (a MAC cannot be reflected,
 * replayed into another connection, or moved to other ids). The initiator
 * picks the first of its own keys (current, then next) that one of the
 * responder's MACs matches, and names it in FINISH, so two hosts that share
 * any key connect during a rotation. Session keys mix the cluster key with
 * the ephemeral Diffie-Hellman (crypto_kx) and the transcript:
 *   k(initiator->responder) = BLAKE2b-256(K, "fencelock-i2r" || th || kx_i2r)
 *   k(responder->initiator) = BLAKE2b-256(K, "fencelock-r2i" || th || kx_r2i)
 * so recorded traffic stays sealed even if the cluster key leaks later.
 *
 * After the handshake every frame is
 *     0 u32 sealed length L (payload + 16)   4 u8[L] ChaCha20-Poly1305-IETF
 * with the 4 length bytes as associated data and the nonce a per-direction
 * counter starting at 0 (bytes 4..11 of the 12-byte nonce, little-endian):
 * a frame dropped, replayed, reordered, cut or altered fails to open, and
 * the receiver drops the connection. */
#ifndef FL_RAFT_TCP_AUTH_H
#define FL_RAFT_TCP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"

#define TA_KEY_BYTES 32u
#define TA_MAX_KEYS 2u
#define TA_KEY_ID_BYTES 8u
#define TA_HELLO_BYTES 72u
#define TA_REPLY_BYTES 104u
#define TA_FINISH_BYTES 48u
#define TA_FRAME_HDR_BYTES 4u
#define TA_TAG_BYTES 16u
#define TA_VERSION 2u
#define TA_HELLO_MAGIC 0x53484C46u  /* "FLHS" little-endian */
#define TA_REPLY_MAGIC 0x52484C46u  /* "FLHR" */
#define TA_FINISH_MAGIC 0x46484C46u /* "FLHF" */

/* The keys a host accepts: key[0] is current, key[1] (when n == 2) next. */
struct ta_keys {
	uint32_t n;
	uint8_t key[TA_MAX_KEYS][TA_KEY_BYTES];
};

/* One direction pair of an authenticated connection. */
struct ta_session {
	uint8_t tx[TA_KEY_BYTES], rx[TA_KEY_BYTES];
	uint64_t tx_ctr, rx_ctr;
	uint8_t key_id[TA_KEY_ID_BYTES]; /* which cluster key it was made with */
};

/* A handshake in progress (either side). */
struct ta_hs {
	uint8_t uuid[16];
	uint64_t init_id, resp_id;
	uint8_t pk[32], sk[32];      /* our ephemeral key pair */
	uint8_t hello[TA_HELLO_BYTES];
	uint8_t th[32];
	uint32_t key_idx;            /* initiator: index in its own keys */
};

/* Initialises libsodium (idempotent). Returns 0 or -FL_ENOMEM if it cannot. */
FL_MUST_CHECK int ta_init(void);

/* The 8-byte identifier of a key (keyed BLAKE2b of a constant): lets a host
 * tell which of its keys a session was made with, without keeping the key. */
void ta_key_id(const uint8_t key[TA_KEY_BYTES], uint8_t id[TA_KEY_ID_BYTES]);

/* Initiator: starts a handshake from init_id to resp_id of cluster uuid and
 * writes HELLO into out. */
void ta_hello_make(struct ta_hs *hs, const uint8_t uuid[16], uint64_t init_id, uint64_t resp_id,
		   uint8_t out[TA_HELLO_BYTES]);

/* Responder: checks HELLO's magic (-FL_EMAGIC), version and length
 * (-FL_EVERSION), uuid and responder id (-FL_EFOREIGN) and stores the
 * initiator's claimed id in *init_id; 0 when it may be answered. Whether that
 * id is a peer, and at that address, is the caller's check. */
FL_MUST_CHECK int ta_hello_check(const uint8_t in[TA_HELLO_BYTES], const uint8_t uuid[16], uint64_t self_id,
		   uint64_t *init_id);

/* Responder, after ta_hello_check() accepted in: starts its side of the
 * handshake and writes REPLY (a MAC under each of keys) into out. keys->n is
 * 1 or 2. */
void ta_reply_make(struct ta_hs *hs, const struct ta_keys *keys, const uint8_t hello[TA_HELLO_BYTES],
		   uint8_t out[TA_REPLY_BYTES]);

/* Initiator: checks REPLY against the HELLO in hs. On success writes FINISH
 * into out, fills *s (tx = initiator to responder) and returns 0; -FL_EMAGIC
 * or -FL_EVERSION for a malformed reply, -FL_EPERM when no key of ours
 * matches (the responder holds another cluster key, or is not who it says). */
FL_MUST_CHECK int ta_reply_check(struct ta_hs *hs, const struct ta_keys *keys, const uint8_t in[TA_REPLY_BYTES],
		   uint8_t out[TA_FINISH_BYTES], struct ta_session *s);

/* Responder: checks FINISH; on success fills *s (rx = initiator to
 * responder) and returns 0; -FL_EMAGIC / -FL_EVERSION when malformed,
 * -FL_EPERM when the MAC does not verify. */
FL_MUST_CHECK int ta_finish_check(const struct ta_hs *hs, const struct ta_keys *keys, const uint8_t in[TA_FINISH_BYTES],
		    struct ta_session *s);

/* Sealed size of a payload of len bytes: header, payload and tag. */
static inline uint64_t ta_sealed_bytes(uint32_t len) { return TA_FRAME_HDR_BYTES + (uint64_t)len + TA_TAG_BYTES; }

/* Seals payload[0..len) as the next frame of s into out (ta_sealed_bytes(len)
 * bytes) and advances the send counter. */
void ta_seal(struct ta_session *s, const uint8_t *payload, uint32_t len, uint8_t *out);

/* The sealed length announced by a frame header, or -FL_EINVAL when it is
 * below the tag size or would open to more than max_payload bytes. */
int64_t ta_frame_len(const uint8_t hdr[TA_FRAME_HDR_BYTES], uint32_t max_payload);

/* Opens the next frame of s in place: hdr is its 4-byte header, buf its
 * sealed bytes (sealed_len, from ta_frame_len). Returns 0 and advances the
 * receive counter (the payload is buf[0..sealed_len - 16)), or -FL_EPERM
 * when the frame is forged, altered, replayed or out of order. */
FL_MUST_CHECK int ta_open(struct ta_session *s, const uint8_t hdr[TA_FRAME_HDR_BYTES], uint8_t *buf, uint32_t sealed_len);

#endif
