#pragma once
// AtomicOutput: write a file under a temporary name in the same directory and rename it into
// place only when complete. If the writer throws (or the object is destroyed uncommitted), the
// temporary file is removed and nothing is left at the destination.
//
// Under faults:
//  - commit() renames only a file whose every write and close succeeded: a writer that cannot
//    throw where it closes (an HDF5 handle's destructor) reports the failure with
//    detail::report_failed_output(path), and commit() then throws io_error naming the
//    destination and removes the temporary file. commit() also fsyncs the file first.
//  - The destination must be absent or a regular file: a directory, a device (/dev/null), a
//    FIFO or a socket is refused, and so is a symbolic link (whatever it points to): an output
//    path is never followed to somewhere else, nor is a link replaced by a file.
//  - Temporary names are ".<name>.tmp<pid>_<n>" in the destination's directory. Every temporary
//    file alive in the process is listed in a fixed table that remove_pending_temporaries()
//    unlinks with async-signal-safe calls only (for a SIGTERM/SIGINT handler).

#include <prunedef/core/error.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace prunedef {
namespace detail {

/// The temporary files alive in this process, for a signal handler (async-signal-safe reads).
inline constexpr std::size_t max_pending_temporaries = 64;
inline std::atomic<const char*> pending_temporaries[max_pending_temporaries];

inline void register_temporary(const char* path) {
    for (auto& slot : pending_temporaries) {
        const char* expected = nullptr;
        if (slot.compare_exchange_strong(expected, path)) return;
    }
    // Table full: the file is still removed by its owner, only not by a signal handler.
}

inline void unregister_temporary(const char* path) {
    for (auto& slot : pending_temporaries) {
        const char* expected = path;
        if (slot.compare_exchange_strong(expected, nullptr)) return;
    }
}

/// Outputs whose writer found a failure it could not throw (a close in a destructor).
inline std::mutex& failed_outputs_mutex() {
    static std::mutex m;
    return m;
}
inline std::set<std::string>& failed_outputs() {
    static std::set<std::string> s;
    return s;
}

/// Called by a writer when writing, flushing or closing path failed where it could not throw;
/// AtomicOutput::commit() of that path then refuses to move the file into place.
inline void report_failed_output(const std::string& path) {
    std::lock_guard<std::mutex> lock(failed_outputs_mutex());
    failed_outputs().insert(path);
}

inline bool take_failed_output(const std::string& path) {
    std::lock_guard<std::mutex> lock(failed_outputs_mutex());
    return failed_outputs().erase(path) > 0;
}

/// Refuses an output path that exists and is not a regular file (or is a symbolic link).
inline void check_output_path(const std::string& destination) {
    struct stat st {};
    if (::lstat(destination.c_str(), &st) != 0) return;  // absent: fine (a bad parent is reported later)
    if (S_ISLNK(st.st_mode))
        throw io_error(destination + ": is a symbolic link; refusing to write through or replace it (name the "
                                     "target, or remove the link)");
    if (S_ISDIR(st.st_mode)) throw io_error(destination + ": is a directory, expected a file name");
    if (!S_ISREG(st.st_mode))
        throw io_error(destination + ": is not a regular file (a device, FIFO or socket); refusing to replace it");
}

}  // namespace detail

/// Unlinks every temporary file of this process's unfinished AtomicOutputs. Async-signal-safe:
/// call it from a SIGTERM/SIGINT handler, then _exit().
inline void remove_pending_temporaries() noexcept {
    for (auto& slot : detail::pending_temporaries) {
        const char* p = slot.load();
        if (p) ::unlink(p);
    }
}

class AtomicOutput {
public:
    explicit AtomicOutput(std::string destination) : destination_(std::move(destination)) {
        static std::atomic<unsigned> counter{0};
        if (destination_.empty()) throw io_error("output file name is empty");
        detail::check_output_path(destination_);
        const std::filesystem::path dest(destination_);
        const std::filesystem::path dir = dest.has_parent_path() ? dest.parent_path() : std::filesystem::path(".");
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec))
            throw io_error(destination_ + ": cannot write, " + dir.string() +
                           (std::filesystem::exists(dir, ec) ? " is not a directory" : " does not exist"));
        if (::access(dir.c_str(), W_OK) != 0)
            throw io_error(destination_ + ": cannot write in directory " + dir.string() + ": " + std::strerror(errno));
        // ".<name>.tmp<pid>_<n>", with <name> shortened when the whole would pass the file-name
        // limit (a 251-character output name is valid; its temporary name must be too)
        const std::string suffix = ".tmp" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
        std::string name = dest.filename().string();
        const std::size_t name_max = 255;
        if (1 + name.size() + suffix.size() > name_max) name.resize(name_max - 1 - suffix.size());
        temporary_ = (dir / ("." + name + suffix)).string();
        detail::register_temporary(temporary_.c_str());
    }
    AtomicOutput(const AtomicOutput&) = delete;
    AtomicOutput& operator=(const AtomicOutput&) = delete;
    ~AtomicOutput() {
        if (!committed_) {
            std::remove(temporary_.c_str());
            detail::take_failed_output(temporary_);
        }
        detail::unregister_temporary(temporary_.c_str());  // after the unlink: a signal in between unlinks again
    }

    /// Where the writer should write.
    const std::string& path() const { return temporary_; }
    const std::string& destination() const { return destination_; }

    /// Moves the finished file into place; throws io_error (and removes the temporary file) when
    /// a write or close of it failed, it cannot be synced, or the destination became a special file.
    void commit() {
        if (detail::take_failed_output(temporary_)) fail("writing or closing the file failed (disk full?)");
        const int fd = ::open(temporary_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail(std::string("the finished file cannot be opened: ") + std::strerror(errno));
        const bool synced = ::fsync(fd) == 0;
        const int sync_errno = errno;
        if (::close(fd) != 0 || !synced) fail(std::string("cannot sync the file to disk: ") + std::strerror(sync_errno));
        detail::check_output_path(destination_);
        std::error_code ec;
        std::filesystem::rename(temporary_, destination_, ec);
        if (ec) fail("cannot move finished file into place: " + ec.message());
        committed_ = true;
        detail::unregister_temporary(temporary_.c_str());
    }

private:
    [[noreturn]] void fail(const std::string& why) {
        std::remove(temporary_.c_str());
        throw io_error(destination_ + ": " + why + "; nothing was written");
    }

    std::string destination_, temporary_;
    bool committed_ = false;
};

/// Writes text to a file atomically; every write and the close are checked.
inline void write_text_file(const std::string& path, const std::string& text) {
    AtomicOutput out(path);
    {
        std::FILE* f = std::fopen(out.path().c_str(), "wb");
        if (!f) throw io_error(path + ": cannot create file: " + std::strerror(errno));
        const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
        const int write_errno = errno;
        if (std::fclose(f) != 0 || !ok)
            throw io_error(path + ": write failed: " + std::strerror(ok ? errno : write_errno) + "; nothing was written");
    }
    out.commit();
}

}  // namespace prunedef
