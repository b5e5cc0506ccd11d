// Explicit scratch memory (core/workspace.hpp): a network's forward pass takes its intermediate
// tensors from a workspace, which stops growing once warm; results do not depend on which
// workspace (or thread) served a call; kernels called inside a parallel region use their own slot.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include "tiny_deepid.hpp"

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_workspace {

using namespace prunedef;

namespace {

Tensor random_images(std::mt19937& rng, std::size_t batch, ImageShape shape) {
    std::uniform_real_distribution<float> pixel(0.0f, 255.0f);
    Tensor t(batch, shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = pixel(rng);
    return t;
}

bool same(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && a.batch() == b.batch() && std::equal(a.data(), a.data() + a.size(), b.data());
}

DeepID tiny_bound(unsigned seed) {
    DeepID net = prunedef_test::tiny_deepid(seed);
    net.bind({55, 47, 3});
    net.set_input_scale(1.0f / 255.0f);
    return net;
}

}  // namespace

TEST_CASE("workspace: a frame gives back what it took") {
    Workspace ws;
    {
        detail::ScratchFrame outer(ws);
        Tensor& a = outer.tensor();
        a.resize(2, {3, 3, 3});
        {
            detail::ScratchFrame inner(ws);
            Tensor& b = inner.tensor();
            CHECK(&b != &a);
            b.resize(1, {10, 10, 10});
        }
        detail::ScratchFrame again(ws);
        Tensor& c = again.tensor();
        CHECK(c.size() == 1000);  // the inner frame's tensor, with its memory
    }
    CHECK(ws.bytes() >= (54 + 1000) * sizeof(float));
    ws.clear();
    CHECK(ws.bytes() == 0);
}

TEST_CASE("workspace: a network's forward pass allocates nothing once warm, and any workspace gives the same logits") {
    std::mt19937 rng(3);
    const DeepID net = tiny_bound(11);
    const Tensor images = random_images(rng, 9, net.input_shape());
    Tensor by_pool, by_workspace, again;
    net.logits(images, by_pool);
    Workspace ws;
    net.logits(images, by_workspace, ws);
    const std::size_t warm = ws.bytes();
    CHECK(warm > 0);
    for (int i = 0; i < 3; ++i) {
        net.logits(images, again, ws);
        CHECK(same(again, by_workspace));
    }
    CHECK(ws.bytes() == warm);
    CHECK(same(by_pool, by_workspace));
    // a smaller batch reuses the same memory
    const Tensor few = random_images(rng, 2, net.input_shape());
    net.logits(few, again, ws);
    CHECK(ws.bytes() == warm);
}

TEST_CASE("workspace: two networks in one thread, each with its own scratch") {
    std::mt19937 rng(4);
    const DeepID a = tiny_bound(21), b = tiny_bound(22);
    const Tensor images = random_images(rng, 5, a.input_shape());
    Tensor la, lb, la2, lb2;
    Workspace wa, wb;
    a.logits(images, la, wa);
    const std::size_t a_bytes = wa.bytes();
    b.logits(images, lb, wb);
    CHECK(wa.bytes() == a_bytes);  // b's call did not touch a's scratch
    a.logits(images, la2);
    b.logits(images, lb2);
    CHECK(same(la, la2));
    CHECK(same(lb, lb2));
    CHECK_FALSE(same(la, lb));
}

TEST_CASE("workspace: concurrent callers of one const network get the serial results") {
    std::mt19937 rng(5);
    const DeepID net = tiny_bound(31);
    std::vector<Tensor> images, expected(4), got(4);
    for (int i = 0; i < 4; ++i) images.push_back(random_images(rng, std::size_t(3 + i), net.input_shape()));
    for (std::size_t i = 0; i < 4; ++i) net.logits(images[i], expected[i]);
    for (int round = 0; round < 5; ++round) {
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < 4; ++i) threads.emplace_back([&, i] { net.logits(images[i], got[i]); });
        for (auto& t : threads) t.join();
        for (std::size_t i = 0; i < 4; ++i) CHECK(same(got[i], expected[i]));
    }
}

TEST_CASE("workspace: the fused conv + pool kernel inside a parallel region uses one slot per caller") {
    std::mt19937 rng(6);
    std::normal_distribution<float> normal;
    const detail::ConvGeometry g{3, 3, 4, 20};
    std::vector<float> kernel(g.patch_size() * g.out_channels), bias(g.out_channels);
    for (auto& v : kernel) v = normal(rng);
    for (auto& v : bias) v = normal(rng);
    detail::PackedKernel packed;
    detail::pack_kernel(g, kernel.data(), bias.data(), packed);
    std::vector<Tensor> in, expected(8), got(8);
    for (std::size_t i = 0; i < 8; ++i) {
        in.emplace_back(2, ImageShape{14, 11, 4});
        for (std::size_t j = 0; j < in[i].size(); ++j) in[i].data()[j] = normal(rng);
        conv2d_maxpool<Relu>(in[i], g, kernel.data(), bias.data(), 2, 2, expected[i]);
    }
    std::vector<detail::AlignedFloats> scratch(8);
    detail::parallel_for(8, [&](std::ptrdiff_t i) {
        const auto k = static_cast<std::size_t>(i);
        conv2d_maxpool<Relu>(in[k], g, packed, kernel.data(), bias.data(), 2, 2, got[k], scratch[k]);
    });
    for (std::size_t i = 0; i < 8; ++i) CHECK(same(got[i], expected[i]));
}

}  // namespace test_workspace
