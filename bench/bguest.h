/* SPDX-License-Identifier: MIT */
/*
 * The guest half of the hcvsock figures: workloads on the freestanding
 * guest driver (guest/include/hcvsock_guest.h).  The same source runs
 * hosted in a thread of hcvsock-bench (the fake ioreq page) and
 * freestanding inside a native user-mode KVM guest (bench/kvm_guest.c),
 * so it uses no libc.
 *
 * The host and the guest share one struct bguest_ctl (in guest RAM for
 * KVM): the host fills the parameters, the guest sets `ready` once its
 * connections are up, runs until the host sets `stop`, then sets `done`.
 * Latency workloads record one sample per operation in TSC cycles (the
 * guest's TSC is the host's on this KVM; the host converts).
 */
#ifndef HCVS_BENCH_BGUEST_H
#define HCVS_BENCH_BGUEST_H

#include <stdint.h>

#include "hcvsock_guest.h"

enum bguest_mode {
	BG_CREDIT_RTT = 1,	/* CREDIT_REQUEST -> CREDIT_UPDATE, no host I/O */
	BG_ECHO,		/* send `payload` bytes, read them back */
	BG_TX_STREAM,		/* send `payload`-byte writes until stop */
	BG_RX_STREAM,		/* read `payload`-byte chunks until stop */
	BG_MULTI_TX,		/* `nconns` connections, round-robin sends */
	/* Protocol MSG: Receive and Send `payload` bytes on one session. */
	BG_MSG_ECHO,
};

#define BGUEST_MAX_CONNS	1024u
/* Driver waits (pause each) before a blocking call gives up: seconds. */
#define BGUEST_WAIT_LIMIT	200000000u
#define BGUEST_MAX_PAYLOAD	65536u

struct bguest_ctl {
	/* Host -> guest, before start. */
	uint32_t		mode;
	uint32_t		port;		/* host port (CID 2) */
	uint32_t		payload;	/* bytes per operation */
	uint32_t		nconns;
	uint32_t		max_samples;
	uint32_t		sync;		/* synchronous doorbell */
	uint32_t		window;		/* RX_STREAM: bytes per sample */
	/* Host -> guest, while running. */
	volatile uint32_t	stop;
	/* Guest -> host. */
	volatile uint32_t	ready;
	volatile uint32_t	done;
	volatile int32_t	status;		/* 0 or -HCVG_E* */
	volatile uint32_t	nsamples;
	volatile uint64_t	bytes;		/* payload bytes moved */
	uint32_t		samples[];	/* max_samples cycle counts */
};

/* Where the mailbox starts, from the start of the control block. */
#define BGUEST_MBOX_OFF(max_samples) \
	((sizeof(struct bguest_ctl) + 4u * (uint64_t)(max_samples) + 4095u) & \
	    ~(uint64_t)4095u)
/* Mailbox geometry: slots big enough for 64 KiB payloads. */
#define BGUEST_TX_SLOTS		32u
#define BGUEST_RX_SLOTS		32u
#define BGUEST_SLOT_SIZE	HCVS_SLOT_MAX
#define BGUEST_MBOX_SIZE	(HCVS_MBOX_HDR_SIZE + \
	(BGUEST_TX_SLOTS + BGUEST_RX_SLOTS) * BGUEST_SLOT_SIZE)

/*
 * Run the workload on an initialised driver; returns ctl->status.
 * `buf` is BGUEST_MAX_PAYLOAD bytes of scratch.
 */
int	bguest_run(struct hcvg *g, struct bguest_ctl *ctl, uint8_t *buf);

/*
 * BG_MSG_ECHO on an initialised protocol-MSG driver: take the host's
 * session (WaitForRequest), set `ready`, then per sample post a Receive
 * and a Send together (one doorbell) and wait for the echo.  `bufs` are
 * three 64 KiB buffers, 4 KiB aligned.  Returns ctl->status.
 */
int	bguest_msg_run(struct hcvg_msg *m, struct bguest_ctl *ctl,
	    uint8_t *bufs);

#endif /* HCVS_BENCH_BGUEST_H */
