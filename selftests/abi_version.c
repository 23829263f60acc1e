// SPDX-License-Identifier: GPL-2.0
/*
 * The ABI of /dev/checkpoint as a C program sees it through
 * <linux/checkpoint.h>: the device node, the version query, and the
 * errors for what the module does not know.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/checkpoint.h>

#include "kselftest_harness.h"

#define DEV "/dev/" CKPT_DEVICE_NAME

TEST(device_node_is_misc_char_device)
{
	struct stat st;

	ASSERT_EQ(0, stat(DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(10, major(st.st_rdev));	/* MISC_MAJOR */
}

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

TEST_F(dev, version_matches_header_and_uname)
{
	struct ckpt_version v;
	struct utsname u;
	size_t len;

	memset(&v, 0xa5, sizeof(v));
	ASSERT_EQ(0, ioctl(self->fd, CKPT_IOC_VERSION, &v));
	EXPECT_EQ(CKPT_ABI_VERSION, v.abi_version);
	EXPECT_EQ(CKPT_IMAGE_VERSION, v.image_version);
	EXPECT_EQ(0, v.features);

	ASSERT_EQ(0, uname(&u));
	EXPECT_STREQ(u.release, v.kernel_release);
	/* Every byte after the string is zero: nothing stale reaches userspace. */
	len = strnlen(v.kernel_release, sizeof(v.kernel_release));
	ASSERT_LT(len, sizeof(v.kernel_release));
	for (size_t i = len; i < sizeof(v.kernel_release); i++)
		EXPECT_EQ(0, v.kernel_release[i]);
}

TEST_F(dev, unknown_ioctl_is_enotty)
{
	EXPECT_EQ(-1, ioctl(self->fd, _IO(CKPT_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	/* Right number but wrong size is another command: refused too. */
	EXPECT_EQ(-1, ioctl(self->fd, _IOR(CKPT_IOC_MAGIC, 0x00, __u64), NULL));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(dev, bad_pointer_is_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, CKPT_IOC_VERSION, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, CKPT_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST_HARNESS_MAIN
