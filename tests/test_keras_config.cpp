// Keras model configs: the three dialects (Keras 2.3, tf.keras 2.x, Keras 3), each modelled on
// what that Keras version's to_json() writes, parsed into ModelSpec; and every refusal, with its
// message.

#include <prunedef/io/keras_config.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_keras_config {

using namespace prunedef;
using nlohmann::json;

namespace {

// Keras 2.3.1's model.to_json() of the CSAW DeepID network (trimmed of initializers).
const char* keras23_deepid = R"({"class_name": "Model", "config": {"name": "model_1", "layers": [
 {"name": "input", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 55, 47, 3], "dtype": "float32", "sparse": false, "name": "input"}, "inbound_nodes": []},
 {"name": "conv_1", "class_name": "Conv2D", "config": {"name": "conv_1", "trainable": true, "dtype": "float32", "filters": 20, "kernel_size": [4, 4], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "relu", "use_bias": true}, "inbound_nodes": [[["input", 0, 0, {}]]]},
 {"name": "pool_1", "class_name": "MaxPooling2D", "config": {"name": "pool_1", "trainable": true, "dtype": "float32", "pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"}, "inbound_nodes": [[["conv_1", 0, 0, {}]]]},
 {"name": "flatten_1", "class_name": "Flatten", "config": {"name": "flatten_1", "trainable": true, "dtype": "float32", "data_format": "channels_last"}, "inbound_nodes": [[["pool_1", 0, 0, {}]]]},
 {"name": "conv_4", "class_name": "Conv2D", "config": {"name": "conv_4", "trainable": true, "dtype": "float32", "filters": 80, "kernel_size": [2, 2], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "relu", "use_bias": true}, "inbound_nodes": [[["pool_1", 0, 0, {}]]]},
 {"name": "flatten_2", "class_name": "Flatten", "config": {"name": "flatten_2", "trainable": true, "dtype": "float32", "data_format": "channels_last"}, "inbound_nodes": [[["conv_4", 0, 0, {}]]]},
 {"name": "fc_1", "class_name": "Dense", "config": {"name": "fc_1", "trainable": true, "dtype": "float32", "units": 160, "activation": "linear", "use_bias": true}, "inbound_nodes": [[["flatten_1", 0, 0, {}]]]},
 {"name": "fc_2", "class_name": "Dense", "config": {"name": "fc_2", "trainable": true, "dtype": "float32", "units": 160, "activation": "linear", "use_bias": true}, "inbound_nodes": [[["flatten_2", 0, 0, {}]]]},
 {"name": "add_1", "class_name": "Add", "config": {"name": "add_1", "trainable": true, "dtype": "float32"}, "inbound_nodes": [[["fc_1", 0, 0, {}], ["fc_2", 0, 0, {}]]]},
 {"name": "activation_1", "class_name": "Activation", "config": {"name": "activation_1", "trainable": true, "dtype": "float32", "activation": "relu"}, "inbound_nodes": [[["add_1", 0, 0, {}]]]},
 {"name": "output", "class_name": "Dense", "config": {"name": "output", "trainable": true, "dtype": "float32", "units": 1283, "activation": "softmax", "use_bias": true}, "inbound_nodes": [[["activation_1", 0, 0, {}]]]}],
 "input_layers": [["input", 0, 0]], "output_layers": [["output", 0, 0]]}, "keras_version": "2.3.1", "backend": "tensorflow"})";

// tf.keras 2.21's to_json() of a functional model with batch normalization, a residual Add,
// a Concatenate and asymmetric zero padding (trimmed of initializers).
const char* tfkeras_functional = R"({"class_name": "Functional", "config": {"name": "model", "trainable": true, "layers": [
 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 8, 8, 3], "dtype": "float32", "sparse": false, "ragged": false, "name": "inp", "optional": false}, "registered_name": null, "name": "inp", "inbound_nodes": []},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c1", "trainable": true, "dtype": "float32", "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true}, "registered_name": null, "build_config": {"input_shape": [null, 8, 8, 3]}, "name": "c1", "inbound_nodes": [[["inp", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "bn", "trainable": true, "dtype": "float32", "axis": [3], "momentum": 0.99, "epsilon": 0.002, "center": true, "scale": false}, "registered_name": null, "build_config": {"input_shape": [null, 8, 8, 4]}, "name": "bn", "inbound_nodes": [[["c1", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c2", "trainable": true, "dtype": "float32", "filters": 4, "kernel_size": [1, 1], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "tanh", "use_bias": false}, "registered_name": null, "build_config": {"input_shape": [null, 8, 8, 4]}, "name": "c2", "inbound_nodes": [[["bn", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "Add", "config": {"name": "add", "trainable": true, "dtype": "float32"}, "registered_name": null, "name": "add", "inbound_nodes": [[["bn", 0, 0, {}], ["c2", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "Concatenate", "config": {"name": "cat", "trainable": true, "dtype": "float32", "axis": -1}, "registered_name": null, "name": "cat", "inbound_nodes": [[["add", 0, 0, {}], ["c1", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "ZeroPadding2D", "config": {"name": "zp", "trainable": true, "dtype": "float32", "padding": [[1, 0], [2, 1]], "data_format": "channels_last"}, "registered_name": null, "name": "zp", "inbound_nodes": [[["cat", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "AveragePooling2D", "config": {"name": "ap", "trainable": true, "dtype": "float32", "pool_size": [3, 2], "padding": "same", "strides": [1, 2], "data_format": "channels_last"}, "registered_name": null, "name": "ap", "inbound_nodes": [[["zp", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "GlobalMaxPooling2D", "config": {"name": "gp", "trainable": true, "dtype": "float32", "data_format": "channels_last", "keepdims": false}, "registered_name": null, "name": "gp", "inbound_nodes": [[["ap", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "drop", "trainable": true, "dtype": "float32", "rate": 0.5, "noise_shape": null, "seed": null}, "registered_name": null, "name": "drop", "inbound_nodes": [[["gp", 0, 0, {}]]]},
 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "out", "trainable": true, "dtype": "float32", "units": 5, "activation": "elu", "use_bias": true}, "registered_name": null, "build_config": {"input_shape": [null, 8]}, "name": "out", "inbound_nodes": [[["drop", 0, 0, {}]]]}],
 "input_layers": [["inp", 0, 0]], "output_layers": [["out", 0, 0]]}, "keras_version": "2.21.0", "backend": "tensorflow"})";

// Keras 3.15's to_json() of the same kind of model (dtype policies, keras tensors as inputs).
const char* keras3_functional = R"({"module": "keras.src.models.functional", "class_name": "Functional", "config": {"name": "functional", "trainable": true, "layers": [
 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3], "dtype": "float32", "sparse": false, "ragged": false, "name": "inp", "optional": false}, "registered_name": null, "name": "inp", "inbound_nodes": []},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c1", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "sigmoid", "use_bias": true}, "registered_name": null, "build_config": {"input_shape": [null, 8, 8, 3]}, "name": "c1", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 8, 8, 3], "dtype": "float32", "keras_history": ["inp", 0, 0]}}], "kwargs": {}}]},
 {"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "bn", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true, "synchronized": false, "renorm": false}, "registered_name": null, "name": "bn", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4, 4, 4], "dtype": "float32", "keras_history": ["c1", 0, 0]}}], "kwargs": {"mask": null}}]},
 {"module": "keras.layers", "class_name": "Add", "config": {"name": "add", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}}, "registered_name": null, "name": "add", "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"shape": [null, 4, 4, 4], "dtype": "float32", "keras_history": ["bn", 0, 0]}}, {"class_name": "__keras_tensor__", "config": {"shape": [null, 4, 4, 4], "dtype": "float32", "keras_history": ["c1", 0, 0]}}]], "kwargs": {}}]},
 {"module": "keras.layers", "class_name": "GlobalAveragePooling2D", "config": {"name": "gap", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "data_format": "channels_last", "keepdims": false}, "registered_name": null, "name": "gap", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4, 4, 4], "dtype": "float32", "keras_history": ["add", 0, 0]}}], "kwargs": {}}]},
 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "out", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 3, "activation": "softmax", "use_bias": true, "quantization_config": null}, "registered_name": null, "name": "out", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32", "keras_history": ["gap", 0, 0]}}], "kwargs": {}}]}],
 "input_layers": ["inp", 0, 0], "output_layers": ["out", 0, 0]}, "registered_name": "Functional", "build_config": {"input_shape": null}, "compile_config": {}})";

// Keras 3.15's to_json() of a Sequential model (its InputLayer listed, not in model.layers).
const char* keras3_sequential = R"({"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "layers": [
 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 6, 6, 1], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_layer", "optional": false}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "sc", "trainable": true, "filters": 2, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": true}, "registered_name": null},
 {"module": "keras.layers", "class_name": "LeakyReLU", "config": {"name": "lr", "trainable": true, "negative_slope": 0.2}, "registered_name": null},
 {"module": "keras.layers", "class_name": "ZeroPadding2D", "config": {"name": "zp", "trainable": true, "padding": [1, 2], "data_format": "channels_last"}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "sf", "trainable": true, "data_format": "channels_last"}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "sd", "trainable": true, "units": 3, "activation": "linear", "use_bias": true, "quantization_config": null}, "registered_name": null},
 {"module": "keras.layers", "class_name": "ReLU", "config": {"name": "rl", "trainable": true, "max_value": null, "negative_slope": 0.0, "threshold": 0.0}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Softmax", "config": {"name": "sm", "trainable": true, "axis": -1}, "registered_name": null}],
 "build_input_shape": [null, 6, 6, 1]}, "registered_name": null, "build_config": {"input_shape": [null, 6, 6, 1]}, "compile_config": {}})";

std::vector<std::string> names(const ModelSpec& s) {
    std::vector<std::string> n;
    for (const auto& l : s.layers) n.push_back(l.name);
    return n;
}

const std::string src = "model.h5: attribute /model_config";

/// tf.keras 2.x functional config: input 8x8x3 -> the given layer (reading the input) -> Flatten -> Dense.
std::string with_layer(const std::string& class_name, json config, const std::string& name = "odd") {
    json base = json::parse(tfkeras_functional);
    config["name"] = name;
    json layers = json::array();
    layers.push_back(base["config"]["layers"][0]);
    layers.push_back({{"class_name", class_name}, {"config", config}, {"name", name},
                      {"inbound_nodes", json::array({json::array({json::array({"inp", 0, 0, json::object()})})})}});
    layers.push_back({{"class_name", "Flatten"}, {"config", {{"name", "fl"}}}, {"name", "fl"},
                      {"inbound_nodes", json::array({json::array({json::array({name, 0, 0, json::object()})})})}});
    layers.push_back({{"class_name", "Dense"}, {"config", {{"name", "d"}, {"units", 2}, {"activation", "linear"}}}, {"name", "d"},
                      {"inbound_nodes", json::array({json::array({json::array({"fl", 0, 0, json::object()})})})}});
    base["config"]["layers"] = layers;
    base["config"]["output_layers"] = json::array({json::array({"d", 0, 0})});
    return base.dump();
}

json conv_config() {
    return {{"filters", 2}, {"kernel_size", {3, 3}}, {"strides", {1, 1}}, {"padding", "valid"}, {"data_format", "channels_last"},
            {"dilation_rate", {1, 1}}, {"groups", 1}, {"activation", "relu"}, {"use_bias", true}};
}

}  // namespace

TEST_CASE("keras config: Keras 2.3 functional (Model) DeepID") {
    const ModelSpec s = parse_keras_config(keras23_deepid, src);
    CHECK(s.source == src);
    CHECK(s.input == "input");
    CHECK(s.output == "output");
    CHECK(names(s) == std::vector<std::string>{"input", "conv_1", "pool_1", "flatten_1", "conv_4", "flatten_2", "fc_1", "fc_2",
                                               "add_1", "activation_1", "output"});
    const LayerSpec& in = *s.find("input");
    REQUIRE(in.input_shape);
    CHECK(*in.input_shape == ImageShape{55, 47, 3});
    CHECK(in.inputs.empty());
    const LayerSpec& c1 = *s.find("conv_1");
    CHECK(c1.class_name == "Conv2D");
    CHECK(c1.units == 20);
    CHECK(c1.kernel_size == std::array<std::size_t, 2>{4, 4});
    CHECK(c1.strides == std::array<std::size_t, 2>{1, 1});
    CHECK(c1.activation == "relu");
    CHECK(c1.padding == "valid");
    CHECK(c1.use_bias);
    CHECK(c1.inputs == std::vector<std::string>{"input"});
    CHECK(s.find("pool_1")->pool_size == std::array<std::size_t, 2>{2, 2});
    CHECK(s.find("conv_4")->inputs == std::vector<std::string>{"pool_1"});
    CHECK(s.find("add_1")->inputs == std::vector<std::string>{"fc_1", "fc_2"});
    CHECK(s.find("activation_1")->activation == "relu");
    CHECK(s.find("fc_1")->activation == "linear");
    CHECK(s.find("output")->units == 1283);
    CHECK(s.find("output")->activation == "softmax");
}

TEST_CASE("keras config: tf.keras 2.x functional") {
    const ModelSpec s = parse_keras_config(tfkeras_functional, src);
    CHECK(names(s) == std::vector<std::string>{"inp", "c1", "bn", "c2", "add", "cat", "zp", "ap", "gp", "drop", "out"});
    CHECK(s.find("c1")->padding == "same");
    const LayerSpec& bn = *s.find("bn");
    CHECK(bn.epsilon == doctest::Approx(0.002));
    CHECK(bn.center);
    CHECK_FALSE(bn.scale);
    CHECK(s.find("c2")->activation == "tanh");
    CHECK_FALSE(s.find("c2")->use_bias);
    CHECK(s.find("cat")->inputs == std::vector<std::string>{"add", "c1"});
    CHECK(s.find("zp")->zero_padding == std::array<std::size_t, 4>{1, 0, 2, 1});
    const LayerSpec& ap = *s.find("ap");
    CHECK(ap.pool_size == std::array<std::size_t, 2>{3, 2});
    CHECK(ap.strides == std::array<std::size_t, 2>{1, 2});
    CHECK(ap.padding == "same");
    CHECK(s.find("drop")->class_name == "Dropout");
    CHECK(s.find("out")->activation == "elu");
    CHECK(s.find("out")->alpha == 1.0f);
}

TEST_CASE("keras config: Keras 3 functional and sequential") {
    const ModelSpec f = parse_keras_config(keras3_functional, src);
    CHECK(names(f) == std::vector<std::string>{"inp", "c1", "bn", "add", "gap", "out"});
    CHECK(*f.find("inp")->input_shape == ImageShape{8, 8, 3});
    CHECK(f.find("c1")->strides == std::array<std::size_t, 2>{2, 2});
    CHECK(f.find("c1")->activation == "sigmoid");
    CHECK(f.find("bn")->inputs == std::vector<std::string>{"c1"});
    CHECK(f.find("add")->inputs == std::vector<std::string>{"bn", "c1"});
    CHECK(f.output == "out");

    const ModelSpec s = parse_keras_config(keras3_sequential, src);
    CHECK(names(s) == std::vector<std::string>{"input_layer", "sc", "lr", "zp", "sf", "sd", "rl", "sm"});
    CHECK(*s.find("input_layer")->input_shape == ImageShape{6, 6, 1});
    CHECK(s.find("sc")->inputs == std::vector<std::string>{"input_layer"});
    CHECK(s.find("sm")->inputs == std::vector<std::string>{"rl"});
    CHECK(s.find("lr")->alpha == doctest::Approx(0.2));
    CHECK(s.find("zp")->zero_padding == std::array<std::size_t, 4>{1, 1, 2, 2});
    CHECK(s.find("rl")->class_name == "ReLU");
    CHECK(s.find("rl")->activation == "relu");
    CHECK(s.find("sm")->activation == "softmax");
    CHECK(s.input == "input_layer");
    CHECK(s.output == "sm");
}

TEST_CASE("keras config: Sequential input from the first layer, a synthesised InputLayer") {
    SUBCASE("Keras 2.3: config is the list of layers, batch_input_shape on the first") {
        const char* cfg = R"({"class_name": "Sequential", "config": [
          {"class_name": "Conv2D", "config": {"name": "conv2d_1", "batch_input_shape": [null, 28, 28, 1], "filters": 3, "kernel_size": 5, "strides": 2, "padding": "valid", "activation": "relu", "use_bias": true}},
          {"class_name": "LeakyReLU", "config": {"name": "leaky", "alpha": 0.1}},
          {"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": 3}},
          {"class_name": "Flatten", "config": {"name": "flatten_1"}},
          {"class_name": "Dense", "config": {"name": "dense_1", "units": 10, "activation": "softmax"}}]})";
        const ModelSpec s = parse_keras_config(cfg, src);
        CHECK(names(s) == std::vector<std::string>{"conv2d_1_input", "conv2d_1", "leaky", "zp", "flatten_1", "dense_1"});
        CHECK(s.layers[0].class_name == "InputLayer");
        CHECK(*s.layers[0].input_shape == ImageShape{28, 28, 1});
        CHECK(s.input == "conv2d_1_input");
        CHECK(s.find("conv2d_1")->kernel_size == std::array<std::size_t, 2>{5, 5});
        CHECK(s.find("conv2d_1")->strides == std::array<std::size_t, 2>{2, 2});
        CHECK(s.find("leaky")->alpha == doctest::Approx(0.1));
        CHECK(s.find("zp")->zero_padding == std::array<std::size_t, 4>{3, 3, 3, 3});
        CHECK(s.find("dense_1")->use_bias);
    }
    SUBCASE("Keras 2.3: {name, layers}") {
        const char* cfg = R"({"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
          {"class_name": "Dense", "config": {"name": "d", "batch_input_shape": [null, 4, 4, 2], "units": 3}}]}})";
        const ModelSpec s = parse_keras_config(cfg, src);
        CHECK(names(s) == std::vector<std::string>{"d_input", "d"});
        CHECK(s.find("d")->activation == "linear");
    }
    SUBCASE("Keras 3: the model's build_input_shape") {
        json doc = json::parse(keras3_sequential);
        doc["config"]["layers"].erase(0);
        const ModelSpec s = parse_keras_config(doc.dump(), src);
        CHECK(names(s).front() == "sc_input");
        CHECK(*s.layers[0].input_shape == ImageShape{6, 6, 1});
    }
}

TEST_CASE("keras config: refusals name the source, the layer and its class") {
    const std::string supported =
        "InputLayer, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, ZeroPadding2D, "
        "Flatten, Dense, Dropout, Activation, ReLU, LeakyReLU, Softmax, BatchNormalization, Add, Concatenate";
    auto refused = [&](const std::string& cfg, const std::string& message) {
        CHECK_THROWS_WITH_AS(parse_keras_config(cfg, src), message.c_str(), format_error);
    };
    refused(with_layer("LSTM", {{"units", 4}}, "lstm_1"),
            src + ": layer lstm_1 (LSTM) is not supported by prunedef; supported: " + supported);
    json c = conv_config();
    c["data_format"] = "channels_first";
    refused(with_layer("Conv2D", c),
            src + ": layer odd (Conv2D): data_format channels_first is not supported (prunedef computes channels_last, "
                  "(height, width, channels))");
    c = conv_config();
    c["dilation_rate"] = {2, 2};
    refused(with_layer("Conv2D", c), src + ": layer odd (Conv2D): dilation_rate [2,2] is not supported (only 1)");
    c = conv_config();
    c["groups"] = 2;
    refused(with_layer("Conv2D", c), src + ": layer odd (Conv2D): groups 2 is not supported (only 1)");
    c = conv_config();
    c["padding"] = "causal";
    refused(with_layer("Conv2D", c), src + ": layer odd (Conv2D): padding 'causal' is not supported (valid or same)");
    c = conv_config();
    c["activation"] = "swish";
    refused(with_layer("Conv2D", c),
            src + ": layer odd (Conv2D): activation swish is not supported; supported: linear, relu, sigmoid, tanh, softmax, elu");
    c = conv_config();
    c["activation"] = {{"module", "builtins"}, {"class_name", "function"}, {"config", "my_act"}, {"registered_name", "function"}};
    refused(with_layer("Conv2D", c),
            src + ": layer odd (Conv2D): activation " + c["activation"].dump() +
                " is not supported; supported: linear, relu, sigmoid, tanh, softmax, elu");
    refused(with_layer("Activation", {{"activation", "selu"}}),
            src + ": layer odd (Activation): activation selu is not supported; supported: linear, relu, sigmoid, tanh, softmax, elu");
    refused(with_layer("ReLU", {{"max_value", 6.0}, {"negative_slope", 0.0}, {"threshold", 0.0}}),
            src + ": layer odd (ReLU): only the plain ReLU (max_value null, negative_slope 0, threshold 0) is supported; "
                  "found max_value 6.0, negative_slope 0.000000, threshold 0.000000");
    refused(with_layer("Softmax", {{"axis", 1}}), src + ": layer odd (Softmax): axis 1 is not supported (only -1)");
    refused(with_layer("BatchNormalization", {{"axis", 2}}),
            src + ": layer odd (BatchNormalization): axis 2 is not supported (only the channel axis: -1, or 3 of an "
                  "image, 1 of a vector)");
    refused(with_layer("GlobalAveragePooling2D", {{"keepdims", true}}),
            src + ": layer odd (GlobalAveragePooling2D): keepdims true is not supported");
    refused(with_layer("Sequential", {{"layers", json::array()}}, "inner"),
            src + ": layer inner (Sequential): nested models are not supported by prunedef (a model used as a layer); save "
                  "the model with its layers in one flat model");

    // Concatenate on another axis (two inputs)
    {
        json doc = json::parse(tfkeras_functional);
        doc["config"]["layers"][5]["config"]["axis"] = 2;
        refused(doc.dump(), src + ": layer cat (Concatenate): axis 2 is not supported (only the channel axis: -1, or 3 "
                                  "of an image, 1 of a vector)");
    }
    // a layer used twice (shared): two inbound nodes
    {
        json doc = json::parse(tfkeras_functional);
        doc["config"]["layers"][3]["inbound_nodes"].push_back(json::array({json::array({"c1", 0, 0, json::object()})}));
        refused(doc.dump(),
                src + ": layer c2 (Conv2D): the layer is used 2 times (several inbound nodes); shared layers are not supported");
    }
    // two model inputs, two outputs
    {
        json doc = json::parse(tfkeras_functional);
        doc["config"]["output_layers"].push_back(json::array({"c2", 0, 0}));
        refused(doc.dump(), src + ": the model has 2 outputs ([[\"out\",0,0],[\"c2\",0,0]]); prunedef supports models with "
                                  "one input and one output");
        json k3 = json::parse(keras3_functional);
        k3["config"]["input_layers"] = json::array({json::array({"inp", 0, 0}), json::array({"inp2", 0, 0})});
        refused(k3.dump(), src + ": the model has 2 inputs ([[\"inp\",0,0],[\"inp2\",0,0]]); prunedef supports models with "
                                 "one input and one output");
    }
    // a non-image input
    {
        json doc = json::parse(keras3_sequential);
        doc["config"]["layers"][0]["config"]["batch_shape"] = {nullptr, 10};
        refused(doc.dump(), src + ": layer input_layer (InputLayer): input shape [null,10] is not an image (expected [null, "
                                  "height, width, channels])");
    }
    // an input no layer provides
    {
        json doc = json::parse(tfkeras_functional);
        doc["config"]["layers"][3]["inbound_nodes"] = json::array({json::array({json::array({"ghost", 0, 0, json::object()})})});
        refused(doc.dump(), src + ": layer c2 (Conv2D) reads layer ghost, which the model does not have");
    }
    // Keras 3: a second call's node
    {
        json doc = json::parse(keras3_functional);
        doc["config"]["layers"][2]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = {"c1", 1, 0};
        refused(doc.dump(), src + ": layer bn (BatchNormalization): reads node 1 of layer c1, a layer used more than once "
                                  "(shared layers are not supported)");
    }
    refused(R"({"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "d", "units": 3}}]})",
            src + ": the Sequential model states no input shape (no InputLayer, no batch_input_shape on its first layer d)");
    refused(R"({"class_name": "MyModel", "config": {}})",
            src + ": model class MyModel is not supported (expected a Sequential, Functional or Model config; subclassed "
                  "models have no config prunedef can read)");
    refused(R"([1, 2])", src + ": not a Keras model config (expected {\"class_name\": ..., \"config\": ...})");
    CHECK_THROWS_AS(parse_keras_config("{\"class_name\": ", src), format_error);
    CHECK_THROWS_WITH_AS(parse_keras_config("", src), doctest::Contains((src + ": model config is not valid JSON").c_str()), format_error);
}

}  // namespace test_keras_config
