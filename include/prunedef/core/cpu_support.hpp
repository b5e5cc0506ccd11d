#pragma once
// Which x86 instruction sets a program was compiled for, and whether the CPU it runs on has
// them. A program built with -march=native (prunedef's default build, see CMake's PRUNEDEF_NATIVE
// and prunedef::native) and copied to an older CPU would die of SIGILL somewhere in a kernel;
// require_compiled_instruction_sets() stops it first with a message instead.
//
// The checking functions are compiled for the x86-64 baseline whatever the including
// translation unit's flags (GCC/Clang target attribute), use no library code that could have
// been compiled for the wider set, and should run before anything else: from main's first line
// or, better, from PRUNEDEF_CHECK_CPU_AT_STARTUP, a constructor that runs before the program's
// C++ static initialisers. On other architectures everything here is a no-op.

#include <cstddef>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define PRUNEDEF_X86_CPU_CHECK 1
#define PRUNEDEF_BASELINE_ISA __attribute__((target("arch=x86-64")))
#include <unistd.h>
#else
#define PRUNEDEF_X86_CPU_CHECK 0
#define PRUNEDEF_BASELINE_ISA
#endif

namespace prunedef {
namespace detail {

/// The instruction-set extensions the including translation unit was compiled for, beyond the
/// x86-64 baseline (from the compiler's predefined macros), ending with nullptr. Constant data:
/// nothing runs to build it.
inline constexpr const char* compiled_instruction_sets[] = {
#if PRUNEDEF_X86_CPU_CHECK
#ifdef __SSE3__
    "sse3",
#endif
#ifdef __SSSE3__
    "ssse3",
#endif
#ifdef __SSE4_1__
    "sse4.1",
#endif
#ifdef __SSE4_2__
    "sse4.2",
#endif
#ifdef __POPCNT__
    "popcnt",
#endif
#ifdef __AVX__
    "avx",
#endif
#ifdef __AVX2__
    "avx2",
#endif
#ifdef __FMA__
    "fma",
#endif
#ifdef __BMI__
    "bmi",
#endif
#ifdef __BMI2__
    "bmi2",
#endif
#ifdef __AVX512F__
    "avx512f",
#endif
#ifdef __AVX512CD__
    "avx512cd",
#endif
#ifdef __AVX512DQ__
    "avx512dq",
#endif
#ifdef __AVX512BW__
    "avx512bw",
#endif
#ifdef __AVX512VL__
    "avx512vl",
#endif
#ifdef __AVX512VNNI__
    "avx512vnni",
#endif
#endif
    nullptr};

PRUNEDEF_BASELINE_ISA inline bool same_name(const char* a, const char* b) {
    for (; *a && *a == *b; ++a, ++b) {
    }
    return *a == *b;
}

/// Whether the running CPU has the named extension (one of the names above); false for a name
/// it does not know.
PRUNEDEF_BASELINE_ISA inline bool cpu_supports(const char* name) {
#if PRUNEDEF_X86_CPU_CHECK
    __builtin_cpu_init();
    // __builtin_cpu_supports takes a string literal, hence one line per name
    if (same_name(name, "sse3")) return __builtin_cpu_supports("sse3");
    if (same_name(name, "ssse3")) return __builtin_cpu_supports("ssse3");
    if (same_name(name, "sse4.1")) return __builtin_cpu_supports("sse4.1");
    if (same_name(name, "sse4.2")) return __builtin_cpu_supports("sse4.2");
    if (same_name(name, "popcnt")) return __builtin_cpu_supports("popcnt");
    if (same_name(name, "avx")) return __builtin_cpu_supports("avx");
    if (same_name(name, "avx2")) return __builtin_cpu_supports("avx2");
    if (same_name(name, "fma")) return __builtin_cpu_supports("fma");
    if (same_name(name, "bmi")) return __builtin_cpu_supports("bmi");
    if (same_name(name, "bmi2")) return __builtin_cpu_supports("bmi2");
    if (same_name(name, "avx512f")) return __builtin_cpu_supports("avx512f");
    if (same_name(name, "avx512cd")) return __builtin_cpu_supports("avx512cd");
    if (same_name(name, "avx512dq")) return __builtin_cpu_supports("avx512dq");
    if (same_name(name, "avx512bw")) return __builtin_cpu_supports("avx512bw");
    if (same_name(name, "avx512vl")) return __builtin_cpu_supports("avx512vl");
    if (same_name(name, "avx512vnni")) return __builtin_cpu_supports("avx512vnni");
#else
    (void)name;
#endif
    return false;
}

/// The first of `required` (nullptr-terminated) that `supported` says is missing, or nullptr.
PRUNEDEF_BASELINE_ISA inline const char* first_missing_instruction_set(const char* const* required,
                                                                       bool (*supported)(const char*)) {
    for (; *required; ++required)
        if (!supported(*required)) return *required;
    return nullptr;
}

PRUNEDEF_BASELINE_ISA inline std::size_t append(char* buffer, std::size_t used, std::size_t capacity,
                                                const char* text) {
    for (; *text && used + 1 < capacity; ++text) buffer[used++] = *text;
    buffer[used] = '\0';
    return used;
}

}  // namespace detail

/// If the running CPU lacks an instruction set the including translation unit was compiled for,
/// writes one line naming it to stderr and ends the process with exit code 1 (instead of an
/// illegal-instruction crash later). Uses only the baseline instruction set and no C++ library
/// code, so it is safe to call before anything else.
PRUNEDEF_BASELINE_ISA inline void require_compiled_instruction_sets(const char* program) {
#if PRUNEDEF_X86_CPU_CHECK
    const char* missing = detail::first_missing_instruction_set(detail::compiled_instruction_sets, detail::cpu_supports);
    if (!missing) return;
    char message[512];
    std::size_t n = 0;
    n = detail::append(message, n, sizeof message, program);
    n = detail::append(message, n, sizeof message, ": this CPU lacks the ");
    n = detail::append(message, n, sizeof message, missing);
    n = detail::append(message, n, sizeof message,
                       " instructions this program was compiled for (-march=native on another machine); "
                       "rebuild it here, or configure with -DPRUNEDEF_NATIVE=OFF for a portable build\n");
    if (::write(2, message, n) < 0) {
    }
    ::_exit(1);
#else
    (void)program;
#endif
}

}  // namespace prunedef

/// Defines a constructor that runs require_compiled_instruction_sets(program) before the
/// program's C++ static initialisers (which may already use the wider instruction sets). Use it
/// once, at namespace scope, in the file holding main().
#if PRUNEDEF_X86_CPU_CHECK
#define PRUNEDEF_CHECK_CPU_AT_STARTUP(program)                                                                 \
    __attribute__((constructor(101))) PRUNEDEF_BASELINE_ISA static void prunedef_check_cpu_at_startup() { \
        ::prunedef::require_compiled_instruction_sets(program);                                             \
    }
#else
#define PRUNEDEF_CHECK_CPU_AT_STARTUP(program)
#endif
