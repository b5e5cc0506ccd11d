// libFuzzer target: arbitrary bytes as an image file, loaded for a 55x47x3 model. stb_image is
// compiled into this target (instrumented) instead of linking Debian's libstb.

#define STB_IMAGE_IMPLEMENTATION
#include "fuzz_common.hpp"

#include <prunedef/io/image.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const prunedef_fuzz::RemoveAtExit cleanup{prunedef_fuzz::temp_path("_image")};
    const std::string& path = cleanup.path;
    prunedef_fuzz::write_file(path, data, size);
    try {
        const prunedef::Tensor t = prunedef::load_image(path, prunedef::ImageShape{55, 47, 3});
        if (t.size() != 55u * 47u * 3u) __builtin_trap();
    } catch (const prunedef::error&) {
    }
    return 0;
}
