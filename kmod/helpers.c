// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for the Rust side of ckpt.ko: see helpers.h.
 */
#include <linux/string.h>
#include <linux/utsname.h>

#include "helpers.h"

/* utsname() is a static inline reading current->nsproxy. */
ssize_t ckpt_helper_kernel_release(char *buf, size_t len)
{
	return strscpy(buf, utsname()->release, len);
}
