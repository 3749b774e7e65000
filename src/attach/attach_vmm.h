/* SPDX-License-Identifier: MIT */
/*
 * The VMM's side of KVM attach (docs/KVM-ATTACH.md): hand a description
 * to hcvsockd over its attach socket and forward the exits KVM cannot
 * complete in the kernel through the ioreq page.  Linked by VMMs (the
 * reference VMM in tests/kvm, the benchmarks), never by hcvsockd.
 * Conventions as in attach.h.
 */
#ifndef HCVS_ATTACH_VMM_H
#define HCVS_ATTACH_VMM_H

#include "attach/attach.h"

/* ---- VMM side of the socket ---------------------------------------------- */

/* Connect to hcvsockd's attach socket (SOCK_SEQPACKET, CLOEXEC). */
int	attach_vmm_connect(const char *path, int *sockp) __must_check;

/*
 * Send a description (HELLO ... START) and wait up to timeout_ms (-1:
 * forever) for the RESULT.  Returns the daemon's status (0 when the
 * guest is live) or a local -errno; the reason lands in err.  Keep the
 * socket open as long as the guest runs: closing it detaches.
 */
int	attach_vmm_send(int sock, const struct attach_desc *d, int timeout_ms,
	    char *err, size_t errlen) __must_check;

/*
 * Attach `d` again after hcvsockd went away (a restart or a crash):
 * connect and send it, retrying with a back-off from 50 ms doubling to
 * 1 s until it is attached or `give_up_ms` has passed (-ETIMEDOUT; err
 * then holds the last failure).  Each distinct failure is reported once
 * through `note` (may be NULL).  *sockp is the new attach socket.
 */
int	attach_vmm_reattach(const char *path, const struct attach_desc *d,
	    int give_up_ms, int *sockp, unsigned *attempts,
	    void (*note)(void *arg, const char *why), void *arg, char *err,
	    size_t errlen) __must_check;

/* ---- VMM side of the ioreq page ------------------------------------------- */

struct attach_fwd;

/*
 * A memfd page in Xen's shared_iopage_t layout and one eventfd pair per
 * vCPU.  attach_fwd_fill() puts them into a description (borrowed: the
 * forwarder keeps ownership).
 */
int	attach_fwd_new(unsigned nr_vcpus, struct attach_fwd **fp) __must_check;
void	attach_fwd_free(struct attach_fwd *f);
void	attach_fwd_fill(const struct attach_fwd *f, struct attach_desc *d);

/*
 * Forward one access of vCPU `vcpu` as Xen would: fill the slot (which
 * must be NONE), release barrier, READY, kick (skipped when, after a full
 * barrier, the slot carries hcvsockd's IOREQ_SHM_WATCHED mark: it is
 * polling the page and answers without one); wait for IORESP_READY
 * (spinning up to the spin window, then blocking on the done eventfd),
 * take `data`, set NONE.  *data is the value written or gets the value
 * read.  -ETIMEDOUT after timeout_ms (-1 forever) with the slot left as
 * it is (the vCPU is then wedged, as on Xen); -EPROTO if the server
 * moved the slot to an impossible state; -ECONNRESET once hcvsockd is
 * known to be gone (attach_fwd_set_peer).
 */
int	attach_fwd_access(struct attach_fwd *f, unsigned vcpu,
	    enum ioreq_space space, uint64_t addr, unsigned size,
	    bool is_write, uint64_t *data, int timeout_ms) __must_check;
/*
 * After -ECONNRESET (hcvsockd went away with the request unanswered) and
 * a re-attach (attach_fwd_set_peer with the new socket): wait for the
 * next hcvsockd to answer the request still in the slot, as a vCPU on
 * Xen waits for a restarted server.  -ENOENT if the slot holds no
 * request (it was never posted: access it again); otherwise as
 * attach_fwd_access.
 */
int	attach_fwd_resume(struct attach_fwd *f, unsigned vcpu, uint64_t *data,
	    int timeout_ms) __must_check;
/* Give up on vCPU `vcpu`'s request: the slot is free again. */
void	attach_fwd_abandon(struct attach_fwd *f, unsigned vcpu);
/* Spin this long on the slot before blocking (default 0). */
void	attach_fwd_set_spin(struct attach_fwd *f, uint64_t ns);

/* Accesses forwarded, and how many of them went without a kick. */
struct attach_fwd_stats {
	uint64_t	fs_requests;
	uint64_t	fs_unkicked;
};
void	attach_fwd_get_stats(const struct attach_fwd *f,
	    struct attach_fwd_stats *st);

/*
 * Watch the attach socket (after a successful attach_vmm_send; -1 stops
 * watching): while a vCPU waits for an answer, the socket becoming
 * readable or hung up means hcvsockd is gone, and the wait ends with
 * -ECONNRESET instead of the timeout; later accesses fail at once (the
 * VMM then answers the guest as if no backend were there: all ones).
 * The slot of an abandoned request stays as it was.
 */
void	attach_fwd_set_peer(struct attach_fwd *f, int sock);

#endif /* HCVS_ATTACH_VMM_H */
