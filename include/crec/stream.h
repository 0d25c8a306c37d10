/* stream.h: prequential ("test, then train") evaluation of recommenders on a time-ordered replay (issue 13).
 *
 * The dataset's log is replayed in time order (ts, ties in load order; for files without times ts is the position
 * in the file, so the replay is file order). The first warm fraction of events is learning only. After it, every
 * event (u, i) is first a test - the model ranks the catalogue known so far (items seen earlier in the replay) for
 * u, with u's history in the replay as its context and u's seen items excluded (filter-seen: a repeated target is
 * a miss, as is a target never seen before, which no model can rank) - and then a lesson, in one of three modes:
 *   ONLINE    the model learns every event through its update hook (in mini-batches of `batch` events, each
 *             batch tested before it is learned); warm events are learned the same way;
 *   STATIC    the model is trained once on the warm events and never again;
 *   PERIODIC  trained on the warm events, then retrained from scratch on every event so far each `every` events
 *             (or each `every_seconds` of replay time).
 * Ranking uses crec/rank.h (pessimistic ties), HR@K and NDCG@K per event, averaged per time window (equal event
 * counts over the tested part) and overall. Every mode replays the same events and tests the same ones, so their
 * numbers are paired. Ranking every event can be subsampled (every k-th tested event, a seeded fraction of
 * users); the protocol line says so. */
#ifndef CREC_STREAM_H
#define CREC_STREAM_H

#include <stdio.h>
#include "crec/dataset.h"
#include "crec/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CREC_STREAM_ONLINE = 0, CREC_STREAM_STATIC = 1, CREC_STREAM_PERIODIC = 2 } crec_stream_mode;
CREC_API const char *crec_stream_mode_name(crec_stream_mode m); /* "online", "static", "periodic" */

#define CREC_STREAM_MAX_WINDOWS 100

typedef struct crec_stream_opts {
    crec_stream_mode mode;
    const char *model;        /* model type (ONLINE: one with the update hook) */
    const crec_config *cfg;   /* its hyper-parameters (NULL: defaults) */
    double prefix;            /* replay only this first fraction of the log, (0, 1] (1: all; < 1: e.g. a tuning
                               * replay that never reaches the events reported) */
    double warm;              /* fraction of the replayed events learned before testing starts, [0, 1); 0.5 */
    int64_t every;            /* PERIODIC: retrain after this many events (0: only every_seconds) */
    int64_t every_seconds;    /* PERIODIC: or after this much replay time (0: off) */
    int64_t eval_every;       /* test every k-th event after the warm part (1: all) */
    double user_frac;         /* test only a seeded fraction of users (1: all) */
    int batch;                /* ONLINE: events per update (1: each event learned before the next is tested) */
    int n_windows;            /* time windows of the report, 1..CREC_STREAM_MAX_WINDOWS; default 10 */
    int k;                    /* cutoff; default 10 */
    int filter_seen;          /* default 1 */
    uint64_t seed;            /* model seed and user sample */
    int n_threads;            /* training threads (testing is sequential: it is the replay) */
    int progress;             /* progress bar on stderr */
    FILE *per_event;          /* optional TSV: position, user, item, rank (0: a miss by the mask) */
    /* ReLoop2's error memory (crec_errmem, crec/online.h) on top of the model, 0: off. The request's key is a fixed
     * random projection (errmem_dim floats, +-1 per item and coordinate from a hash) summed over the user's last
     * errmem_hist items; after each scored test the memory stores the residuals 1 - p(target) and 0 - p(top-ranked
     * non-target: "shown, not clicked"), p the softmax of the model's own scores over the candidates (the outcome is
     * one-hot over them), and each score is corrected before ranking by errmem_lambda x the similarity-weighted
     * residuals of the nearest stored requests. */
    float errmem_lambda;
    int errmem_dim, errmem_hist;
    int errmem_tables, errmem_bits; /* LSH shape (0: crec_errmem_opts_default's 4 x 10) */
    const char *tag;          /* appended to the run's label ("online onlinemf hist=10"); may be NULL */
} crec_stream_opts;

CREC_API void crec_stream_opts_defaults(crec_stream_opts *o);

typedef struct crec_stream_window {
    int64_t first, last;      /* replay positions [first, last) */
    int64_t ts_first, ts_last;/* times of its first and last event */
    int64_t n;                /* events tested */
    double hr, ndcg;          /* means over them */
} crec_stream_window;

typedef struct crec_stream_result {
    char label[96];           /* "online onlinemf", "periodic ials every 10000" */
    crec_stream_mode mode;
    char model[32];
    int64_t n_events, n_warm, n_tested;
    int64_t n_repeat;         /* tested targets the user had seen (misses under filter-seen) */
    int64_t n_new_item;       /* tested targets not yet in the catalogue (misses for every model) */
    int64_t n_cold_user;      /* tested events of users with no earlier event */
    int k;
    double hr, ndcg;          /* over every tested event */
    int n_windows;
    crec_stream_window win[CREC_STREAM_MAX_WINDOWS];
    double rank_seconds;      /* scoring + ranking of the tested events */
    double learn_seconds;     /* ONLINE: updates after the warm part; PERIODIC: retraining; STATIC: 0 */
    double warm_seconds;      /* the first training (STATIC, PERIODIC) or the warm updates (ONLINE) */
    int64_t n_retrains;
    double rank_us, learn_us; /* per tested event / per replayed event after the warm part (amortised) */
    char protocol[1024];
} crec_stream_result;

/* Replay ds under o into r. Returns 0, or a negative CREC_E* with a reason in err: CREC_EINVAL (bad options, an
 * unknown model, ONLINE with a model without update), CREC_ENOMEM, or the model's error. */
CREC_API int crec_stream_eval(const crec_dataset *ds, const crec_stream_opts *o, crec_stream_result *r, char *err,
                              size_t errn);

/* Reports over n results of one replay: a table (one row per window, one HR/NDCG column pair per result, then the
 * totals and costs), JSON ({"protocol": ..., "runs": [{"label", "mode", "model", "HR@K", "NDCG@K", "windows": [...],
 * "rank_us", "learn_us", ...}]}), and an SVG line plot of NDCG@K (metric "ndcg") or HR@K ("hr") per window. */
CREC_API void crec_stream_write_table(const crec_stream_result *r, int n, FILE *f);
CREC_API int crec_stream_write_json(const crec_stream_result *r, int n, FILE *f);
CREC_API int crec_stream_write_svg(const crec_stream_result *r, int n, const char *metric, const char *title,
                                   const char *path);

#ifdef __cplusplus
}
#endif
#endif
