// DatasetReader on small files the tests write themselves (several pixel and label types,
// contiguous and chunked/compressed, malformed ones), and on the shared Fashion-MNIST set.

#include "shared_data.hpp"

#include <prunedef/io/dataset.hpp>

#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_dataset {

using namespace prunedef;
using prunedef_test::scratch_dir;

namespace {

/// Writes one dataset with the raw C API; chunked along the first axis and gzip-compressed when
/// chunk_rows > 0.
template <class T>
void write_dataset(hid_t file, const std::string& name, const std::vector<hsize_t>& dims, hid_t mem_type,
                   hid_t file_type, const std::vector<T>& values, hsize_t chunk_rows = 0) {
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk_rows > 0) {
        std::vector<hsize_t> chunk = dims;
        chunk[0] = chunk_rows;
        REQUIRE(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()) >= 0);
        REQUIRE(H5Pset_deflate(dcpl, 6) >= 0);
    }
    hid_t ds = H5Dcreate2(file, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    REQUIRE(ds >= 0);
    if (!values.empty()) REQUIRE(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
}

/// A pixel value that identifies its position: (n, c, y, x) in NCHW order.
double pixel(std::size_t n, std::size_t c, std::size_t y, std::size_t x) {
    return static_cast<double>((n * 37 + c * 11 + y * 5 + x * 3) % 251);
}

template <class T>
std::vector<T> nchw_pixels(std::size_t n, std::size_t c, std::size_t h, std::size_t w, double offset = 0) {
    std::vector<T> v;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t ch = 0; ch < c; ++ch)
            for (std::size_t y = 0; y < h; ++y)
                for (std::size_t x = 0; x < w; ++x) v.push_back(static_cast<T>(pixel(i, ch, y, x) + offset));
    return v;
}

/// Creates a file with "data" (n, c, h, w) and "label" (n,), labels i % 3.
struct DataFile {
    std::string path;
    hid_t id;
    explicit DataFile(const std::string& p) : path(p), id(H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) {
        REQUIRE(id >= 0);
    }
    ~DataFile() { H5Fclose(id); }
    void uint8_labels(std::size_t n) {
        std::vector<std::uint8_t> l(n);
        for (std::size_t i = 0; i < n; ++i) l[i] = static_cast<std::uint8_t>(i % 3);
        write_dataset(id, "label", {n}, H5T_NATIVE_UINT8, H5T_STD_U8LE, l);
    }
    void float_labels(const std::vector<float>& l) {
        write_dataset(id, "label", {l.size()}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, l);
    }
    void uint8_data(std::size_t n, std::size_t c, std::size_t h, std::size_t w) {
        write_dataset(id, "data", {n, c, h, w}, H5T_NATIVE_UINT8, H5T_STD_U8LE, nchw_pixels<std::uint8_t>(n, c, h, w));
    }
};

void check_images(const Tensor& images, std::size_t first, std::size_t count, ImageShape shape, double offset = 0) {
    REQUIRE(images.batch() == count);
    REQUIRE(images.shape() == shape);
    std::size_t bad = 0;
    for (std::size_t n = 0; n < count; ++n)
        for (std::size_t y = 0; y < shape.height; ++y)
            for (std::size_t x = 0; x < shape.width; ++x)
                for (std::size_t c = 0; c < shape.channels; ++c)
                    if (images.at(n, y, x, c) != static_cast<float>(pixel(first + n, c, y, x) + offset)) ++bad;
    CHECK(bad == 0);
}

}  // namespace

TEST_CASE("dataset: uint8 NCHW data is read as NHWC float, in batches") {
    const auto dir = scratch_dir("dataset_uint8");
    const std::string path = (dir / "d.h5").string();
    {
        DataFile f(path);
        f.uint8_data(7, 3, 5, 4);
        f.uint8_labels(7);
    }
    DatasetReader reader(path);
    CHECK(reader.file() == path);
    CHECK(reader.size() == 7);
    CHECK(reader.image_shape() == ImageShape{5, 4, 3});
    CHECK(reader.labels() == std::vector<int>{0, 1, 2, 0, 1, 2, 0});
    CHECK_NOTHROW(reader.check_image_shape({5, 4, 3}));
    CHECK_NOTHROW(reader.check_labels(3));

    Tensor all;
    reader.read(0, 7, all);
    check_images(all, 0, 7, {5, 4, 3});
    Tensor middle;
    reader.read(2, 3, middle);
    check_images(middle, 2, 3, {5, 4, 3});

    std::vector<std::size_t> firsts, counts;
    std::vector<int> labels;
    for_each_batch(reader, 3, [&](const Tensor& images, const int* l, std::size_t first) {
        firsts.push_back(first);
        counts.push_back(images.batch());
        check_images(images, first, images.batch(), {5, 4, 3});
        labels.insert(labels.end(), l, l + images.batch());
    });
    CHECK(firsts == std::vector<std::size_t>{0, 3, 6});
    CHECK(counts == std::vector<std::size_t>{3, 3, 1});
    CHECK(labels == reader.labels());

    CHECK_THROWS_WITH_AS(reader.read(5, 3, all), (path + ": rows 5..8 out of range (7 images)").c_str(), argument_error);
    CHECK_THROWS_WITH_AS(reader.read(8, 0, all), (path + ": rows 8..8 out of range (7 images)").c_str(), argument_error);
}

TEST_CASE("dataset: float32 and float64 data, int64 and float32 labels") {
    const auto dir = scratch_dir("dataset_float");
    const std::string p32 = (dir / "f32.h5").string(), p64 = (dir / "f64.h5").string();
    {
        DataFile f(p32);
        write_dataset(f.id, "data", {4, 2, 3, 5}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, nchw_pixels<float>(4, 2, 3, 5, 0.5));
        const std::vector<std::int64_t> labels = {9, 0, 1282, 4};
        write_dataset(f.id, "label", {4}, H5T_NATIVE_INT64, H5T_STD_I64LE, labels);
    }
    {
        DataFile f(p64);
        write_dataset(f.id, "data", {3, 1, 6, 2}, H5T_NATIVE_DOUBLE, H5T_IEEE_F64BE, nchw_pixels<double>(3, 1, 6, 2, -0.25));
        f.float_labels({2.0f, 0.0f, 7.0f});
        const std::vector<float> truth = {5, 5, 5};
        write_dataset(f.id, "true_label", {3}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, truth);
    }
    DatasetReader r32(p32);
    CHECK(r32.image_shape() == ImageShape{3, 5, 2});
    CHECK(r32.labels() == std::vector<int>{9, 0, 1282, 4});
    Tensor t;
    r32.read(1, 3, t);
    check_images(t, 1, 3, {3, 5, 2}, 0.5);

    DatasetReader r64(p64);
    CHECK(r64.image_shape() == ImageShape{6, 2, 1});
    CHECK(r64.labels() == std::vector<int>{2, 0, 7});
    r64.read(0, 3, t);
    check_images(t, 0, 3, {6, 2, 1}, -0.25);

    DatasetReader truth(p64, "true_label");
    CHECK(truth.labels() == std::vector<int>{5, 5, 5});
}

TEST_CASE("dataset: chunked, gzip-compressed data") {
    REQUIRE(H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0);
    const auto dir = scratch_dir("dataset_chunked");
    const std::string path = (dir / "c.h5").string();
    {
        DataFile f(path);
        write_dataset(f.id, "data", {11, 3, 9, 7}, H5T_NATIVE_UINT8, H5T_STD_U8LE, nchw_pixels<std::uint8_t>(11, 3, 9, 7),
                      4);
        f.uint8_labels(11);
    }
    {  // really chunked and compressed
        hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t ds = H5Dopen2(file, "data", H5P_DEFAULT);
        hid_t dcpl = H5Dget_create_plist(ds);
        CHECK(H5Pget_layout(dcpl) == H5D_CHUNKED);
        CHECK(H5Pget_nfilters(dcpl) == 1);
        H5Pclose(dcpl);
        H5Dclose(ds);
        H5Fclose(file);
    }
    DatasetReader reader(path);
    CHECK(reader.size() == 11);
    Tensor t;
    reader.read(3, 6, t);  // crosses chunk boundaries
    check_images(t, 3, 6, {9, 7, 3});
    std::size_t seen = 0;
    for_each_batch(reader, 5, [&](const Tensor& images, const int*, std::size_t first) {
        check_images(images, first, images.batch(), {9, 7, 3});
        seen += images.batch();
    });
    CHECK(seen == 11);
}

TEST_CASE("dataset: malformed files are reported with exact messages") {
    const auto dir = scratch_dir("dataset_malformed");
    const std::string path = (dir / "bad.h5").string();

    SUBCASE("data of rank 3") {
        {
            DataFile f(path);
            write_dataset(f.id, "data", {2, 3, 4}, H5T_NATIVE_UINT8, H5T_STD_U8LE, std::vector<std::uint8_t>(24, 1));
            f.uint8_labels(2);
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /data: expected rank 4 (N, C, H, W), found shape (2, 3, 4)").c_str(),
                             shape_error);
    }
    SUBCASE("a zero dimension") {
        {
            DataFile f(path);
            write_dataset(f.id, "data", {2, 1, 0, 4}, H5T_NATIVE_UINT8, H5T_STD_U8LE, std::vector<std::uint8_t>());
            f.uint8_labels(2);
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path}, (path + ": /data: shape (2, 1, 0, 4) has a zero dimension").c_str(),
                             shape_error);
    }
    SUBCASE("labels stored as a column (N, 1), as many real files do, are read as (N,)") {
        {
            DataFile f(path);
            f.uint8_data(3, 1, 3, 3);
            write_dataset(f.id, "label", {3, 1}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, std::vector<float>{2, 0, 1});
        }
        CHECK(DatasetReader{path}.labels() == std::vector<int>{2, 0, 1});
    }
    SUBCASE("labels (N, 2) are refused") {
        {
            DataFile f(path);
            f.uint8_data(2, 1, 3, 3);
            write_dataset(f.id, "label", {2, 2}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, std::vector<float>{0, 0, 1, 1});
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /label: expected shape (2,) or (2, 1) to match /data, found (2, 2)").c_str(),
                             shape_error);
    }
    SUBCASE("label count differs from the image count") {
        {
            DataFile f(path);
            f.uint8_data(5, 1, 3, 3);
            f.uint8_labels(4);
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /label: expected shape (5,) or (5, 1) to match /data, found (4,)").c_str(), shape_error);
    }
    SUBCASE("a negative label") {
        {
            DataFile f(path);
            f.uint8_data(3, 1, 3, 3);
            const std::vector<std::int64_t> labels = {0, 2, -1};
            write_dataset(f.id, "label", {3}, H5T_NATIVE_INT64, H5T_STD_I64LE, labels);
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /label: label 2 is -1.000000, expected a non-negative integer").c_str(),
                             format_error);
    }
    SUBCASE("a non-integral label") {
        {
            DataFile f(path);
            f.uint8_data(3, 1, 3, 3);
            f.float_labels({0.0f, 1.5f, 2.0f});
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /label: label 1 is 1.500000, expected a non-negative integer").c_str(),
                             format_error);
    }
    SUBCASE("a NaN label") {
        {
            DataFile f(path);
            f.uint8_data(2, 1, 3, 3);
            f.float_labels({std::numeric_limits<float>::quiet_NaN(), 1.0f});
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /label: label 0 is nan, expected a non-negative integer").c_str(), format_error);
    }
    SUBCASE("a label too large for a class index") {
        {
            DataFile f(path);
            f.uint8_data(2, 1, 3, 3);
            f.float_labels({1.0f, 4e9f});
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /label: label 1 is 4000000000.000000, too large for a class index").c_str(),
                             format_error);
    }
    SUBCASE("a NaN pixel is reported when its image is read") {
        {
            DataFile f(path);
            auto v = nchw_pixels<float>(4, 2, 3, 3);
            v[2 * 18 + 9 + 4] = std::numeric_limits<float>::quiet_NaN();  // image 2, channel 1
            write_dataset(f.id, "data", {4, 2, 3, 3}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, v);
            f.uint8_labels(4);
        }
        DatasetReader reader(path);  // opening reads only the labels
        Tensor t;
        CHECK_NOTHROW(reader.read(0, 2, t));
        CHECK_NOTHROW(reader.read(3, 1, t));
        CHECK_THROWS_WITH_AS(reader.read(1, 3, t), (path + ": /data: image 2 has a non-finite pixel (nan)").c_str(),
                             format_error);
    }
    SUBCASE("image shape and labels checked against a model") {
        {
            DataFile f(path);
            f.uint8_data(6, 1, 4, 3);
            f.uint8_labels(6);
        }
        DatasetReader reader(path);
        CHECK_THROWS_WITH_AS(reader.check_image_shape({4, 3, 3}),
                             (path + ": /data: images have 1 channel(s), the model expects 3").c_str(), shape_error);
        CHECK_THROWS_WITH_AS(reader.check_image_shape({5, 3, 1}),
                             (path + ": /data: images are 4x3, the model expects 5x3").c_str(), shape_error);
        CHECK_THROWS_WITH_AS(reader.check_labels(2), (path + ": /label: label 2 is 2, expected a class in [0, 1]").c_str(),
                             format_error);
        CHECK_NOTHROW(reader.check_labels(3));
    }
    SUBCASE("no 'data' dataset") {
        {
            DataFile f(path);
            f.uint8_labels(2);
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path}, (path + ": /data: dataset not found").c_str(), format_error);
    }
    SUBCASE("no label dataset") {
        {
            DataFile f(path);
            f.uint8_data(2, 1, 3, 3);
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path}, (path + ": /label: dataset not found").c_str(), format_error);
        CHECK_THROWS_WITH_AS(DatasetReader(path, "true_label"), (path + ": /true_label: dataset not found").c_str(),
                             format_error);
    }
    SUBCASE("strings where pixels belong") {
        {
            DataFile f(path);
            hid_t type = H5Tcopy(H5T_C_S1);
            H5Tset_size(type, 3);
            std::vector<char> text(2 * 1 * 2 * 2 * 3, 'a');
            write_dataset(f.id, "data", {2, 1, 2, 2}, type, type, text);
            H5Tclose(type);
            f.uint8_labels(2);
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /data: expected integer or float pixels, found string").c_str(), format_error);
    }
    SUBCASE("strings where labels belong") {
        {
            DataFile f(path);
            f.uint8_data(2, 1, 3, 3);
            hid_t type = H5Tcopy(H5T_C_S1);
            H5Tset_size(type, 2);
            write_dataset(f.id, "label", {2}, type, type, std::vector<char>{'a', 'b', 'c', 'd'});
            H5Tclose(type);
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path}, (path + ": /label: expected a numeric dataset, found string").c_str(),
                             format_error);
    }
    SUBCASE("a missing file") {
        CHECK_THROWS_WITH_AS(DatasetReader{path}, (path + ": no such file").c_str(), io_error);
    }
}

TEST_CASE("dataset: files the fuzzer found are refused with an error (tests/fuzz/regressions/dataset)") {
    // label_int64_precision_15680.h5: a 64-bit integer label type declaring 15,680 bits of
    // precision; HDF5 converted it by writing past a stack buffer (fuzz_dataset, stack smashing
    // inside H5Dread). prunedef refuses the type before reading. scripts/fuzz.sh replays these too.
    const std::string dir = std::string(PRUNEDEF_FUZZ_REGRESSIONS_DIR) + "/dataset/";
    const std::string path = dir + "label_int64_precision_15680.h5";
    CHECK_THROWS_WITH_AS(DatasetReader{path},
                         (path + ": /label: corrupt integer type: 8 bytes declaring 15680 bits of precision at bit "
                                 "offset 0 (at most 64 bits in all)")
                             .c_str(),
                         format_error);
}

TEST_CASE("dataset: integer labels of a reduced precision inside their bytes are read") {
    const std::string path = (scratch_dir("dataset_12bit") / "labels.h5").string();
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(file >= 0);
    write_dataset<std::uint8_t>(file, "data", {2, 1, 2, 2}, H5T_NATIVE_UINT8, H5T_STD_U8LE, std::vector<std::uint8_t>(8, 7));
    hid_t twelve = H5Tcopy(H5T_STD_I32LE);
    REQUIRE(H5Tset_precision(twelve, 12) >= 0);
    write_dataset<std::int32_t>(file, "label", {2}, H5T_NATIVE_INT32, twelve, {3, 1000});
    H5Tclose(twelve);
    H5Fclose(file);
    DatasetReader r(path);
    CHECK(r.labels() == std::vector<int>{3, 1000});
}

TEST_CASE("dataset: the shared Fashion-MNIST validation set" * doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("fmnist_badnet/valid.h5"))) {
    const std::string path = prunedef_test::shared_path("fmnist_badnet/valid.h5");
    DatasetReader reader(path);
    CHECK(reader.size() == 5000);
    CHECK(reader.image_shape() == ImageShape{28, 28, 1});
    CHECK_NOTHROW(reader.check_image_shape({28, 28, 1}));
    CHECK_NOTHROW(reader.check_labels(10));
    std::vector<std::size_t> per_class(10, 0);
    std::size_t out_of_range = 0;
    for (int l : reader.labels()) {
        if (l < 0 || l > 9) ++out_of_range;
        else ++per_class[static_cast<std::size_t>(l)];
    }
    CHECK(out_of_range == 0);
    for (std::size_t c = 0; c < 10; ++c) CHECK(per_class[c] > 0);

    Tensor t;
    reader.read(4990, 10, t);
    CHECK(t.batch() == 10);
    float lo = 1e9f, hi = -1e9f;
    std::size_t fractional = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
        lo = std::min(lo, t.data()[i]);
        hi = std::max(hi, t.data()[i]);
        if (t.data()[i] != std::floor(t.data()[i])) ++fractional;  // uint8 pixels
    }
    CHECK(fractional == 0);
    CHECK(lo >= 0.0f);
    CHECK(hi <= 255.0f);
    CHECK(hi > 0.0f);
}

// Regressions from fuzzing (tests/fuzz/fuzz_dataset.cpp): declared sizes are checked against
// what the file stores before anything is allocated for them.
TEST_CASE("dataset: declared sizes the file does not hold are refused before allocating") {
    const auto dir = scratch_dir("dataset_declared_sizes");
    const std::string path = (dir / "bad.h5").string();

    SUBCASE("labels that were never written") {
        {
            DataFile f(path);
            f.uint8_data(4, 1, 3, 3);
            write_dataset(f.id, "label", {4}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, std::vector<float>());
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /label: declares 4 values of shape (4,) but the file stores only 0 bytes of "
                                     "them (truncated or corrupt file)")
                                 .c_str(),
                             format_error);
    }
    SUBCASE("2^30 images declared, none stored") {
        {
            DataFile f(path);
            write_dataset(f.id, "data", {hsize_t(1) << 30, 3, 5, 4}, H5T_NATIVE_UINT8, H5T_STD_U8LE,
                          std::vector<std::uint8_t>(), 1);
            write_dataset(f.id, "label", {hsize_t(1) << 30}, H5T_NATIVE_UINT8, H5T_STD_U8LE, std::vector<std::uint8_t>());
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /data: declares 64424509440 values of shape (1073741824, 3, 5, 4) but the file "
                                     "stores only 0 bytes of them (truncated or corrupt file)")
                                 .c_str(),
                             format_error);
    }
    SUBCASE("2^40 images and labels declared") {
        {
            DataFile f(path);
            write_dataset(f.id, "data", {hsize_t(1) << 40, 1, 1, 1}, H5T_NATIVE_UINT8, H5T_STD_U8LE,
                          std::vector<std::uint8_t>(), 1);
            write_dataset(f.id, "label", {hsize_t(1) << 40}, H5T_NATIVE_UINT8, H5T_STD_U8LE, std::vector<std::uint8_t>());
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /data: declared shape (1099511627776, 1, 1, 1) is too large").c_str(),
                             shape_error);
    }
    SUBCASE("labels of 32-byte integers") {
        {
            DataFile f(path);
            f.uint8_data(2, 1, 3, 3);
            hid_t type = H5Tcopy(H5T_STD_I64LE);
            REQUIRE(H5Tset_size(type, 32) >= 0);
            write_dataset(f.id, "label", {2}, H5T_NATIVE_UINT8, type, std::vector<std::uint8_t>{1, 2});
            H5Tclose(type);
        }
        CHECK_THROWS_WITH_AS(DatasetReader{path},
                             (path + ": /label: numbers of 32 bytes are not a supported number type").c_str(),
                             format_error);
    }
    SUBCASE("a chunk whose recorded size is larger than the file (fuzz_dataset oom)") {
        // The chunk index claims a 4 GiB compressed chunk; HDF5 would allocate that much to read
        // it. Written valid, then the size field of chunk 0's B-tree key is overwritten.
        std::uint32_t size = 0;
        {
            DataFile f(path);
            f.uint8_data(4, 1, 3, 3);
            write_dataset(f.id, "label", {4}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, std::vector<float>{0, 1, 2, 3}, 2);
        }
        {
            hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
            hid_t ds = H5Dopen2(file, "label", H5P_DEFAULT);
            const hsize_t origin[1] = {0};
            unsigned mask = 0;
            haddr_t addr = 0;
            hsize_t chunk_size = 0;
            REQUIRE(H5Dget_chunk_info_by_coord(ds, origin, &mask, &addr, &chunk_size) >= 0);
            size = static_cast<std::uint32_t>(chunk_size);
            H5Dclose(ds);
            H5Fclose(file);
        }
        // v1 B-tree key of chunk 0: u32 size, u32 filter mask 0, u64 offset 0, u64 0 (element size axis)
        std::string bytes;
        {
            std::ifstream in(path, std::ios::binary);
            bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
        std::string key(24, '\0');
        std::memcpy(&key[0], &size, 4);
        const auto at = bytes.find(key);
        REQUIRE(at != std::string::npos);
        const std::uint32_t huge = 0xFFFFFF65u;
        std::memcpy(&bytes[at], &huge, 4);
        {
            std::ofstream out(path, std::ios::binary | std::ios::trunc);
            out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        }
        std::string message;
        try {
            DatasetReader reader(path);
        } catch (const format_error& e) {
            message = e.what();
        }
        CHECK(message.rfind(path + ": /label: claims ", 0) == 0);
        CHECK(message.find(" bytes of storage in a file of " + std::to_string(bytes.size()) + " bytes (corrupt file)") !=
              std::string::npos);
    }
}

}  // namespace test_dataset
