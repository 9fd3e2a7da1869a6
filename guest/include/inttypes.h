/*
 * <inttypes.h> for pvmm guests: printf format macros for <stdint.h>'s
 * types (x86-64: int64_t is long, intptr_t is long). No scanf, so no SCN*.
 */
#ifndef PVMM_INTTYPES_H
#define PVMM_INTTYPES_H

#include <stdint.h>

#define PRId8   "d"
#define PRId16  "d"
#define PRId32  "d"
#define PRId64  "ld"
#define PRIi8   "i"
#define PRIi16  "i"
#define PRIi32  "i"
#define PRIi64  "li"
#define PRIu8   "u"
#define PRIu16  "u"
#define PRIu32  "u"
#define PRIu64  "lu"
#define PRIo8   "o"
#define PRIo16  "o"
#define PRIo32  "o"
#define PRIo64  "lo"
#define PRIx8   "x"
#define PRIx16  "x"
#define PRIx32  "x"
#define PRIx64  "lx"
#define PRIX8   "X"
#define PRIX16  "X"
#define PRIX32  "X"
#define PRIX64  "lX"

#define PRIdMAX "jd"
#define PRIiMAX "ji"
#define PRIuMAX "ju"
#define PRIxMAX "jx"
#define PRIXMAX "jX"
#define PRIdPTR "ld"
#define PRIiPTR "li"
#define PRIuPTR "lu"
#define PRIxPTR "lx"
#define PRIXPTR "lX"

#define PRIdLEAST64 PRId64
#define PRIuLEAST64 PRIu64
#define PRIxLEAST64 PRIx64
#define PRIdFAST64  PRId64
#define PRIuFAST64  PRIu64
#define PRIxFAST64  PRIx64

#endif /* PVMM_INTTYPES_H */
