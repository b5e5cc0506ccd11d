// ONNX import (io/onnx_import.hpp): small ONNX graphs built here with ONNX's protobuf classes, run
// by prunedef's GraphNetwork, against a naive double-precision interpreter of the ONNX graph
// itself (NCHW, no layout conversion); the exporter's round trip; the Keras configuration of an
// imported spec (io/keras_config_writer.hpp); refusals naming the node.
#include <doctest/doctest.h>

#if PRUNEDEF_TEST_ONNX
#include "tiny_deepid.hpp"

#include <prunedef/io/keras_config_writer.hpp>
#include <prunedef/io/onnx_export.hpp>
#include <prunedef/io/onnx_import.hpp>
#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_onnx_import {

using namespace prunedef;

namespace {

using i64 = std::int64_t;

/// Builds an ONNX graph: one float input (N, C, H, W), nodes, float initializers.
struct GraphMaker {
    onnx::ModelProto m;
    std::mt19937 rng{7};

    GraphMaker(i64 c, i64 h, i64 w, int opset = 13) {
        m.set_ir_version(7);
        auto* o = m.add_opset_import();
        o->set_domain("");
        o->set_version(opset);
        auto* in = m.mutable_graph()->add_input();
        in->set_name("x");
        auto* t = in->mutable_type()->mutable_tensor_type();
        t->set_elem_type(onnx::TensorProto::FLOAT);
        t->mutable_shape()->add_dim()->set_dim_param("N");
        for (i64 d : {c, h, w}) t->mutable_shape()->add_dim()->set_dim_value(d);
    }
    std::string init(const std::string& name, std::vector<i64> dims, float lo = -0.5f, float hi = 0.5f) {
        auto* t = m.mutable_graph()->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::FLOAT);
        std::size_t n = 1;
        for (auto d : dims) {
            t->add_dims(d);
            n *= std::size_t(d);
        }
        std::uniform_real_distribution<float> u(lo, hi);
        for (std::size_t i = 0; i < n; ++i) t->add_float_data(u(rng));
        return name;
    }
    std::string init_int64(const std::string& name, std::vector<i64> values) {
        auto* t = m.mutable_graph()->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::INT64);
        t->add_dims(i64(values.size()));
        for (auto v : values) t->add_int64_data(v);
        return name;
    }
    onnx::NodeProto& node(const std::string& op, std::vector<std::string> in, const std::string& out) {
        auto* n = m.mutable_graph()->add_node();
        n->set_op_type(op);
        n->set_name("/" + out + "/" + op);
        for (auto& i : in) n->add_input(i);
        n->add_output(out);
        return *n;
    }
    static void ints(onnx::NodeProto& n, const std::string& name, std::vector<i64> v) {
        auto* a = n.add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (auto x : v) a->add_ints(x);
    }
    static void integer(onnx::NodeProto& n, const std::string& name, i64 v) {
        auto* a = n.add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    }
    static void real(onnx::NodeProto& n, const std::string& name, float v) {
        auto* a = n.add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(v);
    }
    void output(const std::string& name) { m.mutable_graph()->add_output()->set_name(name); }
    /// Conv with weight "<out>.weight" (O, I, k, k) and bias.
    onnx::NodeProto& conv(const std::string& x, const std::string& out, i64 in_c, i64 out_c, i64 k, std::vector<i64> pads,
                          std::vector<i64> strides = {1, 1}) {
        auto& n = node("Conv", {x, init(out + ".weight", {out_c, in_c, k, k}), init(out + ".bias", {out_c})}, out);
        ints(n, "kernel_shape", {k, k});
        ints(n, "pads", pads);
        ints(n, "strides", strides);
        return n;
    }
    onnx::NodeProto& bn(const std::string& x, const std::string& out, i64 c) {
        auto& n = node("BatchNormalization",
                       {x, init(out + ".weight", {c}, 0.5f, 1.5f), init(out + ".bias", {c}), init(out + ".running_mean", {c}),
                        init(out + ".running_var", {c}, 0.5f, 2.0f)},
                       out);
        real(n, "epsilon", 1e-5f);
        return n;
    }
};

// ---- the naive reference: the ONNX graph interpreted in double, NCHW -------------------------

struct DT {  // a double tensor, dims with the batch first
    std::vector<std::size_t> d;
    std::vector<double> v;
};

std::vector<i64> attr_ints(const onnx::NodeProto& n, const std::string& name, std::vector<i64> fallback) {
    for (const auto& a : n.attribute())
        if (a.name() == name) return {a.ints().begin(), a.ints().end()};
    return fallback;
}
double attr_float(const onnx::NodeProto& n, const std::string& name, double fallback) {
    for (const auto& a : n.attribute())
        if (a.name() == name) return a.f();
    return fallback;
}
i64 attr_int(const onnx::NodeProto& n, const std::string& name, i64 fallback) {
    for (const auto& a : n.attribute())
        if (a.name() == name) return a.i();
    return fallback;
}

std::map<std::string, DT> reference_run(const onnx::ModelProto& m, const DT& x) {
    std::map<std::string, DT> t;
    for (const auto& i : m.graph().initializer()) {
        DT c;
        for (auto d : i.dims()) c.d.push_back(std::size_t(d));
        if (i.data_type() == onnx::TensorProto::FLOAT) c.v.assign(i.float_data().begin(), i.float_data().end());
        else c.v.assign(i.int64_data().begin(), i.int64_data().end());
        t[i.name()] = c;
    }
    t["x"] = x;
    for (const auto& n : m.graph().node()) {
        const std::string& op = n.op_type();
        const DT& a = t.at(n.input(0));
        DT y;
        if (op == "Conv" || op == "MaxPool" || op == "AveragePool") {
            const bool conv = op == "Conv";
            const std::size_t N = a.d[0], C = a.d[1], H = a.d[2], W = a.d[3];
            const auto ks = attr_ints(n, "kernel_shape", {});
            const auto s = attr_ints(n, "strides", {1, 1});
            const auto p = attr_ints(n, "pads", {0, 0, 0, 0});
            const std::size_t KH = std::size_t(ks[0]), KW = std::size_t(ks[1]);
            const DT* w = conv ? &t.at(n.input(1)) : nullptr;
            const std::size_t O = conv ? w->d[0] : C;
            const std::size_t OH = (H + std::size_t(p[0] + p[2]) - KH) / std::size_t(s[0]) + 1;
            const std::size_t OW = (W + std::size_t(p[1] + p[3]) - KW) / std::size_t(s[1]) + 1;
            const bool count_pad = attr_int(n, "count_include_pad", 0) != 0;
            y.d = {N, O, OH, OW};
            y.v.assign(N * O * OH * OW, 0);
            for (std::size_t b = 0; b < N; ++b)
                for (std::size_t o = 0; o < O; ++o)
                    for (std::size_t oh = 0; oh < OH; ++oh)
                        for (std::size_t ow = 0; ow < OW; ++ow) {
                            double acc = conv ? (n.input_size() > 2 ? t.at(n.input(2)).v[o] : 0.0)
                                              : (op == "MaxPool" ? -std::numeric_limits<double>::infinity() : 0.0);
                            std::size_t cnt = 0;
                            for (std::size_t kh = 0; kh < KH; ++kh)
                                for (std::size_t kw = 0; kw < KW; ++kw) {
                                    const long ih = long(oh * std::size_t(s[0]) + kh) - long(p[0]);
                                    const long iw = long(ow * std::size_t(s[1]) + kw) - long(p[1]);
                                    const bool inside = ih >= 0 && iw >= 0 && ih < long(H) && iw < long(W);
                                    if (!inside) {
                                        cnt += count_pad;
                                        continue;
                                    }
                                    ++cnt;
                                    if (conv) {
                                        for (std::size_t c = 0; c < C; ++c)
                                            acc += w->v[((o * C + c) * KH + kh) * KW + kw] *
                                                   a.v[((b * C + c) * H + std::size_t(ih)) * W + std::size_t(iw)];
                                    } else {
                                        const double val = a.v[((b * C + o) * H + std::size_t(ih)) * W + std::size_t(iw)];
                                        acc = op == "MaxPool" ? std::max(acc, val) : acc + val;
                                    }
                                }
                            if (op == "AveragePool") acc /= double(cnt);
                            y.v[((b * O + o) * OH + oh) * OW + ow] = acc;
                        }
        } else if (op == "BatchNormalization") {
            y = a;
            const std::size_t C = a.d[1], S = a.v.size() / (a.d[0] * C);
            const double eps = attr_float(n, "epsilon", 1e-5);
            for (std::size_t i = 0; i < a.v.size(); ++i) {
                const std::size_t c = (i / S) % C;
                y.v[i] = t.at(n.input(1)).v[c] * (a.v[i] - t.at(n.input(3)).v[c]) / std::sqrt(t.at(n.input(4)).v[c] + eps) +
                         t.at(n.input(2)).v[c];
            }
        } else if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "LeakyRelu") {
            y = a;
            const double alpha = attr_float(n, "alpha", 0.01);
            for (double& v : y.v)
                v = op == "Relu" ? std::max(v, 0.0) : op == "Sigmoid" ? 1 / (1 + std::exp(-v)) : op == "Tanh" ? std::tanh(v) : (v < 0 ? alpha * v : v);
        } else if (op == "Add" || op == "Mul") {
            const DT& b = t.at(n.input(1));
            y = a.v.size() >= b.v.size() ? a : b;
            const DT& small = a.v.size() >= b.v.size() ? b : a;
            for (std::size_t i = 0; i < y.v.size(); ++i)
                y.v[i] = op == "Add" ? y.v[i] + small.v[i % small.v.size()] : y.v[i] * small.v[i % small.v.size()];
        } else if (op == "GlobalAveragePool") {
            const std::size_t N = a.d[0], C = a.d[1], S = a.d[2] * a.d[3];
            y.d = {N, C, 1, 1};
            y.v.assign(N * C, 0);
            for (std::size_t i = 0; i < N * C; ++i) {
                for (std::size_t k = 0; k < S; ++k) y.v[i] += a.v[i * S + k];
                y.v[i] /= double(S);
            }
        } else if (op == "Flatten" || op == "Reshape") {
            y = a;
            y.d = {a.d[0], a.v.size() / a.d[0]};
        } else if (op == "Concat") {
            const std::size_t N = a.d[0];
            y.d = a.d;
            y.d[1] = 0;
            for (int k = 0; k < n.input_size(); ++k) y.d[1] += t.at(n.input(k)).d[1];
            for (std::size_t b = 0; b < N; ++b)
                for (int k = 0; k < n.input_size(); ++k) {
                    const DT& p = t.at(n.input(k));
                    const std::size_t per = p.v.size() / N;
                    y.v.insert(y.v.end(), p.v.begin() + long(b * per), p.v.begin() + long((b + 1) * per));
                }
        } else if (op == "Gemm" || op == "MatMul") {
            const DT& w = t.at(n.input(1));
            const bool trans = attr_int(n, "transB", 0) != 0;
            const std::size_t N = a.d[0], I = a.d[1], O = trans ? w.d[0] : w.d[1];
            y.d = {N, O};
            y.v.assign(N * O, 0);
            for (std::size_t b = 0; b < N; ++b)
                for (std::size_t o = 0; o < O; ++o) {
                    double acc = op == "Gemm" && n.input_size() > 2 ? t.at(n.input(2)).v[o] : 0.0;
                    for (std::size_t i = 0; i < I; ++i) acc += a.v[b * I + i] * (trans ? w.v[o * I + i] : w.v[i * O + o]);
                    y.v[b * O + o] = acc;
                }
        } else if (op == "Identity" || op == "Dropout") {
            y = a;
        } else {
            FAIL("reference: op " << op);
        }
        t[n.output(0)] = y;
    }
    return t;
}

/// Random NCHW images as a double tensor and the same images as prunedef's NHWC Tensor.
void random_images(std::size_t n, ImageShape s, DT& nchw, Tensor& nhwc, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    nchw.d = {n, s.channels, s.height, s.width};
    nchw.v.assign(n * s.size(), 0);
    nhwc.resize(n, s);
    for (std::size_t b = 0; b < n; ++b)
        for (std::size_t c = 0; c < s.channels; ++c)
            for (std::size_t h = 0; h < s.height; ++h)
                for (std::size_t w = 0; w < s.width; ++w) {
                    const float v = u(rng);
                    nchw.v[((b * s.channels + c) * s.height + h) * s.width + w] = v;
                    nhwc.data()[((b * s.height + h) * s.width + w) * s.channels + c] = v;
                }
}

/// prunedef's logits of the imported model against the reference's graph output.
void check_against_reference(const onnx::ModelProto& m, ImageShape shape, double tol = 1e-4) {
    const OnnxModelFile f = onnx_model_spec(m, "test.onnx");
    CHECK(f.input_shape == shape);
    GraphNetwork net = build_graph_network(f.spec, f.weights);
    if (f.input_scale) net.set_input_scale(*f.input_scale);
    DT x;
    Tensor images;
    random_images(5, shape, x, images, 11);
    const Tensor logits = net.logits(images);
    const DT want = reference_run(m, x).at(m.graph().output(0).name());
    REQUIRE(logits.size() == want.v.size());
    double largest = 0, worst = 0;
    for (double v : want.v) largest = std::max(largest, std::abs(v));
    for (std::size_t i = 0; i < want.v.size(); ++i) worst = std::max(worst, std::abs(double(logits.data()[i]) - want.v[i]));
    INFO("largest logit " << largest << ", worst difference " << worst);
    CHECK(worst <= tol * std::max(1.0, largest));
}

std::string refusal(const onnx::ModelProto& m) {
    try {
        (void)onnx_model_spec(m, "bad.onnx");
    } catch (const error& e) {
        return e.what();
    }
    return "(accepted)";
}

}  // namespace

TEST_CASE("onnx import: Conv, BatchNormalization, ReLU, pooling, asymmetric pads, Flatten of C,H,W into Gemm") {
    GraphMaker g(2, 9, 8);
    g.conv("x", "c1", 2, 3, 3, {1, 1, 1, 1});  // Keras 'same' for stride 1
    g.bn("c1", "bn1", 3);
    g.node("Relu", {"bn1"}, "r1");
    auto& mp = g.node("MaxPool", {"r1"}, "p1");
    GraphMaker::ints(mp, "kernel_shape", {3, 3});
    GraphMaker::ints(mp, "strides", {2, 2});
    GraphMaker::ints(mp, "pads", {1, 1, 1, 1});  // not 'same' for 9x8: zero-padded (the input is a ReLU's)
    g.conv("p1", "c2", 3, 4, 2, {1, 0, 0, 1}, {1, 2});  // explicit pads: a ZeroPadding2D
    g.node("Relu", {"c2"}, "r2");  // fused into c2
    auto& ap = g.node("AveragePool", {"r2"}, "p2");
    GraphMaker::ints(ap, "kernel_shape", {2, 2});
    GraphMaker::ints(ap, "strides", {1, 1});
    g.node("Flatten", {"p2"}, "flat");
    auto& gemm = g.node("Gemm", {"flat", g.init("fc.weight", {6, 4 * 4 * 1}), g.init("fc.bias", {6})}, "logits");
    GraphMaker::integer(gemm, "transB", 1);
    g.output("logits");

    const OnnxModelFile f = onnx_model_spec(g.m, "test.onnx");
    // the spec: c2 with its ReLU fused, a ZeroPadding2D before it, the Gemm's rows permuted
    const LayerSpec* c2 = f.spec.find("c2");
    REQUIRE(c2 != nullptr);
    CHECK(c2->activation == "relu");
    CHECK(f.spec.find("c1")->padding == "same");
    CHECK(f.spec.find("c2_pad") != nullptr);
    CHECK(f.spec.find("c2_pad")->zero_padding == std::array<std::size_t, 4>{1, 0, 0, 1});
    CHECK(f.spec.find("fc") != nullptr);
    CHECK(f.weights.at("c1").at(0).dims == std::vector<std::size_t>{3, 3, 2, 3});
    CHECK(!f.input_scale);
    check_against_reference(g.m, {9, 8, 2});

    SUBCASE("prunedef's export of the imported spec (B' files of an ONNX B: a Pad for the ZeroPadding2D) reads back") {
        const onnx::ModelProto again = onnx_model(f.spec, f.weights, {9, 8, 2}, 1.0f);
        int pads = 0;
        for (const auto& n : again.graph().node()) pads += n.op_type() == "Pad";
        CHECK(pads == 2);  // before the max pooling and before c2
        const OnnxModelFile back = onnx_model_spec(again, "again.onnx");
        const GraphNetwork a = build_graph_network(f.spec, f.weights), b = build_graph_network(back.spec, back.weights);
        DT x;
        Tensor images;
        random_images(3, {9, 8, 2}, x, images, 5);
        const Tensor la = a.logits(images), lb = b.logits(images);
        REQUIRE(la.size() == lb.size());
        for (std::size_t i = 0; i < la.size(); ++i) CHECK(la.data()[i] == doctest::Approx(lb.data()[i]).epsilon(1e-5));
    }
}

TEST_CASE("onnx import: a residual block with BatchNormalization, global average pooling, Concat, MatMul + Add") {
    GraphMaker g(3, 8, 8);
    g.node("Mul", {"x", g.init("scale", {}, 0.5f, 0.5f)}, "xs");  // the input scale
    g.conv("xs", "stem", 3, 4, 3, {1, 1, 1, 1});
    g.node("Relu", {"stem"}, "s");
    g.conv("s", "b1", 4, 4, 3, {1, 1, 1, 1});
    g.bn("b1", "b1bn", 4);
    g.node("Relu", {"b1bn"}, "b1r");
    g.conv("b1r", "b2", 4, 4, 3, {1, 1, 1, 1});
    g.bn("b2", "b2bn", 4);
    g.node("Add", {"b2bn", "s"}, "res");
    g.node("Relu", {"res"}, "resr");
    g.conv("resr", "side", 4, 2, 1, {0, 0, 0, 0});
    auto& cat = g.node("Concat", {"resr", "side"}, "cat");
    GraphMaker::integer(cat, "axis", 1);
    g.node("GlobalAveragePool", {"cat"}, "gap");
    g.node("Flatten", {"gap"}, "flat");
    g.node("Dropout", {"flat"}, "drop");
    g.node("MatMul", {"drop", g.init("fc.weight", {6, 5})}, "mm");
    g.node("Add", {"mm", g.init("fc.bias", {5})}, "logits");
    g.output("logits");
    const OnnxModelFile f = onnx_model_spec(g.m, "test.onnx");
    REQUIRE(f.input_scale);
    CHECK(*f.input_scale == 0.5f);
    REQUIRE(f.spec.find("fc") != nullptr);
    CHECK(f.spec.find("fc")->use_bias);
    CHECK(f.spec.find("fc")->class_name == "Dense");
    check_against_reference(g.m, {8, 8, 3});

    SUBCASE("the default pruned layer is the last Conv the graph splits at (the head may read nothing of the stem)") {
        // side, b2 and b1 have readers beside them that read the stem (Concat, Add): stem it is
        GraphNetwork net = build_graph_network(f.spec, f.weights);
        CHECK(net.pruned_layer().name() == "stem");
        CHECK(f.spec.find("stem")->activation == "relu");  // the Relu fused in, as Keras' Conv2D(activation='relu')
    }
    SUBCASE("the Keras configuration written for it reads back as the same spec") {
        const ModelSpec back = parse_keras_config(keras_config_json(f.spec), "round trip");
        REQUIRE(back.layers.size() == f.spec.layers.size());
        for (std::size_t i = 0; i < back.layers.size(); ++i) {
            const LayerSpec &a = back.layers[i], &b = f.spec.layers[i];
            INFO(a.name);
            CHECK(a.name == b.name);
            CHECK(a.class_name == b.class_name);
            CHECK(a.inputs == b.inputs);
            CHECK(a.activation == b.activation);
            CHECK(a.units == b.units);
            CHECK(a.use_bias == b.use_bias);
            CHECK(a.kernel_size == b.kernel_size);
            CHECK(a.strides == b.strides);
            CHECK(a.pool_size == b.pool_size);
            CHECK(a.padding == b.padding);
            CHECK(a.zero_padding == b.zero_padding);
            CHECK(a.epsilon == b.epsilon);
            CHECK(a.axis == b.axis);
            CHECK(a.input_shape == b.input_shape);
        }
        CHECK(back.input == f.spec.input);
        CHECK(back.output == f.spec.output);
    }
}

TEST_CASE("onnx import: prunedef's own export reads back as the same network (DeepID, scale in the graph)") {
    DeepID net = prunedef_test::tiny_deepid(3);
    const ImageShape shape{55, 47, 3};
    net.bind(shape);
    net.set_input_scale(1.0f / 255.0f);
    const onnx::ModelProto m = onnx_model(net);
    const OnnxModelFile f = onnx_model_spec(m, "deepid.onnx");
    REQUIRE(f.input_scale);
    CHECK(*f.input_scale == 1.0f / 255.0f);
    CHECK(f.input_shape == shape);
    GraphNetwork g = build_graph_network(f.spec, f.weights);
    g.set_input_scale(*f.input_scale);
    CHECK(g.prunable_channels() == net.prunable_channels());
    DT x;
    Tensor images;
    random_images(4, shape, x, images, 3);
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = std::round((images.data()[i] + 1) * 127.5f);
    const Tensor a = net.logits(images), b = g.logits(images);
    REQUIRE(a.size() == b.size());
    double largest = 0, worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        largest = std::max(largest, double(std::abs(a.data()[i])));
        worst = std::max(worst, double(std::abs(a.data()[i] - b.data()[i])));
    }
    CHECK(worst <= 1e-5 * std::max(1.0, largest));
}

TEST_CASE("onnx import: unsupported ops and misshapen initializers are refused, naming the node and the file") {
    SUBCASE("an op it does not know") {
        GraphMaker g(1, 4, 4);
        g.node("Resize", {"x"}, "up");
        g.output("up");
        const std::string msg = refusal(g.m);
        CHECK(msg.find("bad.onnx") != std::string::npos);
        CHECK(msg.find("Resize") != std::string::npos);
        CHECK(msg.find("/up/Resize") != std::string::npos);
    }
    SUBCASE("a Conv bias of the wrong length: expected and found shapes") {
        GraphMaker g(1, 4, 4);
        auto& n = g.node("Conv", {"x", g.init("c.weight", {2, 1, 3, 3}), g.init("c.bias", {3})}, "c");
        GraphMaker::ints(n, "kernel_shape", {3, 3});
        g.output("c");
        const std::string msg = refusal(g.m);
        CHECK(msg.find("bad.onnx: node /c/Conv (Conv): initializer c.bias (bias) has shape (3,), expected (2,)") !=
              std::string::npos);
    }
    SUBCASE("a grouped convolution, a Conv weight reading other channels, a max pooling with pads over negative values") {
        GraphMaker g(2, 6, 6);
        auto& n = g.node("Conv", {"x", g.init("c.weight", {2, 1, 3, 3})}, "c");
        GraphMaker::integer(n, "group", 2);
        g.output("c");
        CHECK(refusal(g.m).find("group 2 is not supported") != std::string::npos);

        GraphMaker h(2, 6, 6);
        h.node("Conv", {"x", h.init("c.weight", {2, 3, 3, 3})}, "c");
        h.output("c");
        CHECK(refusal(h.m).find("has shape (2, 3, 3, 3), expected (2, 2, 3, 3)") != std::string::npos);

        GraphMaker k(2, 6, 6);
        auto& mp = k.node("MaxPool", {"x"}, "p");
        GraphMaker::ints(mp, "kernel_shape", {3, 3});
        GraphMaker::ints(mp, "strides", {2, 2});
        GraphMaker::ints(mp, "pads", {1, 1, 1, 1});
        k.node("Flatten", {"p"}, "f");
        k.output("f");
        CHECK(refusal(k.m).find("the input may be negative") != std::string::npos);
    }
    SUBCASE("a flattened image read by something other than a Gemm, and a Reshape of a computed shape") {
        GraphMaker g(2, 3, 3);
        g.node("Flatten", {"x"}, "f");
        g.output("f");
        CHECK(refusal(g.m).find("C, H, W order") != std::string::npos);

        GraphMaker h(2, 3, 3);
        h.node("Shape", {"x"}, "s");
        h.node("Reshape", {"x", "s"}, "r");
        h.output("r");
        const std::string msg = refusal(h.m);
        CHECK(msg.find("Shape") != std::string::npos);
        CHECK(msg.find("not supported") != std::string::npos);
    }
}

TEST_CASE("onnx import: hostile sizes and values are refused before anything is allocated or indexed") {
    SUBCASE("an initializer whose dimensions multiply past 2^64 (the product once wrapped to 0)") {
        GraphMaker g(4, 4, 4);
        auto* t = g.m.mutable_graph()->add_initializer();
        t->set_name("c.weight");
        t->set_data_type(onnx::TensorProto::FLOAT);
        for (i64 d : {i64(1) << 62, i64(4), i64(1), i64(1)}) t->add_dims(d);
        g.node("Conv", {"x", "c.weight"}, "c");
        g.output("c");
        CHECK(refusal(g.m).find("beyond what prunedef reads") != std::string::npos);
    }
    SUBCASE("pads near 2^63") {
        GraphMaker g(1, 8, 8);
        const i64 big = (i64(1) << 62) + 5;
        g.node("Pad", {"x", g.init_int64("pads", {0, 0, big, 0, 0, 0, big, 0})}, "p");
        g.output("p");
        CHECK(refusal(g.m).find("attribute pads holds") != std::string::npos);
    }
    SUBCASE("a Pad with an axes input") {
        GraphMaker g(1, 8, 8);
        g.node("Pad", {"x", g.init_int64("pads", {0, 0, 1, 1, 0, 0, 1, 1}), "", g.init_int64("axes", {0, 1, 3, 2})}, "p");
        g.output("p");
        CHECK(refusal(g.m).find("'axes' input is not supported") != std::string::npos);
    }
    SUBCASE("a node without an output") {
        GraphMaker g(1, 4, 4);
        auto* n = g.m.mutable_graph()->add_node();
        n->set_op_type("Add");
        n->set_name("/dangling/Add");
        n->add_input("x");
        n->add_input("x");
        g.output("x");
        CHECK(refusal(g.m).find("has no output") != std::string::npos);
    }
    SUBCASE("a negative BatchNormalization epsilon, a NaN LeakyRelu alpha") {
        GraphMaker g(2, 4, 4);
        auto& bn = g.node("BatchNormalization",
                          {"x", g.init("s", {2}), g.init("b", {2}), g.init("m", {2}), g.init("v", {2}, 0.5f, 1.0f)}, "bn");
        GraphMaker::real(bn, "epsilon", -1e-5f);
        g.output("bn");
        CHECK(refusal(g.m).find("is negative") != std::string::npos);

        GraphMaker h(2, 4, 4);
        auto& lr = h.node("LeakyRelu", {"x"}, "lr");
        GraphMaker::real(lr, "alpha", std::nanf(""));
        h.output("lr");
        CHECK(refusal(h.m).find("expected a finite number") != std::string::npos);
    }
}

TEST_CASE("onnx import: read_onnx_model refuses a file that is not ONNX") {
    CHECK_THROWS_AS(read_onnx_model("/nonexistent/model.onnx"), io_error);
}

}  // namespace test_onnx_import

#else
TEST_CASE("onnx import: not built (prunedef::onnx needs libonnx-dev and libprotobuf-dev)" * doctest::skip(true)) {}
#endif
