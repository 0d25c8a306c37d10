/* load_csv.c: generic CSV/TSV interaction files with a header (or column numbers when there is none).
 *
 * The one idea: the first line fixes everything - the delimiter (tab, comma or semicolon, whichever occurs most
 * outside quotes, unless o->delim), the number of columns, and which column is user, item, time and value
 * (o->col_* as a header name or a 1-based number, else the usual names). Every later line must have exactly
 * that many RFC 4180 fields. A time column holds epoch seconds or ISO dates (UTC); without one ts is the
 * running event counter. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/dataset.h"
#include "data/linereader.h"

static const char *const user_names[] = {"user", "userId", "user_id", "uid", NULL};
static const char *const item_names[] = {"item", "itemId", "item_id", "movieId", "iid", NULL};
static const char *const time_names[] = {"timestamp", "time", "ts", NULL};
static const char *const value_names[] = {"rating", "value", NULL};

static const char *delim_name(char d, char *buf) {
    switch (d) {
    case '\t': return "tab";
    case ',': return "comma";
    case ';': return "semicolon";
    case ' ': return "space";
    default: buf[0] = '\'', buf[1] = d, buf[2] = '\'', buf[3] = 0; return buf;
    }
}

/* Delimiter of a header line: the most frequent of tab, comma, semicolon outside quotes (ties in that order). */
static char guess_delim(const char *s, size_t len) {
    size_t nt = 0, nc = 0, ns = 0;
    int inq = 0;
    for (size_t k = 0; k < len; k++) {
        char c = s[k];
        if (c == '"') inq = !inq;
        else if (!inq) nt += c == '\t', nc += c == ',', ns += c == ';';
    }
    if (nt == 0 && nc == 0 && ns == 0) return ',';
    if (nt >= nc && nt >= ns) return '\t';
    return nc >= ns ? ',' : ';';
}

typedef struct csv_header {
    char *buf;        /* copy of the header line, split in place */
    crec__field *col; /* column names (NULL without a header) */
    int n;
} csv_header;

/* "<path>: no column named 'x' (columns: a, b, c)". */
static int no_column(crec_load_opts *o, const char *path, const csv_header *h, const char *spec) {
    char cols[300], q[64];
    size_t j = 0;
    cols[0] = 0;
    for (int c = 0; c < h->n && j + 60 < sizeof cols; c++) {
        crec__quote(q, sizeof q, h->col[c].s, h->col[c].len);
        j += (size_t)snprintf(cols + j, sizeof cols - j, "%s%s", c ? ", " : "", q);
    }
    if (j + 60 >= sizeof cols && h->n > 0) snprintf(cols + j, sizeof cols - j, ", ...");
    crec__errf(o->err, sizeof o->err, "%s: no column named '%s' (columns: %s)", path,
               crec__quote(q, sizeof q, spec, strlen(spec)), cols);
    return CREC_EINVAL;
}

/* Column index (0-based) for spec, or for the first default name when spec is NULL; -1 when there is no default
 * match (and the column is optional). Returns CREC_EINVAL (message set) for an unknown name or number. */
static int resolve(const char *spec, const char *const *defaults, const csv_header *h, int ncols, const char *path,
                   crec_load_opts *o, int *out) {
    *out = -1;
    if (spec && *spec) {
        int64_t num;
        if (crec__parse_i64(spec, strlen(spec), &num) == 0) {
            if (num < 1 || num > ncols) {
                crec__errf(o->err, sizeof o->err, "%s: column %lld out of range (the file has %d columns)", path,
                           (long long)num, ncols);
                return CREC_EINVAL;
            }
            *out = (int)num - 1;
            return 0;
        }
        if (!h->col) {
            char q[64];
            crec__errf(o->err, sizeof o->err, "%s: no column named '%s' (the file has no header: use a 1-based number)",
                       path, crec__quote(q, sizeof q, spec, strlen(spec)));
            return CREC_EINVAL;
        }
        for (int c = 0; c < h->n; c++)
            if (h->col[c].len == strlen(spec) && memcmp(h->col[c].s, spec, h->col[c].len) == 0) return *out = c, 0;
        for (int c = 0; c < h->n; c++)
            if (crec__ieq(h->col[c].s, h->col[c].len, spec)) return *out = c, 0;
        return no_column(o, path, h, spec);
    }
    if (!h->col) return 0;
    for (int k = 0; defaults[k]; k++)
        for (int c = 0; c < h->n; c++)
            if (crec__ieq(h->col[c].s, h->col[c].len, defaults[k])) return *out = c, 0;
    return 0;
}

int crec_load_csv(crec_dataset *ds, const char *path, crec_load_opts *o) {
    crec_load_opts tmp;
    crec__load_begin(&o, &tmp);
    if (!ds || !path) return CREC_EINVAL;
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    csv_header h = {0};
    crec__field *f = NULL;
    int ncols = 0, cu = -1, ci = -1, ct = -1, cv = -1, have_first = 0;
    char dn[8], q[64];
    char delim = o->delim;

    /* first non-empty line: the header (or the first data row with no_header) */
    while ((rc = crec__lr_next(&lr)) > 0 && lr.len == 0) {}
    if (rc <= 0) goto done; /* empty file (rc 0) or read error */
    const char *why = crec__lr_problem(&lr);
    if (why) {
        crec__errf(o->err, sizeof o->err, "%s:%lld: %s", path, (long long)lr.lineno, why);
        rc = CREC_EPARSE;
        goto done;
    }
    if (!delim) delim = guess_delim(lr.line, lr.len);
    if (!(h.buf = crec__strndup(lr.line, lr.len))) {
        rc = CREC_ENOMEM;
        goto done;
    }
    /* count the columns, then split for real into an array of that size */
    {
        const char *cwhy = NULL;
        crec__field one;
        char *probe = crec__strndup(lr.line, lr.len);
        if (!probe) {
            rc = CREC_ENOMEM;
            goto done;
        }
        ncols = crec__split_csv(probe, lr.len, delim, &one, 1, &cwhy);
        free(probe);
        if (ncols < 0) {
            crec__errf(o->err, sizeof o->err, "%s:%lld: %s", path, (long long)lr.lineno, cwhy);
            rc = CREC_EPARSE;
            goto done;
        }
        if (!(f = malloc(sizeof *f * ((size_t)ncols + 1)))) {
            rc = CREC_ENOMEM;
            goto done;
        }
        if (!o->no_header) {
            if (!(h.col = malloc(sizeof *h.col * (size_t)ncols))) {
                rc = CREC_ENOMEM;
                goto done;
            }
            h.n = crec__split_csv(h.buf, lr.len, delim, h.col, ncols, &cwhy);
        }
    }
    if ((rc = resolve(o->col_user, user_names, &h, ncols, path, o, &cu)) ||
        (rc = resolve(o->col_item, item_names, &h, ncols, path, o, &ci)) ||
        (rc = resolve(o->col_time, time_names, &h, ncols, path, o, &ct)) ||
        (rc = resolve(o->col_value, value_names, &h, ncols, path, o, &cv)))
        goto done;
    if (o->no_header) {
        if (cu < 0 && !o->col_user) cu = 0;
        if (ci < 0 && !o->col_item) ci = ncols > 1 ? 1 : -1;
    }
    if (cu < 0 || ci < 0) {
        const char *what = cu < 0 ? "user" : "item";
        if (h.col) {
            char cols[300];
            size_t j = 0;
            cols[0] = 0;
            for (int c = 0; c < h.n && j + 60 < sizeof cols; c++)
                j += (size_t)snprintf(cols + j, sizeof cols - j, "%s%s", c ? ", " : "",
                                      crec__quote(q, sizeof q, h.col[c].s, h.col[c].len));
            crec__errf(o->err, sizeof o->err, "%s: no %s column (columns: %s); name it with col_%s", path, what, cols,
                       what);
        } else {
            crec__errf(o->err, sizeof o->err, "%s: no %s column (the file has %d column%s)", path, what, ncols,
                       ncols == 1 ? "" : "s");
        }
        rc = CREC_EINVAL;
        goto done;
    }
    if (ct >= 0) ds->has_time = 1;
    if (cv >= 0) ds->has_value = 1;
    have_first = o->no_header; /* the first line is data */

    for (;;) {
        if (have_first) have_first = 0;
        else if ((rc = crec__lr_next(&lr)) <= 0) break;
        if (lr.len == 0) continue;
        if ((why = crec__lr_problem(&lr))) {
            if ((rc = crec__load_bad(o, &lr, "%s", why))) break;
            continue;
        }
        const char *cwhy = NULL;
        int nf = crec__split_csv(lr.line, lr.len, delim, f, ncols + 1, &cwhy);
        if (nf < 0) {
            if ((rc = crec__load_bad(o, &lr, "%s", cwhy))) break;
            continue;
        }
        if (nf != ncols) {
            if ((rc = crec__load_bad(o, &lr, "expected %d %s-separated fields, got %d", ncols, delim_name(delim, dn),
                                     nf)))
                break;
            continue;
        }
        if (f[cu].len == 0 || f[ci].len == 0) {
            if ((rc = crec__load_bad(o, &lr, "%s", f[cu].len == 0 ? "empty user id" : "empty item id"))) break;
            continue;
        }
        int64_t ts = ds->n;
        float value = 1.0f;
        if (ct >= 0 && crec__parse_time(f[ct].s, f[ct].len, &ts)) {
            if ((rc = crec__load_bad(o, &lr, "bad timestamp '%s'", crec__quote(q, sizeof q, f[ct].s, f[ct].len))))
                break;
            continue;
        }
        if (cv >= 0 && crec__parse_float(f[cv].s, f[cv].len, &value)) {
            if ((rc = crec__load_bad(o, &lr, "bad value '%s'", crec__quote(q, sizeof q, f[cv].s, f[cv].len)))) break;
            continue;
        }
        if ((rc = crec_dataset_add(ds, f[cu].s, f[cu].len, f[ci].s, f[ci].len, ts, value, 0))) {
            crec__errf(o->err, sizeof o->err, "%s:%lld: out of memory", path, (long long)lr.lineno);
            break;
        }
    }
done:
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    if (rc == CREC_ENOMEM && !o->err[0]) crec__errf(o->err, sizeof o->err, "%s: out of memory", path);
    crec__lr_close(&lr, o);
    free(h.buf);
    free(h.col);
    free(f);
    if (rc > 0) rc = 0;
    if (rc == 0) crec__dataset_default_name(ds, path, 0);
    return rc;
}
