// A consumer of prunedef::image (stb, no HDF5): decodes an image file (an error path here).
#include <prunedef/io/image.hpp>

#ifdef H5_VERS_MAJOR
#error "io/image.hpp included hdf5.h"
#endif

#include <iostream>

int main() {
    try {
        prunedef::load_image("/nonexistent/face.png", {55, 47, 3});
    } catch (const prunedef::io_error& e) {
        std::cout << "image consumer ok: " << e.what() << "\n";
        return 0;
    }
    return 1;
}
