/* binio.h: framed binary files: [magic 8][version u32][flags u32][payload length u64][hash64 u64][payload].
 * Writers build the payload in a crec_buf and call crec__binfile_write; readers get a verified payload that
 * is a private (copy-on-write) memory map of the file (release it with crec__binfile_release, not crec_buf_free). */
#ifndef CREC_BINIO_H
#define CREC_BINIO_H

#include "crec/common.h"

#define CREC__BIN_HEADER 32 /* magic 8, version 4, flags 4, payload length 8, hash 8 */

/* Write atomically (to path.tmp, then rename). */
int crec__binfile_write(const char *path, const char magic[8], uint32_t version, const crec_buf *payload);
/* Map and verify; *version_out gets the file's version; release the payload with crec__binfile_release.
 * Errors: CREC_EIO, CREC_EFORMAT (magic), CREC_EVERSION (> max_version), CREC_ECHECKSUM. */
int crec__binfile_read(const char *path, const char magic[8], uint32_t max_version, uint32_t *version_out,
                       crec_buf *payload);

void crec__binfile_release(crec_buf *payload);

int crec__put_u32(crec_buf *b, uint32_t v);
int crec__put_u64(crec_buf *b, uint64_t v);
int crec__put_str(crec_buf *b, const char *s); /* u32 length + bytes; NULL as 0xffffffff */
int crec__get_u32(crec_buf *b, uint32_t *v);
int crec__get_u64(crec_buf *b, uint64_t *v);
/* Read a string written by put_str into a new heap string (*out NULL for a NULL string). */
int crec__get_str(crec_buf *b, char **out);
/* Read a string into a fixed buffer (truncated). */
int crec__get_str_into(crec_buf *b, char *dst, size_t n);
#endif
