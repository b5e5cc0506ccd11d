// Writes the corpus of malformed inputs that tests/bad_input_test.sh runs through the CLI, and
// the valid files each case is paired with. Nothing here is committed as a binary.
// usage: make_bad_inputs DIR
// Writes DIR/good/{model.h5, data.h5, face.png, goodnet.h5} and DIR/bad/*, and prints one line
// per case on stdout: KIND<TAB>FILE<TAB>EXPECTED, where KIND says which input the file is
// (model, data, labels, poisoned, image, goodnet) and EXPECTED is a substring of the one-line error.

#include <prunedef/prunedef.hpp>

#include "../tiny_deepid.hpp"

#include <hdf5.h>
#include <stb_image_write.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace fs = std::filesystem;
using namespace prunedef;

namespace {

constexpr int H = 55, W = 47;
constexpr std::size_t classes = 5;

fs::path good_dir, bad_dir;

void check(bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error("make_bad_inputs: " + what);
}

void emit(const char* kind, const std::string& file, const std::string& expected) {
    std::cout << kind << '\t' << file << '\t' << expected << '\n';
}

/// A DeepID with 2 channels per convolution that fits 55x47x3 and has 5 classes.
DeepID tiny_deepid() {
    DeepID net = prunedef_test::tiny_deepid(11, classes);
    net.bind(ImageShape{H, W, 3});
    return net;
}

/// An HDF5 file opened read-write (or created) with the raw C API.
struct Raw {
    hid_t id;
    explicit Raw(const std::string& path, bool create = false)
        : id(create ? H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                    : H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {
        check(id >= 0, "cannot open " + path);
    }
    ~Raw() { H5Fclose(id); }
    Raw(const Raw&) = delete;
    Raw& operator=(const Raw&) = delete;
    void unlink(const std::string& link) const { check(H5Ldelete(id, link.c_str(), H5P_DEFAULT) >= 0, "unlink " + link); }
    void delete_attribute(const std::string& object, const std::string& attr) const {
        check(H5Adelete_by_name(id, object.c_str(), attr.c_str(), H5P_DEFAULT) >= 0, "delete attribute " + attr);
    }
    detail::H5Object object(const std::string& path) const {
        return {detail::H5Handle(H5Oopen(id, path.c_str(), H5P_DEFAULT), H5Oclose), "raw", path};
    }
    /// Writes a dataset with the given dims from values (nothing written when values is null).
    void dataset(const std::string& name, const std::vector<hsize_t>& dims, hid_t file_type, hid_t mem_type,
                 const void* values, hid_t dcpl = H5P_DEFAULT) const {
        hid_t space = dims.empty() ? H5Screate(H5S_SCALAR)
                                   : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
        hid_t ds = H5Dcreate2(id, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        check(ds >= 0, "create dataset " + name);
        if (values) check(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0, "write " + name);
        H5Dclose(ds);
        H5Sclose(space);
    }
    void floats(const std::string& name, const std::vector<hsize_t>& dims, const std::vector<float>& v) const {
        dataset(name, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data());
    }
};

std::string bad(const std::string& name) { return (bad_dir / name).string(); }

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    check(bool(out), "write " + path);
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> deepid_layer_names() {
    return {"input", "conv_1", "pool_1", "conv_2", "pool_2", "conv_3", "pool_3", "conv_4", "flatten_1",
            "flatten_2", "fc_1", "fc_2", "add_1", "activation_1", "output"};
}

/// A copy of the good model to be broken, and its raw handle.
std::string model_copy(const std::string& name) {
    const std::string path = bad(name);
    fs::copy_file(good_dir / "model.h5", path, fs::copy_options::overwrite_existing);
    return path;
}

void replace_weight(const Raw& f, const std::string& layer, const std::string& weight, const std::vector<hsize_t>& dims,
                    const std::vector<float>& values) {
    const std::string path = "/" + layer + "/" + layer + "/" + weight;
    f.unlink(path);
    f.floats(path, dims, values);
}

void set_layer_names(const Raw& f, const std::vector<std::string>& names) {
    f.delete_attribute("/", "layer_names");
    detail::h5_write_string_attribute(f.object("/"), "layer_names", names);
}

void bad_models(const DeepID& net) {
    const std::vector<float> conv_2_kernel(3 * 3 * 2 * 2, 0.1f);

    write_bytes(bad("model_empty.h5"), "");
    emit("model", bad("model_empty.h5"), "not an HDF5 file");
    write_bytes(bad("model_text.h5"), "conv_1,conv_2\n1,2,3\n");
    emit("model", bad("model_text.h5"), "not an HDF5 file");
    {
        const std::string whole = read_bytes((good_dir / "model.h5").string());
        write_bytes(bad("model_truncated.h5"), whole.substr(0, whole.size() / 2));
        emit("model", bad("model_truncated.h5"), "truncated or corrupt file");
    }
    {
        const std::string p = bad("model_no_layer_names.h5");
        Raw f(p, true);
        f.floats("kernel", {2}, {1, 2});
        emit("model", p, "attribute layer_names not found (not a Keras weights file)");
    }
    {
        const std::string p = model_copy("model_missing_group.h5");
        Raw(p).unlink("/conv_2");
        emit("model", p, "/conv_2: group not found");
    }
    {
        const std::string p = model_copy("model_duplicate_layer.h5");
        auto names = deepid_layer_names();
        names.push_back("conv_3");
        set_layer_names(Raw(p), names);
        emit("model", p, "layer conv_3 is listed twice");
    }
    {
        const std::string p = model_copy("model_layer_not_listed.h5");
        auto names = deepid_layer_names();
        names.erase(std::find(names.begin(), names.end(), "fc_2"));
        set_layer_names(Raw(p), names);
        emit("model", p, "layer fc_2 not found in layer_names");
    }
    {
        const std::string p = model_copy("model_int_kernel.h5");
        Raw f(p);
        f.unlink("/conv_2/conv_2/kernel:0");
        const std::vector<std::int32_t> ints(3 * 3 * 2 * 2, 1);
        f.dataset("/conv_2/conv_2/kernel:0", {3, 3, 2, 2}, H5T_STD_I32LE, H5T_NATIVE_INT32, ints.data());
        emit("model", p, "/conv_2/conv_2/kernel:0: expected float weights, found integer");
    }
    {
        const std::string p = model_copy("model_string_kernel.h5");
        Raw f(p);
        f.unlink("/conv_2/conv_2/kernel:0");
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, 4);
        const char text[] = "0.100.200.30";
        f.dataset("/conv_2/conv_2/kernel:0", {3}, type, type, text);
        H5Tclose(type);
        emit("model", p, "/conv_2/conv_2/kernel:0: expected float weights, found string");
    }
    {
        const std::string p = model_copy("model_nan_kernel.h5");
        std::vector<float> k = conv_2_kernel;
        k[5] = std::numeric_limits<float>::quiet_NaN();
        replace_weight(Raw(p), "conv_2", "kernel:0", {3, 3, 2, 2}, k);
        emit("model", p, "/conv_2/conv_2/kernel:0: non-finite value (nan) at flat index 5");
    }
    {
        const std::string p = model_copy("model_inf_bias.h5");
        replace_weight(Raw(p), "fc_1", "bias:0", {4}, {0, 0, -std::numeric_limits<float>::infinity(), 0});
        emit("model", p, "/fc_1/fc_1/bias:0: non-finite value (-inf) at flat index 2");
    }
    {
        const std::string p = model_copy("model_kernel_rank3.h5");
        replace_weight(Raw(p), "conv_2", "kernel:0", {9, 2, 2}, conv_2_kernel);
        emit("model", p, "should have rank 4, found shape (9, 2, 2)");
    }
    {
        const std::string p = model_copy("model_scalar_bias.h5");
        const float v = 1.0f;
        Raw f(p);
        f.unlink("/output/output/bias:0");
        f.dataset("/output/output/bias:0", {}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &v);
        emit("model", p, "/output: layer output: weight bias:0 should have rank 1");
    }
    {
        const std::string p = model_copy("model_bias_size.h5");
        replace_weight(Raw(p), "fc_2", "bias:0", {7}, std::vector<float>(7, 0.5f));
        emit("model", p, "bias has shape (7,), expected (4,)");
    }
    {
        const std::string p = model_copy("model_channels_mismatch.h5");
        replace_weight(Raw(p), "conv_2", "kernel:0", {3, 3, 5, 2}, std::vector<float>(3 * 3 * 5 * 2, 0.1f));
        emit("model", p, "kernel expects 5");
    }
    {
        const std::string p = model_copy("model_dense_mismatch.h5");
        replace_weight(Raw(p), "fc_1", "kernel:0", {41, 4}, std::vector<float>(41 * 4, 0.1f));
        emit("model", p, "fc_1");
    }
    {  // a kernel that claims 2^40 values: refused before anything is allocated
        const std::string p = model_copy("model_huge_kernel.h5");
        Raw f(p);
        f.unlink("/conv_3/conv_3/kernel:0");
        f.dataset("/conv_3/conv_3/kernel:0", {1u << 10, 1u << 10, 1u << 10, 1u << 10}, H5T_IEEE_F32LE,
                  H5T_NATIVE_FLOAT, nullptr);
        emit("model", p, "/conv_3/conv_3/kernel:0: declared shape (1024, 1024, 1024, 1024) is too large");
    }
    {  // a plausible size whose data was never written
        const std::string p = model_copy("model_unstored_kernel.h5");
        Raw f(p);
        f.unlink("/fc_1/fc_1/kernel:0");
        f.dataset("/fc_1/fc_1/kernel:0", {40, 4}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr);
        emit("model", p, "/fc_1/fc_1/kernel:0: declares 160 values of shape (40, 4) but the file stores only 0 bytes");
    }
    {
        const std::string p = model_copy("model_no_weight_names.h5");
        Raw(p).delete_attribute("/conv_1", "weight_names");
        emit("model", p, "/conv_1: attribute weight_names not found");
    }
    {
        const std::string p = model_copy("model_missing_weight.h5");
        Raw(p).unlink("/output/output/bias:0");
        emit("model", p, "/output/output/bias:0: dataset not found");
    }
    {
        const std::string p = model_copy("model_numeric_weight_names.h5");
        Raw f(p);
        f.delete_attribute("/conv_4", "weight_names");
        detail::h5_write_numeric_attribute(f.object("/conv_4"), "weight_names", {1.0, 2.0});
        emit("model", p, "attribute weight_names: expected strings, found float");
    }
    {
        const std::string p = model_copy("model_integer_layer_names.h5");
        Raw f(p);
        f.delete_attribute("/", "layer_names");
        detail::h5_write_numeric_attribute(f.object("/"), "layer_names", {1.0, 2.0, 3.0});
        emit("model", p, "attribute layer_names: expected strings, found float");
    }
    {
        const std::string p = model_copy("model_extra_layer.h5");
        Raw f(p);
        auto names = deepid_layer_names();
        names.push_back("dense_9");
        set_layer_names(f, names);
        detail::H5Object g = detail::create_h5_group(f.object("/"), "dense_9");
        detail::h5_write_string_attribute(g, "weight_names", {"dense_9/kernel:0"});
        f.floats("/dense_9/kernel:0", {2, 2}, {1, 2, 3, 4});
        // weight_names resolve inside the layer's group (Keras' layout): /dense_9/dense_9/kernel:0
        emit("model", p, "/dense_9/dense_9/kernel:0: dataset not found");
    }
    {  // conv_1 is an external link into another file: not followed
        const std::string p = model_copy("model_external_link.h5");
        Raw f(p);
        f.unlink("/conv_1");
        check(H5Lcreate_external((good_dir / "model.h5").c_str(), "/conv_1", f.id, "conv_1", H5P_DEFAULT,
                                 H5P_DEFAULT) >= 0,
              "external link");
        emit("model", p, "/conv_1: cannot open as a group");
    }
    {  // conv_3 is a soft link in a cycle
        const std::string p = model_copy("model_link_cycle.h5");
        Raw f(p);
        f.unlink("/conv_3");
        check(H5Lcreate_soft("/loop", f.id, "conv_3", H5P_DEFAULT, H5P_DEFAULT) >= 0, "soft link");
        check(H5Lcreate_soft("/conv_3", f.id, "loop", H5P_DEFAULT, H5P_DEFAULT) >= 0, "soft link");
        emit("model", p, "/conv_3: cannot open as a group");
    }
    {  // a kernel whose data lives in another file (external storage)
        const std::string p = model_copy("model_external_storage.h5");
        Raw f(p);
        f.unlink("/conv_2/conv_2/kernel:0");
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_external(dcpl, "/etc/hostname", 0, 3 * 3 * 2 * 2 * 4);
        f.dataset("/conv_2/conv_2/kernel:0", {3, 3, 2, 2}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr, dcpl);
        H5Pclose(dcpl);
        emit("model", p, "/conv_2/conv_2/kernel:0: data stored in external files is not read");
    }
    {
        const std::string p = model_copy("model_bad_input_shape.h5");
        Raw f(p);
        f.delete_attribute("/", "prunedef_input_shape");
        detail::h5_write_numeric_attribute(f.object("/"), "prunedef_input_shape", {55, 47});
        emit("model", p, "attribute prunedef_input_shape: expected (height, width, channels)");
    }
    {
        const std::string p = model_copy("model_negative_scale.h5");
        Raw f(p);
        f.delete_attribute("/", "prunedef_input_scale");
        detail::h5_write_numeric_attribute(f.object("/"), "prunedef_input_scale", {-1.0}, true);
        emit("model", p, "attribute prunedef_input_scale: expected one positive number");
    }
    {
        const std::string p = model_copy("model_nan_scale.h5");
        Raw f(p);
        f.delete_attribute("/", "prunedef_input_scale");
        detail::h5_write_numeric_attribute(f.object("/"), "prunedef_input_scale",
                                           {std::numeric_limits<double>::quiet_NaN()}, true);
        emit("model", p, "attribute prunedef_input_scale: expected one positive number");
    }
    {  // a fractional and a NaN input size (once truncated to 55, and read as 2^63)
        const std::string p = model_copy("model_fractional_shape.h5");
        Raw f(p);
        f.delete_attribute("/", "prunedef_input_shape");
        detail::h5_write_numeric_attribute(f.object("/"), "prunedef_input_shape", {55.9, 47, 3});
        emit("model", p, "attribute prunedef_input_shape: expected (height, width, channels), integers in 1..65536");
        const std::string q = model_copy("model_nan_shape.h5");
        Raw g(q);
        g.delete_attribute("/", "prunedef_input_shape");
        detail::h5_write_numeric_attribute(g.object("/"), "prunedef_input_shape",
                                           {std::numeric_limits<double>::quiet_NaN(), 47, 3});
        emit("model", q, "attribute prunedef_input_shape: expected (height, width, channels), integers in 1..65536");
    }
    {  // weights so large that the forward pass overflows: logits inf or NaN
        DeepID huge = net;
        huge.visit([](auto& layer) {
            using L = std::decay_t<decltype(layer)>;
            if constexpr (L::has_weights) {
                auto w = layer.weights();
                for (auto& a : w)
                    for (float& v : a.values) v = a.name.find("kernel") != std::string::npos ? 1e30f : 1.0f;
                layer.set_weights(w);
            }
        });
        save_keras_weights(bad("model_overflow.h5"), huge);
        emit("model", bad("model_overflow.h5"), "non-finite output");  // predict and repair
        emit("model_eval", bad("model_overflow.h5"), "non-finite output");
        save_goodnet(bad("goodnet_overflow.h5"), huge, huge, {});
        emit("goodnet", bad("goodnet_overflow.h5"), "non-finite output");
    }
    check(mkfifo(bad("model_fifo.h5").c_str(), 0600) == 0, "mkfifo");
    emit("model", bad("model_fifo.h5"), "is a named pipe (FIFO), not a regular file");
    fs::create_directories(bad("model_directory.h5"));
    emit("model", bad("model_directory.h5"), "is a directory");
    {  // a model for 1-channel images given 3-channel data
        const std::string p = model_copy("model_one_channel.h5");
        Raw f(p);
        replace_weight(f, "conv_1", "kernel:0", {4, 4, 1, 2}, std::vector<float>(4 * 4 * 2, 0.1f));
        f.delete_attribute("/", "prunedef_input_shape");
        emit("model", p, "images have 3 channel(s), model " + p + " (conv_1) expects 1");
    }
}

/// Writes a data set: uint8 pixels (n, c, h, w) with a pattern, and float32 labels.
void write_data(const std::string& path, std::size_t n, std::size_t c, std::size_t h, std::size_t w,
                const std::vector<float>& labels) {
    Raw f(path, true);
    std::vector<std::uint8_t> pixels(n * c * h * w);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 7 % 251);
    f.dataset("data", {n, c, h, w}, H5T_STD_U8LE, H5T_NATIVE_UINT8, pixels.data());
    f.floats("label", {labels.size()}, labels);
}

/// Writes a chunked, gzip-compressed dataset of which only the first `written` rows (along the
/// first axis) are written: the other chunks are declared but never stored.
template <class T>
void partly_written(const Raw& f, const std::string& name, const std::vector<hsize_t>& dims,
                    const std::vector<hsize_t>& chunk, hid_t file_type, hid_t mem_type, const std::vector<T>& values,
                    hsize_t written) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    check(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()) >= 0 && H5Pset_deflate(dcpl, 6) >= 0,
          "chunked dcpl");
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t ds = H5Dcreate2(f.id, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    check(ds >= 0, "create " + name);
    std::vector<hsize_t> start(dims.size(), 0), count = dims;
    count[0] = written;
    check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) >= 0, "select");
    hid_t mem = H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr);
    check(H5Dwrite(ds, mem_type, mem, space, H5P_DEFAULT, values.data()) >= 0, "write " + name);
    H5Sclose(mem);
    H5Dclose(ds);
    H5Sclose(space);
    H5Pclose(dcpl);
}

/// A filter that copies its input: registered only in this program, so that files written
/// with it use a filter the prunedef tool's HDF5 does not have (as h5py's LZF).
std::size_t copy_filter(unsigned, std::size_t, const unsigned[], std::size_t nbytes, std::size_t*, void**) {
    return nbytes;
}
constexpr H5Z_filter_t unknown_filter_id = 400;  // in HDF5's range for testing (256..511)

void bad_data() {
    const std::vector<float> labels = {0, 1, 2, 4};
    write_bytes(bad("data_empty.h5"), "");
    emit("data", bad("data_empty.h5"), "not an HDF5 file");
    {
        const std::string whole = read_bytes((good_dir / "data.h5").string());
        write_bytes(bad("data_truncated.h5"), whole.substr(0, 3000));
        emit("data", bad("data_truncated.h5"), "truncated or corrupt file");
    }
    {
        const std::string p = bad("data_no_data.h5");
        Raw f(p, true);
        f.floats("label", {4}, labels);
        emit("data", p, "/data: dataset not found");
    }
    {
        const std::string p = bad("data_no_label.h5");
        write_data(p, 4, 3, H, W, labels);
        Raw(p).unlink("/label");
        emit("data", p, "/label: dataset not found");
    }
    {
        const std::string p = bad("data_rank3.h5");
        Raw f(p, true);
        const std::vector<float> pixels(4 * H * W, 1.0f);
        f.floats("data", {4, H, W}, pixels);
        f.floats("label", {4}, labels);
        emit("data", p, "/data: expected rank 4 (N, C, H, W), found shape (4, 55, 47)");
    }
    {
        const std::string p = bad("data_strings.h5");
        Raw f(p, true);
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, 2);
        const std::vector<char> text(4 * 3 * 2 * 2 * 2, 'x');
        f.dataset("data", {4, 3, 2, 2}, type, type, text.data());
        H5Tclose(type);
        f.floats("label", {4}, labels);
        emit("data", p, "/data: expected integer or float pixels, found string");
    }
    {
        const std::string p = bad("data_zero_dim.h5");
        Raw f(p, true);
        f.dataset("data", {4, 3, 0, W}, H5T_STD_U8LE, H5T_NATIVE_UINT8, nullptr);
        f.floats("label", {4}, labels);
        emit("data", p, "/data: shape (4, 3, 0, 47) has a zero dimension");
    }
    write_data(bad("data_small_images.h5"), 4, 3, 28, 28, labels);
    emit("data", bad("data_small_images.h5"), "/data: images are 28x28, the model expects 55x47");
    write_data(bad("data_one_channel.h5"), 4, 1, H, W, labels);
    emit("data", bad("data_one_channel.h5"), "/data: images have 1 channel(s)");
    write_data(bad("data_label_count.h5"), 4, 3, H, W, {0, 1, 2});
    emit("data", bad("data_label_count.h5"), "/label: expected shape (4,) or (4, 1) to match /data, found (3,)");
    write_data(bad("data_negative_label.h5"), 4, 3, H, W, {0, -1, 2, 3});
    emit("data", bad("data_negative_label.h5"), "/label: label 1 is -1.000000, expected a non-negative integer");
    write_data(bad("data_fractional_label.h5"), 4, 3, H, W, {0, 1, 2.5f, 3});
    emit("data", bad("data_fractional_label.h5"), "/label: label 2 is 2.500000, expected a non-negative integer");
    write_data(bad("data_nan_label.h5"), 4, 3, H, W, {0, 1, 2, std::numeric_limits<float>::quiet_NaN()});
    emit("data", bad("data_nan_label.h5"), "/label: label 3 is nan");
    write_data(bad("data_label_out_of_range.h5"), 4, 3, H, W, {0, 1, 5, 3});
    emit("labels", bad("data_label_out_of_range.h5"), "/label: label 2 is 5, expected a class in [0, 4]");
    write_data(bad("poisoned_label_out_of_range.h5"), 4, 3, H, W, {0, 1, 2, 1283});
    emit("poisoned", bad("poisoned_label_out_of_range.h5"), "/label: label 3 is 1283, expected a class in [0, 4]");
    {
        // (N, 1) is accepted (test_dataset.cpp); (N, 2) is not
        const std::string p = bad("data_label_2d.h5");
        write_data(p, 4, 3, H, W, labels);
        Raw f(p);
        f.unlink("/label");
        std::vector<float> two_columns;
        for (float l : labels) two_columns.insert(two_columns.end(), {l, l});
        f.floats("label", {4, 2}, two_columns);
        emit("data", p, "/label: expected shape (4,) or (4, 1) to match /data, found (4, 2)");
    }
    {
        const std::string p = bad("data_string_labels.h5");
        write_data(p, 4, 3, H, W, labels);
        Raw f(p);
        f.unlink("/label");
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, 1);
        f.dataset("label", {4}, type, type, "0124");
        H5Tclose(type);
        emit("data", p, "/label: expected a numeric dataset, found string");
    }
    {
        const std::string p = bad("data_nan_pixel.h5");
        Raw f(p, true);
        std::vector<float> pixels(4 * 3 * H * W, 10.0f);
        pixels[3 * H * W + 17] = std::numeric_limits<float>::quiet_NaN();
        f.floats("data", {4, 3, H, W}, pixels);
        f.floats("label", {4}, labels);
        emit("data", p, "/data: image 1 has a non-finite pixel (nan)");
    }
    {
        const std::string p = bad("data_inf_pixel.h5");
        Raw f(p, true);
        std::vector<float> pixels(4 * 3 * H * W, 10.0f);
        pixels.back() = std::numeric_limits<float>::infinity();
        f.floats("data", {4, 3, H, W}, pixels);
        f.floats("label", {4}, labels);
        emit("data", p, "/data: image 3 has a non-finite pixel (inf)");
    }
    {  // 2^40 images declared: refused from the declared shape
        const std::string p = bad("data_huge_count.h5");
        Raw f(p, true);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        const hsize_t chunk[4] = {1, 3, H, W};
        H5Pset_chunk(dcpl, 4, chunk);
        f.dataset("data", {hsize_t(1) << 40, 3, H, W}, H5T_STD_U8LE, H5T_NATIVE_UINT8, nullptr, dcpl);
        f.dataset("label", {hsize_t(1) << 40}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr);
        H5Pclose(dcpl);
        emit("data", p, "/data: declared shape (1099511627776, 3, 55, 47) is too large");
    }
    {  // 2^30 images declared in a tiny file: none of them is stored
        const std::string p = bad("data_unstored_images.h5");
        Raw f(p, true);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        const hsize_t chunk[4] = {1, 3, H, W};
        H5Pset_chunk(dcpl, 4, chunk);
        f.dataset("data", {hsize_t(1) << 30, 3, H, W}, H5T_STD_U8LE, H5T_NATIVE_UINT8, nullptr, dcpl);
        H5Pclose(dcpl);
        f.dataset("label", {hsize_t(1) << 30}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr);
        emit("data", p, "/data: declares 8326867845120 values of shape (1073741824, 3, 55, 47) but the file stores only 0 bytes");
    }
    {  // 4 images declared in 4 compressed chunks, the last never written (HDF5 reads it as zeros)
        const std::string p = bad("data_unwritten_chunk.h5");
        Raw f(p, true);
        std::vector<std::uint8_t> pixels(3 * 3 * H * W);
        for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 7 % 251);
        partly_written(f, "data", {4, 3, H, W}, {1, 3, H, W}, H5T_STD_U8LE, H5T_NATIVE_UINT8, pixels, 3);
        f.floats("label", {4}, labels);
        emit("data", p, "/data: only 3 of its 4 chunks are stored");
    }
    {  // labels in 2 compressed chunks, the second never written
        const std::string p = bad("data_unwritten_label_chunk.h5");
        write_data(p, 4, 3, H, W, labels);
        Raw f(p);
        f.unlink("/label");
        partly_written(f, "label", {4}, {2}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, std::vector<float>{0, 1}, 2);
        emit("data", p, "/label: only 1 of its 2 chunks are stored");
    }
    {  // images compressed with a filter the reader's HDF5 lacks
        const std::string p = bad("data_unknown_filter.h5");
        H5Z_class2_t cls{};
        cls.version = H5Z_CLASS_T_VERS;
        cls.id = unknown_filter_id;
        cls.encoder_present = 1;
        cls.decoder_present = 1;
        cls.name = "lzf (test stand-in)";
        cls.filter = copy_filter;
        check(H5Zregister(&cls) >= 0, "register filter");
        Raw f(p, true);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        const hsize_t chunk[4] = {1, 3, H, W};
        check(H5Pset_chunk(dcpl, 4, chunk) >= 0 && H5Pset_filter(dcpl, unknown_filter_id, 0, 0, nullptr) >= 0,
              "filter dcpl");
        const std::vector<std::uint8_t> pixels(4 * 3 * H * W, 9);
        f.dataset("data", {4, 3, H, W}, H5T_STD_U8LE, H5T_NATIVE_UINT8, pixels.data(), dcpl);
        H5Pclose(dcpl);
        f.floats("label", {4}, labels);
        check(H5Zunregister(unknown_filter_id) >= 0, "unregister filter");
        emit("data", p, "/data: compressed with HDF5 filter 400");
    }
    // larger images than the model's: pooling would floor the sizes so that the shapes fit
    write_data(bad("data_large_images.h5"), 4, 3, H + 2, W + 2, labels);
    emit("data", bad("data_large_images.h5"), "/data: images are 57x49, the model expects 55x47");
    emit("goodnet_data", bad("data_large_images.h5"), "/data: images are 57x49, the model expects 55x47");
    {  // one 8192 x 8192 image: a batch of it needs more memory than allowed
        const std::string p = (good_dir / ".." / "data_huge_images.h5").string();
        Raw f(p, true);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        const hsize_t chunk[4] = {1, 1, 1024, 8192};
        check(H5Pset_chunk(dcpl, 4, chunk) >= 0 && H5Pset_deflate(dcpl, 1) >= 0, "dcpl");
        const std::vector<std::uint8_t> zeros(std::size_t(8192) * 8192, 0);
        f.dataset("data", {1, 1, 8192, 8192}, H5T_STD_U8LE, H5T_NATIVE_UINT8, zeros.data(), dcpl);
        H5Pclose(dcpl);
        f.floats("label", {1}, {0});
    }
    // not regular files: a FIFO blocks an open() forever, a device streams without end
    check(mkfifo(bad("data_fifo.h5").c_str(), 0600) == 0, "mkfifo");
    emit("data", bad("data_fifo.h5"), "is a named pipe (FIFO), not a regular file");
    emit("data", "/dev/zero", "is a character device, not a regular file");
    {  // the images are stored but the labels were never written
        const std::string p = bad("data_unstored_labels.h5");
        write_data(p, 4, 3, H, W, labels);
        Raw f(p);
        f.unlink("/label");
        f.dataset("label", {4}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr);
        emit("data", p, "/label: declares 4 values of shape (4,) but the file stores only 0 bytes");
    }
}

void write_png(const std::string& path, int w, int h, int c) {
    std::vector<unsigned char> pixels(std::size_t(w) * h * c);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 13 % 256);
    check(stbi_write_png(path.c_str(), w, h, c, pixels.data(), w * c) != 0, "write " + path);
}

void bad_images() {
    write_bytes(bad("image_empty.png"), "");
    emit("image", bad("image_empty.png"), "not a PNG, JPEG or BMP image");
    write_bytes(bad("image_text.png"), "this is not a picture\n");
    emit("image", bad("image_text.png"), "not a PNG, JPEG or BMP image");
    write_bytes(bad("image.gif"), std::string("GIF89a\x2f\x00\x37\x00\x00\x00\x00;", 14));
    emit("image", bad("image.gif"), "not a PNG, JPEG or BMP image");
    write_png(bad("image_small.png"), 28, 28, 3);
    emit("image", bad("image_small.png"), "image is 28x28 (height x width), the model expects 55x47");
    write_png(bad("image_transposed.png"), H, W, 3);
    emit("image", bad("image_transposed.png"), "image is 47x55 (height x width), the model expects 55x47");
    const std::string png = read_bytes((good_dir / "face.png").string());
    write_bytes(bad("image_truncated.png"), png.substr(0, png.size() / 2));
    emit("image", bad("image_truncated.png"), "cannot decode image");
    {
        std::string corrupt = png;
        const auto idat = corrupt.find("IDAT");
        check(idat != std::string::npos, "no IDAT");
        for (std::size_t i = idat + 6; i < idat + 40 && i < corrupt.size(); ++i) corrupt[i] = static_cast<char>(0xA5);
        write_bytes(bad("image_corrupt.png"), corrupt);
        emit("image", bad("image_corrupt.png"), "cannot decode image");
    }
    {  // the header declares a 100000 x 100000 image
        std::string huge = png;
        const auto ihdr = huge.find("IHDR");
        const unsigned char dims[8] = {0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0};
        for (int i = 0; i < 8; ++i) huge[ihdr + 4 + i] = static_cast<char>(dims[i]);
        write_bytes(bad("image_huge_header.png"), huge);
        emit("image", bad("image_huge_header.png"), bad("image_huge_header.png") + ": ");
    }
    {  // a JPEG whose Huffman table declares 16 x 255 codes
        std::string jpeg;
        std::vector<unsigned char> pixels(std::size_t(W) * H * 3, 128);
        check(stbi_write_jpg_to_func([](void* ctx, void* data, int size) {
                  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), std::size_t(size));
              },
                                     &jpeg, W, H, 3, pixels.data(), 90) != 0,
              "jpeg");
        const auto dht = jpeg.find("\xFF\xC4");
        check(dht != std::string::npos, "no DHT");
        for (std::size_t i = dht + 5; i < dht + 21; ++i) jpeg[i] = static_cast<char>(0xFF);
        write_bytes(bad("image_bad_huffman.jpg"), jpeg);
        emit("image", bad("image_bad_huffman.jpg"), "corrupt JPEG (a Huffman table has more than 256 codes)");
    }
    {  // a decompression bomb: the header says 55x47, the data inflates to 64 times that
        const std::string big = bad("image_bomb_source.png");
        {
            std::vector<unsigned char> zeros(std::size_t(W) * H * 64 * 3, 0);
            check(stbi_write_png(big.c_str(), W, H * 64, 3, zeros.data(), W * 3) != 0, "write bomb");
        }
        std::string bomb = read_bytes(big);
        fs::remove(big);
        const auto ihdr = bomb.find("IHDR");
        check(ihdr != std::string::npos, "no IHDR");
        bomb[ihdr + 8] = 0, bomb[ihdr + 9] = 0, bomb[ihdr + 10] = 0, bomb[ihdr + 11] = static_cast<char>(H);
        std::uint32_t crc = 0xFFFFFFFFu;  // the chunk's CRC-32, as a valid PNG has it (stb ignores it)
        for (std::size_t i = ihdr; i < ihdr + 4 + 13; ++i) {
            crc ^= static_cast<unsigned char>(bomb[i]);
            for (int k = 0; k < 8; ++k) crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        crc ^= 0xFFFFFFFFu;
        for (int k = 0; k < 4; ++k) bomb[ihdr + 17 + k] = static_cast<char>(crc >> (24 - 8 * k));
        write_bytes(bad("image_bomb.png"), bomb);
        emit("image", bad("image_bomb.png"), "inflates to more than the");
    }
    {
        const std::string p = bad("image_truncated.bmp");
        std::vector<unsigned char> pixels(std::size_t(W) * H * 3, 77);
        check(stbi_write_bmp(p.c_str(), W, H, 3, pixels.data()) != 0, "write bmp");
        const std::string whole = read_bytes(p);
        write_bytes(p, whole.substr(0, whole.size() / 2));
        emit("image", p, "truncated BMP");
    }
    check(mkfifo(bad("image_fifo.png").c_str(), 0600) == 0, "mkfifo");
    emit("image", bad("image_fifo.png"), "is a named pipe (FIFO), not a regular file");
    fs::create_directories(bad("image_directory.png"));
    emit("image", bad("image_directory.png"), "is a directory");
}

void bad_goodnets(const DeepID& net) {
    emit("goodnet", (good_dir / "model.h5").string(), "not a GoodNet file");
    {
        const std::string p = bad("goodnet_no_repaired.h5");
        fs::copy_file(good_dir / "goodnet.h5", p, fs::copy_options::overwrite_existing);
        Raw(p).unlink("/repaired");
        emit("goodnet", p, "not a GoodNet file");
    }
    {
        const std::string p = bad("goodnet_nan_repaired.h5");
        save_goodnet(p, net, net, {});
        std::vector<float> k(3 * 3 * 2 * 2, 0.1f);
        k[0] = std::numeric_limits<float>::quiet_NaN();
        Raw f(p);
        f.unlink("/repaired/conv_3/conv_3/kernel:0");
        f.floats("/repaired/conv_3/conv_3/kernel:0", {3, 3, 2, 2}, k);
        emit("goodnet", p, "/repaired/conv_3/conv_3/kernel:0: non-finite value (nan)");
    }
    {
        const std::string p = bad("goodnet_flag_zero.h5");
        fs::copy_file(good_dir / "goodnet.h5", p, fs::copy_options::overwrite_existing);
        Raw f(p);
        f.delete_attribute("/", "prunedef_goodnet");
        detail::h5_write_numeric_attribute(f.object("/"), "prunedef_goodnet", {0.0}, true);
        emit("goodnet", p, "/ attribute prunedef_goodnet: expected 1, found 0");
    }
    {  // B' sees pixels / 2, B raw pixels
        const std::string p = bad("goodnet_scale_mismatch.h5");
        fs::copy_file(good_dir / "goodnet.h5", p, fs::copy_options::overwrite_existing);
        Raw f(p);
        f.delete_attribute("/repaired", "prunedef_input_scale");
        detail::h5_write_numeric_attribute(f.object("/repaired"), "prunedef_input_scale", {0.5}, true);
        emit("goodnet", p, "attribute prunedef_input_scale: B (/) scales inputs by 1.000000 but B' (/repaired) by 0.500000");
    }
    {  // B' for 56x48 inputs (pooling floors the sizes so that its layers still fit)
        const std::string p = bad("goodnet_shape_mismatch.h5");
        fs::copy_file(good_dir / "goodnet.h5", p, fs::copy_options::overwrite_existing);
        Raw f(p);
        f.delete_attribute("/repaired", "prunedef_input_shape");
        detail::h5_write_numeric_attribute(f.object("/repaired"), "prunedef_input_shape", {56, 48, 3});
        emit("goodnet", p, "attribute prunedef_input_shape: B (/) takes");
    }
    check(mkfifo(bad("goodnet_fifo.h5").c_str(), 0600) == 0, "mkfifo");
    emit("goodnet", bad("goodnet_fifo.h5"), "is a named pipe (FIFO), not a regular file");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: make_bad_inputs DIR\n";
        return 2;
    }
    try {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        const fs::path dir = argv[1];
        good_dir = dir / "good";
        bad_dir = dir / "bad";
        fs::remove_all(dir);
        fs::create_directories(good_dir);
        fs::create_directories(bad_dir);
        const DeepID net = tiny_deepid();
        save_keras_weights((good_dir / "model.h5").string(), net);
        save_goodnet((good_dir / "goodnet.h5").string(), net, net, {});
        write_data((good_dir / "data.h5").string(), 4, 3, H, W, {0, 1, 2, 4});
        write_png((good_dir / "face.png").string(), W, H, 3);
        bad_models(net);
        bad_data();
        bad_images();
        bad_goodnets(net);
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
