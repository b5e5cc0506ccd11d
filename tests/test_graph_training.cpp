// Training of networks assembled at run time (GraphNetwork): every op's backward pass against
// central finite differences of the forward pass (summed in double), the graph's gradient flow
// through branches and tensors read twice, agreement with the compile-time DeepID's training,
// and Fine-Pruning of a residual network with BatchNormalization (loss falls, pruned channels
// stay zero, bit-identical with 1 and 2 threads).

#include <doctest/doctest.h>

#include "tiny_deepid.hpp"

#include <prunedef/fine_pruning/fine_pruning.hpp>
#include <prunedef/io/keras_config.hpp>
#include <prunedef/io/keras_deepid_config.hpp>
#include <prunedef/prunedef.hpp>
#include <prunedef/training/graph_backprop.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_graph_training {

using namespace prunedef;
using detail::GraphOp;
using detail::LayerOp;
using detail::MultiInputOp;

namespace {

Tensor random_tensor(std::size_t n, const ImageShape& shape, std::mt19937& rng, float scale = 1.0f) {
    std::normal_distribution<float> normal(0.0f, scale);
    Tensor t(n, shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = normal(rng);
    return t;
}

/// Distinct values at least 0.05 apart and at least 0.05 from zero, shuffled: a step of 0.01
/// never moves a max pooling's choice or crosses a kink of relu or leaky relu.
Tensor spaced_tensor(std::size_t n, const ImageShape& shape, std::mt19937& rng) {
    Tensor t(n, shape);
    std::vector<float> v(t.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = (i % 2 ? -1.0f : 1.0f) * (0.05f + 0.05f * float(i / 2)) / (1.0f + 0.02f * float(v.size()));
    std::shuffle(v.begin(), v.end(), rng);
    for (std::size_t i = 0; i < v.size(); ++i) t.data()[i] = v[i];
    return t;
}

WeightArray random_array(const std::string& name, std::vector<std::size_t> dims, std::mt19937& rng, float scale,
                         float offset = 0.0f) {
    WeightArray w{name, std::move(dims), {}};
    std::normal_distribution<float> normal(0.0f, scale);
    w.values.resize(w.element_count());
    for (auto& v : w.values) v = offset + normal(rng);
    return w;
}

template <class L>
L with_kernel(L layer, std::vector<std::size_t> dims, std::mt19937& rng) {
    const std::size_t cout = dims.back();
    layer.set_weights({random_array("kernel:0", dims, rng, 0.4f), random_array("bias:0", {cout}, rng, 0.2f)});
    return layer;
}

double weighted_sum(const Tensor& out, const Tensor& r) {
    double s = 0;
    for (std::size_t i = 0; i < out.size(); ++i) s += double(out.data()[i]) * double(r.data()[i]);
    return s;
}

/// Richardson's extrapolation of central differences with steps h and h / 2: the h^2 error
/// term cancels.
template <class Central>
double richardson(double h, Central&& central) {
    return (4 * central(h / 2) - central(h)) / 3;
}

/// Checks seg's backward pass (input and parameter gradients) for the loss sum(out * r) against
/// extrapolated central differences with step eps; tolerance tol * (1 + |numeric|).
void check_gradients(GraphSegment& seg, Tensor input, unsigned seed, double eps = 1e-2, double tol = 5e-3) {
    std::mt19937 rng(seed);
    Tensor out;
    seg.forward(input, out);
    const Tensor r = random_tensor(out.batch(), out.shape(), rng);
    const auto loss = [&](const Tensor& x) {
        Tensor o;
        seg.forward(x, o);
        return weighted_sum(o, r);
    };
    GraphSegment::Trace trace;
    Tensor out_train, dout = r, din;
    seg.forward_train(input, out_train, trace);
    CHECK(weighted_sum(out_train, r) == weighted_sum(out, r));
    seg.backward(trace, dout, &din);
    REQUIRE(din.shape() == input.shape());
    REQUIRE(din.batch() == input.batch());
    double largest = 0;
    for (std::size_t i = 0; i < input.size(); ++i) {
        const double numeric = richardson(eps, [&](double h) {
            const float keep = input.data()[i];
            input.data()[i] = keep + float(h);
            const double up = loss(input);
            input.data()[i] = keep - float(h);
            const double down = loss(input);
            input.data()[i] = keep;
            return (up - down) / (2 * h);
        });
        largest = std::max(largest, std::fabs(numeric));
        INFO("input " << i << ": analytic " << din.data()[i] << ", numeric " << numeric);
        REQUIRE(std::fabs(din.data()[i] - numeric) <= tol * (1 + std::fabs(numeric)));
    }
    CHECK(largest > 1e-3);  // the check saw a gradient
    std::vector<ParameterRef> params = seg.parameters();
    std::vector<detail::AlignedFloats> grads;
    for (const auto& p : params) grads.push_back(*p.gradient);
    for (std::size_t k = 0; k < params.size(); ++k) {
        auto& value = *params[k].value;
        REQUIRE(grads[k].size() == value.size());
        for (std::size_t i = 0; i < value.size(); ++i) {
            const double numeric = richardson(eps, [&](double h) {
                const float keep = value[i];
                value[i] = keep + float(h);
                params[k].changed();
                const double up = loss(input);
                value[i] = keep - float(h);
                params[k].changed();
                const double down = loss(input);
                value[i] = keep;
                params[k].changed();
                return (up - down) / (2 * h);
            });
            INFO("parameter " << k << " element " << i << ": analytic " << grads[k][i] << ", numeric " << numeric);
            REQUIRE(std::fabs(grads[k][i] - numeric) <= tol * (1 + std::fabs(numeric)));
        }
    }
}

GraphSegment chain(std::vector<std::unique_ptr<GraphOp>> ops, bool fuse = true) {
    GraphSegment seg("test");
    int id = GraphSegment::input_id;
    for (auto& op : ops) id = seg.add(std::move(op), {id});
    seg.finish(fuse);
    return seg;
}
template <class L>
GraphSegment single(L layer) {
    std::vector<std::unique_ptr<GraphOp>> ops;
    ops.push_back(std::make_unique<LayerOp<L>>(std::move(layer)));
    return chain(std::move(ops));
}

LayerSpec conv_spec(const std::string& name, std::size_t filters, std::size_t k, std::array<std::size_t, 2> strides,
                    const std::string& padding) {
    LayerSpec l;
    l.name = name;
    l.class_name = "Conv2D";
    l.units = filters;
    l.kernel_size = {k, k};
    l.strides = strides;
    l.padding = padding;
    return l;
}

BatchNormalization random_batch_norm(std::size_t c, std::mt19937& rng, bool center = true, bool scale = true) {
    BatchNormalization bn("bn", 1e-3f, center, scale);
    std::vector<WeightArray> w;
    if (scale) w.push_back(random_array("gamma", {c}, rng, 0.3f, 1.0f));
    if (center) w.push_back(random_array("beta", {c}, rng, 0.3f));
    w.push_back(random_array("moving_mean", {c}, rng, 0.3f));
    WeightArray var = random_array("moving_variance", {c}, rng, 0.2f, 1.0f);
    for (auto& v : var.values) v = std::fabs(v) + 0.2f;
    w.push_back(var);
    bn.set_weights(w);
    return bn;
}

}  // namespace

TEST_CASE("graph training: every op's backward pass against finite differences") {
    std::mt19937 rng(3);
    const ImageShape shape{5, 6, 3};
    SUBCASE("Conv2D with linear, tanh and sigmoid") {
        auto a = single(with_kernel(Conv2D<Linear>("c"), {2, 3, 3, 4}, rng));
        check_gradients(a, random_tensor(2, shape, rng), 1);
        auto b = single(with_kernel(Conv2D<Tanh>("c"), {3, 2, 3, 2}, rng));
        check_gradients(b, random_tensor(2, shape, rng), 2);
        auto c = single(with_kernel(Conv2D<Sigmoid>("c"), {1, 1, 3, 3}, rng));
        check_gradients(c, random_tensor(2, shape, rng), 3);
    }
    SUBCASE("StridedConv2D: strides, 'same' padding (the ZeroPadding op it becomes), elu after it") {
        for (const std::string padding : {"valid", "same"}) {
            for (const std::array<std::size_t, 2> strides : {std::array<std::size_t, 2>{2, 3}, {2, 2}, {3, 1}}) {
                const LayerSpec l = conv_spec("s", 3, 3, strides, padding);
                ModelSpec spec;
                std::vector<WeightArray> arrays{random_array("kernel:0", {3, 3, 3, 3}, rng, 0.4f),
                                                random_array("bias:0", {3}, rng, 0.2f)};
                GraphSegment seg = chain(detail::weighted_layer_ops(spec, l, arrays, true, "elu"));
                INFO("padding " << padding << ", strides " << strides[0] << "x" << strides[1]);
                CHECK(seg.size() == (padding == "same" ? 3u : 2u));
                check_gradients(seg, random_tensor(2, {7, 8, 3}, rng), 4);
                GraphSegment tanh = chain(detail::weighted_layer_ops(spec, l, arrays, true, "tanh"));
                check_gradients(tanh, random_tensor(2, {7, 8, 3}, rng), 5);
            }
        }
    }
    SUBCASE("Dense with sigmoid and softmax") {
        auto a = single(with_kernel(detail::KerasDense<Sigmoid>("d"), {12, 5}, rng));
        check_gradients(a, random_tensor(3, {1, 1, 12}, rng), 6);
        auto b = single(with_kernel(detail::KerasDense<Softmax>("d"), {12, 5}, rng));
        check_gradients(b, random_tensor(3, {1, 1, 12}, rng), 7);
    }
    SUBCASE("poolings: max and average, valid and same (TensorFlow's border counts), global, MaxPool2D") {
        for (const Padding p : {Padding::valid, Padding::same}) {
            auto mx = single(Pooling2D<MaxPooling>("p", {3, 2}, {2, 2}, p));
            check_gradients(mx, spaced_tensor(2, {5, 7, 2}, rng), 8);
            auto avg = single(Pooling2D<AveragePooling>("p", {3, 3}, {2, 2}, p));
            check_gradients(avg, random_tensor(2, {5, 6, 2}, rng), 9);
            auto avg2 = single(Pooling2D<AveragePooling>("p", {2, 3}, {1, 2}, p));
            check_gradients(avg2, random_tensor(2, {4, 5, 2}, rng), 10);
        }
        auto gmax = single(GlobalPooling2D<MaxPooling>("g"));
        check_gradients(gmax, spaced_tensor(2, shape, rng), 11);
        auto gavg = single(GlobalPooling2D<AveragePooling>("g"));
        check_gradients(gavg, random_tensor(2, shape, rng), 12);
        auto mp = single(MaxPool2D("m", 2, 2));
        check_gradients(mp, spaced_tensor(2, {6, 4, 2}, rng), 13);
    }
    SUBCASE("ZeroPadding2D, Flatten") {
        auto z = single(ZeroPadding2D("z", 1, 2, 0, 3));
        check_gradients(z, random_tensor(2, shape, rng), 14);
        auto f = single(Flatten("f"));
        check_gradients(f, random_tensor(2, shape, rng), 15);
    }
    SUBCASE("activations: elu, leaky relu, relu, sigmoid, tanh, linear, softmax") {
        for (const ActivationKind k : {ActivationKind::elu, ActivationKind::leaky_relu, ActivationKind::relu,
                                       ActivationKind::sigmoid, ActivationKind::tanh, ActivationKind::linear,
                                       ActivationKind::softmax}) {
            INFO(activation_kind_name(k));
            std::optional<float> alpha;
            if (k == ActivationKind::leaky_relu) alpha = 0.3f;
            if (k == ActivationKind::elu) alpha = 0.7f;
            auto a = single(RuntimeActivation("a", k, alpha));
            check_gradients(a, spaced_tensor(2, shape, rng), 16);
        }
        auto s = single(Activation<Softmax>("s"));
        check_gradients(s, random_tensor(2, shape, rng), 17);
        auto t = single(Activation<Tanh>("t"));
        check_gradients(t, random_tensor(2, shape, rng), 18);
    }
    SUBCASE("BatchNormalization in inference mode: gamma and beta trained, with and without scale/center") {
        auto a = single(random_batch_norm(3, rng));
        CHECK(a.parameters().size() == 2);
        check_gradients(a, random_tensor(2, shape, rng), 19);
        auto b = single(random_batch_norm(3, rng, true, false));
        CHECK(b.parameters().size() == 1);
        check_gradients(b, random_tensor(2, shape, rng), 20);
    }
    SUBCASE("a convolution fused with its max pooling recomputes its output for the backward pass") {
        std::vector<std::unique_ptr<GraphOp>> ops;
        ops.push_back(std::make_unique<LayerOp<Conv2D<Tanh>>>(with_kernel(Conv2D<Tanh>("c"), {2, 2, 3, 3}, rng)));
        ops.push_back(std::make_unique<LayerOp<MaxPool2D>>(MaxPool2D("m", 2, 2)));
        GraphSegment fused = chain(std::move(ops));
        REQUIRE(fused.size() == 1);  // one FusedPairOp
        check_gradients(fused, random_tensor(2, {7, 5, 3}, rng), 21, 1e-3, 1e-2);
    }
}

TEST_CASE("graph training: branches, Add and Concatenate with tensors read several times") {
    std::mt19937 rng(5);
    // x -> a = conv1x1 tanh(x); b = elu(a); c = Add(a, b, a); d = Concatenate(c, x, a); e = conv tanh(d)
    GraphSegment seg("branches");
    const int a = seg.add(std::make_unique<LayerOp<Conv2D<Tanh>>>(with_kernel(Conv2D<Tanh>("a"), {1, 1, 3, 4}, rng)),
                          {GraphSegment::input_id});
    const int b = seg.add(std::make_unique<LayerOp<RuntimeActivation>>(RuntimeActivation("b", ActivationKind::elu)), {a});
    const int c = seg.add(std::make_unique<MultiInputOp<Add>>(Add("c")), {a, b, a});
    const int d = seg.add(std::make_unique<MultiInputOp<Concatenate>>(Concatenate("d")), {c, GraphSegment::input_id, a});
    seg.add(std::make_unique<LayerOp<Conv2D<Tanh>>>(with_kernel(Conv2D<Tanh>("e"), {2, 2, 11, 3}, rng)), {d});
    seg.finish();
    check_gradients(seg, random_tensor(2, {4, 5, 3}, rng), 22);
    CHECK(seg.parameters().size() == 4);
}

TEST_CASE("graph training: a folded BatchNormalization refuses to train; the unfolded network trains") {
    // input -> c (linear, no bias) -> bn -> relu -> p (pruned) -> pool -> flatten -> out
    const std::string config = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 6, 6, 1]}},
        {"class_name": "Conv2D", "config": {"name": "c", "filters": 3, "kernel_size": [3, 3], "use_bias": false,
         "activation": "linear", "padding": "same"}},
        {"class_name": "BatchNormalization", "config": {"name": "bn", "epsilon": 0.001}},
        {"class_name": "Activation", "config": {"name": "r", "activation": "relu"}},
        {"class_name": "Conv2D", "config": {"name": "p", "filters": 4, "kernel_size": [3, 3], "activation": "relu"}},
        {"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [2, 2]}},
        {"class_name": "Flatten", "config": {"name": "f"}},
        {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "softmax"}}]}})";
    const ModelSpec spec = parse_keras_config(config, "test config");
    std::mt19937 rng(9);
    ModelWeights w;
    w["c"] = {random_array("kernel", {3, 3, 1, 3}, rng, 0.4f)};
    const BatchNormalization bn = random_batch_norm(3, rng);
    w["bn"] = bn.weights();
    w["p"] = {random_array("kernel", {3, 3, 3, 4}, rng, 0.4f), random_array("bias", {4}, rng, 0.1f)};
    w["out"] = {random_array("kernel", {16, 2}, rng, 0.4f), random_array("bias", {2}, rng, 0.1f)};
    GraphNetwork folded = build_graph_network(spec, w);
    CHECK_THROWS_WITH_AS(parameters(folded), doctest::Contains("fold_batch_norm = false"), argument_error);
    CHECK(head_parameters(folded).size() == 2);  // the head has no folded layer

    GraphNetwork plain = rebuild_graph_network(spec, folded, false, false);
    const Tensor images = random_tensor(4, {6, 6, 1}, rng);
    Tensor lf, lp;
    folded.logits(images, lf);
    plain.logits(images, lp);
    for (std::size_t i = 0; i < lf.size(); ++i) CHECK(lf.data()[i] == doctest::Approx(lp.data()[i]).epsilon(1e-5));
    const auto params = parameters(plain);
    CHECK(params.size() == 1 + 2 + 2 + 2);  // c's kernel (no bias), bn's gamma and beta, p, out
    // the whole network's input-to-logits gradient flows: one SGD step changes every array
    LabelledImages data{images, {0, 1, 1, 0}};
    Sgd sgd(0.1f, 0.0f);
    TrainOptions options;
    options.batch_size = 4;
    std::vector<std::vector<float>> before;
    for (const auto& p : params) before.emplace_back(p.value->begin(), p.value->end());
    train(plain, data, sgd, options);
    for (std::size_t k = 0; k < params.size(); ++k)
        CHECK(std::vector<float>(params[k].value->begin(), params[k].value->end()) != before[k]);
    // the trained weights come back under Keras' names: bn's gamma and beta moved, its statistics not
    const ModelWeights trained = graph_weights(plain);
    REQUIRE(trained.at("bn").size() == 4);
    CHECK(trained.at("bn")[0].values != w.at("bn")[0].values);
    CHECK(trained.at("bn")[1].values != w.at("bn")[1].values);
    CHECK(trained.at("bn")[2].values == w.at("bn")[2].values);
    CHECK(trained.at("bn")[3].values == w.at("bn")[3].values);
    CHECK(trained.at("c").size() == 1);
}

TEST_CASE("graph training: the DeepID spec trains exactly as the compile-time DeepID") {
    DeepID deepid = prunedef_test::tiny_deepid(11, 5);
    deepid.bind({55, 47, 3});
    deepid.set_input_scale(0.5f);
    const ModelSpec spec = parse_keras_config(deepid_keras_config(collect_weights(deepid), {55, 47, 3}), "deepid");
    GraphNetwork fast = build_graph_network(spec, collect_weights(deepid));
    fast.set_input_scale(0.5f);
    for (const bool head_only : {false, true}) {
        INFO("head only " << head_only);
        GraphNetwork graph = rebuild_graph_network(spec, fast, false, false);
        DeepID net = deepid;
        std::mt19937 rng(head_only ? 4 : 3);
        LabelledImages data{random_tensor(24, {55, 47, 3}, rng), {}};
        for (std::size_t i = 0; i < 24; ++i) data.labels.push_back(int(i % 5));
        Adam adam_d(1e-2f), adam_g(1e-2f);
        TrainOptions options;
        options.epochs = 2;
        options.batch_size = 8;
        options.train_trunk = !head_only;
        const auto rd = train(net, data, adam_d, options);
        const auto rg = train(graph, data, adam_g, options);
        CHECK(rd.back().loss == rg.back().loss);
        CHECK(rd.front().loss != rd.back().loss);
        // Same kernels and the same order of float operations: the same weights bit for bit.
        const ModelWeights wd = collect_weights(net), wg = graph_weights(graph), w0 = collect_weights(deepid);
        REQUIRE(wd.size() == wg.size());
        for (const auto& [name, arrays] : wd) {
            INFO(name);
            REQUIRE(wg.at(name).size() == arrays.size());
            for (std::size_t k = 0; k < arrays.size(); ++k) {
                CHECK(wg.at(name)[k].values == arrays[k].values);
                const bool head = name == "conv_4" || name == "fc_1" || name == "fc_2" || name == "output";
                if (head_only && !head) CHECK(arrays[k].values == w0.at(name)[k].values);
                else CHECK(arrays[k].values != w0.at(name)[k].values);
            }
        }
    }
}

namespace {

/// A residual network with BatchNormalization (8x8x1 input, 3 classes):
///   c1 3x3 same linear no bias -> bn1 -> relu r1 -> c2 3x3 same relu -> add(c2, r1) -> c3 3x3 relu
///   (the pruned layer) -> pool 2 -> flatten -> dense 3 softmax
const char* residual_config = R"({"class_name": "Functional", "config": {"name": "res",
    "layers": [
    {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 8, 8, 1]},
     "inbound_nodes": []},
    {"class_name": "Conv2D", "name": "c1", "config": {"name": "c1", "filters": 4, "kernel_size": [3, 3],
     "padding": "same", "use_bias": false, "activation": "linear"}, "inbound_nodes": [[["in", 0, 0, {}]]]},
    {"class_name": "BatchNormalization", "name": "bn1", "config": {"name": "bn1", "epsilon": 0.001},
     "inbound_nodes": [[["c1", 0, 0, {}]]]},
    {"class_name": "Activation", "name": "r1", "config": {"name": "r1", "activation": "relu"},
     "inbound_nodes": [[["bn1", 0, 0, {}]]]},
    {"class_name": "Conv2D", "name": "c2", "config": {"name": "c2", "filters": 4, "kernel_size": [3, 3],
     "padding": "same", "activation": "relu"}, "inbound_nodes": [[["r1", 0, 0, {}]]]},
    {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["c2", 0, 0, {}], ["r1", 0, 0, {}]]]},
    {"class_name": "Conv2D", "name": "c3", "config": {"name": "c3", "filters": 6, "kernel_size": [3, 3],
     "activation": "relu"}, "inbound_nodes": [[["add", 0, 0, {}]]]},
    {"class_name": "MaxPooling2D", "name": "pool", "config": {"name": "pool", "pool_size": [2, 2]},
     "inbound_nodes": [[["c3", 0, 0, {}]]]},
    {"class_name": "Flatten", "name": "f", "config": {"name": "f"}, "inbound_nodes": [[["pool", 0, 0, {}]]]},
    {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 3, "activation": "softmax"},
     "inbound_nodes": [[["f", 0, 0, {}]]]}],
    "input_layers": [["in", 0, 0]], "output_layers": [["out", 0, 0]]}})";

ModelWeights residual_weights(unsigned seed) {
    std::mt19937 rng(seed);
    ModelWeights w;
    w["c1"] = {random_array("kernel", {3, 3, 1, 4}, rng, 0.5f)};
    w["bn1"] = random_batch_norm(4, rng).weights();
    w["c2"] = {random_array("kernel", {3, 3, 4, 4}, rng, 0.3f), random_array("bias", {4}, rng, 0.05f)};
    w["c3"] = {random_array("kernel", {3, 3, 4, 6}, rng, 0.3f), random_array("bias", {6}, rng, 0.05f)};
    w["out"] = {random_array("kernel", {54, 3}, rng, 0.2f), random_array("bias", {3}, rng, 0.05f)};
    return w;
}

/// The class is the row band (top, middle, bottom) holding a bright bar.
LabelledImages bands(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> noise(0.0f, 0.3f);
    LabelledImages d;
    d.images.resize(n, {8, 8, 1});
    for (std::size_t i = 0; i < n; ++i) {
        const int label = int(i % 3);
        d.labels.push_back(label);
        for (std::size_t y = 0; y < 8; ++y)
            for (std::size_t x = 0; x < 8; ++x)
                d.images.at(i, y, x, 0) = noise(rng) + (int(y * 3 / 8) == label ? 1.0f : 0.0f);
    }
    return d;
}

}  // namespace

TEST_CASE("graph training: Fine-Pruning a residual network with BatchNormalization") {
    const ModelSpec spec = parse_keras_config(residual_config, "residual test config");
    GraphNetwork b = build_graph_network(spec, residual_weights(21));
    REQUIRE(b.pruned_layer().name() == "c3");
    REQUIRE(b.reduce().name() == "pool");
    const LabelledImages data = bands(120, 1), held_out = bands(60, 2);
    const ChannelMask mask = ChannelMask::from_order(6, {4, 1, 0, 2, 3, 5}, 2);  // prunes channels 4 and 1
    const TrainingForm<GraphNetwork> form = graph_training_form(spec);
    FinePruningOptions options;
    options.epochs = 6;
    options.batch_size = 16;
    options.learning_rate = 1e-2f;
    options.lr_drop = 0;

    const auto run = [&](int threads, std::vector<EpochReport>& reports) {
        const int saved = thread_count();
        set_thread_count(threads);
        GraphNetwork tuned = fine_prune(form.to_training(b), mask, data, options,
                                        [&](const EpochReport& r) { reports.push_back(r); });
        set_thread_count(saved);
        return tuned;
    };
    std::vector<EpochReport> r1, r2;
    const GraphNetwork t1 = run(1, r1), t2 = run(2, r2);
    REQUIRE(r1.size() == 6);
    INFO("loss " << r1.front().loss << " -> " << r1.back().loss << ", training accuracy " << r1.front().accuracy
                 << " -> " << r1.back().accuracy);
    CHECK(r1.back().loss < 0.5 * r1.front().loss);
    const GraphNetwork pruned = prune_channels(b, mask);
    const GraphNetwork fast = form.to_inference(t1);
    const double before = accuracy(pruned, held_out), after = accuracy(fast, held_out);
    MESSAGE("residual graph network fine-pruned (2 of 6 channels of c3): held-out accuracy " << before << " % -> "
            << after << " %, training loss " << r1.front().loss << " -> " << r1.back().loss);
    CHECK(after > before);
    CHECK(after >= 90.0);

    // bit-identical with 1 and 2 threads
    const ModelWeights w1 = graph_weights(t1), w2 = graph_weights(t2);
    for (const auto& [name, arrays] : w1)
        for (std::size_t k = 0; k < arrays.size(); ++k) CHECK(w2.at(name)[k].values == arrays[k].values);
    for (std::size_t e = 0; e < r1.size(); ++e) CHECK(r1[e].loss == r2[e].loss);

    // the pruned channels stayed zero, in the trained and the rebuilt fast network
    for (const GraphNetwork* n : {&t1, &fast}) {
        const auto& kernel = n->pruned_layer().kernel();
        const auto& bias = n->pruned_layer().bias();
        for (std::size_t i = 0; i < kernel.size(); ++i)
            if (mask.is_pruned(i % 6)) CHECK(kernel[i] == 0.0f);
        CHECK(bias[4] == 0.0f);
        CHECK(bias[1] == 0.0f);
        CHECK(bias[0] != 0.0f);
    }
    // the fast network (BatchNormalization folded again) computes what the trained one does
    Tensor lt, lf;
    t1.logits(held_out.images, lt);
    fast.logits(held_out.images, lf);
    double worst = 0, largest = 0;
    for (std::size_t i = 0; i < lt.size(); ++i) {
        worst = std::max(worst, std::fabs(double(lt.data()[i]) - double(lf.data()[i])));
        largest = std::max(largest, std::fabs(double(lt.data()[i])));
    }
    CHECK(worst <= 1e-5 * largest);
    CHECK(fast.stem().size() < t1.stem().size());  // bn1 folded into c1 again

    // head only: the stem and pruned layer are left as they were
    options.head_only = true;
    options.epochs = 2;
    const GraphNetwork head = fine_prune(form.to_training(b), mask, data, options);
    const ModelWeights wb = graph_weights(pruned), wh = graph_weights(head);
    for (const char* name : {"c1", "bn1", "c2", "c3"})
        for (std::size_t k = 0; k < wb.at(name).size(); ++k) CHECK(wh.at(name)[k].values == wb.at(name)[k].values);
    CHECK(wh.at("out")[0].values != wb.at("out")[0].values);
}

}  // namespace test_graph_training
