/* load.c: crec_load, the one entry point that picks a loader, and crec_format_parse.
 *
 * The one idea of CREC_FMT_AUTO: names first (a directory or a MovieLens file name means MovieLens), then a look
 * at the first lines - a .csv/.tsv whose header names a user and an item column is CSV; otherwise lines of more
 * than two whitespace-separated fields are sequences and lines of exactly two are pairs. Only up to SNIFF_LINES
 * lines are read to decide; the chosen loader then streams the file from the start. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "crec/dataset.h"
#include "data/linereader.h"

#define SNIFF_LINES 1000

crec_format crec_format_parse(const char *name) {
    if (!name) return CREC_FMT_UNKNOWN;
    if (strcasecmp(name, "auto") == 0) return CREC_FMT_AUTO;
    if (strcasecmp(name, "movielens") == 0) return CREC_FMT_MOVIELENS;
    if (strcasecmp(name, "sequences") == 0) return CREC_FMT_SEQUENCES;
    if (strcasecmp(name, "pairs") == 0) return CREC_FMT_PAIRS;
    if (strcasecmp(name, "csv") == 0) return CREC_FMT_CSV;
    if (strcasecmp(name, "crs") == 0) return CREC_FMT_CRS;
    return CREC_FMT_UNKNOWN;
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcasecmp(s + n - m, suf) == 0;
}

/* MovieLens by name: u.data, u.item, u.genre, u1.base ... ub.test, ratings*.dat, ratings.csv, movies.dat/.csv. */
static int movielens_name(const char *path) {
    const char *b = crec__basename(path);
    if (!strcmp(b, "u.data") || !strcmp(b, "u.item") || !strcmp(b, "u.genre") || !strcmp(b, "movies.dat") ||
        !strcmp(b, "movies.csv"))
        return 1;
    if (!strncmp(b, "ratings", 7) && has_suffix(b, ".dat")) return 1;
    if (b[0] == 'u' && strlen(b) == 7 && (has_suffix(b, ".base") || has_suffix(b, ".test"))) return 1;
    return 0;
}

/* 1 when a header line names a user and an item column (the CSV defaults), or the caller named both columns. */
static int csv_header_ok(char *line, size_t len, const crec_load_opts *o) {
    if (o->col_user && o->col_item) return 1;
    crec__field f[64];
    const char *why;
    char d = o->delim;
    if (!d) {
        size_t nt = 0, nc = 0, ns = 0;
        for (size_t k = 0; k < len; k++) nt += line[k] == '\t', nc += line[k] == ',', ns += line[k] == ';';
        d = nt >= nc && nt >= ns && nt ? '\t' : (nc >= ns ? ',' : ';');
    }
    int nf = crec__split_csv(line, len, d, f, 64, &why);
    if (nf < 2) return 0;
    if (nf > 64) nf = 64;
    static const char *const users[] = {"user", "userId", "user_id", "uid"};
    static const char *const items[] = {"item", "itemId", "item_id", "movieId", "iid"};
    int hu = 0, hi = 0;
    for (int c = 0; c < nf; c++) {
        for (int k = 0; k < 4; k++) hu |= crec__ieq(f[c].s, f[c].len, users[k]);
        for (int k = 0; k < 5; k++) hi |= crec__ieq(f[c].s, f[c].len, items[k]);
    }
    return hu && hi;
}

/* Guess the format of a file from its first lines. Returns a crec_format, or a negative error (message set).
 * A file named ratings.csv is MovieLens only when its header is MovieLens's ("userId,movieId,..."). */
/* 1 when dir holds a conversational-recommendation layout (load_crs.c). */
static int crs_dir(const char *dir) {
    static const char *const marks[2][2] = {{"review_dict_train.json", "item_fea.json"},
                                            {"interactions.tsv", "item_feature.tsv"}};
    for (int k = 0; k < 2; k++) {
        int ok = 1;
        for (int j = 0; j < 2 && ok; j++) {
            char *p = crec__path_join(dir, 0, marks[k][j]);
            FILE *f = p ? fopen(p, "rb") : NULL;
            ok = f != NULL;
            if (f) fclose(f);
            free(p);
        }
        if (ok) return 1;
    }
    return 0;
}

static int guess(const char *path, crec_load_opts *o) {
    if (crec__is_dir(path) && crs_dir(path)) return CREC_FMT_CRS;
    if (crec__is_dir(path) || movielens_name(path)) return CREC_FMT_MOVIELENS;
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    if (strcmp(crec__basename(path), "ratings.csv") == 0) {
        while ((rc = crec__lr_next(&lr)) > 0 && lr.len == 0) {}
        int ml = rc > 0 && lr.len >= 14 && strncasecmp(lr.line, "userId,movieId", 14) == 0;
        crec__lr_close(&lr, NULL);
        if (ml) return CREC_FMT_MOVIELENS;
        if ((rc = crec__lr_open(&lr, path, o))) return rc;
    }
    int csv_ext = has_suffix(path, ".csv") || has_suffix(path, ".tsv");
    int seen = 0, max_ws = 0, min_ws = 1 << 30, colons = 0, commas = 0;
    crec__field f[4];
    while (seen < SNIFF_LINES && (rc = crec__lr_next(&lr)) > 0) {
        if (lr.len == 0 || crec__lr_problem(&lr)) continue;
        if (seen == 0 && csv_ext && csv_header_ok(lr.line, lr.len, o)) {
            crec__lr_close(&lr, NULL);
            return CREC_FMT_CSV;
        }
        int nf;
        if (memmem(lr.line, lr.len, "::", 2)) {
            nf = crec__split_str(lr.line, lr.len, "::", f, 4);
            colons++;
        } else {
            nf = crec__split_ws(lr.line, lr.len, f, 4);
            if (nf == 1 && memchr(f[0].s, ',', f[0].len)) {
                nf = crec__split_char(f[0].s, f[0].len, ',', f, 4);
                commas++;
            }
        }
        if (nf == 0) continue;
        seen++;
        if (nf > max_ws) max_ws = nf;
        if (nf < min_ws) min_ws = nf;
    }
    int rerr = rc < 0 ? crec__load_eio(o, &lr) : 0;
    crec__lr_close(&lr, NULL);
    if (rerr) return rerr;
    if (seen == 0) return CREC_FMT_PAIRS; /* empty: any loader adds nothing */
    if (colons == seen && max_ws == 4 && min_ws == 4) return CREC_FMT_MOVIELENS; /* ratings.dat layout */
    if (max_ws > 2 && !colons && !commas) return CREC_FMT_SEQUENCES;
    if (max_ws == 2) return CREC_FMT_PAIRS;
    crec__errf(o->err, sizeof o->err,
               "%s: cannot guess the format (lines of %d to %d fields); name it: movielens, sequences, pairs or csv",
               path, min_ws, max_ws);
    return CREC_EFORMAT;
}

int crec_load(crec_dataset *ds, crec_format fmt, const char *path, crec_load_opts *o) {
    crec_load_opts tmp;
    crec__load_begin(&o, &tmp);
    if (!ds || !path) return CREC_EINVAL;
    if (fmt == CREC_FMT_AUTO) {
        int g = guess(path, o);
        if (g < 0) return g;
        fmt = (crec_format)g;
    }
    switch (fmt) {
    case CREC_FMT_MOVIELENS: return crec_load_movielens(ds, path, o);
    case CREC_FMT_SEQUENCES: return crec_load_sequences(ds, path, o);
    case CREC_FMT_PAIRS: return crec_load_pairs(ds, path, o);
    case CREC_FMT_CSV: return crec_load_csv(ds, path, o);
    case CREC_FMT_CRS: return crec_load_crs(ds, path, o);
    default:
        crec__errf(o->err, sizeof o->err, "%s: unknown format %d", path, (int)fmt);
        return CREC_EINVAL;
    }
}
