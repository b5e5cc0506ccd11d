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
