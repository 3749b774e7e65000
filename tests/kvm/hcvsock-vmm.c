/* SPDX-License-Identifier: MIT */
/*
 * hcvsock-vmm: the reference VMM.  Creates a KVM VM with memfd RAM, loads
 * a freestanding guest, attaches it to hcvsockd over the attach socket
 * (docs/KVM-ATTACH.md) and runs its vCPUs, forwarding register-window
 * exits to hcvsockd.  Exits with the guest's exit value (0 = success).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: hcvsock-vmm -a SOCKET -g GUEST.bin [-c CID] [-m MiB] [-n VCPUS]\n"
	    "                   [-p PORT | -M GPA] [-N eventfds|none|vm] [-G GSI]\n"
	    "                   [-P I=VALUE]... [-t SECONDS] [-s SPIN_NS] [-r SECONDS]\n");
}

struct vcpu_thread {
	struct vmm	*vt_vmm;
	unsigned	 vt_idx;
	unsigned	 vt_timeout_ms;
	uint32_t	 vt_code;
	int		 vt_rc;
};

static void *
vcpu_main(void *arg)
{
	struct vcpu_thread *vt = arg;

	vt->vt_rc = vmm_run_vcpu(vt->vt_vmm, vt->vt_idx, vt->vt_timeout_ms,
	    &vt->vt_code);
	return NULL;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno != 0 || end == s || *end != '\0' ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct vmm_cfg cfg = {
		.name = "hcvsock-vmm",
		.mem_size = 64u << 20,
		.nr_vcpus = 1,
		.cid = 3,
		.window_space = IOREQ_SPACE_PIO,
		.window_base = 0x5a0,
		.notify = VMM_NOTIFY_EVENTFDS,
		.irq_gsi = ATTACH_GSI_NONE,
		.reattach_ms = 30000,
	};
	struct vcpu_thread vt[64];
	pthread_t th[64];
	uint32_t params[KVMGUEST_NR_PARAMS] = { 0 };
	const char *sock = NULL, *guest = NULL;
	unsigned timeout_s = 60, i;
	struct vmm_stats st;
	struct vmm *m;
	char err[256];
	uint64_t v;
	int c, rc, status = 0;

	while ((c = getopt(argc, argv, "a:c:g:G:hm:M:n:N:p:P:r:s:t:")) != -1) {
		switch (c) {
		case 'a':
			sock = optarg;
			break;
		case 'g':
			guest = optarg;
			break;
		case 'c':
			if (parse_u64(optarg, &cfg.cid) < 0)
				goto bad;
			break;
		case 'm':
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > 2048)
				goto bad;
			cfg.mem_size = v << 20;
			break;
		case 'n':
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > 64)
				goto bad;
			cfg.nr_vcpus = (unsigned)v;
			break;
		case 'p':
			if (parse_u64(optarg, &cfg.window_base) < 0)
				goto bad;
			cfg.window_space = IOREQ_SPACE_PIO;
			break;
		case 'M':
			if (parse_u64(optarg, &cfg.window_base) < 0)
				goto bad;
			cfg.window_space = IOREQ_SPACE_MMIO;
			break;
		case 'N':
			if (strcmp(optarg, "vm") == 0)
				cfg.notify = VMM_NOTIFY_VM;
			else if (strcmp(optarg, "eventfds") == 0)
				cfg.notify = VMM_NOTIFY_EVENTFDS;
			else if (strcmp(optarg, "none") == 0)
				cfg.notify = VMM_NOTIFY_NONE;
			else
				goto bad;
			break;
		case 'G':
			if (parse_u64(optarg, &v) < 0 || v > 1023)
				goto bad;
			cfg.irq_gsi = (uint32_t)v;
			cfg.irqchip = true;
			break;
		case 'P': {
			char *eq = strchr(optarg, '=');
			uint64_t idx;

			if (eq == NULL)
				goto bad;
			*eq = '\0';
			if (parse_u64(optarg, &idx) < 0 ||
			    idx >= KVMGUEST_NR_PARAMS ||
			    parse_u64(eq + 1, &v) < 0 || v > UINT32_MAX)
				goto bad;
			params[idx] = (uint32_t)v;
			break;
		}
		case 'r':
			if (parse_u64(optarg, &v) < 0 || v > 3600)
				goto bad;
			cfg.reattach_ms = (int)v * 1000;
			break;
		case 's':
			if (parse_u64(optarg, &cfg.fwd_spin_ns) < 0)
				goto bad;
			break;
		case 't':
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > 3600)
				goto bad;
			timeout_s = (unsigned)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (sock == NULL || guest == NULL || optind != argc)
		goto bad;

	rc = kvmvm_probe();
	if (rc < 0) {
		fprintf(stderr, "hcvsock-vmm: /dev/kvm: %s\n", strerror(-rc));
		return 77;
	}
	rc = vmm_new(&cfg, &m);
	if (rc < 0) {
		fprintf(stderr, "hcvsock-vmm: cannot create the VM: %s\n",
		    strerror(-rc));
		return 1;
	}
	rc = vmm_load(m, guest);
	if (rc < 0) {
		fprintf(stderr, "hcvsock-vmm: %s: %s\n", guest, strerror(-rc));
		vmm_free(m);
		return 1;
	}
	memcpy(vmm_boot(m)->kb_params, params, sizeof(params));
	rc = vmm_attach(m, sock, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "hcvsock-vmm: attach: %s\n", err);
		vmm_free(m);
		return 1;
	}
	fprintf(stderr, "hcvsock-vmm: attached to %s as cid %" PRIu64 "\n",
	    sock, cfg.cid);
	for (i = 0; i < cfg.nr_vcpus; i++) {
		vt[i].vt_vmm = m;
		vt[i].vt_idx = i;
		vt[i].vt_timeout_ms = timeout_s * 1000;
		if (pthread_create(&th[i], NULL, vcpu_main, &vt[i]) != 0) {
			fprintf(stderr, "hcvsock-vmm: cannot start vCPU %u\n", i);
			return 1;	/* the running vCPUs die with us */
		}
	}
	for (i = 0; i < cfg.nr_vcpus; i++) {
		pthread_join(th[i], NULL);
		if (vt[i].vt_rc < 0) {
			fprintf(stderr, "hcvsock-vmm: vCPU %u: %s\n", i,
			    strerror(-vt[i].vt_rc));
			status = 1;
		} else {
			fprintf(stderr, "hcvsock-vmm: vCPU %u exited with "
			    "0x%08x\n", i, vt[i].vt_code);
			if (vt[i].vt_code != 0)
				status = 1;
		}
	}
	vmm_get_stats(m, &st);
	fprintf(stderr, "hcvsock-vmm: %" PRIu64 " forwarded exits, %" PRIu64
	    " unanswered, %" PRIu64 " re-attaches, %" PRIu64 " answered after "
	    "a re-attach\n", st.vs_forwarded, st.vs_fwd_errors,
	    st.vs_reattached, st.vs_resumed);
	fprintf(stderr, "hcvsock-vmm: results");
	for (i = 0; i < KVMGUEST_NR_PARAMS; i++)
		fprintf(stderr, " %u=0x%x", i, vmm_boot(m)->kb_results[i]);
	fprintf(stderr, "\n");
	vmm_free(m);
	return status;

bad:
	usage(stderr);
	return 64;
}
