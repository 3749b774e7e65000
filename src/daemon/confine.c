/* SPDX-License-Identifier: MIT */
/* Confinement after set-up: fd limit, capabilities, Landlock, seccomp. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/sockios.h>
#include <linux/landlock.h>

#ifdef HAVE_SECCOMP
#include <seccomp.h>
#endif
#ifdef HAVE_KVM
#include <linux/kvm.h>
#endif
#ifdef HAVE_XEN
#include <xen/xen.h>
#include <xen/sys/evtchn.h>
#include <xen/sys/privcmd.h>
#endif

#include "common/log.h"
#include "daemon/confine.h"

/* ---- fd limit ------------------------------------------------------------ */

unsigned long
confine_nofile_now(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	return rl.rlim_cur == RLIM_INFINITY ? (unsigned long)-1 :
	    (unsigned long)rl.rlim_cur;
}

unsigned long
confine_nofile(unsigned long need)
{
	struct rlimit rl, want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		want.rlim_cur = need;
		want.rlim_max = rl.rlim_max != RLIM_INFINITY &&
		    rl.rlim_max < need ? need : rl.rlim_max;
		/* Raising the hard limit needs CAP_SYS_RESOURCE: else to it. */
		if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
			want.rlim_cur = rl.rlim_max;
			want.rlim_max = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &want);
		}
	}
	return confine_nofile_now();
}

/* ---- Capabilities -------------------------------------------------------- */

int
confine_bounding(void)
{
	int n = 0;

	for (unsigned long cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break;		/* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
		n++;
	}
	return n > 0 ? 0 : -EINVAL;
}

/* Root without a user keeps uid 0 but no capability at all. */
static int
drop_all_caps(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

/* ---- Landlock ------------------------------------------------------------ */

/* Rights of later ABIs, for headers older than the running kernel. */
#define LL_REFER	(1ULL << 13)	/* ABI 2 */
#define LL_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#define LL_IOCTL_DEV	(1ULL << 15)	/* ABI 5 */
#define LL_ABI1_ALL	((1ULL << 13) - 1)

struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
};

struct ll_path_beneath {
	uint64_t	allowed_access;
	int32_t		parent_fd;
} __attribute__((packed));

static int
ll_add(int rfd, const char *path, uint64_t access, uint64_t handled)
{
	struct ll_path_beneath pb;
	int fd, rc = 0;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb,
	    0) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int
ll_add_parent(int rfd, const char *path, uint64_t access, uint64_t handled)
{
	char dir[4096];
	char *slash;
	int rc;

	if (path == NULL || path[0] == '\0')
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	rc = ll_add(rfd, dir, access, handled);
	if (rc < 0)
		log_warnx("Landlock: %s: %s", dir, strerror(-rc));
	return rc;
}

static int
landlock(const struct confine_cfg *cc)
{
	struct ll_ruleset_attr ra;
	uint64_t handled, dir_rights, file_rights;
	int abi, rfd, rc = 0;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		log_warnx("Landlock is not available (%s): the filesystem is "
		    "confined by file modes only", strerror(errno));
		return 0;
	}
	handled = LL_ABI1_ALL;
	if (abi >= 2)
		handled |= LL_REFER;
	if (abi >= 3)
		handled |= LL_TRUNCATE;
	if (abi >= 5)
		handled |= LL_IOCTL_DEV;
	/* The state file is written to a temporary name and renamed. */
	file_rights = LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LL_TRUNCATE;
	dir_rights = file_rights | LANDLOCK_ACCESS_FS_READ_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK;
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = handled;
	rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra), 0);
	if (rfd < 0) {
		rc = -errno;
		log_warnx("Landlock: creating the ruleset: %s", strerror(errno));
		return rc;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cc->cc_dirs) && rc == 0; i++)
		if (cc->cc_dirs[i] != NULL && (rc = ll_add(rfd, cc->cc_dirs[i],
		    dir_rights, handled)) < 0)
			log_warnx("Landlock: %s: %s", cc->cc_dirs[i],
			    strerror(-rc));
	/*
	 * Rules hold inodes: an edited file is usually a new one renamed over
	 * the old, so the right is on the directory that holds it.
	 */
	for (size_t i = 0; i < ARRAY_SIZE(cc->cc_read) && rc == 0; i++)
		rc = ll_add_parent(rfd, cc->cc_read[i],
		    LANDLOCK_ACCESS_FS_READ_FILE, handled);
	for (size_t i = 0; i < ARRAY_SIZE(cc->cc_remove) && rc == 0; i++)
		rc = ll_add_parent(rfd, cc->cc_remove[i],
		    LANDLOCK_ACCESS_FS_REMOVE_FILE, handled);
	if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		rc = -errno;
	if (rc == 0 && syscall(SYS_landlock_restrict_self, rfd, 0) < 0) {
		rc = -errno;
		log_warnx("Landlock: restricting: %s", strerror(errno));
	}
	close(rfd);
	if (rc == 0)
		log_info("Landlock (ABI %d): files only in %s%s%s", abi,
		    cc->cc_dirs[0] != NULL ? cc->cc_dirs[0] : "",
		    cc->cc_dirs[1] != NULL ? " and " : "",
		    cc->cc_dirs[1] != NULL ? cc->cc_dirs[1] : "");
	return rc;
}

/* ---- seccomp ------------------------------------------------------------- */

/* glibc's thread-cancellation signal (SIGRTMIN - 2 as the kernel counts). */
#define SIGCANCEL_NR	32

/*
 * pthread_cancel() (libxenstore's xs_close() cancels its reader thread)
 * loads libgcc_s for unwinding on first use: a file outside Landlock's
 * rules and an executable mapping the filter refuses.  Load it while
 * both are still possible; glibc's own dlopen then finds it loaded.
 */
static void
preload_unwinder(void)
{
	if (dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE) == NULL)
		log_warnx("libgcc_s.so.1 not loaded (%s): stopping may fail "
		    "under the filter", dlerror());
}

/*
 * Why a filter cannot run: the sanitizer and valgrind runtimes make
 * system calls of their own at any moment (shadow memory, reports,
 * emulation) that the serving loop's allowlist does not have.
 */
static bool
asan_build(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return true;
#else
	return false;
#endif
#else
	return false;
#endif
}

static const char *
filter_spoiler(void)
{
	const char *pre = getenv("LD_PRELOAD");

	if (asan_build())
		return "built with AddressSanitizer";
	if (pre != NULL && (strstr(pre, "vgpreload") != NULL ||
	    strstr(pre, "valgrind") != NULL))
		return "running under valgrind";
	return NULL;
}

static void
fmt_num(char **p, unsigned long v, unsigned base)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0 && n < (int)sizeof(tmp));
	while (n > 0)
		*(*p)++ = tmp[--n];
}

static void
fmt_str(char **p, const char *s)
{
	while (*s != '\0')
		*(*p)++ = *s++;
}

/*
 * A forbidden call: say which (async-signal-safe: no stdio, no syslog
 * lock that the trapped code may hold), then die of SIGSYS.  SA_RESETHAND
 * made the disposition the default; the signal stays blocked until the
 * handler returns, so the process dies before the trapped code resumes.
 */
/* syslog's socket, connected before the filter: the handler's second way out. */
static int sigsys_log_fd = -1;

static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char buf[200], *p = buf, *msg;

	(void)sig;
	(void)uc;
	/* "<LOG_DAEMON|LOG_CRIT>hcvsockd[pid]: " for syslog, then the text. */
	fmt_str(&p, "<26>hcvsockd[");
	fmt_num(&p, (unsigned long)getpid(), 10);
	fmt_str(&p, "]: ");
	msg = p;
	fmt_str(&p, "seccomp: forbidden system call ");
	fmt_num(&p, (unsigned long)si->si_syscall, 10);
	fmt_str(&p, " (arch 0x");
	fmt_num(&p, (unsigned long)si->si_arch, 16);
	fmt_str(&p, "): killed");
	if (sigsys_log_fd >= 0)
		(void)!send(sigsys_log_fd, buf, (size_t)(p - buf), MSG_NOSIGNAL);
	*p++ = '\n';
	(void)!write(STDERR_FILENO, "hcvsockd: ", 10);
	(void)!write(STDERR_FILENO, msg, (size_t)(p - msg));
	(void)syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
}

static void
sigsys_log_open(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return;
	}
	sigsys_log_fd = fd;
}

#ifdef HAVE_SECCOMP
/* What the serving loop calls: I/O on fds it holds, the loop, memory. */
static const char *const allowed[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close",
	"fstat", "newfstatat", "statx", "lseek", "fcntl", "dup", "dup3",
	"recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg",
	"accept4", "connect", "bind", "listen", "getsockopt", "setsockopt",
	"getsockname", "getpeername", "shutdown",
	"epoll_create1", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"epoll_ctl", "poll",
	"ppoll", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"eventfd2", "clock_gettime", "clock_getres", "gettimeofday",
	"nanosleep", "clock_nanosleep",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"brk", "munmap", "mremap", "madvise", "futex", "getrandom",
	"sched_yield", "rt_sigreturn", "rt_sigprocmask", "restart_syscall",
	"exit", "exit_group",
	/* state file (temporary + rename), sockets and the pid file */
	"openat", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	"fdatasync", "fsync", "ftruncate", "umask", "fchmod",
	/* attach: fd kinds (/proc/self/fd), distinct eventfds */
	"readlink", "readlinkat", "kcmp",
};

/* SCMP_An() leave fields to the compiler; clang's -Wextra wants them all. */
static struct scmp_arg_cmp
arg_cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = a,
	    .datum_b = b };

	return c;
}

static int
rule(scmp_filter_ctx ctx, int nr, unsigned n, const struct scmp_arg_cmp *a)
{
	int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, a);

	return rc == -EEXIST ? 0 : rc;
}

static int
ioctl_rule(scmp_filter_ctx ctx, unsigned long req)
{
	struct scmp_arg_cmp a = arg_cmp(1, SCMP_CMP_EQ, req, 0);

	return rule(ctx, SCMP_SYS(ioctl), 1, &a);
}

static int
seccomp_install(const struct confine_cfg *cc)
{
	static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };
	scmp_filter_ctx ctx;
	struct scmp_arg_cmp a;
	pid_t self = getpid();
	unsigned n = 0;
	int rc = 0;

	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (ctx == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(allowed) && rc == 0; i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;
		rc = rule(ctx, nr, 0, NULL);
		n++;
	}
	/*
	 * Sockets: Unix (the host bridge, syslog, sd_notify) and TCP for the
	 * port mappings that name an address (tcp_allow bounds where to).
	 */
	for (size_t i = 0; i < ARRAY_SIZE(families) && rc == 0; i++) {
		a = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)families[i], 0);
		rc = rule(ctx, SCMP_SYS(socket), 1, &a);
	}
	/* No executable mappings: guest memory and heap are data. */
	a = arg_cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	if (rc == 0)
		rc = rule(ctx, SCMP_SYS(mmap), 1, &a);
	if (rc == 0)
		rc = rule(ctx, SCMP_SYS(mprotect), 1, &a);
	/* getrlimit: reading the fd limit at SIGHUP, never setting one. */
	a = arg_cmp(2, SCMP_CMP_EQ, 0, 0);
	if (rc == 0)
		rc = rule(ctx, SCMP_SYS(prlimit64), 1, &a);
	/*
	 * libxenstore ignores SIGPIPE around every request (sigaction), and
	 * xs_close() cancels its reader thread (glibc installs its
	 * cancellation handler then); no other disposition may change: the
	 * SIGSYS handler stays.
	 */
	a = arg_cmp(0, SCMP_CMP_EQ, SIGPIPE, 0);
	if (rc == 0)
		rc = rule(ctx, SCMP_SYS(rt_sigaction), 1, &a);
	a = arg_cmp(0, SCMP_CMP_EQ, SIGCANCEL_NR, 0);
	if (rc == 0 && cc->cc_xen)
		rc = rule(ctx, SCMP_SYS(rt_sigaction), 1, &a);
	/* Signals only to itself (abort, the SIGSYS handler). */
	a = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)self, 0);
	if (rc == 0)
		rc = rule(ctx, SCMP_SYS(tgkill), 1, &a);
	if (rc == 0)
		rc = rule(ctx, SCMP_SYS(kill), 1, &a);
	/* ioctl: the requests the layers make, nothing else. */
	if (rc == 0)
		rc = ioctl_rule(ctx, FIONREAD);
	/* The vsock muxer's cork asks how much its host reader left unread. */
	if (rc == 0)
		rc = ioctl_rule(ctx, SIOCOUTQ);
#ifdef HAVE_XEN
	if (cc->cc_xen) {
		static const unsigned long xen[] = {
			IOCTL_PRIVCMD_DM_OP, IOCTL_PRIVCMD_MMAPBATCH_V2,
			IOCTL_PRIVCMD_MMAP_RESOURCE, IOCTL_EVTCHN_NOTIFY,
			IOCTL_EVTCHN_BIND_INTERDOMAIN, IOCTL_EVTCHN_UNBIND,
		};

		for (size_t i = 0; i < ARRAY_SIZE(xen) && rc == 0; i++)
			rc = ioctl_rule(ctx, xen[i]);
	}
#endif
#ifdef HAVE_KVM
	if (cc->cc_kvm) {
		static const unsigned long kvm[] = {
			KVM_IOEVENTFD, KVM_IRQFD, KVM_CHECK_EXTENSION,
		};

		for (size_t i = 0; i < ARRAY_SIZE(kvm) && rc == 0; i++)
			rc = ioctl_rule(ctx, kvm[i]);
	}
#endif
	/*
	 * KVM: a process per guest.  fork() only (a new process, never a
	 * thread, shared memory or a namespace), reaped through pidfds.
	 */
	if (cc->cc_kvm && rc == 0) {
		static const char *const procs[] = {
			"wait4", "waitid", "pidfd_open", "pidfd_send_signal",
			"pipe2", "close_range", "set_robust_list",
		};

		a = arg_cmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_VM |
		    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
		    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET, 0);
		rc = rule(ctx, SCMP_SYS(clone), 1, &a);
		for (size_t i = 0; i < ARRAY_SIZE(procs) && rc == 0; i++) {
			int nr = seccomp_syscall_resolve_name(procs[i]);

			if (nr != __NR_SCMP_ERROR)
				rc = rule(ctx, nr, 0, NULL);
		}
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		log_warnx("seccomp: installing the filter: %s", strerror(-rc));
		return rc;
	}
	log_info("seccomp: %u system calls allowed, socket/mmap/mprotect/"
	    "prlimit64/rt_sigaction/kill/tgkill/ioctl by argument (ioctl: %s); "
	    "any other "
	    "kills the process", n, cc->cc_xen ?
	    "FIONREAD, SIOCOUTQ, privcmd, evtchn" : cc->cc_kvm ?
	    "FIONREAD, SIOCOUTQ, KVM ioeventfd/irqfd" : "FIONREAD, SIOCOUTQ");
	return 0;
}
#endif

static int
seccomp_filter(const struct confine_cfg *cc)
{
	struct sigaction sa;
	const char *why;

	if (!cc->cc_seccomp) {
		log_warnx("seccomp: no filter (--no-seccomp)");
		return 0;
	}
	if ((why = filter_spoiler()) != NULL) {
		log_warnx("seccomp: no filter: %s", why);
		return 0;
	}
#ifdef HAVE_SECCOMP
	memset(&sa, 0, sizeof(sa));
	sigsys_log_open();
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	return seccomp_install(cc);
#else
	(void)sa;
	log_warnx("seccomp: no filter: built without libseccomp");
	return 0;
#endif
}

/* ---- All of it ----------------------------------------------------------- */

int
confine_apply(const struct confine_cfg *cc)
{
	int rc;

	if (geteuid() == 0 && (rc = drop_all_caps()) < 0) {
		log_warnx("dropping capabilities: %s", strerror(-rc));
		return rc;
	}
	/*
	 * LeakSanitizer's exit check reads /proc/PID/task and ptraces the
	 * process from a helper: no Landlock, and dumpable again after the
	 * uid change.  Sanitizer builds only.
	 */
	if (cc->cc_xen)
		preload_unwinder();
	if (asan_build()) {
		(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		log_warnx("Landlock: not applied: built with AddressSanitizer");
	} else if ((rc = landlock(cc)) < 0)
		return rc;
	return seccomp_filter(cc);
}

void
confine_selftest(void)
{
	log_warnx("test hook: making a forbidden system call (ptrace)");
	(void)syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	log_warnx("test hook: the forbidden system call returned");
}
