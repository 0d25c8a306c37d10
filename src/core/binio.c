/* binio.c: framed, checksummed binary files (see binio.h). */
#include "core/binio.h"

#include <errno.h>
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

int crec__binfile_write(const char *path, const char magic[8], uint32_t version, const crec_buf *payload) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp) return CREC_ENOMEM;
    snprintf(tmp, plen + 8, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(tmp);
        return CREC_EIO;
    }
    uint32_t flags = 0;
    uint64_t len = payload->len;
    uint32_t crc = crec__crc32(0, payload->data, payload->len);
    int ok = fwrite(magic, 1, 8, f) == 8 && fwrite(&version, 4, 1, f) == 1 && fwrite(&flags, 4, 1, f) == 1 &&
             fwrite(&len, 8, 1, f) == 1 && fwrite(&crc, 4, 1, f) == 1 &&
             (len == 0 || fwrite(payload->data, 1, len, f) == len);
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return CREC_EIO;
    }
    free(tmp);
    return 0;
}

int crec__binfile_read(const char *path, const char magic[8], uint32_t max_version, uint32_t *version_out,
                       crec_buf *payload) {
    memset(payload, 0, sizeof *payload);
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? CREC_ENOTFOUND : CREC_EIO;
    char m[8];
    uint32_t version, flags, crc;
    uint64_t len;
    int rc = 0;
    if (fread(m, 1, 8, f) != 8 || memcmp(m, magic, 8) != 0) {
        rc = CREC_EFORMAT;
        goto out;
    }
    if (fread(&version, 4, 1, f) != 1 || fread(&flags, 4, 1, f) != 1 || fread(&len, 8, 1, f) != 1 ||
        fread(&crc, 4, 1, f) != 1) {
        rc = CREC_EFORMAT;
        goto out;
    }
    if (version == 0 || version > max_version) {
        rc = CREC_EVERSION;
        goto out;
    }
    /* the payload length must match the file size exactly */
    long here = ftell(f);
    if (fseek(f, 0, SEEK_END) != 0) {
        rc = CREC_EIO;
        goto out;
    }
    long end = ftell(f);
    if (here < 0 || end < 0 || (uint64_t)(end - here) != len) {
        rc = CREC_EFORMAT;
        goto out;
    }
    fseek(f, here, SEEK_SET);
    payload->data = malloc(len ? len : 1);
    if (!payload->data) {
        rc = CREC_ENOMEM;
        goto out;
    }
    payload->cap = payload->len = len;
    if (len && fread(payload->data, 1, len, f) != len) {
        rc = CREC_EIO;
        goto out;
    }
    if (crec__crc32(0, payload->data, len) != crc) {
        rc = CREC_ECHECKSUM;
        goto out;
    }
    if (version_out) *version_out = version;
out:
    fclose(f);
    if (rc) crec_buf_free(payload);
    return rc;
}
