/* SPDX-License-Identifier: MIT */
/*
 * hcvsockd.conf from untrusted text: the parser never crashes, bounds its
 * error reports, and every configuration it accepts survives a round
 * trip through conf_dump() unchanged (what the daemon would log as the
 * effective configuration reads back to the same thing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/conf.h"
#include "fuzz.h"

struct errs {
	unsigned	n;
};

static void
count_err(void *arg, const char *msg)
{
	struct errs *e = arg;

	fz_check(msg != NULL && msg[0] != '\0');
	/* "file:line: message": the file name comes first. */
	fz_check(strncmp(msg, "f.conf:", 7) == 0);
	e->n++;
}

static char *
dump(const struct conf *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	fz_check(f != NULL);
	conf_dump(c, f);
	fz_check(fclose(f) == 0);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = malloc(sizeof(*c)), *c2 = malloc(sizeof(*c2));
	struct errs e = { 0 }, e2 = { 0 };
	char *text, *text2;
	size_t len, len2;
	int rc;

	fz_check(c != NULL && c2 != NULL);
	conf_defaults(c, "fz");
	rc = conf_load_buf(c, "f.conf", (const char *)data, size, count_err, &e);
	fz_check(rc >= 0);
	/*
	 * One message per error up to CONF_MAX_ERRORS, then one "too many
	 * errors" line: one run shows many mistakes, not unboundedly many.
	 */
	if (rc < CONF_MAX_ERRORS)
		fz_check((unsigned)rc == e.n);
	else
		fz_check(e.n == CONF_MAX_ERRORS + 1);
	if (rc == 0) {
		fz_check(c->c_nr_ports <= CONF_MAX_PORTS);
		text = dump(c, &len);
		conf_defaults(c2, "fz");
		rc = conf_load_buf(c2, "f.conf", text, len, count_err, &e2);
		if (rc != 0 && getenv("HCVS_FUZZ_LOG") != NULL)
			fprintf(stderr, "dump did not read back:\n%s", text);
		fz_check(rc == 0);
		text2 = dump(c2, &len2);
		fz_check(len == len2 && memcmp(text, text2, len) == 0);
		free(text2);
		free(text);
	}
	free(c2);
	free(c);
	return 0;
}
