/* SPDX-License-Identifier: MIT */
/*
 * The server half of the hcvsock figures: what hcvsockd runs for one
 * guest - the shm request source over an ioreq page, the vsock device on
 * its register window, the muxer with its AF_UNIX host bridge, and for
 * KVM the ioeventfd doorbell (through attach_vsock) - on an event loop in
 * its own thread (pinned to the second CPU).
 *
 * Host peers: the guest connects to host port P, the muxer connects to
 * <dir>/v_P; vsenv_listen() creates that listener.
 */
#ifndef HCVS_BENCH_VSENV_H
#define HCVS_BENCH_VSENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ioreq/ioreq.h"

struct attach_desc;
struct attach_vsock;
struct loop;
struct notifier;
struct vsock_dev;
struct vsock_mux;

#define VSENV_CID		3u
/*
 * "block": the VMM spins this long on a forwarded exit before it sleeps,
 * and the device keeps its TX poll window this long, as vhost and NAPI
 * do; hcvsockd's busy-poll window stays off.  "busy": the server never
 * sleeps; the stream figures keep the TX poll window in both.
 */
#define VSENV_WINDOW_NS		(50u * 1000u)
/*
 * "busy", KVM: hcvsockd's busy_poll_us at its largest, 100 ms, which no
 * gap inside a figure outlasts: the loop never sleeps, serves the host
 * sockets on every turn and watches the ioreq page, as hcvsockd does.
 */
#define VSENV_BUSY_WINDOW_NS	(100000ull * 1000u)
/*
 * "block", KVM: hcvsockd's sync_poll window (requests only).  It must
 * outlast the gap between an answer and the vCPU's next request, one
 * guest entry and exit: 45-75 us on this machine (kvm_exit_io).
 */
#define VSENV_SYNC_WINDOW_NS	(200u * 1000u)
#define VSENV_WINDOW_BASE	0xc000u

struct vsenv {
	char			 dir[64];
	struct loop		*loop;
	struct ioreq_source	*src;
	struct vsock_dev	*dev;
	struct vsock_mux	*mux;
	struct attach_vsock	*av;		/* KVM: hcvsockd's own glue */
	int			 wake_fd;
	int64_t			 timer;
	bool			 spin;		/* the loop never sleeps */
	volatile int		 stop;
	bool			 running;
	pthread_t		 th;
};

/*
 * Fake page (Xen semantics: every doorbell is a request): build the
 * server over `cfg` with the register window at PIO window_base, as
 * hcvsockd's loopback service does.  busy: the loop thread polls instead
 * of sleeping in epoll_wait.  A cfg->kvm with only irq_fd set (vm_fd and
 * doorbell_fd -1) offers the guest mode GSI on irq_gsi: interrupts are
 * writes to that eventfd.
 */
int	vsenv_open(struct vsenv *e, const struct ioreq_shm_cfg *cfg,
	    uint64_t window_base, bool busy) __must_check;
/*
 * KVM: the same, but built by attach_vsock_new() from a VMM's attach
 * description - the code hcvsockd runs for an attached KVM guest.
 * busy: hcvsockd's busy_poll_us window (VSENV_BUSY_WINDOW_NS) keeps
 * the loop awake, where a fake page's busy server spins the loop itself.
 * tx_poll: the device's TX poll window (hcvsockd's tx_poll_us), blocking
 * or busy server; the latency figures leave it off, since with it the
 * guest's request rings no doorbell and the figure would time the
 * window instead of the doorbell path it is about.
 */
int	vsenv_open_attach(struct vsenv *e, const struct attach_desc *d,
	    bool busy, bool tx_poll) __must_check;
int	vsenv_start(struct vsenv *e) __must_check;
/* Stop the loop thread (idempotent); the objects stay for inspection. */
void	vsenv_stop(struct vsenv *e);
/* The device (after vsenv_stop, or from the loop thread). */
struct vsock_dev *vsenv_dev(struct vsenv *e);
/* Stop the thread, free everything (host peers see EOF). */
void	vsenv_close(struct vsenv *e);

/* Listen on <dir>/v_<port>; returns the fd or -errno. */
int	vsenv_listen(struct vsenv *e, uint32_t port);

#endif /* HCVS_BENCH_VSENV_H */
