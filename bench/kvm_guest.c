/* SPDX-License-Identifier: MIT */
/*
 * The benchmark's KVM guest: native 64-bit user mode, the freestanding
 * hcvsock driver over port I/O, and the workloads of bench/bguest.c.
 * The control block sits at the start of the scratch area the VMM names
 * in the boot block, the mailbox after its samples (BGUEST_MBOX_OFF).
 * Exits with 0, or the driver's error code negated.
 */
#include "kvmguest.h"
#include "hcvsock_guest_x86.h"
#include "bench/bguest.h"

#define NCONNS	4u	/* fig_vsock.c: KVM_GUEST_NCONNS */

static struct hcvg_conn conns[NCONNS];
static uint8_t buf[BGUEST_MAX_PAYLOAD];
static struct hcvg drv;
/* Protocol MSG: the call table and three data buffers. */
static uint8_t msg_slots[8 * HCVS_MSG_SLOT_SIZE] __attribute__((aligned(4096)));
static uint8_t msg_bufs[3 * 65536] __attribute__((aligned(4096)));
static struct hcvg_msg msg;

static void
msg_main(struct hcvg_platform *p, struct bguest_ctl *ctl)
{
	struct hcvg_msg_cfg mc;
	int rc;

	memset(&mc, 0, sizeof(mc));
	mc.plat = p;
	mc.slots = msg_slots;
	mc.nslots = 8;
	mc.sync = (int)ctl->sync;
	mc.wait_limit = BGUEST_WAIT_LIMIT;
	rc = hcvg_msg_init(&msg, &mc);
	if (rc == 0)
		rc = bguest_msg_run(&msg, ctl, msg_bufs);
	else {
		ctl->status = rc;
		ctl->ready = 1;
		ctl->done = 1;
	}
	kvmguest_exit(rc < 0 ? (uint32_t)-rc : 0);
}

KVMGUEST_ENTRY void
_start(uint64_t vcpu, uint64_t bootp)
{
	struct kvmguest_boot *b = (struct kvmguest_boot *)(uintptr_t)bootp;
	struct bguest_ctl *ctl;
	struct hcvg_platform p;
	struct hcvg_x86 x;
	struct hcvg_cfg cfg;
	int rc;

	(void)vcpu;
	if (b->kb_magic != KVMGUEST_BOOT_MAGIC)
		kvmguest_exit(0xdead0001);
	ctl = (struct bguest_ctl *)(uintptr_t)b->kb_scratch_gpa;
	x.base = (uintptr_t)b->kb_window_base;
	hcvg_x86_platform(&p, &x, 0);
	if (ctl->mode == BG_MSG_ECHO)
		msg_main(&p, ctl);
	memset(&cfg, 0, sizeof(cfg));
	cfg.plat = &p;
	cfg.mem = (uint8_t *)ctl + BGUEST_MBOX_OFF(ctl->max_samples);
	cfg.mem_size = BGUEST_MBOX_SIZE;
	cfg.tx_slots = BGUEST_TX_SLOTS;
	cfg.rx_slots = BGUEST_RX_SLOTS;
	cfg.slot_size = BGUEST_SLOT_SIZE;
	cfg.conns = conns;
	cfg.nconns = NCONNS;
	cfg.sync_doorbell = (int)ctl->sync;
	cfg.wait_limit = BGUEST_WAIT_LIMIT;
	rc = hcvg_init(&drv, &cfg);
	if (rc < 0) {
		ctl->status = rc;
		ctl->ready = 1;
		ctl->done = 1;
		kvmguest_exit((uint32_t)-rc);
	}
	rc = bguest_run(&drv, ctl, buf);
	kvmguest_exit(rc < 0 ? (uint32_t)-rc : 0);
}
