/* SPDX-License-Identifier: MIT */
/*
 * Set-up the cmocka drivers that run the reference VMM share: the KVM
 * check and guest image path, an attach server on its own loop thread,
 * a VMM attached in one call, and a vCPU run in the background.
 * Failures are cmocka failures; none of this is for the daemon.
 */
#ifndef HCVS_TESTS_KVM_TESTUTIL_H
#define HCVS_TESTS_KVM_TESTUTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attach/attach.h"
#include "common/loop.h"
#include "vmm.h"

/* 0 with path = $top_builddir/tests/kvm/guest/IMAGE; <0 (SKIP printed). */
int	kt_start(char *path, size_t size, const char *image);

/* An attach server in a fresh temporary directory, served by a thread. */
struct kt_server {
	struct loop		*ks_loop;
	struct attach_server	*ks_srv;
	pthread_t		 ks_thread;
	volatile bool		 ks_stop;
	char			 ks_dir[64];
	char			 ks_path[100];	/* the attach socket */
};

/* tag names the directory (/tmp/hcvs-TAG-XXXXXX). */
void	kt_server_start(struct kt_server *ks, const char *tag,
	    const struct attach_server_ops *ops, void *arg);
/* Stop the thread and free the server (guests detach); idempotent. */
void	kt_server_kill(struct kt_server *ks);
/* kt_server_kill, then the loop and the directory. */
void	kt_server_finish(struct kt_server *ks);

/* vmm_new + vmm_load(image) + vmm_attach(attach_path), or fail the test. */
struct vmm *kt_vmm_attach(const struct vmm_cfg *cfg, const char *image,
	    const char *attach_path);

/* vCPU 0 of vb_m run by a thread until it stops or timeout_ms passes. */
struct kt_vcpu_bg {
	struct vmm	*vb_m;
	unsigned	 vb_timeout_ms;
	uint32_t	 vb_code;
	int		 vb_rc;
	pthread_t	 vb_thread;
};

void	kt_vcpu_bg_start(struct kt_vcpu_bg *vb, struct vmm *m,
	    unsigned timeout_ms);
/* Waits for the thread; its result is in vb_rc and vb_code. */
void	kt_vcpu_bg_join(struct kt_vcpu_bg *vb);

#endif
