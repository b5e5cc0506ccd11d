// choose_input_scale (model/input_scale_choice.hpp): counts, the choice, a tie, and the real case
// that motivates it (a CSAW network trained on pixels / 255).

#include "shared_data.hpp"

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_input_scale_choice {

using namespace prunedef;

namespace {

/// A "network" that answers each image's label for the first `right_raw` images at scale 1 and
/// the first `right_255` at scale 1/255, and class 9 otherwise (labels are below 9).
struct ScriptedNet {
    std::size_t right_raw = 0, right_255 = 0;
    std::vector<int> labels;
    float scale = 0.5f;
    void set_input_scale(float s) { scale = s; }
    std::vector<int> predict(const Tensor& images) const {
        const std::size_t right = scale == 1.0f ? right_raw : right_255;
        std::vector<int> out(images.batch(), 9);
        for (std::size_t i = 0; i < images.batch() && i < right; ++i) out[i] = labels[i];
        return out;
    }
};

}  // namespace

TEST_CASE("input scale: the better of 1 and 1/255 on the first 256 images, a tie undecided") {
    std::vector<int> labels(300);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % 7);
    const ArrayBatchSource data(Tensor(300, {2, 2, 1}), labels, "scripted");
    ScriptedNet net{100, 200, labels};
    const InputScaleChoice c = choose_input_scale(net, data);
    CHECK(c.images == 256);
    CHECK(c.correct_raw == 100);
    CHECK(c.correct_255 == 200);
    CHECK(c.decided());
    CHECK(c.scale() == 1.0f / 255.0f);
    CHECK(net.scale == 1.0f / 255.0f);  // left at the choice

    ScriptedNet raw{256, 3, labels};
    CHECK(choose_input_scale(raw, data).scale() == 1.0f);
    CHECK(raw.scale == 1.0f);

    ScriptedNet tie{280, 290, labels};  // both right on all 256 images tried
    const InputScaleChoice t = choose_input_scale(tie, data);
    CHECK_FALSE(t.decided());

    ScriptedNet few{5, 1, labels};
    const InputScaleChoice f = choose_input_scale(few, data, 10);
    CHECK(f.images == 10);
    CHECK(f.correct_raw == 5);
}

TEST_CASE("input scale: CSAW networks trained on raw pixels and on pixels / 255 are told apart" *
          doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("models/csaw/lab3_sunglasses_bd_weights.h5",
                                                         "models/csaw/sunglasses_bd_weights.h5",
                                                         "data/csaw/clean_samples.h5"))) {
    const DatasetReader clean(prunedef_test::shared_path("data/csaw/clean_samples.h5"));
    const auto choice = [&](const std::string& model) {
        DeepID net = make_deepid();
        load_keras_weights(prunedef_test::shared_path("models/csaw/" + model), net);
        net.bind(clean.image_shape());
        const InputScaleChoice c = choose_input_scale(net, clean);
        CHECK(c.decided());
        CHECK(net.input_scale() == c.scale());
        return c;
    };
    const InputScaleChoice lab3 = choice("lab3_sunglasses_bd_weights.h5");  // the lab's B, raw pixels
    CHECK(lab3.correct_raw > lab3.correct_255);
    CHECK(lab3.scale() == 1.0f);
    const InputScaleChoice sunglasses = choice("sunglasses_bd_weights.h5");  // trained on pixels / 255
    CHECK(sunglasses.correct_255 > sunglasses.correct_raw);
    CHECK(sunglasses.scale() == 1.0f / 255.0f);
}

}  // namespace test_input_scale_choice
