/* SPDX-License-Identifier: MIT */
/*
 * The contract between the end-to-end guest (vsock_e2e.c) and its host
 * tests: indices into kb_params / kb_results of struct kvmguest_boot,
 * and the checksum of what was echoed.
 */
#ifndef HCVS_E2E_PARAMS_H
#define HCVS_E2E_PARAMS_H

#include <stddef.h>
#include <stdint.h>

/* Cases (E2E_P_CASE). */
#define E2E_CASE_CLIENT_SERIAL		1	/* connect, every size, close; N times */
#define E2E_CASE_CLIENT_CONCURRENT	2	/* N connections at once, ROUNDS messages */
#define E2E_CASE_SERVER_ECHO		3	/* listen, accept N host connections, echo */
/* Protocol MSG (MigTD's calls): N sessions, every size echoed, reports. */
#define E2E_CASE_MSG_ECHO		4
/* MSG: take a session, send 3 bytes, the host program dies: CANCEL. */
#define E2E_CASE_MSG_HOST_DIES		5
/* MSG: ready, wait for the host's go (E2E_P_ROUNDS != 0), then a
 * WaitForRequest that times out: the host's START was never taken. */
#define E2E_CASE_MSG_UNANSWERED		6
/*
 * Outlive a daemon: echo MAX_SIZE messages on PORT until a transport
 * reset ends that connection, then ROUNDS checked echoes on PORT + 1
 * (E2E_R_SUM: CRC-32 of what came back there).
 */
#define E2E_CASE_CLIENT_RESTART		7

/* Parameters. */
#define E2E_P_CASE	0
#define E2E_P_PORT	1
#define E2E_P_NCONN	2
#define E2E_P_MAX_SIZE	3	/* serial: largest payload; concurrent: message size */
#define E2E_P_FLAGS	4
#define E2E_P_GSI	5
#define E2E_P_SEED	6
#define E2E_P_ROUNDS	7
#define E2E_P_WAIT	8	/* the driver's wait limit in spins; 0: 400000000 */

#define E2E_F_SYNC	0x1u	/* use the synchronous doorbell */
#define E2E_F_GSI	0x2u	/* ask for notification mode GSI (E2E_P_GSI) */

/* Results. */
#define E2E_R_STATUS	0	/* 0, or the driver's negative error */
#define E2E_R_STEP	1	/* E2E_STEP_* that failed */
#define E2E_R_TX_BYTES	2
#define E2E_R_RX_BYTES	3
#define E2E_R_SUM	4	/* FNV-1a of the data received (per case) */
#define E2E_R_CONNS	5	/* connections completed */
#define E2E_R_VERSION	6	/* VERSION register */
#define E2E_R_CID	7	/* the CID the device reported */
#define E2E_R_KICKS	8	/* doorbells the driver rang */
#define E2E_R_READY	9	/* server case: listening; restart: echoing */
#define E2E_R_RESETS	10	/* transport resets the driver saw */
#define E2E_R_ROUNDS1	11	/* restart: echoes before the reset */
#define E2E_R_END1	12	/* restart: how the first connection ended */

/* Steps (also the guest's exit value on failure). */
#define E2E_STEP_PARAMS		0xe001
#define E2E_STEP_PROBE		0xe002
#define E2E_STEP_INIT		0xe003
#define E2E_STEP_CONNECT	0xe004
#define E2E_STEP_SEND		0xe005
#define E2E_STEP_RECV		0xe006
#define E2E_STEP_COMPARE	0xe007
#define E2E_STEP_CLOSE		0xe008
#define E2E_STEP_LISTEN		0xe009
#define E2E_STEP_ACCEPT		0xe00a
#define E2E_STEP_MSG_INIT	0xe00b
#define E2E_STEP_MSG_WAIT	0xe00c	/* WaitForRequest */
#define E2E_STEP_MSG_SEND	0xe00d
#define E2E_STEP_MSG_RECV	0xe00e
#define E2E_STEP_MSG_REPORT	0xe00f
#define E2E_STEP_NO_RESET	0xe010	/* restart: no transport reset seen */

/* Geometry the guest uses. */
#define E2E_SLOTS	32u
#define E2E_SLOT_SIZE	4096u
#define E2E_MAX_CONNS	64u
#define E2E_MSG_SLOTS	8u
#define E2E_MSG_MAX	2u	/* sessions */
/* The request id of session s is E2E_MSG_MID0 + s. */
#define E2E_MSG_MID0	((uint64_t)0x4d49475444000000ull)

/*
 * The checksum both sides keep of the bytes that went round (FNV-1a, 32
 * bits), one definition so that they agree.
 */
#define E2E_FNV_INIT	2166136261u

static inline uint32_t
e2e_fnv(uint32_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

#endif /* HCVS_E2E_PARAMS_H */
