/**
 * @file progress.c
 * The progress bar: "label [=====>    ]  45%  1.1 GB / 2.5 GB  1.2 GB/s  4s left".
 */
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

/* A bar is on stderr: errorf() erases it before writing a message. */
static _Atomic bool visible;

bool progress_visible(void)
{
	return atomic_load_explicit(&visible, memory_order_relaxed);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void progress_init(struct progress *p, const char *label, uint64_t total, bool allowed)
{
	p->enabled = allowed && isatty(STDERR_FILENO);
	p->drawn = false;
	p->stdout_tty = isatty(STDOUT_FILENO);
	p->label = label;
	p->total = total;
	atomic_store(&p->done, 0);
	p->start = now();
	p->last_draw = 0;
}

static void fmt_size(double b, char *buf, size_t len)
{
	const char *unit[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	unsigned u = 0;
	while (b >= 1000 && u < 5) {
		b /= 1000;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

void progress_tick(struct progress *p)
{
	if (!p->enabled)
		return;
	double t = now(), elapsed = t - p->start;
	if (elapsed < 1.0 || t - p->last_draw < 0.1)
		return;
	p->last_draw = t;
	uint64_t done = atomic_load_explicit(&p->done, memory_order_relaxed);
	double frac = p->total ? (double)done / (double)p->total : 1.0;
	if (frac > 1)
		frac = 1;
	char a[24], b[24], r[24], left[32] = "";
	fmt_size((double)done, a, sizeof(a));
	fmt_size((double)p->total, b, sizeof(b));
	fmt_size((double)done / elapsed, r, sizeof(r));
	if (done > 0 && frac < 1)
		snprintf(left, sizeof(left), "%.0fs left", elapsed * (1 - frac) / frac);
	struct winsize ws;
	int cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
	/* Fixed-width fields, so that the bar does not jump as the numbers change. */
	char tail[160];
	snprintf(tail, sizeof(tail), " %3.0f%% %9s / %-9s %9s/s  %s", frac * 100, a, b, r, left);
	int width = cols - 62 - (int)snprintf(NULL, 0, "%s", p->label);
	if (width > 40)
		width = 40;
	fprintf(stderr, "\r\033[K%s", p->label);
	if (width >= 10) {
		int fill = (int)(frac * width);
		fputs(" [", stderr);
		for (int i = 0; i < width; i++)
			fputc(i < fill ? '=' : i == fill ? '>' : ' ', stderr);
		fputc(']', stderr);
	}
	fputs(tail, stderr);
	fflush(stderr);
	p->drawn = true;
	atomic_store_explicit(&visible, true, memory_order_relaxed);
}

void progress_end(struct progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		p->drawn = false;
		atomic_store_explicit(&visible, false, memory_order_relaxed);
	}
}
