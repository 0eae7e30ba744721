/* Error code table and errno translation (see include/fencelock/error.h). */
#include <errno.h>
#include <stddef.h>
#include "common/errmap.h"

static const char *const fl_error_text[FL_ERRNO_MAX] = {
	[FL_OK] = "success",
	[FL_EINVAL] = "invalid argument",
	[FL_ENOMEM] = "out of memory",
	[FL_EIO] = "I/O error",
	[FL_ETIMEDOUT] = "timed out",
	[FL_ECHECKSUM] = "bad checksum",
	[FL_EMAGIC] = "bad magic number",
	[FL_EVERSION] = "unsupported version",
	[FL_EFOREIGN] = "belongs to another lockspace or cluster",
	[FL_ETOOSMALL] = "device too small",
	[FL_EALIGN] = "not aligned",
	[FL_EBUSY] = "held by a live host",
	[FL_EAGAIN] = "contention, try again",
	[FL_ENOENT] = "not found",
	[FL_EPERM] = "permission denied",
	[FL_ESTALE] = "overtaken by another host",
	[FL_ENOSPC] = "no space left",
	[FL_ECANCELED] = "cancelled",
	[FL_ENOTQUORATE] = "host is not quorate",
	[FL_ECORRUPT] = "corrupt data",
	[FL_ESECTOR] = "sector size mismatch",
	[FL_ENOTLEADER] = "not the leader",
	[FL_ESHUTDOWN] = "shutting down",
	[FL_ENOTHELD] = "not held on this host",
};

const char *fl_strerror(int code)
{
	if (code < 0)
		code = -code;
	if (code >= FL_ERRNO_MAX || fl_error_text[code] == NULL)
		return "unknown error";
	return fl_error_text[code];
}

int fl_from_errno(int err)
{
	switch (err) {
	case 0: return 0;
	case ENOENT: case ENODEV: case ENXIO: return -FL_ENOENT;
	case EACCES: case EPERM: case EROFS: return -FL_EPERM;
	case ENOMEM: return -FL_ENOMEM;
	case ETIMEDOUT: return -FL_ETIMEDOUT;
	case EINVAL: return -FL_EINVAL;
	case ENOSPC: return -FL_ENOSPC;
	case EBUSY: return -FL_EBUSY;
	case EAGAIN: return -FL_EAGAIN;
	case ECANCELED: return -FL_ECANCELED;
	default: return -FL_EIO;
	}
}
