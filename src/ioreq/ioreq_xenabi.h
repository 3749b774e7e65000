/* SPDX-License-Identifier: MIT */
/*
 * Xen's ioreq ABI (struct ioreq, shared_iopage_t, buffered_iopage_t).
 * Normally Xen's own public header from libxen-dev; a build machine
 * without it (HAVE_XEN off and no /usr/include/xen) gets the same layout
 * written out here, pinned by the static asserts in ioreq_impl.h.
 */
#ifndef HCVS_IOREQ_XENABI_H
#define HCVS_IOREQ_XENABI_H

#include <stdint.h>

#if __has_include(<xen/hvm/ioreq.h>)
#include <xen/hvm/ioreq.h>
#else
#define IOREQ_READ		1
#define IOREQ_WRITE		0

#define STATE_IOREQ_NONE	0
#define STATE_IOREQ_READY	1
#define STATE_IOREQ_INPROCESS	2
#define STATE_IORESP_READY	3

#define IOREQ_TYPE_PIO		0
#define IOREQ_TYPE_COPY		1
#define IOREQ_TYPE_PCI_CONFIG	2
#define IOREQ_TYPE_TIMEOFFSET	7
#define IOREQ_TYPE_INVALIDATE	8

struct ioreq {
	uint64_t	addr;
	uint64_t	data;
	uint32_t	count;
	uint32_t	size;
	uint32_t	vp_eport;
	uint16_t	_pad0;
	uint8_t		state:4;
	uint8_t		data_is_ptr:1;
	uint8_t		dir:1;
	uint8_t		df:1;
	uint8_t		_pad1:1;
	uint8_t		type;
};
typedef struct ioreq ioreq_t;

struct shared_iopage {
	struct ioreq	vcpu_ioreq[1];
};
typedef struct shared_iopage shared_iopage_t;

struct buf_ioreq {
	uint8_t		type;
	uint8_t		pad:1;
	uint8_t		dir:1;
	uint8_t		size:2;
	uint32_t	addr:20;
	uint32_t	data;
};
typedef struct buf_ioreq buf_ioreq_t;

#define IOREQ_BUFFER_SLOT_NUM	511
struct buffered_iopage {
	uint32_t	read_pointer;
	uint32_t	write_pointer;
	buf_ioreq_t	buf_ioreq[IOREQ_BUFFER_SLOT_NUM];
};
typedef struct buffered_iopage buffered_iopage_t;
#endif

#endif /* HCVS_IOREQ_XENABI_H */
