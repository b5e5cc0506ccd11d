// The communicator of the data-parallel defense (core/communicator.hpp): the single-process
// implementation, the failure protocol (an error on one rank ends every rank), the in-order
// combination of the activation block sums (bit-identical for 1, 2 and 4 ranks, and against a
// naive double reference), block-aligned rank slices, and repair() on 1, 2 and 4 ranks giving the
// single-process result. Ranks are threads here (thread_ranks.hpp); the MPI implementation is
// tested by tests/mpi_test.sh under mpirun.

#include "thread_ranks.hpp"
#include "tiny_deepid.hpp"

#include <prunedef/prunedef.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_communicator {

using namespace prunedef;
using prunedef_test::run_ranks;

namespace {

Tensor random_tensor(std::size_t n, ImageShape shape, unsigned seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    Tensor t(n, shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = d(rng);
    return t;
}

Tensor image_range(const Tensor& t, std::size_t first, std::size_t count) {
    Tensor out(count, t.shape());
    for (std::size_t i = 0; i < count * t.image_size(); ++i) out.data()[i] = t.data()[first * t.image_size() + i];
    return out;
}

}  // namespace

TEST_CASE("communicator: SingleProcess is rank 0 of 1 and its collectives return their input") {
    const SingleProcess one;
    CHECK(one.rank() == 0);
    CHECK(one.size() == 1);
    std::vector<std::int64_t> v{3, -1, std::int64_t(1) << 40};
    one.sum(v);
    CHECK(v == std::vector<std::int64_t>{3, -1, std::int64_t(1) << 40});
    CHECK(one.gather(std::vector<double>{0.1, 0.2}) == std::vector<double>{0.1, 0.2});
    CHECK(one.gather(std::vector<std::int64_t>{}).empty());
    CHECK_NOTHROW(one.check());
    CHECK_NOTHROW(one.share_failure("nobody else to tell"));
}

TEST_CASE("communicator: sums are exact and gathers are in rank order, for 1, 2 and 4 ranks") {
    for (std::size_t ranks : {1u, 2u, 4u}) {
        CAPTURE(ranks);
        std::vector<std::vector<double>> gathered(ranks);
        std::vector<std::vector<std::int64_t>> sums(ranks);
        const auto errors = run_ranks(ranks, [&](const Communicator& comm) {
            std::vector<std::int64_t> v{std::int64_t(comm.rank()) + 1, (std::int64_t(1) << 53) + 1};
            comm.sum(v);
            sums[comm.rank()] = v;
            // rank r gives r values: r, r + 0.5, ...
            std::vector<double> mine;
            for (std::size_t i = 0; i < comm.rank(); ++i) mine.push_back(double(comm.rank()) + 0.5 * double(i));
            gathered[comm.rank()] = comm.gather(mine);
        });
        std::vector<double> expected;
        for (std::size_t r = 0; r < ranks; ++r)
            for (std::size_t i = 0; i < r; ++i) expected.push_back(double(r) + 0.5 * double(i));
        for (std::size_t r = 0; r < ranks; ++r) {
            CHECK(!errors[r]);
            CHECK(gathered[r] == expected);
            CHECK(sums[r][0] == std::int64_t(ranks * (ranks + 1) / 2));
            CHECK(sums[r][1] == std::int64_t(ranks) * ((std::int64_t(1) << 53) + 1));  // beyond a double's 2^53
        }
    }
}

TEST_CASE("communicator: a rank that fails ends every other rank's next collective with its message") {
    const auto errors = run_ranks(3, [&](const Communicator& comm) {
        std::vector<std::int64_t> v{1};
        comm.sum(v);  // all fine
        if (comm.rank() == 1) {
            comm.share_failure("valid.h5: cannot read images [100, 200)");
            throw io_error("valid.h5: cannot read images [100, 200)");
        }
        (void)comm.gather(std::vector<double>{1.0});  // never completes normally
    });
    REQUIRE(errors.size() == 3);
    for (std::size_t r = 0; r < 3; ++r) {
        CAPTURE(r);
        REQUIRE(errors[r]);
        try {
            std::rethrow_exception(errors[r]);
        } catch (const rank_failure& e) {
            CHECK(r != 1);
            CHECK(std::string(e.what()) == "rank 1 of 3 failed: valid.h5: cannot read images [100, 200)");
        } catch (const io_error& e) {
            CHECK(r == 1);  // the failing rank keeps its own error
        }
    }
}

TEST_CASE("communicator: two failing ranks; the first is named, the count of the others given") {
    const auto errors = run_ranks(4, [&](const Communicator& comm) {
        if (comm.rank() == 2 || comm.rank() == 3) {
            comm.share_failure("disk " + std::to_string(comm.rank()));
            throw io_error("disk");
        }
        comm.check();
    });
    for (std::size_t r : {0u, 1u}) {
        REQUIRE(errors[r]);
        try {
            std::rethrow_exception(errors[r]);
        } catch (const rank_failure& e) {
            CHECK(std::string(e.what()) == "rank 2 of 4 failed: disk 2 (and 1 other rank(s))");
        }
    }
}

TEST_CASE("communicator: activation block sums combined in block order are bit-identical for 1, 2 and 4 ranks") {
    // 1000 images: 3 whole blocks of 256 and one of 232; values of very different magnitude so
    // that another summation order would give other bits.
    const std::size_t n = 1000, C = 7;
    Tensor acts = random_tensor(n, {3, 2, C}, 5, 0.0f, 1.0f);
    for (std::size_t i = 0; i < n; i += 3) acts.image(i)[0] *= 1e7f;
    std::vector<std::vector<double>> means;
    for (std::size_t ranks : {1u, 2u, 3u, 4u}) {
        std::vector<double> blocks;
        for (std::size_t r = 0; r < ranks; ++r) {
            // the slice rank_slice gives with whole blocks; batches of 100 images
            const std::size_t units = (n + activation_block_images - 1) / activation_block_images;
            const std::size_t base = units / ranks, extra = units % ranks;
            const std::size_t first = std::min(n, (r * base + std::min(r, extra)) * activation_block_images);
            const std::size_t last = std::min(n, ((r + 1) * base + std::min(r + 1, extra)) * activation_block_images);
            ChannelActivationAccumulator acc(C, ActivationSite::pooled, first);
            for (std::size_t s = first; s < last; s += 100) acc.add(image_range(acts, s, std::min<std::size_t>(100, last - s)));
            blocks.insert(blocks.end(), acc.block_sums().begin(), acc.block_sums().end());
        }
        means.push_back(ChannelActivationAccumulator::combine(blocks, C, n, ActivationSite::pooled).mean);
    }
    for (std::size_t i = 1; i < means.size(); ++i) CHECK(means[i] == means[0]);  // bit for bit
    // against a naive double reference
    for (std::size_t c = 0; c < C; ++c) {
        double ref = 0;
        for (std::size_t i = 0; i < n; ++i) {
            double s = 0;
            for (std::size_t p = 0; p < 6; ++p) s += acts.image(i)[p * C + c];
            ref += s / 6.0;
        }
        ref /= double(n);
        CHECK(means[0][c] == doctest::Approx(ref).epsilon(1e-12));
    }
    // not at a block boundary: refused
    CHECK_THROWS_AS(ChannelActivationAccumulator(C, ActivationSite::pooled, 100), argument_error);
    CHECK_THROWS_AS(ChannelActivationAccumulator::combine(std::vector<double>(5), C, n, ActivationSite::pooled),
                    argument_error);
}

TEST_CASE("communicator: rank_slice with a granule starts every slice at a multiple of it and covers the set") {
    const Tensor images = random_tensor(1000, {1, 1, 1}, 1, 0.0f, 1.0f);
    const ArrayBatchSource src(images, std::vector<int>(1000, 0));
    for (std::size_t ranks : {1u, 2u, 3u, 4u, 5u, 7u}) {
        std::size_t next = 0;
        for (std::size_t r = 0; r < ranks; ++r) {
            const auto s = rank_slice(src, r, ranks, 256);
            CHECK(s.first() == next);
            CHECK((s.first() % 256 == 0 || s.size() == 0));
            next = s.first() + s.size();
        }
        CHECK(next == 1000);
    }
    // granule 1: sizes differ by at most one image, as before
    CHECK(rank_slice(src, 2, 3).first() == 667);
    CHECK(rank_slice(src, 2, 3).size() == 333);
    CHECK_THROWS_AS(rank_slice(src, 0, 2, 0), argument_error);
}

TEST_CASE("communicator: repair on 1, 2 and 4 ranks gives the single-process result") {
    const std::size_t classes = 5;
    DeepID net = prunedef_test::tiny_deepid(7, classes);
    net.bind(ImageShape{55, 47, 3});
    const std::size_t n = 600;
    const Tensor images = random_tensor(n, {55, 47, 3}, 3, 0.0f, 255.0f);
    std::vector<int> labels(n);
    const std::vector<int> predicted = predict_all(net, images, 64);
    for (std::size_t i = 0; i < n; ++i) labels[i] = i % 4 == 0 ? int(i % classes) : predicted[i];
    const ArrayBatchSource valid(images, labels);
    const ArrayBatchSource test(image_range(images, 0, 301), std::vector<int>(labels.begin(), labels.begin() + 301));
    const ArrayBatchSource poisoned(image_range(images, 301, 77), std::vector<int>(77, 0));
    RepairOptions options;
    options.batch_size = 50;
    options.feature_cache_bytes = 40 * net.feature_shape().size() * sizeof(float);  // some recomputed per rank
    const RepairResult one = repair(net, RepairData{&valid, &test, &poisoned}, options);
    CHECK(one.ranks == 1);
    for (std::size_t ranks : {1u, 2u, 4u}) {
        CAPTURE(ranks);
        std::vector<RepairResult> results(ranks);
        const auto errors = run_ranks(ranks, [&](const Communicator& comm) {
            RepairOptions o = options;
            o.communicator = &comm;
            results[comm.rank()] = repair(net, RepairData{&valid, &test, &poisoned}, o);
        });
        for (std::size_t r = 0; r < ranks; ++r) {
            CAPTURE(r);
            if (errors[r]) {
                try {
                    std::rethrow_exception(errors[r]);
                } catch (const std::exception& e) {
                    FAIL(std::string(e.what()));
                }
            }
            const RepairResult& x = results[r];
            CHECK(x.ranks == ranks);
            CHECK(x.activations.mean == one.activations.mean);  // bit for bit
            CHECK(x.order == one.order);
            CHECK(x.valid_images == n);
            CHECK(x.cached_feature_images == 40 * std::min<std::size_t>(ranks, 3));  // 3 blocks: a 4th rank has none
            REQUIRE(x.curve.size() == one.curve.size());
            for (std::size_t k = 0; k < one.curve.size(); ++k) {
                CHECK(x.curve[k].valid_accuracy == one.curve[k].valid_accuracy);
                CHECK(x.curve[k].test_accuracy == one.curve[k].test_accuracy);
                CHECK(x.curve[k].attack_success == one.curve[k].attack_success);
                CHECK(x.curve[k].goodnet_valid_fpr == one.curve[k].goodnet_valid_fpr);
                CHECK(x.curve[k].goodnet_test_accuracy == one.curve[k].goodnet_test_accuracy);
                CHECK(x.curve[k].poisoned.at(0).goodnet_detection == one.curve[k].poisoned.at(0).goodnet_detection);
            }
            REQUIRE(x.thresholds.size() == one.thresholds.size());
            for (std::size_t t = 0; t < one.thresholds.size(); ++t) {
                CHECK(x.thresholds[t].k == one.thresholds[t].k);
                CHECK(x.thresholds[t].goodnet_valid.flagged == one.thresholds[t].goodnet_valid.flagged);
            }
            CHECK(x.warnings == one.warnings);
        }
    }
    // the baseline is not trivial: some images wrong, some right
    CHECK(one.curve.front().valid_accuracy > 50.0);
    CHECK(one.curve.front().valid_accuracy < 100.0);
}

TEST_CASE("communicator: repair refuses ranks given data sets of other sizes, on every rank") {
    DeepID net = prunedef_test::tiny_deepid(7, 5);
    net.bind(ImageShape{55, 47, 3});
    const Tensor images = random_tensor(40, {55, 47, 3}, 3, 0.0f, 255.0f);
    const ArrayBatchSource all(images, std::vector<int>(40, 1));
    const ArrayBatchSource fewer(image_range(images, 0, 39), std::vector<int>(39, 1));
    const auto errors = run_ranks(2, [&](const Communicator& comm) {
        RepairOptions o;
        o.communicator = &comm;
        (void)repair(net, RepairData{comm.rank() == 0 ? &all : &fewer, nullptr, nullptr}, o);
    });
    for (std::size_t r = 0; r < 2; ++r) {
        REQUIRE(errors[r]);
        try {
            std::rethrow_exception(errors[r]);
        } catch (const error& e) {
            CHECK(std::string(e.what()).find("rank 1's data set 1 has 39 images, rank 0's 40") != std::string::npos);
        }
    }
}

}  // namespace test_communicator
