/* SPDX-License-Identifier: MIT */
/*
 * hcvsockd's command line.  options_parse() never exits and never prints:
 * it returns an exit code (sysexits) and a message for main() to show, so
 * that the tests can drive it.  The usage text is the SYNOPSIS of
 * hcvsockd(8), word for word; a test checks that they agree.
 */
#ifndef HCVS_OPTIONS_H
#define HCVS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/conf.h"

enum opt_target {
	OPT_TARGET_NONE,	/* only with -n */
	OPT_TARGET_DOMAIN,	/* --domain NAME */
	OPT_TARGET_DOMID,	/* --domid N */
	OPT_TARGET_LOOPBACK,	/* --loopback SOCKET */
	OPT_TARGET_KVM,		/* --kvm SOCKET: VMMs attach KVM guests */
};

/* Largest domid a guest can have (DOMID_FIRST_RESERVED - 1). */
#define OPT_DOMID_MAX	0x7fefu

struct options {
	enum opt_target	o_target;
	char		o_domain[CONF_NAME_MAX];
	uint32_t	o_domid;
	char		o_loopback[CONF_SUN_PATH_MAX];
	char		o_kvm[CONF_SUN_PATH_MAX];
	char		o_config[CONF_PATH_MAX];	/* "" = default */
	char		o_pidfile[CONF_PATH_MAX];	/* "" = none */
	char		o_state_dir[CONF_PATH_MAX];	/* "" = from config */
	unsigned	o_wait_s;	/* wait for the domain to appear */
	bool		o_pause_pin;	/* hold it paused until served */
	bool		o_allow_root;	/* -R: root without 'user' is allowed */
	bool		o_no_seccomp;	/* -S: no system-call filter */
	bool		o_foreground;
	bool		o_check;	/* -n */
	int		o_verbose;
	bool		o_help;
	bool		o_version;
	/* The instance name: domain name, "dom<N>", "loopback" or "kvm". */
	char		o_name[CONF_NAME_MAX];
};

/*
 * Parse argv.  Returns 0 (run), or a sysexits code (EX_USAGE) with a
 * one-line reason in err.  -h/-V set o_help/o_version and return 0.
 */
int	options_parse(struct options *o, int argc, char **argv, char *err,
	    size_t errlen);

/* The configuration file to read: --config, else the default for the name. */
void	options_config_path(const struct options *o, char *buf, size_t len,
	    bool *is_default);

void	options_usage(FILE *f);
void	options_help(FILE *f);

#endif /* HCVS_OPTIONS_H */
