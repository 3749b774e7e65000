/* SPDX-License-Identifier: MIT */
/* hcvsockctl: ask a running hcvsockd for its status or metrics over the control socket. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "daemon/conf.h"
#include "daemon/ctl.h"

static void
usage(FILE *f)
{
	fputs("usage: hcvsockctl [-hj] [-s state_dir] status name\n"
	    "       hcvsockctl [-h] [-s state_dir] metrics name\n", f);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = NULL, *name, *cmd;
	char path[CONF_PATH_MAX + CONF_NAME_MAX + 16];
	int ch, rc, json = 0;

	while ((ch = getopt_long(argc, argv, "hjs:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 's':
			state_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[optind], "status"))
		cmd = json ? "status json" : "status";
	else if (!strcmp(argv[optind], "metrics") && !json)
		cmd = "metrics";
	else {
		usage(stderr);
		return EX_USAGE;
	}
	name = argv[optind + 1];
	if (name[0] == '\0' || strchr(name, '/') != NULL || name[0] == '.') {
		fprintf(stderr, "hcvsockctl: '%s' is not a guest name\n", name);
		return EX_USAGE;
	}
	if (state_dir != NULL)
		rc = snprintf(path, sizeof(path), "%s/%s.ctl", state_dir, name);
	else
		rc = snprintf(path, sizeof(path), "%s/%s/%s.ctl",
		    CONF_DEFAULT_RUN_DIR, name, name);
	if (rc < 0 || (size_t)rc >= CONF_SUN_PATH_MAX) {
		fprintf(stderr, "hcvsockctl: control socket path too long\n");
		return EX_USAGE;
	}
	rc = ctl_request(path, cmd, STDOUT_FILENO, 5000);
	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		fprintf(stderr, "hcvsockctl: %s: no hcvsockd is serving %s\n",
		    path, name);
		return EX_UNAVAILABLE;
	}
	if (rc < 0) {
		fprintf(stderr, "hcvsockctl: %s: %s\n", path, strerror(-rc));
		return rc == -EACCES ? EX_NOPERM : EX_UNAVAILABLE;
	}
	return 0;
}
