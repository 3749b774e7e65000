/* SPDX-License-Identifier: MIT */
/* hcvsockd.conf parser: syntax, bounds, duplicates, error reporting and round trips. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "test_common.h"
#include "daemon/conf.h"

struct errs {
	char		msg[64][512];
	unsigned	n;
};

static void
collect(void *arg, const char *msg)
{
	struct errs *e = arg;

	if (e->n < 64)
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", msg);
	e->n++;
}

struct fix {
	struct conf	c;
	struct errs	e;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	conf_defaults(&f->c, "g1");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	free(*state);
	return 0;
}

static int
parse(struct fix *f, const char *text)
{
	conf_defaults(&f->c, "g1");
	memset(&f->e, 0, sizeof(f->e));
	return conf_load_buf(&f->c, "t.conf", text, strlen(text), collect, &f->e);
}

static void
minimal__defaults_apply(void **state)
{
	struct fix *f = *state;
	char path[128];

	assert_int_equal(parse(f, "guest_cid = 3\n"), 0);
	assert_int_equal(f->c.c_guest_cid, 3);
	assert_true(f->c.c_has_pio);
	assert_int_equal(f->c.c_pio_base, CONF_DEFAULT_PIO_BASE);
	assert_false(f->c.c_has_mmio);
	assert_string_equal(f->c.c_state_dir, "/run/hcvsock/g1");
	assert_string_equal(f->c.c_socket_dir, "/run/hcvsock/g1");
	assert_int_equal(conf_listener_path(&f->c, path, sizeof(path)), 0);
	assert_string_equal(path, "/run/hcvsock/g1/vsock");
	assert_int_equal(conf_port_path(&f->c, 52, path, sizeof(path)), 0);
	assert_string_equal(path, "/run/hcvsock/g1/vsock_52");
	assert_true(f->c.c_default_allow);
	assert_true(f->c.c_ok_line);
	assert_int_equal(f->c.c_max_connections, 1023);
	assert_int_equal(f->c.c_buf_alloc, 262144);
	assert_int_equal(f->c.c_close_timeout_ms, 8000);
	assert_int_equal(f->c.c_notify, CONF_NOTIFY_DEFAULT);
	assert_int_equal(f->c.c_log_level, LOG_INFO);
}

static void
missing_cid__reported_without_line(void **state)
{
	struct fix *f = *state;

	assert_int_equal(parse(f, "# nothing\n"), 1);
	assert_string_equal(f->e.msg[0], "t.conf: 'guest_cid' is not set");
}

static void
comments_and_whitespace__ignored(void **state)
{
	struct fix *f = *state;
	const char *text =
	    "# a comment\n"
	    "   # indented comment\n"
	    "\n"
	    "\t \n"
	    "guest_cid=7# no space before the comment\n"
	    "\tpio_base\t=\t0x600\t\n"
	    "mmio_base 0xfe000000\r\n"
	    "socket_name =vs\n"
	    "ok_line= no\n";

	assert_int_equal(parse(f, text), 0);
	assert_int_equal(f->c.c_guest_cid, 7);
	assert_int_equal(f->c.c_pio_base, 0x600);
	assert_true(f->c.c_has_mmio);
	assert_int_equal(f->c.c_mmio_base, 0xfe000000ull);
	assert_string_equal(f->c.c_socket_name, "vs");
	assert_false(f->c.c_ok_line);
}

static void
unknown_key__reported_and_parsing_goes_on(void **state)
{
	struct fix *f = *state;

	assert_int_equal(parse(f, "guest_cid = 3\nfoo = 1\nguest-cid = 4\n"
	    "max_connections = 9\n"), 2);
	assert_string_equal(f->e.msg[0], "t.conf:2: unknown key 'foo'");
	assert_string_equal(f->e.msg[1], "t.conf:3: unknown key 'guest-cid'");
	assert_int_equal(f->c.c_max_connections, 9);
}

static void
numbers__bounds_and_overflow(void **state)
{
	struct fix *f = *state;

	parse(f, "guest_cid = 99999999999999999999999\n");
	assert_string_equal(f->e.msg[0], "t.conf:1: 'guest_cid': "
	    "'99999999999999999999999' is out of range (3..4294967294)");
	parse(f, "guest_cid = 2\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:1: 'guest_cid': '2' is out of range (3..4294967294)");
	parse(f, "guest_cid = 4294967295\n");
	assert_int_equal(f->e.n, 1);	/* out of range, not "not set" too */
	parse(f, "guest_cid = -3\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:1: 'guest_cid': '-3' is not a number");
	parse(f, "guest_cid = 3x\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:1: 'guest_cid': '3x' is not a number");
	parse(f, "guest_cid = 0x\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:1: 'guest_cid': '0x' is not a number");
	parse(f, "guest_cid = 3\npio_base = 0xffc1\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'pio_base': '0xffc1' is out of range (0x0..0xffc0)");
	assert_int_equal(parse(f, "guest_cid = 3\npio_base = 0xffc0\n"), 0);
	parse(f, "guest_cid = 3\nmmio_base = 0xfe000010\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'mmio_base': '0xfe000010' is not aligned to 4096 bytes");
	parse(f, "guest_cid = 3\nmmio_base = 0x10000000000000\n");
	assert_int_equal(f->e.n, 1);
	assert_int_equal(parse(f, "guest_cid = 010\n"), 0);
	assert_int_equal(f->c.c_guest_cid, 10);	/* decimal, never octal */
}

static void
units__sizes_and_durations(void **state)
{
	struct fix *f = *state;

	assert_int_equal(parse(f, "guest_cid = 3\nbuf_alloc = 64K\n"
	    "close_timeout = 2\n"), 0);
	assert_int_equal(f->c.c_buf_alloc, 65536);
	assert_int_equal(f->c.c_close_timeout_ms, 2000);
	assert_int_equal(parse(f, "guest_cid = 3\nbuf_alloc = 1MiB\n"
	    "close_timeout = 250ms\n"), 0);
	assert_int_equal(f->c.c_buf_alloc, 1 << 20);
	assert_int_equal(f->c.c_close_timeout_ms, 250);
	assert_int_equal(f->c.c_connect_timeout_ms, 2000);
	assert_int_equal(parse(f, "guest_cid = 3\nconnect_timeout = 30s\n"), 0);
	assert_int_equal(f->c.c_connect_timeout_ms, 30000);
	parse(f, "guest_cid = 3\nconnect_timeout = 50ms\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'connect_timeout': "
	    "'50ms' is out of range (100ms..600000ms)");
	parse(f, "guest_cid = 3\nbuf_alloc = 17M\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'buf_alloc': '17M' is out of range (4096..16777216)");
	parse(f, "guest_cid = 3\nbuf_alloc = 4G\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'buf_alloc': '4G' is not a number (suffixes: K, M)");
	parse(f, "guest_cid = 3\nclose_timeout = 18446744073709551615s\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'close_timeout': "
	    "'18446744073709551615s' is out of range (100ms..600000ms)");
	parse(f, "guest_cid = 3\nclose_timeout = 99ms\n");
	assert_int_equal(f->e.n, 1);
}

static void
duplicates__rejected_with_first_line(void **state)
{
	struct fix *f = *state;

	parse(f, "guest_cid = 3\n\nguest_cid = 4\n");
	assert_int_equal(f->e.n, 1);
	assert_string_equal(f->e.msg[0],
	    "t.conf:3: 'guest_cid' is set twice (first at line 1)");
	assert_int_equal(f->c.c_guest_cid, 3);
	parse(f, "guest_cid = 3\nport 80\nport 81\nport 80 connect\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:4: 'port': 80 is mapped twice (first at line 2)");
	assert_int_equal(f->c.c_nr_ports, 2);
}

static void
ports__paths_and_directions(void **state)
{
	struct fix *f = *state;
	char path[128];

	assert_int_equal(parse(f, "guest_cid = 3\nsocket_dir = /srv/s\n"
	    "port 1\nport 2 connect\nport 3 listen path rel.sock\n"
	    "port 4 path /srv/s/abs.sock both\n"), 0);
	assert_int_equal(f->c.c_nr_ports, 4);
	assert_true(f->c.c_ports[0].cp_connect && f->c.c_ports[0].cp_listen);
	assert_true(f->c.c_ports[1].cp_connect && !f->c.c_ports[1].cp_listen);
	assert_true(!f->c.c_ports[2].cp_connect && f->c.c_ports[2].cp_listen);
	assert_int_equal(conf_port_path(&f->c, 3, path, sizeof(path)), 0);
	assert_string_equal(path, "/srv/s/rel.sock");
	assert_int_equal(conf_port_path(&f->c, 4, path, sizeof(path)), 0);
	assert_string_equal(path, "/srv/s/abs.sock");
	assert_int_equal(conf_port_path(&f->c, 1, path, sizeof(path)), 0);
	assert_string_equal(path, "/srv/s/vsock_1");

	/* Absolute paths stay inside socket_dir, wherever it is set. */
	parse(f, "guest_cid = 3\nport 6 path /run/abs.sock\n"
	    "port 7 path /srv/s2/x.sock\nsocket_dir = /srv/s\n");
	assert_int_equal(f->e.n, 2);
	assert_string_equal(f->e.msg[0], "t.conf:2: 'port': path "
	    "'/run/abs.sock' is outside socket_dir '/srv/s'");
	assert_string_equal(f->e.msg[1], "t.conf:3: 'port': path "
	    "'/srv/s2/x.sock' is outside socket_dir '/srv/s'");

	parse(f, "guest_cid = 3\nport 5 sideways\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'port': unexpected "
	    "'sideways' (expected path, connect, listen or both)");
	parse(f, "guest_cid = 3\nport 5 path\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'port': 'path' needs a value");
	parse(f, "guest_cid = 3\nport 5 path ../etc/x\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'port': '..' is not allowed in '../etc/x'");
	parse(f, "guest_cid = 3\nport 4294967295\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'port': '4294967295' is out of range (0..4294967294)");
	parse(f, "guest_cid = 3\nport 1 connect listen\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'port': direction given twice");
	parse(f, "guest_cid = 3\nport\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'port' needs a value");
}

static void
ports__limit(void **state)
{
	struct fix *f = *state;
	size_t cap = (CONF_MAX_PORTS + 2) * 16 + 32, off;
	char *text = malloc(cap);

	assert_non_null(text);
	off = (size_t)snprintf(text, cap, "guest_cid = 3\n");
	for (unsigned i = 0; i < CONF_MAX_PORTS + 1; i++)
		off += (size_t)snprintf(text + off, cap - off, "port %u\n", i);
	parse(f, text);
	assert_int_equal(f->e.n, 1);
	assert_string_equal(f->e.msg[0], "t.conf:258: 'port': too many ports (max 256)");
	assert_int_equal(f->c.c_nr_ports, CONF_MAX_PORTS);
	free(text);
}

static void
enums__notify_policy_level(void **state)
{
	struct fix *f = *state;

	assert_int_equal(parse(f, "guest_cid = 3\nnotify = msi, evtchn,gsi\n"
	    "default_policy = deny\nlog_level = debug\n"), 0);
	assert_int_equal(f->c.c_notify, 1u << HCVS_IRQ_MSI |
	    1u << HCVS_IRQ_EVTCHN | 1u << HCVS_IRQ_GSI);
	assert_false(f->c.c_default_allow);
	assert_int_equal(f->c.c_log_level, LOG_DEBUG);
	parse(f, "guest_cid = 3\nnotify = msi,intx\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'notify': unknown mode "
	    "'intx' (expected none, msi, evtchn, gsi)");
	/* No source delivers line interrupts: the mode is not accepted. */
	parse(f, "guest_cid = 3\nnotify = isa\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'notify': unknown mode "
	    "'isa' (expected none, msi, evtchn, gsi)");
	parse(f, "guest_cid = 3\nnotify = ,\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'notify': no mode given");
	parse(f, "guest_cid = 3\ndefault_policy = maybe\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'default_policy': expected allow or deny, got 'maybe'");
	parse(f, "guest_cid = 3\nok_line = true\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'ok_line': expected yes or no, got 'true'");
	parse(f, "guest_cid = 3\nlog_level = loud\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'log_level': expected "
	    "error, warning, notice, info or debug, got 'loud'");
	parse(f, "guest_cid = 3\nok_line = yes no\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'ok_line': unexpected 'no' after the value");
	parse(f, "guest_cid = 3\nok_line =\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: 'ok_line' needs a value");
}

static void
paths__checked(void **state)
{
	struct fix *f = *state;
	char text[512];

	parse(f, "guest_cid = 3\nsocket_dir = run/x\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'socket_dir': 'run/x' is not an absolute path");
	parse(f, "guest_cid = 3\nstate_dir = /run/../etc\n");
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'state_dir': '..' is not allowed in '/run/../etc'");
	assert_int_equal(parse(f, "guest_cid = 3\nstate_dir = /run/a..b\n"), 0);
	parse(f, "guest_cid = 3\nsocket_name = a/b\n");
	assert_int_equal(f->e.n, 1);
	parse(f, "guest_cid = 3\nsocket_name = .hidden\n");
	assert_int_equal(f->e.n, 1);
	snprintf(text, sizeof(text), "guest_cid = 3\nsocket_dir = /%0100d\n", 0);
	parse(f, text);
	assert_int_equal(f->e.n, 1);
	assert_non_null(strstr(f->e.msg[0], "over the 107-byte limit of AF_UNIX"));
	assert_non_null(strstr(f->e.msg[0], "t.conf: socket path '/000"));
}

static void
syntax__long_lines_nul_and_control(void **state)
{
	struct fix *f = *state;
	char text[CONF_LINE_MAX + 64];

	memset(text, 'a', sizeof(text));
	memcpy(text, "guest_cid = 3\n# ", 16);
	text[sizeof(text) - 1] = '\n';
	conf_defaults(&f->c, "g1");
	memset(&f->e, 0, sizeof(f->e));
	conf_load_buf(&f->c, "t.conf", text, sizeof(text), collect, &f->e);
	assert_string_equal(f->e.msg[0], "t.conf:2: line too long (max 1024 bytes)");

	conf_defaults(&f->c, "g1");
	memset(&f->e, 0, sizeof(f->e));
	conf_load_buf(&f->c, "t.conf", "guest_cid = 3\nuser = a\0b\n", 25,
	    collect, &f->e);
	assert_string_equal(f->e.msg[0], "t.conf:2: invalid character 0x00");
	parse(f, "guest_cid = 3\nuser = a\033b\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: invalid character 0x1b");
	parse(f, "guest_cid = 3\n= 4\n");
	assert_string_equal(f->e.msg[0], "t.conf:2: expected a key before '='");
	/* No trailing newline on the last line. */
	assert_int_equal(parse(f, "guest_cid = 3\nmax_connections = 5"), 0);
	assert_int_equal(f->c.c_max_connections, 5);
}

static void
errors__capped(void **state)
{
	struct fix *f = *state;
	char text[2048];
	size_t off = 0;

	off += (size_t)snprintf(text, sizeof(text), "guest_cid = 3\n");
	for (int i = 0; i < 40; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "bad%d\n", i);
	parse(f, text);
	assert_int_equal(f->e.n, CONF_MAX_ERRORS + 1);
	assert_string_equal(f->e.msg[CONF_MAX_ERRORS],
	    "t.conf:21: too many errors, giving up");
}

static void
dump__round_trips(void **state)
{
	struct fix *f = *state;
	struct conf *c2 = calloc(1, sizeof(*c2));
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	FILE *fa, *fb;

	assert_non_null(c2);
	assert_int_equal(parse(f, "guest_cid = 9\nmmio_base = 0xfe001000\n"
	    "port 5000 path x.sock listen\nport 7 connect\n"
	    "buf_alloc = 12345\nclose_timeout = 1500ms\nnotify = none\n"
	    "user = nobody\ngroup = nogroup\nlog_level = warning\n"), 0);
	fa = open_memstream(&a, &alen);
	conf_dump(&f->c, fa);
	fclose(fa);
	conf_defaults(c2, "g1");
	assert_int_equal(conf_load_buf(c2, "dump", a, alen, collect, &f->e), 0);
	fb = open_memstream(&b, &blen);
	conf_dump(c2, fb);
	fclose(fb);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "port 5000 path x.sock listen\n"));
	assert_non_null(strstr(a, "close_timeout = 1500ms\n"));
	assert_null(strstr(a, "pio_base"));
	free(a);
	free(b);
	free(c2);
}

static void
state_dir__command_line_wins(void **state)
{
	struct fix *f = *state;

	conf_defaults(&f->c, "g1");
	snprintf(f->c.c_state_dir, sizeof(f->c.c_state_dir), "/tmp/st");
	f->c.c_state_dir_cli = true;
	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(conf_load_buf(&f->c, "t.conf",
	    "guest_cid = 3\nstate_dir = /var/x\n", 33, collect, &f->e), 0);
	assert_string_equal(f->c.c_state_dir, "/tmp/st");
	assert_string_equal(f->c.c_socket_dir, "/tmp/st");
}

static void
system__users_resolved(void **state)
{
	struct fix *f = *state;
	uid_t uid;
	gid_t gid;

	assert_int_equal(parse(f, "guest_cid = 3\n"), 0);
	assert_int_equal(conf_check_system(&f->c, &uid, &gid, collect, &f->e), 0);
	assert_int_equal(uid, (uid_t)-1);
	assert_int_equal(parse(f, "guest_cid = 3\nuser = nobody\n"), 0);
	assert_int_equal(conf_check_system(&f->c, &uid, &gid, collect, &f->e), 0);
	assert_true(uid != 0 && uid != (uid_t)-1);
	assert_int_equal(parse(f, "guest_cid = 3\nuser = no_such_user_x\n"), 0);
	assert_int_equal(conf_check_system(&f->c, &uid, &gid, collect, &f->e), 1);
	assert_string_equal(f->e.msg[0],
	    "t.conf:2: 'user': no such user 'no_such_user_x'");
	assert_int_equal(parse(f, "guest_cid = 3\nuser = root\n"), 0);
	assert_int_equal(conf_check_system(&f->c, &uid, &gid, collect, &f->e), 1);
	parse(f, "guest_cid = 3\ngroup = nogroup\n");
	assert_string_equal(f->e.msg[0], "t.conf: 'group' is set but 'user' is not");
}

static void
file__missing_reported(void **state)
{
	struct fix *f = *state;

	conf_defaults(&f->c, "g1");
	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(conf_load(&f->c, "/nonexistent/x.conf", collect, &f->e),
	    -ENOENT);
	assert_string_equal(f->e.msg[0],
	    "/nonexistent/x.conf: No such file or directory");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(minimal__defaults_apply),
		T(missing_cid__reported_without_line),
		T(comments_and_whitespace__ignored),
		T(unknown_key__reported_and_parsing_goes_on),
		T(numbers__bounds_and_overflow),
		T(units__sizes_and_durations),
		T(duplicates__rejected_with_first_line),
		T(ports__paths_and_directions),
		T(ports__limit),
		T(enums__notify_policy_level),
		T(paths__checked),
		T(syntax__long_lines_nul_and_control),
		T(errors__capped),
		T(dump__round_trips),
		T(state_dir__command_line_wins),
		T(system__users_resolved),
		T(file__missing_reported),
#undef T
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
