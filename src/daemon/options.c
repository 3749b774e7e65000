/* SPDX-License-Identifier: MIT */
/* hcvsockd's command line: getopt_long into struct options, sysexits on error. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "daemon/options.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static const char usage_text[] =
    "usage: hcvsockd [-fhnPRSVv] [-c file] [-p pidfile] [-s state_dir] [-w seconds]\n"
    "                -d domain | -i domid | -k socket | -l socket\n";

static const char help_text[] =
    "  -c, --config=FILE     configuration file (default " SYSCONFDIR
    "/hcvsock/NAME.conf)\n"
    "  -d, --domain=NAME     serve the Xen domain called NAME\n"
    "  -i, --domid=N         serve the Xen domain with id N\n"
    "  -k, --kvm=SOCKET      listen on SOCKET for VMMs attaching KVM guests\n"
    "  -l, --loopback=SOCKET serve a fake guest that hands over its ioreq page\n"
    "                        on SOCKET (tests, demonstrations)\n"
    "  -f, --foreground      stay in the foreground and log to stderr\n"
    "  -n, --check           check the configuration and exit (-v prints it)\n"
    "  -p, --pidfile=FILE    write and lock a pid file\n"
    "  -P, --pause-pin       keep the domain paused until it is served\n"
    "  -R, --allow-root      keep running as root when 'user' is not set\n"
    "  -S, --no-seccomp      no system-call filter (debugging)\n"
    "  -s, --state-dir=DIR   state directory (default /run/hcvsock/NAME)\n"
    "  -w, --wait=SECONDS    wait up to SECONDS for the domain to appear\n"
    "  -v, --verbose         log debug messages (repeatable)\n"
    "  -V, --version         print the version and exit\n"
    "  -h, --help            print this help and exit\n";

void
options_usage(FILE *f)
{
	fputs(usage_text, f);
}

void
options_help(FILE *f)
{
	fputs(usage_text, f);
	fputs("\nOptions:\n", f);
	fputs(help_text, f);
	fputs("\nSee hcvsockd(8) and hcvsockd.conf(5).\n", f);
}

static int __printf(3, 4)
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return EX_USAGE;
}

static bool
name_ok(const char *s)
{
	if (s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		    *s == '.'))
			return false;
	return true;
}

static int
copy_arg(char *dst, size_t len, const char *arg, const char *opt, char *err,
    size_t errlen)
{
	if (arg[0] == '\0')
		return fail(err, errlen, "%s: empty argument", opt);
	if (strlen(arg) >= len)
		return fail(err, errlen, "%s: argument too long (max %zu bytes)",
		    opt, len - 1);
	memcpy(dst, arg, strlen(arg) + 1);
	return 0;
}

static int
parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || *v > max)
		return -1;
	return 0;
}

int
options_parse(struct options *o, int argc, char **argv, char *err,
    size_t errlen)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "domain", required_argument, NULL, 'd' },
		{ "domid", required_argument, NULL, 'i' },
		{ "kvm", required_argument, NULL, 'k' },
		{ "loopback", required_argument, NULL, 'l' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'n' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "pause-pin", no_argument, NULL, 'P' },
		{ "allow-root", no_argument, NULL, 'R' },
		{ "no-seccomp", no_argument, NULL, 'S' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "wait", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch, rc, targets = 0;

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	optind = 0;	/* full reset: the tests parse many times */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:d:fhi:k:l:np:PRSs:Vvw:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			if ((rc = copy_arg(o->o_config, sizeof(o->o_config),
			    optarg, "--config", err, errlen)) != 0)
				return rc;
			break;
		case 'd':
			if ((rc = copy_arg(o->o_domain, sizeof(o->o_domain),
			    optarg, "--domain", err, errlen)) != 0)
				return rc;
			if (!name_ok(o->o_domain))
				return fail(err, errlen, "--domain: '%s' is not "
				    "a usable name (letters, digits, '.', '_', "
				    "'-')", optarg);
			o->o_target = OPT_TARGET_DOMAIN;
			targets++;
			break;
		case 'i':
			if (parse_uint(optarg, OPT_DOMID_MAX, &v) < 0 || v == 0)
				return fail(err, errlen, "--domid: '%s' is not a "
				    "guest domain id (1..%u)", optarg,
				    OPT_DOMID_MAX);
			o->o_domid = (uint32_t)v;
			o->o_target = OPT_TARGET_DOMID;
			targets++;
			break;
		case 'k':
			if ((rc = copy_arg(o->o_kvm, sizeof(o->o_kvm),
			    optarg, "--kvm", err, errlen)) != 0)
				return rc;
			o->o_target = OPT_TARGET_KVM;
			targets++;
			break;
		case 'l':
			if ((rc = copy_arg(o->o_loopback, sizeof(o->o_loopback),
			    optarg, "--loopback", err, errlen)) != 0)
				return rc;
			o->o_target = OPT_TARGET_LOOPBACK;
			targets++;
			break;
		case 'f':
			o->o_foreground = true;
			break;
		case 'n':
			o->o_check = true;
			break;
		case 'p':
			if ((rc = copy_arg(o->o_pidfile, sizeof(o->o_pidfile),
			    optarg, "--pidfile", err, errlen)) != 0)
				return rc;
			break;
		case 'P':
			o->o_pause_pin = true;
			break;
		case 'R':
			o->o_allow_root = true;
			break;
		case 'S':
			o->o_no_seccomp = true;
			break;
		case 's':
			if ((rc = copy_arg(o->o_state_dir, sizeof(o->o_state_dir),
			    optarg, "--state-dir", err, errlen)) != 0)
				return rc;
			if (o->o_state_dir[0] != '/')
				return fail(err, errlen, "--state-dir: '%s' is "
				    "not an absolute path", optarg);
			break;
		case 'w':
			if (parse_uint(optarg, 86400, &v) < 0)
				return fail(err, errlen, "--wait: '%s' is not a "
				    "number of seconds (0..86400)", optarg);
			o->o_wait_s = (unsigned)v;
			break;
		case 'v':
			o->o_verbose++;
			break;
		case 'V':
			o->o_version = true;
			break;
		case 'h':
			o->o_help = true;
			break;
		case ':':
			return fail(err, errlen, "option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			if (optopt != 0)
				return fail(err, errlen, "unknown option '-%c'",
				    optopt);
			return fail(err, errlen, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (o->o_help || o->o_version)
		return 0;
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
	if (targets > 1)
		return fail(err, errlen, "give only one of --domain, --domid, "
		    "--kvm and --loopback");
	if (targets == 0 && !o->o_check)
		return fail(err, errlen, "no guest: give --domain, --domid, --kvm "
		    "or --loopback");
	if (o->o_wait_s != 0 && (o->o_target == OPT_TARGET_LOOPBACK ||
	    o->o_target == OPT_TARGET_KVM))
		return fail(err, errlen, "--wait applies to Xen domains only");
	if (o->o_pause_pin && o->o_target != OPT_TARGET_DOMAIN &&
	    o->o_target != OPT_TARGET_DOMID)
		return fail(err, errlen, "--pause-pin applies to Xen domains "
		    "only");
	switch (o->o_target) {
	case OPT_TARGET_DOMAIN:
		snprintf(o->o_name, sizeof(o->o_name), "%s", o->o_domain);
		break;
	case OPT_TARGET_DOMID:
		snprintf(o->o_name, sizeof(o->o_name), "dom%" PRIu32, o->o_domid);
		break;
	case OPT_TARGET_LOOPBACK:
		snprintf(o->o_name, sizeof(o->o_name), "loopback");
		break;
	case OPT_TARGET_KVM:
		snprintf(o->o_name, sizeof(o->o_name), "kvm");
		break;
	case OPT_TARGET_NONE:
		snprintf(o->o_name, sizeof(o->o_name), "hcvsockd");
		break;
	}
	return 0;
}

void
options_config_path(const struct options *o, char *buf, size_t len,
    bool *is_default)
{
	*is_default = o->o_config[0] == '\0';
	if (!*is_default)
		snprintf(buf, len, "%s", o->o_config);
	else
		snprintf(buf, len, "%s/hcvsock/%s.conf", SYSCONFDIR, o->o_name);
}
