/**
 * @file notify.c
 * Telling a service manager about the mount: sd_notify(3) READY=1 once the
 * mount answers and STOPPING=1 when it ends, when $NOTIFY_SOCKET is set (a
 * systemd service of Type=notify). Without libsystemd at build time these
 * do nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#ifdef WFS_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "fs.h"

static void notify(const char *state)
{
	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
#ifdef WFS_HAVE_LIBSYSTEMD
	int rc = sd_notify(0, state);
	if (rc < 0)
		wfs_log(LOG_WARNING, "sd_notify %s: %s", state, strerror(-rc));
#else
	wfs_log(LOG_WARNING, "NOTIFY_SOCKET is set but this weightfs was built without libsystemd: "
		"%s not sent (use Type=forking or Type=simple)", state);
#endif
}

void wfs_notify_ready(const char *mountpoint)
{
	(void)mountpoint;
	notify("READY=1");
}

void wfs_notify_stopping(void)
{
	notify("STOPPING=1");
}
