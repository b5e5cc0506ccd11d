// The start-up check of the instruction sets a program was compiled for (core/cpu_support.hpp).
#include <prunedef/core/cpu_support.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <string>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_cpu_support {

namespace {
bool lacks_avx512f(const char* name) { return std::strcmp(name, "avx512f") != 0; }
bool has_everything(const char*) { return true; }
}  // namespace

TEST_CASE("cpu support: the first missing instruction set is named") {
    const char* required[] = {"sse3", "avx2", "avx512f", "avx512bw", nullptr};
    const char* missing = prunedef::detail::first_missing_instruction_set(required, lacks_avx512f);
    REQUIRE(missing != nullptr);
    CHECK(std::string(missing) == "avx512f");
    CHECK(prunedef::detail::first_missing_instruction_set(required, has_everything) == nullptr);
    const char* none[] = {nullptr};
    CHECK(prunedef::detail::first_missing_instruction_set(none, lacks_avx512f) == nullptr);
}

TEST_CASE("cpu support: the compiled list follows the compiler's flags, and this machine has it all") {
    bool listed_avx512f = false, listed_avx2 = false;
    for (const char* const* name = prunedef::detail::compiled_instruction_sets; *name; ++name) {
        listed_avx512f |= std::strcmp(*name, "avx512f") == 0;
        listed_avx2 |= std::strcmp(*name, "avx2") == 0;
    }
#ifdef __AVX512F__
    CHECK(listed_avx512f);
#else
    CHECK_FALSE(listed_avx512f);
#endif
#ifdef __AVX2__
    CHECK(listed_avx2);
#else
    CHECK_FALSE(listed_avx2);
#endif
    // the tests were built on this machine (PRUNEDEF_NATIVE), so nothing may be missing
    CHECK(prunedef::detail::first_missing_instruction_set(prunedef::detail::compiled_instruction_sets,
                                                          prunedef::detail::cpu_supports) == nullptr);
#if PRUNEDEF_X86_CPU_CHECK
    CHECK(prunedef::detail::cpu_supports("sse3"));
    CHECK_FALSE(prunedef::detail::cpu_supports("no-such-extension"));
#endif
}

}  // namespace test_cpu_support
