/* SPDX-License-Identifier: MIT */
/* Privilege drop with a proof that it cannot be undone. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/privdrop.h"

/*
 * Everything goes through one fd opened with O_NOFOLLOW and checked: a
 * path swapped for a symlink after the check cannot redirect the chown or
 * the chmod to the link's target.  A directory is opened for reading, so
 * fchown()/fchmod() work on it; a socket cannot be opened, only named by
 * an O_PATH fd, on which fchown() and fchmod() fail with EBADF: the owner
 * is set with fchownat(AT_EMPTY_PATH), the mode through the fd's
 * /proc/self/fd link, which names that inode and no path.
 */
static int
prepare(const char *path, uid_t uid, gid_t gid, mode_t mode, bool want_dir)
{
	char self[64];
	struct stat st;
	int fd, rc = 0;

	if (uid == (uid_t)-1)
		return 0;
	/* For a clear error; the fd below is what counts. */
	if (lstat(path, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	fd = open(path, (want_dir ? O_DIRECTORY | O_RDONLY : O_PATH) |
	    O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (S_ISLNK(st.st_mode))
		rc = -ELOOP;
	else if (want_dir && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	else if (want_dir)
		rc = fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 ?
		    -errno : 0;
	else if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
		rc = -errno;
	else if ((st.st_mode & 07777) != mode) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		rc = chmod(self, mode) < 0 ? -errno : 0;
	}
	close(fd);
	return rc;
}

int
privdrop_prepare_dir(const char *dir, uid_t uid, gid_t gid, mode_t mode)
{
	return prepare(dir, uid, gid, mode, true);
}

int
privdrop_prepare_file(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	return prepare(path, uid, gid, mode, false);
}

int
privdrop_drop(uid_t uid, gid_t gid)
{
	struct rlimit nocore = { 0, 0 };
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (setgroups(1, &gid) < 0)
		return -errno;
	if (setresgid(gid, gid, gid) < 0)
		return -errno;
	if (setresuid(uid, uid, uid) < 0)
		return -errno;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid)
		return -EPERM;
	/* The proof: if root can be regained, nothing above held. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -EPERM;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	(void)setrlimit(RLIMIT_CORE, &nocore);
	return 0;
}
