#pragma once
// curve_svg(): the pruning curve as a self-contained SVG line chart (760 x 460).
//
// x: fraction of the layer's channels pruned, 0..1; y: percent, 0..100 with gridlines. One line
// per series the repair measured (validation accuracy, test accuracy, attack success rate: one
// line per poisoned set when there are several, named "ASR NAME"), a
// legend on the right (the picture grows wider when a legend text would not fit: svg_text_width
// measures it conservatively), and a dashed vertical marker labelled "X=2" at each threshold's
// B', the label placed clear of the curves, the other markers and the other labels
// (place_svg_labels).
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

/// A width in pixels that text set in font_size px is not wider than, in Helvetica, Arial or
/// DejaVu Sans (the widest fallback): per character an upper bound of the three fonts' advance
/// widths (in em): 'm', 'w', 'M', 'W' and '@' 1.0; other capitals 0.8; other lower-case letters and
/// digits 0.64; space and narrow punctuation 0.4; any other character (a non-ASCII one: one per
/// UTF-8 sequence) 1.0.
inline double svg_text_width(std::string_view text, double font_size) {
    double em = 0;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c & 0xC0) == 0x80) continue;  // a UTF-8 continuation byte
        if (c == 'm' || c == 'w' || c == 'M' || c == 'W' || c == '@') em += 1.0;
        else if (c >= 'A' && c <= 'Z') em += 0.8;
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) em += 0.64;
        else if (c == ' ' || c == '.' || c == ',' || c == ':' || c == ';' || c == '\'' || c == '!' || c == '|' ||
                 c == '(' || c == ')' || c == '[' || c == ']' || c == '-' || c == '/')
            em += 0.4;
        else em += 1.0;
    }
    return em * font_size;
}

/// An axis-aligned box in picture pixels (x0 <= x1, y0 <= y1).
struct SvgBox {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    bool overlaps(const SvgBox& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
    bool inside(const SvgBox& o) const { return x0 >= o.x0 && x1 <= o.x1 && y0 >= o.y0 && y1 <= o.y1; }
};

/// Whether the segment (ax, ay)-(bx, by) passes through the box (Liang-Barsky clipping).
inline bool svg_segment_hits(double ax, double ay, double bx, double by, const SvgBox& box) {
    double t0 = 0, t1 = 1;
    const double dx = bx - ax, dy = by - ay;
    const double p[4] = {-dx, dx, -dy, dy}, q[4] = {ax - box.x0, box.x1 - ax, ay - box.y0, box.y1 - ay};
    for (int i = 0; i < 4; ++i) {
        if (p[i] == 0) {
            if (q[i] < 0) return false;
        } else {
            const double t = q[i] / p[i];
            if (p[i] < 0) t0 = std::max(t0, t);
            else t1 = std::min(t1, t);
            if (t0 > t1) return false;
        }
    }
    return true;
}

/// A threshold label placed by place_svg_labels: its text's anchor point and box.
struct SvgLabel {
    double x = 0, y = 0;   // the text's anchor (start, or end when anchor_end) and baseline
    bool anchor_end = false;
    SvgBox box;
};

/// Places a label beside each vertical marker (marker x in pixels, text), inside `area`, in the
/// first free slot: rows every 14 px from the top of the area, right of the marker first, then
/// left of it. A slot is free when its box overlaps no label already placed and no segment of
/// `lines` (polylines in pixels: the curves and the markers). When no slot is free of the lines,
/// the first slot free of other labels is taken (labels never overlap one another as long as the
/// area has room: rows x 2 slots per marker).
inline std::vector<SvgLabel> place_svg_labels(const std::vector<std::pair<double, std::string>>& markers,
                                              const std::vector<std::vector<std::pair<double, double>>>& lines,
                                              const SvgBox& area, double font_size = 12) {
    std::vector<SvgLabel> placed;
    const auto box_of = [&](double x, double baseline, bool end, double width) {
        const double x0 = end ? x - width : x;
        return SvgBox{x0 - 2, baseline - font_size, x0 + width + 2, baseline + 0.3 * font_size};
    };
    for (const auto& [mx, text] : markers) {
        const double width = svg_text_width(text, font_size);
        std::vector<SvgLabel> slots;
        for (double baseline = area.y0 + font_size + 2; baseline + 0.3 * font_size <= area.y1; baseline += 14)
            for (const bool end : {false, true}) {
                const double ax = end ? mx - 4 : mx + 4;
                const SvgBox b = box_of(ax, baseline, end, width);
                if (b.inside(area)) slots.push_back({ax, baseline, end, b});
            }
        if (slots.empty()) slots.push_back({mx + 4, area.y0 + font_size + 2, false, box_of(mx + 4, area.y0 + font_size + 2, false, width)});
        const auto free_of_labels = [&](const SvgLabel& l) {
            for (const SvgLabel& o : placed)
                if (l.box.overlaps(o.box)) return false;
            return true;
        };
        const auto free_of_lines = [&](const SvgLabel& l) {
            for (const auto& line : lines)
                for (std::size_t i = 0; i + 1 < line.size(); ++i)
                    if (svg_segment_hits(line[i].first, line[i].second, line[i + 1].first, line[i + 1].second, l.box))
                        return false;
            return true;
        };
        const SvgLabel* chosen = nullptr;
        for (const SvgLabel& l : slots)
            if (free_of_labels(l) && free_of_lines(l)) {
                chosen = &l;
                break;
            }
        if (!chosen)
            for (const SvgLabel& l : slots)
                if (free_of_labels(l)) {
                    chosen = &l;
                    break;
                }
        placed.push_back(chosen ? *chosen : slots.front());
    }
    return placed;
}

/// The picture's width: the standard 760 px, or more when a legend entry (text starting at
/// legend_x, widest legend_width px) would not fit.
inline double svg_width_for_legend(double legend_x, double legend_width) {
    return std::max(SvgFrame::width, std::ceil(legend_x + legend_width + 12));
}

/// The start of a plot in the SvgFrame: the svg element, a title (element and heading), a white
/// background and the horizontal grid lines every 10 %. width: the picture's (wider than the
/// standard when its legend needs it, svg_width_for_legend).
inline std::string svg_frame_start(const std::string& title, double width = SvgFrame::width) {
    using F = SvgFrame;
    std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_num(width) + "\" height=\"" +
                      svg_num(F::height) + "\" viewBox=\"0 0 " + svg_num(width) + " " + svg_num(F::height) +
                      "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
    out += "<title>" + svg_escape(title) + "</title>\n";
    out += "<rect x=\"0\" y=\"0\" width=\"" + svg_num(width) + "\" height=\"" + svg_num(F::height) +
           "\" fill=\"white\"/>\n";
    out += svg_text((F::left + F::right) / 2, 28, title, "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
    out += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
    for (int p = 10; p <= 100; p += 10) out += svg_line(F::left, F::y(p), F::right, F::y(p), "");
    out += "</g>\n";
    return out;
}

}  // namespace detail

namespace detail {

/// What curve_svg draws where: its series, each threshold's label (in threshold order) and the
/// picture's width (grown so that the legend is never cut).
struct CurveLayout {
    std::vector<SvgSeries> series;
    std::vector<SvgLabel> labels;
    std::vector<std::string> label_texts;
    std::vector<std::string> legend;  // the legend's texts, top to bottom
    bool fine_tuned = false;
    double width = SvgFrame::width;
};

inline CurveLayout curve_layout(const RepairResult& result) {
    using F = SvgFrame;
    CurveLayout l;
    // The series the repair measured.
    std::vector<SvgSeries>& series = l.series;
    series.resize(3);
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
            const std::string name = svg_shorten(result.poisoned_sets[s].name, 12);
            SvgSeries line{"ASR " + name, colours[s % (sizeof colours / sizeof *colours)], s % 2 ? "4 3" : "", {}};
            for (const CurvePoint& p : result.curve)
                if (s < p.poisoned.size()) line.points.emplace_back(p.fraction_pruned, p.poisoned[s].attack_success);
            series.push_back(std::move(line));
        }
    }
    series.erase(std::remove_if(series.begin(), series.end(), [](const auto& s) { return s.points.empty(); }),
                 series.end());
    for (const ThresholdResult& t : result.thresholds) l.fine_tuned = l.fine_tuned || t.fine_tuned.has_value();

    // The legend, right of the plot: the picture grows when a text would not fit.
    for (const SvgSeries& s : series) l.legend.push_back(s.name);
    if (!result.thresholds.empty()) l.legend.push_back("threshold X (B')");
    if (l.fine_tuned) {
        l.legend.push_back("fine-pruned: clean acc.");
        l.legend.push_back("fine-pruned: ASR");
    }
    double widest = 0;
    for (const std::string& text : l.legend) widest = std::max(widest, svg_text_width(text, 12));
    l.width = svg_width_for_legend(F::right + 50, widest);

    // Threshold labels: beside their markers, clear of the curves, the markers and each other.
    std::vector<std::vector<std::pair<double, double>>> lines;
    for (const SvgSeries& s : series) {
        std::vector<std::pair<double, double>> px;
        for (const auto& [f, p] : s.points) px.emplace_back(F::x(f), F::y(p));
        lines.push_back(std::move(px));
    }
    std::vector<std::pair<double, std::string>> markers;
    for (const ThresholdResult& t : result.thresholds) {
        const double x = F::x(t.fraction_pruned);
        lines.push_back({{x, F::top}, {x, F::bottom}});
        markers.emplace_back(x, svg_threshold_label(t.drop, t.reached));
        l.label_texts.push_back(markers.back().second);
    }
    l.labels = place_svg_labels(markers, lines, SvgBox{F::left, F::top, F::right, F::bottom});
    return l;
}

}  // namespace detail

/// The pruning curve as SVG text.
inline std::string curve_svg(const RepairResult& result) {
    using detail::svg_line;
    using detail::svg_num;
    using detail::svg_text;
    using F = detail::SvgFrame;

    const detail::CurveLayout layout = detail::curve_layout(result);
    const std::vector<detail::SvgSeries>& series = layout.series;
    const std::string title = "Pruning " + result.pruned_layer + " (" + result.policy + " order, " +
                              std::to_string(result.channels) + " channels)";
    std::string out = detail::svg_frame_start(title, layout.width);
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

    // Threshold markers; their labels (placed by curve_layout) with a white halo (the stroke
    // painted under the fill), drawn after the curves.
    std::string labels;
    const std::string label_style = "fill=\"#333333\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\"";
    for (std::size_t i = 0; i < result.thresholds.size(); ++i) {
        const double x = F::x(result.thresholds[i].fraction_pruned);
        out += svg_line(x, F::top, x, F::bottom, "stroke=\"#555555\" stroke-width=\"1\" stroke-dasharray=\"5 4\"");
        const detail::SvgLabel& l = layout.labels[i];
        labels += svg_text(l.x, l.y, layout.label_texts[i],
                           std::string(l.anchor_end ? "text-anchor=\"end\" " : "") + label_style);
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
    const bool fine_tuned = layout.fine_tuned;
    for (const ThresholdResult& t : result.thresholds) {
        if (!t.fine_tuned) continue;
        const double x = F::x(t.fraction_pruned);
        const auto& f = *t.fine_tuned;
        const double clean = f.test_accuracy      ? *f.test_accuracy
                             : f.holdout_accuracy ? *f.holdout_accuracy
                                                  : f.valid_accuracy;
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
