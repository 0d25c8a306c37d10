/* synth.c: the embedded default dataset: a deterministic generator of interaction sequences.
 *
 * The one idea: three signals of different reach, so model quality orders itself.
 *   popularity  items have Zipf weights (pop_alpha): a popularity model gets something;
 *   taste       each user prefers 1-3 of n_topics topics; items belong to one topic: co-occurrence (item-kNN)
 *               gets more;
 *   sequence    each item has two successors in its topic; with probability p_seq the next event follows from
 *               the last one: only a model that reads order (Markov, SASRec) gets all of it.
 * Items carry attributes (their topic plus style tags correlated with it) and readable titles. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/dataset.h"

void crec_synth_defaults(crec_synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_users = 3000;
    o->n_items = 1500;
    o->n_topics = 24;
    o->n_attrs = 96;
    o->min_len = 5;
    o->max_len = 60;
    o->pop_alpha = 0.9;
    o->p_seq = 0.45;
    o->p_taste = 0.75;
    o->seed = 42;
}

static const char *ADJ[] = {"Velvet", "Silent", "Golden", "Crimson", "Hidden", "Electric", "Wild", "Lunar", "Iron",
                            "Paper", "Broken", "Neon", "Quiet", "Burning", "Frozen", "Secret", "Hollow", "Bright",
                            "Distant", "Little", "Last", "Northern", "Wandering", "Glass"};
static const char *NOUN[] = {"Lantern", "River", "Garden", "Engine", "Harbor", "Mirror", "Forest", "Signal", "Crown",
                             "Orchard", "Compass", "Tower", "Voyage", "Echo", "Atlas", "Meadow", "Circuit", "Canyon",
                             "Letter", "Island", "Bridge", "Comet", "Machine", "Sparrow"};
static const char *TOPIC[] = {"Jazz",    "Noir",   "Sci-Fi", "Cooking", "Travel",  "History", "Poetry",  "Chess",
                              "Garden",  "Opera",  "Comedy", "Horror",  "Sailing", "Physics", "Cycling", "Painting",
                              "Western", "Anime",  "Baking", "Ballet",  "Mystery", "Folk",    "Surfing", "Robots"};
#define NA(a) (int)(sizeof(a) / sizeof((a)[0]))

/* Index of the first cum[k] > x (cum ascending, last = total). */
static int32_t pick_cum(const double *cum, int32_t n, double x) {
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t mid = (lo + hi) / 2;
        if (cum[mid] > x) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

int crec_synth_generate(const crec_synth_opts *o, crec_dataset **out) {
    *out = NULL;
    if (o->n_users <= 0 || o->n_items < 4 || o->n_topics <= 0 || o->n_topics > o->n_items || o->min_len < 1 ||
        o->max_len < o->min_len || o->max_len > 100000 || o->n_attrs < 0 || o->p_seq < 0 || o->p_seq > 1 ||
        o->p_taste < 0 || o->p_taste > 1 || o->pop_alpha < 0 || !(o->p_repeat >= 0 && o->p_repeat <= 1))
        return CREC_EINVAL;
    int32_t NI = o->n_items, NT = o->n_topics;
    crec_dataset *ds = crec_dataset_new();
    if (!ds) return CREC_ENOMEM;
    if (o->p_repeat > 0)
        snprintf(ds->name, sizeof ds->name, "synth(users=%d,items=%d,seed=%llu,p_repeat=%g)", o->n_users, NI,
                 (unsigned long long)o->seed, o->p_repeat);
    else
        snprintf(ds->name, sizeof ds->name, "synth(users=%d,items=%d,seed=%llu)", o->n_users, NI,
                 (unsigned long long)o->seed);
    ds->has_time = 1;
    crec_rng rng;
    crec__rng_seed(&rng, o->seed);
    int rc = 0;
    int32_t *topic = malloc((size_t)NI * sizeof *topic);
    double *w = malloc((size_t)NI * sizeof *w);
    int32_t *perm = malloc((size_t)NI * sizeof *perm);
    int32_t *succ = malloc((size_t)NI * 2 * sizeof *succ);
    double *gcum = malloc((size_t)NI * sizeof *gcum);
    int32_t *tptr = calloc((size_t)NT + 1, sizeof *tptr);
    int32_t *titems = malloc((size_t)NI * sizeof *titems);
    double *tcum = malloc((size_t)NI * sizeof *tcum);
    uint8_t *seen = calloc((size_t)NI, 1);
    int32_t *hist = malloc((size_t)o->max_len * sizeof *hist);
    if (!topic || !w || !perm || !succ || !gcum || !tptr || !titems || !tcum || !seen || !hist) {
        rc = CREC_ENOMEM;
        goto done;
    }
    /* items: id, topic, Zipf weight by a random popularity rank, title, attributes */
    for (int32_t i = 0; i < NI; i++) perm[i] = i;
    for (int32_t i = NI - 1; i > 0; i--) {
        int32_t j = (int32_t)crec__rng_below(&rng, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int32_t i = 0; i < NI; i++) {
        w[i] = 1.0 / pow((double)perm[i] + 1.0, o->pop_alpha);
        topic[i] = i < NT ? i : (int32_t)crec__rng_below(&rng, (uint64_t)NT);
        char name[32], title[128];
        snprintf(name, sizeof name, "i%d", i + 1);
        int32_t id = crec_dataset_item(ds, name, strlen(name));
        if (id < 0) {
            rc = id;
            goto done;
        }
        snprintf(title, sizeof title, "%s %s (%s #%d)", ADJ[crec__rng_below(&rng, NA(ADJ))],
                 NOUN[crec__rng_below(&rng, NA(NOUN))], TOPIC[topic[i] % NA(TOPIC)], i + 1);
        if ((rc = crec_dataset_set_title(ds, id, title, strlen(title)))) goto done;
        char attr[48];
        snprintf(attr, sizeof attr, "topic:%s%s", TOPIC[topic[i] % NA(TOPIC)], topic[i] >= NA(TOPIC) ? "2" : "");
        if ((rc = crec_dataset_add_attr(ds, id, attr, strlen(attr)))) goto done;
        if (o->n_attrs > 0) {
            /* two style tags: one from the topic's band of tags, one anywhere */
            int band = o->n_attrs / NT > 0 ? o->n_attrs / NT : 1;
            int32_t a1 = (int32_t)((topic[i] * band + (int32_t)crec__rng_below(&rng, (uint64_t)band)) % o->n_attrs);
            int32_t a2 = (int32_t)crec__rng_below(&rng, (uint64_t)o->n_attrs);
            snprintf(attr, sizeof attr, "style:%d", a1);
            if ((rc = crec_dataset_add_attr(ds, id, attr, strlen(attr)))) goto done;
            snprintf(attr, sizeof attr, "style:%d", a2);
            if ((rc = crec_dataset_add_attr(ds, id, attr, strlen(attr)))) goto done;
        }
    }
    /* items grouped by topic with cumulative weights */
    for (int32_t i = 0; i < NI; i++) tptr[topic[i] + 1]++;
    for (int32_t t = 0; t < NT; t++) tptr[t + 1] += tptr[t];
    {
        int32_t *fill = malloc((size_t)NT * sizeof *fill);
        if (!fill) {
            rc = CREC_ENOMEM;
            goto done;
        }
        memcpy(fill, tptr, (size_t)NT * sizeof *fill);
        for (int32_t i = 0; i < NI; i++) titems[fill[topic[i]]++] = i;
        free(fill);
    }
    for (int32_t t = 0; t < NT; t++) {
        double c = 0;
        for (int32_t k = tptr[t]; k < tptr[t + 1]; k++) tcum[k] = (c += w[titems[k]]);
    }
    double gsum = 0;
    for (int32_t i = 0; i < NI; i++) gcum[i] = (gsum += w[i]);
    /* successors: two items of the same topic (popularity-weighted), never the item itself */
    for (int32_t i = 0; i < NI; i++) {
        int32_t t = topic[i], b = tptr[t], n = tptr[t + 1] - b;
        for (int s = 0; s < 2; s++) {
            int32_t j = i;
            for (int tries = 0; tries < 8 && (j == i || (s == 1 && j == succ[2 * i])); tries++) {
                double x = crec__rng_uniform(&rng) * (tcum[b + n - 1]);
                j = titems[b + pick_cum(tcum + b, n, x)];
            }
            if (j == i) j = (i + 1) % NI;
            succ[2 * i + s] = j;
        }
    }
    /* users */
    int64_t t_start = 1600000000; /* 2020-09-13 */
    for (int32_t u = 0; u < o->n_users; u++) {
        char name[32];
        snprintf(name, sizeof name, "u%d", u + 1);
        int32_t uid = crec_idmap_intern(&ds->users, name, strlen(name));
        if (uid < 0) {
            rc = uid;
            goto done;
        }
        /* length: min_len + a geometric tail, capped */
        int32_t span = o->max_len - o->min_len;
        double mean_extra = span / 4.0 + 1;
        int32_t len = o->min_len + (int32_t)(-log(1 - crec__rng_uniform(&rng)) * mean_extra);
        if (len > o->max_len) len = o->max_len;
        /* taste: 1-3 favourite topics */
        int nfav = 1 + (int)crec__rng_below(&rng, 3);
        int32_t fav[3];
        for (int f = 0; f < nfav; f++) fav[f] = (int32_t)crec__rng_below(&rng, (uint64_t)NT);
        int64_t t = t_start + (int64_t)crec__rng_below(&rng, 365 * 86400);
        int32_t n = 0;
        for (int32_t k = 0; k < len; k++) {
            int32_t item = -1;
            /* repeat consumption: an earlier item of this user again (no draw at all when p_repeat = 0, so
             * the default data is unchanged) */
            if (o->p_repeat > 0 && n > 0 && crec__rng_uniform(&rng) < o->p_repeat) {
                item = hist[crec__rng_below(&rng, (uint64_t)n)];
                hist[n++] = item;
                t += 60 + (int64_t)(-log(1 - crec__rng_uniform(&rng)) * 3 * 3600);
                if ((rc = crec_dataset_add_dense(ds, uid, item, t, 1.0f, 0))) goto done;
                continue;
            }
            for (int tries = 0; tries < 20 && item < 0; tries++) {
                double r = crec__rng_uniform(&rng);
                int32_t cand;
                if (n > 0 && r < o->p_seq) {
                    int32_t last = hist[n - 1];
                    cand = succ[2 * last + (crec__rng_uniform(&rng) < 0.7 ? 0 : 1)];
                } else if (crec__rng_uniform(&rng) < o->p_taste) {
                    int32_t tp = fav[crec__rng_below(&rng, (uint64_t)nfav)];
                    int32_t b = tptr[tp], m = tptr[tp + 1] - b;
                    double x = crec__rng_uniform(&rng) * tcum[b + m - 1];
                    cand = titems[b + pick_cum(tcum + b, m, x)];
                } else {
                    cand = pick_cum(gcum, NI, crec__rng_uniform(&rng) * gsum);
                }
                if (!seen[cand]) item = cand;
            }
            if (item < 0) break;
            seen[item] = 1;
            hist[n++] = item;
            t += 60 + (int64_t)(-log(1 - crec__rng_uniform(&rng)) * 3 * 3600);
            if ((rc = crec_dataset_add_dense(ds, uid, item, t, 1.0f, 0))) goto done;
        }
        for (int32_t k = 0; k < n; k++) seen[hist[k]] = 0; /* repeats: cleared twice, harmless */
    }
done:
    free(topic);
    free(w);
    free(perm);
    free(succ);
    free(gcum);
    free(tptr);
    free(titems);
    free(tcum);
    free(seen);
    free(hist);
    if (rc) {
        crec_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}
