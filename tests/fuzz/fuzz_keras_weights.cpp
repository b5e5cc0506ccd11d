// libFuzzer target: arbitrary bytes as a Keras weights file, loaded into a DeepID and bound to
// the CSAW input size. A prunedef::error is the expected outcome for bad input; a crash, any
// other exception, a sanitizer report, a timeout or an out-of-memory is a bug.

#include "fuzz_common.hpp"

#include <prunedef/prunedef.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const prunedef_fuzz::RemoveAtExit cleanup{prunedef_fuzz::temp_path("_weights.h5")};
    const std::string& path = cleanup.path;
    prunedef_fuzz::write_file(path, data, size);
    try {
        prunedef::DeepID net = prunedef::make_deepid();
        prunedef::load_keras_weights(path, net);
        if (!net.bound()) net.bind(prunedef::ImageShape{55, 47, 3});
    } catch (const prunedef::error&) {
    }
    return 0;
}
