/* dataset_load.c: how much faster a binary .crecds loads than re-parsing its text source.
 * Writes a generated dataset as a sequence file (and uses real files when given), then times
 * crec_load (text) against crec_dataset_load (binary), best of 5 each.
 * usage: bench_dataset_load [FORMAT PATH]...   e.g. bench_dataset_load sequences ../shared/data/amazon-beauty/Beauty.txt */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crec.h"

static double best_text(crec_format fmt, const char *path, int64_t *n) {
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        crec_dataset *ds = crec_dataset_new();
        crec_load_opts o;
        memset(&o, 0, sizeof o);
        double t0 = crec__now();
        int rc = crec_load(ds, fmt, path, &o);
        double t = crec__now() - t0;
        if (rc) {
            fprintf(stderr, "load %s: %s\n", path, o.err[0] ? o.err : crec_strerror(rc));
            crec_dataset_free(ds);
            return -1;
        }
        *n = ds->n;
        if (t < best) best = t;
        crec_dataset_free(ds);
    }
    return best;
}

static double best_bin(const char *path) {
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        crec_dataset *ds;
        double t0 = crec__now();
        if (crec_dataset_load(path, &ds)) return -1;
        double t = crec__now() - t0;
        if (t < best) best = t;
        crec_dataset_free(ds);
    }
    return best;
}

static void run(const char *label, crec_format fmt, const char *path) {
    int64_t n = 0;
    double tt = best_text(fmt, path, &n);
    if (tt < 0) return;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o;
    memset(&o, 0, sizeof o);
    crec_load(ds, fmt, path, &o);
    char bin[] = "/tmp/crec-bench-XXXXXX";
    int fd = mkstemp(bin);
    if (fd < 0) return;
    crec_dataset_save(ds, bin);
    crec_dataset_free(ds);
    double tb = best_bin(bin);
    remove(bin);
    printf("%-28s %10lld events   text %8.1f ms   .crecds %7.1f ms   %6.1fx faster\n", label, (long long)n, tt * 1e3,
           tb * 1e3, tt / tb);
}

int main(int argc, char **argv) {
    int help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    for (int i = 1; i < argc && !help; i += 2)
        if (i + 1 >= argc || crec_format_parse(argv[i]) == CREC_FMT_UNKNOWN) {
            fprintf(stderr, "%s: '%s' is not a FORMAT PATH pair\nusage: %s [FORMAT PATH]...\n", argv[0], argv[i],
                    argv[0]);
            return 2;
        }
    if (help) {
        printf("usage: %s [FORMAT PATH]...   e.g. %s sequences ../shared/data/amazon-beauty/Beauty.txt\n", argv[0],
               argv[0]);
        return 0;
    }
    printf("dataset load: text parse vs binary .crecds (best of 5)\n");
    /* generated: 50k users x ~30 events as a sequence file */
    crec_synth_opts so;
    crec_synth_defaults(&so);
    so.n_users = 50000;
    so.n_items = 20000;
    crec_dataset *ds;
    if (crec_synth_generate(&so, &ds)) return 1;
    crec_csr m;
    crec_csr_from_dataset(ds, &m);
    char txt[] = "/tmp/crec-bench-seq-XXXXXX";
    int fd = mkstemp(txt);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) return 1;
    for (int32_t u = 0; u < m.n_rows; u++) {
        fputs(ds->users.names[u], f);
        for (int64_t k = m.ptr[u]; k < m.ptr[u + 1]; k++) fprintf(f, " %s", ds->items.names[m.idx[k]]);
        fputc('\n', f);
    }
    fclose(f);
    crec_csr_free(&m);
    crec_dataset_free(ds);
    run("synth sequences (50k users)", CREC_FMT_SEQUENCES, txt);
    remove(txt);
    for (int i = 1; i + 1 < argc; i += 2) {
        crec_format fmt = crec_format_parse(argv[i]);
        if (fmt == CREC_FMT_UNKNOWN) {
            fprintf(stderr, "unknown format %s\n", argv[i]);
            return 2;
        }
        const char *base = strrchr(argv[i + 1], '/');
        run(base ? base + 1 : argv[i + 1], fmt, argv[i + 1]);
    }
    return 0;
}
