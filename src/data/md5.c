/* md5.c: MD5 message digest (RFC 1321), written from the RFC: 64-byte blocks, four rounds of sixteen
 * steps over little-endian words, length padding with the bit count. crec_md5_file streams a file
 * through it in 64 KiB reads, so archives of any size hash in constant memory. */
#include "data/md5.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crec/fetch.h"

/* Per-step additive constants: floor(|sin(i + 1)| * 2^32) (RFC 1321, section 3.4). */
static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* Left-rotation amounts, four per round. */
static const int md5_s[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

static inline uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

/* Fold one 64-byte block into the state. */
static void md5_block(uint32_t h[4], const unsigned char *p) {
    uint32_t x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g, round = i >> 4;
        switch (round) {
        case 0: f = (b & c) | (~b & d); g = i; break;
        case 1: f = (d & b) | (~d & c); g = (5 * i + 1) & 15; break;
        case 2: f = b ^ c ^ d; g = (3 * i + 5) & 15; break;
        default: f = c ^ (b | ~d); g = (7 * i) & 15; break;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rotl32(a + f + md5_k[i] + x[g], md5_s[round * 4 + (i & 3)]);
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void crec__md5_init(crec_md5 *m) {
    m->h[0] = 0x67452301;
    m->h[1] = 0xefcdab89;
    m->h[2] = 0x98badcfe;
    m->h[3] = 0x10325476;
    m->len = 0;
    m->nbuf = 0;
}

void crec__md5_update(crec_md5 *m, const void *data, size_t n) {
    const unsigned char *p = data;
    m->len += n;
    if (m->nbuf > 0) {
        size_t take = 64 - m->nbuf < n ? 64 - m->nbuf : n;
        memcpy(m->buf + m->nbuf, p, take);
        m->nbuf += take;
        p += take;
        n -= take;
        if (m->nbuf < 64) return;
        md5_block(m->h, m->buf);
        m->nbuf = 0;
    }
    for (; n >= 64; p += 64, n -= 64) md5_block(m->h, p);
    if (n > 0) {
        memcpy(m->buf, p, n);
        m->nbuf = n;
    }
}

void crec__md5_final(crec_md5 *m, unsigned char out[16]) {
    uint64_t bits = m->len * 8;
    static const unsigned char pad[64] = {0x80};
    /* pad with 0x80 then zeros up to 56 mod 64, then the 64-bit little-endian bit length */
    size_t padn = m->nbuf < 56 ? 56 - m->nbuf : 120 - m->nbuf;
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)(bits >> (8 * i));
    crec__md5_update(m, pad, padn);
    crec__md5_update(m, lenb, 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(m->h[i] >> (8 * j));
}

void crec__md5_hex(const unsigned char digest[16], char hex[33]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[32] = 0;
}

void crec__md5_buf_hex(const void *data, size_t n, char hex[33]) {
    crec_md5 m;
    unsigned char d[16];
    crec__md5_init(&m);
    crec__md5_update(&m, data, n);
    crec__md5_final(&m, d);
    crec__md5_hex(d, hex);
}

/* Streams the file; hex untouched on failure. Returns 0, CREC_EINVAL, CREC_ENOMEM or CREC_EIO
 * (errno kept). */
int crec_md5_file(const char *path, char hex[33]) {
    if (!path || !hex) return CREC_EINVAL;
    enum { CHUNK = 1 << 16 };
    unsigned char *chunk = malloc(CHUNK);
    if (!chunk) return CREC_ENOMEM;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int saved = errno;
        free(chunk);
        errno = saved;
        return CREC_EIO;
    }
    crec_md5 m;
    crec__md5_init(&m);
    size_t got;
    while ((got = fread(chunk, 1, CHUNK, f)) > 0) crec__md5_update(&m, chunk, got);
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    free(chunk);
    if (bad) {
        errno = saved;
        return CREC_EIO;
    }
    unsigned char d[16];
    crec__md5_final(&m, d);
    crec__md5_hex(d, hex);
    return 0;
}
