// prunedef classify: one image through a GoodNet, a class in [0, N].

#include "common.hpp"
#include "model_file.hpp"

#include <prunedef/io/image.hpp>

#include <iostream>
#include <memory>
#include <utility>

using namespace prunedef;

namespace prunedef_tool {

namespace {

struct ClassifyOptions {
    std::string goodnet, image;
    ThreadsOption threads;
    CLI::Option *goodnet_opt = nullptr, *image_opt = nullptr;
};

int run_classify(const ClassifyOptions& o) {
    o.threads.apply();
    if (o.image_opt->count() == 0) throw usage_error("expected exactly one image file");
    require(o.goodnet_opt);
    const AnyGoodNet goodnet = load_goodnet(o.goodnet);
    int cls = 0;
    std::visit(
        [&](const auto& g) {
            const Tensor image = load_image(o.image, g.input_shape());
            try {
                cls = g.predict(image).at(0);
            } catch (const numeric_error& e) {
                throw numeric_error(o.goodnet + ": on " + o.image + ": " + e.what());
            }
        },
        goodnet);
    write_stdout(std::to_string(cls) + "\n");
    return 0;
}

}  // namespace

Runner add_classify(CLI::App& app) {
    auto o = std::make_shared<ClassifyOptions>();
    CLI::App* sub = app.add_subcommand("classify", "classify one image with a GoodNet (prints a class in [0, N])");
    set_help(sub, "prunedef classify --goodnet G.h5 IMAGE.png|jpg",
              "Prints the GoodNet's class for the image: 0..N-1, or N when B and B' disagree (backdoor\n"
              "detected). The image must have the model's input size (55x47 for the CSAW networks).");
    o->goodnet_opt = sub->add_option("--goodnet", o->goodnet, "a GoodNet file written by 'prunedef repair'; required")
                         ->type_name("G.h5");
    o->image_opt = sub->add_option("image", o->image, "PNG, JPEG or BMP image")->type_name("IMAGE");
    o->threads.add(*sub);
    return [o] { return run_classify(*o); };
}

}  // namespace prunedef_tool
