#pragma once
// Input files are regular files. The path is checked with stat() before anything opens it, so a
// named pipe, a device, a socket or a directory given as a model, a data set or an image is
// refused with a message naming it instead of blocking forever (a FIFO with no writer) or
// reading an endless stream (/dev/zero). A file replaced between the check and the open is not
// caught: the check is for mistakes and hostile paths, not for a concurrent writer.

#include <prunedef/core/error.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace prunedef {
namespace detail {

/// Throws io_error naming path unless it is an existing regular file (symbolic links are
/// followed); expected says what the file should be ("an HDF5 file", "an image").
inline void require_regular_input(const std::string& path, const std::string& expected) {
    if (path.empty()) throw io_error("empty file name given, expected " + expected);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int e = errno;
        if (e == ENOENT) throw io_error(path + ": no such file");
        throw io_error(path + ": cannot open (" + std::strerror(e) + ")");
    }
    if (S_ISREG(st.st_mode)) return;
    if (S_ISDIR(st.st_mode)) throw io_error(path + ": is a directory, expected " + expected);
    const char* kind = S_ISFIFO(st.st_mode)  ? "a named pipe (FIFO)"
                       : S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISBLK(st.st_mode) ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "a special file";
    throw io_error(path + ": is " + kind + ", not a regular file; expected " + expected);
}

}  // namespace detail
}  // namespace prunedef
