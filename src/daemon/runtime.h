/* SPDX-License-Identifier: MIT */
/*
 * hcvsockd's runtime: configuration, process set-up, the event loop and
 * the orderly teardown, around the service (service.h).  Only main()
 * calls this; it returns the process exit status (sysexits):
 *
 *   0   stopped by SIGTERM/SIGINT, or the guest went away
 *   64  EX_USAGE     bad command line (main)
 *   69  EX_UNAVAILABLE  no Xen, no such domain, range claimed, ...
 *   70  EX_SOFTWARE  internal error
 *   71  EX_OSERR     a system call failed
 *   75  EX_TEMPFAIL  another hcvsockd serves this guest
 *   77  EX_NOPERM    not root, or the privilege drop did not hold
 *   78  EX_CONFIG    the configuration is invalid
 */
#ifndef HCVS_RUNTIME_H
#define HCVS_RUNTIME_H

#include "daemon/options.h"

int	runtime_check(const struct options *o);	/* -n */
int	runtime_run(const struct options *o);

/* Map a -errno from set-up to an exit status. */
int	runtime_exit_code(int err);

#endif /* HCVS_RUNTIME_H */
