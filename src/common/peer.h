/* SPDX-License-Identifier: MIT */
/*
 * Who may talk to a local listener: the kernel's word on a Unix-socket
 * peer (SO_PEERCRED, SO_PEERGROUPS) against a short list of uids and
 * gids.  The file mode of a socket is the first gate; this one holds even
 * when the mode or the directory is wrong.
 */
#ifndef HCVS_PEER_H
#define HCVS_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/compiler.h"

#define PEER_MAX_IDS	4

/* A peer is allowed if its uid, its gid or one of its groups is listed. */
struct peer_policy {
	unsigned	pp_nuids;
	uid_t		pp_uids[PEER_MAX_IDS];
	unsigned	pp_ngids;
	gid_t		pp_gids[PEER_MAX_IDS];
};

/* Add an id once (ignored when -1 or the list is full). */
void	peer_allow_uid(struct peer_policy *pp, uid_t uid);
void	peer_allow_gid(struct peer_policy *pp, gid_t gid);

/*
 * 0: allowed (NULL policy: anybody); -EPERM: not allowed; -errno: the
 * kernel would not say.  *uid, *gid and *pid (may be NULL) get the peer's.
 */
int	peer_check(int fd, const struct peer_policy *pp, uid_t *uid, gid_t *gid,
	    pid_t *pid) __must_check;

#endif /* HCVS_PEER_H */
