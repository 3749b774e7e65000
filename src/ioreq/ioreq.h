/* SPDX-License-Identifier: MIT */
/*
 * The request source: I/O requests from a guest, in Xen's ioreq format,
 * serviced and completed.  Three producers share one engine:
 *
 *   xen   - a real Xen IOREQ server (libxendevicemodel & co.);
 *   shm   - a memfd-backed page with Xen's exact layout plus eventfds:
 *           the fake ioreq page (tests, --loopback) and VMMs that forward
 *           KVM exits the same way (see hcvsock(7), KVM attach);
 *
 * Devices register address ranges with a small read/write ops table and
 * see only validated, single-element accesses (rep and data_is_ptr are
 * expanded by the engine through guest memory).  Guest memory is reached
 * only through struct ioreq_mem: no pointer into it escapes.
 *
 * Functions return 0 or a negative errno unless stated otherwise.  The
 * engine, sources and the memory accessor are owned by one thread (the
 * event loop); the fake guest's calls may come from any thread.
 */
#ifndef HCVS_IOREQ_H
#define HCVS_IOREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct notifier;
struct ioreq_mem;
struct ioreq_engine;
struct ioreq_source;

/* ---- Device handlers ------------------------------------------------- */

enum ioreq_space {
	IOREQ_SPACE_PIO = 0,
	IOREQ_SPACE_MMIO = 1,
};

/*
 * One registered range.  `off` is relative to the range start; size is
 * 1, 2, 4 or 8 and off+size lies inside the range.  A failed read
 * (negative return) answers all-ones; a failed write is dropped.  Either
 * way the guest gets its answer: handlers only report.
 *
 * `vcpu` is the requesting vCPU (its slot index).  Handlers run on the
 * event-loop thread, before the request is completed: a write handler
 * that must not delay the guest records work and returns; the daemon runs
 * it after completion (ioreq_engine_set_post_hook).
 */
struct ioreq_handler_ops {
	int	(*read)(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
		    uint64_t *val);
	int	(*write)(void *opaque, unsigned vcpu, uint64_t off,
		    unsigned size, uint64_t val);
};

/* ---- Guest memory ----------------------------------------------------- */

/*
 * Bounds-checked copies between guest-physical memory and local buffers.
 * -EFAULT if any byte of [gpa, gpa+len) is not guest RAM (nothing is
 * copied then), -E2BIG if len exceeds IOREQ_MEM_MAX_COPY.  A copy of 1,
 * 2, 4 or 8 bytes at a gpa aligned to its size is one load or one store:
 * a word the guest and the host take turns writing (a MSG slot's STATE)
 * is never stored twice, which memcpy() may do.
 */
#define IOREQ_MEM_MAX_COPY	(1u << 20)

int	ioreq_mem_read(struct ioreq_mem *m, uint64_t gpa, void *buf, size_t len)
	    __must_check;
int	ioreq_mem_write(struct ioreq_mem *m, uint64_t gpa, const void *buf,
	    size_t len) __must_check;
/*
 * Direct access for bulk data: the host address of [gpa, gpa+len) where
 * the backend maps it contiguously for the life of the accessor (memfd
 * memory), else NULL: use the copies.  The guest may change those bytes
 * at any moment, so this is only for data passed on unread (stream
 * payload straight to or from a socket), never for anything validated.
 */
void	*ioreq_mem_direct(struct ioreq_mem *m, uint64_t gpa, size_t len);
/* Drop cached mappings (Xen INVALIDATE). No-op for memfd memory. */
void	ioreq_mem_invalidate(struct ioreq_mem *m);
void	ioreq_mem_free(struct ioreq_mem *m);

/* memfd-backed memory: regions of fds mapped shared (fake page, KVM). */
int	ioreq_mem_new_fd(struct ioreq_mem **mp) __must_check;
/* Map [offset, offset+size) of fd at guest-physical gpa. fd is dup'ed. */
int	ioreq_mem_add_region(struct ioreq_mem *m, int fd, uint64_t gpa,
	    uint64_t size, uint64_t offset) __must_check;

/* ---- The engine ------------------------------------------------------- */

struct ioreq_engine_stats {
	uint64_t	st_requests;	/* completed synchronous requests */
	uint64_t	st_buffered;	/* buffered-ring entries consumed */
	uint64_t	st_invalid;	/* rejected by validation */
	uint64_t	st_unclaimed;	/* no range matched */
	uint64_t	st_spurious;	/* event for a slot not READY */
};

/*
 * Service one notified local port.  Returns 1 if the port belongs to the
 * engine (a vCPU or the buffered ring) and was serviced, 0 if the port is
 * not the engine's (the caller may own it, e.g. an async doorbell), or
 * -errno on a failure of the notifier itself.  Guest misbehaviour is never
 * an error here: it is logged (rate-limited), answered and counted.
 */
int	ioreq_engine_handle_port(struct ioreq_engine *e, uint32_t local);

/*
 * Service every slot that is READY or (after a re-attach) INPROCESS,
 * whether or not it was notified, and notify every slot already answered
 * (IORESP_READY) again: a process killed between its answer and its
 * notification leaves a vCPU that only an event wakes.  Used at attach,
 * re-attach and before teardown.  Returns the number of requests completed.
 */
int	ioreq_engine_service_all(struct ioreq_engine *e);

/* Called after each completed request; devices run deferred work there. */
void	ioreq_engine_set_post_hook(struct ioreq_engine *e,
	    void (*fn)(void *arg), void *arg);

void	ioreq_engine_get_stats(const struct ioreq_engine *e,
	    struct ioreq_engine_stats *st);

/* One vCPU's slot as last published, for status reports. */
struct ioreq_slot_info {
	const char	*sl_state;	/* "NONE", "READY", "INPROCESS", "IORESP_READY", "BAD" */
	uint8_t		 sl_state_raw;
	uint8_t		 sl_type;
	uint8_t		 sl_dir;	/* 1: read */
	uint32_t	 sl_size;
	uint32_t	 sl_count;
	uint64_t	 sl_addr;
	uint32_t	 sl_port;	/* our local port, NOTIFY_PORT_INVALID if none */
	uint32_t	 sl_eport;	/* the vCPU's port as the slot names it */
};
unsigned ioreq_engine_nr_vcpus(const struct ioreq_engine *e);
/* -EINVAL if vcpu is out of range. */
int	ioreq_engine_slot_info(const struct ioreq_engine *e, unsigned vcpu,
	    struct ioreq_slot_info *si);

/* Write one line per vCPU slot (state, type, addr, port) via cb. */
void	ioreq_engine_dump(const struct ioreq_engine *e,
	    void (*cb)(void *arg, const char *line), void *arg);

/* ---- Request sources --------------------------------------------------- */

/*
 * A host -> guest notification mode, in the guest ABI's numbers
 * (HCVS_IRQ_*, hcvsock_abi.h): the only namespace for them.  Only the
 * fields of `mode` are meaningful.
 */
struct ioreq_irq {
	uint32_t	mode;		/* HCVS_IRQ_* */
	uint32_t	gsi;		/* GSI */
	uint32_t	evtchn_port;	/* EVTCHN: the guest's unbound port */
	uint64_t	msi_addr;	/* MSI */
	uint32_t	msi_data;
};

/*
 * Register a device range [start, end] (end inclusive, as Xen).  With a
 * Xen source this also maps the range to the IOREQ server.  -EEXIST on
 * overlap, -ENOSPC past the range limit.
 */
int	ioreq_source_add_range(struct ioreq_source *s, enum ioreq_space sp,
	    uint64_t start, uint64_t end, const struct ioreq_handler_ops *ops,
	    void *opaque) __must_check;

/* Make the server live (Xen: set_ioreq_server_state 1 and bind vCPUs). */
int	ioreq_source_enable(struct ioreq_source *s) __must_check;

struct ioreq_engine *ioreq_source_engine(struct ioreq_source *s);
struct notifier *ioreq_source_notifier(struct ioreq_source *s);
struct ioreq_mem *ioreq_source_mem(struct ioreq_source *s);
unsigned	ioreq_source_nr_vcpus(const struct ioreq_source *s);

/* "xen" or "shm". */
const char	*ioreq_source_kind(const struct ioreq_source *s);

/*
 * Host -> guest interrupts belong to the source, which alone knows how to
 * reach the guest:
 *   xen  MSI (xendevicemodel_inject_msi), EVTCHN (an interdomain channel
 *        to the guest's unbound port, on the source's notifier);
 *   shm  GSI through an irqfd: any GSI with a KVM VM fd, only the VMM's
 *        GSI with the VMM's irq eventfd;
 * and NONE (the guest polls) everywhere.  Line interrupts (ISA) are
 * offered by no source: Xen 4.17 corrupts itself raising one for a PVH
 * guest.
 *
 * irq_modes: the bitmap (1u << HCVS_IRQ_*) this source can deliver.
 * irq_setup: release the current mode and set up `irq`; -EOPNOTSUPP for
 * a mode not in irq_modes, -EINVAL for a GSI other than the VMM's fixed
 * one, the backend's error for a port or GSI it refuses (the mode is
 * then NONE).  irq_raise: one edge in the current mode; -ENOENT in NONE.
 */
uint32_t ioreq_source_irq_modes(const struct ioreq_source *s);
int	ioreq_source_irq_setup(struct ioreq_source *s, const struct ioreq_irq *irq);
int	ioreq_source_irq_raise(struct ioreq_source *s);

/*
 * The asynchronous doorbell: a guest write of `value` (`len` bytes) to
 * `addr` that needs no answer.  A source that can take it without a
 * request (shm with a KVM VM fd: an ioeventfd) registers it and returns
 * 1; a source whose doorbell already is an event (the VMM's kick
 * eventfd) or that has none (the write arrives as a request) returns 0.
 * Each window's doorbell may be registered once (-EEXIST).
 *
 * The guest's sends on its EVTCHN interrupt channel (Xen) are reported
 * apart: what they mean is the device's business (feature EVTCHN_KICK).
 */
int	ioreq_source_set_doorbell(struct ioreq_source *s, enum ioreq_space sp,
	    uint64_t addr, unsigned len, uint64_t value) __must_check;

/*
 * True when a wake of the source's fd is most likely the asynchronous
 * doorbell: one reaches this source as an event, and no vCPU's request
 * is READY on the page (a look at each slot's state, no syscall).
 */
bool	ioreq_source_doorbell_likely(const struct ioreq_source *s);

/*
 * The one fd for the event loop (level-triggered EPOLLIN).  When it is
 * readable, call ioreq_source_run(): it services up to `budget` events
 * (requests are answered, the post hook runs after each), adds what else
 * it saw to *ev, and returns the number of events taken (budget: more
 * may be pending), or -errno when the notifier failed (the source is then
 * unusable).
 */
struct ioreq_source_events {
	uint64_t	doorbells;	/* the asynchronous doorbell (ioeventfd) */
	uint64_t	guest_events;	/* guest sends on its EVTCHN channel */
	/* Engine ports serviced: a vCPU's request (it waited), a buffered ring. */
	uint64_t	requests;
};
int	ioreq_source_fd(const struct ioreq_source *s);
int	ioreq_source_run(struct ioreq_source *s, unsigned budget,
	    struct ioreq_source_events *ev) __must_check;

/*
 * The page itself, for a caller that polls (a busy or sync poll window):
 * with `watching` true, mark the page as watched and answer every READY
 * slot now, whether or not its event came; with false, take the mark
 * away, then answer every READY slot once more, so that a request posted
 * while the mark was there is never left without its event.  Adds the
 * requests answered to *ev and returns how many, or 0 where the source
 * has no such mark (xen: Xen sends every event anyway).  shm: the mark is
 * IOREQ_SHM_WATCHED in each slot's _pad0, which the producer may read to
 * skip its kick (docs/KVM-ATTACH.md); the source clears it when it opens
 * the page and when it closes.
 */
int	ioreq_source_poll(struct ioreq_source *s, bool watching,
	    struct ioreq_source_events *ev) __must_check;

struct ioreq_source_stats {
	uint64_t	ss_doorbells;	/* doorbell events outside requests */
	uint64_t	ss_guest_events;	/* guest sends on its channel */
	uint64_t	ss_irqs;	/* interrupts raised */
	uint64_t	ss_irq_errors;
};
void	ioreq_source_get_stats(const struct ioreq_source *s,
	    struct ioreq_source_stats *st);

/* Restrict every handle to the target domain (before dropping privilege). */
int	ioreq_source_restrict(struct ioreq_source *s);

/*
 * Orderly stop: answer every READY/INPROCESS slot, disable, answer what
 * was sent meanwhile.  Afterwards Xen no longer routes accesses to the
 * server (an x86 guest reads all-ones: the device is gone); a shm
 * guest's further requests stay unanswered until close.  Events are
 * counted spurious.  ioreq_source_enable() undoes it.
 */
int	ioreq_source_quiesce(struct ioreq_source *s);

/*
 * Tear down and free.  `destroy` true: unbind, unmap, destroy the Xen
 * server.  false: unbind and unmap but leave the server for a restarted
 * daemon to re-attach.  NULL is a no-op.
 */
void	ioreq_source_close(struct ioreq_source *s, bool destroy);

/* Xen server id (for the state file), or -1. */
int	ioreq_source_server_id(const struct ioreq_source *s);

/*
 * The shm source: a memfd page holding a shared_iopage_t, optionally a
 * buffered_iopage_t, one eventfd pair per vCPU and guest memory regions.
 * All fds are dup'ed; the caller keeps its own.  The files are mapped
 * shared: whoever hands them over guarantees they cannot shrink (memfds
 * sealed with F_SEAL_SHRINK, as the fake page and the KVM attach check).
 */
struct ioreq_shm_vcpu {
	int	kick_fd;	/* guest -> server: slot became READY */
	int	done_fd;	/* server -> guest: IORESP_READY */
};

struct ioreq_shm_region {
	int		fd;
	uint64_t	gpa;
	uint64_t	size;
	uint64_t	offset;
};

#define IOREQ_SHM_MAX_VCPUS	128
#define IOREQ_SHM_MAX_REGIONS	16

/*
 * Bit of a slot's _pad0 (bytes 28-29, which Xen's layout leaves unused)
 * that the shm source sets while it polls the page: a producer that reads
 * it set after publishing READY (with a full barrier between) may skip
 * the kick, because the source answers every READY slot after clearing
 * it.
 */
#define IOREQ_SHM_WATCHED	0x1u

/*
 * How a KVM guest's doorbell and interrupt travel (each fd -1: absent).
 * vm_fd: a KVM VM fd of this process; the source registers its own
 * ioeventfd (ioreq_source_set_doorbell) and irqfds.  doorbell_fd: an
 * eventfd the VMM registered as the doorbell's ioeventfd.  irq_fd: an
 * eventfd the VMM registered as an irqfd on irq_gsi.
 */
struct ioreq_shm_kvm {
	int		vm_fd;
	int		doorbell_fd;
	int		irq_fd;
	uint32_t	irq_gsi;
};

struct ioreq_shm_cfg {
	int				 page_fd;
	int				 bufpage_fd;	/* -1: none */
	int				 buf_kick_fd;	/* -1: none */
	unsigned			 nr_vcpus;
	const struct ioreq_shm_vcpu	*vcpus;
	unsigned			 nr_regions;
	const struct ioreq_shm_region	*regions;
	const struct ioreq_shm_kvm	*kvm;		/* NULL: polling only */
};

int	ioreq_shm_open(const struct ioreq_shm_cfg *cfg, struct ioreq_source **sp)
	    __must_check;

#endif /* HCVS_IOREQ_H */
