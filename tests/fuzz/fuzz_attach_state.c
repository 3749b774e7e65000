/* SPDX-License-Identifier: MIT */
/*
 * The device state page from untrusted bytes (a VMM hands it over at
 * every attach): loading never crashes and takes only an intact record;
 * what it takes survives a store and a load unchanged, with its sequence
 * number.  (The device then validates the state like a state file's.)
 */
#include <errno.h>
#include <string.h>

#include "attach/attach.h"
#include "fuzz.h"
#include "vsock/vsock_dev.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char page[ATTACH_STATE_PAGE], again[ATTACH_STATE_PAGE];
	struct vsock_dev_state a, b;
	uint64_t seq = 0, seq2 = 0;
	int rc;

	memset(page, 0, sizeof(page));
	memcpy(page, data, size < sizeof(page) ? size : sizeof(page));
	rc = attach_state_load(page, &a, &seq);
	fz_check(rc == 0 || rc == -ENOENT || rc == -EINVAL);
	if (rc != 0)
		return 0;
	memset(again, 0, sizeof(again));
	attach_state_store(again, &a, seq);
	fz_check(attach_state_load(again, &b, &seq2) == 0);
	fz_check(seq2 == seq && memcmp(&a, &b, sizeof(a)) == 0);
	return 0;
}
