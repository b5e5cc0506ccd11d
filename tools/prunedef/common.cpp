// The shared parts of the prunedef tool (common.hpp).

#include "common.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace prunedef;

namespace prunedef_tool {

std::map<const CLI::App*, HelpText>& help_texts() {
    static std::map<const CLI::App*, HelpText> texts;
    return texts;
}

void require(const CLI::Option* option) {
    if (option->count() == 0) throw usage_error("missing required option " + option->get_name());
}

void ThreadsOption::add(CLI::App& sub) {
    option = sub.add_option("--threads", threads, "OpenMP threads (default: all)")
                 ->check(CLI::Range(1, 65536))
                 ->type_name("N");
}

void ThreadsOption::apply() const {
    if (option->count() == 0) return;
    // More threads than this only costs memory (a stack each) and time: refused before libgomp
    // tries to create them.
    const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
    if (threads > int(4 * hardware))
        throw usage_error("--threads " + std::to_string(threads) + ": more than 4 x the " + std::to_string(hardware) +
                          " hardware threads of this machine");
    set_thread_count(threads);
}

double batch_memory_limit() {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const double four_gib = 4.0 * double(1u << 30);
    if (pages <= 0 || page <= 0) return four_gib;
    return std::min(four_gib, double(pages) * double(page) / 4);
}

std::size_t checked_batch(std::size_t batch, const DatasetReader& data) {
    // A batch holds its images as float32 and the activations of the layers: a few times the
    // input (DeepID's conv_1 output and patches are about 20 times it); 32 is the estimate.
    constexpr double activation_factor = 32;
    const std::size_t n = std::max<std::size_t>(1, std::min(batch, data.size()));
    const double bytes = double(n) * double(data.image_shape().size()) * sizeof(float) * activation_factor;
    const double limit = batch_memory_limit();
    if (bytes > limit)
        throw usage_error("--batch " + std::to_string(batch) + ": a batch of " + std::to_string(n) + " images of " +
                          data.image_shape().str() + " from " + data.file() + " needs about " +
                          std::to_string(static_cast<long long>(bytes / double(1u << 20))) + " MiB, more than the " +
                          std::to_string(static_cast<long long>(limit / double(1u << 20))) +
                          " MiB allowed here; give a smaller --batch");
    return n;
}

void write_stdout(const std::string& text) {
    errno = 0;
    std::cout << text;
    std::cout.flush();
    if (!std::cout) {
        const int e = errno;
        throw io_error(std::string("standard output: write failed") + (e ? std::string(" (") + std::strerror(e) + ")" : ""));
    }
}

CLI::Option* add_batch_option(CLI::App& sub, std::size_t& batch, const std::string& what) {
    return sub.add_option("--batch", batch, what)->check(CLI::Range(1, 65536))->type_name("N");
}

std::string python_float(double v) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, res.ptr);
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    return s;
}

DeepID load_model(const std::string& path, const CLI::Option* scale_option, double scale, const DatasetReader& data) {
    DeepID net = make_deepid();
    load_keras_weights(path, net);
    if (scale_option->count() > 0) net.set_input_scale(static_cast<float>(scale));
    const ImageShape& shape = data.image_shape();
    const std::size_t model_channels = net.stem().layer<0>().in_channels();
    if (model_channels != shape.channels)
        throw shape_error(data.file() + ": /data: images have " + std::to_string(shape.channels) +
                          " channel(s), model " + path + " (conv_1) expects " + std::to_string(model_channels));
    if (net.bound()) {
        data.check_image_shape(net.input_shape());
    } else {
        try {
            net.bind(shape);
        } catch (const shape_error& e) {
            throw shape_error(data.file() + ": /data: images of " + shape.str() + " do not fit model " + path + ": " +
                              e.what());
        }
    }
    return net;
}

void check_not_input(const std::string& out, const std::vector<std::string>& inputs) {
    if (out.empty()) throw usage_error("--out: empty path given");
    std::error_code ec;
    const fs::path o = fs::weakly_canonical(out, ec);
    for (const auto& in : inputs)
        if (!in.empty() && fs::weakly_canonical(in, ec) == o)
            throw argument_error(out + ": output path is also an input; refusing to overwrite it");
}

}  // namespace prunedef_tool
