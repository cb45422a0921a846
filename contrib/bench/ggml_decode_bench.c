/**
 * @file ggml_decode_bench.c
 * Speed of the ggml dequantizers (wfs_ggml_to_f32), one thread: GB/s of
 * float32 output.
 *
 *   ninja -C build contrib/bench/ggml-decode-bench
 *   build/contrib/bench/ggml-decode-bench [MIB_OF_INPUT] [ROUNDS]   (default 64, 5)
 *
 * Input: MIB_OF_INPUT MiB of random blocks with moderate f16 scales (real
 * models' scales are small normal halves; the decoders do not branch on
 * values, so the bytes only need to be realistic enough for the scale
 * conversion). It is decoded in slices of 1 MiB of output into one reused
 * buffer, as a typed view's read decodes into a per-thread scratch buffer,
 * so the input streams from memory and the output stays in cache. Each type
 * runs ROUNDS times; the best round is reported, as wall time and as the
 * thread's CPU time (this machine is shared: CPU time is the one-core
 * figure when other jobs steal the core).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode/ggml.h"

static double now(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 1;

static uint8_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
	return (uint8_t)(rng_state >> 56);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	if (mib == 0 || rounds <= 0) {
		fprintf(stderr, "usage: %s [MIB_OF_INPUT] [ROUNDS]\n", argv[0]);
		return 2;
	}
	size_t in_bytes = mib << 20;
	uint8_t *in = malloc(in_bytes);
	float *out = malloc(1 << 20);
	if (in == NULL || out == NULL)
		return 1;
	for (size_t i = 0; i < in_bytes; i++)
		in[i] = rnd();
	/* Every even byte's high half-byte small: f16 scales at any offset are
	 * then finite (|x| < 2), whichever field the block puts them in. */
	for (size_t i = 1; i < in_bytes; i += 2)
		in[i] &= 0x3f;

	printf("%-8s %10s %12s %12s\n", "type", "out MiB", "GB/s wall", "GB/s cpu");
	{
		/* The reference in the same run: memcpy of the input in 1 MiB slices
		 * into the same buffer, what serving raw bytes costs at best. */
		double best_wall = 1e30, best_cpu = 1e30;
		for (int r = 0; r < rounds; r++) {
			double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
			for (size_t off = 0; off < in_bytes; off += 1u << 20)
				memcpy(out, in + off, in_bytes - off < (1u << 20) ? in_bytes - off : 1u << 20);
			double w = now(CLOCK_MONOTONIC) - w0, c = now(CLOCK_THREAD_CPUTIME_ID) - c0;
			best_wall = w < best_wall ? w : best_wall;
			best_cpu = c < best_cpu ? c : best_cpu;
			__asm__ volatile("" : : "r"(out) : "memory");
		}
		printf("%-8s %10zu %12.2f %12.2f\n", "memcpy", mib, (double)in_bytes / best_wall / 1e9,
		       (double)in_bytes / best_cpu / 1e9);
	}
	for (unsigned t = 0; t < WFS_DT_COUNT; t++) {
		enum wfs_dtype dt = (enum wfs_dtype)t;
		if (!wfs_ggml_decodes(dt))
			continue;
		size_t bb = wfs_dtype_block_bytes(dt), be = wfs_dtype_block_elems(dt);
		size_t per_slice = (1u << 20) / (be * sizeof(float)); /* blocks per 1 MiB of output */
		size_t nblocks = in_bytes / bb;
		double best_wall = 1e30, best_cpu = 1e30;
		volatile float sink = 0;
		for (int r = 0; r < rounds; r++) {
			double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
			for (size_t b = 0; b < nblocks; b += per_slice) {
				size_t n = nblocks - b < per_slice ? nblocks - b : per_slice;
				wfs_ggml_to_f32(dt, in + b * bb, n, out);
				sink += out[0];
			}
			double w = now(CLOCK_MONOTONIC) - w0, c = now(CLOCK_THREAD_CPUTIME_ID) - c0;
			if (w < best_wall)
				best_wall = w;
			if (c < best_cpu)
				best_cpu = c;
		}
		double out_bytes = (double)nblocks * (double)be * sizeof(float);
		printf("%-8s %10.0f %12.2f %12.2f\n", wfs_dtype_name(dt), out_bytes / (1 << 20),
		       out_bytes / best_wall / 1e9, out_bytes / best_cpu / 1e9);
		(void)sink;
	}
	free(in);
	free(out);
	return 0;
}
