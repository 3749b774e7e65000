/* SPDX-License-Identifier: MIT */
/* Privilege drop with a proof that it cannot be undone. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/privdrop.h"

static int
prepare(const char *path, uid_t uid, gid_t gid, mode_t mode, bool want_dir)
{
	struct stat st;
	int fd, rc = 0;

	if (uid == (uid_t)-1)
		return 0;
	if (lstat(path, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	/* O_NOFOLLOW + fchown: a swapped-in symlink cannot redirect us. */
	fd = open(path, (want_dir ? O_DIRECTORY : O_PATH) | O_NOFOLLOW |
	    O_CLOEXEC | (want_dir ? O_RDONLY : 0));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (want_dir && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	else if (!want_dir && S_ISLNK(st.st_mode))
		rc = -ELOOP;
	close(fd);
	if (rc < 0)
		return rc;
	/* fchown does not work on O_PATH fds: lchown never follows links. */
	if (lchown(path, uid, gid) < 0)
		return -errno;
	if (chmod(path, mode) < 0)
		return -errno;
	return 0;
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
