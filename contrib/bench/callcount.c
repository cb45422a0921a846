/**
 * @file callcount.c
 * LD_PRELOAD test hook for the read-path proof of contrib/bench/run.sh:
 * counts allocations and lock calls of a daemon, split by the object that
 * made the call (the main executable, i.e. weightfs's own code; libfuse; any
 * other object).
 *
 *   CALLCOUNT_OUT=/tmp/counts LD_PRELOAD=callcount.so weightfs ...
 *   kill -USR1 PID   reset the counters
 *   kill -USR2 PID   write the counters to $CALLCOUNT_OUT (one JSON object)
 *
 * The counted calls are forwarded to glibc's own entry points; the callers
 * (and the pread64 and splice calls, which count the requests served)
 * are told apart by the return address (other libraries' constructors may
 * call in before ours runs, so every forwarder resolves itself lazily), against the text ranges found by
 * dl_iterate_phdr when the library loads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

enum { F_MALLOC, F_CALLOC, F_REALLOC, F_FREE, F_MEMALIGN, F_MUTEX, F_RDLOCK, F_WRLOCK, F_PREAD, F_SPLICE, NF };
static const char *fname[NF] = {"malloc", "calloc", "realloc", "free", "posix_memalign",
				"pthread_mutex_lock", "pthread_rwlock_rdlock", "pthread_rwlock_wrlock",
				"pread64", "splice"};
enum { C_MAIN, C_FUSE, C_OTHER, NC };
static const char *cname[NC] = {"weightfs_main_executable", "libfuse3", "other"};

static _Atomic unsigned long counts[NF][NC];
static uintptr_t lo[2], hi[2]; /* executable text, libfuse text */
static int (*real_mutex_lock)(pthread_mutex_t *);
static int (*real_rdlock)(pthread_rwlock_t *);
static int (*real_wrlock)(pthread_rwlock_t *);
static ssize_t (*real_pread64)(int, void *, size_t, off_t);
static ssize_t (*real_splice)(int, loff_t *, int, loff_t *, size_t, unsigned int);

static void count(int f, void *ret)
{
	uintptr_t a = (uintptr_t)ret;
	int c = C_OTHER;
	if (a >= lo[0] && a < hi[0])
		c = C_MAIN;
	else if (a >= lo[1] && a < hi[1])
		c = C_FUSE;
	atomic_fetch_add_explicit(&counts[f][c], 1, memory_order_relaxed);
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size, (void)data;
	int which = -1;
	if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0')
		which = 0;
	else if (strstr(info->dlpi_name, "libfuse3"))
		which = 1;
	if (which < 0 || hi[which] != 0)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type == PT_LOAD && (p->p_flags & PF_X)) {
			lo[which] = info->dlpi_addr + p->p_vaddr;
			hi[which] = lo[which] + p->p_memsz;
		}
	}
	return 0;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1) {
		for (int f = 0; f < NF; f++)
			for (int c = 0; c < NC; c++)
				atomic_store(&counts[f][c], 0);
		return;
	}
	const char *out = getenv("CALLCOUNT_OUT");
	if (out == NULL)
		return;
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "{");
	for (int c = 0; c < NC; c++) {
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s\"%s\": {", c ? ", " : "", cname[c]);
		for (int f = 0; f < NF; f++)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s\"%s\": %lu", f ? ", " : "", fname[f],
				      atomic_load(&counts[f][c]));
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "}");
	}
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "}\n");
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, buf, (size_t)n) < 0) {
			/* nothing to do: the reader sees an empty file */
		}
		close(fd);
	}
}

__attribute__((constructor)) static void init(void)
{
	dl_iterate_phdr(phdr_cb, NULL);
	real_mutex_lock = dlsym(RTLD_NEXT, "pthread_mutex_lock");
	real_rdlock = dlsym(RTLD_NEXT, "pthread_rwlock_rdlock");
	real_wrlock = dlsym(RTLD_NEXT, "pthread_rwlock_wrlock");
	real_pread64 = dlsym(RTLD_NEXT, "pread64");
	real_splice = dlsym(RTLD_NEXT, "splice");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

void *malloc(size_t n)
{
	count(F_MALLOC, __builtin_return_address(0));
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	count(F_CALLOC, __builtin_return_address(0));
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	count(F_REALLOC, __builtin_return_address(0));
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p)
		count(F_FREE, __builtin_return_address(0));
	__libc_free(p);
}

int posix_memalign(void **p, size_t align, size_t n)
{
	count(F_MEMALIGN, __builtin_return_address(0));
	void *m = __libc_memalign(align, n);
	if (m == NULL)
		return 12; /* ENOMEM */
	*p = m;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	count(F_MEMALIGN, __builtin_return_address(0));
	return __libc_memalign(align, n);
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	count(F_MUTEX, __builtin_return_address(0));
	if (real_mutex_lock == NULL)
		real_mutex_lock = dlsym(RTLD_NEXT, "pthread_mutex_lock");
	return real_mutex_lock(m);
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	count(F_RDLOCK, __builtin_return_address(0));
	if (real_rdlock == NULL)
		real_rdlock = dlsym(RTLD_NEXT, "pthread_rwlock_rdlock");
	return real_rdlock(l);
}

int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	count(F_WRLOCK, __builtin_return_address(0));
	if (real_wrlock == NULL)
		real_wrlock = dlsym(RTLD_NEXT, "pthread_rwlock_wrlock");
	return real_wrlock(l);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	count(F_PREAD, __builtin_return_address(0));
	if (real_pread64 == NULL)
		real_pread64 = dlsym(RTLD_NEXT, "pread64");
	return real_pread64(fd, buf, n, off);
}

ssize_t splice(int in, loff_t *inoff, int out, loff_t *outoff, size_t n, unsigned int flags)
{
	count(F_SPLICE, __builtin_return_address(0));
	if (real_splice == NULL)
		real_splice = dlsym(RTLD_NEXT, "splice");
	return real_splice(in, inoff, out, outoff, n, flags);
}
