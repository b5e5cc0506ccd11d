#pragma once
// prunedef: repair backdoored neural networks with the pruning defense (Liu, Dolan-Gavitt and
// Garg, "Fine-Pruning", RAID 2018). Include this one header for the whole library.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/error.hpp>
#include <prunedef/core/parallel.hpp>
#include <prunedef/core/shape.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>

#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/conv2d_maxpool.hpp>
#include <prunedef/kernels/dense.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/kernels/maxpool2d.hpp>
#include <prunedef/kernels/pooling2d.hpp>
#include <prunedef/kernels/strided_conv2d.hpp>

#include <prunedef/layers/activation.hpp>
#include <prunedef/layers/add.hpp>
#include <prunedef/layers/batch_normalization.hpp>
#include <prunedef/layers/concatenate.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/dense.hpp>
#include <prunedef/layers/flatten.hpp>
#include <prunedef/layers/fusion.hpp>
#include <prunedef/layers/global_pooling2d.hpp>
#include <prunedef/layers/identity.hpp>
#include <prunedef/layers/maxpool2d.hpp>
#include <prunedef/layers/padding.hpp>
#include <prunedef/layers/pooling2d.hpp>
#include <prunedef/layers/runtime_activation.hpp>
#include <prunedef/layers/sequential.hpp>
#include <prunedef/layers/strided_conv2d.hpp>
#include <prunedef/layers/sum.hpp>
#include <prunedef/layers/weights.hpp>
#include <prunedef/layers/zero_padding2d.hpp>

#include <prunedef/data/array_batch_source.hpp>
#include <prunedef/data/batch_slice.hpp>
#include <prunedef/data/batch_source.hpp>
#include <prunedef/data/batch_source_ref.hpp>

#include <prunedef/model/channel_mask.hpp>
#include <prunedef/model/deepid.hpp>
#include <prunedef/model/deepid_spec.hpp>
#include <prunedef/model/graph_network.hpp>
#include <prunedef/model/input_scale_choice.hpp>
#include <prunedef/model/layer_spec.hpp>
#include <prunedef/model/model_weights.hpp>
#include <prunedef/model/network.hpp>
#include <prunedef/model/predict.hpp>

#include <prunedef/defense/activation_stats.hpp>
#include <prunedef/defense/channel_lipschitz.hpp>
#include <prunedef/defense/clean_floor.hpp>
#include <prunedef/defense/data_warnings.hpp>
#include <prunedef/defense/goodnet.hpp>
#include <prunedef/defense/goodnet_roc.hpp>
#include <prunedef/defense/metrics.hpp>
#include <prunedef/defense/pruning_policy.hpp>
#include <prunedef/defense/repair.hpp>
#include <prunedef/defense/stopping_rule.hpp>
#include <prunedef/defense/sweep.hpp>

#include <prunedef/training/augmentation.hpp>
#include <prunedef/training/backprop.hpp>
#include <prunedef/training/distillation.hpp>
#include <prunedef/training/initializer.hpp>
#include <prunedef/training/loss.hpp>
#include <prunedef/training/optimizer.hpp>
#include <prunedef/training/sam.hpp>
#include <prunedef/training/trainer.hpp>

#include <prunedef/io/atomic_output.hpp>
#include <prunedef/io/dataset.hpp>
#include <prunedef/io/dataset_writer.hpp>
#include <prunedef/io/goodnet_file.hpp>
#include <prunedef/io/hdf5.hpp>
#include <prunedef/io/hdf5_memory.hpp>
#include <prunedef/io/idx.hpp>
#include <prunedef/io/keras3_weights.hpp>
#include <prunedef/io/keras_config.hpp>
#include <prunedef/io/keras_deepid_config.hpp>
#include <prunedef/io/keras_layer_weights.hpp>
#include <prunedef/io/keras_model_file.hpp>
#include <prunedef/io/keras_weights.hpp>
#include <prunedef/io/keras_config_writer.hpp>
#include <prunedef/io/network_file.hpp>
#include <prunedef/io/zip_archive.hpp>

#include <prunedef/fine_pruning/adversarial_neuron_pruning.hpp>
#include <prunedef/fine_pruning/fine_pruning.hpp>
#include <prunedef/fine_pruning/named_order.hpp>

#include <prunedef/attacks/badnet.hpp>
#include <prunedef/attacks/pruning_aware_attack.hpp>

// Not included here: <prunedef/io/image.hpp> (needs stb; link prunedef::image) and the report
// writers under <prunedef/report/>.
