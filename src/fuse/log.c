/**
 * @file log.c
 * Messages of the daemon: stderr while it has a terminal, syslog once it
 * has daemonized; with -o logfile=PATH also that file, and only that file
 * (not syslog) once daemonized.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

static atomic_bool detached; /* stderr is gone: syslog, or the log file alone */
static atomic_int log_fd = -1;

void wfs_log_to_syslog(void)
{
	if (atomic_load(&log_fd) < 0)
		openlog("weightfs", LOG_PID, LOG_DAEMON);
	atomic_store(&detached, true);
}

int wfs_log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	atomic_store(&log_fd, fd);
	return 0;
}

int wfs_log_file_fd(void)
{
	return atomic_load(&log_fd);
}

static const char *level(int priority)
{
	switch (priority) {
	case LOG_ERR: return "error: ";
	case LOG_WARNING: return "warning: ";
	default: return "";
	}
}

/* One line, written with one write(2) so lines of threads never interleave. */
static void to_file(int fd, int priority, const char *msg)
{
	char stamp[32] = "";
	struct timespec ts;
	struct tm tm;
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char line[2300];
	int n = snprintf(line, sizeof(line), "%s weightfs[%ld]: %s%s\n", stamp, (long)getpid(), level(priority), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	ssize_t w = write(fd, line, (size_t)n);
	(void)w; /* nowhere left to report a failed log write */
}

void wfs_log(int priority, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int fd = atomic_load(&log_fd);
	if (fd >= 0)
		to_file(fd, priority, msg);
	else if (atomic_load(&detached))
		syslog(priority, "%s", msg);
	if (!atomic_load(&detached))
		fprintf(stderr, "weightfs: %s%s\n", priority == LOG_WARNING ? "warning: " : "", msg);
}
