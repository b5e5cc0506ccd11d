#pragma once
// write_repair_report(): the four report files of a repair in one directory.
//
//   DIR/sweep.csv    the pruning curve (sweep_csv)
//   DIR/report.md    the summary for a person (markdown_report)
//   DIR/report.json  everything, for programs (json_report)
//   DIR/curve.svg    the curve as a chart (curve_svg)
//
// Each file is written atomically (write_text_file): a reader never sees a half-written file,
// and a failure leaves no partial file behind. The directory must exist.

#include <prunedef/defense/repair.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/report/json_report.hpp>
#include <prunedef/report/markdown_report.hpp>
#include <prunedef/report/report_context.hpp>
#include <prunedef/report/svg_plot.hpp>
#include <prunedef/report/sweep_csv.hpp>

#include <filesystem>
#include <string>

namespace prunedef {

/// Writes sweep.csv, report.md, report.json and curve.svg into dir; throws io_error on failure.
inline void write_repair_report(const std::string& dir, const RepairResult& result, const ReportContext& context) {
    const std::filesystem::path base(dir);
    write_text_file((base / "sweep.csv").string(), sweep_csv(result));
    write_text_file((base / "report.md").string(), markdown_report(result, context));
    write_text_file((base / "report.json").string(), json_report(result, context));
    write_text_file((base / "curve.svg").string(), curve_svg(result));
}

}  // namespace prunedef
