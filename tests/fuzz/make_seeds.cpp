// Writes the fuzzers' seed corpora (nothing binary is committed; scripts/fuzz.sh runs this):
//   OUT/keras_weights/  small valid weight files: a tiny DeepID for 55x47x3, bound and unbound,
//                       and one in the full-model (model_weights/) layout
//   OUT/dataset/        small data sets: uint8 and float32 pixels, chunked and gzip-compressed
//   OUT/image/          55x47 PNG (RGB and grey), BMP and JPEG, and a wrong-size PNG
// usage: make_seeds OUT

#include <prunedef/prunedef.hpp>

#include "../tiny_deepid.hpp"

#include <hdf5.h>
#include <stb_image_write.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace prunedef;

namespace {

using prunedef_test::tiny_deepid;

void write_dataset(hid_t file, const char* name, const std::vector<hsize_t>& dims, hid_t mem_type, hid_t file_type,
                   const void* values, hsize_t chunk_rows = 0) {
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk_rows > 0) {
        std::vector<hsize_t> chunk = dims;
        chunk[0] = chunk_rows;
        H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
        H5Pset_deflate(dcpl, 6);
    }
    hid_t ds = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0 || H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0)
        throw io_error(std::string("cannot write ") + name);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
}

void write_datasets(const fs::path& dir) {
    std::mt19937 rng(3);
    {  // 3 uint8 faces of 55x47x3 with uint8 labels, contiguous (as the challenge's files)
        const std::string path = (dir / "uint8_faces.h5").string();
        std::vector<std::uint8_t> pixels(3 * 3 * 55 * 47), labels = {0, 7, 1282 % 256};
        for (auto& p : pixels) p = static_cast<std::uint8_t>(rng() % 256);
        hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        write_dataset(f, "data", {3, 3, 55, 47}, H5T_NATIVE_UINT8, H5T_STD_U8LE, pixels.data());
        write_dataset(f, "label", {3}, H5T_NATIVE_UINT8, H5T_STD_U8LE, labels.data());
        H5Fclose(f);
    }
    {  // 5 float32 images of 6x5x1, chunked and compressed, float32 labels and a true_label
        const std::string path = (dir / "float_chunked.h5").string();
        std::vector<float> pixels(5 * 1 * 6 * 5), labels = {0, 1, 2, 3, 4};
        for (auto& p : pixels) p = static_cast<float>(rng() % 256);
        hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        write_dataset(f, "data", {5, 1, 6, 5}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, pixels.data(), 2);
        write_dataset(f, "label", {5}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, labels.data(), 2);
        write_dataset(f, "true_label", {5}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, labels.data());
        H5Fclose(f);
    }
    {  // int64 labels, float64 pixels, 2 images of 4x3x3
        const std::string path = (dir / "double_int64.h5").string();
        std::vector<double> pixels(2 * 3 * 4 * 3, 12.5);
        std::vector<std::int64_t> labels = {1, 1000};
        hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        write_dataset(f, "data", {2, 3, 4, 3}, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, pixels.data());
        write_dataset(f, "label", {2}, H5T_NATIVE_INT64, H5T_STD_I64LE, labels.data());
        H5Fclose(f);
    }
}

void write_images(const fs::path& dir) {
    std::mt19937 rng(5);
    const int w = 47, h = 55;
    std::vector<unsigned char> rgb(w * h * 3), grey(w * h);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            for (int c = 0; c < 3; ++c) rgb[(y * w + x) * 3 + c] = static_cast<unsigned char>((x * 5 + y * 3 + c * 80) % 256);
            grey[y * w + x] = static_cast<unsigned char>((x ^ y) * 4);
        }
    for (int i = 0; i < 40; ++i) rgb[rng() % rgb.size()] = static_cast<unsigned char>(rng());
    bool ok = stbi_write_png((dir / "rgb.png").c_str(), w, h, 3, rgb.data(), w * 3) &&
              stbi_write_png((dir / "grey.png").c_str(), w, h, 1, grey.data(), w) &&
              stbi_write_bmp((dir / "rgb.bmp").c_str(), w, h, 3, rgb.data()) &&
              stbi_write_jpg((dir / "rgb.jpg").c_str(), w, h, 3, rgb.data(), 80) &&
              stbi_write_png((dir / "small.png").c_str(), 4, 3, 3, rgb.data(), 4 * 3);
    if (!ok) throw io_error(dir.string() + ": cannot write images");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: make_seeds OUT\n";
        return 2;
    }
    try {
        const fs::path out = argv[1];
        for (const char* sub : {"keras_weights", "dataset", "image"}) fs::create_directories(out / sub);
        DeepID net = tiny_deepid(1);
        save_keras_weights((out / "keras_weights" / "unbound.h5").string(), net);
        net.bind(ImageShape{55, 47, 3});
        net.set_input_scale(1.0f / 255.0f);
        save_keras_weights((out / "keras_weights" / "bound.h5").string(), net);
        {  // the full-model layout: the same layers under model_weights/ beside a model_config
            const std::string path = (out / "keras_weights" / "full_model.h5").string();
            detail::H5Object file = detail::create_h5_file(path);
            detail::h5_write_string_attribute(file, "model_config", {"{\"class_name\": \"Model\"}"}, true);
            detail::write_keras_layers(detail::create_h5_group(file, "model_weights"), tiny_deepid(2));
        }
        write_datasets(out / "dataset");
        write_images(out / "image");
    } catch (const std::exception& e) {
        std::cerr << "make_seeds: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
