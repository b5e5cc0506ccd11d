// Load a backdoored DeepID network and classify a batch of images (the README's example).
// usage: quickstart MODEL.h5 SCALE DATA.h5
#include <prunedef/prunedef.hpp>

#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: quickstart MODEL.h5 SCALE DATA.h5\n";
        return 2;
    }
    try {
        prunedef::DeepID net = prunedef::make_deepid();
        prunedef::load_keras_weights(argv[1], net);          // shapes and values checked
        net.set_input_scale(std::strtof(argv[2], nullptr));  // 1 for raw pixels, 1/255 ...

        prunedef::DatasetReader data(argv[3]);               // (N, C, H, W) data + labels
        net.bind(data.image_shape());                        // checks every layer fits 55x47x3

        prunedef::Tensor images;                             // NHWC float32
        data.read(0, std::min<std::size_t>(data.size(), 32), images);
        const std::vector<int> classes = net.predict(images);
        for (std::size_t i = 0; i < classes.size(); ++i)
            std::cout << "image " << i << ": class " << classes[i] << " (label " << data.labels()[i] << ")\n";

        // The defense: rank conv_3 by mean pool_3 activation, sweep, B' and G for X = 2, 4, 10.
        prunedef::RepairResult r = prunedef::repair(net, {&data, /*test*/ nullptr, /*poisoned*/ nullptr});
        auto mask = prunedef::ChannelMask::from_order(r.channels, r.order, r.thresholds[1].k);
        prunedef::GoodNet g(net, mask);                      // GoodNet<DeepID, Masked<DeepID>>
        const std::vector<int> repaired = g.predict(images);  // N means "backdoor detected"
        std::cout << "X=4: " << r.thresholds[1].k << " channels pruned; GoodNet says " << repaired[0]
                  << " for image 0\n";
    } catch (const prunedef::error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
