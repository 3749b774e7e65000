/* SPDX-License-Identifier: MIT */
/* The crash-recovery state file: named fields, atomic writes, strict reads. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/statefile.h"

/* Which part of the file a field belongs to. */
enum part {
	P_HEAD,		/* every version */
	P_OPT,		/* version 2: written when not zero */
	P_DEV,		/* version 2: all or none */
	P_REGS,		/* with P_DEV, all or none (absent: zero) */
};

/* Where each named value lives, and the range a reader accepts. */
struct field {
	const char	*f_name;
	enum part	 f_part;
	size_t		 f_off;
	size_t		 f_size;
	bool		 f_signed;
	int64_t		 f_min;
	uint64_t	 f_max;
};

#define SF(m)	offsetof(struct statefile, m), sizeof(((struct statefile *)0)->m)
#define U32	false, 0, UINT32_MAX
#define U64	false, 0, UINT64_MAX

static const struct field fields[] = {
	{ "version", P_HEAD, SF(sf_version), false, 1, UINT32_MAX },
	{ "pid", P_HEAD, SF(sf_pid), true, 1, INT32_MAX },
	{ "domid", P_HEAD, SF(sf_domid), U32 },
	{ "server_id", P_HEAD, SF(sf_server_id), true, -1, UINT16_MAX },
	{ "cid", P_OPT, SF(sf_cid), false, 1, UINT32_MAX },
	{ "page_dev", P_OPT, SF(sf_page_dev), false, 1, UINT64_MAX },
	{ "page_ino", P_OPT, SF(sf_page_ino), false, 1, UINT64_MAX },
	{ "dev_version", P_DEV, SF(sf_dev.st_version), U32 },
	{ "dev_protocol", P_DEV, SF(sf_dev.st_protocol), U32 },
	{ "dev_features", P_DEV, SF(sf_dev.st_features), U32 },
	{ "dev_status", P_DEV, SF(sf_dev.st_status), U32 },
	{ "dev_mbox_gpa", P_DEV, SF(sf_dev.st_mbox_gpa), U64 },
	{ "dev_mbox_size", P_DEV, SF(sf_dev.st_mbox_size), U32 },
	{ "dev_epoch", P_DEV, SF(sf_dev.st_epoch), U32 },
	{ "dev_tx_cons", P_DEV, SF(sf_dev.st_tx_cons), U32 },
	{ "dev_rx_prod", P_DEV, SF(sf_dev.st_rx_prod), U32 },
	{ "dev_irq_mode", P_DEV, SF(sf_dev.st_irq.mode), U32 },
	{ "dev_irq_isa", P_DEV, SF(sf_dev.st_irq.isa_irq), U32 },
	{ "dev_irq_gsi", P_DEV, SF(sf_dev.st_irq.gsi), U32 },
	{ "dev_irq_evtchn", P_DEV, SF(sf_dev.st_irq.evtchn_port), U32 },
	{ "dev_irq_msi_addr", P_DEV, SF(sf_dev.st_irq.msi_addr), U64 },
	{ "dev_irq_msi_data", P_DEV, SF(sf_dev.st_irq.msi_data), U32 },
	{ "dev_arg0", P_REGS, SF(sf_dev.st_args[0]), U32 },
	{ "dev_arg1", P_REGS, SF(sf_dev.st_args[1]), U32 },
	{ "dev_arg2", P_REGS, SF(sf_dev.st_args[2]), U32 },
	{ "dev_arg3", P_REGS, SF(sf_dev.st_args[3]), U32 },
	{ "dev_cmd_result", P_REGS, SF(sf_dev.st_cmd_result), U32 },
};

_Static_assert(sizeof(fields) / sizeof(fields[0]) <= 32, "seen is a bitmap");

/*
 * Version 1 wrote the device state as a hex dump of its C struct, as laid
 * out then (x86-64, little-endian).  That layout is frozen here so that a
 * daemon upgraded across a crash still reads it, whatever the live struct
 * has become.
 */
struct v1_dev {
	uint32_t	version, protocol, features, status;
	uint64_t	mbox_gpa;
	uint32_t	mbox_size, epoch, tx_cons, rx_prod;
	uint32_t	irq_mode, irq_isa, irq_gsi, irq_evtchn;
	uint64_t	irq_msi_addr;
	uint32_t	irq_msi_data, pad;
};
_Static_assert(sizeof(struct v1_dev) == 72, "the version 1 device layout");

static uint64_t
get(const struct statefile *sf, const struct field *f)
{
	const char *p = (const char *)sf + f->f_off;

	switch (f->f_size) {
	case sizeof(uint32_t):
		if (f->f_signed) {
			int32_t v;

			memcpy(&v, p, sizeof(v));
			return (uint64_t)(int64_t)v;
		} else {
			uint32_t v;

			memcpy(&v, p, sizeof(v));
			return v;
		}
	default: {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		return v;
	}
	}
}

static void
put(struct statefile *sf, const struct field *f, uint64_t v)
{
	char *p = (char *)sf + f->f_off;

	if (f->f_size == sizeof(uint32_t)) {
		uint32_t w = (uint32_t)v;

		memcpy(p, &w, sizeof(w));
	} else {
		memcpy(p, &v, sizeof(v));
	}
}

size_t
statefile_format(const struct statefile *sf, char *buf, size_t size)
{
	struct statefile out = *sf;
	size_t off;
	int n;

	out.sf_version = STATEFILE_VERSION;
	off = (size_t)snprintf(buf, size, "# hcvsockd runtime state: "
	    "written by the daemon, do not edit\n");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct field *f = &fields[i];
		uint64_t v = get(&out, f);

		if (f->f_part == P_OPT ? v == 0 :
		    f->f_part != P_HEAD && !sf->sf_has_dev)
			continue;
		n = f->f_signed ?
		    snprintf(buf + off, size - off, "%s %" PRId64 "\n",
		    f->f_name, (int64_t)v) :
		    snprintf(buf + off, size - off, "%s %" PRIu64 "\n",
		    f->f_name, v);
		off += (size_t)n;
	}
	return off;
}

int
statefile_write(const char *path, const struct statefile *sf)
{
	char tmp[4096 + 16], buf[STATEFILE_MAX];
	size_t off;
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	off = statefile_format(sf, buf, sizeof(buf));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, off) != (ssize_t)off) {
		rc = errno != 0 ? -errno : -EIO;
		goto err_unlink;
	}
	if (fdatasync(fd) < 0 && errno != EINVAL) {
		rc = -errno;
		goto err_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto err_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto err_unlink;
	}
	return 0;

err_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Version 1's "device <hex>": decoded only if it is the v1 layout. */
static int
parse_v1_device(struct statefile *sf, const char *val)
{
	uint8_t raw[sizeof(struct v1_dev)];
	size_t n = strlen(val);
	struct v1_dev d;

	for (size_t i = 0; i < n; i++)
		if (hexval(val[i]) < 0)
			return -EINVAL;
	if (n % 2 != 0)
		return -EINVAL;
	if (n != 2 * sizeof(raw))
		return 0;	/* another layout: no device, said by the caller */
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(hexval(val[2 * i]) << 4 |
		    hexval(val[2 * i + 1]));
	memcpy(&d, raw, sizeof(d));
	sf->sf_dev = (struct vsock_dev_state){
		.st_version = d.version, .st_protocol = d.protocol,
		.st_features = d.features, .st_status = d.status,
		.st_mbox_gpa = d.mbox_gpa, .st_mbox_size = d.mbox_size,
		.st_epoch = d.epoch, .st_tx_cons = d.tx_cons,
		.st_rx_prod = d.rx_prod,
		.st_irq = { .mode = d.irq_mode, .isa_irq = d.irq_isa,
		    .gsi = d.irq_gsi, .evtchn_port = d.irq_evtchn,
		    .msi_addr = d.irq_msi_addr, .msi_data = d.irq_msi_data },
	};
	sf->sf_has_dev = true;
	return 0;
}

/* Only what the writer produces: digits, a '-' where signed; no blanks, no '+'. */
static int
parse_value(const struct field *f, const char *val, uint64_t *out)
{
	bool neg = val[0] == '-';
	const char *s = neg ? val + 1 : val;
	uint64_t v = 0;

	if (*s == '\0' || (neg && f->f_min >= 0))
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (neg) {
		if (v == 0 || v > (uint64_t)-f->f_min)
			return -EINVAL;
		*out = (uint64_t)-(int64_t)v;
		return 0;
	}
	if (v > f->f_max || (f->f_min > 0 && v < (uint64_t)f->f_min))
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_line(struct statefile *sf, char *line, uint32_t *seen, bool *v1dev)
{
	char *val = strchr(line, ' ');
	uint64_t v;
	size_t i;
	int rc;

	if (line[0] == '#' || line[0] == '\0')
		return 0;
	if (val == NULL)
		return -EINVAL;
	*val++ = '\0';
	if (!strcmp(line, "device")) {
		/* Each key once: a second one is tampering, not an update. */
		if (*v1dev)
			return -EINVAL;
		*v1dev = true;
		return parse_v1_device(sf, val);
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(line, fields[i].f_name))
			break;
	if (i == sizeof(fields) / sizeof(fields[0]) || (*seen & 1u << i) != 0)
		return -EINVAL;
	if ((rc = parse_value(&fields[i], val, &v)) < 0)
		return rc;
	put(sf, &fields[i], v);
	*seen |= 1u << i;
	return 0;
}

int
statefile_parse(const char *text, size_t len, struct statefile *sf)
{
	char buf[STATEFILE_MAX + 1];
	char *line, *save = NULL;
	uint32_t seen = 0, head = 0, dev = 0, regs = 0, opt = 0;
	bool v1dev = false;
	int rc, bad = 0;

	memset(sf, 0, sizeof(*sf));
	if (len >= sizeof(buf) || memchr(text, '\0', len) != NULL)
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	/*
	 * Every line is read before judging: a file of a later version may
	 * hold keys unknown here, and is then refused for its version.
	 */
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((rc = parse_line(sf, line, &seen, &v1dev)) < 0 && bad == 0)
			bad = rc;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		*(fields[i].f_part == P_HEAD ? &head : fields[i].f_part ==
		    P_OPT ? &opt : fields[i].f_part == P_DEV ? &dev : &regs) |=
		    1u << i;
	if ((seen & 1u) == 0)
		return -EINVAL;
	if (sf->sf_version != 1 && sf->sf_version != STATEFILE_VERSION)
		return -EPROTONOSUPPORT;
	if (bad < 0)
		return bad;
	if (sf->sf_version == 1)
		return (seen & head) == head && (seen & (dev | opt)) == 0 &&
		    v1dev ? 0 : -EINVAL;
	if ((seen & head) != head || v1dev ||
	    ((seen & dev) != 0 && (seen & dev) != dev) ||
	    ((seen & regs) != 0 && ((seen & regs) != regs || (seen & dev) == 0)))
		return -EINVAL;
	sf->sf_has_dev = (seen & dev) != 0;
	return 0;
}

int
statefile_read(const char *path, struct statefile *sf)
{
	char buf[STATEFILE_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd, rc;

	memset(sf, 0, sizeof(*sf));
	/* Whoever put a FIFO here must not block the start. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode)) {
		rc = st.st_mode == 0 ? -errno : -ENOTSUP;
		close(fd);
		return rc;
	}
	n = read(fd, buf, sizeof(buf));
	rc = -errno;
	close(fd);
	if (n < 0)
		return rc;
	return statefile_parse(buf, (size_t)n, sf);
}
