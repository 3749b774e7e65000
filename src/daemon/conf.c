/* SPDX-License-Identifier: MIT */
/* hcvsockd.conf(5) parser: a table of typed, bounded keys, errors as file:line. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/conf.h"

struct parser {
	struct conf	*p_conf;
	const char	*p_file;
	unsigned	 p_line;
	int		 p_errors;
	conf_err_fn	 p_err;
	void		*p_arg;
};

enum key_type {
	KT_UINT,	/* decimal or 0x hex, bounded */
	KT_SIZE,	/* bytes with optional K/M suffix */
	KT_MSEC,	/* duration: N (s), Ns, Nms */
	KT_BOOL,	/* yes | no */
	KT_POLICY,	/* allow | deny */
	KT_LEVEL,	/* syslog level name */
	KT_DIR,		/* absolute path, no ".." */
	KT_NAME,	/* file name: [A-Za-z0-9._-], no leading '.' */
	KT_ACCOUNT,	/* user or group name */
	KT_NOTIFY,	/* list of notify modes */
	KT_PORT,	/* port N [path P|tcp H:P] [tcp_listen [H:]P] [dir], repeatable */
	KT_TCP_ALLOW,	/* list of numeric addresses, or any */
};

/*
 * One row per key: its syntax and bounds, where its value lives in struct
 * conf, and whether a reload applies it.  Parsing, conf_dump(), duplicate
 * detection and conf_reload_merge() all read this table; a new key is one
 * row here (plus its field, docs and goldens).
 */
struct key {
	const char	*k_name;
	enum key_type	 k_type;
	uint64_t	 k_min;
	uint64_t	 k_max;
	bool		 k_hex;		/* print bounds and value in hex */
	uint64_t	 k_align;	/* the value must be a multiple (0: any) */
	enum conf_reload k_reload;
	size_t		 k_off;		/* the value in struct conf */
	size_t		 k_size;
	ptrdiff_t	 k_has;		/* bool set when given (dumped only then), or -1 */
};

#define FIELD(f)	.k_off = offsetof(struct conf, f), \
			.k_size = sizeof(((struct conf *)0)->f)
#define NO_HAS		.k_has = -1
#define HAS(f)		.k_has = (ptrdiff_t)offsetof(struct conf, f)
#define LIVE		.k_reload = CONF_RELOAD_LIVE
#define RESTART		.k_reload = CONF_RELOAD_RESTART

static const struct key keys[] = {
	{ "pio_base", KT_UINT, 0, 0x10000 - CONF_PIO_WINDOW, .k_hex = true,
	    RESTART, FIELD(c_pio_base), HAS(c_has_pio) },
	{ "mmio_base", KT_UINT, 0x1000, (1ull << 52) - CONF_MMIO_WINDOW,
	    .k_hex = true, .k_align = CONF_MMIO_WINDOW, RESTART,
	    FIELD(c_mmio_base), HAS(c_has_mmio) },
	{ "guest_cid", KT_UINT, 3, 0xfffffffe, RESTART, FIELD(c_guest_cid),
	    NO_HAS },
	{ "state_dir", KT_DIR, RESTART, FIELD(c_state_dir), NO_HAS },
	{ "socket_dir", KT_DIR, RESTART, FIELD(c_socket_dir), NO_HAS },
	{ "socket_name", KT_NAME, RESTART, FIELD(c_socket_name), NO_HAS },
	{ "default_policy", KT_POLICY, LIVE, FIELD(c_default_allow), NO_HAS },
	{ "port", KT_PORT, 0, 0xfffffffe, LIVE, FIELD(c_ports), NO_HAS },
	{ "max_connections", KT_UINT, 1, 65536, LIVE, FIELD(c_max_connections),
	    NO_HAS },
	{ "buf_alloc", KT_SIZE, 4096, 16u << 20, RESTART, FIELD(c_buf_alloc),
	    NO_HAS },
	{ "close_timeout", KT_MSEC, 100, 600000, LIVE,
	    FIELD(c_close_timeout_ms), NO_HAS },
	{ "connect_timeout", KT_MSEC, 100, 600000, LIVE,
	    FIELD(c_connect_timeout_ms), NO_HAS },
	{ "notify", KT_NOTIFY, RESTART, FIELD(c_notify), NO_HAS },
	{ "evtchn_kick", KT_BOOL, RESTART, FIELD(c_evtchn_kick), NO_HAS },
	{ "busy_poll_us", KT_UINT, 0, 100000, RESTART, FIELD(c_busy_poll_us),
	    NO_HAS },
	{ "sync_poll_us", KT_UINT, 0, 100000, RESTART, FIELD(c_sync_poll_us),
	    NO_HAS },
	{ "tx_poll_us", KT_UINT, 0, 100000, RESTART, FIELD(c_tx_poll_us),
	    NO_HAS },
	{ "ok_line", KT_BOOL, LIVE, FIELD(c_ok_line), NO_HAS },
	{ "log_level", KT_LEVEL, LIVE, FIELD(c_log_level), NO_HAS },
	{ "user", KT_ACCOUNT, RESTART, FIELD(c_user), NO_HAS },
	{ "group", KT_ACCOUNT, RESTART, FIELD(c_group), NO_HAS },
	{ "peer_group", KT_ACCOUNT, RESTART, FIELD(c_peer_group), NO_HAS },
	{ "tcp_allow", KT_TCP_ALLOW, LIVE, FIELD(c_tcp_allow), NO_HAS },
};

_Static_assert(ARRAY_SIZE(keys) <= ARRAY_SIZE(((struct conf *)0)->c_seen),
    "c_seen is indexed by key");

static void *
field(struct conf *c, const struct key *k)
{
	return (char *)c + k->k_off;
}

static const void *
cfield(const struct conf *c, const struct key *k)
{
	return (const char *)c + k->k_off;
}

static void
set_uint(struct conf *c, const struct key *k, uint64_t v)
{
	void *f = field(c, k);

	switch (k->k_size) {
	case sizeof(uint16_t): *(uint16_t *)f = (uint16_t)v; break;
	case sizeof(uint32_t): *(uint32_t *)f = (uint32_t)v; break;
	default: *(uint64_t *)f = v; break;
	}
	if (k->k_has >= 0)
		*(bool *)((char *)c + k->k_has) = true;
}

static uint64_t
get_uint(const struct conf *c, const struct key *k)
{
	const void *f = cfield(c, k);

	switch (k->k_size) {
	case sizeof(uint16_t): return *(const uint16_t *)f;
	case sizeof(uint32_t): return *(const uint32_t *)f;
	default: return *(const uint64_t *)f;
	}
}

static bool
given(const struct conf *c, const struct key *k)
{
	return k->k_has < 0 || *(const bool *)((const char *)c + k->k_has);
}

/* The line key `name` was set at (0: not set). */
static unsigned
seen_at(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(keys[i].k_name, name))
			return c->c_seen[i];
	return 0;
}

static const struct {
	const char	*name;
	unsigned	 bit;
} notify_modes[] = {
	{ "none", 1u << HCVS_IRQ_NONE },
	{ "msi", 1u << HCVS_IRQ_MSI },
	{ "evtchn", 1u << HCVS_IRQ_EVTCHN },
	{ "gsi", 1u << HCVS_IRQ_GSI },
};

const char *
conf_notify_name(uint32_t mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(notify_modes); i++)
		if (mode < 32 && notify_modes[i].bit == 1u << mode)
			return notify_modes[i].name;
	return NULL;
}

static const struct {
	const char	*name;
	int		 prio;
} levels[] = {
	{ "error", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

static void __printf(2, 3)
perr(struct parser *p, const char *fmt, ...)
{
	char msg[CONF_LINE_MAX + 256], head[CONF_PATH_MAX + 16];
	va_list ap;

	p->p_errors++;
	if (p->p_errors > CONF_MAX_ERRORS || p->p_err == NULL)
		return;
	if (p->p_line > 0)
		snprintf(head, sizeof(head), "%s:%u: ", p->p_file, p->p_line);
	else
		snprintf(head, sizeof(head), "%s: ", p->p_file);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->p_errors == CONF_MAX_ERRORS) {
		char last[sizeof(msg) + sizeof(head) + 64];

		snprintf(last, sizeof(last), "%s%s", head, msg);
		p->p_err(p->p_arg, last);
		snprintf(last, sizeof(last), "%stoo many errors, giving up", head);
		p->p_err(p->p_arg, last);
		return;
	}
	{
		char full[sizeof(msg) + sizeof(head)];

		snprintf(full, sizeof(full), "%s%s", head, msg);
		p->p_err(p->p_arg, full);
	}
}

/* Names for log_level values, or NULL. */
static const char *
conf_log_level_name(int prio)
{
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (levels[i].prio == prio)
			return levels[i].name;
	return NULL;
}

/* The names of the modes in the notify mask, each after the first after `sep`. */
static void
conf_notify_str(unsigned mask, const char *sep, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(notify_modes); i++) {
		int n;

		if (!(mask & notify_modes[i].bit))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? sep : "",
		    notify_modes[i].name);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
}

void
conf_defaults(struct conf *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->c_name, sizeof(c->c_name), "%s",
	    name != NULL && name[0] != '\0' ? name : "hcvsockd");
	snprintf(c->c_socket_name, sizeof(c->c_socket_name), "vsock");
	c->c_default_allow = true;
	c->c_max_connections = 1023;
	c->c_buf_alloc = 256u << 10;
	c->c_close_timeout_ms = 8000;
	c->c_connect_timeout_ms = 2000;
	c->c_notify = CONF_NOTIFY_DEFAULT;
	c->c_evtchn_kick = true;
	c->c_ok_line = true;
	c->c_log_level = LOG_INFO;
}

/* Decimal, or hex with 0x.  No sign, no octal, no trailing garbage. */
static int
parse_u64(const char *s, uint64_t *v, const char **end)
{
	uint64_t x = 0;
	unsigned base = 10, digits = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		if (x > (UINT64_MAX - d) / base)
			return -ERANGE;
		x = x * base + d;
		digits++;
	}
	if (digits == 0)
		return -EINVAL;
	*v = x;
	*end = s;
	return 0;
}

static void
fmt_bound(const struct key *k, uint64_t v, char *buf, size_t len)
{
	if (k->k_hex)
		snprintf(buf, len, "0x%" PRIx64, v);
	else
		snprintf(buf, len, "%" PRIu64, v);
}

/* Parse a bounded number with an optional unit table; reports errors. */
static int
get_number(struct parser *p, const struct key *k, const char *val,
    uint64_t *out)
{
	const char *end;
	uint64_t v, mul = 1;
	char lo[32], hi[32];
	int rc;

	rc = parse_u64(val, &v, &end);
	if (rc == -EINVAL) {
		perr(p, "'%s': '%s' is not a number", k->k_name, val);
		return -1;
	}
	if (rc == 0 && *end != '\0') {
		if (k->k_type == KT_SIZE && (!strcmp(end, "K") ||
		    !strcmp(end, "k") || !strcmp(end, "KiB")))
			mul = 1024;
		else if (k->k_type == KT_SIZE && (!strcmp(end, "M") ||
		    !strcmp(end, "m") || !strcmp(end, "MiB")))
			mul = 1024 * 1024;
		else if (k->k_type == KT_MSEC && !strcmp(end, "s"))
			mul = 1000;
		else if (k->k_type == KT_MSEC && !strcmp(end, "ms"))
			mul = 1;
		else {
			perr(p, "'%s': '%s' is not a number%s", k->k_name, val,
			    k->k_type == KT_SIZE ? " (suffixes: K, M)" :
			    k->k_type == KT_MSEC ? " (suffixes: s, ms)" : "");
			return -1;
		}
	} else if (rc == 0 && k->k_type == KT_MSEC)
		mul = 1000;
	if (rc == 0 && v > UINT64_MAX / mul)
		rc = -ERANGE;
	if (rc == 0)
		v *= mul;
	if (rc == -ERANGE || v < k->k_min || v > k->k_max) {
		fmt_bound(k, k->k_min, lo, sizeof(lo));
		fmt_bound(k, k->k_max, hi, sizeof(hi));
		if (k->k_type == KT_MSEC)
			perr(p, "'%s': '%s' is out of range (%sms..%sms)",
			    k->k_name, val, lo, hi);
		else
			perr(p, "'%s': '%s' is out of range (%s..%s)",
			    k->k_name, val, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int
check_dir(struct parser *p, const struct key *k, const char *val)
{
	const char *s;

	if (val[0] != '/') {
		perr(p, "'%s': '%s' is not an absolute path", k->k_name, val);
		return -1;
	}
	if (strlen(val) >= CONF_PATH_MAX) {
		perr(p, "'%s': path too long (max %d bytes)", k->k_name,
		    CONF_PATH_MAX - 1);
		return -1;
	}
	for (s = val; (s = strstr(s, "..")) != NULL; s += 2) {
		if (s[-1] == '/' && (s[2] == '/' || s[2] == '\0')) {
			perr(p, "'%s': '..' is not allowed in '%s'", k->k_name,
			    val);
			return -1;
		}
	}
	return 0;
}

static bool
valid_name_char(int ch, bool account)
{
	return isalnum(ch) || ch == '_' || ch == '-' || (!account && ch == '.');
}

static int
check_name(struct parser *p, const struct key *k, const char *val)
{
	bool account = k->k_type == KT_ACCOUNT;

	if (strlen(val) >= (account ? 33 : CONF_NAME_MAX)) {
		perr(p, "'%s': '%s' is too long (max %d bytes)", k->k_name, val,
		    account ? 32 : CONF_NAME_MAX - 1);
		return -1;
	}
	for (const char *s = val; *s != '\0'; s++) {
		if (!valid_name_char((unsigned char)*s, account) ||
		    (s == val && (*s == '.' || *s == '-'))) {
			perr(p, "'%s': '%s' may contain only letters, digits, %s"
			    "'_' and '-', and may not start with %s",
			    k->k_name, val, account ? "" : "'.', ",
			    account ? "'-'" : "'.' or '-'");
			return -1;
		}
	}
	return 0;
}

/* `tcp` / `tcp_listen` and their value at argv[*i]. */
static int
parse_port_tcp(struct parser *p, struct conf_port *cp, char **argv, int argc,
    int *i)
{
	bool listener = !strcmp(argv[*i], "tcp_listen");
	struct conf_tcp *t = listener ? &cp->cp_tcp_listen : &cp->cp_tcp;
	const char *why = "";

	if (t->ct_len != 0) {
		perr(p, "'port': '%s' given twice", argv[*i]);
		return -1;
	}
	if (*i + 1 >= argc) {
		perr(p, "'port': '%s' needs a value", argv[*i]);
		return -1;
	}
	(*i)++;
	if (conf_tcp_parse(argv[*i], listener, t, &why) < 0) {
		perr(p, "'port': '%s %s': %s", argv[*i - 1], argv[*i], why);
		return -1;
	}
	return 0;
}

/* port <N> [path <P> | tcp <H:P>] [tcp_listen <[H:]P>] [connect|listen|both] */
static void
parse_port(struct parser *p, const struct key *k, char **argv, int argc)
{
	struct conf *c = p->p_conf;
	struct conf_port cp;
	uint64_t v;
	bool have_dir = false;

	memset(&cp, 0, sizeof(cp));
	cp.cp_connect = cp.cp_listen = true;
	cp.cp_line = p->p_line;
	if (get_number(p, k, argv[0], &v) < 0)
		return;
	cp.cp_port = (uint32_t)v;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "tcp") || !strcmp(argv[i], "tcp_listen")) {
			if (parse_port_tcp(p, &cp, argv, argc, &i) < 0)
				return;
		} else if (!strcmp(argv[i], "path")) {
			if (cp.cp_path[0] != '\0') {
				perr(p, "'port': 'path' given twice");
				return;
			}
			if (i + 1 >= argc) {
				perr(p, "'port': 'path' needs a value");
				return;
			}
			i++;
			if (strlen(argv[i]) >= CONF_SUN_PATH_MAX) {
				perr(p, "'port': path '%s' is too long for a "
				    "socket (max %d bytes)", argv[i],
				    CONF_SUN_PATH_MAX - 1);
				return;
			}
			if (strstr(argv[i], "..") != NULL) {
				perr(p, "'port': '..' is not allowed in '%s'",
				    argv[i]);
				return;
			}
			snprintf(cp.cp_path, sizeof(cp.cp_path), "%s", argv[i]);
		} else if (!strcmp(argv[i], "connect") ||
		    !strcmp(argv[i], "listen") || !strcmp(argv[i], "both")) {
			if (have_dir) {
				perr(p, "'port': direction given twice");
				return;
			}
			have_dir = true;
			cp.cp_connect = argv[i][0] != 'l';
			cp.cp_listen = argv[i][0] != 'c';
		} else {
			perr(p, "'port': unexpected '%s' (expected path, tcp, "
			    "tcp_listen, connect, listen or both)", argv[i]);
			return;
		}
	}
	if (cp.cp_path[0] != '\0' && cp.cp_tcp.ct_len != 0) {
		perr(p, "'port': 'path' and 'tcp' are alternatives");
		return;
	}
	if (cp.cp_tcp.ct_len != 0 && !cp.cp_connect) {
		perr(p, "'port': 'tcp' is where guest connects go, but the "
		    "direction is listen");
		return;
	}
	if (cp.cp_tcp_listen.ct_len != 0 && !cp.cp_listen) {
		perr(p, "'port': 'tcp_listen' lets host clients in, but the "
		    "direction is connect");
		return;
	}
	for (size_t i = 0; i < c->c_nr_ports; i++) {
		const struct conf_tcp *o = &c->c_ports[i].cp_tcp_listen;

		if (c->c_ports[i].cp_port == cp.cp_port) {
			perr(p, "'port': %" PRIu32 " is mapped twice (first at "
			    "line %u)", cp.cp_port, c->c_ports[i].cp_line);
			return;
		}
		if (cp.cp_tcp_listen.ct_len != 0 &&
		    o->ct_len == cp.cp_tcp_listen.ct_len &&
		    !memcmp(&o->ct_addr, &cp.cp_tcp_listen.ct_addr, o->ct_len)) {
			perr(p, "'port': tcp_listen %s is used twice (first at "
			    "line %u)", cp.cp_tcp_listen.ct_spec,
			    c->c_ports[i].cp_line);
			return;
		}
	}
	if (c->c_nr_ports >= CONF_MAX_PORTS) {
		perr(p, "'port': too many ports (max %d)", CONF_MAX_PORTS);
		return;
	}
	c->c_ports[c->c_nr_ports++] = cp;
}

static void
parse_notify(struct parser *p, char **argv, int argc)
{
	unsigned mask = 0;

	for (int i = 0; i < argc; i++) {
		char *save = NULL, *tok;

		for (tok = strtok_r(argv[i], ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			size_t j;

			for (j = 0; j < ARRAY_SIZE(notify_modes); j++)
				if (!strcmp(tok, notify_modes[j].name))
					break;
			if (j == ARRAY_SIZE(notify_modes)) {
				char names[64];

				conf_notify_str(~0u, ", ", names, sizeof(names));
				perr(p, "'notify': unknown mode '%s' (expected "
				    "%s)", tok, names);
				return;
			}
			mask |= notify_modes[j].bit;
		}
	}
	if (mask == 0) {
		perr(p, "'notify': no mode given");
		return;
	}
	p->p_conf->c_notify = mask;
}

static void
parse_tcp_allow(struct parser *p, char **argv, int argc)
{
	struct conf_tcp_allow *a = &p->p_conf->c_tcp_allow;

	for (int i = 0; i < argc; i++) {
		char *save = NULL, *tok;

		for (tok = strtok_r(argv[i], ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			int rc = conf_tcp_allow_add(a, tok);

			if (rc == -ENOSPC) {
				perr(p, "'tcp_allow': more than %d addresses",
				    CONF_TCP_ALLOW_MAX);
				return;
			}
			if (rc < 0) {
				perr(p, "'tcp_allow': '%s' is not a numeric "
				    "address or 'any'", tok);
				return;
			}
		}
	}
}

static void
apply(struct parser *p, const struct key *k, char **argv, int argc)
{
	struct conf *c = p->p_conf;
	uint64_t v;
	const char *val = argv[0];

	switch (k->k_type) {
	case KT_PORT:
		parse_port(p, k, argv, argc);
		return;
	case KT_NOTIFY:
		parse_notify(p, argv, argc);
		return;
	case KT_TCP_ALLOW:
		parse_tcp_allow(p, argv, argc);
		return;
	default:
		break;
	}
	if (argc > 1) {
		perr(p, "'%s': unexpected '%s' after the value", k->k_name,
		    argv[1]);
		return;
	}
	switch (k->k_type) {
	case KT_UINT:
	case KT_SIZE:
	case KT_MSEC:
		if (get_number(p, k, val, &v) < 0)
			return;
		if (k->k_align != 0 && v % k->k_align != 0) {
			perr(p, "'%s': '%s' is not aligned to %" PRIu64 " bytes",
			    k->k_name, val, k->k_align);
			return;
		}
		set_uint(c, k, v);
		break;
	case KT_BOOL:
		if (strcmp(val, "yes") && strcmp(val, "no")) {
			perr(p, "'%s': expected yes or no, got '%s'", k->k_name,
			    val);
			return;
		}
		*(bool *)field(c, k) = val[0] == 'y';
		break;
	case KT_POLICY:
		if (strcmp(val, "allow") && strcmp(val, "deny")) {
			perr(p, "'%s': expected allow or deny, got '%s'",
			    k->k_name, val);
			return;
		}
		*(bool *)field(c, k) = val[0] == 'a';
		break;
	case KT_LEVEL: {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(levels); i++)
			if (!strcmp(val, levels[i].name))
				break;
		if (i == ARRAY_SIZE(levels)) {
			perr(p, "'%s': expected error, warning, notice, info or "
			    "debug, got '%s'", k->k_name, val);
			return;
		}
		*(int *)field(c, k) = levels[i].prio;
		break;
	}
	case KT_DIR:
		if (check_dir(p, k, val) < 0)
			return;
		/* --state-dir on the command line wins over the file. */
		if (k->k_off == offsetof(struct conf, c_state_dir) &&
		    c->c_state_dir_cli)
			break;
		snprintf(field(c, k), k->k_size, "%s", val);
		break;
	case KT_NAME:
	case KT_ACCOUNT:
		if (check_name(p, k, val) < 0)
			return;
		snprintf(field(c, k), k->k_size, "%s", val);
		break;
	default:
		break;
	}
}

static void
parse_line(struct parser *p, char *line)
{
	char *argv[CONF_LINE_MAX / 2], *s, *key;
	int argc = 0;
	const struct key *k = NULL;

	for (s = line; *s != '\0'; s++) {
		if (*s == '#') {
			*s = '\0';
			break;
		}
		if (*s == '\t')
			continue;
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			perr(p, "invalid character 0x%02x", (unsigned char)*s);
			return;
		}
	}
	s = line;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return;
	key = s;
	while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '=')
		s++;
	if (s == key) {
		perr(p, "expected a key before '='");
		return;
	}
	if (*s != '\0') {
		bool eq = *s == '=';

		*s++ = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (!eq && *s == '=') {
			s++;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(key, keys[i].k_name))
			k = &keys[i];
	if (k == NULL) {
		perr(p, "unknown key '%s'", key);
		return;
	}
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		argv[argc++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
	if (argc == 0) {
		perr(p, "'%s' needs a value", k->k_name);
		return;
	}
	if (k->k_type != KT_PORT) {
		unsigned *seen = &p->p_conf->c_seen[k - keys];

		if (*seen != 0) {
			perr(p, "'%s' is set twice (first at line %u)",
			    k->k_name, *seen);
			return;
		}
		*seen = p->p_line;
	}
	apply(p, k, argv, argc);
}

static int
path_join(char *buf, size_t len, const char *dir, const char *name,
    const char *suffix)
{
	int n = snprintf(buf, len, "%s%s%s%s", dir,
	    dir[0] != '\0' && dir[strlen(dir) - 1] == '/' ? "" : "/", name,
	    suffix);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int
conf_listener_path(const struct conf *c, char *buf, size_t len)
{
	if (len > CONF_SUN_PATH_MAX)
		len = CONF_SUN_PATH_MAX;
	return path_join(buf, len, c->c_socket_dir, c->c_socket_name, "");
}

int
conf_port_path(const struct conf *c, uint32_t port, char *buf, size_t len)
{
	char suffix[16];

	if (len > CONF_SUN_PATH_MAX)
		len = CONF_SUN_PATH_MAX;
	for (size_t i = 0; i < c->c_nr_ports; i++) {
		const struct conf_port *cp = &c->c_ports[i];

		if (cp->cp_port != port || cp->cp_path[0] == '\0')
			continue;
		if (cp->cp_path[0] == '/') {
			int n = snprintf(buf, len, "%s", cp->cp_path);

			return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
		}
		return path_join(buf, len, c->c_socket_dir, cp->cp_path, "");
	}
	snprintf(suffix, sizeof(suffix), "_%" PRIu32, port);
	return path_join(buf, len, c->c_socket_dir, c->c_socket_name, suffix);
}

static int
finish(struct parser *p)
{
	struct conf *c = p->p_conf;
	char buf[CONF_PATH_MAX + CONF_NAME_MAX + 16];

	p->p_line = 0;
	if (c->c_state_dir[0] == '\0') {
		if (path_join(c->c_state_dir, sizeof(c->c_state_dir),
		    CONF_DEFAULT_RUN_DIR, c->c_name, "") < 0)
			perr(p, "state directory for '%s' is too long", c->c_name);
	}
	if (c->c_socket_dir[0] == '\0')
		snprintf(c->c_socket_dir, sizeof(c->c_socket_dir), "%s",
		    c->c_state_dir);
	if (!c->c_has_pio && !c->c_has_mmio) {
		c->c_has_pio = true;
		c->c_pio_base = CONF_DEFAULT_PIO_BASE;
	}
	/* An invalid value was reported where it stood. */
	if (c->c_guest_cid == 0 && seen_at(c, "guest_cid") == 0)
		perr(p, "'guest_cid' is not set");
	if (c->c_group[0] != '\0' && c->c_user[0] == '\0')
		perr(p, "'group' is set but 'user' is not");

	/* sun_path is 108 bytes: check the longest name we could build. */
	path_join(buf, sizeof(buf), c->c_socket_dir, c->c_socket_name,
	    "_4294967294");
	if (strlen(buf) >= CONF_SUN_PATH_MAX)
		perr(p, "socket path '%s' would be %zu bytes, over the %d-byte "
		    "limit of AF_UNIX: shorten socket_dir or socket_name", buf,
		    strlen(buf), CONF_SUN_PATH_MAX - 1);
	path_join(buf, sizeof(buf), c->c_state_dir, c->c_name, ".ctl");
	if (strlen(buf) >= CONF_SUN_PATH_MAX)
		perr(p, "control socket '%s' would be %zu bytes, over the "
		    "%d-byte limit of AF_UNIX: shorten state_dir", buf,
		    strlen(buf), CONF_SUN_PATH_MAX - 1);
	for (size_t i = 0; i < c->c_nr_ports; i++) {
		const struct conf_port *cp = &c->c_ports[i];

		if (conf_port_path(c, cp->cp_port, buf, CONF_SUN_PATH_MAX) < 0) {
			p->p_line = cp->cp_line;
			perr(p, "'port': the socket path for port %" PRIu32
			    " is over the %d-byte limit of AF_UNIX",
			    cp->cp_port, CONF_SUN_PATH_MAX - 1);
			p->p_line = 0;
		}
		/*
		 * The host bridge refuses to connect outside its directory
		 * (a guest must not reach arbitrary sockets): say so here,
		 * where the line is known, rather than fail at start-up.
		 */
		if (cp->cp_path[0] == '/') {
			size_t dl = strlen(c->c_socket_dir);

			if (strncmp(cp->cp_path, c->c_socket_dir, dl) != 0 ||
			    cp->cp_path[dl] != '/') {
				p->p_line = cp->cp_line;
				perr(p, "'port': path '%s' is outside socket_dir "
				    "'%s'", cp->cp_path, c->c_socket_dir);
				p->p_line = 0;
			}
		}
		/* tcp_allow may come after the port lines: checked here. */
		for (int j = 0; j < 2; j++) {
			const struct conf_tcp *t = j ? &cp->cp_tcp_listen :
			    &cp->cp_tcp;

			if (t->ct_len == 0 || conf_tcp_allowed(&c->c_tcp_allow, t))
				continue;
			p->p_line = cp->cp_line;
			perr(p, "'port': %s %s is not a loopback address: list "
			    "it in 'tcp_allow' to use it", j ? "tcp_listen" :
			    "tcp", t->ct_spec);
			p->p_line = 0;
		}
	}
	return p->p_errors;
}

int
conf_finish(struct conf *c, conf_err_fn err, void *arg)
{
	struct parser p = {
		.p_conf = c,
		.p_file = c->c_file[0] != '\0' ? c->c_file : "(defaults)",
		.p_err = err,
		.p_arg = arg,
	};

	return finish(&p);
}

int
conf_load_buf(struct conf *c, const char *name, const char *text, size_t len,
    conf_err_fn err, void *arg)
{
	struct parser p = {
		.p_conf = c,
		.p_file = name,
		.p_err = err,
		.p_arg = arg,
	};
	char line[CONF_LINE_MAX + 1];
	size_t off = 0;

	snprintf(c->c_file, sizeof(c->c_file), "%s", name);
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - (text + off)) : len - off;

		p.p_line++;
		if (n > 0 && text[off + n - 1] == '\r')
			n--;
		if (n > CONF_LINE_MAX)
			perr(&p, "line too long (max %d bytes)", CONF_LINE_MAX);
		else if (memchr(text + off, '\0', n) != NULL)
			perr(&p, "invalid character 0x00");
		else {
			memcpy(line, text + off, n);
			line[n] = '\0';
			parse_line(&p, line);
		}
		off += (nl != NULL ? (size_t)(nl - (text + off)) + 1 : len - off);
	}
	return finish(&p);
}

/* A FIFO or device at the path must not block or feed the parser. */
static FILE *
conf_open(const char *path, int *e)
{
	struct stat st;
	FILE *f;
	int fd;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*e = errno;
		return NULL;
	}
	if (fstat(fd, &st) < 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode)) {
		*e = st.st_mode == 0 ? errno : ENOTSUP;
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		*e = errno;
		close(fd);
	}
	return f;
}

int
conf_load(struct conf *c, const char *path, conf_err_fn err, void *arg)
{
	struct parser p = {
		.p_conf = c,
		.p_file = path,
		.p_err = err,
		.p_arg = arg,
	};
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc, e;

	f = conf_open(path, &e);
	if (f == NULL) {
		if (e == ENOTSUP)
			perr(&p, "not a regular file");
		else
			perr(&p, "%s", strerror(e));
		return -e;
	}
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *nb;

			if (cap >= (1u << 20)) {
				fclose(f);
				free(buf);
				perr(&p, "file too large (max 1 MiB)");
				return -EFBIG;
			}
			nb = realloc(buf, cap + 65536);
			if (nb == NULL) {
				fclose(f);
				free(buf);
				perr(&p, "out of memory");
				return -ENOMEM;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		e = errno != 0 ? errno : EIO;
		fclose(f);
		free(buf);
		perr(&p, "%s", strerror(e));
		return -e;
	}
	fclose(f);
	rc = conf_load_buf(c, path, buf, len, err, arg);
	free(buf);
	return rc;
}

int
conf_check_system(const struct conf *c, uid_t *uid, gid_t *gid,
    conf_err_fn err, void *arg)
{
	struct parser p = {
		.p_conf = NULL,
		.p_file = c->c_file[0] != '\0' ? c->c_file : "(defaults)",
		.p_err = err,
		.p_arg = arg,
	};
	struct passwd *pw;
	struct group *gr;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (c->c_peer_group[0] != '\0' && getgrnam(c->c_peer_group) == NULL) {
		p.p_line = seen_at(c, "peer_group");
		perr(&p, "'peer_group': no such group '%s'", c->c_peer_group);
		return p.p_errors;
	}
	if (c->c_user[0] == '\0')
		return 0;
	p.p_line = seen_at(c, "user");
	errno = 0;
	pw = getpwnam(c->c_user);
	if (pw == NULL) {
		perr(&p, "'user': no such user '%s'", c->c_user);
		return p.p_errors;
	}
	if (pw->pw_uid == 0) {
		perr(&p, "'user': '%s' is root: privileges would not be dropped",
		    c->c_user);
		return p.p_errors;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (c->c_group[0] != '\0') {
		p.p_line = seen_at(c, "group");
		gr = getgrnam(c->c_group);
		if (gr == NULL) {
			perr(&p, "'group': no such group '%s'", c->c_group);
			return p.p_errors;
		}
		*gid = gr->gr_gid;
	}
	return p.p_errors;
}

static void
dump_msec(FILE *f, const char *key, uint32_t ms)
{
	if (ms % 1000 == 0)
		fprintf(f, "%s = %" PRIu32 "s\n", key, ms / 1000);
	else
		fprintf(f, "%s = %" PRIu32 "ms\n", key, ms);
}

static void
dump_size(FILE *f, const char *key, uint32_t v)
{
	if (v % (1u << 20) == 0)
		fprintf(f, "%s = %" PRIu32 "M\n", key, v >> 20);
	else if (v % 1024 == 0)
		fprintf(f, "%s = %" PRIu32 "K\n", key, v >> 10);
	else
		fprintf(f, "%s = %" PRIu32 "\n", key, v);
}

static void
dump_port(FILE *f, const struct conf_port *cp)
{
	fprintf(f, "port %" PRIu32 "%s%s%s%s%s%s %s\n", cp->cp_port,
	    cp->cp_path[0] != '\0' ? " path " : "", cp->cp_path,
	    cp->cp_tcp.ct_len != 0 ? " tcp " : "", cp->cp_tcp.ct_spec,
	    cp->cp_tcp_listen.ct_len != 0 ? " tcp_listen " : "",
	    cp->cp_tcp_listen.ct_spec,
	    cp->cp_connect && cp->cp_listen ? "both" :
	    cp->cp_connect ? "connect" : "listen");
}

static void
dump_tcp_allow(FILE *f, const struct conf_tcp_allow *ta)
{
	char a[INET6_ADDRSTRLEN];

	if (!ta->ta_any && ta->ta_n == 0)
		return;
	fputs("tcp_allow =", f);
	if (ta->ta_any)
		fputs(" any", f);
	for (size_t i = 0; i < ta->ta_n; i++) {
		const struct sockaddr_storage *ss = &ta->ta_addr[i];
		const void *ip = ss->ss_family == AF_INET ?
		    (const void *)&((const struct sockaddr_in *)ss)->sin_addr :
		    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (inet_ntop(ss->ss_family, ip, a, sizeof(a)) != NULL)
			fprintf(f, "%s%s", i > 0 || ta->ta_any ? ", " : " ", a);
	}
	fputc('\n', f);
}

void
conf_dump(const struct conf *c, FILE *f)
{
	char notify[64];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct key *k = &keys[i];
		const void *v = cfield(c, k);

		if (!given(c, k))
			continue;
		switch (k->k_type) {
		case KT_UINT:
			fprintf(f, k->k_hex ? "%s = 0x%" PRIx64 "\n" :
			    "%s = %" PRIu64 "\n", k->k_name, get_uint(c, k));
			break;
		case KT_SIZE:
			dump_size(f, k->k_name, (uint32_t)get_uint(c, k));
			break;
		case KT_MSEC:
			dump_msec(f, k->k_name, (uint32_t)get_uint(c, k));
			break;
		case KT_BOOL:
			fprintf(f, "%s = %s\n", k->k_name,
			    *(const bool *)v ? "yes" : "no");
			break;
		case KT_POLICY:
			fprintf(f, "%s = %s\n", k->k_name,
			    *(const bool *)v ? "allow" : "deny");
			break;
		case KT_LEVEL:
			fprintf(f, "%s = %s\n", k->k_name,
			    conf_log_level_name(*(const int *)v));
			break;
		case KT_DIR:
		case KT_NAME:
		case KT_ACCOUNT:
			/* An unset account is "keep running as root". */
			if (((const char *)v)[0] != '\0')
				fprintf(f, "%s = %s\n", k->k_name,
				    (const char *)v);
			break;
		case KT_NOTIFY:
			conf_notify_str(*(const unsigned *)v, ",", notify,
			    sizeof(notify));
			fprintf(f, "%s = %s\n", k->k_name, notify);
			break;
		case KT_PORT:
			for (size_t j = 0; j < c->c_nr_ports; j++)
				dump_port(f, &c->c_ports[j]);
			break;
		case KT_TCP_ALLOW:
			dump_tcp_allow(f, v);
			break;
		}
	}
}

static bool
ports_equal(const struct conf *a, const struct conf *b)
{
	if (a->c_nr_ports != b->c_nr_ports)
		return false;
	for (size_t i = 0; i < a->c_nr_ports; i++) {
		const struct conf_port *x = &a->c_ports[i], *y = &b->c_ports[i];

		if (x->cp_port != y->cp_port || x->cp_connect != y->cp_connect ||
		    x->cp_listen != y->cp_listen ||
		    strcmp(x->cp_path, y->cp_path) != 0 ||
		    strcmp(x->cp_tcp.ct_spec, y->cp_tcp.ct_spec) != 0 ||
		    strcmp(x->cp_tcp_listen.ct_spec, y->cp_tcp_listen.ct_spec) != 0)
			return false;
	}
	return true;
}

static bool
key_equal(const struct conf *a, const struct conf *b, const struct key *k)
{
	if (given(a, k) != given(b, k))
		return false;
	switch (k->k_type) {
	case KT_PORT:
		return ports_equal(a, b);
	case KT_DIR:
	case KT_NAME:
	case KT_ACCOUNT:
		return strcmp(cfield(a, k), cfield(b, k)) == 0;
	default:
		return memcmp(cfield(a, k), cfield(b, k), k->k_size) == 0;
	}
}

void
conf_reload_merge(struct conf *run, const struct conf *next,
    void (*restart_changed)(void *arg, const char *key), void *arg)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct key *k = &keys[i];

		if (key_equal(run, next, k))
			continue;
		if (k->k_reload == CONF_RELOAD_RESTART) {
			if (restart_changed != NULL)
				restart_changed(arg, k->k_name);
			continue;
		}
		memcpy(field(run, k), cfield(next, k), k->k_size);
		if (k->k_has >= 0)
			*(bool *)((char *)run + k->k_has) = given(next, k);
		if (k->k_type == KT_PORT)
			run->c_nr_ports = next->c_nr_ports;
	}
}
