/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers linked into ckpt.ko. They exist only for what the kernel offers
 * as static inline functions or macros, which Rust cannot call directly.
 * Their only caller is the Rust layer kmod/sys/.
 */
#ifndef CKPT_HELPERS_H
#define CKPT_HELPERS_H

#include <linux/types.h>

ssize_t ckpt_helper_kernel_release(char *buf, size_t len);

#endif
