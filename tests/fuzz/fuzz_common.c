/* SPDX-License-Identifier: MIT */
/* Helpers shared by the fuzz harnesses (fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "fuzz.h"

void
fz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

static void
sink_drop(int prio, const char *msg, void *arg)
{
	(void)prio;
	(void)msg;
	(void)arg;
}

void
fz_quiet(void)
{
	if (getenv("HCVS_FUZZ_LOG") == NULL)
		log_set_sink(sink_drop, NULL);
}

int
fz_lowest_fd(void)
{
	int fd = dup(0);

	if (fd < 0)
		fz_fail(__FILE__, __LINE__, "dup");
	close(fd);
	return fd;
}

/* A harness that needs no more than quiet logs defines no initializer. */
__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}
