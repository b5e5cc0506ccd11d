// GraphNetwork (model/graph_network.hpp): a network assembled at run time from a ModelSpec.
// (a) DeepID written as a spec gives the compile-time DeepID's logits, features and repair();
//     is_deepid() recognises it and nothing else;
// (b) small graphs (branches, padding, strides, pooling, Dense pruning) against a naive double
//     reference that interprets the spec itself;
// (c) refusals; (d) Masked<GraphNetwork>, GoodNet<GraphNetwork, Masked<GraphNetwork>>.

#include "tiny_deepid.hpp"

#include <prunedef/model/deepid_spec.hpp>
#include <prunedef/model/graph_network.hpp>
#include <prunedef/model/model_weights.hpp>
#include <prunedef/prunedef.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_graph_network {

using namespace prunedef;

namespace {

LayerSpec input_layer(const std::string& name, ImageShape shape) {
    LayerSpec l;
    l.name = name;
    l.class_name = "InputLayer";
    l.input_shape = shape;
    return l;
}
LayerSpec conv(const std::string& name, const std::string& in, std::size_t filters, std::size_t k,
               const std::string& activation = "relu") {
    LayerSpec l;
    l.name = name;
    l.class_name = "Conv2D";
    l.inputs = {in};
    l.units = filters;
    l.kernel_size = {k, k};
    l.activation = activation;
    return l;
}
LayerSpec maxpool(const std::string& name, const std::string& in, std::size_t pool = 2) {
    LayerSpec l;
    l.name = name;
    l.class_name = "MaxPooling2D";
    l.inputs = {in};
    l.pool_size = {pool, pool};
    l.strides = {pool, pool};
    return l;
}
LayerSpec simple(const std::string& name, const std::string& cls, std::vector<std::string> in,
                 const std::string& activation = "linear") {
    LayerSpec l;
    l.name = name;
    l.class_name = cls;
    l.inputs = std::move(in);
    l.activation = activation;
    return l;
}
LayerSpec dense(const std::string& name, const std::string& in, std::size_t units, const std::string& activation = "linear") {
    LayerSpec l = simple(name, "Dense", {in}, activation);
    l.units = units;
    return l;
}

/// The CSAW architecture.py DeepID, as a Keras config states it.
ModelSpec deepid_spec(ImageShape input, std::size_t filters1, std::size_t filters2, std::size_t filters3,
                      std::size_t filters4, std::size_t hidden, std::size_t classes) {
    ModelSpec s;
    s.input = "input";
    s.output = "output";
    s.source = "deepid test spec";
    s.layers = {input_layer("input", input),
                conv("conv_1", "input", filters1, 4),
                maxpool("pool_1", "conv_1"),
                conv("conv_2", "pool_1", filters2, 3),
                maxpool("pool_2", "conv_2"),
                conv("conv_3", "pool_2", filters3, 3),
                maxpool("pool_3", "conv_3"),
                conv("conv_4", "pool_3", filters4, 2),
                simple("flatten_1", "Flatten", {"pool_3"}),
                simple("flatten_2", "Flatten", {"conv_4"}),
                dense("fc_1", "flatten_1", hidden),
                dense("fc_2", "flatten_2", hidden),
                simple("add_1", "Add", {"fc_1", "fc_2"}),
                simple("activation_1", "Activation", {"add_1"}, "relu"),
                dense("output", "activation_1", classes, "softmax")};
    return s;
}

Tensor random_images(std::size_t n, const ImageShape& shape, unsigned seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, scale);
    Tensor images(n, shape);
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = normal(rng);
    return images;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.size() == b.size());
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a.data()[i]) - double(b.data()[i])));
    return m;
}
double max_abs(const Tensor& a) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a.data()[i])));
    return m;
}

// ---- a naive double-precision interpreter of a ModelSpec (the reference) ----

struct RefImage {
    std::size_t h = 0, w = 0, c = 0;
    std::vector<double> v;
    double& at(std::size_t y, std::size_t x, std::size_t k) { return v[(y * w + x) * c + k]; }
    double at(std::size_t y, std::size_t x, std::size_t k) const { return v[(y * w + x) * c + k]; }
};
RefImage ref_image(std::size_t h, std::size_t w, std::size_t c, double fill = 0.0) {
    return {h, w, c, std::vector<double>(h * w * c, fill)};
}

double ref_activation(const std::string& a, double x, double alpha) {
    if (a == "linear") return x;
    if (a == "relu") return x > 0 ? x : 0.0;
    if (a == "sigmoid") return 1.0 / (1.0 + std::exp(-x));
    if (a == "tanh") return std::tanh(x);
    if (a == "elu") return x > 0 ? x : std::exp(x) - 1.0;  // the "elu" activation: alpha 1
    if (a == "leaky_relu") return x > 0 ? x : alpha * x;
    FAIL("reference: activation " << a);
    return 0;
}
void ref_activate(RefImage& im, const std::string& a, double alpha) {
    if (a == "softmax") {
        for (std::size_t p = 0; p < im.h * im.w; ++p) {
            double m = -1e300, sum = 0;
            for (std::size_t k = 0; k < im.c; ++k) m = std::max(m, im.v[p * im.c + k]);
            for (std::size_t k = 0; k < im.c; ++k) sum += std::exp(im.v[p * im.c + k] - m);
            for (std::size_t k = 0; k < im.c; ++k) im.v[p * im.c + k] = std::exp(im.v[p * im.c + k] - m) / sum;
        }
        return;
    }
    for (auto& x : im.v) x = ref_activation(a, x, alpha);
}

const WeightArray& ref_weight(const ModelWeights& weights, const std::string& layer, const std::string& name) {
    for (const auto& w : weights.at(layer))
        if (w.name == name) return w;
    FAIL("reference: no weight " << name << " for " << layer);
    return weights.at(layer)[0];
}

/// Keras' 'same' padding before (top or left) for one axis.
std::size_t same_pad_before(std::size_t in, std::size_t k, std::size_t s) {
    const std::size_t out = (in + s - 1) / s;
    const std::size_t need = (out - 1) * s + k;
    return need > in ? (need - in) / 2 : 0;
}
std::size_t out_size(std::size_t in, std::size_t k, std::size_t s, bool same) {
    return same ? (in + s - 1) / s : (in - k) / s + 1;
}

/// The model's output before its final softmax (so comparable with GraphNetwork's logits).
RefImage ref_forward(const ModelSpec& spec, const ModelWeights& weights, const RefImage& input) {
    std::map<std::string, RefImage> t;
    std::string out_name = spec.output;
    const LayerSpec* last = spec.find(spec.output);
    bool drop_fused_softmax = false;
    if (last->class_name == "Softmax" || (last->class_name == "Activation" && last->activation == "softmax"))
        out_name = last->inputs[0];
    else if (last->activation == "softmax")
        drop_fused_softmax = true;
    for (const LayerSpec& l : spec.layers) {
        const std::string& c = l.class_name;
        const std::string act = drop_fused_softmax && l.name == spec.output ? "linear" : l.activation;
        if (c == "InputLayer") {
            t[l.name] = input;
            continue;
        }
        const RefImage& x = t.at(l.inputs[0]);
        RefImage y;
        if (c == "Conv2D") {
            const WeightArray& k = ref_weight(weights, l.name, "kernel");
            const std::size_t kh = k.dims[0], kw = k.dims[1], cin = k.dims[2], cout = k.dims[3];
            const bool same = l.padding == "same";
            const std::size_t sh = l.strides[0], sw = l.strides[1];
            const std::size_t ph = same ? same_pad_before(x.h, kh, sh) : 0, pw = same ? same_pad_before(x.w, kw, sw) : 0;
            y = ref_image(out_size(x.h, kh, sh, same), out_size(x.w, kw, sw, same), cout);
            for (std::size_t oy = 0; oy < y.h; ++oy)
                for (std::size_t ox = 0; ox < y.w; ++ox)
                    for (std::size_t o = 0; o < cout; ++o) {
                        double s = l.use_bias ? ref_weight(weights, l.name, "bias").values[o] : 0.0;
                        for (std::size_t dy = 0; dy < kh; ++dy)
                            for (std::size_t dx = 0; dx < kw; ++dx) {
                                const long iy = long(oy * sh + dy) - long(ph), ix = long(ox * sw + dx) - long(pw);
                                if (iy < 0 || ix < 0 || iy >= long(x.h) || ix >= long(x.w)) continue;
                                for (std::size_t i = 0; i < cin; ++i)
                                    s += x.at(std::size_t(iy), std::size_t(ix), i) *
                                         k.values[((dy * kw + dx) * cin + i) * cout + o];
                            }
                        y.at(oy, ox, o) = s;
                    }
            ref_activate(y, act, l.alpha);
        } else if (c == "Dense") {
            const WeightArray& k = ref_weight(weights, l.name, "kernel");
            const std::size_t in = k.dims[0], out = k.dims[1];
            REQUIRE(x.v.size() == in);
            y = ref_image(1, 1, out);
            for (std::size_t o = 0; o < out; ++o) {
                double s = l.use_bias ? ref_weight(weights, l.name, "bias").values[o] : 0.0;
                for (std::size_t i = 0; i < in; ++i) s += x.v[i] * k.values[i * out + o];
                y.v[o] = s;
            }
            ref_activate(y, act, l.alpha);
        } else if (c == "MaxPooling2D" || c == "AveragePooling2D") {
            const bool same = l.padding == "same", avg = c == "AveragePooling2D";
            const std::size_t kh = l.pool_size[0], kw = l.pool_size[1], sh = l.strides[0], sw = l.strides[1];
            const std::size_t ph = same ? same_pad_before(x.h, kh, sh) : 0, pw = same ? same_pad_before(x.w, kw, sw) : 0;
            y = ref_image(out_size(x.h, kh, sh, same), out_size(x.w, kw, sw, same), x.c);
            for (std::size_t oy = 0; oy < y.h; ++oy)
                for (std::size_t ox = 0; ox < y.w; ++ox)
                    for (std::size_t k = 0; k < x.c; ++k) {
                        double m = -std::numeric_limits<double>::infinity(), s = 0;
                        std::size_t count = 0;
                        for (std::size_t dy = 0; dy < kh; ++dy)
                            for (std::size_t dx = 0; dx < kw; ++dx) {
                                const long iy = long(oy * sh + dy) - long(ph), ix = long(ox * sw + dx) - long(pw);
                                if (iy < 0 || ix < 0 || iy >= long(x.h) || ix >= long(x.w)) continue;
                                const double v = x.at(std::size_t(iy), std::size_t(ix), k);
                                m = std::max(m, v);
                                s += v;
                                ++count;
                            }
                        y.at(oy, ox, k) = avg ? s / double(count) : m;
                    }
        } else if (c == "GlobalAveragePooling2D" || c == "GlobalMaxPooling2D") {
            y = ref_image(1, 1, x.c, c == "GlobalMaxPooling2D" ? -std::numeric_limits<double>::infinity() : 0.0);
            for (std::size_t p = 0; p < x.h * x.w; ++p)
                for (std::size_t k = 0; k < x.c; ++k)
                    y.v[k] = c == "GlobalMaxPooling2D" ? std::max(y.v[k], x.v[p * x.c + k]) : y.v[k] + x.v[p * x.c + k];
            if (c == "GlobalAveragePooling2D")
                for (auto& v : y.v) v /= double(x.h * x.w);
        } else if (c == "ZeroPadding2D") {
            const auto& z = l.zero_padding;
            y = ref_image(x.h + z[0] + z[1], x.w + z[2] + z[3], x.c);
            for (std::size_t yy = 0; yy < x.h; ++yy)
                for (std::size_t xx = 0; xx < x.w; ++xx)
                    for (std::size_t k = 0; k < x.c; ++k) y.at(yy + z[0], xx + z[2], k) = x.at(yy, xx, k);
        } else if (c == "BatchNormalization") {
            y = x;
            const auto& mean = ref_weight(weights, l.name, "moving_mean").values;
            const auto& var = ref_weight(weights, l.name, "moving_variance").values;
            for (std::size_t p = 0; p < x.h * x.w; ++p)
                for (std::size_t k = 0; k < x.c; ++k) {
                    const double g = l.scale ? ref_weight(weights, l.name, "gamma").values[k] : 1.0;
                    const double b = l.center ? ref_weight(weights, l.name, "beta").values[k] : 0.0;
                    double& v = y.v[p * x.c + k];
                    v = g * (v - mean[k]) / std::sqrt(double(var[k]) + double(l.epsilon)) + b;
                }
        } else if (c == "Flatten") {
            y = x;
            y.h = y.w = 1;
            y.c = x.v.size();
        } else if (c == "Dropout") {
            y = x;
        } else if (c == "Activation" || c == "ReLU" || c == "Softmax" || c == "LeakyReLU") {
            y = x;
            const std::string a = c == "ReLU" ? "relu" : c == "Softmax" ? "softmax" : c == "LeakyReLU" ? "leaky_relu" : act;
            ref_activate(y, a, l.alpha);
        } else if (c == "Add") {
            y = x;
            for (std::size_t i = 1; i < l.inputs.size(); ++i)
                for (std::size_t j = 0; j < y.v.size(); ++j) y.v[j] += t.at(l.inputs[i]).v[j];
        } else if (c == "Concatenate") {
            std::size_t channels = 0;
            for (const auto& in : l.inputs) channels += t.at(in).c;
            y = ref_image(x.h, x.w, channels);
            for (std::size_t p = 0; p < x.h * x.w; ++p) {
                std::size_t off = 0;
                for (const auto& in : l.inputs) {
                    const RefImage& part = t.at(in);
                    for (std::size_t k = 0; k < part.c; ++k) y.v[p * channels + off + k] = part.v[p * part.c + k];
                    off += part.c;
                }
            }
        } else {
            FAIL("reference: class " << c);
        }
        t[l.name] = std::move(y);
    }
    return t.at(out_name);
}

/// The reference's logits for every image of a batch, as a Tensor.
Tensor ref_logits(const ModelSpec& spec, const ModelWeights& weights, const Tensor& images) {
    Tensor out;
    for (std::size_t n = 0; n < images.batch(); ++n) {
        RefImage im = ref_image(images.height(), images.width(), images.channels());
        for (std::size_t i = 0; i < im.v.size(); ++i) im.v[i] = images.image(n)[i];
        const RefImage r = ref_forward(spec, weights, im);
        if (n == 0) out.resize(images.batch(), {r.h, r.w, r.c});
        for (std::size_t i = 0; i < r.v.size(); ++i) out.image(n)[i] = float(r.v[i]);
    }
    return out;
}

/// Random weights for every weighted layer of a spec, given each layer's input channels.
ModelWeights random_weights(const ModelSpec& spec, const std::map<std::string, std::size_t>& fan_in, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.4f);
    std::uniform_real_distribution<float> positive(0.5f, 1.5f);
    auto arr = [&](const std::string& name, std::vector<std::size_t> dims, bool pos = false) {
        WeightArray w{name, std::move(dims), {}};
        w.values.resize(w.element_count());
        for (auto& v : w.values) v = pos ? positive(rng) : normal(rng);
        return w;
    };
    ModelWeights out;
    for (const LayerSpec& l : spec.layers) {
        if (l.class_name == "Conv2D") {
            out[l.name].push_back(arr("kernel", {l.kernel_size[0], l.kernel_size[1], fan_in.at(l.name), l.units}));
            if (l.use_bias) out[l.name].push_back(arr("bias", {l.units}));
        } else if (l.class_name == "Dense") {
            out[l.name].push_back(arr("kernel", {fan_in.at(l.name), l.units}));
            if (l.use_bias) out[l.name].push_back(arr("bias", {l.units}));
        } else if (l.class_name == "BatchNormalization") {
            const std::size_t c = fan_in.at(l.name);
            if (l.scale) out[l.name].push_back(arr("gamma", {c}));
            if (l.center) out[l.name].push_back(arr("beta", {c}));
            out[l.name].push_back(arr("moving_mean", {c}));
            out[l.name].push_back(arr("moving_variance", {c}, true));
        }
    }
    return out;
}

/// Builds the spec's GraphNetwork and checks its logits against the reference.
GraphNetwork check_against_reference(const ModelSpec& spec, const ModelWeights& weights, const GraphSplit& split,
                                     unsigned seed) {
    GraphNetwork net = build_graph_network(spec, weights, split);
    REQUIRE(net.bound());
    const Tensor images = random_images(7, net.input_shape(), seed);
    const Tensor got = net.logits(images);
    const Tensor want = ref_logits(spec, weights, images);
    REQUIRE(got.batch() == want.batch());
    REQUIRE(got.shape() == want.shape());
    const double scale = std::max(1.0, max_abs(want));
    INFO("max |difference| " << max_abs_diff(got, want) << ", max |logit| " << max_abs(want));
    CHECK(max_abs_diff(got, want) <= 2e-5 * scale);
    return net;
}

}  // namespace

TEST_CASE("GraphNetwork built from the DeepID spec equals the compile-time DeepID") {
    const DeepID deepid = [] {
        DeepID n = prunedef_test::tiny_deepid(11, 5);
        n.bind({55, 47, 3});
        return n;
    }();
    const ModelSpec spec = deepid_spec({55, 47, 3}, 2, 2, 2, 2, 4, 5);
    const ModelWeights weights = collect_weights(deepid);
    REQUIRE(weights.size() == 7);
    CHECK(weights.at("conv_1")[0].name == "kernel");
    CHECK(weights.at("conv_1")[1].name == "bias");

    GraphNetwork graph = build_graph_network(spec, weights);
    REQUIRE(graph.bound());
    CHECK(graph.pruned_layer().name() == "conv_3");  // the default, found from the graph
    CHECK(graph.reduce().name() == "pool_3");
    CHECK(graph.prunable_channels() == 2);
    CHECK(graph.num_classes() == 5);
    CHECK(graph.feature_shape() == deepid.feature_shape());
    CHECK(graph.conv_shape() == deepid.conv_shape());
    CHECK(graph.layer_order() == deepid.layer_order());

    const Tensor images = random_images(37, {55, 47, 3}, 5);
    Tensor lg, ld, fg, fd, cg, cd;
    graph.logits(images, lg);
    deepid.logits(images, ld);
    // Same kernels, same summation order, same fusion of conv+pool: bit for bit the same logits.
    CHECK(max_abs(ld) > 0.1);
    CHECK(max_abs_diff(lg, ld) == 0.0);
    graph.features(images, fg);
    deepid.features(images, fd);
    CHECK(max_abs_diff(fg, fd) == 0.0);
    graph.conv_output(images, cg);
    deepid.conv_output(images, cd);
    CHECK(max_abs_diff(cg, cd) == 0.0);
    CHECK(graph.predict(images) == deepid.predict(images));

    // the weights come back as they went in
    const ModelWeights back = graph_weights(graph);
    REQUIRE(back.size() == weights.size());
    for (const auto& [name, arrays] : weights) {
        REQUIRE(back.count(name));
        REQUIRE(back.at(name).size() == arrays.size());
        for (std::size_t i = 0; i < arrays.size(); ++i) {
            CHECK(back.at(name)[i].name == arrays[i].name);
            CHECK(back.at(name)[i].dims == arrays[i].dims);
            CHECK(back.at(name)[i].values == arrays[i].values);
        }
    }

    SUBCASE("repair gives the same order and curve") {
        const Tensor valid_images = random_images(150, {55, 47, 3}, 9);
        std::vector<int> labels = deepid.predict(valid_images);
        for (std::size_t i = 0; i < labels.size(); i += 4) labels[i] = int((labels[i] + 1) % 5);  // some errors
        const ArrayBatchSource valid(valid_images, labels);
        RepairData data;
        data.valid = &valid;
        for (ActivationSite site : {ActivationSite::pooled, ActivationSite::convolution}) {
            RepairOptions options;
            options.site = site;
            options.batch_size = 64;
            const RepairResult rg = repair(graph, data, options);
            const RepairResult rd = repair(deepid, data, options);
            CHECK(rg.pruned_layer == "conv_3");
            CHECK(rg.order == rd.order);
            CHECK(rg.activations.mean == rd.activations.mean);
            REQUIRE(rg.curve.size() == rd.curve.size());
            for (std::size_t k = 0; k < rg.curve.size(); ++k) CHECK(rg.curve[k].valid_accuracy == rd.curve[k].valid_accuracy);
            REQUIRE(rg.thresholds.size() == rd.thresholds.size());
            for (std::size_t t = 0; t < rg.thresholds.size(); ++t) CHECK(rg.thresholds[t].k == rd.thresholds[t].k);
        }
    }
    SUBCASE("prune_channels zeroes the same weights") {
        ChannelMask mask(2);
        mask.prune(1);
        const GraphNetwork pg = prune_channels(graph, mask);
        const DeepID pd = prune_channels(deepid, mask);
        Tensor a, b;
        pg.logits(images, a);
        pd.logits(images, b);
        CHECK(max_abs_diff(a, b) == 0.0);
        CHECK(graph_weights(pg).at("conv_3")[1].values[1] == 0.0f);
        CHECK(graph_weights(graph).at("conv_3")[1].values[1] != 0.0f);  // the original is untouched
    }
    SUBCASE("assign_weights round trip and refusals") {
        DeepID fresh = make_deepid();
        assign_weights(fresh, weights, "test map");
        fresh.bind({55, 47, 3});
        Tensor a;
        fresh.logits(images, a);
        CHECK(max_abs_diff(a, ld) == 0.0);
        ModelWeights missing = weights;
        missing.erase("fc_2");
        CHECK_THROWS_WITH_AS(assign_weights(fresh, missing, "m.h5"), "m.h5: no weights for layer fc_2", format_error);
        ModelWeights extra = weights;
        extra["conv_9"] = weights.at("conv_1");
        CHECK_THROWS_WITH_AS(assign_weights(fresh, extra, "m.h5"),
                             "m.h5: weights for layer conv_9, which the network has no weighted layer of", format_error);
    }
}

TEST_CASE("is_deepid recognises the CSAW architecture and nothing else") {
    const ModelSpec spec = deepid_spec({55, 47, 3}, 20, 40, 60, 80, 160, 1283);
    std::string why;
    CHECK(is_deepid(spec, &why));
    CHECK(why.empty());
    ModelSpec linear_out = spec;
    linear_out.layers.back().activation = "linear";
    CHECK(is_deepid(linear_out));
    ModelSpec renamed = spec;  // names of flatten / add / activation are free
    renamed.layers[8].name = "flatten_a";
    renamed.layers[10].inputs = {"flatten_a"};
    CHECK(is_deepid(renamed));

    ModelSpec sigmoid = spec;
    sigmoid.layers[5].activation = "sigmoid";  // conv_3
    CHECK_FALSE(is_deepid(sigmoid, &why));
    CHECK(why == "conv_3 is not a Conv2D with relu, valid padding, stride 1 and a bias");
    ModelSpec same = spec;
    same.layers[1].padding = "same";
    CHECK_FALSE(is_deepid(same));
    ModelSpec pool3 = spec;
    pool3.layers[6].pool_size = {3, 3};
    CHECK_FALSE(is_deepid(pool3));
    ModelSpec no_bias = spec;
    no_bias.layers[10].use_bias = false;
    CHECK_FALSE(is_deepid(no_bias));
    ModelSpec swapped = spec;  // fc_1 reads conv_4's flatten
    swapped.layers[10].inputs = {"flatten_2"};
    swapped.layers[11].inputs = {"flatten_1"};
    CHECK_FALSE(is_deepid(swapped, &why));
    ModelSpec extra = spec;
    extra.layers.insert(extra.layers.begin() + 14, simple("drop", "Dropout", {"activation_1"}));
    extra.layers.back().inputs = {"drop"};
    CHECK_FALSE(is_deepid(extra, &why));
    CHECK(why == "DeepID has 15 layers (with the input), the model has 16");
}

namespace {

/// Runs f and returns the message of the E it throws ("" and a failed check if none).
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    FAIL_CHECK("expected an exception");
    return "";
}

bool contains(const std::string& s, const std::string& part) {
    INFO(s);
    return s.find(part) != std::string::npos;
}

/// input 12x10x3 -> conv 3x3 (tanh) -> Dropout -> conv 3x3 (sigmoid) -> pool -> conv 2x2 relu,
/// no bias -> pool -> Flatten -> Dense tanh -> Dense softmax
ModelSpec sequential_spec() {
    ModelSpec s;
    s.input = "in";
    s.output = "probs";
    s.source = "seq.h5";
    LayerSpec c3 = conv("c3", "p2", 5, 2, "relu");
    c3.use_bias = false;
    s.layers = {input_layer("in", {12, 10, 3}), conv("c1", "in", 4, 3, "tanh"), simple("drop", "Dropout", {"c1"}),
                conv("c2", "drop", 6, 3, "sigmoid"), maxpool("p1", "c2"), c3, maxpool("p2", "c3"),
                simple("flat", "Flatten", {"p2"}), dense("hidden", "flat", 7, "tanh"), dense("probs", "hidden", 3, "softmax")};
    // c3 reads p1 (the spec's order is topological)
    s.layers[5].inputs = {"p1"};
    s.layers[6].inputs = {"c3"};
    return s;
}
const std::map<std::string, std::size_t> sequential_fan_in = {
    {"c1", 3}, {"c2", 4}, {"c3", 6}, {"hidden", 5}, {"probs", 7}};  // 12x10 -> 10x8 -> 8x6 -> 4x3 -> 3x2 -> 1x1

/// Two convolution branches added in the stem and two dense branches added in the head:
/// in 9x9x2 -> a: conv 3x3 relu, b: conv 3x3 linear -> Add -> ReLU -> conv 2x2 relu (pruned)
///   -> pool -> Flatten -> (d1 relu, d2 linear) -> Add -> output (linear) -> Softmax layer
ModelSpec branchy_spec() {
    ModelSpec s;
    s.input = "in";
    s.output = "sm";
    s.source = "branchy.keras";
    s.layers = {input_layer("in", {9, 9, 2}),
                conv("a", "in", 3, 3, "relu"),
                conv("b", "in", 3, 3, "linear"),
                simple("ab", "Add", {"a", "b"}),
                simple("relu", "ReLU", {"ab"}),
                conv("c", "relu", 4, 2, "relu"),
                maxpool("pool", "c", 3),
                simple("flat", "Flatten", {"pool"}),
                dense("d1", "flat", 5, "relu"),
                dense("d2", "flat", 5, "linear"),
                simple("dd", "Add", {"d1", "d2"}),
                dense("output", "dd", 4, "linear"),
                simple("sm", "Softmax", {"output"})};
    return s;
}
const std::map<std::string, std::size_t> branchy_fan_in = {
    {"a", 2}, {"b", 2}, {"c", 3}, {"d1", 2 * 2 * 4}, {"d2", 2 * 2 * 4}, {"output", 5}};  // 9 -> 7 -> 6 -> 2

}  // namespace

TEST_CASE("GraphNetwork against a naive double reference") {
    SUBCASE("sequential: tanh, sigmoid, dropout, a convolution without bias, softmax dropped") {
        const ModelSpec spec = sequential_spec();
        const ModelWeights w = random_weights(spec, sequential_fan_in, 3);
        const GraphNetwork net = check_against_reference(spec, w, {}, 4);
        CHECK(net.pruned_layer().name() == "c3");
        CHECK(net.reduce().name() == "p2");
        CHECK(net.prunable_channels() == 5);
        CHECK(net.stem().slots() <= 2);  // a chain needs at most two intermediate tensors
        const ModelWeights back = graph_weights(net);
        REQUIRE(back.at("c3").size() == 1);  // no bias written for a layer built without one
        CHECK(back.at("c3")[0].name == "kernel");
        CHECK(back.at("c2").size() == 2);
        CHECK(back.count("drop") == 0);
        // features at the convolution (not pooled): the head starts with the pooling
        const GraphNetwork unpooled = check_against_reference(spec, w, {"", false}, 5);
        CHECK(unpooled.reduce().is_identity());
        CHECK(unpooled.feature_shape() == ImageShape{3, 2, 5});
        // pruning another convolution: sigmoid c2
        const GraphNetwork at_c2 = check_against_reference(spec, w, {"c2", true}, 6);
        CHECK(at_c2.pruned_layer().activation() == "sigmoid");
        CHECK(at_c2.feature_shape() == ImageShape{4, 3, 6});
        // a Dense layer pruned: its neurons are the channels of a 1x1xn tensor
        const GraphNetwork dense = check_against_reference(spec, w, {"hidden", true}, 9);
        CHECK(dense.pruned_layer().name() == "hidden");
        CHECK(dense.reduce().is_identity());
        CHECK(dense.feature_shape() == ImageShape{1, 1, 7});
        // every 1-neuron mask agrees with zeroing the neuron's kernel column and bias in the reference
        const Tensor images = random_images(6, dense.input_shape(), 10);
        for (std::size_t c = 0; c < 7; ++c) {
            ChannelMask mask(7);
            mask.prune(c);
            ModelWeights zeroed = w;
            for (auto& arr : zeroed.at("hidden")) {
                const std::size_t cols = arr.dims.back();
                for (std::size_t i = c; i < arr.values.size(); i += cols) arr.values[i] = 0.0f;
            }
            const Tensor want = ref_logits(spec, zeroed, images);
            CHECK(max_abs_diff(prune_channels(dense, mask).logits(images), want) <= 2e-5 * std::max(1.0, max_abs(want)));
            CHECK(max_abs_diff(Masked<GraphNetwork>(dense, mask).logits(images), want) <=
                  2e-5 * std::max(1.0, max_abs(want)));
        }
    }
    SUBCASE("branches: Add in the stem and in the head, ReLU layer, a final Softmax layer dropped") {
        const ModelSpec spec = branchy_spec();
        const ModelWeights w = random_weights(spec, branchy_fan_in, 7);
        const GraphNetwork net = check_against_reference(spec, w, {}, 8);
        CHECK(net.pruned_layer().name() == "c");
        CHECK(net.reduce().name() == "pool");
        CHECK(net.num_classes() == 4);
        // a dense layer beside another reading the same Flatten cannot be split off
        CHECK(contains(message_of<argument_error>([&] { build_graph_network(spec, w, {"d1", true}); }),
                       "cannot split the network at layer d1: layer d2 reads flat"));
    }
}

/// Checks a spec's graph (classes, inputs, axes) without building it.
static void spec_graph_checked(const ModelSpec& spec) { (void)detail::spec_graph(spec); }

TEST_CASE("GraphNetwork refuses what it cannot compute exactly") {
    SUBCASE("a layer class outside the list") {
        ModelSpec spec = sequential_spec();
        LayerSpec lstm = simple("lstm_1", "LSTM", {"flat"});
        spec.layers.insert(spec.layers.begin() + 8, lstm);
        const std::string m =
            message_of<argument_error>([&] { build_graph_network(spec, random_weights(spec, sequential_fan_in, 1)); });
        CHECK(contains(m, "seq.h5: layer lstm_1 (LSTM): class LSTM is not supported"));
        for (const char* cls : {"Conv1D", "DepthwiseConv2D", "Lambda"}) {
            ModelSpec other = sequential_spec();
            other.layers[2].class_name = cls;  // in place of the Dropout
            CHECK(contains(message_of<argument_error>([&] { build_graph_network(other, {}); }),
                           std::string("layer drop (") + cls + "): class " + cls + " is not supported"));
        }
    }
    SUBCASE("a BatchNormalization or Concatenate axis that is not the channels") {
        // in (6x6x2) -> a (conv 3x3, 3) -> bn -> Flatten -> Dense
        ModelSpec spec;
        spec.input = "in";
        spec.output = "out";
        spec.source = "axis.h5";
        LayerSpec bn = simple("bn", "BatchNormalization", {"a"});
        bn.axis = 1;  // the rows of an image
        spec.layers = {input_layer("in", {6, 6, 2}), conv("a", "in", 3, 3), bn, simple("flat", "Flatten", {"bn"}),
                       dense("out", "flat", 2)};
        CHECK(message_of<argument_error>([&] { build_graph_network(spec, {}); }) ==
              "axis.h5: layer bn (BatchNormalization): axis 1 of a 4-D tensor is not the channel axis (3 or -1); only "
              "the channel axis is supported");
        // axis 1 of a vector (tf.keras stores it so after a Dense) is the channels: accepted
        spec.layers = {input_layer("in", {6, 6, 2}), conv("a", "in", 3, 3), simple("flat", "Flatten", {"a"}),
                       dense("d", "flat", 4), bn, dense("out", "bn", 2)};
        spec.layers[4].inputs = {"d"};
        CHECK_NOTHROW(spec_graph_checked(spec));
        LayerSpec cat = simple("cat", "Concatenate", {"a", "a"});
        cat.axis = 1;
        spec.layers = {input_layer("in", {6, 6, 2}), conv("a", "in", 3, 3), cat, simple("flat", "Flatten", {"cat"}),
                       dense("out", "flat", 2)};
        CHECK(message_of<argument_error>([&] { build_graph_network(spec, {}); }) ==
              "axis.h5: layer cat (Concatenate): axis 1 of a 4-D tensor is not the channel axis (3 or -1); only the "
              "channel axis is supported");
    }
    SUBCASE("a second input") {
        ModelSpec spec = sequential_spec();
        spec.layers.insert(spec.layers.begin() + 1, input_layer("in2", {12, 10, 3}));
        CHECK(message_of<argument_error>([&] { build_graph_network(spec, {}); }) ==
              "seq.h5: layer in2 (InputLayer): a second input; only models with one input are supported");
    }
    SUBCASE("a connection around the pruned layer") {
        // in -> a (3x3) -> b (1x1) -> Add(b, a) -> Flatten -> Dense
        ModelSpec spec;
        spec.input = "in";
        spec.output = "out";
        spec.source = "skip.h5";
        spec.layers = {input_layer("in", {6, 6, 2}), conv("a", "in", 3, 3), conv("b", "a", 3, 1),
                       simple("sum", "Add", {"b", "a"}), simple("flat", "Flatten", {"sum"}), dense("out", "flat", 2)};
        const ModelWeights w = random_weights(spec, {{"a", 2}, {"b", 3}, {"out", 48}}, 2);
        CHECK(message_of<argument_error>([&] { build_graph_network(spec, w, {"b", true}); }) ==
              "skip.h5: cannot split the network at layer b: layer sum reads a, which is computed before it (a "
              "connection around the pruned layer)");
        // the default is the last convolution where the graph splits: a
        const GraphNetwork net = check_against_reference(spec, w, {}, 3);
        CHECK(net.pruned_layer().name() == "a");
    }
    SUBCASE("the pooling is not the pruned layer's only reader") {
        // DeepID at conv_3 with pool_3 read by conv_4 but conv_3 read by a Flatten too
        ModelSpec spec = deepid_spec({55, 47, 3}, 2, 2, 2, 2, 4, 5);
        spec.layers[8].inputs = {"conv_3"};  // flatten_1 reads conv_3
        const std::string m = message_of<argument_error>([&] { build_graph_network(spec, {}, {"conv_3", true}); });
        CHECK(m == "deepid test spec: cannot split the network at layer conv_3: its output is read by the pooling "
                   "pool_3 and also by layer flatten_1");
    }
    SUBCASE("--layer naming a layer that is not a Conv2D or Dense") {
        const ModelSpec spec = sequential_spec();
        const ModelWeights w = random_weights(spec, sequential_fan_in, 1);
        CHECK(message_of<argument_error>([&] { build_graph_network(spec, w, {"flat", true}); }) ==
              "seq.h5: layer flat is a Flatten; only a Conv2D (channels) or a Dense layer (neurons) can be pruned");
        CHECK(message_of<argument_error>([&] { build_graph_network(spec, w, {"nope", true}); }) ==
              "seq.h5: no layer named nope to prune");
        CHECK(contains(message_of<argument_error>([&] { build_graph_network(spec, w, {"probs", true}); }),
                       "cannot split the network at layer probs: it gives the model's output"));
    }
    SUBCASE("prune_channels on a layer whose activation is not zero-preserving") {
        const ModelSpec spec = sequential_spec();
        const GraphNetwork net = build_graph_network(spec, random_weights(spec, sequential_fan_in, 1), {"c2", true});
        ChannelMask mask(6);
        mask.prune(2);
        CHECK(message_of<argument_error>([&] { prune_channels(net, mask); }) ==
              "zero_channels / prune_channels: layer c2 (Conv2D) has activation sigmoid, which is not zero-preserving "
              "(f(0) != 0), so zeroing a channel's weights would not remove it; mask the features instead "
              "(Masked<Net>, ChannelMask::apply)");
        // Masked works for any activation
        const Tensor images = random_images(3, net.input_shape(), 2);
        CHECK(Masked<GraphNetwork>(net, mask).logits(images).batch() == 3);
    }
    SUBCASE("weights missing, extra or misshapen") {
        const ModelSpec spec = sequential_spec();
        const ModelWeights w = random_weights(spec, sequential_fan_in, 1);
        ModelWeights missing = w;
        missing.erase("hidden");
        CHECK(message_of<format_error>([&] { build_graph_network(spec, missing); }) ==
              "seq.h5: layer hidden (Dense): no weights for this layer");
        ModelWeights extra = w;
        extra["ghost"] = w.at("c1");
        CHECK(message_of<format_error>([&] { build_graph_network(spec, extra); }) ==
              "seq.h5: weights for layer ghost, which the model does not have");
        ModelWeights with_bias = w;
        with_bias["c3"].push_back(WeightArray{"bias", {5}, std::vector<float>(5, 0.0f)});
        CHECK(contains(message_of<format_error>([&] { build_graph_network(spec, with_bias); }),
                       "seq.h5: layer c3 (Conv2D): unexpected weight bias"));
        ModelSpec wrong_size = spec;
        wrong_size.layers[1].kernel_size = {2, 2};
        CHECK(contains(message_of<format_error>([&] { build_graph_network(wrong_size, w); }),
                       "seq.h5: layer c1 (Conv2D): kernel has shape (3, 3, 3, 4) but the configuration implies (2, 2, 3, 4)"));
    }
    SUBCASE("Dense applied per position") {
        ModelSpec spec;
        spec.input = "in";
        spec.output = "out";
        spec.layers = {input_layer("in", {5, 5, 2}), conv("c", "in", 3, 3), dense("out", "c", 2)};
        CHECK(contains(message_of<shape_error>([&] { build_graph_network(spec, random_weights(spec, {{"c", 2}, {"out", 3}}, 1)); }),
                       "layer out: Dense on a 3x3x3 input (Keras applies it at every position) is not supported"));
    }
}

TEST_CASE("Masked<GraphNetwork> and GoodNet<GraphNetwork, Masked<GraphNetwork>> agree with prune_channels") {
    const ModelSpec spec = branchy_spec();
    const GraphNetwork net = build_graph_network(spec, random_weights(spec, branchy_fan_in, 21));
    const Tensor images = random_images(64, net.input_shape(), 22);
    const std::vector<int> pb = net.predict(images);
    std::size_t disagreements = 0;
    for (const std::vector<std::size_t>& pruned : {std::vector<std::size_t>{0}, {1, 3}, {0, 1, 2}, {0, 1, 2, 3}}) {
        ChannelMask mask(4);
        for (auto c : pruned) mask.prune(c);
        const GraphNetwork bprime = prune_channels(net, mask);
        const Masked<GraphNetwork> masked(net, mask);
        CHECK(max_abs_diff(masked.logits(images), bprime.logits(images)) == 0.0);
        const GoodNet<GraphNetwork, Masked<GraphNetwork>> g(net, mask);
        const std::vector<int> pbp = bprime.predict(images);
        const std::vector<int> out = g.predict(images);
        for (std::size_t i = 0; i < pb.size(); ++i) {
            CHECK(out[i] == (pb[i] == pbp[i] ? pb[i] : 4));
            disagreements += pb[i] != pbp[i];
        }
        const GoodNet<GraphNetwork, GraphNetwork> two(net, bprime);
        CHECK(two.predict(images) == out);
    }
    CHECK(disagreements > 0);  // the masks changed some predictions: the rule was exercised
}

namespace {

/// 'same' padding, strides, BatchNormalization (no bias before it), elu, Concatenate, a max pooling
/// with stride < pool and 'same', global average pooling, LeakyReLU:
/// in 11x9x3 -> a 3x3 same linear no-bias -> bn -> Activation elu -> b 3x3 stride 2 same relu
///   -> (c 1x1 relu, d 3x3 same tanh) -> Concatenate -> e 2x2 relu -> pool 3 stride 2 same
///   -> GlobalAveragePooling2D -> dense 5 -> LeakyReLU 0.2 -> out 3 softmax
ModelSpec modern_spec() {
    ModelSpec s;
    s.input = "in";
    s.output = "out";
    s.source = "modern.keras";
    LayerSpec a = conv("a", "in", 4, 3, "linear");
    a.padding = "same";
    a.use_bias = false;
    LayerSpec bn = simple("bn", "BatchNormalization", {"a"});
    bn.epsilon = 1e-3f;
    LayerSpec b = conv("b", "elu", 5, 3, "relu");
    b.padding = "same";
    b.strides = {2, 2};
    LayerSpec d = conv("d", "b", 2, 3, "tanh");
    d.padding = "same";
    LayerSpec pool = maxpool("pool", "e", 3);
    pool.strides = {2, 2};
    pool.padding = "same";
    LayerSpec leaky = simple("leaky", "LeakyReLU", {"dense"});
    leaky.alpha = 0.2f;
    s.layers = {input_layer("in", {11, 9, 3}), a, bn, simple("elu", "Activation", {"bn"}, "elu"), b,
                conv("c", "b", 3, 1, "relu"), d, simple("cat", "Concatenate", {"c", "d"}), conv("e", "cat", 6, 2, "relu"),
                pool, simple("gap", "GlobalAveragePooling2D", {"pool"}), dense("dense", "gap", 5), leaky,
                dense("out", "leaky", 3, "softmax")};
    return s;
}
const std::map<std::string, std::size_t> modern_fan_in = {{"a", 3}, {"bn", 4}, {"b", 4}, {"c", 5}, {"d", 5},
                                                          {"e", 5}, {"dense", 6}, {"out", 5}};

/// ZeroPadding2D, a strided valid convolution with elu, average pooling, global max pooling, a
/// sigmoid Dense: in 10x10x2 -> pad (1, 2, 0, 1) -> f 3x3 strides (2, 1) elu -> avg 2 -> g 2x2 relu
///   -> GlobalMaxPooling2D -> h 4 sigmoid -> out 2
ModelSpec strided_spec() {
    ModelSpec s;
    s.input = "in";
    s.output = "out";
    s.source = "strided.h5";
    LayerSpec pad = simple("pad", "ZeroPadding2D", {"in"});
    pad.zero_padding = {1, 2, 0, 1};
    LayerSpec f = conv("f", "pad", 4, 3, "elu");
    f.strides = {2, 1};
    LayerSpec avg = simple("avg", "AveragePooling2D", {"f"});
    avg.pool_size = {2, 2};
    avg.strides = {2, 2};
    s.layers = {input_layer("in", {10, 10, 2}), pad, f, avg, conv("g", "avg", 5, 2, "relu"),
                simple("gmp", "GlobalMaxPooling2D", {"g"}), dense("h", "gmp", 4, "sigmoid"), dense("out", "h", 2)};
    return s;
}
const std::map<std::string, std::size_t> strided_fan_in = {{"f", 2}, {"g", 4}, {"h", 5}, {"out", 4}};

/// Masked and prune_channels give the same logits for every 1-channel mask.
void check_masked_equals_pruned(const GraphNetwork& net, unsigned seed) {
    const Tensor images = random_images(9, net.input_shape(), seed);
    for (std::size_t c = 0; c < net.prunable_channels(); ++c) {
        ChannelMask mask(net.prunable_channels());
        mask.prune(c);
        const Tensor a = Masked<GraphNetwork>(net, mask).logits(images);
        const Tensor b = prune_channels(net, mask).logits(images);
        CHECK(max_abs_diff(a, b) <= 1e-5 * std::max(1.0, max_abs(b)));
    }
}

}  // namespace

TEST_CASE("GraphNetwork against a naive double reference: padding, strides, BatchNormalization, pooling") {
    SUBCASE("same padding, strides, BatchNormalization, elu, Concatenate, global average pooling, LeakyReLU") {
        const ModelSpec spec = modern_spec();
        const ModelWeights w = random_weights(spec, modern_fan_in, 31);
        const GraphNetwork net = check_against_reference(spec, w, {}, 32);
        CHECK(net.pruned_layer().name() == "e");
        CHECK(net.reduce().name() == "pool");
        CHECK(net.feature_shape() == ImageShape{3, 2, 6});
        check_masked_equals_pruned(net, 33);
        // bn is folded into a in the stem (no op of its own) ...
        auto has_op = [](const GraphSegment& seg, const std::string& name) {
            for (std::size_t i = 0; i < seg.size(); ++i)
                if (seg.op(i).name() == name) return true;
            return false;
        };
        CHECK(has_op(net.stem(), "a"));
        CHECK_FALSE(has_op(net.stem(), "bn"));
        // the 'same' convolution before the BatchNormalization: its reader is not a pooling
        const GraphNetwork at_a = check_against_reference(spec, w, {"a", true}, 34);
        CHECK(at_a.reduce().is_identity());
        CHECK(at_a.feature_shape() == ImageShape{11, 9, 4});
        CHECK(has_op(at_a.head(), "bn"));  // ... but not into the pruned layer
        check_masked_equals_pruned(at_a, 35);
        // the weights come back under Keras' names, BatchNormalization's too, a's without bias
        const ModelWeights back = graph_weights(net);
        REQUIRE(back.at("a").size() == 1);
        REQUIRE(back.at("bn").size() == 4);
        for (std::size_t i = 0; i < 4; ++i) {
            CHECK(back.at("bn")[i].name == w.at("bn")[i].name);
            CHECK(back.at("bn")[i].values == w.at("bn")[i].values);
        }
        CHECK(back.size() == w.size());
    }
    SUBCASE("ZeroPadding2D, strided convolution with elu, average and global max pooling") {
        const ModelSpec spec = strided_spec();
        const ModelWeights w = random_weights(spec, strided_fan_in, 41);
        const GraphNetwork net = check_against_reference(spec, w, {}, 42);
        CHECK(net.pruned_layer().name() == "g");
        CHECK(net.reduce().name() == "gmp");
        CHECK(net.feature_shape() == ImageShape{1, 1, 5});
        check_masked_equals_pruned(net, 43);
        const GraphNetwork at_f = check_against_reference(spec, w, {"f", true}, 44);
        CHECK(at_f.pruned_layer().activation() == "elu");
        CHECK(at_f.reduce().name() == "avg");
        check_masked_equals_pruned(at_f, 45);
    }
}

}  // namespace test_graph_network
