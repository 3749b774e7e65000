/* SPDX-License-Identifier: MIT */
/*
 * KVM attach: how a VMM hands one guest to hcvsockd (docs/KVM-ATTACH.md).
 *
 * A VMM that backs guest RAM with memfds gives hcvsockd, over an AF_UNIX
 * SOCK_SEQPACKET socket with SCM_RIGHTS, everything the device needs:
 * the RAM regions, the guest CID and register window, ready-made eventfds
 * (an ioeventfd on DOORBELL, an irqfd) or, in-process only, its KVM VM fd
 * (KVM answers VM ioctls only in the creating process), and a page in
 * Xen's ioreq layout plus one eventfd pair per
 * vCPU through which it forwards the exits KVM cannot complete in the
 * kernel (register reads, the synchronous doorbell).  hcvsockd serves
 * that page with the shm request source (attach_source_open).  The same
 * description can be handed over in-process.
 *
 * Layers, each usable alone:
 *   struct attach_desc  - a complete, validated description (fds owned);
 *   attach_sess_*       - the daemon side of the socket protocol;
 *   attach_source_open  - the request source for a description;
 *   attach_server_*     - a listening socket on the event loop that turns
 *                         sessions into guests through callbacks.
 * The VMM's side (attach_vmm_*, attach_fwd_*) is attach_vmm.h, in its own
 * library: hcvsockd does not link it.
 *
 * Functions return 0 or a negative errno unless stated otherwise and
 * never exit.  Guest- and VMM-supplied data is validated before use;
 * anything malformed is refused with -EPROTO (wire) or -EINVAL (values)
 * and a reason in the caller's buffer.  Objects are owned by one thread;
 * attach_fwd_access() may run concurrently for different vCPUs.
 */
#ifndef HCVS_ATTACH_H
#define HCVS_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "ioreq/ioreq.h"

/* ---- Wire format (version 1), host byte order ------------------------- */

#define ATTACH_MAGIC		0x41564348u	/* "HCVA" in memory order */
#define ATTACH_VERSION		1u
#define ATTACH_MAX_MSG		512u	/* header + payload, bytes */
#define ATTACH_MAX_FDS		2u	/* per message */
#define ATTACH_MAX_REGIONS	IOREQ_SHM_MAX_REGIONS
#define ATTACH_MAX_VCPUS	IOREQ_SHM_MAX_VCPUS
#define ATTACH_NAME_MAX		32u
#define ATTACH_REASON_MAX	128u
/* Sessions before START one peer uid may hold (attach_server). */
#define ATTACH_MAX_PENDING_PER_PEER	2u

enum attach_msg_type {
	/* VMM -> hcvsockd */
	ATTACH_MSG_HELLO	= 1,	/* first; no fds */
	ATTACH_MSG_MEM_REGION	= 2,	/* 1 fd: memfd */
	ATTACH_MSG_DEVICE	= 3,	/* no fds */
	ATTACH_MSG_NOTIFY_VM	= 4,	/* 1 fd: the KVM VM fd */
	ATTACH_MSG_NOTIFY_EVENTFDS = 5,	/* 1-2 fds: kick, [irq] */
	ATTACH_MSG_IOREQ_PAGE	= 6,	/* 1 fd: the ioreq page memfd */
	ATTACH_MSG_IOREQ_VCPU	= 7,	/* 2 fds: kick, done */
	ATTACH_MSG_START	= 8,	/* no fds */
	ATTACH_MSG_STATE_PAGE	= 9,	/* 1 fd: the device state memfd */
	/* hcvsockd -> VMM */
	ATTACH_MSG_HELLO_REPLY	= 0x81,
	ATTACH_MSG_RESULT	= 0x82,
};

struct attach_msg_hdr {
	uint32_t	mh_magic;	/* ATTACH_MAGIC */
	uint16_t	mh_version;	/* ATTACH_VERSION */
	uint16_t	mh_type;	/* enum attach_msg_type */
	uint32_t	mh_size;	/* payload bytes after the header */
	uint32_t	mh_nfds;	/* fds attached (SCM_RIGHTS) */
};

struct attach_msg_hello {
	uint32_t	he_flags;	/* 0 */
	uint32_t	he_reserved;	/* 0 */
	char		he_name[ATTACH_NAME_MAX];	/* VMM's name for logs */
};

struct attach_msg_hello_reply {
	uint32_t	hr_version;	/* protocol version spoken */
	uint32_t	hr_features;	/* 0 in version 1 */
};

struct attach_msg_region {
	uint64_t	mr_gpa;		/* page aligned */
	uint64_t	mr_size;	/* page multiple, > 0 */
	uint64_t	mr_offset;	/* page aligned offset in the fd */
	uint32_t	mr_flags;	/* 0 */
	uint32_t	mr_reserved;	/* 0 */
};

#define ATTACH_WINDOW_PIO	0u
#define ATTACH_WINDOW_MMIO	1u

struct attach_msg_device {
	uint64_t	md_cid;		/* 3 .. 0xfffffffe */
	uint64_t	md_window_base;	/* PIO: 4-byte aligned; MMIO: a page */
	uint32_t	md_window_kind;	/* ATTACH_WINDOW_* */
	uint32_t	md_nr_vcpus;	/* 1 .. ATTACH_MAX_VCPUS */
	uint32_t	md_flags;	/* 0 */
	uint32_t	md_reserved;	/* 0 */
};

struct attach_msg_notify_vm {
	uint32_t	nv_flags;	/* 0 */
	uint32_t	nv_reserved;	/* 0 */
};

#define ATTACH_GSI_NONE		UINT32_MAX

struct attach_msg_notify_eventfds {
	/* GSI the irq eventfd is an irqfd for; ATTACH_GSI_NONE: no irq fd. */
	uint32_t	ne_gsi;
	uint32_t	ne_flags;	/* 0 */
};

struct attach_msg_ioreq_page {
	uint32_t	ip_nr_vcpus;	/* = DEVICE's md_nr_vcpus */
	uint32_t	ip_flags;	/* 0 */
};

struct attach_msg_ioreq_vcpu {
	uint32_t	iv_vcpu;	/* 0 .. nr_vcpus - 1, each once */
	uint32_t	iv_reserved;	/* 0 */
};

/*
 * The device state page: a memfd the VMM keeps for the VM's life and
 * hands over at every attach.  hcvsockd records the guest's device
 * state there before it answers any request that changed it, and a
 * later hcvsockd serving the same VM imports it (KVM-ATTACH.md §1).
 */
#define ATTACH_STATE_PAGE	4096u

struct attach_msg_state_page {
	uint32_t	sp_size;	/* ATTACH_STATE_PAGE */
	uint32_t	sp_flags;	/* 0 */
};

struct attach_msg_result {
	int32_t		rs_status;	/* 0 or -errno */
	uint32_t	rs_msg_type;	/* the message that failed, or 0 */
	char		rs_reason[ATTACH_REASON_MAX];	/* NUL-terminated */
};

/* ---- A guest description ----------------------------------------------- */

struct attach_region {
	int		ar_fd;
	uint64_t	ar_gpa;
	uint64_t	ar_size;
	uint64_t	ar_offset;
};

struct attach_desc {
	char		ad_name[ATTACH_NAME_MAX];
	uint64_t	ad_cid;
	enum ioreq_space ad_window_space;
	uint64_t	ad_window_base;
	unsigned	ad_nr_regions;
	struct attach_region ad_regions[ATTACH_MAX_REGIONS];
	/* Notification: a VM fd, or ready-made eventfds, or neither (-1). */
	int		ad_vm_fd;
	int		ad_kick_fd;	/* ioeventfd on DOORBELL, datamatch 1 */
	int		ad_irq_fd;	/* irqfd on ad_irq_gsi */
	uint32_t	ad_irq_gsi;	/* ATTACH_GSI_NONE without ad_irq_fd */
	/* Where the device state is recorded, or -1 (nowhere). */
	int		ad_state_fd;
	/* Forwarded exits. */
	int		ad_page_fd;
	unsigned	ad_nr_vcpus;
	struct ioreq_shm_vcpu ad_vcpus[ATTACH_MAX_VCPUS];
};

/* Every fd -1, every count 0, irq_gsi NONE. */
void	attach_desc_init(struct attach_desc *d);

/*
 * Check a complete description: values, alignment, overlaps (regions
 * with each other and with an MMIO window), fd kinds (memfd/regular file
 * large enough for offset+size, eventfds, a KVM VM fd), every vCPU's fds
 * present.  Returns 0, or -EINVAL with a reason in err.
 */
int	attach_desc_check(const struct attach_desc *d, char *err, size_t errlen)
	    __must_check;

/* Close every fd and re-initialise. */
void	attach_desc_close(struct attach_desc *d);

struct vsock_dev_state;

/*
 * The device state page (ATTACH_STATE_PAGE bytes, KVM-ATTACH.md §1):
 * load the newest valid record (0; -ENOENT: the page was never written;
 * -EINVAL: no record is intact), store one with sequence number `seq`
 * (the caller counts up from the loaded one).  The loaded state is
 * only decoded: vsock_dev_import() validates it.
 */
int	attach_state_load(const void *page, struct vsock_dev_state *st,
	    uint64_t *seq) __must_check;
void	attach_state_store(void *page, const struct vsock_dev_state *st,
	    uint64_t seq);

/* ---- Daemon side of the socket ------------------------------------------ */

struct attach_sess;

/* Wrap an accepted socket (ownership passes, also on failure). */
int	attach_sess_new(int sock, struct attach_sess **sp) __must_check;
/* Close the socket and every fd received.  NULL is a no-op. */
void	attach_sess_free(struct attach_sess *s);
/*
 * Free the session but leave its socket and fds alone: another process
 * (a fork) serves them now.  NULL is a no-op.
 */
void	attach_sess_forget(struct attach_sess *s);
int	attach_sess_fd(const struct attach_sess *s);

/*
 * Receive and handle one message (non-blocking).  Returns 0 when more
 * messages are expected, 1 when START arrived and the description is
 * complete and checked (attach_sess_desc), -EAGAIN if nothing was there,
 * -ECONNRESET when the peer closed, or another -errno on a protocol or
 * validation error: a RESULT naming it has then been sent (best effort)
 * and the session is dead (free it).  Any message after START is an
 * error.  attach_sess_reason() says why in words.
 */
int	attach_sess_recv(struct attach_sess *s) __must_check;
const char *attach_sess_reason(const struct attach_sess *s);

/* The description (valid after recv returned 1; fds owned by s). */
struct attach_desc *attach_sess_desc(struct attach_sess *s);

/* Send RESULT (status 0 after a successful bring-up, or -errno). */
int	attach_sess_reply(struct attach_sess *s, int status, const char *reason);

/* ---- The wire, both sides ----------------------------------------------- */

/*
 * Send one message with fds (the VMM client's building block; tests of
 * the daemon side use it directly).
 */
int	attach_send_msg(int sock, uint16_t type, const void *payload,
	    size_t size, const int *fds, unsigned nfds) __must_check;

/* ---- An attached guest's request source ---------------------------------- */

/*
 * The request source for a checked description: the shm source over the
 * ioreq page and RAM, whose doorbell and interrupt are the VM fd's
 * (hcvsockd's own ioeventfd on DOORBELL with datamatch 1, irqfds on any
 * GSI: ioreq_source_set_doorbell, ioreq_source_irq_setup) or the VMM's
 * eventfds (its ioeventfd, its irqfd on its GSI only).  Every fd is
 * dup'ed: the caller keeps its own (the description may be closed
 * afterwards).  Returns 0, or -errno with a reason in err.  The guest's
 * accesses wait until the source is enabled.
 */
int	attach_source_open(const struct attach_desc *d, struct ioreq_source **sp,
	    char *err, size_t errlen) __must_check;

/* ---- Listener on the event loop ----------------------------------------- */

struct loop;
struct attach_server;
struct peer_policy;

/*
 * What the daemon does with a checked description: `attach` builds the
 * guest (e.g. attach_vsock_new) and returns 0 and an opaque handle, or
 * -errno and a reason; `detach` tears it down when the VMM disconnects
 * (or the server is freed).  The description's fds are closed after a
 * successful attach: the guest must dup what it keeps (attach_source_open
 * does).
 */
struct attach_server_ops {
	int	(*attach)(void *arg, struct attach_desc *d, void **guestp,
		    char *err, size_t errlen);
	void	(*detach)(void *arg, void *guest);
	/* In a session's own process (attach_server_set_fork): its loop. */
	void	(*forked)(void *arg, struct loop *l);
};

/*
 * Listen on `path` (usock_listen()'s rules: only a dead socket there is
 * replaced, never a file; mode 0660).  At most `max_sessions` VMMs at
 * once, and at most ATTACH_MAX_PENDING_PER_PEER of them from one peer uid
 * (SO_PEERCRED) before START; more are refused with -EBUSY.
 */
int	attach_server_new(struct loop *l, const char *path,
	    unsigned max_sessions, const struct attach_server_ops *ops,
	    void *arg, struct attach_server **sp) __must_check;
/* Detach every guest, close every session, unlink the path.  NULL: no-op. */
void	attach_server_free(struct attach_server *s);

/*
 * A VMM must reach START within this many ms of connecting, else it is
 * refused with -ETIMEDOUT (default ATTACH_HANDSHAKE_MS; 0 restores it).
 */
#define ATTACH_HANDSHAKE_MS	10000u
void	attach_server_set_timeout(struct attach_server *s, unsigned ms);
/*
 * Only peers the policy allows (SO_PEERCRED, SO_PEERGROUPS) may attach;
 * others get -EPERM.  Copied.  Without it, anybody who can connect.
 */
void	attach_server_set_peers(struct attach_server *s,
	    const struct peer_policy *pp);
/*
 * A process per session: each accepted VMM is served by a fork that keeps
 * only its session socket (ops->forked gets the child its own loop), so
 * one guest's flood, fault or compromise stays in its process.  The
 * parent only accepts, counts and reaps; freeing the server sends its
 * children SIGTERM and waits for them.
 */
void	attach_server_set_fork(struct attach_server *s, bool on);
/* Parent: one line per child (guest name, cid, pid). */
void	attach_server_dump_children(const struct attach_server *s,
	    void (*cb)(void *arg, const char *line), void *arg);
unsigned attach_server_nr_guests(const struct attach_server *s);
/* Parent: fn once per child whose guest is attached. */
void	attach_server_foreach_child(const struct attach_server *s,
	    void (*fn)(void *arg, const char *name, uint64_t cid, long pid),
	    void *arg);

#endif /* HCVS_ATTACH_H */
