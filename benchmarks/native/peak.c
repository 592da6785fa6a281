/* The machine's float64 FMA peak from C, to check the C# peak benchmark against: independent FMA chains held in
 * registers, AVX-512 (8 lanes) and AVX2 (4 lanes), 8 to 24 chains; one thread, or one per core with -t.
 * Build and run: benchmarks/native/peak.sh */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

/* N independent chains of one width: V the vector type, P its intrinsics' prefix, W its lanes, T its target. */
#define CHAINS(NAME, N, V, P, W, T) \
  __attribute__((target(T), noinline)) static double NAME(long iters) { \
    V x = P##_set1_pd(1.0000001), y = P##_set1_pd(0.9999999), a[N]; \
    for (int k = 0; k < N; k++) a[k] = P##_set1_pd(0.1 + k); \
    for (long i = 0; i < iters; i++) { _Pragma("GCC unroll 32") for (int k = 0; k < N; k++) a[k] = P##_fmadd_pd(a[k], x, y); } \
    V s = a[0]; for (int k = 1; k < N; k++) s = P##_add_pd(s, a[k]); \
    double o[W], t = 0; P##_storeu_pd(o, s); for (int l = 0; l < W; l++) t += o[l]; \
    return t; }
#define CHAINS512(N) CHAINS(zmm##N, N, __m512d, _mm512, 8, "avx512f")
#define CHAINS256(N) CHAINS(ymm##N, N, __m256d, _mm256, 4, "avx2,fma")
CHAINS512(8) CHAINS512(12) CHAINS512(16) CHAINS512(24)
CHAINS256(8) CHAINS256(12) CHAINS256(16)

typedef double (*kernel)(long);
static struct { const char *name; kernel f; int lanes, chains, avx512; } kernels[] = {
  {"avx512 x8", zmm8, 8, 8, 1}, {"avx512 x12", zmm12, 8, 12, 1}, {"avx512 x16", zmm16, 8, 16, 1}, {"avx512 x24", zmm24, 8, 24, 1},
  {"avx2 x8", ymm8, 4, 8, 0}, {"avx2 x12", ymm12, 4, 12, 0}, {"avx2 x16", ymm16, 4, 16, 0},
};
static long iters = 50000000;
static kernel current;
static void *run(void *p) { *(double *)p = current(iters); return NULL; }

int main(int argc, char **argv) {
  int threads = argc > 1 && strcmp(argv[1], "-t") == 0 ? (int)sysconf(_SC_NPROCESSORS_ONLN) : 1;
  int has512 = __builtin_cpu_supports("avx512f");
  for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++) {
    if (kernels[k].avx512 && !has512) continue;
    current = kernels[k].f;
    current(1000);
    double best = 0;
    for (int round = 0; round < 3; round++) {
      pthread_t t[256]; double sink[256];
      double t0 = now();
      for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, &sink[i]);
      for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
      double g = threads * 2.0 * kernels[k].lanes * kernels[k].chains * iters / (now() - t0) / 1e9;
      if (g > best) best = g;
    }
    printf("%s: %.1f GFLOP/s on %d thread%s\n", kernels[k].name, best, threads, threads == 1 ? "" : "s");
  }
  return 0;
}
