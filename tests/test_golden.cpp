// The five real CSAW-HackML-2020 BadNets against logits an independent implementation computed
// in float64 (../shared/data/csaw/golden_logits.h5).

#include "shared_data.hpp"

#include <prunedef/prunedef.hpp>

#include <cmath>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_golden {

using namespace prunedef;

namespace {

struct GoldenSet {
    std::string name;
    std::vector<float> logits;
    std::vector<std::size_t> dims;
};

std::vector<float> read_matrix(const std::string& file, const std::string& group, const std::string& name,
                               std::vector<std::size_t>& dims) {
    auto f = detail::open_h5_file(file);
    auto g = detail::open_h5_group(f, group);
    auto ds = detail::open_h5_dataset(g, name);
    dims = detail::h5_dataset_dims(ds);
    std::vector<float> out;
    detail::h5_read_numeric(ds, out);
    return out;
}

Tensor read_all(const std::string& path) {
    DatasetReader reader(path);
    Tensor t;
    reader.read(0, reader.size(), t);
    return t;
}

Tensor random_inputs(const std::string& golden) {
    auto f = detail::open_h5_file(golden);
    auto ds = detail::open_h5_dataset(f, "random_inputs");
    auto dims = detail::h5_dataset_dims(ds);
    std::vector<float> nchw;
    detail::h5_read_numeric(ds, nchw);
    Tensor t(dims[0], {dims[2], dims[3], dims[1]});
    for (std::size_t n = 0; n < dims[0]; ++n)
        for (std::size_t c = 0; c < dims[1]; ++c)
            for (std::size_t y = 0; y < dims[2]; ++y)
                for (std::size_t x = 0; x < dims[3]; ++x)
                    t.at(n, y, x, c) = nchw[((n * dims[1] + c) * dims[2] + y) * dims[3] + x];
    return t;
}

void compare(const Tensor& ours, const std::vector<float>& ref, const std::vector<std::size_t>& dims,
             const std::string& what) {
    REQUIRE(dims.size() == 2);
    REQUIRE(ours.batch() == dims[0]);
    REQUIRE(ours.image_size() == dims[1]);
    std::size_t argmax_mismatches = 0, value_mismatches = 0;
    double worst = 0;
    for (std::size_t n = 0; n < dims[0]; ++n) {
        const float* o = ours.image(n);
        const float* r = ref.data() + n * dims[1];
        std::size_t ao = 0, ar = 0;
        for (std::size_t k = 0; k < dims[1]; ++k) {
            if (o[k] > o[ao]) ao = k;
            if (r[k] > r[ar]) ar = k;
            const double tol = 1e-3 * std::max(1.0, std::fabs(double(r[k])));
            const double err = std::fabs(double(o[k]) - double(r[k]));
            worst = std::max(worst, err / tol);
            if (err > tol) ++value_mismatches;
        }
        if (ao != ar) ++argmax_mismatches;
    }
    INFO(what << ": worst error / tolerance = " << worst);
    CHECK(argmax_mismatches == 0);
    CHECK(value_mismatches == 0);
}

}  // namespace

TEST_CASE("golden: the five CSAW networks reproduce the reference logits" * doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("data/csaw/golden_logits.h5", "data/csaw/clean_samples.h5", "models/csaw"))) {
    const std::string golden = prunedef_test::shared_path("data/csaw/golden_logits.h5");
    const std::string data_dir = prunedef_test::shared_dir() + "/data/csaw/";
    const std::string model_dir = prunedef_test::shared_dir() + "/models/csaw/";
    const Tensor clean = read_all(data_dir + "clean_samples.h5");
    const Tensor randoms = random_inputs(golden);

    for (const std::string model : {"lab3_sunglasses", "sunglasses", "anonymous_1", "anonymous_2",
                                    "multi_trigger_multi_target"}) {
        SUBCASE(model.c_str()) {
            auto root = detail::open_h5_file(golden);
            auto group = detail::open_h5_group(root, model);
            const double scale = detail::h5_read_numeric_attribute(group, "input_scale").at(0);

            DeepID net = make_deepid();
            load_keras_weights(model_dir + model + "_bd_weights.h5", net);
            net.set_input_scale(static_cast<float>(scale));
            net.bind(clean.shape());
            CHECK(net.num_classes() == 1283);

            std::vector<std::size_t> dims;
            auto ref = read_matrix(golden, model, "clean_samples_logits", dims);
            compare(net.logits(clean), ref, dims, model + " clean");
            ref = read_matrix(golden, model, "random_inputs_logits", dims);
            compare(net.logits(randoms), ref, dims, model + " random");
            if (detail::h5_has_attribute(group, "poisoned_samples")) {
                const auto poisoned = detail::h5_read_string_attribute(group, "poisoned_samples").at(0);
                ref = read_matrix(golden, model, "poisoned_samples_logits", dims);
                compare(net.logits(read_all(data_dir + poisoned)), ref, dims, model + " poisoned");
            }
        }
    }
}

}  // namespace test_golden
