/* testutil.h: small helpers shared by the unit tests (temp folders, file writing, data locations). */
#ifndef CREC_TESTUTIL_H
#define CREC_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temp folder; returns a static-lifetime heap string. */
static inline char *tu_tmpdir(void) {
    char tmpl[] = "/tmp/crec-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline void tu_write(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static inline void tu_rmrf(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* Path of a shared dataset file, or NULL (and a message) when the shared data folder is absent. */
static inline const char *tu_shared(const char *rel, char *buf, size_t n) {
    const char *root = getenv("CREC_SHARED_DATA");
    if (!root) root = "../shared/data";
    snprintf(buf, n, "%s/%s", root, rel);
    if (access(buf, R_OK) != 0) {
        fprintf(stderr, "skipping: %s not found (shared datasets absent)\n", buf);
        return NULL;
    }
    return buf;
}
/* Largest |a - b| over n entries, relative to the largest |b| (batched against one-by-one scores). */
static inline double tu_max_rel_diff(const float *a, const float *b, size_t n) {
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(b[i])), md = fmax(md, fabs((double)a[i] - b[i]));
    return mx > 0 ? md / mx : md;
}

#endif
