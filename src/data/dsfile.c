/* dsfile.c: the binary dataset file (.crecds). The file is memory-mapped (private, copy-on-write) and the
 * loaded dataset points into it: loading is one checksum pass plus building the id maps' hash tables.
 * Every section starts 8-byte aligned. Format version 1 payload:
 *   name (str), has_time u32, has_value u32,
 *   4 id maps (users, items, attrs, event types): n u32, pool length u64, pool (n NUL-terminated names), pad;
 *   n u64, user[n] i32, pad, item[n] i32, pad, ts[n] i64, value[n] f32, pad, type[n] u8, pad,
 *   titles and texts: count u32, then (item u32, str) each, pad;
 *   attribute pairs: n u64, attr_item[n] i32, pad, attr_id[n] i32, pad;
 *   user features: id map, then pairs as for attributes (uattr_user, uattr_id). */
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/dataset.h"
#include "data/dataset_internal.h"

static const char DS_MAGIC[8] = {'C', 'R', 'E', 'C', 'D', 'S', 0, 1};
#define DS_VERSION 1u

static int pad8(crec_buf *b) {
    static const char zeros[8] = {0};
    size_t r = b->len % 8;
    return r ? crec_buf_write(b, zeros, 8 - r) : 0;
}

static int skip_pad8(crec_buf *b) {
    size_t r = b->pos % 8;
    if (!r) return 0;
    if (8 - r > b->len - b->pos) return CREC_EFORMAT;
    b->pos += 8 - r;
    return 0;
}

static int put_idmap(crec_buf *b, const crec_idmap *m) {
    uint64_t pool = 0;
    for (int32_t i = 0; i < m->n; i++) pool += strlen(m->names[i]) + 1;
    int rc = crec__put_u32(b, (uint32_t)m->n);
    if (!rc) rc = crec__put_u64(b, pool);
    for (int32_t i = 0; !rc && i < m->n; i++) rc = crec_buf_write(b, m->names[i], strlen(m->names[i]) + 1);
    return rc ? rc : pad8(b);
}

static int get_idmap(crec_buf *b, crec_idmap *m) {
    uint32_t n;
    uint64_t pool;
    int rc = crec__get_u32(b, &n);
    if (!rc) rc = crec__get_u64(b, &pool);
    if (rc) return rc;
    if (pool > b->len - b->pos || n > pool) return CREC_EFORMAT;
    rc = crec__idmap_from_pool(m, (const char *)b->data + b->pos, (size_t)pool, (int32_t)n);
    if (rc) return rc;
    b->pos += pool;
    return skip_pad8(b);
}

static int put_array(crec_buf *b, const void *p, size_t bytes) {
    int rc = crec_buf_write(b, p, bytes);
    return rc ? rc : pad8(b);
}

/* Point *dst at n elements of esz bytes in the mapped payload (8-byte aligned by the writer). */
static int map_array(crec_buf *b, void **dst, uint64_t n, size_t esz) {
    if (n > (b->len - b->pos) / esz) return CREC_EFORMAT;
    if (b->pos % (esz < 8 ? esz : 8)) return CREC_EFORMAT;
    *dst = b->data + b->pos;
    b->pos += (size_t)n * esz;
    return skip_pad8(b);
}

static int put_strings(crec_buf *b, char **arr, int32_t n) {
    uint32_t cnt = 0;
    for (int32_t i = 0; arr && i < n; i++) cnt += arr[i] != NULL;
    int rc = crec__put_u32(b, cnt);
    for (int32_t i = 0; !rc && arr && i < n; i++)
        if (arr[i]) {
            rc = crec__put_u32(b, (uint32_t)i);
            if (!rc) rc = crec__put_str(b, arr[i]);
        }
    return rc ? rc : pad8(b);
}

static int get_strings(crec_buf *b, crec_dataset *ds, int is_title) {
    uint32_t cnt;
    int rc = crec__get_u32(b, &cnt);
    for (uint32_t k = 0; !rc && k < cnt; k++) {
        uint32_t i, len;
        if ((rc = crec__get_u32(b, &i)) || (rc = crec__get_u32(b, &len))) break;
        if (len == 0xffffffffu || len > b->len - b->pos || i >= (uint32_t)ds->items.n) return CREC_EFORMAT;
        const char *s = (const char *)b->data + b->pos;
        rc = is_title ? crec_dataset_set_title(ds, (int32_t)i, s, len) : crec_dataset_set_text(ds, (int32_t)i, s, len);
        b->pos += len;
    }
    return rc ? rc : skip_pad8(b);
}

int crec_dataset_save(const crec_dataset *ds, const char *path) {
    crec_buf b = {0};
    size_t n = (size_t)ds->n, na = (size_t)ds->n_attr_pairs;
    int rc = crec__put_str(&b, ds->name);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)ds->has_time);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)ds->has_value);
    if (!rc) rc = pad8(&b);
    if (!rc) rc = put_idmap(&b, &ds->users);
    if (!rc) rc = put_idmap(&b, &ds->items);
    if (!rc) rc = put_idmap(&b, &ds->attrs);
    if (!rc) rc = put_idmap(&b, &ds->event_types);
    if (!rc) rc = crec__put_u64(&b, (uint64_t)n);
    if (!rc) rc = put_array(&b, ds->user, n * sizeof *ds->user);
    if (!rc) rc = put_array(&b, ds->item, n * sizeof *ds->item);
    if (!rc) rc = put_array(&b, ds->ts, n * sizeof *ds->ts);
    if (!rc) rc = put_array(&b, ds->value, n * sizeof *ds->value);
    if (!rc) rc = put_array(&b, ds->type, n * sizeof *ds->type);
    int32_t nm = ds->meta_cap < ds->items.n ? ds->meta_cap : ds->items.n;
    if (!rc) rc = put_strings(&b, ds->title, nm);
    if (!rc) rc = put_strings(&b, ds->text, nm);
    if (!rc) rc = crec__put_u64(&b, (uint64_t)na);
    if (!rc) rc = put_array(&b, ds->attr_item, na * sizeof(int32_t));
    if (!rc) rc = put_array(&b, ds->attr_id, na * sizeof(int32_t));
    if (!rc) rc = put_idmap(&b, &ds->user_attrs);
    if (!rc) rc = crec__put_u64(&b, (uint64_t)ds->n_uattr_pairs);
    if (!rc) rc = put_array(&b, ds->uattr_user, (size_t)ds->n_uattr_pairs * sizeof(int32_t));
    if (!rc) rc = put_array(&b, ds->uattr_id, (size_t)ds->n_uattr_pairs * sizeof(int32_t));
    if (!rc) rc = crec__binfile_write(path, DS_MAGIC, DS_VERSION, &b);
    crec_buf_free(&b);
    return rc;
}

int crec_dataset_load(const char *path, crec_dataset **out) {
    *out = NULL;
    crec_buf b;
    uint32_t version;
    int rc = crec__binfile_read(path, DS_MAGIC, DS_VERSION, &version, &b);
    if (rc) return rc;
    crec_dataset *ds = crec_dataset_new();
    if (!ds) {
        crec__binfile_release(&b);
        return CREC_ENOMEM;
    }
    /* from here the mapping belongs to ds (unmapped by crec_dataset_free) */
    ds->map = b.data - CREC__BIN_HEADER;
    ds->map_len = b.len + CREC__BIN_HEADER;
    ds->arrays_mapped = 1;
    crec_idmap_free(&ds->event_types);
    uint32_t ht = 0, hv = 0;
    uint64_t n = 0, na = 0;
    rc = crec__get_str_into(&b, ds->name, sizeof ds->name);
    if (!rc) rc = crec__get_u32(&b, &ht);
    if (!rc) rc = crec__get_u32(&b, &hv);
    if (!rc) rc = skip_pad8(&b);
    if (!rc) rc = get_idmap(&b, &ds->users);
    if (!rc) rc = get_idmap(&b, &ds->items);
    if (!rc) rc = get_idmap(&b, &ds->attrs);
    if (!rc) rc = get_idmap(&b, &ds->event_types);
    if (!rc) rc = crec__get_u64(&b, &n);
    if (!rc) rc = map_array(&b, (void **)&ds->user, n, sizeof(int32_t));
    if (!rc) rc = map_array(&b, (void **)&ds->item, n, sizeof(int32_t));
    if (!rc) rc = map_array(&b, (void **)&ds->ts, n, sizeof(int64_t));
    if (!rc) rc = map_array(&b, (void **)&ds->value, n, sizeof(float));
    if (!rc) rc = map_array(&b, (void **)&ds->type, n, sizeof(uint8_t));
    if (!rc) {
        ds->n = ds->cap = (int64_t)n;
        ds->has_time = (int)ht;
        ds->has_value = (int)hv;
        /* every id in range: a file that passed the checksum can still be crafted */
        uint32_t nu = (uint32_t)ds->users.n, ni = (uint32_t)ds->items.n, bad = 0;
        for (uint64_t k = 0; k < n; k++) bad |= ((uint32_t)ds->user[k] >= nu) | ((uint32_t)ds->item[k] >= ni);
        for (uint64_t k = 0; k < n; k++) bad |= ds->type[k] >= ds->event_types.n;
        if (bad) rc = CREC_EFORMAT;
    }
    if (!rc) rc = get_strings(&b, ds, 1);
    if (!rc) rc = get_strings(&b, ds, 0);
    if (!rc) rc = crec__get_u64(&b, &na);
    if (!rc) rc = map_array(&b, (void **)&ds->attr_item, na, sizeof(int32_t));
    if (!rc) rc = map_array(&b, (void **)&ds->attr_id, na, sizeof(int32_t));
    if (!rc) {
        ds->n_attr_pairs = ds->attr_cap = (int64_t)na;
        uint32_t ni = (uint32_t)ds->items.n, nat = (uint32_t)ds->attrs.n, bad = 0;
        for (uint64_t k = 0; k < na; k++) bad |= ((uint32_t)ds->attr_item[k] >= ni) | ((uint32_t)ds->attr_id[k] >= nat);
        if (bad) rc = CREC_EFORMAT;
    }
    uint64_t nua = 0;
    if (!rc) rc = get_idmap(&b, &ds->user_attrs);
    if (!rc) rc = crec__get_u64(&b, &nua);
    if (!rc) rc = map_array(&b, (void **)&ds->uattr_user, nua, sizeof(int32_t));
    if (!rc) rc = map_array(&b, (void **)&ds->uattr_id, nua, sizeof(int32_t));
    if (!rc) {
        ds->n_uattr_pairs = ds->uattr_cap = (int64_t)nua;
        uint32_t nu = (uint32_t)ds->users.n, nf = (uint32_t)ds->user_attrs.n, bad = 0;
        for (uint64_t k = 0; k < nua; k++) bad |= ((uint32_t)ds->uattr_user[k] >= nu) | ((uint32_t)ds->uattr_id[k] >= nf);
        if (bad) rc = CREC_EFORMAT;
    }
    if (!rc && b.pos != b.len) rc = CREC_EFORMAT;
    if (rc) {
        crec_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}
