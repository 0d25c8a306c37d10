/* buf.c: a growable byte buffer for binary files (dataset caches, checkpoints). */
#include <stdlib.h>
#include <string.h>

#include "crec/common.h"

int crec_buf_write(crec_buf *b, const void *p, size_t n) {
    if (b->ref) return CREC_ESTATE;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n) nc *= 2;
        uint8_t *d = realloc(b->data, nc);
        if (!d) return CREC_ENOMEM;
        b->data = d;
        b->cap = nc;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int crec_buf_write_ref(crec_buf *b, const void *p, size_t n) {
    if (b->ref || (!p && n)) return CREC_ESTATE;
    b->ref = n ? p : NULL;
    b->ref_len = n;
    return 0;
}

int crec_buf_read(crec_buf *b, void *p, size_t n) {
    if (n > b->len - b->pos || b->pos > b->len) return CREC_EFORMAT;
    if (n) memcpy(p, b->data + b->pos, n);
    b->pos += n;
    return 0;
}

int crec_buf_need(const crec_buf *b, uint64_t count, size_t size) {
    if (b->pos > b->len) return CREC_EFORMAT;
    uint64_t left = b->len - b->pos;
    return size && count > left / size ? CREC_EFORMAT : 0;
}

void crec_buf_free(crec_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}
