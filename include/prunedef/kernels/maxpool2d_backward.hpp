#pragma once
// Backward pass of max pooling: each output's gradient goes to the first input of its window
// that holds the maximum (the forward pass's choice).

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>

#include <algorithm>

namespace prunedef {

inline void maxpool2d_backward(const Tensor& in, std::size_t pool, std::size_t stride, const Tensor& dout, Tensor& din) {
    din.resize(in.batch(), in.shape());
    std::fill(din.data(), din.data() + din.size(), 0.0f);
    const std::size_t C = in.channels(), W = in.width();
    const ImageShape os = dout.shape();
    detail::parallel_for(static_cast<std::ptrdiff_t>(in.batch()), [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task);
        const float* x = in.image(n);
        const float* d = dout.image(n);
        float* dx = din.image(n);
        for (std::size_t y = 0; y < os.height; ++y)
            for (std::size_t xo = 0; xo < os.width; ++xo)
                for (std::size_t c = 0; c < C; ++c) {
                    std::size_t best = (y * stride * W + xo * stride) * C + c;
                    for (std::size_t py = 0; py < pool; ++py)
                        for (std::size_t px = 0; px < pool; ++px) {
                            const std::size_t i = ((y * stride + py) * W + xo * stride + px) * C + c;
                            if (x[i] > x[best]) best = i;
                        }
                    dx[best] += d[(y * os.width + xo) * C + c];
                }
    });
}

}  // namespace prunedef
