/* topk.c: the k best items of a score vector, by partial selection.
 *
 * The one idea: keep a min-heap of the k best seen so far whose root is the WORST of them; a new item
 * enters only when it beats the root, so the pass costs O(n log k) and k floats of memory. "Beats" is one
 * total order used everywhere: higher score first, equal scores go to the lower item id, NaN never beats
 * a number (NaN items come last, among themselves by id). */
#include <math.h>

#include "crec/rank.h"

/* 1 when (sa, a) ranks strictly before (sb, b). */
static inline int topk_better(float sa, int32_t a, float sb, int32_t b) {
    int na = isnan(sa), nb = isnan(sb);
    if (na != nb) return nb;           /* the number beats the NaN */
    if (!na && sa != sb) return sa > sb;
    return a < b;                      /* equal scores (or both NaN): lower id first */
}

/* Restore the heap below position i; heap[0] is the worst kept item. */
static void topk_sift_down(int32_t *heap, int len, int i, const float *scores) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < len && topk_better(scores[heap[w]], heap[w], scores[heap[l]], heap[l])) w = l;
        if (r < len && topk_better(scores[heap[w]], heap[w], scores[heap[r]], heap[r])) w = r;
        if (w == i) return;
        int32_t t = heap[i];
        heap[i] = heap[w];
        heap[w] = t;
        i = w;
    }
}

static void topk_sift_up(int32_t *heap, int i, const float *scores) {
    while (i > 0) {
        int p = (i - 1) / 2;
        /* parent must be worse than (or equal to) the child */
        if (!topk_better(scores[heap[p]], heap[p], scores[heap[i]], heap[i])) return;
        int32_t t = heap[i];
        heap[i] = heap[p];
        heap[p] = t;
        i = p;
    }
}

/* The caller owns every buffer; out needs room for k ids. The heap is built in out itself, then sorted
 * in place (best first) by popping the worst to the back. Returns the count (min(k, candidates)), 0 when
 * k <= 0 or n <= 0, CREC_EINVAL when scores or out is NULL while there is work to do. */
int crec_topk(const float *scores, int32_t n, const uint8_t *exclude, int k, int32_t *out) {
    if (k <= 0 || n <= 0) return 0;
    if (!scores || !out) return CREC_EINVAL;
    int len = 0;
    int32_t i = 0;
    for (; i < n && len < k; i++) { /* fill the heap with the first k candidates */
        if (exclude && exclude[i]) continue;
        out[len] = i;
        topk_sift_up(out, len, scores);
        len++;
    }
    if (len == k) {
        /* Full heap. Every kept id is below i, so an equal score never beats the root (lower id wins):
         * only a strictly higher score enters, or any number when the root is NaN. */
        float thr = scores[out[0]];
        int thr_nan = isnan(thr);
        for (; i < n; i++) {
            if (!thr_nan && (i & 15) == 0 && i + 16 <= n) {
                /* skip a block of 16 with one branch-free (vectorizable) test: the common case */
                int any = 0;
                for (int j = 0; j < 16; j++) any |= scores[i + j] > thr;
                if (!any) {
                    i += 15;
                    continue;
                }
            }
            float s = scores[i];
            if (!(s > thr) && !(thr_nan && !isnan(s))) continue;
            if (exclude && exclude[i]) continue;
            out[0] = i;
            topk_sift_down(out, len, 0, scores);
            thr = scores[out[0]];
            thr_nan = isnan(thr);
        }
    }
    /* heap sort: the worst goes to the end each time, leaving best-first order */
    for (int end = len - 1; end > 0; end--) {
        int32_t t = out[0];
        out[0] = out[end];
        out[end] = t;
        topk_sift_down(out, end, 0, scores);
    }
    return len;
}
