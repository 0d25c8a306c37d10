/* cmd_chat.c: crec chat - a conversational recommender in the terminal, on the same state and policies as the
 * simulator (crec crs eval): the system asks about one attribute or recommends a list with its reasons; the person
 * answers yes / no, names attributes in words ("something with nail polish"), critiques ("not makeup"), or picks
 * a recommended item by its number.
 *
 * The one idea: a person is just another source of answers. Words are matched to attribute names after
 * normalising both (lower case, punctuation to spaces, a plural 's' dropped), whole words only, longest name
 * first; "not X" / "no X" / "without X" rejects X. Every reply names the entities it is about, and a
 * recommendation gives its reason: the stated attributes the item has. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "core/util.h"
#include "crec/crs.h"
#include "crs/crs_internal.h"


static int read_line(char *buf, size_t n) {
    fputs("> ", stdout);
    fflush(stdout);
    if (!fgets(buf, (int)n, stdin)) return 0;
    buf[strcspn(buf, "\r\n")] = 0;
    char *u = crec_crs_normalise(buf);
    int quit = u && (strcmp(u, " quit ") == 0 || strcmp(u, " bye ") == 0 || strcmp(u, " exit ") == 0);
    free(u);
    return !quit;
}

/* Apply the attributes named in an utterance; prints what was understood. Returns how many. */
static int apply_named(crec_crs_sim *sim, const crec_crs_names *nm, const char *utt) {
    int32_t f[16];
    int ng[16];
    int n = crec_crs_find_attrs(nm, utt, f, ng, 16);
    for (int k = 0; k < n; k++) {
        crec_crs_sim_answer(sim, f[k], !ng[k]);
        printf("  (noted: %s %s)\n", ng[k] ? "not" : "likes", nm->disp[f[k]]);
    }
    return n;
}

int cmd_chat(int argc, char **argv) {
    const char *data = NULL, *model = NULL, *policy = "cpr", *user = NULL, *names_path = NULL;
    crec_crs_sim_opts so;
    crec_crs_sim_defaults(&so);
    crec_crs_policy_opts po;
    crec__crs_policy_defaults(&po);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        long long x;
        if (cli_is_help(argv[i])) {
            printf("usage: crec chat --data D [--model M.crecrs] [--policy cpr|maxent|greedy] [options]\n\n"
                   "A conversation in the terminal: the system asks about attributes (\"Do you like rock?\") or\n"
                   "recommends a list with reasons. Answer yes / no, name attributes in words (\"something with\n"
                   "nail polish\", case and plurals ignored), critique (\"not makeup\"), pick an item by its number,\n"
                   "or say quit.\n\n"
                   "  --model M     user-item-attribute model (crec crs train); else items rank by popularity\n"
                   "  --user U      a known user (their history shapes the ranking); default anonymous\n"
                   "  --names F     attribute names: TSV id<TAB>name, or a header with a 'name' column\n"
                   "  --max-turns N (default %d)\n",
                   so.max_turns);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; model = v; continue; }
        if (cli_opt(argc, argv, &i, "--policy", &v, &bad)) { if (bad) return CLI_USAGE; policy = v; continue; }
        if (cli_opt(argc, argv, &i, "--user", &v, &bad)) { if (bad) return CLI_USAGE; user = v; continue; }
        if (cli_opt(argc, argv, &i, "--names", &v, &bad)) { if (bad) return CLI_USAGE; names_path = v; continue; }
        if (cli_opt(argc, argv, &i, "--max-turns", &v, &bad)) {
            if (bad || cli_int("chat", "--max-turns", v, 2, 63, &x)) return CLI_USAGE;
            so.max_turns = (int)x;
            continue;
        }
        fprintf(stderr, "crec chat: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!data) {
        fprintf(stderr, "crec chat: --data D is required (see --help)\n");
        return CLI_USAGE;
    }
    if (strcmp(policy, "cpr") && strcmp(policy, "maxent") && strcmp(policy, "greedy")) {
        fprintf(stderr, "crec chat: unknown --policy '%s' (cpr, maxent, greedy)\n", policy);
        return CLI_USAGE;
    }
    crec_dataset *ds;
    if (cli_open_dataset("chat", data, &ds)) return CLI_FAIL;
    crec_crs_catalog cat;
    crec_crs_names nm = {0};
    crec_crs_uiam *m = NULL;
    crec_crs_sim *sim = NULL;
    crec_crs_policy pol = {0};
    crec_split sp = {0};
    int ret = CLI_FAIL, rc;
    if ((rc = crec_crs_catalog_init(&cat, ds))) {
        fprintf(stderr, "crec chat: %s: %s\n", data, rc == CREC_EEMPTY ? "the dataset has no item attributes" : crec_strerror(rc));
        crec_dataset_free(ds);
        return CLI_FAIL;
    }
    char nerr[300];
    if (crec_crs_names_init(&nm, ds, ds->attrs.n, names_path, nerr, sizeof nerr)) {
        fprintf(stderr, "crec chat: --names %s\n", nerr);
        goto out;
    }
    crec_split_spec spec;
    crec_split_spec_parse(crec_idmap_get(&ds->event_types, "test", 4) >= 0 ? "given" : "loo", &spec);
    if ((rc = crec_split_make(ds, &spec, &sp))) {
        cli_err("chat", "split", rc);
        goto out;
    }
    if (model && (rc = crec__crs_uiam_load(model, &cat, &m))) {
        fprintf(stderr, "crec chat: %s: %s\n", model, rc == CREC_EINVAL ? "trained on a dataset of other sizes" : crec_strerror(rc));
        goto out;
    }
    int32_t uid = -1;
    if (user && (uid = crec_idmap_get(&ds->users, user, strlen(user))) < 0) {
        fprintf(stderr, "crec chat: unknown user '%s'\n", user);
        goto out;
    }
    po.model = m;
    po.split = &sp;
    po.seen_valid = 1;
    if ((rc = crec__crs_policy_new(policy, &cat, &po, &pol)) || !(sim = crec_crs_sim_new(&cat, &so))) {
        cli_err("chat", policy, rc ? rc : CREC_ENOMEM);
        goto out;
    }
    printf("crec chat on %s: %d items, %d attributes, policy %s. What are you looking for? (or 'quit')\n", ds->name,
           cat.n_items, cat.n_attrs, policy);
    char line[2048];
    int32_t acc[CREC_CRS_EXTRA_ATTRS], f[16];
    int ng[16], n_acc = 0;
    int32_t rej[16];
    int n_rej = 0;
    for (;;) {
        if (!read_line(line, sizeof line)) goto bye;
        int n = crec_crs_find_attrs(&nm, line, f, ng, 16);
        for (int k = 0; k < n; k++) {
            if (ng[k] && n_rej < 16) rej[n_rej++] = f[k];
            else if (!ng[k] && n_acc < CREC_CRS_EXTRA_ATTRS) acc[n_acc++] = f[k];
        }
        if (n_acc > 0) break;
        printf("I know attributes such as: ");
        for (int32_t a = 0, shown = 0; a < cat.n_attrs && shown < 8; a++)
            if (cat.ai_ptr[a + 1] - cat.ai_ptr[a] >= 20) printf("%s%s", shown++ ? ", " : "", nm.disp[a]);
        printf(". Which of these do you like?\n");
    }
    crec_crs_sim_start(sim, uid, acc, n_acc);
    for (int k = 0; k < n_rej; k++) crec_crs_sim_answer(sim, rej[k], 0);
    const crec_crs_state *st = crec_crs_sim_state(sim);
    printf("Noted:");
    for (int k = 0; k < st->n_acc; k++) printf("%s%s", k ? ", " : " ", nm.disp[st->acc[k]]);
    printf(" - %d items have %s.\n", st->n_cand, st->n_acc > 1 ? "all of them" : "it");
    if (pol.begin) pol.begin(pol.self, st);
    while (st->turn < st->last_turn && st->n_cand > 0) {
        crec_crs_action a;
        memset(&a, 0, sizeof a);
        if ((rc = pol.act(pol.self, st, &a))) {
            cli_err("chat", policy, rc);
            goto out;
        }
        if (a.kind == CREC_CRS_ASK) {
            int32_t at = a.attr;
            int64_t have = 0;
            for (int32_t k = 0; k < st->n_cand; k++) have += crec_crs_item_has(&cat, st->cand[k], at);
            printf("Do you like %s? (%lld of the %d candidates have it)\n", nm.disp[at], (long long)have, st->n_cand);
            for (;;) {
                if (!read_line(line, sizeof line)) goto bye;
                int named = apply_named(sim, &nm, line);
                if (st->asked[at]) break; /* the answer named it */
                if (crec_crs_has_word(line, crec_crs_no)) {
                    crec_crs_sim_answer(sim, at, 0);
                    break;
                }
                if (crec_crs_has_word(line, crec_crs_yes)) {
                    crec_crs_sim_answer(sim, at, 1);
                    break;
                }
                if (named) break;
                printf("Please answer yes or no about %s, or name what you like.\n", nm.disp[at]);
            }
            int accepted = 0;
            for (int k = 0; k < st->n_acc; k++) accepted |= st->acc[k] == at;
            crec_crs_sim_end_turn(sim, accepted ? CREC_CRS_H_ASK_ACC : CREC_CRS_H_ASK_REJ);
            if (st->asked[at]) printf("%s %s. %d candidates left.\n", accepted ? "Good, with" : "OK, no", nm.disp[at], st->n_cand);
            else printf("Noted. %d candidates left.\n", st->n_cand);
            continue;
        }
        printf("I recommend:\n");
        for (int k = 0; k < a.n_items; k++) {
            int32_t i = a.items[k];
            printf("  %d. %s", k + 1, crec_dataset_item_label(ds, i));
            int nr = 0;
            for (int j = 0; j < st->n_acc; j++)
                if (crec_crs_item_has(&cat, i, st->acc[j])) printf("%s%s", nr++ ? ", " : " - because you like ", nm.disp[st->acc[j]]);
            int shown = 0; /* what else it is */
            for (int64_t j = cat.ia_ptr[i]; j < cat.ia_ptr[i + 1] && shown < 3; j++)
                if (!st->asked[cat.ia_idx[j]]) printf("%s%s", shown++ ? ", " : "; also ", nm.disp[cat.ia_idx[j]]);
            printf("\n");
        }
        printf("Is one of these it? (its number, or no; you can also say 'not X' or name what you want)\n");
        if (!read_line(line, sizeof line)) goto bye;
        char *end;
        long pick = strtol(line, &end, 10);
        if (end != line && pick >= 1 && pick <= a.n_items) {
            int32_t i = a.items[pick - 1];
            printf("Great - %s", crec_dataset_item_label(ds, i));
            int nr = 0;
            for (int j = 0; j < st->n_acc; j++)
                if (crec_crs_item_has(&cat, i, st->acc[j])) printf("%s%s", nr++ ? ", " : ", which has ", nm.disp[st->acc[j]]);
            printf(". Enjoy!\n");
            crec_crs_sim_end_turn(sim, CREC_CRS_H_REC_OK);
            ret = CLI_OK;
            goto out;
        }
        apply_named(sim, &nm, line);
        crec_crs_sim_reject_items(sim, a.items, a.n_items);
        crec_crs_sim_end_turn(sim, CREC_CRS_H_REC_FAIL);
        printf("OK, none of those. %d candidates left.\n", st->n_cand);
    }
    printf("I am out of %s - sorry I could not find it.\n", st->n_cand ? "turns" : "candidates");
bye:
    ret = CLI_OK;
out:
    crec__crs_policy_free(&pol);
    crec_crs_sim_free(sim);
    crec__crs_uiam_free(m);
    crec_split_free(&sp);
    crec_crs_names_free(&nm);
    crec_crs_catalog_free(&cat);
    crec_dataset_free(ds);
    return ret;
}
