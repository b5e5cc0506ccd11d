// A consumer of prunedef::io: reads Keras weights into the DeepID type (an error path here).
#include <prunedef/io/keras_weights.hpp>
#include <prunedef/model/deepid.hpp>

#include <iostream>

int main() {
    prunedef::DeepID net = prunedef::make_deepid();
    try {
        prunedef::load_keras_weights("/nonexistent/weights.h5", net);
    } catch (const prunedef::io_error& e) {
        std::cout << "io consumer ok: " << e.what() << "\n";
        return 0;
    }
    return 1;
}
