/*
 * Per-thread seccomp filters (syscall_filter.h). The allow lists of every
 * thread role are the tables below and nowhere else; docs/security.md
 * explains each entry.
 *
 * The file is built twice. With SYSFILTER_GENERATOR it is a build-time
 * tool: libseccomp turns each role's tables into a BPF program and the
 * tool prints them as C arrays (build/.../gen/syscall_filters.h). The
 * monitor includes those and loads its thread's program with one
 * seccomp(2) call: building a filter with libseccomp at run time costs
 * about 150 us per thread, a tenth of pvmm's start-up.
 *
 * Each thread loads its own filter (no TSYNC): the filters differ per
 * thread. A thread created after its creator loaded a filter inherits it
 * and adds its own; pvmm creates every thread before the main thread
 * loads its filter.
 */
#include "syscall_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "log.h"
#include "status.h"
#include "term.h"

#if defined(__SANITIZE_ADDRESS__)
#define PVMM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PVMM_SANITIZED 1
#endif
#endif

#define M (1u << SECCOMP_ROLE_MAIN)
#define V (1u << SECCOMP_ROLE_VCPU)
#define I (1u << SECCOMP_ROLE_IO)
#define T (1u << SECCOMP_ROLE_METRICS) /* the metrics Timer thread */
#define A (1u << SECCOMP_ROLE_API)
#define U (1u << SECCOMP_ROLE_VHOST_USER)
#define C (1u << SECCOMP_ROLE_CONSOLE_INPUT) /* reads the terminal, writes a pipe */
#define ALL (M | V | I | T | A | U | C)

struct sys_entry {
	const char *name;
	int nr;
	unsigned roles; /* allowed without argument checks in these roles; 0: a name for SIGSYS lines only */
};

#define S(name, roles) { #name, SYS_##name, roles }

/* The allow lists. ioctl, fcntl and socket are not here: their arguments
 * are checked (the tables after this one). */
static const struct sys_entry syscalls[] = {
	/* Every thread: memory (malloc, thread stacks), locks, clocks,
	 * signals, reading and writing descriptors it already has. */
	S(read, ALL), S(write, ALL), S(writev, ALL), S(close, ALL),
	S(futex, ALL), S(mmap, ALL), S(munmap, ALL), S(mprotect, ALL), S(madvise, ALL), S(brk, ALL),
	S(mremap, ALL),
	S(rt_sigreturn, ALL), S(rt_sigprocmask, ALL), S(restart_syscall, ALL),
	S(clock_gettime, ALL), S(clock_nanosleep, ALL), S(nanosleep, ALL), S(sched_yield, ALL),
	S(getpid, ALL), S(gettid, ALL), S(tgkill, ALL), S(exit, ALL), S(exit_group, ALL),
	S(poll, ALL), S(ppoll, ALL), S(fstat, ALL), S(newfstatat, ALL), S(lseek, ALL),
	S(getrusage, ALL), S(sigaltstack, ALL),
	/* Guest-driven device work: IDE on the vCPU, virtio-blk and -net on the I/O
	 * thread (io_uring or the synchronous path), device set-up from
	 * exits (epoll watches). pread64 also reads /proc/self/status and
	 * KVM's counters (stats.c) on the metrics and API threads. */
	S(readv, M | V | I | U), /* a tap's frames (net/tap.c) */
	/* A pause over the API (PATCH /vm, snapshots) quiesces the disks on
	 * the API thread: it waits for the requests in flight (io_uring) or
	 * runs what the synchronous engine has queued, so it needs the same
	 * disk calls as the I/O thread. */
	S(pread64, M | V | I | T | A | U), S(pwrite64, M | V | I | A | U), S(preadv, M | V | I | A | U),
	S(pwritev, M | V | I | A | U), S(preadv2, M | V | I | A | U), S(pwritev2, M | V | I | A | U),
	S(fdatasync, M | V | I | A | U), S(fsync, M | V | I | A | U), S(fallocate, M | V | I | A | U),
	S(io_uring_enter, M | V | I | A | U), S(epoll_ctl, M | V | I | U),
	S(getrandom, ALL), /* virtio-rng; json-c seeds its hash tables with it (the API) */
	S(epoll_wait, I | U), S(epoll_pwait, I | U),
	/* The supervisor: the --timeout timer around a pause, SIGSTOP for
	 * Ctrl-Z, the API socket's unlink at exit. */
	S(setitimer, M), S(kill, M), S(unlink, M | A | U), S(unlinkat, M | A | U),
	/* --net user: the pvmm-slirp helper reaped at teardown (also by
	 * pvmm vhost-user net's main thread). */
	S(wait4, M | U),
	/* --uid/--gid while the API or metrics thread runs: glibc has every
	 * thread make the call (it cannot regain anything once made). */
	S(setgroups, I | T | A | C), S(setresuid, I | T | A | C), S(setresgid, I | T | A | C),
	S(setuid, I | T | A | C), S(setgid, I | T | A | C),
	/* The API thread: PUT /logger and /metrics open their files (before
	 * InstanceStart), and connections on its listening socket. pvmm
	 * vhost-user (U, vhost_user/backend.c) has the I/O thread's device
	 * calls, the front ends on its listening socket, their messages with
	 * the memory and eventfds they pass (recvmsg, then mmap), and the
	 * socket's unlink at exit; nothing it does needs /dev/kvm. */
	S(openat, A),
	S(accept4, A | U), S(accept, A), S(recvmsg, A | U),
	S(shutdown, A), S(getsockopt, A), S(setsockopt, A | U), /* U: a connection's send and receive timeouts */
	/* PUT /snapshot/create (snapshot.c): the state file is written to a
	 * temporary name and renamed; the memory file sized, then written. */
	S(ftruncate, A), S(rename, A), S(renameat, A), S(renameat2, A),
	/* --net user: frames to and from the pvmm-slirp helper over the
	 * socket pair made at set-up (net/slirp.c). */
	S(recvfrom, M | V | I | A | U), S(sendmsg, M | V | I | A | U), S(sendto, M | V | I | A | U),
	/* Names only: calls no role may make, for the SIGSYS line. */
	S(open, 0), S(execve, 0), S(execveat, 0), S(socket, 0), S(connect, 0), S(bind, 0),
	S(listen, 0), S(clone, 0), S(clone3, 0), S(fork, 0), S(vfork, 0), S(ptrace, 0), S(mount, 0),
	S(ioctl, 0), S(fcntl, 0), S(chroot, 0), S(unshare, 0),
	S(process_vm_readv, 0), S(process_vm_writev, 0), S(memfd_create, 0), S(prctl, 0),
	S(seccomp, 0), S(kexec_load, 0), S(init_module, 0), S(bpf, 0), S(getcwd, 0),
	S(readlink, 0), S(io_uring_setup, 0), S(io_uring_register, 0), S(eventfd2, 0),
	S(epoll_create1, 0), S(dup, 0), S(dup2, 0), S(dup3, 0), S(pipe2, 0), S(statx, 0),
	S(access, 0), S(faccessat, 0), S(sched_getaffinity, 0), S(rseq, 0), S(set_robust_list, 0),
	S(uname, 0), S(sysinfo, 0),
};

struct arg_entry {
	const char *name;
	unsigned long value;
	unsigned roles;
};

#define R(value, roles) { #value, (unsigned long)(value), roles }

/* ioctl: only these requests. */
static const struct arg_entry ioctls[] = {
	/* The run loop and its exits (registers for reports, upcalls and the
	 * trap port; a secondary CPU's start; the PV MMU's CR3 reload). */
	R(KVM_RUN, M | V), R(KVM_GET_REGS, M | V), R(KVM_SET_REGS, M | V), R(KVM_GET_SREGS, M | V),
	R(KVM_SET_SREGS, M | V), R(KVM_SET_MP_STATE, M | V),
	/* A --kernel guest's int3 on a host without VT-x: #BP injected
	 * (linux_cpu.c). */
	R(KVM_GET_VCPU_EVENTS, M | V), R(KVM_SET_VCPU_EVENTS, M | V),
	/* Device work from exits: interrupt lines, a device's ioeventfds and
	 * irqfd as the guest sets it up, MSI-X routes as the guest writes
	 * its vectors, and re-registering the PV MMU pool's slot when it is
	 * recycled. */
	R(KVM_IRQ_LINE, M | V | I), R(KVM_IRQFD, M | V), R(KVM_IOEVENTFD, M | V), R(KVM_SET_GSI_ROUTING, M | V),
	R(KVM_SET_USER_MEMORY_REGION, M | V),
	/* The supervisor and the API (Pause, FlushMetrics): the clock while
	 * paused, KVM's counters. */
	R(KVM_GET_MSRS, M | A), R(KVM_GET_TSC_KHZ, M | A), R(KVM_HAS_DEVICE_ATTR, M | A),
	R(KVM_GET_DEVICE_ATTR, M | A), R(KVM_GET_STATS_FD, M | A),
	/* The API's snapshot of a paused VM (snapshot.c): every vCPU's and
	 * the VM's state, read; a pending exit completed with an
	 * immediate_exit KVM_RUN that does not enter the guest. */
	R(KVM_RUN, A), R(KVM_GET_REGS, A), R(KVM_GET_SREGS, A), R(KVM_GET_XSAVE, A), R(KVM_GET_XCRS, A),
	R(KVM_GET_DEBUGREGS, A), R(KVM_GET_VCPU_EVENTS, A), R(KVM_GET_MP_STATE, A), R(KVM_GET_LAPIC, A),
	R(KVM_GET_MSR_INDEX_LIST, A), R(KVM_GET_API_VERSION, A), R(KVM_GET_CLOCK, A), R(KVM_GET_IRQCHIP, A),
	/* The terminal: stdio's check of a console, the console's size.
	 * A raw console's settings go back on every way out, from whichever
	 * thread takes it (the SIGSYS handler, SIGCONT's re-raw): TCSETS,
	 * and TIOCGPGRP to see that pvmm is in the foreground (term.c). */
	R(TCGETS, M | V | I | T | A | U | C), R(TIOCGWINSZ, M | V | I | U), R(TCSETS, ALL), R(TIOCGPGRP, ALL),
};

/* fcntl: descriptor and status flags only (no F_DUPFD, no locks, no
 * F_SETOWN/F_SETSIG). */
static const struct arg_entry fcntls[] = {
	R(F_GETFD, ALL), R(F_SETFD, ALL), R(F_GETFL, ALL), R(F_SETFL, ALL),
	/* pvmm vhost-user: a front end's memory fd must not shrink under it. */
	R(F_GET_SEALS, U),
};

/* socket() is in no role's list: the API socket listens before its
 * thread starts, and nothing creates a socket once the VM runs. */

#ifdef SYSFILTER_GENERATOR
/* ---- the build-time generator ------------------------------------------- */
#include <seccomp.h>

static int add_arg_rules(scmp_filter_ctx ctx, int nr, const struct arg_entry *table, size_t n, unsigned bit,
			 unsigned arg)
{
	for (size_t i = 0; i < n; i++) {
		if (!(table[i].roles & bit))
			continue;
		/* The kernel reads ioctl's and fcntl's command as an int: compare the low 32 bits. */
		struct scmp_arg_cmp cmp = SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, 0xffffffffUL, table[i].value & 0xffffffffUL);
		int ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* One role's program (roles: a mask of them), printed as a C array. */
static int emit(const char *name, unsigned bit)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int ret = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]) && ret == 0; i++)
		if (syscalls[i].roles & bit)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, syscalls[i].nr, 0);
	/* openat elsewhere fails rather than kills: glibc's malloc reads
	 * /proc/sys/vm/overcommit_memory when it shrinks a thread's arena, and
	 * copes with not being able to. Nothing gets opened either way. */
	if (ret == 0 && !(bit & A))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SYS_openat, 0);
	if (ret == 0)
		ret = add_arg_rules(ctx, SYS_ioctl, ioctls, sizeof(ioctls) / sizeof(ioctls[0]), bit, 1);
	if (ret == 0)
		ret = add_arg_rules(ctx, SYS_fcntl, fcntls, sizeof(fcntls) / sizeof(fcntls[0]), bit, 1);
	/* The filter must not be escaped by a 32-bit system call. */
	if (ret == 0)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* A binary tree over the call numbers rather than a chain: fewer
	 * instructions per call, and the kernel runs the program once for
	 * every call number when it loads it (its allow-cache). */
	if (ret == 0)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	FILE *tmp = ret == 0 ? tmpfile() : NULL;
	if (ret == 0 && !tmp)
		ret = -errno;
	if (ret == 0)
		ret = seccomp_export_bpf(ctx, fileno(tmp));
	if (ctx)
		seccomp_release(ctx);
	if (ret < 0) {
		fprintf(stderr, "gen_filters: %s: %s\n", name, strerror(-ret));
		return -1;
	}
	struct sock_filter insn;
	unsigned n = 0;
	rewind(tmp);
	printf("static const struct sock_filter filter_%s[] = {\n", name);
	while (fread(&insn, sizeof(insn), 1, tmp) == 1) {
		printf("\t{ %#x, %u, %u, %#x },\n", insn.code, insn.jt, insn.jf, insn.k);
		n++;
	}
	printf("};\n\n");
	fclose(tmp);
	return n ? 0 : -1;
}

int main(void)
{
	printf("/* Generated at build time from src/syscall_filter.c's tables by libseccomp; do not edit. */\n\n");
	if (emit("main", M) || emit("main_vcpu", M | V) || emit("vcpu", V) || emit("io", I) || emit("metrics", T) ||
	    emit("api", A) || emit("vhost_user", U) || emit("console_input", C))
		return 1;
	return 0;
}

#else
/* ---- the monitor ---------------------------------------------------------- */
#include "syscall_filters.h" /* generated */

#define PROG(f) { .len = sizeof(f) / sizeof(f[0]), .filter = (struct sock_filter *)(f) }

/* Indexed by role; main with vCPU 0 on it is the last. */
static const struct sock_fprog programs[SECCOMP_ROLE_COUNT + 1] = {
	[SECCOMP_ROLE_MAIN] = PROG(filter_main),       [SECCOMP_ROLE_VCPU] = PROG(filter_vcpu),
	[SECCOMP_ROLE_IO] = PROG(filter_io),           [SECCOMP_ROLE_METRICS] = PROG(filter_metrics),
	[SECCOMP_ROLE_API] = PROG(filter_api),         [SECCOMP_ROLE_VHOST_USER] = PROG(filter_vhost_user),
	[SECCOMP_ROLE_CONSOLE_INPUT] = PROG(filter_console_input), [SECCOMP_ROLE_COUNT] = PROG(filter_main_vcpu),
};

static const char *const role_names[SECCOMP_ROLE_COUNT] = {
	[SECCOMP_ROLE_MAIN] = "main",  [SECCOMP_ROLE_VCPU] = "vcpu", [SECCOMP_ROLE_IO] = "io",
	[SECCOMP_ROLE_METRICS] = "metrics", [SECCOMP_ROLE_API] = "api", [SECCOMP_ROLE_VHOST_USER] = "vhost-user",
	[SECCOMP_ROLE_CONSOLE_INPUT] = "console-input",
};

static bool enabled; /* run_command turns it on: `pvmm vhost-user` and the unit tests run unfiltered */
static __thread int thread_role = -1;

void sysfilter_set_enabled(bool on)
{
	enabled = on;
}

bool sysfilter_enabled(void)
{
	return enabled;
}

const char *sysfilter_role_name(enum sysfilter_role role)
{
	return role < SECCOMP_ROLE_COUNT ? role_names[role] : "?";
}

/* ---- SIGSYS: one line, then a defined status --------------------------- */

static char *put_str(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *put_num(char *p, char *end, long n)
{
	char digits[24];
	int k = 0;
	unsigned long u = n < 0 ? (unsigned long)-n : (unsigned long)n;

	if (n < 0 && p < end)
		*p++ = '-';
	do
		digits[k++] = (char)('0' + u % 10);
	while ((u /= 10) && k < (int)sizeof(digits));
	while (k && p < end)
		*p++ = digits[--k];
	return p;
}

static char *put_hex(char *p, char *end, unsigned long u)
{
	char digits[16];
	int k = 0;

	p = put_str(p, end, "0x");
	do
		digits[k++] = "0123456789abcdef"[u & 15];
	while ((u >>= 4) && k < (int)sizeof(digits));
	while (k && p < end)
		*p++ = digits[--k];
	return p;
}

/* Async-signal-safe: a static table, write(2), _exit(2). */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[192], *p = line, *end = line + sizeof(line) - 1;
	const char *name = NULL;
	int role = thread_role;
	static int reported;

	(void)sig;
	/* One line however many threads trip: the others wait for _exit. */
	if (__atomic_exchange_n(&reported, 1, __ATOMIC_SEQ_CST))
		for (;;) {
			struct timespec t = { 1, 0 };
			nanosleep(&t, NULL);
		}
	for (size_t i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]); i++)
		if (syscalls[i].nr == si->si_syscall)
			name = syscalls[i].name;
	p = put_str(p, end, "pvmm: seccomp: the ");
	p = put_str(p, end, role >= 0 ? role_names[role] : "unfiltered");
	p = put_str(p, end, " thread made a forbidden system call ");
	p = put_str(p, end, name ? name : "#");
	if (!name)
		p = put_num(p, end, si->si_syscall);
	else {
		p = put_str(p, end, " (");
		p = put_num(p, end, si->si_syscall);
		p = put_str(p, end, ")");
	}
	if (si->si_syscall == SYS_ioctl || si->si_syscall == SYS_fcntl || si->si_syscall == SYS_socket) {
		const ucontext_t *u = uc;
		unsigned long arg = (unsigned long)(si->si_syscall == SYS_socket ? u->uc_mcontext.gregs[REG_RDI]
									 : u->uc_mcontext.gregs[REG_RSI]);
		const struct arg_entry *t = si->si_syscall == SYS_ioctl ? ioctls : fcntls;
		size_t n = si->si_syscall == SYS_ioctl ? sizeof(ioctls) / sizeof(ioctls[0])
						       : si->si_syscall == SYS_fcntl ? sizeof(fcntls) / sizeof(fcntls[0]) : 0;
		p = put_str(p, end, si->si_syscall == SYS_socket ? " family " : " command ");
		p = put_hex(p, end, arg);
		/* A listed command another role may use: name it. */
		for (size_t i = 0; i < n; i++)
			if ((t[i].value & 0xffffffffUL) == (arg & 0xffffffffUL)) {
				p = put_str(p, end, " (");
				p = put_str(p, end, t[i].name);
				p = put_str(p, end, ")");
				break;
			}
	}
	p = put_str(p, end, "; stopped the VM\n");
	term_restore(); /* a raw terminal back as it was */
	if (write(2, line, (size_t)(p - line)) < 0) {
		/* nowhere left to say it */
	}
	_exit(PVMM_STATUS_SANDBOX);
}

int sysfilter_install_handler(void)
{
	static bool installed;
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	if (installed)
		return 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -1;
	installed = true;
	return 0;
}

/* PVMM_TEST_SECCOMP_TRIP=ROLE (tests only): that thread makes a call its
 * filter forbids right after loading it, to prove the filter is there. */
static void test_trip(enum sysfilter_role role)
{
	const char *want = getenv("PVMM_TEST_SECCOMP_TRIP");
	if (want && strcmp(want, role_names[role]) == 0)
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
}

int sysfilter_enter(enum sysfilter_role role, bool main_runs_vcpu)
{
	const struct sock_fprog *prog = &programs[role == SECCOMP_ROLE_MAIN && main_runs_vcpu ? SECCOMP_ROLE_COUNT : role];
	sigset_t sys;

	if (!enabled)
		return 0;
#ifdef PVMM_SANITIZED
	/* LeakSanitizer's check at exit runs on the main thread and
	 * ptrace-attaches every thread from a clone: the sanitizer build
	 * leaves the main thread unfiltered (docs/security.md). */
	if (role == SECCOMP_ROLE_MAIN || (role == SECCOMP_ROLE_VHOST_USER && gettid() == getpid()))
		return 0;
#endif
	if (sysfilter_install_handler() < 0) {
		log_error("seccomp: cannot install the SIGSYS handler: %s", strerror(errno));
		return -1;
	}
	/* A blocked SIGSYS would kill the process without the handler's line. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);

	thread_role = (int)role;
	/* No new privileges: what lets an unprivileged process load a
	 * filter, and nothing pvmm needs (it never execs). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0) {
		thread_role = -1;
		log_error("seccomp: cannot load the %s thread's filter: %s (--seccomp off runs without, unsafely)",
			  role_names[role], strerror(errno));
		return -1;
	}
	test_trip(role);
	return 0;
}

#endif /* SYSFILTER_GENERATOR */
