#pragma once
// roc_svg(): G's ROC over the pruning steps k as a self-contained SVG chart (760 x 460), in the
// style of curve_svg (svg_plot.hpp).
//
// x: false-positive rate on clean inputs (test set when given, else validation), 0..100 %;
// y: detection rate, 0..100 %. One line with a dot per step for each poisoned set, the chance
// diagonal dotted, and the step k written beside a dot only where the label keeps its distance from
// every label already placed (so labels never pile up where steps crowd together; k = 0 at the
// origin is always labelled). The point chosen for a false-positive budget is ringed, the budget
// drawn as a dashed vertical line. The legend names each set with its AUC; the picture grows wider
// when a name would not fit.

#include <prunedef/defense/goodnet_roc.hpp>
#include <prunedef/defense/repair.hpp>
#include <prunedef/report/svg_plot.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

/// The ROC of every poisoned set of a repair as SVG text (a chart with a note when there is none).
inline std::string roc_svg(const RepairResult& result) {
    using detail::svg_line;
    using detail::svg_num;
    using detail::svg_text;
    using F = detail::SvgFrame;
    static const char* colours[] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

    const std::string title = "GoodNet ROC over k (" + result.pruned_layer + ", " + result.policy + " order)";
    // The legend's names; the picture grows wider when one would not fit (svg_width_for_legend).
    std::vector<std::string> names;
    double widest = detail::svg_text_width("FPR budget", 11);
    for (std::size_t s = 0; s < result.roc.size(); ++s) {
        names.push_back(
            detail::svg_shorten(s < result.poisoned_sets.size() ? result.poisoned_sets[s].name : "poisoned", 21));
        widest = std::max({widest, detail::svg_text_width(names.back(), 11),
                           detail::svg_text_width("AUC " + svg_num(result.roc[s].auc, 3), 11)});
    }
    std::string out = detail::svg_frame_start(title, detail::svg_width_for_legend(F::right + 50, widest));
    out += "<g font-size=\"11\" fill=\"#333333\">\n";
    for (int p = 0; p <= 100; p += 10) {
        out += svg_text(F::left - 8, F::y(p) + 4, std::to_string(p), "text-anchor=\"end\"");
        out += svg_text(F::x(p / 100.0), F::bottom + 18, std::to_string(p), "text-anchor=\"middle\"");
    }
    out += "</g>\n";
    out += "<g stroke=\"#333333\" stroke-width=\"1\">\n";
    out += svg_line(F::left, F::bottom, F::right, F::bottom, "");
    out += svg_line(F::left, F::top, F::left, F::bottom, "");
    out += "</g>\n";
    out += svg_line(F::x(0), F::y(0), F::x(1), F::y(100), "stroke=\"#aaaaaa\" stroke-width=\"1\" stroke-dasharray=\"2 3\"");
    const std::string fpr_set = result.has_test() ? "test" : "validation";
    out += svg_text((F::left + F::right) / 2, F::bottom + 42, "false-positive rate on the " + fpr_set + " set (%)",
                    "text-anchor=\"middle\" font-size=\"13\"");
    out += svg_text(0, 0, "detection rate (%)",
                    "text-anchor=\"middle\" font-size=\"13\" transform=\"translate(24 " +
                        svg_num((F::top + F::bottom) / 2) + ") rotate(-90)\"");

    if (result.roc.empty())
        out += svg_text((F::left + F::right) / 2, (F::top + F::bottom) / 2, "no poisoned set: no ROC",
                        "text-anchor=\"middle\" fill=\"#555555\"");

    // Lines and dots, then labels (on top), placed greedily: a label at least 14 px vertically or
    // 40 px horizontally from every label already placed.
    std::vector<std::pair<double, double>> placed;
    std::string labels;
    const std::string label_style = "font-size=\"10\" fill=\"#333333\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\"";
    double budget_x = -1;
    for (std::size_t s = 0; s < result.roc.size(); ++s) {
        const GoodNetRoc& roc = result.roc[s];
        const std::string colour = colours[s % (sizeof colours / sizeof *colours)];
        out += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"";
        for (std::size_t i = 0; i < roc.points.size(); ++i)
            out += (i ? " " : "") + svg_num(F::x(roc.points[i].false_positive / 100)) + "," +
                   svg_num(F::y(roc.points[i].detection));
        out += "\"/>\n<g fill=\"" + colour + "\">\n";
        for (const RocPoint& p : roc.points) {
            const double x = F::x(p.false_positive / 100), y = F::y(p.detection);
            out += "<circle cx=\"" + svg_num(x) + "\" cy=\"" + svg_num(y) + "\" r=\"2.5\"/>\n";
            const double lx = x + 5, ly = y - 5;
            bool free = true;
            for (const auto& q : placed)
                if (std::abs(q.first - lx) < 40 && std::abs(q.second - ly) < 14) free = false;
            if (!free) continue;
            placed.emplace_back(lx, ly);
            labels += svg_text(lx, ly, "k=" + std::to_string(p.k), label_style);
        }
        out += "</g>\n";
        if (roc.chosen) {
            out += "<circle cx=\"" + svg_num(F::x(roc.chosen->false_positive / 100)) + "\" cy=\"" +
                   svg_num(F::y(roc.chosen->detection)) + "\" r=\"7\" fill=\"none\" stroke=\"" + colour +
                   "\" stroke-width=\"2\"/>\n";
        }
        if (roc.max_fpr) budget_x = F::x(*roc.max_fpr / 100);
    }
    if (budget_x >= 0)
        out += svg_line(budget_x, F::top, budget_x, F::bottom,
                        "stroke=\"#555555\" stroke-width=\"1\" stroke-dasharray=\"5 4\"");
    out += labels;

    // Legend: one entry per set (name and AUC), in two lines so that long names are not cut.
    double ly = F::top + 10;
    for (std::size_t s = 0; s < result.roc.size(); ++s) {
        const std::string colour = colours[s % (sizeof colours / sizeof *colours)];
        const std::string& name = names[s];
        out += svg_line(F::right + 18, ly, F::right + 44, ly, "stroke=\"" + colour + "\" stroke-width=\"3\"");
        out += svg_text(F::right + 50, ly + 4, name, "font-size=\"11\"");
        out += svg_text(F::right + 50, ly + 18, "AUC " + svg_num(result.roc[s].auc, 3), "font-size=\"11\"");
        ly += 36;
    }
    if (budget_x >= 0) {
        out += svg_line(F::right + 18, ly, F::right + 44, ly, "stroke=\"#555555\" stroke-width=\"1\" stroke-dasharray=\"5 4\"");
        out += svg_text(F::right + 50, ly + 4, "FPR budget", "font-size=\"11\"");
        ly += 20;
        out += "<circle cx=\"" + svg_num(F::right + 31) + "\" cy=\"" + svg_num(ly) +
               "\" r=\"7\" fill=\"none\" stroke=\"#555555\" stroke-width=\"2\"/>\n";
        out += svg_text(F::right + 50, ly + 4, "chosen k", "font-size=\"11\"");
    }
    return out + "</svg>\n";
}

}  // namespace prunedef
