// Batch sources: an HDF5 data set (DatasetReader), images in memory (ArrayBatchSource), a slice of
// a source (BatchSlice, rank_slice) and the type-erased BatchSourceRef give the same images,
// labels and defense results for the same data.

#include "shared_data.hpp"
#include "tiny_deepid.hpp"

#include <prunedef/prunedef.hpp>

#include <random>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_batch_source {

using namespace prunedef;

namespace {

Tensor random_images(std::size_t n, ImageShape shape, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pixel(0, 255);
    Tensor t(n, shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = float(pixel(rng));
    return t;
}

std::vector<int> random_labels(std::size_t n, int classes, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> label(0, classes - 1);
    std::vector<int> l(n);
    for (auto& v : l) v = label(rng);
    return l;
}

bool same_values(const Tensor& a, const Tensor& b) {
    if (a.batch() != b.batch() || a.shape() != b.shape()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a.data()[i] != b.data()[i]) return false;
    return true;
}

template <class Source>
Tensor read_range(const Source& s, std::size_t start, std::size_t count) {
    Tensor t;
    s.read(start, count, t);
    return t;
}

}  // namespace

TEST_CASE("batch source: ArrayBatchSource reads ranges and checks labels and shapes") {
    const Tensor images = random_images(7, {4, 3, 2}, 1);
    const ArrayBatchSource src(images, {0, 1, 2, 0, 1, 2, 0}, "seven");
    CHECK(src.size() == 7);
    CHECK(src.image_shape() == ImageShape{4, 3, 2});
    const Tensor r = read_range(src, 2, 3);
    REQUIRE(r.batch() == 3);
    for (std::size_t i = 0; i < r.image_size(); ++i) CHECK(r.image(1)[i] == images.image(3)[i]);
    CHECK(read_range(src, 7, 0).batch() == 0);
    CHECK_THROWS_WITH_AS(read_range(src, 5, 3), "seven: rows 5..8 out of range (7 images)", argument_error);
    CHECK_THROWS_WITH_AS(src.check_labels(2), "seven: label 2 is 2, expected a class in [0, 1]", format_error);
    CHECK_NOTHROW(src.check_labels(3));
    CHECK_THROWS_WITH_AS(src.check_image_shape({4, 3, 1}), "seven: images have 2 channel(s), the model expects 1",
                         shape_error);
    CHECK_THROWS_WITH_AS(src.check_image_shape({4, 4, 2}), "seven: images are 4x3, the model expects 4x4",
                         shape_error);
    CHECK_THROWS_AS(ArrayBatchSource(images, {0, 1}), shape_error);
    CHECK_THROWS_AS(ArrayBatchSource(random_images(2, {1, 1, 1}, 2), {0, -1}), format_error);
}

TEST_CASE("batch source: slices and rank slices cover a source exactly once") {
    const Tensor images = random_images(11, {2, 2, 1}, 3);
    const std::vector<int> labels = random_labels(11, 4, 3);
    const ArrayBatchSource src(images, labels);
    const BatchSlice<ArrayBatchSource> mid(src, 3, 5);
    CHECK(mid.size() == 5);
    CHECK(mid.labels() == std::vector<int>(labels.begin() + 3, labels.begin() + 8));
    CHECK(same_values(read_range(mid, 1, 4), read_range(src, 4, 4)));
    CHECK_THROWS_AS(read_range(mid, 2, 4), argument_error);
    CHECK_THROWS_AS(BatchSlice<ArrayBatchSource>(src, 8, 4), argument_error);
    CHECK_THROWS_AS(rank_slice(src, 3, 3), argument_error);

    for (std::size_t ranks : {1, 2, 3, 4, 11, 13}) {
        CAPTURE(ranks);
        std::vector<int> seen;
        std::size_t next = 0, smallest = 11, largest = 0;
        for (std::size_t r = 0; r < ranks; ++r) {
            const auto s = rank_slice(src, r, ranks);
            CHECK(s.first() == next);
            next += s.size();
            smallest = std::min(smallest, s.size());
            largest = std::max(largest, s.size());
            seen.insert(seen.end(), s.labels().begin(), s.labels().end());
        }
        CHECK(next == 11);
        CHECK(largest - smallest <= 1);
        CHECK(seen == labels);
    }
}

TEST_CASE("batch source: a data set file, the same images in memory, its slices and a BatchSourceRef agree") {
    const std::size_t classes = 5;
    DeepID net = prunedef_test::tiny_deepid(21, classes);
    net.bind(ImageShape{55, 47, 3});
    const Tensor images = random_images(37, {55, 47, 3}, 4);
    const std::vector<int> labels = random_labels(37, int(classes), 4);
    const auto dir = prunedef_test::scratch_dir("batch_source");
    const std::string path = (dir / "set.h5").string();
    write_dataset(path, images, labels);
    const DatasetReader file(path);
    const ArrayBatchSource memory(images, labels);
    const BatchSourceRef ref = memory;

    CHECK(file.labels() == memory.labels());
    CHECK(same_values(read_range(file, 5, 9), read_range(memory, 5, 9)));
    CHECK(same_values(read_range(ref, 5, 9), read_range(memory, 5, 9)));
    CHECK(ref.size() == 37);
    CHECK_THROWS_AS(ref.check_labels(2), format_error);

    const std::vector<int> p = predict_dataset(net, file, 8);
    CHECK(predict_dataset(net, memory, 8) == p);
    CHECK(predict_dataset(net, ref, 5) == p);
    std::vector<int> by_rank;
    for (std::size_t r = 0; r < 3; ++r) {
        const auto part = predict_dataset(net, rank_slice(file, r, 3), 4);
        by_rank.insert(by_rank.end(), part.begin(), part.end());
    }
    CHECK(by_rank == p);
    CHECK(predict_all(net, images, 10) == p);

    const ChannelActivations a = mean_channel_activations(net, file);
    const ChannelActivations b = mean_channel_activations(net, memory);
    CHECK(a.mean == b.mean);

    RepairOptions options;
    options.batch_size = 16;
    const BatchSlice<ArrayBatchSource> poisoned(memory, 10, 20);
    const RepairResult from_file = repair(net, {&file, nullptr, nullptr}, options);
    const RepairResult from_memory = repair(net, RepairData{&memory, &memory, &poisoned}, options);
    CHECK(from_memory.order == from_file.order);
    REQUIRE(from_memory.curve.size() == from_file.curve.size());
    for (std::size_t k = 0; k < from_file.curve.size(); ++k) {
        CHECK(from_memory.curve[k].valid_accuracy == from_file.curve[k].valid_accuracy);
        CHECK(*from_memory.curve[k].test_accuracy == from_file.curve[k].valid_accuracy);
    }
    CHECK(from_memory.poisoned_images == 20);
}

}  // namespace test_batch_source
