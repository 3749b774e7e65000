/* SPDX-License-Identifier: MIT */
/* hcvsockd: the dom0 daemon that gives a guest a vsock channel over an IOREQ server. */
#include <stdio.h>
#include <sysexits.h>

#include "daemon/options.h"
#include "daemon/runtime.h"

int
main(int argc, char **argv)
{
	struct options o;
	char err[256];
	int rc;

	rc = options_parse(&o, argc, argv, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "hcvsockd: %s\n", err);
		options_usage(stderr);
		return rc;
	}
	if (o.o_help) {
		options_help(stdout);
		return 0;
	}
	if (o.o_version) {
		printf("%s\n", PACKAGE_STRING);
		return 0;
	}
	if (o.o_check)
		return runtime_check(&o);
	return runtime_run(&o);
}
