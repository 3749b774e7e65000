/* SPDX-License-Identifier: MIT */
/*
 * Protocol MSG (docs/PROTOCOL.md §15): MigTD's vmcall-raw calls
 * (TDG.VP.VMCALL<MigTD>: WaitForRequest, ReportStatus, Send, Receive)
 * through a table of call slots in guest memory, completed in the
 * guest's [u64 status][u32 length][payload] buffers, on migration
 * sessions of the session backend (vsock_backend.h).
 *
 * A slot's 64 bytes are copied once when its STATE reads SUBMITTED and
 * validated; the host then owns the slot until it writes DONE.  While a
 * call is in progress the host keeps its own copy and never re-reads the
 * slot.  A Send that finds the host side full is retried later: its
 * payload is read from the buffer again at that attempt (and only the
 * attempt that succeeds is delivered).
 */

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/vsock_backend.h"
#include "vsock/vsock_proto.h"
#include "vsock/vsock_wire.h"

struct msg_call {
	bool		 c_used;
	uint32_t	 c_fn;
	uint32_t	 c_flags;
	uint32_t	 c_buf_len;
	uint32_t	 c_data_len;	/* Send / ReportStatus payload */
	uint64_t	 c_buf_gpa;
	uint64_t	 c_mid;
	uint64_t	 c_report;
	int64_t		 c_deadline;	/* 0: none */
	uint64_t	 c_seq;		/* order taken */
};

struct msg {
	struct vsock_dev	*m_dev;
	const struct vsock_msg_backend_ops *m_be;
	void			*m_be_arg;
	uint64_t		 m_tab_gpa;
	uint32_t		 m_nslots;
	uint32_t		 m_busy;	/* calls in progress */
	bool			 m_kick;	/* a doorbell: scan the table */
	uint32_t		 m_isr;		/* completions to notify */
	/*
	 * The orderly-stop notice was given (every call in progress ended
	 * with CANCEL): no call is taken or run again until RESET.
	 */
	bool			 m_gone;
	uint64_t		 m_seq;
	struct msg_call		 m_calls[HCVS_MSG_MAX_SLOTS];
	uint8_t			*m_buf;		/* one payload */
};

/* ---- Guest memory ---------------------------------------------------------- */

static uint64_t
slot_gpa(const struct msg *m, uint32_t i)
{
	return m->m_tab_gpa + (uint64_t)i * HCVS_MSG_SLOT_SIZE;
}

static int
slot_put32(struct msg *m, uint32_t i, uint32_t off, uint32_t v)
{
	uint32_t le = htole32(v);

	return ioreq_mem_write(m->m_dev->d_mem, slot_gpa(m, i) + off, &le,
	    sizeof(le));
}

/* Refused or finished: RESULT, then STATE = DONE after a barrier. */
static void
slot_done(struct msg *m, uint32_t i, uint32_t result)
{
	if (slot_put32(m, i, HCVS_MSG_RESULT, result) < 0) {
		vsock_dev_halt(m->m_dev, HCVS_ERR_MEM_FAULT);
		return;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (slot_put32(m, i, HCVS_MSG_STATE, HCVS_MSG_S_DONE) < 0)
		vsock_dev_halt(m->m_dev, HCVS_ERR_MEM_FAULT);
}

/*
 * The buffer's completion: payload and length first (by the caller),
 * then the status with byte 0 written last after a barrier, so a guest
 * that sees byte 0 change sees everything else of the completion.
 */
static int
buf_status(struct msg *m, const struct msg_call *c, uint64_t status)
{
	uint8_t le[8];
	uint64_t v = htole64(status);

	memcpy(le, &v, sizeof(le));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (ioreq_mem_write(m->m_dev->d_mem, c->c_buf_gpa + 1, le + 1, 7) < 0)
		return -EFAULT;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return ioreq_mem_write(m->m_dev->d_mem, c->c_buf_gpa, le, 1);
}

static void
call_end(struct msg *m, uint32_t i, uint64_t status)
{
	struct msg_call *c = &m->m_calls[i];
	struct vsock_dev *d = m->m_dev;

	if (status == HCVS_MSG_ST_TIMEOUT)
		d->d_st.ds_msg_timeouts++;
	else if (status == HCVS_MSG_ST_CANCEL)
		d->d_st.ds_msg_cancels++;
	if (buf_status(m, c, status) < 0) {
		/* The guest unmapped its own buffer: halt, as for a ring. */
		vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
		return;
	}
	c->c_used = false;
	m->m_busy--;
	slot_done(m, i, HCVS_ERR_OK);
	if (c->c_flags & HCVS_MSG_F_NOTIFY)
		m->m_isr |= HCVS_ISR_MSG;
}

/* Payload and length of a completion that carries data. */
static int
buf_fill(struct msg *m, const struct msg_call *c, const void *p, uint32_t n)
{
	uint32_t le = htole32(n);

	if (n > 0 && ioreq_mem_write(m->m_dev->d_mem,
	    c->c_buf_gpa + HCVS_MSG_BUF_HDR, p, n) < 0)
		return -EFAULT;
	return ioreq_mem_write(m->m_dev->d_mem, c->c_buf_gpa + 8, &le,
	    sizeof(le));
}

/* ---- Validation -------------------------------------------------------------- */

static bool
report_ok(uint64_t v)
{
	uint32_t pre = v & 0xff, code = (v >> 8) & 0xff;

	/*
	 * GHCI: byte 0 pre-migration status (0 success, 1 failure), byte 1
	 * MigTD's error code (0..12 or 0xFF; tdx-tdcall refuses 0x0D..0xFE),
	 * the rest reserved.
	 */
	return (v >> 16) == 0 && pre <= 1 && (code <= 12 || code == 0xff);
}

static uint32_t
call_check(struct msg *m, const uint8_t s[HCVS_MSG_SLOT_SIZE],
    struct msg_call *c)
{
	struct ioreq_mem *mem = m->m_dev->d_mem;
	uint8_t probe, hl[4];
	uint64_t end;

	memset(c, 0, sizeof(*c));
	c->c_fn = vsock_le32(s + HCVS_MSG_FUNCTION);
	c->c_flags = vsock_le32(s + HCVS_MSG_FLAGS);
	c->c_buf_gpa = vsock_le64(s + HCVS_MSG_BUF_GPA);
	c->c_buf_len = vsock_le32(s + HCVS_MSG_BUF_LEN);
	c->c_mid = vsock_le64(s + HCVS_MSG_MID);
	c->c_report = vsock_le64(s + HCVS_MSG_REPORT);
	if (c->c_fn < HCVS_MSG_FN_WAIT_FOR_REQUEST ||
	    c->c_fn > HCVS_MSG_FN_RECEIVE ||
	    (c->c_flags & ~HCVS_MSG_F_NOTIFY) != 0)
		return HCVS_ERR_BAD_ARG;
	for (unsigned i = 0x30; i < HCVS_MSG_SLOT_SIZE; i++)
		if (s[i] != 0)
			return HCVS_ERR_BAD_ARG;
	if (c->c_buf_len < HCVS_MSG_BUF_HDR ||
	    c->c_buf_len > HCVS_MSG_BUF_MAX ||
	    (c->c_fn == HCVS_MSG_FN_RECEIVE &&
	    c->c_buf_len == HCVS_MSG_BUF_HDR))
		return HCVS_ERR_BAD_ARG;
	if ((c->c_buf_gpa & (HCVS_MSG_BUF_ALIGN - 1)) != 0)
		return HCVS_ERR_BAD_ADDRESS;
	end = c->c_buf_gpa + c->c_buf_len - 1;
	if (end < c->c_buf_gpa || ioreq_mem_read(mem, c->c_buf_gpa, &probe,
	    1) < 0 || ioreq_mem_read(mem, end, &probe, 1) < 0)
		return HCVS_ERR_BAD_ADDRESS;
	if (c->c_fn == HCVS_MSG_FN_WAIT_FOR_REQUEST) {
		if (c->c_mid != 0 || c->c_report != 0)
			return HCVS_ERR_BAD_ARG;
	} else {
		if (c->c_fn != HCVS_MSG_FN_REPORT_STATUS && c->c_report != 0)
			return HCVS_ERR_BAD_ARG;
		if (m->m_be->lookup(m->m_be_arg, c->c_mid) < 0)
			return HCVS_ERR_UNKNOWN_ID;
	}
	if (c->c_fn == HCVS_MSG_FN_REPORT_STATUS && !report_ok(c->c_report))
		return HCVS_ERR_BAD_ARG;
	if (c->c_fn == HCVS_MSG_FN_SEND ||
	    c->c_fn == HCVS_MSG_FN_REPORT_STATUS) {
		/* The length the guest put in its buffer: read once, here. */
		if (ioreq_mem_read(mem, c->c_buf_gpa + 8, hl, sizeof(hl)) < 0)
			return HCVS_ERR_BAD_ADDRESS;
		c->c_data_len = vsock_le32(hl);
		if (c->c_data_len > c->c_buf_len - HCVS_MSG_BUF_HDR)
			return HCVS_ERR_BAD_ARG;
	}
	return HCVS_ERR_OK;
}

/* ---- Progress ------------------------------------------------------------------ */

/* An earlier Send or ReportStatus of the same session still waits. */
static bool
older_pending(const struct msg *m, const struct msg_call *c)
{
	for (uint32_t i = 0; i < m->m_nslots; i++) {
		const struct msg_call *o = &m->m_calls[i];

		if (o->c_used && o != c && o->c_mid == c->c_mid &&
		    o->c_seq < c->c_seq && (o->c_fn == HCVS_MSG_FN_SEND ||
		    o->c_fn == HCVS_MSG_FN_REPORT_STATUS))
			return true;
	}
	return false;
}

/* Try to finish call i now; it stays in progress if it cannot. */
static void
call_run(struct msg *m, uint32_t i, int64_t now)
{
	struct msg_call *c = &m->m_calls[i];
	struct vsock_dev *d = m->m_dev;
	uint32_t op, len, max = c->c_buf_len - HCVS_MSG_BUF_HDR;
	long n;
	int rc;

	switch (c->c_fn) {
	case HCVS_MSG_FN_WAIT_FOR_REQUEST:
		rc = m->m_be->take_request(m->m_be_arg, &op, m->m_buf, max,
		    &len);
		if (rc == 1) {
			if (buf_fill(m, c, m->m_buf, len) < 0)
				goto fault;
			call_end(m, i, HCVS_MSG_ST_SUCCESS |
			    ((uint64_t)(op & 0xff) << 8));
			return;
		}
		break;
	case HCVS_MSG_FN_RECEIVE:
		n = m->m_be->recv(m->m_be_arg, c->c_mid, m->m_buf, max);
		if (n > 0) {
			if (buf_fill(m, c, m->m_buf, (uint32_t)n) < 0)
				goto fault;
			d->d_st.ds_msg_rx_bytes += (uint64_t)n;
			call_end(m, i, HCVS_MSG_ST_SUCCESS);
			return;
		}
		if (n != -EAGAIN) {
			call_end(m, i, HCVS_MSG_ST_CANCEL);
			return;
		}
		break;
	case HCVS_MSG_FN_SEND:
	case HCVS_MSG_FN_REPORT_STATUS:
		/* A session's bytes and its report keep the order they came in. */
		if (older_pending(m, c))
			break;
		if (c->c_data_len > 0 && ioreq_mem_read(d->d_mem,
		    c->c_buf_gpa + HCVS_MSG_BUF_HDR, m->m_buf,
		    c->c_data_len) < 0)
			goto fault;
		if (c->c_fn == HCVS_MSG_FN_REPORT_STATUS) {
			rc = m->m_be->report(m->m_be_arg, c->c_mid,
			    c->c_report, m->m_buf, c->c_data_len);
			call_end(m, i, rc == 0 ? HCVS_MSG_ST_SUCCESS :
			    HCVS_MSG_ST_CANCEL);
			return;
		}
		n = m->m_be->send(m->m_be_arg, c->c_mid, m->m_buf,
		    c->c_data_len);
		if (n >= 0) {
			d->d_st.ds_msg_tx_bytes += c->c_data_len;
			call_end(m, i, HCVS_MSG_ST_SUCCESS);
			return;
		}
		if (n != -EAGAIN) {
			call_end(m, i, HCVS_MSG_ST_CANCEL);
			return;
		}
		break;
	default:
		break;
	}
	if (c->c_deadline != 0 && now >= c->c_deadline) {
		call_end(m, i, HCVS_MSG_ST_TIMEOUT);
		return;
	}
	if (c->c_deadline != 0)
		m->m_be->wake_at(m->m_be_arg, c->c_deadline);
	return;
fault:
	vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
}

/* Slot i reads SUBMITTED: take the call over or refuse it. */
static void
slot_take(struct msg *m, uint32_t i, int64_t now)
{
	struct vsock_dev *d = m->m_dev;
	uint8_t s[HCVS_MSG_SLOT_SIZE];
	struct msg_call c;
	uint32_t rc, tmo;

	if (ioreq_mem_read(d->d_mem, slot_gpa(m, i), s, sizeof(s)) < 0) {
		vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
		return;
	}
	/* The state read before, not this copy's, decided: one copy only. */
	rc = call_check(m, s, &c);
	if (rc != HCVS_ERR_OK) {
		d->d_st.ds_msg_refused++;
		log_ratelimited(&d->d_rl, LOG_WARNING,
		    "%s: MSG call in slot %u (function %u) refused: %u",
		    d->d_name, i, c.c_fn, rc);
		slot_done(m, i, rc);
		return;
	}
	tmo = vsock_le32(s + HCVS_MSG_TIMEOUT_MS);
	if (tmo != 0)
		c.c_deadline = now + tmo;
	c.c_used = true;
	c.c_seq = ++m->m_seq;
	m->m_calls[i] = c;
	m->m_busy++;
	d->d_st.ds_msg_calls++;
	if (slot_put32(m, i, HCVS_MSG_STATE, HCVS_MSG_S_ACCEPTED) < 0) {
		vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
		return;
	}
	call_run(m, i, now);
}

static void
scan(struct msg *m, int64_t now)
{
	uint32_t le;

	for (uint32_t i = 0; i < m->m_nslots && vsock_dev_runnable(m->m_dev);
	    i++) {
		if (m->m_calls[i].c_used)
			continue;	/* ours until DONE, whatever STATE says */
		if (ioreq_mem_read(m->m_dev->d_mem,
		    slot_gpa(m, i) + HCVS_MSG_STATE, &le, sizeof(le)) < 0) {
			vsock_dev_halt(m->m_dev, HCVS_ERR_MEM_FAULT);
			return;
		}
		if (le32toh(le) != HCVS_MSG_S_SUBMITTED)
			continue;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		slot_take(m, i, now);
	}
}

/* Every call in progress, oldest first. */
static void
run_in_order(struct msg *m, int64_t now)
{
	uint32_t order[HCVS_MSG_MAX_SLOTS], n = 0, j, t;

	for (uint32_t i = 0; i < m->m_nslots; i++) {
		if (!m->m_calls[i].c_used)
			continue;
		for (j = n++; j > 0 && m->m_calls[order[j - 1]].c_seq >
		    m->m_calls[i].c_seq; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	for (t = 0; t < n && vsock_dev_runnable(m->m_dev); t++)
		if (m->m_calls[order[t]].c_used)
			call_run(m, order[t], now);
}

/*
 * One pass: every call in progress (unless `only_new`), then new calls if
 * a doorbell rang.
 */
static int
run_pass(struct msg *m, bool only_new)
{
	struct vsock_dev *d = m->m_dev;
	int64_t now;
	bool kick = m->m_kick;

	m->m_kick = false;
	if (!vsock_dev_runnable(d) || m->m_gone)
		return 0;
	d->d_st.ds_passes++;
	now = m->m_be->now_ms(m->m_be_arg);
	if (!only_new) {
		m->m_be->ack_news(m->m_be_arg);
		run_in_order(m, now);
	}
	if (kick)
		scan(m, now);
	if (m->m_isr != 0 && vsock_dev_runnable(d)) {
		vsock_dev_notify(d, m->m_isr);
		m->m_isr = 0;
	}
	return 0;
}

/* ---- Protocol operations -------------------------------------------------------- */

static uint32_t
msg_cmd(void *p, uint32_t cmd)
{
	struct msg *m = p;
	struct vsock_dev *d = m->m_dev;
	const uint32_t *a = d->d_args;
	uint64_t gpa, end;
	uint8_t probe;

	switch (cmd) {
	case HCVS_CMD_MSG_SET_CALLS:
		if (d->d_status & HCVS_STATUS_LIVE)
			return HCVS_ERR_BAD_STATE;
		gpa = ((uint64_t)a[1] << 32) | a[0];
		if (a[2] == 0 || a[2] > HCVS_MSG_MAX_SLOTS)
			return HCVS_ERR_BAD_ARG;
		end = gpa + (uint64_t)a[2] * HCVS_MSG_SLOT_SIZE - 1;
		if ((gpa & (HCVS_MSG_TABLE_ALIGN - 1)) != 0 || end < gpa ||
		    ioreq_mem_read(d->d_mem, gpa, &probe, 1) < 0 ||
		    ioreq_mem_read(d->d_mem, end, &probe, 1) < 0)
			return HCVS_ERR_BAD_ADDRESS;
		m->m_tab_gpa = gpa;
		m->m_nslots = a[2];
		d->d_status |= HCVS_STATUS_MAILBOX;
		d->d_changed = true;
		return HCVS_ERR_OK;
	case HCVS_CMD_ENABLE:
		/* Calls submitted before ENABLE. */
		return vsock_dev_enable(d, &m->m_kick);
	case HCVS_CMD_SET_FEATURES:
	case HCVS_CMD_SET_MAILBOX:
		return HCVS_ERR_BAD_STATE;	/* RING's: the guest chose MSG */
	default:
		return cmd >= HCVS_CMD_MSG_FIRST && cmd <= HCVS_CMD_MSG_LAST ?
		    HCVS_ERR_BAD_ARG : HCVS_ERR_UNKNOWN_CMD;
	}
}

static void
msg_doorbell(void *p, bool sync)
{
	struct msg *m = p;

	m->m_kick = true;
	if (sync) {
		m->m_dev->d_st.ds_sync_kicks++;
		(void)run_pass(m, false);
	}
}

static int
msg_kick(void *p, bool again)
{
	struct msg *m = p;

	/*
	 * No producer index to compare: a call posted since needs the scan.
	 * The calls in progress ran in the pass ahead a moment ago; news
	 * for them since is the backend's wake-up's to run.
	 */
	m->m_kick = true;
	return run_pass(m, again);
}

static bool
msg_pending(const void *p)
{
	const struct msg *m = p;

	return !m->m_gone && (m->m_kick ||
	    (m->m_busy > 0 && m->m_be->has_news(m->m_be_arg)));
}

static int
msg_process(void *p)
{
	return run_pass(p, false);
}

static bool
msg_offered(const struct vsock_dev_cfg *cfg)
{
	return cfg->msg_backend != NULL;
}

static int
msg_init(void *p, struct vsock_dev *d, const struct vsock_dev_cfg *cfg)
{
	struct msg *m = p;

	m->m_dev = d;
	m->m_be = cfg->msg_backend;
	m->m_be_arg = cfg->msg_backend_arg;
	m->m_buf = malloc(HCVS_MSG_BUF_MAX);
	return m->m_buf != NULL ? 0 : -ENOMEM;
}

static void
msg_fini(void *p)
{
	free(((struct msg *)p)->m_buf);
}

static void
msg_reset(void *p)
{
	struct msg *m = p;

	memset(m->m_calls, 0, sizeof(m->m_calls));
	m->m_busy = 0;
	m->m_tab_gpa = 0;
	m->m_nslots = 0;
	m->m_kick = false;
	m->m_gone = false;
	m->m_isr = 0;
	m->m_be->reset(m->m_be_arg);
}

static void
msg_halted(void *p, uint32_t err)
{
	(void)p;
	(void)err;
}

/* Every call in progress ends with CANCEL: the host side is going. */
static void
cancel_all(struct msg *m)
{
	for (uint32_t i = 0; i < m->m_nslots && m->m_busy > 0; i++)
		if (m->m_calls[i].c_used)
			call_end(m, i, HCVS_MSG_ST_CANCEL);
	m->m_isr = 0;	/* the window's ISR.RESET notification follows */
}

static void
msg_going_away(void *p)
{
	struct msg *m = p;

	cancel_all(m);
	m->m_gone = true;
}

static void
msg_export(const void *p, struct vsock_dev_state *st)
{
	const struct msg *m = p;

	st->st_mbox_gpa = m->m_tab_gpa;
	st->st_mbox_size = m->m_nslots * HCVS_MSG_SLOT_SIZE;
}

static bool
msg_state_ok(const void *p, const struct vsock_dev_state *st)
{
	uint32_t s = st->st_status;

	(void)p;
	if (st->st_features != 0 || (s & HCVS_STATUS_FEATURES) ||
	    ((s & HCVS_STATUS_LIVE) && !(s & HCVS_STATUS_MAILBOX)))
		return false;
	if ((s & HCVS_STATUS_MAILBOX) && (st->st_mbox_size == 0 ||
	    st->st_mbox_size % HCVS_MSG_SLOT_SIZE != 0 ||
	    st->st_mbox_size > HCVS_MSG_MAX_SLOTS * HCVS_MSG_SLOT_SIZE))
		return false;
	return true;
}

/*
 * After a crash the sessions are gone with the old daemon's sockets:
 * calls the guest sees ACCEPTED end with CANCEL (their slots re-read and
 * re-validated once), and the window's ISR.RESET follows.
 */
static uint32_t
msg_import(void *p, const struct vsock_dev_state *st)
{
	struct msg *m = p;
	struct vsock_dev *d = m->m_dev;
	uint8_t s[HCVS_MSG_SLOT_SIZE];
	struct msg_call c;
	uint32_t le;
	uint64_t gpa = st->st_mbox_gpa;

	if (!(st->st_status & HCVS_STATUS_MAILBOX))
		return HCVS_ERR_OK;
	d->d_args[0] = (uint32_t)gpa;
	d->d_args[1] = (uint32_t)(gpa >> 32);
	d->d_args[2] = st->st_mbox_size / HCVS_MSG_SLOT_SIZE;
	le = msg_cmd(m, HCVS_CMD_MSG_SET_CALLS);
	memset(d->d_args, 0, sizeof(d->d_args));
	if (le != HCVS_ERR_OK)
		return le;
	for (uint32_t i = 0; i < m->m_nslots; i++) {
		if (ioreq_mem_read(d->d_mem, slot_gpa(m, i), s, sizeof(s)) < 0)
			return HCVS_ERR_MEM_FAULT;
		if (vsock_le32(s + HCVS_MSG_STATE) != HCVS_MSG_S_ACCEPTED)
			continue;
		memset(&c, 0, sizeof(c));
		c.c_buf_gpa = vsock_le64(s + HCVS_MSG_BUF_GPA);
		c.c_buf_len = vsock_le32(s + HCVS_MSG_BUF_LEN);
		if ((c.c_buf_gpa & (HCVS_MSG_BUF_ALIGN - 1)) != 0 ||
		    c.c_buf_len < HCVS_MSG_BUF_HDR ||
		    c.c_buf_len > HCVS_MSG_BUF_MAX ||
		    buf_status(m, &c, HCVS_MSG_ST_CANCEL) < 0) {
			slot_done(m, i, HCVS_ERR_BAD_ADDRESS);
			continue;
		}
		d->d_st.ds_msg_cancels++;
		slot_done(m, i, HCVS_ERR_OK);
	}
	if (st->st_status & HCVS_STATUS_LIVE) {
		d->d_status |= HCVS_STATUS_LIVE;
		m->m_kick = true;
	}
	return HCVS_ERR_OK;
}

static void
msg_info(const void *p, struct vsock_dev_info *di)
{
	const struct msg *m = p;

	di->di_mbox_gpa = m->m_tab_gpa;
	di->di_mbox_size = m->m_nslots * HCVS_MSG_SLOT_SIZE;
}

static void
msg_dump(const void *p, void (*cb)(void *arg, const char *line), void *arg)
{
	const struct msg *m = p;
	const struct vsock_dev_stats *s = &m->m_dev->d_st;
	char line[256];

	snprintf(line, sizeof(line),
	    "%s: msg calls %#" PRIx64 " x%u busy %u; accepted %" PRIu64
	    " refused %" PRIu64 " timeouts %" PRIu64 " cancels %" PRIu64
	    " tx %" PRIu64 " B rx %" PRIu64 " B", m->m_dev->d_name,
	    m->m_tab_gpa, m->m_nslots, m->m_busy, s->ds_msg_calls,
	    s->ds_msg_refused, s->ds_msg_timeouts, s->ds_msg_cancels,
	    s->ds_msg_tx_bytes, s->ds_msg_rx_bytes);
	cb(arg, line);
}

const struct vsock_proto_ops vsock_msg_proto = {
	.po_id = HCVS_PROTO_MSG,
	.po_offered = msg_offered,
	.po_size = sizeof(struct msg),
	.po_init = msg_init,
	.po_fini = msg_fini,
	.po_reset = msg_reset,
	.po_cmd = msg_cmd,
	.po_doorbell = msg_doorbell,
	.po_kick = msg_kick,
	.po_pending = msg_pending,
	.po_process = msg_process,
	.po_halted = msg_halted,
	.po_going_away = msg_going_away,
	.po_export = msg_export,
	.po_state_ok = msg_state_ok,
	.po_import = msg_import,
	.po_info = msg_info,
	.po_dump = msg_dump,
};
