#pragma once
// HDF5 files held in memory (the model.weights.h5 inside a .keras archive): opened from a
// byte image, and created in memory to give back their image. Both use HDF5's core driver
// without a backing store, so nothing touches the disk.

#include <prunedef/core/error.hpp>
#include <prunedef/io/hdf5.hpp>

#include <cstring>
#include <string>

namespace prunedef {
namespace detail {

/// Opens an HDF5 file image read-only; name is what messages call it ("model.keras: entry
/// model.weights.h5").
inline H5Object open_h5_image(const std::string& image, const std::string& name) {
    H5ErrorsSilenced quiet;
    static const char signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    if (image.size() < 8 || std::memcmp(image.data(), signature, 8) != 0) throw format_error(name + ": not an HDF5 file");
    H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (!fapl.valid() || H5Pset_fapl_core(fapl.id(), 1 << 20, /*backing_store=*/0) < 0 ||
        H5Pset_file_image(fapl.id(), const_cast<char*>(image.data()), image.size()) < 0)
        throw io_error(name + ": cannot set up HDF5's in-memory file driver");
    const hid_t id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.id());
    if (id < 0) throw format_error(name + ": cannot open as HDF5 (truncated or corrupt file)");
    return {H5Handle(id, H5Fclose), name, "/"};
}

/// Creates an empty HDF5 file in memory; h5_image() gives its bytes when written.
inline H5Object create_h5_memory_file(const std::string& name) {
    H5ErrorsSilenced quiet;
    H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (!fapl.valid() || H5Pset_fapl_core(fapl.id(), 1 << 20, /*backing_store=*/0) < 0)
        throw io_error(name + ": cannot set up HDF5's in-memory file driver");
    const hid_t id = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, h5_untimed_creation(H5P_FILE_CREATE, name).id(), fapl.id());
    if (id < 0) throw io_error(name + ": cannot create an in-memory HDF5 file");
    return {H5Handle(id, H5Fclose), name, "/"};
}

/// The bytes of an open in-memory file (flushed first).
inline std::string h5_image(const H5Object& file) {
    H5ErrorsSilenced quiet;
    if (H5Fflush(file.id(), H5F_SCOPE_LOCAL) < 0) throw io_error(file.file + ": cannot flush the in-memory HDF5 file");
    const ssize_t size = H5Fget_file_image(file.id(), nullptr, 0);
    if (size < 0) throw io_error(file.file + ": cannot read the in-memory HDF5 file's image");
    std::string bytes(static_cast<std::size_t>(size), '\0');
    if (size > 0 && H5Fget_file_image(file.id(), bytes.data(), bytes.size()) != size)
        throw io_error(file.file + ": cannot read the in-memory HDF5 file's image");
    return bytes;
}

}  // namespace detail
}  // namespace prunedef
