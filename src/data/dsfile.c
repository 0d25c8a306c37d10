/* dsfile.c: the binary dataset file (.crecds). Arrays are written raw (little-endian hosts), so loading
 * is a checksum pass plus memcpy; only the id maps are re-hashed. Format version 1:
 *   name, has_time, has_value, 4 id maps (users, items, attrs, event types), n, user[n], item[n], ts[n],
 *   value[n], type[n], titles (count, then (item, string) pairs), texts (same), attribute pairs. */
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/dataset.h"

static const char DS_MAGIC[8] = {'C', 'R', 'E', 'C', 'D', 'S', 0, 1};
#define DS_VERSION 1u

static int put_idmap(crec_buf *b, const crec_idmap *m) {
    int rc = crec__put_u32(b, (uint32_t)m->n);
    for (int32_t i = 0; !rc && i < m->n; i++) rc = crec__put_str(b, m->names[i]);
    return rc;
}

static int get_idmap(crec_buf *b, crec_idmap *m) {
    uint32_t n;
    int rc = crec__get_u32(b, &n);
    if (rc) return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len;
        if ((rc = crec__get_u32(b, &len))) return rc;
        if (len == 0xffffffffu || len > b->len - b->pos) return CREC_EFORMAT;
        int32_t id = crec_idmap_intern(m, (const char *)b->data + b->pos, len);
        if (id < 0) return id;
        if ((uint32_t)id != i) return CREC_EFORMAT; /* duplicate name */
        b->pos += len;
    }
    return 0;
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
    return rc;
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
    return rc;
}

int crec_dataset_save(const crec_dataset *ds, const char *path) {
    crec_buf b = {0};
    int rc = crec__put_str(&b, ds->name);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)ds->has_time);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)ds->has_value);
    if (!rc) rc = put_idmap(&b, &ds->users);
    if (!rc) rc = put_idmap(&b, &ds->items);
    if (!rc) rc = put_idmap(&b, &ds->attrs);
    if (!rc) rc = put_idmap(&b, &ds->event_types);
    if (!rc) rc = crec__put_u64(&b, (uint64_t)ds->n);
    size_t n = (size_t)ds->n;
    if (!rc) rc = crec_buf_write(&b, ds->user, n * sizeof *ds->user);
    if (!rc) rc = crec_buf_write(&b, ds->item, n * sizeof *ds->item);
    if (!rc) rc = crec_buf_write(&b, ds->ts, n * sizeof *ds->ts);
    if (!rc) rc = crec_buf_write(&b, ds->value, n * sizeof *ds->value);
    if (!rc) rc = crec_buf_write(&b, ds->type, n * sizeof *ds->type);
    int32_t nm = ds->meta_cap < ds->items.n ? ds->meta_cap : ds->items.n;
    if (!rc) rc = put_strings(&b, ds->title, nm);
    if (!rc) rc = put_strings(&b, ds->text, nm);
    if (!rc) rc = crec__put_u64(&b, (uint64_t)ds->n_attr_pairs);
    if (!rc) rc = crec_buf_write(&b, ds->attr_item, (size_t)ds->n_attr_pairs * sizeof(int32_t));
    if (!rc) rc = crec_buf_write(&b, ds->attr_id, (size_t)ds->n_attr_pairs * sizeof(int32_t));
    if (!rc) rc = crec__binfile_write(path, DS_MAGIC, DS_VERSION, &b);
    crec_buf_free(&b);
    return rc;
}

static int read_array(crec_buf *b, void **dst, size_t n, size_t esz) {
    if (n > (b->len - b->pos) / (esz ? esz : 1)) return CREC_EFORMAT;
    *dst = malloc(n ? n * esz : 1);
    if (!*dst) return CREC_ENOMEM;
    return crec_buf_read(b, *dst, n * esz);
}

int crec_dataset_load(const char *path, crec_dataset **out) {
    *out = NULL;
    crec_buf b;
    uint32_t version;
    int rc = crec__binfile_read(path, DS_MAGIC, DS_VERSION, &version, &b);
    if (rc) return rc;
    crec_dataset *ds = crec_dataset_new();
    if (!ds) {
        crec_buf_free(&b);
        return CREC_ENOMEM;
    }
    crec_idmap_free(&ds->event_types);
    uint32_t ht = 0, hv = 0;
    uint64_t n = 0, na = 0;
    rc = crec__get_str_into(&b, ds->name, sizeof ds->name);
    if (!rc) rc = crec__get_u32(&b, &ht);
    if (!rc) rc = crec__get_u32(&b, &hv);
    if (!rc) rc = get_idmap(&b, &ds->users);
    if (!rc) rc = get_idmap(&b, &ds->items);
    if (!rc) rc = get_idmap(&b, &ds->attrs);
    if (!rc) rc = get_idmap(&b, &ds->event_types);
    if (!rc) rc = crec__get_u64(&b, &n);
    if (!rc) rc = read_array(&b, (void **)&ds->user, n, sizeof(int32_t));
    if (!rc) rc = read_array(&b, (void **)&ds->item, n, sizeof(int32_t));
    if (!rc) rc = read_array(&b, (void **)&ds->ts, n, sizeof(int64_t));
    if (!rc) rc = read_array(&b, (void **)&ds->value, n, sizeof(float));
    if (!rc) rc = read_array(&b, (void **)&ds->type, n, sizeof(uint8_t));
    if (!rc) {
        ds->n = ds->cap = (int64_t)n;
        ds->has_time = (int)ht;
        ds->has_value = (int)hv;
        for (uint64_t k = 0; k < n; k++)
            if (ds->user[k] < 0 || ds->user[k] >= ds->users.n || ds->item[k] < 0 || ds->item[k] >= ds->items.n ||
                ds->type[k] >= ds->event_types.n) {
                rc = CREC_EFORMAT;
                break;
            }
    }
    if (!rc) rc = get_strings(&b, ds, 1);
    if (!rc) rc = get_strings(&b, ds, 0);
    if (!rc) rc = crec__get_u64(&b, &na);
    if (!rc) rc = read_array(&b, (void **)&ds->attr_item, na, sizeof(int32_t));
    if (!rc) rc = read_array(&b, (void **)&ds->attr_id, na, sizeof(int32_t));
    if (!rc) {
        ds->n_attr_pairs = ds->attr_cap = (int64_t)na;
        for (uint64_t k = 0; k < na; k++)
            if (ds->attr_item[k] < 0 || ds->attr_item[k] >= ds->items.n || ds->attr_id[k] < 0 ||
                ds->attr_id[k] >= ds->attrs.n) {
                rc = CREC_EFORMAT;
                break;
            }
    }
    if (!rc && b.pos != b.len) rc = CREC_EFORMAT;
    crec_buf_free(&b);
    if (rc) {
        crec_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}
