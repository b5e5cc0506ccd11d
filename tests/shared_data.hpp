#pragma once
// Where the tests find ../shared: environment variable PRUNEDEF_SHARED, else the CMake cache
// variable PRUNEDEF_SHARED_DIR. Tests that need it skip, saying why, when it is absent.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

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

/// A fresh scratch directory for one test.
inline std::filesystem::path scratch_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("prunedef_test_" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace prunedef_test
