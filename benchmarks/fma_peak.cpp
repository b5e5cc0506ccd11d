// This machine's measured fp32 peak: independent fused multiply-add chains on the widest SIMD
// registers the build targets (AVX-512 when __AVX512F__, else AVX2 + FMA, else SSE multiply and
// add), on 1 and on N threads. Each thread keeps CHAINS accumulators, each updated as
// acc = acc * a + b, so that CHAINS independent FMAs are in flight: enough to cover the latency
// of the FMA units (4 cycles x 2 pipes on current x86 cores needs 8). No memory traffic.
//
// One FMA of a W-lane vector counts as 2 W floating-point operations (what a forward pass's
// multiply-add counts as too). Prints a Markdown table of the best of --reps repetitions
// (the peak is what the machine can reach; the median is printed beside it), and with --csv
// one line "threads,best_gflops,median_gflops" per thread count for scripts.
//
// Usage: fma_peak [--threads N] [--reps N] [--seconds S] [--csv]
//   N threads (default 2) is measured next to 1 thread.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#if defined(__AVX512F__) || defined(__FMA__) || defined(__SSE__)
#include <immintrin.h>
#endif

namespace {

constexpr int kChains = 16;

#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
constexpr bool kFused = true;
const char* const kIsa = "AVX-512 (512-bit FMA)";
inline Vec splat(float x) { return _mm512_set1_ps(x); }
inline Vec madd(Vec acc, Vec a, Vec b) { return _mm512_fmadd_ps(acc, a, b); }
inline float sum(Vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX__) && defined(__FMA__)
using Vec = __m256;
constexpr int kLanes = 8;
constexpr bool kFused = true;
const char* const kIsa = "AVX2/FMA (256-bit FMA)";
inline Vec splat(float x) { return _mm256_set1_ps(x); }
inline Vec madd(Vec acc, Vec a, Vec b) { return _mm256_fmadd_ps(acc, a, b); }
inline float sum(Vec v) {
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    float s = 0;
    for (float x : t) s += x;
    return s;
}
#elif defined(__SSE__)
using Vec = __m128;
constexpr int kLanes = 4;
constexpr bool kFused = false;
const char* const kIsa = "SSE (128-bit, separate multiply and add)";
inline Vec splat(float x) { return _mm_set1_ps(x); }
inline Vec madd(Vec acc, Vec a, Vec b) { return _mm_add_ps(_mm_mul_ps(acc, a), b); }
inline float sum(Vec v) {
    alignas(16) float t[4];
    _mm_store_ps(t, v);
    return t[0] + t[1] + t[2] + t[3];
}
#else
#error "fma_peak needs an x86 compiler with at least SSE"
#endif

volatile float g_a = 0.999999f, g_b = 1e-7f;  // volatile: the compiler cannot fold the chains
volatile float g_sink = 0;

/// Runs `iterations` rounds of kChains independent multiply-adds; returns a value that depends on all.
float chains(long iterations) {
    const Vec a = splat(g_a), b = splat(g_b);
    Vec acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = splat(1.0f + 0.001f * float(c));
    for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
        for (int c = 0; c < kChains; ++c) acc[c] = madd(acc[c], a, b);
    }
    float s = 0;
    for (int c = 0; c < kChains; ++c) s += sum(acc[c]);
    return s;
}

/// GFLOP/s of `threads` threads each running `iterations` rounds (wall clock from a common start).
double gflops(int threads, long iterations) {
    std::vector<std::thread> pool;
    std::vector<float> results(std::size_t(threads), 0.0f);
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { results[std::size_t(t)] = chains(iterations); });
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (float r : results) g_sink = g_sink + r;
    return double(threads) * double(iterations) * kChains * kLanes * 2.0 / s / 1e9;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 2, reps = 5;
    double seconds = 0.2;
    bool csv = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--csv") csv = true;
        else if (i + 1 < argc && a == "--threads") threads = std::atoi(argv[++i]);
        else if (i + 1 < argc && a == "--reps") reps = std::atoi(argv[++i]);
        else if (i + 1 < argc && a == "--seconds") seconds = std::atof(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--threads N] [--reps N] [--seconds S] [--csv]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || !(seconds > 0)) {
        std::fprintf(stderr, "fma_peak: --threads and --reps must be >= 1, --seconds > 0\n");
        return 2;
    }
    // Size a repetition to about `seconds` on one thread (after a warm-up that also wakes the
    // core from a low-frequency state).
    gflops(1, 1000000);
    long iterations = 1000000;
    const auto t0 = std::chrono::steady_clock::now();
    g_sink = g_sink + chains(iterations);
    const double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    iterations = std::max(1000L, long(double(iterations) * seconds / std::max(one, 1e-9)));

    std::vector<int> counts{1};
    if (threads != 1) counts.push_back(threads);
    if (!csv) {
        std::printf("fp32 peak: %d independent %s chains per thread, %d lanes, %s; best and median of %d "
                    "repetitions of about %.2f s\n\n",
                    kChains, kFused ? "FMA" : "multiply-add", kLanes, kIsa, reps, seconds);
        std::printf("| threads | best GFLOP/s | median GFLOP/s |\n|---:|---:|---:|\n");
    }
    for (int n : counts) {
        std::vector<double> g;
        for (int r = 0; r < reps; ++r) g.push_back(gflops(n, iterations));
        const double best = *std::max_element(g.begin(), g.end());
        if (csv) std::printf("%d,%.1f,%.1f\n", n, best, median(g));
        else std::printf("| %d | %.1f | %.1f |\n", n, best, median(g));
    }
    return 0;
}
