// IDX files (Fashion-MNIST's format), gzip-compressed, and the challenge-layout writer.

#include "shared_data.hpp"

#include <prunedef/prunedef.hpp>

#include <zlib.h>

#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_idx {

using namespace prunedef;

namespace {
void write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == int(bytes.size()));
    gzclose(f);
}
std::vector<unsigned char> idx_header(std::vector<std::uint32_t> dims) {
    std::vector<unsigned char> out{0, 0, 8, static_cast<unsigned char>(dims.size())};
    for (auto d : dims)
        for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<unsigned char>(d >> s));
    return out;
}
}  // namespace

TEST_CASE("idx: images and labels round-trip; malformed files are refused") {
    const auto dir = prunedef_test::scratch_dir("idx");
    auto images = idx_header({2, 3, 4});
    for (int i = 0; i < 24; ++i) images.push_back(static_cast<unsigned char>(i * 10));
    write_gz((dir / "images.gz").string(), images);
    const Tensor t = read_idx_images((dir / "images.gz").string());
    CHECK(t.batch() == 2);
    CHECK(t.shape() == ImageShape{3, 4, 1});
    CHECK(t.at(1, 2, 3, 0) == 230.0f);

    auto labels = idx_header({3});
    labels.insert(labels.end(), {7, 0, 9});
    write_gz((dir / "labels.gz").string(), labels);
    CHECK(read_idx_labels((dir / "labels.gz").string()) == std::vector<int>{7, 0, 9});

    auto truncated = idx_header({2, 3, 4});
    truncated.resize(truncated.size() + 5);
    write_gz((dir / "short.gz").string(), truncated);
    const std::string short_path = (dir / "short.gz").string();
    CHECK_THROWS_WITH_AS(read_idx_images(short_path), (short_path + ": IDX header declares 24 values, file holds 5").c_str(),
                         format_error);
    CHECK_THROWS_AS(read_idx_images((dir / "labels.gz").string()), format_error);  // rank 1, not 3
    CHECK_THROWS_AS(read_idx_labels((dir / "missing.gz").string()), io_error);
}

TEST_CASE("dataset writer: written files read back through DatasetReader") {
    const auto dir = prunedef_test::scratch_dir("dataset_writer");
    Tensor images(3, {2, 2, 3});
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = float(i * 7 % 256);
    for (const std::vector<int>& labels : {std::vector<int>{0, 1, 2}, std::vector<int>{5, 1282, 300}}) {
        const std::string path = (dir / ("set" + std::to_string(labels[1]) + ".h5")).string();
        write_dataset(path, images, labels);
        const DatasetReader reader(path);
        CHECK(reader.labels() == labels);
        Tensor back;
        reader.read(0, 3, back);
        REQUIRE(back.shape() == images.shape());
        CHECK(std::equal(back.data(), back.data() + back.size(), images.data()));
    }
    CHECK_THROWS_AS(write_dataset((dir / "bad.h5").string(), images, {0, 1}), argument_error);
    CHECK_THROWS_AS(write_dataset((dir / "neg.h5").string(), images, {0, -1, 2}), argument_error);
    CHECK_FALSE(std::filesystem::exists(dir / "bad.h5"));
}

}  // namespace test_idx
