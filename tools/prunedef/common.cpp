// The shared parts of the prunedef tool (common.hpp).

#include "common.hpp"

#include <charconv>
#include <filesystem>

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
    if (option->count() > 0) set_thread_count(threads);
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
    std::error_code ec;
    const fs::path o = fs::weakly_canonical(out, ec);
    for (const auto& in : inputs)
        if (!in.empty() && fs::weakly_canonical(in, ec) == o)
            throw argument_error(out + ": output path is also an input; refusing to overwrite it");
}

}  // namespace prunedef_tool
