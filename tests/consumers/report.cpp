// A consumer of prunedef::report: the JSON report of an empty repair.
#include <prunedef/report/json_report.hpp>

#include <iostream>

int main() {
    const std::string js = prunedef::json_report(prunedef::RepairResult{}, prunedef::ReportContext{});
    if (js.find("\"curve\": []") == std::string::npos) return 1;
    std::cout << "report consumer ok: " << js.size() << " bytes of JSON\n";
    return 0;
}
