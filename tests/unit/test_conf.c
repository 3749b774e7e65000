/* SPDX-License-Identifier: MIT */
/* hcvsockd.conf parser: syntax, bounds, duplicates, error reporting and round trips. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

/*
 * The line an error was reported at (0: none).  What the messages say is
 * checked once, by the golden files in tests/conf (conf.test); here only
 * that the right number of errors came, at the right lines.
 */
static unsigned
err_line(const struct fix *f, unsigned i)
{
	const char *s = f->e.msg[i];

	assert_true(i < f->e.n);
	assert_int_equal(strncmp(s, "t.conf", 6), 0);
	return s[6] == ':' ? (unsigned)strtoul(s + 7, NULL, 10) : 0;
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
	assert_int_equal(err_line(f, 0), 0);
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
	assert_int_equal(err_line(f, 0), 2);
	assert_int_equal(err_line(f, 1), 3);
	assert_int_equal(f->c.c_max_connections, 9);
}

static void
numbers__bounds_and_overflow(void **state)
{
	struct fix *f = *state;

	parse(f, "guest_cid = 99999999999999999999999\n");
	assert_int_equal(err_line(f, 0), 1);
	parse(f, "guest_cid = 2\n");
	assert_int_equal(err_line(f, 0), 1);
	parse(f, "guest_cid = 4294967295\n");
	assert_int_equal(f->e.n, 1);	/* out of range, not "not set" too */
	parse(f, "guest_cid = -3\n");
	assert_int_equal(err_line(f, 0), 1);
	parse(f, "guest_cid = 3x\n");
	assert_int_equal(err_line(f, 0), 1);
	parse(f, "guest_cid = 0x\n");
	assert_int_equal(err_line(f, 0), 1);
	parse(f, "guest_cid = 3\npio_base = 0xffc1\n");
	assert_int_equal(err_line(f, 0), 2);
	assert_int_equal(parse(f, "guest_cid = 3\npio_base = 0xffc0\n"), 0);
	parse(f, "guest_cid = 3\nmmio_base = 0xfe000010\n");
	assert_int_equal(err_line(f, 0), 2);
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
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nbuf_alloc = 4G\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nclose_timeout = 18446744073709551615s\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nclose_timeout = 99ms\n");
	assert_int_equal(f->e.n, 1);
}

static void
duplicates__rejected_with_first_line(void **state)
{
	struct fix *f = *state;

	parse(f, "guest_cid = 3\n\nguest_cid = 4\n");
	assert_int_equal(f->e.n, 1);
	assert_int_equal(err_line(f, 0), 3);
	assert_int_equal(f->c.c_guest_cid, 3);
	parse(f, "guest_cid = 3\nport 80\nport 81\nport 80 connect\n");
	assert_int_equal(err_line(f, 0), 4);
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
	assert_int_equal(err_line(f, 0), 2);
	assert_int_equal(err_line(f, 1), 3);

	parse(f, "guest_cid = 3\nport 5 sideways\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nport 5 path\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nport 5 path ../etc/x\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nport 4294967295\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nport 1 connect listen\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nport\n");
	assert_int_equal(err_line(f, 0), 2);
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
	assert_int_equal(err_line(f, 0), 258);
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
	assert_int_equal(err_line(f, 0), 2);
	/* No source delivers line interrupts: the mode is not accepted. */
	parse(f, "guest_cid = 3\nnotify = isa\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nnotify = ,\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\ndefault_policy = maybe\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nok_line = true\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nlog_level = loud\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nok_line = yes no\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nok_line =\n");
	assert_int_equal(err_line(f, 0), 2);
}

static void
paths__checked(void **state)
{
	struct fix *f = *state;
	char text[512];

	parse(f, "guest_cid = 3\nsocket_dir = run/x\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nstate_dir = /run/../etc\n");
	assert_int_equal(err_line(f, 0), 2);
	assert_int_equal(parse(f, "guest_cid = 3\nstate_dir = /run/a..b\n"), 0);
	parse(f, "guest_cid = 3\nsocket_name = a/b\n");
	assert_int_equal(f->e.n, 1);
	parse(f, "guest_cid = 3\nsocket_name = .hidden\n");
	assert_int_equal(f->e.n, 1);
	snprintf(text, sizeof(text), "guest_cid = 3\nsocket_dir = /%0100d\n", 0);
	parse(f, text);
	assert_int_equal(f->e.n, 1);
	assert_int_equal(err_line(f, 0), 0);	/* a whole-file check */
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
	assert_int_equal(err_line(f, 0), 2);

	conf_defaults(&f->c, "g1");
	memset(&f->e, 0, sizeof(f->e));
	conf_load_buf(&f->c, "t.conf", "guest_cid = 3\nuser = a\0b\n", 25,
	    collect, &f->e);
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\nuser = a\033b\n");
	assert_int_equal(err_line(f, 0), 2);
	parse(f, "guest_cid = 3\n= 4\n");
	assert_int_equal(err_line(f, 0), 2);
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
	assert_int_equal(err_line(f, CONF_MAX_ERRORS), 21);
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
	assert_int_equal(err_line(f, 0), 2);
	assert_int_equal(parse(f, "guest_cid = 3\nuser = root\n"), 0);
	assert_int_equal(conf_check_system(&f->c, &uid, &gid, collect, &f->e), 1);
	parse(f, "guest_cid = 3\ngroup = nogroup\n");
	assert_int_equal(err_line(f, 0), 0);
}

struct changed {
	char	keys[8][32];
	unsigned n;
};

static void
note_changed(void *arg, const char *key)
{
	struct changed *ch = arg;

	if (ch->n < 8)
		snprintf(ch->keys[ch->n], sizeof(ch->keys[0]), "%s", key);
	ch->n++;
}

/* Live keys are taken from the new file; restart keys are named and kept. */
static void
reload__live_applied_restart_named(void **state)
{
	struct fix *f = *state;
	struct changed ch = { .n = 0 };
	struct conf *run = calloc(1, sizeof(*run));

	assert_non_null(run);
	assert_int_equal(parse(f, "guest_cid = 3\nbuf_alloc = 64K\n"
	    "port 5 connect\n"), 0);
	*run = f->c;
	assert_int_equal(parse(f, "guest_cid = 4\nbuf_alloc = 64K\n"
	    "mmio_base = 0x10000\nport 6 listen\nport 7\n"
	    "default_policy = deny\nmax_connections = 9\nclose_timeout = 2s\n"
	    "ok_line = no\nlog_level = debug\nnotify = none\n"), 0);
	conf_reload_merge(run, &f->c, note_changed, &ch);
	/* Restart class: reported in table order, running values kept. */
	assert_int_equal(ch.n, 4);
	assert_string_equal(ch.keys[0], "pio_base");	/* no longer given */
	assert_string_equal(ch.keys[1], "mmio_base");
	assert_string_equal(ch.keys[2], "guest_cid");
	assert_string_equal(ch.keys[3], "notify");
	assert_int_equal(run->c_guest_cid, 3);
	assert_true(run->c_has_pio);
	assert_false(run->c_has_mmio);
	assert_int_equal(run->c_notify, CONF_NOTIFY_DEFAULT);
	/* Live class: applied. */
	assert_int_equal(run->c_nr_ports, 2);
	assert_int_equal(run->c_ports[0].cp_port, 6);
	assert_false(run->c_ports[0].cp_connect);
	assert_int_equal(run->c_ports[1].cp_port, 7);
	assert_false(run->c_default_allow);
	assert_int_equal(run->c_max_connections, 9);
	assert_int_equal(run->c_close_timeout_ms, 2000);
	assert_false(run->c_ok_line);
	assert_int_equal(run->c_log_level, LOG_DEBUG);
	/* Nothing changed: nothing named. */
	ch.n = 0;
	*run = f->c;
	conf_reload_merge(run, &f->c, note_changed, &ch);
	assert_int_equal(ch.n, 0);
	free(run);
}

/*
 * hcvsockd.conf(5)'s "Reloading" names the keys a reload applies at once:
 * exactly those whose change conf_reload_merge() takes over rather than
 * reporting.  Each key is changed alone from a base file.
 */
static void
reload__man_page_names_the_live_keys(void **state)
{
	static const char *const changes[] = {
		"pio_base = 0x600", "mmio_base = 0xfe000000", "guest_cid = 4",
		"state_dir = /run/other", "socket_dir = /run/other2",
		"socket_name = other", "default_policy = deny", "port 9",
		"max_connections = 7", "buf_alloc = 8K", "close_timeout = 3s",
		"connect_timeout = 4s", "notify = none", "busy_poll_us = 5",
		"sync_poll_us = 5", "tx_poll_us = 5", "ok_line = no",
		"log_level = debug", "user = someone", "group = somegroup",
		"tcp_allow = any",
	};
	struct fix *f = *state;
	struct conf *base = calloc(1, sizeof(*base)), *run = calloc(1,
	    sizeof(*run));
	const char *top = getenv("top_srcdir");
	char path[4096], line[256], live[512] = " ", man[512] = " ";
	bool in = false;
	FILE *m;

	assert_non_null(base);
	assert_non_null(run);
	assert_int_equal(parse(f, "guest_cid = 3\nuser = u\ngroup = g\n"), 0);
	*base = f->c;
	for (size_t i = 0; i < ARRAY_SIZE(changes); i++) {
		struct changed ch = { .n = 0 };
		char text[256];

		snprintf(text, sizeof(text), "%s\n%s%s%s", changes[i],
		    strncmp(changes[i], "guest_cid", 9) ? "guest_cid = 3\n" : "",
		    strncmp(changes[i], "user", 4) ? "user = u\n" : "",
		    strncmp(changes[i], "group", 5) ? "group = g\n" : "");
		assert_int_equal(parse(f, text), 0);
		*run = *base;
		conf_reload_merge(run, &f->c, note_changed, &ch);
		if (ch.n == 0) {
			strncat(live, changes[i], strcspn(changes[i], " "));
			strcat(live, " ");
		}
	}
	snprintf(path, sizeof(path), "%s/man/hcvsockd.conf.5",
	    top != NULL ? top : ".");
	m = fopen(path, "r");
	assert_non_null(m);
	while (fgets(line, sizeof(line), m) != NULL) {
		if (!strncmp(line, ".Ss Reloading", 13))
			in = true;
		else if (in && !strncmp(line, ".S", 2))
			break;
		else if (in && !strncmp(line, ".Cm ", 4)) {
			strncat(man, line + 4, strcspn(line + 4, " ,\n"));
			strcat(man, " ");
		}
	}
	fclose(m);
	/* Both in the table's order, which the page follows. */
	assert_string_equal(man, live);
	free(base);
	free(run);
}

static void
file__missing_reported(void **state)
{
	struct fix *f = *state;

	conf_defaults(&f->c, "g1");
	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(conf_load(&f->c, "/nonexistent/x.conf", collect, &f->e),
	    -ENOENT);
	assert_int_equal(f->e.n, 1);	/* its wording: conf.test */
}

static void
tcp__specs_and_allowlist(void **state)
{
	static const struct {
		const char	*spec;
		bool		 listener;
		int		 family;
		uint16_t	 port;
	} good[] = {
		{ "127.0.0.1:80", false, AF_INET, 80 },
		{ "localhost:65535", false, AF_INET, 65535 },
		{ "[::1]:8080", false, AF_INET6, 8080 },
		{ "2222", true, AF_INET, 2222 },
		{ "0.0.0.0:1", true, AF_INET, 1 },
	};
	static const struct {
		const char	*spec;
		bool		 listener;
	} bad[] = {
		{ "2222", false }, { "127.0.0.1:", false }, { "127.0.0.1:0", false },
		{ "127.0.0.1:65536", false }, { "::1:80", false }, { "[::1]80", false },
		{ "[::1:80", false }, { ":80", false }, { "example.com:80", false },
		{ "127.0.0.1:8o", false }, { "127.0.0.1:+80", false }, { "", true },
		{ "127.0.0.1:99999999999999999999", false },
		{ "1111111111111111111111111111111111111111111111111111111111111111:1",
		    false },
	};
	struct conf_tcp_allow a = { 0 };
	struct conf_tcp t;
	const char *why;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(conf_tcp_parse(good[i].spec, good[i].listener,
		    &t, &why), 0);
		assert_int_equal(t.ct_addr.ss_family, good[i].family);
		assert_int_equal(ntohs(((struct sockaddr_in *)&t.ct_addr)->sin_port),
		    good[i].port);
		assert_string_equal(t.ct_spec, good[i].spec);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why = NULL;
		assert_int_equal(conf_tcp_parse(bad[i].spec, bad[i].listener,
		    &t, &why), -EINVAL);
		assert_non_null(why);
	}
	/* Loopback of either family passes, anything else must be listed. */
	assert_int_equal(conf_tcp_parse("127.8.9.10:1", false, &t, &why), 0);
	assert_true(conf_tcp_allowed(&a, &t));
	assert_int_equal(conf_tcp_parse("[::ffff:127.0.0.1]:1", false, &t, &why), 0);
	assert_true(conf_tcp_allowed(&a, &t));
	assert_int_equal(conf_tcp_parse("[::ffff:10.0.0.1]:1", false, &t, &why), 0);
	assert_false(conf_tcp_allowed(&a, &t));
	assert_int_equal(conf_tcp_parse("192.0.2.1:80", false, &t, &why), 0);
	assert_false(conf_tcp_allowed(&a, &t));
	assert_int_equal(conf_tcp_allow_add(&a, "192.0.2.2"), 0);
	assert_false(conf_tcp_allowed(&a, &t));
	assert_int_equal(conf_tcp_allow_add(&a, "192.0.2.1"), 0);
	assert_true(conf_tcp_allowed(&a, &t));
	assert_int_equal(conf_tcp_allow_add(&a, "example.com"), -EINVAL);
	assert_int_equal(conf_tcp_allow_add(&a, "localhost"), -EINVAL);
	for (int i = 0; i < CONF_TCP_ALLOW_MAX - 2; i++)
		assert_int_equal(conf_tcp_allow_add(&a, "::2"), 0);
	assert_int_equal(conf_tcp_allow_add(&a, "::2"), -ENOSPC);
	assert_int_equal(conf_tcp_parse("[2001:db8::1]:80", false, &t, &why), 0);
	assert_false(conf_tcp_allowed(&a, &t));
	assert_int_equal(conf_tcp_allow_add(&a, "any"), 0);
	assert_true(conf_tcp_allowed(&a, &t));
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
		T(reload__live_applied_restart_named),
		T(reload__man_page_names_the_live_keys),
		cmocka_unit_test(tcp__specs_and_allowlist),
#undef T
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
