/* The cluster-key handshake and the sealed frames of the TCP transport (see
 * tcp_auth.h for the messages and the derivations). Nothing here touches a
 * socket or a clock; libsodium provides every primitive: crypto_kx for the
 * ephemeral Diffie-Hellman, keyed BLAKE2b (crypto_generichash) for the
 * transcript MACs and key derivation, ChaCha20-Poly1305-IETF for frames,
 * constant-time comparison for every MAC check. */
#include <string.h>
#include <sodium.h>
#include "common/assert.h"
#include "common/le.h"
#include "fencelock/error.h"
#include "raft/tcp_auth.h"

_Static_assert(crypto_kx_PUBLICKEYBYTES == 32, "kx public key size");
_Static_assert(crypto_kx_SECRETKEYBYTES == 32, "kx secret key size");
_Static_assert(crypto_kx_SESSIONKEYBYTES == 32, "kx session key size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == TA_KEY_BYTES, "aead key size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == TA_TAG_BYTES, "aead tag size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12, "aead nonce size");

#define TA_REPLY_TH_BYTES 40u /* REPLY bytes covered by the transcript */

int ta_init(void)
{
	return sodium_init() < 0 ? -FL_ENOMEM : 0;
}

/* out = BLAKE2b-256 keyed with key over label || a || b (b may be NULL). */
static void ta_prf(const uint8_t key[TA_KEY_BYTES], const char *label, const uint8_t *a, size_t alen,
		   const uint8_t *b, size_t blen, uint8_t *out, size_t outlen)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, TA_KEY_BYTES, outlen);
	crypto_generichash_update(&st, (const unsigned char *)label, strlen(label));
	crypto_generichash_update(&st, a, alen);
	if (b != NULL)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, outlen);
	sodium_memzero(&st, sizeof(st));
}

void ta_key_id(const uint8_t key[TA_KEY_BYTES], uint8_t id[TA_KEY_ID_BYTES])
{
	static const uint8_t nothing[1] = {0};
	ta_prf(key, "fencelock-key-id", nothing, 0, NULL, 0, id, TA_KEY_ID_BYTES);
}

static void ta_put_head(uint8_t *b, uint32_t magic, uint16_t len)
{
	fl_put_le32(b, magic);
	fl_put_le16(b + 4, TA_VERSION);
	fl_put_le16(b + 6, len);
}

static int ta_check_head(const uint8_t *b, uint32_t magic, uint16_t len)
{
	if (fl_get_le32(b) != magic)
		return -FL_EMAGIC;
	if (fl_get_le16(b + 4) != TA_VERSION || fl_get_le16(b + 6) != len)
		return -FL_EVERSION;
	return 0;
}

void ta_hello_make(struct ta_hs *hs, const uint8_t uuid[16], uint64_t init_id, uint64_t resp_id,
		   uint8_t out[TA_HELLO_BYTES])
{
	FL_ASSERT(init_id != 0);
	FL_ASSERT(resp_id != 0);
	memset(hs, 0, sizeof(*hs));
	memcpy(hs->uuid, uuid, 16);
	hs->init_id = init_id;
	hs->resp_id = resp_id;
	crypto_kx_keypair(hs->pk, hs->sk);
	ta_put_head(out, TA_HELLO_MAGIC, TA_HELLO_BYTES);
	memcpy(out + 8, uuid, 16);
	fl_put_le64(out + 24, init_id);
	fl_put_le64(out + 32, resp_id);
	memcpy(out + 40, hs->pk, 32);
	memcpy(hs->hello, out, TA_HELLO_BYTES);
}

int ta_hello_check(const uint8_t in[TA_HELLO_BYTES], const uint8_t uuid[16], uint64_t self_id,
		   uint64_t *init_id)
{
	int rv = ta_check_head(in, TA_HELLO_MAGIC, TA_HELLO_BYTES);
	if (rv != 0)
		return rv;
	if (sodium_memcmp(in + 8, uuid, 16) != 0 || fl_get_le64(in + 32) != self_id)
		return -FL_EFOREIGN;
	*init_id = fl_get_le64(in + 24);
	return *init_id == 0 || *init_id == self_id ? -FL_EFOREIGN : 0;
}

static void ta_transcript(struct ta_hs *hs, const uint8_t reply[TA_REPLY_TH_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(hs->th));
	crypto_generichash_update(&st, hs->hello, TA_HELLO_BYTES);
	crypto_generichash_update(&st, reply, TA_REPLY_TH_BYTES);
	crypto_generichash_final(&st, hs->th, sizeof(hs->th));
}

void ta_reply_make(struct ta_hs *hs, const struct ta_keys *keys, const uint8_t hello[TA_HELLO_BYTES],
		   uint8_t out[TA_REPLY_BYTES])
{
	FL_ASSERT(keys->n >= 1);
	FL_ASSERT(keys->n <= TA_MAX_KEYS);
	memset(hs, 0, sizeof(*hs));
	memcpy(hs->hello, hello, TA_HELLO_BYTES);
	memcpy(hs->uuid, hello + 8, 16);
	hs->init_id = fl_get_le64(hello + 24);
	hs->resp_id = fl_get_le64(hello + 32);
	crypto_kx_keypair(hs->pk, hs->sk);
	ta_put_head(out, TA_REPLY_MAGIC, TA_REPLY_BYTES);
	memcpy(out + 8, hs->pk, 32);
	ta_transcript(hs, out);
	for (uint32_t i = 0; i < TA_MAX_KEYS; i++) {
		uint8_t *mac = out + TA_REPLY_TH_BYTES + 32 * i;
		if (i < keys->n)
			ta_prf(keys->key[i], "fencelock-hs-resp", hs->th, sizeof(hs->th), NULL, 0, mac, 32);
		else
			randombytes_buf(mac, 32);
	}
}

/* Session keys from key, the transcript and the crypto_kx keys (i2r: the
 * initiator's sending direction). */
static void ta_session_keys(const uint8_t key[TA_KEY_BYTES], const uint8_t th[32], const uint8_t kx_i2r[32],
			    const uint8_t kx_r2i[32], uint8_t i2r[TA_KEY_BYTES], uint8_t r2i[TA_KEY_BYTES])
{
	ta_prf(key, "fencelock-i2r", th, 32, kx_i2r, 32, i2r, TA_KEY_BYTES);
	ta_prf(key, "fencelock-r2i", th, 32, kx_r2i, 32, r2i, TA_KEY_BYTES);
}

int ta_reply_check(struct ta_hs *hs, const struct ta_keys *keys, const uint8_t in[TA_REPLY_BYTES],
		   uint8_t out[TA_FINISH_BYTES], struct ta_session *s)
{
	int rv = ta_check_head(in, TA_REPLY_MAGIC, TA_REPLY_BYTES);
	if (rv != 0)
		return rv;
	ta_transcript(hs, in);
	int found_k = -1, found_j = -1;
	for (uint32_t k = 0; k < keys->n && found_k < 0; k++) {
		uint8_t mac[32];
		ta_prf(keys->key[k], "fencelock-hs-resp", hs->th, sizeof(hs->th), NULL, 0, mac, 32);
		for (uint32_t j = 0; j < TA_MAX_KEYS && found_k < 0; j++)
			if (crypto_verify_32(mac, in + TA_REPLY_TH_BYTES + 32 * j) == 0) {
				found_k = (int)k;
				found_j = (int)j;
			}
	}
	uint8_t rx[32], tx[32];
	if (found_k < 0 || crypto_kx_client_session_keys(rx, tx, hs->pk, hs->sk, in + 8) != 0)
		return -FL_EPERM;
	const uint8_t *key = keys->key[found_k];
	hs->key_idx = (uint32_t)found_k;
	memset(s, 0, sizeof(*s));
	ta_session_keys(key, hs->th, tx, rx, s->tx, s->rx);
	ta_key_id(key, s->key_id);
	memset(out, 0, TA_FINISH_BYTES);
	ta_put_head(out, TA_FINISH_MAGIC, TA_FINISH_BYTES);
	out[8] = (uint8_t)found_j;
	ta_prf(key, "fencelock-hs-init", hs->th, sizeof(hs->th), NULL, 0, out + 16, 32);
	sodium_memzero(rx, sizeof(rx));
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(hs->sk, sizeof(hs->sk));
	return 0;
}

int ta_finish_check(const struct ta_hs *hs, const struct ta_keys *keys, const uint8_t in[TA_FINISH_BYTES],
		    struct ta_session *s)
{
	int rv = ta_check_head(in, TA_FINISH_MAGIC, TA_FINISH_BYTES);
	if (rv != 0)
		return rv;
	uint32_t j = in[8];
	if (j >= keys->n)
		return -FL_EPERM;
	const uint8_t *key = keys->key[j];
	uint8_t mac[32], rx[32], tx[32];
	ta_prf(key, "fencelock-hs-init", hs->th, sizeof(hs->th), NULL, 0, mac, 32);
	if (crypto_verify_32(mac, in + 16) != 0)
		return -FL_EPERM;
	if (crypto_kx_server_session_keys(rx, tx, hs->pk, hs->sk, hs->hello + 40) != 0)
		return -FL_EPERM;
	memset(s, 0, sizeof(*s));
	ta_session_keys(key, hs->th, rx, tx, s->rx, s->tx);
	ta_key_id(key, s->key_id);
	sodium_memzero(rx, sizeof(rx));
	sodium_memzero(tx, sizeof(tx));
	return 0;
}

static void ta_nonce(uint64_t ctr, uint8_t nonce[12])
{
	memset(nonce, 0, 12);
	fl_put_le64(nonce + 4, ctr);
}

void ta_seal(struct ta_session *s, const uint8_t *payload, uint32_t len, uint8_t *out)
{
	uint8_t nonce[12];
	unsigned long long clen = 0;
	FL_ASSERT(s->tx_ctr < UINT64_MAX);
	ta_nonce(s->tx_ctr++, nonce);
	fl_put_le32(out, len + TA_TAG_BYTES);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + TA_FRAME_HDR_BYTES, &clen, payload, len, out,
						  TA_FRAME_HDR_BYTES, NULL, nonce, s->tx);
	FL_ASSERT(clen == (unsigned long long)len + TA_TAG_BYTES);
}

int64_t ta_frame_len(const uint8_t hdr[TA_FRAME_HDR_BYTES], uint32_t max_payload)
{
	uint32_t l = fl_get_le32(hdr);
	if (l < TA_TAG_BYTES || (uint64_t)l - TA_TAG_BYTES > max_payload)
		return -FL_EINVAL;
	return l;
}

int ta_open(struct ta_session *s, const uint8_t hdr[TA_FRAME_HDR_BYTES], uint8_t *buf, uint32_t sealed_len)
{
	uint8_t nonce[12];
	unsigned long long mlen = 0;
	FL_ASSERT(sealed_len >= TA_TAG_BYTES);
	ta_nonce(s->rx_ctr, nonce);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(buf, &mlen, NULL, buf, sealed_len, hdr, TA_FRAME_HDR_BYTES,
						      nonce, s->rx) != 0)
		return -FL_EPERM;
	FL_ASSERT(mlen == (unsigned long long)sealed_len - TA_TAG_BYTES);
	s->rx_ctr++;
	return 0;
}
