#pragma once
// AtomicOutput: write a file under a temporary name in the same directory and rename it into
// place only when complete. If the writer throws (or the object is destroyed uncommitted), the
// temporary file is removed and nothing is left at the destination.

#include <prunedef/core/error.hpp>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>

namespace prunedef {

class AtomicOutput {
public:
    explicit AtomicOutput(std::string destination) : destination_(std::move(destination)) {
        static std::atomic<unsigned> counter{0};
        const std::filesystem::path dest(destination_);
        const std::filesystem::path dir = dest.has_parent_path() ? dest.parent_path() : std::filesystem::path(".");
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec))
            throw io_error(destination_ + ": cannot write, directory " + dir.string() + " does not exist");
        temporary_ = (dir / ("." + dest.filename().string() + ".tmp" + std::to_string(::getpid()) + "_" +
                             std::to_string(counter++)))
                         .string();
    }
    AtomicOutput(const AtomicOutput&) = delete;
    AtomicOutput& operator=(const AtomicOutput&) = delete;
    ~AtomicOutput() {
        if (!committed_) std::remove(temporary_.c_str());
    }

    /// Where the writer should write.
    const std::string& path() const { return temporary_; }
    const std::string& destination() const { return destination_; }

    /// Moves the finished file into place.
    void commit() {
        std::error_code ec;
        std::filesystem::rename(temporary_, destination_, ec);
        if (ec) throw io_error(destination_ + ": cannot move finished file into place: " + ec.message());
        committed_ = true;
    }

private:
    std::string destination_, temporary_;
    bool committed_ = false;
};

/// Writes text to a file atomically.
inline void write_text_file(const std::string& path, const std::string& text) {
    AtomicOutput out(path);
    {
        std::FILE* f = std::fopen(out.path().c_str(), "wb");
        if (!f) throw io_error(path + ": cannot create file");
        const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
        if (std::fclose(f) != 0 || !ok) throw io_error(path + ": write failed");
    }
    out.commit();
}

}  // namespace prunedef
