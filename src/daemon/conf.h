/* SPDX-License-Identifier: MIT */
/*
 * hcvsockd.conf(5): the per-guest configuration file.
 *
 * Line-oriented, one `key = value` per line (the `=` is optional), `#`
 * starts a comment, blank lines are ignored.  `port` may repeat; every
 * other key may appear once.  Every value is typed and bounded; errors are
 * reported as "file:line: message" through a callback and parsing goes on
 * so that one run shows every mistake.
 *
 * The parser does not touch the system beyond reading the file:
 * conf_check_system() resolves users and groups separately so that the
 * unit tests and the golden files do not depend on the machine.
 *
 * Functions here never log and never exit.
 */
#ifndef HCVS_CONF_H
#define HCVS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/compiler.h"
#include "daemon/conf_tcp.h"
#include "hcvsock_abi.h"

/* AF_UNIX sun_path, including the terminating NUL. */
#define CONF_SUN_PATH_MAX	108
#define CONF_PATH_MAX		256
#define CONF_NAME_MAX		64
#define CONF_MAX_PORTS		256
#define CONF_LINE_MAX		1024
/* Errors reported before the parser gives up on a file. */
#define CONF_MAX_ERRORS		20

/*
 * The register window the daemon claims: 64 bytes of port I/O
 * (HCVS_REG_WINDOW_SIZE in hcvsock(7)), or one 4 KiB MMIO page.
 */
#define CONF_PIO_WINDOW		0x40u
#define CONF_MMIO_WINDOW	0x1000u
#define CONF_DEFAULT_PIO_BASE	0x5a0u

#define CONF_DEFAULT_RUN_DIR	"/run/hcvsock"

/*
 * Host -> guest notification modes the device may offer: a bitmap of
 * 1u << HCVS_IRQ_* (the guest ABI's numbers; hcvsock_abi.h).  The source
 * narrows it to what it can deliver.
 */
#define CONF_NOTIFY_DEFAULT	(1u << HCVS_IRQ_NONE | 1u << HCVS_IRQ_MSI | \
				 1u << HCVS_IRQ_EVTCHN | 1u << HCVS_IRQ_GSI)

struct conf_port {
	uint32_t	cp_port;
	/* "" = <socket_dir>/<socket_name>_<port>; else absolute. */
	char		cp_path[CONF_SUN_PATH_MAX];
	bool		cp_connect;	/* the guest may connect to the host */
	bool		cp_listen;	/* host programs may connect to the guest */
	struct conf_tcp	cp_tcp;		/* guest connects go to this TCP peer */
	struct conf_tcp	cp_tcp_listen;	/* TCP clients here reach the guest */
	unsigned	cp_line;
};

struct conf {
	/* Where this configuration came from ("" = built-in defaults). */
	char		c_file[CONF_PATH_MAX];
	/* The instance name (domain name): used in default paths. */
	char		c_name[CONF_NAME_MAX];

	bool		c_has_pio;
	uint16_t	c_pio_base;
	bool		c_has_mmio;
	uint64_t	c_mmio_base;

	uint32_t	c_guest_cid;	/* 0 = not set */

	char		c_state_dir[CONF_PATH_MAX];
	/* Set from the command line (--state-dir): the file cannot override. */
	bool		c_state_dir_cli;
	char		c_socket_dir[CONF_PATH_MAX];
	char		c_socket_name[CONF_NAME_MAX];

	bool		c_default_allow;
	struct conf_port c_ports[CONF_MAX_PORTS];
	size_t		c_nr_ports;
	struct conf_tcp_allow c_tcp_allow;	/* non-loopback TCP addresses */

	uint32_t	c_max_connections;
	uint32_t	c_buf_alloc;
	uint32_t	c_close_timeout_ms;
	uint32_t	c_connect_timeout_ms;	/* CONNECT line and the guest's answer */
	unsigned	c_notify;	/* 1u << HCVS_IRQ_* */
	bool		c_evtchn_kick;	/* offer EVTCHN_KICK with evtchn */
	uint32_t	c_busy_poll_us;
	uint32_t	c_sync_poll_us;
	uint32_t	c_tx_poll_us;
	bool		c_ok_line;
	int		c_log_level;	/* syslog priority: LOG_ERR..LOG_DEBUG */

	char		c_user[CONF_NAME_MAX];	/* "" = keep running as root */
	char		c_group[CONF_NAME_MAX];	/* "" = the user's group */
	/* Also allowed on the control and attach sockets ("" = none). */
	char		c_peer_group[CONF_NAME_MAX];

	/* Line of each key (by its row in conf.c's table), 0 if unset. */
	unsigned	c_seen[32];
};

/* Called once per error with a complete "file:line: message" text. */
typedef void (*conf_err_fn)(void *arg, const char *msg);

/*
 * Fill *c with the built-in defaults for instance `name` (NULL or "" =
 * "hcvsockd").  Paths that derive from the name are resolved by
 * conf_finish().
 */
void	conf_defaults(struct conf *c, const char *name);

/*
 * Parse `path` into *c (which must hold conf_defaults()).  Returns the
 * number of errors (0 = valid), or -errno if the file cannot be read (the
 * error is also reported through err).  Calls conf_finish() itself.
 */
int	conf_load(struct conf *c, const char *path, conf_err_fn err, void *arg);

/*
 * Parse an in-memory text as if it were file `name` (tests, fuzzing).
 * Same return convention as conf_load().
 */
int	conf_load_buf(struct conf *c, const char *name, const char *text,
	    size_t len, conf_err_fn err, void *arg);

/*
 * Resolve defaults that depend on other keys and check the whole
 * (required keys, socket path lengths).  Returns the number of errors.
 * Idempotent.  Called by the loaders; call it after conf_defaults() when
 * running without a file.
 */
int	conf_finish(struct conf *c, conf_err_fn err, void *arg);

/*
 * Checks that need the running system: the user and group exist.  On
 * success fills *uid and *gid (both -1 when no user is configured).  Returns
 * the number of errors.
 */
int	conf_check_system(const struct conf *c, uid_t *uid, gid_t *gid,
	    conf_err_fn err, void *arg);

/* Whether a reload (SIGHUP) applies a key, or only the next start. */
enum conf_reload {
	CONF_RELOAD_LIVE,
	CONF_RELOAD_RESTART,
};

/*
 * A reload: copy into *run every key of class CONF_RELOAD_LIVE that
 * differs in *next, and call restart_changed (may be NULL) with the name
 * of each CONF_RELOAD_RESTART key that differs; those keep their running
 * value.  hcvsockd.conf(5) lists the live keys.
 */
void	conf_reload_merge(struct conf *run, const struct conf *next,
	    void (*restart_changed)(void *arg, const char *key), void *arg);

/* Write the effective configuration in a form conf_load() reads back. */
void	conf_dump(const struct conf *c, FILE *f);

/*
 * Host socket paths: the listener "<socket_dir>/<socket_name>" and the
 * socket for guest port `port`.  -ENAMETOOLONG if it would not fit.
 */
int	conf_listener_path(const struct conf *c, char *buf, size_t len);
int	conf_port_path(const struct conf *c, uint32_t port, char *buf, size_t len);

/* The `notify` name of a mode (HCVS_IRQ_*), or NULL for one it has none. */
const char *conf_notify_name(uint32_t mode);

#endif /* HCVS_CONF_H */
