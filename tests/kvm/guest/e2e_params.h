/* SPDX-License-Identifier: MIT */
/*
 * The contract between the end-to-end guest (vsock_e2e.c) and its host
 * tests: indices into kb_params / kb_results of struct kvmguest_boot.
 */
#ifndef HCVS_E2E_PARAMS_H
#define HCVS_E2E_PARAMS_H

/* Cases (E2E_P_CASE). */
#define E2E_CASE_CLIENT_SERIAL		1	/* connect, every size, close; N times */
#define E2E_CASE_CLIENT_CONCURRENT	2	/* N connections at once, ROUNDS messages */
#define E2E_CASE_SERVER_ECHO		3	/* listen, accept N host connections, echo */

/* Parameters. */
#define E2E_P_CASE	0
#define E2E_P_PORT	1
#define E2E_P_NCONN	2
#define E2E_P_MAX_SIZE	3	/* serial: largest payload; concurrent: message size */
#define E2E_P_FLAGS	4
#define E2E_P_GSI	5
#define E2E_P_SEED	6
#define E2E_P_ROUNDS	7

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
#define E2E_R_READY	9	/* server case: listening */

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

/* Geometry the guest uses. */
#define E2E_SLOTS	32u
#define E2E_SLOT_SIZE	4096u
#define E2E_MAX_CONNS	64u

#endif /* HCVS_E2E_PARAMS_H */
