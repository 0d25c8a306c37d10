/* load_sequences.c: one user per line, "user item item ..." separated by spaces or tabs (the SASRec/S3-Rec
 * layout, e.g. Beauty.txt). The file has no time: ts is the running event counter, so time order is file order.
 * A line is checked before anything from it is added, so a skipped line leaves no trace. */
#include <string.h>

#include "core/util.h"
#include "crec/dataset.h"
#include "data/linereader.h"

int crec_load_sequences(crec_dataset *ds, const char *path, crec_load_opts *o) {
    crec_load_opts tmp;
    crec__load_begin(&o, &tmp);
    if (!ds || !path) return CREC_EINVAL;
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    while ((rc = crec__lr_next(&lr)) > 0) {
        const char *p = lr.line, *end = lr.line + lr.len, *user, *item;
        size_t ulen, ilen;
        if (!crec__next_ws(&p, end, &user, &ulen)) continue; /* empty (or blank) line */
        const char *why = crec__lr_problem(&lr);
        if (why) {
            if ((rc = crec__load_bad(o, &lr, "%s", why))) break;
            continue;
        }
        const char *items = p;
        if (!crec__next_ws(&p, end, &item, &ilen)) {
            if ((rc = crec__load_bad(o, &lr, "expected a user followed by at least one item, got 1 field"))) break;
            continue;
        }
        int32_t u = crec_idmap_intern(&ds->users, user, ulen);
        if (u < 0) {
            rc = u;
            break;
        }
        p = items;
        while (crec__next_ws(&p, end, &item, &ilen)) {
            int32_t i = crec_dataset_item(ds, item, ilen);
            if (i < 0 || (rc = crec_dataset_add_dense(ds, u, i, ds->n, 1.0f, 0)) != 0) {
                rc = i < 0 ? i : rc;
                break;
            }
        }
        if (rc) break;
    }
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    if (rc == CREC_ENOMEM) crec__errf(o->err, sizeof o->err, "%s:%lld: out of memory", path, (long long)lr.lineno);
    crec__lr_close(&lr, o);
    if (rc > 0) rc = 0;
    if (rc == 0) crec__dataset_default_name(ds, path, 0);
    return rc;
}
