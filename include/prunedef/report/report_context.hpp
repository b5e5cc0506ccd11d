#pragma once
// ReportContext: what a report says about where its numbers came from (files and settings).

#include <string>
#include <vector>

namespace prunedef {

struct ReportContext {
    std::string model;      // path of B's weights
    std::string valid;      // validation set
    std::string test;       // clean test set, "" if none
    std::string poisoned;   // poisoned set, "" if none (with several: the first)
    float input_scale = 1.0f;
    std::string architecture;  // how B's architecture is known and run (one line), "" to omit
    /// Every poisoned set's path, in RepairResult::poisoned_sets' order; empty: `poisoned` names
    /// the only one.
    std::vector<std::string> poisoned_files{};
    /// The clean reference network whose ASR floor the report quotes, "" if none.
    std::string clean_reference{};
};

}  // namespace prunedef
