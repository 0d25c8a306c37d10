/* real.h: the template switch of the neural core. Included (no guard) before each instantiation of a kernel
 * template (*.inc): without NN_DOUBLE it names float kernels crec__nn_<op> that use cblas_sgemm and the fast
 * vectorisable crec__nn_expf; with NN_DOUBLE it names double kernels crec__nn_<op>_d that use cblas_dgemm and
 * libm, for the finite-difference gradient checks. Template-local helpers are named through NN() too. */
#undef R
#undef NN
#undef GEMM
#undef EXP
#undef LOG
#undef SQRT
#undef TANH
#undef ERF
#undef FABS
#undef LOG1P
#undef RMAX
#ifdef NN_DOUBLE
#define R double
#define NN(name) crec__nn_##name##_d
#define GEMM cblas_dgemm
#define EXP exp
#define LOG log
#define SQRT sqrt
#define TANH tanh
#define ERF erf
#define FABS fabs
#define LOG1P log1p
#define RMAX DBL_MAX
#else
#define R float
#define NN(name) crec__nn_##name
#define GEMM cblas_sgemm
#define EXP crec__nn_expf
#define LOG logf
#define SQRT sqrtf
#define TANH tanhf
#define ERF crec__nn_erff
#define FABS fabsf
#define LOG1P log1pf
#define RMAX FLT_MAX
#endif
