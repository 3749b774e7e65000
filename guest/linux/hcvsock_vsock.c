// SPDX-License-Identifier: GPL-2.0
/*
 * AF_VSOCK for Linux guests over the hcvsock device (docs/PROTOCOL.md):
 * a guest-to-host transport built on virtio_transport_common, so that
 * credit, shutdown, RST and the socket state machine are Linux's own.
 * Packets leave as sk_buffs through send_pkt and are copied into TX
 * slots; RX slots become sk_buffs for virtio_transport_recv_pkt.
 *
 * One ordered work item owns both rings: no lock around ring state.
 * The host is woken by the doorbell unless it said it is looking
 * (TX_NO_KICK); it wakes us by a Xen event channel, or we poll.  With
 * an event channel and EVTCHN_KICK the doorbell is an EVTCHNOP_send on
 * that channel: no exit to the device model and no wait for it.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/interrupt.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/version.h>
#include <linux/virtio_vsock.h>
#include <linux/workqueue.h>
#include <net/af_vsock.h>
#include <net/sock.h>

#ifdef CONFIG_XEN
#include <xen/xen.h>
#include <xen/events.h>
#include <xen/interface/event_channel.h>
#include <asm/xen/hypercall.h>
#endif

#include "hcvsock_abi.h"

/* SIOCOUTQ accounting (unsent_bytes) needs to hear when a packet left. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define HCVS_HAVE_UNSENT_BYTES 1
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define HCVS_HAVE_SET_RCVLOWAT 1
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define HCVS_HAVE_READ_SKB 1
#endif

static ushort pio = 0x5a0;
module_param(pio, ushort, 0444);
MODULE_PARM_DESC(pio, "port I/O base of the register window (default 0x5a0)");

static ulong mmio;
module_param(mmio, ulong, 0444);
MODULE_PARM_DESC(mmio, "MMIO base of the register window; 0: use port I/O");

static char *irq = "auto";
module_param(irq, charp, 0444);
MODULE_PARM_DESC(irq, "notification: auto (event channel on Xen, else poll), evtchn, poll");

static bool evtchn_kick = true;
module_param(evtchn_kick, bool, 0444);
MODULE_PARM_DESC(evtchn_kick, "ring the doorbell by event channel when the host offers EVTCHN_KICK (default 1)");

static uint poll_ms = 2;
module_param(poll_ms, uint, 0444);
MODULE_PARM_DESC(poll_ms, "poll interval in ms without interrupts (default 2)");

static uint tx_slots = 32;
module_param(tx_slots, uint, 0444);
MODULE_PARM_DESC(tx_slots, "TX ring slots, a power of two 1..256 (default 32)");

static uint rx_slots = 32;
module_param(rx_slots, uint, 0444);
MODULE_PARM_DESC(rx_slots, "RX ring slots, a power of two 1..256 (default 32)");

static uint slot_size = HCVS_SLOT_HDR + 16384;
module_param(slot_size, uint, 0444);
MODULE_PARM_DESC(slot_size, "bytes per slot incl. the 44-byte header, multiple of 4, 64..65580 (default 16428)");

/* Work done per pass before yielding the worker to others. */
#define HCVS_PASSES		8

struct hcvs {
	/* Register window: MMIO if mapped, else port I/O at pio. */
	void __iomem		*win;
	unsigned long		 pio;
	bool			 pio_claimed;
	bool			 mmio_claimed;
	struct mutex		 cmd_lock;	/* ARGn + CMD sequences */

	/* Mailbox in our memory; the host reads and writes it. */
	u8			*mb;
	size_t			 mb_size;
	u32			 slot;		/* SLOT_SIZE */
	u32			 ntx, nrx;
	u32			 tx_prod;	/* ours, mirrored to TX_PROD */
	u32			 rx_cons;	/* ours, mirrored to RX_CONS */
	u32			 epoch;
	u32			 features;
	bool			 sync_doorbell;	/* no interrupts: DOORBELL_SYNC */
	bool			 ekick;		/* doorbell by EVTCHNOP_send */

	/* Notifications. */
	int			 irq;		/* Linux irq of the event channel, or -1 */
	u32			 evtchn;
	u32			 server_dom;

	/* Packets from virtio_transport_common waiting for TX slots. */
	struct sk_buff_head	 txq;
	struct sk_buff		*tx_cur;	/* partly copied (split) */
	u32			 tx_off;

	struct workqueue_struct	*wq;
	struct delayed_work	 work;
	bool			 live;		/* rings are ours to use */
	bool			 halted;	/* device error: bring-up again */
	u32			 cid;

	/* Counters, printed at unload and read from debugfs meanwhile. */
	u64			 n_tx, n_rx, n_kicks, n_ekicks, n_irqs,
				 n_resets, n_rx_bad, n_splits;
	struct dentry		*dbg;
};

static struct hcvs hcvs;

/* ---- Register window ------------------------------------------------- */

static u32 reg_rd(struct hcvs *h, u32 off)
{
	return h->win ? readl(h->win + off) : inl(h->pio + off);
}

static void reg_wr(struct hcvs *h, u32 off, u32 v)
{
	if (h->win)
		writel(v, h->win + off);
	else
		outl(v, h->pio + off);
}

/* A command completes when the write retires (PROTOCOL.md §6). */
static u32 hcvs_cmd(struct hcvs *h, u32 cmd, u32 a0, u32 a1, u32 a2, u32 a3)
{
	u32 rc;

	mutex_lock(&h->cmd_lock);
	reg_wr(h, HCVS_REG_ARG0, a0);
	reg_wr(h, HCVS_REG_ARG1, a1);
	reg_wr(h, HCVS_REG_ARG2, a2);
	reg_wr(h, HCVS_REG_ARG3, a3);
	reg_wr(h, HCVS_REG_CMD, cmd);
	rc = reg_rd(h, HCVS_REG_CMD);
	mutex_unlock(&h->cmd_lock);
	return rc;
}

/* As hcvs_cmd, returning ARG0 and ARG1 too. */
static u32 hcvs_cmd_get(struct hcvs *h, u32 cmd, u32 *r0, u32 *r1)
{
	u32 rc;

	mutex_lock(&h->cmd_lock);
	reg_wr(h, HCVS_REG_CMD, cmd);
	rc = reg_rd(h, HCVS_REG_CMD);
	*r0 = reg_rd(h, HCVS_REG_ARG0);
	if (r1)
		*r1 = reg_rd(h, HCVS_REG_ARG1);
	mutex_unlock(&h->cmd_lock);
	return rc;
}

/* ---- Mailbox fields ---------------------------------------------------- */

static u32 mb_get(struct hcvs *h, u32 off)
{
	return le32_to_cpu(READ_ONCE(*(__le32 *)(h->mb + off)));
}

static void mb_put(struct hcvs *h, u32 off, u32 v)
{
	WRITE_ONCE(*(__le32 *)(h->mb + off), cpu_to_le32(v));
}

static u8 *tx_slot(struct hcvs *h, u32 i)
{
	return h->mb + HCVS_MBOX_HDR_SIZE + (size_t)(i & (h->ntx - 1)) * h->slot;
}

static u8 *rx_slot(struct hcvs *h, u32 i)
{
	return h->mb + HCVS_MBOX_HDR_SIZE + (size_t)h->ntx * h->slot +
	       (size_t)(i & (h->nrx - 1)) * h->slot;
}

static void guest_flags(struct hcvs *h, u32 set, u32 clear)
{
	u32 f = mb_get(h, HCVS_MB_GUEST_FLAGS);

	mb_put(h, HCVS_MB_GUEST_FLAGS, (f | set) & ~clear);
}

/*
 * HOST_FLAGS after our index store: the full barrier orders the two, so
 * that no kick is lost (PROTOCOL.md §8).
 */
static u32 host_flags(struct hcvs *h)
{
	virt_mb();
	return mb_get(h, HCVS_MB_HOST_FLAGS);
}

static void kick(struct hcvs *h)
{
	h->n_kicks++;
#ifdef CONFIG_XEN
	if (h->ekick) {
		h->n_ekicks++;
		notify_remote_via_evtchn(h->evtchn);
		return;
	}
#endif
	reg_wr(h, h->sync_doorbell ? HCVS_REG_DOORBELL_SYNC : HCVS_REG_DOORBELL,
	       HCVS_DOORBELL_KICK);
}

/* ---- The transport ---------------------------------------------------- */

static struct virtio_transport hcvs_transport;

static void hcvs_kick_work(struct hcvs *h)
{
	mod_delayed_work(h->wq, &h->work, 0);
}

static u32 hcvs_get_local_cid(void)
{
	return READ_ONCE(hcvs.cid);
}

static int hcvs_send_pkt(struct sk_buff *skb)
{
	struct hcvs *h = &hcvs;
	int len = skb->len;

	if (!READ_ONCE(h->live)) {
		kfree_skb(skb);
		return -ENODEV;
	}
	virtio_vsock_skb_queue_tail(&h->txq, skb);
	hcvs_kick_work(h);
	return len;
}

static int hcvs_cancel_pkt(struct vsock_sock *vsk)
{
	return virtio_transport_purge_skbs(vsk, &hcvs.txq);
}

static bool hcvs_seqpacket_allow(u32 remote_cid)
{
	return hcvs.features & HCVS_F_SEQPACKET;
}

static struct virtio_transport hcvs_transport = {
	.transport = {
		.module			  = THIS_MODULE,

		.get_local_cid		  = hcvs_get_local_cid,

		.init			  = virtio_transport_do_socket_init,
		.destruct		  = virtio_transport_destruct,
		.release		  = virtio_transport_release,
		.connect		  = virtio_transport_connect,
		.shutdown		  = virtio_transport_shutdown,
		.cancel_pkt		  = hcvs_cancel_pkt,

		.dgram_bind		  = virtio_transport_dgram_bind,
		.dgram_dequeue		  = virtio_transport_dgram_dequeue,
		.dgram_enqueue		  = virtio_transport_dgram_enqueue,
		.dgram_allow		  = virtio_transport_dgram_allow,

		.stream_dequeue		  = virtio_transport_stream_dequeue,
		.stream_enqueue		  = virtio_transport_stream_enqueue,
		.stream_has_data	  = virtio_transport_stream_has_data,
		.stream_has_space	  = virtio_transport_stream_has_space,
		.stream_rcvhiwat	  = virtio_transport_stream_rcvhiwat,
		.stream_is_active	  = virtio_transport_stream_is_active,
		.stream_allow		  = virtio_transport_stream_allow,

		.seqpacket_dequeue	  = virtio_transport_seqpacket_dequeue,
		.seqpacket_enqueue	  = virtio_transport_seqpacket_enqueue,
		.seqpacket_allow	  = hcvs_seqpacket_allow,
		.seqpacket_has_data	  = virtio_transport_seqpacket_has_data,

		.notify_poll_in		  = virtio_transport_notify_poll_in,
		.notify_poll_out	  = virtio_transport_notify_poll_out,
		.notify_recv_init	  = virtio_transport_notify_recv_init,
		.notify_recv_pre_block	  = virtio_transport_notify_recv_pre_block,
		.notify_recv_pre_dequeue  = virtio_transport_notify_recv_pre_dequeue,
		.notify_recv_post_dequeue = virtio_transport_notify_recv_post_dequeue,
		.notify_send_init	  = virtio_transport_notify_send_init,
		.notify_send_pre_block	  = virtio_transport_notify_send_pre_block,
		.notify_send_pre_enqueue  = virtio_transport_notify_send_pre_enqueue,
		.notify_send_post_enqueue = virtio_transport_notify_send_post_enqueue,
		.notify_buffer_size	  = virtio_transport_notify_buffer_size,
#ifdef HCVS_HAVE_SET_RCVLOWAT
		.notify_set_rcvlowat	  = virtio_transport_notify_set_rcvlowat,
#endif
#ifdef HCVS_HAVE_UNSENT_BYTES
		.unsent_bytes		  = virtio_transport_unsent_bytes,
#endif
#ifdef HCVS_HAVE_READ_SKB
		.read_skb		  = virtio_transport_read_skb,
#endif
	},
	.send_pkt = hcvs_send_pkt,
};

/* ---- Rings (only the work item touches them) ---------------------------- */

static void hcvs_pkt_sent(struct sk_buff *skb)
{
	virtio_transport_deliver_tap_pkt(skb);
#ifdef HCVS_HAVE_UNSENT_BYTES
	virtio_transport_consume_skb_sent(skb, true);
#else
	consume_skb(skb);
#endif
}

/*
 * Copy queued packets into free TX slots.  A packet larger than a slot
 * goes in pieces; only the last piece of a SEQPACKET message keeps the
 * end-of-message flags.  Returns the number of slots filled.
 */
static u32 tx_fill(struct hcvs *h, bool *blocked)
{
	u32 cons, used, n = 0, room = h->slot - HCVS_SLOT_HDR;

	cons = mb_get(h, HCVS_MB_TX_CONS);
	virt_rmb();	/* the host copied those slots before moving TX_CONS */
	used = h->tx_prod - cons;
	if (used > h->ntx) {
		h->halted = true;
		return 0;
	}
	*blocked = false;
	while (used < h->ntx) {
		struct virtio_vsock_hdr hdr;
		struct sk_buff *skb = h->tx_cur;
		u32 chunk;
		u8 *s;

		if (!skb) {
			skb = virtio_vsock_skb_dequeue(&h->txq);
			if (!skb)
				break;
			h->tx_cur = skb;
			h->tx_off = 0;
		}
		chunk = min_t(u32, skb->len - h->tx_off, room);
		memcpy(&hdr, virtio_vsock_hdr(skb), sizeof(hdr));
		hdr.len = cpu_to_le32(chunk);
		if (h->tx_off + chunk < skb->len) {
			hdr.flags &= ~cpu_to_le32(VIRTIO_VSOCK_SEQ_EOM |
						  VIRTIO_VSOCK_SEQ_EOR);
			h->n_splits++;
		}
		s = tx_slot(h, h->tx_prod);
		memcpy(s, &hdr, sizeof(hdr));
		if (chunk &&
		    skb_copy_bits(skb, h->tx_off, s + HCVS_SLOT_HDR, chunk)) {
			/* Cannot happen for a well-formed skb: drop it whole. */
			h->tx_cur = NULL;
			kfree_skb(skb);
			continue;
		}
		h->tx_prod++;
		used++;
		n++;
		h->tx_off += chunk;
		if (h->tx_off >= skb->len) {
			h->tx_cur = NULL;
			h->n_tx++;
			hcvs_pkt_sent(skb);
		}
	}
	if (n) {
		virt_wmb();	/* slots before the index */
		mb_put(h, HCVS_MB_TX_PROD, h->tx_prod);
		/* Unless the host promised to look at TX again. */
		if (!(host_flags(h) & HCVS_HF_TX_NO_KICK))
			kick(h);
	}
	*blocked = used == h->ntx && (h->tx_cur || !skb_queue_empty(&h->txq));
	return n;
}

/* Copy published RX slots out as sk_buffs and hand them to Linux. */
static u32 rx_drain(struct hcvs *h)
{
	struct sk_buff_head got;
	struct sk_buff *skb;
	u32 prod, n = 0, room = h->slot - HCVS_SLOT_HDR;

	__skb_queue_head_init(&got);
	prod = mb_get(h, HCVS_MB_RX_PROD);
	virt_rmb();	/* slot contents after the index */
	if (prod - h->rx_cons > h->nrx) {
		h->halted = true;
		return 0;
	}
	while (h->rx_cons != prod) {
		struct virtio_vsock_hdr hdr;
		const u8 *s = rx_slot(h, h->rx_cons);
		u32 len;

		memcpy(&hdr, s, sizeof(hdr));
		len = le32_to_cpu(hdr.len);
		if (len > room) {
			h->n_rx_bad++;
			h->rx_cons++;
			continue;
		}
		skb = alloc_skb(VIRTIO_VSOCK_SKB_HEADROOM + len, GFP_KERNEL);
		if (!skb)
			break;	/* the slot stays: retried on the next pass */
		skb_reserve(skb, VIRTIO_VSOCK_SKB_HEADROOM);
		memcpy(virtio_vsock_hdr(skb), &hdr, sizeof(hdr));
		if (len)
			skb_put_data(skb, s + HCVS_SLOT_HDR, len);
		__skb_queue_tail(&got, skb);
		h->rx_cons++;
		n++;
	}
	if (n) {
		virt_mb();	/* copies done before the slots are released */
		mb_put(h, HCVS_MB_RX_CONS, h->rx_cons);
		/* Only if the host holds packets for want of RX slots. */
		if (host_flags(h) & HCVS_HF_RX_WANT_KICK)
			kick(h);
	}
	while ((skb = __skb_dequeue(&got))) {
		h->n_rx++;
		virtio_transport_deliver_tap_pkt(skb);
		virtio_transport_recv_pkt(&hcvs_transport, skb);
	}
	return n;
}

/* Like virtio's TRANSPORT_RESET event: every connection is gone. */
static void hcvs_reset_sock(struct sock *sk)
{
	sk->sk_state = TCP_CLOSE;
	sk->sk_err = ECONNRESET;
	sk_error_report(sk);
}

static void hcvs_transport_reset(struct hcvs *h)
{
	h->n_resets++;
	WRITE_ONCE(h->cid, mb_get(h, HCVS_MB_CID_LO));
	vsock_for_each_connected_socket(&hcvs_transport.transport,
					hcvs_reset_sock);
}

static int hcvs_bring_up(struct hcvs *h);

static void hcvs_work(struct work_struct *w)
{
	struct hcvs *h = container_of(to_delayed_work(w), struct hcvs, work);
	bool blocked = false, more = false;
	u32 epoch, i, rx_prod;

	if (!READ_ONCE(h->live))
		return;
	epoch = mb_get(h, HCVS_MB_EPOCH);
	if (epoch != h->epoch) {
		pr_info("hcvsock: transport reset (epoch %u -> %u)\n",
			h->epoch, epoch);
		h->epoch = epoch;
		hcvs_transport_reset(h);
	}
	if (mb_get(h, HCVS_MB_ERROR) != 0)
		h->halted = true;

	guest_flags(h, HCVS_GF_RX_NO_IRQ, 0);
	for (i = 0; i < HCVS_PASSES && !h->halted; i++) {
		u32 n = rx_drain(h);

		n += tx_fill(h, &blocked);
		if (!n)
			break;
	}
	more = i == HCVS_PASSES;

	/* Interrupts back on, then look again so that none is missed. */
	guest_flags(h, blocked ? HCVS_GF_TX_WANT_IRQ : 0,
		    HCVS_GF_RX_NO_IRQ | (blocked ? 0 : HCVS_GF_TX_WANT_IRQ));
	virt_mb();
	rx_prod = mb_get(h, HCVS_MB_RX_PROD);
	if (rx_prod != h->rx_cons)
		more = true;
	if (blocked && mb_get(h, HCVS_MB_TX_CONS) != h->tx_prod - h->ntx)
		more = true;

	if (h->halted) {
		pr_warn("hcvsock: device halted (error %u): every connection is reset\n",
			reg_rd(h, HCVS_REG_ERROR));
		hcvs_transport_reset(h);
		if (hcvs_bring_up(h) < 0) {
			pr_err("hcvsock: device did not come back; retrying in 1 s\n");
			queue_delayed_work(h->wq, &h->work, HZ);
			return;
		}
		more = true;
	}
	if (more)
		queue_delayed_work(h->wq, &h->work, 0);
	else if (h->irq < 0)
		queue_delayed_work(h->wq, &h->work,
				   max(1UL, msecs_to_jiffies(poll_ms)));
}

#ifdef CONFIG_XEN
static irqreturn_t hcvs_irq(int irq, void *arg)
{
	struct hcvs *h = arg;

	h->n_irqs++;
	hcvs_kick_work(h);
	return IRQ_HANDLED;
}

/*
 * An unbound event channel for the domain that serves us; asked from the
 * device (GET_BACKEND), 0 for hosts that predate the command.
 */
static int hcvs_evtchn_setup(struct hcvs *h)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF };
	struct evtchn_close cl;
	u32 rc, dom = 0, unused;
	int err;

	rc = hcvs_cmd_get(h, HCVS_CMD_GET_BACKEND, &dom, &unused);
	if (rc == HCVS_ERR_UNKNOWN_CMD)
		dom = 0;
	else if (rc != HCVS_ERR_OK)
		return -EOPNOTSUPP;
	if (dom >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	au.remote_dom = dom;
	err = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &au);
	if (err)
		return err;
	err = bind_evtchn_to_irqhandler(au.port, hcvs_irq, 0, "hcvsock", h);
	if (err < 0) {
		cl.port = au.port;
		HYPERVISOR_event_channel_op(EVTCHNOP_close, &cl);
		return err;
	}
	h->irq = err;
	h->evtchn = au.port;
	h->server_dom = dom;
	return 0;
}

static void hcvs_evtchn_release(struct hcvs *h)
{
	if (h->irq >= 0)
		unbind_from_irqhandler(h->irq, h);	/* closes the port too */
	h->irq = -1;
}
#else
static int hcvs_evtchn_setup(struct hcvs *h)
{
	return -EOPNOTSUPP;
}

static void hcvs_evtchn_release(struct hcvs *h)
{
}
#endif

/* ---- Device set-up ------------------------------------------------------ */

static int hcvs_err(const char *what, u32 rc)
{
	pr_err("hcvsock: %s failed: device result %u\n", what, rc);
	return -EIO;
}

/*
 * RESET .. ENABLE with our mailbox (allocated once).  Used at load and
 * again after the device halted.  The host sets TX_CONS and RX_PROD from
 * our indices at SET_MAILBOX, so ours stay valid.
 */
static int hcvs_bring_up(struct hcvs *h)
{
	phys_addr_t pa = virt_to_phys(h->mb);
	u32 rc, lo, hi, want;

	h->halted = false;
	rc = hcvs_cmd(h, HCVS_CMD_RESET, 0, 0, 0, 0);
	if (rc != HCVS_ERR_OK)
		return hcvs_err("RESET", rc);
	rc = hcvs_cmd(h, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_RING, 0, 0, 0);
	if (rc != HCVS_ERR_OK)
		return hcvs_err("SET_PROTOCOL", rc);
	want = HCVS_F_STREAM | HCVS_F_SEQPACKET | HCVS_F_SYNC_DOORBELL;
	/* Only meaningful with the event channel we are about to select. */
	if (h->irq >= 0 && evtchn_kick)
		want |= HCVS_F_EVTCHN_KICK;
	want &= reg_rd(h, HCVS_REG_HOST_FEATURES);
	if (!(want & HCVS_F_STREAM))
		return hcvs_err("STREAM feature", HCVS_ERR_UNSUPPORTED);
	rc = hcvs_cmd(h, HCVS_CMD_SET_FEATURES, want, 0, 0, 0);
	if (rc != HCVS_ERR_OK)
		return hcvs_err("SET_FEATURES", rc);
	h->features = want;

	memset(h->mb, 0, HCVS_MBOX_HDR_SIZE);
	mb_put(h, HCVS_MB_MAGIC, HCVS_MBOX_MAGIC);
	mb_put(h, HCVS_MB_VERSION, HCVS_MBOX_VERSION);
	mb_put(h, HCVS_MB_TX_SLOTS, h->ntx);
	mb_put(h, HCVS_MB_RX_SLOTS, h->nrx);
	mb_put(h, HCVS_MB_SLOT_SIZE, h->slot);
	mb_put(h, HCVS_MB_TX_OFF, HCVS_MBOX_HDR_SIZE);
	mb_put(h, HCVS_MB_RX_OFF, HCVS_MBOX_HDR_SIZE + h->ntx * h->slot);
	mb_put(h, HCVS_MB_TX_PROD, h->tx_prod);
	mb_put(h, HCVS_MB_RX_CONS, h->rx_cons);
	virt_wmb();
	rc = hcvs_cmd(h, HCVS_CMD_SET_MAILBOX, lower_32_bits(pa),
		      upper_32_bits(pa), h->mb_size, 0);
	if (rc != HCVS_ERR_OK)
		return hcvs_err("SET_MAILBOX", rc);
	h->epoch = mb_get(h, HCVS_MB_EPOCH);

	h->sync_doorbell = false;
	h->ekick = false;
	if (h->irq >= 0) {
		rc = hcvs_cmd(h, HCVS_CMD_SET_NOTIFY, HCVS_IRQ_EVTCHN,
			      h->evtchn, 0, 0);
		if (rc != HCVS_ERR_OK) {
			pr_warn("hcvsock: event channel refused (result %u): polling\n",
				rc);
			hcvs_evtchn_release(h);
		}
	}
	/* The host ignores events on a port that is not the mode's. */
	if (h->irq >= 0)
		h->ekick = want & HCVS_F_EVTCHN_KICK;
	if (h->irq < 0)
		h->sync_doorbell = want & HCVS_F_SYNC_DOORBELL;

	rc = hcvs_cmd(h, HCVS_CMD_ENABLE, 0, 0, 0, 0);
	if (rc != HCVS_ERR_OK)
		return hcvs_err("ENABLE", rc);
	rc = hcvs_cmd_get(h, HCVS_CMD_GET_CID, &lo, &hi);
	if (rc != HCVS_ERR_OK)
		return hcvs_err("GET_CID", rc);
	if (hi || lo <= VMADDR_CID_HOST || lo == U32_MAX) {
		pr_err("hcvsock: unusable guest CID %u:%u\n", hi, lo);
		return -EINVAL;
	}
	WRITE_ONCE(h->cid, lo);
	return 0;
}

static int hcvs_map_window(struct hcvs *h)
{
	if (mmio) {
		if (!request_mem_region(mmio, PAGE_SIZE, "hcvsock"))
			return -EBUSY;
		h->mmio_claimed = true;
		h->win = ioremap(mmio, PAGE_SIZE);
		return h->win ? 0 : -ENOMEM;
	}
	if (!request_region(pio, HCVS_REG_WINDOW_SIZE, "hcvsock"))
		return -EBUSY;
	h->pio_claimed = true;
	h->pio = pio;
	return 0;
}

static void hcvs_unmap_window(struct hcvs *h)
{
	if (h->win)
		iounmap(h->win);
	h->win = NULL;
	if (h->mmio_claimed)
		release_mem_region(mmio, PAGE_SIZE);
	if (h->pio_claimed)
		release_region(pio, HCVS_REG_WINDOW_SIZE);
	h->mmio_claimed = h->pio_claimed = false;
}

static bool valid_slots(uint n)
{
	return n >= 1 && n <= HCVS_RING_MAX_SLOTS && is_power_of_2(n);
}

static void hcvs_teardown(struct hcvs *h)
{
	WRITE_ONCE(h->live, false);
	if (h->wq) {
		cancel_delayed_work_sync(&h->work);
		destroy_workqueue(h->wq);
		h->wq = NULL;
	}
	/* The host drops our connections and forgets the mailbox. */
	if (h->mb && (h->win || h->pio_claimed))
		hcvs_cmd(h, HCVS_CMD_RESET, 0, 0, 0, 0);
	hcvs_evtchn_release(h);
	if (h->tx_cur)
		kfree_skb(h->tx_cur);
	h->tx_cur = NULL;
	virtio_vsock_skb_queue_purge(&h->txq);
	if (h->mb)
		free_pages_exact(h->mb, h->mb_size);
	h->mb = NULL;
	hcvs_unmap_window(h);
}

/*
 * debugfs hcvsock_vsock/counters: the unload line's counters while the
 * module runs, so that a test can take the difference over one transfer.
 * Each is a u64 written by one context at a time; a read may be a packet
 * behind, never torn.
 */
static int hcvs_counters_show(struct seq_file *m, void *v)
{
	struct hcvs *h = m->private;

	seq_printf(m, "tx %llu rx %llu kicks %llu evtchn-kicks %llu irqs %llu resets %llu bad-rx %llu split %llu\n",
		   READ_ONCE(h->n_tx), READ_ONCE(h->n_rx),
		   READ_ONCE(h->n_kicks), READ_ONCE(h->n_ekicks),
		   READ_ONCE(h->n_irqs), READ_ONCE(h->n_resets),
		   READ_ONCE(h->n_rx_bad), READ_ONCE(h->n_splits));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hcvs_counters);

static int __init hcvs_init(void)
{
	struct hcvs *h = &hcvs;
	bool want_evtchn;
	u32 magic, ver, modes;
	char how[64];
	int err;

	if (!valid_slots(tx_slots) || !valid_slots(rx_slots) ||
	    slot_size < HCVS_SLOT_MIN || slot_size > HCVS_SLOT_MAX ||
	    slot_size % 4) {
		pr_err("hcvsock: bad ring geometry %u/%u slots of %u bytes\n",
		       tx_slots, rx_slots, slot_size);
		return -EINVAL;
	}
	if (strcmp(irq, "auto") && strcmp(irq, "evtchn") && strcmp(irq, "poll")) {
		pr_err("hcvsock: irq=%s: want auto, evtchn or poll\n", irq);
		return -EINVAL;
	}
	mutex_init(&h->cmd_lock);
	skb_queue_head_init(&h->txq);
	INIT_DELAYED_WORK(&h->work, hcvs_work);
	h->irq = -1;
	h->ntx = tx_slots;
	h->nrx = rx_slots;
	h->slot = slot_size;
	h->mb_size = HCVS_MBOX_HDR_SIZE +
		     (size_t)(tx_slots + rx_slots) * slot_size;

	err = hcvs_map_window(h);
	if (err) {
		pr_err("hcvsock: register window %s 0x%lx: %d\n",
		       mmio ? "mmio" : "pio", mmio ? mmio : (ulong)pio, err);
		goto fail;
	}
	magic = reg_rd(h, HCVS_REG_MAGIC);
	if (magic != HCVS_MAGIC) {
		pr_err("hcvsock: no device (MAGIC 0x%08x%s)\n", magic,
		       magic == HCVS_NO_BACKEND ? ": no backend attached" : "");
		err = -ENODEV;
		goto fail;
	}
	ver = reg_rd(h, HCVS_REG_VERSION);
	if (ver >> 16 != HCVS_VERSION_MAJOR ||
	    !(reg_rd(h, HCVS_REG_PROTOCOLS) & (1u << HCVS_PROTO_RING))) {
		pr_err("hcvsock: unsupported device version 0x%08x\n", ver);
		err = -ENODEV;
		goto fail;
	}
	modes = reg_rd(h, HCVS_REG_IRQ_MODES);

	h->mb = alloc_pages_exact(h->mb_size, GFP_KERNEL | __GFP_ZERO);
	if (!h->mb) {
		err = -ENOMEM;
		goto fail;
	}
	h->wq = alloc_ordered_workqueue("hcvsock", 0);
	if (!h->wq) {
		err = -ENOMEM;
		goto fail;
	}

	want_evtchn = strcmp(irq, "poll") && (modes & (1u << HCVS_IRQ_EVTCHN));
#ifdef CONFIG_XEN
	want_evtchn = want_evtchn && xen_hvm_domain();
#endif
	if (want_evtchn) {
		err = hcvs_evtchn_setup(h);
		if (err)
			pr_warn("hcvsock: no event channel (%d): polling\n", err);
	}
	if (!strcmp(irq, "evtchn") && h->irq < 0) {
		pr_err("hcvsock: irq=evtchn but no event channel\n");
		err = -ENODEV;
		goto fail;
	}
	err = hcvs_bring_up(h);
	if (err)
		goto fail;
	WRITE_ONCE(h->live, true);

	err = vsock_core_register(&hcvs_transport.transport,
				  VSOCK_TRANSPORT_F_G2H);
	if (err) {
		pr_err("hcvsock: vsock_core_register: %d (another guest transport loaded?)\n",
		       err);
		goto fail;
	}
	hcvs_kick_work(h);
	if (h->irq >= 0)
		snprintf(how, sizeof(how), "evtchn port %u for dom%u, kick %s",
			 h->evtchn, h->server_dom,
			 h->ekick ? "evtchn" : "doorbell");
	else
		snprintf(how, sizeof(how), "poll every %u ms, kick %s", poll_ms,
			 h->sync_doorbell ? "sync doorbell" : "doorbell");
	/* Counters only: without debugfs the module works the same. */
	h->dbg = debugfs_create_dir("hcvsock_vsock", NULL);
	debugfs_create_file("counters", 0444, h->dbg, h, &hcvs_counters_fops);
	pr_info("hcvsock: up: window %s 0x%lx, cid %u, version 0x%08x, features 0x%x, %u+%u slots of %u B, %s\n",
		h->win ? "mmio" : "pio", h->win ? mmio : h->pio, h->cid, ver,
		h->features, h->ntx, h->nrx, h->slot, how);
	return 0;

fail:
	hcvs_teardown(h);
	return err;
}

static void __exit hcvs_exit(void)
{
	struct hcvs *h = &hcvs;

	debugfs_remove_recursive(h->dbg);
	vsock_core_unregister(&hcvs_transport.transport);
	hcvs_teardown(h);
	pr_info("hcvsock: down: tx %llu rx %llu kicks %llu evtchn-kicks %llu irqs %llu resets %llu bad-rx %llu split %llu\n",
		h->n_tx, h->n_rx, h->n_kicks, h->n_ekicks, h->n_irqs,
		h->n_resets, h->n_rx_bad, h->n_splits);
}

module_init(hcvs_init);
module_exit(hcvs_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("AF_VSOCK guest transport over the hcvsock device");
