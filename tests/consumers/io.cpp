// A consumer of prunedef::io: reads Keras weights into the DeepID type and a Keras model file
// (error paths here), and parses a model config (nlohmann/json, libzip come with the target).
#include <prunedef/io/keras_config.hpp>
#include <prunedef/io/keras_model_file.hpp>
#include <prunedef/io/keras_weights.hpp>
#include <prunedef/model/deepid.hpp>

#include <iostream>

int main() {
    prunedef::DeepID net = prunedef::make_deepid();
    try {
        prunedef::load_keras_weights("/nonexistent/weights.h5", net);
        return 1;
    } catch (const prunedef::io_error& e) {
        std::cout << "io consumer ok: " << e.what() << "\n";
    }
    try {
        prunedef::read_keras_model("/nonexistent/model.keras");
        return 1;
    } catch (const prunedef::io_error& e) {
        std::cout << "io consumer ok: " << e.what() << "\n";
    }
    const prunedef::ModelSpec spec = prunedef::parse_keras_config(
        R"({"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "d", "units": 2,
            "batch_input_shape": [null, 2, 2, 1]}}]})",
        "consumer");
    return spec.layers.size() == 2 ? 0 : 1;
}
