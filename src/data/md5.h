/* md5.h: private MD5 (RFC 1321) used to verify downloaded archives against their published digests.
 * MD5 is broken for security; here it only detects truncated or corrupt downloads, which is all the
 * publishers' digests (GroupLens <url>.md5) let us check. Streaming: init, update any number of times, final. */
#ifndef CREC_DATA_MD5_H
#define CREC_DATA_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct crec_md5 {
    uint32_t h[4];          /* state A, B, C, D */
    uint64_t len;           /* bytes hashed so far */
    unsigned char buf[64];  /* pending partial block */
    size_t nbuf;            /* bytes pending in buf */
} crec_md5;

/* Start a digest in caller-owned storage m. */
void crec__md5_init(crec_md5 *m);
/* Hash n bytes of data (caller keeps ownership); n may be 0. */
void crec__md5_update(crec_md5 *m, const void *data, size_t n);
/* Finish into out[16]; m must be re-initialised before reuse. */
void crec__md5_final(crec_md5 *m, unsigned char out[16]);
/* 16-byte digest -> 32 lowercase hex chars + NUL into hex[33]. */
void crec__md5_hex(const unsigned char digest[16], char hex[33]);
/* One-shot digest of a buffer as hex[33]. */
void crec__md5_buf_hex(const void *data, size_t n, char hex[33]);

#endif
