/* <assert.h> for pvmm guests: a failed assert aborts the VM with
 * "file:line: function: assertion `expr' failed". NDEBUG turns it off. */
#undef assert
#ifdef NDEBUG
#define assert(expr) ((void)0)
#else
#define assert(expr) \
	((expr) ? (void)0 : __pvmm_assert_fail(#expr, __FILE__, __LINE__, __func__))
#endif

#ifndef PVMM_ASSERT_H
#define PVMM_ASSERT_H
__attribute__((noreturn)) void __pvmm_assert_fail(const char *expr, const char *file,
						  int line, const char *func);
#define static_assert _Static_assert
#endif
