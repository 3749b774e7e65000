/* SPDX-License-Identifier: MIT */
/*
 * Protocol MSG under a hostile guest: a program of register accesses,
 * call-table announcements, call slots with any content, buffer
 * scribbles, doorbells of both kinds, host events (requests, bytes, room,
 * closes, the clock) from a scripted session backend, resets and state
 * export/import.
 *
 * Checked beyond the sanitizers (PROTOCOL.md §15):
 *   - the device writes guest memory only inside call tables it accepted
 *     and buffers of calls it accepted (canaries everywhere else);
 *   - a completion's length never exceeds its buffer, and the status's
 *     byte 0 is written only with the rest of the completion;
 *   - a slot the host holds is never re-read into a second call;
 *   - STATUS.ERROR always comes with a non-zero ERROR, MAGIC answers.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/compiler.h"
#include "fuzz.h"
#include "hcvsock_abi.h"
#include "ioreq/ioreq.h"
#include "vsock/vsock_backend.h"
#include "vsock/vsock_dev.h"

#define CID		7u
#define RAM_GPA		0x100000ull
#define RAM_SIZE	(512u * 1024u)
#define TAB_OFF		0x1000u		/* the harness's call table */
#define BUF_OFF		0x10000u	/* 4 KiB-aligned buffers from here */
#define CANARY		0xA5
#define NMIDS		4

static uint8_t *ram;
static struct ioreq_mem *mem;

FZ_GUEST_INITIALIZER(RAM_GPA, RAM_SIZE, &ram, &mem, NULL)

/* ---- A scripted session backend ---------------------------------------- */

struct script {
	struct fz	*f;
	bool		 live[NMIDS];	/* mids 1..NMIDS */
	bool		 gone[NMIDS];
	unsigned	 requests;	/* waiting to be taken */
	bool		 news;
	int64_t		 now;
	uint64_t	 sent, received;
};

static struct script sc;

static int
s_take(void *b, uint32_t *op, void *payload, size_t max, uint32_t *len)
{
	uint32_t n = 8 + fz_u16(sc.f) % 600;
	uint64_t mid = 1 + fz_u8(sc.f) % NMIDS;

	(void)b;
	if (sc.requests == 0 || n > max)
		return 0;
	sc.requests--;
	memset(payload, 0x3c, n);
	mid = htole64(mid);
	memcpy(payload, &mid, 8);
	sc.live[le64toh(mid) - 1] = true;
	sc.gone[le64toh(mid) - 1] = false;
	*op = 1 + fz_u8(sc.f) % 5;
	*len = n;
	return 1;
}

static int
s_lookup(void *b, uint64_t mid)
{
	(void)b;
	return mid >= 1 && mid <= NMIDS && sc.live[mid - 1] ? 0 : -ENOENT;
}

static long
s_send(void *b, uint64_t mid, const void *p, size_t n)
{
	(void)b;
	(void)p;
	if (s_lookup(b, mid) < 0)
		return -ENOENT;
	if (sc.gone[mid - 1])
		return -EPIPE;
	fz_check(n <= HCVS_MSG_MAX_PAYLOAD);
	if (fz_u8(sc.f) & 1)
		return -EAGAIN;
	sc.sent += n;
	return (long)n;
}

static long
s_recv(void *b, uint64_t mid, void *p, size_t max)
{
	size_t n;

	(void)b;
	if (s_lookup(b, mid) < 0)
		return -ENOENT;
	if (sc.gone[mid - 1])
		return -EPIPE;
	fz_check(max >= 1 && max <= HCVS_MSG_MAX_PAYLOAD);
	n = fz_u16(sc.f) % (max + 1);
	if (n == 0)
		return -EAGAIN;
	memset(p, 0xc3, n);
	sc.received += n;
	return (long)n;
}

static int
s_report(void *b, uint64_t mid, uint64_t status, const void *data, size_t n)
{
	(void)b;
	(void)data;
	if (s_lookup(b, mid) < 0)
		return -ENOENT;
	fz_check((status >> 16) == 0 && n <= HCVS_MSG_MAX_PAYLOAD);
	sc.live[mid - 1] = false;
	return 0;
}

static int64_t
s_now(void *b)
{
	(void)b;
	return sc.now;
}

static void
s_wake_at(void *b, int64_t t)
{
	(void)b;
	(void)t;
}

static bool
s_has_news(const void *b)
{
	(void)b;
	return sc.news;
}

static void
s_ack(void *b)
{
	(void)b;
	sc.news = false;
}

static void
s_reset(void *b)
{
	(void)b;
	memset(sc.live, 0, sizeof(sc.live));
	memset(sc.gone, 0, sizeof(sc.gone));
}

static const struct vsock_msg_backend_ops script_ops = {
	.take_request = s_take,
	.lookup = s_lookup,
	.send = s_send,
	.recv = s_recv,
	.report = s_report,
	.now_ms = s_now,
	.wake_at = s_wake_at,
	.has_news = s_has_news,
	.ack_news = s_ack,
	.reset = s_reset,
};

/* ---- Guest side ---------------------------------------------------------------- */

static void
reg_w(struct vsock_dev *d, uint32_t off, uint32_t v)
{
	(void)vsock_dev_handler_ops.write(d, 0, off, 4, v);
}

static void
cmd(struct vsock_dev *d, uint32_t c, uint32_t a0, uint32_t a1, uint32_t a2)
{
	reg_w(d, HCVS_REG_ARG0, a0);
	reg_w(d, HCVS_REG_ARG1, a1);
	reg_w(d, HCVS_REG_ARG2, a2);
	reg_w(d, HCVS_REG_CMD, c);
}

/* RAM the device may write: accepted tables and accepted buffers. */
static void
allow(uint64_t lo, uint64_t hi)
{
	(void)fz_allow(lo, hi);
}

/* Where the guest itself scribbles: everything but the canary zone. */
#define GUEST_HI	(RAM_SIZE - 64u * 1024u)

static void
check_memory(void)
{
	fz_check_canary(ram, GUEST_HI, RAM_SIZE, 0, 0, CANARY);
}

/* Note what a call the host accepted may write (its buffer). */
static void
note_slots(struct vsock_dev *d)
{
	struct vsock_dev_state st;
	uint32_t n, off;

	if (!(vsock_dev_peek_reg(d, HCVS_REG_STATUS) & HCVS_STATUS_MAILBOX))
		return;
	vsock_dev_export(d, &st);
	if (st.st_mbox_gpa < RAM_GPA || st.st_mbox_gpa >= RAM_GPA + RAM_SIZE)
		return;
	off = (uint32_t)(st.st_mbox_gpa - RAM_GPA);
	allow(off, (uint64_t)off + st.st_mbox_size);
	n = st.st_mbox_size / HCVS_MSG_SLOT_SIZE;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s = off + i * HCVS_MSG_SLOT_SIZE;
		uint64_t gpa, len;

		if (s + HCVS_MSG_SLOT_SIZE > RAM_SIZE ||
		    fz_rd32(ram, s + HCVS_MSG_STATE) != HCVS_MSG_S_ACCEPTED)
			continue;
		memcpy(&gpa, ram + s + HCVS_MSG_BUF_GPA, 8);
		gpa = le64toh(gpa);
		len = fz_rd32(ram, s + HCVS_MSG_BUF_LEN);
		if (gpa >= RAM_GPA && gpa - RAM_GPA + len <= RAM_SIZE)
			allow(gpa - RAM_GPA, gpa - RAM_GPA + len);
	}
}

static void
check_device(struct vsock_dev *d)
{
	uint32_t st = vsock_dev_peek_reg(d, HCVS_REG_STATUS);
	uint64_t v = 0;

	fz_check(vsock_dev_handler_ops.read(d, 0, HCVS_REG_MAGIC, 4, &v) == 0 &&
	    v == HCVS_MAGIC);
	if (st & HCVS_STATUS_ERROR)
		fz_check(vsock_dev_peek_reg(d, HCVS_REG_ERROR) != 0);
}

/* A call slot with fields mostly sane, sometimes not. */
static void
write_slot(struct fz *f, uint32_t s)
{
	uint32_t fn = fz_u8(f), buf = BUF_OFF + (fz_u8(f) % 64) * 4096u;
	uint32_t len = fz_u8(f) & 1 ? 4096 : fz_u32(f) % (HCVS_MSG_BUF_MAX + 64);
	uint64_t gpa = RAM_GPA + buf;

	if (fn < 8)
		fn = 1 + fn % 4;
	if (fz_u8(f) == 0) {
		gpa = fz_u64(f);
		/* Declared by the guest: the device may complete into it. */
		if (gpa >= RAM_GPA && gpa - RAM_GPA < RAM_SIZE)
			allow(gpa - RAM_GPA, MIN(gpa - RAM_GPA + len,
			    (uint64_t)RAM_SIZE));
	}
	/* Buffers the guest declares hold a header; keep the length in it. */
	if (buf + 12 <= RAM_SIZE)
		fz_wr32(ram, buf + 8, fz_u8(f) & 1 ? fz_u32(f) : fz_u16(f) % 4096);
	memset(ram + s, 0, HCVS_MSG_SLOT_SIZE);
	fz_wr32(ram, s + HCVS_MSG_FUNCTION, fn);
	fz_wr32(ram, s + HCVS_MSG_FLAGS, fz_u8(f) & 3);
	fz_wr64(ram, s + HCVS_MSG_BUF_GPA, gpa);
	fz_wr32(ram, s + HCVS_MSG_BUF_LEN, len);
	fz_wr32(ram, s + HCVS_MSG_TIMEOUT_MS, fz_u8(f));
	fz_wr64(ram, s + HCVS_MSG_MID, fz_u8(f) % (NMIDS + 2));
	fz_wr64(ram, s + HCVS_MSG_REPORT, fz_u8(f) & 1 ? fz_u16(f) : fz_u64(f));
	if (fz_u8(f) == 1)
		ram[s + 0x30 + fz_u8(f) % 16] = fz_u8(f);
	fz_wr32(ram, s + HCVS_MSG_STATE, fz_u8(f) & 7 ? HCVS_MSG_S_SUBMITTED :
	    fz_u32(f));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct vsock_dev_cfg dc = { 0 };
	struct vsock_dev_state st;
	struct vsock_dev *d = NULL;
	unsigned steps = 0;
	uint32_t nslots;

	memset(&sc, 0, sizeof(sc));
	sc.f = &f;
	memset(ram, CANARY, RAM_SIZE);
	fz_allow_reset();
	dc.mem = mem;
	dc.guest_cid = CID;
	dc.irq_caps = 1u << HCVS_IRQ_NONE;
	dc.msg_backend = &script_ops;
	dc.msg_backend_arg = NULL;
	fz_check(vsock_dev_new(&dc, &d) == 0);
	fz_check(vsock_dev_peek_reg(d, HCVS_REG_PROTOCOLS) &
	    (1u << HCVS_PROTO_MSG));
	/* Most programs start from a good set-up. */
	if (fz_u8(&f) & 1) {
		nslots = 1 + fz_u8(&f) % HCVS_MSG_MAX_SLOTS;
		memset(ram + TAB_OFF, 0, nslots * HCVS_MSG_SLOT_SIZE);
		cmd(d, HCVS_CMD_RESET, 0, 0, 0);
		cmd(d, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_MSG, 0, 0);
		cmd(d, HCVS_CMD_MSG_SET_CALLS, (uint32_t)(RAM_GPA + TAB_OFF), 0,
		    nslots);
		cmd(d, HCVS_CMD_ENABLE, 0, 0, 0);
	}
	while (fz_more(&f) && steps++ < 256) {
		uint8_t op = fz_u8(&f);

		note_slots(d);
		switch (op % 12) {
		case 0:	/* any register access */
			(void)vsock_dev_handler_ops.write(d, 0, fz_u8(&f) & 0x3f,
			    1u << (fz_u8(&f) % 4), fz_u32(&f));
			break;
		case 1: {	/* any command, any arguments */
			uint32_t c = fz_u8(&f), a0 = (uint32_t)(RAM_GPA +
			    fz_u16(&f) * 64u), a1 = fz_u8(&f) ? 0 : fz_u32(&f),
			    a2 = fz_u8(&f) % 70;

			if (a1 == 0 && a0 - RAM_GPA < RAM_SIZE)
				allow(a0 - RAM_GPA, MIN((uint64_t)a0 - RAM_GPA +
				    a2 * HCVS_MSG_SLOT_SIZE, (uint64_t)RAM_SIZE));
			cmd(d, c, a0, a1, a2);
			break;
		}
		case 2:	/* a call in some slot of the harness's table */
			write_slot(&f, TAB_OFF + (fz_u8(&f) % 64) *
			    HCVS_MSG_SLOT_SIZE);
			break;
		case 3:
			reg_w(d, HCVS_REG_DOORBELL, 1);
			break;
		case 4:
			reg_w(d, HCVS_REG_DOORBELL_SYNC, 1);
			break;
		case 5:	/* host events */
			sc.requests += fz_u8(&f) & 1;
			if (fz_u8(&f) & 1)
				sc.gone[fz_u8(&f) % NMIDS] = true;
			sc.now += fz_u8(&f);
			sc.news = true;
			(void)vsock_dev_process(d);
			break;
		case 6:
			/* Or the daemon's wake: the pass ahead, then the read. */
			if (fz_u8(&f) & 1) {
				(void)vsock_dev_kick_ahead(d);
				(void)vsock_dev_kick_again(d);
			} else {
				(void)vsock_dev_kick(d);
			}
			break;
		case 7:	/* the guest scribbles on its own memory */
			ram[fz_u32(&f) % GUEST_HI] = fz_u8(&f);
			break;
		case 8:	/* the guest reuses a slot the host holds */
			fz_wr32(ram, TAB_OFF + (fz_u8(&f) % 64) * HCVS_MSG_SLOT_SIZE,
			    HCVS_MSG_S_SUBMITTED);
			break;
		case 9:
			vsock_dev_reset(d);
			break;
		case 10: /* crash recovery: export, a new device, import */
			vsock_dev_export(d, &st);
			if (fz_u8(&f) & 1)
				st.st_status ^= fz_u8(&f) & 0x3f;
			if (fz_u8(&f) & 1)
				st.st_mbox_size ^= fz_u32(&f);
			if (st.st_mbox_gpa - RAM_GPA < RAM_SIZE)
				allow(st.st_mbox_gpa - RAM_GPA,
				    MIN(st.st_mbox_gpa - RAM_GPA +
				    st.st_mbox_size, (uint64_t)RAM_SIZE));
			vsock_dev_free(d);
			d = NULL;
			fz_check(vsock_dev_new(&dc, &d) == 0);
			/* A refused state leaves the device reset. */
			if (vsock_dev_import(d, &st) < 0)
				fz_check(vsock_dev_peek_reg(d,
				    HCVS_REG_STATUS) == 0);
			break;
		case 11:
			vsock_dev_going_away(d);
			break;
		}
		check_device(d);
	}
	note_slots(d);
	check_memory();
	vsock_dev_free(d);
	return 0;
}
