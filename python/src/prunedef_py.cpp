// prunedef._core: the library bound for Python (pybind11). The Python-facing conveniences
// (argument forms of repair(), from_keras) are in python/prunedef/__init__.py.
//
// Every call that computes or reads a file releases the GIL; the networks' const methods may be
// called from several threads at once (model/network.hpp). Images arrive as numpy arrays in
// NCHW (the challenge's files) or NHWC (Keras) and are converted to prunedef's NHWC float
// tensors batch by batch.

#include <prunedef/fine_pruning/fine_pruning.hpp>
#include <prunedef/io/network_file.hpp>
#include <prunedef/prunedef.hpp>
#include <prunedef/report/json_report.hpp>
#include <prunedef/report/markdown_report.hpp>
#include <prunedef/report/python_float.hpp>
#include <prunedef/report/sweep_csv.hpp>
#include <prunedef/report/write_report.hpp>

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace py = pybind11;
namespace fs = std::filesystem;
using namespace prunedef;

namespace {

/// HDF5 access from several Python threads at once: serialised here unless libhdf5 was built
/// thread-safe (Debian's is). Taken with the GIL released.
std::unique_lock<std::mutex> hdf5_lock() {
    static std::mutex mutex;
    static const bool threadsafe = [] {
        hbool_t ts = 0;
        return H5is_library_threadsafe(&ts) >= 0 && ts;
    }();
    return threadsafe ? std::unique_lock<std::mutex>() : std::unique_lock<std::mutex>(mutex);
}

// ---------------------------------------------------------------------------------------------
// Images: numpy arrays to NHWC tensors.

enum class Layout { nchw, nhwc };

std::optional<Layout> parse_layout(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    std::string t = *text;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    if (t == "NCHW") return Layout::nchw;
    if (t == "NHWC") return Layout::nhwc;
    throw argument_error("layout '" + *text + "': expected 'NCHW' (the challenge's files) or 'NHWC' (Keras)");
}

/// A 4-d image array, C-contiguous, as uint8, float32 or float64 (anything else refused).
struct ImageArray {
    py::array array;
    std::size_t n = 0, d1 = 0, d2 = 0, d3 = 0;
    char kind = 'f';  // 'u' uint8, 'f' float32, 'd' float64
};

ImageArray image_array(const py::array& in, const std::string& what) {
    ImageArray a;
    if (py::isinstance<py::array_t<std::uint8_t>>(in)) {
        a.array = py::array_t<std::uint8_t, py::array::c_style>::ensure(in);
        a.kind = 'u';
    } else if (py::isinstance<py::array_t<float>>(in)) {
        a.array = py::array_t<float, py::array::c_style>::ensure(in);
        a.kind = 'f';
    } else if (py::isinstance<py::array_t<double>>(in)) {
        a.array = py::array_t<double, py::array::c_style>::ensure(in);
        a.kind = 'd';
    } else {
        throw argument_error(what + ": images of dtype " + std::string(py::str(in.dtype())) +
                             "; expected uint8, float32 or float64");
    }
    if (a.array.ndim() != 4)
        throw shape_error(what + ": expected a 4-d array of images (N, C, H, W) or (N, H, W, C), got " +
                          std::to_string(a.array.ndim()) + " dimensions");
    a.n = std::size_t(a.array.shape(0));
    a.d1 = std::size_t(a.array.shape(1));
    a.d2 = std::size_t(a.array.shape(2));
    a.d3 = std::size_t(a.array.shape(3));
    return a;
}

std::string dims_text(const ImageArray& a) {
    return "(" + std::to_string(a.n) + ", " + std::to_string(a.d1) + ", " + std::to_string(a.d2) + ", " +
           std::to_string(a.d3) + ")";
}

ImageShape shape_in(const ImageArray& a, Layout l) {
    return l == Layout::nchw ? ImageShape{a.d2, a.d3, a.d1} : ImageShape{a.d1, a.d2, a.d3};
}

/// The layout of an array for a network: given, or the only one under which the images fit
/// `expected` (a bound network's input shape) or have `channels` channels (an unbound one).
Layout resolve_layout(const ImageArray& a, std::optional<Layout> given, const std::optional<ImageShape>& expected,
                      std::size_t channels, const std::string& what) {
    if (given) return *given;
    bool nchw = false, nhwc = false;
    if (expected) {
        nchw = shape_in(a, Layout::nchw) == *expected;
        nhwc = shape_in(a, Layout::nhwc) == *expected;
    } else {
        nchw = a.d1 == channels;
        nhwc = a.d3 == channels;
    }
    const std::string want = expected ? "images of " + expected->str() + " (H x W x C)"
                                      : std::to_string(channels) + "-channel images";
    if (nchw && nhwc)
        throw shape_error(what + ": images of shape " + dims_text(a) + " read the same as NCHW and NHWC for " + want +
                          "; give layout='NCHW' or layout='NHWC'");
    if (!nchw && !nhwc)
        throw shape_error(what + ": images of shape " + dims_text(a) + " are neither NCHW nor NHWC " + want);
    return nchw ? Layout::nchw : Layout::nhwc;
}

/// Images [first, first + count) of a as an NHWC tensor; refuses non-finite values. Runs without
/// the GIL (reads only the array's buffer).
template <class T>
void copy_images(const T* src, const ImageArray& a, Layout l, std::size_t first, std::size_t count, Tensor& out,
                 const std::string& what) {
    const ImageShape s = shape_in(a, l);
    out.resize(count, s);
    const std::size_t H = s.height, W = s.width, C = s.channels, plane = H * W, image = plane * C;
    for (std::size_t n = 0; n < count; ++n) {
        const T* in = src + (first + n) * image;
        float* dst = out.image(n);
        if (l == Layout::nhwc) {
            for (std::size_t i = 0; i < image; ++i) dst[i] = static_cast<float>(in[i]);
        } else {
            for (std::size_t c = 0; c < C; ++c)
                for (std::size_t p = 0; p < plane; ++p) dst[p * C + c] = static_cast<float>(in[c * plane + p]);
        }
        if constexpr (!std::is_integral_v<T>)
            for (std::size_t i = 0; i < image; ++i)
                if (!std::isfinite(dst[i]))
                    throw format_error(what + ": image " + std::to_string(first + n) + " has a non-finite pixel (" +
                                       std::to_string(dst[i]) + ")");
    }
}

void read_images(const ImageArray& a, Layout l, std::size_t first, std::size_t count, Tensor& out, const std::string& what) {
    const void* p = a.array.data();
    switch (a.kind) {
        case 'u': copy_images(static_cast<const std::uint8_t*>(p), a, l, first, count, out, what); break;
        case 'f': copy_images(static_cast<const float*>(p), a, l, first, count, out, what); break;
        default: copy_images(static_cast<const double*>(p), a, l, first, count, out, what); break;
    }
}

std::vector<int> label_vector(const py::array& labels, std::size_t n, const std::string& what) {
    const auto l = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(labels);
    if (!l || l.ndim() < 1 || l.ndim() > 2 || (l.ndim() == 2 && l.shape(1) != 1) || std::size_t(l.shape(0)) != n)
        throw shape_error(what + ": expected " + std::to_string(n) + " labels, shape (" + std::to_string(n) + ",) or (" +
                          std::to_string(n) + ", 1)");
    std::vector<int> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double v = l.data()[i];
        if (!std::isfinite(v) || v != std::floor(v) || v < 0 || v > 1e9)
            throw format_error(what + ": label " + std::to_string(i) + " is " + std::to_string(v) +
                               ", expected a non-negative integer class");
        out[i] = int(v);
    }
    return out;
}

/// NHWC tensor to a numpy array in the layout asked for.
py::array_t<float> tensor_to_numpy(const Tensor& t, Layout l) {
    const std::size_t N = t.batch(), H = t.height(), W = t.width(), C = t.channels();
    if (l == Layout::nhwc) {
        py::array_t<float> out({N, H, W, C});
        std::memcpy(out.mutable_data(), t.data(), t.size() * sizeof(float));
        return out;
    }
    py::array_t<float> out({N, C, H, W});
    float* dst = out.mutable_data();
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t p = 0; p < H * W; ++p)
            for (std::size_t c = 0; c < C; ++c) dst[((n * C + c) * H * W) + p] = t.image(n)[p * C + c];
    return out;
}

// ---------------------------------------------------------------------------------------------
// Models.

/// A network and the file it came from (for writing networks derived from it).
struct Model {
    std::shared_ptr<const KerasModelFile> file;
    AnyNetwork net;
    std::string architecture;
    bool architecture_assumed = false;
    bool scale_known = false;
    std::string scale_note;  // how the scale was chosen from data, when it was
    std::shared_ptr<std::mutex> bind_mutex = std::make_shared<std::mutex>();

    template <class F>
    decltype(auto) visit(F&& f) const { return std::visit(std::forward<F>(f), net); }

    bool bound() const { return visit([](const auto& n) { return n.bound(); }); }
    std::optional<ImageShape> input_shape() const {
        return visit([](const auto& n) -> std::optional<ImageShape> {
            if (!n.bound()) return std::nullopt;
            return n.input_shape();
        });
    }
    /// The channels an unbound network takes (DeepID: conv_1's).
    std::size_t input_channels() const {
        if (const auto* d = std::get_if<DeepID>(&net)) return d->stem().layer<0>().in_channels();
        return 0;
    }
    void require_scale(const std::string& what) const {
        if (!scale_known)
            throw argument_error(what + ": " + file->path +
                                 " does not state its input scale: give scale= to load_model (1 for raw pixels, "
                                 "1/255 for pixels / 255)");
    }
    /// Binds an unbound network to an image shape (the first images it is given).
    void bind_if_needed(const ImageShape& s) {
        if (bound()) return;
        std::lock_guard<std::mutex> lock(*bind_mutex);
        std::visit(
            [&](auto& n) {
                if (n.bound()) return;
                try {
                    n.bind(s);
                } catch (const shape_error& e) {
                    throw shape_error("images of " + s.str() + " do not fit model " + file->path + ": " + e.what());
                }
            },
            net);
    }
    /// The layout of an array for this network, binding it on first use.
    Layout prepare(const ImageArray& a, std::optional<Layout> given, const std::string& what) {
        const Layout l = resolve_layout(a, given, input_shape(), input_channels(), what);
        bind_if_needed(shape_in(a, l));
        const ImageShape s = shape_in(a, l);
        if (s != *input_shape())
            throw shape_error(what + ": images of " + s.str() + " (H x W x C) do not fit model " + file->path +
                              ", which takes " + input_shape()->str());
        return l;
    }
};

constexpr std::size_t default_batch = 256;

/// Logits of every image of an array (GIL released while computing).
py::array_t<float> model_logits(Model& m, const py::array& x, const std::optional<std::string>& layout, std::size_t batch) {
    m.require_scale("logits");
    const ImageArray a = image_array(x, "logits");
    const Layout l = m.prepare(a, parse_layout(layout), "logits");
    if (batch == 0) throw argument_error("batch_size must be at least 1");
    const std::size_t classes = m.visit([](const auto& n) { return n.num_classes(); });
    py::array_t<float> out({a.n, classes});
    float* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        m.visit([&](const auto& net) {
            Tensor images, logits;
            for (std::size_t first = 0; first < a.n; first += batch) {
                const std::size_t count = std::min(batch, a.n - first);
                read_images(a, l, first, count, images, "logits");
                net.logits(images, logits);
                try {
                    for (std::size_t i = 0; i < count; ++i) detail::require_finite(logits.image(i), classes, first + i);
                } catch (const numeric_error& e) {
                    throw numeric_error(m.file->path + ": " + e.what());
                }
                std::memcpy(dst + first * classes, logits.data(), count * classes * sizeof(float));
            }
        });
    }
    return out;
}

template <class Classifier>
py::array_t<std::int64_t> predict_array(const Classifier& c, const ImageArray& a, Layout l, std::size_t batch,
                                        const std::string& name) {
    if (batch == 0) throw argument_error("batch_size must be at least 1");
    py::array_t<std::int64_t> out(a.n);
    std::int64_t* dst = out.mutable_data();
    py::gil_scoped_release release;
    Tensor images;
    for (std::size_t first = 0; first < a.n; first += batch) {
        const std::size_t count = std::min(batch, a.n - first);
        read_images(a, l, first, count, images, "predict");
        std::vector<int> p;
        try {
            p = c.predict(images);
        } catch (const numeric_error& e) {
            throw numeric_error(name + ": " + e.what());
        }
        for (std::size_t i = 0; i < count; ++i) dst[first + i] = p[i];
    }
    return out;
}

py::array_t<std::int64_t> model_predict(Model& m, const py::array& x, const std::optional<std::string>& layout,
                                        std::size_t batch) {
    m.require_scale("predict");
    const ImageArray a = image_array(x, "predict");
    const Layout l = m.prepare(a, parse_layout(layout), "predict");
    return m.visit([&](const auto& net) { return predict_array(net, a, l, batch, m.file->path); });
}

Model model_of(NetworkFile nf) {
    Model m;
    m.architecture = std::move(nf.architecture);
    m.architecture_assumed = nf.architecture_assumed;
    m.scale_known = nf.file.settings.input_scale.has_value();
    m.net = std::move(nf.net);
    m.file = std::make_shared<const KerasModelFile>(std::move(nf.file));
    return m;
}

Model load_model(const std::string& path, std::optional<double> scale, const std::optional<std::string>& layer,
                 const std::optional<std::string>& config, bool pooled) {
    NetworkFileOptions options;
    options.layer = layer.value_or("");
    options.config = config.value_or("");
    options.pooled = pooled;
    Model m;
    {
        py::gil_scoped_release release;
        const auto lock = hdf5_lock();
        m = model_of(load_network(path, options));
    }
    if (scale) {
        std::visit([&](auto& n) { n.set_input_scale(static_cast<float>(*scale)); }, m.net);
        m.scale_known = true;
    }
    return m;
}

/// A model from a Keras config (model.to_json()) and its layers' weights, no file.
Model model_from_config(const std::string& config_json,
                        const std::map<std::string, std::vector<std::pair<std::string, py::array>>>& layers,
                        const std::vector<std::string>& layer_order, std::optional<double> scale,
                        const std::optional<std::string>& layer, bool pooled) {
    KerasModelFile f;
    f.path = "<keras model>";
    f.kind = KerasFileKind::full_model;
    f.config_json = config_json;
    f.config_source = "model.to_json()";
    f.layer_order = layer_order;
    f.spec = parse_keras_config(f.config_json, f.config_source);
    ModelWeights weights;
    for (const auto& [name, arrays] : layers) {
        std::vector<WeightArray> ws;
        for (const auto& [weight, array] : arrays) {
            const auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
            if (!a) throw format_error("layer " + name + ": weight " + weight + " is not numeric");
            WeightArray w;
            w.name = weight;
            for (py::ssize_t d = 0; d < a.ndim(); ++d) w.dims.push_back(std::size_t(a.shape(d)));
            w.values.assign(a.data(), a.data() + a.size());
            for (const float v : w.values)
                if (!std::isfinite(v)) throw format_error("layer " + name + ": weight " + weight + " holds a non-finite value");
            ws.push_back(std::move(w));
        }
        weights[name] = std::move(ws);
    }
    f.weights = check_keras_weights(*f.spec, weights, f.path);
    NetworkFileOptions options;
    options.layer = layer.value_or("");
    options.pooled = pooled;
    Model m = model_of(network_of(std::move(f), options));
    if (scale) {
        std::visit([&](auto& n) { n.set_input_scale(static_cast<float>(*scale)); }, m.net);
        m.scale_known = true;
    }
    return m;
}

py::object shape_tuple(const std::optional<ImageShape>& s) {
    if (!s) return py::none();
    return py::make_tuple(s->height, s->width, s->channels);
}

// ---------------------------------------------------------------------------------------------
// GoodNet.

struct PyGoodNet {
    std::variant<GoodNet<DeepID, DeepID>, GoodNet<GraphNetwork, GraphNetwork>> g;
    Model b, bprime;
};

PyGoodNet make_goodnet(const Model& b, const Model& bprime) {
    // G compares B and B' on the same pixels: both must know their input scale, and agree on it
    b.require_scale("GoodNet (B)");
    bprime.require_scale("GoodNet (B')");
    const float sb = std::visit([](const auto& n) { return n.input_scale(); }, b.net);
    const float sbp = std::visit([](const auto& n) { return n.input_scale(); }, bprime.net);
    if (sb != sbp)
        throw argument_error("GoodNet: B scales its inputs by " + python_repr(sb) + " but B' by " + python_repr(sbp) +
                             "; give both the same scale");
    PyGoodNet out{std::visit(
                      [&](const auto& nb) -> decltype(PyGoodNet::g) {
                          using Net = std::decay_t<decltype(nb)>;
                          const Net* np = std::get_if<Net>(&bprime.net);
                          if (!np) throw argument_error("GoodNet: B and B' are networks of different kinds");
                          return GoodNet<Net, Net>(nb, *np);
                      },
                      b.net),
                  b, bprime};
    return out;
}

py::array_t<std::int64_t> goodnet_predict(PyGoodNet& g, const py::array& x, const std::optional<std::string>& layout,
                                          std::size_t batch) {
    g.b.require_scale("GoodNet.predict");
    const ImageArray a = image_array(x, "GoodNet.predict");
    const Layout l = g.b.prepare(a, parse_layout(layout), "GoodNet.predict");
    return std::visit([&](const auto& gn) { return predict_array(gn, a, l, batch, g.b.file->path); }, g.g);
}

// ---------------------------------------------------------------------------------------------
// Data sources for repair: HDF5 files or arrays.

struct Source {
    std::string name;  // the path, or a description of the arrays
    std::unique_ptr<DatasetReader> reader;
    std::unique_ptr<ArrayBatchSource> arrays;
    BatchSourcePtr ptr() const {
        if (reader) return reader.get();
        return arrays.get();
    }
};

/// A data set argument as __init__.py hands it over: a path (str), or a tuple (images, labels,
/// layout or None).
Source make_source(const py::handle& spec, Model& model, const std::string& what) {
    Source s;
    if (py::isinstance<py::str>(spec)) {
        s.name = spec.cast<std::string>();
        py::gil_scoped_release release;
        const auto lock = hdf5_lock();
        s.reader = std::make_unique<DatasetReader>(s.name);
        return s;
    }
    const auto t = spec.cast<py::tuple>();
    const ImageArray a = image_array(t[0].cast<py::array>(), what);
    const Layout l = model.prepare(a, parse_layout(t[2].cast<std::optional<std::string>>()), what);
    std::vector<int> labels = label_vector(t[1].cast<py::array>(), a.n, what);
    s.name = what + " (numpy arrays)";
    py::gil_scoped_release release;
    Tensor images;
    read_images(a, l, 0, a.n, images, what);
    s.arrays = std::make_unique<ArrayBatchSource>(std::move(images), std::move(labels), s.name);
    return s;
}

/// Like the tool: the one of 1 and 1/255 under which B classifies the first (up to 256)
/// validation images best; refuses a tie. Returns the note saying so.
std::string choose_scale(Model& m, const BatchSourceRef& data, const std::string& data_name) {
    const InputScaleChoice c = std::visit([&](auto& net) { return choose_input_scale(net, data); }, m.net);
    const std::string figures = python_repr(percent_of(c.correct_raw, c.images)) + " % of the first " +
                                std::to_string(c.images) + " images of " + data_name + " with 1, " +
                                python_repr(percent_of(c.correct_255, c.images)) + " % with 1/255";
    if (!c.decided())
        throw argument_error("scale: " + m.file->path + " does not state its input scale and the data do not tell: B classifies " +
                             figures + "; give scale= (1 for raw pixels, 1/255 for pixels / 255)");
    m.scale_known = true;
    return std::string("input scale ") + (c.per_255() ? "1/255" : "1") + " chosen from the data (" + m.file->path +
           " does not state it; scale= sets it): B classifies " + figures;
}

// ---------------------------------------------------------------------------------------------
// Repair.

/// Calls the Python progress callback (with the GIL) and lets Ctrl-C stop the run.
struct Progress {
    // None or callable(stage, done, total); borrowed (the caller's argument outlives the run), so
    // that copies of the std::function holding it never touch a reference count without the GIL
    py::handle callback;
    void operator()(const std::string& stage, std::size_t done, std::size_t total) const {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (!callback.is_none()) callback(stage, done, total);
    }
};

struct RepairState {
    Model b;
    RepairResult result;
    ReportContext context;
    std::vector<AnyNetwork> fine_tuned;  // one per threshold, when Fine-Pruning ran
    std::string scale_note;

    Model derived(AnyNetwork net) const {
        Model m = b;
        m.net = std::move(net);
        m.bind_mutex = std::make_shared<std::mutex>();
        return m;
    }
    Model bprime_at(std::size_t k) const {
        const ChannelMask mask = ChannelMask::from_order(result.channels, result.order, k);
        return derived(b.visit([&](const auto& net) -> AnyNetwork { return prune_channels(net, mask); }));
    }
};

struct Threshold {
    std::shared_ptr<const RepairState> state;
    std::size_t index = 0;
    const ThresholdResult& t() const { return state->result.thresholds[index]; }
};

struct FineTuned {
    std::shared_ptr<const RepairState> state;
    std::size_t index = 0;
    const FineTuneResult& f() const { return *state->result.thresholds[index].fine_tuned; }
};

py::object opt(const std::optional<double>& v) { return v ? py::cast(*v) : py::none(); }

py::dict counts_dict(const GoodNetCounts& c) {
    py::dict d;
    d["images"] = c.images;
    d["matched"] = c.matched;
    d["flagged"] = c.flagged;
    d["other"] = c.other;
    d["matched_percent"] = c.matched_percent();
    d["flagged_percent"] = c.flagged_percent();
    return d;
}
py::object counts_opt(const std::optional<GoodNetCounts>& c) { return c ? py::object(counts_dict(*c)) : py::none(); }

/// The sweep as numpy arrays, one per sweep.csv column (same names; NaN where the CSV cell is
/// empty; channel -1 at k = 0).
py::dict sweep_arrays(const RepairResult& r) {
    const std::size_t n = r.curve.size(), sets = r.poisoned_sets.size();
    const double nan = std::nan("");
    py::dict d;
    const auto column = [&](const std::string& name, auto get) {
        py::array_t<double> a(n);
        for (std::size_t i = 0; i < n; ++i) a.mutable_data()[i] = get(r.curve[i]);
        d[py::str(name)] = a;
    };
    const auto o = [nan](const std::optional<double>& v) { return v ? *v : nan; };
    py::array_t<std::int64_t> k(n), channel(n);
    for (std::size_t i = 0; i < n; ++i) {
        k.mutable_data()[i] = std::int64_t(r.curve[i].k);
        channel.mutable_data()[i] = r.curve[i].channel ? std::int64_t(*r.curve[i].channel) : -1;
    }
    d["k"] = k;
    d["channel"] = channel;
    column("fraction_pruned", [](const CurvePoint& p) { return p.fraction_pruned; });
    column("valid_acc", [](const CurvePoint& p) { return p.valid_accuracy; });
    column("test_acc", [&](const CurvePoint& p) { return o(p.test_accuracy); });
    if (sets <= 1) column("asr", [&](const CurvePoint& p) { return o(p.attack_success); });
    column("g_valid_acc", [](const CurvePoint& p) { return p.goodnet_valid_accuracy; });
    column("g_valid_fpr", [](const CurvePoint& p) { return p.goodnet_valid_fpr; });
    if (r.has_test()) {
        column("g_test_acc", [&](const CurvePoint& p) { return o(p.goodnet_test_accuracy); });
        column("g_test_fpr", [&](const CurvePoint& p) { return o(p.goodnet_test_fpr); });
    }
    for (std::size_t s = 0; s < sets; ++s) {
        const auto field = [s, nan](const CurvePoint& p, double PoisonedStep::*f) {
            return s < p.poisoned.size() ? p.poisoned[s].*f : nan;
        };
        const std::string suffix = sets == 1 ? "" : "_" + r.poisoned_sets[s].name;
        if (sets > 1) column("asr" + suffix, [&](const CurvePoint& p) { return field(p, &PoisonedStep::attack_success); });
        column("g_asr" + suffix, [&](const CurvePoint& p) { return field(p, &PoisonedStep::goodnet_attack_success); });
        column("g_detect" + suffix, [&](const CurvePoint& p) { return field(p, &PoisonedStep::goodnet_detection); });
    }
    return d;
}

std::shared_ptr<RepairState> run_repair(Model b, const py::handle& valid_spec, const py::handle& test_spec,
                                        const std::vector<std::pair<std::string, py::object>>& poisoned_specs,
                                        const std::vector<double>& drops, bool relative, const std::string& order,
                                        const std::string& site, std::size_t fine_tune, float lr, std::size_t batch,
                                        std::optional<std::size_t> lr_drop, bool head_only, double holdout,
                                        std::uint64_t seed, bool last_epoch, std::optional<double> max_fpr,
                                        float weight_decay, std::size_t augment_shift, bool augment_flip, double augment_erase, float sam,
                                        bool sam_adaptive,
                                        std::optional<std::pair<float, float>> distill, std::optional<float> anp_eps,
                                        std::optional<std::size_t> anp_iterations, const py::object& progress) {
    if (!is_pruning_order_name(order)) {
        std::string names;
        for (std::string_view n : pruning_order_names) names += (names.empty() ? "'" : ", '") + std::string(n) + "'";
        throw argument_error("order '" + order + "': expected one of " + names);
    }
    if (order != "anp" && (anp_eps || anp_iterations))
        throw argument_error(std::string(anp_eps ? "anp_eps" : "anp_iterations") + ": only with order='anp'");
    if (site != "pooled" && site != "conv") throw argument_error("site '" + site + "': expected 'pooled' or 'conv'");
    RepairOptions options;
    options.drops.clear();
    for (const double x : drops) options.drops.push_back({x, relative});
    if (options.drops.empty()) throw argument_error("drops: no thresholds given");
    for (const auto& d : options.drops) check_drop(d);
    options.site = site == "pooled" ? ActivationSite::pooled : ActivationSite::convolution;
    options.max_fpr = max_fpr;
    options.progress = Progress{progress};

    auto state = std::make_shared<RepairState>();
    Source valid = make_source(valid_spec, b, "valid");
    std::optional<Source> test;
    if (!test_spec.is_none()) test = make_source(test_spec, b, "test");
    std::vector<Source> poisoned;
    for (const auto& [name, spec] : poisoned_specs) poisoned.push_back(make_source(spec, b, "poisoned " + name));
    {
        py::gil_scoped_release release;
        const auto lock = hdf5_lock();
        b.bind_if_needed(valid.ptr()->image_shape());
        if (!b.scale_known) state->scale_note = choose_scale(b, *valid.ptr(), valid.name);
    }
    RepairData data{valid.ptr(), test ? test->ptr() : nullptr, nullptr};
    for (std::size_t i = 0; i < poisoned.size(); ++i) data.poisoned_sets.push_back({poisoned_specs[i].first, poisoned[i].ptr()});
    options.batch_size = std::max<std::size_t>(1, std::min<std::size_t>(options.batch_size, valid.ptr()->size()));

    FinePruningOptions fine;
    if (fine_tune > 0) {
        fine.epochs = fine_tune;
        fine.learning_rate = lr;
        fine.batch_size = batch;
        fine.head_only = head_only;
        fine.lr_drop = lr_drop ? *lr_drop : (fine_tune >= 4 ? std::size_t(std::ceil(0.75 * double(fine_tune))) : 0);
        fine.seed = seed;
        fine.holdout = holdout;
        fine.weight_decay = weight_decay;
        fine.augmentation.max_shift = augment_shift;
        fine.augmentation.horizontal_flip = augment_flip;
        fine.augmentation.erasing.probability = augment_erase;
        fine.sam_rho = sam;
        fine.sam_adaptive = sam_adaptive;
        if (distill) fine.distillation = Distillation{distill->first, distill->second};
        check_fine_pruning_options(fine);
        fine.choose_epoch = !last_epoch;
        fine.on_epoch = [progress = options.progress, epochs = fine_tune](const std::string& drop, const EpochReport& r) {
            progress("fine-tuning X=" + drop, r.epoch, epochs);
        };
    }

    state->context = ReportContext{b.file->path, valid.name, test ? test->name : std::string(),
                                   poisoned.empty() ? std::string() : poisoned[0].name, 1.0f, b.architecture, {}};
    for (const Source& p : poisoned) state->context.poisoned_files.push_back(p.name);
    {
        py::gil_scoped_release release;
        const auto lock = hdf5_lock();  // the data sets are read as the repair goes
        if (fine_tune > 0 && !test) (void)holdout_split(valid.ptr()->size(), holdout, seed);  // refused before the work
        b.visit([&](const auto& net) {
            using Net = std::decay_t<decltype(net)>;
            RepairResult result;
            try {
                NamedOrderSettings settings;
                if (b.file->spec) settings.spec = &*b.file->spec;
                if (anp_eps) settings.anp.epsilon = *anp_eps;
                if (anp_iterations) settings.anp.iterations = *anp_iterations;
                settings.anp.progress = [progress = options.progress](std::size_t done, std::size_t total) {
                    progress("ANP", done, total);
                };
                check_anp_options(settings.anp);
                result = repair_with_order(net, data, options, order, settings).result;
            } catch (const numeric_error& e) {
                throw numeric_error(b.file->path + ": " + e.what());
            }
            if (fine_tune > 0) {
                TrainingForm<Net> form;
                if constexpr (std::is_same_v<Net, GraphNetwork>) form = graph_training_form(*b.file->spec);
                for (Net& tuned : fine_prune_all(net, result, data, fine, 256, form))
                    state->fine_tuned.emplace_back(std::move(tuned));
            }
            state->context.input_scale = net.input_scale();
            state->result = std::move(result);
        });
    }
    state->b = std::move(b);
    {
        py::gil_scoped_release release;
        const auto lock = hdf5_lock();  // the files are closed under the lock too
        valid.reader.reset();
        if (test) test->reader.reset();
        for (Source& p : poisoned) p.reader.reset();
    }
    return state;
}

std::string drop_tag(const AccuracyDrop& d) { return "X" + d.label() + (d.relative ? "rel" : ""); }

/// The tool's output files for a repair, in dir (new or empty unless replace).
void write_repair(const RepairState& s, const std::string& dir, bool replace, bool weights_only) {
    const std::string ext = !weights_only && s.b.file->kind == KerasFileKind::keras_archive ? ".keras" : ".h5";
    if (fs::exists(dir)) {
        if (!fs::is_directory(dir)) throw io_error(dir + ": exists and is not a directory");
        if (!replace && !fs::is_empty(dir))
            throw io_error(dir + ": the directory is not empty (give replace=True to write over its files)");
    } else {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) throw io_error(dir + ": cannot create the directory: " + ec.message());
    }
    std::vector<std::string> written;
    const auto output = [&](const std::string& name) {
        written.push_back(name);
        return (fs::path(dir) / name).string();
    };
    s.b.visit([&](const auto& net) {
        using Net = std::decay_t<decltype(net)>;
        for (std::size_t i = 0; i < s.result.thresholds.size(); ++i) {
            const ThresholdResult& t = s.result.thresholds[i];
            const std::string tag = drop_tag(t.drop);
            const Net repaired = prune_channels(net, ChannelMask::from_order(s.result.channels, s.result.order, t.k));
            save_derived_model(output("repaired_" + tag + ext), *s.b.file, repaired, weights_only);
            save_derived_goodnet(output("goodnet_" + tag + ".h5"), *s.b.file, net, repaired, t.pruned_channels);
            if (!s.fine_tuned.empty()) {
                const Net& tuned = std::get<Net>(s.fine_tuned[i]);
                save_derived_model(output("finepruned_" + tag + ext), *s.b.file, tuned, weights_only);
                save_derived_goodnet(output("goodnet_finepruned_" + tag + ".h5"), *s.b.file, net, tuned, t.pruned_channels);
            }
        }
    });
    write_repair_report(dir, s.result, s.context, written);
}

// ---------------------------------------------------------------------------------------------
// Exceptions.

PyObject* new_exception(py::module_& m, const char* name, PyObject* base, PyObject* builtin, const char* doc) {
    const std::string full = std::string("prunedef.") + name;
    PyObject* bases = builtin ? PyTuple_Pack(2, base, builtin) : PyTuple_Pack(1, base);
    PyObject* type = PyErr_NewExceptionWithDoc(full.c_str(), doc, bases, nullptr);
    Py_DECREF(bases);
    if (!type) throw py::error_already_set();
    m.add_object(name, py::handle(type));
    return type;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "prunedef's library bound for Python (use the package prunedef, not this module directly).";

    // Exceptions: prunedef.Error and one subclass per library error type, each also a subclass of
    // the built-in exception a Python user would catch for it.
    static PyObject* error = nullptr;
    {
        PyObject* type = PyErr_NewExceptionWithDoc("prunedef.Error", "Base of every error prunedef raises.",
                                                   PyExc_Exception, nullptr);
        if (!type) throw py::error_already_set();
        m.add_object("Error", py::handle(type));
        error = type;
    }
    static PyObject* io = new_exception(m, "IoError", error, PyExc_OSError,
                                        "A file could not be opened, read or written (missing, truncated, not HDF5).");
    static PyObject* format = new_exception(m, "FormatError", error, PyExc_ValueError,
                                            "A file or array was readable but its content is not what prunedef needs.");
    static PyObject* shape = new_exception(m, "ShapeError", error, PyExc_ValueError,
                                           "Sizes that do not fit together (images against a model's input, ...).");
    static PyObject* argument = new_exception(m, "ArgumentError", error, PyExc_ValueError,
                                              "An argument outside the documented range.");
    static PyObject* numeric = new_exception(m, "NumericError", error, PyExc_ArithmeticError,
                                             "A computation gave inf or NaN where a number is required.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const io_error& e) {
            PyErr_SetString(io, e.what());
        } catch (const format_error& e) {
            PyErr_SetString(format, e.what());
        } catch (const shape_error& e) {
            PyErr_SetString(shape, e.what());
        } catch (const argument_error& e) {
            PyErr_SetString(argument, e.what());
        } catch (const numeric_error& e) {
            PyErr_SetString(numeric, e.what());
        } catch (const prunedef::error& e) {
            PyErr_SetString(error, e.what());
        }
    });

    py::class_<Model>(m, "Model", "A Keras model as prunedef runs it (DeepID or a graph network).")
        .def_property_readonly("path", [](const Model& x) { return x.file->path; }, "The file the model was read from.")
        .def_property_readonly("kind", [](const Model& x) { return std::string(keras_file_kind_name(x.file->kind)); },
                               "The file's kind: 'weights-only .h5', 'full-model .h5' or '.keras archive'.")
        .def_property_readonly("architecture", [](const Model& x) { return x.architecture; },
                               "How the architecture is known and run, in one line.")
        .def_property_readonly("architecture_assumed", [](const Model& x) { return x.architecture_assumed; },
                               "True for a weights-only file read as DeepID (the CSAW architecture.py).")
        .def_property_readonly("input_shape", [](const Model& x) { return shape_tuple(x.input_shape()); },
                               "(H, W, C) of the images the model takes; None until it is known.")
        .def_property_readonly("input_scale",
                               [](const Model& x) -> py::object {
                                   if (!x.scale_known) return py::none();
                                   return py::cast(x.visit([](const auto& n) { return n.input_scale(); }));
                               },
                               "Factor applied to pixels first (1: raw 0..255, 1/255); None when not known.")
        .def_property_readonly("num_classes",
                               [](const Model& x) -> py::object {
                                   if (!x.bound()) return py::none();
                                   return py::cast(x.visit([](const auto& n) { return n.num_classes(); }));
                               },
                               "The number of classes; None until the input shape is known.")
        .def_property_readonly("pruned_layer",
                               [](const Model& x) { return x.visit([](const auto& n) { return n.pruned_layer().name(); }); },
                               "The layer the defense prunes.")
        .def_property_readonly("channels", [](const Model& x) { return x.visit([](const auto& n) { return n.prunable_channels(); }); },
                               "Channels (or neurons) of the pruned layer.")
        .def("logits", &model_logits, py::arg("x"), py::arg("layout") = py::none(), py::arg("batch_size") = default_batch,
             "Pre-softmax outputs, float32 (N, classes), of images x: uint8, float32 or float64, NCHW or NHWC\n"
             "(layout='NCHW' / 'NHWC', or None: inferred when only one fits the model; refused otherwise).")
        .def("predict", &model_predict, py::arg("x"), py::arg("layout") = py::none(), py::arg("batch_size") = default_batch,
             "The predicted class (int64, N) of each image of x (see logits).")
        .def("save",
             [](const Model& x, const std::string& path, bool weights_only) {
                 py::gil_scoped_release release;
                 const auto lock = hdf5_lock();
                 x.visit([&](const auto& n) { save_derived_model(path, *x.file, n, weights_only); });
             },
             py::arg("path"), py::arg("weights_only") = false,
             "Writes the model as a file of its input's kind (a full-model .h5 or a .keras archive).")
        .def("__repr__", [](const Model& x) { return "<prunedef.Model " + x.file->path + ": " + x.architecture + ">"; });

    py::class_<PyGoodNet>(m, "GoodNet",
                          "G = GoodNet<B, B'>: B's class where B and B' agree, else num_classes (backdoor detected).")
        .def(py::init(&make_goodnet), py::arg("b"), py::arg("bprime"))
        .def_property_readonly("original", [](const PyGoodNet& g) { return g.b; }, "B")
        .def_property_readonly("repaired", [](const PyGoodNet& g) { return g.bprime; }, "B'")
        .def_property_readonly("num_classes", [](const PyGoodNet& g) { return std::visit([](const auto& x) { return x.num_classes(); }, g.g); })
        .def_property_readonly("detected_class", [](const PyGoodNet& g) { return std::visit([](const auto& x) { return x.detected_class(); }, g.g); },
                               "The class G outputs for a detected backdoor (B's number of classes).")
        .def("predict", &goodnet_predict, py::arg("x"), py::arg("layout") = py::none(), py::arg("batch_size") = default_batch,
             "G's class (int64, N) for each image of x (0..N-1, or N: backdoor detected).");

    py::class_<FineTuned>(m, "FineTuned", "B' after Fine-Pruning and its figures.")
        .def_property_readonly("epochs", [](const FineTuned& f) { return f.f().epochs; })
        .def_property_readonly("learning_rate", [](const FineTuned& f) { return f.f().learning_rate; })
        .def_property_readonly("chosen_epoch", [](const FineTuned& f) -> py::object {
            return f.f().chosen_epoch ? py::cast(*f.f().chosen_epoch) : py::none(); })
        .def_property_readonly("clean_set", [](const FineTuned& f) { return f.f().clean_set; })
        .def_property_readonly("valid_accuracy", [](const FineTuned& f) { return f.f().valid_accuracy; })
        .def_property_readonly("test_accuracy", [](const FineTuned& f) { return opt(f.f().test_accuracy); })
        .def_property_readonly("attack_success", [](const FineTuned& f) { return opt(f.f().attack_success); })
        .def_property_readonly("holdout_accuracy", [](const FineTuned& f) { return opt(f.f().holdout_accuracy); })
        .def_property_readonly("goodnet_valid", [](const FineTuned& f) { return counts_dict(f.f().goodnet_valid); })
        .def_property_readonly("goodnet_test", [](const FineTuned& f) { return counts_opt(f.f().goodnet_test); })
        .def_property_readonly("goodnet_poisoned", [](const FineTuned& f) { return counts_opt(f.f().goodnet_poisoned); })
        .def_property_readonly("bprime", [](const FineTuned& f) { return f.state->derived(f.state->fine_tuned[f.index]); },
                               "The fine-tuned B' (a Model).")
        .def_property_readonly("goodnet", [](const FineTuned& f) {
            return make_goodnet(f.state->b, f.state->derived(f.state->fine_tuned[f.index])); }, "GoodNet<B, fine-tuned B'>.");

    py::class_<Threshold>(m, "Threshold", "The results for one accuracy drop X: B' and G after pruning.")
        .def_property_readonly("x", [](const Threshold& t) { return t.t().drop.x; }, "The accuracy drop X.")
        .def_property_readonly("relative", [](const Threshold& t) { return t.t().drop.relative; },
                               "X is a percentage of B's accuracy rather than points.")
        .def_property_readonly("tag", [](const Threshold& t) { return drop_tag(t.t().drop); }, "'X2', 'X10rel', ...")
        .def_property_readonly("reached", [](const Threshold& t) { return t.t().reached; },
                               "False: no step reached the drop, k is the last step.")
        .def_property_readonly("k", [](const Threshold& t) { return t.t().k; }, "Channels pruned in B'.")
        .def_property_readonly("fraction_pruned", [](const Threshold& t) { return t.t().fraction_pruned; })
        .def_property_readonly("pruned_channels", [](const Threshold& t) { return t.t().pruned_channels; },
                               "The channels pruned, in pruning order.")
        .def_property_readonly("valid_accuracy", [](const Threshold& t) { return t.t().valid_accuracy; })
        .def_property_readonly("test_accuracy", [](const Threshold& t) { return opt(t.t().test_accuracy); })
        .def_property_readonly("attack_success", [](const Threshold& t) { return opt(t.t().attack_success); },
                               "B''s attack success rate on the (first) poisoned set, percent.")
        .def_property_readonly("poisoned_attack_success", [](const Threshold& t) { return t.t().poisoned_attack_success; })
        .def_property_readonly("goodnet_valid", [](const Threshold& t) { return counts_dict(t.t().goodnet_valid); })
        .def_property_readonly("goodnet_test", [](const Threshold& t) { return counts_opt(t.t().goodnet_test); })
        .def_property_readonly("goodnet_poisoned", [](const Threshold& t) { return counts_opt(t.t().goodnet_poisoned); })
        .def_property_readonly("bprime", [](const Threshold& t) { return t.state->bprime_at(t.t().k); },
                               "B' (a Model): B with the first k channels of the order pruned.")
        .def_property_readonly("goodnet", [](const Threshold& t) { return make_goodnet(t.state->b, t.state->bprime_at(t.t().k)); },
                               "G = GoodNet<B, B'>.")
        .def_property_readonly("fine_tuned", [](const Threshold& t) -> py::object {
            if (!t.t().fine_tuned) return py::none();
            return py::cast(FineTuned{t.state, t.index}); }, "B' after Fine-Pruning (None when fine_tune=0).")
        .def("__repr__", [](const Threshold& t) {
            return "<prunedef.Threshold " + drop_tag(t.t().drop) + ": k=" + std::to_string(t.t().k) + ">"; });

    using State = std::shared_ptr<RepairState>;
    py::class_<RepairState, State>(m, "RepairResult", "What repair() found: the sweep, the order, and B' and G per X.")
        .def_property_readonly("sweep", [](const State& s) { return sweep_arrays(s->result); },
                               "The pruning curve: a dict of numpy arrays, one per sweep.csv column (same names; NaN\n"
                               "where the CSV cell is empty; channel -1 at k = 0).")
        .def_property_readonly("order", [](const State& s) { return s->result.order; }, "Channels in pruning order.")
        .def_property_readonly("activations", [](const State& s) { return s->result.activations.mean; },
                               "Mean activation of each channel over the validation set.")
        .def_property_readonly("thresholds", [](const State& s) {
            std::vector<Threshold> out;
            for (std::size_t i = 0; i < s->result.thresholds.size(); ++i) out.push_back({s, i});
            return out; }, "One Threshold per accuracy drop X, in the order of drops.")
        .def_property_readonly("model", [](const State& s) { return s->b; }, "B")
        .def_property_readonly("pruned_layer", [](const State& s) { return s->result.pruned_layer; })
        .def_property_readonly("channels", [](const State& s) { return s->result.channels; })
        .def_property_readonly("classes", [](const State& s) { return s->result.classes; })
        .def_property_readonly("policy", [](const State& s) { return s->result.policy; })
        .def_property_readonly("warnings", [](const State& s) { return s->result.warnings; },
                               "Signs that the data sets are not what they claim to be.")
        .def_property_readonly("scale_note", [](const State& s) { return s->scale_note; },
                               "How the input scale was chosen from the data, when it was ('' otherwise).")
        .def("bprime", [](const State& s, std::size_t k) {
            if (k > s->result.order.size()) throw argument_error("bprime: k = " + std::to_string(k) + " but the pruned layer has " +
                                                                 std::to_string(s->result.order.size()) + " channels");
            return s->bprime_at(k); }, py::arg("k"), "B with the first k channels of the order pruned.")
        .def("sweep_csv", [](const State& s) { return sweep_csv(s->result); }, "sweep.csv's text.")
        .def("markdown", [](const State& s) { return markdown_report(s->result, s->context); }, "report.md's text.")
        .def("json", [](const State& s) {
            return detail::json_report_value(s->result, s->context).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
        }, "report.json's text (without its list of files).")
        .def("write", [](const State& s, const std::string& dir, bool replace, bool weights_only) {
            py::gil_scoped_release release;
            const auto lock = hdf5_lock();
            write_repair(*s, dir, replace, weights_only);
        }, py::arg("dir"), py::arg("replace") = false, py::arg("weights_only") = false,
           "Writes the files 'prunedef repair --out DIR' writes: sweep.csv, report.md, report.json,\n"
           "curve.svg, roc.svg, repaired_X<x>.h5 (or .keras) and goodnet_X<x>.h5 per X (and the\n"
           "finepruned_ ones after Fine-Pruning). dir must be new or empty unless replace.");

    m.def("load_model", &load_model, py::arg("path"), py::arg("scale") = py::none(), py::arg("layer") = py::none(),
          py::arg("config") = py::none(), py::arg("pooled") = true);
    m.def("model_from_config", &model_from_config, py::arg("config_json"), py::arg("layers"), py::arg("layer_order"),
          py::arg("scale") = py::none(), py::arg("layer") = py::none(), py::arg("pooled") = true);
    m.def("repair", &run_repair, py::arg("model"), py::arg("valid"), py::arg("test"), py::arg("poisoned"),
          py::arg("drops"), py::arg("relative"), py::arg("order"), py::arg("site"), py::arg("fine_tune"), py::arg("lr"),
          py::arg("batch"), py::arg("lr_drop"), py::arg("head_only"), py::arg("holdout"), py::arg("seed"),
          py::arg("last_epoch"), py::arg("max_fpr"), py::arg("weight_decay"), py::arg("augment_shift"),
          py::arg("augment_flip"), py::arg("augment_erase"), py::arg("sam"), py::arg("sam_adaptive"), py::arg("distill"),
          py::arg("anp_eps"), py::arg("anp_iterations"),
          py::arg("progress"));
    m.def("read_dataset", [](const std::string& path, const std::optional<std::string>& layout, const std::string& label) {
        Tensor images;
        std::vector<int> labels;
        {
            py::gil_scoped_release release;
            const auto lock = hdf5_lock();
            const DatasetReader r(path, label);
            r.read(0, r.size(), images);
            labels = r.labels();
        }
        const Layout l = parse_layout(layout).value_or(Layout::nchw);
        py::array_t<std::int64_t> lab(labels.size());
        std::copy(labels.begin(), labels.end(), lab.mutable_data());
        return py::make_tuple(tensor_to_numpy(images, l), lab);
    }, py::arg("path"), py::arg("layout") = "NCHW", py::arg("label") = "label");
    m.def("read_idx", [](const std::string& images_path, const std::string& labels_path, const std::optional<std::string>& layout) {
        Tensor images;
        std::vector<int> labels;
        {
            py::gil_scoped_release release;
            images = read_idx_images(images_path);
            labels = read_idx_labels(labels_path);
        }
        if (labels.size() != images.batch())
            throw shape_error(labels_path + ": " + std::to_string(labels.size()) + " labels for " +
                              std::to_string(images.batch()) + " images in " + images_path);
        py::array_t<std::int64_t> lab(labels.size());
        std::copy(labels.begin(), labels.end(), lab.mutable_data());
        return py::make_tuple(tensor_to_numpy(images, parse_layout(layout).value_or(Layout::nchw)), lab);
    }, py::arg("images_path"), py::arg("labels_path"), py::arg("layout") = "NCHW");
    m.def("thread_count", &thread_count, "Threads prunedef's parallel loops use.");
    m.def("set_thread_count", &set_thread_count, py::arg("n"), "Sets the threads prunedef's parallel loops use (n >= 1).");
#if defined(PRUNEDEF_NATIVE_BUILD)
    m.attr("native_build") = bool(PRUNEDEF_NATIVE_BUILD);
#endif
}
