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

struct ckpt_version {
	__u32 abi_version;	/* CKPT_ABI_VERSION of the running module */
	__u32 image_version;	/* CKPT_IMAGE_VERSION of the running module */
	__u64 features;		/* CKPT_FEATURE_* (none in ABI version 1) */
	char kernel_release[64];/* uname -r, NUL-terminated */
};

#define CKPT_IOC_VERSION	_IOR(CKPT_IOC_MAGIC, 0x00, struct ckpt_version)

#endif /* _UAPI_LINUX_CHECKPOINT_H */
