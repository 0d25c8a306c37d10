/* fuzz_crecds.c: libFuzzer target for the binary dataset reader (crec_dataset_load, src/data/dsfile.c over
 * src/core/binio.c) and for what runs on a dataset it accepted: statistics, attribute indexes, CSR views and
 * splits, the filters (which write into the copy-on-write mapping), and a save / load round trip.
 *
 * Input: a whole .crecds file; its length and checksum are recomputed unless bit 0 of the header's flags is
 * set (fuzz_common.h), so mutations reach the payload parser. Seeds are written at test time by
 * `crec data synth` (tests/fuzz/run.sh). Promise checked: a bad file gives a CREC_E* code and no dataset; an
 * accepted one has every id in range and can be used without a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crec/dataset.h"
#include "crec/split.h"
#include "fuzz_common.h"

static void use_dataset(crec_dataset *ds) {
    for (int64_t k = 0; k < ds->n; k++)
        CHECK(ds->user[k] >= 0 && ds->user[k] < ds->users.n && ds->item[k] >= 0 && ds->item[k] < ds->items.n);
    for (int32_t i = 0; i < ds->items.n; i++) CHECK(crec_dataset_item_label(ds, i) != NULL);
    crec_dataset_info info;
    int rc = crec_dataset_info_compute(ds, &info);
    CHECK(rc == 0 || fz_known_error(rc));
    rc = crec_dataset_attr_csr(ds);
    CHECK(rc == 0 || fz_known_error(rc));
    rc = crec_dataset_user_attr_csr(ds);
    CHECK(rc == 0 || fz_known_error(rc));

    crec_split sp;
    crec_split_spec spec;
    CHECK(crec_split_spec_parse("loo", &spec) == 0);
    if (crec_split_make(ds, &spec, &sp) == 0) {
        CHECK(crec_csr_nnz(&sp.train) + crec_csr_nnz(&sp.valid) + crec_csr_nnz(&sp.test) == ds->n);
        crec_split_free(&sp);
    }

    const char *path = fz_path("roundtrip.crecds");
    CHECK(crec_dataset_save(ds, path) == 0);
    crec_dataset *back;
    CHECK(crec_dataset_load(path, &back) == 0);
    CHECK(back->n == ds->n && back->users.n == ds->users.n && back->items.n == ds->items.n);
    crec_dataset_free(back);
    unlink(path);

    /* filters edit the mapped arrays in place (copied out on first write) */
    rc = crec_dataset_dedup(ds, 0);
    CHECK(rc == 0 || fz_known_error(rc));
    if (rc == 0) rc = crec_dataset_kcore(ds, 2, 2);
    CHECK(rc == 0 || fz_known_error(rc));
    if (rc == 0) rc = crec_dataset_compact(ds, 0);
    CHECK(rc == 0 || fz_known_error(rc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write_framed("in.crecds", data, size);
    crec_dataset *ds = (crec_dataset *)1;
    int rc = crec_dataset_load(path, &ds);
    if (rc != 0) {
        CHECK(fz_known_error(rc) && ds == NULL);
        return 0;
    }
    use_dataset(ds);
    crec_dataset_free(ds);
    return 0;
}
