/* cli.c: option parsing and shared helpers of the crec program. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0; }

int cli_flag(char **argv, int i, const char *name) { return strcmp(argv[i], name) == 0; }

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val, int *bad) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "crec: option %s needs a value\n", name);
        *bad = 1;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "crec %s: bad value for %s: '%s' (an integer in [%lld, %lld])\n", cmd, opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) {
        fprintf(stderr, "crec %s: bad value for %s: '%s' (a number)\n", cmd, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_ks(const char *cmd, const char *s, int *ks, int *n) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > 100000 || (*end && *end != ',') || *n >= CREC_EVAL_MAX_K) {
            fprintf(stderr, "crec %s: bad --k '%s' (comma-separated positive integers, at most %d)\n", cmd, s,
                    CREC_EVAL_MAX_K);
            return -1;
        }
        ks[(*n)++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) {
        fprintf(stderr, "crec %s: empty --k\n", cmd);
        return -1;
    }
    return 0;
}

void cli_err(const char *cmd, const char *what, int rc) {
    fprintf(stderr, "crec %s: %s: %s\n", cmd, what, crec_strerror(rc));
}

int cli_open_dataset(const char *cmd, const char *path, crec_dataset **out) {
    *out = NULL;
    if (!path) {
        fprintf(stderr, "crec %s: --data is required (a .crecds file; make one with crec data synth or import)\n", cmd);
        return CREC_EINVAL;
    }
    int rc = crec_dataset_load(path, out);
    if (rc == 0) return 0;
    if (rc != CREC_EFORMAT) {
        if (rc == CREC_ENOTFOUND) fprintf(stderr, "crec %s: %s: no such file\n", cmd, path);
        else cli_err(cmd, path, rc);
        return rc;
    }
    /* not a .crecds: import the text dataset in memory */
    crec_dataset *ds = crec_dataset_new();
    if (!ds) return CREC_ENOMEM;
    crec_load_opts o;
    memset(&o, 0, sizeof o);
    rc = crec_load(ds, CREC_FMT_AUTO, path, &o);
    if (rc) {
        fprintf(stderr, "crec %s: %s\n", cmd, o.err[0] ? o.err : crec_strerror(rc));
        crec_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) {
                fprintf(f, "\\u%04x", *p);
            } else if (*p < 0x80) {
                fputc(*p, f);
            } else {
                /* copy a valid UTF-8 sequence; read a stray byte as Latin-1 (MovieLens titles are) */
                int len = (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
                int ok = len > 0;
                for (int k = 1; ok && k < len; k++) ok = (p[k] & 0xC0) == 0x80;
                if (ok) {
                    fwrite(p, 1, (size_t)len, f);
                    p += len - 1;
                } else {
                    fprintf(f, "\\u%04x", *p);
                }
            }
        }
    }
    fputc('"', f);
}

int cli_progress(void) { return isatty(STDERR_FILENO); }
