/* SPDX-License-Identifier: MIT */
/*
 * A fake guest vsock stack that talks to the muxer through packets only
 * (vsock_mux_from_guest / vsock_mux_to_guest), the way the device will.
 * It honours the host's credit, keeps its own, checks every packet it
 * gets against the protocol rules and counts what it saw.
 */
#ifndef HCVS_TEST_VGUEST_H
#define HCVS_TEST_VGUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vsock/vsock_mux.h"

struct loop;

enum vg_state { VG_CONNECTING, VG_OPEN, VG_CLOSED };

struct vg_conn {
	uint32_t	gport, hport;
	uint16_t	type;
	enum vg_state	state;
	bool		rst;		/* got an RST */
	uint32_t	shut_rcvd;	/* SHUTDOWN bits from the host */
	bool		shut_sent;	/* we sent SHUTDOWN(SEND) after out */
	uint32_t	shut_after_out;	/* SHUTDOWN flags once out is sent */

	/* Guest receive side. */
	uint32_t	buf_alloc;	/* what we advertise */
	uint32_t	rx_cnt, fwd_cnt, fwd_sent;
	bool		consume;	/* read at once (else stall) */
	uint8_t		*in;
	size_t		in_len, in_cap;
	size_t		in_msgs;	/* SEQPACKET EOMs seen */
	bool		echo;		/* send back what arrives */

	/* Guest send side. */
	uint8_t		*out;		/* owned */
	size_t		out_len, out_off;
	uint32_t	max_pkt;	/* RW payload cap */
	uint32_t	msg_size;	/* SEQPACKET: EOM every msg_size */
	uint32_t	peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	bool		peer_known;

	uint64_t	credit_updates_rcvd, credit_requests_rcvd;
	uint64_t	pkts_rcvd;
};

#define VG_MAX_CONNS	2048
#define VG_MAX_LISTEN	16

struct vguest {
	struct vsock_mux	*m;
	struct loop		*l;
	uint64_t		 cid;
	size_t			 slot_payload;	/* max payload per RX packet */
	uint32_t		 buf_alloc;	/* default for new conns */
	struct vg_conn		*conns[VG_MAX_CONNS];
	size_t			 nconns;
	uint32_t		 listen[VG_MAX_LISTEN];	/* accepted ports */
	size_t			 nlisten;
	bool			 listen_echo;
	bool			 rx_paused;	/* do not pull from the muxer */

	uint64_t		 ops[8];	/* per op received */
	uint64_t		 orphans;	/* packets for no conn */
	uint64_t		 orphan_rst;
	uint64_t		 violations;	/* host broke a rule */
	char			 last_violation[160];
	uint64_t		 rx_ready_calls;
	uint8_t			*slot;
};

void	vg_init(struct vguest *g, struct loop *l, uint64_t cid);
void	vg_fini(struct vguest *g);
/* rx_ready callback for vsock_mux_cfg (arg = struct vguest *). */
void	vg_rx_ready(void *arg);

/* Send one raw packet (defaults filled: cids, STREAM). */
void	vg_send_raw(struct vguest *g, const struct vsock_pkt_hdr *h,
	    const void *payload);
struct vg_conn *vg_connect(struct vguest *g, uint32_t gport, uint32_t hport,
	    uint16_t type);
struct vg_conn *vg_find(struct vguest *g, uint32_t gport, uint32_t hport);
/* Queue data to send (copied). */
void	vg_write(struct vg_conn *c, const void *p, size_t n);
void	vg_shutdown(struct vguest *g, struct vg_conn *c, uint32_t flags);
void	vg_rst(struct vguest *g, struct vg_conn *c);
/* Consume everything received so far and tell the host if it helps. */
void	vg_consume(struct vguest *g, struct vg_conn *c);

/* Drain RX, answer, send pending TX. Returns packets moved. */
size_t	vg_pump(struct vguest *g);
/*
 * Run the loop and pump until cond(arg) is true or timeout_ms passes.
 * Returns true if cond became true.
 */
bool	vg_run(struct vguest *g, bool (*cond)(void *), void *arg,
	    int timeout_ms);
/* Pull one packet without processing it (raw checks). 1 got, 0 none. */
int	vg_pull(struct vguest *g, struct vsock_pkt_hdr *h, void *payload);

uint64_t vg_fnv(const void *p, size_t n);

/*
 * What a muxer test stands on: a fresh temporary directory, a loop, a
 * guest of `cid`, and a muxer configuration listening on <dir>/v.sock
 * with the tests' defaults (allow, OK line, 256 connections, 64 KiB
 * buffers, 300 ms timeouts), wired to the guest.  Adjust cfg, then
 * vg_env_start(); vg_env_fini() frees it all and removes the directory.
 */
struct vg_env {
	char			 dir[64];
	char			 uds[108];
	struct loop		*l;
	struct vsock_mux_cfg	 cfg;
	struct vguest		 g;
};

void	vg_env_init(struct vg_env *e, const char *tag, uint64_t cid);
int	vg_env_start(struct vg_env *e);
void	vg_env_fini(struct vg_env *e);

#endif /* HCVS_TEST_VGUEST_H */
