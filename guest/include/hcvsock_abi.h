/* SPDX-License-Identifier: MIT */
/*
 * The hcvsock guest ABI, version 1.3: register window, commands, mailbox
 * and ring layout, protocol MSG's call slots.  docs/PROTOCOL.md is
 * normative; this header only names its numbers.  Freestanding: usable by the daemon, the guest
 * driver (-ffreestanding, -m32 and -m64) and tests.  Everything in guest
 * memory and every register is little-endian.
 */
#ifndef HCVSOCK_ABI_H
#define HCVSOCK_ABI_H

/* The Linux module gets its types from the kernel's headers. */
#ifndef __KERNEL__
#include <stdint.h>
#endif

/* ---- Register window (64 bytes, 32-bit accesses only) ---------------- */

#define HCVS_REG_WINDOW_SIZE	0x40u

#define HCVS_REG_MAGIC		0x00u	/* RO 'HVSK' */
#define HCVS_REG_VERSION	0x04u	/* RO major << 16 | minor */
#define HCVS_REG_HOST_FEATURES	0x08u	/* RO features the host offers */
#define HCVS_REG_GUEST_FEATURES	0x0Cu	/* RO features accepted (SET_FEATURES) */
#define HCVS_REG_PROTOCOLS	0x10u	/* RO bitmap of selectable protocols */
#define HCVS_REG_IRQ_MODES	0x14u	/* RO bitmap of notification modes */
#define HCVS_REG_STATUS		0x18u	/* RO HCVS_STATUS_* */
#define HCVS_REG_ERROR		0x1Cu	/* RO sticky ring error (HCVS_ERR_*) */
#define HCVS_REG_ARG0		0x20u	/* RW command arguments / results */
#define HCVS_REG_ARG1		0x24u
#define HCVS_REG_ARG2		0x28u
#define HCVS_REG_ARG3		0x2Cu
#define HCVS_REG_CMD		0x30u	/* W: command; R: result of the last */
#define HCVS_REG_ISR		0x34u	/* R: HCVS_ISR_*, read-to-clear */
#define HCVS_REG_DOORBELL	0x38u	/* W: asynchronous doorbell */
#define HCVS_REG_DOORBELL_SYNC	0x3Cu	/* W: synchronous doorbell */

#define HCVS_MAGIC		0x4B535648u	/* "HVSK" in memory order */
#define HCVS_VERSION_MAJOR	1u
#define HCVS_VERSION_MINOR	3u
#define HCVS_VERSION		((HCVS_VERSION_MAJOR << 16) | HCVS_VERSION_MINOR)
/* What a guest reads where no backend answers (yet). */
#define HCVS_NO_BACKEND		0xFFFFFFFFu

/* The value the guest writes to either doorbell (KVM datamatch). */
#define HCVS_DOORBELL_KICK	1u

/* HOST_FEATURES / GUEST_FEATURES bits. */
#define HCVS_F_STREAM		(1u << 0)
#define HCVS_F_SEQPACKET	(1u << 1)
#define HCVS_F_SYNC_DOORBELL	(1u << 2)
#define HCVS_F_LAZY_CREDIT	(1u << 3)	/* since 1.1 */
/* Since 1.3: an event on the EVTCHN mode's port is the async doorbell. */
#define HCVS_F_EVTCHN_KICK	(1u << 4)
#define HCVS_F_KNOWN		(HCVS_F_STREAM | HCVS_F_SEQPACKET | \
				 HCVS_F_SYNC_DOORBELL | HCVS_F_LAZY_CREDIT | \
				 HCVS_F_EVTCHN_KICK)

/* Protocols (PROTOCOLS is a bitmap of 1 << HCVS_PROTO_*). */
#define HCVS_PROTO_NONE		0u
#define HCVS_PROTO_RING		1u	/* this document: vsock over rings */
#define HCVS_PROTO_MSG		2u	/* MigTD's vmcall-raw calls (below) */

/* Notification modes (IRQ_MODES is a bitmap of 1 << HCVS_IRQ_*). */
#define HCVS_IRQ_NONE		0u	/* poll */
#define HCVS_IRQ_MSI		1u	/* ARG1 addr lo, ARG2 addr hi, ARG3 data */
#define HCVS_IRQ_EVTCHN		2u	/* ARG1 guest's unbound port */
#define HCVS_IRQ_GSI		3u	/* ARG1 GSI */
#define HCVS_IRQ_ISA		4u	/* ARG1 ISA IRQ 1..15; HVM only */
#define HCVS_IRQ_MODE_MAX	4u

#define HCVS_MSI_ADDR_MASK	0xFFF00000u
#define HCVS_MSI_ADDR_BASE	0xFEE00000u
#define HCVS_MSI_VECTOR_MIN	16u
#define HCVS_EVTCHN_PORT_MAX	((1u << 17) - 1)
#define HCVS_GSI_MAX		1023u

/* STATUS bits. */
#define HCVS_STATUS_PROTOCOL	(1u << 0)	/* a protocol is selected */
#define HCVS_STATUS_FEATURES	(1u << 1)	/* SET_FEATURES succeeded */
#define HCVS_STATUS_MAILBOX	(1u << 2)	/* mailbox accepted */
#define HCVS_STATUS_NOTIFY	(1u << 3)	/* a notification mode != NONE */
#define HCVS_STATUS_LIVE	(1u << 4)	/* ENABLE succeeded */
#define HCVS_STATUS_ERROR	(1u << 5)	/* halted: ERROR says why */

/* ISR bits. */
#define HCVS_ISR_RX		(1u << 0)	/* RX packets were published */
#define HCVS_ISR_TX		(1u << 1)	/* TX slots were reclaimed */
#define HCVS_ISR_RESET		(1u << 2)	/* transport reset */
#define HCVS_ISR_ERROR		(1u << 3)	/* the device halted */
#define HCVS_ISR_MSG		(1u << 4)	/* MSG: calls completed */

/* Commands (written to CMD). 0x80..0xFF belong to HCVS_PROTO_MSG. */
#define HCVS_CMD_NOP		0x00u
#define HCVS_CMD_RESET		0x01u
#define HCVS_CMD_SET_PROTOCOL	0x02u	/* ARG0 protocol */
#define HCVS_CMD_SET_FEATURES	0x03u	/* ARG0 features */
#define HCVS_CMD_SET_MAILBOX	0x04u	/* ARG0/1 GPA lo/hi, ARG2 size */
#define HCVS_CMD_SET_NOTIFY	0x05u	/* ARG0 mode, ARG1..3 parameters */
#define HCVS_CMD_ENABLE		0x06u
#define HCVS_CMD_GET_CID	0x07u	/* -> ARG0/1 guest CID lo/hi */
#define HCVS_CMD_GET_BACKEND	0x08u	/* since 1.3: -> ARG0 serving domid */
#define HCVS_CMD_MSG_FIRST	0x80u	/* 0x80..0xFF: MSG commands */
#define HCVS_CMD_MSG_LAST	0xFFu
#define HCVS_CMD_MSG_SET_CALLS	0x80u	/* ARG0/1 GPA lo/hi, ARG2 slots */

/* Command results (CMD) and ring errors (ERROR). */
#define HCVS_ERR_OK		0u
#define HCVS_ERR_UNKNOWN_CMD	1u
#define HCVS_ERR_BAD_STATE	2u
#define HCVS_ERR_BAD_ARG	3u
#define HCVS_ERR_BAD_ADDRESS	4u	/* mailbox not in guest RAM / misaligned */
#define HCVS_ERR_BAD_MAILBOX	5u	/* magic, version or geometry */
#define HCVS_ERR_UNSUPPORTED	6u	/* protocol, feature or mode not offered */
#define HCVS_ERR_IRQ_SETUP	7u	/* the host could not set up the mode */
#define HCVS_ERR_BAD_INDEX	8u	/* ring index out of range */
#define HCVS_ERR_MEM_FAULT	9u	/* ring memory became inaccessible */
#define HCVS_ERR_HOST		10u	/* host-side failure (out of memory) */
#define HCVS_ERR_UNKNOWN_ID	11u	/* MSG: no session with this request id */

/* ---- Mailbox (guest memory) ------------------------------------------ */

#define HCVS_MBOX_MAGIC		0x424D5648u	/* "HVMB" */
#define HCVS_MBOX_VERSION	1u
#define HCVS_MBOX_ALIGN		64u
#define HCVS_MBOX_HDR_SIZE	128u
#define HCVS_MBOX_MAX_SIZE	(64u << 20)
#define HCVS_RING_MAX_SLOTS	256u
#define HCVS_SLOT_MIN		64u
#define HCVS_SLOT_HDR		44u	/* struct virtio_vsock_hdr */
#define HCVS_SLOT_MAX		(HCVS_SLOT_HDR + 65536u)

/* Guest-written line. */
#define HCVS_MB_MAGIC		0x00u
#define HCVS_MB_VERSION		0x04u
#define HCVS_MB_TX_SLOTS	0x08u
#define HCVS_MB_RX_SLOTS	0x0Cu
#define HCVS_MB_SLOT_SIZE	0x10u
#define HCVS_MB_TX_OFF		0x14u
#define HCVS_MB_RX_OFF		0x18u
#define HCVS_MB_TX_PROD		0x20u
#define HCVS_MB_RX_CONS		0x24u
#define HCVS_MB_GUEST_FLAGS	0x28u
/* Host-written line. */
#define HCVS_MB_TX_CONS		0x40u
#define HCVS_MB_RX_PROD		0x44u
#define HCVS_MB_HOST_FLAGS	0x48u
#define HCVS_MB_CID_LO		0x4Cu
#define HCVS_MB_CID_HI		0x50u
#define HCVS_MB_EPOCH		0x54u	/* incremented at each transport reset */
#define HCVS_MB_ERROR		0x58u	/* mirror of the ERROR register */

/* GUEST_FLAGS */
#define HCVS_GF_RX_NO_IRQ	(1u << 0)	/* guest is polling RX */
#define HCVS_GF_TX_WANT_IRQ	(1u << 1)	/* interrupt when TX slots free */
/* HOST_FLAGS */
#define HCVS_HF_TX_NO_KICK	(1u << 0)	/* host will look at TX anyway */
#define HCVS_HF_RX_WANT_KICK	(1u << 1)	/* host waits for free RX slots */

/* ---- Protocol MSG: MigTD's vmcall-raw calls (PROTOCOL.md §15) ---------- */

/*
 * A table of call slots in guest memory (MSG_SET_CALLS), 64 bytes each.
 * The guest fills a FREE or DONE slot, release barrier, STATE =
 * SUBMITTED, then rings a doorbell; the host copies it once (ACCEPTED)
 * and ends it with DONE and RESULT.
 */
#define HCVS_MSG_SLOT_SIZE	64u
#define HCVS_MSG_MAX_SLOTS	64u
#define HCVS_MSG_TABLE_ALIGN	64u

#define HCVS_MSG_STATE		0x00u	/* u32 HCVS_MSG_S_* */
#define HCVS_MSG_RESULT		0x04u	/* u32 HCVS_ERR_*, host-written at DONE */
#define HCVS_MSG_FUNCTION	0x08u	/* u32 HCVS_MSG_FN_* (GHCI leaf) */
#define HCVS_MSG_FLAGS		0x0Cu	/* u32 HCVS_MSG_F_* */
#define HCVS_MSG_BUF_GPA	0x10u	/* u64, 4 KiB aligned */
#define HCVS_MSG_BUF_LEN	0x18u	/* u32 bytes, header included */
#define HCVS_MSG_TIMEOUT_MS	0x1Cu	/* u32, 0 = none */
#define HCVS_MSG_MID		0x20u	/* u64 migration request id */
#define HCVS_MSG_REPORT		0x28u	/* u64 ReportStatus value */
/* 0x30..0x3F reserved, 0 */

#define HCVS_MSG_S_FREE		0u
#define HCVS_MSG_S_SUBMITTED	1u
#define HCVS_MSG_S_ACCEPTED	2u
#define HCVS_MSG_S_DONE		3u

/* TDG.VP.VMCALL<MigTD> leaf functions (GHCI 1.5). */
#define HCVS_MSG_FN_WAIT_FOR_REQUEST	1u
#define HCVS_MSG_FN_REPORT_STATUS	2u
#define HCVS_MSG_FN_SEND		3u
#define HCVS_MSG_FN_RECEIVE		4u

#define HCVS_MSG_F_NOTIFY	(1u << 0)	/* ISR.MSG + interrupt at completion */

/* The data buffer: [u64 status][u32 length][payload]. */
#define HCVS_MSG_BUF_HDR	12u
#define HCVS_MSG_BUF_MAX	65536u
#define HCVS_MSG_MAX_PAYLOAD	(HCVS_MSG_BUF_MAX - HCVS_MSG_BUF_HDR)	/* 65524 */
#define HCVS_MSG_BUF_ALIGN	4096u

/* Buffer status, written last: byte 0 = 1 success (byte 1: operation). */
#define HCVS_MSG_ST_SUCCESS	0x01u
#define HCVS_MSG_ST_TIMEOUT	0x0202u	/* byte 0 = 2 not completed, byte 1 = 2 */
#define HCVS_MSG_ST_CANCEL	0x0302u	/* byte 0 = 2, byte 1 = 3: VMM cancel */

/* WaitForRequest operations (status byte 1). */
#define HCVS_MSG_OP_START_MIGRATION	1u
#define HCVS_MSG_OP_START_REBINDING	2u
#define HCVS_MSG_OP_GET_TD_REPORT	3u
#define HCVS_MSG_OP_ENABLE_LOG_AREA	4u
#define HCVS_MSG_OP_GET_MIGTD_DATA	5u
#define HCVS_MSG_OP_MAX			5u

#endif /* HCVSOCK_ABI_H */
