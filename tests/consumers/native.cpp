// A consumer of prunedef::native alone: the target must add the building machine's instruction
// sets (-march=native), and the start-up check must accept the machine it was built on.
#include <prunedef/core/cpu_support.hpp>

#include <iostream>

#if defined(__x86_64__) && !defined(__SSE3__)
#error "prunedef::native did not compile this program for the machine's CPU (no SSE3 on x86-64)"
#endif

PRUNEDEF_CHECK_CPU_AT_STARTUP("consumer_native")

int main() {
    int extensions = 0;
    for (const char* const* name = prunedef::detail::compiled_instruction_sets; *name; ++name) ++extensions;
    std::cout << "native consumer ok: " << extensions << " instruction-set extensions beyond the baseline\n";
    return 0;
}
