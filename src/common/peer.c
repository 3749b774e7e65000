/* SPDX-License-Identifier: MIT */
/* Unix-socket peers checked against allowed uids and gids. */
#include <errno.h>
#include <sys/socket.h>

#include "common/peer.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS	59
#endif

void
peer_allow_uid(struct peer_policy *pp, uid_t uid)
{
	if (uid == (uid_t)-1 || pp->pp_nuids == PEER_MAX_IDS)
		return;
	for (unsigned i = 0; i < pp->pp_nuids; i++)
		if (pp->pp_uids[i] == uid)
			return;
	pp->pp_uids[pp->pp_nuids++] = uid;
}

void
peer_allow_gid(struct peer_policy *pp, gid_t gid)
{
	if (gid == (gid_t)-1 || pp->pp_ngids == PEER_MAX_IDS)
		return;
	for (unsigned i = 0; i < pp->pp_ngids; i++)
		if (pp->pp_gids[i] == gid)
			return;
	pp->pp_gids[pp->pp_ngids++] = gid;
}

static bool
gid_listed(const struct peer_policy *pp, gid_t gid)
{
	for (unsigned i = 0; i < pp->pp_ngids; i++)
		if (pp->pp_gids[i] == gid)
			return true;
	return false;
}

int
peer_check(int fd, const struct peer_policy *pp, uid_t *uid, gid_t *gid,
    pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[64];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (uid != NULL)
		*uid = cred.uid;
	if (gid != NULL)
		*gid = cred.gid;
	if (pid != NULL)
		*pid = cred.pid;
	if (pp == NULL)
		return 0;
	for (unsigned i = 0; i < pp->pp_nuids; i++)
		if (pp->pp_uids[i] == cred.uid)
			return 0;
	if (gid_listed(pp, cred.gid))
		return 0;
	/* Supplementary groups, as the peer had them when it connected. */
	len = sizeof(groups);
	if (pp->pp_ngids > 0 && getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS,
	    groups, &len) == 0) {
		for (size_t i = 0; i < len / sizeof(groups[0]); i++)
			if (gid_listed(pp, groups[i]))
				return 0;
	}
	return -EPERM;
}
