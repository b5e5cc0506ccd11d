// Keras weight files: lossless write-then-read (a synthetic DeepID, and the shared Fashion-MNIST
// BadNet when present), the Keras layouts the reader accepts (chunked layer_names, full-model
// files) and malformed files, each with its exact message.

#include "shared_data.hpp"

#include <prunedef/prunedef.hpp>

#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_keras_weights {

using namespace prunedef;
using prunedef_test::scratch_dir;

namespace {

const std::vector<std::string> deepid_layers = {"input",  "conv_1",    "pool_1",    "conv_2", "pool_2",
                                                "conv_3", "pool_3",    "conv_4",    "flatten_1", "flatten_2",
                                                "fc_1",   "fc_2",      "add_1",     "activation_1", "output"};

/// Kernel shapes of a small DeepID for 28x26x1 inputs: 26x24x3, 13x12x3, 11x10x4, 5x5x4,
/// 4x4x5, pool_3 2x2x5 (20 features), conv_4 1x1x6, 7 hidden units, 4 classes.
const std::map<std::string, std::vector<std::size_t>> small_kernels = {
    {"conv_1", {3, 3, 1, 3}}, {"conv_2", {3, 3, 3, 4}}, {"conv_3", {2, 2, 4, 5}}, {"conv_4", {2, 2, 5, 6}},
    {"fc_1", {20, 7}},        {"fc_2", {6, 7}},         {"output", {7, 4}}};
const ImageShape small_input{28, 26, 1};

WeightArray random_array(std::string name, std::vector<std::size_t> dims, std::mt19937& rng) {
    WeightArray w{std::move(name), std::move(dims), {}};
    std::normal_distribution<float> dist(0.0f, 0.3f);
    w.values.resize(w.element_count());
    for (auto& v : w.values) v = dist(rng);
    return w;
}

DeepID synthetic_deepid(unsigned seed) {
    std::mt19937 rng(seed);
    DeepID net = make_deepid();
    net.visit([&](auto& layer) {
        if constexpr (std::decay_t<decltype(layer)>::has_weights) {
            const auto& k = small_kernels.at(layer.name());
            layer.set_weights({random_array("kernel:0", k, rng), random_array("bias:0", {k.back()}, rng)});
        }
    });
    net.bind(small_input);
    net.set_input_scale(0.5f);
    return net;
}

Tensor random_images(std::size_t n, ImageShape shape, unsigned seed, float hi = 255.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(0.0f, hi);
    Tensor t(n, shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = dist(rng);
    return t;
}

std::map<std::string, std::vector<WeightArray>> weights_of(const DeepID& net) {
    std::map<std::string, std::vector<WeightArray>> out;
    net.visit([&](const auto& layer) {
        if constexpr (std::decay_t<decltype(layer)>::has_weights) out[layer.name()] = layer.weights();
    });
    return out;
}

void check_same_weights(const DeepID& a, const DeepID& b) {
    const auto wa = weights_of(a), wb = weights_of(b);
    REQUIRE(wa.size() == 7);
    REQUIRE(wb.size() == wa.size());
    for (const auto& [name, arrays] : wa) {
        CAPTURE(name);
        const auto& other = wb.at(name);
        REQUIRE(other.size() == arrays.size());
        for (std::size_t i = 0; i < arrays.size(); ++i) {
            CHECK(other[i].name == arrays[i].name);
            CHECK(other[i].dims == arrays[i].dims);
            REQUIRE(other[i].values.size() == arrays[i].values.size());
            CHECK(std::memcmp(other[i].values.data(), arrays[i].values.data(), arrays[i].values.size() * sizeof(float)) ==
                  0);
        }
    }
}

void check_same_logits(const DeepID& a, const DeepID& b, const Tensor& images) {
    const Tensor la = a.logits(images), lb = b.logits(images);
    REQUIRE(la.shape() == lb.shape());
    REQUIRE(la.size() == lb.size());
    CHECK(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)) == 0);
}

/// Writes the synthetic DeepID of seed 7 and returns its path.
std::string write_synthetic(const std::filesystem::path& dir, const std::string& name = "deepid.h5") {
    const std::string path = (dir / name).string();
    save_keras_weights(path, synthetic_deepid(7));
    return path;
}

/// A file opened read-write with the raw C API, for making malformed files.
struct RawFile {
    hid_t id;
    std::string path;
    explicit RawFile(std::string p) : id(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)), path(std::move(p)) {
        REQUIRE(id >= 0);
    }
    ~RawFile() { H5Fclose(id); }
    detail::H5Object root() const { return {detail::H5Handle(H5Gopen2(id, "/", H5P_DEFAULT), H5Gclose), path, "/"}; }
    detail::H5Object group(const std::string& g) const {
        return {detail::H5Handle(H5Gopen2(id, g.c_str(), H5P_DEFAULT), H5Gclose), path, g};
    }
    void unlink(const std::string& link) const { REQUIRE(H5Ldelete(id, link.c_str(), H5P_DEFAULT) >= 0); }
    void delete_attribute(const std::string& object, const std::string& attr) const {
        REQUIRE(H5Adelete_by_name(id, object.c_str(), attr.c_str(), H5P_DEFAULT) >= 0);
    }
    void set_layer_names(const std::vector<std::string>& names) const {
        delete_attribute("/", "layer_names");
        detail::h5_write_string_attribute(root(), "layer_names", names);
    }
    /// Replaces the dataset <layer>/<layer>/<weight> with float32 values of the given dims.
    void replace_weight(const std::string& layer, const std::string& weight, const std::vector<std::size_t>& dims,
                        const std::vector<float>& values) const {
        unlink("/" + layer + "/" + layer + "/" + weight);
        detail::h5_write_dataset(group("/" + layer + "/" + layer), weight, dims, values.data(), H5T_IEEE_F32LE);
    }
};

std::vector<std::string> without(std::vector<std::string> v, const std::string& name) {
    v.erase(std::remove(v.begin(), v.end(), name), v.end());
    return v;
}

}  // namespace

TEST_CASE("keras weights: a synthetic DeepID round-trips losslessly") {
    const auto dir = scratch_dir("keras_roundtrip");
    const DeepID net = synthetic_deepid(7);
    const std::string path = (dir / "deepid.h5").string();
    save_keras_weights(path, net);

    // Written atomically: only the finished file is left in the directory.
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
    CHECK(entries == 1);

    DeepID back = make_deepid();
    CHECK_FALSE(back.bound());
    load_keras_weights(path, back);
    REQUIRE(back.bound());  // the file records the input shape
    CHECK(back.input_shape() == small_input);
    CHECK(back.input_scale() == 0.5f);
    CHECK(back.num_classes() == 4);
    CHECK(back.feature_shape() == ImageShape{2, 2, 5});
    check_same_weights(net, back);
    check_same_logits(net, back, random_images(5, small_input, 1));

    const ModelSettings s = read_model_settings(path);
    REQUIRE(s.input_scale.has_value());
    CHECK(*s.input_scale == 0.5f);
    REQUIRE(s.input_shape.has_value());
    CHECK(*s.input_shape == small_input);
}

TEST_CASE("keras weights: saved files have the Keras 2.3 attributes and layout") {
    const auto dir = scratch_dir("keras_layout");
    const std::string path = write_synthetic(dir);
    auto file = detail::open_h5_file(path);
    CHECK(detail::h5_read_string_attribute(file, "backend") == std::vector<std::string>{"tensorflow"});
    CHECK(detail::h5_read_string_attribute(file, "keras_version") == std::vector<std::string>{"2.3.1"});
    CHECK(detail::h5_read_string_attribute(file, "layer_names") == deepid_layers);
    for (const auto& layer : deepid_layers) {
        CAPTURE(layer);
        auto g = detail::open_h5_group(file, layer);
        REQUIRE(detail::h5_has_attribute(g, "weight_names"));
        const auto names = detail::h5_read_string_attribute(g, "weight_names");
        const auto it = small_kernels.find(layer);
        if (it == small_kernels.end()) {
            CHECK(names.empty());
            CHECK(detail::h5_read_numeric_attribute(g, "weight_names").empty());  // an empty float64 array
            continue;
        }
        CHECK(names == std::vector<std::string>{layer + "/kernel:0", layer + "/bias:0"});
        auto kernel = detail::open_h5_dataset(g, layer + "/kernel:0");
        CHECK(detail::h5_dataset_dims(kernel) == it->second);
        detail::H5Handle type(H5Dget_type(kernel.id()), H5Tclose);
        CHECK(H5Tequal(type.id(), H5T_IEEE_F32LE) > 0);
        auto bias = detail::open_h5_dataset(g, layer + "/bias:0");
        CHECK(detail::h5_dataset_dims(bias) == std::vector<std::size_t>{it->second.back()});
    }
}

TEST_CASE("keras weights: the shared Fashion-MNIST BadNet round-trips losslessly" * doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("fmnist_badnet/bd_weights.h5"))) {
    const std::string original = prunedef_test::shared_path("fmnist_badnet/bd_weights.h5");
    DeepID net = make_deepid();
    load_keras_weights(original, net);
    net.bind({28, 28, 1});
    CHECK(net.num_classes() == 10);
    CHECK(net.prunable_channels() == 64);

    const auto dir = scratch_dir("keras_fmnist");
    const std::string copy = (dir / "copy.h5").string();
    save_keras_weights(copy, net);
    DeepID back = make_deepid();
    load_keras_weights(copy, back);
    REQUIRE(back.bound());
    CHECK(back.input_shape() == ImageShape{28, 28, 1});
    check_same_weights(net, back);
    check_same_logits(net, back, random_images(6, {28, 28, 1}, 2));

    // Every array of the original file is in the copy, bit for bit.
    auto a = detail::open_h5_file(original), b = detail::open_h5_file(copy);
    std::size_t arrays = 0;
    for (const auto& layer : detail::keras_layer_names(a)) {
        if (!detail::h5_has_link(a, layer)) continue;
        auto ga = detail::open_h5_group(a, layer);
        for (const auto& w : detail::keras_weight_names(ga)) {
            CAPTURE(w);
            auto gb = detail::open_h5_group(b, layer);
            auto da = detail::open_h5_dataset(ga, w), db = detail::open_h5_dataset(gb, w);
            CHECK(detail::h5_dataset_dims(da) == detail::h5_dataset_dims(db));
            std::vector<float> va, vb;
            detail::h5_read_numeric(da, va);
            detail::h5_read_numeric(db, vb);
            REQUIRE(va.size() == vb.size());
            CHECK(std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0);
            ++arrays;
        }
    }
    CHECK(arrays == 14);
}

TEST_CASE("keras weights: another topology round-trips in visit order") {
    std::mt19937 rng(3);
    using Stem = Sequential<Conv2D<Relu>, MaxPool2D>;
    using Head = Sequential<Flatten, Dense<Linear>>;
    using Net = Network<Stem, Conv2D<Relu>, Identity, Head>;
    auto make = [] { return Net(Stem(Conv2D<Relu>("c1"), MaxPool2D("p1")), Conv2D<Relu>("c2"), Identity(), Head(Flatten("flat"), Dense<Linear>("out"))); };
    Net net = make();
    net.stem().layer<0>().set_weights({random_array("kernel:0", {3, 3, 2, 4}, rng), random_array("bias:0", {4}, rng)});
    net.pruned_layer().set_weights({random_array("kernel:0", {2, 2, 4, 3}, rng), random_array("bias:0", {3}, rng)});
    net.head().layer<1>().set_weights({random_array("kernel:0", {12, 5}, rng), random_array("bias:0", {5}, rng)});
    net.bind({9, 9, 2});

    const auto dir = scratch_dir("keras_other");
    const std::string path = (dir / "net.h5").string();
    save_keras_weights(path, net);
    CHECK(detail::h5_read_string_attribute(detail::open_h5_file(path), "layer_names") ==
          std::vector<std::string>{"c1", "p1", "c2", "flat", "out"});
    Net back = make();
    load_keras_weights(path, back);
    REQUIRE(back.bound());
    const Tensor images = random_images(3, {9, 9, 2}, 4, 1.0f);
    const Tensor la = net.logits(images), lb = back.logits(images);
    REQUIRE(la.size() == lb.size());
    CHECK(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)) == 0);
}

TEST_CASE("keras weights: chunked layer_names0, layer_names1 are read") {
    const auto dir = scratch_dir("keras_chunked");
    const std::string path = write_synthetic(dir);
    {
        RawFile f(path);
        f.delete_attribute("/", "layer_names");
        detail::h5_write_string_attribute(f.root(), "layer_names0",
                                          {deepid_layers.begin(), deepid_layers.begin() + 7});
        detail::h5_write_string_attribute(f.root(), "layer_names1", {deepid_layers.begin() + 7, deepid_layers.end()});
    }
    CHECK(detail::keras_layer_names(detail::open_h5_file(path)) == deepid_layers);
    DeepID back = make_deepid();
    load_keras_weights(path, back);
    const DeepID net = synthetic_deepid(7);
    check_same_weights(net, back);
    check_same_logits(net, back, random_images(2, small_input, 5));
}

TEST_CASE("keras weights: a full-model file (model_weights/ and model_config) is read") {
    const auto dir = scratch_dir("keras_full_model");
    const std::string weights = write_synthetic(dir);
    const std::string path = (dir / "model.h5").string();
    {
        detail::H5Object out = detail::create_h5_file(path);
        hid_t src = H5Fopen(weights.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        REQUIRE(src >= 0);
        CHECK(H5Ocopy(src, "/", out.id(), "model_weights", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        H5Fclose(src);
        detail::h5_write_string_attribute(out, "model_config", {"{\"class_name\": \"Model\", \"config\": {}}"}, true);
        detail::h5_write_string_attribute(out, "keras_version", {"2.3.1"}, true);
    }
    CHECK_FALSE(detail::h5_has_attribute(detail::open_h5_file(path), "layer_names"));
    DeepID back = make_deepid();
    load_keras_weights(path, back);
    REQUIRE(back.bound());
    CHECK(back.input_scale() == 0.5f);
    const DeepID net = synthetic_deepid(7);
    check_same_weights(net, back);
    check_same_logits(net, back, random_images(3, small_input, 6));
}

TEST_CASE("keras weights: malformed files are reported with file, path and facts") {
    const auto dir = scratch_dir("keras_malformed");
    DeepID net = make_deepid();

    SUBCASE("a layer group is missing") {
        const std::string path = write_synthetic(dir);
        RawFile(path).unlink("/conv_2");
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net), (path + ": /conv_2: group not found").c_str(), format_error);
    }
    SUBCASE("a weighted layer is missing from layer_names") {
        const std::string path = write_synthetic(dir);
        RawFile(path).set_layer_names(without(deepid_layers, "fc_2"));
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net), (path + ": /: layer fc_2 not found in layer_names").c_str(),
                             format_error);
    }
    SUBCASE("a stored input shape that is not whole numbers (28.9 was truncated, NaN cast to 2^63)") {
        for (const double bad : {55.9, std::numeric_limits<double>::quiet_NaN(), 0.0, 1e300}) {
            CAPTURE(bad);
            const std::string path = write_synthetic(dir);
            {
                RawFile f(path);
                if (H5Aexists(f.id, "prunedef_input_shape") > 0) f.delete_attribute("/", "prunedef_input_shape");
                detail::h5_write_numeric_attribute(f.root(), "prunedef_input_shape", {bad, 47, 3});
            }
            CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                                 doctest::Contains((path + ": / attribute prunedef_input_shape: expected (height, width, "
                                                           "channels), integers in 1..65536")
                                                       .c_str()),
                                 format_error);
        }
    }
    SUBCASE("a layer is listed twice") {
        const std::string path = write_synthetic(dir);
        auto names = deepid_layers;
        names.push_back("conv_1");
        RawFile(path).set_layer_names(names);
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": / attribute layer_names: layer conv_1 is listed twice").c_str(), format_error);
    }
    SUBCASE("conv_2's kernel expects 21 input channels: found when the network is bound") {
        const std::string path = write_synthetic(dir);
        std::mt19937 rng(1);
        RawFile(path).replace_weight("conv_2", "kernel:0", {3, 3, 21, 4}, random_array("k", {3, 3, 21, 4}, rng).values);
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": layer conv_2: input has 3 channels, kernel expects 21").c_str(), shape_error);
    }
    SUBCASE("a bias that does not match its kernel") {
        const std::string path = write_synthetic(dir);
        RawFile(path).replace_weight("fc_1", "bias:0", {8}, std::vector<float>(8, 0.5f));
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /fc_1: layer fc_1: bias has shape (8,), expected (7,) to match kernel (20, 7)")
                                 .c_str(),
                             shape_error);
    }
    SUBCASE("an integer-typed kernel") {
        const std::string path = write_synthetic(dir);
        {
            RawFile f(path);
            f.unlink("/conv_2/conv_2/kernel:0");
            const std::vector<std::int64_t> ints(3 * 3 * 3 * 4, 1);
            detail::h5_write_dataset(f.group("/conv_2/conv_2"), "kernel:0", {3, 3, 3, 4}, ints.data(), H5T_STD_I32LE);
        }
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /conv_2/conv_2/kernel:0: expected float weights, found integer").c_str(),
                             format_error);
    }
    SUBCASE("a NaN in a kernel") {
        const std::string path = write_synthetic(dir);
        std::vector<float> k(2 * 2 * 4 * 5, 0.25f);
        k[17] = std::numeric_limits<float>::quiet_NaN();
        RawFile(path).replace_weight("conv_3", "kernel:0", {2, 2, 4, 5}, k);
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /conv_3/conv_3/kernel:0: non-finite value (nan) at flat index 17").c_str(),
                             format_error);
    }
    SUBCASE("an infinity in a bias") {
        const std::string path = write_synthetic(dir);
        std::vector<float> b(7, 0.0f);
        b[3] = std::numeric_limits<float>::infinity();
        RawFile(path).replace_weight("fc_1", "bias:0", {7}, b);
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /fc_1/fc_1/bias:0: non-finite value (inf) at flat index 3").c_str(),
                             format_error);
    }
    SUBCASE("a layer without weight_names") {
        const std::string path = write_synthetic(dir);
        RawFile(path).delete_attribute("/conv_1", "weight_names");
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net), (path + ": /conv_1: attribute weight_names not found").c_str(),
                             format_error);
    }
    SUBCASE("a weight named in weight_names is missing") {
        const std::string path = write_synthetic(dir);
        RawFile(path).unlink("/output/output/bias:0");
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net), (path + ": /output/output/bias:0: dataset not found").c_str(),
                             format_error);
    }
    SUBCASE("weights for a layer the network does not have") {
        const std::string path = write_synthetic(dir);
        {
            RawFile f(path);
            auto names = deepid_layers;
            names.push_back("extra");
            f.set_layer_names(names);
            auto g = detail::create_h5_group(f.root(), "extra");
            detail::h5_write_string_attribute(g, "weight_names", {"extra/kernel:0"});
            auto inner = detail::create_h5_group(g, "extra");
            const float v[] = {1, 2};
            detail::h5_write_dataset(inner, "kernel:0", {1, 2}, v, H5T_IEEE_F32LE);
        }
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /extra: layer has weights but the model has no weighted layer of that name")
                                 .c_str(),
                             format_error);
    }
    SUBCASE("an HDF5 file that is not a Keras weights file") {
        const std::string path = (dir / "other.h5").string();
        { detail::create_h5_group(detail::create_h5_file(path), "something"); }
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /: attribute layer_names not found (not a Keras weights file)").c_str(),
                             format_error);
    }
    SUBCASE("a missing file") {
        const std::string path = (dir / "missing.h5").string();
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net), (path + ": no such file").c_str(), io_error);
    }
}

// Regressions from fuzzing (tests/fuzz/fuzz_keras_weights.cpp) and the hardening around it:
// declared sizes are checked against the file before allocating, and no other file is read.
TEST_CASE("keras weights: declared sizes, links and external data are checked before reading") {
    const auto dir = scratch_dir("keras_hardening");
    DeepID net = make_deepid();
    const auto create_unwritten = [](const RawFile& f, const std::string& name, const std::vector<hsize_t>& dims,
                                     hid_t dcpl = H5P_DEFAULT) {
        hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
        hid_t ds = H5Dcreate2(f.id, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        REQUIRE(ds >= 0);
        H5Dclose(ds);
        H5Sclose(space);
    };

    SUBCASE("a kernel that declares 2^40 values") {
        const std::string path = write_synthetic(dir);
        {
            RawFile f(path);
            f.unlink("/conv_3/conv_3/kernel:0");
            create_unwritten(f, "/conv_3/conv_3/kernel:0", {1024, 1024, 1024, 1024});
        }
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /conv_3/conv_3/kernel:0: declared shape (1024, 1024, 1024, 1024) is too large "
                                     "(more than 268435456 values)")
                                 .c_str(),
                             format_error);
    }
    SUBCASE("a kernel whose values were never written") {
        const std::string path = write_synthetic(dir);
        {
            RawFile f(path);
            f.unlink("/fc_1/fc_1/kernel:0");
            create_unwritten(f, "/fc_1/fc_1/kernel:0", {20, 7});
        }
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /fc_1/fc_1/kernel:0: declares 140 values of shape (20, 7) but the file stores "
                                     "only 0 bytes of them (truncated or corrupt file)")
                                 .c_str(),
                             format_error);
    }
    SUBCASE("a kernel stored in an external file") {
        const std::string path = write_synthetic(dir);
        {
            RawFile f(path);
            f.unlink("/conv_2/conv_2/kernel:0");
            hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
            REQUIRE(H5Pset_external(dcpl, "/etc/hostname", 0, 3 * 3 * 3 * 4 * 4) >= 0);
            create_unwritten(f, "/conv_2/conv_2/kernel:0", {3, 3, 3, 4}, dcpl);
            H5Pclose(dcpl);
        }
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /conv_2/conv_2/kernel:0: data stored in external files is not read").c_str(),
                             format_error);
    }
    SUBCASE("a layer that is an external link to another file") {
        const std::string other = write_synthetic(dir, "other.h5");
        const std::string path = write_synthetic(dir);
        {
            RawFile f(path);
            f.unlink("/conv_1");
            REQUIRE(H5Lcreate_external(other.c_str(), "/conv_1", f.id, "conv_1", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        }
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net), (path + ": /conv_1: cannot open as a group").c_str(),
                             format_error);
    }
    SUBCASE("a layer that is a cycle of soft links") {
        const std::string path = write_synthetic(dir);
        {
            RawFile f(path);
            f.unlink("/conv_3");
            REQUIRE(H5Lcreate_soft("/loop", f.id, "conv_3", H5P_DEFAULT, H5P_DEFAULT) >= 0);
            REQUIRE(H5Lcreate_soft("/conv_3", f.id, "loop", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        }
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net), (path + ": /conv_3: cannot open as a group").c_str(),
                             format_error);
    }
    SUBCASE("a chunked kernel with 1 GiB chunks") {
        const std::string path = write_synthetic(dir);
        {
            RawFile f(path);
            f.unlink("/fc_2/fc_2/kernel:0");
            hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
            const hsize_t chunk[2] = {1u << 14, 1u << 14};
            REQUIRE(H5Pset_chunk(dcpl, 2, chunk) >= 0);
            hid_t space = H5Screate_simple(2, std::vector<hsize_t>{6, 7}.data(),
                                           std::vector<hsize_t>{H5S_UNLIMITED, H5S_UNLIMITED}.data());
            hid_t ds = H5Dcreate2(f.id, "/fc_2/fc_2/kernel:0", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
            REQUIRE(ds >= 0);
            H5Dclose(ds);
            H5Sclose(space);
            H5Pclose(dcpl);
        }
        CHECK_THROWS_WITH_AS(load_keras_weights(path, net),
                             (path + ": /fc_2/fc_2/kernel:0: chunk shape (16384, 16384) is too large (more than 256 MiB)")
                                 .c_str(),
                             format_error);
    }
}

TEST_CASE("keras weights: files the fuzzer found are refused with an error (tests/fuzz/regressions)") {
    // Each was a failure of fuzz_keras_weights in prunedef's code; scripts/fuzz.sh also replays them.
    // storage_size_2e64.h5: a chunk index claiming about 2^64 bytes of storage, whose size was
    // converted to an integer out of range (undefined behaviour) while the message was written.
    const std::filesystem::path dir = std::filesystem::path(PRUNEDEF_FUZZ_REGRESSIONS_DIR) / "keras_weights";
    REQUIRE(std::filesystem::is_directory(dir));
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string path = entry.path().string();
        CAPTURE(path);
        DeepID net = make_deepid();
        CHECK_THROWS_AS(load_keras_weights(path, net), prunedef::error);
        ++files;
    }
    CHECK(files >= 1);
}

}  // namespace test_keras_weights
