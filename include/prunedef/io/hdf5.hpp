#pragma once
// Small RAII handles over the HDF5 C API. Every call's result is checked (h5_check, or a
// handle's valid()); a failure throws io_error or format_error naming the file and the HDF5 path.
// HDF5's own error printing (its error stack on stderr) is silenced only while prunedef's calls
// run: every function here holds an H5ErrorsSilenced guard, which saves the host's automatic
// error handler and restores it when the function returns or throws.

#include <prunedef/core/error.hpp>
#include <prunedef/core/shape.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/io/input_file.hpp>

#include <hdf5.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {
namespace detail {

/// Switches HDF5's automatic error printing off for the guard's lifetime and restores the
/// handler that was installed before (the host program's, or an enclosing guard's) after.
class H5ErrorsSilenced {
public:
    H5ErrorsSilenced() {
        saved_ = H5Eget_auto2(H5E_DEFAULT, &func_, &data_) >= 0;
        if (saved_) H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }
    ~H5ErrorsSilenced() {
        if (saved_) H5Eset_auto2(H5E_DEFAULT, func_, data_);
    }
    H5ErrorsSilenced(const H5ErrorsSilenced&) = delete;
    H5ErrorsSilenced& operator=(const H5ErrorsSilenced&) = delete;

private:
    H5E_auto2_t func_ = nullptr;
    void* data_ = nullptr;
    bool saved_ = false;
};

/// The one check of an HDF5 C call's result: HDF5 reports failure by a negative value (herr_t,
/// hid_t, htri_t, H5T_class_t, ...); throws Error(message) then, else returns the result.
template <class Error = format_error, class R>
R h5_check(R result, const std::string& message) {
    if (static_cast<long long>(result) < 0) throw Error(message);
    return result;
}

/// Owns one HDF5 identifier and closes it with the matching H5?close function.
class H5Handle {
public:
    using Closer = herr_t (*)(hid_t);
    H5Handle() = default;
    H5Handle(hid_t id, Closer close) : id_(id), close_(close) {}
    H5Handle(const H5Handle&) = delete;
    H5Handle& operator=(const H5Handle&) = delete;
    H5Handle(H5Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
    H5Handle& operator=(H5Handle&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = std::exchange(o.id_, H5I_INVALID_HID);
            close_ = o.close_;
        }
        return *this;
    }
    ~H5Handle() { reset(); }
    hid_t id() const { return id_; }
    bool valid() const { return id_ >= 0; }
    void reset() {
        if (id_ >= 0 && close_) {
            H5ErrorsSilenced quiet;
            close_(id_);  // a close failure has nothing to report to (destructors do not throw)
        }
        id_ = H5I_INVALID_HID;
    }

private:
    hid_t id_ = H5I_INVALID_HID;
    Closer close_ = nullptr;
};

/// An open HDF5 object (file, group or dataset) together with the names used in messages.
struct H5Object {
    H5Handle handle;
    std::string file;  // path on disk
    std::string path;  // HDF5 path inside the file, "/" for the root

    hid_t id() const { return handle.id(); }
    std::string where() const { return file + ": " + path; }
    std::string child_path(const std::string& name) const { return path == "/" ? "/" + name : path + "/" + name; }
};

inline H5Object open_h5_file(const std::string& file) {
    H5ErrorsSilenced quiet;
    require_regular_input(file, "an HDF5 file");
    const htri_t is_h5 = H5Fis_hdf5(file.c_str());
    if (is_h5 <= 0) throw io_error(file + ": not an HDF5 file");
    hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) throw io_error(file + ": cannot open as HDF5 (truncated or corrupt file)");
    return {H5Handle(id, H5Fclose), file, "/"};
}

/// Closes a file created by create_h5_file(). The file is built in memory (HDF5's core driver,
/// no backing store), so HDF5 itself never writes to the disk and cannot fail there (a full disk
/// left HDF5 1.10 with a half-closed file that crashed it at exit). Here the finished image is
/// written to the file's path with checked write(), fsync() and close(); on any failure the file
/// is removed and the failure reported to AtomicOutput::commit() of that path
/// (report_failed_output), which then refuses to move it into place.
inline herr_t h5_close_output_file(hid_t id) {
    std::string name;
    const ssize_t n = H5Fget_name(id, nullptr, 0);
    if (n > 0) {
        name.resize(static_cast<std::size_t>(n) + 1);
        H5Fget_name(id, name.data(), name.size());
        name.resize(static_cast<std::size_t>(n));
    }
    std::vector<char> image;
    bool ok = H5Fflush(id, H5F_SCOPE_LOCAL) >= 0;
    const ssize_t size = ok ? H5Fget_file_image(id, nullptr, 0) : -1;
    if (size >= 0) {
        image.resize(static_cast<std::size_t>(size));
        ok = H5Fget_file_image(id, image.data(), image.size()) == size;
    } else {
        ok = false;
    }
    ok = H5Fclose(id) >= 0 && ok;
    if (ok && !name.empty()) {
        const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ok = fd >= 0;
        for (std::size_t done = 0; ok && done < image.size();) {
            const ssize_t w = ::write(fd, image.data() + done, image.size() - done);
            if (w < 0 && errno == EINTR) continue;
            ok = w > 0;
            if (ok) done += static_cast<std::size_t>(w);
        }
        ok = ok && ::fsync(fd) == 0;
        if (fd >= 0 && ::close(fd) != 0) ok = false;
        if (!ok) ::unlink(name.c_str());
    }
    if (!ok) report_failed_output(name);
    return ok ? 0 : -1;
}

/// Creation properties of class cls (H5P_FILE_CREATE, H5P_GROUP_CREATE, H5P_DATASET_CREATE) without
/// modification times: no object header holds a time stamp, so the same content gives the same
/// bytes whenever it is written (reproducible outputs). `what` (file and HDF5 path) names the
/// object in the error.
inline H5Handle h5_untimed_creation(hid_t cls, const std::string& what) {
    H5Handle p(H5Pcreate(cls), H5Pclose);
    if (!p.valid() || H5Pset_obj_track_times(p.id(), 0) < 0)
        throw io_error(what + ": cannot set up HDF5 creation properties");
    return p;
}

inline H5Object create_h5_file(const std::string& file) {
    H5ErrorsSilenced quiet;
    H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (!fapl.valid() || H5Pset_fapl_core(fapl.id(), 1 << 20, /*backing_store=*/0) < 0)
        throw io_error(file + ": cannot set up HDF5's in-memory file driver");
    hid_t id = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, h5_untimed_creation(H5P_FILE_CREATE, file).id(), fapl.id());
    if (id < 0) throw io_error(file + ": cannot create file");
    return {H5Handle(id, h5_close_output_file), file, "/"};
}

/// The root group of an open file.
inline H5Object open_h5_root(const H5Object& file) {
    H5ErrorsSilenced quiet;
    const hid_t id = H5Gopen2(file.id(), "/", H5P_DEFAULT);
    if (id < 0) throw format_error(file.file + ": cannot open the root group");
    return {H5Handle(id, H5Gclose), file.file, "/"};
}

/// Refuses to follow an external link (a link into another file): a weights file or a data set
/// is read from the one file it names. Soft links are followed up to HDF5's limit (16 by
/// default), so a cycle of soft links fails to resolve instead of looping.
inline herr_t h5_refuse_external_link(const char*, const char*, const char*, const char*, unsigned*, hid_t, void*) {
    return -1;
}

/// Access property lists (link, group, dataset) that refuse external links; created once (a
/// failure throws here and again on the next use).
inline hid_t h5_access_plist(hid_t cls) {
    H5ErrorsSilenced quiet;
    const hid_t p = h5_check<io_error>(H5Pcreate(cls), "HDF5: cannot create an access property list");
    if (H5Pset_elink_cb(p, h5_refuse_external_link, nullptr) < 0) {
        H5Pclose(p);
        throw io_error("HDF5: cannot set the external link callback");
    }
    return p;
}
inline hid_t h5_link_access() {
    static const hid_t p = h5_access_plist(H5P_LINK_ACCESS);
    return p;
}
inline hid_t h5_group_access() {
    static const hid_t p = h5_access_plist(H5P_GROUP_ACCESS);
    return p;
}
inline hid_t h5_dataset_access() {
    static const hid_t p = h5_access_plist(H5P_DATASET_ACCESS);
    return p;
}

inline bool h5_has_link(const H5Object& loc, const std::string& name) {
    H5ErrorsSilenced quiet;
    // H5Lexists fails (rather than answering no) for a path through a missing group
    return H5Lexists(loc.id(), name.c_str(), h5_link_access()) > 0;
}
inline bool h5_has_attribute(const H5Object& loc, const std::string& name) {
    H5ErrorsSilenced quiet;
    return h5_check(H5Aexists(loc.id(), name.c_str()), loc.where() + " attribute " + name + ": cannot look it up") > 0;
}

inline H5Object open_h5_group(const H5Object& loc, const std::string& name) {
    H5ErrorsSilenced quiet;
    if (!h5_has_link(loc, name)) throw format_error(loc.file + ": " + loc.child_path(name) + ": group not found");
    hid_t id = H5Gopen2(loc.id(), name.c_str(), h5_group_access());
    if (id < 0) throw format_error(loc.file + ": " + loc.child_path(name) + ": cannot open as a group");
    return {H5Handle(id, H5Gclose), loc.file, loc.child_path(name)};
}

inline H5Object create_h5_group(const H5Object& loc, const std::string& name) {
    H5ErrorsSilenced quiet;
    const H5Handle untimed = h5_untimed_creation(H5P_GROUP_CREATE, loc.file + ": " + loc.child_path(name));
    hid_t id = H5Gcreate2(loc.id(), name.c_str(), H5P_DEFAULT, untimed.id(), H5P_DEFAULT);
    if (id < 0) throw io_error(loc.file + ": " + loc.child_path(name) + ": cannot create group");
    return {H5Handle(id, H5Gclose), loc.file, loc.child_path(name)};
}

inline H5Object open_h5_dataset(const H5Object& loc, const std::string& name) {
    H5ErrorsSilenced quiet;
    if (!h5_has_link(loc, name)) throw format_error(loc.file + ": " + loc.child_path(name) + ": dataset not found");
    hid_t id = H5Dopen2(loc.id(), name.c_str(), h5_dataset_access());
    if (id < 0) throw format_error(loc.file + ": " + loc.child_path(name) + ": cannot open as a dataset");
    return {H5Handle(id, H5Dclose), loc.file, loc.child_path(name)};
}

/// The dimensions of a dataset's (or attribute's) dataspace.
inline std::vector<std::size_t> h5_space_dims(hid_t space, const std::string& where) {
    H5ErrorsSilenced quiet;
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) throw format_error(where + ": cannot read dataspace");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0)
        throw format_error(where + ": cannot read dataspace");
    return {dims.begin(), dims.end()};
}

inline std::vector<std::size_t> h5_dataset_dims(const H5Object& ds) {
    H5ErrorsSilenced quiet;
    H5Handle space(H5Dget_space(ds.id()), H5Sclose);
    if (!space.valid()) throw format_error(ds.where() + ": cannot read dataspace");
    return h5_space_dims(space.id(), ds.where());
}

/// The product of dims, or SIZE_MAX when it overflows.
inline std::size_t h5_element_count(const std::vector<std::size_t>& dims) {
    std::size_t n = 1;
    for (auto d : dims) {
        if (d != 0 && n > SIZE_MAX / d) return SIZE_MAX;
        n *= d;
    }
    return n;
}

/// Refuses (format_error naming `where`) a number type whose bits do not lie inside its bytes:
/// HDF5 1.10 converts such a type by copying bits past a buffer of its own (the fuzzer made a
/// 64-bit integer declaring 15,680 bits of precision: a stack overflow inside H5Dread). Checks
/// the size (1 to 16 bytes), precision and offset, and a float's sign, exponent and mantissa.
inline void h5_check_number_type(hid_t type, const std::string& where) {
    const H5T_class_t cls = H5Tget_class(type);
    const char* kind = cls == H5T_INTEGER ? "integer" : "floating-point";
    const std::size_t size = H5Tget_size(type);  // 0 on failure
    if (size == 0 || size > 16)
        throw format_error(where + ": numbers of " + std::to_string(size) + " bytes are not a supported number type");
    const std::size_t bits = 8 * size;
    const std::size_t precision = H5Tget_precision(type);  // 0 on failure
    const int offset = H5Tget_offset(type);                 // negative on failure
    if (precision == 0 || offset < 0 || std::size_t(offset) > bits || precision > bits - std::size_t(offset))
        throw format_error(where + ": corrupt " + kind + " type: " + std::to_string(size) + " bytes declaring " +
                           std::to_string(precision) + " bits of precision at bit offset " + std::to_string(offset) +
                           " (at most " + std::to_string(bits) + " bits in all)");
    if (cls != H5T_FLOAT) return;
    std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    const std::size_t end = std::size_t(offset) + precision;
    if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0 || spos >= end || esize == 0 || esize > 32 ||
        epos > end || esize > end - epos || msize == 0 || msize > 112 || mpos > end || msize > end - mpos)
        throw format_error(where + ": corrupt floating-point type: sign at bit " + std::to_string(spos) + ", exponent " +
                           std::to_string(esize) + " bits at " + std::to_string(epos) + ", mantissa " +
                           std::to_string(msize) + " bits at " + std::to_string(mpos) + " in " + std::to_string(end) +
                           " bits");
}

/// Checks, before anything is allocated for it, that a dataset of the given dimensions holds at
/// most max_elements values and that the file really stores them: no external or virtual
/// storage (data in other files), and at least as many bytes stored as declared (uncompressed),
/// or at least 1/4096 of them (compressed chunks). A dataset that declares 2^40 values in a
/// small file is refused here instead of being read as fill values.
inline void h5_check_dataset_storage(const H5Object& ds, const std::vector<std::size_t>& dims,
                                     std::size_t max_elements) {
    H5ErrorsSilenced quiet;
    const std::size_t count = h5_element_count(dims);
    if (count > max_elements)
        throw format_error(ds.where() + ": declared shape " + dims_str(dims) + " is too large (more than " +
                           std::to_string(max_elements) + " values)");
    H5Handle dcpl(H5Dget_create_plist(ds.id()), H5Pclose);
    H5Handle type(H5Dget_type(ds.id()), H5Tclose);
    if (!dcpl.valid() || !type.valid()) throw format_error(ds.where() + ": cannot read the storage properties");
    const H5D_layout_t layout = h5_check(H5Pget_layout(dcpl.id()), ds.where() + ": cannot read the storage layout");
    if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED)
        throw format_error(ds.where() + ": unsupported storage layout (virtual datasets are not read)");
    if (h5_check(H5Pget_external_count(dcpl.id()), ds.where() + ": cannot read the external storage count") != 0)
        throw format_error(ds.where() + ": data stored in external files is not read");
    const H5T_class_t cls = h5_check(H5Tget_class(type.id()), ds.where() + ": cannot read the datatype class");
    if (cls == H5T_INTEGER || cls == H5T_FLOAT) h5_check_number_type(type.id(), ds.where());
    const std::size_t element_size = H5Tget_size(type.id());  // 0 on failure, refused below
    const int nfilters = h5_check(H5Pget_nfilters(dcpl.id()), ds.where() + ": cannot read the filters");
    for (int i = 0; i < nfilters; ++i) {  // a filter this HDF5 lacks would fail every read as "corrupt"
        unsigned flags = 0, config = 0;
        std::size_t nvalues = 0;
        char name[128] = {0};
        const H5Z_filter_t id = H5Pget_filter2(dcpl.id(), static_cast<unsigned>(i), &flags, &nvalues, nullptr,
                                               sizeof name, name, &config);
        if (id < 0) throw format_error(ds.where() + ": cannot read filter " + std::to_string(i));
        if (H5Zfilter_avail(id) <= 0)
            throw format_error(ds.where() + ": compressed with HDF5 filter " + std::to_string(id) +
                               (name[0] ? " (" + std::string(name) + ")" : std::string()) +
                               ", which this HDF5 library cannot decode; rewrite the file with gzip or no compression");
    }
    std::vector<hsize_t> chunk;
    if (layout == H5D_CHUNKED) {  // HDF5 allocates a whole chunk to read any part of it
        chunk.assign(32, 0);
        const int rank = H5Pget_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data());
        if (rank < 0 || static_cast<std::size_t>(rank) != dims.size())
            throw format_error(ds.where() + ": cannot read the chunk shape");
        chunk.resize(static_cast<std::size_t>(rank));
        for (hsize_t c : chunk)
            if (c == 0) throw format_error(ds.where() + ": chunk shape has a zero dimension");
        double chunk_bytes = double(element_size);
        for (hsize_t c : chunk) chunk_bytes *= double(c);
        if (chunk_bytes > double(1u << 28))
            throw format_error(ds.where() + ": chunk shape " + dims_str(std::vector<std::size_t>(chunk.begin(), chunk.end())) +
                               " is too large (more than 256 MiB)");
    }
    if (count == 0) return;
    if (element_size == 0) throw format_error(ds.where() + ": cannot read the element size");
    const double declared = double(count) * double(element_size);
    // The storage the layout (or the chunk index) claims cannot exceed the file: HDF5 would
    // allocate a buffer of a claimed chunk size before finding the bytes missing.
    const hsize_t stored_bytes = H5Dget_storage_size(ds.id());  // a corrupt index may claim ~2^64
    const double stored = double(stored_bytes);
    hsize_t file_size = 0;
    {
        H5Handle file(H5Iget_file_id(ds.id()), H5Fclose);
        if (!file.valid() || H5Fget_filesize(file.id(), &file_size) < 0)
            throw io_error(ds.file + ": cannot read the file size");
    }
    if (stored > double(file_size))
        throw format_error(ds.where() + ": claims " + std::to_string(stored_bytes) +
                           " bytes of storage in a file of " + std::to_string(file_size) + " bytes (corrupt file)");
    const bool filtered = layout == H5D_CHUNKED && nfilters > 0;
    if (stored * (filtered ? 4096.0 : 1.0) < declared)
        throw format_error(ds.where() + ": declares " + std::to_string(count) + " values of shape " + dims_str(dims) +
                           " but the file stores only " + std::to_string(stored_bytes) +
                           " bytes of them (truncated or corrupt file)");
    if (layout == H5D_CHUNKED) {
        // Every chunk must be stored: HDF5 reads a chunk that was declared but never written as
        // the fill value (zeros), which would be silently wrong images or labels.
        double expected = 1;
        for (std::size_t i = 0; i < dims.size(); ++i) expected *= std::ceil(double(dims[i]) / double(chunk[i]));
        H5Handle space(H5Dget_space(ds.id()), H5Sclose);
        hsize_t stored_chunks = 0;
        if (!space.valid() || H5Dget_num_chunks(ds.id(), space.id(), &stored_chunks) < 0)
            throw format_error(ds.where() + ": cannot read the chunk index (corrupt file)");
        if (double(stored_chunks) < expected)
            throw format_error(ds.where() + ": only " + std::to_string(stored_chunks) + " of its " +
                               std::to_string(static_cast<unsigned long long>(expected)) +
                               " chunks are stored; the others were never written (truncated or incompletely written file)");
    }
}

/// The HDF5 type class of a dataset (H5T_INTEGER, H5T_FLOAT, H5T_STRING, ...).
inline H5T_class_t h5_dataset_class(const H5Object& ds) {
    H5ErrorsSilenced quiet;
    H5Handle type(H5Dget_type(ds.id()), H5Tclose);
    if (!type.valid()) throw format_error(ds.where() + ": cannot read datatype");
    return h5_check(H5Tget_class(type.id()), ds.where() + ": cannot read the datatype class");
}

inline const char* h5_class_name(H5T_class_t c) {
    switch (c) {
        case H5T_INTEGER: return "integer";
        case H5T_FLOAT: return "float";
        case H5T_STRING: return "string";
        case H5T_COMPOUND: return "compound";
        case H5T_ENUM: return "enum";
        case H5T_ARRAY: return "array";
        case H5T_OPAQUE: return "opaque";
        case H5T_REFERENCE: return "reference";
        case H5T_VLEN: return "variable-length";
        case H5T_BITFIELD: return "bitfield";
        default: return "unknown";
    }
}

template <class T>
hid_t h5_native_type();
template <>
inline hid_t h5_native_type<float>() { return H5T_NATIVE_FLOAT; }
template <>
inline hid_t h5_native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <>
inline hid_t h5_native_type<std::int64_t>() { return H5T_NATIVE_INT64; }
template <>
inline hid_t h5_native_type<std::uint8_t>() { return H5T_NATIVE_UINT8; }
template <>
inline hid_t h5_native_type<std::int32_t>() { return H5T_NATIVE_INT32; }

/// Reads a numeric (integer or float) dataset's hyperslab [start, start+count) along the first
/// axis into out, converting to T. The whole dataset when count is 0 and start is 0.
template <class T>
void h5_read_numeric(const H5Object& ds, std::vector<T>& out, std::size_t start = 0, std::size_t count = 0) {
    H5ErrorsSilenced quiet;
    const H5T_class_t cls = h5_dataset_class(ds);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        throw format_error(ds.where() + ": expected a numeric dataset, found " + h5_class_name(cls));
    {
        H5Handle type(H5Dget_type(ds.id()), H5Tclose);
        if (!type.valid()) throw format_error(ds.where() + ": cannot read datatype");
        h5_check_number_type(type.id(), ds.where());
    }
    H5Handle file_space(H5Dget_space(ds.id()), H5Sclose);
    if (!file_space.valid()) throw format_error(ds.where() + ": cannot read dataspace");
    std::vector<std::size_t> dims = h5_space_dims(file_space.id(), ds.where());
    std::vector<hsize_t> hstart(dims.size(), 0), hcount(dims.begin(), dims.end());
    if (!dims.empty() && (start != 0 || count != 0)) {
        hstart[0] = start;
        hcount[0] = count;
        if (H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, hstart.data(), nullptr, hcount.data(), nullptr) < 0)
            throw format_error(ds.where() + ": cannot select rows " + std::to_string(start) + ".." +
                               std::to_string(start + count));
    }
    std::size_t total = 1;
    for (hsize_t c : hcount) {
        if (c != 0 && total > SIZE_MAX / 2 / sizeof(T) / c)
            throw format_error(ds.where() + ": declared shape " + dims_str(dims) + " is too large to read");
        total *= static_cast<std::size_t>(c);
    }
    out.resize(total);
    if (total == 0) return;
    H5Handle mem_space(H5Screate_simple(static_cast<int>(hcount.size()), hcount.data(), nullptr), H5Sclose);
    if (dims.empty()) mem_space = H5Handle(H5Screate(H5S_SCALAR), H5Sclose);
    if (!mem_space.valid()) throw io_error(ds.where() + ": cannot create a memory dataspace");
    if (H5Dread(ds.id(), h5_native_type<T>(), mem_space.id(), file_space.id(), H5P_DEFAULT, out.data()) < 0)
        throw io_error(ds.where() + ": read failed (truncated or corrupt file?)");
}

/// Reads a string attribute or an array of strings (fixed or variable length). An attribute
/// that is an empty numeric array (Keras' weightless layers) gives an empty vector.
inline std::vector<std::string> h5_read_string_attribute(const H5Object& loc, const std::string& name) {
    H5ErrorsSilenced quiet;
    const std::string where = loc.where() + " attribute " + name;
    if (!h5_has_attribute(loc, name)) throw format_error(where + ": not found");
    H5Handle attr(H5Aopen(loc.id(), name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) throw format_error(where + ": cannot open");
    H5Handle type(H5Aget_type(attr.id()), H5Tclose);
    H5Handle space(H5Aget_space(attr.id()), H5Sclose);
    if (!type.valid() || !space.valid()) throw format_error(where + ": cannot read type");
    const std::vector<std::size_t> dims = h5_space_dims(space.id(), where);
    const std::size_t count = h5_element_count(dims);
    const H5T_class_t cls = h5_check(H5Tget_class(type.id()), where + ": cannot read the datatype class");
    if (cls != H5T_STRING) {
        if (count == 0) return {};
        throw format_error(where + ": expected strings, found " + h5_class_name(cls));
    }
    if (count > (1u << 24)) throw format_error(where + ": " + std::to_string(count) + " strings is too many");
    std::vector<std::string> out;
    out.reserve(count);
    if (h5_check(H5Tis_variable_str(type.id()), where + ": cannot read the string type") > 0) {
        std::vector<char*> ptrs(count, nullptr);
        H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
        if (!mem.valid()) throw io_error(where + ": cannot make a string type");
        const H5T_cset_t cset = h5_check(H5Tget_cset(type.id()), where + ": cannot read the character set");
        h5_check<io_error>(H5Tset_size(mem.id(), H5T_VARIABLE), where + ": cannot make a string type");
        h5_check<io_error>(H5Tset_cset(mem.id(), cset), where + ": cannot make a string type");  // ASCII or UTF-8, as stored
        if (H5Aread(attr.id(), mem.id(), ptrs.data()) < 0) throw io_error(where + ": read failed");
        for (char* p : ptrs) out.emplace_back(p ? p : "");
        h5_check<io_error>(H5Dvlen_reclaim(mem.id(), space.id(), H5P_DEFAULT, ptrs.data()),
                           where + ": cannot free the strings read");
    } else {
        const std::size_t size = H5Tget_size(type.id());
        if (size == 0 || size > (1u << 20)) throw format_error(where + ": string size " + std::to_string(size));
        if (count * size > (std::size_t(1) << 26))
            throw format_error(where + ": " + std::to_string(count) + " strings of " + std::to_string(size) +
                               " bytes is too large");
        std::vector<char> buffer(count * size);
        if (H5Aread(attr.id(), type.id(), buffer.data()) < 0) throw io_error(where + ": read failed");
        for (std::size_t i = 0; i < count; ++i) {
            const char* s = buffer.data() + i * size;
            out.emplace_back(s, strnlen(s, size));
        }
    }
    return out;
}

/// Reads a numeric attribute (scalar or array) converted to double.
inline std::vector<double> h5_read_numeric_attribute(const H5Object& loc, const std::string& name) {
    H5ErrorsSilenced quiet;
    const std::string where = loc.where() + " attribute " + name;
    if (!h5_has_attribute(loc, name)) throw format_error(where + ": not found");
    H5Handle attr(H5Aopen(loc.id(), name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) throw format_error(where + ": cannot open");
    H5Handle type(H5Aget_type(attr.id()), H5Tclose);
    H5Handle space(H5Aget_space(attr.id()), H5Sclose);
    if (!type.valid() || !space.valid()) throw format_error(where + ": cannot open");
    const H5T_class_t cls = h5_check(H5Tget_class(type.id()), where + ": cannot read the datatype class");
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        throw format_error(where + ": expected a number, found " + h5_class_name(cls));
    h5_check_number_type(type.id(), where);
    const std::vector<std::size_t> dims = h5_space_dims(space.id(), where);  // a named vector: GCC 12 warns
    const std::size_t count = h5_element_count(dims);                         // (falsely) on the temporary
    if (count > (1u << 24)) throw format_error(where + ": " + std::to_string(count) + " values is too many");
    std::vector<double> out(count);
    if (count > 0 && H5Aread(attr.id(), H5T_NATIVE_DOUBLE, out.data()) < 0) throw io_error(where + ": read failed");
    return out;
}

/// Writes an attribute holding fixed-length, NUL-padded strings (as h5py writes numpy 'S'
/// arrays); a scalar when scalar is true and there is one string.
inline void h5_write_string_attribute(const H5Object& loc, const std::string& name,
                                      const std::vector<std::string>& values, bool scalar = false) {
    H5ErrorsSilenced quiet;
    std::size_t size = 1;
    for (const auto& v : values) size = std::max(size, v.size());
    const std::string what = loc.where() + ": cannot create attribute " + name;
    H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!type.valid()) throw io_error(what);
    h5_check<io_error>(H5Tset_size(type.id(), size), what);
    h5_check<io_error>(H5Tset_strpad(type.id(), H5T_STR_NULLPAD), what);
    const hsize_t n = values.size();
    H5Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
    if (!space.valid()) throw io_error(what);
    H5Handle attr(H5Acreate2(loc.id(), name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) throw io_error(loc.where() + ": cannot create attribute " + name);
    std::vector<char> buffer(values.size() * size, '\0');
    for (std::size_t i = 0; i < values.size(); ++i) std::memcpy(buffer.data() + i * size, values[i].data(), values[i].size());
    if (H5Awrite(attr.id(), type.id(), buffer.data()) < 0) throw io_error(loc.where() + ": cannot write attribute " + name);
}

/// Writes a scalar attribute holding one variable-length UTF-8 string (as h5py writes a str):
/// its text lives in the file's heap, so it may exceed the 64 KiB limit of fixed-size attributes.
inline void h5_write_vlen_string_attribute(const H5Object& loc, const std::string& name, const std::string& value) {
    H5ErrorsSilenced quiet;
    const std::string what = loc.where() + ": cannot create attribute " + name;
    H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!type.valid()) throw io_error(what);
    h5_check<io_error>(H5Tset_size(type.id(), H5T_VARIABLE), what);
    h5_check<io_error>(H5Tset_cset(type.id(), H5T_CSET_UTF8), what);
    H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    if (!space.valid()) throw io_error(what);
    H5Handle attr(H5Acreate2(loc.id(), name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) throw io_error(what);
    const char* text = value.c_str();
    if (H5Awrite(attr.id(), type.id(), &text) < 0) throw io_error(loc.where() + ": cannot write attribute " + name);
}

/// Writes a numeric attribute as float64 (a 1-D array, or a scalar when scalar is true).
inline void h5_write_numeric_attribute(const H5Object& loc, const std::string& name,
                                       const std::vector<double>& values, bool scalar = false) {
    H5ErrorsSilenced quiet;
    const hsize_t n = values.size();
    H5Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
    if (!space.valid()) throw io_error(loc.where() + ": cannot create attribute " + name);
    H5Handle attr(H5Acreate2(loc.id(), name.c_str(), H5T_IEEE_F64LE, space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) throw io_error(loc.where() + ": cannot create attribute " + name);
    if (n > 0 && H5Awrite(attr.id(), H5T_NATIVE_DOUBLE, values.data()) < 0)
        throw io_error(loc.where() + ": cannot write attribute " + name);
}

/// Writes a dataset of the given dimensions from native values of type T, stored as file_type.
template <class T>
void h5_write_dataset(const H5Object& loc, const std::string& name, const std::vector<std::size_t>& dims,
                      const T* values, hid_t file_type) {
    H5ErrorsSilenced quiet;
    std::vector<hsize_t> hd(dims.begin(), dims.end());
    H5Handle space(H5Screate_simple(static_cast<int>(hd.size()), hd.data(), nullptr), H5Sclose);
    if (!space.valid()) throw io_error(loc.file + ": " + loc.child_path(name) + ": cannot create dataspace");
    const H5Handle untimed = h5_untimed_creation(H5P_DATASET_CREATE, loc.file + ": " + loc.child_path(name));
    H5Handle ds(H5Dcreate2(loc.id(), name.c_str(), file_type, space.id(), H5P_DEFAULT, untimed.id(), H5P_DEFAULT),
                H5Dclose);
    if (!ds.valid()) throw io_error(loc.file + ": " + loc.child_path(name) + ": cannot create dataset");
    if (H5Dwrite(ds.id(), h5_native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0)
        throw io_error(loc.file + ": " + loc.child_path(name) + ": cannot write dataset");
}

}  // namespace detail
}  // namespace prunedef
