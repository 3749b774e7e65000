/* SPDX-License-Identifier: MIT */
/* hcvsock-bench: measures hcvsock and its floors in one run, prints a table, writes JSON. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/vsenv.h"
#include "common/log.h"

struct bench_opts bench_opts = { .scale = 1.0, .cpu_a = -1, .cpu_b = -1,
    .sync_poll_ns = VSENV_SYNC_WINDOW_NS, .tx_poll_ns = VSENV_WINDOW_NS };

#define MAX_ENTRIES	64
#define NAME_LEN	48
#define WHAT_LEN	400

struct floor_ent {
	char		name[NAME_LEN];
	char		what[WHAT_LEN];
	struct bench_stat st;
};

struct result_ent {
	char		name[NAME_LEN];
	char		what[WHAT_LEN];
	struct bench_stat st;
	char		floor[NAME_LEN];
	enum bench_goal	goal;
	double		target;
	double		ratio;		/* NAN: no floor */
	bool		met;
	bool		skipped;
	char		why[160];
};

static struct floor_ent floors[MAX_ENTRIES];
static size_t nr_floors;
static struct result_ent results[MAX_ENTRIES];
static size_t nr_results;
static char notes[2048];

struct mem_ent {
	char		name[NAME_LEN];
	double		bytes_each;
	unsigned	n;
	double		create_ns;
};
static struct mem_ent mems[8];
static size_t nr_mems;

uint64_t
bench_budget_ns(double full_seconds)
{
	double s = full_seconds * bench_opts.scale;

	if (bench_opts.quick)
		s = full_seconds / 20.0 < 0.05 ? full_seconds / 20.0 : 0.05;
	return (uint64_t)(s * 1e9);
}

size_t
bench_max_samples(size_t full)
{
	size_t n;

	if (bench_opts.quick)
		return full / 50 < 200 ? (full / 50 ? full / 50 : 1) : 200;
	n = (size_t)((double)full * bench_opts.scale);
	return n ? n : 1;
}

bool
bench_selected(const char *name)
{
	return bench_opts.only == NULL || strstr(name, bench_opts.only) != NULL;
}

double
bench_tsc_per_ns(void)
{
	static double ratio;
	uint64_t c0, c1, t0, t1;

	if (ratio > 0)
		return ratio;
	t0 = bench_now_ns();
	c0 = __builtin_ia32_rdtsc();
	while (bench_now_ns() - t0 < 20000000u)
		bench_relax();
	c1 = __builtin_ia32_rdtsc();
	t1 = bench_now_ns();
	ratio = (double)(c1 - c0) / (double)(t1 - t0);
	if (!(ratio > 0))
		ratio = 1;
	return ratio;
}

int
bench_pin(int cpu)
{
	cpu_set_t set;
	int rc;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	return -rc;
}

int
bench_samples_init(struct bench_samples *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->s_v = calloc(cap ? cap : 1, sizeof(*s->s_v));
	if (s->s_v == NULL)
		return -ENOMEM;
	s->s_cap = cap ? cap : 1;
	return 0;
}

void
bench_samples_free(struct bench_samples *s)
{
	free(s->s_v);
	s->s_v = NULL;
	s->s_n = s->s_cap = 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void
bench_stat_compute(struct bench_samples *s, size_t chunk_bytes,
    struct bench_stat *st)
{
	size_t n = s->s_n, i99;

	memset(st, 0, sizeof(*st));
	st->mb_per_s = -1;
	st->n = n;
	if (n == 0) {
		st->median_ns = st->p99_ns = NAN;
		return;
	}
	qsort(s->s_v, n, sizeof(*s->s_v), cmp_u64);
	if (n % 2)
		st->median_ns = (double)s->s_v[n / 2];
	else
		st->median_ns = ((double)s->s_v[n / 2 - 1] +
		    (double)s->s_v[n / 2]) / 2.0;
	i99 = (size_t)ceil(0.99 * (double)n);
	if (i99 == 0)
		i99 = 1;
	st->p99_ns = (double)s->s_v[i99 - 1];
	st->p1_ns = (double)s->s_v[(size_t)(0.01 * (double)n)];
	if (chunk_bytes > 0 && st->median_ns > 0)
		st->mb_per_s = (double)chunk_bytes / st->median_ns * 1e3;
}

static struct floor_ent *
floor_find(const char *name)
{
	for (size_t i = 0; i < nr_floors; i++)
		if (strcmp(floors[i].name, name) == 0)
			return &floors[i];
	return NULL;
}

static struct result_ent *
result_find(const char *name)
{
	for (size_t i = 0; i < nr_results; i++)
		if (!results[i].skipped && strcmp(results[i].name, name) == 0)
			return &results[i];
	return NULL;
}

void
bench_floor(const char *name, const char *what, const struct bench_stat *st)
{
	struct floor_ent *f = floor_find(name);

	if (f == NULL) {
		if (nr_floors == MAX_ENTRIES)
			return;
		f = &floors[nr_floors++];
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->what, sizeof(f->what), "%s", what);
	f->st = *st;
	if (bench_opts.verbose)
		fprintf(stderr, "floor %-28s median %10.0f ns  p99 %10.0f ns  "
		    "p1 %8.0f ns  n=%zu\n", name, st->median_ns, st->p99_ns,
		    st->p1_ns, st->n);
}

void
bench_floor_sum(const char *name, const char *a, const char *b)
{
	struct floor_ent *fa = floor_find(a), *fb = floor_find(b);
	struct bench_stat st;
	char what[WHAT_LEN];

	if (fa == NULL || fb == NULL)
		return;
	memset(&st, 0, sizeof(st));
	st.median_ns = fa->st.median_ns + fb->st.median_ns;
	/* The sum of p99s bounds the p99 of the sum from above. */
	st.p99_ns = fa->st.p99_ns + fb->st.p99_ns;
	st.mb_per_s = -1;
	st.n = MIN(fa->st.n, fb->st.n);
	snprintf(what, sizeof(what), "sum: %s + %s", a, b);
	bench_floor(name, what, &st);
}

double
bench_floor_median(const char *name)
{
	struct floor_ent *f = floor_find(name);
	struct result_ent *r;

	if (f != NULL)
		return f->st.median_ns;
	r = result_find(name);
	return r != NULL ? r->st.median_ns : -1;
}

double
bench_floor_mbps(const char *name)
{
	struct floor_ent *f = floor_find(name);
	struct result_ent *r;

	if (f != NULL)
		return f->st.mb_per_s;
	r = result_find(name);
	return r != NULL ? r->st.mb_per_s : -1;
}

void
bench_result(const char *name, const char *what, const struct bench_stat *st,
    const char *floor, enum bench_goal goal, double target)
{
	struct result_ent *r;
	double fv;

	if (st->n == 0 || isnan(st->median_ns)) {
		bench_skip(name, "no samples within the time budget");
		return;
	}
	if (nr_results == MAX_ENTRIES)
		return;
	r = &results[nr_results++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->what, sizeof(r->what), "%s", what);
	snprintf(r->floor, sizeof(r->floor), "%s", floor ? floor : "");
	r->st = *st;
	r->goal = goal;
	r->target = target;
	r->ratio = NAN;
	/* Throughput compares rates, latency compares medians. */
	if (st->mb_per_s >= 0) {
		fv = floor ? bench_floor_mbps(floor) : -1;
		if (fv > 0)
			r->ratio = st->mb_per_s / fv;
	} else {
		fv = floor ? bench_floor_median(floor) : -1;
		if (fv > 0 && !isnan(st->median_ns))
			r->ratio = st->median_ns / fv;
	}
	if (goal == BENCH_GE)
		r->met = !isnan(r->ratio) && r->ratio >= target;
	else if (goal == BENCH_LE)
		r->met = !isnan(r->ratio) && r->ratio <= target;
	else
		r->met = true;
	if (bench_opts.verbose)
		fprintf(stderr, "result %-28s median %10.0f ns  p99 %10.0f ns  "
		    "p1 %8.0f ns  n=%zu  ratio %.2f\n", name, st->median_ns,
		    st->p99_ns, st->p1_ns, st->n, r->ratio);
}

void
bench_skip(const char *name, const char *why)
{
	struct result_ent *r;

	if (nr_results == MAX_ENTRIES)
		return;
	r = &results[nr_results++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->why, sizeof(r->why), "%s", why);
	r->skipped = true;
	r->ratio = NAN;
	if (bench_opts.verbose)
		fprintf(stderr, "skip %s: %s\n", name, why);
}

void
bench_memory(const char *name, double bytes_each, unsigned n, double create_ns)
{
	struct mem_ent *m;

	if (nr_mems == ARRAY_SIZE(mems))
		return;
	m = &mems[nr_mems++];
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->bytes_each = bytes_each;
	m->n = n;
	m->create_ns = create_ns;
	bench_note("%s: %.0f bytes of heap each over %u", name, bytes_each, n);
}

void
bench_note(const char *fmt, ...)
{
	size_t len = strlen(notes);
	va_list ap;

	if (len + 3 >= sizeof(notes))
		return;
	if (len > 0) {
		notes[len++] = ';';
		notes[len++] = ' ';
		notes[len] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(notes + len, sizeof(notes) - len, fmt, ap);
	va_end(ap);
}

/* ---- Output -------------------------------------------------------------- */

static void
fmt_ns(char *buf, size_t len, double ns)
{
	if (isnan(ns))
		snprintf(buf, len, "-");
	else if (ns >= 1e6)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else if (ns >= 1e4)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else if (ns >= 1e3)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else
		snprintf(buf, len, "%.0f ns", ns);
}

static void
print_table(FILE *f)
{
	char m[32], p[32], tp[32], ratio[32], target[32];

	fprintf(f, "\nFloors (measured in this run)\n");
	fprintf(f, "%-26s %11s %11s %11s  %s\n", "floor", "median", "p99",
	    "MB/s", "what");
	for (size_t i = 0; i < nr_floors; i++) {
		struct floor_ent *fl = &floors[i];

		fmt_ns(m, sizeof(m), fl->st.median_ns);
		fmt_ns(p, sizeof(p), fl->st.p99_ns);
		if (fl->st.mb_per_s >= 0)
			snprintf(tp, sizeof(tp), "%.0f", fl->st.mb_per_s);
		else
			snprintf(tp, sizeof(tp), "-");
		fprintf(f, "%-26s %11s %11s %11s  %s\n", fl->name, m, p, tp,
		    fl->what);
	}
	fprintf(f, "\nhcvsock figures\n");
	fprintf(f, "%-28s %11s %11s %9s  %-32s %7s %7s %s\n", "figure",
	    "median", "p99", "MB/s", "floor", "ratio", "target", "met");
	for (size_t i = 0; i < nr_results; i++) {
		struct result_ent *r = &results[i];

		if (r->skipped) {
			fprintf(f, "%-28s SKIPPED: %s\n", r->name, r->why);
			continue;
		}
		fmt_ns(m, sizeof(m), r->st.median_ns);
		fmt_ns(p, sizeof(p), r->st.p99_ns);
		if (r->st.mb_per_s >= 0)
			snprintf(tp, sizeof(tp), "%.0f", r->st.mb_per_s);
		else
			snprintf(tp, sizeof(tp), "-");
		if (isnan(r->ratio))
			snprintf(ratio, sizeof(ratio), "-");
		else
			snprintf(ratio, sizeof(ratio), "%.2f", r->ratio);
		if (r->goal == BENCH_INFO)
			snprintf(target, sizeof(target), "-");
		else
			snprintf(target, sizeof(target), "%s%.2f",
			    r->goal == BENCH_LE ? "<=" : ">=", r->target);
		fprintf(f, "%-28s %11s %11s %9s  %-32s %7s %7s %s\n", r->name,
		    m, p, tp, r->floor[0] ? r->floor : "-", ratio, target,
		    r->goal == BENCH_INFO ? "info" : r->met ? "yes" : "NO");
	}
	for (size_t i = 0; i < nr_results; i++)
		if (!results[i].skipped)
			fprintf(f, "  %-26s %s\n", results[i].name, results[i].what);
	if (nr_mems > 0)
		fprintf(f, "\nMemory\n");
	for (size_t i = 0; i < nr_mems; i++)
		fprintf(f, "%-28s %8.0f bytes of heap each, %u at once "
		    "(%.1f us to open each)\n", mems[i].name, mems[i].bytes_each,
		    mems[i].n, mems[i].create_ns / 1e3);
	if (notes[0])
		fprintf(f, "\nNotes: %s\n", notes);
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.1f", v);
}

static void
json_ratio(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.4f", v);
}

static void
machine_string(char *buf, size_t len, double load0)
{
	struct utsname u;
	char model[128] = "unknown CPU", line[256];
	FILE *f;
	double load1 = -1;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	f = fopen("/proc/cpuinfo", "r");
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char *c = strchr(line, ':');

			if (strncmp(line, "model name", 10) == 0 && c != NULL) {
				snprintf(model, sizeof(model), "%s", c + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		}
		fclose(f);
	}
	f = fopen("/proc/loadavg", "r");
	if (f != NULL) {
		if (fscanf(f, "%lf", &load1) != 1)
			load1 = -1;
		fclose(f);
	}
	snprintf(buf, len,
	    "%s %s %s; %s; %ld online CPUs; pinned to CPUs %d,%d; "
	    "loadavg %.2f at start, %.2f at end; mode %s; "
	    "sync_poll_us %llu, tx_poll_us %llu%s%s",
	    u.nodename, u.sysname, u.release, model,
	    sysconf(_SC_NPROCESSORS_ONLN), bench_opts.cpu_a, bench_opts.cpu_b,
	    load0, load1, bench_opts.quick ? "quick" : "full",
	    (unsigned long long)(bench_opts.sync_poll_ns / 1000),
	    (unsigned long long)(bench_opts.tx_poll_ns / 1000),
	    notes[0] ? "; " : "", notes);
}

static int
write_json(const char *path, double load0)
{
	char machine[4096];
	FILE *f;
	bool first;

	f = fopen(path, "w");
	if (f == NULL)
		return -errno;
	machine_string(machine, sizeof(machine), load0);
	fputs("{\"machine\": ", f);
	json_str(f, machine);
	fputs(",\n \"floors\": {", f);
	for (size_t i = 0; i < nr_floors; i++) {
		fputs(i ? ",\n   " : "\n   ", f);
		json_str(f, floors[i].name);
		fputs(": {\"median_ns\": ", f);
		json_num(f, floors[i].st.median_ns);
		fputs(", \"p99_ns\": ", f);
		json_num(f, floors[i].st.p99_ns);
		fputs("}", f);
	}
	fputs("},\n \"results\": [", f);
	first = true;
	for (size_t i = 0; i < nr_results; i++) {
		struct result_ent *r = &results[i];

		if (r->skipped)
			continue;
		fputs(first ? "\n   " : ",\n   ", f);
		first = false;
		fputs("{\"name\": ", f);
		json_str(f, r->name);
		fputs(", \"median_ns\": ", f);
		json_num(f, r->st.median_ns);
		fputs(", \"p99_ns\": ", f);
		json_num(f, r->st.p99_ns);
		fputs(", \"mb_per_s\": ", f);
		json_num(f, r->st.mb_per_s >= 0 ? r->st.mb_per_s : NAN);
		fputs(", \"floor\": ", f);
		if (r->floor[0])
			json_str(f, r->floor);
		else
			fputs("null", f);
		fputs(", \"ratio\": ", f);
		json_ratio(f, r->ratio);
		fputs(", \"target\": ", f);
		json_ratio(f, r->goal == BENCH_INFO ? NAN : r->target);
		fprintf(f, ", \"met\": %s}", r->met ? "true" : "false");
	}
	fputs("]}\n", f);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: hcvsock-bench [--quick] [--scale X] [--json FILE] [--cpus A,B]\n"
	    "                     [--only SUBSTRING] [--no-floors]\n"
	    "                     [--sync-poll-us N] [--tx-poll-us N] [-v]\n"
	    "  --quick        smoke test: tiny budgets, numbers meaningless\n"
	    "  --scale X      multiply every time budget by X (default 1)\n"
	    "  --json FILE    where to write the results (default bench-results.json)\n"
	    "  --cpus A,B     the two CPUs to pin to (default: first two allowed)\n"
	    "  --only S       run only figures whose name contains S (floors always run)\n"
	    "  --no-floors    skip the floors (for profiling one figure; no ratios)\n"
	    "  --sync-poll-us N  the blocking server's sync_poll_us (default 200)\n"
	    "  --tx-poll-us N    the stream servers' tx_poll_us (default 50)\n"
	    "  -v             progress on stderr\n");
}

/* A window in microseconds, bounded as hcvsockd.conf(5) bounds it. */
static bool
window_us(const char *arg, uint64_t *ns)
{
	char *end;
	unsigned long us;

	errno = 0;
	us = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || us > 100000)
		return false;
	*ns = (uint64_t)us * 1000u;
	return true;
}

static void
pick_cpus(void)
{
	cpu_set_t set;
	int found = 0;

	if (bench_opts.cpu_a >= 0 && bench_opts.cpu_b >= 0)
		return;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int c = 0; c < CPU_SETSIZE && found < 2; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (found++ == 0)
			bench_opts.cpu_a = c;
		else
			bench_opts.cpu_b = c;
	}
	if (found < 2) {
		/* One CPU: everything shares it; still run, say so. */
		bench_opts.cpu_b = bench_opts.cpu_a;
		bench_note("only one CPU allowed: cross-core figures are same-core");
	}
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "scale", required_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "only", required_argument, NULL, 'o' },
		{ "no-floors", no_argument, NULL, 'n' },
		{ "sync-poll-us", required_argument, NULL, 'S' },
		{ "tx-poll-us", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *json = "bench-results.json";
	double load0 = -1;
	bool floors_too = true;
	uint64_t t0;
	FILE *f;
	int c, rc;

	while ((c = getopt_long(argc, argv, "qs:j:c:o:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			bench_opts.quick = true;
			break;
		case 's':
			bench_opts.scale = strtod(optarg, NULL);
			if (!(bench_opts.scale > 0 && bench_opts.scale <= 100)) {
				fprintf(stderr, "hcvsock-bench: bad --scale\n");
				return 2;
			}
			break;
		case 'j':
			json = optarg;
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &bench_opts.cpu_a,
			    &bench_opts.cpu_b) != 2 || bench_opts.cpu_a < 0 ||
			    bench_opts.cpu_b < 0) {
				fprintf(stderr, "hcvsock-bench: --cpus A,B\n");
				return 2;
			}
			break;
		case 'o':
			bench_opts.only = optarg;
			break;
		case 'n':
			floors_too = false;
			break;
		case 'S':
		case 'T':
			if (!window_us(optarg, c == 'S' ?
			    &bench_opts.sync_poll_ns : &bench_opts.tx_poll_ns)) {
				fprintf(stderr, "hcvsock-bench: bad --%s\n",
				    c == 'S' ? "sync-poll-us" : "tx-poll-us");
				return 2;
			}
			break;
		case 'v':
			bench_opts.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Library code logs through log.c; keep it on stderr, quiet. */
	log_init(true, 0, "hcvsock-bench");
	pick_cpus();
	f = fopen("/proc/loadavg", "r");
	if (f != NULL) {
		if (fscanf(f, "%lf", &load0) != 1)
			load0 = -1;
		fclose(f);
	}
	t0 = bench_now_ns();
	printf("hcvsock-bench: %s run, CPUs %d,%d\n",
	    bench_opts.quick ? "quick (smoke, numbers meaningless)" : "full",
	    bench_opts.cpu_a, bench_opts.cpu_b);
	fflush(stdout);

	bench_figures(floors_too);

	print_table(stdout);
	{
		double load1 = -1;

		f = fopen("/proc/loadavg", "r");
		if (f != NULL) {
			if (fscanf(f, "%lf", &load1) != 1)
				load1 = -1;
			fclose(f);
		}
		printf("\nrun time %.1f s, load average %.2f at start, %.2f at "
		    "end\n", (double)(bench_now_ns() - t0) / 1e9, load0, load1);
	}
	rc = write_json(json, load0);
	if (rc < 0) {
		fprintf(stderr, "hcvsock-bench: %s: %s\n", json, strerror(-rc));
		return 1;
	}
	printf("wrote %s\n", json);
	return 0;
}
