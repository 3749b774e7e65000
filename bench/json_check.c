/* SPDX-License-Identifier: MIT */
/*
 * bench-json-check: validates the shape of bench-results.json (issue 9's
 * schema) with its own small JSON parser, independent of the writer:
 *   {"machine": str, "floors": {NAME: {"median_ns": num, "p99_ns": num}},
 *    "results": [{"name": str, "median_ns": num, "p99_ns": num,
 *                 "mb_per_s": num|null, "floor": str|null, "ratio": num|null,
 *                 "target": num|null, "met": bool}]}
 * Numbers are checked for sign and order (p99 >= median), never for
 * value.  Options: --require-floor NAME (repeatable).
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jt		 t;
	bool		 b;
	double		 num;
	char		*str;		/* J_STR */
	size_t		 n;		/* J_ARR, J_OBJ */
	char		**keys;		/* J_OBJ */
	struct jv	**items;
};

struct parser {
	const char	*p, *end;
	const char	*err;
	int		 depth;
};

static struct jv *parse_value(struct parser *ps);
static void jv_free(struct jv *v);

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && isspace((unsigned char)*ps->p))
		ps->p++;
}

static struct jv *
jv_new(enum jt t)
{
	struct jv *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	v->t = t;
	return v;
}

static char *
parse_string_raw(struct parser *ps)
{
	size_t cap = 16, len = 0;
	char *s;

	if (ps->p >= ps->end || *ps->p != '"') {
		ps->err = "expected string";
		return NULL;
	}
	ps->p++;
	s = malloc(cap);
	if (s == NULL)
		exit(2);
	while (ps->p < ps->end && *ps->p != '"') {
		char c = *ps->p++;

		if ((unsigned char)c < 0x20) {
			ps->err = "control character in string";
			free(s);
			return NULL;
		}
		if (c == '\\') {
			if (ps->p >= ps->end)
				break;
			c = *ps->p++;
			if (c == 'u') {
				if (ps->end - ps->p < 4) {
					ps->err = "short \\u escape";
					free(s);
					return NULL;
				}
				ps->p += 4;
				c = '?';
			} else if (strchr("\"\\/bfnrt", c) == NULL) {
				ps->err = "bad escape";
				free(s);
				return NULL;
			}
		}
		if (len + 2 > cap) {
			char *ns = realloc(s, cap *= 2);

			if (ns == NULL)
				exit(2);
			s = ns;
		}
		s[len++] = c;
	}
	if (ps->p >= ps->end) {
		ps->err = "unterminated string";
		free(s);
		return NULL;
	}
	ps->p++;
	s[len] = '\0';
	return s;
}

static void
push(struct jv *v, char *key, struct jv *item)
{
	v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
	if (v->items == NULL)
		exit(2);
	if (v->t == J_OBJ) {
		v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
		if (v->keys == NULL)
			exit(2);
		v->keys[v->n] = key;
	}
	v->items[v->n++] = item;
}

static struct jv *
parse_container(struct parser *ps, bool obj)
{
	struct jv *v = jv_new(obj ? J_OBJ : J_ARR);
	char close = obj ? '}' : ']';

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct jv *item;

		skip_ws(ps);
		if (obj) {
			key = parse_string_raw(ps);
			if (key == NULL)
				goto fail;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				ps->err = "expected ':'";
				free(key);
				goto fail;
			}
			ps->p++;
		}
		item = parse_value(ps);
		if (item == NULL) {
			free(key);
			goto fail;
		}
		push(v, key, item);
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return v;
		}
		ps->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
		goto fail;
	}
fail:
	jv_free(v);
	return NULL;
}

static struct jv *
parse_value(struct parser *ps)
{
	struct jv *v;
	char *endp;

	if (++ps->depth > 32) {
		ps->err = "nesting too deep";
		return NULL;
	}
	skip_ws(ps);
	if (ps->p >= ps->end) {
		ps->err = "unexpected end";
		return NULL;
	}
	switch (*ps->p) {
	case '{':
	case '[':
		v = parse_container(ps, *ps->p == '{');
		break;
	case '"':
		v = jv_new(J_STR);
		v->str = parse_string_raw(ps);
		if (v->str == NULL) {
			free(v);
			return NULL;
		}
		break;
	default:
		if (ps->end - ps->p >= 4 && strncmp(ps->p, "null", 4) == 0) {
			ps->p += 4;
			v = jv_new(J_NULL);
		} else if (ps->end - ps->p >= 4 && strncmp(ps->p, "true", 4) == 0) {
			ps->p += 4;
			v = jv_new(J_BOOL);
			v->b = true;
		} else if (ps->end - ps->p >= 5 && strncmp(ps->p, "false", 5) == 0) {
			ps->p += 5;
			v = jv_new(J_BOOL);
		} else {
			if (*ps->p != '-' && !isdigit((unsigned char)*ps->p)) {
				ps->err = "unexpected character";
				return NULL;
			}
			v = jv_new(J_NUM);
			errno = 0;
			v->num = strtod(ps->p, &endp);
			if (endp == ps->p || errno != 0) {
				ps->err = "bad number";
				free(v);
				return NULL;
			}
			ps->p = endp;
		}
	}
	ps->depth--;
	return v;
}

static void
jv_free(struct jv *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys != NULL)
			free(v->keys[i]);
		jv_free(v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->str);
	free(v);
}

static struct jv *
get(const struct jv *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return o->items[i];
	return NULL;
}

static int errors;

static void __attribute__((format(printf, 1, 2)))
bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench-json-check: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	errors++;
}

/* A key present with one of the allowed types. */
static struct jv *
need(const struct jv *o, const char *ctx, const char *key, bool null_ok,
    enum jt t)
{
	struct jv *v = get(o, key);

	if (v == NULL) {
		bad("%s: missing \"%s\"", ctx, key);
		return NULL;
	}
	if (v->t == J_NULL && null_ok)
		return v;
	if (v->t != t) {
		bad("%s: \"%s\" has the wrong type", ctx, key);
		return NULL;
	}
	if (t == J_NUM && v->num < 0)
		bad("%s: \"%s\" is negative", ctx, key);
	return v;
}

static void
only_keys(const struct jv *o, const char *ctx, const char *const *keys)
{
	for (size_t i = 0; i < o->n; i++) {
		bool ok = false;

		for (size_t k = 0; keys[k] != NULL; k++)
			ok |= strcmp(o->keys[i], keys[k]) == 0;
		if (!ok)
			bad("%s: unexpected key \"%s\"", ctx, o->keys[i]);
	}
}

static void
check_pair(const char *ctx, const struct jv *med, const struct jv *p99)
{
	if (med != NULL && p99 != NULL && med->t == J_NUM && p99->t == J_NUM &&
	    p99->num < med->num)
		bad("%s: p99 below median", ctx);
}

int
main(int argc, char **argv)
{
	static const char *const top_keys[] = { "machine", "floors", "results", NULL };
	static const char *const floor_keys[] = { "median_ns", "p99_ns", NULL };
	static const char *const res_keys[] = { "name", "median_ns", "p99_ns",
	    "mb_per_s", "floor", "ratio", "target", "met", NULL };
	struct parser ps;
	struct jv *root, *floors, *results;
	const char *path = NULL;
	const char *required[16];
	size_t nreq = 0, len;
	char *buf;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--require-floor") == 0 && i + 1 < argc &&
		    nreq < 16)
			required[nreq++] = argv[++i];
		else if (path == NULL)
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (path == NULL) {
		fprintf(stderr, "usage: bench-json-check [--require-floor NAME]... FILE\n");
		return 2;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "bench-json-check: %s: %s\n", path, strerror(errno));
		return 1;
	}
	buf = malloc(1 << 20);
	if (buf == NULL)
		return 2;
	len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	ps = (struct parser){ .p = buf, .end = buf + len };
	root = parse_value(&ps);
	if (root != NULL) {
		skip_ws(&ps);
		if (ps.p != ps.end) {
			jv_free(root);
			root = NULL;
			ps.err = "trailing garbage";
		}
	}
	if (root == NULL) {
		fprintf(stderr, "bench-json-check: %s: not JSON: %s at byte %zu\n",
		    path, ps.err, (size_t)(ps.p - buf));
		free(buf);
		return 1;
	}
	if (root->t != J_OBJ) {
		bad("top level is not an object");
		goto done;
	}
	only_keys(root, "top", top_keys);
	need(root, "top", "machine", false, J_STR);
	floors = need(root, "top", "floors", false, J_OBJ);
	results = need(root, "top", "results", false, J_ARR);
	if (floors != NULL) {
		for (size_t i = 0; i < floors->n; i++) {
			struct jv *fl = floors->items[i];
			const char *ctx = floors->keys[i];

			if (fl->t != J_OBJ) {
				bad("floor %s is not an object", ctx);
				continue;
			}
			only_keys(fl, ctx, floor_keys);
			check_pair(ctx, need(fl, ctx, "median_ns", false, J_NUM),
			    need(fl, ctx, "p99_ns", false, J_NUM));
		}
		for (size_t i = 0; i < nreq; i++)
			if (get(floors, required[i]) == NULL)
				bad("required floor %s missing", required[i]);
	}
	for (size_t i = 0; results != NULL && i < results->n; i++) {
		struct jv *r = results->items[i], *name, *fl, *ratio, *target;
		char ctx[96];

		snprintf(ctx, sizeof(ctx), "results[%zu]", i);
		if (r->t != J_OBJ) {
			bad("%s is not an object", ctx);
			continue;
		}
		only_keys(r, ctx, res_keys);
		name = need(r, ctx, "name", false, J_STR);
		if (name != NULL)
			snprintf(ctx, sizeof(ctx), "result %s", name->str);
		check_pair(ctx, need(r, ctx, "median_ns", true, J_NUM),
		    need(r, ctx, "p99_ns", true, J_NUM));
		need(r, ctx, "mb_per_s", true, J_NUM);
		fl = need(r, ctx, "floor", true, J_STR);
		ratio = need(r, ctx, "ratio", true, J_NUM);
		target = need(r, ctx, "target", true, J_NUM);
		need(r, ctx, "met", false, J_BOOL);
		/* A floor must name a floor or an earlier result. */
		if (fl != NULL && fl->t == J_STR && floors != NULL &&
		    get(floors, fl->str) == NULL) {
			bool found = false;

			for (size_t k = 0; k < i; k++) {
				struct jv *n = get(results->items[k], "name");

				found |= n != NULL && n->t == J_STR &&
				    strcmp(n->str, fl->str) == 0;
			}
			if (!found)
				bad("%s: floor \"%s\" is neither a floor nor "
				    "an earlier result", ctx, fl->str);
		}
		if (target != NULL && target->t == J_NUM && ratio != NULL &&
		    ratio->t == J_NULL)
			bad("%s: a target without a ratio", ctx);
	}
	if (errors == 0)
		printf("bench-json-check: %s: shape ok (%zu floors, %zu results)\n",
		    path, floors ? floors->n : 0, results ? results->n : 0);
done:
	jv_free(root);
	free(buf);
	return errors ? 1 : 0;
}
