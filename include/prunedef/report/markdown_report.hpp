#pragma once
// markdown_report(): a one-page Markdown summary of a repair for a person to read.
//
// Warnings about the data first (RepairResult::warnings, when any), then what was run (model,
// sets, policy, pruned layer), B's baseline, then one table with a row per
// threshold X: the repaired network B' and the GoodNet G = GoodNet<B, B'>. "Clean" figures are
// on the test set when one was given, else on the validation set; the page says which. Paths and
// names are written as code spans, so Markdown characters in them are shown as they are.
//
// Below it, a folded <details> table gives B' at every step k (clean accuracy, on the test set when
// given, and ASR per poisoned set against the fraction pruned), as sweep.csv does.
//
// With several poisoned sets, the ASR and detection columns are repeated for each set (headed
// with its name). With a poisoned set, "G's trade-off over k" gives, for each set, the area under
// G's ROC over the pruning steps k (goodnet_roc.hpp) and, with a false-positive budget, the step
// chosen for it.

#include <prunedef/defense/activation_stats.hpp>
#include <prunedef/defense/metrics.hpp>
#include <prunedef/defense/repair.hpp>
#include <prunedef/defense/stopping_rule.hpp>
#include <prunedef/report/report_context.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>

namespace prunedef {

namespace detail {

/// A percentage with 2 decimals, locale-independent; "–" when absent or not finite.
inline std::string md_percent(const std::optional<double>& value) {
    if (!value || !std::isfinite(*value)) return "–";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, *value, std::chars_format::fixed, 2);
    return std::string(buf, r.ptr);
}

inline std::string md_fixed(double value, int decimals) {
    if (!std::isfinite(value)) return "–";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, decimals);
    return std::string(buf, r.ptr);
}

inline std::string md_float(float value) {
    if (!std::isfinite(value)) return "–";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, r.ptr);
}

/// text as a Markdown code span: the fence is one backtick longer than the longest run of
/// backticks inside, padded with spaces when the text starts or ends with one. Line breaks
/// become spaces (a code span cannot hold them).
inline std::string md_code(std::string text) {
    if (text.empty()) return "(unnamed)";
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '\r', ' ');
    std::size_t longest = 0, run = 0;
    for (char c : text) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    const std::string fence(longest + 1, '`');
    const bool pad = text.front() == '`' || text.back() == '`';
    return fence + (pad ? " " : "") + text + (pad ? " " : "") + fence;
}

/// "2 pts" for an absolute drop, "10 % rel." for a relative one.
inline std::string md_drop(const AccuracyDrop& d) { return d.label() + (d.relative ? " % rel." : " pts"); }

inline std::string md_images(std::size_t n) { return std::to_string(n) + (n == 1 ? " image" : " images"); }

/// A column header for poisoned set s: "B' ASR (%)" with one set, "B' ASR `name` (%)" with several.
inline std::string md_set_header(const std::string& what, const RepairResult& r, std::size_t s) {
    return what + (r.poisoned_sets.size() > 1 ? " " + md_code(r.poisoned_sets[s].name) : std::string()) + " (%)";
}

/// The poisoned-set columns of one row: B''s ASR per set, then G's ASR per set, then G's
/// detection per set (one blank cell each without a poisoned set).
struct MdSetCells {
    std::string bprime_asr, g_asr, g_detect;
};

/// One "- <name>: <path> (<n> images)" line, or "none" when the set was not used.
inline std::string md_set_line(const char* name, const std::string& path, std::size_t images, bool used) {
    std::string line = std::string("- ") + name + ": ";
    if (!used) return line + "none\n";
    return line + md_code(path) + " (" + md_images(images) + ")\n";
}

/// " (clean floor 1.85 %)" after poisoned set s's ASR when a clean reference gave its floor, else "".
inline std::string md_floor_suffix(const RepairResult& r, std::size_t s) {
    if (s >= r.poisoned_sets.size() || !r.poisoned_sets[s].clean_floor) return "";
    return " (clean floor " + md_percent(r.poisoned_sets[s].clean_floor) + " %)";
}

/// The paragraph under an ASR table naming each poisoned set's clean floor, or "" without one.
inline std::string md_floor_note(const RepairResult& r, const ReportContext& context) {
    std::string sets;
    for (std::size_t s = 0; s < r.poisoned_sets.size(); ++s)
        if (r.poisoned_sets[s].clean_floor)
            sets += (sets.empty() ? "" : ", ") +
                    (r.poisoned_sets.size() > 1 ? md_code(r.poisoned_sets[s].name) + " " : std::string()) +
                    md_percent(r.poisoned_sets[s].clean_floor) + " %";
    if (sets.empty()) return "";
    return "Clean floor of the ASR: " + sets + " (the share of the poisoned images that the clean reference " +
           (context.clean_reference.empty() ? std::string("network") : md_code(context.clean_reference)) +
           " classifies as the target: an attack success near it is what a clean network gives).\n";
}

}  // namespace detail

namespace detail {

/// A byte count in MB (10^6 bytes, one decimal).
inline std::string md_megabytes(std::size_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", double(bytes) / 1e6);
    return text;
}

}  // namespace detail

/// The report as Markdown text.
inline std::string markdown_report(const RepairResult& result, const ReportContext& context) {
    using detail::md_code;
    using detail::md_percent;
    const bool test = result.has_test(), poisoned = result.has_poisoned();
    std::string out;

    out += "# Pruning defense: " + md_code(result.pruned_layer) + "\n\n";

    if (!result.warnings.empty()) {
        out += "## Warnings\n\n";
        for (const std::string& w : result.warnings) out += "- " + w + "\n";
        out += "\n";
    }

    out += "## What was run\n\n";
    out += "- Model B: " + md_code(context.model) + "\n";
    if (!context.architecture.empty()) out += "- Architecture: " + context.architecture + "\n";
    out += "- Input scale: " + detail::md_float(context.input_scale) + "\n";
    out += detail::md_set_line("Validation set (decides the thresholds)", context.valid, result.valid_images, true);
    out += detail::md_set_line("Clean test set", context.test, result.test_images, test);
    if (result.poisoned_sets.size() <= 1) {
        out += detail::md_set_line("Poisoned set", context.poisoned_files.empty() ? context.poisoned : context.poisoned_files[0],
                                   result.poisoned_images, poisoned);
    } else {
        for (std::size_t s = 0; s < result.poisoned_sets.size(); ++s)
            out += detail::md_set_line(("Poisoned set " + md_code(result.poisoned_sets[s].name)).c_str(),
                                       s < context.poisoned_files.size() ? context.poisoned_files[s] : std::string(),
                                       result.poisoned_sets[s].images, true);
    }
    if (!context.clean_reference.empty())
        out += "- Clean reference (ASR floor): " + md_code(context.clean_reference) + "\n";
    out += "- Policy: " + md_code(result.policy) + ", activation site: " + std::string(to_string(result.site)) + "\n";
    out += "- Pruned layer: " + md_code(result.pruned_layer) + ", " + std::to_string(result.channels) +
           " channels\n";
    if (result.ranks > 1)
        out += "- Ranks: " + std::to_string(result.ranks) +
               " processes, each read a contiguous slice of every data set (the figures are those of one process)\n";
    out += "- Validation features (" + detail::md_megabytes(result.valid_feature_bytes) + "): " +
           (result.all_features_cached()
                ? std::string("kept in memory between the activation pass and the sweep\n\n")
                : "over the cache budget of " + detail::md_megabytes(result.feature_cache_bytes) + ": those of the first " +
                      std::to_string(result.cached_feature_images) + " images were kept, the other " +
                      std::to_string(result.valid_images - result.cached_feature_images) +
                      " images were read and run through the trunk a second time\n\n");

    out += "## B, the original network\n\n";
    if (result.curve.empty()) {
        out += "No pruning curve was recorded.\n\n";
    } else {
        const CurvePoint& b = result.baseline();
        out += "- Validation accuracy: " + md_percent(b.valid_accuracy) + " %\n";
        out += "- Test accuracy: " + (b.test_accuracy ? md_percent(b.test_accuracy) + " %" : "– (no test set)") + "\n";
        if (result.poisoned_sets.size() <= 1)
            out += "- Attack success rate: " +
                   (b.attack_success ? md_percent(b.attack_success) + " %" + detail::md_floor_suffix(result, 0)
                                     : "– (no poisoned set)") +
                   "\n\n";
        else {
            for (std::size_t s = 0; s < result.poisoned_sets.size() && s < b.poisoned.size(); ++s)
                out += "- Attack success rate on " + md_code(result.poisoned_sets[s].name) + ": " +
                       md_percent(b.poisoned[s].attack_success) + " %" + detail::md_floor_suffix(result, s) + "\n";
            out += "\n";
        }
    }

    out += "## Repaired networks\n\n";
    out += "B' is B with the first k channels of the order pruned; G = GoodNet<B, B'> outputs class N "
           "(backdoor detected) when B and B' disagree.\n\n";
    if (result.thresholds.empty()) {
        out += "No thresholds were evaluated.\n\n";
    } else {
        const std::size_t sets = std::max<std::size_t>(1, result.poisoned_sets.size());
        std::string bprime_head, g_asr_head, g_detect_head, rule;
        for (std::size_t s = 0; s < sets; ++s) {
            bprime_head += detail::md_set_header("B' ASR", result, s) + " | ";
            g_asr_head += detail::md_set_header("G ASR", result, s) + " | ";
            g_detect_head += detail::md_set_header("G detection", result, s) + " | ";
            rule += "---:|---:|---:|";
        }
        out += "| X | channels pruned | fraction | B' clean acc (%) | " + bprime_head + "G clean acc (%) | " + g_asr_head +
               g_detect_head + "G false positives (%) |\n";
        out += "|---|---:|---:|---:|" + rule + "---:|---:|\n";
        for (const ThresholdResult& t : result.thresholds) {
            const std::optional<GoodNetCounts> clean = test ? t.goodnet_test : std::optional(t.goodnet_valid);
            std::optional<double> g_clean, g_false_positive;
            if (clean) {
                g_clean = clean->matched_percent();
                g_false_positive = clean->flagged_percent();
            }
            const std::optional<double> bprime_clean =
                test ? t.test_accuracy : std::optional<double>(t.valid_accuracy);
            detail::MdSetCells cells;
            for (std::size_t s = 0; s < sets; ++s) {
                std::optional<double> bprime_asr, g_asr, g_detect;
                if (s < t.goodnet_poisoned_sets.size()) {
                    g_asr = t.goodnet_poisoned_sets[s].matched_percent();
                    g_detect = t.goodnet_poisoned_sets[s].flagged_percent();
                } else if (s == 0 && t.goodnet_poisoned) {
                    g_asr = t.goodnet_poisoned->matched_percent();
                    g_detect = t.goodnet_poisoned->flagged_percent();
                }
                if (s < t.poisoned_attack_success.size()) bprime_asr = t.poisoned_attack_success[s];
                else if (s == 0) bprime_asr = t.attack_success;
                cells.bprime_asr += md_percent(bprime_asr) + " | ";
                cells.g_asr += md_percent(g_asr) + " | ";
                cells.g_detect += md_percent(g_detect) + " | ";
            }
            out += "| " + detail::md_drop(t.drop) + (t.reached ? "" : " (not reached)") + " | " +
                   std::to_string(t.k) + " of " + std::to_string(result.channels) + " | " +
                   detail::md_fixed(t.fraction_pruned, 3) + " | " + md_percent(bprime_clean) + " | " +
                   cells.bprime_asr + md_percent(g_clean) + " | " + cells.g_asr + cells.g_detect +
                   md_percent(g_false_positive) + " |\n";
        }
        out += "\n";
        out += test ? "Clean figures are on the test set (" + detail::md_images(result.test_images) + ")"
                    : "Clean figures are on the validation set (" + detail::md_images(result.valid_images) +
                          "; no test set was given)";
        out += !poisoned ? "; ASR and detection are blank: no poisoned set was given.\n"
               : result.poisoned_sets.size() == 1
                   ? "; ASR and detection on the poisoned set (" + detail::md_images(result.poisoned_images) + ").\n"
                   : "; ASR and detection on each poisoned set.\n";
        out += detail::md_floor_note(result, context);
        for (const ThresholdResult& t : result.thresholds)
            if (!t.reached)
                out += "\nX = " + detail::md_drop(t.drop) + " was not reached: validation accuracy never fell that "
                       "far, so its row shows B' after all " + std::to_string(t.k) + " steps of the order.\n";
        out += "\n";
    }

    if (!result.curve.empty()) {
        // The seeds' table: B' at every k, folded (GitHub and most renderers show it on a click).
        const std::size_t sets = result.poisoned_sets.size();
        out += "<details>\n<summary>B' at every step k: clean " + std::string(test ? "test" : "validation") +
               " accuracy and attack success rate against the fraction of channels pruned</summary>\n\n";
        std::string head, rule;
        for (std::size_t s = 0; s < sets; ++s) {
            head += " | " + detail::md_set_header("ASR", result, s);
            rule += "---:|";
        }
        out += "| k | fraction pruned | clean acc (%)" + head + " |\n";
        out += "|---:|---:|---:|" + rule + "\n";
        for (const CurvePoint& p : result.curve) {
            out += "| " + std::to_string(p.k) + " | " + detail::md_fixed(p.fraction_pruned, 3) + " | " +
                   md_percent(test ? p.test_accuracy : std::optional<double>(p.valid_accuracy));
            for (std::size_t s = 0; s < sets; ++s)
                out += " | " + md_percent(s < p.poisoned.size() ? std::optional<double>(p.poisoned[s].attack_success)
                                                                 : std::nullopt);
            out += " |\n";
        }
        out += "\n</details>\n\n";
    }

    if (!result.roc.empty()) {
        out += "## G's trade-off over k\n\n";
        out += "Each step k gives a detector G = GoodNet<B, B'_k>. Its ROC plots the detection rate on a poisoned "
               "set against the false-positive rate (clean inputs flagged as N) on the " +
               std::string(test ? "test" : "validation") +
               " set; the area under it is taken by the trapezoid rule from (0, 0), which is k = 0, to (100, 100), "
               "the detector that flags every input (roc.svg; every step in sweep.csv).\n\n";
        for (std::size_t s = 0; s < result.roc.size(); ++s) {
            const GoodNetRoc& roc = result.roc[s];
            out += "- " + (s < result.poisoned_sets.size() ? md_code(result.poisoned_sets[s].name) : std::string("poisoned")) +
                   ": ROC AUC " + detail::md_fixed(roc.auc, 4);
            if (roc.max_fpr && roc.chosen)
                out += "; with false positives at most " + md_percent(roc.max_fpr) + " %: k = " +
                       std::to_string(roc.chosen->k) + " of " + std::to_string(result.channels) +
                       " channels pruned, detection " +
                       md_percent(roc.chosen->detection) + " %, false positives " +
                       md_percent(roc.chosen->false_positive) + " %";
            out += "\n";
        }
        out += "\n";
    }

    const bool any_fine_tuned =
        std::any_of(result.thresholds.begin(), result.thresholds.end(), [](const auto& t) { return t.fine_tuned.has_value(); });
    if (any_fine_tuned) {
        const FineTuneResult& first =
            *std::find_if(result.thresholds.begin(), result.thresholds.end(), [](const auto& t) { return t.fine_tuned.has_value(); })
                 ->fine_tuned;
        out += "## Fine-Pruning\n\n";
        const std::string tuned_on =
            first.clean_set == "holdout"
                ? "the validation set less a held-out fraction " +
                      detail::md_float(static_cast<float>(first.holdout_fraction)) + " (" +
                      detail::md_images(first.tuned_images) + ")"
                : "the validation set (" + detail::md_images(first.tuned_images) + ")";
        out += "Each B' fine-tuned on " + tuned_on + " for " + std::to_string(first.epochs) +
               " epochs (Adam, learning rate " + detail::md_float(first.learning_rate) +
               (first.lr_drop ? ", a tenth of it from epoch " + std::to_string(first.lr_drop) : std::string()) +
               (first.head_only ? ", only the layers after the pruned one" : "") +
               (first.weight_decay > 0 ? ", decoupled weight decay " + detail::md_float(first.weight_decay) : std::string()) +
               (first.augment_shift > 0 ? ", random shifts of up to " + std::to_string(first.augment_shift) + " pixels"
                                        : std::string()) +
               (first.augment_flip ? ", random horizontal flips" : "") +
               (first.augment_erase > 0 ? ", random erasing of probability " +
                                              detail::md_float(static_cast<float>(first.augment_erase))
                                        : std::string()) +
               (first.sam_rho > 0 ? std::string(first.sam_adaptive ? ", adaptive sharpness-aware (ASAM)"
                                                                   : ", sharpness-aware (SAM)") +
                                        " steps of radius " + detail::md_float(first.sam_rho)
                                  : std::string()) +
               (first.distill_weight > 0 ? ", agreement with B (distillation weight " + detail::md_float(first.distill_weight) +
                                               ", temperature " + detail::md_float(first.distill_temperature) + ")"
                                         : std::string()) +
               ", batches of " + std::to_string(first.batch_size) + ", seed " + std::to_string(first.seed) +
               "), pruned channels held at zero; G = GoodNet<B, fine-tuned B'>.\n\n";
        const std::size_t sets = std::max<std::size_t>(1, result.poisoned_sets.size());
        std::string head, rule;
        for (std::size_t s = 0; s < sets; ++s) {
            head += detail::md_set_header("B' ASR before → after", result, s) + " | ";
            rule += "---:|";
        }
        std::string g_head;
        for (std::size_t s = 0; s < sets; ++s)
            g_head += detail::md_set_header("G ASR", result, s) + " | " +
                      detail::md_set_header("G detection", result, s) + " | ";
        out += "| X | B' clean acc before → after (%) | " + head + "G clean acc (%) | " + g_head +
               "G false positives (%) |\n";
        out += "|---|---:|" + rule + "---:|" + rule + rule + "---:|\n";
        for (const ThresholdResult& t : result.thresholds) {
            if (!t.fine_tuned) continue;
            const FineTuneResult& f = *t.fine_tuned;
            std::optional<double> before, after;
            std::optional<GoodNetCounts> clean;
            if (f.clean_set == "test") {
                before = t.test_accuracy;
                after = f.test_accuracy;
                clean = f.goodnet_test;
            } else if (f.clean_set == "holdout") {
                before = f.holdout_accuracy_before;
                after = f.holdout_accuracy;
                clean = f.goodnet_holdout;
            } else {
                before = t.valid_accuracy;
                after = f.valid_accuracy;
                clean = f.goodnet_valid;
            }
            std::optional<double> g_clean, g_fp;
            if (clean) {
                g_clean = clean->matched_percent();
                g_fp = clean->flagged_percent();
            }
            std::string asr_cells, g_cells;
            for (std::size_t s = 0; s < sets; ++s) {
                std::optional<double> b_asr, a_asr, g_asr, g_detect;
                if (s < t.poisoned_attack_success.size()) b_asr = t.poisoned_attack_success[s];
                else if (s == 0) b_asr = t.attack_success;
                if (s < f.poisoned_attack_success.size()) a_asr = f.poisoned_attack_success[s];
                else if (s == 0) a_asr = f.attack_success;
                const std::optional<GoodNetCounts> g =
                    s < f.goodnet_poisoned_sets.size() ? std::optional(f.goodnet_poisoned_sets[s])
                    : s == 0                            ? f.goodnet_poisoned
                                                        : std::nullopt;
                if (g) {
                    g_asr = g->matched_percent();
                    g_detect = g->flagged_percent();
                }
                asr_cells += md_percent(b_asr) + " → " + md_percent(a_asr) + " | ";
                g_cells += md_percent(g_asr) + " | " + md_percent(g_detect) + " | ";
            }
            out += "| " + detail::md_drop(t.drop) + " | " + md_percent(before) + " → " + md_percent(after) + " | " +
                   asr_cells + md_percent(g_clean) + " | " + g_cells + md_percent(g_fp) + " |\n";
        }
        out += "\n";
        if (first.clean_set == "test")
            out += "Clean figures before and after are on the test set (" + detail::md_images(result.test_images) +
                   ").\n\n";
        else if (first.clean_set == "holdout")
            out += "Clean figures before and after are on the " + detail::md_images(first.holdout_images) +
                   " held out of the validation set (the last fraction " +
                   detail::md_float(static_cast<float>(first.holdout_fraction)) +
                   " of a shuffle seeded with the fine-tuning seed), never fine-tuned on; no test set was given.\n\n";
        else
            out += "Clean figures before and after are on the validation set, the data B' was fine-tuned on "
                   "(nothing was held out and no test set was given): they overstate the accuracy on new data.\n\n";
        const std::string floor_note = detail::md_floor_note(result, context);
        if (!floor_note.empty()) out += floor_note + "\n";
        if (first.chosen_epoch) {
            out += "B' after fine-tuning is the epoch whose B' classified the held-out images best:";
            for (const auto& t : result.thresholds)
                if (t.fine_tuned && t.fine_tuned->chosen_epoch)
                    out += " X=" + detail::md_drop(t.drop) + ": epoch " + std::to_string(*t.fine_tuned->chosen_epoch) +
                           " of " + std::to_string(t.fine_tuned->epochs) + ";";
            out.back() = '.';
            out += "\n\n";
        }
    }

    out += "## Channel order\n\n";
    constexpr std::size_t shown = 10;
    if (result.order.empty()) {
        out += "No channels were ordered.\n";
    } else {
        out += "First channels pruned (" + md_code(result.policy) + " order): ";
        for (std::size_t i = 0; i < std::min(shown, result.order.size()); ++i)
            out += (i ? ", " : "") + std::to_string(result.order[i]);
        if (result.order.size() > shown) out += ", …";
        out += " (" + std::to_string(result.order.size()) + " in the order).\n";
    }
    return out;
}

}  // namespace prunedef
