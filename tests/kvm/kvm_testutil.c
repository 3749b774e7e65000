/* SPDX-License-Identifier: MIT */
/* Shared set-up of the VMM-driving cmocka tests (see kvm_testutil.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "kvmvm.h"
#include "kvm_testutil.h"

int
kt_start(char *path, size_t size, const char *image)
{
	const char *b = getenv("top_builddir");
	int rc;

	rc = kvmvm_probe();
	if (rc < 0) {
		printf("SKIP: no usable /dev/kvm (%s)\n", strerror(-rc));
		return rc;
	}
	snprintf(path, size, "%s/tests/kvm/guest/%s", b != NULL ? b : ".",
	    image);
	return 0;
}

static void *
kt_server_main(void *arg)
{
	struct kt_server *ks = arg;

	while (!ks->ks_stop)
		(void)loop_run_once(ks->ks_loop, 20);
	return NULL;
}

void
kt_server_start(struct kt_server *ks, const char *tag,
    const struct attach_server_ops *ops, void *arg)
{
	memset(ks, 0, sizeof(*ks));
	test_tmpdir(ks->ks_dir, sizeof(ks->ks_dir), tag);
	snprintf(ks->ks_path, sizeof(ks->ks_path), "%s/attach", ks->ks_dir);
	assert_int_equal(loop_new(&ks->ks_loop), 0);
	assert_int_equal(attach_server_new(ks->ks_loop, ks->ks_path, 4, ops,
	    arg, &ks->ks_srv), 0);
	assert_int_equal(pthread_create(&ks->ks_thread, NULL, kt_server_main,
	    ks), 0);
}

void
kt_server_kill(struct kt_server *ks)
{
	if (ks->ks_stop)
		return;
	ks->ks_stop = true;
	pthread_join(ks->ks_thread, NULL);
	attach_server_free(ks->ks_srv);
	ks->ks_srv = NULL;
}

void
kt_server_finish(struct kt_server *ks)
{
	kt_server_kill(ks);
	loop_free(ks->ks_loop);
	ks->ks_loop = NULL;
	test_rmtree(ks->ks_dir);
}

struct vmm *
kt_vmm_attach(const struct vmm_cfg *cfg, const char *image,
    const char *attach_path)
{
	struct vmm *m;
	char err[256] = "";

	assert_int_equal(vmm_new(cfg, &m), 0);
	assert_int_equal(vmm_load(m, image), 0);
	if (vmm_attach(m, attach_path, err, sizeof(err)) != 0)
		fail_msg("attach: %s", err);
	return m;
}

static void *
kt_vcpu_bg_main(void *arg)
{
	struct kt_vcpu_bg *vb = arg;

	vb->vb_rc = vmm_run_vcpu(vb->vb_m, 0, vb->vb_timeout_ms, &vb->vb_code);
	return NULL;
}

void
kt_vcpu_bg_start(struct kt_vcpu_bg *vb, struct vmm *m, unsigned timeout_ms)
{
	vb->vb_m = m;
	vb->vb_timeout_ms = timeout_ms;
	vb->vb_code = 0;
	vb->vb_rc = 0;
	assert_int_equal(pthread_create(&vb->vb_thread, NULL, kt_vcpu_bg_main,
	    vb), 0);
}

void
kt_vcpu_bg_join(struct kt_vcpu_bg *vb)
{
	pthread_join(vb->vb_thread, NULL);
}
