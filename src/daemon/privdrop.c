/* SPDX-License-Identifier: MIT */
/* Privilege drop with a proof that it cannot be undone. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
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

/* mkdir -p: parents this call creates get 0755 whatever the umask. */
static int
make_parents(const char *path)
{
	char buf[4096];
	int fd;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0700) == 0) {
			fd = open(buf, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC |
			    O_RDONLY);
			if (fd < 0 || fchmod(fd, 0755) < 0) {
				int e = errno;

				if (fd >= 0)
					close(fd);
				return -e;
			}
			close(fd);
		} else if (errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

static bool
trusted_uid(uid_t u, uid_t uid)
{
	return u == 0 || u == geteuid() || (uid != (uid_t)-1 && u == uid);
}

/*
 * Sockets and links that neither we, root, the configured user nor the
 * daemon's group put here: left from when the directory was not ours.  A
 * guest connection must never reach them.
 */
static int
sweep_foreign(int dfd, const char *dir, uid_t uid, gid_t gid)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rc = 0;

	if ((fd = dup(dfd)) < 0)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISSOCK(st.st_mode) && !S_ISLNK(st.st_mode))
			continue;
		if (trusted_uid(st.st_uid, uid) ||
		    (gid != (gid_t)-1 && st.st_gid == gid && st.st_gid != 0))
			continue;
		if (unlinkat(dfd, de->d_name, 0) < 0) {
			rc = -errno;
			log_warnx("%s/%s: a %s of uid %ld that is not ours: "
			    "cannot remove it: %s", dir, de->d_name,
			    S_ISSOCK(st.st_mode) ? "socket" : "symbolic link",
			    (long)st.st_uid, strerror(errno));
			break;
		}
		log_warnx("%s/%s: removed a %s of uid %ld that is not ours",
		    dir, de->d_name, S_ISSOCK(st.st_mode) ? "socket" :
		    "symbolic link", (long)st.st_uid);
	}
	closedir(d);
	return rc;
}

int
privdrop_take_dir(const char *dir, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;
	int fd, rc;

	if ((rc = make_parents(dir)) < 0) {
		log_warnx("%s: %s", dir, strerror(-rc));
		return rc;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		log_warnx("%s: %s", dir, strerror(-rc));
		return rc;
	}
	fd = open(dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_RDONLY);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP || (lstat(dir, &st) == 0 &&
		    S_ISLNK(st.st_mode))) {
			log_warnx("%s: is a symbolic link: refused (name the "
			    "directory itself)", dir);
			rc = -ELOOP;
		} else
			log_warnx("%s: %s", dir, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!trusted_uid(st.st_uid, uid)) {
		log_warnx("%s: owned by uid %ld, not by root or the daemon's "
		    "user: refused", dir, (long)st.st_uid);
		rc = -EPERM;
		goto out;
	}
	if ((rc = sweep_foreign(fd, dir, uid, gid)) < 0)
		goto out;
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) {
		rc = -errno;
		log_warnx("cannot hand %s to uid %ld: %s", dir, (long)uid,
		    strerror(errno));
		goto out;
	}
	if (fchmod(fd, mode) < 0) {
		rc = -errno;
		log_warnx("%s: chmod: %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
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
