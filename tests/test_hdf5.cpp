// The RAII HDF5 helpers (io/hdf5.hpp) on small files the tests write themselves, including
// malformed ones: missing, not HDF5, truncated; string and numeric attributes.

#include "shared_data.hpp"

#include <prunedef/io/hdf5.hpp>

#include <hdf5.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_hdf5 {

using namespace prunedef;
using prunedef_test::scratch_dir;

namespace {

/// A file with one float dataset /g/values (rows x 7) and a few attributes.
std::string write_sample(const std::filesystem::path& dir, std::size_t rows = 2000) {
    const std::string path = (dir / "sample.h5").string();
    auto file = detail::create_h5_file(path);
    auto group = detail::create_h5_group(file, "g");
    std::vector<float> values(rows * 7);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.25f;
    detail::h5_write_dataset(group, "values", {rows, 7}, values.data(), H5T_IEEE_F32LE);
    detail::h5_write_string_attribute(file, "names", {"alpha", "b", "gamma"});
    return path;
}

/// Opens a file for writing with the raw C API (for building what the helpers do not write).
struct RawFile {
    hid_t id;
    explicit RawFile(const std::string& path) : id(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) { REQUIRE(id >= 0); }
    ~RawFile() { H5Fclose(id); }
};

}  // namespace

TEST_CASE("hdf5: opening a missing file, a directory or a text file") {
    const auto dir = scratch_dir("hdf5_open");
    const std::string missing = (dir / "missing.h5").string();
    CHECK_THROWS_WITH_AS(detail::open_h5_file(missing), (missing + ": no such file").c_str(), io_error);
    CHECK_THROWS_WITH_AS(detail::open_h5_file(dir.string()),
                         (dir.string() + ": is a directory, expected an HDF5 file").c_str(), io_error);

    const std::string text = (dir / "notes.txt").string();
    std::ofstream(text) << "this is not an HDF5 file\n";
    CHECK_THROWS_WITH_AS(detail::open_h5_file(text), (text + ": not an HDF5 file").c_str(), io_error);

    const std::string empty = (dir / "empty.h5").string();
    std::ofstream(empty).close();
    CHECK_THROWS_WITH_AS(detail::open_h5_file(empty), (empty + ": not an HDF5 file").c_str(), io_error);
}

TEST_CASE("hdf5: a named pipe or a device is refused before anything opens it") {
    const auto dir = scratch_dir("hdf5_fifo");
    const std::string fifo = (dir / "pipe.h5").string();
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);  // opening it for reading would block forever
    CHECK_THROWS_WITH_AS(detail::open_h5_file(fifo),
                         (fifo + ": is a named pipe (FIFO), not a regular file; expected an HDF5 file").c_str(), io_error);
    CHECK_THROWS_WITH_AS(detail::open_h5_file("/dev/zero"),
                         "/dev/zero: is a character device, not a regular file; expected an HDF5 file", io_error);
}

TEST_CASE("hdf5: chunks declared but never written are refused, not read as zeros") {
    const auto dir = scratch_dir("hdf5_unwritten_chunks");
    const std::string path = (dir / "chunks.h5").string();
    for (const bool compressed : {false, true}) {
        CAPTURE(compressed);
        {
            auto file = detail::create_h5_file(path);
            hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
            const hsize_t dims[2] = {10, 10}, chunk[2] = {9, 9};  // 2 x 2 chunks, mostly past the edge
            REQUIRE(H5Pset_chunk(dcpl, 2, chunk) >= 0);
            if (compressed) REQUIRE(H5Pset_deflate(dcpl, 6) >= 0);
            hid_t space = H5Screate_simple(2, dims, nullptr);
            hid_t ds = H5Dcreate2(file.id(), "v", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
            REQUIRE(ds >= 0);
            const hsize_t start[2] = {0, 0}, count[2] = {9, 10};  // rows 0..8: the chunks of row 9 never written
            REQUIRE(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0);
            hid_t mem = H5Screate_simple(2, count, nullptr);
            const std::vector<float> values(90, 1.5f);
            REQUIRE(H5Dwrite(ds, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, values.data()) >= 0);
            H5Sclose(mem);
            H5Dclose(ds);
            H5Sclose(space);
            H5Pclose(dcpl);
        }
        auto file = detail::open_h5_file(path);
        auto ds = detail::open_h5_dataset(file, "v");
        // the stored bytes (2 whole chunks of 81 values) exceed the declared 100 values: only the
        // chunk count tells
        CHECK_THROWS_WITH_AS(detail::h5_check_dataset_storage(ds, {10, 10}, SIZE_MAX),
                             (path + ": /v: only 2 of its 4 chunks are stored; the others were never written "
                                     "(truncated or incompletely written file)")
                                 .c_str(),
                             format_error);
    }
}

TEST_CASE("hdf5: a truncated file is refused with its name") {
    const auto dir = scratch_dir("hdf5_truncated");
    const std::string path = write_sample(dir);
    {
        auto file = detail::open_h5_file(path);  // the intact file opens
        CHECK(file.handle.valid());
    }
    const auto size = std::filesystem::file_size(path);
    REQUIRE(size > 50000);
    std::filesystem::resize_file(path, size / 2);
    CHECK_THROWS_WITH_AS(detail::open_h5_file(path), (path + ": cannot open as HDF5 (truncated or corrupt file)").c_str(),
                         io_error);
}

TEST_CASE("hdf5: groups, datasets and hyperslab reads") {
    const auto dir = scratch_dir("hdf5_read");
    const std::string path = write_sample(dir, 9);
    auto file = detail::open_h5_file(path);
    CHECK(file.path == "/");
    CHECK(detail::h5_has_link(file, "g"));
    CHECK_FALSE(detail::h5_has_link(file, "h"));

    auto group = detail::open_h5_group(file, "g");
    CHECK(group.where() == path + ": /g");
    CHECK_THROWS_WITH_AS(detail::open_h5_group(file, "h"), (path + ": /h: group not found").c_str(), format_error);
    CHECK_THROWS_WITH_AS(detail::open_h5_dataset(group, "nope"), (path + ": /g/nope: dataset not found").c_str(),
                         format_error);
    CHECK_THROWS_WITH_AS(detail::open_h5_dataset(file, "g"), (path + ": /g: cannot open as a dataset").c_str(),
                         format_error);
    CHECK_THROWS_WITH_AS(detail::open_h5_group(group, "values"), (path + ": /g/values: cannot open as a group").c_str(),
                         format_error);

    auto ds = detail::open_h5_dataset(group, "values");
    CHECK(ds.path == "/g/values");
    CHECK(detail::h5_dataset_dims(ds) == std::vector<std::size_t>{9, 7});
    CHECK(detail::h5_dataset_class(ds) == H5T_FLOAT);

    std::vector<double> all;
    detail::h5_read_numeric(ds, all);
    REQUIRE(all.size() == 63);
    CHECK(all[62] == 62 * 0.25);

    std::vector<float> rows;
    detail::h5_read_numeric(ds, rows, 3, 4);
    REQUIRE(rows.size() == 28);
    CHECK(rows.front() == 21 * 0.25f);
    CHECK(rows.back() == 48 * 0.25f);

    std::vector<std::int64_t> ints;
    detail::h5_read_numeric(ds, ints, 8, 1);
    REQUIRE(ints.size() == 7);
    CHECK(ints[4] == 15);  // 60 * 0.25 converted to an integer
}

TEST_CASE("hdf5: a handle closes once and moves") {
    const auto dir = scratch_dir("hdf5_handle");
    const std::string path = write_sample(dir, 3);
    auto file = detail::open_h5_file(path);
    detail::H5Handle g(H5Gopen2(file.id(), "g", H5P_DEFAULT), H5Gclose);
    REQUIRE(g.valid());
    const hid_t id = g.id();
    detail::H5Handle moved(std::move(g));
    CHECK_FALSE(g.valid());
    CHECK(moved.id() == id);
    CHECK(H5Iis_valid(id) > 0);
    moved.reset();
    CHECK_FALSE(moved.valid());
    CHECK(H5Iis_valid(id) <= 0);
}

TEST_CASE("hdf5: fixed-length string attributes round-trip") {
    const auto dir = scratch_dir("hdf5_strings");
    const std::string path = (dir / "strings.h5").string();
    const std::vector<std::string> names = {"conv_1", "pool_1", "a", "activation_1", ""};
    {
        auto file = detail::create_h5_file(path);
        detail::h5_write_string_attribute(file, "layer_names", names);
        detail::h5_write_string_attribute(file, "backend", {"tensorflow"}, true);
        auto g = detail::create_h5_group(file, "conv_1");
        detail::h5_write_string_attribute(g, "weight_names", {"conv_1/kernel:0", "conv_1/bias:0"});
        detail::h5_write_numeric_attribute(g, "empty", {});
    }
    auto file = detail::open_h5_file(path);
    CHECK(detail::h5_read_string_attribute(file, "layer_names") == names);
    CHECK(detail::h5_read_string_attribute(file, "backend") == std::vector<std::string>{"tensorflow"});
    auto g = detail::open_h5_group(file, "conv_1");
    CHECK(detail::h5_read_string_attribute(g, "weight_names") ==
          std::vector<std::string>{"conv_1/kernel:0", "conv_1/bias:0"});
    // Keras stores an empty float64 array for weightless layers: read as no strings.
    CHECK(detail::h5_read_string_attribute(g, "empty").empty());

    // Stored as h5py stores numpy 'S' arrays: fixed size of the longest string, NUL-padded.
    hid_t attr = H5Aopen(file.id(), "layer_names", H5P_DEFAULT);
    hid_t type = H5Aget_type(attr);
    CHECK(H5Tis_variable_str(type) == 0);
    CHECK(H5Tget_size(type) == 12);
    CHECK(H5Tget_strpad(type) == H5T_STR_NULLPAD);
    H5Tclose(type);
    H5Aclose(attr);

    CHECK_THROWS_WITH_AS(detail::h5_read_string_attribute(file, "nope"), (path + ": / attribute nope: not found").c_str(),
                         format_error);
}

namespace {

/// Writes /layer_names (3 strings) and /model_config (a scalar) as variable-length strings.
std::string write_vlen_strings(const std::string& name, H5T_cset_t cset) {
    const auto dir = scratch_dir(name);
    const std::string path = (dir / "vlen.h5").string();
    { detail::create_h5_file(path); }
    RawFile f(path);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, cset);

    const char* many[] = {"conv_1", "a much longer layer name than the others", "x"};
    const hsize_t n = 3;
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t attr = H5Acreate2(f.id, "layer_names", type, space, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Awrite(attr, type, many) >= 0);
    H5Aclose(attr);
    H5Sclose(space);

    const char* one = "{\"class_name\": \"Model\"}";
    space = H5Screate(H5S_SCALAR);
    attr = H5Acreate2(f.id, "model_config", type, space, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Awrite(attr, type, &one) >= 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    return path;
}

void check_vlen_strings(const std::string& path) {
    auto file = detail::open_h5_file(path);
    CHECK(detail::h5_read_string_attribute(file, "layer_names") ==
          std::vector<std::string>{"conv_1", "a much longer layer name than the others", "x"});
    CHECK(detail::h5_read_string_attribute(file, "model_config") ==
          std::vector<std::string>{"{\"class_name\": \"Model\"}"});
}

}  // namespace

TEST_CASE("hdf5: variable-length ASCII string attributes are read") {
    check_vlen_strings(write_vlen_strings("hdf5_vlen_ascii", H5T_CSET_ASCII));
}

// h5py writes Python str attributes as variable-length UTF-8 strings; HDF5 has no conversion
// from UTF-8 to ASCII variable-length strings, so the reader must ask for the stored cset.
TEST_CASE("hdf5: variable-length UTF-8 string attributes (h5py str) are read") {
    check_vlen_strings(write_vlen_strings("hdf5_vlen_utf8", H5T_CSET_UTF8));
}

TEST_CASE("hdf5: numeric attributes round-trip and type mismatches are reported") {
    const auto dir = scratch_dir("hdf5_numeric");
    const std::string path = (dir / "numeric.h5").string();
    {
        auto file = detail::create_h5_file(path);
        detail::h5_write_numeric_attribute(file, "shape", {55, 47, 3});
        detail::h5_write_numeric_attribute(file, "scale", {1.0 / 255.0}, true);
        detail::h5_write_string_attribute(file, "text", {"hello"}, true);
    }
    {
        RawFile f(path);  // an integer attribute, as other writers store them
        const hsize_t n = 2;
        const std::int32_t v[] = {-4, 70000};
        hid_t space = H5Screate_simple(1, &n, nullptr);
        hid_t attr = H5Acreate2(f.id, "ints", H5T_STD_I32BE, space, H5P_DEFAULT, H5P_DEFAULT);
        REQUIRE(H5Awrite(attr, H5T_NATIVE_INT32, v) >= 0);
        H5Aclose(attr);
        H5Sclose(space);
    }
    auto file = detail::open_h5_file(path);
    CHECK(detail::h5_read_numeric_attribute(file, "shape") == std::vector<double>{55, 47, 3});
    CHECK(detail::h5_read_numeric_attribute(file, "scale") == std::vector<double>{1.0 / 255.0});
    CHECK(detail::h5_read_numeric_attribute(file, "ints") == std::vector<double>{-4, 70000});
    CHECK_THROWS_WITH_AS(detail::h5_read_numeric_attribute(file, "text"),
                         (path + ": / attribute text: expected a number, found string").c_str(), format_error);
    CHECK_THROWS_WITH_AS(detail::h5_read_string_attribute(file, "shape"),
                         (path + ": / attribute shape: expected strings, found float").c_str(), format_error);
    CHECK_THROWS_WITH_AS(detail::h5_read_numeric_attribute(file, "nope"),
                         (path + ": / attribute nope: not found").c_str(), format_error);
}

TEST_CASE("hdf5: reading a string dataset as numbers is a format error") {
    const auto dir = scratch_dir("hdf5_string_dataset");
    const std::string path = (dir / "s.h5").string();
    { detail::create_h5_file(path); }
    {
        RawFile f(path);
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, 4);
        const hsize_t n = 2;
        hid_t space = H5Screate_simple(1, &n, nullptr);
        hid_t ds = H5Dcreate2(f.id, "words", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        REQUIRE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, "abcdefgh") >= 0);
        H5Dclose(ds);
        H5Sclose(space);
        H5Tclose(type);
    }
    auto file = detail::open_h5_file(path);
    auto ds = detail::open_h5_dataset(file, "words");
    std::vector<float> out;
    CHECK_THROWS_WITH_AS(detail::h5_read_numeric(ds, out),
                         (path + ": /words: expected a numeric dataset, found string").c_str(), format_error);
}

namespace {

/// A host program's automatic error handler: counts the reports instead of printing them.
herr_t count_reports(hid_t, void* data) {
    ++*static_cast<int*>(data);
    return 0;
}

/// Whether the automatic error handler installed now is count_reports with this counter.
bool handler_is(int* counter) {
    H5E_auto2_t func = nullptr;
    void* data = nullptr;
    REQUIRE(H5Eget_auto2(H5E_DEFAULT, &func, &data) >= 0);
    return func == count_reports && data == counter;
}

}  // namespace

TEST_CASE("hdf5: prunedef silences HDF5's error printing only during its own calls") {
    H5E_auto2_t saved_func = nullptr;
    void* saved_data = nullptr;
    REQUIRE(H5Eget_auto2(H5E_DEFAULT, &saved_func, &saved_data) >= 0);
    int reports = 0;
    REQUIRE(H5Eset_auto2(H5E_DEFAULT, count_reports, &reports) >= 0);

    const auto dir = scratch_dir("hdf5_error_handler");
    const std::string path = write_sample(dir);
    CHECK(handler_is(&reports));  // after writing
    {
        auto file = detail::open_h5_file(path);
        auto ds = detail::open_h5_dataset(detail::open_h5_group(file, "g"), "values");
        std::vector<float> values;
        detail::h5_read_numeric(ds, values, 3, 5);
        CHECK(values.size() == 35);
        CHECK(detail::h5_read_string_attribute(file, "names").size() == 3);
    }
    CHECK(handler_is(&reports));  // after reading
    CHECK(reports == 0);

    // a failing call inside prunedef: HDF5's error stack is not reported, the error names the file
    std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
    CHECK_THROWS_WITH_AS(detail::open_h5_file(path), (path + ": cannot open as HDF5 (truncated or corrupt file)").c_str(),
                         io_error);
    CHECK(reports == 0);
    CHECK(handler_is(&reports));  // restored after the exception too

    // the host's own failing call still reaches its handler
    const hid_t raw = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(raw < 0);
    CHECK(reports > 0);

    // guards nest: the inner one restores the outer one's (silent) handler
    {
        detail::H5ErrorsSilenced outer;
        CHECK_FALSE(handler_is(&reports));
        {
            detail::H5ErrorsSilenced inner;
        }
        H5E_auto2_t func = count_reports;
        void* data = nullptr;
        REQUIRE(H5Eget_auto2(H5E_DEFAULT, &func, &data) >= 0);
        CHECK((func == nullptr));
    }
    CHECK(handler_is(&reports));
    REQUIRE(H5Eset_auto2(H5E_DEFAULT, saved_func, saved_data) >= 0);
}

TEST_CASE("hdf5: h5_check throws the given error with its message on a negative result") {
    CHECK(detail::h5_check(herr_t(0), "unused") == 0);
    CHECK(detail::h5_check(hid_t(42), "unused") == 42);
    CHECK_THROWS_WITH_AS(detail::h5_check(herr_t(-1), "f.h5: /g: cannot read"), "f.h5: /g: cannot read", format_error);
    CHECK_THROWS_WITH_AS(detail::h5_check<io_error>(hid_t(-1), "f.h5: cannot write"), "f.h5: cannot write", io_error);
    CHECK_THROWS_AS(detail::h5_check(H5T_NO_CLASS, "f.h5: no class"), format_error);
}

TEST_CASE("hdf5: a file written again a second later has the same bytes (no modification times)") {
    const auto dir = scratch_dir("hdf5_untimed");
    std::filesystem::create_directories(dir / "a");
    std::filesystem::create_directories(dir / "b");
    const auto bytes = [](const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    const std::string first = bytes(write_sample(dir / "a", 9));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // object headers stamp whole seconds
    const std::string second = bytes(write_sample(dir / "b", 9));
    REQUIRE(first.size() > 0);
    CHECK(first == second);
}

}  // namespace test_hdf5

