// A consumer of prunedef::prunedef (the everything-target): builds a DeepID, checks an error path.
#include <prunedef/prunedef.hpp>

#include <iostream>

int main() {
    prunedef::DeepID net = prunedef::make_deepid();
    try {
        prunedef::load_keras_weights("/nonexistent/weights.h5", net);
    } catch (const prunedef::io_error& e) {
        std::cout << "consumer ok: " << e.what() << "\n";
        return 0;
    }
    return 1;
}
