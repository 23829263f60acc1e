// SPDX-License-Identifier: GPL-2.0
/*
 * Restart sessions driven by hand through the ioctls of <linux/checkpoint.h>, as
 * a user who bypasses rstr would: the module alone must keep a session to the
 * number of tasks it was begun with.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/checkpoint.h>

#include "kselftest_harness.h"

#define DEV "/dev/" CKPT_DEVICE_NAME

/*
 * In a child sharing the session's open file: CKPT_IOC_RESTART on an image that
 * is an empty file. Exits with the errno (0 if the ioctl succeeded) and writes
 * the reason the module gave to @reason_fd.
 */
static int restart_in_child(int dev, int image, int reason_fd)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char reason[256] = "";
		struct ckpt_restart_args a = {
			.fd = image,
			.err_fd = -1,
			.reason = (unsigned long)reason,
			.reason_len = sizeof(reason),
		};
		int ret = ioctl(dev, CKPT_IOC_RESTART, &a);
		int err = ret ? errno : 0;

		if (write(reason_fd, reason, strlen(reason) + 1) < 0)
			_exit(255);
		_exit(err);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The device open, an empty image file and a pipe for the children's reasons. */
FIXTURE(session) {
	int dev, image, p[2];
};

FIXTURE_SETUP(session)
{
	char path[] = "/tmp/ckpt-session-XXXXXX";

	self->dev = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->image = mkstemp(path);
	ASSERT_LE(0, self->image);
	unlink(path);
	ASSERT_EQ(0, pipe(self->p));
}

FIXTURE_TEARDOWN(session)
{
	close(self->dev);
	close(self->image);
	close(self->p[0]);
	close(self->p[1]);
}

TEST_F(session, one_task_session_refuses_a_second_task)
{
	struct ckpt_session_args s = { .nr_tasks = 1 };
	char reason[256];
	int first, second;

	ASSERT_EQ(0, ioctl(self->dev, CKPT_IOC_RESTART_BEGIN, &s));

	/* The first task joins; its image is empty, so its restart fails, early. */
	first = restart_in_child(self->dev, self->image, self->p[1]);
	ASSERT_LT(0, read(self->p[0], reason, sizeof(reason)));
	EXPECT_NE(0, first);
	EXPECT_NE(EBUSY, first) TH_LOG("first task refused with '%s'", reason);

	/* The session had room for one: the second is turned away as such. */
	second = restart_in_child(self->dev, self->image, self->p[1]);
	ASSERT_LT(0, read(self->p[0], reason, sizeof(reason)));
	EXPECT_EQ(EBUSY, second) TH_LOG("second task: errno %d, '%s'", second, reason);
	EXPECT_NE(NULL, strstr(reason, "complete")) TH_LOG("reason: '%s'", reason);

	/* And the coordinator cannot go with one task joined but none restored. */
	EXPECT_EQ(-1, ioctl(self->dev, CKPT_IOC_RESTART_GO));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(session, restart_without_session_is_refused)
{
	char reason[256];
	int err;

	err = restart_in_child(self->dev, self->image, self->p[1]);
	ASSERT_LT(0, read(self->p[0], reason, sizeof(reason)));
	EXPECT_EQ(EINVAL, err);
	EXPECT_NE(NULL, strstr(reason, "no restart session")) TH_LOG("reason: '%s'", reason);
}

TEST_HARNESS_MAIN
