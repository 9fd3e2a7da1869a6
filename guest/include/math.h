/*
 * <math.h> for pvmm guests: double-precision functions from
 * runtime/math.c (in libpvmm.a; -lm is accepted and not needed).
 *
 * Floating point needs SSE, so code using these runs at CPL3 (`pvmm run
 * --ring 3`) or on hosts with VT-x; see guest/README.md. Accuracy, checked
 * against glibc by tests/unit/test_libm.c: sqrt fabs floor ceil trunc fmod
 * are exact (correctly rounded); exp log log2 log10 sin cos tan pow within a few ulp
 * (the bounds are in runtime/math.c). errno is never set: a domain error
 * returns NaN, an overflow +-HUGE_VAL.
 */
#ifndef PVMM_MATH_H
#define PVMM_MATH_H

#define HUGE_VAL  (__builtin_huge_val())
#define INFINITY  (__builtin_inff())
#define NAN       (__builtin_nanf(""))

#define M_E        2.7182818284590452354
#define M_LOG2E    1.4426950408889634074
#define M_LOG10E   0.43429448190325182765
#define M_LN2      0.69314718055994530942
#define M_LN10     2.30258509299404568402
#define M_PI       3.14159265358979323846
#define M_PI_2     1.57079632679489661923
#define M_PI_4     0.78539816339744830962
#define M_1_PI     0.31830988618379067154
#define M_2_PI     0.63661977236758134308
#define M_SQRT2    1.41421356237309504880
#define M_SQRT1_2  0.70710678118654752440

#define isnan(x)    __builtin_isnan(x)
#define isinf(x)    __builtin_isinf(x)
#define isfinite(x) __builtin_isfinite(x)
#define signbit(x)  __builtin_signbit(x)

double sqrt(double x);
double fabs(double x);
double floor(double x);
double ceil(double x);
double trunc(double x);
double round(double x);   /* halfway cases away from zero */
double fmod(double x, double y);
double exp(double x);
double log(double x);
double log2(double x);
double log10(double x);
double pow(double x, double y);
double sin(double x);
double cos(double x);
double tan(double x);

#endif /* PVMM_MATH_H */
