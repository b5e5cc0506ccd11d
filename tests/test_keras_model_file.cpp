// Keras model files: full-model .h5, .keras archives and weights-only files written then read
// back (same config text, spec, weights and attributes), the Keras 3 weight layout's keys, the
// DeepID config, and hostile files (truncated zip, missing entries, weights of the wrong shape),
// each refusal with its message.

#include "shared_data.hpp"

#include <prunedef/io/hdf5_memory.hpp>
#include <prunedef/io/keras3_weights.hpp>
#include <prunedef/io/keras_deepid_config.hpp>
#include <prunedef/io/keras_model_file.hpp>
#include <prunedef/io/zip_archive.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_keras_model_file {

using namespace prunedef;
using nlohmann::json;
using prunedef_test::scratch_dir;

namespace {

// tf.keras 2.21's to_json() of a small functional model (trimmed of initializers).
const char* tf_config = R"({"class_name": "Functional", "config": {"name": "model", "trainable": true, "layers": [
 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 6, 6, 2], "dtype": "float32", "sparse": false, "ragged": false, "name": "inp"}, "registered_name": null, "name": "inp", "inbound_nodes": []},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c1", "trainable": true, "dtype": "float32", "filters": 3, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true}, "registered_name": null, "name": "c1", "inbound_nodes": [[["inp", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "bn", "trainable": true, "dtype": "float32", "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true}, "registered_name": null, "name": "bn", "inbound_nodes": [[["c1", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c2", "trainable": true, "dtype": "float32", "filters": 3, "kernel_size": [1, 1], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": false}, "registered_name": null, "name": "c2", "inbound_nodes": [[["bn", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "Add", "config": {"name": "add", "trainable": true, "dtype": "float32"}, "registered_name": null, "name": "add", "inbound_nodes": [[["bn", 0, 0, {}], ["c2", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "fl", "trainable": true, "dtype": "float32", "data_format": "channels_last"}, "registered_name": null, "name": "fl", "inbound_nodes": [[["add", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "out", "trainable": true, "dtype": "float32", "units": 4, "activation": "softmax", "use_bias": true}, "registered_name": null, "name": "out", "inbound_nodes": [[["fl", 0, 0, {}]]]}],
 "input_layers": [["inp", 0, 0]], "output_layers": [["out", 0, 0]]}, "keras_version": "2.21.0", "backend": "tensorflow"})";

// Keras 3.15's to_json() of the same model.
const char* k3_config = R"({"module": "keras.src.models.functional", "class_name": "Functional", "config": {"name": "functional", "trainable": true, "layers": [
 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 6, 6, 2], "dtype": "float32", "sparse": false, "ragged": false, "name": "inp", "optional": false}, "registered_name": null, "name": "inp", "inbound_nodes": []},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c1", "trainable": true, "filters": 3, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true}, "registered_name": null, "name": "c1", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 2], "dtype": "float32", "keras_history": ["inp", 0, 0]}}], "kwargs": {}}]},
 {"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "bn", "trainable": true, "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true}, "registered_name": null, "name": "bn", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 3], "dtype": "float32", "keras_history": ["c1", 0, 0]}}], "kwargs": {"mask": null}}]},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c2", "trainable": true, "filters": 3, "kernel_size": [1, 1], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": false}, "registered_name": null, "name": "c2", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 3], "dtype": "float32", "keras_history": ["bn", 0, 0]}}], "kwargs": {}}]},
 {"module": "keras.layers", "class_name": "Add", "config": {"name": "add", "trainable": true}, "registered_name": null, "name": "add", "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 3], "dtype": "float32", "keras_history": ["bn", 0, 0]}}, {"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 3], "dtype": "float32", "keras_history": ["c2", 0, 0]}}]], "kwargs": {}}]},
 {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "fl", "trainable": true, "data_format": "channels_last"}, "registered_name": null, "name": "fl", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 3], "dtype": "float32", "keras_history": ["add", 0, 0]}}], "kwargs": {}}]},
 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "out", "trainable": true, "units": 4, "activation": "softmax", "use_bias": true, "quantization_config": null}, "registered_name": null, "name": "out", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 108], "dtype": "float32", "keras_history": ["fl", 0, 0]}}], "kwargs": {}}]}],
 "input_layers": ["inp", 0, 0], "output_layers": ["out", 0, 0]}, "registered_name": "Functional", "build_config": {"input_shape": null}, "compile_config": {}})";

// Keras 3.15's to_json() of a Sequential model: Keras 3 does not save its InputLayer's weights group.
const char* k3_sequential = R"({"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true, "layers": [
 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 5, 5, 1], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_layer", "optional": false}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "ca", "filters": 2, "kernel_size": [2, 2], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "cb", "filters": 2, "kernel_size": [2, 2], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "fl", "data_format": "channels_last"}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "linear", "use_bias": true, "quantization_config": null}, "registered_name": null}],
 "build_input_shape": [null, 5, 5, 1]}, "registered_name": null, "build_config": {"input_shape": [null, 5, 5, 1]}, "compile_config": {}})";

WeightArray random_array(const std::string& name, std::vector<std::size_t> dims, std::mt19937& rng, float lo = -1.0f) {
    WeightArray w{name, std::move(dims), {}};
    std::uniform_real_distribution<float> dist(lo, 1.0f);
    w.values.resize(w.element_count());
    for (auto& v : w.values) v = dist(rng);
    return w;
}

/// Weights of tf_config / k3_config, in a scrambled order with Keras 2 names for some.
ModelWeights functional_weights(unsigned seed) {
    std::mt19937 rng(seed);
    ModelWeights w;
    w["c1"] = {random_array("bias:0", {3}, rng), random_array("kernel", {3, 3, 2, 3}, rng)};
    w["bn"] = {random_array("moving_variance", {3}, rng, 0.1f), random_array("gamma", {3}, rng), random_array("beta", {3}, rng),
               random_array("moving_mean", {3}, rng)};
    w["c2"] = {random_array("kernel", {1, 1, 3, 3}, rng)};
    w["out"] = {random_array("kernel", {108, 4}, rng), random_array("bias", {4}, rng)};
    return w;
}

ModelWeights sequential_weights(unsigned seed) {
    std::mt19937 rng(seed);
    ModelWeights w;
    w["ca"] = {random_array("kernel", {2, 2, 1, 2}, rng), random_array("bias", {2}, rng)};
    w["cb"] = {random_array("kernel", {2, 2, 2, 2}, rng), random_array("bias", {2}, rng)};
    w["d"] = {random_array("kernel", {18, 2}, rng), random_array("bias", {2}, rng)};
    return w;
}

/// The weights in Keras' order with Keras' names (what a reader returns).
ModelWeights canonical(const ModelWeights& w, const std::string& config) {
    return check_keras_weights(parse_keras_config(config, "test"), w, "test");
}

void check_same_weights(const ModelWeights& a, const ModelWeights& b) {
    REQUIRE(a.size() == b.size());
    for (const auto& [name, arrays] : a) {
        REQUIRE(b.count(name));
        const auto& other = b.at(name);
        REQUIRE(arrays.size() == other.size());
        for (std::size_t i = 0; i < arrays.size(); ++i) {
            CHECK(arrays[i].name == other[i].name);
            CHECK(arrays[i].dims == other[i].dims);
            CHECK(arrays[i].values == other[i].values);
        }
    }
}

std::vector<std::string> layer_names(const ModelSpec& s) {
    std::vector<std::string> n;
    for (const auto& l : s.layers) n.push_back(l.name);
    return n;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("keras model file: full-model .h5 written then read") {
    const auto dir = scratch_dir("keras_model_h5");
    const std::string path = (dir / "model.h5").string();
    const ModelWeights weights = functional_weights(1);
    ModelSettings settings;
    settings.input_scale = 0.25f;
    settings.input_shape = ImageShape{6, 6, 2};
    write_keras_model_h5(path, tf_config, weights, settings, "2.21.0", "tensorflow");
    const KerasModelFile m = read_keras_model(path);
    CHECK(m.kind == KerasFileKind::full_model);
    CHECK(m.config_json == tf_config);
    CHECK(m.config_source == path + ": attribute /model_config");
    CHECK(m.keras_version == "2.21.0");
    CHECK(m.backend == "tensorflow");
    REQUIRE(m.spec);
    CHECK(layer_names(*m.spec) == std::vector<std::string>{"inp", "c1", "bn", "c2", "add", "fl", "out"});
    CHECK(m.layer_order == std::vector<std::string>{"inp", "c1", "bn", "c2", "add", "fl", "out"});
    check_same_weights(m.weights, canonical(weights, tf_config));
    CHECK(m.weights.at("bn")[0].name == "gamma");  // Keras' order
    CHECK(m.weights.at("bn")[3].name == "moving_variance");
    REQUIRE(m.settings.input_scale);
    CHECK(*m.settings.input_scale == 0.25f);
    REQUIRE(m.settings.input_shape);
    CHECK(*m.settings.input_shape == ImageShape{6, 6, 2});
    // read_model_settings (the weights-file API) finds the same settings in a full model
    CHECK(*read_model_settings(path).input_scale == 0.25f);

    // tf_keras' layout: weight_names "layer/kernel:0" under /model_weights
    const detail::H5Object file = detail::open_h5_file(path);
    const detail::H5Object group = detail::open_h5_group(detail::open_h5_root(file), "model_weights");
    CHECK(detail::h5_read_string_attribute(detail::open_h5_group(group, "c1"), "weight_names") ==
          std::vector<std::string>{"c1/kernel:0", "c1/bias:0"});
    CHECK(detail::h5_has_link(group, "c1/c1/kernel:0"));
    CHECK(detail::h5_read_string_attribute(detail::open_h5_group(group, "add"), "weight_names").empty());

    // a given config identical to the file's is accepted; another is refused as ambiguous
    const std::string same = (dir / "same.json").string(), other = (dir / "other.json").string();
    write_file(same, json::parse(tf_config).dump(2));
    CHECK(read_keras_model(path, same).config_json == tf_config);
    json changed = json::parse(tf_config);
    changed["config"]["layers"][1]["config"]["activation"] = "sigmoid";
    write_file(other, changed.dump());
    CHECK_THROWS_WITH_AS(read_keras_model(path, other),
                         (path + ": is a full-model .h5 with its own model config, and " + other +
                          " differs from it; give the model file alone (or a weights-only file with --config)")
                             .c_str(),
                         argument_error);
}

TEST_CASE("keras model file: .keras archive written then read") {
    const auto dir = scratch_dir("keras_model_archive");
    SUBCASE("functional") {
        const std::string path = (dir / "model.keras").string();
        const ModelWeights weights = functional_weights(2);
        ModelSettings settings;
        settings.input_scale = 2.0f;
        const std::string metadata = R"({"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"})";
        write_keras_archive(path, k3_config, weights, settings, metadata);
        ZipReader zip(path);
        CHECK(zip.entries() == std::vector<std::string>{"metadata.json", "config.json", "model.weights.h5"});
        const KerasModelFile m = read_keras_model(path);
        CHECK(m.kind == KerasFileKind::keras_archive);
        CHECK(m.config_json == k3_config);
        CHECK(m.config_source == path + ": entry config.json");
        CHECK(m.metadata_json == metadata);
        CHECK(m.keras_version == "3.15.1");
        CHECK(m.layer_order == std::vector<std::string>{"inp", "c1", "bn", "c2", "add", "fl", "out"});
        check_same_weights(m.weights, canonical(weights, k3_config));
        REQUIRE(m.settings.input_scale);
        CHECK(*m.settings.input_scale == 2.0f);
        CHECK_FALSE(m.settings.input_shape);

        // Keras 3's layout: layers/<class in snake case>[_n]/vars/<i>, the InputLayer listed
        const std::string image = zip.read("model.weights.h5", std::size_t(1) << 30);
        const detail::H5Object h5 = detail::open_h5_image(image, "weights");
        const detail::H5Object root = detail::open_h5_root(h5);
        CHECK(detail::h5_has_link(root, "layers/input_layer/vars"));
        CHECK(detail::h5_has_link(root, "layers/conv2d/vars/1"));
        CHECK_FALSE(detail::h5_has_link(root, "layers/conv2d_1/vars/1"));  // c2 has no bias
        CHECK(detail::h5_has_link(root, "layers/conv2d_1/vars/0"));
        CHECK(detail::h5_has_link(root, "layers/batch_normalization/vars/3"));
        CHECK(detail::h5_has_link(root, "layers/dense/vars/1"));
        CHECK(detail::h5_has_link(root, "vars"));
        CHECK(detail::h5_read_string_attribute(detail::open_h5_group(root, "layers/conv2d_1/vars"), "name") ==
              std::vector<std::string>{"c2"});
        std::vector<float> gamma;
        detail::h5_read_numeric(detail::open_h5_dataset(root, "layers/batch_normalization/vars/0"), gamma);
        CHECK(gamma == canonical(weights, k3_config).at("bn")[0].values);

        // written again from what was read: the same bytes of config and metadata
        const std::string again = (dir / "again.keras").string();
        write_keras_model(again, m.kind, m, m.weights, m.settings);
        const KerasModelFile m2 = read_keras_model(again);
        CHECK(m2.config_json == m.config_json);
        CHECK(m2.metadata_json == m.metadata_json);
        check_same_weights(m2.weights, m.weights);
    }
    SUBCASE("sequential: no InputLayer group, numbered keys") {
        const std::string path = (dir / "seq.keras").string();
        const ModelWeights weights = sequential_weights(3);
        write_keras_archive(path, k3_sequential, weights);
        const KerasModelFile m = read_keras_model(path);
        check_same_weights(m.weights, canonical(weights, k3_sequential));
        CHECK(json::parse(m.metadata_json)["keras_version"] == "3.15.1");
        const detail::H5Object h5 = detail::open_h5_image(ZipReader(path).read("model.weights.h5", 1 << 30), "weights");
        const detail::H5Object root = detail::open_h5_root(h5);
        CHECK_FALSE(detail::h5_has_link(root, "layers/input_layer"));
        std::vector<float> k;
        detail::h5_read_numeric(detail::open_h5_dataset(root, "layers/conv2d_1/vars/0"), k);
        CHECK(k == weights.at("cb")[0].values);
        CHECK(detail::h5_has_link(root, "layers/flatten/vars"));
    }
}

TEST_CASE("keras model file: Keras 3 keys") {
    CHECK(detail::keras_snake_case("Conv2D") == "conv2d");
    CHECK(detail::keras_snake_case("MaxPooling2D") == "max_pooling2d");
    CHECK(detail::keras_snake_case("GlobalAveragePooling2D") == "global_average_pooling2d");
    CHECK(detail::keras_snake_case("BatchNormalization") == "batch_normalization");
    CHECK(detail::keras_snake_case("ReLU") == "re_lu");
    CHECK(detail::keras_snake_case("LeakyReLU") == "leaky_re_lu");
    CHECK(detail::keras_snake_case("ZeroPadding2D") == "zero_padding2d");
    CHECK(detail::keras_snake_case("InputLayer") == "input_layer");
    const auto groups = detail::keras3_weight_groups({{"in", "InputLayer"}, {"a", "Conv2D"}, {"b", "Dense"}, {"c", "Conv2D"},
                                                      {"d", "Conv2D"}},
                                                     false);
    CHECK(groups == std::vector<std::pair<std::string, std::string>>{{"in", "layers/input_layer"},
                                                                     {"a", "layers/conv2d"},
                                                                     {"b", "layers/dense"},
                                                                     {"c", "layers/conv2d_1"},
                                                                     {"d", "layers/conv2d_2"}});
}

TEST_CASE("keras model file: weights-only .h5 with and without a config") {
    const auto dir = scratch_dir("keras_model_weights_only");
    const std::string path = (dir / "weights.h5").string();
    const std::string config = (dir / "model.json").string();
    const ModelWeights weights = canonical(functional_weights(4), tf_config);
    const std::vector<std::string> order{"inp", "c1", "bn", "c2", "add", "fl", "out"};
    ModelSettings settings;
    settings.input_shape = ImageShape{6, 6, 2};
    write_keras_weights_h5(path, order, weights, settings);
    const KerasModelFile bare = read_keras_model(path);
    CHECK(bare.kind == KerasFileKind::weights_only);
    CHECK_FALSE(bare.spec);
    CHECK(bare.config_json.empty());
    CHECK(bare.layer_order == order);
    CHECK(bare.keras_version == "2.3.1");
    check_same_weights(bare.weights, weights);
    CHECK(*bare.settings.input_shape == ImageShape{6, 6, 2});

    write_file(config, tf_config);
    const KerasModelFile with = read_keras_model(path, config);
    REQUIRE(with.spec);
    CHECK(with.config_json == tf_config);
    CHECK(with.config_source == config);
    check_same_weights(with.weights, weights);

    // the same model written as a full model from it, then read back whole
    const std::string full = (dir / "full.h5").string();
    write_keras_model(full, KerasFileKind::full_model, with, with.weights, with.settings);
    const KerasModelFile f = read_keras_model(full);
    CHECK(f.kind == KerasFileKind::full_model);
    CHECK(f.config_json == tf_config);
    check_same_weights(f.weights, weights);

    CHECK_THROWS_WITH_AS(write_keras_weights_h5((dir / "x.h5").string(), {"inp", "c1"}, weights),
                         ((dir / "x.h5").string() + ": the layer order omits layer bn, which has weights").c_str(),
                         argument_error);
    CHECK_FALSE(std::filesystem::exists(dir / "x.h5"));
}

TEST_CASE("keras model file: weights that do not fit the config are refused") {
    const auto dir = scratch_dir("keras_model_bad_weights");
    const std::string path = (dir / "weights.h5").string();
    const std::string config = (dir / "model.json").string();
    write_file(config, tf_config);
    const std::vector<std::string> order{"inp", "c1", "bn", "c2", "add", "fl", "out"};
    auto refused = [&](const ModelWeights& w, const std::string& message) {
        write_keras_weights_h5(path, order, w);
        CHECK_THROWS_WITH_AS(read_keras_model(path, config), (path + ": " + message).c_str(), format_error);
        CHECK_THROWS_WITH_AS(write_keras_model_h5((dir / "out.h5").string(), tf_config, w),
                             ((dir / "out.h5").string() + ": " + message).c_str(), format_error);
        CHECK_FALSE(std::filesystem::exists(dir / "out.h5"));
    };
    std::mt19937 rng(5);
    ModelWeights w = functional_weights(5);
    w["c1"][1] = random_array("kernel", {3, 3, 2, 4}, rng);
    refused(w, "layer c1 (Conv2D): weight kernel has shape (3, 3, 2, 4), the config states (3, 3, channels, 3)");
    w = functional_weights(5);
    w["out"][1] = random_array("bias", {5}, rng);
    refused(w, "layer out (Dense): weight bias has shape (5,), the config states (4)");
    w = functional_weights(5);
    w["bn"][0] = random_array("moving_variance", {4}, rng, 0.1f);
    refused(w, "layer bn (BatchNormalization): weight moving_variance has shape (4,), gamma has (3,) (a batch "
               "normalization's vectors have one length, its channels)");
    w = functional_weights(5);
    w["c2"].push_back(random_array("bias", {3}, rng));
    refused(w, "layer c2 (Conv2D): has weights kernel, bias, more than the config states");
    w = functional_weights(5);
    w.erase("out");
    refused(w, "layer out (Dense): weights not found");
    w = functional_weights(5);
    w["add"] = {random_array("kernel", {2}, rng)};
    refused(w, "layer add (Add): has 1 weight arrays, the layer has none");
    w = functional_weights(5);
    w["bn"][1].name = "scale";
    refused(w, "layer bn (BatchNormalization): weight gamma not found (the config states gamma, beta, moving_mean, "
               "moving_variance; found moving_variance, scale, beta, moving_mean)");
    w = functional_weights(5);
    w["bn"][0] = random_array("moving_variance", {3}, rng, -1.0f);
    w["bn"][0].values[1] = -0.5f;
    refused(w, "layer bn (BatchNormalization): moving_variance has a negative value (-0.500000)");
}

TEST_CASE("keras model file: dialects are written only to their format") {
    const auto dir = scratch_dir("keras_model_dialects");
    const std::string h5 = (dir / "m.h5").string(), archive = (dir / "m.keras").string();
    CHECK_THROWS_WITH_AS(write_keras_model_h5(h5, k3_config, functional_weights(6), {}, "2.21.0"),
                         (h5 + ": a Keras 3 model config cannot be written as a Keras 2.21.0 .h5 model (tf.keras cannot read "
                               "it); write a .keras archive")
                             .c_str(),
                         argument_error);
    CHECK_FALSE(std::filesystem::exists(h5));
    // Keras 3's legacy .h5 (model.save("m.h5") in Keras 3): its config, labelled 3.x
    write_keras_model_h5(h5, k3_config, functional_weights(6));
    const KerasModelFile m = read_keras_model(h5);
    CHECK(m.keras_version == "3.15.1");
    CHECK(m.config_json == k3_config);
    std::filesystem::remove(h5);
    CHECK_THROWS_WITH_AS(write_keras_archive(archive, tf_config, functional_weights(6)),
                         (archive + ": a Keras 2 model config cannot be written into a .keras archive (Keras 3 format); "
                                    "write a full-model .h5")
                             .c_str(),
                         argument_error);
    CHECK_FALSE(std::filesystem::exists(h5));
    CHECK_FALSE(std::filesystem::exists(archive));
}

TEST_CASE("keras model file: hostile archives") {
    const auto dir = scratch_dir("keras_model_hostile");
    const std::string good = (dir / "good.keras").string();
    write_keras_archive(good, k3_config, functional_weights(7));
    const std::string bytes = read_file(good);

    SUBCASE("truncated") {
        for (std::size_t keep : {bytes.size() / 2, bytes.size() - 10, std::size_t(30)}) {
            const std::string path = (dir / "cut.keras").string();
            write_file(path, bytes.substr(0, keep));
            CHECK_THROWS_WITH_AS(read_keras_model(path), doctest::Contains((path + ": not a readable zip archive").c_str()),
                                 format_error);
        }
    }
    SUBCASE("missing entries") {
        const std::string image = ZipReader(good).read("model.weights.h5", std::size_t(1) << 30);
        const std::string no_config = (dir / "no_config.keras").string();
        write_zip_archive(no_config, {{"metadata.json", "{}", false}, {"model.weights.h5", image, true}});
        CHECK_THROWS_WITH_AS(read_keras_model(no_config), (no_config + ": entry config.json: not found in the archive").c_str(),
                             format_error);
        const std::string no_weights = (dir / "no_weights.keras").string();
        write_zip_archive(no_weights, {{"config.json", k3_config, false}});
        CHECK_THROWS_WITH_AS(read_keras_model(no_weights),
                             (no_weights + ": entry model.weights.h5: not found in the archive").c_str(), format_error);
    }
    SUBCASE("entry too large") {
        CHECK_THROWS_WITH_AS(ZipReader(good).read("config.json", 100),
                             (good + ": entry config.json: " + std::to_string(std::string(k3_config).size()) +
                              " bytes is too large (limit 100)")
                                 .c_str(),
                             format_error);
    }
    SUBCASE("weights of the wrong shape") {
        // the weights of a model with 5 output units under a config that states 4
        json other = json::parse(k3_config);
        other["config"]["layers"][6]["config"]["units"] = 5;
        std::mt19937 rng(8);
        ModelWeights w = functional_weights(7);
        w["out"] = {random_array("kernel", {108, 5}, rng), random_array("bias", {5}, rng)};
        const std::string donor = (dir / "donor.keras").string();
        write_keras_archive(donor, other.dump(), w);
        const std::string path = (dir / "mixed.keras").string();
        write_zip_archive(path, {{"config.json", k3_config, false},
                                 {"model.weights.h5", ZipReader(donor).read("model.weights.h5", 1 << 30), true}});
        CHECK_THROWS_WITH_AS(read_keras_model(path),
                             (path + ": layer out (Dense): weight kernel has shape (108, 5), the config states (inputs, 4)").c_str(),
                             format_error);
    }
    SUBCASE("weights missing from model.weights.h5") {
        const std::string donor = (dir / "seq.keras").string();
        write_keras_archive(donor, k3_sequential, sequential_weights(9));
        const std::string path = (dir / "mixed.keras").string();
        write_zip_archive(path, {{"config.json", k3_config, false},
                                 {"model.weights.h5", ZipReader(donor).read("model.weights.h5", 1 << 30), true}});
        CHECK_THROWS_WITH_AS(read_keras_model(path),
                             (path + ": entry model.weights.h5: /layers/batch_normalization/vars: group not found (the "
                                     "weights of layer bn (BatchNormalization))")
                                 .c_str(),
                             format_error);
    }
    SUBCASE("not HDF5 inside") {
        const std::string path = (dir / "text.keras").string();
        write_zip_archive(path, {{"config.json", k3_config, false}, {"model.weights.h5", "just text", false}});
        CHECK_THROWS_WITH_AS(read_keras_model(path), (path + ": entry model.weights.h5: not an HDF5 file").c_str(), format_error);
    }
    SUBCASE("config not JSON") {
        const std::string path = (dir / "bad_json.keras").string();
        write_zip_archive(path, {{"config.json", "{nope", false}});
        CHECK_THROWS_WITH_AS(read_keras_model(path),
                             doctest::Contains((path + ": entry config.json: model config is not valid JSON").c_str()), format_error);
    }
    SUBCASE("neither zip nor HDF5") {
        const std::string path = (dir / "plain.h5").string();
        write_file(path, "plain text, not a model");
        CHECK_THROWS_WITH_AS(read_keras_model(path), (path + ": not an HDF5 file").c_str(), io_error);
    }
}

TEST_CASE("keras model file: the DeepID config of weights-only DeepID weights") {
    std::mt19937 rng(10);
    ModelWeights w;
    // a small DeepID for 28x26x1: pool_3 is 2x2x5 (20 features), conv_4 1x1x6
    const std::vector<std::pair<std::string, std::vector<std::size_t>>> kernels = {
        {"conv_1", {3, 3, 1, 3}}, {"conv_2", {3, 3, 3, 4}}, {"conv_3", {2, 2, 4, 5}}, {"conv_4", {2, 2, 5, 6}},
        {"fc_1", {20, 7}},        {"fc_2", {6, 7}},         {"output", {7, 4}}};
    for (const auto& [name, dims] : kernels) w[name] = {random_array("kernel:0", dims, rng), random_array("bias:0", {dims.back()}, rng)};
    const std::string config = deepid_keras_config(w, ImageShape{28, 26, 1});
    const ModelSpec s = parse_keras_config(config, "deepid");
    CHECK(layer_names(s) == std::vector<std::string>{"input", "conv_1", "pool_1", "conv_2", "pool_2", "conv_3", "pool_3", "conv_4",
                                                     "flatten_1", "flatten_2", "fc_1", "fc_2", "add_1", "activation_1", "output"});
    CHECK(*s.find("input")->input_shape == ImageShape{28, 26, 1});
    CHECK(s.find("conv_2")->units == 4);
    CHECK(s.find("conv_2")->kernel_size == std::array<std::size_t, 2>{3, 3});
    CHECK(s.find("conv_2")->activation == "relu");
    CHECK(s.find("conv_4")->inputs == std::vector<std::string>{"pool_3"});
    CHECK(s.find("flatten_2")->inputs == std::vector<std::string>{"conv_4"});
    CHECK(s.find("add_1")->inputs == std::vector<std::string>{"fc_1", "fc_2"});
    CHECK(s.find("fc_1")->activation == "linear");
    CHECK(s.find("activation_1")->activation == "relu");
    CHECK(s.find("output")->units == 4);
    CHECK(s.find("output")->activation == "softmax");
    CHECK_FALSE(detail::is_keras3_config(json::parse(config)));

    const auto dir = scratch_dir("keras_model_deepid");
    const std::string path = (dir / "deepid.h5").string();
    write_keras_model_h5(path, config, w);
    const KerasModelFile m = read_keras_model(path);
    CHECK(m.config_json == config);
    CHECK(m.weights.at("conv_3")[0].values == w.at("conv_3")[0].values);

    w.erase("fc_2");
    CHECK_THROWS_WITH_AS(deepid_keras_config(w, ImageShape{28, 26, 1}), "DeepID config: the weights have no kernel for layer fc_2",
                         argument_error);
}

TEST_CASE("keras model file: a CSAW weights file as a full model" * doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("models/csaw/lab3_sunglasses_bd_weights.h5"))) {
    const std::string source = prunedef_test::shared_path("models/csaw/lab3_sunglasses_bd_weights.h5");
    const KerasModelFile in = read_keras_model(source);
    CHECK(in.kind == KerasFileKind::weights_only);
    CHECK(in.layer_order.size() == 15);
    const auto dir = scratch_dir("keras_model_csaw");
    const std::string path = (dir / "lab3_full.h5").string();
    write_keras_model_h5(path, deepid_keras_config(in.weights, ImageShape{55, 47, 3}), in.weights);
    const KerasModelFile out = read_keras_model(path);
    REQUIRE(out.spec);
    CHECK(out.spec->find("output")->units == 1283);
    check_same_weights(out.weights, in.weights);
}

}  // namespace test_keras_model_file
