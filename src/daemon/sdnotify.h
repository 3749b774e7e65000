/* SPDX-License-Identifier: MIT */
/*
 * sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET
 * ("@name" = abstract namespace).  A no-op (returning 0) when the
 * variable is unset, so the daemon calls it unconditionally.
 */
#ifndef HCVS_SDNOTIFY_H
#define HCVS_SDNOTIFY_H

#include "common/compiler.h"

/* Send `state` (e.g. "READY=1\nSTATUS=serving"). 1 sent, 0 no socket, -errno. */
int	sdnotify_send(const char *state);
int	sdnotify_sendf(const char *fmt, ...) __printf(1, 2);

#endif /* HCVS_SDNOTIFY_H */
