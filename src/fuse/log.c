/**
 * @file log.c
 * Messages of the daemon: stderr while it has a terminal, syslog once it
 * has daemonized.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <syslog.h>

#include "fs.h"

static atomic_bool use_syslog;

void wfs_log_to_syslog(void)
{
	openlog("weightfs", LOG_PID, LOG_DAEMON);
	atomic_store(&use_syslog, true);
}

void wfs_log(int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (atomic_load(&use_syslog)) {
		vsyslog(priority, fmt, ap);
	} else {
		char line[2048];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "weightfs: %s%s\n", priority == LOG_WARNING ? "warning: " : "", line);
	}
	va_end(ap);
}
