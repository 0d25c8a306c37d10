/* load_attrs.c: item attributes from JSON {"item": [attr, ...]} (S3-Rec *_item2attributes.json) or from TSV lines
 * "item<TAB>attr attr ..." (optionally with a header line).
 *
 * The one idea: attributes only decorate items the dataset already knows - an item is found by its external id,
 * and unknown items are skipped and counted in o->n_skipped, never an error. Attributes are mapped by their text,
 * so the JSON number 173 and the TSV token "173" are the same attribute. JSON is parsed whole with jansson (the
 * only loader allowed to); TSV streams. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr */
#endif
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/dataset.h"
#include "data/linereader.h"

/* Attach every space-separated token of s[0..len) to item i. */
static int add_tokens(crec_dataset *ds, int32_t i, const char *s, size_t len) {
    const char *p = s, *end = s + len, *tok;
    size_t tlen;
    while (crec__next_ws(&p, end, &tok, &tlen)) {
        int rc = crec_dataset_add_attr(ds, i, tok, tlen);
        if (rc) return rc;
    }
    return 0;
}

static int load_json(crec_dataset *ds, const char *path, FILE *f, crec_load_opts *o) {
    json_error_t jerr;
    json_t *root = json_loadf(f, 0, &jerr);
    if (!root) {
        crec__errf(o->err, sizeof o->err, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return CREC_EPARSE;
    }
    int rc = 0;
    char q[64];
    if (!json_is_object(root)) {
        crec__errf(o->err, sizeof o->err, "%s: expected a JSON object {\"item\": [attributes, ...]}", path);
        json_decref(root);
        return CREC_EPARSE;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        int32_t i = crec_idmap_get(&ds->items, key, strlen(key));
        if (i < 0) {
            o->n_skipped++;
            continue;
        }
        const char *bad = NULL;
        if (!json_is_array(val)) bad = "expected an array of attributes";
        for (size_t k = 0; !bad && k < json_array_size(val); k++) {
            json_t *a = json_array_get(val, k);
            if (!json_is_string(a) && !json_is_number(a)) bad = "attributes must be strings or numbers";
        }
        if (bad) {
            if (!o->skip_bad || (o->n_skipped == 0 && !o->err[0]))
                crec__errf(o->err, sizeof o->err, "%s: item '%s': %s", path, crec__quote(q, sizeof q, key, strlen(key)),
                           bad);
            if (!o->skip_bad) {
                rc = CREC_EPARSE;
                break;
            }
            o->n_skipped++;
            continue;
        }
        size_t k;
        json_t *a;
        json_array_foreach(val, k, a) {
            char num[64];
            const char *s;
            size_t len;
            if (json_is_string(a)) {
                s = json_string_value(a);
                len = json_string_length(a);
                if (memchr(s, 0, len)) len = strlen(s); /* "\u0000" inside: keep the part before it */
            } else if (json_is_integer(a)) {
                len = (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(a));
                s = num;
            } else {
                len = (size_t)snprintf(num, sizeof num, "%.17g", json_real_value(a));
                s = num;
            }
            if (len == 0) continue;
            if ((rc = crec_dataset_add_attr(ds, i, s, len))) break;
        }
        if (rc) break;
    }
    json_decref(root);
    return rc;
}

/* TSV: "item<TAB>attr attr ..."; with more tab fields, every field after the first holds attributes, unless a
 * header names an attribute column ("...attr..."), in which case only that column is read. */
static int load_tsv(crec_dataset *ds, const char *path, crec_load_opts *o) {
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    int attr_col = -1, first = 1;
    crec__field f[64];
    while ((rc = crec__lr_next(&lr)) > 0) {
        if (lr.len == 0) continue;
        const char *why = crec__lr_problem(&lr);
        if (why) {
            first = 0;
            if ((rc = crec__load_bad(o, &lr, "%s", why))) break;
            continue;
        }
        int nf = crec__split_char(lr.line, lr.len, '\t', f, 64);
        if (nf > 64) {
            first = 0;
            if ((rc = crec__load_bad(o, &lr, "expected at most 64 tab-separated fields, got %d", nf))) break;
            continue;
        }
        int32_t i = crec_idmap_get(&ds->items, f[0].s, f[0].len);
        if (first) {
            first = 0;
            if (i < 0) { /* a header: look for an attribute column */
                for (int c = 1; c < nf && attr_col < 0; c++)
                    if (strcasestr(f[c].s, "attr")) attr_col = c;
                continue;
            }
        }
        if (nf < 2) {
            if ((rc = crec__load_bad(o, &lr, "expected item<TAB>attributes, got 1 field"))) break;
            continue;
        }
        if (f[0].len == 0) {
            if ((rc = crec__load_bad(o, &lr, "empty item id"))) break;
            continue;
        }
        if (attr_col >= nf) {
            if ((rc = crec__load_bad(o, &lr, "expected %d tab-separated fields, got %d", attr_col + 1, nf))) break;
            continue;
        }
        if (i < 0) {
            o->n_skipped++;
            continue;
        }
        rc = 0;
        if (attr_col > 0) rc = add_tokens(ds, i, f[attr_col].s, f[attr_col].len);
        else
            for (int c = 1; c < nf && !rc; c++) rc = add_tokens(ds, i, f[c].s, f[c].len);
        if (rc) break;
    }
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    crec__lr_close(&lr, o);
    return rc < 0 ? rc : 0;
}

static int ends_with_json(const char *path) {
    size_t n = strlen(path);
    return n >= 5 && strcasecmp(path + n - 5, ".json") == 0;
}

int crec_load_item_attrs(crec_dataset *ds, const char *path, crec_load_opts *o) {
    crec_load_opts tmp;
    crec__load_begin(&o, &tmp);
    if (!ds || !path) return CREC_EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        crec__errf(o->err, sizeof o->err, "%s: %s", path, strerror(errno));
        return CREC_EIO;
    }
    if (crec__is_dir(path)) {
        fclose(f);
        crec__errf(o->err, sizeof o->err, "%s: %s", path, strerror(EISDIR));
        return CREC_EIO;
    }
    /* JSON by extension, or by the first non-space byte (after a UTF-8 BOM) being '{' */
    int c, json = ends_with_json(path), bom = 0;
    unsigned char b3[3];
    if (fread(b3, 1, 3, f) == 3 && b3[0] == 0xEF && b3[1] == 0xBB && b3[2] == 0xBF) bom = 1;
    else rewind(f);
    if (!json) {
        while ((c = getc(f)) != EOF && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {}
        json = c == '{';
        if (fseek(f, bom ? 3 : 0, SEEK_SET) != 0) json = 0;
    }
    int64_t pairs0 = ds->n_attr_pairs;
    int rc = 0;
    if (json) rc = load_json(ds, path, f, o);
    fclose(f);
    if (!json) rc = load_tsv(ds, path, o);
    if (rc == CREC_ENOMEM && !o->err[0]) crec__errf(o->err, sizeof o->err, "%s: out of memory", path);
    if (rc == 0 && ds->n_attr_pairs != pairs0) rc = crec_dataset_attr_csr(ds);
    return rc;
}
