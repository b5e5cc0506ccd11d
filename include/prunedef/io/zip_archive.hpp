#pragma once
// Zip archives (Keras 3 .keras files) read and written through libzip, entirely in memory.
//
// Reading: the archive is opened with libzip's consistency checks; an entry is read only when
// its stated size is at most the caller's limit, and at most that many bytes are decompressed
// whatever the entry claims (a zip bomb stops at the limit). libzip checks each entry's CRC.
// A truncated or corrupt archive, a missing entry or an oversized one is a format_error naming
// the file and the entry.
//
// Writing: the archive is assembled in a memory buffer and written atomically (AtomicOutput).

#include <prunedef/core/error.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/io/input_file.hpp>

#include <zip.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {
namespace detail {

inline std::string zip_error_text(int code) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    std::string s = zip_error_strerror(&e);
    zip_error_fini(&e);
    return s;
}

}  // namespace detail

/// A zip archive open for reading.
class ZipReader {
public:
    explicit ZipReader(std::string path) : path_(std::move(path)) {
        detail::require_regular_input(path_, "a zip archive (.keras)");
        int code = 0;
        archive_ = zip_open(path_.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
        if (!archive_)
            throw format_error(path_ + ": not a readable zip archive (" + detail::zip_error_text(code) +
                               "; truncated or corrupt .keras file?)");
    }
    ZipReader(const ZipReader&) = delete;
    ZipReader& operator=(const ZipReader&) = delete;
    ~ZipReader() {
        if (archive_) zip_discard(archive_);
    }

    const std::string& path() const { return path_; }

    bool has(const std::string& entry) const { return zip_name_locate(archive_, entry.c_str(), 0) >= 0; }

    /// The names of the archive's entries.
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        const zip_int64_t n = zip_get_num_entries(archive_, 0);
        for (zip_int64_t i = 0; i < n; ++i) {
            const char* name = zip_get_name(archive_, static_cast<zip_uint64_t>(i), 0);
            if (name) names.emplace_back(name);
        }
        return names;
    }

    /// The bytes of an entry; format_error when it is missing, larger than max_bytes, or cannot
    /// be decompressed whole (truncated, corrupt, CRC mismatch).
    std::string read(const std::string& entry, std::size_t max_bytes) const {
        const std::string where = path_ + ": entry " + entry;
        const zip_int64_t index = zip_name_locate(archive_, entry.c_str(), 0);
        if (index < 0) throw format_error(where + ": not found in the archive");
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(archive_, static_cast<zip_uint64_t>(index), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
            throw format_error(where + ": cannot read its size (" + zip_strerror(archive_) + ")");
        if (st.size > max_bytes)
            throw format_error(where + ": " + std::to_string(st.size) + " bytes is too large (limit " +
                               std::to_string(max_bytes) + ")");
        zip_file_t* f = zip_fopen_index(archive_, static_cast<zip_uint64_t>(index), 0);
        if (!f) throw format_error(where + ": cannot open (" + std::string(zip_strerror(archive_)) + ")");
        std::string data(static_cast<std::size_t>(st.size) + 1, '\0');  // one more: an entry longer than stated fails
        std::size_t done = 0;
        std::string failure;
        while (done < data.size()) {
            const zip_int64_t n = zip_fread(f, data.data() + done, data.size() - done);
            if (n < 0) {
                failure = zip_error_strerror(zip_file_get_error(f));
                break;
            }
            if (n == 0) break;
            done += static_cast<std::size_t>(n);
        }
        zip_fclose(f);
        if (!failure.empty()) throw format_error(where + ": cannot decompress (" + failure + "; truncated or corrupt archive)");
        if (done != st.size)
            throw format_error(where + ": holds " + std::to_string(done) + " bytes, its header states " +
                               std::to_string(st.size) + " (corrupt archive)");
        data.resize(done);
        return data;
    }

private:
    std::string path_;
    zip_t* archive_ = nullptr;
};

/// One entry of an archive to write; stored uncompressed when store is true.
struct ZipEntry {
    std::string name;
    std::string data;
    bool store = false;
};

/// The bytes of a zip archive holding the entries, in order.
inline std::string make_zip_archive(const std::vector<ZipEntry>& entries, const std::string& what) {
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
    if (!buffer) throw io_error(what + ": cannot create a zip buffer");
    zip_source_keep(buffer);  // kept past zip_close, to read the finished archive back
    struct Release {
        zip_source_t* s;
        ~Release() { zip_source_free(s); }
    } release{buffer};
    zip_t* za = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
    if (!za) throw io_error(what + ": cannot create a zip archive");
    for (const auto& e : entries) {
        zip_source_t* src = zip_source_buffer(za, e.data.data(), e.data.size(), 0);  // e.data outlives zip_close
        const zip_int64_t index = src ? zip_file_add(za, e.name.c_str(), src, ZIP_FL_ENC_UTF_8) : -1;
        if (index < 0) {
            const std::string why = zip_strerror(za);
            if (src) zip_source_free(src);
            zip_discard(za);
            throw io_error(what + ": cannot add entry " + e.name + " (" + why + ")");
        }
        if (zip_set_file_compression(za, static_cast<zip_uint64_t>(index), e.store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0) != 0) {
            const std::string why = zip_strerror(za);
            zip_discard(za);
            throw io_error(what + ": cannot set the compression of " + e.name + " (" + why + ")");
        }
    }
    if (zip_close(za) != 0) {
        const std::string why = zip_strerror(za);
        zip_discard(za);
        throw io_error(what + ": cannot finish the zip archive (" + why + ")");
    }
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_source_stat(buffer, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || zip_source_open(buffer) != 0)
        throw io_error(what + ": cannot read the finished zip archive back");
    std::string bytes(static_cast<std::size_t>(st.size), '\0');
    const zip_int64_t n = bytes.empty() ? 0 : zip_source_read(buffer, bytes.data(), bytes.size());
    zip_source_close(buffer);
    if (n < 0 || static_cast<std::size_t>(n) != bytes.size()) throw io_error(what + ": cannot read the finished zip archive back");
    return bytes;
}

/// Writes a zip archive of the entries atomically.
inline void write_zip_archive(const std::string& path, const std::vector<ZipEntry>& entries) {
    write_text_file(path, make_zip_archive(entries, path));
}

}  // namespace prunedef
