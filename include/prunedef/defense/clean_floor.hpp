#pragma once
// The clean floor of attack success: on a poisoned set (label = the attacker's target), the share
// of images a clean reference network (trained the same way without poisoning, e.g.
// `make-badnet --poison 0`) classifies as the target anyway (a clean network reads some
// triggered shirts as T-shirts too). An attack success near it is what removing the backdoor can
// achieve; one below it comes from B' or G avoiding the target class more than a clean network
// does (flagging or misclassifying those images), not from more robustness. Reports quote it
// next to the ASR.
//
//   clean_floors(reference, data)          one percentage per poisoned set of a repair
//   add_clean_floors(result, reference, data)   stores them in RepairResult::poisoned_sets
//
// Cost: one forward pass of the reference over each poisoned set.

#include <prunedef/core/error.hpp>
#include <prunedef/core/percent.hpp>
#include <prunedef/data/batch_source.hpp>
#include <prunedef/data/batch_source_ref.hpp>
#include <prunedef/defense/repair.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace prunedef {

/// The percentage of a poisoned set's images that the clean reference classifies as their label
/// (the attacker's target). Throws shape_error or format_error when the set does not fit the
/// reference.
template <class Reference, class Source>
double clean_floor(const Reference& reference, const Source& poisoned, std::size_t batch_size = 256) {
    poisoned.check_image_shape(reference.input_shape());
    poisoned.check_labels(reference.num_classes());
    std::size_t hits = 0;
    for_each_batch(poisoned, batch_size, [&](const Tensor& images, const int* labels, std::size_t) {
        const std::vector<int> predicted = reference.predict(images);
        for (std::size_t i = 0; i < predicted.size(); ++i) hits += predicted[i] == labels[i];
    });
    return percent_of(hits, poisoned.size());
}

/// The clean floor on every poisoned set of a repair, in RepairData::poisoned_list()'s order.
template <class Reference>
std::vector<double> clean_floors(const Reference& reference, const RepairData& data, std::size_t batch_size = 256) {
    std::vector<double> floors;
    for (const NamedSource& p : data.poisoned_list()) floors.push_back(clean_floor(reference, *p.source, batch_size));
    return floors;
}

/// Stores the clean floor of every poisoned set in result.poisoned_sets (result from
/// repair(net, data, ...) with the same data). Throws argument_error when the reference does not
/// have B's number of classes or the sets do not match the result's.
template <class Reference>
void add_clean_floors(RepairResult& result, const Reference& reference, const RepairData& data,
                      std::size_t batch_size = 256) {
    if (reference.num_classes() != result.classes)
        throw argument_error("clean reference: it has " + std::to_string(reference.num_classes()) +
                             " classes, the repaired network " + std::to_string(result.classes));
    const std::vector<NamedSource> sets = data.poisoned_list();
    if (sets.size() != result.poisoned_sets.size())
        throw argument_error("clean reference: the data has " + std::to_string(sets.size()) +
                             " poisoned sets, the repair result " + std::to_string(result.poisoned_sets.size()));
    for (std::size_t s = 0; s < sets.size(); ++s) {
        if (sets[s].name != result.poisoned_sets[s].name)
            throw argument_error("clean reference: poisoned set " + std::to_string(s) + " is '" + sets[s].name +
                                 "' in the data but '" + result.poisoned_sets[s].name + "' in the repair result");
        result.poisoned_sets[s].clean_floor = clean_floor(reference, *sets[s].source, batch_size);
    }
}

}  // namespace prunedef
