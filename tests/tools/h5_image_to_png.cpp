// Writes image INDEX of a challenge-layout data set as a PNG (raw pixel values clamped to 0..255).
// usage: h5_image_to_png DATA.h5 INDEX OUT.png
#include <prunedef/prunedef.hpp>

#include <stb_image_write.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: h5_image_to_png DATA.h5 INDEX OUT.png\n";
        return 2;
    }
    try {
        prunedef::DatasetReader data(argv[1]);
        prunedef::Tensor image;
        data.read(std::stoul(argv[2]), 1, image);
        std::vector<unsigned char> pixels(image.size());
        for (std::size_t i = 0; i < image.size(); ++i)
            pixels[i] = static_cast<unsigned char>(std::clamp(image.data()[i], 0.0f, 255.0f) + 0.5f);
        const int w = static_cast<int>(image.width()), h = static_cast<int>(image.height()),
                  c = static_cast<int>(image.channels());
        if (!stbi_write_png(argv[3], w, h, c, pixels.data(), w * c)) {
            std::cerr << argv[3] << ": cannot write PNG\n";
            return 1;
        }
        std::cout << data.labels()[std::stoul(argv[2])] << "\n";
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
}
