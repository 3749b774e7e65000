/* SPDX-License-Identifier: MIT */
/*
 * Machine-readable status: the daemon's state as one JSON document
 * (members in hcvsockctl(8), shape in docs/HOST-BRIDGE.md) built with json-c,
 * and the same numbers in the Prometheus text exposition format.
 *
 * The runtime builds the root object (status_root_new), the service adds
 * "ioreq" and "guests" with the status_add_* helpers; status_emit_json and
 * status_emit_metrics render it.  The helpers tolerate a NULL parent and
 * ignore allocation failures: a report under memory pressure loses
 * members, never the daemon.
 */
#ifndef HCVS_STATUS_H
#define HCVS_STATUS_H

#include <stdbool.h>
#include <stdint.h>

struct json_object;

/* The document's "schema" member: bumped when a member changes meaning. */
#define STATUS_SCHEMA	1

void	status_add_u64(struct json_object *o, const char *key, uint64_t v);
void	status_add_str(struct json_object *o, const char *key, const char *v);
void	status_add_bool(struct json_object *o, const char *key, bool v);
void	status_add_null(struct json_object *o, const char *key);
/* A new object or array as member `key` (or appended, if o is an array). */
struct json_object *status_add_obj(struct json_object *o, const char *key);
struct json_object *status_add_arr(struct json_object *o, const char *key);

/* Free with status_free(). NULL on allocation failure. */
struct json_object *status_root_new(void);
void	status_free(struct json_object *root);

/* The document on one line. */
void	status_emit_json(struct json_object *root,
	    void (*emit)(void *arg, const char *line), void *arg);
/*
 * Prometheus text format 0.0.4: every number of the document except the
 * per-connection ones (their ports make unbounded label sets), one
 * metric family at a time, "# HELP" and "# TYPE" first.
 */
void	status_emit_metrics(struct json_object *root,
	    void (*emit)(void *arg, const char *line), void *arg);

#endif /* HCVS_STATUS_H */
