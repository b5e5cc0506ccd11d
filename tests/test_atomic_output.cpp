// Atomic outputs (io/atomic_output.hpp): where the temporary file goes and how refusals read.
#include <prunedef/io/atomic_output.hpp>

#include "shared_data.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_atomic_output {

using namespace prunedef;
namespace fs = std::filesystem;

namespace {
std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::size_t entries(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}
}  // namespace

TEST_CASE("atomic output: a 251-character name is written (its temporary name is shortened)") {
    const auto dir = prunedef_test::scratch_dir("atomic_long_name");
    const std::string name = std::string(247, 'n') + ".csv";
    REQUIRE(name.size() == 251);
    const fs::path path = dir / name;
    write_text_file(path.string(), "k,channel\n");
    CHECK(read_all(path) == "k,channel\n");
    CHECK(entries(dir) == 1);  // no temporary left beside it
}

TEST_CASE("atomic output: a parent that is a file, or missing, is named as such") {
    const auto dir = prunedef_test::scratch_dir("atomic_parent");
    write_text_file((dir / "plain").string(), "x");
    CHECK_THROWS_WITH_AS(write_text_file((dir / "plain" / "out.csv").string(), "y"),
                         doctest::Contains("plain is not a directory"), io_error);
    CHECK_THROWS_WITH_AS(write_text_file((dir / "missing" / "out.csv").string(), "y"),
                         doctest::Contains("missing does not exist"), io_error);
}

TEST_CASE("atomic output: a directory without write permission is named with the output, not the temporary") {
    const auto dir = prunedef_test::scratch_dir("atomic_read_only");
    const fs::path locked = dir / "locked";
    fs::create_directory(locked);
    REQUIRE(::chmod(locked.c_str(), 0555) == 0);
    const std::string out = (locked / "report.md").string();
    if (::geteuid() == 0) {
        // root may write anyway: then the file is written as usual
        write_text_file(out, "r");
        CHECK(read_all(out) == "r");
    } else {
        try {
            write_text_file(out, "r");
            FAIL("writing into a read-only directory succeeded");
        } catch (const io_error& e) {
            const std::string what = e.what();
            CHECK(what.rfind(out + ": cannot write in directory", 0) == 0);
            CHECK(what.find(".tmp") == std::string::npos);
        }
        CHECK(entries(locked) == 0);
    }
    ::chmod(locked.c_str(), 0755);
}

}  // namespace test_atomic_output
