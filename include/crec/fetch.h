/* fetch.h: download public datasets from their official URLs into a cache folder, verify, unpack.
 * Every registered dataset has its URL and checksum; the cache default is $XDG_CACHE_HOME/crec
 * (else ~/.cache/crec), overridable with CREC_CACHE. Tests use file:// URLs against local copies. */
#ifndef CREC_FETCH_H
#define CREC_FETCH_H

#include "crec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crec_fetch_source {
    const char *name;       /* "ml-100k" */
    const char *url;        /* official URL */
    const char *md5;        /* hex digest of the archive, or NULL to verify against url + ".md5" */
    const char *format;     /* import format for crec data import: "movielens" */
    const char *subdir;     /* directory inside the archive holding the files */
    const char *desc;
} crec_fetch_source;

CREC_API int crec_fetch_count(void);
CREC_API const crec_fetch_source *crec_fetch_at(int i);
CREC_API const crec_fetch_source *crec_fetch_find(const char *name);

typedef struct crec_fetch_opts {
    const char *cache_dir;  /* NULL = default */
    const char *url;        /* override the source URL (e.g. file:///...) */
    const char *md5;        /* override the expected digest */
    int progress;           /* 1: progress bar on stderr */
    int force;              /* re-download even if cached and verified */
    char err[512];          /* out: reason of a failure */
    char path[1024];        /* out: folder with the unpacked files */
} crec_fetch_opts;

/* Download (unless cached), verify the MD5, unpack the zip. Returns 0, CREC_ENET (offline or HTTP error),
 * CREC_ECHECKSUM, CREC_EIO, CREC_EFORMAT (bad archive) or CREC_ENOTFOUND (unknown name). */
CREC_API int crec_fetch(const char *name, crec_fetch_opts *o);
/* Default cache folder into buf. */
CREC_API void crec_fetch_cache_dir(char *buf, size_t n);
/* MD5 of a file as 32 hex chars + NUL into hex[33]. */
CREC_API int crec_md5_file(const char *path, char hex[33]);
/* Extract every file of a zip archive under dir (paths with ".." or absolute are refused). */
CREC_API int crec_unzip(const char *zip_path, const char *dir, char *err, size_t errn);

#ifdef __cplusplus
}
#endif
#endif
