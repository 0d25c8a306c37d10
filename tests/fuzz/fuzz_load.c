/* fuzz_load.c: libFuzzer target for the text loaders (src/data/load_*.c over linereader.c): sequences, pairs,
 * CSV/TSV, the three MovieLens layouts with their side files, item attributes (JSON and TSV), and crec_load's
 * format guess.
 *
 * Input layout: byte 0 picks the loader (bits 0-2) and skip_bad (bit 3); byte 1 the options (CSV delimiter and
 * column names, file names); the rest is one or more files separated by a line "##" (MovieLens: ratings, then
 * the movies / genre / users files beside it; attributes: a pairs file that makes the items, then the
 * attribute file). Besides "does not crash, leaks nothing" (ASan + UBSan), it checks the loaders' promises:
 * a failure is a CREC_E* code with a message, a success leaves every id in range, and the dataset survives a
 * .crecds round trip unchanged. Built with clang by tests/fuzz/CMakeLists.txt; seeds in seeds_load/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crec/dataset.h"
#include "fuzz_common.h"

#define MAX_FILES 4

/* Split data[0..size) at "\n##\n" into up to MAX_FILES parts (the last keeps any further separators). */
static int split_files(const uint8_t *data, size_t size, const uint8_t **p, size_t *n) {
    int k = 0;
    p[0] = data;
    while (k + 1 < MAX_FILES) {
        const uint8_t *s = p[k], *end = data + size, *sep = NULL;
        for (const uint8_t *q = s; q + 4 <= end; q++)
            if (q[0] == '\n' && q[1] == '#' && q[2] == '#' && q[3] == '\n') {
                sep = q;
                break;
            }
        if (!sep) break;
        n[k] = (size_t)(sep - s);
        p[++k] = sep + 4;
    }
    n[k] = (size_t)(data + size - p[k]);
    return k + 1;
}

/* Every file name a MovieLens load looks for: removed before each input, so no input sees another's files. */
static const char *const ml_names[] = {"u.data",     "u.item",     "u.genre",     "u.user",     "ratings.dat",
                                       "movies.dat", "users.dat", "ratings.csv", "movies.csv", NULL};

/* Write the parts as names[0..nparts) (at most want). */
static void write_files(const char *const *names, int want, const uint8_t **p, const size_t *n, int nparts) {
    for (int k = 0; k < want && k < nparts; k++) fz_write(names[k], p[k], n[k]);
}

static int same_map(const crec_idmap *a, const crec_idmap *b) {
    if (a->n != b->n) return 0;
    for (int32_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], b->names[i]) != 0 || crec_idmap_get(b, a->names[i], strlen(a->names[i])) != i) return 0;
    return 1;
}

static int same_str(const char *a, const char *b) { return (!a || !*a) ? (!b || !*b) : (b && !strcmp(a, b)); }

/* A loaded dataset: ids in range, stats computable, and a .crecds round trip gives it back. */
static void check_dataset(crec_dataset *ds) {
    for (int64_t k = 0; k < ds->n; k++) {
        CHECK(ds->user[k] >= 0 && ds->user[k] < ds->users.n);
        CHECK(ds->item[k] >= 0 && ds->item[k] < ds->items.n);
        CHECK(ds->type[k] < ds->event_types.n);
    }
    for (int64_t k = 0; k < ds->n_attr_pairs; k++)
        CHECK(ds->attr_item[k] >= 0 && ds->attr_item[k] < ds->items.n && ds->attr_id[k] >= 0 &&
              ds->attr_id[k] < ds->attrs.n);
    for (int64_t k = 0; k < ds->n_uattr_pairs; k++)
        CHECK(ds->uattr_user[k] >= 0 && ds->uattr_user[k] < ds->users.n && ds->uattr_id[k] >= 0 &&
              ds->uattr_id[k] < ds->user_attrs.n);
    crec_dataset_info info;
    int rc = crec_dataset_info_compute(ds, &info);
    CHECK(rc == 0 || fz_known_error(rc));
    for (int32_t i = 0; i < ds->items.n; i++) CHECK(crec_dataset_item_label(ds, i) != NULL);

    const char *path = fz_path("roundtrip.crecds");
    CHECK(crec_dataset_save(ds, path) == 0);
    crec_dataset *back;
    CHECK(crec_dataset_load(path, &back) == 0);
    CHECK(back->n == ds->n && back->has_time == ds->has_time && back->has_value == ds->has_value);
    CHECK(same_map(&ds->users, &back->users) && same_map(&ds->items, &back->items) &&
          same_map(&ds->attrs, &back->attrs) && same_map(&ds->user_attrs, &back->user_attrs));
    for (int64_t k = 0; k < ds->n; k++)
        CHECK(back->user[k] == ds->user[k] && back->item[k] == ds->item[k] && back->ts[k] == ds->ts[k] &&
              memcmp(&back->value[k], &ds->value[k], sizeof(float)) == 0 && back->type[k] == ds->type[k]);
    CHECK(back->n_attr_pairs == ds->n_attr_pairs && back->n_uattr_pairs == ds->n_uattr_pairs);
    for (int32_t i = 0; i < ds->items.n && i < ds->meta_cap; i++) {
        int in_back = i < back->meta_cap;
        CHECK(same_str(ds->title ? ds->title[i] : NULL, back->title && in_back ? back->title[i] : NULL));
        CHECK(same_str(ds->text ? ds->text[i] : NULL, back->text && in_back ? back->text[i] : NULL));
    }
    crec_dataset_free(back);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int mode = data[0] & 7, opt = data[1];
    crec_load_opts o;
    memset(&o, 0, sizeof o);
    o.skip_bad = (data[0] >> 3) & 1;
    const uint8_t *p[MAX_FILES];
    size_t n[MAX_FILES];
    int nparts = split_files(data + 2, size - 2, p, n);
    for (int k = 0; ml_names[k]; k++) unlink(fz_path(ml_names[k]));
    crec_dataset *ds = crec_dataset_new();
    if (!ds) return 0;
    int rc;
    switch (mode) {
    case 0: rc = crec_load_sequences(ds, fz_write("seq.txt", p[0], n[0]), &o); break;
    case 1: rc = crec_load_pairs(ds, fz_write("pairs.txt", p[0], n[0]), &o); break;
    case 2: {
        static const char delims[8] = {0, ',', '\t', ';', ' ', '|', 0, 0};
        static const char *const times[4] = {NULL, "timestamp", "3", "9"};
        static const char *const values[4] = {NULL, "rating", "4", "x"};
        o.delim = delims[opt & 7];
        o.col_time = times[(opt >> 3) & 3];
        o.col_value = values[(opt >> 5) & 3];
        if (opt & 0x80) o.col_user = "2", o.col_item = "item";
        o.no_header = (data[0] >> 4) & 1;
        rc = crec_load_csv(ds, fz_write("events.csv", p[0], n[0]), &o);
        break;
    }
    case 3: { /* 100K: the folder, or u.data itself */
        static const char *const names[4] = {"u.data", "u.item", "u.genre", "u.user"};
        write_files(names, 4, p, n, nparts);
        rc = crec_load_movielens(ds, (opt & 1) ? fz_path("u.data") : fz_dir, &o);
        break;
    }
    case 4: { /* 1M / 10M */
        static const char *const names[3] = {"ratings.dat", "movies.dat", "users.dat"};
        write_files(names, 3, p, n, nparts);
        rc = crec_load_movielens(ds, (opt & 1) ? fz_path("ratings.dat") : fz_dir, &o);
        break;
    }
    case 5: { /* latest / 20M */
        static const char *const names[2] = {"ratings.csv", "movies.csv"};
        write_files(names, 2, p, n, nparts);
        rc = crec_load_movielens(ds, (opt & 1) ? fz_path("ratings.csv") : fz_dir, &o);
        break;
    }
    case 6: { /* item attributes over the items of a pairs file */
        rc = crec_load_pairs(ds, fz_write("items.txt", p[0], n[0]), &o);
        if (rc == 0 && nparts > 1) {
            const char *ap = fz_write((opt & 1) ? "attrs.json" : "attrs.txt", p[1], n[1]);
            rc = crec_load_item_attrs(ds, ap, &o);
            unlink(ap);
        }
        break;
    }
    default: { /* crec_load's guess, from the name and the first lines */
        static const char *const names[8] = {"data.txt", "data.csv", "data.tsv", "ratings.csv",
                                             "u.data",   "ratings.dat", "x.base", "movies.dat"};
        const char *path = fz_write(names[opt & 7], p[0], n[0]);
        rc = crec_load(ds, CREC_FMT_AUTO, path, &o);
        unlink(path);
        break;
    }
    }
    CHECK(rc == 0 || fz_known_error(rc));
    if (rc == CREC_EPARSE) CHECK(o.err[0] != 0);
    CHECK(o.n_skipped >= 0 && o.n_lines >= 0);
    if (rc == 0) check_dataset(ds);
    crec_dataset_free(ds);
    return 0;
}
