// prunedef against oneDNN on the CSAW DeepID face network, same weights, same images, one process.
//
// The oneDNN network is built from the layers of the prunedef model (so both read the weights
// through prunedef's Keras reader): convolutions with a fused ReLU post-op and the layouts
// oneDNN prefers (format "any"), max pooling, inner products reading the 4-D pooled maps
// directly (Keras' H, W, C flatten order is oneDNN's "hwio" weights tag), fc_2 accumulating
// onto fc_1 through a sum post-op followed by ReLU, and the output inner product.
//
// The logits of both must agree to 1e-3 relative (per image: max |difference| / max |logit|)
// at every batch size before anything is timed. Timing: 7 interleaved repetitions of each
// (the order alternates), median images/s, printed as a Markdown table.
//
// Usage: prunedef_vs_onednn [--threads N] [--reps N] [--seconds S] [--batches 1,32,256]
//        prunedef_vs_onednn --logits FILE   (writes prunedef's logits of the faces of
//        clean_samples.h5 as raw float32, N x classes, and exits: benchmarks/deepid_onnx.py
//        --prunedef FILE compares ONNX Runtime's with them)
// (benchmarks/anchors.py runs it with --reps 1 once per round, next to ONNX Runtime and PyTorch.)

#include "bench_common.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

using namespace prunedef;

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

/// The DeepID as a list of oneDNN primitives for one fixed batch size.
class OnednnDeepID {
public:
    OnednnDeepID(const prunedef_bench::Model& model, std::size_t batch)
        : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_), batch_(dnnl::memory::dim(batch)) {
        const DeepID& net = model.net;
        const ImageShape in = net.input_shape();
        input_ = dnnl::memory({{batch_, dim(in.channels), dim(in.height), dim(in.width)}, dt::f32, tag::nhwc}, engine_,
                              DNNL_MEMORY_NONE);

        // A scale on the input is folded into conv_1's kernel: conv(s x, W) = conv(x, s W).
        dnnl::memory x = conv(layer<Conv2D<Relu>>(net, "conv_1"), input_, net.input_scale());
        x = pool(x);
        x = conv(layer<Conv2D<Relu>>(net, "conv_2"), x);
        x = pool(x);
        x = conv(layer<Conv2D<Relu>>(net, "conv_3"), x);
        const dnnl::memory features = pool(x);
        const dnnl::memory hidden = dense(layer<Dense<Linear>>(net, "fc_1"), features, dnnl::memory(), false);
        const dnnl::memory conv_4 = conv(layer<Conv2D<Relu>>(net, "conv_4"), features);
        dense(layer<Dense<Linear>>(net, "fc_2"), conv_4, hidden, true);  // hidden = ReLU(hidden + fc_2)
        logits_ = dense(layer<Dense<Linear>>(net, "output"), hidden, dnnl::memory(), false);
    }

    /// Runs on NHWC images (batch x H x W x C floats); the logits stay valid until the next run.
    const float* run(const Tensor& images) {
        input_.set_data_handle(const_cast<float*>(images.data()));
        for (auto& s : steps_) s.op.execute(stream_, s.args);
        stream_.wait();
        return static_cast<const float*>(logits_.get_data_handle());
    }

    /// Which implementation oneDNN chose for each primitive.
    const std::vector<std::string>& implementations() const { return impls_; }

private:
    struct Step {
        dnnl::primitive op;
        std::unordered_map<int, dnnl::memory> args;
    };

    static dnnl::memory::dim dim(std::size_t v) { return static_cast<dnnl::memory::dim>(v); }

    template <class Layer>
    static const Layer& layer(const DeepID& net, const char* name) {
        const Layer* l = prunedef_bench::find_layer<Layer>(net, name);
        if (!l) {
            std::fprintf(stderr, "prunedef_vs_onednn: the DeepID has no layer %s\n", name);
            std::exit(2);
        }
        return *l;
    }

    /// Copies weights into a oneDNN memory of the layout the primitive wants (reordered once here).
    dnnl::memory weights(const prunedef::detail::AlignedFloats& values, const dnnl::memory::desc& user, const dnnl::memory::desc& want,
                         float scale = 1.0f) {
        dnnl::memory src(user, engine_);
        float* p = static_cast<float*>(src.get_data_handle());
        for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i] * scale;
        if (want == user) return src;
        dnnl::memory dst(want, engine_);
        dnnl::reorder(src, dst).execute(stream_, src, dst);
        stream_.wait();
        return dst;
    }

    /// src in whatever layout it has; returns it in the layout `want` (adding a reorder step if needed).
    dnnl::memory as(const dnnl::memory& src, const dnnl::memory::desc& want) {
        if (src.get_desc() == want) return src;
        dnnl::memory dst(want, engine_);
        steps_.push_back({dnnl::reorder(src, dst), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}});
        impls_.push_back("reorder to the convolution's input layout");
        return dst;
    }

    dnnl::memory conv(const Conv2D<Relu>& l, const dnnl::memory& src, float input_scale = 1.0f) {
        const auto sd = src.get_desc().dims();  // N, C, H, W
        const dnnl::memory::dim kh = dim(l.kernel_h()), kw = dim(l.kernel_w()), co = dim(l.out_channels());
        const dnnl::memory::dims wdims{co, dim(l.in_channels()), kh, kw};
        const dnnl::memory::desc src_any({sd[0], sd[1], sd[2], sd[3]}, dt::f32, tag::any);
        const dnnl::memory::desc w_any(wdims, dt::f32, tag::any);
        const dnnl::memory::desc b_md({co}, dt::f32, tag::x);
        const dnnl::memory::desc dst_any({sd[0], co, sd[2] - kh + 1, sd[3] - kw + 1}, dt::f32, tag::any);
        dnnl::post_ops ops;
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        dnnl::primitive_attr attr;
        attr.set_post_ops(ops);
        const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                                dnnl::algorithm::convolution_direct, src_any, w_any, b_md, dst_any,
                                                {1, 1}, {0, 0}, {0, 0});
        const dnnl::convolution_forward::primitive_desc pd(d, attr, engine_);
        const dnnl::memory in = as(src, pd.src_desc());
        // Keras' (kh, kw, cin, cout) kernel is oneDNN's "hwio" layout of the logical OIHW weights.
        const dnnl::memory w = weights(l.kernel(), {wdims, dt::f32, tag::hwio}, pd.weights_desc(), input_scale);
        const dnnl::memory b = weights(l.bias(), b_md, b_md);
        dnnl::memory out(pd.dst_desc(), engine_);
        steps_.push_back({dnnl::convolution_forward(pd),
                          {{DNNL_ARG_SRC, in}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, out}}});
        impls_.push_back(l.name() + ": " + pd.impl_info_str());
        return out;
    }

    dnnl::memory pool(const dnnl::memory& src) {
        const auto sd = src.get_desc().dims();
        const dnnl::memory::desc dst_any({sd[0], sd[1], sd[2] / 2, sd[3] / 2}, dt::f32, tag::any);
        const dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max,
                                            src.get_desc(), dst_any, {2, 2}, {2, 2}, {0, 0}, {0, 0});
        const dnnl::pooling_forward::primitive_desc pd(d, engine_);
        dnnl::memory out(pd.dst_desc(), engine_);
        steps_.push_back({dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, out}}});
        impls_.push_back(std::string("max pool: ") + pd.impl_info_str());
        return out;
    }

    /// Inner product of `src` (2-D, or 4-D feature maps flattened in Keras' H, W, C order). With
    /// accumulate, writes ReLU(acc + product) into acc (sum post-op) and returns acc.
    dnnl::memory dense(const Dense<Linear>& l, const dnnl::memory& src, dnnl::memory acc, bool accumulate) {
        const dnnl::memory::desc& sdesc = src.get_desc();
        const auto sd = sdesc.dims();
        const dnnl::memory::dim out_f = dim(l.out_features());
        dnnl::memory::dims wdims{out_f};
        for (std::size_t i = 1; i < sd.size(); ++i) wdims.push_back(sd[i]);
        const dnnl::memory::desc user_w(wdims, dt::f32, sd.size() == 4 ? tag::hwio : tag::io);
        const dnnl::memory::desc w_any(wdims, dt::f32, tag::any);
        const dnnl::memory::desc b_md({out_f}, dt::f32, tag::x);
        const dnnl::memory::desc dst_md({sd[0], out_f}, dt::f32, tag::nc);
        dnnl::primitive_attr attr;
        if (accumulate) {
            dnnl::post_ops ops;
            ops.append_sum(1.0f);
            ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
            attr.set_post_ops(ops);
        }
        const dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference, sdesc, w_any, b_md, dst_md);
        const dnnl::inner_product_forward::primitive_desc pd(d, attr, engine_);
        const dnnl::memory w = weights(l.kernel(), user_w, pd.weights_desc());
        const dnnl::memory b = weights(l.bias(), b_md, b_md);
        dnnl::memory out = accumulate ? acc : dnnl::memory(pd.dst_desc(), engine_);
        steps_.push_back({dnnl::inner_product_forward(pd),
                          {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, out}}});
        impls_.push_back(l.name() + (accumulate ? " (+sum, relu)" : "") + ": " + pd.impl_info_str());
        return out;
    }

    dnnl::engine engine_;
    dnnl::stream stream_;
    dnnl::memory::dim batch_;
    dnnl::memory input_, logits_;
    std::vector<Step> steps_;
    std::vector<std::string> impls_;
};

/// Largest per-image max |a - b| / max |b| over the batch.
double worst_relative_difference(const float* a, const Tensor& b) {
    double worst = 0;
    for (std::size_t n = 0; n < b.batch(); ++n) {
        const float* r = b.image(n);
        double diff = 0, scale = 0;
        for (std::size_t i = 0; i < b.image_size(); ++i) {
            diff = std::max(diff, std::fabs(double(a[n * b.image_size() + i]) - r[i]));
            scale = std::max(scale, std::fabs(double(r[i])));
        }
        worst = std::max(worst, diff / std::max(scale, 1e-30));
    }
    return worst;
}

double seconds_of(const std::function<void()>& f, int iterations) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 2, reps = 7;
    double rep_seconds = 0.3;
    std::vector<std::size_t> batches{1, 32, 256};
    std::string logits_path;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--threads") threads = std::atoi(argv[i + 1]);
        else if (a == "--reps") reps = std::atoi(argv[i + 1]);
        else if (a == "--seconds") rep_seconds = std::atof(argv[i + 1]);
        else if (a == "--logits") logits_path = argv[i + 1];
        else if (a == "--batches") {
            batches.clear();
            const std::string list = argv[i + 1];
            for (std::size_t p = 0; p <= list.size();) {
                const std::size_t comma = std::min(list.find(',', p), list.size());
                const long b = std::atol(list.substr(p, comma - p).c_str());
                if (b < 1) {
                    std::fprintf(stderr, "prunedef_vs_onednn: --batches wants positive sizes separated by commas\n");
                    return 2;
                }
                batches.push_back(std::size_t(b));
                p = comma + 1;
            }
        } else {
            std::fprintf(stderr, "usage: %s [--threads N] [--reps N] [--seconds S] [--batches 1,32,256]\n", argv[0]);
            return 2;
        }
    }
    if (argc % 2 == 0) {
        std::fprintf(stderr, "prunedef_vs_onednn: option %s has no value\n", argv[argc - 1]);
        return 2;
    }
    if (threads < 1 || reps < 1 || !(rep_seconds > 0)) {
        std::fprintf(stderr, "prunedef_vs_onednn: --threads and --reps must be >= 1, --seconds > 0\n");
        return 2;
    }
    set_thread_count(threads);

    const prunedef_bench::Model model = prunedef_bench::load_model();
    if (!logits_path.empty()) {
        const std::string faces = prunedef_bench::shared_dir() + "/data/csaw/clean_samples.h5";
        bool real = false;
        const Tensor images = prunedef_bench::face_batch(model.real ? DatasetReader(faces).size() : 1, &real);
        if (!model.real || !real) {
            std::fprintf(stderr, "prunedef_vs_onednn: --logits needs the real model and %s\n", faces.c_str());
            return 1;
        }
        Tensor logits;
        model.net.logits(images, logits);
        std::FILE* f = std::fopen(logits_path.c_str(), "wb");
        const bool ok = f && std::fwrite(logits.data(), sizeof(float), logits.size(), f) == logits.size();
        if (!f || std::fclose(f) != 0 || !ok) {
            std::fprintf(stderr, "prunedef_vs_onednn: cannot write %s\n", logits_path.c_str());
            return 1;
        }
        std::printf("wrote prunedef's logits of %zu faces x %zu classes to %s\n", logits.batch(),
                    logits.image_size(), logits_path.c_str());
        return 0;
    }
    const dnnl_version_t* v = dnnl_version();
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::localtime(&now));
    std::printf("DeepID 55x47x3 forward, %s, prunedef vs oneDNN %d.%d.%d, %d threads (prunedef reports %d), %s\n",
                date, v->major, v->minor, v->patch, threads, thread_count(), model.source.c_str());
    std::printf("%d interleaved repetitions of about %.2f s each, median images/s\n\n", reps, rep_seconds);

    struct Row {
        std::size_t batch;
        double ours, theirs, difference;
    };
    std::vector<Row> rows;
    std::vector<std::string> impls;
    for (const std::size_t batch : batches) {
        bool real_images = false;
        const Tensor images = prunedef_bench::face_batch(batch, &real_images);
        OnednnDeepID onednn(model, batch);
        if (impls.empty()) impls = onednn.implementations();
        Tensor logits;
        model.net.logits(images, logits);
        const double difference = worst_relative_difference(onednn.run(images), logits);
        if (!(difference <= 1e-3)) {
            std::fprintf(stderr,
                         "prunedef_vs_onednn: at batch %zu the logits of oneDNN and prunedef differ by %.3g "
                         "relative (limit 1e-3) on %s: the two networks are not the same computation\n",
                         batch, difference, real_images ? "real faces" : "random pixels");
            return 1;
        }

        auto run_ours = [&] { model.net.logits(images, logits); };
        auto run_theirs = [&] { onednn.run(images); };
        // Warm up, then size a repetition to about rep_seconds for the slower of the two, judged by
        // the fastest of a few single runs so that a burst of load elsewhere does not inflate it.
        seconds_of(run_ours, 3);
        seconds_of(run_theirs, 3);
        double ours_one = 1e9, theirs_one = 1e9;
        for (int i = 0; i < 5; ++i) {
            ours_one = std::min(ours_one, seconds_of(run_ours, 1));
            theirs_one = std::min(theirs_one, seconds_of(run_theirs, 1));
        }
        const double one = std::max(ours_one, theirs_one);
        const int iterations = std::max(1, int(rep_seconds / std::max(one, 1e-9)));
        std::vector<double> ours, theirs;
        for (int r = 0; r < reps; ++r) {
            const bool ours_first = r % 2 == 0;
            const double a = seconds_of(ours_first ? std::function<void()>(run_ours) : run_theirs, iterations);
            const double b = seconds_of(ours_first ? std::function<void()>(run_theirs) : run_ours, iterations);
            ours.push_back(double(batch) * iterations / (ours_first ? a : b));
            theirs.push_back(double(batch) * iterations / (ours_first ? b : a));
        }
        rows.push_back({batch, median(ours), median(theirs), difference});
    }

    std::printf("| batch | prunedef img/s | oneDNN img/s | ratio (prunedef / oneDNN) | max rel. logit difference |\n");
    std::printf("|---:|---:|---:|---:|---:|\n");
    for (const Row& r : rows)
        std::printf("| %zu | %.0f | %.0f | %.2f | %.1e |\n", r.batch, r.ours, r.theirs, r.ours / r.theirs,
                    r.difference);
    std::printf("\noneDNN implementations:\n");
    for (const auto& s : impls) std::printf("  %s\n", s.c_str());
    return 0;
}
