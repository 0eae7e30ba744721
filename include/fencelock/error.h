/* fencelock error codes.
 *
 * Every fallible function in fencelock returns 0 on success or a negative
 * -FL_E... code; fl_strerror() turns a code into a short phrase that callers
 * combine with what failed and on what ("read of /dev/sdb at 1048576: I/O
 * timed out"). Codes are stable: the CLI maps some of them to exit codes. */
#ifndef FENCELOCK_ERROR_H
#define FENCELOCK_ERROR_H

/* Marks the functions libfencelock exports: the library is built with
 * -fvisibility=hidden, so everything else in it stays internal. */
#ifndef FL_PUBLIC
#if defined(__GNUC__) || defined(__clang__)
#define FL_PUBLIC __attribute__((visibility("default")))
#else
#define FL_PUBLIC
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum fl_error {
	FL_OK = 0,
	FL_EINVAL = 1,      /* invalid argument or malformed input */
	FL_ENOMEM = 2,      /* out of memory */
	FL_EIO = 3,         /* I/O error from the device */
	FL_ETIMEDOUT = 4,   /* I/O or operation exceeded its deadline */
	FL_ECHECKSUM = 5,   /* on-disk or wire record with a bad CRC */
	FL_EMAGIC = 6,      /* record with a wrong or foreign magic number */
	FL_EVERSION = 7,    /* record of an unsupported major version */
	FL_EFOREIGN = 8,    /* record belongs to another lockspace / cluster / resource */
	FL_ETOOSMALL = 9,   /* device too small for the requested layout */
	FL_EALIGN = 10,     /* offset or length not aligned to sector / align size */
	FL_EBUSY = 11,      /* lease or host_id held by a live host */
	FL_EAGAIN = 12,     /* contention: try again (e.g. a competing ballot) */
	FL_ENOENT = 13,     /* no such file, host, lease or entry */
	FL_EPERM = 14,      /* permission denied */
	FL_ESTALE = 15,     /* our lease or ballot was overtaken by another host */
	FL_ENOSPC = 16,     /* no free slot / queue full */
	FL_ECANCELED = 17,  /* operation cancelled (shutdown, fence) */
	FL_ENOTQUORATE = 18,/* refused: this host is not quorate */
	FL_ECORRUPT = 19,   /* structurally inconsistent data (e.g. a corrupt log middle) */
	FL_ESECTOR = 20,    /* sector size mismatch between record and device */
	FL_ENOTLEADER = 21, /* request needs the Raft leader */
	FL_ESHUTDOWN = 22,  /* component is shutting down */
	FL_ENOTHELD = 23,   /* the VM or lease is not held on this host */
	FL_ERRNO_MAX
};

/* Returns a static, human-readable phrase for a code; accepts both signs
 * (an unknown code gives "unknown error"). */
FL_PUBLIC const char *fl_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
