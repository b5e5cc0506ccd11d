// prunedef: the command-line tool. One file per subcommand (eval, predict, repair, classify,
// make-badnet); this one builds the parser (CLI11), prints help and --version, and turns every
// error into one line on stderr: exit 2 for a usage mistake, 1 for anything else.

#include "common.hpp"

#include <prunedef/core/cpu_support.hpp>
#include <prunedef/core/parallel.hpp>

#include <Eigen/Core>

#include <iostream>
#include <map>
#include <sstream>
#include <string>

#ifndef PRUNEDEF_VERSION
#error "PRUNEDEF_VERSION (the CMake project version) must be defined"
#endif

// Before anything else: a binary built for a wider instruction set than this CPU has stops
// with a message instead of SIGILL.
PRUNEDEF_CHECK_CPU_AT_STARTUP("prunedef")

namespace {

using namespace prunedef_tool;

/// The widest SIMD instruction set the kernels were compiled for (Eigen's packet math).
const char* simd_instruction_set() {
#if defined(EIGEN_VECTORIZE_AVX512)
    return "AVX-512";
#elif defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
    return "AVX2+FMA";
#elif defined(EIGEN_VECTORIZE_AVX2)
    return "AVX2";
#elif defined(EIGEN_VECTORIZE_AVX)
    return "AVX";
#elif defined(EIGEN_VECTORIZE_SSE4_2)
    return "SSE4.2";
#elif defined(EIGEN_VECTORIZE_SSE2)
    return "SSE2";
#elif defined(EIGEN_VECTORIZE)
    return "other";
#else
    return "none (scalar code)";
#endif
}

/// The instruction-set extensions beyond the baseline this binary was compiled for.
std::string compiled_extensions() {
#if PRUNEDEF_X86_CPU_CHECK
    std::string list = "x86-64";
#else
    std::string list = "the architecture's baseline";
#endif
    for (const char* const* name = prunedef::detail::compiled_instruction_sets; *name; ++name) list += std::string(" ") + *name;
    return list;
}

std::string version_text() {
    std::ostringstream s;
    s << "prunedef " << PRUNEDEF_VERSION << "\n"
      << "SIMD: " << simd_instruction_set() << " (Eigen " << EIGEN_WORLD_VERSION << "." << EIGEN_MAJOR_VERSION << "."
      << EIGEN_MINOR_VERSION << ": " << Eigen::SimdInstructionSetsInUse() << ")\n"
      << "built for: " << compiled_extensions() << (PRUNEDEF_NATIVE_BUILD ? " (-march=native)" : "") << "\n"
      << "threads: " << prunedef::thread_count()
#if PRUNEDEF_NO_THREADS
      << " (built without threads, PRUNEDEF_THREADS=OFF)";
#else
      << " (prunedef's pool; OMP_NUM_THREADS or --threads to change)";
#endif
#if PRUNEDEF_HAVE_MPI
    s << "\nMPI: yes (mpirun -n R prunedef repair ...: the ranks share the data sets; batch: the models)";
#else
    s << "\nMPI: no (built with PRUNEDEF_MPI=OFF)";
#endif
    return s.str();
}

/// CLI11's help with the synopsis first, as "usage: ...", then the details (set_help).
class HelpFormatter : public CLI::Formatter {
public:
    std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
        if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
        std::ostringstream out;
        const auto& texts = help_texts();
        const auto it = texts.find(app);
        out << "usage: " << (it != texts.end() ? it->second.synopsis : name) << "\n\n";
        const std::string details = it != texts.end() && !it->second.details.empty() ? it->second.details
                                                                                      : app->get_description();
        if (!details.empty()) out << details << "\n";
        out << make_positionals(app) << make_groups(app, mode) << make_subcommands(app, mode);
        const std::string footer = make_footer(app);
        if (!footer.empty()) out << "\n" << footer;
        return out.str();
    }
};

/// One line for a CLI11 parse error, in the tool's words where it has its own.
std::string parse_error_text(const CLI::ParseError& e) {
    std::string text = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
        // "The following argument(s) were not expected: <args in reverse order>"
        const auto colon = text.find(": ");
        std::istringstream args(colon == std::string::npos ? "" : text.substr(colon + 2));
        std::string arg, option, other;
        while (args >> arg) (arg.size() > 1 && arg[0] == '-' ? option : other) = arg;  // keeps the first given
        if (!option.empty()) return "unknown option " + option.substr(0, option.find('='));
        if (!other.empty()) return "unexpected argument '" + other + "'";
    }
    for (char& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("Repair backdoored networks with the pruning defense (Liu et al., Fine-Pruning, RAID 2018).",
                 "prunedef");
    app.formatter(std::make_shared<HelpFormatter>());
    set_help(&app, "prunedef <command> [options]");
    app.footer("Run 'prunedef <command> --help' for the options of a command.");
    app.set_version_flag("--version", version_text(), "print the version and the SIMD instruction set, then exit");
    app.require_subcommand(1);
    // An option given twice is a mistake, not a silent replacement (CLI11 keeps the last by default).
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::Throw);

    const std::map<std::string, Runner> runners = {{"eval", add_eval(app)},
                                                   {"predict", add_predict(app)},
                                                   {"repair", add_repair(app)},
                                                   {"classify", add_classify(app)},
                                                   {"make-badnet", add_make_badnet(app)},
                                                   {"export", add_export(app)},
                                                   {"batch", add_batch(app)}};
    // A switch (--relative) given twice is harmless: only options that take a value throw.
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
        for (CLI::Option* opt : sub->get_options())
            if (opt->get_type_size() == 0) opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

    const std::string first = argc > 1 ? argv[1] : "";
    if (first == "help") return std::cout << app.help(), 0;
    const bool known = runners.count(first) > 0;
    const std::string who = known ? "prunedef " + first : "prunedef";
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        if (!known && !first.empty() && first[0] != '-') {
            std::cerr << "prunedef: unknown command '" << first << "' (see 'prunedef --help')\n";
        } else if (first.empty()) {
            std::cerr << "prunedef: no command given (see 'prunedef --help')\n";
        } else {
            std::cerr << who << ": " << parse_error_text(e) << " (see '" << who << " --help')\n";
        }
        return 2;
    }
    try {
        const int code = runners.at(app.get_subcommands().at(0)->get_name())();
        if (!(std::cout << std::flush)) {  // a full disk or a closed stdout is not a success
            std::cerr << who << ": error: standard output: write failed\n";
            return 1;
        }
        return code;
    } catch (const usage_error& e) {
        std::cerr << who << ": " << e.what() << " (see '" << who << " --help')\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << who << ": error: " << e.what() << "\n";
        return 1;
    }
}
