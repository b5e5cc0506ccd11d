#pragma once
// Shared by the libFuzzer targets: the input bytes go to a per-process temporary file, because
// the readers under test (HDF5, stb_image) open files by name.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace prunedef_fuzz {

/// A path unique to this process under $TMPDIR (else /tmp), e.g. /tmp/prunedef_fuzz_123.h5.
inline const std::string& temp_path(const char* suffix) {
    static const std::string path = [suffix] {
        const char* dir = std::getenv("TMPDIR");
        return std::string(dir && *dir ? dir : "/tmp") + "/prunedef_fuzz_" + std::to_string(::getpid()) + suffix;
    }();
    return path;
}

/// Writes the fuzzer's bytes to path (replacing what was there); aborts if that fails, since
/// then the run tests nothing.
inline void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
        std::perror(path.c_str());
        std::abort();
    }
}

/// Removes the temporary file when the process exits normally.
struct RemoveAtExit {
    std::string path;
    ~RemoveAtExit() { std::remove(path.c_str()); }
};

}  // namespace prunedef_fuzz
