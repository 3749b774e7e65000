/* SPDX-License-Identifier: MIT */
/*
 * The hcvsock device and the real muxer behind it, from a hostile guest: sequences of register accesses
 * of any offset and size, commands with any arguments, a mailbox and
 * rings in guest memory that the input lays out (mostly plausibly) and
 * then rewrites at will, TX entries, RX consumption, doorbells of both
 * kinds, resets, and state imports as a restarted daemon would do them,
 * with the real muxer behind the device.
 *
 * Checked beyond the sanitizers: MAGIC always reads 'HVSK'; a device that
 * is not halted keeps its own indices sane (TX_CONS never passes TX_PROD,
 * RX_PROD never laps the guest's RX_CONS); every RX entry it publishes is
 * a well-formed packet for this guest that fits its slot; the device
 * writes guest memory only inside the mailbox.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/loop.h"
#include "fuzz.h"
#include "ioreq/ioreq.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mux.h"
#include "vsock/vsock_wire.h"

#define CID		5u
#define RAM_GPA		0x100000ull
#define RAM_SIZE	(256u * 1024)
#define GUARD		0xeeu

static struct ioreq_mem *mem;
static uint8_t *ram;
static struct loop *lp;

FZ_GUEST_INITIALIZER(RAM_GPA, RAM_SIZE, &ram, &mem, &lp)

struct guest {
	struct vsock_dev	*d;
	bool			 hostile;	/* raw writes happened */
	bool			 mbox;		/* a mailbox was laid out */
	uint32_t		 mb_off, mb_size;
	uint32_t		 lo, hi;	/* every mailbox ever laid out */
	uint32_t		 tx_slots, rx_slots, slot, tx_off, rx_off;
	uint32_t		 tx_prod, rx_cons;
	int			 irq_fail;
};

static int
irq_setup(void *arg, const struct vsock_irq_cfg *irq)
{
	struct guest *g = arg;

	/* Offered in irq_caps, yet never reaching the owner. */
	fz_check(irq->mode != HCVS_IRQ_ISA);
	return g->irq_fail ? -ENODEV : 0;
}

static int
irq_raise(void *arg, const struct vsock_irq_cfg *irq)
{
	(void)arg;
	fz_check(irq->mode != HCVS_IRQ_ISA);
	return 0;
}

/* The owner's wake-up: the device pulls what the muxer queued. */
static void
wake_dev(void *arg)
{
	struct vsock_dev **dp = arg;

	if (*dp != NULL)
		(void)vsock_dev_process(*dp);
}

static const struct vsock_dev_irq_ops irq_ops = { irq_setup, irq_raise };

static uint64_t
reg(struct guest *g, uint32_t off)
{
	uint64_t v = 0;

	(void)vsock_dev_handler_ops.read(g->d, 0, off, 4, &v);
	return v;
}

static void
wreg(struct guest *g, uint32_t off, uint32_t v)
{
	(void)vsock_dev_handler_ops.write(g->d, 0, off, 4, v);
}

static void
cmd(struct guest *g, uint32_t c, uint32_t a0, uint32_t a1, uint32_t a2,
    uint32_t a3)
{
	wreg(g, HCVS_REG_ARG0, a0);
	wreg(g, HCVS_REG_ARG1, a1);
	wreg(g, HCVS_REG_ARG2, a2);
	wreg(g, HCVS_REG_ARG3, a3);
	wreg(g, HCVS_REG_CMD, c);
}

/* A plausible mailbox from the input, then the commands to use it. */
static void
bring_up(struct guest *g, struct fz *in)
{
	uint8_t sel = fz_u8(in);
	uint32_t hdr = HCVS_MBOX_HDR_SIZE;

	/* A driver re-initialising resets first: the old mailbox is freed. */
	if (reg(g, HCVS_REG_STATUS) & (HCVS_STATUS_MAILBOX | HCVS_STATUS_LIVE))
		cmd(g, HCVS_CMD_RESET, 0, 0, 0, 0);

	g->tx_slots = 1u << (fz_u8(in) % 5);
	g->rx_slots = 1u << (fz_u8(in) % 5);
	g->slot = HCVS_SLOT_MIN + 4u * (fz_u16(in) % 1024);
	g->mb_off = (fz_u8(in) % 16) * HCVS_MBOX_ALIGN;
	g->tx_off = hdr;
	g->rx_off = hdr + g->tx_slots * g->slot;
	g->mb_size = g->rx_off + g->rx_slots * g->slot;
	if (g->mb_off + g->mb_size > RAM_SIZE) {
		g->mb_off = 0;
		g->slot = HCVS_SLOT_MIN;
		g->rx_off = hdr + g->tx_slots * g->slot;
		g->mb_size = g->rx_off + g->rx_slots * g->slot;
	}
	memset(ram + g->mb_off, 0, g->mb_size);
	if (!g->mbox || g->mb_off < g->lo)
		g->lo = g->mb_off;
	if (!g->mbox || g->mb_off + g->mb_size > g->hi)
		g->hi = g->mb_off + g->mb_size;
	fz_wr32(ram, g->mb_off + HCVS_MB_MAGIC, HCVS_MBOX_MAGIC);
	fz_wr32(ram, g->mb_off + HCVS_MB_VERSION, HCVS_MBOX_VERSION);
	fz_wr32(ram, g->mb_off + HCVS_MB_TX_SLOTS, g->tx_slots);
	fz_wr32(ram, g->mb_off + HCVS_MB_RX_SLOTS, g->rx_slots);
	fz_wr32(ram, g->mb_off + HCVS_MB_SLOT_SIZE, g->slot);
	fz_wr32(ram, g->mb_off + HCVS_MB_TX_OFF, g->tx_off);
	fz_wr32(ram, g->mb_off + HCVS_MB_RX_OFF, g->rx_off);
	g->tx_prod = g->rx_cons = 0;
	g->mbox = true;
	cmd(g, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_RING, 0, 0, 0);
	cmd(g, HCVS_CMD_SET_FEATURES, (sel & 1) ? fz_u32(in) :
	    HCVS_F_STREAM | HCVS_F_SEQPACKET | HCVS_F_SYNC_DOORBELL, 0, 0, 0);
	cmd(g, HCVS_CMD_SET_MAILBOX, (uint32_t)(RAM_GPA + g->mb_off),
	    (uint32_t)((RAM_GPA + g->mb_off) >> 32),
	    (sel & 2) ? fz_u32(in) : g->mb_size, 0);
	if (sel & 4)
		cmd(g, HCVS_CMD_SET_NOTIFY, fz_u8(in) % 6, fz_u32(in),
		    fz_u32(in), fz_u32(in));
	cmd(g, HCVS_CMD_ENABLE, 0, 0, 0, 0);
}

/* One TX entry as a well-behaved driver writes it. */
static void
tx_one(struct guest *g, struct fz *in)
{
	static const uint32_t ports[] = { 1000, 1001, 7, 1u << 30 };
	struct vsock_pkt_hdr h;
	uint8_t w[VSOCK_HDR_SIZE];
	uint32_t at, tx_cons = fz_rd32(ram, g->mb_off + HCVS_MB_TX_CONS);
	uint8_t sel = fz_u8(in);

	if (!g->mbox || g->tx_prod - tx_cons >= g->tx_slots)
		return;
	memset(&h, 0, sizeof(h));
	h.src_cid = CID;
	h.dst_cid = VSOCK_CID_HOST;
	h.src_port = 50000 + (sel & 3);
	h.dst_port = ports[(sel >> 2) & 3];
	h.type = 1 + ((sel >> 4) & 1);
	h.op = 1 + fz_u8(in) % 7;
	h.flags = fz_u8(in) & 3;
	h.buf_alloc = 1u << (fz_u8(in) % 18);
	h.fwd_cnt = fz_u32(in);
	if (h.op == VSOCK_OP_RW)
		h.len = 1 + fz_u16(in) % (g->slot - VSOCK_HDR_SIZE);
	at = g->mb_off + g->tx_off + (g->tx_prod & (g->tx_slots - 1)) * g->slot;
	vsock_hdr_encode(w, &h);
	memcpy(ram + at, w, sizeof(w));
	fz_bytes(in, ram + at + VSOCK_HDR_SIZE, h.len);
	g->tx_prod++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	fz_wr32(ram, g->mb_off + HCVS_MB_TX_PROD, g->tx_prod);
}

/* Consume RX as a driver does, judging each entry. */
static void
rx_all(struct guest *g)
{
	uint32_t prod, n = 0;

	if (!g->mbox)
		return;
	prod = fz_rd32(ram, g->mb_off + HCVS_MB_RX_PROD);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	/* Only a device that holds the mailbox answers for RX_PROD. */
	if (!g->hostile && (reg(g, HCVS_REG_STATUS) & (HCVS_STATUS_ERROR |
	    HCVS_STATUS_MAILBOX)) == HCVS_STATUS_MAILBOX) {
		if (prod - g->rx_cons > g->rx_slots && getenv("HCVS_FUZZ_LOG"))
			fprintf(stderr, "rx: prod %u cons %u slots %u status "
			    "%#llx\n", prod, g->rx_cons, g->rx_slots,
			    (unsigned long long)reg(g, HCVS_REG_STATUS));
		fz_check(prod - g->rx_cons <= g->rx_slots);
	}
	while (g->rx_cons != prod && n++ < g->rx_slots) {
		struct vsock_pkt_hdr h;
		uint32_t at = g->mb_off + g->rx_off +
		    (g->rx_cons & (g->rx_slots - 1)) * g->slot;

		vsock_hdr_decode(&h, ram + at);
		if (reg(g, HCVS_REG_STATUS) & HCVS_STATUS_ERROR)
			g->hostile = true;	/* a halted device's ring is void */
		if (getenv("HCVS_FUZZ_LOG") != NULL)
			fprintf(stderr, "rx: cons %u prod %u status %#llx "
			    "op %u src %llu dst %llu len %u\n", g->rx_cons,
			    prod, (unsigned long long)reg(g, HCVS_REG_STATUS),
			    h.op, (unsigned long long)h.src_cid,
			    (unsigned long long)h.dst_cid, h.len);
		if (!g->hostile) {
			fz_check(h.src_cid == VSOCK_CID_HOST && h.dst_cid == CID);
			fz_check(h.len <= g->slot - VSOCK_HDR_SIZE);
			fz_check(h.op >= VSOCK_OP_REQUEST &&
			    h.op <= VSOCK_OP_CREDIT_REQUEST);
			fz_check(h.op == VSOCK_OP_RW ? h.len > 0 : h.len == 0);
		}
		g->rx_cons++;
	}
	fz_wr32(ram, g->mb_off + HCVS_MB_RX_CONS, g->rx_cons);
}

static void
check_sane(struct guest *g)
{
	uint32_t tx_cons;

	fz_check(reg(g, HCVS_REG_MAGIC) == HCVS_MAGIC);
	if (g->hostile || !g->mbox ||
	    (reg(g, HCVS_REG_STATUS) & HCVS_STATUS_ERROR) ||
	    !(reg(g, HCVS_REG_STATUS) & HCVS_STATUS_MAILBOX))
		return;
	tx_cons = fz_rd32(ram, g->mb_off + HCVS_MB_TX_CONS);
	fz_check(g->tx_prod - tx_cons <= g->tx_slots);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	struct guest g = { 0 };
	struct vsock_dev_cfg dc;
	struct vsock_mux_cfg mc;
	struct vsock_mux *m;
	uint8_t flags = fz_u8(&in);
	unsigned steps = 0;
	int fd_floor = fz_lowest_fd();

	memset(ram, GUARD, RAM_SIZE);
	memset(&dc, 0, sizeof(dc));
	dc.mem = mem;
	dc.guest_cid = CID;
	dc.features = (flags & 1) ? 0 : HCVS_F_STREAM | HCVS_F_SYNC_DOORBELL;
	dc.irq_caps = 0x1f;
	dc.irq_ops = &irq_ops;
	dc.irq_arg = &g;
	dc.name = "fz";
	g.irq_fail = flags & 4;
	memset(&mc, 0, sizeof(mc));
	mc.guest_cid = CID;
	mc.default_allow = false;
	mc.max_conns = 4;
	mc.buf_alloc = 4096;
	mc.rx_ready = wake_dev;
	mc.rx_ready_arg = &g.d;
	fz_check(vsock_mux_new(lp, &mc, &m) == 0);
	dc.backend = &vsock_mux_backend_ops;
	dc.backend_arg = m;
	fz_check(vsock_dev_new(&dc, &g.d) == 0);

	while (fz_more(&in) && steps++ < 128) {
		uint8_t op = fz_u8(&in);

		switch (op % 12) {
		case 0:
			bring_up(&g, &in);
			if (getenv("HCVS_FUZZ_LOG") != NULL)
				fprintf(stderr, "bring-up: mailbox +%#x size %u "
				    "slots %u/%u of %u, status %#llx\n",
				    g.mb_off, g.mb_size, g.tx_slots, g.rx_slots,
				    g.slot, (unsigned long long)reg(&g,
				    HCVS_REG_STATUS));
			break;
		case 1: {
			/* Any register access, any size, any offset. */
			static const unsigned sizes[] = { 1, 2, 4, 8 };
			unsigned sz = sizes[fz_u8(&in) & 3];
			uint32_t off = fz_u8(&in) % HCVS_REG_WINDOW_SIZE;
			uint64_t v = fz_u32(&in);

			if (off + sz > HCVS_REG_WINDOW_SIZE)
				off = HCVS_REG_WINDOW_SIZE - sz;
			if (op & 0x80)
				(void)vsock_dev_handler_ops.write(g.d, 0, off,
				    sz, v);
			else
				(void)vsock_dev_handler_ops.read(g.d, 0, off,
				    sz, &v);
			break;
		}
		case 2:
			cmd(&g, fz_u8(&in) % 10, fz_u32(&in), fz_u32(&in),
			    fz_u32(&in), fz_u32(&in));
			break;
		case 3:
		case 4:
			tx_one(&g, &in);
			break;
		case 5:
			wreg(&g, HCVS_REG_DOORBELL, (op & 0x80) ? fz_u32(&in) :
			    HCVS_DOORBELL_KICK);
			(void)vsock_dev_process(g.d);
			break;
		case 6:
			wreg(&g, HCVS_REG_DOORBELL_SYNC, HCVS_DOORBELL_KICK);
			break;
		case 7:
			rx_all(&g);
			/* Or the daemon's wake: the pass ahead, then the read. */
			if (op & 0x80) {
				(void)vsock_dev_kick_ahead(g.d);
				(void)vsock_dev_kick_again(g.d);
			} else {
				(void)vsock_dev_kick(g.d);
			}
			break;
		case 8: {
			/* The guest scribbles on its memory (mailbox or rings). */
			uint32_t off = g.mbox ? g.mb_off + fz_u16(&in) %
			    (g.mb_size ? g.mb_size : 1) : fz_u32(&in) % RAM_SIZE;
			unsigned n = fz_u8(&in) % 16;

			if (off + n > RAM_SIZE)
				n = RAM_SIZE - off;
			fz_bytes(&in, ram + off, n);
			g.hostile = true;
			break;
		}
		case 9:
			if (getenv("HCVS_FUZZ_LOG") != NULL)
				fprintf(stderr, "reset\n");
			vsock_dev_reset(g.d);
			g.tx_prod = g.rx_cons = 0;
			if (g.mbox) {
				fz_wr32(ram, g.mb_off + HCVS_MB_TX_PROD, 0);
				fz_wr32(ram, g.mb_off + HCVS_MB_RX_CONS, 0);
			}
			break;
		case 10: {
			/* A restarted daemon imports a (possibly corrupt) state. */
			struct vsock_dev_state st;

			vsock_dev_export(g.d, &st);
			if (getenv("HCVS_FUZZ_LOG") != NULL)
				fprintf(stderr, "import%s\n", (op & 0x80) ?
				    " (corrupted)" : "");
			if (op & 0x80) {
				fz_bytes(&in, &st, sizeof(st));
				g.hostile = true;
			}
			/* Refused or accepted; either way the device stands. */
			if (vsock_dev_import(g.d, &st) != 0)
				g.hostile = true;
			break;
		}
		case 11:
			(void)loop_run_once(lp, 0);
			(void)vsock_dev_state_changed(g.d);
			break;
		}
		check_sane(&g);
	}
	/* Nothing outside the mailbox was written (the guard pattern). */
	if (!g.hostile && g.mbox) {
		for (uint32_t i = 0; i < RAM_SIZE; i++)
			if (i < g.lo || i >= g.hi)
				if (ram[i] != GUARD) {
					fprintf(stderr, "guest RAM +%#x written "
					    "(mailboxes +%#x..%#x)\n", i, g.lo, g.hi);
					fz_check(ram[i] == GUARD);
				}
	}
	vsock_mux_free(m);
	vsock_dev_free(g.d);
	(void)loop_run_once(lp, 0);
	fz_check(fz_lowest_fd() == fd_floor);
	return 0;
}
