/* binio.c: framed, checksummed binary files (see binio.h). */
#include "core/binio.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

int crec__put_u32(crec_buf *b, uint32_t v) { return crec_buf_write(b, &v, 4); }
int crec__put_u64(crec_buf *b, uint64_t v) { return crec_buf_write(b, &v, 8); }
int crec__put_str(crec_buf *b, const char *s) {
    if (!s) return crec__put_u32(b, 0xffffffffu);
    size_t n = strlen(s);
    int rc = crec__put_u32(b, (uint32_t)n);
    return rc ? rc : crec_buf_write(b, s, n);
}
int crec__get_u32(crec_buf *b, uint32_t *v) { return crec_buf_read(b, v, 4); }
int crec__get_u64(crec_buf *b, uint64_t *v) { return crec_buf_read(b, v, 8); }

int crec__get_str(crec_buf *b, char **out) {
    uint32_t n;
    *out = NULL;
    int rc = crec__get_u32(b, &n);
    if (rc) return rc;
    if (n == 0xffffffffu) return 0;
    if (n > b->len - b->pos) return CREC_EFORMAT;
    *out = crec__strndup((const char *)b->data + b->pos, n);
    if (!*out) return CREC_ENOMEM;
    b->pos += n;
    return 0;
}

int crec__get_str_into(crec_buf *b, char *dst, size_t cap) {
    char *s;
    int rc = crec__get_str(b, &s);
    if (rc) return rc;
    snprintf(dst, cap, "%s", s ? s : "");
    free(s);
    return 0;
}

#define BIN_HEADER CREC__BIN_HEADER

int crec__binfile_write(const char *path, const char magic[8], uint32_t version, const crec_buf *payload) {
    crec__replace r;
    int rc = crec__replace_open(&r, path, "wb");
    if (rc) return rc;
    FILE *f = r.f;
    uint32_t flags = 0;
    /* the payload is data followed by the borrowed bytes (crec_buf_write_ref), hashed as one */
    size_t dlen = payload->len, rlen = payload->ref ? payload->ref_len : 0;
    uint64_t len = (uint64_t)dlen + rlen;
    crec_hash64_state hs;
    crec__hash64_init(&hs, version);
    crec__hash64_update(&hs, payload->data, dlen);
    if (rlen) crec__hash64_update(&hs, payload->ref, rlen);
    uint64_t hash = crec__hash64_final(&hs);
    int ok = fwrite(magic, 1, 8, f) == 8 && fwrite(&version, 4, 1, f) == 1 && fwrite(&flags, 4, 1, f) == 1 &&
             fwrite(&len, 8, 1, f) == 1 && fwrite(&hash, 8, 1, f) == 1 &&
             (dlen == 0 || fwrite(payload->data, 1, dlen, f) == dlen) &&
             (rlen == 0 || fwrite(payload->ref, 1, rlen, f) == rlen);
    return crec__replace_close(&r, ok);
}

int crec__binfile_read(const char *path, const char magic[8], uint32_t max_version, uint32_t *version_out,
                       crec_buf *payload) {
    memset(payload, 0, sizeof *payload);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? CREC_ENOTFOUND : CREC_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return CREC_EIO;
    }
    if (st.st_size < BIN_HEADER) {
        close(fd);
        return CREC_EFORMAT;
    }
    unsigned char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return CREC_EIO;
    uint32_t version;
    uint64_t len, hash;
    memcpy(&version, map + 8, 4);
    memcpy(&len, map + 16, 8);
    memcpy(&hash, map + 24, 8);
    int rc = 0;
    if (memcmp(map, magic, 8) != 0) rc = CREC_EFORMAT;
    else if (version == 0 || version > max_version) rc = CREC_EVERSION;
    else if (len != (uint64_t)st.st_size - BIN_HEADER) rc = CREC_EFORMAT; /* truncated or padded */
    else if (crec__hash64(map + BIN_HEADER, len, version) != hash) rc = CREC_ECHECKSUM;
    if (rc) {
        munmap(map, (size_t)st.st_size);
        return rc;
    }
    /* writable only now: populating a writable private map would copy every page up front; this way a
     * page is copied only when the caller writes to it (filters edit loaded datasets in place) */
    if (mprotect(map, (size_t)st.st_size, PROT_READ | PROT_WRITE) != 0) {
        munmap(map, (size_t)st.st_size);
        return CREC_EIO;
    }
    payload->data = map + BIN_HEADER;
    payload->len = len;
    payload->cap = 0; /* mapped: not owned by the buffer */
    if (version_out) *version_out = version;
    return 0;
}

void crec__binfile_release(crec_buf *payload) {
    if (payload->data) munmap(payload->data - BIN_HEADER, payload->len + BIN_HEADER);
    memset(payload, 0, sizeof *payload);
}
