/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the fake ioreq page, as the end-to-end tests need
 * it: a page (1 vCPU, guest RAM at ram_gpa), the shm request source, its
 * engine and notifier, and a loop that services the notifier.  The test
 * registers its device on fs_src before fake_srv_start().
 */
#ifndef HCVS_FAKE_SRV_H
#define HCVS_FAKE_SRV_H

#include <stddef.h>
#include <stdint.h>

struct fake_srv {
	struct ioreq_fake	*fs_fake;
	struct ioreq_source	*fs_src;
	struct ioreq_engine	*fs_eng;
	struct notifier		*fs_n;
	struct loop		*fs_loop;
	uint8_t			*fs_ram;
	int			 fs_on_loop;
};

/* 0 or -errno; on error what was made is freed. */
int	fake_srv_open(struct fake_srv *fs, uint64_t ram_gpa, size_t ram_size);
/* Enable the source and service its notifier from fs_loop. */
int	fake_srv_start(struct fake_srv *fs);
/* Stop servicing, close the source, free the page and the loop. */
void	fake_srv_close(struct fake_srv *fs);

#endif /* HCVS_FAKE_SRV_H */
