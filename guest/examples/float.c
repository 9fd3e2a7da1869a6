/* Doubles, <math.h> and printf("%f"): values everyone knows.
 *   build/pvmm run --ring 3 build/examples/float.elf
 * Floating point needs SSE: the program runs at CPL3 (--ring 3), or at
 * CPL0 on a host with VT-x. (KVM's instruction emulator, which runs CPL0
 * code on hosts without VT-x, has no SSE.) Exit status: the number of
 * values that differ from what they should be. */
#include <math.h>
#include <stdio.h>

struct check {
	const char *expr;
	double got, want, tol; /* |got - want| <= tol */
};

int main(void)
{
	const struct check checks[] = {
		{ "sqrt(2)", sqrt(2.0), 1.4142135623730951, 0 },
		{ "exp(1)", exp(1.0), 2.718281828459045, 0 },
		{ "log(10)", log(10.0), 2.302585092994046, 0 },
		{ "pow(2, 0.5)", pow(2.0, 0.5), 1.4142135623730951, 0 },
		{ "pow(2, 10)", pow(2.0, 10.0), 1024.0, 0 },
		{ "cos(pi/3)", cos(M_PI / 3), 0.5, 1e-15 },
		{ "sin(pi/6)", sin(M_PI / 6), 0.5, 1e-15 },
		{ "sin(pi)", sin(M_PI), 0.0, 1e-15 },
		{ "floor(-2.5)", floor(-2.5), -3.0, 0 },
		{ "ceil(-2.5)", ceil(-2.5), -2.0, 0 },
		{ "fabs(-0.125)", fabs(-0.125), 0.125, 0 },
		{ "fmod(10, 3)", fmod(10.0, 3.0), 1.0, 0 },
	};
	int bad = 0;
	for (unsigned i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct check *c = &checks[i];
		int ok = fabs(c->got - c->want) <= c->tol;
		printf("%-12s = %.15f  %s\n", c->expr, c->got, ok ? "ok" : "WRONG");
		bad += !ok;
	}
	/* The conversions themselves, against their C-standard spelling. */
	char buf[128];
	snprintf(buf, sizeof(buf), "%.3f %e %g %g %.2f", M_PI, 1234.5, 0.0001, 1e20, 2.675);
	printf("formatted: %s\n", buf);
	const char *want = "3.142 1.234500e+03 0.0001 1e+20 2.67";
	for (unsigned i = 0; buf[i] || want[i]; i++)
		if (buf[i] != want[i]) {
			printf("WRONG formatting, want: %s\n", want);
			bad++;
			break;
		}
	return bad;
}
