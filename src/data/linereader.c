/* linereader.c: streaming line reader, in-place field splitting, number/date parsing and bad-line reporting
 * for the dataset loaders. See linereader.h. The reader keeps its own fread buffer and scans it with memchr,
 * so a line costs one copy; lines longer than CREC__LINE_MAX are consumed but truncated and flagged. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, memrchr */
#endif
#include "data/linereader.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"

#define RBUF_SIZE ((size_t)1 << 16)

int crec__lr_open(crec_linereader *lr, const char *path, crec_load_opts *o) {
    memset(lr, 0, sizeof *lr);
    lr->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        if (o) crec__errf(o->err, sizeof o->err, "%s: %s", path, strerror(e));
        return CREC_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        if (o) crec__errf(o->err, sizeof o->err, "%s: %s", path, strerror(EISDIR));
        return CREC_EIO;
    }
    lr->rbuf = malloc(RBUF_SIZE);
    lr->cap = 256;
    lr->line = malloc(lr->cap);
    if (!lr->rbuf || !lr->line) {
        fclose(f);
        free(lr->rbuf);
        free(lr->line);
        memset(lr, 0, sizeof *lr);
        if (o) crec__errf(o->err, sizeof o->err, "%s: out of memory", path);
        return CREC_ENOMEM;
    }
    lr->f = f;
    return 0;
}

/* Append s[0..n) to the current line, up to CREC__LINE_MAX bytes (+1 for the terminator). */
static int lr_append(crec_linereader *lr, const char *s, size_t n) {
    if (lr->len + n > CREC__LINE_MAX) {
        lr->too_long = 1;
        n = CREC__LINE_MAX - lr->len;
    }
    if (lr->len + n + 1 > lr->cap) {
        size_t nc = lr->cap;
        while (nc < lr->len + n + 1) nc *= 2;
        char *q = realloc(lr->line, nc);
        if (!q) return CREC_ENOMEM;
        lr->line = q;
        lr->cap = nc;
    }
    memcpy(lr->line + lr->len, s, n);
    lr->len += n;
    return 0;
}

int crec__lr_next(crec_linereader *lr) {
    if (!lr->f) return 0;
    lr->len = 0;
    lr->has_nul = 0;
    lr->too_long = 0;
    int got = 0;
    for (;;) {
        if (lr->rpos == lr->rlen) {
            if (lr->eof) break;
            size_t n = fread(lr->rbuf, 1, RBUF_SIZE, lr->f);
            if (n == 0) {
                if (ferror(lr->f)) {
                    lr->read_errno = errno ? errno : EIO;
                    return CREC_EIO;
                }
                lr->eof = 1;
                break;
            }
            lr->rpos = 0;
            lr->rlen = n;
        }
        const char *s = lr->rbuf + lr->rpos;
        size_t avail = lr->rlen - lr->rpos;
        const char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        got = 1;
        if (lr_append(lr, s, take) != 0) {
            lr->read_errno = ENOMEM;
            return CREC_EIO;
        }
        lr->rpos += take + (nl ? 1 : 0);
        if (nl) break;
    }
    if (!got) return 0;
    lr->lineno++;
    if (lr->lineno == 1 && lr->len >= 3 && (unsigned char)lr->line[0] == 0xEF &&
        (unsigned char)lr->line[1] == 0xBB && (unsigned char)lr->line[2] == 0xBF) {
        memmove(lr->line, lr->line + 3, lr->len - 3);
        lr->len -= 3;
    }
    if (lr->len > 0 && lr->line[lr->len - 1] == '\r') lr->len--;
    lr->line[lr->len] = 0;
    lr->has_nul = memchr(lr->line, 0, lr->len) != NULL;
    return 1;
}

void crec__lr_close(crec_linereader *lr, crec_load_opts *o) {
    if (o) o->n_lines += lr->lineno;
    if (lr->f) fclose(lr->f);
    free(lr->rbuf);
    free(lr->line);
    memset(lr, 0, sizeof *lr);
}

const char *crec__lr_problem(const crec_linereader *lr) {
    if (lr->too_long) return "line longer than 67108864 bytes";
    if (lr->has_nul) return "unexpected NUL byte";
    return NULL;
}

int crec__lr_next_usable(crec_linereader *lr, crec_load_opts *o) {
    int rc;
    while ((rc = crec__lr_next(lr)) > 0) {
        if (lr->len == 0) continue;
        const char *why = crec__lr_problem(lr);
        if (!why) return 1;
        if ((rc = crec__load_bad(o, lr, "%s", why))) return rc;
    }
    return rc;
}

/* ---- options and errors ---- */

void crec__load_begin(crec_load_opts **o, crec_load_opts *tmp) {
    if (!*o) {
        memset(tmp, 0, sizeof *tmp);
        *o = tmp;
    }
    (*o)->n_skipped = 0;
    (*o)->n_lines = 0;
    (*o)->err[0] = 0;
}

int crec__load_bad(crec_load_opts *o, const crec_linereader *lr, const char *fmt, ...) {
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (o->skip_bad) {
        if (o->n_skipped == 0 && o->err[0] == 0)
            crec__errf(o->err, sizeof o->err, "%s:%lld: %s", lr->path, (long long)lr->lineno, reason);
        o->n_skipped++;
        return 0;
    }
    crec__errf(o->err, sizeof o->err, "%s:%lld: %s", lr->path, (long long)lr->lineno, reason);
    return CREC_EPARSE;
}

int crec__load_eio(crec_load_opts *o, const crec_linereader *lr) {
    crec__errf(o->err, sizeof o->err, "%s: %s", lr->path, strerror(lr->read_errno));
    return CREC_EIO;
}

const char *crec__quote(char *buf, size_t n, const char *s, size_t len) {
    size_t keep = len > 40 ? 40 : len, j = 0;
    if (n < 48) {
        if (n) buf[0] = 0;
        return buf;
    }
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (keep < len) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = 0;
    return buf;
}

/* ---- fields ---- */

int crec__split_char(char *line, size_t len, char sep, crec__field *f, int maxf) {
    int n = 0;
    char *p = line, *end = line + len;
    for (;;) {
        char *q = memchr(p, sep, (size_t)(end - p));
        char *fe = q ? q : end;
        if (n < maxf) {
            f[n].s = p;
            f[n].len = (size_t)(fe - p);
            *fe = 0;
        }
        n++;
        if (!q) break;
        p = q + 1;
    }
    return n;
}

int crec__split_str(char *line, size_t len, const char *sep, crec__field *f, int maxf) {
    size_t sl = strlen(sep);
    int n = 0;
    char *p = line, *end = line + len;
    for (;;) {
        char *q = (size_t)(end - p) >= sl ? memmem(p, (size_t)(end - p), sep, sl) : NULL;
        char *fe = q ? q : end;
        if (n < maxf) {
            f[n].s = p;
            f[n].len = (size_t)(fe - p);
            *fe = 0;
        }
        n++;
        if (!q) break;
        p = q + sl;
    }
    return n;
}

static int is_ws(char c) { return c == ' ' || c == '\t'; }

int crec__split_ws(char *line, size_t len, crec__field *f, int maxf) {
    int n = 0;
    char *p = line, *end = line + len;
    for (;;) {
        while (p < end && is_ws(*p)) p++;
        if (p == end) break;
        char *s = p;
        while (p < end && !is_ws(*p)) p++;
        if (n < maxf) {
            f[n].s = s;
            f[n].len = (size_t)(p - s);
            if (p < end) *p++ = 0; /* end is already the line's terminator */
        }
        n++;
    }
    return n;
}

int crec__next_ws(const char **pp, const char *end, const char **tok, size_t *tlen) {
    const char *p = *pp;
    while (p < end && is_ws(*p)) p++;
    if (p == end) {
        *pp = p;
        return 0;
    }
    const char *s = p;
    while (p < end && !is_ws(*p)) p++;
    *tok = s;
    *tlen = (size_t)(p - s);
    *pp = p;
    return 1;
}

int crec__split_csv(char *line, size_t len, char delim, crec__field *f, int maxf, const char **why) {
    int n = 0;
    char *p = line, *end = line + len;
    for (;;) {
        /* one field starts at p */
        char *s = p, *w;
        while (p < end && *p == ' ' && delim != ' ') p++;
        if (p < end && *p == '"') {
            /* quoted: unescape in place from s; the result is never longer than the source */
            p++;
            w = s;
            int closed = 0;
            while (p < end) {
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    closed = 1;
                    break;
                }
                *w++ = *p++;
            }
            if (!closed) {
                *why = "unterminated quoted field (quoted fields spanning lines are not supported)";
                return -1;
            }
            while (p < end && *p == ' ' && delim != ' ') p++;
            if (p < end && *p != delim) {
                *why = "unexpected text after a closing quote";
                return -1;
            }
        } else {
            s = p;
            while (p < end && *p != delim) p++;
            w = p;
            while (w > s && w[-1] == ' ' && delim != ' ') w--;
        }
        int more = p < end; /* p is at a delimiter */
        if (n < maxf) {
            f[n].s = s;
            f[n].len = (size_t)(w - s);
        }
        n++;
        *w = 0; /* w <= p: overwrites the delimiter or text already consumed */
        if (!more) break;
        p++;
    }
    return n;
}

/* ---- numbers ---- */

int crec__parse_i64(const char *s, size_t len, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (len == 0) return -1;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len) return -1;
    uint64_t v = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9) return -1;
        if (v > (UINT64_C(9223372036854775807) - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

int crec__parse_float(const char *s, size_t len, float *out) {
    char tmp[64];
    if (len == 0 || len >= sizeof tmp || isspace((unsigned char)s[0])) return -1;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *e;
    errno = 0;
    double v = strtod(tmp, &e);
    if (e != tmp + len || !isfinite(v) || fabs(v) > 3.0e38) return -1;
    *out = (float)v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9) return -1;
        v = v * 10 + (int)d;
    }
    *out = v;
    return 0;
}

int crec__parse_time(const char *s, size_t len, int64_t *out) {
    if (crec__parse_i64(s, len, out) == 0) return 0;
    /* YYYY-MM-DD[( |T)HH:MM:SS][Z] */
    if (len > 0 && s[len - 1] == 'Z') len--;
    if (len != 10 && len != 19) return -1;
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d))
        return -1;
    if (len == 19) {
        if ((s[10] != ' ' && s[10] != 'T') || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
            s[16] != ':' || digits(s + 17, 2, &se))
            return -1;
    }
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) return -1;
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

/* ---- paths ---- */

int crec__is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *crec__basename(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

char *crec__path_join(const char *path, int dir_of, const char *name) {
    size_t dl = strlen(path);
    if (dir_of) {
        const char *s = strrchr(path, '/');
        dl = s ? (size_t)(s - path) : 0;
        if (!s) path = ".", dl = 1;
        else if (dl == 0) dl = 1; /* "/file": the root */
    }
    while (dl > 1 && path[dl - 1] == '/') dl--;
    size_t nl = strlen(name);
    char *r = malloc(dl + 1 + nl + 1);
    if (!r) return NULL;
    memcpy(r, path, dl);
    size_t j = dl;
    if (!(dl == 1 && path[0] == '/')) r[j++] = '/';
    memcpy(r + j, name, nl + 1);
    return r;
}

void crec__dataset_default_name(crec_dataset *ds, const char *path, int use_dir) {
    if (ds->name[0]) return;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    if (use_dir) { /* drop the last component */
        while (len > 0 && path[len - 1] != '/') len--;
        while (len > 1 && path[len - 1] == '/') len--;
        if (len == 0) { /* a bare file name: fall back to its own name */
            crec__dataset_default_name(ds, path, 0);
            return;
        }
    }
    size_t start = len;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t n = len - start;
    const char *b = path + start;
    if (!use_dir) {
        const char *dot = memrchr(b, '.', n);
        if (dot && dot > b) n = (size_t)(dot - b);
    }
    if (n == 0) b = "dataset", n = 7;
    if (n >= sizeof ds->name) n = sizeof ds->name - 1;
    memcpy(ds->name, b, n);
    ds->name[n] = 0;
}

int crec__ieq(const char *s, size_t len, const char *word) {
    size_t wl = strlen(word);
    return wl == len && strncasecmp(s, word, len) == 0;
}
