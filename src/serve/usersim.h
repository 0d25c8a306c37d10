/* usersim.h: similar users from a model's learned user vectors (GET /v1/users/{id}/similar): the cosine between
 * the user's vector and every other user's, best first, through the model interface's user_vector hook.
 *
 * The one idea: the model already placed every user in one space, so neighbours there are what it learned about
 * taste (not only the items two histories share); a model without the hook, or a user without a vector, leaves
 * the caller to the histories' overlap (store.h, crec_store_similar_users). Pure: model + rank layer only. */
#ifndef CREC_SERVE_USERSIM_H
#define CREC_SERVE_USERSIM_H

#include "crec/model.h"

/* Candidates a caller accepts (a user still in the store): nonzero keeps dense user u. */
typedef int (*crec__usersim_keep)(void *ctx, int32_t u);

/* The k users (dense ids, never `user`, never one with no vector or a zero vector) with the largest cosine to
 * user's vector, best first (ties to the lower id), each passing keep (may be NULL) - into out[k] and cos[k].
 * Returns how many (>= 0); 0 with *has_vec = 0 when user has no vector; CREC_EUNSUPPORTED when the model offers
 * no user vectors; CREC_ERANGE for a user outside the model; CREC_ENOMEM. O(users x dim) per call. */
int crec__usersim_top(const crec_model *m, int32_t user, int k, crec__usersim_keep keep, void *ctx, int32_t *out,
                      float *cos, int *has_vec);
#endif
