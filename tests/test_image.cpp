// load_image (io/image.hpp) on images the test writes itself with stb_image_write: the sizes
// it accepts, and the malformed files it refuses (found by tests/fuzz/fuzz_image.cpp).
#if PRUNEDEF_TEST_IMAGES

#include "shared_data.hpp"

#include <prunedef/io/image.hpp>

#include <stb_image_write.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_image {

using namespace prunedef;
using prunedef_test::scratch_dir;

namespace {

std::vector<unsigned char> pattern(int w, int h, int c) {
    std::vector<unsigned char> p(std::size_t(w) * h * c);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<unsigned char>(i * 7 % 256);
    return p;
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string jpeg_bytes(int w, int h) {
    std::string out;
    const auto pixels = pattern(w, h, 3);
    REQUIRE(stbi_write_jpg_to_func(
                [](void* ctx, void* data, int size) {
                    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), std::size_t(size));
                },
                &out, w, h, 3, pixels.data(), 90) != 0);
    return out;
}

}  // namespace

TEST_CASE("image: PNG, BMP and JPEG of the model's size are loaded as raw pixels") {
    const auto dir = scratch_dir("image_ok");
    const auto rgb = pattern(47, 55, 3);
    const std::string png = (dir / "face.png").string(), bmp = (dir / "face.bmp").string(),
                      jpg = (dir / "face.jpg").string();
    REQUIRE(stbi_write_png(png.c_str(), 47, 55, 3, rgb.data(), 47 * 3) != 0);
    REQUIRE(stbi_write_bmp(bmp.c_str(), 47, 55, 3, rgb.data()) != 0);
    write_bytes(jpg, jpeg_bytes(47, 55));
    for (const auto& path : {png, bmp}) {
        const Tensor t = load_image(path, ImageShape{55, 47, 3});
        REQUIRE(t.size() == rgb.size());
        for (std::size_t i = 0; i < rgb.size(); ++i) REQUIRE(t.data()[i] == float(rgb[i]));
    }
    CHECK(load_image(jpg, ImageShape{55, 47, 3}).size() == rgb.size());
    CHECK(load_image(png, ImageShape{55, 47, 1}).size() == 55u * 47u);
}

TEST_CASE("image: a top-down BMP (negative height) is loaded the right way up") {
    const auto dir = scratch_dir("image_topdown");
    const auto rgb = pattern(47, 55, 3);
    const std::string bmp = (dir / "face.bmp").string(), top = (dir / "top.bmp").string();
    REQUIRE(stbi_write_bmp(bmp.c_str(), 47, 55, 3, rgb.data()) != 0);
    std::ifstream in(bmp, std::ios::binary);
    std::string b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // bottom-up rows reversed, height -55
    const std::size_t offset = std::uint8_t(b[10]) | std::uint8_t(b[11]) << 8, row = (47 * 3 + 3) / 4 * 4;
    REQUIRE(b.size() >= offset + 55 * row);
    std::string flipped = b;
    for (std::size_t r = 0; r < 55; ++r) flipped.replace(offset + r * row, row, b, offset + (54 - r) * row, row);
    const std::int32_t h = -55;
    for (int k = 0; k < 4; ++k) flipped[22 + k] = static_cast<char>((std::uint32_t(h) >> (8 * k)) & 0xFF);
    write_bytes(top, flipped);
    const Tensor t = load_image(top, ImageShape{55, 47, 3});
    REQUIRE(t.size() == rgb.size());
    for (std::size_t i = 0; i < rgb.size(); ++i) REQUIRE(t.data()[i] == float(rgb[i]));
}

TEST_CASE("image: a truncated BMP and a PNG whose data inflates past its size are refused") {
    const auto dir = scratch_dir("image_bounds");
    const auto rgb = pattern(47, 55, 3);
    const std::string bmp = (dir / "face.bmp").string();
    REQUIRE(stbi_write_bmp(bmp.c_str(), 47, 55, 3, rgb.data()) != 0);
    std::ifstream in(bmp, std::ios::binary);
    const std::string b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    write_bytes(bmp, b.substr(0, b.size() - 100));
    CHECK_THROWS_WITH_AS(load_image(bmp, ImageShape{55, 47, 3}), doctest::Contains((bmp + ": truncated BMP").c_str()),
                         format_error);

    // a 47 x 550 PNG relabelled 47 x 55: stb would inflate all ten times the data it needs
    const std::string png = (dir / "bomb.png").string();
    const auto tall = pattern(47, 550, 3);
    REQUIRE(stbi_write_png(png.c_str(), 47, 550, 3, tall.data(), 47 * 3) != 0);
    std::ifstream pin(png, std::ios::binary);
    std::string p{std::istreambuf_iterator<char>(pin), std::istreambuf_iterator<char>()};
    const auto ihdr = p.find("IHDR");
    REQUIRE(ihdr != std::string::npos);
    p[ihdr + 10] = 0, p[ihdr + 11] = 55;
    write_bytes(png, p);
    CHECK_THROWS_WITH_AS(load_image(png, ImageShape{55, 47, 3}),
                         doctest::Contains("inflates to more than the 7810 bytes a PNG of its size holds"), format_error);
}

TEST_CASE("image: files the fuzzer found are refused with an error (tests/fuzz/regressions/image)") {
    // png_idat_length_2gib.png: a 1 KB PNG whose IDAT chunk declares ~218 MB; stb_image grew its
    // buffer to 2 GiB before finding the file too short.
    const std::filesystem::path dir = std::filesystem::path(PRUNEDEF_FUZZ_REGRESSIONS_DIR) / "image";
    REQUIRE(std::filesystem::is_directory(dir));
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string path = entry.path().string();
        CAPTURE(path);
        CHECK_THROWS_AS(load_image(path, ImageShape{55, 47, 3}), prunedef::error);
        ++files;
    }
    CHECK(files >= 1);
    CHECK_THROWS_WITH_AS(load_image((dir / "png_idat_length_2gib.png").string(), ImageShape{55, 47, 3}),
                         doctest::Contains("truncated PNG: chunk 'IDAT'"), format_error);

    // png_second_ihdr_1gib.png: a 47 x 55 PNG with a second IHDR chunk declaring 16000 x 16000
    // RGBA and ten times the image data 47 x 55 holds. The inflate bound once came from the last
    // IHDR (a 1 GiB buffer, the fuzzer's out-of-memory); it must come from the size stb reads.
    const std::string second_ihdr = (dir / "png_second_ihdr_1gib.png").string();
    std::ifstream in(second_ihdr, std::ios::binary);
    const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    CHECK_THROWS_WITH_AS(prunedef::detail::check_png_inflated_size(bytes, second_ihdr, 47, 55),
                         doctest::Contains("inflates to more than the 7810 bytes a PNG of its size holds"), format_error);
    CHECK_THROWS_AS(load_image(second_ihdr, ImageShape{55, 47, 3}), format_error);

    // png_trailing_idat_header_2gib.png: a valid 47 x 55 PNG without IEND, ending in 8 bytes (a
    // length of 2 GiB - 16 and "IDAT", no data, no CRC). stb_image read them as a chunk and grew
    // its buffer to 2 GiB (the fuzzer's out-of-memory in CI); a PNG must end with a whole IEND.
    CHECK_THROWS_WITH_AS(load_image((dir / "png_trailing_idat_header_2gib.png").string(), ImageShape{55, 47, 3}),
                         doctest::Contains("truncated PNG: the last 8 bytes are not a whole chunk, at byte 614"),
                         format_error);
}

TEST_CASE("image: malformed and unsupported files are refused with the file's name") {
    const auto dir = scratch_dir("image_bad");
    const ImageShape face{55, 47, 3};

    SUBCASE("a JPEG Huffman table of more than 256 codes (fuzz_image: stb_image 2.27 writes past its table)") {
        std::string jpeg = jpeg_bytes(47, 55);
        const auto dht = jpeg.find("\xFF\xC4");
        REQUIRE(dht != std::string::npos);
        for (std::size_t i = dht + 5; i < dht + 21; ++i) jpeg[i] = static_cast<char>(0xFF);  // 16 x 255 codes
        const std::string path = (dir / "huffman.jpg").string();
        write_bytes(path, jpeg);
        CHECK_THROWS_WITH_AS(load_image(path, face),
                             (path + ": corrupt JPEG (a Huffman table has more than 256 codes)").c_str(), format_error);
    }
    SUBCASE("formats other than PNG, JPEG and BMP are not decoded") {
        const std::string path = (dir / "face.gif").string();
        write_bytes(path, std::string("GIF89a\x2f\x00\x37\x00\x00\x00\x00;", 14));
        CHECK_THROWS_WITH_AS(load_image(path, face), (path + ": not a PNG, JPEG or BMP image").c_str(), format_error);
    }
    SUBCASE("an empty file") {
        const std::string path = (dir / "empty.png").string();
        write_bytes(path, "");
        CHECK_THROWS_WITH_AS(load_image(path, face), (path + ": not a PNG, JPEG or BMP image").c_str(), format_error);
    }
    SUBCASE("a directory") {
        CHECK_THROWS_WITH_AS(load_image(dir.string(), face), (dir.string() + ": is a directory, expected an image").c_str(),
                             io_error);
    }
    SUBCASE("a wrong size") {
        const std::string path = (dir / "small.png").string();
        const auto rgb = pattern(5, 4, 3);
        REQUIRE(stbi_write_png(path.c_str(), 5, 4, 3, rgb.data(), 5 * 3) != 0);
        CHECK_THROWS_WITH_AS(load_image(path, face),
                             (path + ": image is 4x5 (height x width), the model expects 55x47").c_str(), shape_error);
    }
    SUBCASE("a truncated PNG") {
        const std::string path = (dir / "face.png").string();
        const auto rgb = pattern(47, 55, 3);
        REQUIRE(stbi_write_png(path.c_str(), 47, 55, 3, rgb.data(), 47 * 3) != 0);
        std::ifstream in(path, std::ios::binary);
        const std::string whole{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        in.close();
        write_bytes(path, whole.substr(0, whole.size() / 2));
        CHECK_THROWS_AS(load_image(path, face), format_error);
    }
}

}  // namespace test_image

#endif  // PRUNEDEF_TEST_IMAGES
