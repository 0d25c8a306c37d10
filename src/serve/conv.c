/* conv.c: conversations over HTTP (crec serve --crs-model): POST /v1/conversations starts one,
 * POST /v1/conversations/{id}/turns answers it, GET /v1/conversations/{id} shows its transcript.
 *
 * The one idea: a conversation's state is the list of operations applied to the conversational simulator
 * (crec/crs.h: start with the stated attributes, answer an attribute, reject recommended items, end a turn)
 * plus what the system asked last, stored as JSON in the store's conversations table. A turn replays that log
 * on the server's one simulator, applies the person's answer, lets the policy act, and writes the longer log
 * back - so the store alone holds a conversation, and a restarted server continues it. Words are matched to
 * attribute names as in crec chat (apps/crec/cmd_chat.c): lower case, punctuation to spaces, a plural 's'
 * dropped, whole words, longest name first; "not X" / "no X" / "without X" rejects X. Every reply names its
 * entities (attribute and item ids with display names), and a recommended item carries its reasons: the
 * accepted attributes it has. Turns are write routes (the writer thread, one group commit); the simulator
 * and the policy are also guarded by a mutex for the writer's inline fallback. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/util.h"
#include "crec/crs.h"
#include "crs/crs_internal.h"
#include "serve/routes.h"

typedef struct crec__conv {
    pthread_mutex_t mu;
    crec_server *srv;       /* titles come from its catalog (the store's items) */
    crec__bundle *b;        /* a held reference: the dataset the catalog borrows */
    crec_crs_catalog cat;
    int cat_ok;
    crec_split sp;
    crec_crs_uiam *m;
    crec_crs_policy pol;
    crec_crs_sim *sim;
    crec_crs_names names;   /* display names and the matching of a person's words (src/crs/words.c) */
    int32_t suggest[8];     /* attributes offered when the person has named none: the most common */
    int n_suggest;
} crec__conv;

/* ---- open / close ---- */

int crec__conv_open(crec_server *s, const char *path, const char *names_path, char *err, size_t errn) {
    crec__conv *c = calloc(1, sizeof *c);
    if (!c) return CREC_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    s->conv = c;
    c->srv = s;
    c->b = crec__bundle_acquire(s);
    crec_dataset *ds = c->b->ds;
    int rc;
    if (ds->attrs.n == 0 || (rc = crec_crs_catalog_init(&c->cat, ds)) == CREC_EEMPTY) {
        crec__errf(err, errn, "--crs-model needs the dataset's item attributes, and %s has none (give --data D.crecds "
                   "with item attributes)", c->b->data_desc);
        return CREC_EINVAL;
    }
    if (rc) goto fail;
    c->cat_ok = 1;
    crec_split_spec spec;
    crec_split_spec_parse(crec_idmap_get(&ds->event_types, "test", 4) >= 0 ? "given" : "loo", &spec);
    if ((rc = crec_split_make(ds, &spec, &c->sp))) goto fail;
    if ((rc = crec__crs_uiam_load(path, &c->cat, &c->m))) {
        crec__errf(err, errn, "--crs-model %s: %s", path,
                   rc == CREC_EINVAL ? "trained on a dataset of other sizes than the server's" : crec_strerror(rc));
        return rc;
    }
    crec_crs_policy_opts po;
    crec__crs_policy_defaults(&po);
    po.model = c->m;
    po.split = &c->sp;
    po.seen_valid = 1;
    crec_crs_sim_opts so;
    crec_crs_sim_defaults(&so);
    if ((rc = crec__crs_policy_new("cpr", &c->cat, &po, &c->pol))) goto fail;
    if (!(c->sim = crec_crs_sim_new(&c->cat, &so))) {
        rc = CREC_ENOMEM;
        goto fail;
    }
    char nerr[300];
    if ((rc = crec_crs_names_init(&c->names, ds, c->cat.n_attrs, names_path, nerr, sizeof nerr))) {
        crec__errf(err, errn, "--crs-names %s", nerr);
        return rc;
    }
    /* suggestions: the most common attributes, most items first */
    for (int32_t a = 0; a < c->cat.n_attrs; a++) {
        int64_t na = c->cat.ai_ptr[a + 1] - c->cat.ai_ptr[a];
        int k = c->n_suggest < 8 ? c->n_suggest++ : 8;
        if (k == 8) {
            int32_t last = c->suggest[7];
            if (na <= c->cat.ai_ptr[last + 1] - c->cat.ai_ptr[last]) continue;
            k = 7;
        }
        while (k > 0 && c->cat.ai_ptr[c->suggest[k - 1] + 1] - c->cat.ai_ptr[c->suggest[k - 1]] < na) {
            c->suggest[k] = c->suggest[k - 1];
            k--;
        }
        c->suggest[k] = a;
    }
    return 0;
fail:
    crec__errf(err, errn, "--crs-model %s: %s", path, crec_strerror(rc));
    return rc;
}

void crec__conv_close(crec_server *s) {
    crec__conv *c = s ? s->conv : NULL;
    if (!c) return;
    crec__crs_policy_free(&c->pol);
    crec_crs_sim_free(c->sim);
    crec__crs_uiam_free(c->m);
    crec_split_free(&c->sp);
    crec_crs_names_free(&c->names);
    if (c->cat_ok) crec_crs_catalog_free(&c->cat);
    if (c->b) crec__bundle_release(c->b);
    pthread_mutex_destroy(&c->mu);
    free(c);
    s->conv = NULL;
}

/* ---- entities ---- */

static const char *attr_name(const crec__conv *c, int32_t a) { return c->names.disp[a]; }

static json_t *attr_json(const crec__conv *c, int32_t a) {
    return json_pack("{s:o,s:o}", "id", crec__jstr(c->b->ds->attrs.names[a]), "name", crec__jstr(attr_name(c, a)));
}

/* An item's title: the store's (the catalog of the server), else the dataset's label. Copied into buf. */
static const char *item_title(const crec__conv *c, int32_t i, char *buf, size_t n) {
    const crec_dataset *ds = c->b->ds;
    const char *ext = ds->items.names[i];
    crec__catalog *cat = &c->srv->cat;
    pthread_rwlock_rdlock(&cat->lock);
    const crec__cat_entry *e = crec__catalog_get(cat, crec__catalog_sid(cat, ext, strlen(ext)));
    snprintf(buf, n, "%s", e && e->title && *e->title ? e->title : crec_dataset_item_label(ds, i));
    pthread_rwlock_unlock(&cat->lock);
    return buf;
}

/* Append to a growing text buffer (truncates quietly at its end). */
typedef struct tbuf { char s[2048]; size_t n; } tbuf;
static void tb(tbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb(tbuf *t, const char *fmt, ...) {
    if (t->n >= sizeof t->s - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->s + t->n, sizeof t->s - t->n, fmt, ap);
    va_end(ap);
    if (k > 0) t->n = t->n + (size_t)k < sizeof t->s ? t->n + (size_t)k : sizeof t->s - 1;
}

static json_t *reply_open(const crec__conv *c, const char *lead) {
    tbuf t = {.n = 0};
    tb(&t, "%sWhat are you looking for? For example: ", lead);
    json_t *sug = json_array();
    for (int k = 0; k < c->n_suggest; k++) {
        tb(&t, "%s%s", k ? ", " : "", attr_name(c, c->suggest[k]));
        json_array_append_new(sug, attr_json(c, c->suggest[k]));
    }
    tb(&t, ".");
    return json_pack("{s:s,s:s,s:o}", "kind", "question", "text", t.s, "suggestions", sug);
}

static json_t *reply_ask(const crec__conv *c, const crec_crs_state *st, int32_t at, const char *lead) {
    int64_t have = 0;
    for (int32_t k = 0; k < st->n_cand; k++) have += crec_crs_item_has(&c->cat, st->cand[k], at);
    tbuf t = {.n = 0};
    tb(&t, "%sDo you like %s? (%lld of the %d candidates have it)", lead, attr_name(c, at), (long long)have, st->n_cand);
    return json_pack("{s:s,s:s,s:o,s:i}", "kind", "question", "text", t.s, "attribute", attr_json(c, at), "candidates",
                     (int)st->n_cand);
}

static json_t *reply_rec(const crec__conv *c, const crec_crs_state *st, const crec_crs_action *a, const char *lead) {
    const crec_dataset *ds = c->b->ds;
    tbuf t = {.n = 0};
    tb(&t, "%sI recommend:", lead);
    json_t *items = json_array();
    for (int k = 0; k < a->n_items; k++) {
        int32_t i = a->items[k];
        json_t *why = json_array(), *also = json_array();
        char title[512];
        item_title(c, i, title, sizeof title);
        tb(&t, " %d. %s", k + 1, title);
        int nr = 0;
        for (int j = 0; j < st->n_acc; j++)
            if (crec_crs_item_has(&c->cat, i, st->acc[j])) {
                json_array_append_new(why, attr_json(c, st->acc[j]));
                tb(&t, "%s%s", nr++ ? ", " : " (because you like ", attr_name(c, st->acc[j]));
            }
        if (nr) tb(&t, ")");
        tb(&t, ";");
        int shown = 0;
        for (int64_t j = c->cat.ia_ptr[i]; j < c->cat.ia_ptr[i + 1] && shown < 3; j++)
            if (!st->asked[c->cat.ia_idx[j]]) json_array_append_new(also, attr_json(c, c->cat.ia_idx[j])), shown++;
        json_array_append_new(items, json_pack("{s:i,s:o,s:o,s:o,s:o}", "rank", k + 1, "id", crec__jstr(ds->items.names[i]),
                                               "title", crec__jstr(title), "reasons", why, "also", also));
    }
    tb(&t, " Is one of these it? (its number, or no; you can also say 'not X' or name what you want)");
    return json_pack("{s:s,s:s,s:o,s:i}", "kind", "recommendation", "text", t.s, "items", items, "candidates",
                     (int)st->n_cand);
}

/* ---- state: the log of simulator operations ---- */

/* Replay state's ops on the simulator. 0, or CREC_EFORMAT for a log that does not apply. */
static int replay(crec__conv *c, json_t *state, int *started) {
    json_t *ops = json_object_get(state, "ops");
    int32_t user = (int32_t)json_integer_value(json_object_get(state, "user"));
    if (user >= c->cat.n_users) user = -1;
    *started = 0;
    size_t k;
    json_t *op;
    int32_t buf[CREC_CRS_REC_MAX + CREC_CRS_EXTRA_ATTRS];
    json_array_foreach(ops, k, op) {
        const char *kind = json_string_value(json_array_get(op, 0));
        json_t *x = json_array_get(op, 1);
        int rc = 0;
        if (!kind) return CREC_EFORMAT;
        if (kind[0] == 's' || kind[0] == 'r') {
            int n = 0;
            size_t j;
            json_t *v;
            json_array_foreach(x, j, v) if (n < (int)(sizeof buf / sizeof *buf)) buf[n++] = (int32_t)json_integer_value(v);
            rc = kind[0] == 's' ? crec_crs_sim_start(c->sim, user, buf, n) : crec_crs_sim_reject_items(c->sim, buf, n);
            if (kind[0] == 's') *started = 1;
        } else if (kind[0] == 'a' && *started) {
            rc = crec_crs_sim_answer(c->sim, (int32_t)json_integer_value(x), (int)json_integer_value(json_array_get(op, 2)));
        } else if (kind[0] == 'e' && *started) {
            crec_crs_sim_end_turn(c->sim, (int)json_integer_value(x));
        } else {
            return CREC_EFORMAT;
        }
        if (rc) return CREC_EFORMAT;
    }
    return 0;
}

static void op_answer(crec__conv *c, json_t *ops, int32_t a, int acc, json_t *understood) {
    if (crec_crs_sim_state(c->sim)->asked[a]) return;
    if (crec_crs_sim_answer(c->sim, a, acc)) return;
    json_array_append_new(ops, json_pack("[s,i,i]", "a", (int)a, acc));
    json_array_append_new(understood, json_pack("{s:o,s:b}", "attribute", attr_json(c, a), "liked", acc));
}

static void op_end(crec__conv *c, json_t *ops, int outcome) {
    crec_crs_sim_end_turn(c->sim, outcome);
    json_array_append_new(ops, json_pack("[s,i]", "e", outcome));
}

/* The system's move: ask or recommend (pending records it), or finish. *done set when it finished. */
static json_t *system_act(crec__conv *c, json_t *state, const char *lead, int *done, char *err, size_t errn) {
    const crec_crs_state *st = crec_crs_sim_state(c->sim);
    if (st->turn >= st->last_turn || st->n_cand == 0) {
        *done = 1;
        char text[256];
        snprintf(text, sizeof text, "%sI am out of %s - sorry I could not find it.", lead, st->n_cand ? "turns" : "candidates");
        json_object_set_new(state, "pending", json_pack("{s:s}", "kind", "done"));
        return json_pack("{s:s,s:s,s:b}", "kind", "done", "text", text, "success", 0);
    }
    crec_crs_action a;
    memset(&a, 0, sizeof a);
    int rc = c->pol.begin ? c->pol.begin(c->pol.self, st) : 0;
    if (!rc) rc = c->pol.act(c->pol.self, st, &a);
    if (rc) {
        crec__errf(err, errn, "the policy failed: %s", crec_strerror(rc));
        return NULL;
    }
    if (a.kind == CREC_CRS_ASK) {
        json_object_set_new(state, "pending", json_pack("{s:s,s:i}", "kind", "ask", "attr", (int)a.attr));
        return reply_ask(c, st, a.attr, lead);
    }
    json_t *items = json_array();
    for (int k = 0; k < a.n_items; k++) json_array_append_new(items, json_integer(a.items[k]));
    json_object_set_new(state, "pending", json_pack("{s:s,s:o}", "kind", "rec", "items", items));
    return reply_rec(c, st, &a, lead);
}

/* "more like N" (a rank in the list shown) or "more like <title of a listed item>": that item, else -1. */
static int32_t more_like(const crec__conv *c, const char *utt, const int32_t *it, int ni) {
    char *u = crec_crs_normalise(utt);
    if (!u) return -1;
    int32_t found = -1;
    char *p = strstr(u, " more like ");
    if (!p) p = strstr(u, " similar to ");
    if (p) {
        p = strchr(p + 1, ' ');
        p = p ? strchr(p + 1, ' ') : NULL; /* after "like" / "to" */
        char *end;
        long r = p ? strtol(p, &end, 10) : 0;
        if (p && end != p && r >= 1 && r <= ni) found = it[r - 1];
        for (int k = 0; p && found < 0 && k < ni; k++) {
            char title[512];
            char *t = crec_crs_normalise(item_title(c, it[k], title, sizeof title));
            if (t && strlen(t) > 2 && strstr(p, t)) found = it[k];
            free(t);
        }
    }
    free(u);
    return found >= 0 && found < c->cat.n_items ? found : -1;
}

/* Apply the person's utterance to the replayed simulator and state; returns the system's reply (NULL + err on
 * an internal failure). *done set when the conversation ended. */
static json_t *person_turn(crec__conv *c, json_t *state, const char *utt, json_t *understood, int *done, char *err,
                           size_t errn) {
    json_t *ops = json_object_get(state, "ops");
    json_t *pending = json_object_get(state, "pending");
    const char *pk = json_string_value(json_object_get(pending, "kind"));
    const crec_crs_state *st = crec_crs_sim_state(c->sim);
    int32_t f[16];
    int ng[16];
    int n = crec_crs_find_attrs(&c->names, utt, f, ng, 16);
    char lead[512] = "";
    if (!pk || strcmp(pk, "open") == 0) {
        int32_t acc[16];
        int n_acc = 0;
        for (int k = 0; k < n; k++)
            if (!ng[k]) acc[n_acc++] = f[k];
        if (n_acc == 0) return reply_open(c, n ? "Noted - and what do you like? " : "I did not recognise that. ");
        int32_t user = (int32_t)json_integer_value(json_object_get(state, "user"));
        if (crec_crs_sim_start(c->sim, user < c->cat.n_users ? user : -1, acc, n_acc)) {
            crec__errf(err, errn, "cannot start the conversation");
            return NULL;
        }
        json_t *ja = json_array();
        for (int k = 0; k < n_acc; k++) {
            json_array_append_new(ja, json_integer(acc[k]));
            json_array_append_new(understood, json_pack("{s:o,s:b}", "attribute", attr_json(c, acc[k]), "liked", 1));
        }
        json_array_append_new(ops, json_pack("[s,o]", "s", ja));
        for (int k = 0; k < n; k++)
            if (ng[k]) op_answer(c, ops, f[k], 0, understood);
        snprintf(lead, sizeof lead, "Noted: %d items match. ", st->n_cand);
        return system_act(c, state, lead, done, err, errn);
    }
    if (strcmp(pk, "ask") == 0) {
        int32_t at = (int32_t)json_integer_value(json_object_get(pending, "attr"));
        if (at < 0 || at >= c->cat.n_attrs) {
            crec__errf(err, errn, "a stored conversation asks an unknown attribute");
            return NULL;
        }
        for (int k = 0; k < n; k++) op_answer(c, ops, f[k], !ng[k], understood);
        if (!st->asked[at]) {
            if (crec_crs_has_word(utt, crec_crs_no)) op_answer(c, ops, at, 0, understood);
            else if (crec_crs_has_word(utt, crec_crs_yes)) op_answer(c, ops, at, 1, understood);
            else if (n == 0) {
                snprintf(lead, sizeof lead, "Please answer yes or no about %s, or name what you like. ", attr_name(c, at));
                return reply_ask(c, st, at, lead);
            }
        }
        int accepted = 0;
        for (int k = 0; k < st->n_acc; k++) accepted |= st->acc[k] == at;
        op_end(c, ops, accepted ? CREC_CRS_H_ASK_ACC : CREC_CRS_H_ASK_REJ);
        if (st->asked[at]) snprintf(lead, sizeof lead, "%s %s. %d candidates left. ", accepted ? "Good, with" : "OK, no",
                                    attr_name(c, at), st->n_cand);
        else snprintf(lead, sizeof lead, "Noted. %d candidates left. ", st->n_cand);
        return system_act(c, state, lead, done, err, errn);
    }
    if (strcmp(pk, "rec") == 0) {
        json_t *items = json_object_get(pending, "items");
        int32_t it[CREC_CRS_REC_MAX];
        int ni = 0;
        size_t j;
        json_t *v;
        json_array_foreach(items, j, v) if (ni < CREC_CRS_REC_MAX) it[ni++] = (int32_t)json_integer_value(v);
        const char *p = utt;
        while (*p == ' ') p++;
        char *end;
        errno = 0;
        long pick = strtol(p, &end, 10);
        if (end != p && pick >= 1 && pick <= ni && it[pick - 1] >= 0 && it[pick - 1] < c->cat.n_items) {
            int32_t i = it[pick - 1];
            const crec_dataset *ds = c->b->ds;
            tbuf t = {.n = 0};
            char title[512];
            tb(&t, "Great - %s", item_title(c, i, title, sizeof title));
            json_t *why = json_array();
            int nr = 0;
            for (int k = 0; k < st->n_acc; k++)
                if (crec_crs_item_has(&c->cat, i, st->acc[k])) {
                    tb(&t, "%s%s", nr++ ? ", " : ", which has ", attr_name(c, st->acc[k]));
                    json_array_append_new(why, attr_json(c, st->acc[k]));
                }
            tb(&t, ". Enjoy!");
            op_end(c, ops, CREC_CRS_H_REC_OK);
            json_object_set_new(state, "pending", json_pack("{s:s}", "kind", "done"));
            *done = 1;
            return json_pack("{s:s,s:s,s:b,s:{s:o,s:o,s:o}}", "kind", "done", "text", t.s, "success", 1, "item", "id",
                             crec__jstr(ds->items.names[i]), "title", crec__jstr(title), "reasons", why);
        }
        /* "more like 2" / "more like <a listed title>": a critique by example - the item's other attributes are
         * accepted (the candidates move to items that share them), the list is rejected */
        int32_t like = more_like(c, utt, it, ni);
        if (like >= 0) {
            for (int64_t j2 = c->cat.ia_ptr[like]; j2 < c->cat.ia_ptr[like + 1]; j2++)
                op_answer(c, ops, c->cat.ia_idx[j2], 1, understood);
            for (int k = 0; k < n; k++) op_answer(c, ops, f[k], !ng[k], understood);
            crec_crs_sim_reject_items(c->sim, it, ni);
            json_t *ja = json_array();
            for (int k = 0; k < ni; k++) json_array_append_new(ja, json_integer(it[k]));
            json_array_append_new(ops, json_pack("[s,o]", "r", ja));
            op_end(c, ops, CREC_CRS_H_REC_FAIL);
            char title[256];
            snprintf(lead, sizeof lead, "More like %s: %d candidates share its attributes. ",
                     item_title(c, like, title, sizeof title), st->n_cand);
            return system_act(c, state, lead, done, err, errn);
        }
        if (n == 0 && crec_crs_has_word(utt, crec_crs_yes) && !crec_crs_has_word(utt, crec_crs_no)) {
            json_t *again = json_object_get(state, "last_reply");
            json_t *r = again ? json_deep_copy(again) : json_pack("{s:s}", "kind", "recommendation");
            json_object_set_new(r, "text", json_string("Which one? Please say its number (or no)."));
            return r;
        }
        for (int k = 0; k < n; k++) op_answer(c, ops, f[k], !ng[k], understood);
        crec_crs_sim_reject_items(c->sim, it, ni);
        json_t *ja = json_array();
        for (int k = 0; k < ni; k++) json_array_append_new(ja, json_integer(it[k]));
        json_array_append_new(ops, json_pack("[s,o]", "r", ja));
        op_end(c, ops, CREC_CRS_H_REC_FAIL);
        snprintf(lead, sizeof lead, "OK, none of those. %d candidates left. ", st->n_cand);
        return system_act(c, state, lead, done, err, errn);
    }
    crec__errf(err, errn, "a stored conversation is in an unknown state '%s'", pk);
    return NULL;
}

/* ---- handlers ---- */

static int conv_on(crec_server *s, crec__reply *r) {
    if (s->conv) return 1;
    crec__reply_err(r, 404, "not_found", "conversations are off: start crec serve with --crs-model M.crecrs");
    return 0;
}

static int parse_conv_id(const char *s, int64_t *id) {
    if (!s || !*s || strlen(s) > 18) return -1;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    *id = v;
    return v > 0 ? 0 : -1;
}

static void add_entry(json_t *tr, const char *from, const char *text, json_t *reply) {
    json_t *e = json_pack("{s:s,s:o}", "from", from, "text", crec__jstr(text));
    if (reply) json_object_set(e, "reply", reply);
    json_array_append_new(tr, e);
}

/* Run an utterance on a replayed conversation; fills r with the turn's answer. Returns the reply or NULL. */
static json_t *run_turn(crec__conv *c, json_t *state, json_t *tr, const char *utt, json_t **understood, int *done,
                        crec__reply *r) {
    char err[256] = "";
    *understood = json_array();
    add_entry(tr, "person", utt, NULL);
    json_t *reply = person_turn(c, state, utt, *understood, done, err, sizeof err);
    if (!reply) {
        crec__reply_err(r, 500, "internal", "%s", err);
        return NULL;
    }
    json_object_set(state, "last_reply", reply);
    add_entry(tr, "system", json_string_value(json_object_get(reply, "text")), reply);
    return reply;
}

static int save(crec__tls *t, int64_t *id, const char *user, json_t *state, json_t *tr, int done, crec__reply *r) {
    char *sj = json_dumps(state, JSON_COMPACT), *tj = json_dumps(tr, JSON_COMPACT);
    int rc = !sj || !tj ? CREC_ENOMEM
             : *id ? crec_store_conv_update(t->store, *id, sj, tj, done, (int64_t)time(NULL))
                   : crec_store_conv_create(t->store, user, sj, tj, (int64_t)time(NULL), id);
    free(sj);
    free(tj);
    if (rc) crec__reply_store_err(r, rc, "conversation", NULL);
    return rc;
}

void crec__h_conv_start(crec_server *s, crec__tls *t, crec__req *q, crec__reply *r) {
    if (!conv_on(s, r)) return;
    crec__conv *c = s->conv;
    const char *user = NULL, *utt = NULL;
    json_t *body = NULL;
    crec__reqerr e;
    if (q->body && q->body_len) {
        if (!(body = crec__parse_json(q->body, q->body_len, &e))) {
            crec__reply_reqerr(r, &e);
            return;
        }
        json_t *ju = json_object_get(body, "user"), *jt = json_object_get(body, "utterance");
        if (!json_is_object(body) || (ju && !json_is_null(ju) && !json_is_string(ju)) ||
            (jt && !json_is_null(jt) && !json_is_string(jt))) {
            crec__reply_err(r, 400, "bad_parameter", "the body is {\"user\"?: string, \"utterance\"?: string}");
            json_decref(body);
            return;
        }
        user = json_string_value(ju);
        utt = json_string_value(jt);
        if (user && !crec__id_ok(user, strlen(user))) {
            crec__reply_err(r, 400, "bad_id", "user: an id is 1..%d bytes of UTF-8 without control characters or '/'",
                            CREC_STORE_MAX_ID);
            json_decref(body);
            return;
        }
        if (utt && strlen(utt) > 1000) {
            crec__reply_err(r, 400, "bad_parameter", "utterance: at most 1000 bytes");
            json_decref(body);
            return;
        }
    }
    /* with --online the learner grows the bundle's id maps under b->mu: read them under it (never nested in
     * crec__rec_begin..end, which takes it too) */
    pthread_rwlock_rdlock(&c->b->mu);
    int32_t uid = user ? crec_idmap_get(&c->b->ds->users, user, strlen(user)) : -1;
    json_t *state = json_pack("{s:i,s:i,s:[],s:{s:s}}", "v", 1, "user", uid < c->cat.n_users ? (int)uid : -1, "ops",
                              "pending", "kind", "open");
    json_t *tr = json_array(), *reply = NULL, *understood = NULL;
    int done = 0;
    int64_t id = 0;
    pthread_mutex_lock(&c->mu);
    if (utt && *utt) {
        reply = run_turn(c, state, tr, utt, &understood, &done, r);
    } else {
        reply = reply_open(c, uid >= 0 ? "Welcome back. " : "Hello. ");
        json_object_set(state, "last_reply", reply);
        add_entry(tr, "system", json_string_value(json_object_get(reply, "text")), reply);
    }
    pthread_mutex_unlock(&c->mu);
    pthread_rwlock_unlock(&c->b->mu);
    if (reply && !save(t, &id, user, state, tr, done, r)) {
        char ids[32];
        snprintf(ids, sizeof ids, "%lld", (long long)id);
        json_t *o = json_pack("{s:s,s:O,s:b,s:b}", "id", ids, "reply", reply, "done", done, "known_user", uid >= 0);
        if (user) json_object_set_new(o, "user", crec__jstr(user));
        if (understood) json_object_set(o, "understood", understood);
        crec__reply_json(r, 201, o);
    }
    json_decref(reply);
    json_decref(understood);
    json_decref(state);
    json_decref(tr);
    json_decref(body);
}

static int load_conv(crec__tls *t, const char *ids, int64_t *id, crec_store_conv *cv, crec__reply *r) {
    memset(cv, 0, sizeof *cv);
    int rc = parse_conv_id(ids, id) ? CREC_ENOTFOUND : crec_store_conv_get(t->store, *id, cv);
    if (rc == CREC_ENOTFOUND) crec__reply_err(r, 404, "conversation_not_found", "conversation '%s' does not exist", ids);
    else if (rc) crec__reply_store_err(r, rc, "conversation", ids);
    return rc;
}

void crec__h_conv_turn(crec_server *s, crec__tls *t, crec__req *q, crec__reply *r) {
    if (!conv_on(s, r)) return;
    crec__conv *c = s->conv;
    crec__reqerr e;
    json_t *body = crec__parse_json(q->body ? q->body : "", q->body ? q->body_len : 0, &e);
    if (!body) {
        crec__reply_reqerr(r, &e);
        return;
    }
    const char *utt = json_string_value(json_object_get(body, "utterance"));
    if (!json_is_object(body) || !utt || !*utt || strlen(utt) > 1000) {
        crec__reply_err(r, 400, "bad_parameter", "the body is {\"utterance\": a non-empty string of at most 1000 bytes}");
        json_decref(body);
        return;
    }
    int64_t id;
    crec_store_conv cv;
    if (load_conv(t, q->m.id, &id, &cv, r)) {
        json_decref(body);
        return;
    }
    if (cv.done) {
        crec__reply_err(r, 409, "conversation_finished", "conversation '%s' has finished; start a new one", q->m.id);
        crec_store_conv_clear(&cv);
        json_decref(body);
        return;
    }
    json_t *state = json_loads(cv.state, 0, NULL), *tr = json_loads(cv.transcript, 0, NULL), *reply = NULL,
           *understood = NULL;
    int done = 0, started = 0;
    pthread_rwlock_rdlock(&c->b->mu);  /* the bundle's id maps (see crec__h_conv_start) */
    pthread_mutex_lock(&c->mu);
    if (!json_is_object(state) || !json_is_array(tr) || replay(c, state, &started))
        crec__reply_err(r, 500, "internal", "conversation '%s' has a state this server cannot replay", q->m.id);
    else
        reply = run_turn(c, state, tr, utt, &understood, &done, r);
    pthread_mutex_unlock(&c->mu);
    pthread_rwlock_unlock(&c->b->mu);
    if (reply && !save(t, &id, NULL, state, tr, done, r))
        crec__reply_json(r, 200, json_pack("{s:s,s:O,s:O,s:b}", "id", q->m.id, "reply", reply, "understood", understood,
                                           "done", done));
    json_decref(reply);
    json_decref(understood);
    json_decref(state);
    json_decref(tr);
    json_decref(body);
    crec_store_conv_clear(&cv);
}

void crec__h_conv_get(crec_server *s, crec__tls *t, crec__req *q, crec__reply *r) {
    if (!conv_on(s, r)) return;
    int64_t id;
    crec_store_conv cv;
    if (load_conv(t, q->m.id, &id, &cv, r)) return;
    json_t *tr = json_loads(cv.transcript, 0, NULL);
    if (!json_is_array(tr)) {
        json_decref(tr);
        crec__reply_err(r, 500, "internal", "conversation '%s' has an unreadable transcript", q->m.id);
    } else {
        json_t *o = json_pack("{s:s,s:o,s:b,s:I,s:I,s:o}", "id", q->m.id, "user", crec__jstr(cv.user), "done", cv.done,
                              "created", (json_int_t)cv.created, "updated", (json_int_t)cv.updated, "transcript", tr);
        crec__reply_json(r, 200, o);
    }
    crec_store_conv_clear(&cv);
}
