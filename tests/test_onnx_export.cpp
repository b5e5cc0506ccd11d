// ONNX export (io/onnx_export.hpp): the graph's structure, checked with ONNX's own checker; the
// values are checked against ONNX Runtime by tests/keras/onnx_checks.py.
#include <doctest/doctest.h>

#if PRUNEDEF_TEST_ONNX
#include "tiny_deepid.hpp"

#include <prunedef/io/onnx_export.hpp>
#include <prunedef/prunedef.hpp>

#include <onnx/checker.h>

#include <map>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_onnx_export {

using namespace prunedef;

namespace {

std::map<std::string, int> op_counts(const onnx::ModelProto& m) {
    std::map<std::string, int> n;
    for (const auto& node : m.graph().node()) ++n[node.op_type()];
    return n;
}

const onnx::TensorProto& initializer(const onnx::ModelProto& m, const std::string& name) {
    for (const auto& t : m.graph().initializer())
        if (t.name() == name) return t;
    FAIL("no initializer " << name);
    throw 0;
}

const onnx::NodeProto& node_named(const onnx::ModelProto& m, const std::string& name) {
    for (const auto& n : m.graph().node())
        if (n.name() == name) return n;
    FAIL("no node " << name);
    throw 0;
}

std::vector<std::int64_t> ints_attr(const onnx::NodeProto& n, const std::string& name) {
    for (const auto& a : n.attribute())
        if (a.name() == name) return {a.ints().begin(), a.ints().end()};
    return {};
}
std::int64_t int_attr(const onnx::NodeProto& n, const std::string& name) {
    for (const auto& a : n.attribute())
        if (a.name() == name) return a.i();
    return -1;
}

LayerSpec layer(const std::string& name, const std::string& cls, std::vector<std::string> inputs) {
    LayerSpec l;
    l.name = name;
    l.class_name = cls;
    l.inputs = std::move(inputs);
    return l;
}

ModelSpec spec_of(std::vector<LayerSpec> layers, const ImageShape& input) {
    ModelSpec s;
    LayerSpec in = layer("in", "InputLayer", {});
    in.input_shape = input;
    s.layers.push_back(in);
    for (auto& l : layers) s.layers.push_back(l);
    s.input = "in";
    s.output = s.layers.back().name;
    s.source = "test";
    return s;
}

WeightArray array(const std::string& name, std::vector<std::size_t> dims) {
    WeightArray w{name, dims, {}};
    w.values.resize(w.element_count());
    for (std::size_t i = 0; i < w.values.size(); ++i) w.values[i] = static_cast<float>(i) * 0.25f - 1.0f;
    return w;
}

}  // namespace

TEST_CASE("onnx export: DeepID as B, opset 13, NCHW input, scale folded in, pre-softmax logits") {
    DeepID net = prunedef_test::tiny_deepid(3);
    net.bind({55, 47, 3});
    net.set_input_scale(1.0f / 255.0f);
    const onnx::ModelProto m = onnx_model(net);
    CHECK_NOTHROW(onnx::checker::check_model(m));
    REQUIRE(m.opset_import_size() == 1);
    CHECK(m.opset_import(0).version() == 13);
    const auto ops = op_counts(m);
    CHECK(ops.at("Conv") == 4);
    CHECK(ops.at("MaxPool") == 3);
    CHECK(ops.at("Gemm") == 3);
    CHECK(ops.at("Add") == 1);
    CHECK(ops.at("Mul") == 1);  // the input scale
    CHECK(ops.count("Softmax") == 0);
    CHECK(ops.count("Transpose") == 0);  // both Flattens folded into fc_1's and fc_2's rows
    const auto& in = m.graph().input(0).type().tensor_type().shape();
    REQUIRE(in.dim_size() == 4);
    CHECK(in.dim(1).dim_value() == 3);
    CHECK(in.dim(2).dim_value() == 55);
    CHECK(in.dim(3).dim_value() == 47);
    CHECK(m.graph().output(0).name() == "logits");
    CHECK(m.graph().output(0).type().tensor_type().shape().dim(1).dim_value() == 5);
    bool layout = false;
    for (const auto& p : m.metadata_props()) layout |= p.key() == "prunedef.input_layout" && p.value().find("NCHW") == 0;
    CHECK(layout);
    CHECK(initializer(m, "input_scale").float_data(0) == doctest::Approx(1.0 / 255));
}

TEST_CASE("onnx export: G of B and B' with pruned conv_3 channels has the trunk once") {
    DeepID b = prunedef_test::tiny_deepid(5);
    b.bind({55, 47, 3});
    const DeepID bprime = prune_channels(b, ChannelMask::from_order(2, {1}, 1));
    const ModelWeights wb = collect_weights(b), wbp = collect_weights(bprime);
    const ModelSpec spec = deepid_model_spec(wb, {55, 47, 3});
    const onnx::ModelProto g = onnx_goodnet_model(spec, wb, wbp, {55, 47, 3}, 1.0f);
    CHECK_NOTHROW(onnx::checker::check_model(g));
    const auto ops = op_counts(g);
    CHECK(ops.at("Conv") == 6);     // conv_1, conv_2 once; conv_3, conv_4 for B and for B'
    CHECK(ops.at("MaxPool") == 4);  // pool_1, pool_2 once; pool_3 twice
    CHECK(ops.at("Gemm") == 6);
    CHECK(ops.at("ArgMax") == 2);
    CHECK(ops.at("Equal") == 1);
    CHECK(ops.at("Where") == 1);
    CHECK(ops.count("Mul") == 0);  // scale 1: nothing to multiply
    const auto& am = node_named(g, "bprime_class");
    CHECK(int_attr(am, "keepdims") == 0);
    CHECK(int_attr(am, "select_last_index") == 0);  // the first index on ties
    REQUIRE(g.graph().output_size() == 3);
    CHECK(g.graph().output(0).name() == "class");
    CHECK(g.graph().output(0).type().tensor_type().elem_type() == onnx::TensorProto::INT64);
    CHECK(initializer(g, "backdoor_detected").int64_data(0) == 5);
    // B' reads B's pool_2
    CHECK(node_named(g, "bprime/conv_3/conv").input(0) == "b/pool_2");

    // B' with every layer changed (fine-tuned everywhere): two whole networks
    DeepID other = prunedef_test::tiny_deepid(6);
    const onnx::ModelProto two = onnx_goodnet_model(spec, wb, collect_weights(other), {55, 47, 3}, 1.0f);
    CHECK(op_counts(two).at("Conv") == 8);
}

TEST_CASE("onnx export: a Flatten read by a Dense layer permutes its rows from Keras' HWC to CHW order") {
    const ModelSpec spec = spec_of({layer("f", "Flatten", {"in"}), [] {
                                        LayerSpec d = layer("d", "Dense", {"f"});
                                        d.units = 2;
                                        return d;
                                    }()},
                                   {2, 3, 4});
    ModelWeights w;
    w["d"] = {array("kernel", {24, 2}), array("bias", {2})};
    const onnx::ModelProto m = onnx_model(spec, w, {2, 3, 4}, 1.0f);
    CHECK_NOTHROW(onnx::checker::check_model(m));
    const onnx::TensorProto& k = initializer(m, "b/d/kernel");
    const std::vector<float>& keras = w["d"][0].values;
    for (std::size_t h = 0; h < 2; ++h)
        for (std::size_t x = 0; x < 3; ++x)
            for (std::size_t c = 0; c < 4; ++c)
                for (std::size_t u = 0; u < 2; ++u)
                    CHECK(k.float_data(int(((c * 2 + h) * 3 + x) * 2 + u)) == keras[((h * 3 + x) * 4 + c) * 2 + u]);
    // read by something else than Dense: a Transpose to NHWC first, no permutation
    const ModelSpec soft = spec_of({layer("f", "Flatten", {"in"}), layer("s", "Softmax", {"f"}), [] {
                                        LayerSpec d = layer("d", "Dense", {"s"});
                                        d.units = 2;
                                        return d;
                                    }()},
                                   {2, 3, 4});
    const onnx::ModelProto t = onnx_model(soft, w, {2, 3, 4}, 1.0f);
    CHECK(op_counts(t).at("Transpose") == 1);
    CHECK(initializer(t, "b/d/kernel").float_data(5) == keras[5]);
}

TEST_CASE("onnx export: 'same' pooling and strided convolution get Keras' pads; average pooling excludes them") {
    LayerSpec conv = layer("c", "Conv2D", {"in"});
    conv.units = 2;
    conv.kernel_size = {3, 3};
    conv.strides = {2, 2};
    conv.padding = "same";
    conv.activation = "elu";
    LayerSpec pool = layer("p", "AveragePooling2D", {"c"});
    pool.pool_size = {2, 2};
    pool.strides = {2, 2};
    pool.padding = "same";
    LayerSpec pad = layer("z", "ZeroPadding2D", {"p"});
    pad.zero_padding = {1, 0, 0, 2};
    LayerSpec bn = layer("bn", "BatchNormalization", {"z"});
    LayerSpec dense = layer("d", "Dense", {"g"});
    dense.units = 3;
    const ModelSpec spec = spec_of({conv, pool, pad, bn, layer("g", "GlobalAveragePooling2D", {"bn"}), dense}, {6, 5, 1});
    ModelWeights w;
    w["c"] = {array("kernel", {3, 3, 1, 2}), array("bias", {2})};
    w["bn"] = {array("gamma", {2}), array("beta", {2}), array("moving_mean", {2}), array("moving_variance", {2})};
    w["bn"][3].values = {0.5f, 2.0f};
    w["d"] = {array("kernel", {2, 3}), array("bias", {3})};
    const onnx::ModelProto m = onnx_model(spec, w, {6, 5, 1}, 1.0f);
    CHECK_NOTHROW(onnx::checker::check_model(m));
    // conv: 6x5 stride 2 'same' -> 3x3; total pad rows (3-1)*2+3-6 = 1 (bottom), columns (3-1)*2+3-5 = 2 (1, 1)
    CHECK(ints_attr(node_named(m, "b/c/conv"), "pads") == std::vector<std::int64_t>{0, 1, 1, 1});
    // pool: 3x3 by 2 'same' -> 2x2; one row and column at the end
    const auto& p = node_named(m, "b/p");
    CHECK(p.op_type() == "AveragePool");
    CHECK(ints_attr(p, "pads") == std::vector<std::int64_t>{0, 0, 1, 1});
    CHECK(int_attr(p, "count_include_pad") == 0);
    const auto ops = op_counts(m);
    CHECK(ops.at("Elu") == 1);
    CHECK(ops.at("Pad") == 1);
    CHECK(ops.at("BatchNormalization") == 1);
    CHECK(ops.at("GlobalAveragePool") == 1);
}

TEST_CASE("onnx export: layers it cannot write are refused with their name") {
    ModelWeights w;
    w["d"] = {array("kernel", {4, 2}), array("bias", {2})};
    LayerSpec dense = layer("d", "Dense", {"in"});
    dense.units = 2;
    // Dense on an image
    CHECK_THROWS_WITH_AS(onnx_model(spec_of({dense}, {2, 2, 4}), w, {2, 2, 4}, 1.0f),
                         doctest::Contains("layer d (Dense): Dense on an image"), argument_error);
    // a class prunedef does not compute
    LayerSpec lstm = layer("rnn", "LSTM", {"in"});
    CHECK_THROWS_WITH_AS(onnx_model(spec_of({lstm}, {2, 2, 4}), {}, {2, 2, 4}, 1.0f),
                         doctest::Contains("layer rnn (LSTM): class LSTM is not supported"), argument_error);
    // an input of another shape than the model states
    CHECK_THROWS_AS(onnx_model(spec_of({dense}, {2, 2, 4}), w, {3, 2, 4}, 1.0f), shape_error);
    // a scale that is not a positive number
    LayerSpec flat = layer("f", "Flatten", {"in"});
    dense.inputs = {"f"};
    w["d"][0] = array("kernel", {16, 2});
    CHECK_THROWS_AS(onnx_model(spec_of({flat, dense}, {2, 2, 4}), w, {2, 2, 4}, 0.0f), argument_error);
    CHECK_NOTHROW(onnx_model(spec_of({flat, dense}, {2, 2, 4}), w, {2, 2, 4}, 1.0f));
}

}  // namespace test_onnx_export

#else
TEST_CASE("onnx export: not built (prunedef::onnx needs libonnx-dev and libprotobuf-dev)" * doctest::skip(true)) {}
#endif
