/* SPDX-License-Identifier: MIT */
/*
 * A plain main() for a fuzz harness: replays files and directories (the
 * seed and regression corpus) through LLVMFuzzerTestOneInput, so that
 * make check runs every saved input with gcc and no libFuzzer.  Without
 * arguments it replays $top_srcdir/tests/fuzz/corpus/FUZZ_NAME.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the harness"
#endif

/* Inputs above this are not corpus files. */
#define REPLAY_MAX	(1u << 20)

static unsigned nr_inputs;

static int
replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (fp == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(REPLAY_MAX);
	if (buf == NULL) {
		fclose(fp);
		return -1;
	}
	n = fread(buf, 1, REPLAY_MAX, fp);
	fclose(fp);
	/* An exact-size copy, so that ASan sees reads past the input. */
	{
		uint8_t *in = malloc(n ? n : 1);

		if (in == NULL) {
			free(buf);
			return -1;
		}
		memcpy(in, buf, n);
		free(buf);
		(void)LLVMFuzzerTestOneInput(in, n);
		free(in);
	}
	nr_inputs++;
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 64;
			nn = realloc(names, cap * sizeof(*names));
			if (nn == NULL) {
				rc = -1;
				break;
			}
			names = nn;
		}
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
			rc = -1;
			break;
		}
		names[n++] = p;
	}
	closedir(d);
	/* A stable order makes a failure reproducible by position. */
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (rc == 0 && replay_file(names[i]) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

static int
replay_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? replay_dir(path) : replay_file(path);
}

int
main(int argc, char **argv)
{
	int i, rc = 0;

	(void)LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		const char *top = getenv("top_srcdir");
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
		    top != NULL ? top : ".", FUZZ_NAME);
		rc = replay_path(dir);
	}
	for (i = 1; i < argc; i++)
		if (replay_path(argv[i]) < 0)
			rc = -1;
	printf("%s: replayed %u inputs\n", FUZZ_NAME, nr_inputs);
	if (rc == 0 && nr_inputs == 0) {
		fprintf(stderr, "%s: empty corpus\n", FUZZ_NAME);
		rc = -1;
	}
	return rc < 0 ? 1 : 0;
}
