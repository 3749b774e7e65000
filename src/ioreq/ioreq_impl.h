/* SPDX-License-Identifier: MIT */
/*
 * Inside src/ioreq: the engine over a caller-mapped page, the memory
 * accessor's ops, and the source ops table.  Sources (shm, xen), tests and
 * fuzz harnesses include this; the rest of the daemon uses ioreq.h only.
 *
 * Ownership: the engine borrows the page, the buffered page, the notifier
 * and the memory accessor; whoever created them (a source, a test) frees
 * them after ioreq_engine_free().  Single-threaded like ioreq.h.
 */
#ifndef HCVS_IOREQ_IMPL_H
#define HCVS_IOREQ_IMPL_H

#include "ioreq/ioreq.h"
#include "ioreq/ioreq_xenabi.h"

/*
 * The ioreq page is Xen's ABI: if a header ever changed it under us,
 * every slot offset below would be wrong.  Byte 30 holds the bitfields
 * (state in its low four bits with GCC and Clang on little-endian
 * targets; test_ioreq_engine checks that at run time too).
 */
_Static_assert(sizeof(struct ioreq) == 32, "struct ioreq is 32 bytes");
_Static_assert(offsetof(struct ioreq, addr) == 0, "ioreq.addr");
_Static_assert(offsetof(struct ioreq, data) == 8, "ioreq.data");
_Static_assert(offsetof(struct ioreq, count) == 16, "ioreq.count");
_Static_assert(offsetof(struct ioreq, size) == 20, "ioreq.size");
_Static_assert(offsetof(struct ioreq, vp_eport) == 24, "ioreq.vp_eport");
_Static_assert(offsetof(struct ioreq, type) == 31, "ioreq.type");
_Static_assert(sizeof(struct buf_ioreq) == 8, "buf_ioreq is 8 bytes");
_Static_assert(sizeof(struct buffered_iopage) <= 4096, "buffered page");

#define IOREQ_PAGE_SIZE		4096u
#define IOREQ_MAX_VCPUS		(IOREQ_PAGE_SIZE / sizeof(struct ioreq))
#define IOREQ_SLOT_BITS_OFF	30	/* state:4 data_is_ptr dir df pad */
#define IOREQ_STATE_MASK	0x0fu
#define IOREQ_BIT_DATA_IS_PTR	0x10u
#define IOREQ_BIT_DIR		0x20u
#define IOREQ_BIT_DF		0x40u

/*
 * Xen splits a rep access at a page boundary, so count * size never
 * exceeds a page for MMIO; PIO reps are clamped likewise.  A larger count
 * is hostile.
 */
#define IOREQ_MAX_COUNT		4096u
#define IOREQ_MAX_RANGES	256u	/* per space, as Xen's MAX_NR_IO_RANGES */

/* Atomic access to a slot's state nibble (the rest of byte 30 kept). */
static inline uint8_t
ioreq_slot_bits(const struct ioreq *slot)
{
	return __atomic_load_n((const uint8_t *)slot + IOREQ_SLOT_BITS_OFF,
	    __ATOMIC_ACQUIRE);
}

static inline unsigned
ioreq_slot_state(const struct ioreq *slot)
{
	return ioreq_slot_bits(slot) & IOREQ_STATE_MASK;
}

/*
 * Move the state from `from` to `to` if it is still `from`; the other
 * bits of the byte are preserved.  Returns true on success.  Release
 * ordering: everything written to the slot before is visible first.
 */
static inline bool
ioreq_slot_cas_state(struct ioreq *slot, unsigned from, unsigned to)
{
	uint8_t *p = (uint8_t *)slot + IOREQ_SLOT_BITS_OFF;
	uint8_t old = __atomic_load_n(p, __ATOMIC_ACQUIRE);

	for (;;) {
		uint8_t nv;

		if ((old & IOREQ_STATE_MASK) != from)
			return false;
		nv = (uint8_t)((old & ~IOREQ_STATE_MASK) | to);
		if (__atomic_compare_exchange_n(p, &old, nv, false,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
	}
}

/* ---- Guest memory backends ------------------------------------------- */

struct ioreq_mem_ops {
	/* Copy out of / into guest memory; contract as ioreq_mem_read/write. */
	int	(*read)(struct ioreq_mem *m, uint64_t gpa, void *buf, size_t len);
	int	(*write)(struct ioreq_mem *m, uint64_t gpa, const void *buf,
		    size_t len);
	/* Drop cached mappings; may be NULL. */
	void	(*invalidate)(struct ioreq_mem *m);
	/* ioreq_mem_direct(); NULL where mappings can move (Xen). */
	void	*(*direct)(struct ioreq_mem *m, uint64_t gpa, size_t len);
	/* Release everything, including m. */
	void	(*free)(struct ioreq_mem *m);
};

/* Embedded first in every backend. */
struct ioreq_mem {
	const struct ioreq_mem_ops *ops;
};

/*
 * A backend's map of guest memory: host address of `gpa` and how many
 * bytes from there are contiguous (> 0), or NULL where `gpa` is not
 * guest memory.
 */
typedef uint8_t *(*ioreq_mem_resolve_fn)(struct ioreq_mem *m, uint64_t gpa,
    uint64_t *contig);

/*
 * The copy of every backend: [gpa, gpa+len) to `out` or from `in` (one of
 * them NULL), chunk by resolved chunk.  A first pass only resolves, so a
 * copy that would fault half-way copies nothing.  0 or -EFAULT.
 */
int	ioreq_mem_copy(struct ioreq_mem *m, ioreq_mem_resolve_fn resolve,
	    uint64_t gpa, uint8_t *out, const uint8_t *in, size_t len);

#ifdef HAVE_XEN
#include <xendevicemodel.h>
#include <xenforeignmemory.h>

/*
 * Guest memory through foreign mappings of `domid`, cached in buckets of
 * IOREQ_XEN_BUCKET_PAGES pages, at most IOREQ_XEN_MAX_BUCKETS at a time
 * (least recently used evicted).  `dmod` may be NULL; otherwise written
 * pages are reported with xendevicemodel_modified_memory (log-dirty).
 * Handles are borrowed.
 */
#define IOREQ_XEN_BUCKET_PAGES	64u
#define IOREQ_XEN_MAX_BUCKETS	32u

int	ioreq_mem_new_xen(xenforeignmemory_handle *fmem,
	    xendevicemodel_handle *dmod, uint32_t domid, struct ioreq_mem **mp)
	    __must_check;
#endif

/* ---- The engine -------------------------------------------------------- */

/*
 * An engine over `page` (nr_vcpus slots, 1..IOREQ_MAX_VCPUS) and an
 * optional buffered ring (`buf`, may be NULL).  Nothing is serviced until
 * ports are set.  `n` is used for notifier_notify only; `mem` for rep and
 * data_is_ptr requests and INVALIDATE.
 */
int	ioreq_engine_new(struct ioreq *page, unsigned nr_vcpus,
	    struct buffered_iopage *buf, struct notifier *n,
	    struct ioreq_mem *mem, struct ioreq_engine **ep) __must_check;
void	ioreq_engine_free(struct ioreq_engine *e);

/*
 * Which local port carries vCPU `vcpu`'s events (and gets its answers).
 * -EEXIST if another vCPU or the ring has it; NOTIFY_PORT_INVALID (no
 * port) never fails for a valid vcpu.
 */
int	ioreq_engine_set_port(struct ioreq_engine *e, unsigned vcpu,
	    uint32_t local);
/* The buffered ring's local port (NOTIFY_PORT_INVALID: none). */
void	ioreq_engine_set_buf_port(struct ioreq_engine *e, uint32_t local);

/* Register / remove a device range [start, end], end inclusive. */
int	ioreq_engine_add_range(struct ioreq_engine *e, enum ioreq_space sp,
	    uint64_t start, uint64_t end, const struct ioreq_handler_ops *ops,
	    void *opaque) __must_check;
int	ioreq_engine_del_range(struct ioreq_engine *e, enum ioreq_space sp,
	    uint64_t start);

/*
 * Stopped engines treat every event as spurious (the server is disabled:
 * Xen sends nothing more; a shm guest waits until close).
 */
void	ioreq_engine_set_stopped(struct ioreq_engine *e, bool stopped);

/* Consume every buffered-ring entry now.  Returns the number consumed. */
unsigned ioreq_engine_drain_buffered(struct ioreq_engine *e);

/* Service vCPU `vcpu`'s slot as if notified.  1 answered, 0 not READY. */
int	ioreq_engine_service_vcpu(struct ioreq_engine *e, unsigned vcpu);

/* Service every READY slot as if notified; returns how many. */
unsigned ioreq_engine_service_ready(struct ioreq_engine *e);
/* Some vCPU's slot is READY (not yet claimed); a look, nothing claimed. */
bool	ioreq_engine_any_ready(const struct ioreq_engine *e);

/* ---- Sources ------------------------------------------------------------ */

struct ioreq_source_ops {
	const char *kind;
	/* Map a range that the engine has accepted (Xen); may be NULL. */
	int	(*map_range)(struct ioreq_source *s, enum ioreq_space sp,
		    uint64_t start, uint64_t end);
	int	(*unmap_range)(struct ioreq_source *s, enum ioreq_space sp,
		    uint64_t start, uint64_t end);
	int	(*enable)(struct ioreq_source *s);
	/* Xen's MSI; NULL where the source has none. */
	int	(*inject_msi)(struct ioreq_source *s, uint64_t addr,
		    uint32_t data);
	int	(*restrict_)(struct ioreq_source *s);
	int	(*quiesce)(struct ioreq_source *s);
	void	(*close)(struct ioreq_source *s, bool destroy);
	int	(*server_id)(const struct ioreq_source *s);
	/* Set or clear the watched mark (ioreq_source_poll); may be NULL. */
	void	(*set_watched)(struct ioreq_source *s, bool on);
};

/*
 * Embedded first in every source.  The interrupt and doorbell state is
 * common (ioreq_source.c): a source sets src_irq_modes and, for KVM, the
 * fixed irq port and the VM-fd capability at open.
 */
struct ioreq_source {
	const struct ioreq_source_ops	*ops;
	struct ioreq_engine		*src_engine;
	struct notifier			*src_notifier;
	struct ioreq_mem		*src_mem;
	unsigned			 src_nr_vcpus;
	uint32_t			 src_irq_modes;	/* 1u << HCVS_IRQ_* */
	struct ioreq_irq		 src_irq;	/* the current mode */
	uint32_t			 src_irq_port;	/* evtchn or irqfd port */
	uint32_t			 src_fixed_irq_port;	/* VMM's irqfd */
	uint32_t			 src_fixed_gsi;
	bool				 src_has_vm;	/* own ioeventfd/irqfd */
	uint32_t			 src_db_port;	/* doorbell event port */
	bool				 src_watched;	/* ioreq_source_poll */
	struct ioreq_source_stats	 src_stats;
};

/* Common initial state (no mode, no ports); the source then fills in. */
void	ioreq_source_init(struct ioreq_source *s,
	    const struct ioreq_source_ops *ops);
/* Release the interrupt ports (before the notifier is closed). */
void	ioreq_source_release_irq(struct ioreq_source *s);

#endif /* HCVS_IOREQ_IMPL_H */
