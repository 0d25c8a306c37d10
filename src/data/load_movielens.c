/* load_movielens.c: the GroupLens MovieLens releases: 100K (u.data + u.item + u.genre), 1M/10M
 * (ratings.dat + movies.dat, "::" separated) and latest/20M (ratings.csv + movies.csv).
 *
 * The one idea: the ratings file decides the release (by name, else by sniffing its first line), and the movies
 * file of the same release beside it adds titles and genres (genres become item attributes). Items that appear
 * only in the movies file are still added, so every movie has its title. Implicit "user::item" variants get
 * value 1 and ts = running event counter (has_time stays 0). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "crec/dataset.h"
#include "data/linereader.h"

typedef enum { ML_SNIFF = 0, ML_TAB, ML_DAT, ML_CSV } ml_kind;

#define ML_MAX_GENRES 64

static const char *const ml_default_genres[19] = {
    "unknown", "Action",    "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama", "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance", "Sci-Fi",    "Thriller",  "War",       "Western"};

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static ml_kind kind_from_name(const char *path) {
    const char *b = crec__basename(path);
    if (strcmp(b, "u.data") == 0 || ends_with(b, ".base") || ends_with(b, ".test")) return ML_TAB;
    if (ends_with(b, ".dat")) return ML_DAT;
    if (ends_with(b, ".csv")) return ML_CSV;
    return ML_SNIFF;
}

/* Reads the ratings file. Explicit kinds set has_time/has_value; the implicit "user::item" variant does not. */
static int load_ratings(crec_dataset *ds, const char *path, ml_kind *kindp, crec_load_opts *o) {
    ml_kind kind = *kindp;
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    int implicit = -1; /* decided on the first non-empty line (ML_DAT only) */
    crec__field f[5];
    char q[64];
    while ((rc = crec__lr_next_usable(&lr, o)) > 0) {
        if (kind == ML_SNIFF) {
            if (memmem(lr.line, lr.len, "::", 2)) kind = ML_DAT;
            else if (memchr(lr.line, '\t', lr.len)) kind = ML_TAB;
            else if (memchr(lr.line, ',', lr.len)) kind = ML_CSV;
            else kind = ML_TAB; /* the line is then reported against the u.data layout */
        }
        int nf;
        if (kind == ML_TAB) {
            nf = crec__split_char(lr.line, lr.len, '\t', f, 5);
            if (nf != 4) {
                if ((rc = crec__load_bad(o, &lr,
                                         "expected 4 tab-separated fields (user item rating timestamp), got %d", nf)))
                    break;
                continue;
            }
        } else if (kind == ML_DAT) {
            nf = crec__split_str(lr.line, lr.len, "::", f, 5);
            if (implicit < 0) {
                implicit = nf == 2;
                if (!implicit) ds->has_time = ds->has_value = 1;
            }
            if (implicit && nf != 2) {
                if ((rc = crec__load_bad(o, &lr, "expected 2 '::'-separated fields (user::item), got %d", nf))) break;
                continue;
            }
            if (!implicit && nf != 4) {
                if ((rc = crec__load_bad(
                         o, &lr, "expected 4 '::'-separated fields (user::item::rating::timestamp), got %d", nf)))
                    break;
                continue;
            }
        } else {
            const char *cwhy = NULL;
            nf = crec__split_csv(lr.line, lr.len, ',', f, 5, &cwhy);
            if (nf < 0) {
                if ((rc = crec__load_bad(o, &lr, "%s", cwhy))) break;
                continue;
            }
            float r;
            if (lr.lineno == 1 && (crec__ieq(f[0].s, f[0].len, "userId") ||
                                   (nf == 4 && crec__parse_float(f[2].s, f[2].len, &r) != 0)))
                continue; /* header: "userId,movieId,rating,timestamp" or any names */
            if (nf != 4) {
                if ((rc = crec__load_bad(
                         o, &lr, "expected 4 comma-separated fields (userId,movieId,rating,timestamp), got %d", nf)))
                    break;
                continue;
            }
        }
        if (kind != ML_DAT) ds->has_time = ds->has_value = 1;
        if (f[0].len == 0) {
            if ((rc = crec__load_bad(o, &lr, "empty user id"))) break;
            continue;
        }
        if (f[1].len == 0) {
            if ((rc = crec__load_bad(o, &lr, "empty item id"))) break;
            continue;
        }
        float value = 1.0f;
        int64_t ts = ds->n;
        if (nf == 4) {
            if (crec__parse_float(f[2].s, f[2].len, &value)) {
                if ((rc = crec__load_bad(o, &lr, "bad rating '%s'", crec__quote(q, sizeof q, f[2].s, f[2].len))))
                    break;
                continue;
            }
            if (crec__parse_i64(f[3].s, f[3].len, &ts)) {
                if ((rc = crec__load_bad(o, &lr, "bad timestamp '%s'", crec__quote(q, sizeof q, f[3].s, f[3].len))))
                    break;
                continue;
            }
        }
        if ((rc = crec_dataset_add(ds, f[0].s, f[0].len, f[1].s, f[1].len, ts, value, 0))) {
            crec__errf(o->err, sizeof o->err, "%s:%lld: out of memory", path, (long long)lr.lineno);
            break;
        }
    }
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    crec__lr_close(&lr, o);
    *kindp = kind;
    return rc < 0 ? rc : 0;
}

/* u.genre: "name|index" lines with index 0, 1, 2, ... Fills names (copies, caller frees) and *n. */
static int load_genres(const char *path, char **names, int *n, crec_load_opts *o) {
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    crec__field f[3];
    char q[64];
    while ((rc = crec__lr_next_usable(&lr, o)) > 0) {
        int nf = crec__split_char(lr.line, lr.len, '|', f, 3);
        int64_t idx;
        if (nf != 2) {
            if ((rc = crec__load_bad(o, &lr, "expected 2 '|'-separated fields (genre|index), got %d", nf))) break;
            continue;
        }
        if (crec__parse_i64(f[1].s, f[1].len, &idx) || idx != *n || *n >= ML_MAX_GENRES) {
            if ((rc = crec__load_bad(o, &lr, "expected genre index %d, got '%s'", *n,
                                     crec__quote(q, sizeof q, f[1].s, f[1].len))))
                break;
            continue;
        }
        if (f[0].len == 0) {
            if ((rc = crec__load_bad(o, &lr, "empty genre name"))) break;
            continue;
        }
        if (!(names[*n] = crec__strndup(f[0].s, f[0].len))) {
            rc = CREC_ENOMEM;
            break;
        }
        (*n)++;
    }
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    crec__lr_close(&lr, o);
    return rc < 0 ? rc : 0;
}

/* Adds item id (creating it when never rated), its title and its genres. */
static int add_movie(crec_dataset *ds, const crec__field *id, const crec__field *title, int32_t *out) {
    int32_t i = crec_dataset_item(ds, id->s, id->len);
    if (i < 0) return i;
    *out = i;
    if (title->len) return crec_dataset_set_title(ds, i, title->s, title->len);
    return 0;
}

/* u.item: "id|title|release date|video date|url|flag*ngenres"; flag k = 1 attaches genre k. */
static int load_uitem(crec_dataset *ds, const char *path, char *const *genres, int ngenres, crec_load_opts *o) {
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    crec__field f[5 + ML_MAX_GENRES + 1];
    int want = 5 + ngenres;
    char q[64];
    while ((rc = crec__lr_next_usable(&lr, o)) > 0) {
        int nf = crec__split_char(lr.line, lr.len, '|', f, want + 1);
        if (nf != want) {
            if ((rc = crec__load_bad(o, &lr,
                                     "expected %d '|'-separated fields (id|title|release date|video date|url|%d genre "
                                     "flags), got %d",
                                     want, ngenres, nf)))
                break;
            continue;
        }
        if (f[0].len == 0) {
            if ((rc = crec__load_bad(o, &lr, "empty item id"))) break;
            continue;
        }
        int bad = -1;
        for (int g = 0; g < ngenres && bad < 0; g++)
            if (!crec__ieq(f[5 + g].s, f[5 + g].len, "0") && !crec__ieq(f[5 + g].s, f[5 + g].len, "1")) bad = g;
        if (bad >= 0) {
            if ((rc = crec__load_bad(o, &lr, "bad genre flag '%s' (expected 0 or 1)",
                                     crec__quote(q, sizeof q, f[5 + bad].s, f[5 + bad].len))))
                break;
            continue;
        }
        int32_t i;
        if ((rc = add_movie(ds, &f[0], &f[1], &i))) break;
        for (int g = 0; g < ngenres && rc == 0; g++)
            if (f[5 + g].s[0] == '1') rc = crec_dataset_add_attr(ds, i, genres[g], strlen(genres[g]));
        if (rc) break;
    }
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    crec__lr_close(&lr, o);
    return rc < 0 ? rc : 0;
}

/* Genres "A|B|C" of item i; "(no genres listed)" and empty names add nothing. */
static int add_genre_list(crec_dataset *ds, int32_t i, char *s, size_t len) {
    char *p = s, *end = s + len;
    while (p <= end) {
        char *bar = memchr(p, '|', (size_t)(end - p));
        char *e = bar ? bar : end;
        size_t n = (size_t)(e - p);
        if (n && !crec__ieq(p, n, "(no genres listed)")) {
            int rc = crec_dataset_add_attr(ds, i, p, n);
            if (rc) return rc;
        }
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

/* movies.dat ("id::title::G1|G2", ISO-8859-1 kept as bytes) or movies.csv ("movieId,title,genres", header). */
static int load_movies(crec_dataset *ds, const char *path, int csv, crec_load_opts *o) {
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    crec__field f[4];
    while ((rc = crec__lr_next_usable(&lr, o)) > 0) {
        int nf;
        if (csv) {
            const char *cwhy = NULL;
            nf = crec__split_csv(lr.line, lr.len, ',', f, 4, &cwhy);
            if (nf < 0) {
                if ((rc = crec__load_bad(o, &lr, "%s", cwhy))) break;
                continue;
            }
            if (lr.lineno == 1 && crec__ieq(f[0].s, f[0].len, "movieId")) continue; /* header */
            if (nf != 3) {
                if ((rc = crec__load_bad(o, &lr, "expected 3 comma-separated fields (movieId,title,genres), got %d",
                                         nf)))
                    break;
                continue;
            }
        } else {
            nf = crec__split_str(lr.line, lr.len, "::", f, 4);
            if (nf != 3) {
                if ((rc = crec__load_bad(o, &lr, "expected 3 '::'-separated fields (id::title::genres), got %d", nf)))
                    break;
                continue;
            }
        }
        if (f[0].len == 0) {
            if ((rc = crec__load_bad(o, &lr, "empty item id"))) break;
            continue;
        }
        int32_t i;
        if ((rc = add_movie(ds, &f[0], &f[1], &i))) break;
        if ((rc = add_genre_list(ds, i, f[2].s, f[2].len))) break;
    }
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    crec__lr_close(&lr, o);
    return rc < 0 ? rc : 0;
}

static const char *const ml1m_occupations[21] = {
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer", "programmer",
    "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer", "tradesman/craftsman",
    "unemployed", "writer"};

/* The ML-1M age bands, used for raw ages (100K) too. */
static const char *age_band(int64_t age) {
    if (age < 18) return "under 18";
    if (age < 25) return "18-24";
    if (age < 35) return "25-34";
    if (age < 45) return "35-44";
    if (age < 50) return "45-49";
    if (age < 56) return "50-55";
    return "56+";
}

static int add_feature(crec_dataset *ds, int32_t u, const char *kind, const char *val, size_t len) {
    char buf[160];
    int n = snprintf(buf, sizeof buf, "%s:%.*s", kind, (int)(len < 120 ? len : 120), val);
    return crec_dataset_add_user_attr(ds, u, buf, (size_t)n);
}

/* u.user ("id|age|gender|occupation|zip") or users.dat ("id::gender::age-code::occupation-code::zip"):
 * features gender:X, age:<band>, occupation:<name>, for the users that have ratings in the loaded file. */
static int load_users(crec_dataset *ds, const char *path, int dat, crec_load_opts *o) {
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    crec__field f[6];
    while ((rc = crec__lr_next_usable(&lr, o)) > 0) {
        int nf = dat ? crec__split_str(lr.line, lr.len, "::", f, 6) : crec__split_char(lr.line, lr.len, '|', f, 6);
        if (nf != 5) {
            if ((rc = crec__load_bad(o, &lr, dat ? "expected 5 '::'-separated fields (id::gender::age::occupation::zip), got %d"
                                                 : "expected 5 '|'-separated fields (id|age|gender|occupation|zip), got %d",
                                     nf)))
                break;
            continue;
        }
        const crec__field *gender = dat ? &f[1] : &f[2], *age = dat ? &f[2] : &f[1], *occ = &f[3];
        int64_t a, oc = -1;
        if (f[0].len == 0 || crec__parse_i64(age->s, age->len, &a) || a < 0 || a > 150) {
            if ((rc = crec__load_bad(o, &lr, "bad user id or age"))) break;
            continue;
        }
        if (dat && (crec__parse_i64(occ->s, occ->len, &oc) || oc < 0 || oc > 20)) {
            if ((rc = crec__load_bad(o, &lr, "bad occupation code (expected 0-20)"))) break;
            continue;
        }
        int32_t u = crec_idmap_get(&ds->users, f[0].s, f[0].len);
        if (u < 0) continue; /* a user without ratings in the loaded file */
        const char *band = age_band(a);
        if ((rc = add_feature(ds, u, "gender", gender->s, gender->len)) ||
            (rc = add_feature(ds, u, "age", band, strlen(band))))
            break;
        rc = dat ? add_feature(ds, u, "occupation", ml1m_occupations[oc], strlen(ml1m_occupations[oc]))
                 : add_feature(ds, u, "occupation", occ->s, occ->len);
        if (rc) break;
    }
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    crec__lr_close(&lr, o);
    if (rc >= 0 && ds->n_uattr_pairs) rc = crec_dataset_user_attr_csr(ds);
    return rc < 0 ? rc : 0;
}

/* Titles and genres beside the ratings file, for its release. Missing files are not an error. */
static int load_metadata(crec_dataset *ds, const char *ratings, ml_kind kind, crec_load_opts *o) {
    int rc = 0;
    int64_t pairs0 = ds->n_attr_pairs;
    if (kind == ML_TAB || kind == ML_SNIFF) {
        char *item = crec__path_join(ratings, 1, "u.item"), *genre = crec__path_join(ratings, 1, "u.genre");
        if (!item || !genre) rc = CREC_ENOMEM;
        if (!rc && is_file(item)) {
            char *names[ML_MAX_GENRES];
            int n = 0;
            if (is_file(genre)) rc = load_genres(genre, names, &n, o);
            if (!rc && n == 0) { /* no u.genre (or an empty one): the standard 19 */
                for (; n < 19 && !rc; n++)
                    if (!(names[n] = crec__strndup(ml_default_genres[n], strlen(ml_default_genres[n]))))
                        rc = CREC_ENOMEM;
            }
            if (!rc) rc = load_uitem(ds, item, names, n, o);
            for (int g = 0; g < n; g++) free(names[g]);
        }
        free(item);
        free(genre);
        char *users = crec__path_join(ratings, 1, "u.user");
        if (!users) rc = CREC_ENOMEM;
        else if (!rc && is_file(users)) rc = load_users(ds, users, 0, o);
        free(users);
    } else {
        int csv = kind == ML_CSV;
        char *movies = crec__path_join(ratings, 1, csv ? "movies.csv" : "movies.dat");
        if (!movies) rc = CREC_ENOMEM;
        else if (is_file(movies)) rc = load_movies(ds, movies, csv, o);
        free(movies);
        char *users = csv ? NULL : crec__path_join(ratings, 1, "users.dat");
        if (!csv && !users) rc = CREC_ENOMEM;
        else if (users && !rc && is_file(users)) rc = load_users(ds, users, 1, o);
        free(users);
    }
    if (!rc && ds->n_attr_pairs != pairs0) rc = crec_dataset_attr_csr(ds);
    return rc;
}

int crec_load_movielens(crec_dataset *ds, const char *path, crec_load_opts *o) {
    crec_load_opts tmp;
    crec__load_begin(&o, &tmp);
    if (!ds || !path) return CREC_EINVAL;
    static const char *const rnames[3] = {"u.data", "ratings.dat", "ratings.csv"};
    char *ratings = NULL;
    int dir = crec__is_dir(path);
    const char *b = crec__basename(path);
    int movies_named = !dir && (strcmp(b, "movies.dat") == 0 || strcmp(b, "movies.csv") == 0 ||
                                strcmp(b, "u.item") == 0 || strcmp(b, "u.genre") == 0);
    if (dir || movies_named) {
        for (int k = 0; k < 3 && !ratings; k++) {
            char *c = crec__path_join(path, movies_named, rnames[k]);
            if (!c) return CREC_ENOMEM;
            if (is_file(c)) ratings = c;
            else free(c);
        }
        if (!ratings) {
            crec__errf(o->err, sizeof o->err, "%s: no MovieLens ratings file (u.data, ratings.dat or ratings.csv)",
                       path);
            return CREC_ENOTFOUND;
        }
    } else if (!(ratings = crec__strndup(path, strlen(path)))) {
        return CREC_ENOMEM;
    }
    ml_kind kind = kind_from_name(ratings);
    int rc = load_ratings(ds, ratings, &kind, o);
    if (rc == 0) rc = load_metadata(ds, ratings, kind, o);
    if (rc == CREC_ENOMEM && !o->err[0]) crec__errf(o->err, sizeof o->err, "%s: out of memory", path);
    if (rc == 0) crec__dataset_default_name(ds, path, !dir);
    free(ratings);
    return rc;
}
