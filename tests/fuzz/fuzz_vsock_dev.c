/* SPDX-License-Identifier: MIT */
/*
 * The hcvsock device under a hostile guest: a program of register
 * accesses of any size and offset, mailbox scribbles, TX slots with any
 * header, index games, RX consumption, deferred work and state
 * export/import, against the real muxer (no host sockets).
 *
 * Checked beyond the sanitizers (PROTOCOL.md §7):
 *   - the device writes guest memory only inside mailboxes it accepted
 *     (canaries everywhere else);
 *   - after a pass, RX_PROD is at most 256 ahead of the guest's RX_CONS;
 *   - STATUS.ERROR always comes with a non-zero ERROR, and MAGIC answers.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/loop.h"
#include "fuzz.h"
#include "hcvsock_abi.h"
#include "ioreq/ioreq.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mux.h"
#include "vsock/vsock_wire.h"

#define CID		7u
#define RAM_GPA		0x100000ull
#define RAM_SIZE	(256u * 1024u)
#define MB_OFF		0x1000u		/* mailbox offset in RAM */
#define AREA		(128u * 1024u)	/* where the guest itself writes */
#define CANARY		0xA5

static uint8_t *ram;
static struct ioreq_mem *mem;
static struct loop *lp;

FZ_GUEST_INITIALIZER(RAM_GPA, RAM_SIZE, &ram, &mem, &lp)

static uint64_t
reg(struct vsock_dev *d, uint32_t off, unsigned size, bool write, uint64_t v)
{
	if (write) {
		(void)vsock_dev_handler_ops.write(d, 0, off, size, v);
		return 0;
	}
	if (vsock_dev_handler_ops.read(d, 0, off, size, &v) < 0)
		return UINT64_MAX;
	return v;
}

static void
cmd(struct vsock_dev *d, uint32_t c, uint32_t a0, uint32_t a1, uint32_t a2)
{
	reg(d, HCVS_REG_ARG0, 4, true, a0);
	reg(d, HCVS_REG_ARG1, 4, true, a1);
	reg(d, HCVS_REG_ARG2, 4, true, a2);
	reg(d, HCVS_REG_CMD, 4, true, c);
}

/* The canonical mailbox the harness set up (op 1). */
struct geo {
	bool		valid;
	uint32_t	size, tx_slots, rx_slots, slot, tx_off, rx_off;
};

/* RAM the device may have written: mailboxes it accepted. */
static void
note_mailbox(struct vsock_dev *d)
{
	struct vsock_dev_state st;
	uint64_t lo;

	if (!(vsock_dev_peek_reg(d, HCVS_REG_STATUS) & HCVS_STATUS_MAILBOX))
		return;
	vsock_dev_export(d, &st);
	lo = st.st_mbox_gpa - RAM_GPA;
	fz_check(fz_allow(lo, lo + st.st_mbox_size));
}

static void
check_memory(void)
{
	fz_check_canary(ram, 0, RAM_SIZE, MB_OFF, MB_OFF + AREA, CANARY);
}

/* The owner's wake-up: the device pulls what the muxer queued. */
static void
wake_dev(void *arg)
{
	struct vsock_dev **dp = arg;

	if (*dp != NULL)
		(void)vsock_dev_process(*dp);
}

static void
check_device(struct vsock_dev *d, bool after_pass)
{
	uint32_t st = vsock_dev_peek_reg(d, HCVS_REG_STATUS);
	struct vsock_dev_state ds;

	fz_check(reg(d, HCVS_REG_MAGIC, 4, false, 0) == HCVS_MAGIC);
	if (st & HCVS_STATUS_ERROR)
		fz_check(vsock_dev_peek_reg(d, HCVS_REG_ERROR) != 0);
	note_mailbox(d);
	/* Only a live device looks at the rings (and validates RX_CONS). */
	if (!after_pass || !(st & HCVS_STATUS_LIVE) ||
	    (st & HCVS_STATUS_ERROR))
		return;
	vsock_dev_export(d, &ds);
	if (ds.st_mbox_gpa != RAM_GPA + MB_OFF)
		return;
	fz_check(ds.st_rx_prod - fz_rd32(ram, MB_OFF + HCVS_MB_RX_CONS) <=
	    HCVS_RING_MAX_SLOTS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct vsock_dev_cfg dc = { 0 };
	struct vsock_mux_cfg mc = { 0 };
	struct vsock_dev_state st;
	struct vsock_dev *d = NULL;
	struct vsock_mux *m;
	struct vsock_pkt_hdr h;
	struct geo g = { 0 };
	uint32_t off, len, i, prod;
	unsigned steps = 0;
	bool pass, found;

	memset(ram, CANARY, RAM_SIZE);
	fz_allow_reset();
	dc.mem = mem;
	dc.guest_cid = CID;
	dc.features = HCVS_F_STREAM | HCVS_F_SEQPACKET | HCVS_F_SYNC_DOORBELL;
	dc.irq_caps = 0x1f;
	(void)fz_u8(&f);	/* keeps the corpus's byte positions */
	mc.guest_cid = CID;
	mc.max_conns = 8;
	mc.buf_alloc = 16384;
	mc.close_timeout_ms = 100;
	mc.rx_ready = wake_dev;
	mc.rx_ready_arg = &d;
	fz_check(vsock_mux_new(lp, &mc, &m) == 0);
	dc.backend = &vsock_mux_backend_ops;
	dc.backend_arg = m;
	fz_check(vsock_dev_new(&dc, &d) == 0);

	while (fz_more(&f) && steps++ < 512) {
		pass = false;
		switch (fz_u8(&f) % 9) {
		case 0:	/* any register access */
			off = fz_u8(&f) & 0x7f;
			len = 1u << (fz_u8(&f) & 3);
			(void)reg(d, off, len, fz_u8(&f) & 1, fz_u32(&f));
			break;
		case 1:	/* a canonical bring-up with fuzzed geometry */
			g.tx_slots = 1u << (fz_u8(&f) % 5);
			g.rx_slots = 1u << (fz_u8(&f) % 5);
			g.slot = 64 + 4 * (fz_u16(&f) % 1024);
			g.tx_off = HCVS_MBOX_HDR_SIZE;
			g.rx_off = g.tx_off + g.tx_slots * g.slot;
			g.size = g.rx_off + g.rx_slots * g.slot;
			if (g.size > AREA) {
				g.valid = false;
				break;
			}
			memset(ram + MB_OFF, 0, HCVS_MBOX_HDR_SIZE);
			pass = true;
			fz_wr32(ram, MB_OFF + HCVS_MB_MAGIC, HCVS_MBOX_MAGIC);
			fz_wr32(ram, MB_OFF + HCVS_MB_VERSION, HCVS_MBOX_VERSION);
			fz_wr32(ram, MB_OFF + HCVS_MB_TX_SLOTS, g.tx_slots);
			fz_wr32(ram, MB_OFF + HCVS_MB_RX_SLOTS, g.rx_slots);
			fz_wr32(ram, MB_OFF + HCVS_MB_SLOT_SIZE, g.slot);
			fz_wr32(ram, MB_OFF + HCVS_MB_TX_OFF, g.tx_off);
			fz_wr32(ram, MB_OFF + HCVS_MB_RX_OFF, g.rx_off);
			g.valid = true;
			cmd(d, HCVS_CMD_RESET, 0, 0, 0);
			cmd(d, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_RING, 0, 0);
			cmd(d, HCVS_CMD_SET_FEATURES, fz_u8(&f) & 7, 0, 0);
			cmd(d, HCVS_CMD_SET_MAILBOX, (uint32_t)RAM_GPA + MB_OFF, 0,
			    g.size);
			cmd(d, HCVS_CMD_ENABLE, 0, 0, 0);
			break;
		case 2:	/* scribble inside the mailbox (any field) */
			if (!g.valid)
				break;
			off = fz_u32(&f) % g.size;
			len = fz_u8(&f) % 16;
			if (off + len > g.size)
				len = g.size - off;
			fz_bytes(&f, ram + MB_OFF + off, len);
			break;
		case 3:	/* one TX packet, header mostly plausible */
			if (!g.valid)
				break;
			memset(&h, 0, sizeof(h));
			h.src_cid = fz_u8(&f) ? CID : fz_u64(&f);
			h.dst_cid = fz_u8(&f) ? VSOCK_CID_HOST : fz_u64(&f);
			h.src_port = 40000 + fz_u8(&f) % 4;
			h.dst_port = fz_u8(&f) % 4;
			h.op = fz_u8(&f) % 9;
			h.type = fz_u8(&f) % 4;
			h.len = fz_u8(&f) & 1 ? fz_u32(&f) : fz_u16(&f) % 300;
			h.flags = fz_u8(&f);
			h.buf_alloc = fz_u32(&f);
			h.fwd_cnt = fz_u32(&f);
			prod = fz_rd32(ram, MB_OFF + HCVS_MB_TX_PROD);
			vsock_hdr_encode(ram + MB_OFF + g.tx_off +
			    (prod & (g.tx_slots - 1)) * g.slot, &h);
			fz_wr32(ram, MB_OFF + HCVS_MB_TX_PROD, prod + 1);
			pass = fz_u8(&f) & 1;
			reg(d, pass ? HCVS_REG_DOORBELL_SYNC : HCVS_REG_DOORBELL,
			    4, true, 1);
			break;
		case 4:	/* set a guest index to anything */
			if (!g.valid)
				break;
			off = fz_u8(&f) & 1 ? HCVS_MB_TX_PROD : HCVS_MB_RX_CONS;
			fz_wr32(ram, MB_OFF + off, fz_u32(&f));
			break;
		case 5:	/* the guest consumes some RX */
			if (!g.valid)
				break;
			prod = fz_rd32(ram, MB_OFF + HCVS_MB_RX_PROD);
			i = fz_rd32(ram, MB_OFF + HCVS_MB_RX_CONS);
			len = fz_u8(&f) % 8;
			for (; len > 0 && i != prod; len--)
				i++;
			fz_wr32(ram, MB_OFF + HCVS_MB_RX_CONS, i);
			break;
		case 6:	/* deferred work, as the daemon runs it */
			for (i = 0; i < 4 && vsock_dev_process(d) == 1; i++)
				;
			/*
			 * Or the daemon's wake: the pass ahead, then the read;
			 * or a busy window's watch, looks and end.
			 */
			switch (fz_u8(&f) % 4) {
			case 0:
				(void)vsock_dev_kick(d);
				pass = true;
				break;
			case 1:
				(void)vsock_dev_kick_ahead(d);
				(void)vsock_dev_kick_again(d);
				pass = true;
				break;
			case 2:
				/* A look runs a pass only for what it found. */
				vsock_dev_watch_tx(d, true);
				(void)vsock_dev_tx_look(d, &found);
				pass = found;
				break;
			default:
				vsock_dev_watch_tx(d, false);
				(void)vsock_dev_process(d);
				break;
			}
			break;
		case 7:	/* event loop turn (muxer timers) */
			(void)loop_run_once(lp, 0);
			break;
		case 8:	/* crash recovery: export, new device and muxer, import */
			vsock_dev_export(d, &st);
			/* A damaged state file must be refused, not trusted. */
			if (fz_u8(&f) & 1)
				st.st_irq.mode ^= fz_u8(&f) & 7;
			if (fz_u8(&f) & 1)
				st.st_status ^= fz_u8(&f) & 0x3f;
			if (fz_u8(&f) & 1)
				st.st_features ^= fz_u8(&f);
			vsock_dev_free(d);
			d = NULL;
			vsock_mux_free(m);
			fz_check(vsock_mux_new(lp, &mc, &m) == 0);
			dc.backend_arg = m;
			fz_check(vsock_dev_new(&dc, &d) == 0);
			if (vsock_dev_import(d, &st) < 0)
				fz_check(vsock_dev_peek_reg(d, HCVS_REG_STATUS) ==
				    0);
			break;
		}
		check_device(d, pass);
	}
	vsock_mux_free(m);
	vsock_dev_free(d);
	check_memory();
	return 0;
}
