#pragma once
// Where the tests find ../shared: environment variable PRUNEDEF_SHARED, else the CMake cache
// variable PRUNEDEF_SHARED_DIR. Test cases that need it are skipped (doctest's skip decorator,
// counted as skipped in the summary), and the absent paths are named at the start of the run.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace prunedef_test {

inline std::string shared_dir() {
    if (const char* env = std::getenv("PRUNEDEF_SHARED")) return env;
    return PRUNEDEF_SHARED_DIR;
}

/// The shared paths found absent by shared_available(), for the listener below.
inline std::set<std::string>& absent_shared_paths() {
    static std::set<std::string> absent;
    return absent;
}

/// True when every relative path exists under shared_dir(). For the skip decorator of the test
/// cases that need ../shared, evaluated when they are registered:
///   TEST_CASE("..." * doctest::test_suite("shared") * doctest::skip(!prunedef_test::shared_available("x")))
/// The test suite "shared" lets CTest run these cases as their own entry (tests/CMakeLists.txt).
template <class... Relative>
bool shared_available(const Relative&... relative) {
    bool all = true;
    for (const std::string& rel : {std::string(relative)...}) {
        const std::string path = shared_dir() + "/" + rel;
        if (!std::filesystem::exists(path)) {
            absent_shared_paths().insert(path);
            all = false;
        }
    }
    return all;
}

/// The path of a shared file, for a test case whose skip decorator checked it.
inline std::string shared_path(const std::string& relative) {
    const std::string path = shared_dir() + "/" + relative;
    REQUIRE_MESSAGE(std::filesystem::exists(path), path << " is absent, but the test case was not skipped");
    return path;
}

/// Names the absent shared paths at the start of a run, so that the skipped test cases in the
/// summary are explained (a skipped test case does not run, so it cannot say so itself).
struct AbsentSharedDataListener : doctest::IReporter {
    std::ostream& out;
    explicit AbsentSharedDataListener(const doctest::ContextOptions& options) : out(*options.cout) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {
        for (const auto& path : absent_shared_paths())
            out << "[doctest] skipping the test cases that need " << path
                << ": absent (set PRUNEDEF_SHARED or -DPRUNEDEF_SHARED_DIR)\n";
    }
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("prunedef_absent_shared_data", 1, AbsentSharedDataListener);

/// Removes the scratch directories when the test program ends.
struct ScratchDirectories {
    std::vector<std::filesystem::path> created;
    ~ScratchDirectories() {
        for (const auto& dir : created) {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    }
};
inline ScratchDirectories& scratch_directories() {
    static ScratchDirectories dirs;
    return dirs;
}

/// A fresh scratch directory for one test, private to this process (two test runs at once must
/// not delete each other's files).
inline std::filesystem::path scratch_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() /
               ("prunedef_test_" + std::to_string(::getpid()) + "_" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    scratch_directories().created.push_back(dir);
    return dir;
}

}  // namespace prunedef_test
