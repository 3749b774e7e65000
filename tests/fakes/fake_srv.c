/* SPDX-License-Identifier: MIT */
/* The daemon's side of the fake ioreq page for end-to-end tests (fake_srv.h). */
#include <errno.h>
#include <string.h>

#include "common/loop.h"
#include "fake_guest.h"
#include "fake_srv.h"
#include "ioreq/ioreq.h"
#include "notify/notify.h"

static void
on_notify(struct loop *l, int fd, unsigned events, void *arg)
{
	struct fake_srv *fs = arg;
	uint32_t port;

	(void)l;
	(void)fd;
	(void)events;
	while (notifier_next(fs->fs_n, &port, NULL) == 1)
		(void)ioreq_engine_handle_port(fs->fs_eng, port);
}

int
fake_srv_open(struct fake_srv *fs, uint64_t ram_gpa, size_t ram_size)
{
	struct ioreq_fake_cfg fc = { .nr_vcpus = 1, .ram_gpa = ram_gpa,
	    .ram_size = ram_size, .timeout_ms = 10000 };
	uint64_t gpa;
	size_t size;
	int rc;

	memset(fs, 0, sizeof(*fs));
	if ((rc = ioreq_fake_new(&fc, &fs->fs_fake)) < 0)
		return rc;
	fs->fs_ram = ioreq_fake_ram(fs->fs_fake, &gpa, &size);
	if (fs->fs_ram == NULL || gpa != ram_gpa) {
		rc = -EINVAL;
		goto err;
	}
	rc = ioreq_shm_open(ioreq_fake_shm_cfg(fs->fs_fake), &fs->fs_src);
	if (rc < 0)
		goto err;
	fs->fs_eng = ioreq_source_engine(fs->fs_src);
	fs->fs_n = ioreq_source_notifier(fs->fs_src);
	if ((rc = loop_new(&fs->fs_loop)) < 0)
		goto err;
	return 0;
err:
	fake_srv_close(fs);
	return rc;
}

int
fake_srv_start(struct fake_srv *fs)
{
	int rc = ioreq_source_enable(fs->fs_src);

	if (rc < 0)
		return rc;
	rc = loop_add_fd(fs->fs_loop, notifier_fd(fs->fs_n), LOOP_IN,
	    on_notify, fs);
	if (rc == 0)
		fs->fs_on_loop = 1;
	return rc;
}

void
fake_srv_close(struct fake_srv *fs)
{
	if (fs->fs_on_loop)
		loop_del_fd(fs->fs_loop, notifier_fd(fs->fs_n));
	fs->fs_on_loop = 0;
	if (fs->fs_src != NULL)
		ioreq_source_close(fs->fs_src, true);
	ioreq_fake_free(fs->fs_fake);
	loop_free(fs->fs_loop);
	memset(fs, 0, sizeof(*fs));
}
