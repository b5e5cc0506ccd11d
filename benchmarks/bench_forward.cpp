// Forward speed of the CSAW DeepID face network (lab3_sunglasses_bd_weights.h5, 55x47x3):
// the whole network at batch 1, 32 and 256 (through Network::logits, and through the kernels
// with buffers reused between runs), and each layer at batch 32 through the kernels.
// Counters are images per second (items_per_second), wall-clock time, median of 5 repetitions.

#include "bench_common.hpp"

#include <benchmark/benchmark.h>

#include <stdexcept>

using namespace prunedef;

namespace {

constexpr std::size_t layer_batch = 32;

/// The model and, for the per-layer runs, every intermediate tensor of one batch of 32 faces.
struct Context {
    prunedef_bench::Model model = prunedef_bench::load_model();
    bool real_images = false;
    Tensor input = prunedef_bench::face_batch(layer_batch, &real_images);
    const Conv2D<Relu>* conv[4] = {};
    const Dense<Linear>*fc_1 = nullptr, *fc_2 = nullptr, *output = nullptr;
    Tensor conv_1, pool_1, conv_2, pool_2, conv_3, pool_3;

    Context() {
        const char* conv_names[4] = {"conv_1", "conv_2", "conv_3", "conv_4"};
        for (int i = 0; i < 4; ++i)
            conv[i] = prunedef_bench::find_layer<Conv2D<Relu>>(model.net, conv_names[i]);
        fc_1 = prunedef_bench::find_layer<Dense<Linear>>(model.net, "fc_1");
        fc_2 = prunedef_bench::find_layer<Dense<Linear>>(model.net, "fc_2");
        output = prunedef_bench::find_layer<Dense<Linear>>(model.net, "output");
        if (!conv[0] || !conv[1] || !conv[2] || !conv[3] || !fc_1 || !fc_2 || !output)
            throw std::logic_error("DeepID lacks a layer the benchmark expects");
        Tensor scaled = input;
        for (std::size_t i = 0; i < scaled.size(); ++i) scaled.data()[i] *= model.net.input_scale();
        input = scaled;
        run_conv(0, input, conv_1);
        maxpool2d(conv_1, 2, 2, pool_1);
        run_conv(1, pool_1, conv_2);
        maxpool2d(conv_2, 2, 2, pool_2);
        run_conv(2, pool_2, conv_3);
        maxpool2d(conv_3, 2, 2, pool_3);
    }

    void run_conv(int i, const Tensor& in, Tensor& out) const {
        conv2d<Relu>(in, conv[i]->geometry(), conv[i]->kernel().data(), conv[i]->bias().data(), out);
    }
    void run_dense(const Dense<Linear>& d, const Tensor& in, Tensor& out) const {
        dense<Linear>(in, d.kernel().data(), d.bias().data(), d.out_features(), out);
    }
    /// The head through the kernels: fc_1(flatten pool_3) + fc_2(flatten conv_4(pool_3)), ReLU, output.
    void run_head(const Tensor& features, Tensor& conv_4, Tensor& a, Tensor& b, Tensor& sum, Tensor& logits) const {
        run_conv(3, features, conv_4);
        conv_4.reshape({1, 1, conv_4.image_size()});
        Tensor flat = features;  // Flatten is a relabelling; dense reads image_size() floats per row
        flat.reshape({1, 1, flat.image_size()});
        run_dense(*fc_1, flat, a);
        run_dense(*fc_2, conv_4, b);
        add(a, b, sum);
        activate<Relu>(sum);
        run_dense(*output, sum, logits);
    }

    std::string label() const {
        std::string l = model.real ? "real lab3 weights" : model.source;
        l += real_images ? ", clean_samples faces" : ", random pixels";
        return l + ", " + std::to_string(thread_count()) + " threads";
    }
};

Context& context() {
    static Context c;
    return c;
}

void finish(benchmark::State& state, std::size_t batch) {
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(batch));
    state.SetLabel(context().label());
}

void BM_forward(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    const Context& c = context();
    const Tensor images = prunedef_bench::face_batch(batch);
    Tensor logits;
    for (auto _ : state) {
        c.model.net.logits(images, logits);
        benchmark::DoNotOptimize(logits.data());
        benchmark::ClobberMemory();
    }
    finish(state, batch);
}

/// The same forward pass through the kernels into tensors kept between runs: the difference to
/// deepid/forward is what the layer-by-layer allocation of fresh tensors costs.
void BM_forward_kernels(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    const Context& c = context();
    Tensor images = prunedef_bench::face_batch(batch);
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] *= c.model.net.input_scale();
    Tensor a1, p1, a2, p2, a3, p3, conv_4, a, b, sum, logits;
    for (auto _ : state) {
        c.run_conv(0, images, a1);
        maxpool2d(a1, 2, 2, p1);
        c.run_conv(1, p1, a2);
        maxpool2d(a2, 2, 2, p2);
        c.run_conv(2, p2, a3);
        maxpool2d(a3, 2, 2, p3);
        c.run_head(p3, conv_4, a, b, sum, logits);
        benchmark::DoNotOptimize(logits.data());
        benchmark::ClobberMemory();
    }
    finish(state, batch);
}

template <int Index>
void BM_conv(benchmark::State& state) {
    const Context& c = context();
    const Tensor* inputs[3] = {&c.input, &c.pool_1, &c.pool_2};
    Tensor out;
    for (auto _ : state) {
        c.run_conv(Index, *inputs[Index], out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    finish(state, layer_batch);
}

template <int Index>
void BM_pool(benchmark::State& state) {
    const Context& c = context();
    const Tensor* inputs[3] = {&c.conv_1, &c.conv_2, &c.conv_3};
    Tensor out;
    for (auto _ : state) {
        maxpool2d(*inputs[Index], 2, 2, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    finish(state, layer_batch);
}

void BM_head(benchmark::State& state) {
    const Context& c = context();
    Tensor conv_4, a, b, sum, logits;
    for (auto _ : state) {
        c.run_head(c.pool_3, conv_4, a, b, sum, logits);
        benchmark::DoNotOptimize(logits.data());
        benchmark::ClobberMemory();
    }
    finish(state, layer_batch);
}

// The head's parts, to see which of them costs.
void BM_head_conv_4(benchmark::State& state) {
    const Context& c = context();
    Tensor out;
    for (auto _ : state) {
        c.run_conv(3, c.pool_3, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    finish(state, layer_batch);
}

void BM_head_output(benchmark::State& state) {
    const Context& c = context();
    Tensor hidden(layer_batch, {1, 1, c.output->in_features()});
    for (std::size_t i = 0; i < hidden.size(); ++i) hidden.data()[i] = float(i % 7);
    Tensor out;
    for (auto _ : state) {
        c.run_dense(*c.output, hidden, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    finish(state, layer_batch);
}

/// B alone (predict), for comparison with the GoodNet below.
void BM_predict(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    const Context& c = context();
    const Tensor images = prunedef_bench::face_batch(batch);
    for (auto _ : state) {
        auto classes = c.model.net.predict(images);
        benchmark::DoNotOptimize(classes.data());
    }
    finish(state, batch);
}

/// GoodNet<DeepID, Masked<DeepID>> with the lab's X=4 mask (48 of conv_3's 60 channels, the
/// published figure): the trunk runs once, B's head a second time only where a pruned channel
/// is active.
void BM_goodnet(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    const Context& c = context();
    const Tensor images = prunedef_bench::face_batch(batch);
    // rank conv_3 by mean pool_3 activation on the batch, prune the 48 least active
    Tensor features;
    c.model.net.features(images, features);
    ChannelActivationAccumulator acc(c.model.net.prunable_channels(), ActivationSite::pooled);
    acc.add(features);
    const auto order = IncreasingActivation{}.order(c.model.net, acc.result());
    const GoodNet goodnet(c.model.net, ChannelMask::from_order(c.model.net.prunable_channels(), order, 48));
    for (auto _ : state) {
        auto classes = goodnet.predict(images);
        benchmark::DoNotOptimize(classes.data());
    }
    finish(state, batch);
}

void common(benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);
}

}  // namespace

BENCHMARK(BM_predict)->Name("deepid/predict")->ArgName("batch")->Arg(1)->Arg(32)->Arg(256)->Apply(common);
BENCHMARK(BM_goodnet)->Name("deepid/goodnet_X4")->ArgName("batch")->Arg(1)->Arg(32)->Arg(256)->Apply(common);
BENCHMARK(BM_forward)->Name("deepid/forward")->ArgName("batch")->Arg(1)->Arg(32)->Arg(256)->Apply(common);
BENCHMARK(BM_forward_kernels)->Name("deepid/forward_kernels_reused_buffers")->ArgName("batch")->Arg(1)->Arg(32)->Arg(256)->Apply(common);
BENCHMARK_TEMPLATE(BM_conv, 0)->Name("deepid/layer32/1_conv_1")->Apply(common);
BENCHMARK_TEMPLATE(BM_pool, 0)->Name("deepid/layer32/2_pool_1")->Apply(common);
BENCHMARK_TEMPLATE(BM_conv, 1)->Name("deepid/layer32/3_conv_2")->Apply(common);
BENCHMARK_TEMPLATE(BM_pool, 1)->Name("deepid/layer32/4_pool_2")->Apply(common);
BENCHMARK_TEMPLATE(BM_conv, 2)->Name("deepid/layer32/5_conv_3")->Apply(common);
BENCHMARK_TEMPLATE(BM_pool, 2)->Name("deepid/layer32/6_pool_3")->Apply(common);
BENCHMARK(BM_head)->Name("deepid/layer32/7_head")->Apply(common);
BENCHMARK(BM_head_conv_4)->Name("deepid/layer32/7a_head_conv_4")->Apply(common);
BENCHMARK(BM_head_output)->Name("deepid/layer32/7b_head_output_dense")->Apply(common);

BENCHMARK_MAIN();
