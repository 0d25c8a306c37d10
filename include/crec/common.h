/* common.h: export macro, version and the one error-code table of crec.
 * Every library function returns 0 on success or a negative CREC_E* code; crec_strerror names it. */
#ifndef CREC_COMMON_H
#define CREC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CREC_BUILDING)
#define CREC_API __attribute__((visibility("default")))
#else
#define CREC_API
#endif

#define CREC_VERSION_STRING "0.1.0"

/* X-macro: name, value, message (libuv UV_ERRNO_MAP style). */
#define CREC_ERRNO_MAP(X)                                                  \
    X(NOMEM, -1, "out of memory")                                          \
    X(IO, -2, "input/output error")                                        \
    X(PARSE, -3, "malformed input")                                        \
    X(INVAL, -4, "invalid argument")                                       \
    X(NOTFOUND, -5, "not found")                                           \
    X(FORMAT, -6, "unsupported or corrupt file format")                    \
    X(CHECKSUM, -7, "checksum mismatch")                                   \
    X(VERSION, -8, "unsupported file version")                             \
    X(RANGE, -9, "value out of range")                                     \
    X(EMPTY, -10, "empty dataset or selection")                            \
    X(NET, -11, "network error")                                           \
    X(UNSUPPORTED, -12, "operation not supported")                         \
    X(EXISTS, -13, "already exists")                                       \
    X(STATE, -14, "object in wrong state for this operation")

typedef enum {
    CREC_OK = 0,
#define CREC__ERR_ENUM(name, val, msg) CREC_E##name = (val),
    CREC_ERRNO_MAP(CREC__ERR_ENUM)
#undef CREC__ERR_ENUM
} crec_err;

/* Static message for an error code; never NULL. */
CREC_API const char *crec_strerror(int err);
/* Symbolic name ("CREC_EPARSE") for an error code; never NULL. */
CREC_API const char *crec_errname(int err);

/* Version string of the library. */
CREC_API const char *crec_version(void);

/* A growable byte buffer (checkpoint payloads, framed files, replies). A writer may end it with borrowed bytes
 * (ref, ref_len: not copied, not owned; crec_buf_write_ref) that a file writer writes after data, so a large
 * array (EASE's I x I matrix) goes to disk without a second copy in memory. */
typedef struct crec_buf {
    uint8_t *data;
    size_t len, cap, pos;
    const void *ref;
    size_t ref_len;
} crec_buf;
/* Append n bytes (copied). CREC_ESTATE once borrowed bytes end the buffer. */
CREC_API int crec_buf_write(crec_buf *b, const void *p, size_t n);
/* End the buffer with n borrowed bytes at p (they must outlive the buffer's use); one per buffer. */
CREC_API int crec_buf_write_ref(crec_buf *b, const void *p, size_t n);
CREC_API int crec_buf_read(crec_buf *b, void *p, size_t n); /* CREC_EFORMAT when short */
/* 0 when at least count * size unread bytes remain, else CREC_EFORMAT: loaders call it before allocating from a
 * size read out of a file, so a short corrupt file cannot ask for gigabytes. */
CREC_API int crec_buf_need(const crec_buf *b, uint64_t count, size_t size);
CREC_API void crec_buf_free(crec_buf *b);

#ifdef __cplusplus
}
#endif
#endif
