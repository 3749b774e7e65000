/* SPDX-License-Identifier: MIT */
/*
 * The virtio-vsock packet header (virtio spec, device-types/vsock), as it
 * appears in guest memory: 44 bytes, packed, little-endian.  Code keeps a
 * host-order copy in struct vsock_pkt_hdr; vsock_hdr_decode/encode convert.
 */
#ifndef HCVS_VSOCK_WIRE_H
#define HCVS_VSOCK_WIRE_H

#include <stdint.h>
#include <string.h>
#include <endian.h>

#define VSOCK_HDR_SIZE		44

#define VSOCK_TYPE_STREAM	1
#define VSOCK_TYPE_SEQPACKET	2

#define VSOCK_OP_INVALID	0
#define VSOCK_OP_REQUEST	1
#define VSOCK_OP_RESPONSE	2
#define VSOCK_OP_RST		3
#define VSOCK_OP_SHUTDOWN	4
#define VSOCK_OP_RW		5
#define VSOCK_OP_CREDIT_UPDATE	6
#define VSOCK_OP_CREDIT_REQUEST	7

#define VSOCK_SHUTDOWN_RCV	1u
#define VSOCK_SHUTDOWN_SEND	2u
#define VSOCK_SEQ_EOM		1u
#define VSOCK_SEQ_EOR		2u

#define VSOCK_CID_HOST		2u
/* Largest payload in one packet (Linux VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PAYLOAD	65536u

struct vsock_pkt_hdr {
	uint64_t	src_cid;
	uint64_t	dst_cid;
	uint32_t	src_port;
	uint32_t	dst_port;
	uint32_t	len;
	uint16_t	type;
	uint16_t	op;
	uint32_t	flags;
	uint32_t	buf_alloc;
	uint32_t	fwd_cnt;
};

/* A little-endian field of guest memory, as the host sees it. */
static inline uint32_t
vsock_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t
vsock_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void
vsock_hdr_decode(struct vsock_pkt_hdr *h, const uint8_t w[VSOCK_HDR_SIZE])
{
	uint64_t q;
	uint32_t d;
	uint16_t s;

#define GET(dst, off, tmp, conv) do { memcpy(&tmp, w + (off), sizeof(tmp)); dst = conv(tmp); } while (0)
	GET(h->src_cid, 0, q, le64toh);
	GET(h->dst_cid, 8, q, le64toh);
	GET(h->src_port, 16, d, le32toh);
	GET(h->dst_port, 20, d, le32toh);
	GET(h->len, 24, d, le32toh);
	GET(h->type, 28, s, le16toh);
	GET(h->op, 30, s, le16toh);
	GET(h->flags, 32, d, le32toh);
	GET(h->buf_alloc, 36, d, le32toh);
	GET(h->fwd_cnt, 40, d, le32toh);
#undef GET
}

static inline void
vsock_hdr_encode(uint8_t w[VSOCK_HDR_SIZE], const struct vsock_pkt_hdr *h)
{
	uint64_t q;
	uint32_t d;
	uint16_t s;

#define PUT(off, tmp, conv, v) do { tmp = conv(v); memcpy(w + (off), &tmp, sizeof(tmp)); } while (0)
	PUT(0, q, htole64, h->src_cid);
	PUT(8, q, htole64, h->dst_cid);
	PUT(16, d, htole32, h->src_port);
	PUT(20, d, htole32, h->dst_port);
	PUT(24, d, htole32, h->len);
	PUT(28, s, htole16, h->type);
	PUT(30, s, htole16, h->op);
	PUT(32, d, htole32, h->flags);
	PUT(36, d, htole32, h->buf_alloc);
	PUT(40, d, htole32, h->fwd_cnt);
#undef PUT
}

#endif /* HCVS_VSOCK_WIRE_H */
