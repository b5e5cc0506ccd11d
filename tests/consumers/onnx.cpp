// A consumer of prunedef::onnx: writes a two-layer model as ONNX (ONNX's protobuf classes and
// libprotobuf come with the target), checks the graph it built and reads it back (the import).
#include <prunedef/io/onnx_export.hpp>
#include <prunedef/io/onnx_import.hpp>

#include <iostream>

int main() {
    prunedef::ModelSpec spec;
    prunedef::LayerSpec in;
    in.name = "in";
    in.class_name = "InputLayer";
    in.input_shape = prunedef::ImageShape{1, 1, 2};
    prunedef::LayerSpec flat;
    flat.name = "flat";
    flat.class_name = "Flatten";
    flat.inputs = {"in"};
    prunedef::LayerSpec dense;
    dense.name = "d";
    dense.class_name = "Dense";
    dense.units = 3;
    dense.inputs = {"flat"};
    spec.layers = {in, flat, dense};
    spec.input = "in";
    spec.output = "d";
    prunedef::ModelWeights w;
    w["d"] = {{"kernel", {2, 3}, std::vector<float>(6, 0.5f)}, {"bias", {3}, {0, 1, 2}}};
    const onnx::ModelProto m = prunedef::onnx_model(spec, w, {1, 1, 2}, 1.0f);
    const prunedef::OnnxModelFile back = prunedef::onnx_model_spec(m, "consumer");
    std::cout << "onnx consumer ok: " << m.graph().node_size() << " nodes, " << back.spec.layers.size()
              << " layers read back\n";
    return m.graph().output(0).name() == "logits" && back.spec.find("d") ? 0 : 1;
}
