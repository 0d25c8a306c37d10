/* cmd_crs.c: crec crs train | eval: conversational recommendation in the SCPR / UNICORN multi-round setting.
 * train fits the user-item-attribute model the policies share; eval runs the simulator over test (or validation)
 * pairs and prints SR@5/10/15, AT and hDCG with the protocol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/util.h"
#include "crec/crs.h"
#include "crs/crs_internal.h"

static const char CRS_USAGE[] =
    "usage: crec crs <train|train-policy|eval> [options]\n"
    "\n"
    "  train   fit the user-item-attribute model (EAR/SCPR factorisation machine) on the training split\n"
    "  train-policy  train the unicorn policy (double DQN in the simulator, on the validation pairs)\n"
    "  eval    simulate conversations (SCPR/UNICORN multi-round setting) and report SR@5/10/15, AT, hDCG\n";

/* The dataset's own split when it has one (crec data import --format crs), else leave-one-out. */
static const char *default_scheme(const crec_dataset *ds) {
    return crec_idmap_get(&ds->event_types, "test", 4) >= 0 ? "given" : "loo";
}

static int open_all(const char *cmd, const char *data, const char *scheme, crec_dataset **ds, crec_crs_catalog *cat,
                    crec_split *sp, char *scheme_out, size_t scheme_n) {
    if (cli_open_dataset(cmd, data, ds)) return CLI_FAIL;
    int rc = crec_crs_catalog_init(cat, *ds);
    if (rc) {
        fprintf(stderr, "crec %s: %s: %s\n", cmd, data,
                rc == CREC_EEMPTY ? "the dataset has no item attributes (import them with --items or --format crs)"
                                  : crec_strerror(rc));
        crec_dataset_free(*ds);
        return CLI_FAIL;
    }
    crec_split_spec spec;
    if (!scheme) scheme = default_scheme(*ds);
    if (crec_split_spec_parse(scheme, &spec)) {
        fprintf(stderr, "crec %s: bad --scheme '%s' (given, loo, temporal:T[:V], random:T[:V[:SEED]])\n", cmd, scheme);
        crec_crs_catalog_free(cat);
        crec_dataset_free(*ds);
        return CLI_USAGE;
    }
    if ((rc = crec_split_make(*ds, &spec, sp))) {
        fprintf(stderr, "crec %s: split '%s': %s%s\n", cmd, scheme, crec_strerror(rc),
                spec.kind == CREC_SPLIT_GIVEN ? " (the dataset has no given split: use --scheme loo)" : "");
        crec_crs_catalog_free(cat);
        crec_dataset_free(*ds);
        return CLI_FAIL;
    }
    crec_split_spec_format(&spec, scheme_out, scheme_n);
    return CLI_OK;
}

static int crs_train(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *scheme = NULL;
    crec_crs_uiam_opts o;
    crec__crs_uiam_defaults(&o);
    o.verbose = cli_progress();
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        long long x;
        double d;
        if (cli_is_help(argv[i])) {
            printf("usage: crec crs train --data D --out M.crecrs [options]\n\n"
                   "Fits the user-item-attribute model the conversational policies share (EAR / SCPR's FM:\n"
                   "s(u,i|P) = u.v_i + sum_p v_i.p, BPR with a random and an attribute-aware negative, plus the\n"
                   "attribute-prediction BPR loss) on the training part of the split.\n\n"
                   "  --scheme S     split: given (the data's own; default when it has one) or loo, temporal:.., random:..\n"
                   "  --dim N        embedding width (default %d)\n  --epochs N     passes over the training pairs (default %d)\n"
                   "  --lr X         SGD step (default %g)\n  --reg X        L2 (default %g)\n"
                   "  --given N      attributes given with a positive: 1..N (default %d)\n"
                   "  --no-attr-loss leave out the attribute-prediction loss\n"
                   "  --seed N       (default %llu)\n  --verbose      loss per epoch\n",
                   o.dim, o.epochs, (double)o.lr, (double)o.reg, o.max_given, (unsigned long long)o.seed);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        if (cli_opt(argc, argv, &i, "--out", &v, &bad)) { if (bad) return CLI_USAGE; out = v; continue; }
        if (cli_opt(argc, argv, &i, "--scheme", &v, &bad)) { if (bad) return CLI_USAGE; scheme = v; continue; }
        if (cli_opt(argc, argv, &i, "--dim", &v, &bad)) {
            if (bad || cli_int("crs train", "--dim", v, 1, 1024, &x)) return CLI_USAGE;
            o.dim = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--epochs", &v, &bad)) {
            if (bad || cli_int("crs train", "--epochs", v, 0, 100000, &x)) return CLI_USAGE;
            o.epochs = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--given", &v, &bad)) {
            if (bad || cli_int("crs train", "--given", v, 1, 8, &x)) return CLI_USAGE;
            o.max_given = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--seed", &v, &bad)) {
            if (bad || cli_int("crs train", "--seed", v, 0, (long long)1 << 62, &x)) return CLI_USAGE;
            o.seed = (uint64_t)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--lr", &v, &bad)) {
            if (bad || cli_double("crs train", "--lr", v, &d)) return CLI_USAGE;
            if (!(d > 0 && d < 10)) {
                fprintf(stderr, "crec crs train: --lr must be in (0, 10)\n");
                return CLI_USAGE;
            }
            o.lr = (float)d;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--reg", &v, &bad)) {
            if (bad || cli_double("crs train", "--reg", v, &d)) return CLI_USAGE;
            if (!(d >= 0 && d < 10)) {
                fprintf(stderr, "crec crs train: --reg must be in [0, 10)\n");
                return CLI_USAGE;
            }
            o.reg = (float)d;
            continue;
        }
        if (cli_flag(argv, i, "--no-attr-loss")) { o.attr_loss = 0; continue; }
        if (cli_flag(argv, i, "--verbose")) { o.verbose = 1; continue; }
        fprintf(stderr, "crec crs train: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!data || !out) {
        fprintf(stderr, "crec crs train: --data D and --out M.crecrs are required (see --help)\n");
        return CLI_USAGE;
    }
    crec_dataset *ds;
    crec_crs_catalog cat;
    crec_split sp;
    char used[64];
    int rc = open_all("crs train", data, scheme, &ds, &cat, &sp, used, sizeof used);
    if (rc) return rc;
    crec_crs_uiam *m = NULL;
    double c0 = (double)clock() / CLOCKS_PER_SEC;
    rc = crec__crs_uiam_train(&cat, &sp, &o, &m);
    double cpu = (double)clock() / CLOCKS_PER_SEC - c0;
    if (!rc) rc = crec__crs_uiam_save(m, out);
    if (rc) cli_err("crs train", out, rc);
    else
        fprintf(stderr, "crec crs train: uiam dim %d, %d epochs on %s (split %s, %lld training pairs) in %.2fs (%.2f CPU s) -> %s\n",
                o.dim, o.epochs, ds->name, m->split, (long long)crec_csr_nnz(&sp.train), m->train_s, cpu, out);
    crec__crs_uiam_free(m);
    crec_split_free(&sp);
    crec_crs_catalog_free(&cat);
    crec_dataset_free(ds);
    return rc ? CLI_FAIL : CLI_OK;
}

static int crs_train_policy(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *scheme = NULL, *model = NULL, *policy = "unicorn";
    crec_crs_unicorn_opts uo;
    crec__crs_unicorn_defaults(&uo);
    uo.verbose = cli_progress();
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        long long x;
        double d;
        if (cli_is_help(argv[i])) {
            printf("usage: crec crs train-policy --data D --model M.crecrs --out A.crecrs [options]\n\n"
                   "Trains the unicorn policy (one Q-network over the top attributes and the top items, double DQN\n"
                   "with replay and UNICORN's rewards) in the simulator on the validation pairs; the last --heldout of\n"
                   "them (seeded order) choose the kept weights. The state uses the model M (frozen).\n\n"
                   "  --episodes N   (default %d)   --hidden N (default %d)   --ka N  attributes as actions (default %d)\n"
                   "  --lr X         Adam step (default %g)   --gamma X (default %g)\n"
                   "  --heldout N    (default %d)   --seed N (default %llu)   --verbose\n",
                   uo.episodes, uo.hidden, uo.ka, (double)uo.lr, (double)uo.gamma, uo.n_heldout,
                   (unsigned long long)uo.seed);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        if (cli_opt(argc, argv, &i, "--out", &v, &bad)) { if (bad) return CLI_USAGE; out = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; model = v; continue; }
        if (cli_opt(argc, argv, &i, "--scheme", &v, &bad)) { if (bad) return CLI_USAGE; scheme = v; continue; }
        if (cli_opt(argc, argv, &i, "--policy", &v, &bad)) { if (bad) return CLI_USAGE; policy = v; continue; }
#define IOPT(name, field, lo, hi)                                                        \
    if (cli_opt(argc, argv, &i, name, &v, &bad)) {                                       \
        if (bad || cli_int("crs train-policy", name, v, lo, hi, &x)) return CLI_USAGE;   \
        uo.field = (int)x;                                                               \
        continue;                                                                        \
    }
        IOPT("--episodes", episodes, 1, 10000000)
        IOPT("--hidden", hidden, 1, 4096)
        IOPT("--ka", ka, 1, CREC_CRS_SCAN_K)
        IOPT("--heldout", n_heldout, 1, 1000000)
#undef IOPT
        if (cli_opt(argc, argv, &i, "--seed", &v, &bad)) {
            if (bad || cli_int("crs train-policy", "--seed", v, 0, (long long)1 << 62, &x)) return CLI_USAGE;
            uo.seed = (uint64_t)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--lr", &v, &bad)) {
            if (bad || cli_double("crs train-policy", "--lr", v, &d) || !(d > 0 && d < 1)) {
                fprintf(stderr, "crec crs train-policy: --lr must be in (0, 1)\n");
                return CLI_USAGE;
            }
            uo.lr = (float)d;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--gamma", &v, &bad)) {
            if (bad || cli_double("crs train-policy", "--gamma", v, &d) || !(d >= 0 && d <= 1)) {
                fprintf(stderr, "crec crs train-policy: --gamma must be in [0, 1]\n");
                return CLI_USAGE;
            }
            uo.gamma = (float)d;
            continue;
        }
        if (cli_flag(argv, i, "--verbose")) { uo.verbose = 1; continue; }
        fprintf(stderr, "crec crs train-policy: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (strcmp(policy, "unicorn") != 0) {
        fprintf(stderr, "crec crs train-policy: only --policy unicorn is trained (the others have no weights)\n");
        return CLI_USAGE;
    }
    if (!data || !out || !model) {
        fprintf(stderr, "crec crs train-policy: --data D, --model M.crecrs and --out A.crecrs are required\n");
        return CLI_USAGE;
    }
    crec_dataset *ds;
    crec_crs_catalog cat;
    crec_split sp;
    char used[64];
    int rc = open_all("crs train-policy", data, scheme, &ds, &cat, &sp, used, sizeof used);
    if (rc) return rc;
    crec_crs_uiam *m = NULL;
    crec_crs_unicorn *u = NULL;
    crec_crs_pair *pp = NULL;
    int64_t np = 0, nskip;
    int ret = CLI_FAIL;
    if ((rc = crec__crs_uiam_load(model, &cat, &m))) {
        fprintf(stderr, "crec crs train-policy: %s: %s\n", model,
                rc == CREC_EINVAL ? "the model was trained on a dataset of other sizes" : crec_strerror(rc));
        goto out;
    }
    if (strcmp(m->split, used) != 0) {
        fprintf(stderr, "crec crs train-policy: %s was trained on split '%s', not '%s'\n", model, m->split, used);
        goto out;
    }
    /* all validation pairs in a seeded order (the sample of everything) */
    if ((rc = crec_crs_pairs(&cat, &sp, 1, (int64_t)1 << 40, uo.seed, &pp, &np, &nskip)) == 0 && np > 1) {
        crec_rng r;
        crec__rng_seed(&r, uo.seed ^ 0xC0FFEEull);
        for (int64_t k = np - 1; k > 0; k--) {
            int64_t j = (int64_t)crec__rng_below(&r, (uint64_t)k + 1);
            crec_crs_pair t = pp[k];
            pp[k] = pp[j];
            pp[j] = t;
        }
    }
    if (rc || np < 2) {
        fprintf(stderr, "crec crs train-policy: the validation part has %lld usable pairs\n", (long long)np);
        goto out;
    }
    crec_crs_policy_opts po;
    crec__crs_policy_defaults(&po);
    po.model = m;
    po.split = &sp;
    po.seen_valid = 0;
    crec_crs_sim_opts so;
    crec_crs_sim_defaults(&so);
    double c0 = (double)clock() / CLOCKS_PER_SEC;
    if ((rc = crec__crs_unicorn_train(&cat, &po, pp, np, &so, &uo, &u)) || (rc = crec__crs_unicorn_save(u, out))) {
        cli_err("crs train-policy", out, rc);
        goto out;
    }
    int eps;
    float hsr;
    double secs = crec__crs_unicorn_info(u, &eps, &hsr);
    fprintf(stderr,
            "crec crs train-policy: unicorn, %d episodes on %lld validation pairs of %s (held-out SR@15 %.4f) in "
            "%.1fs (%.1f CPU s) -> %s\n",
            eps, (long long)np, ds->name, (double)hsr, secs, (double)clock() / CLOCKS_PER_SEC - c0, out);
    ret = CLI_OK;
out:
    crec__crs_unicorn_free(u);
    free(pp);
    crec__crs_uiam_free(m);
    crec_split_free(&sp);
    crec_crs_catalog_free(&cat);
    crec_dataset_free(ds);
    return ret;
}

/* --set key=value for the policies. */
static int set_param(crec_crs_policy_opts *po, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq) goto bad;
    size_t kl = (size_t)(eq - kv);
    const char *v = eq + 1;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end) goto bad;
    if (kl == 11 && !strncmp(kv, "hard_reject", kl) && (d == 0 || d == 1)) po->hard_reject = (int)d;
    else if (kl == 12 && !strncmp(kv, "exclude_seen", kl) && (d == 0 || d == 1)) po->exclude_seen = (int)d;
    else if (kl == 9 && !strncmp(kv, "rec_below", kl) && d >= 0 && d <= 1e9 && d == (int)d) po->rec_below = (int)d;
    else if (kl == 4 && !strncmp(kv, "mass", kl) && d > 0 && d <= 1) po->mass = d;
    else if (kl == 4 && !strncmp(kv, "beta", kl) && d >= 0 && d <= 1000) po->beta = d;
    else goto bad;
    return 0;
bad:
    fprintf(stderr,
            "crec crs eval: bad --set '%s' (hard_reject=0|1, exclude_seen=0|1, rec_below=N >= 0, mass=X in (0,1], beta=X in [0,1000])\n",
            kv);
    return -1;
}

static int crs_eval(int argc, char **argv) {
    const char *data = NULL, *policy = NULL, *model = NULL, *scheme = NULL, *part = "test", *transcript = NULL,
               *per_pair = NULL, *agent = NULL;
    long long pairs = 0;
    int json = 0, trees = 5;
    crec_crs_sim_opts so;
    crec_crs_sim_defaults(&so);
    crec_crs_policy_opts po;
    crec__crs_policy_defaults(&po);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        long long x;
        if (cli_is_help(argv[i])) {
            printf("usage: crec crs eval --data D --policy P [--model M.crecrs] [options]\n\n"
                   "Simulates one conversation per (user, target item) pair of the test (or validation) part, with\n"
                   "the rules of SCPR / UNICORN's evaluation: the user opens with one random attribute of the target\n"
                   "(turn 1); each later turn the policy asks one attribute (accepted iff the target has it; accepted\n"
                   "narrows the candidates to the items with it; never asked again) or recommends --rec-k candidates\n"
                   "(success iff the target is among them, else they leave the candidates); the user quits when the\n"
                   "turn counter reaches --max-turns. Reports SR@5/10/15, AT (failures count --max-turns) and hDCG.\n\n"
                   "policies: greedy (top k every turn), maxent (highest-entropy attribute; recommend when few\n"
                   "          remain), cpr (SCPR: attributes on paths from the accepted ones, scored under the model's\n"
                   "          item posterior; recommend when the top k hold enough of it), unicorn (a Q-network over\n"
                   "          the top attributes and items, from crec crs train-policy; --agent), tree (FacT-CRS-style:\n"
                   "          a forest of attribute decision trees built on the training pairs asks; next tree after a\n"
                   "          rejected list; --trees N, default 5; asks while more than rec_below candidates remain)\n\n"
                   "  --model M       user-item-attribute model from crec crs train (else popularity ranks items)\n"
                   "  --agent A       unicorn: the trained policy (crec crs train-policy)\n"
                   "  --split P       test (default) or valid: which pairs\n"
                   "  --scheme S      given (the data's own split; default when it has one) or loo, ...\n"
                   "  --pairs N       a seeded sample of N pairs (default: all)\n"
                   "  --seed N        sample and opening attributes (default %llu)\n"
                   "  --max-turns N   (default %d)     --rec-k N   items per recommendation (default %d)\n"
                   "  --set k=v       hard_reject=0|1 (default 0: UNICORN's soft penalty), exclude_seen=0|1 (default 1:\n"
                   "                  the user's training (and, for test, validation) items rank last), rec_below=N (default %d),\n"
                   "                  mass=X (cpr, default %g), beta=X (cpr, default %g)\n"
                   "  --transcript F  write every conversation to F\n"
                   "  --per-pair F    one line per pair: user item success turns rank\n"
                   "  --json          machine-readable result\n",
                   (unsigned long long)so.seed, so.max_turns, so.rec_k, po.rec_below, po.mass, po.beta);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        if (cli_opt(argc, argv, &i, "--policy", &v, &bad)) { if (bad) return CLI_USAGE; policy = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; model = v; continue; }
        if (cli_opt(argc, argv, &i, "--agent", &v, &bad)) { if (bad) return CLI_USAGE; agent = v; continue; }
        if (cli_opt(argc, argv, &i, "--scheme", &v, &bad)) { if (bad) return CLI_USAGE; scheme = v; continue; }
        if (cli_opt(argc, argv, &i, "--split", &v, &bad)) { if (bad) return CLI_USAGE; part = v; continue; }
        if (cli_opt(argc, argv, &i, "--transcript", &v, &bad)) { if (bad) return CLI_USAGE; transcript = v; continue; }
        if (cli_opt(argc, argv, &i, "--per-pair", &v, &bad)) { if (bad) return CLI_USAGE; per_pair = v; continue; }
        if (cli_opt(argc, argv, &i, "--pairs", &v, &bad)) {
            if (bad || cli_int("crs eval", "--pairs", v, 1, (long long)1 << 40, &x)) return CLI_USAGE;
            pairs = x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--seed", &v, &bad)) {
            if (bad || cli_int("crs eval", "--seed", v, 0, (long long)1 << 62, &x)) return CLI_USAGE;
            so.seed = (uint64_t)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--max-turns", &v, &bad)) {
            if (bad || cli_int("crs eval", "--max-turns", v, 2, 63, &x)) return CLI_USAGE;
            so.max_turns = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--rec-k", &v, &bad)) {
            if (bad || cli_int("crs eval", "--rec-k", v, 1, CREC_CRS_REC_MAX, &x)) return CLI_USAGE;
            so.rec_k = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--set", &v, &bad)) {
            if (bad || set_param(&po, v)) return CLI_USAGE;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--trees", &v, &bad)) {
            if (bad || cli_int("crs eval", "--trees", v, 1, 64, &x)) return CLI_USAGE;
            trees = (int)x;
            continue;
        }
        if (cli_flag(argv, i, "--json")) { json = 1; continue; }
        fprintf(stderr, "crec crs eval: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!data || !policy) {
        fprintf(stderr, "crec crs eval: --data D and --policy P are required (see --help)\n");
        return CLI_USAGE;
    }
    int pi = strcmp(part, "test") == 0 ? 2 : strcmp(part, "valid") == 0 ? 1 : -1;
    if (pi < 0) {
        fprintf(stderr, "crec crs eval: --split must be test or valid, got '%s'\n", part);
        return CLI_USAGE;
    }
    int is_uni = strcmp(policy, "unicorn") == 0, is_tree = strcmp(policy, "tree") == 0;
    if (strcmp(policy, "greedy") && strcmp(policy, "maxent") && strcmp(policy, "cpr") && !is_uni && !is_tree) {
        fprintf(stderr, "crec crs eval: unknown --policy '%s' (greedy, maxent, cpr, tree, unicorn)\n", policy);
        return CLI_USAGE;
    }
    if (is_uni && (!agent || !model)) {
        fprintf(stderr, "crec crs eval: --policy unicorn needs --model M.crecrs and --agent A.crecrs (crec crs train-policy)\n");
        return CLI_USAGE;
    }
    crec_dataset *ds;
    crec_crs_catalog cat;
    crec_split sp;
    char used[64];
    int rc = open_all("crs eval", data, scheme, &ds, &cat, &sp, used, sizeof used);
    if (rc) return rc;
    crec_crs_uiam *m = NULL;
    crec_crs_unicorn *uni = NULL;
    crec_crs_pair *pp = NULL;
    crec_crs_result *res = NULL;
    crec_crs_sim *sim = NULL;
    crec_crs_policy pol;
    memset(&pol, 0, sizeof pol);
    FILE *tf = NULL, *pf = NULL;
    int ret = CLI_FAIL;
    if (model && (rc = crec__crs_uiam_load(model, &cat, &m))) {
        fprintf(stderr, "crec crs eval: %s: %s\n", model,
                rc == CREC_EINVAL ? "the model was trained on a dataset of other sizes" : crec_strerror(rc));
        goto out;
    }
    if (m && strcmp(m->split, used) != 0) {
        fprintf(stderr, "crec crs eval: %s was trained on split '%s', not '%s' (pass --scheme %s)\n", model, m->split,
                used, m->split);
        goto out;
    }
    po.model = m;
    po.split = &sp;
    po.seen_valid = pi == 2;
    if (is_uni) {
        if ((rc = crec__crs_unicorn_load(agent, &uni))) {
            cli_err("crs eval", agent, rc);
            goto out;
        }
        rc = crec__crs_unicorn_policy(uni, &cat, &po, &pol);
    } else if (is_tree) {
        double tb = crec__now();
        rc = crec__crs_tree_policy(&cat, &po, trees, 14, so.seed, &pol);
        if (!rc) fprintf(stderr, "crec crs eval: %d trees built in %.2fs\n", trees, crec__now() - tb);
    } else {
        rc = crec__crs_policy_new(policy, &cat, &po, &pol);
    }
    if (rc) {
        cli_err("crs eval", policy, rc);
        goto out;
    }
    int64_t np, nskip;
    if ((rc = crec_crs_pairs(&cat, &sp, pi, pairs, so.seed, &pp, &np, &nskip))) {
        cli_err("crs eval", "pairs", rc);
        goto out;
    }
    if (np == 0) {
        fprintf(stderr, "crec crs eval: the %s part has no pair whose item has an attribute\n", part);
        goto out;
    }
    res = calloc((size_t)np, sizeof *res);
    sim = crec_crs_sim_new(&cat, &so);
    if (!res || !sim) {
        cli_err("crs eval", "simulator", CREC_ENOMEM);
        goto out;
    }
    if (transcript && !(tf = fopen(transcript, "w"))) {
        fprintf(stderr, "crec crs eval: cannot write %s\n", transcript);
        goto out;
    }
    if (per_pair && !(pf = fopen(per_pair, "w"))) {
        fprintf(stderr, "crec crs eval: cannot write %s\n", per_pair);
        goto out;
    }
    crec_progress prog;
    crec__progress_start(&prog, "conversations", np, cli_progress());
    double t0 = crec__now(), c0 = (double)clock() / CLOCKS_PER_SEC;
    for (int64_t k = 0; k < np; k++) {
        if ((rc = crec_crs_episode(sim, &pol, pp[k], k, &res[k], tf))) {
            fprintf(stderr, "crec crs eval: pair %lld: policy %s made an invalid move (%s)\n", (long long)k, policy,
                    crec_strerror(rc));
            goto out;
        }
        if (pf)
            fprintf(pf, "%s\t%s\t%d\t%d\t%d\n", ds->users.names[pp[k].user], ds->items.names[pp[k].item],
                    res[k].success, res[k].turns, res[k].rank);
        crec__progress_update(&prog, k + 1);
    }
    crec__progress_end(&prog);
    double secs = crec__now() - t0, cpu = (double)clock() / CLOCKS_PER_SEC - c0;
    crec_crs_metrics mt;
    crec_crs_metrics_compute(res, np, &mt);
    char proto[1024];
    if (snprintf(proto, sizeof proto,
             "%s: %lld %s pairs (%s%s; %lld without attributes skipped), split %s; opening attribute random "
             "(seed %llu); ask 1 attribute or recommend %d; max %d turns (the opening counts as turn 1); failures "
             "count %d turns; policy %s%s (hard_reject=%d exclude_seen=%d rec_below=%d mass=%g beta=%g)",
             ds->name, (long long)np, part, pairs ? "a seeded sample" : "all", pairs ? ", sampled with --seed" : "",
             (long long)nskip, used,
             (unsigned long long)so.seed, so.rec_k, so.max_turns, so.max_turns, policy,
             m ? " with model" : " with popularity", po.hard_reject, po.exclude_seen, po.rec_below, po.mass, po.beta) >= (int)sizeof proto)
        proto[sizeof proto - 1] = 0;
    if (json) {
        printf("{\"policy\": ");
        cli_json_str(stdout, policy);
        printf(", \"dataset\": ");
        cli_json_str(stdout, ds->name);
        printf(", \"split\": ");
        cli_json_str(stdout, part);
        printf(", \"pairs\": %lld, \"skipped\": %lld, \"seed\": %llu, \"max_turns\": %d, \"rec_k\": %d, "
               "\"hard_reject\": %d, \"exclude_seen\": %d, \"rec_below\": %d, \"mass\": %g, \"beta\": %g, \"model\": %s, "
               "\"sr5\": %.4f, \"sr10\": %.4f, \"sr15\": %.4f, \"at\": %.4f, \"hdcg\": %.4f, \"asks\": %.3f, "
               "\"recs\": %.3f, \"seconds\": %.3f, \"cpu_seconds\": %.3f, \"protocol\": ",
               (long long)np, (long long)nskip, (unsigned long long)so.seed, so.max_turns, so.rec_k, po.hard_reject,
               po.exclude_seen, po.rec_below, po.mass, po.beta, m ? "true" : "false", mt.sr5, mt.sr10, mt.sr15, mt.at, mt.hdcg,
               mt.asks, mt.recs, secs, cpu);
        cli_json_str(stdout, proto);
        printf("}\n");
    } else {
        printf("protocol: %s\n", proto);
        printf("  policy      SR@5   SR@10   SR@15      AT    hDCG   asks   recs\n");
        printf("  %-8s  %.4f  %.4f  %.4f  %6.3f  %.4f  %5.2f  %5.2f\n", policy, mt.sr5, mt.sr10, mt.sr15, mt.at,
               mt.hdcg, mt.asks, mt.recs);
        fprintf(stderr, "crec crs eval: %lld conversations in %.2fs (%.2f CPU s)\n", (long long)np, secs, cpu);
    }
    ret = CLI_OK;
out:
    if (tf) fclose(tf);
    if (pf) fclose(pf);
    crec_crs_sim_free(sim);
    free(res);
    free(pp);
    if (is_uni) crec__crs_unicorn_policy_free(&pol);
    else if (is_tree) crec__crs_tree_policy_free(&pol);
    else crec__crs_policy_free(&pol);
    crec__crs_unicorn_free(uni);
    crec__crs_uiam_free(m);
    crec_split_free(&sp);
    crec_crs_catalog_free(&cat);
    crec_dataset_free(ds);
    return ret;
}

int cmd_crs(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(CRS_USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "train") == 0) return crs_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "eval") == 0) return crs_eval(argc - 1, argv + 1);
    if (strcmp(argv[1], "train-policy") == 0) return crs_train_policy(argc - 1, argv + 1);
    fprintf(stderr, "crec crs: unknown subcommand '%s'\n\n%s", argv[1], CRS_USAGE);
    return CLI_USAGE;
}
