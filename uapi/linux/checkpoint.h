/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Userspace ABI of /dev/checkpoint, for C programs.
 *
 * The source of truth is uapi/checkpoint.rs; this header mirrors it and
 * userspace/ckptlib/tests/c_header.rs checks that sizes, offsets and
 * constants agree.
 */
#ifndef _UAPI_LINUX_CHECKPOINT_H
#define _UAPI_LINUX_CHECKPOINT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define CKPT_ABI_VERSION	1
#define CKPT_IMAGE_VERSION	1
#define CKPT_IOC_MAGIC		0xCB
#define CKPT_DEVICE_NAME	"checkpoint"

#define CKPT_FEATURE_CHECKPOINT	(1ULL << 0)
#define CKPT_FEATURE_RESTART	(1ULL << 1)

struct ckpt_version {
	__u32 abi_version;	/* CKPT_ABI_VERSION of the running module */
	__u32 image_version;	/* CKPT_IMAGE_VERSION of the running module */
	__u64 features;		/* CKPT_FEATURE_* */
	char kernel_release[64];/* uname -r, NUL-terminated */
};

/*
 * Write the image of process @pid (the caller must be its ptrace tracer and
 * it must be in a ptrace stop) to file descriptor @fd. On failure, the reason
 * is copied, NUL-terminated, to the @reason_len bytes at @reason.
 */
struct ckpt_checkpoint_args {
	__s32 pid;
	__s32 fd;
	__u64 flags;		/* none defined: 0 */
	__u64 reason;		/* user pointer */
	__u32 reason_len;
	__u32 __reserved;	/* 0 */
};

#define CKPT_RESTART_MAX_CLOSE	16

/*
 * Become the process of an image (see Documentation/restart.rst): @fd is
 * positioned at the image's MM record. Returns into the restored registers.
 */
struct ckpt_restart_args {
	__s32 fd;
	__s32 err_fd;		/* gets "OK", or the reason of a late failure */
	__u64 flags;		/* 0 */
	__u64 reason;		/* user pointer, reason of an early failure */
	__u32 reason_len;
	__u32 nr_close;
	__s32 close_fds[CKPT_RESTART_MAX_CLOSE];
	__u64 blocked;		/* signal mask of the restored process */
	__u64 records_before;	/* records read before MM */
	__u64 __reserved;	/* 0 */
};

#define CKPT_IOC_VERSION	_IOR(CKPT_IOC_MAGIC, 0x00, struct ckpt_version)
#define CKPT_IOC_CHECKPOINT	_IOW(CKPT_IOC_MAGIC, 0x01, struct ckpt_checkpoint_args)
#define CKPT_IOC_RESTART	_IOW(CKPT_IOC_MAGIC, 0x02, struct ckpt_restart_args)

#endif /* _UAPI_LINUX_CHECKPOINT_H */
