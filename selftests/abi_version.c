// SPDX-License-Identifier: GPL-2.0
/*
 * The ABI of /dev/checkpoint as a C program sees it through
 * <linux/checkpoint.h>: the device node, the version query, and the
 * errors for what the module does not know.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/checkpoint.h>

/* The task list of a one-task checkpoint: the root alone. */
#define ONE_TASK(pid) .nr_tasks = 1, .tasks = (unsigned long)&(pid)

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
	EXPECT_EQ(CKPT_FEATURE_CHECKPOINT | CKPT_FEATURE_RESTART, v.features);

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

/* Calls CKPT_IOC_CHECKPOINT and checks the errno and the reason it reports. */
static void expect_refusal(struct __test_metadata *_metadata, int dev,
			   struct ckpt_checkpoint_args *a, int err, const char *words)
{
	char reason[256];

	memset(reason, 'x', sizeof(reason));
	a->reason = (unsigned long)reason;
	a->reason_len = sizeof(reason);
	EXPECT_EQ(-1, ioctl(dev, CKPT_IOC_CHECKPOINT, a));
	EXPECT_EQ(err, errno);
	ASSERT_NE(NULL, memchr(reason, 0, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, words)) {
		TH_LOG("reason: %s", reason);
	}
}

FIXTURE(child) {
	int dev, out;
	pid_t pid;
};

FIXTURE_SETUP(child)
{
	self->dev = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, self->out);
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (self->pid == 0) {
		pause();
		_exit(0);
	}
}

FIXTURE_TEARDOWN(child)
{
	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, 0);
	close(self->out);
	close(self->dev);
}

TEST_F(child, checkpoint_refuses_untraced_process)
{
	struct ckpt_checkpoint_args a = { .pid = self->pid, .fd = self->out, ONE_TASK(self->pid) };

	expect_refusal(_metadata, self->dev, &a, EPERM, "not ptrace-attached by the caller");
}

TEST_F(child, checkpoint_refuses_running_tracee)
{
	struct ckpt_checkpoint_args a = { .pid = self->pid, .fd = self->out, ONE_TASK(self->pid) };

	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->pid, 0, 0));
	expect_refusal(_metadata, self->dev, &a, EBUSY, "not in a ptrace stop");
}

TEST_F(child, checkpoint_refuses_bad_arguments)
{
	int tid = self->pid;
	struct ckpt_checkpoint_args a = { .pid = self->pid, .fd = self->out, .flags = 1ULL << 31,
					  ONE_TASK(tid) };

	expect_refusal(_metadata, self->dev, &a, EINVAL, "unknown flags");
	a.flags = CKPT_CHECKPOINT_REFUSE | CKPT_CHECKPOINT_TREE_ONLY;
	expect_refusal(_metadata, self->dev, &a, EINVAL, "more than one of CKPT_CHECKPOINT_REFUSE");
	a.flags = CKPT_CHECKPOINT_CHECK | CKPT_CHECKPOINT_TREE_ONLY;
	expect_refusal(_metadata, self->dev, &a, EINVAL, "more than one of CKPT_CHECKPOINT_REFUSE");
	/* A dry run writes no image: it takes no image descriptor. */
	a.flags = CKPT_CHECKPOINT_CHECK;
	expect_refusal(_metadata, self->dev, &a, EINVAL, "the image fd must be -1");
	a.fd = -1;
	a.log_level = CKPT_LOG_DEBUG + 1;
	a.log_fd = 2;
	expect_refusal(_metadata, self->dev, &a, EINVAL, "log level 3");
	a.log_level = CKPT_LOG_INFO;
	a.log_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	expect_refusal(_metadata, self->dev, &a, EBADF, "is not open for writing");
	close(a.log_fd);
	a.log_fd = -1;
	expect_refusal(_metadata, self->dev, &a, EBADF, "log fd -1 is not open for writing");
	a.log_level = CKPT_LOG_NONE;
	a.fd = self->out;
	a.flags = 0;
	a.nr_tasks = 0;
	expect_refusal(_metadata, self->dev, &a, EINVAL, "0 tasks");
	a.nr_tasks = 1;
	a.fd = 999;
	expect_refusal(_metadata, self->dev, &a, EBADF, "image fd 999 is not open");
	a.fd = self->dev;	/* open, but not for writing? it is O_RDWR: use a read-only fd */
	a.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	expect_refusal(_metadata, self->dev, &a, EBADF, "not open for writing");
	close(a.fd);
	a.fd = self->out;
	a.pid = tid = 0x3fffffff;
	expect_refusal(_metadata, self->dev, &a, ESRCH, "no process");
	a.pid = getpid();
	expect_refusal(_metadata, self->dev, &a, EINVAL, "starts with");
	tid = getpid();
	expect_refusal(_metadata, self->dev, &a, EINVAL, "cannot checkpoint itself");
}

TEST_F(child, checkpoint_reason_is_truncated_to_the_buffer)
{
	struct ckpt_checkpoint_args a = { .pid = self->pid, .fd = self->out, ONE_TASK(self->pid) };
	char reason[8];

	memset(reason, 'x', sizeof(reason));
	a.reason = (unsigned long)reason;
	a.reason_len = 5;
	EXPECT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, &a));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, reason[4]);
	EXPECT_EQ('x', reason[5]);	/* nothing past reason_len */
	/* A bad reason pointer does not change the errno. */
	a.reason = 8;
	EXPECT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, &a));
	EXPECT_EQ(EPERM, errno);
}

TEST_HARNESS_MAIN
