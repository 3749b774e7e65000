/* SPDX-License-Identifier: MIT */
/*
 * The state file from untrusted bytes (a restarted daemon reads whatever
 * is at the path): the parser never crashes, refuses what the writer
 * never produces, and everything it accepts survives a round trip
 * through the writer's format unchanged (a version 1 file comes back as
 * version 2 with the same values).
 */
#include <errno.h>
#include <string.h>

#include "daemon/statefile.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct statefile a, b;
	char text[STATEFILE_MAX];
	size_t len;
	int rc;

	rc = statefile_parse((const char *)data, size, &a);
	fz_check(rc == 0 || rc == -EINVAL || rc == -EPROTONOSUPPORT);
	if (rc != 0)
		return 0;
	fz_check(a.sf_version == 1 || a.sf_version == STATEFILE_VERSION);
	fz_check(a.sf_pid > 0 && a.sf_server_id >= -1);
	len = statefile_format(&a, text, sizeof(text));
	fz_check(len < sizeof(text));
	fz_check(statefile_parse(text, len, &b) == 0);
	fz_check(b.sf_version == STATEFILE_VERSION);
	fz_check(b.sf_pid == a.sf_pid && b.sf_domid == a.sf_domid &&
	    b.sf_server_id == a.sf_server_id && b.sf_cid == a.sf_cid &&
	    b.sf_has_dev == a.sf_has_dev);
	fz_check(!a.sf_has_dev ||
	    memcmp(&a.sf_dev, &b.sf_dev, sizeof(a.sf_dev)) == 0);
	return 0;
}
