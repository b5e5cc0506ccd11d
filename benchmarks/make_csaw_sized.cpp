// Builds a CSAW-sized pruning case from the shared samples: validation, test and poisoned sets
// of 11,547 / 12,830 / 12,830 face images (the sizes of the challenge's full sets), each image a
// sample from ../shared/data/csaw with every pixel moved by a small random amount (uniform in
// [-4, 4], clamped to 0..255), stored as uint8 in the challenge layout. VALID_COPIES (default 1)
// multiplies the validation set's size (10: 115,470 images, for the memory budget of repair).
// usage: make_csaw_sized OUT_DIR [SHARED_DIR] [VALID_COPIES]

#include <prunedef/prunedef.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

using namespace prunedef;

namespace {

void write_perturbed(const LabelledImages& source, std::size_t count, const std::string& path, std::mt19937& rng) {
    std::uniform_int_distribution<int> noise(-4, 4);
    Tensor images(count, source.images.shape());
    std::vector<int> labels(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t s = i % source.size();
        const float* src = source.images.image(s);
        float* dst = images.image(i);
        for (std::size_t p = 0; p < images.image_size(); ++p)
            dst[p] = std::clamp(src[p] + float(noise(rng)), 0.0f, 255.0f);
        labels[i] = source.labels[s];
    }
    write_dataset(path, images, labels);
    std::cout << path << ": " << count << " images\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: make_csaw_sized OUT_DIR [SHARED_DIR] [VALID_COPIES]\n";
        return 2;
    }
    const std::string out = argv[1];
    const std::string shared = argc > 2 ? argv[2] : "../shared";
    const long copies = argc > 3 ? std::atol(argv[3]) : 1;
    if (copies < 1 || copies > 100) {
        std::cerr << "make_csaw_sized: VALID_COPIES must be 1..100, not '" << argv[3] << "'\n";
        return 2;
    }
    try {
        std::filesystem::create_directories(out);
        const LabelledImages clean = read_all(DatasetReader(shared + "/data/csaw/clean_samples.h5"));
        const LabelledImages poisoned = read_all(DatasetReader(shared + "/data/csaw/lab3_sunglasses_samples.h5"));
        std::mt19937 rng(20201);
        write_perturbed(clean, 11547 * static_cast<std::size_t>(copies), out + "/valid.h5", rng);
        write_perturbed(clean, 12830, out + "/test.h5", rng);
        write_perturbed(poisoned, 12830, out + "/poisoned.h5", rng);
    } catch (const prunedef::error& e) {
        std::cerr << "make_csaw_sized: " << e.what() << "\n";
        return 1;
    }
}
