// Test helper for eval_format_test.py: for each N given, prints python_repr(percent_of(n, N)) for
// n = 0..N, one per line; with --values, prints python_repr of each double read from stdin.
#include <prunedef/core/percent.hpp>
#include <prunedef/report/python_float.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "--values") == 0) {
        std::string line;
        while (std::getline(std::cin, line)) std::cout << prunedef::python_repr(std::strtod(line.c_str(), nullptr)) << "\n";
        return 0;
    }
    for (int a = 1; a < argc; ++a) {
        const std::size_t whole = std::strtoull(argv[a], nullptr, 10);
        for (std::size_t n = 0; n <= whole; ++n) std::cout << prunedef::python_repr(prunedef::percent_of(n, whole)) << "\n";
    }
    return 0;
}
