/* SPDX-License-Identifier: MIT */
/* The hcvsock device: register window, negotiation, reset, ring validation. */
#include <endian.h>
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_common.h"
#include "fake_vsock_mux.h"
#include "guest_prog.h"
#include "vsock_testenv.h"
#include "vsock/vsock_backend.h"
#include "vsock/vsock_wire.h"

#define MB	(VT_RAM_GPA + 0x10000)
#define TXN	4u
#define RXN	4u
#define SLOT	256u
#define TXOFF	HCVS_MBOX_HDR_SIZE
#define RXOFF	(HCVS_MBOX_HDR_SIZE + TXN * SLOT)
#define MBSIZE	(RXOFF + RXN * SLOT)
#define CAP	(SLOT - VSOCK_HDR_SIZE)

static int
setup(void **state)
{
	struct vtenv_opts o = {
		.irq_caps = (1u << HCVS_IRQ_MSI) | (1u << HCVS_IRQ_EVTCHN) |
		    (1u << HCVS_IRQ_ISA),
		.backend_domid = 3,
	};

	*state = vtenv_new(&o);
	return 0;
}

static int
setup_gsi(void **state)
{
	struct vtenv_opts o = {
		.irq_caps = (1u << HCVS_IRQ_ISA) | (1u << HCVS_IRQ_GSI),
	};

	*state = vtenv_new(&o);
	return 0;
}

static int
setup_msg(void **state)
{
	struct vtenv_opts o = {
		.irq_caps = (1u << HCVS_IRQ_MSI) | (1u << HCVS_IRQ_EVTCHN),
		.backend_domid = 3,
		.msg = true,
	};

	*state = vtenv_new(&o);
	return 0;
}

static int
teardown(void **state)
{
	vtenv_free(*state);
	return 0;
}

/* A valid mailbox header at MB with the default geometry. */
static void
mb_write(struct vtenv *e, uint32_t txn, uint32_t rxn, uint32_t slot,
    uint32_t txoff, uint32_t rxoff)
{
	memset(vt_ptr(e, MB), 0, HCVS_MBOX_HDR_SIZE);
	vt_put32(e, MB + HCVS_MB_MAGIC, HCVS_MBOX_MAGIC);
	vt_put32(e, MB + HCVS_MB_VERSION, HCVS_MBOX_VERSION);
	vt_put32(e, MB + HCVS_MB_TX_SLOTS, txn);
	vt_put32(e, MB + HCVS_MB_RX_SLOTS, rxn);
	vt_put32(e, MB + HCVS_MB_SLOT_SIZE, slot);
	vt_put32(e, MB + HCVS_MB_TX_OFF, txoff);
	vt_put32(e, MB + HCVS_MB_RX_OFF, rxoff);
}

static void
negotiate(struct vtenv *e, uint32_t features)
{
	assert_int_equal(vt_cmd(e, HCVS_CMD_RESET, 0, 0, 0, 0), HCVS_ERR_OK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_RING, 0, 0,
	    0), HCVS_ERR_OK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_FEATURES, features, 0, 0, 0),
	    HCVS_ERR_OK);
}

static uint32_t
set_mailbox(struct vtenv *e, uint64_t gpa, uint32_t size)
{
	return vt_cmd(e, HCVS_CMD_SET_MAILBOX, (uint32_t)gpa,
	    (uint32_t)(gpa >> 32), size, 0);
}

/* Negotiated, mailbox announced, LIVE. */
static void
bring_up(struct vtenv *e)
{
	negotiate(e, HCVS_F_STREAM | HCVS_F_SYNC_DOORBELL);
	mb_write(e, TXN, RXN, SLOT, TXOFF, RXOFF);
	assert_int_equal(set_mailbox(e, MB, MBSIZE), HCVS_ERR_OK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_ENABLE, 0, 0, 0, 0), HCVS_ERR_OK);
	assert_true(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_LIVE);
}

static void
hdr_init(struct vsock_pkt_hdr *h, uint16_t op, uint32_t sport, uint32_t dport)
{
	gprog_hdr(h, VT_CID, op, sport, dport);
	h->buf_alloc = 65536;
}

/* Guest side: put a packet into the next TX slot and publish it. */
static void
tx_push(struct vtenv *e, const struct vsock_pkt_hdr *h, const void *payload,
    uint32_t copy_len)
{
	uint32_t prod = vt_get32(e, MB + HCVS_MB_TX_PROD);
	uint64_t slot = MB + TXOFF + (uint64_t)(prod % TXN) * SLOT;

	vsock_hdr_encode(vt_ptr(e, slot), h);
	if (copy_len > 0)
		memcpy(vt_ptr(e, slot + VSOCK_HDR_SIZE), payload, copy_len);
	vt_put32(e, MB + HCVS_MB_TX_PROD, prod + 1);
}

static void
kick_sync(struct vtenv *e)
{
	vt_wr(e, HCVS_REG_DOORBELL_SYNC, HCVS_DOORBELL_KICK);
}

/* A packet of header only on the TX ring, then the synchronous doorbell. */
static void
tx_send(struct vtenv *e, uint16_t op, uint32_t sport, uint32_t dport)
{
	struct vsock_pkt_hdr h;

	hdr_init(&h, op, sport, dport);
	tx_push(e, &h, NULL, 0);
	kick_sync(e);
}

/* Guest side: take the next RX packet; false if none. */
static bool
rx_pop(struct vtenv *e, struct vsock_pkt_hdr *h, uint8_t *payload)
{
	uint32_t prod = vt_get32(e, MB + HCVS_MB_RX_PROD);
	uint32_t cons = vt_get32(e, MB + HCVS_MB_RX_CONS);
	uint64_t slot = MB + RXOFF + (uint64_t)(cons % RXN) * SLOT;

	if (prod == cons)
		return false;
	vsock_hdr_decode(h, vt_ptr(e, slot));
	assert_true(h->len <= CAP);
	if (payload != NULL && h->len > 0)
		memcpy(payload, vt_ptr(e, slot + VSOCK_HDR_SIZE), h->len);
	vt_put32(e, MB + HCVS_MB_RX_CONS, cons + 1);
	return true;
}

static struct vsock_dev_stats
stats(struct vtenv *e)
{
	struct vsock_dev_stats st;

	vsock_dev_get_stats(e->dev, &st);
	return st;
}

/* ---- Register window --------------------------------------------------- */

static void
regs__probe_values(void **state)
{
	struct vtenv *e = *state;
	uint64_t v = 0;

	assert_int_equal(vt_rd(e, HCVS_REG_MAGIC), HCVS_MAGIC);
	assert_int_equal(vt_rd(e, HCVS_REG_VERSION), 0x00010003);
	assert_int_equal(vt_rd(e, HCVS_REG_HOST_FEATURES),
	    HCVS_F_STREAM | HCVS_F_SYNC_DOORBELL | HCVS_F_LAZY_CREDIT |
	    HCVS_F_EVTCHN_KICK);
	assert_int_equal(vt_rd(e, HCVS_REG_PROTOCOLS), 1u << HCVS_PROTO_RING);
	/* PVH guest: ISA is never offered, whatever the caps say. */
	assert_int_equal(vt_rd(e, HCVS_REG_IRQ_MODES), (1u << HCVS_IRQ_NONE) |
	    (1u << HCVS_IRQ_MSI) | (1u << HCVS_IRQ_EVTCHN));
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS), 0);
	assert_int_equal(vt_rd(e, HCVS_REG_ERROR), 0);
	assert_int_equal(vt_rd(e, 0x38), 0);	/* write-only reads 0 */

	/* Wrong sizes and alignment read all-ones and are counted. */
	assert_true(vsock_dev_handler_ops.read(e->dev, 0, 0, 2, &v) < 0);
	assert_true(vsock_dev_handler_ops.read(e->dev, 0, 0, 8, &v) < 0);
	assert_true(vsock_dev_handler_ops.read(e->dev, 0, 2, 4, &v) < 0);
	assert_true(vsock_dev_handler_ops.write(e->dev, 0, HCVS_REG_CMD, 1,
	    HCVS_CMD_RESET) < 0);
	assert_int_equal(stats(e).ds_bad_access, 4);
	/* The same through the page, as a guest would see them. */
	assert_int_equal(vt_access(e, false, 0, 2, false, 0), 0xFFFF);
	assert_int_equal(vt_access(e, false, 0, 1, false, 0), 0xFF);
	assert_int_equal(vt_access(e, true, 0, 8, false, 0), UINT64_MAX);
	assert_int_equal(vt_access(e, true, 2, 4, false, 0), 0xFFFFFFFFu);
	assert_int_equal(stats(e).ds_bad_access, 8);
	/* Both views reach the same registers. */
	assert_int_equal(vt_access(e, true, HCVS_REG_MAGIC, 4, false, 0),
	    HCVS_MAGIC);
	assert_int_equal(vt_access(e, false, HCVS_REG_VERSION, 4, false, 0),
	    HCVS_VERSION);
	/* Past the window, inside the MMIO page: zero. */
	assert_int_equal(vt_access(e, true, 0x800, 4, false, 0), 0);
	/* Past the PIO window: nothing claims it. */
	assert_int_equal(vt_access(e, false, 0x40, 4, false, 0), 0xFFFFFFFFu);
	/* Read-only registers ignore writes. */
	vt_wr(e, HCVS_REG_MAGIC, 0);
	vt_wr(e, HCVS_REG_STATUS, 0xff);
	assert_int_equal(vt_rd(e, HCVS_REG_MAGIC), HCVS_MAGIC);
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS), 0);
	assert_int_equal(stats(e).ds_bad_access, 10);
	/* A narrow command write does nothing. */
	(void)vt_access(e, false, HCVS_REG_CMD, 1, true, HCVS_CMD_GET_CID);
	assert_int_equal(vt_rd(e, HCVS_REG_ARG0), 0);
	/* Every access went through the engine and completed. */
	assert_true(e->post_hooks >= 14);
}

static void
regs__args_round_trip(void **state)
{
	struct vtenv *e = *state;

	vt_wr(e, HCVS_REG_ARG0, 0x11111111);
	vt_wr(e, HCVS_REG_ARG3, 0xdeadbeef);
	assert_int_equal(vt_rd(e, HCVS_REG_ARG0), 0x11111111);
	assert_int_equal(vt_rd(e, HCVS_REG_ARG3), 0xdeadbeef);
	assert_int_equal(vt_cmd(e, HCVS_CMD_GET_CID, 0, 0, 0, 0), HCVS_ERR_OK);
	assert_int_equal(vt_rd(e, HCVS_REG_ARG0), VT_CID);
	assert_int_equal(vt_rd(e, HCVS_REG_ARG1), 0);
}

/* ---- Negotiation --------------------------------------------------------- */

static void
neg__order_enforced(void **state)
{
	struct vtenv *e = *state;

	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_FEATURES, HCVS_F_STREAM, 0, 0,
	    0), HCVS_ERR_BAD_STATE);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, 0, 0, 0, 0),
	    HCVS_ERR_BAD_STATE);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_MSG, 0, 0,
	    0), HCVS_ERR_UNSUPPORTED);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_PROTOCOL, 7, 0, 0, 0),
	    HCVS_ERR_UNSUPPORTED);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_RING, 0, 0,
	    0), HCVS_ERR_OK);
	mb_write(e, TXN, RXN, SLOT, TXOFF, RXOFF);
	assert_int_equal(set_mailbox(e, MB, MBSIZE), HCVS_ERR_BAD_STATE);
	assert_int_equal(vt_cmd(e, HCVS_CMD_ENABLE, 0, 0, 0, 0),
	    HCVS_ERR_BAD_STATE);
	/* Unknown bit, missing STREAM, SEQPACKET not offered by default. */
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_FEATURES, HCVS_F_STREAM | 0x100,
	    0, 0, 0), HCVS_ERR_UNSUPPORTED);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_FEATURES, HCVS_F_SYNC_DOORBELL,
	    0, 0, 0), HCVS_ERR_UNSUPPORTED);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_FEATURES, HCVS_F_STREAM |
	    HCVS_F_SEQPACKET, 0, 0, 0), HCVS_ERR_UNSUPPORTED);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_FEATURES, HCVS_F_STREAM, 0, 0,
	    0), HCVS_ERR_OK);
	assert_int_equal(vt_rd(e, HCVS_REG_GUEST_FEATURES), HCVS_F_STREAM);
	assert_int_equal(vt_cmd(e, 0x42, 0, 0, 0, 0), HCVS_ERR_UNKNOWN_CMD);
	/* Protocol MSG's commands: the guest chose RING. */
	assert_int_equal(vt_cmd(e, HCVS_CMD_MSG_SET_CALLS, 0, 0, 0, 0),
	    HCVS_ERR_BAD_STATE);
	assert_int_equal(vt_cmd(e, 0xFF, 0, 0, 0, 0), HCVS_ERR_BAD_STATE);
	assert_int_equal(vt_cmd(e, 0x100, 0, 0, 0, 0), HCVS_ERR_UNKNOWN_CMD);
	assert_int_equal(set_mailbox(e, MB, MBSIZE), HCVS_ERR_OK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_ENABLE, 0, 0, 0, 0), HCVS_ERR_OK);
	/* LIVE: no renegotiation without RESET. */
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_FEATURES, HCVS_F_STREAM, 0, 0,
	    0), HCVS_ERR_BAD_STATE);
	assert_int_equal(set_mailbox(e, MB, MBSIZE), HCVS_ERR_BAD_STATE);
	/* ENABLE again answers as the first did (a replayed request). */
	assert_int_equal(vt_cmd(e, HCVS_CMD_ENABLE, 0, 0, 0, 0), HCVS_ERR_OK);
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS), HCVS_STATUS_PROTOCOL |
	    HCVS_STATUS_FEATURES | HCVS_STATUS_MAILBOX | HCVS_STATUS_LIVE);
	/* Host CID is written to the mailbox. */
	assert_int_equal(vt_get32(e, MB + HCVS_MB_CID_LO), VT_CID);
	assert_true(stats(e).ds_cmd_errors >= 9);
}

/*
 * The command numbers without a meaning (PROTOCOL.md §6): 0x81..0xFF are
 * MSG's, BAD_STATE before a protocol is chosen and under RING, BAD_ARG
 * under MSG; any other unknown number UNKNOWN_CMD; none has an effect.
 */
static void
reserved_answer(struct vtenv *e, uint32_t msg_result, uint32_t status)
{
	static const uint32_t msg_reserved[] = { 0x81, 0x9A, 0xFF };
	static const uint32_t unknown[] = { 0x09, 0x42, 0x7F, 0x100, 0xFFFFFFFF };

	for (size_t i = 0; i < 3; i++)
		assert_int_equal(vt_cmd(e, msg_reserved[i], 1, 2, 3, 4),
		    msg_result);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(vt_cmd(e, unknown[i], 1, 2, 3, 4),
		    HCVS_ERR_UNKNOWN_CMD);
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS), status);
}

static void
neg__reserved_commands(void **state)
{
	struct vtenv *e = *state;

	reserved_answer(e, HCVS_ERR_BAD_STATE, 0);
	assert_int_equal(vt_cmd(e, HCVS_CMD_MSG_SET_CALLS, 0, 0, 1, 0),
	    HCVS_ERR_BAD_STATE);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_MSG, 0, 0,
	    0), HCVS_ERR_OK);
	reserved_answer(e, HCVS_ERR_BAD_ARG, HCVS_STATUS_PROTOCOL);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_RING, 0, 0,
	    0), HCVS_ERR_OK);
	reserved_answer(e, HCVS_ERR_BAD_STATE, HCVS_STATUS_PROTOCOL);
}

static void
neg__seqpacket_when_offered(void **state)
{
	struct vtenv_opts o = { .features = HCVS_F_STREAM | HCVS_F_SEQPACKET };
	struct vtenv *e = vtenv_new(&o);

	(void)state;
	assert_int_equal(vt_rd(e, HCVS_REG_HOST_FEATURES),
	    HCVS_F_STREAM | HCVS_F_SEQPACKET);
	negotiate(e, HCVS_F_STREAM | HCVS_F_SEQPACKET);
	/* Not offered here: a sync doorbell acts like the async one. */
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_FEATURES, HCVS_F_STREAM |
	    HCVS_F_SYNC_DOORBELL, 0, 0, 0), HCVS_ERR_UNSUPPORTED);
	vtenv_free(e);
}

static void
neg__reset_clears_everything(void **state)
{
	struct vtenv *e = *state;

	bring_up(e);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_MSI,
	    0xFEE00000, 0, 0x41), HCVS_ERR_OK);
	assert_int_equal(e->setups, 1);
	vt_wr(e, HCVS_REG_ARG2, 77);
	assert_int_equal(vt_cmd(e, HCVS_CMD_RESET, 0, 0, 0, 0), HCVS_ERR_OK);
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS), 0);
	assert_int_equal(vt_rd(e, HCVS_REG_GUEST_FEATURES), 0);
	assert_int_equal(vt_rd(e, HCVS_REG_ARG2), 0);
	assert_int_equal(vt_rd(e, HCVS_REG_ISR), 0);
	/* The mode was released, the muxer reset. */
	assert_int_equal(e->setups, 2);
	assert_int_equal(e->setup_last.mode, HCVS_IRQ_NONE);
	assert_int_equal(fake_mux_resets(e->mux), 2);
	/* Doorbells on a reset device do nothing. */
	kick_sync(e);
	assert_int_equal(fake_mux_total(e->mux), 0);
	bring_up(e);
}

/* ---- Mailbox validation ---------------------------------------------------- */

static void
mbox__hostile_geometry_refused(void **state)
{
	struct vtenv *e = *state;
	static const struct {
		uint32_t txn, rxn, slot, txoff, rxoff, size;
		uint32_t want;
	} cases[] = {
		{ 3, RXN, SLOT, TXOFF, RXOFF, MBSIZE, HCVS_ERR_BAD_MAILBOX },
		{ 0, RXN, SLOT, TXOFF, RXOFF, MBSIZE, HCVS_ERR_BAD_MAILBOX },
		{ TXN, 512, SLOT, TXOFF, RXOFF, 1u << 20, HCVS_ERR_BAD_MAILBOX },
		{ TXN, RXN, 60, TXOFF, RXOFF, MBSIZE, HCVS_ERR_BAD_MAILBOX },
		{ TXN, RXN, 258, TXOFF, RXOFF, 4096, HCVS_ERR_BAD_MAILBOX },
		{ 1, 1, HCVS_SLOT_MAX + 4, TXOFF, TXOFF + HCVS_SLOT_MAX + 4,
		    1u << 20, HCVS_ERR_BAD_MAILBOX },
		{ TXN, RXN, SLOT, 64, RXOFF, MBSIZE, HCVS_ERR_BAD_MAILBOX },
		{ TXN, RXN, SLOT, TXOFF + 2, RXOFF + 4, MBSIZE + 8,
		    HCVS_ERR_BAD_MAILBOX },
		/* overlapping rings */
		{ TXN, RXN, SLOT, TXOFF, TXOFF + SLOT, MBSIZE,
		    HCVS_ERR_BAD_MAILBOX },
		/* ring past the announced size */
		{ TXN, RXN, SLOT, TXOFF, RXOFF, MBSIZE - 4,
		    HCVS_ERR_BAD_MAILBOX },
		/* size out of bounds */
		{ TXN, RXN, SLOT, TXOFF, RXOFF, 64, HCVS_ERR_BAD_ADDRESS },
		{ TXN, RXN, SLOT, TXOFF, RXOFF, HCVS_MBOX_MAX_SIZE + 1,
		    HCVS_ERR_BAD_ADDRESS },
		{ TXN, RXN, SLOT, TXOFF, 0xFFFFFF00u, MBSIZE,
		    HCVS_ERR_BAD_MAILBOX },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		negotiate(e, HCVS_F_STREAM);
		mb_write(e, cases[i].txn, cases[i].rxn, cases[i].slot,
		    cases[i].txoff, cases[i].rxoff);
		assert_int_equal(set_mailbox(e, MB, cases[i].size),
		    cases[i].want);
		assert_false(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_MAILBOX);
		assert_int_equal(vt_cmd(e, HCVS_CMD_ENABLE, 0, 0, 0, 0),
		    HCVS_ERR_BAD_STATE);
	}
	/* Bad magic and version. */
	negotiate(e, HCVS_F_STREAM);
	mb_write(e, TXN, RXN, SLOT, TXOFF, RXOFF);
	vt_put32(e, MB + HCVS_MB_MAGIC, 0x12345678);
	assert_int_equal(set_mailbox(e, MB, MBSIZE), HCVS_ERR_BAD_MAILBOX);
	mb_write(e, TXN, RXN, SLOT, TXOFF, RXOFF);
	vt_put32(e, MB + HCVS_MB_VERSION, 2);
	assert_int_equal(set_mailbox(e, MB, MBSIZE), HCVS_ERR_BAD_MAILBOX);
	/* Still usable afterwards. */
	mb_write(e, TXN, RXN, SLOT, TXOFF, RXOFF);
	assert_int_equal(set_mailbox(e, MB, MBSIZE), HCVS_ERR_OK);
}

static void
mbox__outside_ram_refused(void **state)
{
	struct vtenv *e = *state;
	uint64_t end = VT_RAM_GPA + VT_RAM_SIZE;

	negotiate(e, HCVS_F_STREAM);
	mb_write(e, TXN, RXN, SLOT, TXOFF, RXOFF);
	/* Misaligned. */
	assert_int_equal(set_mailbox(e, MB + 4, MBSIZE), HCVS_ERR_BAD_ADDRESS);
	/* Entirely outside RAM, below and far above. */
	assert_int_equal(set_mailbox(e, 0x1000, MBSIZE), HCVS_ERR_BAD_ADDRESS);
	assert_int_equal(set_mailbox(e, 0xFFFFFFFFFFFFF000ull, MBSIZE),
	    HCVS_ERR_BAD_ADDRESS);
	assert_int_equal(set_mailbox(e, 1ull << 40, MBSIZE),
	    HCVS_ERR_BAD_ADDRESS);
	/* Header inside RAM, rings running past its end. */
	memset(vt_ptr(e, end - 128), 0, 128);
	vt_put32(e, end - 128 + HCVS_MB_MAGIC, HCVS_MBOX_MAGIC);
	vt_put32(e, end - 128 + HCVS_MB_VERSION, HCVS_MBOX_VERSION);
	vt_put32(e, end - 128 + HCVS_MB_TX_SLOTS, TXN);
	vt_put32(e, end - 128 + HCVS_MB_RX_SLOTS, RXN);
	vt_put32(e, end - 128 + HCVS_MB_SLOT_SIZE, SLOT);
	vt_put32(e, end - 128 + HCVS_MB_TX_OFF, TXOFF);
	vt_put32(e, end - 128 + HCVS_MB_RX_OFF, RXOFF);
	assert_int_equal(set_mailbox(e, end - 128, MBSIZE),
	    HCVS_ERR_BAD_ADDRESS);
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_MAILBOX, 0);
}

/* ---- Notification modes ------------------------------------------------- */

static void
irq__modes_validated(void **state)
{
	struct vtenv *e = *state;

	bring_up(e);
	/* MSI: address outside the APIC window, high half, low vector. */
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_MSI,
	    0xFED00000, 0, 0x41), HCVS_ERR_BAD_ARG);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_MSI,
	    0xFEE00000, 1, 0x41), HCVS_ERR_BAD_ARG);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_MSI,
	    0xFEE00000, 0, 0x0F), HCVS_ERR_BAD_ARG);
	assert_int_equal(e->setups, 0);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_MSI,
	    0xFEE01000, 0, 0x41), HCVS_ERR_OK);
	assert_int_equal(e->setup_last.msi_addr, 0xFEE01000);
	assert_int_equal(e->setup_last.msi_data, 0x41);
	assert_true(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_NOTIFY);
	/* Event channel: port 0 and past the FIFO limit. */
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_EVTCHN, 0, 0,
	    0), HCVS_ERR_BAD_ARG);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_EVTCHN,
	    1u << 17, 0, 0), HCVS_ERR_BAD_ARG);
	/* Not offered here. */
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_GSI, 5, 0, 0),
	    HCVS_ERR_UNSUPPORTED);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, 9, 0, 0, 0),
	    HCVS_ERR_UNSUPPORTED);
	/* The host refuses: the old mode stays. */
	e->setup_rc = -EBUSY;
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_EVTCHN, 7, 0,
	    0), HCVS_ERR_IRQ_SETUP);
	e->setup_rc = 0;
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_EVTCHN, 7, 0,
	    0), HCVS_ERR_OK);
	assert_int_equal(e->setup_last.evtchn_port, 7);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_NONE, 0, 0,
	    0), HCVS_ERR_OK);
	assert_false(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_NOTIFY);
}

static void
irq__isa_never_offered(void **state)
{
	struct vtenv *e = *state;

	/* Caps include ISA: still not offered, refused, never raised. */
	assert_false(vt_rd(e, HCVS_REG_IRQ_MODES) & (1u << HCVS_IRQ_ISA));
	bring_up(e);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_ISA, 5, 0, 0),
	    HCVS_ERR_UNSUPPORTED);
	assert_int_equal(e->setups, 0);
	tx_send(e, VSOCK_OP_REQUEST, 1000, 9999);
	assert_int_equal(e->raises, 0);
	/* A forged state file cannot sneak ISA in either. */
	{
		struct vsock_dev_state st;

		vsock_dev_export(e->dev, &st);
		st.st_irq.mode = HCVS_IRQ_ISA;
		st.st_irq.isa_irq = 5;
		assert_int_equal(vsock_dev_import(e->dev, &st), -EINVAL);
	}
}

/* ---- Rings ----------------------------------------------------------------- */

static void
ring__tx_to_mux_and_reply(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h, r;
	uint8_t data[CAP];

	bring_up(e);
	fake_mux_listen(e->mux, 80);
	tx_send(e, VSOCK_OP_REQUEST, 5000, 80);
	/* Synchronous: consumed and answered before the write returned. */
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_REQUEST), 1);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 1);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RESPONSE);
	assert_int_equal(r.dst_port, 5000);
	assert_int_equal(r.src_port, 80);
	assert_int_equal(r.dst_cid, VT_CID);

	/* Full-slot payload reaches the muxer intact. */
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	hdr_init(&h, VSOCK_OP_RW, 5000, 80);
	h.len = CAP;
	tx_push(e, &h, data, CAP);
	kick_sync(e);
	assert_int_equal(fake_mux_last(e->mux)->len, CAP);
	assert_memory_equal(fake_mux_last_payload(e->mux), data, CAP);
	/* And comes back as an echo. */
	assert_true(rx_pop(e, &r, data));
	assert_int_equal(r.op, VSOCK_OP_RW);
	assert_int_equal(r.len, CAP);
	assert_int_equal(data[CAP - 1], (uint8_t)((CAP - 1) * 7 + 3));
	assert_int_equal(stats(e).ds_tx_pkts, 2);
	assert_int_equal(stats(e).ds_rx_pkts, 2);
}

static void
ring__async_doorbell_defers(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h;
	unsigned hooks;

	bring_up(e);
	vt_pump(e);
	hdr_init(&h, VSOCK_OP_REQUEST, 5000, 81);
	tx_push(e, &h, NULL, 0);
	hooks = e->post_hooks;
	vt_wr(e, HCVS_REG_DOORBELL, HCVS_DOORBELL_KICK);
	/* The write completed without doing the work... */
	assert_int_equal(e->post_hooks, hooks + 1);
	assert_int_equal(fake_mux_total(e->mux), 0);
	assert_true(vsock_dev_pending(e->dev));
	/* ...which runs after completion. */
	assert_int_equal(vsock_dev_process(e->dev), 0);
	assert_int_equal(fake_mux_total(e->mux), 1);
	assert_false(vsock_dev_pending(e->dev));
	/* KVM ioeventfd path. */
	h.src_port = 5001;
	tx_push(e, &h, NULL, 0);
	assert_int_equal(vsock_dev_kick(e->dev), 0);
	assert_int_equal(fake_mux_total(e->mux), 2);
	/* Queued before ENABLE: processed once enabled. */
	negotiate(e, HCVS_F_STREAM);
	mb_write(e, TXN, RXN, SLOT, TXOFF, RXOFF);
	assert_int_equal(set_mailbox(e, MB, MBSIZE), HCVS_ERR_OK);
	h.src_port = 5002;
	tx_push(e, &h, NULL, 0);
	vsock_dev_process(e->dev);
	kick_sync(e);
	assert_int_equal(fake_mux_total(e->mux), 2);
	assert_int_equal(vt_cmd(e, HCVS_CMD_ENABLE, 0, 0, 0, 0), HCVS_ERR_OK);
	vsock_dev_process(e->dev);
	assert_int_equal(fake_mux_total(e->mux), 3);
}

static void
ring__hostile_tx_index_halts(void **state)
{
	struct vtenv *e = *state;
	uint32_t cons;

	bring_up(e);
	cons = vt_get32(e, MB + HCVS_MB_TX_CONS);
	vt_put32(e, MB + HCVS_MB_TX_PROD, cons + TXN + 1);
	kick_sync(e);
	assert_true(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_ERROR);
	assert_int_equal(vt_rd(e, HCVS_REG_ERROR), HCVS_ERR_BAD_INDEX);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_ERROR), HCVS_ERR_BAD_INDEX);
	assert_int_equal(vt_rd(e, HCVS_REG_ISR), HCVS_ISR_ERROR);
	assert_int_equal(fake_mux_total(e->mux), 0);
	/* Halted: commands refused, doorbells inert, RESET recovers. */
	assert_int_equal(vt_cmd(e, HCVS_CMD_GET_CID, 0, 0, 0, 0),
	    HCVS_ERR_BAD_STATE);
	assert_int_equal(vt_cmd(e, HCVS_CMD_NOP, 0, 0, 0, 0), HCVS_ERR_OK);
	kick_sync(e);
	assert_int_equal(stats(e).ds_ring_errors, 1);
	/* "Backwards" index (prod behind cons) is out of range too. */
	bring_up(e);
	vt_put32(e, MB + HCVS_MB_TX_PROD,
	    vt_get32(e, MB + HCVS_MB_TX_CONS) - 1);
	kick_sync(e);
	assert_int_equal(vt_rd(e, HCVS_REG_ERROR), HCVS_ERR_BAD_INDEX);
	bring_up(e);
	assert_int_equal(vt_rd(e, HCVS_REG_ERROR), 0);
}

static void
ring__hostile_rx_index_halts(void **state)
{
	struct vtenv *e = *state;

	bring_up(e);
	/* The guest claims to have consumed entries never produced. */
	vt_put32(e, MB + HCVS_MB_RX_CONS, 5);
	tx_send(e, VSOCK_OP_REQUEST, 1, 2);
	assert_int_equal(vt_rd(e, HCVS_REG_ERROR), HCVS_ERR_BAD_INDEX);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_RX_PROD), 0);
}

static void
ring__malformed_headers(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h, r;
	unsigned rst = 0;
	uint8_t data[CAP] = { 0 };

	bring_up(e);
	fake_mux_listen(e->mux, 80);

	/* len beyond the slot: RST back, the flow torn down at the muxer. */
	hdr_init(&h, VSOCK_OP_RW, 6000, 80);
	h.len = CAP + 1;
	tx_push(e, &h, NULL, 0);
	kick_sync(e);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RST);
	assert_int_equal(r.dst_port, 6000);
	assert_int_equal(r.src_port, 80);
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_RST), 1);
	assert_int_equal(fake_mux_last(e->mux)->len, 0);
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_RW), 0);

	/* Huge len (would overflow 32-bit arithmetic). */
	h.len = 0xFFFFFFF0u;
	tx_push(e, &h, NULL, 0);
	kick_sync(e);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RST);
	/* Unknown type: RST (as STREAM: never a bogus type), muxer untouched. */
	hdr_init(&h, VSOCK_OP_REQUEST, 6001, 80);
	h.type = 0xFFFF;
	tx_push(e, &h, NULL, 0);
	kick_sync(e);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RST);
	assert_int_equal(r.type, VSOCK_TYPE_STREAM);
	assert_int_equal(r.dst_port, 6001);
	/* SEQPACKET not negotiated. */
	h.type = VSOCK_TYPE_SEQPACKET;
	tx_push(e, &h, NULL, 0);
	/* op 0 and op 8. */
	tx_send(e, VSOCK_OP_INVALID, 6002, 80);
	for (; rx_pop(e, &r, NULL); rst++)
		assert_int_equal(r.op, VSOCK_OP_RST);
	assert_int_equal(rst, 2);
	assert_int_equal(r.type, VSOCK_TYPE_STREAM);
	hdr_init(&h, 8, 6003, 80);
	tx_push(e, &h, NULL, 0);
	/* Payload on a control packet. */
	hdr_init(&h, VSOCK_OP_REQUEST, 6004, 80);
	h.len = 4;
	tx_push(e, &h, data, 4);
	/* RST with payload: never answered with RST. */
	hdr_init(&h, VSOCK_OP_RST, 6005, 80);
	h.len = 4;
	tx_push(e, &h, data, 4);
	/* Spoofed source CID: silently dropped. */
	hdr_init(&h, VSOCK_OP_REQUEST, 6006, 80);
	h.src_cid = 3;
	tx_push(e, &h, NULL, 0);
	kick_sync(e);
	for (rst = 0; rx_pop(e, &r, NULL); rst++)
		assert_int_equal(r.op, VSOCK_OP_RST);
	assert_int_equal(rst, 2);
	assert_int_equal(stats(e).ds_bad_hdr, 8);
	assert_int_equal(stats(e).ds_spoofed, 1);
	assert_int_equal(stats(e).ds_tx_pkts, 0);
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_REQUEST), 0);

	/* Meanwhile a well-formed connection carries on. */
	tx_send(e, VSOCK_OP_REQUEST, 7000, 80);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RESPONSE);
	assert_false(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_ERROR);
}

/*
 * A guest that sends garbage but never drains RX: the device's RST queue
 * is bounded, the excess is counted as dropped, the oldest RSTs are kept
 * in order, and the device keeps serving well-formed flows.
 */
static void
ring__rst_flood_bounded(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h, r;
	struct vsock_dev_stats st;
	unsigned i, j, got = 0, sent = 16 * TXN;

	bring_up(e);
	fake_mux_listen(e->mux, 80);
	for (i = 0; i < sent / TXN; i++) {
		for (j = 0; j < TXN; j++) {
			hdr_init(&h, VSOCK_OP_REQUEST, 3000 + i * TXN + j, 80);
			h.type = 0xFFFF;
			tx_push(e, &h, NULL, 0);
		}
		kick_sync(e);
	}
	st = stats(e);
	assert_int_equal(st.ds_bad_hdr, sent);
	assert_int_equal(st.ds_rst_sent, sent);
	assert_true(st.ds_rst_dropped > 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), sent);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_RX_PROD), RXN);
	assert_false(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_ERROR);
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_REQUEST), 0);

	while (rx_pop(e, &r, NULL)) {
		assert_int_equal(r.op, VSOCK_OP_RST);
		assert_int_equal(r.dst_port, 3000 + got);
		got++;
		if (vt_get32(e, MB + HCVS_MB_HOST_FLAGS) & HCVS_HF_RX_WANT_KICK)
			kick_sync(e);
	}
	assert_true(got >= RXN);
	assert_int_equal(got + stats(e).ds_rst_dropped, sent);

	/* A well-formed connection is unaffected. */
	tx_send(e, VSOCK_OP_REQUEST, 7000, 80);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RESPONSE);
	assert_int_equal(r.dst_port, 7000);
}

static void
ring__rx_backpressure_and_kick(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h, r;
	unsigned i, got = 0;

	bring_up(e);
	/* Ten packets for a four-slot RX ring. */
	for (i = 0; i < 10; i++) {
		hdr_init(&h, VSOCK_OP_CREDIT_UPDATE, 2000 + i, 90);
		h.src_cid = VSOCK_CID_HOST;
		h.dst_cid = VT_CID;
		fake_mux_push(e->mux, &h, NULL);
	}
	assert_int_equal(vt_get32(e, MB + HCVS_MB_RX_PROD), RXN);
	assert_true(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_RX_WANT_KICK);
	/* Never overwrites unconsumed slots however often it is kicked. */
	kick_sync(e);
	vsock_dev_kick(e->dev);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_RX_PROD), RXN);
	while (rx_pop(e, &r, NULL)) {
		assert_int_equal(r.src_port, 2000 + got);
		got++;
		if (vt_get32(e, MB + HCVS_MB_HOST_FLAGS) & HCVS_HF_RX_WANT_KICK)
			kick_sync(e);
	}
	assert_int_equal(got, 10);
	assert_false(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_RX_WANT_KICK);
}

static void
ring__irq_suppression(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h;

	bring_up(e);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_MSI,
	    0xFEE00000, 0, 0x30), HCVS_ERR_OK);
	/* Guest is polling: no interrupt. */
	vt_put32(e, MB + HCVS_MB_GUEST_FLAGS, HCVS_GF_RX_NO_IRQ);
	hdr_init(&h, VSOCK_OP_REQUEST, 1, 2);
	tx_push(e, &h, NULL, 0);
	kick_sync(e);
	assert_int_equal(e->raises, 0);
	/* Interrupts wanted: one per pass, however many packets. */
	vt_put32(e, MB + HCVS_MB_GUEST_FLAGS, 0);
	vt_put32(e, MB + HCVS_MB_RX_CONS, vt_get32(e, MB + HCVS_MB_RX_PROD));
	h.src_port = 3;
	tx_push(e, &h, NULL, 0);
	h.src_port = 4;
	tx_push(e, &h, NULL, 0);
	kick_sync(e);
	assert_int_equal(e->raises, 1);
	assert_int_equal(e->raise_last.mode, HCVS_IRQ_MSI);
	assert_int_equal(vt_rd(e, HCVS_REG_ISR), HCVS_ISR_RX);
	/* TX_WANT_IRQ: reclaiming TX slots notifies too. */
	vt_put32(e, MB + HCVS_MB_GUEST_FLAGS, HCVS_GF_TX_WANT_IRQ |
	    HCVS_GF_RX_NO_IRQ);
	tx_send(e, VSOCK_OP_CREDIT_UPDATE, 3, 2);
	assert_int_equal(vt_rd(e, HCVS_REG_ISR) & HCVS_ISR_TX, HCVS_ISR_TX);
	/* One notification for the pass, RX suppressed, TX wanted. */
	assert_int_equal(e->raises, 2);
}

static void
ring__tx_no_kick_protocol(void **state)
{
	struct vtenv *e = *state;

	bring_up(e);
	/* The host sets TX_NO_KICK only while it promises another look. */
	vt_put32(e, MB + HCVS_MB_HOST_FLAGS, 0);
	tx_send(e, VSOCK_OP_REQUEST, 1, 2);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_TX_NO_KICK, 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 1);
}

/*
 * The suppression race.  The test links with --wrap=ioreq_mem_write, so
 * every mailbox store the device makes passes through here.  When the
 * device clears TX_NO_KICK, a "guest" publishes one more entry at that
 * very moment without ringing (it read the flag while it was still set):
 * the device's re-check after the barrier must consume it in the same
 * pass, or it would sit in the ring with nobody told.
 */
int	__real_ioreq_mem_write(struct ioreq_mem *m, uint64_t gpa,
	    const void *buf, size_t len);
int	__wrap_ioreq_mem_write(struct ioreq_mem *m, uint64_t gpa,
	    const void *buf, size_t len);

static struct {
	struct vtenv		*e;		/* armed while non-NULL */
	bool			 inject;	/* publish on the next clear */
	struct vsock_pkt_hdr	 h;		/* what to publish */
	unsigned		 clears;	/* TX_NO_KICK 1 -> 0 stores */
	unsigned		 cons_stores;	/* TX_CONS stores */
	unsigned		 cons_flagged;	/* ... while TX_NO_KICK was set */
} race;

int
__wrap_ioreq_mem_write(struct ioreq_mem *m, uint64_t gpa, const void *buf,
    size_t len)
{
	uint32_t old = 0, v;
	int rc;

	if (race.e != NULL && len == sizeof(v) &&
	    gpa == MB + HCVS_MB_HOST_FLAGS)
		old = vt_get32(race.e, gpa);
	rc = __real_ioreq_mem_write(m, gpa, buf, len);
	if (race.e == NULL || rc < 0 || len != sizeof(v))
		return rc;
	memcpy(&v, buf, sizeof(v));
	v = le32toh(v);
	if (gpa == MB + HCVS_MB_TX_CONS) {
		race.cons_stores++;
		if (vt_get32(race.e, MB + HCVS_MB_HOST_FLAGS) &
		    HCVS_HF_TX_NO_KICK)
			race.cons_flagged++;
	} else if (gpa == MB + HCVS_MB_HOST_FLAGS &&
	    (old & HCVS_HF_TX_NO_KICK) && !(v & HCVS_HF_TX_NO_KICK)) {
		race.clears++;
		if (race.inject) {
			race.inject = false;
			tx_push(race.e, &race.h, NULL, 0);
		}
	}
	return rc;
}

static void
ring__tx_no_kick_clear_race(void **state)
{
	struct vtenv *e = *state;
	struct vsock_dev_stats st;
	struct vsock_pkt_hdr h;
	uint64_t kicks;
	unsigned before;

	bring_up(e);
	before = fake_mux_total(e->mux);
	vsock_dev_get_stats(e->dev, &st);
	kicks = st.ds_kicks;
	hdr_init(&h, VSOCK_OP_REQUEST, 1, 2);
	tx_push(e, &h, NULL, 0);
	memset(&race, 0, sizeof(race));
	hdr_init(&race.h, VSOCK_OP_REQUEST, 3, 2);
	race.e = e;
	race.inject = true;
	kick_sync(e);
	race.e = NULL;
	/* The flag was up while the pass drained, and came down. */
	assert_false(race.inject);
	assert_true(race.cons_stores >= 1);
	assert_true(race.cons_flagged >= 1);
	assert_true(race.clears >= 1);
	/* The late entry was consumed by the same pass, without a kick. */
	vsock_dev_get_stats(e->dev, &st);
	assert_int_equal(st.ds_kicks, kicks + 1);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 2);
	assert_int_equal(fake_mux_total(e->mux), before + 2);
	assert_int_equal(fake_mux_last(e->mux)->src_port, 3);
	/* And the host no longer promises to look. */
	assert_int_equal(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_TX_NO_KICK, 0);
}

static struct {
	struct vtenv	*e;
	unsigned	 ends;
	uint32_t	 cons_at_end;
	uint8_t		 data_at_end[3];
} batch;

static void
batch_end(void *arg)
{
	(void)arg;
	batch.ends++;
	batch.cons_at_end = vt_get32(batch.e, MB + HCVS_MB_TX_CONS);
	memcpy(batch.data_at_end, fake_mux_last_held(batch.e->mux), 3);
}

/*
 * Stream payloads go to the backend in place, and their slots are not
 * given back (TX_CONS) until the batch has ended: the guest cannot
 * overwrite what the backend still has to write.
 */
static void
ring__tx_batch_holds_slots(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h;
	uint32_t cons0;
	int i;

	bring_up(e);
	cons0 = vt_get32(e, MB + HCVS_MB_TX_CONS);
	for (i = 0; i < 3; i++) {
		hdr_init(&h, VSOCK_OP_RW, 1, 2);
		h.len = 3;
		tx_push(e, &h, i == 2 ? "xyz" : "abc", 3);
	}
	memset(&batch, 0, sizeof(batch));
	batch.e = e;
	fake_mux_on_tx_end(e->mux, batch_end, NULL);
	kick_sync(e);
	fake_mux_on_tx_end(e->mux, NULL, NULL);
	assert_int_equal(batch.ends, 1);
	assert_int_equal(batch.cons_at_end, cons0);
	assert_memory_equal(batch.data_at_end, "xyz", 3);
	assert_int_equal(fake_mux_held(e->mux), 3);
	/* In place: the guest's slot itself, not a copy. */
	memcpy(vt_ptr(e, MB + TXOFF + (uint64_t)((cons0 + 2) % TXN) * SLOT +
	    VSOCK_HDR_SIZE), "QQQ", 3);
	assert_memory_equal(fake_mux_last_held(e->mux), "QQQ", 3);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), cons0 + 3);
}

/*
 * Loads go through here too (--wrap=ioreq_mem_read): a pass reads TX_PROD
 * a couple of times, the poll window over and over, so every tenth read
 * of an armed run is in a window.  A "guest" publishes one entry there
 * each time (up to `max`), without a doorbell.
 */
int	__real_ioreq_mem_read(struct ioreq_mem *m, uint64_t gpa, void *buf,
	    size_t len);
int	__wrap_ioreq_mem_read(struct ioreq_mem *m, uint64_t gpa, void *buf,
	    size_t len);

static struct {
	struct vtenv	*e;		/* armed while non-NULL */
	unsigned	 reads;
	unsigned	 max;
	unsigned	 pushed;
} late;

/* Arm the late publisher for up to `max` entries. */
static void
late_arm(struct vtenv *e, unsigned max)
{
	memset(&late, 0, sizeof(late));
	late.e = e;
	late.max = max;
}

/* Disarm it; the number of entries it published. */
static unsigned
late_disarm(void)
{
	late.e = NULL;
	return late.pushed;
}

int
__wrap_ioreq_mem_read(struct ioreq_mem *m, uint64_t gpa, void *buf,
    size_t len)
{
	struct vsock_pkt_hdr h;

	if (late.e != NULL && gpa == MB + HCVS_MB_TX_PROD &&
	    ++late.reads % 10 == 0 && late.pushed < late.max) {
		late.pushed++;
		hdr_init(&h, VSOCK_OP_REQUEST, 5, 2);
		tx_push(late.e, &h, NULL, 0);
	}
	return __real_ioreq_mem_read(m, gpa, buf, len);
}

/*
 * The TX poll window: after an asynchronous pass TX_NO_KICK stays up
 * while the device watches TX_PROD; entries published meanwhile need no
 * doorbell and are taken by the same pass, for a bounded number of
 * rounds, then left to the next one with the flag up.  Without activity
 * the flag comes down with the re-check (an entry landing at that
 * moment is not lost).  A synchronous doorbell never waits.
 */
static void
ring__tx_poll_window(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h;

	bring_up(e);
	vsock_dev_set_tx_poll(e->dev, 30ull * 1000000000u);
	hdr_init(&h, VSOCK_OP_REQUEST, 1, 2);
	tx_push(e, &h, NULL, 0);
	vt_wr(e, HCVS_REG_DOORBELL, HCVS_DOORBELL_KICK);
	late_arm(e, 5);
	assert_int_equal(vsock_dev_process(e->dev), 1);
	assert_int_equal(late_disarm(), 5);
	/* The first entry and four found in windows; one is owed. */
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 5);
	assert_true(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) & HCVS_HF_TX_NO_KICK);
	assert_true(vsock_dev_pending(e->dev));
	assert_int_equal(stats(e).ds_kicks, 1);

	/* A short window that sees nothing: the flag comes down, and an
	 * entry published as it does is left to the next pass. */
	vsock_dev_set_tx_poll(e->dev, 1000);
	memset(&race, 0, sizeof(race));
	hdr_init(&race.h, VSOCK_OP_REQUEST, 7, 2);
	race.e = e;
	race.inject = true;
	assert_int_equal(vsock_dev_process(e->dev), 1);
	race.e = NULL;
	assert_false(race.inject);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 6);
	assert_int_equal(vsock_dev_process(e->dev), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 7);
	assert_int_equal(fake_mux_last(e->mux)->src_port, 7);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_TX_NO_KICK, 0);

	/* Synchronous: the vCPU waits for the pass, so no window. */
	vsock_dev_set_tx_poll(e->dev, 30ull * 1000000000u);
	tx_send(e, VSOCK_OP_REQUEST, 9, 2);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 8);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_TX_NO_KICK, 0);
	assert_int_equal(stats(e).ds_kicks, 2);
}

/* A pass for host data takes TX entries but does not wait for more. */
static void
ring__tx_poll_not_for_host_data(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h;

	bring_up(e);
	vt_pump(e);	/* what ENABLE left for the first pass */
	vsock_dev_set_tx_poll(e->dev, 30ull * 1000000000u);
	hdr_init(&h, VSOCK_OP_REQUEST, 8, 2);
	tx_push(e, &h, NULL, 0);
	late_arm(e, 1);
	hdr_init(&h, VSOCK_OP_CREDIT_UPDATE, 2, 1);
	h.src_cid = 2;
	h.dst_cid = VT_CID;
	/* The backend's wake-up runs the pass, as the daemon's wiring does. */
	fake_mux_push(e->mux, &h, NULL);
	assert_int_equal(late_disarm(), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 1);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_RX_PROD), 2);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_TX_NO_KICK, 0);
}

/*
 * A pass that leaves a connection waiting for credit (the backend's
 * credit_wait) waits in the TX poll window for the guest's answer,
 * whatever started it: the answer needs no doorbell, and the pass then
 * watches for more as a doorbell's would (here the window, 100 ms, runs
 * out after the answer).  A stall whose window passed unanswered gets
 * no second one, and a synchronous doorbell's pass never waits.
 */
static void
ring__tx_poll_credit_answer(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h, r;
	uint64_t kicks;

	bring_up(e);
	vt_pump(e);
	vsock_dev_set_tx_poll(e->dev, 100ull * 1000000u);
	hdr_init(&h, VSOCK_OP_CREDIT_REQUEST, 2, 1);
	h.src_cid = 2;
	h.dst_cid = VT_CID;
	fake_mux_set_credit_wait(e->mux, VSOCK_WAIT_CREDIT, 1);
	late_arm(e, 1);
	/* A pass for host data, as the daemon's wiring runs it. */
	fake_mux_push(e->mux, &h, NULL);
	assert_int_equal(late_disarm(), 1);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 1);
	assert_int_equal(fake_mux_last(e->mux)->src_port, 5);
	assert_int_equal(stats(e).ds_kicks, 0);
	assert_int_equal(stats(e).ds_credit_windows_missed, 0);

	/* Unanswered: the window runs out once, the flag comes down. */
	vsock_dev_set_tx_poll(e->dev, 1000);
	fake_mux_set_credit_wait(e->mux, VSOCK_WAIT_CREDIT, 1);
	fake_mux_push(e->mux, &h, NULL);
	assert_int_equal(stats(e).ds_credit_windows_missed, 1);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_TX_NO_KICK, 0);
	/* The same stall: no window, however long it would be. */
	vsock_dev_set_tx_poll(e->dev, 30ull * 1000000000u);
	fake_mux_set_credit_wait(e->mux, VSOCK_WAIT_CREDIT, 1);
	late_arm(e, 1);
	fake_mux_push(e->mux, &h, NULL);
	assert_int_equal(late_disarm(), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_TX_NO_KICK, 0);

	/* Another stall, but a synchronous doorbell: no window either. */
	fake_mux_set_credit_wait(e->mux, VSOCK_WAIT_CREDIT, 2);
	late_arm(e, 1);
	tx_send(e, VSOCK_OP_REQUEST, 9, 2);
	assert_int_equal(late_disarm(), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 2);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_TX_NO_KICK, 0);
	assert_int_equal(stats(e).ds_credit_windows_missed, 1);

	/*
	 * Guest data due (the guest just got credit it had run out of):
	 * the window takes it, and no more after it, however long.
	 */
	vsock_dev_set_tx_poll(e->dev, 1000);
	while (rx_pop(e, &r, NULL)) {
		vt_wr(e, HCVS_REG_DOORBELL, HCVS_DOORBELL_KICK);
		vt_pump(e);
	}
	vsock_dev_set_tx_poll(e->dev, 30ull * 1000000000u);
	fake_mux_set_credit_wait(e->mux, VSOCK_WAIT_DATA, 3);
	late_arm(e, 2);
	kicks = stats(e).ds_kicks;
	fake_mux_push(e->mux, &h, NULL);
	assert_int_equal(late_disarm(), 1);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 3);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_HOST_FLAGS) &
	    HCVS_HF_TX_NO_KICK, 0);
	assert_int_equal(stats(e).ds_kicks, kicks);
	fake_mux_set_credit_wait(e->mux, 0, 3);
}

/* ---- State export / import (crash recovery) -------------------------------- */

/* The owner's wake-up: the device pulls what the backend queued. */
static void
wake_dev(void *arg)
{
	struct vsock_dev **dp = arg;

	(void)vsock_dev_process(*dp);
}

/*
 * RAM with a hole: the announced rings start and end in RAM (the
 * SET_MAILBOX probe passes) but a slot in the middle does not exist.
 * Touching it halts the device with MEM_FAULT; nothing crashes.
 */
static void
ring__slot_in_a_hole_faults(void **state)
{
	const uint64_t lo = 0x100000, hi = 0x120000, len = 0x10000;
	struct vsock_dev_cfg cfg = { 0 };
	struct ioreq_mem *mem;
	struct vsock_dev *d;
	struct fake_mux *mux;
	struct vsock_pkt_hdr h;
	uint8_t *ram, hdr[HCVS_MBOX_HDR_SIZE] = { 0 }, w[VSOCK_HDR_SIZE];
	uint32_t le, slot = 4096, i;
	uint64_t v;
	int fd;

	(void)state;
	fd = memfd_create("hole", 0);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * len), 0);
	ram = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(ram != MAP_FAILED);
	assert_int_equal(ioreq_mem_new_fd(&mem), 0);
	assert_int_equal(ioreq_mem_add_region(mem, fd, lo, len, 0), 0);
	assert_int_equal(ioreq_mem_add_region(mem, fd, hi, len, len), 0);
	mux = fake_mux_new(VT_CID, wake_dev, &d);
	cfg.mem = mem;
	cfg.guest_cid = VT_CID;
	cfg.backend = &fake_mux_backend_ops;
	cfg.backend_arg = mux;
	assert_int_equal(vsock_dev_new(&cfg, &d), 0);

	/* TX: 4 slots in the first region; RX: 32 slots from its tail across
	 * the hole into the second region. */
#define PUT(off, val) do { le = htole32(val); memcpy(hdr + (off), &le, 4); } while (0)
	PUT(HCVS_MB_MAGIC, HCVS_MBOX_MAGIC);
	PUT(HCVS_MB_VERSION, HCVS_MBOX_VERSION);
	PUT(HCVS_MB_TX_SLOTS, 4);
	PUT(HCVS_MB_RX_SLOTS, 32);
	PUT(HCVS_MB_SLOT_SIZE, slot);
	PUT(HCVS_MB_TX_OFF, 128);
	PUT(HCVS_MB_RX_OFF, (uint32_t)(len - slot));
#undef PUT
	memcpy(ram, hdr, sizeof(hdr));
#define W(off, val) assert_int_equal(vsock_dev_handler_ops.write(d, 0, off, 4, val), 0)
	W(HCVS_REG_CMD, HCVS_CMD_RESET);
	W(HCVS_REG_ARG0, HCVS_PROTO_RING);
	W(HCVS_REG_CMD, HCVS_CMD_SET_PROTOCOL);
	W(HCVS_REG_ARG0, HCVS_F_STREAM);
	W(HCVS_REG_CMD, HCVS_CMD_SET_FEATURES);
	W(HCVS_REG_ARG0, (uint32_t)lo);
	W(HCVS_REG_ARG1, 0);
	W(HCVS_REG_ARG2, (uint32_t)(hi + len - lo));
	W(HCVS_REG_CMD, HCVS_CMD_SET_MAILBOX);
	assert_int_equal(vsock_dev_peek_reg(d, HCVS_REG_CMD), HCVS_ERR_OK);
	W(HCVS_REG_CMD, HCVS_CMD_ENABLE);
	assert_int_equal(vsock_dev_peek_reg(d, HCVS_REG_CMD), HCVS_ERR_OK);
	/* Packets for the guest: slot 0 is RAM, slot 1 is in the hole. */
	for (i = 0; i < 3; i++) {
		memset(&h, 0, sizeof(h));
		h.src_cid = VSOCK_CID_HOST;
		h.dst_cid = VT_CID;
		h.src_port = 1;
		h.dst_port = 100 + i;
		h.type = VSOCK_TYPE_STREAM;
		h.op = VSOCK_OP_CREDIT_UPDATE;
		fake_mux_push(mux, &h, NULL);
	}
	assert_true(vsock_dev_peek_reg(d, HCVS_REG_STATUS) & HCVS_STATUS_ERROR);
	assert_int_equal(vsock_dev_peek_reg(d, HCVS_REG_ERROR),
	    HCVS_ERR_MEM_FAULT);
	/* The one packet that fit is there, intact. */
	memcpy(w, ram + len - slot, sizeof(w));
	vsock_hdr_decode(&h, w);
	assert_int_equal(h.dst_port, 100);
	/* Halted: reads still answer, doorbells do nothing. */
	assert_int_equal(vsock_dev_handler_ops.read(d, 0, HCVS_REG_MAGIC, 4,
	    &v), 0);
	assert_int_equal(v, HCVS_MAGIC);
	W(HCVS_REG_DOORBELL_SYNC, 1);
#undef W
	vsock_dev_free(d);
	fake_mux_free(mux);
	ioreq_mem_free(mem);
	munmap(ram, 2 * len);
	close(fd);
}

static void
state__reimport_after_restart(void **state)
{
	struct vtenv *e = *state;
	struct vsock_dev_state st, bad;
	struct vsock_pkt_hdr h, r;
	uint32_t epoch;

	bring_up(e);
	fake_mux_listen(e->mux, 80);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_EVTCHN, 9, 0,
	    0), HCVS_ERR_OK);
	tx_send(e, VSOCK_OP_REQUEST, 5000, 80);
	assert_true(rx_pop(e, &r, NULL));
	assert_true(vsock_dev_state_changed(e->dev));
	assert_false(vsock_dev_state_changed(e->dev));
	vsock_dev_export(e->dev, &st);
	epoch = vt_get32(e, MB + HCVS_MB_EPOCH);

	/* Guest queues one more packet while the daemon is dead. */
	hdr_init(&h, VSOCK_OP_RW, 5000, 80);
	h.len = 3;
	tx_push(e, &h, "abc", 3);

	vtenv_restart(e);
	fake_mux_listen(e->mux, 80);
	bad = st;
	bad.st_version = 99;
	assert_int_equal(vsock_dev_import(e->dev, &bad), -EINVAL);
	bad = st;
	bad.st_features |= HCVS_F_SEQPACKET;
	assert_int_equal(vsock_dev_import(e->dev, &bad), -EINVAL);
	e->setups = e->raises = 0;
	assert_int_equal(vsock_dev_import(e->dev, &st), 0);
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS), st.st_status);
	assert_int_equal(e->setups, 1);
	assert_int_equal(e->setup_last.evtchn_port, 9);
	assert_int_equal(e->raises, 1);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_EPOCH), epoch + 1);
	assert_true(vt_rd(e, HCVS_REG_ISR) & HCVS_ISR_RESET);
	/* The pending TX entry belongs to a dead flow: RST. */
	vt_pump(e);
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_RW), 1);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RST);
	/* New connections work. */
	tx_send(e, VSOCK_OP_REQUEST, 5001, 80);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RESPONSE);
}

/* The daemon dies; the next one takes the state the dead one recorded. */
static void
restart_from(struct vtenv *e)
{
	struct vsock_dev_state st;

	vsock_dev_export(e->dev, &st);
	vtenv_restart(e);
	fake_mux_listen(e->mux, 80);
	assert_int_equal(vsock_dev_import(e->dev, &st), 0);
}

/* One command of a set-up sequence, and what the guest must read back. */
struct replay_step {
	uint32_t	cmd, a[4], want;
};

/*
 * Run the steps with the daemon killed at every point of each command's
 * life (see below): each time the guest reads what one run gives.
 */
static void
replay_steps(struct vtenv *e, const struct replay_step *steps, size_t n)
{
	uint32_t status;
	size_t i;
	unsigned k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < 4; k++)
			vt_wr(e, HCVS_REG_ARG0 + 4 * k, steps[i].a[k]);
		/* Killed between the ARG writes and the CMD write. */
		restart_from(e);
		vt_wr(e, HCVS_REG_CMD, steps[i].cmd);
		assert_int_equal(vt_rd(e, HCVS_REG_CMD), steps[i].want);
		status = vt_rd(e, HCVS_REG_STATUS);
		/* Killed with the command recorded, its answer not given. */
		restart_from(e);
		vt_wr(e, HCVS_REG_CMD, steps[i].cmd);
		assert_int_equal(vt_rd(e, HCVS_REG_CMD), steps[i].want);
		assert_int_equal(vt_rd(e, HCVS_REG_STATUS), status);
		/* Killed after the answer, before the result was read. */
		restart_from(e);
		assert_int_equal(vt_rd(e, HCVS_REG_CMD), steps[i].want);
		assert_int_equal(vt_rd(e, HCVS_REG_STATUS), status);
		if (steps[i].cmd == HCVS_CMD_GET_CID)
			assert_int_equal(vt_rd(e, HCVS_REG_ARG0), VT_CID);
	}
}

/*
 * A daemon killed at any point of a command's life: after the guest's ARG
 * writes, after the command ran and was recorded but before the answer
 * (the next daemon runs the request again on the recorded state), after
 * the answer but before the guest read the result.  Each time the guest
 * gets the answer one uninterrupted daemon would have given, and the
 * device ends up set up exactly once.
 */
static void
state__command_replayed_at_every_point(void **state)
{
	struct vtenv *e = *state;
	static const struct replay_step steps[] = {
		{ HCVS_CMD_RESET, { 0 }, HCVS_ERR_OK },
		{ HCVS_CMD_SET_PROTOCOL, { HCVS_PROTO_RING }, HCVS_ERR_OK },
		{ HCVS_CMD_SET_FEATURES, { HCVS_F_STREAM | HCVS_F_SYNC_DOORBELL },
		    HCVS_ERR_OK },
		{ HCVS_CMD_SET_MAILBOX, { (uint32_t)MB, (uint32_t)(MB >> 32),
		    MBSIZE }, HCVS_ERR_OK },
		{ HCVS_CMD_SET_NOTIFY, { HCVS_IRQ_EVTCHN, 9 }, HCVS_ERR_OK },
		{ HCVS_CMD_ENABLE, { 0 }, HCVS_ERR_OK },
		{ HCVS_CMD_GET_CID, { 0 }, HCVS_ERR_OK },
		/* A refused command is refused again, with the same code. */
		{ HCVS_CMD_SET_FEATURES, { HCVS_F_STREAM }, HCVS_ERR_BAD_STATE },
	};
	struct vsock_pkt_hdr r;

	fake_mux_listen(e->mux, 80);
	mb_write(e, TXN, RXN, SLOT, TXOFF, RXOFF);
	replay_steps(e, steps, sizeof(steps) / sizeof(steps[0]));
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS), HCVS_STATUS_PROTOCOL |
	    HCVS_STATUS_FEATURES | HCVS_STATUS_MAILBOX | HCVS_STATUS_NOTIFY |
	    HCVS_STATUS_LIVE);
	assert_int_equal(e->setup_last.evtchn_port, 9);
	/* And the rings work. */
	tx_send(e, VSOCK_OP_REQUEST, 5001, 80);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RESPONSE);
}

/*
 * Protocol MSG's set-up, killed at every point of each command as above:
 * the same answers, the call table set up once, LIVE at the end.
 */
static void
state__msg_command_replayed_at_every_point(void **state)
{
	struct vtenv *e = *state;
	static const struct replay_step steps[] = {
		{ HCVS_CMD_RESET, { 0 }, HCVS_ERR_OK },
		{ HCVS_CMD_SET_PROTOCOL, { HCVS_PROTO_MSG }, HCVS_ERR_OK },
		{ HCVS_CMD_MSG_SET_CALLS, { (uint32_t)MB, (uint32_t)(MB >> 32),
		    4 }, HCVS_ERR_OK },
		{ HCVS_CMD_SET_NOTIFY, { HCVS_IRQ_EVTCHN, 9 }, HCVS_ERR_OK },
		{ HCVS_CMD_ENABLE, { 0 }, HCVS_ERR_OK },
		{ HCVS_CMD_MSG_SET_CALLS, { (uint32_t)MB, 0, 4 },
		    HCVS_ERR_BAD_STATE },
	};
	struct vsock_dev_info di;

	replay_steps(e, steps, sizeof(steps) / sizeof(steps[0]));
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS), HCVS_STATUS_PROTOCOL |
	    HCVS_STATUS_MAILBOX | HCVS_STATUS_NOTIFY | HCVS_STATUS_LIVE);
	vsock_dev_get_info(e->dev, &di);
	assert_int_equal(di.di_mbox_gpa, MB);
	assert_int_equal(e->setup_last.mode, HCVS_IRQ_EVTCHN);
	assert_int_equal(e->setup_last.evtchn_port, 9);
}

/*
 * A doorbell the dead daemon had run, answered by the next one: what it
 * took from TX is not sent again (the indices are the guest's memory's),
 * what it put into RX is there once, and the guest is told the reset
 * before anything the new daemon produces.
 */
static void
state__doorbell_replayed_delivers_once(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h, r;
	uint32_t epoch, rx_prod;

	bring_up(e);
	fake_mux_listen(e->mux, 80);
	tx_send(e, VSOCK_OP_REQUEST, 5000, 80);
	assert_true(rx_pop(e, &r, NULL));
	assert_int_equal(r.op, VSOCK_OP_RESPONSE);
	epoch = vt_get32(e, MB + HCVS_MB_EPOCH);
	/* The guest's data and its doorbell: run, then the daemon dies. */
	hdr_init(&h, VSOCK_OP_RW, 5000, 80);
	h.len = 3;
	tx_push(e, &h, "abc", 3);
	kick_sync(e);
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_RW), 1);
	rx_prod = vt_get32(e, MB + HCVS_MB_RX_PROD);
	restart_from(e);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_EPOCH), epoch + 1);
	/* The request again, as the next daemon finds it unanswered. */
	kick_sync(e);
	vt_pump(e);
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_RW), 0);
	assert_int_equal(fake_mux_total(e->mux), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS),
	    vt_get32(e, MB + HCVS_MB_TX_PROD));
	assert_int_equal(vt_get32(e, MB + HCVS_MB_RX_PROD), rx_prod);
	/* A second replay changes nothing either. */
	kick_sync(e);
	assert_int_equal(fake_mux_total(e->mux), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_EPOCH), epoch + 1);
}

/*
 * RESET of a live device, killed after it was recorded: the next daemon
 * runs it again on the reset state.  The guest reads OK and a device in
 * its reset state; the mailbox it left is not touched by either.
 */
static void
state__reset_replayed_leaves_old_mailbox(void **state)
{
	struct vtenv *e = *state;
	uint32_t epoch, tx_cons;

	bring_up(e);
	epoch = vt_get32(e, MB + HCVS_MB_EPOCH);
	tx_cons = vt_get32(e, MB + HCVS_MB_TX_CONS);
	vt_wr(e, HCVS_REG_CMD, HCVS_CMD_RESET);
	restart_from(e);
	vt_wr(e, HCVS_REG_CMD, HCVS_CMD_RESET);
	assert_int_equal(vt_rd(e, HCVS_REG_CMD), HCVS_ERR_OK);
	assert_int_equal(vt_rd(e, HCVS_REG_STATUS), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_EPOCH), epoch);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), tx_cons);
	/* And the guest sets it up again as after any RESET. */
	bring_up(e);
}

/*
 * An orderly stop tells the guest at once (EPOCH, ISR_RESET, one
 * interrupt), so a guest asleep waiting for RX does not wait for its own
 * timeout; a device that never went live is left alone.  From the notice
 * on no ring is touched: a TX entry and a synchronous doorbell leave
 * TX_CONS and RX_PROD where they were, until the guest RESETs.
 */
static void
state__going_away_tells_the_guest(void **state)
{
	struct vtenv *e = *state;
	uint32_t epoch;

	e->raises = 0;
	vsock_dev_going_away(e->dev);
	assert_int_equal(e->raises, 0);
	bring_up(e);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_EVTCHN, 9, 0,
	    0), HCVS_ERR_OK);
	epoch = vt_get32(e, MB + HCVS_MB_EPOCH);
	(void)vt_rd(e, HCVS_REG_ISR);
	e->raises = 0;
	fake_mux_listen(e->mux, 80);
	vsock_dev_going_away(e->dev);
	assert_int_equal(e->raises, 1);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_EPOCH), epoch + 1);
	assert_true(vt_rd(e, HCVS_REG_ISR) & HCVS_ISR_RESET);
	tx_send(e, VSOCK_OP_REQUEST, 5000, 80);
	(void)fake_mux_connect(e->mux, 6000);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_RX_PROD), 0);
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_REQUEST), 0);
	assert_false(vsock_dev_pending(e->dev));
	assert_int_equal(vsock_dev_process(e->dev), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_RX_PROD), 0);
	/* Reset and set up again, the device works. */
	bring_up(e);
	tx_send(e, VSOCK_OP_REQUEST, 5000, 80);
	assert_int_equal(fake_mux_count(e->mux, VSOCK_OP_REQUEST), 1);
	assert_int_equal(vt_get32(e, MB + HCVS_MB_TX_CONS), 1);
}

/*
 * Protocol MSG: the orderly stop ends every call in progress with CANCEL,
 * and a call submitted after the notice is not taken (it stays
 * SUBMITTED) until the guest RESETs.
 */
static void
state__going_away_msg_calls(void **state)
{
	struct vtenv *e = *state;
	const uint64_t buf = VT_RAM_GPA + 0x20000;

	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_MSG, 0, 0,
	    0), HCVS_ERR_OK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_MSG_SET_CALLS, (uint32_t)MB,
	    (uint32_t)(MB >> 32), 2, 0), HCVS_ERR_OK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_ENABLE, 0, 0, 0, 0), HCVS_ERR_OK);
	for (uint32_t i = 0; i < 2; i++) {
		uint64_t s = MB + i * HCVS_MSG_SLOT_SIZE;

		vt_put32(e, s + HCVS_MSG_FUNCTION, HCVS_MSG_FN_WAIT_FOR_REQUEST);
		vt_put32(e, s + HCVS_MSG_BUF_GPA, (uint32_t)(buf + i * 4096));
		vt_put32(e, s + HCVS_MSG_BUF_GPA + 4, 0);
		vt_put32(e, s + HCVS_MSG_BUF_LEN, 4096);
	}
	vt_put32(e, MB + HCVS_MSG_STATE, HCVS_MSG_S_SUBMITTED);
	vt_wr(e, HCVS_REG_DOORBELL_SYNC, HCVS_DOORBELL_KICK);
	assert_int_equal(vt_get32(e, MB + HCVS_MSG_STATE), HCVS_MSG_S_ACCEPTED);
	vsock_dev_going_away(e->dev);
	assert_int_equal(vt_get32(e, MB + HCVS_MSG_STATE), HCVS_MSG_S_DONE);
	assert_int_equal(vt_get32(e, buf), HCVS_MSG_ST_CANCEL);
	assert_true(vt_rd(e, HCVS_REG_ISR) & HCVS_ISR_RESET);
	vt_put32(e, MB + HCVS_MSG_SLOT_SIZE + HCVS_MSG_STATE,
	    HCVS_MSG_S_SUBMITTED);
	vt_wr(e, HCVS_REG_DOORBELL_SYNC, HCVS_DOORBELL_KICK);
	assert_false(vsock_dev_pending(e->dev));
	assert_int_equal(vsock_dev_process(e->dev), 0);
	assert_int_equal(vt_get32(e, MB + HCVS_MSG_SLOT_SIZE + HCVS_MSG_STATE),
	    HCVS_MSG_S_SUBMITTED);
}

static void
state__import_rejects_bad_mailbox(void **state)
{
	struct vtenv *e = *state;
	struct vsock_dev_state st;

	bring_up(e);
	vsock_dev_export(e->dev, &st);
	vtenv_restart(e);
	/* The guest scribbled over its host line: indices inconsistent. */
	vt_put32(e, MB + HCVS_MB_TX_CONS, 1000);
	assert_int_equal(vsock_dev_import(e->dev, &st), 0);
	assert_true(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_ERROR);
	assert_int_equal(vt_rd(e, HCVS_REG_ERROR), HCVS_ERR_BAD_INDEX);
	/* RESET and a fresh set-up recover. */
	bring_up(e);
}

/* ---- Random slots: never a crash, always a defined state ------------------- */

static void
ring__random_garbage(void **state)
{
	struct vtenv *e = *state;
	unsigned seed = test_seed(), i, j;
	uint8_t *slot;

	srand(seed);
	bring_up(e);
	fake_mux_listen(e->mux, 80);
	for (i = 0; i < 2000; i++) {
		uint32_t prod = vt_get32(e, MB + HCVS_MB_TX_PROD);

		slot = vt_ptr(e, MB + TXOFF + (uint64_t)(prod % TXN) * SLOT);
		for (j = 0; j < VSOCK_HDR_SIZE; j++)
			slot[j] = (uint8_t)rand();
		/* Keep some headers plausible so deeper paths run. */
		if (rand() % 2) {
			struct vsock_pkt_hdr h;

			hdr_init(&h, (uint16_t)(rand() % 9), rand() % 4,
			    rand() % 2 ? 80 : 81);
			h.len = (uint32_t)(rand() % (CAP + 8));
			h.flags = (uint32_t)rand();
			vsock_hdr_encode(slot, &h);
		}
		vt_put32(e, MB + HCVS_MB_TX_PROD, prod + 1);
		if (rand() % 50 == 0)
			vt_put32(e, MB + HCVS_MB_RX_CONS, (uint32_t)rand());
		if (rand() % 2)
			kick_sync(e);
		else
			vsock_dev_kick(e->dev);
		/* Consume like a (sane) guest, unless the index is garbage. */
		if (vt_get32(e, MB + HCVS_MB_RX_PROD) -
		    vt_get32(e, MB + HCVS_MB_RX_CONS) <= RXN)
			while (rx_pop(e, &(struct vsock_pkt_hdr){ 0 }, NULL))
				;
		if (vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_ERROR)
			bring_up(e);
		assert_true(vt_rd(e, HCVS_REG_STATUS) & HCVS_STATUS_LIVE);
	}
	assert_true(stats(e).ds_bad_hdr > 0);
	assert_true(stats(e).ds_tx_pkts > 0);
}

struct dump_acc {
	unsigned	lines;
	bool		saw_mailbox;
};

static void
dump_cb(void *arg, const char *line)
{
	struct dump_acc *a = arg;

	a->lines++;
	if (strstr(line, "mailbox 0x110000+") != NULL)
		a->saw_mailbox = true;
}

static void
dump__lines(void **state)
{
	struct vtenv *e = *state;
	struct dump_acc a = { 0 };

	bring_up(e);
	vsock_dev_dump(e->dev, dump_cb, &a);
	assert_int_equal(a.lines, 3);
	assert_true(a.saw_mailbox);
}

/* ---- Event-channel doorbell ----------------------------------------------- */

/* Live with `features`, notifications on event channel port 5. */
static void
bring_up_evtchn(struct vtenv *e, uint32_t features)
{
	negotiate(e, features);
	mb_write(e, TXN, RXN, SLOT, TXOFF, RXOFF);
	assert_int_equal(set_mailbox(e, MB, MBSIZE), HCVS_ERR_OK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_EVTCHN, 5, 0,
	    0), HCVS_ERR_OK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_ENABLE, 0, 0, 0, 0), HCVS_ERR_OK);
}

static void
evtchn__backend_domain(void **state)
{
	struct vtenv *e = *state;

	assert_int_equal(vt_cmd(e, HCVS_CMD_GET_BACKEND, 0, 0, 0, 0),
	    HCVS_ERR_OK);
	assert_int_equal(vt_rd(e, HCVS_REG_ARG0), 3);
}

static void
evtchn__not_offered_without_the_mode(void **state)
{
	struct vtenv *e = *state;

	/* setup_gsi offers no EVTCHN mode: neither feature nor domain. */
	assert_false(vt_rd(e, HCVS_REG_HOST_FEATURES) & HCVS_F_EVTCHN_KICK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_GET_BACKEND, 0, 0, 0, 0),
	    HCVS_ERR_UNSUPPORTED);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_RING, 0,
	    0, 0), HCVS_ERR_OK);
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_FEATURES, HCVS_F_STREAM |
	    HCVS_F_EVTCHN_KICK, 0, 0, 0), HCVS_ERR_UNSUPPORTED);
}

static void
evtchn__event_is_the_async_doorbell(void **state)
{
	struct vtenv *e = *state;
	struct vsock_pkt_hdr h;

	/* Without the feature an event on the port means nothing. */
	bring_up_evtchn(e, HCVS_F_STREAM);
	vt_pump(e);
	hdr_init(&h, VSOCK_OP_REQUEST, 5000, 81);
	tx_push(e, &h, NULL, 0);
	assert_int_equal(vsock_dev_guest_event(e->dev), 0);
	assert_int_equal(fake_mux_total(e->mux), 0);
	assert_int_equal(stats(e).ds_events_ignored, 1);
	assert_int_equal(stats(e).ds_evtchn_kicks, 0);

	/* With it, the event runs the rings as DOORBELL does. */
	bring_up_evtchn(e, HCVS_F_STREAM | HCVS_F_EVTCHN_KICK);
	vt_pump(e);
	h.src_port = 5001;
	tx_push(e, &h, NULL, 0);
	assert_int_equal(vsock_dev_guest_event(e->dev), 0);
	assert_int_equal(fake_mux_total(e->mux), 1);
	assert_int_equal(stats(e).ds_evtchn_kicks, 1);

	/* Another mode: the old port's events are ignored again. */
	assert_int_equal(vt_cmd(e, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_MSI,
	    0xFEE00000u, 0, 0x30), HCVS_ERR_OK);
	h.src_port = 5002;
	tx_push(e, &h, NULL, 0);
	assert_int_equal(vsock_dev_guest_event(e->dev), 0);
	assert_int_equal(fake_mux_total(e->mux), 1);
	assert_int_equal(stats(e).ds_events_ignored, 2);
}

static void
evtchn__survives_restart(void **state)
{
	struct vtenv *e = *state;
	struct vsock_dev_state st;
	struct vsock_pkt_hdr h;

	bring_up_evtchn(e, HCVS_F_STREAM | HCVS_F_EVTCHN_KICK);
	vt_pump(e);
	vsock_dev_export(e->dev, &st);
	vtenv_restart(e);
	assert_int_equal(vsock_dev_import(e->dev, &st), 0);
	assert_int_equal(e->setup_last.mode, HCVS_IRQ_EVTCHN);
	assert_int_equal(e->setup_last.evtchn_port, 5);
	vt_pump(e);
	hdr_init(&h, VSOCK_OP_REQUEST, 5003, 81);
	tx_push(e, &h, NULL, 0);
	assert_int_equal(vsock_dev_guest_event(e->dev), 0);
	assert_int_equal(fake_mux_total(e->mux), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(regs__probe_values, setup, teardown),
		cmocka_unit_test_setup_teardown(evtchn__backend_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(evtchn__not_offered_without_the_mode, setup_gsi, teardown),
		cmocka_unit_test_setup_teardown(evtchn__event_is_the_async_doorbell, setup, teardown),
		cmocka_unit_test_setup_teardown(evtchn__survives_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(regs__args_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(neg__order_enforced, setup, teardown),
		cmocka_unit_test(neg__seqpacket_when_offered),
		cmocka_unit_test_setup_teardown(neg__reset_clears_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(mbox__hostile_geometry_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(mbox__outside_ram_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(irq__modes_validated, setup, teardown),
		cmocka_unit_test_setup_teardown(irq__isa_never_offered, setup, teardown),
		cmocka_unit_test_setup_teardown(irq__isa_never_offered, setup_gsi, teardown),
		cmocka_unit_test_setup_teardown(ring__tx_to_mux_and_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__async_doorbell_defers, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__hostile_tx_index_halts, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__hostile_rx_index_halts, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__malformed_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__rst_flood_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__rx_backpressure_and_kick, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__irq_suppression, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__tx_no_kick_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__tx_no_kick_clear_race, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__tx_batch_holds_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__tx_poll_window, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__tx_poll_not_for_host_data, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__tx_poll_credit_answer, setup, teardown),
		cmocka_unit_test(ring__slot_in_a_hole_faults),
		cmocka_unit_test_setup_teardown(state__reimport_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(state__command_replayed_at_every_point, setup, teardown),
		cmocka_unit_test_setup_teardown(state__msg_command_replayed_at_every_point, setup_msg, teardown),
		cmocka_unit_test_setup_teardown(neg__reserved_commands, setup_msg, teardown),
		cmocka_unit_test_setup_teardown(state__going_away_msg_calls, setup_msg, teardown),
		cmocka_unit_test_setup_teardown(state__doorbell_replayed_delivers_once, setup, teardown),
		cmocka_unit_test_setup_teardown(state__reset_replayed_leaves_old_mailbox, setup, teardown),
		cmocka_unit_test_setup_teardown(state__going_away_tells_the_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(state__import_rejects_bad_mailbox, setup, teardown),
		cmocka_unit_test_setup_teardown(ring__random_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(dump__lines, setup, teardown),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	test_log_capture_start();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
