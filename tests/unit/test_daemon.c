/* SPDX-License-Identifier: MIT */
/* The daemon's building blocks: options, state file, pid file, sd_notify, control socket, hand-off. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "test_common.h"
#include "common/loop.h"
#include "common/usock.h"
#include "daemon/conf.h"
#include "daemon/ctl.h"
#include "daemon/loopback.h"
#include "daemon/options.h"
#include "daemon/pidfile.h"
#include "daemon/privdrop.h"
#include "daemon/runtime.h"
#include "daemon/sdnotify.h"
#include "daemon/statefile.h"
#include "ioreq/ioreq_fake.h"

struct dir {
	char	path[64];
};

static int
setup_dir(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	test_tmpdir(d->path, sizeof(d->path), "unit");
	*state = d;
	return 0;
}

static int
teardown_dir(void **state)
{
	struct dir *d = *state;

	test_rmtree(d->path);
	free(d);
	return 0;
}

/* ---- options ------------------------------------------------------------ */

static int
parse(struct options *o, char *err, const char *a0, ...)
{
	static char store[16][64];
	char *argv[16];
	int argc = 0;
	va_list ap;

	snprintf(store[0], sizeof(store[0]), "hcvsockd");
	argv[argc] = store[argc];
	argc++;
	va_start(ap, a0);
	for (const char *a = a0; a != NULL && argc < 15;
	    a = va_arg(ap, const char *)) {
		snprintf(store[argc], sizeof(store[argc]), "%s", a);
		argv[argc] = store[argc];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;
	return options_parse(o, argc, argv, err, 256);
}

static void
options__targets_and_names(void **state)
{
	struct options o;
	char err[256], path[256];
	bool dflt;

	(void)state;
	assert_int_equal(parse(&o, err, "-d", "migtd", NULL), 0);
	assert_int_equal(o.o_target, OPT_TARGET_DOMAIN);
	assert_string_equal(o.o_name, "migtd");
	options_config_path(&o, path, sizeof(path), &dflt);
	assert_true(dflt);
	assert_non_null(strstr(path, "/hcvsock/migtd.conf"));
	assert_int_equal(parse(&o, err, "--domid=7", "-c", "/x.conf", "-vv",
	    "-f", "-w", "30", "--pause-pin", NULL), 0);
	assert_true(o.o_pause_pin);
	assert_int_equal(o.o_target, OPT_TARGET_DOMID);
	assert_int_equal(o.o_domid, 7);
	assert_string_equal(o.o_name, "dom7");
	assert_int_equal(o.o_verbose, 2);
	assert_true(o.o_foreground);
	assert_int_equal(o.o_wait_s, 30);
	options_config_path(&o, path, sizeof(path), &dflt);
	assert_false(dflt);
	assert_string_equal(path, "/x.conf");
	assert_int_equal(parse(&o, err, "-l", "/run/lb.sock", "-s", "/tmp/s",
	    "-p", "/tmp/p", NULL), 0);
	assert_string_equal(o.o_name, "loopback");
	assert_string_equal(o.o_loopback, "/run/lb.sock");
	assert_string_equal(o.o_state_dir, "/tmp/s");
	assert_string_equal(o.o_pidfile, "/tmp/p");
	assert_int_equal(parse(&o, err, "-n", NULL), 0);
	assert_true(o.o_check);
	assert_int_equal(o.o_target, OPT_TARGET_NONE);
	/* Parsing twice in one process must not carry state over. */
	assert_int_equal(parse(&o, err, "-x", NULL), EX_USAGE);
	assert_int_equal(parse(&o, err, "-d", "g", NULL), 0);
}

static void
options__errors(void **state)
{
	struct options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, NULL), EX_USAGE);
	assert_string_equal(err, "no guest: give --domain, --domid, --kvm or --loopback");
	assert_int_equal(parse(&o, err, "-i", "4294967303", NULL), EX_USAGE);
	assert_int_equal(parse(&o, err, "-i", "7x", NULL), EX_USAGE);
	assert_int_equal(parse(&o, err, "-i", "32751", NULL), 0);
	assert_int_equal(parse(&o, err, "-w", "86401", "-d", "g", NULL), EX_USAGE);
	assert_int_equal(parse(&o, err, "-d", "-bad", NULL), EX_USAGE);
	assert_int_equal(parse(&o, err, "-d", "a b", NULL), EX_USAGE);
	assert_int_equal(parse(&o, err, "-l", "/x", "-i", "3", NULL), EX_USAGE);
	assert_string_equal(err, "give only one of --domain, --domid, --kvm and --loopback");
	assert_int_equal(parse(&o, err, "-h", "-x", NULL), EX_USAGE);
	assert_int_equal(parse(&o, err, "-h", NULL), 0);
	assert_true(o.o_help);
}

static void
exit_codes__mapped(void **state)
{
	(void)state;
	assert_int_equal(runtime_exit_code(0), 0);
	assert_int_equal(runtime_exit_code(-EACCES), EX_NOPERM);
	assert_int_equal(runtime_exit_code(-EPERM), EX_NOPERM);
	assert_int_equal(runtime_exit_code(-ESRCH), EX_UNAVAILABLE);
	assert_int_equal(runtime_exit_code(-ENODEV), EX_UNAVAILABLE);
	assert_int_equal(runtime_exit_code(-ENOSPC), EX_UNAVAILABLE);
	assert_int_equal(runtime_exit_code(-EEXIST), EX_UNAVAILABLE);
	assert_int_equal(runtime_exit_code(-EBUSY), EX_TEMPFAIL);
	assert_int_equal(runtime_exit_code(-ENOMEM), EX_OSERR);
	assert_int_equal(runtime_exit_code(-EINVAL), EX_SOFTWARE);
}

/* ---- state file --------------------------------------------------------- */

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
statefile__round_trip_and_atomic(void **state)
{
	struct dir *d = *state;
	struct statefile a, b;
	char path[128], tmp[140];
	struct stat st;

	snprintf(path, sizeof(path), "%s/g.state", d->path);
	memset(&a, 0, sizeof(a));
	a.sf_pid = 1234;
	a.sf_domid = 7;
	a.sf_server_id = 3;
	a.sf_has_dev = true;
	a.sf_dev = (struct vsock_dev_state){ .st_version = 1,
	    .st_protocol = 1, .st_features = 0x13, .st_status = 0xf,
	    .st_mbox_gpa = UINT64_MAX - 4095, .st_mbox_size = 8192,
	    .st_epoch = UINT32_MAX, .st_tx_cons = 5, .st_rx_prod = 6,
	    .st_irq = { .mode = 2, .isa_irq = 5, .gsi = 9, .evtchn_port = 11,
	    .msi_addr = 0xfee00000, .msi_data = 0x4041 } };
	assert_int_equal(statefile_write(path, &a), 0);
	assert_int_equal(statefile_read(path, &b), 0);
	assert_int_equal(b.sf_version, STATEFILE_VERSION);
	assert_int_equal(b.sf_pid, 1234);
	assert_int_equal(b.sf_domid, 7);
	assert_int_equal(b.sf_server_id, 3);
	assert_true(b.sf_has_dev);
	assert_memory_equal(&b.sf_dev, &a.sf_dev, sizeof(a.sf_dev));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);	/* renamed, not left */
	a.sf_domid = UINT32_MAX;	/* loopback */
	a.sf_server_id = -1;
	a.sf_has_dev = false;
	assert_int_equal(statefile_write(path, &a), 0);
	assert_int_equal(statefile_read(path, &b), 0);
	assert_int_equal(b.sf_domid, UINT32_MAX);
	assert_int_equal(b.sf_server_id, -1);
	assert_false(b.sf_has_dev);
	assert_int_equal(b.sf_cid, 0);
	assert_int_equal(b.sf_page_dev, 0);
	assert_int_equal(b.sf_page_ino, 0);
	/* A loopback daemon's file names the fake guest's page. */
	a.sf_page_dev = 13;
	a.sf_page_ino = UINT64_MAX;
	assert_int_equal(statefile_write(path, &a), 0);
	assert_int_equal(statefile_read(path, &b), 0);
	assert_int_equal(b.sf_page_dev, 13);
	assert_true(b.sf_page_ino == UINT64_MAX);
	a.sf_page_dev = a.sf_page_ino = 0;
	/* A KVM guest's file names its CID. */
	a.sf_cid = 4294967294u;
	a.sf_has_dev = true;
	assert_int_equal(statefile_write(path, &a), 0);
	assert_int_equal(statefile_read(path, &b), 0);
	assert_int_equal(b.sf_cid, 4294967294u);
	assert_true(b.sf_has_dev);
	assert_memory_equal(&b.sf_dev, &a.sf_dev, sizeof(a.sf_dev));
}

#define HEAD2	"version 2\npid 5\ndomid 7\nserver_id 3\n"
#define DEV2	"dev_version 1\ndev_protocol 1\ndev_features 3\n" \
		"dev_status 15\ndev_mbox_gpa 4096\ndev_mbox_size 8192\n" \
		"dev_epoch 2\ndev_tx_cons 0\ndev_rx_prod 0\ndev_irq_mode 0\n" \
		"dev_irq_isa 0\ndev_irq_gsi 0\ndev_irq_evtchn 0\n" \
		"dev_irq_msi_addr 0\ndev_irq_msi_data 0\n"
#define REGS2	"dev_arg0 1\ndev_arg1 2\ndev_arg2 3\ndev_arg3 4\n" \
		"dev_cmd_result 6\n"

static void
statefile__hostile_contents_rejected(void **state)
{
	static const char *const bad[] = {
		"",
		"garbage\n",
		"pid 5\ndomid 7\nserver_id 3\n",		/* no version */
		"version 2\npid 5\ndomid 7\n",			/* no server_id */
		"version 2\npid 0\ndomid 7\nserver_id 3\n",
		"version 2\npid -5\ndomid 7\nserver_id 3\n",
		"version 2\npid 5\ndomid -1\nserver_id 3\n",
		"version 2\npid 5\ndomid 4294967296\nserver_id 3\n",
		"version 2\npid 5\ndomid 7\nserver_id 65536\n",
		"version 2\npid 5\ndomid 7\nserver_id -2\n",
		"version 2\npid 5\ndomid 7\nserver_id -0\n",
		"version 2\npid 5\ndomid 7\nserver_id 3x\n",
		HEAD2 "extra 1\n",
		HEAD2 "dev_epoch 2\n",			/* part of a device */
		HEAD2 DEV2 "dev_epoch 3\n",		/* a key twice */
		HEAD2 "dev_mbox_gpa 18446744073709551616\n",
		HEAD2 "device 00\n",			/* version 1's key */
		HEAD2 DEV2 "dev_arg0 1\n",		/* part of the registers */
		HEAD2 REGS2,				/* registers, no device */
		HEAD2 "cid 0\n",			/* never written */
		HEAD2 "cid 4294967296\n",
		HEAD2 "cid 5\ncid 5\n",
		/* Not what the writer produces: strtoll would skip or accept. */
		"version 2\npid  5\ndomid 7\nserver_id 3\n",
		"version 2\npid +5\ndomid 7\nserver_id 3\n",
		/* Version 1: its header and one device line. */
		"version 1\npid 5\ndomid 7\nserver_id 3\n",
		"version 1\npid 5\ndomid 7\nserver_id 3\ndevice abc\n",
		"version 1\npid 5\ndomid 7\nserver_id 3\ndevice zz\n",
		"version 1\npid 5\ndomid 7\nserver_id 3\ndevice AB\n",
		"version 1\npid 5\ndomid 7\nserver_id 3\ndevice 00\n"
		    "device 01\n",
		"version 1\npid 5\ndomid 7\nserver_id 3\ndevice 00\n"
		    "dev_epoch 1\n",
		"version 1\npid 5\ndomid 7\nserver_id 3\ndevice 00\n"
		    "cid 5\n",
	};
	struct dir *d = *state;
	struct statefile sf;
	char path[128], *big;

	snprintf(path, sizeof(path), "%s/bad.state", d->path);
	assert_int_equal(statefile_read(path, &sf), -ENOENT);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		write_text(path, bad[i]);
		if (statefile_read(path, &sf) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	}
	write_text(path, "# comment\n" HEAD2 DEV2);
	assert_int_equal(statefile_read(path, &sf), 0);
	assert_int_equal(sf.sf_cid, 0);
	assert_true(sf.sf_has_dev);
	write_text(path, HEAD2 "cid 44\n" DEV2);
	assert_int_equal(statefile_read(path, &sf), 0);
	assert_int_equal(sf.sf_cid, 44);
	write_text(path, "# comment\n" HEAD2 DEV2);
	assert_int_equal(statefile_read(path, &sf), 0);
	assert_int_equal(sf.sf_dev.st_mbox_gpa, 4096);
	assert_int_equal(sf.sf_dev.st_epoch, 2);
	/* The command registers: read back when there, zero when not. */
	assert_int_equal(sf.sf_dev.st_args[3], 0);
	write_text(path, HEAD2 DEV2 REGS2);
	assert_int_equal(statefile_read(path, &sf), 0);
	assert_int_equal(sf.sf_dev.st_args[0], 1);
	assert_int_equal(sf.sf_dev.st_args[3], 4);
	assert_int_equal(sf.sf_dev.st_cmd_result, 6);
	assert_int_equal(statefile_write(path, &sf), 0);
	memset(&sf, 0, sizeof(sf));
	assert_int_equal(statefile_read(path, &sf), 0);
	assert_int_equal(sf.sf_dev.st_args[2], 3);
	assert_int_equal(sf.sf_dev.st_cmd_result, 6);
	/* Oversized: rejected, never overflowing the buffer. */
	big = malloc(8192);
	assert_non_null(big);
	memset(big, 'a', 8191);
	big[8191] = '\0';
	memcpy(big, HEAD2 "device ", sizeof(HEAD2 "device ") - 1);
	write_text(path, big);
	assert_int_equal(statefile_read(path, &sf), -EINVAL);
	free(big);
	/* A symbolic link is not followed. */
	unlink(path);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(statefile_read(path, &sf), -ELOOP);
	/* A FIFO is refused at once, not waited on for a writer. */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(statefile_read(path, &sf), -ENOTSUP);
}

static void
files__fifo_at_config_and_pid_file_refused(void **state)
{
	struct dir *d = *state;
	struct conf *c = calloc(1, sizeof(*c));
	char path[128];
	pid_t holder;

	assert_non_null(c);
	snprintf(path, sizeof(path), "%s/fifo", d->path);
	assert_int_equal(mkfifo(path, 0600), 0);
	conf_defaults(c, "g");
	assert_int_equal(conf_load(c, path, NULL, NULL), -ENOTSUP);
	assert_int_equal(pidfile_open(path, &holder), -ENOTSUP);
	free(c);
}

/*
 * An older daemon's file (version 1, the device as a hex dump of the
 * struct as it was laid out then) is read; a dump of any other size
 * gives no device rather than misread bytes; a later version, even with
 * keys unknown here, is refused as such.
 */
static void
statefile__older_read_newer_refused(void **state)
{
	/* Written by the version 1 writer: mailbox 0x10000, epoch 3, MSI. */
	static const char v1[] = "# hcvsockd runtime state: written by the "
	    "daemon, do not edit\nversion 1\npid 77\ndomid 7\nserver_id 4\n"
	    "device 0100000001000000130000000f0000000000010000000000"
	    "00200000030000000500000006000000020000000000000000000000"
	    "000000000000e0fe000000004140000000000000\n";
	struct dir *d = *state;
	struct statefile sf;
	char path[128];

	snprintf(path, sizeof(path), "%s/old.state", d->path);
	write_text(path, v1);
	assert_int_equal(statefile_read(path, &sf), 0);
	assert_int_equal(sf.sf_version, 1);
	assert_int_equal(sf.sf_pid, 77);
	assert_int_equal(sf.sf_server_id, 4);
	assert_true(sf.sf_has_dev);
	assert_int_equal(sf.sf_dev.st_version, 1);
	assert_int_equal(sf.sf_dev.st_features, 0x13);
	assert_int_equal(sf.sf_dev.st_status, 0xf);
	assert_int_equal(sf.sf_dev.st_mbox_gpa, 0x10000);
	assert_int_equal(sf.sf_dev.st_mbox_size, 0x2000);
	assert_int_equal(sf.sf_dev.st_epoch, 3);
	assert_int_equal(sf.sf_dev.st_tx_cons, 5);
	assert_int_equal(sf.sf_dev.st_rx_prod, 6);
	assert_int_equal(sf.sf_dev.st_irq.mode, 2);
	assert_int_equal(sf.sf_dev.st_irq.msi_addr, 0xfee00000);
	assert_int_equal(sf.sf_dev.st_irq.msi_data, 0x4041);
	/* Another layout's dump: the server, but no device. */
	write_text(path, "version 1\npid 77\ndomid 7\nserver_id 4\n"
	    "device 0aff\n");
	assert_int_equal(statefile_read(path, &sf), 0);
	assert_int_equal(sf.sf_server_id, 4);
	assert_false(sf.sf_has_dev);
	write_text(path, "version 3\npid 77\ndomid 7\nserver_id 4\n"
	    "dev_shiny 1\n");
	assert_int_equal(statefile_read(path, &sf), -EPROTONOSUPPORT);
	assert_int_equal(sf.sf_version, 3);
}

/* ---- pid file ------------------------------------------------------------ */

static void
pidfile__locked_against_a_second_process(void **state)
{
	struct dir *d = *state;
	char path[128], buf[32];
	pid_t holder, child;
	int fd, status;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/p.pid", d->path);
	fd = pidfile_open(path, &holder);
	assert_true(fd >= 0);
	assert_int_equal(pidfile_write(fd), 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(strtol(buf, NULL, 10), getpid());
	/* lockf locks belong to the process: try from a child. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int rc = pidfile_open(path, &holder);

		_exit(rc == -EEXIST && holder == getppid() ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pidfile_close(fd, path);
	assert_int_equal(access(path, F_OK), -1);
	/* A stale file (no lock) is taken over. */
	write_text(path, "99999\n");
	fd = pidfile_open(path, &holder);
	assert_true(fd >= 0);
	pidfile_close(fd, path);
}

/* ---- sd_notify ----------------------------------------------------------- */

static int
dgram_listen(const char *name, bool abstract)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (abstract) {
		memcpy(sun.sun_path + 1, name, strlen(name));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		    strlen(name));
	} else {
		memcpy(sun.sun_path, name, strlen(name) + 1);
		len = sizeof(sun);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

static void
sdnotify__path_abstract_and_unset(void **state)
{
	struct dir *d = *state;
	char path[128], abs_name[64], env[80], buf[256];
	int fd;
	ssize_t n;

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sdnotify_send("READY=1"), 0);
	snprintf(path, sizeof(path), "%s/notify", d->path);
	fd = dgram_listen(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(sdnotify_sendf("READY=1\nSTATUS=%s", "serving g"), 1);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=serving g");
	close(fd);

	snprintf(abs_name, sizeof(abs_name), "hcvs-test-%ld", (long)getpid());
	fd = dgram_listen(abs_name, true);
	snprintf(env, sizeof(env), "@%s", abs_name);
	setenv("NOTIFY_SOCKET", env, 1);
	assert_int_equal(sdnotify_send("STOPPING=1"), 1);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "STOPPING=1");
	close(fd);

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(sdnotify_send("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	assert_true(sdnotify_send("READY=1") < 0);
	unsetenv("NOTIFY_SOCKET");
}

/* ---- privilege preparation ----------------------------------------------- */

static void
bind_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
}

static void
privdrop__take_dir_refuses_links_and_sets_modes(void **state)
{
	struct dir *d = *state;
	char dir[128], link[128], file[96], deep[160];
	struct stat st;
	int fd;

	snprintf(dir, sizeof(dir), "%s/sub", d->path);
	snprintf(link, sizeof(link), "%s/link", d->path);
	snprintf(file, sizeof(file), "%s/file", d->path);
	snprintf(deep, sizeof(deep), "%s/a/b/c", d->path);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(symlink(dir, link), 0);
	write_text(file, "x");
	/* The mode is set without a user too, whatever the umask. */
	umask(077);
	assert_int_equal(privdrop_take_dir(dir, (uid_t)-1, (gid_t)-1, 0750), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	/* A symbolic link is refused with or without a user. */
	assert_int_equal(privdrop_take_dir(link, (uid_t)-1, (gid_t)-1, 0750),
	    -ELOOP);
	assert_int_equal(privdrop_take_dir(file, (uid_t)-1, (gid_t)-1, 0750),
	    -ENOTDIR);
	/* Parents it creates stay traversable. */
	assert_int_equal(privdrop_take_dir(deep, (uid_t)-1, (gid_t)-1, 02770), 0);
	snprintf(deep, sizeof(deep), "%s/a", d->path);
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	umask(022);
	if (geteuid() != 0) {
		print_message("not root: ownership checks skipped\n");
		return;
	}
	assert_int_equal(privdrop_take_dir(dir, 65534, 65534, 0750), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(privdrop_take_dir(link, 65534, 65534, 0750), -ELOOP);
	assert_int_equal(privdrop_prepare_file(link, 65534, 65534, 0660), -ELOOP);
	assert_int_equal(privdrop_prepare_file(file, 65534, 65534, 0660), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	/* A socket: only an O_PATH fd names it, and that is enough. */
	assert_int_equal(unlink(file), 0);
	fd = usock_listen(file, SOCK_STREAM, 0600, 1);
	assert_true(fd >= 0);
	assert_int_equal(privdrop_prepare_file(file, 65534, 65534, 0660), 0);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_mode & 07777, 0660);
	close(fd);
}

static void
privdrop__take_dir_refuses_foreign_owner_sweeps_foreign_sockets(void **state)
{
	struct dir *d = *state;
	char dir[128], mine[160], theirs[160], grp[160], lnk[160];
	struct stat st;

	if (geteuid() != 0) {
		skip();
		return;
	}
	snprintf(dir, sizeof(dir), "%s/shared", d->path);
	assert_int_equal(mkdir(dir, 0777), 0);
	/* Somebody else's directory is not taken over. */
	assert_int_equal(chown(dir, 12345, 12345), 0);
	assert_int_equal(privdrop_take_dir(dir, 65534, 65534, 02770), -EPERM);
	assert_int_equal(chown(dir, 0, 0), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	/* Left while it was world-writable: another user's listener. */
	snprintf(mine, sizeof(mine), "%s/vs_1", dir);
	snprintf(theirs, sizeof(theirs), "%s/vs_2", dir);
	snprintf(grp, sizeof(grp), "%s/vs_3", dir);
	snprintf(lnk, sizeof(lnk), "%s/vs_4", dir);
	bind_unix(mine);
	bind_unix(theirs);
	bind_unix(grp);
	assert_int_equal(symlink("/tmp/elsewhere.sock", lnk), 0);
	assert_int_equal(lchown(theirs, 12345, 12345), 0);
	assert_int_equal(lchown(grp, 12345, 65534), 0);	/* our group */
	assert_int_equal(lchown(lnk, 12345, 12345), 0);
	assert_int_equal(privdrop_take_dir(dir, 65534, 65534, 02770), 0);
	assert_int_equal(lstat(mine, &st), 0);
	assert_int_equal(lstat(grp, &st), 0);
	assert_int_equal(lstat(theirs, &st), -1);
	assert_int_equal(lstat(lnk, &st), -1);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02770);
	assert_int_equal(st.st_uid, 65534);
}

static void
privdrop__drop_cannot_be_undone(void **state)
{
	pid_t child;
	int status;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (privdrop_drop(65534, 65534) != 0)
			_exit(1);
		if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534)
			_exit(2);
		if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
			_exit(3);
		if (open("/etc/shadow", O_RDONLY) >= 0)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- control socket -------------------------------------------------------- */

static void
report_cb(void *arg, enum ctl_report kind,
    void (*emit)(void *, const char *), void *earg)
{
	(void)arg;
	if (kind == CTL_REPORT_JSON) {
		emit(earg, "{}");
		return;
	}
	emit(earg, "line one");
	emit(earg, "line two");
}

struct ctl_client_arg {
	const char	*path;
	char		 out[256];
	int		 rc;
};

static void *
ctl_client(void *p)
{
	struct ctl_client_arg *a = p;
	char tmpl[] = "/tmp/hcvs-ctl-out.XXXXXX";
	int fd = mkstemp(tmpl);
	ssize_t n;

	unlink(tmpl);
	a->rc = ctl_request(a->path, "status", fd, 2000);
	n = pread(fd, a->out, sizeof(a->out) - 1, 0);
	a->out[n > 0 ? n : 0] = '\0';
	close(fd);
	return NULL;
}

static void
ctl__serves_status_and_guards_its_path(void **state)
{
	struct dir *d = *state;
	struct ctl_client_arg a = { 0 };
	struct loop *l;
	struct ctl *c, *c2;
	char path[128];
	pthread_t t;
	int fd;

	snprintf(path, sizeof(path), "%s/g.ctl", d->path);
	assert_int_equal(ctl_request(path, "status", 1, 100), -ENOENT);
	/* A stale socket (nobody listening) is replaced. */
	fd = usock_listen(path, SOCK_STREAM, 0600, 1);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(ctl_open(l, path, report_cb, NULL, &c), 0);
	/* A live one is not. */
	assert_int_equal(ctl_open(l, path, report_cb, NULL, &c2), -EADDRINUSE);
	a.path = path;
	assert_int_equal(pthread_create(&t, NULL, ctl_client, &a), 0);
	for (int i = 0; i < 100; i++)
		(void)loop_run_once(l, 20);
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
	assert_string_equal(a.out, "line one\nline two\n");
	ctl_close(c);
	assert_int_equal(access(path, F_OK), -1);
	loop_free(l);
	/* A regular file in the way is never removed. */
	write_text(path, "x");
	assert_int_equal(usock_listen(path, SOCK_STREAM, 0600, 1), -EEXIST);
}

/* A report larger than CTL_MAX_REPLY: the client must be told it is cut. */
static void
report_big_cb(void *arg, enum ctl_report kind,
    void (*emit)(void *, const char *), void *earg)
{
	static char line[64 * 1024];

	(void)arg;
	(void)kind;
	memset(line, 'x', sizeof(line) - 1);
	for (unsigned i = 0; i < CTL_MAX_REPLY / (sizeof(line) - 1) + 8; i++)
		emit(earg, line);
}

struct ctl_big_arg {
	const char	*path;
	char		 tail[32];
	off_t		 size;
	int		 rc;
	volatile int	 done;
};

static void *
ctl_big_client(void *p)
{
	struct ctl_big_arg *a = p;
	char tmpl[] = "/tmp/hcvs-ctl-big.XXXXXX";
	int fd = mkstemp(tmpl);
	struct stat st;
	ssize_t n = 0;

	unlink(tmpl);
	a->rc = ctl_request(a->path, "status", fd, 5000);
	if (fstat(fd, &st) == 0) {
		a->size = st.st_size;
		if (st.st_size >= 16)
			n = pread(fd, a->tail, 16, st.st_size - 16);
	}
	a->tail[n > 0 ? n : 0] = '\0';
	close(fd);
	a->done = 1;
	return NULL;
}

static void
ctl__oversized_reply_says_truncated(void **state)
{
	struct dir *d = *state;
	struct ctl_big_arg a = { 0 };
	struct loop *l;
	struct ctl *c;
	char path[128];
	pthread_t t;

	snprintf(path, sizeof(path), "%s/big.ctl", d->path);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(ctl_open(l, path, report_big_cb, NULL, &c), 0);
	a.path = path;
	assert_int_equal(pthread_create(&t, NULL, ctl_big_client, &a), 0);
	for (int i = 0; i < 1000 && !a.done; i++)
		(void)loop_run_once(l, 20);
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
	assert_true(a.size > 0 && a.size <= (off_t)CTL_MAX_REPLY + 32);
	assert_string_equal(a.tail, "... (truncated)\n");
	ctl_close(c);
	loop_free(l);
}

/* ---- loopback hand-off ---------------------------------------------------- */

struct offer_arg {
	char			 path[128];
	struct ioreq_fake	*fake;
	int			 rc;
	int			 sock;
};

static void *
offer_thread(void *p)
{
	struct offer_arg *a = p;

	a->rc = loopback_offer(a->path, a->fake, 5000, NULL, NULL, &a->sock);
	if (a->rc == 0)
		a->rc = loopback_wait_ready(a->sock, 5000);
	return NULL;
}

static void
loopback__hand_off_carries_the_page(void **state)
{
	struct dir *d = *state;
	struct ioreq_fake_cfg cfg = { .nr_vcpus = 3, .ram_size = 1 << 16 };
	struct offer_arg a = { .sock = -1 };
	struct loopback_guest g;
	const struct ioreq_shm_cfg *sc;
	pthread_t t;
	int rc = -1;

	snprintf(a.path, sizeof(a.path), "%s/lb.sock", d->path);
	assert_int_equal(loopback_accept_guest(a.path, 100, &g), -ENOENT);
	assert_int_equal(ioreq_fake_new(&cfg, &a.fake), 0);
	assert_int_equal(pthread_create(&t, NULL, offer_thread, &a), 0);
	for (int i = 0; i < 200 && rc != 0; i++) {
		rc = loopback_accept_guest(a.path, 2000, &g);
		if (rc != 0)
			usleep(10000);
	}
	assert_int_equal(rc, 0);
	sc = loopback_shm_cfg(&g);
	assert_int_equal(sc->nr_vcpus, 3);
	assert_int_equal(sc->nr_regions, 1);
	assert_int_equal(sc->regions[0].size, 1 << 16);
	assert_int_equal(loopback_send_ready(&g), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
	/* The listener is gone once the daemon has connected. */
	assert_int_equal(access(a.path, F_OK), -1);
	loopback_guest_close(&g);
	close(a.sock);
	ioreq_fake_free(a.fake);
}

static void *
bad_peer(void *p)
{
	struct offer_arg *a = p;
	int lfd = usock_listen(a->path, SOCK_STREAM, 0600, 1), cfd;

	if (lfd < 0)
		return NULL;
	for (int i = 0; i < 500; i++) {
		cfd = accept(lfd, NULL, NULL);
		if (cfd >= 0) {
			/* Not a hand-off: garbage, then hang up. */
			if (write(cfd, "garbage garbage garbage", 23) < 0)
				a->rc = -errno;
			close(cfd);
			break;
		}
		usleep(10000);
	}
	close(lfd);
	return NULL;
}

static void
loopback__garbage_refused(void **state)
{
	struct dir *d = *state;
	struct offer_arg a = { .sock = -1 };
	struct loopback_guest g;
	pthread_t t;
	int rc = -ENOENT;

	snprintf(a.path, sizeof(a.path), "%s/bad.sock", d->path);
	assert_int_equal(pthread_create(&t, NULL, bad_peer, &a), 0);
	for (int i = 0; i < 200 && (rc == -ENOENT || rc == -ECONNREFUSED); i++) {
		rc = loopback_accept_guest(a.path, 2000, &g);
		if (rc == -ENOENT || rc == -ECONNREFUSED)
			usleep(10000);
	}
	pthread_join(t, NULL);
	assert_true(rc < 0);
	assert_int_not_equal(rc, -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(options__targets_and_names),
		cmocka_unit_test(options__errors),
		cmocka_unit_test(exit_codes__mapped),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, teardown_dir)
		T(statefile__round_trip_and_atomic),
		T(statefile__hostile_contents_rejected),
		T(statefile__older_read_newer_refused),
		T(pidfile__locked_against_a_second_process),
		T(files__fifo_at_config_and_pid_file_refused),
		T(sdnotify__path_abstract_and_unset),
		T(privdrop__take_dir_refuses_links_and_sets_modes),
		T(privdrop__take_dir_refuses_foreign_owner_sweeps_foreign_sockets),
		cmocka_unit_test(privdrop__drop_cannot_be_undone),
		T(ctl__serves_status_and_guards_its_path),
		T(ctl__oversized_reply_says_truncated),
		T(loopback__hand_off_carries_the_page),
		T(loopback__garbage_refused),
#undef T
	};

	return cmocka_run_group_tests_name("daemon", tests, NULL, NULL);
}
