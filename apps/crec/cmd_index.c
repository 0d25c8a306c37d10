/* cmd_index.c: `crec index build` and `crec index info` - item indexes (token codes per item) for generative
 * retrieval (include/crec/index.h). The CLI gathers rq's vectors (content, a model's item table, a file, or their
 * fusion) and hands them to the library's builder. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crec/index.h"
#include "index/align.h"
#include "models/itemvec.h"

static const char BUILD_HELP[] =
    "usage: crec index build --data D --method M --out F.crecidx [options]\n\n"
    "Gives every item of D a unique code of L tokens for generative retrieval (model genrec).\n\n"
    "  --method M      random       RID: a random permutation written as base-K digits\n"
    "                  sequential   SID: numbered by first appearance in the training histories, base-K digits\n"
    "                  iid          IID: one level, the item's own token (independent indexing)\n"
    "                  collaborative CID: spectral clustering of the item co-occurrence graph (training\n"
    "                               histories), recursively into N clusters until each holds <= M items\n"
    "                  semantic     SemID: item attributes, most general first (needs attributes in D)\n"
    "                  hybrid       CID (or SemID with --base semantic) + the item's own token\n"
    "                  rq           residual quantisation of item vectors into --levels levels of K codes + a\n"
    "                               collision level (--quantizer kmeans, or rqvae: TIGER's RQ-VAE)\n"
    "  --K K           random/sequential: digit base (32); rq: codebook size (256)\n"
    "  --N N --M M     collaborative: clusters per split (20), largest leaf (500)\n"
    "  --depth D       semantic: attribute levels (3)\n"
    "  --base B        hybrid: collaborative (default) | semantic\n"
    "  --levels L      rq: quantised levels (3)\n"
    "  --item-token 0|1 rq: 1 = the last level is the item's own token (I tokens, as hybrid's) instead of\n"
    "                  numbering the items that share the quantised prefix (0)\n"
    "  --vectors V     rq: content (attribute / title TF-IDF -> SVD), collaborative (--model M.crecm: the item\n"
    "                  table of a trained sasrec, bert4rec or ials), external (--file F: lines 'ITEM v1 .. vd'),\n"
    "                  fused (content + collaborative, each row L2-normalised, concatenated; with --align 1,\n"
    "                  PRORec-style: both projected into one space trained with a cross-view InfoNCE, then\n"
    "                  quantised as normalise(u + w))\n"
    "  --align 0|1     fused: train the alignment first (0)\n"
    "  --align-dim D   alignment: shared width (64)\n"
    "  --align-epochs E  alignment: epochs (50)\n"
    "  --align-batch B alignment: items per step, the in-batch negatives + 1 (512)\n"
    "  --align-tau T   alignment: InfoNCE temperature (0.1)\n"
    "  --align-lr X    alignment: Adam learning rate (0.001)\n"
    "  --dim D         content vectors' SVD width (64)\n"
    "  --quantizer Q   rq: kmeans (residual k-means, default) | rqvae (an MLP autoencoder whose latent is\n"
    "                  residual-quantised, trained here: reconstruction + codebook + 0.25 x commitment loss,\n"
    "                  straight-through gradients; TIGER, Rajput et al. 2023)\n"
    "  --vae-hidden H  rqvae: encoder hidden widths, comma-separated (512,256,128); the decoder mirrors them\n"
    "  --vae-latent Z  rqvae: latent width = code vector width (32)\n"
    "  --vae-epochs E  rqvae: training epochs (200; TIGER trains 20,000)\n"
    "  --vae-batch B   rqvae: rows per step (1024)\n"
    "  --vae-lr X      rqvae: AdamW learning rate (0.001; TIGER: Adagrad 0.4)\n"
    "  --vae-beta X    rqvae: commitment weight (0.25)\n"
    "  --split S       split whose training part collaborative / sequential read (loo)\n"
    "  --seed S        (42)\n";

static int index_build(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *split = "loo", *vecs = "content", *model = NULL, *file = NULL;
    crec_index_opts o;
    crec_index_opts_default(&o);
    o.method = NULL;
    long long dim = 64, align = 0;
    crec__align_opts ao;
    crec__align_opts_default(&ao);
    for (int i = 1; i < argc; i++) {
        const char *v;
        int bad = 0;
        long long x;
        if (cli_is_help(argv[i])) {
            fputs(BUILD_HELP, stdout);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        if (cli_opt(argc, argv, &i, "--out", &v, &bad)) { if (bad) return CLI_USAGE; out = v; continue; }
        if (cli_opt(argc, argv, &i, "--method", &v, &bad)) { if (bad) return CLI_USAGE; o.method = v; continue; }
        if (cli_opt(argc, argv, &i, "--split", &v, &bad)) { if (bad) return CLI_USAGE; split = v; continue; }
        if (cli_opt(argc, argv, &i, "--vectors", &v, &bad)) { if (bad) return CLI_USAGE; vecs = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; model = v; continue; }
        if (cli_opt(argc, argv, &i, "--file", &v, &bad)) { if (bad) return CLI_USAGE; file = v; continue; }
        if (cli_opt(argc, argv, &i, "--base", &v, &bad)) { if (bad) return CLI_USAGE; o.base = v; continue; }
        if (cli_opt(argc, argv, &i, "--quantizer", &v, &bad)) { if (bad) return CLI_USAGE; o.quantizer = v; continue; }
        if (cli_opt(argc, argv, &i, "--vae-hidden", &v, &bad)) {
            if (bad) return CLI_USAGE;
            int nh = 0;
            for (const char *q = v; *q && nh <= 4;) {
                char *end;
                long h = strtol(q, &end, 10);
                if (end == q || h < 1 || h > 65536 || (*end && *end != ',')) { nh = 5; break; }
                if (nh < 4) o.vae_hidden[nh] = (int)h;
                nh++;
                q = *end ? end + 1 : end;
            }
            if (nh < 1 || nh > 4) {
                fprintf(stderr, "crec index build: --vae-hidden '%s': 1 to 4 positive widths, comma-separated\n", v);
                return CLI_USAGE;
            }
            o.vae_n_hidden = nh;
            continue;
        }
        int is_tau = 0;
        if ((is_tau = cli_opt(argc, argv, &i, "--align-tau", &v, &bad)) || cli_opt(argc, argv, &i, "--align-lr", &v, &bad)) {
            const char *name = is_tau ? "--align-tau" : "--align-lr";
            double dv;
            if (bad || cli_double("index build", name, v, &dv)) return CLI_USAGE;
            if (!(dv > 0) || dv > 100) {
                fprintf(stderr, "crec index build: %s %s: a positive number up to 100\n", name, v);
                return CLI_USAGE;
            }
            if (is_tau) ao.tau = dv;
            else ao.lr = dv;
            continue;
        }
        int is_lr = 0, is_beta = 0;
        if ((is_lr = cli_opt(argc, argv, &i, "--vae-lr", &v, &bad)) ||
            (is_beta = cli_opt(argc, argv, &i, "--vae-beta", &v, &bad))) {
            const char *name = is_lr ? "--vae-lr" : "--vae-beta";
            double dv;
            if (bad || cli_double("index build", name, v, &dv)) return CLI_USAGE;
            if (!(dv > 0) || dv > 100) {
                fprintf(stderr, "crec index build: %s %s: a positive number up to 100\n", name, v);
                return CLI_USAGE;
            }
            if (is_lr) o.vae_lr = (float)dv;
            else o.vae_beta = (float)dv;
            continue;
        }
#define INTOPT(name, lo, hi, dst)                                                                                      \
    if (cli_opt(argc, argv, &i, name, &v, &bad)) {                                                                     \
        if (bad || cli_int("index build", name, v, lo, hi, &x)) return CLI_USAGE;                                      \
        dst = x;                                                                                                       \
        continue;                                                                                                      \
    }
        INTOPT("--K", 2, 1 << 20, o.K)
        INTOPT("--N", 2, 1000, o.N)
        INTOPT("--M", 1, 1 << 24, o.M)
        INTOPT("--depth", 1, CREC_INDEX_MAX_L - 1, o.depth)
        INTOPT("--levels", 1, CREC_INDEX_MAX_L - 1, o.levels)
        INTOPT("--item-token", 0, 1, o.item_token)
        INTOPT("--dim", 1, 1024, dim)
        INTOPT("--vae-latent", 1, 256, o.vae_latent)
        INTOPT("--vae-epochs", 1, 1000000, o.vae_epochs)
        INTOPT("--vae-batch", 1, 1 << 20, o.vae_batch)
        INTOPT("--seed", 0, (long long)1 << 62, o.seed)
        INTOPT("--align", 0, 1, align)
        INTOPT("--align-dim", 1, 1024, ao.dim)
        INTOPT("--align-epochs", 1, 100000, ao.epochs)
        INTOPT("--align-batch", 2, 65536, ao.batch)
#undef INTOPT
        fprintf(stderr, "crec index build: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!data || !out || !o.method) {
        fprintf(stderr, "crec index build: --data, --method and --out are required (see --help)\n");
        return CLI_USAGE;
    }
    int is_rq = strcmp(o.method, "rq") == 0;
    if (is_rq && strcmp(vecs, "content") != 0 && strcmp(vecs, "collaborative") != 0 &&
        strcmp(vecs, "external") != 0 && strcmp(vecs, "fused") != 0) {
        fprintf(stderr, "crec index build: --vectors '%s': one of content, collaborative, external, fused\n", vecs);
        return CLI_USAGE;
    }
    if (is_rq && (strcmp(vecs, "collaborative") == 0 || strcmp(vecs, "fused") == 0) && !model) {
        fprintf(stderr, "crec index build: --vectors %s needs --model M.crecm (a trained sasrec, bert4rec or ials)\n",
                vecs);
        return CLI_USAGE;
    }
    if (align && !(is_rq && strcmp(vecs, "fused") == 0)) {
        fprintf(stderr, "crec index build: --align 1 applies to --method rq --vectors fused only\n");
        return CLI_USAGE;
    }
    if (is_rq && strcmp(vecs, "external") == 0 && !file) {
        fprintf(stderr, "crec index build: --vectors external needs --file F\n");
        return CLI_USAGE;
    }
    crec_dataset *ds;
    if (cli_open_dataset("index build", data, &ds)) return CLI_FAIL;
    o.verbose = 1;
    crec_split sp;
    memset(&sp, 0, sizeof sp);
    crec_split_spec spec;
    int rc = crec_split_spec_parse(split, &spec);
    if (rc) {
        fprintf(stderr, "crec index build: --split '%s': not a split spec\n", split);
        crec_dataset_free(ds);
        return CLI_USAGE;
    }
    rc = crec_split_make(ds, &spec, &sp);
    if (rc) {
        cli_err("index build", "split", rc);
        crec_dataset_free(ds);
        return CLI_FAIL;
    }
    float *vc = NULL, *vm = NULL, *vf = NULL;
    int dc = 0, dm = 0;
    char err[512] = "", name[64] = "";
    if (is_rq) {
        if (strcmp(vecs, "content") == 0 || strcmp(vecs, "fused") == 0) {
            rc = crec_index_content_vectors(ds, (int)dim, o.seed, &vc);
            dc = (int)dim;
            if (rc == CREC_EEMPTY)
                snprintf(err, sizeof err, "%s: no item has attributes, a title or text for content vectors", data);
        }
        if (!rc && model) {
            crec_model *m;
            rc = crec_model_load(model, &m);
            if (rc) snprintf(err, sizeof err, "%s: %s", model, crec_strerror(rc));
            else {
                if (m->n_items != ds->items.n) {
                    snprintf(err, sizeof err, "%s: trained on %d items, %s has %d", model, m->n_items, data,
                             ds->items.n);
                    rc = CREC_EINVAL;
                } else {
                    rc = crec__model_item_vectors(m, &vm, &dm);
                    if (rc == CREC_EUNSUPPORTED)
                        snprintf(err, sizeof err, "%s: model '%s' has no item table to read (sasrec, bert4rec, ials)",
                                 model, m->type->name);
                }
                crec_model_free(m);
            }
        }
        if (!rc && strcmp(vecs, "external") == 0) rc = crec_index_read_vectors(ds, file, &vf, &dc, err, sizeof err);
        if (!rc) {
            if (strcmp(vecs, "content") == 0) o.vec = vc, o.dim = dc;
            else if (strcmp(vecs, "collaborative") == 0) o.vec = vm, o.dim = dm;
            else if (strcmp(vecs, "external") == 0) o.vec = vf, o.dim = dc;
            else if (align) {
                double l0 = 0, l1 = 0, acc = 0;
                ao.seed = o.seed, ao.verbose = 1;
                rc = crec__align_vectors(vc, dc, vm, dm, ds->items.n, &ao, &vf, &l0, &l1, &acc);
                if (rc == CREC_EINVAL) snprintf(err, sizeof err, "--align: fewer than 2 items or a bad --align-* value");
                if (!rc)
                    fprintf(stderr, "crec index build: aligned %d + %d -> %d dims: InfoNCE %.4f -> %.4f, in-batch "
                                    "cross-view top-1 %.3f\n", dc, dm, ao.dim, l0, l1, acc);
                o.vec = vf, o.dim = ao.dim;
            } else {
                rc = crec_index_fuse_vectors(vc, dc, vm, dm, ds->items.n, &vf);
                o.vec = vf, o.dim = dc + dm;
            }
            snprintf(name, sizeof name, "%s%s vectors", vecs, align ? " aligned" : "");
            o.vec_name = name;
        }
    }
    crec_index ix;
    memset(&ix, 0, sizeof ix);
    if (!rc) rc = crec_index_build(ds, &sp.train, &o, &ix, err, sizeof err);
    if (!rc) rc = crec_index_save(&ix, out);
    if (rc) {
        fprintf(stderr, "crec index build: %s\n", err[0] ? err : crec_strerror(rc));
    } else {
        fprintf(stderr, "crec index build: %s (%s): %d items, %d levels -> %s\n", ix.method, ix.source, ix.n_items,
                ix.L, out);
        crec_index_info(&ix, stdout, 0);
    }
    crec_index_free(&ix);
    free(vc), free(vm), free(vf);
    crec_split_free(&sp);
    crec_dataset_free(ds);
    return rc ? (rc == CREC_EINVAL ? CLI_USAGE : CLI_FAIL) : CLI_OK;
}

static int index_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: crec index info F.crecidx [--json]\n\nMethod, levels, code usage per level (tokens used "
                   "of K), items per prefix at each depth (min / median / max), collisions of the codes without "
                   "their last level.\n");
            return CLI_OK;
        }
        if (cli_flag(argv, i, "--json")) json = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "crec index info: unknown option '%s' (see --help)\n", argv[i]);
            return CLI_USAGE;
        } else path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "crec index info: an index file is required (see --help)\n");
        return CLI_USAGE;
    }
    crec_index ix;
    int rc = crec_index_load(path, &ix);
    if (rc) {
        fprintf(stderr, "crec index info: %s: %s\n", path,
                rc == CREC_EIO ? "cannot read" : rc == CREC_EFORMAT ? "not a valid crec index file" : crec_strerror(rc));
        return CLI_FAIL;
    }
    rc = crec_index_info(&ix, stdout, json);
    crec_index_free(&ix);
    return rc ? CLI_FAIL : CLI_OK;
}

int cmd_index(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs("usage: crec index build|info ...   (crec index build --help)\n\n"
              "  build   give every item a token code (random, sequential, collaborative, semantic, hybrid, rq)\n"
              "  info    code usage per level, items per prefix, collisions of an index file\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "build") == 0) return index_build(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0) return index_info(argc - 1, argv + 1);
    fprintf(stderr, "crec index: unknown subcommand '%s' (build, info)\n", argv[1]);
    return CLI_USAGE;
}
