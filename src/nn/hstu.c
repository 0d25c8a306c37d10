/* hstu.c: the kernels of the HSTU layer (Zhai et al. 2024, "Actions Speak Louder than Words"), compiled in float
 * and double from hstu.inc: an affine-free layer norm, the pointwise attention A = SiLU(Q K^T + rab_pos +
 * rab_time) / n under a causal mask (no softmax), and the gate U * LayerNorm(A V). The one idea: the attention
 * weights are not normalised over keys, so each query's row is independent of the others' and the bias
 * gradients are plain sums of d(logit) over the pairs that use each bias.
 * Two attentions: nn.h's per-pair one (the reference, and the oracle of the tests) and hstu.h's tiled one that
 * the model trains with (BLAS products per query tile, the time buckets once per batch by an integer log). */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "nn/hstu.h"
#include "nn/nn.h"

int crec__nn_hstu_tile = CREC_NN_HSTU_TILE;

int crec__nn_hstu_bucket(int64_t tq, int64_t tk) {
    uint64_t dt = tq >= tk ? (uint64_t)tq - (uint64_t)tk : (uint64_t)tk - (uint64_t)tq; /* exact, no overflow */
    if (dt <= 1) return 0;
    int b = (int)floor(log((double)dt) / 0.301);
    return b < 0 ? 0 : b > CREC_NN_HSTU_BUCKETS - 1 ? CREC_NN_HSTU_BUCKETS - 1 : b;
}

/* BKT_FIRST[b]: the smallest dt >= 2 whose bucket by the formula above is >= b (b = 1 .. 128), found by bisection
 * on crec__nn_hstu_bucket itself (tests/unit/test_hstu.c checks dt and dt - 1 for each against it); 129 .. 131:
 * no dt, so that bucket_row's three steps past the last bucket stay there. */
static const uint64_t BKT_FIRST[CREC_NN_HSTU_BUCKETS + 3] = {
    0u, 2u, 2u, 3u, 4u, 5u, 7u, 9u, 12u, 16u, 21u, 28u, 38u, 51u, 68u, 92u, 124u, 167u, 226u, 305u, 412u, 557u,
    752u, 1016u, 1372u, 1854u, 2505u, 3385u, 4574u, 6180u, 8350u, 11283u, 15245u, 20600u, 27834u, 37610u, 50818u,
    68666u, 92782u, 125367u, 169397u, 228891u, 309280u, 417902u, 564672u, 762990u, 1030960u, 1393042u, 1882291u,
    2543369u, 3436624u, 4643598u, 6274473u, 8478127u, 11455724u, 15479081u, 20915478u, 28261189u, 38186783u,
    51598337u, 69720155u, 94206525u, 127292737u, 171999135u, 232406837u, 314030289u, 424320660u, 573346040u,
    774710524u, 1046796097u, 1414440665u, 1911205440u, 2582438644u, 3489415219u, 4714930440u, 6370858056u,
    8608362918u, 11631700390u, 15716862225u, 21236771058u, 28695323438u, 38773389087u, 52390965538u,
    70791162047u, 95653679456u, 129248145233u, 174641301215u, 235976957620u, 318854269524u, 430838867570u,
    582153502558u, 786611250865u, 1062876470327u, 1436168615607u, 1940564449431u, 2622108811928u,
    3543017921206u, 4787358912370u, 6468724083690u, 8740600409714u, 11810380924256u, 15958297031977u,
    21563000024645u, 29136127064885u, 39369007066311u, 53195770115075u, 71878621509799u, 97123064840915u,
    131233592491847u, 177324056098576u, 239601921079807u, 323752354013490u, 437457205087951u,
    591096262037947u, 798694791013878u, 1079203862655707u, 1458230340644293u, 1970374458392736u,
    2662388374508177u, 3597444042437669u, 4860899995802034u, 6568093482609822u, 8874869269797366u,
    11991806262278891u, 16203440643505230u, 21894240362561062u, 29583702103771238u, 39973774639893333u,
    54012937709959404u, UINT64_MAX, UINT64_MAX, UINT64_MAX};
/* BKT_POW2[p]: the bucket of 2^p by the formula; a dt in [2^p, 2^(p+1)) lies at most 3 buckets above it. */
static const uint32_t BKT_POW2[64] = {0,   2,   4,   6,   9,   11,  13,  16,  18,  20,  23,  25,  27,  29,  32,  34,
                                     36,  39,  41,  43,  46,  48,  50,  52,  55,  57,  59,  62,  64,  66,  69,  71,
                                     73,  75,  78,  80,  82,  85,  87,  89,  92,  94,  96,  99,  101, 103, 105, 108,
                                     110, 112, 115, 117, 119, 122, 124, 126, 128, 128, 128, 128, 128, 128, 128, 128};

static inline int bucket_of(uint64_t dt) {
    if (dt <= 1) return 0;
    int b = BKT_POW2[63 - __builtin_clzll(dt)];
    while (b < CREC_NN_HSTU_BUCKETS - 1 && dt >= BKT_FIRST[b + 1]) b++;
    return b;
}

int crec__nn_hstu_bucket_fast(int64_t tq, int64_t tk) {
    return bucket_of(tq >= tk ? (uint64_t)tq - (uint64_t)tk : (uint64_t)tk - (uint64_t)tq);
}

/* row[i] = bucket of dt = q - kt[i] >= 0 for i < n, without a branch per pair: the bucket of dt's power of two,
 * then at most three steps up the thresholds (as bucket_of; dt 0 takes 1's power, both bucket 0). Vectorises (gathers)
 * where the target has them. */
CREC_NN_HOT512 static void bucket_row(uint8_t *row, const int64_t *kt, int64_t q, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) {
        uint64_t dt = (uint64_t)(q - kt[i]);
        uint32_t b = BKT_POW2[63 - __builtin_clzll(dt | 1u)];
        b += dt >= BKT_FIRST[b + 1];
        b += dt >= BKT_FIRST[b + 1];
        b += dt >= BKT_FIRST[b + 1];
        row[i] = (uint8_t)b;
    }
}

/* Whether row t's dt = tq[t] - tk[t2] never shrinks as t2 goes back from t: keys in time order, and each query time
 * at or after its own key (the case of time-ordered histories; equal times are fine). */
static int times_ordered(const int64_t *tk, const int64_t *tq, int T) {
    for (int t = 0; t < T; t++)
        if (tq[t] < tk[t] || (t > 0 && tk[t] < tk[t - 1])) return 0;
    return 1;
}

void crec__nn_hstu_buckets(uint8_t *bkt, const int64_t *tk, const int64_t *tq, const int32_t *seq_off,
                           const int64_t *att_off, int B, int H) {
#pragma omp parallel for schedule(dynamic, 4) if (seq_off[B] > 256)
    for (int b = 0; b < B; b++) {
        int o = seq_off[b], T = seq_off[b + 1] - seq_off[b];
        uint8_t *bb = bkt + att_off[b] / H;
        if (times_ordered(tk + o, tq + o, T)) {
            /* dt = tq - tk >= 0 for every pair: no absolute value, one branch-free pass per row */
            for (int t = 0; t < T; t++) bucket_row(bb + (size_t)t * T, tk + o, tq[o + t], t + 1);
        } else
            for (int t = 0; t < T; t++)
                for (int t2 = 0; t2 <= t; t2++)
                    bb[(size_t)t * T + t2] = (uint8_t)crec__nn_hstu_bucket_fast(tq[o + t], tk[o + t2]);
    }
}

#include "nn/real.h"
#include "nn/hstu.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/hstu.inc"
