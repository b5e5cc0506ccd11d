#pragma once
// write_repair_report(): the five report files of a repair in one directory.
//
//   DIR/sweep.csv    the pruning curve (sweep_csv)
//   DIR/report.md    the summary for a person (markdown_report)
//   DIR/report.json  everything, for programs (json_report)
//   DIR/curve.svg    the curve as a chart (curve_svg)
//   DIR/roc.svg      G's ROC over k (roc_svg)
//
// report.json is written last and lists every file of the run ("files"). Each file is written atomically (write_text_file): a reader never sees a half-written file,
// and a failure leaves no partial file behind. The directory must exist.

#include <prunedef/defense/repair.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/report/json_report.hpp>
#include <prunedef/report/markdown_report.hpp>
#include <prunedef/report/report_context.hpp>
#include <prunedef/report/roc_svg.hpp>
#include <prunedef/report/svg_plot.hpp>
#include <prunedef/report/sweep_csv.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace prunedef {

/// Writes sweep.csv, report.md, curve.svg, roc.svg and report.json (last: its presence marks a complete
/// run) into dir; throws io_error on failure. report.json's "files" lists every file of the run:
/// other_files (written by the caller into dir before) and the five reports.
inline void write_repair_report(const std::string& dir, const RepairResult& result, const ReportContext& context,
                                const std::vector<std::string>& other_files = {}) {
    const std::filesystem::path base(dir);
    write_text_file((base / "sweep.csv").string(), sweep_csv(result));
    write_text_file((base / "report.md").string(), markdown_report(result, context));
    write_text_file((base / "curve.svg").string(), curve_svg(result));
    write_text_file((base / "roc.svg").string(), roc_svg(result));
    nlohmann::json json = detail::json_report_value(result, context);
    std::vector<std::string> files = other_files;
    for (const char* name : {"sweep.csv", "report.md", "curve.svg", "roc.svg", "report.json"}) files.push_back(name);
    json["files"] = files;
    write_text_file((base / "report.json").string(),
                    json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace prunedef
