/* SPDX-License-Identifier: MIT */
/* The JSON status document (json-c) and its Prometheus rendering. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "daemon/status.h"

static void
add(struct json_object *o, const char *key, struct json_object *v)
{
	if (o == NULL) {
		json_object_put(v);
		return;
	}
	if (json_object_is_type(o, json_type_array)) {
		if (json_object_array_add(o, v) < 0)
			json_object_put(v);
		return;
	}
	if (json_object_object_add(o, key, v) < 0)
		json_object_put(v);
}

void
status_add_u64(struct json_object *o, const char *key, uint64_t v)
{
	add(o, key, json_object_new_uint64(v));
}

void
status_add_str(struct json_object *o, const char *key, const char *v)
{
	add(o, key, json_object_new_string(v));
}

void
status_add_bool(struct json_object *o, const char *key, bool v)
{
	add(o, key, json_object_new_boolean(v));
}

void
status_add_null(struct json_object *o, const char *key)
{
	add(o, key, NULL);
}

/* Adds the new container v under key; returns it, or NULL if it is gone. */
static struct json_object *
add_container(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL || o == NULL) {
		json_object_put(v);
		return NULL;
	}
	add(o, key, json_object_get(v));
	/* add() dropped its reference on failure: ours is the last one. */
	if (json_object_put(v) == 1)
		return NULL;
	return v;
}

struct json_object *
status_add_obj(struct json_object *o, const char *key)
{
	return add_container(o, key, json_object_new_object());
}

struct json_object *
status_add_arr(struct json_object *o, const char *key)
{
	return add_container(o, key, json_object_new_array());
}

struct json_object *
status_root_new(void)
{
	struct json_object *root = json_object_new_object();

	status_add_u64(root, "schema", STATUS_SCHEMA);
	return root;
}

void
status_free(struct json_object *root)
{
	json_object_put(root);
}

void
status_emit_json(struct json_object *root,
    void (*emit)(void *arg, const char *line), void *arg)
{
	const char *s;

	s = json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	emit(arg, s != NULL ? s : "null");
}

/* ---- Prometheus text format -------------------------------------------- */

struct mline {
	char	buf[1024];
	size_t	len;
	bool	trunc;
};

static void
ml_put(struct mline *m, const char *s, size_t n)
{
	if (m->len + n >= sizeof(m->buf)) {
		m->trunc = true;
		return;
	}
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = '\0';
}

static void
ml_str(struct mline *m, const char *s)
{
	ml_put(m, s, strlen(s));
}

/* A label value: backslash, double quote and newline escaped. */
static void
ml_label(struct mline *m, const char *name, const char *val, bool first)
{
	ml_str(m, first ? "{" : ",");
	ml_str(m, name);
	ml_str(m, "=\"");
	for (const char *p = val; *p != '\0'; p++) {
		if (*p == '\\')
			ml_str(m, "\\\\");
		else if (*p == '"')
			ml_str(m, "\\\"");
		else if (*p == '\n')
			ml_str(m, "\\n");
		else
			ml_put(m, p, 1);
	}
	ml_str(m, "\"");
}

static const char *
get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static struct json_object *
get(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static bool
is_number(struct json_object *v)
{
	return v != NULL && json_object_is_type(v, json_type_int);
}

struct mfam {
	void		(*emit)(void *arg, const char *line);
	void		*arg;
	const char	*name;		/* full metric name */
	bool		 started;
};

static void
fam_header(struct mfam *f, const char *type, const char *help)
{
	char line[512];

	if (f->started)
		return;
	f->started = true;
	snprintf(line, sizeof(line), "# HELP %s %s", f->name, help);
	f->emit(f->arg, line);
	snprintf(line, sizeof(line), "# TYPE %s %s", f->name, type);
	f->emit(f->arg, line);
}

/* One sample: labels are name/value pairs, NULL-terminated. */
static void
sample(struct mfam *f, const char *const *labels, uint64_t v)
{
	struct mline m = { .len = 0 };
	char num[32];

	ml_str(&m, f->name);
	for (size_t i = 0; labels[i] != NULL; i += 2)
		ml_label(&m, labels[i], labels[i + 1], i == 0);
	if (labels[0] != NULL)
		ml_str(&m, "}");
	snprintf(num, sizeof(num), " %" PRIu64, v);
	ml_str(&m, num);
	if (!m.trunc)
		f->emit(f->arg, m.buf);
}

/*
 * For section `sec` of every guest: each number directly in it is a
 * gauge hcvsock_<sec>_<key>, each number in its "counters" a counter
 * hcvsock_<sec>_<key>_total.  Families follow the first guest that has
 * the section; the same code builds every guest's, so the keys agree.
 */
static void
guest_section(struct json_object *guests, const char *sec, bool counters,
    void (*emit)(void *arg, const char *line), void *arg)
{
	struct json_object *model = NULL, *o;
	struct json_object_iter it;
	size_t n = json_object_array_length(guests);
	char name[160], help[200];

	for (size_t i = 0; i < n && model == NULL; i++)
		model = get(json_object_array_get_idx(guests, i), sec);
	if (counters)
		model = get(model, "counters");
	if (model == NULL || !json_object_is_type(model, json_type_object))
		return;
	json_object_object_foreachC(model, it) {
		struct mfam f = { .emit = emit, .arg = arg, .name = name };

		if (!is_number(it.val))
			continue;
		snprintf(name, sizeof(name), "hcvsock_%s_%s%s", sec, it.key,
		    counters ? "_total" : "");
		snprintf(help, sizeof(help), "%s.%s%s of the JSON status "
		    "(hcvsockctl(8))", sec, counters ? "counters." : "", it.key);
		for (size_t i = 0; i < n; i++) {
			struct json_object *g = json_object_array_get_idx(guests, i);
			char cid[24];
			const char *labels[] = { "guest", get_str(g, "name"),
			    "cid", cid, NULL };

			o = get(g, sec);
			if (counters)
				o = get(o, "counters");
			o = get(o, it.key);
			if (!is_number(o))
				continue;
			snprintf(cid, sizeof(cid), "%" PRIu64,
			    json_object_get_uint64(get(g, "cid")));
			fam_header(&f, counters ? "counter" : "gauge", help);
			sample(&f, labels, json_object_get_uint64(o));
		}
	}
}

void
status_emit_metrics(struct json_object *root,
    void (*emit)(void *arg, const char *line), void *arg)
{
	const char *guest = get_str(root, "name");
	const char *g_labels[] = { "guest", guest, NULL };
	struct json_object *ioreq, *guests, *v;
	char name[160], help[200];

	{
		struct mfam f = { emit, arg, "hcvsock_info", false };
		const char *labels[] = { "guest", guest, "version",
		    get_str(root, "version"), NULL };

		fam_header(&f, "gauge", "always 1; labels: the guest and the "
		    "daemon's version");
		sample(&f, labels, 1);
	}
	if (is_number(v = get(root, "uptime_s"))) {
		struct mfam f = { emit, arg, "hcvsock_uptime_seconds", false };

		fam_header(&f, "gauge", "seconds since the daemon started");
		sample(&f, g_labels, json_object_get_uint64(v));
	}
	if (is_number(v = get(get(root, "config"), "reloads"))) {
		struct mfam f = { emit, arg, "hcvsock_reloads_total", false };

		fam_header(&f, "counter", "configuration reloads (SIGHUP)");
		sample(&f, g_labels, json_object_get_uint64(v));
	}
	ioreq = get(root, "ioreq");
	if (ioreq != NULL && json_object_is_type(ioreq, json_type_object)) {
		struct json_object *c = get(ioreq, "counters"), *vcpus;
		struct json_object_iter it;

		if (c != NULL && json_object_is_type(c, json_type_object)) {
			json_object_object_foreachC(c, it) {
				struct mfam f = { emit, arg, name, false };

				if (!is_number(it.val))
					continue;
				snprintf(name, sizeof(name),
				    "hcvsock_ioreq_%s_total", it.key);
				snprintf(help, sizeof(help), "ioreq.counters.%s "
				    "of the JSON status (hcvsockctl(8))", it.key);
				fam_header(&f, "counter", help);
				sample(&f, g_labels, json_object_get_uint64(it.val));
			}
		}
		vcpus = get(ioreq, "vcpus");
		if (vcpus != NULL && json_object_is_type(vcpus, json_type_array)) {
			struct mfam f = { emit, arg, "hcvsock_ioreq_vcpu_state",
			    false };
			size_t n = json_object_array_length(vcpus);

			for (size_t i = 0; i < n; i++) {
				struct json_object *s = json_object_array_get_idx(vcpus, i);
				char vcpu[16];
				const char *labels[] = { "guest", guest, "vcpu",
				    vcpu, NULL };

				if (!is_number(get(s, "state_code")))
					continue;
				snprintf(vcpu, sizeof(vcpu), "%" PRIu64,
				    json_object_get_uint64(get(s, "vcpu")));
				fam_header(&f, "gauge", "the vCPU's ioreq slot: "
				    "0 NONE, 1 READY, 2 INPROCESS, 3 IORESP_READY");
				sample(&f, labels,
				    json_object_get_uint64(get(s, "state_code")));
			}
		}
	}
	guests = get(root, "guests");
	if (guests == NULL || !json_object_is_type(guests, json_type_array))
		return;
	{
		struct mfam f = { emit, arg, "hcvsock_guests", false };
		struct json_object *procs = get(root, "kvm_processes");
		size_t n = json_object_array_length(guests);

		/* KVM: the guests in processes of their own count too. */
		if (procs != NULL && json_object_is_type(procs, json_type_array))
			n += json_object_array_length(procs);
		fam_header(&f, "gauge", "guests served (KVM: attached)");
		sample(&f, g_labels, n);
	}
	guest_section(guests, "device", false, emit, arg);
	guest_section(guests, "device", true, emit, arg);
	guest_section(guests, "vsock", false, emit, arg);
	guest_section(guests, "vsock", true, emit, arg);
	guest_section(guests, "kvm", true, emit, arg);
	guest_section(guests, "migtd", true, emit, arg);
}
