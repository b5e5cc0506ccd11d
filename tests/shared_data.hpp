#pragma once
// Where the tests find ../shared: environment variable PRUNEDEF_SHARED, else the CMake cache
// variable PRUNEDEF_SHARED_DIR. Tests that need it skip, saying why, when it is absent.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

namespace prunedef_test {

inline std::string shared_dir() {
    if (const char* env = std::getenv("PRUNEDEF_SHARED")) return env;
    return PRUNEDEF_SHARED_DIR;
}

/// The path of a shared file, or "" (with a message) when it is missing.
inline std::string shared_file(const std::string& relative) {
    const std::string path = shared_dir() + "/" + relative;
    if (!std::filesystem::exists(path)) {
        MESSAGE("skipping: " << path << " is absent (set PRUNEDEF_SHARED or -DPRUNEDEF_SHARED_DIR)");
        return "";
    }
    return path;
}

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
