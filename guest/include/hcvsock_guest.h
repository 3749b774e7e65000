/* SPDX-License-Identifier: MIT */
/*
 * hcvsock guest driver: a freestanding vsock client for the hcvsock
 * device (docs/PROTOCOL.md).  No libc, no allocation, no global state:
 * the caller provides the driver state, the mailbox memory and the
 * connection table, and a small platform layer for register access,
 * barriers and address translation.  Builds with -ffreestanding for -m32
 * and -m64 (the compiler may still emit memcpy/memset calls unless
 * -fno-tree-loop-distribute-patterns is given).
 *
 * Single-threaded: the caller serialises every call, including
 * hcvg_irq() (run it from the interrupt handler only if the rest of the
 * program does not use the driver concurrently, or just poll).
 *
 * Functions return 0 or a non-negative count on success, a negative
 * HCVG_E* code on failure.  Blocking calls give up after
 * cfg.wait_limit calls of platform.wait() with -HCVG_ETIMEDOUT.
 */
#ifndef HCVSOCK_GUEST_H
#define HCVSOCK_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "hcvsock_abi.h"

/* Errors (Linux errno values, negated on return). */
#define HCVG_ENOENT		2
#define HCVG_EIO		5
#define HCVG_EAGAIN		11
#define HCVG_ENODEV		19
#define HCVG_EINVAL		22
#define HCVG_EMFILE		24
#define HCVG_ENOSPC		28
#define HCVG_EPIPE		32
#define HCVG_EPROTO		71
#define HCVG_EMSGSIZE		90
#define HCVG_EADDRINUSE		98
#define HCVG_ECONNRESET		104
#define HCVG_ENOTCONN		107
#define HCVG_ETIMEDOUT		110
#define HCVG_ECONNREFUSED	111
#define HCVG_ECANCELED		125

/* Per-connection receive buffer = the buf_alloc we advertise. */
#ifndef HCVG_CONN_BUF
#define HCVG_CONN_BUF		16384u
#endif
#define HCVG_MAX_LISTEN		8u

/* Socket types (virtio-vsock's numbers). */
#define HCVG_STREAM		1u
#define HCVG_SEQPACKET		2u

/* hcvg_recv_msg() flags. */
#define HCVG_MSG_TRUNC		1u	/* the message was longer than len */

/*
 * The platform.  reg_read/reg_write access the 32-bit register at `off`
 * of the window (port I/O or MMIO: the platform knows which and where).
 * Optional members may be NULL: mb defaults to a full compiler+CPU fence,
 * virt_to_phys to identity, wait to nothing (pure spinning).  wait() is
 * called in every blocking loop once the driver found nothing to do:
 * pause, halt until an interrupt, or (in tests) let the host side run.
 * A wait() that halts must not miss the interrupt that came between the
 * driver's look and the halt: return at once if one came since the
 * previous wait() (a flag the handler sets, tested with interrupts off
 * just before `sti; hlt`), or the guest sleeps until some other interrupt.
 */
struct hcvg_platform {
	void		*ctx;
	uint32_t	(*reg_read)(void *ctx, uint32_t off);
	void		(*reg_write)(void *ctx, uint32_t off, uint32_t val);
	void		(*mb)(void *ctx);
	uint64_t	(*virt_to_phys)(void *ctx, const void *p);
	void		(*wait)(void *ctx);
	/*
	 * Optional (Xen): EVTCHNOP_send on `port`; 0 sent, else the
	 * driver rings DOORBELL instead (hcvsock_guest_xen.h has one).
	 */
	int		(*evtchn_send)(void *ctx, uint32_t port);
	/*
	 * Optional: nonzero if the next wait() sleeps until an interrupt,
	 * 0 if it only spins (a platform that polls a while before it
	 * halts).  With cfg.rx_irq_in_wait, RX interrupts come on only for
	 * a wait() that sleeps; NULL: for every wait().
	 */
	int		(*will_sleep)(void *ctx);
};

enum hcvg_state {
	HCVG_S_FREE = 0,
	HCVG_S_CONNECTING,
	HCVG_S_ESTABLISHED,
	HCVG_S_CLOSED,		/* reset or refused; hcvg_close() frees */
};

/* One connection.  Opaque to callers: use the functions below. */
struct hcvg_conn {
	uint8_t		c_state;
	uint8_t		c_peer_shut;	/* VSOCK shutdown bits from the peer */
	uint8_t		c_local_shut;	/* bits we sent */
	uint8_t		c_reset;	/* the peer sent RST */
	uint8_t		c_accept;	/* waiting in the accept queue */
	uint8_t		c_credit_req;	/* CREDIT_REQUEST outstanding */
	uint8_t		c_host_wait;	/* host asked for credit: ring */
	uint8_t		c_skip;		/* SEQPACKET: drop up to the next EOM */
	uint16_t	c_type;
	uint32_t	c_lport;
	uint32_t	c_rport;
	uint64_t	c_rcid;
	uint32_t	c_peer_buf;
	uint32_t	c_peer_fwd;
	uint32_t	c_tx_cnt;
	uint32_t	c_fwd_cnt;
	uint32_t	c_fwd_sent;	/* fwd_cnt last advertised */
	uint32_t	c_rx_head;
	uint32_t	c_rx_len;
	/* SEQPACKET: bit i set = c_rx[i] ends a message (EOM). */
	uint8_t		c_rx_eom[HCVG_CONN_BUF / 8];
	uint8_t		c_rx[HCVG_CONN_BUF];	/* last: not zeroed on reuse */
};

struct hcvg_stats {
	uint32_t	gs_tx_pkts;
	uint32_t	gs_rx_pkts;
	uint32_t	gs_rst_rx;
	uint32_t	gs_rst_tx;
	uint32_t	gs_bad_rx;	/* malformed packets from the host */
	uint32_t	gs_dropped;	/* control packets lost: TX ring full */
	uint32_t	gs_kicks;
	uint32_t	gs_resets;	/* transport resets seen */
	uint32_t	gs_evtchn_kicks;	/* of gs_kicks, by event channel */
};

struct hcvg {
	const struct hcvg_platform *g_p;
	uint8_t		*g_mb;
	uint32_t	 g_tx_slots;
	uint32_t	 g_rx_slots;
	uint32_t	 g_slot_size;
	uint32_t	 g_tx_prod;
	uint32_t	 g_rx_cons;
	uint32_t	 g_epoch;
	uint32_t	 g_features;
	uint32_t	 g_irq_mode;
	uint32_t	 g_gflags;	/* GUEST_FLAGS as last written */
	int		 g_rx_irq_in_wait;
	uint32_t	 g_wait_limit;
	uint32_t	 g_next_port;
	uint64_t	 g_cid;
	int		 g_sync;
	int		 g_error;	/* device halted: ERROR code */
	struct hcvg_conn *g_conns;
	unsigned	 g_nconns;
	uint32_t	 g_listen[HCVG_MAX_LISTEN];
	uint16_t	 g_listen_type[HCVG_MAX_LISTEN];
	unsigned	 g_nlisten;
	int		 g_in_poll;
	int		 g_kick_due;	/* TX published, doorbell deferred */
	int		 g_lazy;	/* LAZY_CREDIT negotiated */
	int		 g_unrung;	/* lazy entries no doorbell covered yet */
	uint32_t	 g_kick_port;	/* EVTCHN_KICK negotiated: its port */
	struct hcvg_stats g_st;
};

struct hcvg_cfg {
	const struct hcvg_platform *plat;
	void		*mem;		/* mailbox, 64-byte aligned */
	uint32_t	 mem_size;
	uint32_t	 tx_slots;	/* power of two; 0 = 8 */
	uint32_t	 rx_slots;	/* power of two; 0 = 8 */
	uint32_t	 slot_size;	/* 0 = 4096 */
	struct hcvg_conn *conns;
	unsigned	 nconns;
	uint32_t	 irq_mode;	/* HCVS_IRQ_*, 0 = poll */
	uint32_t	 irq_args[3];	/* ARG1..ARG3 of SET_NOTIFY */
	int		 sync_doorbell;	/* use DOORBELL_SYNC if offered */
	/*
	 * Ring by event channel (EVTCHN_KICK) when irq_mode is EVTCHN, the
	 * host offers it, plat->evtchn_send is set and sync_doorbell is
	 * not; otherwise the register doorbell.
	 */
	int		 evtchn_kick;
	/*
	 * With irq_mode set: RX interrupts only while a blocking call
	 * sleeps, as a NAPI driver takes them.  GUEST_FLAGS.RX_NO_IRQ stays
	 * up while the driver runs; before a wait() for RX that sleeps
	 * (plat->will_sleep) it comes down, with a full barrier and a last
	 * look at RX_PROD (no wait if entries came), and goes up again
	 * after.  A program that learns of RX from interrupts outside the
	 * driver's blocking calls leaves this 0: RX interrupts whenever the
	 * host publishes.
	 */
	int		 rx_irq_in_wait;
	uint32_t	 wait_limit;	/* 0 = 1000000 */
};

/* Bytes of mailbox memory a geometry needs. */
static inline uint32_t
hcvg_mem_needed(uint32_t tx_slots, uint32_t rx_slots, uint32_t slot_size)
{
	return HCVS_MBOX_HDR_SIZE + (tx_slots + rx_slots) * slot_size;
}

/* 0 and *version if a device answers; -HCVG_ENODEV (all-ones: no
 * backend yet, or nothing there); -HCVG_EPROTO for an unknown major. */
int	hcvg_probe(const struct hcvg_platform *p, uint32_t *version);

/*
 * The Xen domain that serves the window, the remote domain for
 * EVTCHNOP_alloc_unbound: GET_BACKEND, or 0 from a host before 1.3.
 * -HCVG_ENODEV where the host offers no event channels.
 */
int	hcvg_backend_domain(const struct hcvg_platform *p, uint32_t *domid);

/* Probe, reset, negotiate, announce the mailbox, enable. */
int	hcvg_init(struct hcvg *g, const struct hcvg_cfg *cfg);
/* RESET the device; connections and listeners are forgotten. */
void	hcvg_fini(struct hcvg *g);

uint64_t hcvg_cid(const struct hcvg *g);

/* Process the RX ring. Returns packets handled or -HCVG_EIO (halted). */
int	hcvg_poll(struct hcvg *g);
/* Interrupt handler body: acknowledge ISR, then poll. Returns ISR. */
uint32_t hcvg_irq(struct hcvg *g);

/* Listen for STREAM connections (hcvg_listen_type for SEQPACKET). */
int	hcvg_listen(struct hcvg *g, uint32_t port);
/*
 * Listen on port for connections of one type, HCVG_STREAM or
 * HCVG_SEQPACKET (-HCVG_EINVAL unless the device offered SEQPACKET).  A
 * REQUEST of the other type is refused (RST).  One listener per port.
 */
int	hcvg_listen_type(struct hcvg *g, uint32_t port, uint16_t type);
/* Stop listening; connections already accepted or queued stay. */
int	hcvg_unlisten(struct hcvg *g, uint32_t port);
/* A connection id, or -HCVG_EAGAIN (nonblock) / -HCVG_ETIMEDOUT. */
int	hcvg_accept(struct hcvg *g, uint32_t port, int nonblock);
/*
 * Connect to (CID 2, port).  nonblock: returns the id in state
 * CONNECTING at once; hcvg_state() tells when it is ESTABLISHED.
 */
int	hcvg_connect(struct hcvg *g, uint32_t port, int nonblock);
/* The same for a type, HCVG_STREAM or HCVG_SEQPACKET. */
int	hcvg_connect_type(struct hcvg *g, uint32_t port, uint16_t type,
	    int nonblock);
enum hcvg_state hcvg_state(const struct hcvg *g, int id);

/*
 * Send up to len bytes; blocking sends everything unless an error or
 * the wait limit stops it (then the count so far, or the error if
 * nothing went).  nonblock: as much as credit and ring allow, or
 * -HCVG_EAGAIN.
 */
long	hcvg_send(struct hcvg *g, int id, const void *buf, uint32_t len,
	    int nonblock);
/*
 * Bytes received; 0 at end of stream (peer SHUTDOWN(SEND) or RST: see
 * hcvg_state); -HCVG_EAGAIN, -HCVG_ENOTCONN.
 */
long	hcvg_recv(struct hcvg *g, int id, void *buf, uint32_t len,
	    int nonblock);

/*
 * SEQPACKET (hcvg_send/hcvg_recv on such a connection act as these).
 * hcvg_send_msg sends buf as one message: len bytes or an error, never
 * part of it.  -HCVG_EMSGSIZE if len exceeds the peer's buffer; an empty
 * message is not carried (returns 0).  nonblock: -HCVG_EAGAIN unless the
 * peer's credit takes the whole message (ring slots are waited for).  A
 * failure in the middle of a message resets the connection.
 * hcvg_recv_msg returns one message: up to len bytes of it, the rest is
 * discarded and *flags (may be NULL) gets HCVG_MSG_TRUNC; a message
 * longer than the receive buffer (HCVG_CONN_BUF) is always truncated.
 * 0 at end of stream, as hcvg_recv.
 */
long	hcvg_send_msg(struct hcvg *g, int id, const void *buf, uint32_t len,
	    int nonblock);
long	hcvg_recv_msg(struct hcvg *g, int id, void *buf, uint32_t len,
	    uint32_t *flags, int nonblock);
/* how: VSOCK shutdown bits, 1 = no more receive, 2 = no more send. */
int	hcvg_shutdown(struct hcvg *g, int id, uint32_t how);
/* Orderly close (SHUTDOWN, wait for the RST, else RST); frees the id. */
int	hcvg_close(struct hcvg *g, int id);

const struct hcvg_stats *hcvg_stats(const struct hcvg *g);

/* ---- Protocol MSG: MigTD's vmcall-raw calls (docs/MIGTD.md) ------------ */

/*
 * The caller's state for protocol MSG: a table of call slots in guest
 * memory (64-byte aligned, nslots * HCVS_MSG_SLOT_SIZE bytes), nothing
 * else.  Each call is one TDG.VP.VMCALL<MigTD>: the caller owns the data
 * buffer ([u64 status][u32 length][payload], 4 KiB aligned, shared with
 * the host) and reads its completion there, as MigTD does.
 */
struct hcvg_msg {
	const struct hcvg_platform *m_p;
	uint8_t		*m_slots;
	uint32_t	 m_nslots;
	uint32_t	 m_wait_limit;
	int		 m_sync;	/* DOORBELL_SYNC for every call */
	uint32_t	 m_irq_mode;
};

struct hcvg_msg_cfg {
	const struct hcvg_platform *plat;
	void		*slots;
	uint32_t	 nslots;	/* 1..HCVS_MSG_MAX_SLOTS */
	/* 1: ring DOORBELL_SYNC (the call is taken before it returns). */
	int		 sync;
	/* SET_NOTIFY: mode and ARG1..ARG3 (0 = poll, HCVS_IRQ_NONE). */
	uint32_t	 irq_mode;
	uint32_t	 irq_args[3];
	uint32_t	 wait_limit;	/* 0 = 1000000 */
};

/* RESET, SET_PROTOCOL 2, MSG_SET_CALLS, SET_NOTIFY, ENABLE. */
int	hcvg_msg_init(struct hcvg_msg *m, const struct hcvg_msg_cfg *cfg);

/*
 * One call, as the TDVMCALL: fn is the GHCI leaf (HCVS_MSG_FN_*), buf
 * and buf_len the data buffer, mid the request id (0 for WaitForRequest),
 * report the ReportStatus value (else 0), timeout_ms 0 for none,
 * notify: ISR.MSG and an interrupt when it completes.  The caller has
 * written the buffer's header: status 0, and for Send and ReportStatus
 * the payload length (payload at buf + 12).
 *
 * Returns when the host has taken or refused the call: the slot number
 * (>= 0; the buffer's status is the completion), or -HCVG_EAGAIN (no
 * free slot: every one holds a call in progress), -HCVG_EINVAL (refused: bad
 * argument or buffer), -HCVG_ENOENT (no session with this mid),
 * -HCVG_ETIMEDOUT (not taken within the wait limit), -HCVG_EIO.
 */
int	hcvg_msg_call(struct hcvg_msg *m, uint32_t fn, uint64_t mid,
	    void *buf, uint32_t buf_len, uint64_t report, uint32_t timeout_ms,
	    int notify);

/*
 * The same call without the doorbell and without waiting: the slot
 * number once it is SUBMITTED, or -HCVG_EAGAIN (no free slot).  Calls
 * submitted together go with one hcvg_msg_kick(), taken in slot order;
 * their refusals show only in the slot (STATE DONE, RESULT).
 */
int	hcvg_msg_submit(struct hcvg_msg *m, uint32_t fn, uint64_t mid,
	    void *buf, uint32_t buf_len, uint64_t report, uint32_t timeout_ms,
	    int notify);
/* Ring the doorbell (DOORBELL_SYNC if the set-up asked for it). */
void	hcvg_msg_kick(struct hcvg_msg *m);

/*
 * The buffer's status once byte 0 left 0: 1 and *status, else 0.
 * Reads the status word once (acquire), as MigTD's poll does.
 */
int	hcvg_msg_done(const void *buf, uint64_t *status);

/*
 * A blocking call: hcvg_msg_call, then wait (platform wait(), wait
 * limit) for the completion.  0 on success with *len the completion's
 * length (Receive, WaitForRequest) and *op its operation
 * (WaitForRequest); -HCVG_ETIMEDOUT for the TIMEOUT status (or the wait
 * limit), -HCVG_ECANCELED for CANCEL, -HCVG_EPROTO for another status or
 * a length beyond the buffer, or hcvg_msg_call's errors.  op and len may
 * be NULL.
 */
int	hcvg_msg_run(struct hcvg_msg *m, uint32_t fn, uint64_t mid, void *buf,
	    uint32_t buf_len, uint64_t report, uint32_t timeout_ms,
	    uint32_t *op, uint32_t *len);

#endif /* HCVSOCK_GUEST_H */
