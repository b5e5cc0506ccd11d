#pragma once
// python_repr(): a double as Python's repr() prints it (and so print(), as eval.py uses it):
// the shortest digits that round-trip, in fixed notation when the decimal exponent is in
// [-4, 16), else in scientific notation with a sign and at least two exponent digits
// ("1e-05", "1.5e+16"); fixed notation always shows a fraction ("7.0"); "nan", "inf", "-inf".

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace prunedef {

inline std::string python_repr(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    // the shortest round-trip digits, in scientific form: [-]d[.ddd]e[+-]x
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    const std::string sci(buf, res.ptr);
    const std::size_t e = sci.find('e');
    const bool negative = sci[0] == '-';
    std::string digits;
    for (std::size_t i = negative ? 1 : 0; i < e; ++i)
        if (sci[i] != '.') digits += sci[i];
    const int exponent = std::atoi(sci.c_str() + e + 1);
    std::string out = negative ? "-" : "";
    if (exponent >= -4 && exponent < 16) {
        const int point = exponent + 1;  // digits before the decimal point
        if (point <= 0) {
            out += "0." + std::string(std::size_t(-point), '0') + digits;
        } else if (std::size_t(point) >= digits.size()) {
            out += digits + std::string(std::size_t(point) - digits.size(), '0') + ".0";
        } else {
            out += digits.substr(0, std::size_t(point)) + "." + digits.substr(std::size_t(point));
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    const int magnitude = std::abs(exponent);
    out += std::string(exponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + std::to_string(magnitude);
    return out;
}

}  // namespace prunedef
