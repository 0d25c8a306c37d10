/* fuzz_common.h: what the libFuzzer targets of crec's file readers share. The readers take a path, so each
 * process makes one private folder (in /dev/shm when it exists: no disk I/O), rewrites its files for every
 * input and removes the folder at exit. Also CHECK (a trap libFuzzer reports as a crash), the "is this a
 * CREC_E* code" test, and the fix-up that lets mutated framed files (.crecds, .crecm) reach the parsers
 * behind the checksum. Header-only: each target is one .c file plus this. */
#ifndef CREC_FUZZ_COMMON_H
#define CREC_FUZZ_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h" /* crec__hash64 */
#include "crec/common.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static char fz_dir[64];

static void fz_cleanup(void) {
    DIR *d = opendir(fz_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", fz_dir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(fz_dir);
}

/* Path of name inside the private folder (created on first use); points into one of four rotating buffers. */
static const char *fz_path(const char *name) {
    static char buf[4][512];
    static int next;
    if (!fz_dir[0]) {
        snprintf(fz_dir, sizeof fz_dir, "%s/crec-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(fz_dir)) abort(); /* not the input's fault: stop loudly */
        atexit(fz_cleanup);
    }
    char *p = buf[next++ & 3];
    snprintf(p, 512, "%s/%s", fz_dir, name);
    return p;
}

/* (Re)write name with p[0..n); returns its path. */
static const char *fz_write(const char *name, const void *p, size_t n) {
    const char *path = fz_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) abort();
    return path;
}

/* 1 when rc is a negative code of the CREC_ERRNO_MAP table. */
static int fz_known_error(int rc) { return rc < 0 && strcmp(crec_errname(rc), "CREC_EUNKNOWN") != 0; }

/* A framed file (src/core/binio.h: magic 8, version u32, flags u32, length u64, hash u64, payload) from the
 * fuzz input: unless bit 0 of the flags is set (the writer always leaves flags 0), the length and the hash
 * are recomputed, so that mutations of the payload are parsed rather than stopped by the checksum; with the
 * bit set the input is written as it is, to fuzz the header checks too. Returns the path. */
static const char *fz_write_framed(const char *name, const uint8_t *data, size_t size) {
    if (size < 32 || (data[12] & 1)) return fz_write(name, data, size);
    uint8_t *copy = malloc(size);
    if (!copy) abort();
    memcpy(copy, data, size);
    uint32_t version;
    uint64_t len = size - 32;
    memcpy(&version, copy + 8, 4);
    uint64_t hash = crec__hash64(copy + 32, len, version);
    memcpy(copy + 16, &len, 8);
    memcpy(copy + 24, &hash, 8);
    const char *path = fz_write(name, copy, size);
    free(copy);
    return path;
}

#endif
