// Tensor: NHWC layout, resize/reshape, element access and the batch-as-matrix view.

#include <doctest/doctest.h>

#include <prunedef/core/tensor.hpp>

#include <cstdint>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_tensor {

using namespace prunedef;

TEST_CASE("tensor: a default tensor is empty") {
    const Tensor t;
    CHECK(t.batch() == 0);
    CHECK(t.size() == 0);
    CHECK(t.shape() == ImageShape{0, 0, 0});
}

TEST_CASE("tensor: construction and resize set batch, shape and size") {
    Tensor t(3, {5, 4, 2});
    CHECK(t.batch() == 3);
    CHECK(t.height() == 5);
    CHECK(t.width() == 4);
    CHECK(t.channels() == 2);
    CHECK(t.image_size() == 40);
    CHECK(t.size() == 120);
    CHECK(t.shape().str() == "5x4x2");
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 16 == 0);

    t.resize(7, {1, 1, 3});
    CHECK(t.batch() == 7);
    CHECK(t.shape() == ImageShape{1, 1, 3});
    CHECK(t.size() == 21);

    t.resize(2, {9, 9, 9});
    CHECK(t.size() == 2 * 729);
    CHECK(t.image(1) - t.image(0) == 729);
}

TEST_CASE("tensor: at() addresses NHWC memory, row-major with channels innermost") {
    Tensor t(2, {3, 5, 4});
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(i);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t h = 0; h < 3; ++h)
            for (std::size_t w = 0; w < 5; ++w)
                for (std::size_t c = 0; c < 4; ++c)
                    CHECK(t.at(n, h, w, c) == static_cast<float>(((n * 3 + h) * 5 + w) * 4 + c));
    t.at(1, 2, 4, 3) = -7.0f;
    CHECK(t.data()[t.size() - 1] == -7.0f);
    const Tensor& ct = t;
    CHECK(ct.at(1, 2, 4, 3) == -7.0f);
    CHECK(ct.image(1)[0] == ct.at(1, 0, 0, 0));
}

TEST_CASE("tensor: reshape keeps the data and refuses another size") {
    Tensor t(2, {3, 2, 5});
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(i) * 0.5f;
    const float* before = t.data();

    t.reshape({1, 1, 30});
    CHECK(t.shape() == ImageShape{1, 1, 30});
    CHECK(t.batch() == 2);
    CHECK(t.data() == before);
    CHECK(t.at(1, 0, 0, 7) == 37 * 0.5f);

    t.reshape({5, 3, 2});
    CHECK(t.at(0, 4, 2, 1) == 29 * 0.5f);

    CHECK_THROWS_WITH_AS(t.reshape({4, 4, 2}), "Tensor::reshape: cannot view 5x3x2 as 4x4x2", shape_error);
    CHECK(t.shape() == ImageShape{5, 3, 2});  // unchanged after the failed reshape
    CHECK_THROWS_AS(t.reshape({1, 1, 60}), error);  // the batch is not part of the view
}

TEST_CASE("tensor: matrix() is the batch with one image per row") {
    Tensor t(3, {2, 3, 2});
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(i) - 10.0f;
    auto m = t.matrix();
    REQUIRE(m.rows() == 3);
    REQUIRE(m.cols() == 12);
    for (std::size_t n = 0; n < 3; ++n)
        for (std::size_t k = 0; k < 12; ++k) CHECK(m(Eigen::Index(n), Eigen::Index(k)) == t.image(n)[k]);

    m(2, 11) = 99.0f;  // writes through to the tensor
    CHECK(t.at(2, 1, 2, 1) == 99.0f);

    const Tensor& ct = t;
    const auto cm = ct.matrix();
    CHECK(cm.rows() == 3);
    CHECK(cm.row(1).sum() == doctest::Approx(static_cast<double>(12 * 12 + 66 - 120)));
}

}  // namespace test_tensor
