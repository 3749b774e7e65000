/* SPDX-License-Identifier: MIT */
/*
 * The vsock muxer: every connection of one guest, its state machine and
 * credit accounting, and the host AF_UNIX bridge (Firecracker's hybrid
 * vsock convention).  It sees packets only: the device (vsock_dev.h)
 * moves them between the guest's rings and the muxer, so the muxer never
 * touches guest memory.
 *
 * Flow (the device pulls, as Firecracker's device pulls from its muxer):
 *   guest TX ring -> device copies one slot out, decodes the header ->
 *     vsock_mux_from_guest()          (the muxer acts, may queue replies)
 *   device, after sending:  vsock_mux_has_rx() / vsock_mux_to_guest()
 *     while RX slots are free;
 *   work appearing in a loop callback (host data, a timer) ->
 *     cfg.rx_ready(arg) -> the owner runs the device.
 * The same three calls are vsock_mux_backend_ops (vsock_backend.h).
 *
 * The muxer registers host sockets on the event loop it is given.  It is
 * owned by the loop thread.  Guest errors never fail a call: they become
 * an RST or a drop, a counter and a rate-limited log line.
 *
 * Rules (shared/notes/vsock.md §3, §4):
 * - Guest packets with dst_cid != 2, src_cid != guest_cid, len > 64 KiB,
 *   payload on a control op or an empty RW are dropped (ms_dropped).
 *   Unknown type or op, a non-REQUEST on an unknown pair, REQUEST or
 *   RESPONSE on a live pair: RST (a live pair is closed).  An RST is
 *   never answered.
 * - Guest connects: REQUEST to (2, P) -> non-blocking connect to the
 *   mapping's path or <uds_path>_<P>; refused, EAGAIN (full backlog),
 *   ENOENT, policy or the connection limit -> RST.
 * - SEQPACKET: the guest's socket type picks the host socket type; the
 *   path is the same (<uds_path>_<P> or the mapping), so a host program
 *   serves SEQPACKET by listening on a SOCK_SEQPACKET AF_UNIX socket
 *   there.  A guest message (RW packets up to EOM) becomes one host
 *   message (EOR as MSG_EOR); a host message (<= 64 KiB) becomes RW
 *   packets with EOM on the last.  Empty messages are not carried.
 *   Host programs open SEQPACKET connections on <uds_path>_seqpacket, a
 *   SOCK_SEQPACKET listener: the CONNECT line is their whole first
 *   message, the OK line one message back.
 * - Host connects: accept on uds_path, read "CONNECT <port>\n" (at most
 *   64 bytes, connect_timeout_ms), REQUEST to the guest, on RESPONSE
 *   "OK <hostport>\n" (host ports from 2^30 upwards); bytes after the
 *   '\n' belong to the stream.  Bad line, policy, limit, guest RST or
 *   no answer: the client is closed.
 * - Credit: we never send more than the guest's credit (a host socket
 *   is not read while it is zero: backpressure) and send CREDIT_UPDATE
 *   when the guest's view of our buffer is low; a guest overrunning
 *   buf_alloc gets an RST.  Per connection at most buf_alloc bytes are
 *   buffered towards the host (SEQPACKET adds 4 bytes of bookkeeping per
 *   queued message, so up to 5 x buf_alloc for 1-byte messages) and one
 *   host message towards the guest.
 * - Half-close: guest SHUTDOWN(SEND) -> shutdown(SHUT_WR) on the host
 *   socket after the buffer drains; host EOF -> SHUTDOWN(SEND) (plus RCV
 *   if the host closed entirely).  Both directions done, or the guest
 *   shut both -> RST once flushed; close_timeout_ms bounds every wait.
 */
#ifndef HCVS_VSOCK_MUX_H
#define HCVS_VSOCK_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "common/compiler.h"
#include "vsock/vsock_wire.h"

struct loop;
struct vsock_mux;

/* Host program mapping for one guest port (explicit mapping or policy). */
struct vsock_port_map {
	uint32_t	pm_port;	/* guest-visible port on CID 2 */
	char		pm_path[108];	/* AF_UNIX path, "" = <uds_path>_<port> */
	bool		pm_allow_connect;	/* guest may connect to it */
	bool		pm_allow_listen;	/* host may CONNECT to guest port */
	/*
	 * TCP instead of AF_UNIX (the caller checked the addresses): guest
	 * connects (STREAM only) go to pm_tcp; clients accepted on
	 * pm_tcp_listen reach pm_port directly, with no CONNECT or OK line.
	 * A zero length means none.
	 */
	struct sockaddr_storage pm_tcp;
	socklen_t	pm_tcp_len;
	struct sockaddr_storage pm_tcp_listen;
	socklen_t	pm_tcp_listen_len;
};

struct vsock_mux_cfg {
	uint64_t		 guest_cid;
	/*
	 * "<dir>/<name>" host programs connect to; "" = no host listener.
	 * Its length + 11 ("_4294967295") must fit sun_path.  Mode 0660.  A
	 * stale socket there is replaced; one somebody accepts on is
	 * -EADDRINUSE, anything but a socket -EEXIST (never removed).  Mapping
	 * paths are relative to <dir>, or absolute inside it; ".." anywhere
	 * is -EINVAL, outside <dir> -EACCES.
	 */
	char			 uds_path[108];
	/* Default for ports without a mapping: allow <uds_path>_<port>. */
	bool			 default_allow;
	const struct vsock_port_map *maps;
	size_t			 nr_maps;
	/* Zero fields below take the default in brackets. */
	/*
	 * Connections [1023].  Host clients still sending their CONNECT line
	 * count against it for new host clients, not for guest REQUESTs.
	 */
	uint32_t		 max_conns;
	uint32_t		 buf_alloc;	/* per-conn rx buffer [256 KiB], <= 64 MiB */
	uint32_t		 close_timeout_ms;	/* [8000] */
	bool			 send_ok_line;	/* reply "OK <port>\n" */
	/*
	 * How long a host client may take to send its CONNECT line, and the
	 * guest to answer the REQUEST that follows (0 = 2000, Firecracker's
	 * value).
	 */
	uint32_t		 connect_timeout_ms;
	/*
	 * Small guest -> host writes wait in a connection's cork while its
	 * host reader still holds bytes it has not consumed, and go out when
	 * it has consumed them all; this bounds the wait of a reader that
	 * waits for more without consuming (MSG_PEEK) [2 ms].
	 */
	uint32_t		 cork_ms;
	/*
	 * Called (possibly many times) when vsock_mux_to_guest() has work
	 * that appeared in one of the muxer's own loop callbacks; never
	 * from inside vsock_mux_from_guest(), vsock_mux_to_guest() or
	 * vsock_mux_reset(): their caller pulls what they queued.  arg is
	 * the owner of muxer and device (not the device), which runs
	 * vsock_dev_process(); it may call vsock_mux_to_guest() itself.  A
	 * device that stops pulling (RX ring full) must pull again when
	 * slots free up: no new call comes for work already queued.
	 */
	void			 (*rx_ready)(void *arg);
	void			*rx_ready_arg;
};

/*
 * Create the muxer and its listener.  0, or -EINVAL (bad CID, maps, buf_alloc),
 * -ENAMETOOLONG, -EACCES (path outside the directory), -EADDRINUSE,
 * -EEXIST, or the -errno of socket/bind/listen.  cfg and its maps are copied.
 */
int	vsock_mux_new(struct loop *l, const struct vsock_mux_cfg *cfg,
	    struct vsock_mux **mp) __must_check;
/*
 * The device's packet backend (vsock_backend.h), arg = the muxer:
 * send = vsock_mux_from_guest, recv = vsock_mux_to_guest, has_rx,
 * reset = vsock_mux_reset.
 */
struct vsock_backend_ops;
extern const struct vsock_backend_ops vsock_mux_backend_ops;

/* Reset every connection (host peers see EOF) and free. NULL: no-op. */
void	vsock_mux_free(struct vsock_mux *m);

/*
 * One packet from the guest: a decoded header and hdr->len bytes of
 * payload (the device checked that len fits the slot).  Copy-once is the
 * device's job; the muxer validates every field it uses.
 */
void	vsock_mux_from_guest(struct vsock_mux *m, const struct vsock_pkt_hdr *hdr,
	    const void *payload);

/*
 * A TX batch: the device brackets one pass over the guest's TX ring with
 * vsock_mux_tx_begin() and vsock_mux_tx_end(), and hands payloads it
 * keeps in place until the end (guest TX slots it has not released yet)
 * to vsock_mux_from_guest_held().  Stream data is then written to each
 * host socket once per batch, in one sendmsg() straight from those
 * payloads; what the socket does not take is copied into the
 * connection's buffer at the end.  Outside a batch, or for anything but
 * stream data, it is vsock_mux_from_guest().  Batches do not nest.
 */
void	vsock_mux_tx_begin(struct vsock_mux *m);
void	vsock_mux_from_guest_held(struct vsock_mux *m,
	    const struct vsock_pkt_hdr *hdr, const void *payload);
void	vsock_mux_tx_end(struct vsock_mux *m);

/*
 * Next packet for the guest, payload at most max_payload bytes.  Returns
 * 1 and fills *hdr and payload, or 0 if nothing is queued.
 */
int	vsock_mux_to_guest(struct vsock_mux *m, struct vsock_pkt_hdr *hdr,
	    void *payload, size_t max_payload);

/*
 * True while vsock_mux_to_guest() would return a packet.  It may be true
 * once more than needed: a host socket reported readable can turn out to
 * have nothing, and then vsock_mux_to_guest() returns 0.
 */
bool	vsock_mux_has_rx(const struct vsock_mux *m);

/*
 * Transport reset (device RESET, re-attach after a crash): every
 * connection is dropped, host peers see EOF, host listeners are kept.
 */
void	vsock_mux_reset(struct vsock_mux *m);

/*
 * Replace policy, mappings, limits and timeouts (SIGHUP).  TCP listeners
 * follow the mappings: an address kept keeps its socket, a new one is
 * bound (-errno of bind/listen if it cannot be, and nothing changes), a
 * removed one is closed.  Existing connections are kept with their
 * buffer size.  guest_cid and uds_path
 * cannot change (-EINVAL); on error nothing changes.  A NULL rx_ready
 * keeps the current callback.
 */
int	vsock_mux_reconfigure(struct vsock_mux *m, const struct vsock_mux_cfg *cfg);

struct vsock_mux_stats {
	uint64_t	ms_conns_open;
	uint64_t	ms_conns_total;
	uint64_t	ms_rst_sent;
	uint64_t	ms_dropped;	/* guest packets dropped, no reply */
	uint64_t	ms_tx_bytes;	/* guest -> host */
	uint64_t	ms_rx_bytes;	/* host -> guest */
	/* Fields are only ever appended. */
	uint64_t	ms_tx_pkts;	/* packets from the guest */
	uint64_t	ms_rx_pkts;	/* packets to the guest */
	uint64_t	ms_rst_received;
	uint64_t	ms_bad_packets;	/* malformed or out of state: RST */
	uint64_t	ms_credit_violations;	/* guest overran buf_alloc */
	uint64_t	ms_credit_updates;	/* CREDIT_UPDATE sent */
	uint64_t	ms_credit_requests;	/* CREDIT_REQUEST sent */
	uint64_t	ms_host_accepted;	/* CONNECT lines accepted */
	uint64_t	ms_host_rejected;	/* bad line, policy, limit, timeout */
	uint64_t	ms_connect_failed;	/* guest connects refused by the host */
	uint64_t	ms_rst_queue_full;	/* RSTs lost: the guest does not read */
	/* Host -> guest data waited: the guest's credit ran out. */
	uint64_t	ms_credit_stalls_to_guest;
	/* Guest -> host: the guest used all the credit it was told of. */
	uint64_t	ms_credit_stalls_to_host;
	uint64_t	ms_late_packets;	/* for an ended pair (a crossed close): RST */
};
void	vsock_mux_get_stats(const struct vsock_mux *m, struct vsock_mux_stats *st);

/* The muxer's gauges. */
struct vsock_mux_info {
	uint64_t	mi_guest_cid;
	uint32_t	mi_conns;	/* connections in the table */
	uint32_t	mi_pending;	/* host clients before their CONNECT line */
	uint32_t	mi_max_conns;
};
void	vsock_mux_get_info(const struct vsock_mux *m, struct vsock_mux_info *mi);

/* One connection, as vsock_mux_foreach_conn() reports it. */
struct vsock_conn_info {
	const char	*ci_type;	/* "stream", "seqpacket" */
	const char	*ci_state;	/* "connecting", "host-init", "established", "dying" */
	bool		 ci_host_initiated;	/* CONNECT on uds_path */
	uint32_t	 ci_guest_port;
	uint32_t	 ci_host_port;
	uint64_t	 ci_age_ms;
	uint32_t	 ci_guest_shut;	/* SHUTDOWN bits the guest sent */
	uint32_t	 ci_host_shut;	/* SHUTDOWN bits sent to the guest */
	uint64_t	 ci_to_host_bytes;
	uint64_t	 ci_to_host_pkts;
	uint32_t	 ci_to_host_buffered;	/* accepted, not yet written */
	uint64_t	 ci_to_guest_bytes;
	uint64_t	 ci_to_guest_pkts;
	uint32_t	 ci_buf_alloc;		/* ours, as told to the guest */
	uint32_t	 ci_guest_buf_alloc;	/* the guest's */
	uint32_t	 ci_guest_credit;	/* bytes we may still send */
	uint64_t	 ci_credit_stalls_to_guest;
	uint64_t	 ci_credit_stalls_to_host;
};
/* Calls fn once per connection, oldest first; fn must not call the muxer. */
void	vsock_mux_foreach_conn(const struct vsock_mux *m,
	    void (*fn)(void *arg, const struct vsock_conn_info *ci), void *arg);
/* One line per connection (ports, state, credit, counters) via cb. */
void	vsock_mux_dump(const struct vsock_mux *m,
	    void (*cb)(void *arg, const char *line), void *arg);

#endif /* HCVS_VSOCK_MUX_H */
