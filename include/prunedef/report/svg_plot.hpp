#pragma once
// curve_svg(): the pruning curve as a self-contained SVG line chart (760 x 460).
//
// x: fraction of the layer's channels pruned, 0..1; y: percent, 0..100 with gridlines. One line
// per series the repair measured (validation accuracy, test accuracy, attack success rate: one
// line per poisoned set when there are several, named "ASR NAME"), a
// legend on the right, and a dashed vertical marker labelled "X=2" at each threshold's B'.
// Only basic elements (rect, line, polyline, text, g); no scripts, fonts or external references.

#include <prunedef/defense/repair.hpp>
#include <prunedef/defense/stopping_rule.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prunedef {

namespace detail {

/// Text for SVG character data and attribute values.
inline std::string svg_escape(std::string_view s) {
    std::string out;
    for (const char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                // XML 1.0 forbids most control characters, even escaped.
                out += static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r' ? ' ' : c;
        }
    }
    return out;
}

/// A coordinate or tick label: fixed decimals, trailing zeros dropped, locale-independent.
inline std::string svg_num(double value, int decimals = 2) {
    if (!std::isfinite(value)) value = 0;
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, decimals);
    std::string s(buf, r.ptr);
    if (s.find('.') != std::string::npos) {
        s.erase(s.find_last_not_of('0') + 1);
        if (s.back() == '.') s.pop_back();
    }
    return s == "-0" ? "0" : s;
}

/// The plot area inside the picture, and the data-to-pixel mapping.
struct SvgFrame {
    static constexpr double width = 760, height = 460;
    static constexpr double left = 70, right = 590, top = 50, bottom = 390;
    static double x(double fraction) { return left + std::clamp(fraction, 0.0, 1.0) * (right - left); }
    static double y(double percent) { return bottom - std::clamp(percent, 0.0, 100.0) / 100.0 * (bottom - top); }
};

inline std::string svg_text(double x, double y, std::string_view text, std::string_view attributes = {}) {
    std::string out = "<text x=\"" + svg_num(x) + "\" y=\"" + svg_num(y) + "\"";
    if (!attributes.empty()) out += " " + std::string(attributes);
    return out + ">" + svg_escape(text) + "</text>\n";
}

inline std::string svg_line(double x1, double y1, double x2, double y2, std::string_view attributes) {
    return "<line x1=\"" + svg_num(x1) + "\" y1=\"" + svg_num(y1) + "\" x2=\"" + svg_num(x2) + "\" y2=\"" +
           svg_num(y2) + "\" " + std::string(attributes) + "/>\n";
}

struct SvgSeries {
    std::string name, colour, dash;
    std::vector<std::pair<double, double>> points;  // (fraction, percent)
};

/// text cut to at most `bytes` bytes plus "…" when longer, never inside a UTF-8 sequence.
inline std::string svg_shorten(const std::string& text, std::size_t bytes) {
    if (text.size() <= bytes) return text;
    std::size_t end = bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return text.substr(0, end) + "…";
}

/// A stroke-dasharray attribute (with its leading space), or nothing for a solid line.
inline std::string svg_dash(const std::string& dash) {
    return dash.empty() ? std::string() : " stroke-dasharray=\"" + dash + "\"";
}

inline std::string svg_threshold_label(const AccuracyDrop& d, bool reached) {
    return "X=" + d.label() + (d.relative ? "% rel." : "") + (reached ? "" : " (not reached)");
}

/// The start of a plot in the SvgFrame: the svg element, a title (element and heading), a white
/// background and the horizontal grid lines every 10 %.
inline std::string svg_frame_start(const std::string& title) {
    using F = SvgFrame;
    std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_num(F::width) + "\" height=\"" +
                      svg_num(F::height) + "\" viewBox=\"0 0 " + svg_num(F::width) + " " + svg_num(F::height) +
                      "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
    out += "<title>" + svg_escape(title) + "</title>\n";
    out += "<rect x=\"0\" y=\"0\" width=\"" + svg_num(F::width) + "\" height=\"" + svg_num(F::height) +
           "\" fill=\"white\"/>\n";
    out += svg_text((F::left + F::right) / 2, 28, title, "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
    out += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
    for (int p = 10; p <= 100; p += 10) out += svg_line(F::left, F::y(p), F::right, F::y(p), "");
    out += "</g>\n";
    return out;
}

}  // namespace detail

/// The pruning curve as SVG text.
inline std::string curve_svg(const RepairResult& result) {
    using detail::svg_line;
    using detail::svg_num;
    using detail::svg_text;
    using F = detail::SvgFrame;

    // The series the repair measured.
    std::vector<detail::SvgSeries> series(3);
    series[0] = {"validation accuracy", "#1f77b4", "", {}};
    series[1] = {"test accuracy", "#2ca02c", "7 4", {}};  // dashed: often on top of validation
    series[2] = {"attack success rate", "#d62728", "", {}};
    for (const CurvePoint& p : result.curve) {
        series[0].points.emplace_back(p.fraction_pruned, p.valid_accuracy);
        if (p.test_accuracy) series[1].points.emplace_back(p.fraction_pruned, *p.test_accuracy);
        if (p.attack_success) series[2].points.emplace_back(p.fraction_pruned, *p.attack_success);
    }
    // several poisoned sets: one attack-success line per set instead of the first set's alone
    if (result.poisoned_sets.size() > 1) {
        static const char* colours[] = {"#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
        series[2].points.clear();
        for (std::size_t s = 0; s < result.poisoned_sets.size(); ++s) {
            const std::string name = detail::svg_shorten(result.poisoned_sets[s].name, 12);
            detail::SvgSeries line{"ASR " + name, colours[s % (sizeof colours / sizeof *colours)], s % 2 ? "4 3" : "", {}};
            for (const CurvePoint& p : result.curve)
                if (s < p.poisoned.size()) line.points.emplace_back(p.fraction_pruned, p.poisoned[s].attack_success);
            series.push_back(std::move(line));
        }
    }
    series.erase(std::remove_if(series.begin(), series.end(), [](const auto& s) { return s.points.empty(); }),
                 series.end());

    const std::string title = "Pruning " + result.pruned_layer + " (" + result.policy + " order, " +
                              std::to_string(result.channels) + " channels)";
    std::string out = detail::svg_frame_start(title);
    out += "<g font-size=\"11\" fill=\"#333333\">\n";
    for (int p = 0; p <= 100; p += 10)
        out += svg_text(F::left - 8, F::y(p) + 4, std::to_string(p), "text-anchor=\"end\"");
    for (int i = 0; i <= 10; ++i)
        out += svg_text(F::x(i / 10.0), F::bottom + 18, svg_num(i / 10.0, 1), "text-anchor=\"middle\"");
    out += "</g>\n";
    out += "<g stroke=\"#333333\" stroke-width=\"1\">\n";
    for (int i = 0; i <= 10; ++i) out += svg_line(F::x(i / 10.0), F::bottom, F::x(i / 10.0), F::bottom + 5, "");
    out += svg_line(F::left, F::bottom, F::right, F::bottom, "");
    out += svg_line(F::left, F::top, F::left, F::bottom, "");
    out += "</g>\n";
    out += svg_text((F::left + F::right) / 2, F::bottom + 42, "fraction of conv channels pruned",
                    "text-anchor=\"middle\" font-size=\"13\"");
    out += svg_text(0, 0, "percent",
                    "text-anchor=\"middle\" font-size=\"13\" transform=\"translate(24 " +
                        svg_num((F::top + F::bottom) / 2) + ") rotate(-90)\"");

    // Threshold markers, labels staggered so that close thresholds stay readable, with a white
    // halo (the stroke painted under the fill) so that lines behind them do not hide them.
    std::string labels;  // drawn after the curves, so on top of them
    const std::string label_style = "fill=\"#333333\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\"";
    for (std::size_t i = 0; i < result.thresholds.size(); ++i) {
        const ThresholdResult& t = result.thresholds[i];
        const double x = F::x(t.fraction_pruned);
        out += svg_line(x, F::top, x, F::bottom, "stroke=\"#555555\" stroke-width=\"1\" stroke-dasharray=\"5 4\"");
        const bool near_right = t.fraction_pruned > 0.8;
        labels += svg_text(near_right ? x - 4 : x + 4, F::top + 14 + 14 * double(i % 6),
                        detail::svg_threshold_label(t.drop, t.reached),
                        std::string(near_right ? "text-anchor=\"end\" " : "") + label_style);
    }

    // The curves.
    for (const detail::SvgSeries& s : series) {
        out += "<polyline fill=\"none\" stroke=\"" + s.colour + "\" stroke-width=\"2\" stroke-linejoin=\"round\"" +
               detail::svg_dash(s.dash) + " points=\"";
        for (std::size_t i = 0; i < s.points.size(); ++i)
            out += (i ? " " : "") + svg_num(F::x(s.points[i].first)) + "," + svg_num(F::y(s.points[i].second));
        out += "\"/>\n";
    }

    // Fine-Pruning: B' after fine-tuning, one marker per threshold (circle: clean accuracy,
    // square: attack success rate).
    bool fine_tuned = false;
    for (const ThresholdResult& t : result.thresholds) {
        if (!t.fine_tuned) continue;
        fine_tuned = true;
        const double x = F::x(t.fraction_pruned);
        const auto& f = *t.fine_tuned;
        const double clean = f.test_accuracy ? *f.test_accuracy : f.valid_accuracy;
        out += "<circle cx=\"" + svg_num(x) + "\" cy=\"" + svg_num(F::y(clean)) +
               "\" r=\"5\" fill=\"white\" stroke=\"#2ca02c\" stroke-width=\"2\"/>\n";
        if (f.attack_success)
            out += "<rect x=\"" + svg_num(x - 4.5) + "\" y=\"" + svg_num(F::y(*f.attack_success) - 4.5) +
                   "\" width=\"9\" height=\"9\" fill=\"white\" stroke=\"#d62728\" stroke-width=\"2\"/>\n";
    }

    out += labels;

    // Legend.
    double ly = F::top + 10;
    for (const detail::SvgSeries& s : series) {
        out += svg_line(F::right + 18, ly, F::right + 44, ly,
                        "stroke=\"" + s.colour + "\" stroke-width=\"3\"" + detail::svg_dash(s.dash));
        out += svg_text(F::right + 50, ly + 4, s.name);
        ly += 20;
    }
    if (!result.thresholds.empty()) {
        out += svg_line(F::right + 18, ly, F::right + 44, ly,
                        "stroke=\"#555555\" stroke-width=\"1\" stroke-dasharray=\"5 4\"");
        out += svg_text(F::right + 50, ly + 4, "threshold X (B')");
        ly += 20;
    }
    if (fine_tuned) {
        out += "<circle cx=\"" + svg_num(F::right + 31) + "\" cy=\"" + svg_num(ly) +
               "\" r=\"5\" fill=\"white\" stroke=\"#2ca02c\" stroke-width=\"2\"/>\n";
        out += svg_text(F::right + 50, ly + 4, "fine-pruned: clean acc.");
        ly += 20;
        out += "<rect x=\"" + svg_num(F::right + 26.5) + "\" y=\"" + svg_num(ly - 4.5) +
               "\" width=\"9\" height=\"9\" fill=\"white\" stroke=\"#d62728\" stroke-width=\"2\"/>\n";
        out += svg_text(F::right + 50, ly + 4, "fine-pruned: ASR");
    }
    return out + "</svg>\n";
}

}  // namespace prunedef
