/* words.c: what a person's words say in a conversation - attribute names matched in an utterance (case, plurals,
 * negations), yes / no, and the display names of attributes - shared by `crec chat` (apps/crec/cmd_chat.c) and
 * the HTTP conversations of crec serve (src/serve/conv.c), so both understand a person the same way. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "crec/crs.h"

const char *const crec_crs_yes[] = {"yes", "y", "yeah", "yep", "sure", "ok", "definitely", NULL};
const char *const crec_crs_no[] = {"no", "n", "nope", "nah", "not really", NULL};

char *crec_crs_normalise(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(n + 3), *w = out;
    if (!out) return NULL;
    *w++ = ' ';
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)s[k];
        if (isalnum(ch)) *w++ = (char)tolower(ch);
        else if (w[-1] != ' ') *w++ = ' ';
    }
    if (w[-1] != ' ') *w++ = ' ';
    *w = 0;
    char *r = out, *q = out;
    while (*r) {
        if (*r == 's' && r[1] == ' ' && r - out >= 4 && r[-1] != 's' && r[-1] != ' ' && r[-2] != ' ' && r[-3] != ' ') {
            r++;
            continue;
        }
        *q++ = *r++;
    }
    *q = 0;
    return out;
}

void crec_crs_names_free(crec_crs_names *nm) {
    if (!nm) return;
    for (int32_t a = 0; a < nm->n; a++) {
        if (nm->disp) free(nm->disp[a]);
        if (nm->norm) free(nm->norm[a]);
    }
    free(nm->disp);
    free(nm->norm);
    memset(nm, 0, sizeof *nm);
}

/* Names from a TSV "id<TAB>...<TAB>name" whose header names a "name" column, or "id<TAB>name" without header. */
static int names_read(crec_crs_names *nm, const crec_dataset *ds, const char *path, char *err, size_t errn) {
    FILE *f = fopen(path, "r");
    if (!f) {
        crec__errf(err, errn, "%s: cannot read it", path);
        return CREC_EIO;
    }
    char line[4096];
    int name_col = 1, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *col[16];
        int nc = 0;
        for (char *p = line; nc < 16;) {
            col[nc++] = p;
            char *t = strchr(p, '\t');
            if (!t) break;
            *t = 0;
            p = t + 1;
        }
        if (lineno == 1) {
            int hdr = 0;
            for (int k = 0; k < nc; k++)
                if (strcasecmp(col[k], "name") == 0) name_col = k, hdr = 1;
            if (hdr) continue;
        }
        if (nc <= name_col) {
            crec__errf(err, errn, "%s:%d: expected id<TAB>name", path, lineno);
            fclose(f);
            return CREC_EPARSE;
        }
        int32_t a = crec_idmap_get(&ds->attrs, col[0], strlen(col[0]));
        if (a >= 0 && a < nm->n && !nm->disp[a] && !(nm->disp[a] = crec__strndup(col[name_col], strlen(col[name_col])))) {
            fclose(f);
            return CREC_ENOMEM;
        }
    }
    fclose(f);
    return 0;
}

int crec_crs_names_init(crec_crs_names *nm, const crec_dataset *ds, int32_t n_attrs, const char *path, char *err,
                        size_t errn) {
    memset(nm, 0, sizeof *nm);
    if (err && errn) err[0] = 0;
    nm->n = n_attrs < ds->attrs.n ? n_attrs : ds->attrs.n;
    nm->disp = calloc((size_t)nm->n + 1, sizeof *nm->disp);
    nm->norm = calloc((size_t)nm->n + 1, sizeof *nm->norm);
    int rc = !nm->disp || !nm->norm ? CREC_ENOMEM : 0;
    if (!rc && path) rc = names_read(nm, ds, path, err, errn);
    for (int32_t a = 0; !rc && a < nm->n; a++)
        if ((!nm->disp[a] && !(nm->disp[a] = crec__strndup(ds->attrs.names[a], strlen(ds->attrs.names[a])))) ||
            !(nm->norm[a] = crec_crs_normalise(nm->disp[a])))
            rc = CREC_ENOMEM;
    if (rc) {
        if (rc == CREC_ENOMEM) crec__errf(err, errn, "out of memory");
        crec_crs_names_free(nm);
    }
    return rc;
}

int crec_crs_find_attrs(const crec_crs_names *nm, const char *utt, int32_t *found, int *neg, int max) {
    char *u = crec_crs_normalise(utt);
    if (!u) return 0;
    int n = 0;
    for (;;) {
        int32_t best = -1;
        size_t bl = 0;
        char *at = NULL;
        for (int32_t a = 0; a < nm->n; a++) {
            size_t l = strlen(nm->norm[a]);
            if (l <= 2 || l <= bl) continue;
            char *p = strstr(u, nm->norm[a]);
            if (p) best = a, bl = l, at = p;
        }
        if (best < 0 || n >= max) break;
        int ng = 0;
        static const char *const negs[] = {" not", " no", " without", " dont like", " don t like", " hate", " less"};
        for (size_t k = 0; k < sizeof negs / sizeof negs[0]; k++) {
            size_t l = strlen(negs[k]);
            if ((size_t)(at - u) >= l && strncmp(at - l, negs[k], l) == 0) ng = 1;
        }
        found[n] = best;
        neg[n] = ng;
        n++;
        memset(at + 1, '#', bl - 2); /* keep the framing spaces */
    }
    free(u);
    return n;
}

int crec_crs_has_word(const char *utt, const char *const *words) {
    char *u = crec_crs_normalise(utt);
    if (!u) return 0;
    int hit = 0;
    for (int k = 0; words[k] && !hit; k++) {
        char w[64];
        snprintf(w, sizeof w, " %s ", words[k]);
        hit = strstr(u, w) != NULL;
    }
    free(u);
    return hit;
}
