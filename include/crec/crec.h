/* crec.h: the umbrella header of libcrec. Include this one. */
#ifndef CREC_CREC_H
#define CREC_CREC_H
#include "crec/common.h"
#include "crec/dataset.h"
#include "crec/split.h"
#include "crec/eval.h"
#include "crec/pointwise.h"
#include "crec/model.h"
#include "crec/rank.h"
#include "crec/online.h"
#include "crec/service.h"
#include "crec/fetch.h"
#include "crec/blas.h"
#endif
