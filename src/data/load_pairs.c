/* load_pairs.c: one "user item" interaction per line, in time order, separated by "::", a comma, or spaces/tabs
 * (the first of these found on the line wins). No time in the file: ts is the running event counter. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <string.h>

#include "core/util.h"
#include "crec/dataset.h"
#include "data/linereader.h"

/* Trim spaces and tabs around a field in place. */
static void trim(crec__field *f) {
    while (f->len && (f->s[0] == ' ' || f->s[0] == '\t')) f->s++, f->len--;
    while (f->len && (f->s[f->len - 1] == ' ' || f->s[f->len - 1] == '\t')) f->len--;
}

int crec_load_pairs(crec_dataset *ds, const char *path, crec_load_opts *o) {
    crec_load_opts tmp;
    crec__load_begin(&o, &tmp);
    if (!ds || !path) return CREC_EINVAL;
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    crec__field f[3];
    while ((rc = crec__lr_next(&lr)) > 0) {
        size_t k = 0;
        while (k < lr.len && (lr.line[k] == ' ' || lr.line[k] == '\t')) k++;
        if (k == lr.len) continue; /* empty (or blank) line */
        const char *why = crec__lr_problem(&lr);
        if (why) {
            if ((rc = crec__load_bad(o, &lr, "%s", why))) break;
            continue;
        }
        int nf;
        if (memmem(lr.line, lr.len, "::", 2)) nf = crec__split_str(lr.line, lr.len, "::", f, 3);
        else if (memchr(lr.line, ',', lr.len)) nf = crec__split_char(lr.line, lr.len, ',', f, 3);
        else nf = crec__split_ws(lr.line, lr.len, f, 3);
        if (nf != 2) {
            if ((rc = crec__load_bad(o, &lr, "expected 2 fields (user item), got %d", nf))) break;
            continue;
        }
        trim(&f[0]);
        trim(&f[1]);
        if (f[0].len == 0 || f[1].len == 0) {
            if ((rc = crec__load_bad(o, &lr, "%s", f[0].len == 0 ? "empty user id" : "empty item id"))) break;
            continue;
        }
        if ((rc = crec_dataset_add(ds, f[0].s, f[0].len, f[1].s, f[1].len, ds->n, 1.0f, 0))) {
            crec__errf(o->err, sizeof o->err, "%s:%lld: out of memory", path, (long long)lr.lineno);
            break;
        }
    }
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    crec__lr_close(&lr, o);
    if (rc > 0) rc = 0;
    if (rc == 0) crec__dataset_default_name(ds, path, 0);
    return rc;
}
