/* SPDX-License-Identifier: MIT */
/*
 * Internals of the vsock muxer shared by vsock_mux.c (table, routing, the
 * RX queue), vsock_conn.c (one connection's state machine and credit) and
 * vsock_host.c (the AF_UNIX side).  Not for use outside src/vsock, except
 * the CONNECT-line parser, which tests and fuzzers drive directly.
 */
#ifndef HCVS_VSOCK_IMPL_H
#define HCVS_VSOCK_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "common/log.h"
#include "vsock/vsock_mux.h"
#include "vsock/vsock_wire.h"

/*
 * CONNECT-line parser.  Feed bytes one at a time; the line is
 * `[blanks] CONNECT blanks <u32> [blanks] [CR] LF`, keyword in any case,
 * at most VSOCK_CONNECT_LINE_MAX bytes including the LF.
 * feed() returns 0 (need more), 1 (complete, *port set; the byte was the
 * LF), -EINVAL (garbage, port above 2^32-1), -E2BIG (line too long).  After
 * 1 or an error it keeps returning an error: the caller drops the client.
 */
#define VSOCK_CONNECT_LINE_MAX	64

struct vsock_connect_parser {
	uint8_t		cp_state;
	uint8_t		cp_kw;
	uint8_t		cp_sep;
	uint32_t	cp_len;
	uint64_t	cp_port;
};

void	vsock_connect_parser_init(struct vsock_connect_parser *p);
int	vsock_connect_parser_feed(struct vsock_connect_parser *p, uint8_t c,
	    uint32_t *port);
/* "OK <port>\n" into buf; returns its length or -ENOSPC. */
int	vsock_connect_ok_format(char *buf, size_t size, uint32_t port);

/* Host ports given to host-initiated connections: [2^30, 2^31), as Firecracker. */
#define VSOCK_HOST_PORT_FIRST	(1u << 30)
#define VSOCK_HOST_PORT_END	(1u << 31)

/* Payloads one TX batch may hold (a ring's worth: HCVS_RING_MAX_SLOTS). */
#define VSOCK_HELD_MAX		256
/* Queued RSTs for pairs that have no connection; more are dropped. */
#define VSOCK_RSTQ_SIZE		256
/* Defaults for zero fields of vsock_mux_cfg. */
#define VSOCK_DEF_CONNECT_TIMEOUT_MS	2000
#define VSOCK_DEF_CLOSE_TIMEOUT_MS	8000
#define VSOCK_DEF_CORK_MS		2
#define VSOCK_DEF_BUF_ALLOC		(256u * 1024)
#define VSOCK_DEF_MAX_CONNS		1023
/* Our buf_alloc must leave bit 31 free (SEQPACKET length FIFO). */
#define VSOCK_MAX_BUF_ALLOC		(64u * 1024 * 1024)

enum vsock_conn_state {
	VC_CONNECTING,		/* guest REQUEST; host connect() in progress */
	VC_HOST_INIT,		/* host CONNECT; REQUEST to the guest queued */
	VC_ESTABLISHED,
	VC_DYING,		/* host side gone, only our RST is left */
};

/* What a connection has for the guest, in priority order. */
#define VC_PEND_RST		0x01u
#define VC_PEND_REQUEST		0x02u
#define VC_PEND_RESPONSE	0x04u
/* Host EOF is found by reading, so SHUTDOWN goes out in DATA's turn. */
#define VC_PEND_DATA		0x08u	/* host socket readable */
#define VC_PEND_CREDIT_REQ	0x20u
#define VC_PEND_CREDIT_UPD	0x40u

/*
 * The cork: a stream connection's guest data held back while its host
 * reader still has bytes it has not consumed (SIOCOUTQ > 0), so that
 * many small packets leave in one write.  Only pieces below
 * VSOCK_CORK_PIECE (one connection's data of one TX batch, or one
 * packet) join it: larger ones are worth their own write, and take the
 * corked bytes with them.  It is written
 * out when it would reach VSOCK_CORK_MAX, when the reader has freed all
 * our bytes (an edge-triggered EPOLLOUT on m_cork_ep: an AF_UNIX
 * writer's write-space callback runs for every skb its reader frees, and
 * a reader can only wait for more after freeing the last one), before
 * any other packet of the connection from the guest, and at the latest
 * cfg.cork_ms later (a reader that waits for more without consuming,
 * MSG_PEEK).  Only AF_UNIX stream sockets with a buf_alloc of at least
 * twice VSOCK_CORK_MAX are corked, and not from a TX batch whose stream
 * data is all one connection's (vsock_mux_tx_end): that leaves in one
 * write anyway.
 */
#define VSOCK_CORK_MAX		(64u * 1024)
#define VSOCK_CORK_PIECE	(16u * 1024)
/*
 * After VSOCK_CORK_DRAINED probes in a row found the reader drained, the
 * next VSOCK_CORK_UNPROBED pieces are written at once without a probe.
 */
#define VSOCK_CORK_DRAINED	4
#define VSOCK_CORK_UNPROBED	15
struct vsock_cork {
	uint32_t	k_len;
	uint64_t	k_sweep;	/* m_cork_sweeps when last corked */
	uint8_t		k_buf[VSOCK_CORK_MAX];
};

/* A byte ring of fixed capacity for guest -> host data. */
struct vsock_ring {
	uint8_t		*r_buf;
	uint32_t	 r_cap;
	uint32_t	 r_head;
	uint32_t	 r_len;
};

struct vsock_conn {
	struct vsock_mux		*c_mux;
	LIST_ENTRY(vsock_conn)		 c_hash;
	TAILQ_ENTRY(vsock_conn)		 c_all;
	TAILQ_ENTRY(vsock_conn)		 c_rxq;
	bool				 c_in_rxq;
	uint8_t				 c_cork_ok;	/* 0 unknown, 1 yes, 2 no */
	/* SIOCOUTQ probes in a row that found the reader drained. */
	uint8_t				 c_drained_run;
	/* Pieces still to write without a probe. */
	uint8_t				 c_probe_skip;

	uint32_t			 c_gport;	/* guest side */
	uint32_t			 c_hport;	/* our side, CID 2 */
	uint16_t			 c_type;
	enum vsock_conn_state		 c_state;

	int				 c_fd;
	unsigned			 c_ev;		/* mask on the loop */
	bool				 c_ev_reg;	/* fd on the loop */
	bool				 c_hup;		/* host hung up */
	bool				 c_in_parked;	/* LOOP_IN off until pulled */
	uint32_t			 c_held;	/* payloads in m_held */

	unsigned			 c_pend;
	uint32_t			 c_peer_shut;	/* SHUTDOWN bits from guest */
	uint32_t			 c_local_shut;	/* SHUTDOWN bits for guest */
	bool				 c_wr_shut;	/* SHUT_WR done on c_fd */
	int64_t				 c_timer;
	/* c_timer runs only because the host left and the guest gives no credit. */
	bool				 c_stall_timer;

	/* Guest -> host: our receive buffer as the guest sees it. */
	uint32_t			 c_buf_alloc;
	uint32_t			 c_rx_cnt;	/* bytes accepted */
	uint32_t			 c_fwd_cnt;	/* bytes written to host */
	uint32_t			 c_fwd_sent;	/* fwd_cnt the guest knows */
	struct vsock_ring		 c_txr;
	/* Non-NULL: c_fd is on m_cork_ep. */
	struct vsock_cork		*c_cork;
	/* SEQPACKET: complete message lengths in c_txr (bit 31 = EOR). */
	uint32_t			*c_msgs;
	uint32_t			 c_msgs_cap;
	uint32_t			 c_msgs_head;
	uint32_t			 c_msgs_n;
	uint32_t			 c_msg_open;	/* bytes of the open one */

	/* Host -> guest: the guest's credit. */
	uint32_t			 c_peer_buf_alloc;
	uint32_t			 c_peer_fwd_cnt;
	uint32_t			 c_tx_cnt;
	bool				 c_credit_asked;
	bool				 c_guest_due;	/* set_guest_due() */
	/* SEQPACKET: one host message being cut into packets. */
	uint8_t				*c_rxm;
	uint32_t			 c_rxm_len;
	uint32_t			 c_rxm_off;
	uint32_t			 c_rxm_flags;

	uint64_t			 c_tx_bytes;	/* guest -> host */
	uint64_t			 c_rx_bytes;	/* host -> guest */
	uint64_t			 c_tx_pkts;
	uint64_t			 c_rx_pkts;
	uint64_t			 c_born_ms;
	bool				 c_host_init;	/* host CONNECTed */
	bool				 c_quiet;	/* no OK line (TCP client) */
	uint64_t			 c_stalls_to_guest;
	uint64_t			 c_stalls_to_host;
};

/* A host client that has not finished its CONNECT line. */
struct vsock_pending {
	struct vsock_mux		*p_mux;
	TAILQ_ENTRY(vsock_pending)	 p_link;
	int				 p_fd;
	uint16_t			 p_type;	/* its listener's */
	bool				 p_quiet;	/* TCP: no OK line */
	int64_t				 p_timer;
	struct vsock_connect_parser	 p_parser;
};

/* Host programs connect to <uds_path> (STREAM) or <uds_path>_seqpacket. */
#define VSOCK_SEQPACKET_SUFFIX	"_seqpacket"
#define VSOCK_NR_LISTENERS	2
struct usock_listener;
struct vsock_listener {
	struct vsock_mux		*l_mux;
	uint16_t			 l_type;
	struct usock_listener		*l_us;		/* AF_UNIX */
	/* TCP: the guest port every client goes to (no CONNECT line). */
	int				 l_fd;
	int64_t				 l_timer;	/* EMFILE back-off */
	uint32_t			 l_gport;
	struct sockaddr_storage		 l_addr;
	socklen_t			 l_addrlen;
};

LIST_HEAD(vsock_conn_list, vsock_conn);
TAILQ_HEAD(vsock_conn_tailq, vsock_conn);
TAILQ_HEAD(vsock_pending_tailq, vsock_pending);

struct vsock_rst {
	uint32_t	rs_gport;
	uint32_t	rs_hport;
	uint16_t	rs_type;
};

/* Stream data of a TX batch, not yet written: the caller's memory. */
struct vsock_held {
	struct vsock_conn	*h_conn;	/* NULL: written or dropped */
	const uint8_t		*h_p;
	uint32_t		 h_len;
};

struct vsock_mux {
	struct loop			*m_loop;
	struct vsock_mux_cfg		 m_cfg;		/* m_cfg.maps = m_maps */
	struct vsock_port_map		*m_maps;	/* sorted by port */
	char				 m_dir[108];	/* dirname of uds_path */

	struct vsock_listener		 m_lis[VSOCK_NR_LISTENERS];
	struct vsock_listener		**m_tcp;	/* TCP listeners */
	size_t				 m_ntcp;
	struct vsock_pending_tailq	 m_pending;
	uint32_t			 m_npending;

	struct vsock_conn_list		*m_hash;
	uint32_t			 m_hash_mask;
	struct vsock_conn_tailq		 m_all;
	uint32_t			 m_nconns;
	struct vsock_conn_tailq		 m_rxq;

	struct vsock_rst		 m_rstq[VSOCK_RSTQ_SIZE];
	uint32_t			 m_rstq_head;
	uint32_t			 m_rstq_n;

	uint32_t			 m_next_hport;
	uint32_t			 m_credit_waiters; /* c_credit_asked */
	uint32_t			 m_guests_due;	/* c_guest_due */
	uint64_t			 m_grants;	/* credit to a stalled guest */
	struct vsock_mux_stats		 m_stats;
	struct log_ratelimit		 m_rl;

	int				 m_depth;	/* nested entry points */
	bool				 m_kick;	/* rx_ready owed */

	/* Edge-triggered EPOLLOUT of corked connections' sockets; -1: none yet. */
	int				 m_cork_ep;
	uint32_t			 m_cork_bufs;	/* connections with a cork */
	int64_t				 m_cork_timer;
	uint64_t			 m_cork_sweeps;

	bool				 m_batch;	/* inside tx_begin/end */
	bool				 m_holding;	/* this payload may be held */
	uint32_t			 m_nheld;
	struct vsock_held		 m_held[VSOCK_HELD_MAX];
};

/* vsock_conn.c: fill *ci for vsock_mux_foreach_conn(). */
void	vsock_conn_info(const struct vsock_conn *c, struct vsock_conn_info *ci);

/* vsock_mux.c */
struct vsock_conn *vsock_mux_lookup(struct vsock_mux *m, uint32_t gport,
	    uint32_t hport);
int	vsock_mux_insert(struct vsock_mux *m, struct vsock_conn *c);
void	vsock_mux_remove(struct vsock_mux *m, struct vsock_conn *c);
/* Put c on the RX queue if it has something pending. */
void	vsock_mux_schedule(struct vsock_mux *m, struct vsock_conn *c);
void	vsock_mux_enter(struct vsock_mux *m);
void	vsock_mux_leave(struct vsock_mux *m);
bool	vsock_mux_conn_room(const struct vsock_mux *m);
#define vsock_log(m, prio, ...) log_ratelimited(&(m)->m_rl, (prio), __VA_ARGS__)

/* A packet from the host's port hport to the guest's gport, all else zero. */
static inline void
vsock_mux_hdr_to_guest(const struct vsock_mux *m, struct vsock_pkt_hdr *h,
    uint32_t hport, uint32_t gport, uint16_t type)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_CID_HOST;
	h->dst_cid = m->m_cfg.guest_cid;
	h->src_port = hport;
	h->dst_port = gport;
	h->type = type;
}

/* vsock_conn.c */
struct vsock_conn *vsock_conn_new(struct vsock_mux *m, uint32_t gport,
	    uint32_t hport, uint16_t type, int fd, enum vsock_conn_state st);
/*
 * Hold stream data of the current batch (m_holding): true if taken, with
 * the credit already counted; false when it must go the usual way.
 */
bool	vsock_mux_hold(struct vsock_mux *m, struct vsock_conn *c,
	    const uint8_t *p, uint32_t len);
/* Forget c's held payloads (c is going away). */
void	vsock_mux_drop_held(struct vsock_mux *m, struct vsock_conn *c);
/*
 * Write c's held payloads to its host socket, the rest into its buffer;
 * small ones may join its cork if may_cork.
 */
void	vsock_conn_flush_held(struct vsock_conn *c, bool may_cork);
/* m_cork_ep, created and watched on first use; -errno if it cannot be. */
int	vsock_mux_cork_ep(struct vsock_mux *m);
/* Start the sweep that bounds how long corked bytes wait. */
void	vsock_mux_cork_timer(struct vsock_mux *m);
/* Write out c's corked bytes (what the socket refuses goes to c_txr). */
void	vsock_conn_uncork(struct vsock_conn *c);
/* m_cork_ep reported c's socket: the reader freed some of our bytes. */
void	vsock_conn_cork_event(struct vsock_conn *c);
/* The sweep: uncork c if it was corked before sweep number `before`. */
void	vsock_conn_cork_sweep(struct vsock_conn *c, uint64_t before);
/* Close the host side; with rst the guest gets an RST before c is freed. */
void	vsock_conn_kill(struct vsock_conn *c, bool rst);
void	vsock_conn_from_guest(struct vsock_conn *c, const struct vsock_pkt_hdr *h,
	    const void *payload);
/* 1 if a packet was produced, 0 if c had nothing after all. */
int	vsock_conn_to_guest(struct vsock_conn *c, struct vsock_pkt_hdr *h,
	    void *payload, size_t max_payload);
/* The host connect() finished (0) or failed (-errno). */
void	vsock_conn_connected(struct vsock_conn *c, int err);
void	vsock_conn_update_events(struct vsock_conn *c);
/* One-shot: when it fires the connection is killed with an RST. */
void	vsock_conn_arm_timer(struct vsock_conn *c, uint32_t ms);
void	vsock_conn_describe(const struct vsock_conn *c, char *buf, size_t size);

/* vsock_host.c */
int	vsock_host_check_cfg(const struct vsock_mux_cfg *cfg, char *dir,
	    size_t dirsize) __must_check;
int	vsock_host_listen(struct vsock_mux *m) __must_check;
void	vsock_host_unlisten(struct vsock_mux *m);
/*
 * Make the TCP listeners those of maps[0..n): keep the ones whose address
 * stays, bind new ones, close the rest.  On error nothing changed.
 */
int	vsock_host_tcp_sync(struct vsock_mux *m, const struct vsock_port_map *maps,
	    size_t n) __must_check;
void	vsock_host_drop_pending(struct vsock_mux *m);
/*
 * Start a non-blocking connect for a guest REQUEST to port.  Returns 0
 * connected, -EINPROGRESS (wait for LOOP_OUT), -EPERM (the policy does not
 * open the port to the guest), or another -errno from connect(2), such as
 * -EACCES when the socket file's owner and mode keep the daemon out;
 * *fdp is set for 0 and -EINPROGRESS.  `path` (may be NULL) receives the
 * socket path tried, "" if none.
 */
int	vsock_host_connect(struct vsock_mux *m, uint32_t port, uint16_t type,
	    int *fdp, char *path, size_t pathlen);

#endif /* HCVS_VSOCK_IMPL_H */
