/* feat.h: item features for content-aware models: each item's list of feature ids, from its attributes and the
 * lowercased words of its title and text.
 *
 * The one idea: a feature is worth an embedding only if it can be learned and can transfer, so only features
 * carried by at least one item with training events are kept (tokens capped to the most frequent); an item with
 * no interactions (a cold item) is then described by the kept features it shares with trained items. */
#ifndef CREC_MODELS_FEAT_H
#define CREC_MODELS_FEAT_H

#include "crec/dataset.h"

typedef struct crec_feat {
    int32_t n_items;
    int32_t n_feats;   /* feature ids: [0, n_attrs) attributes, [n_attrs, n_feats) tokens */
    int32_t n_attrs, n_tokens;
    int64_t *ptr;      /* [n_items + 1] */
    int32_t *idx;      /* features of item i: idx[ptr[i] .. ptr[i+1]), ascending, distinct */
} crec_feat;

/* Build the item x feature lists of ds's first n_items items. trained[i] != 0 marks items with training events.
 * use_attrs / use_text choose the sources; max_tokens caps the token vocabulary (most trained items first, ties by
 * first appearance). ds may be NULL or carry no metadata: every list is then empty. The token vocabulary is built
 * here and freed before returning (a model stores what it derives from the features, not the words).
 * Returns 0 or CREC_ENOMEM (f zeroed). Free with crec__feat_free. */
int crec__feat_build(crec_feat *f, const crec_dataset *ds, int32_t n_items, const uint8_t *trained, int use_attrs,
                     int use_text, int32_t max_tokens);
void crec__feat_free(crec_feat *f);

/* Call fn(tok, len, ud) for each word of s: maximal runs of ASCII letters/digits and non-ASCII bytes, lowercased
 * into a scratch buffer (words longer than 63 bytes are cut); single-character ASCII words are skipped.
 * Returns the number of words. */
int crec__tokenize(const char *s, void (*fn)(const char *tok, size_t len, void *ud), void *ud);

#endif
