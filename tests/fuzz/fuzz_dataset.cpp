// libFuzzer target: arbitrary bytes as a data set in the challenge layout, opened, read whole in
// batches, and its labels checked against 1283 classes. Only prunedef::error may come out.

#include "fuzz_common.hpp"

#include <prunedef/io/dataset.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const prunedef_fuzz::RemoveAtExit cleanup{prunedef_fuzz::temp_path("_data.h5")};
    const std::string& path = cleanup.path;
    prunedef_fuzz::write_file(path, data, size);
    try {
        const prunedef::DatasetReader reader(path);
        std::size_t seen = 0;
        prunedef::for_each_batch(reader, 64, [&](const prunedef::Tensor& images, const int*, std::size_t) {
            seen += images.batch();
        });
        if (seen != reader.size()) __builtin_trap();  // every image is read exactly once
        reader.check_labels(1283);
    } catch (const prunedef::error&) {
    }
    return 0;
}
