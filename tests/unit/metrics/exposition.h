#pragma once

// Reads the samples of a Prometheus text exposition back, keyed by the series
// as printed ("name{label=\"value\",...}"), so tests can compare numbers.

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace l3af::testing {

inline std::map<std::string, double> parseSamples(const std::string& exposition) {
    std::map<std::string, double> samples;
    std::istringstream in(exposition);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line.starts_with('#'))
            continue;
        const size_t space = line.rfind(' ');
        samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
    }
    return samples;
}

// Where promtool is, if installed (Debian: the `prometheus` package).
inline std::optional<std::string> findPromtool() {
    for (const char* path : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
        if (access(path, X_OK) == 0)
            return path;
    }
    return std::nullopt;
}

struct PromtoolResult {
    int exit_code = -1;
    std::string output; // its complaints, one per line
};

// `promtool check metrics` on `exposition`: exit 0 and no output when the
// text parses and passes its lint (names, units, _total on counters).
inline PromtoolResult promtoolCheck(const std::string& promtool, const std::string& exposition) {
    char path[] = "/tmp/l3af-metrics-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0)
        return {};
    (void)!write(fd, exposition.data(), exposition.size());
    close(fd);
    PromtoolResult result;
    const std::string command = promtool + " check metrics < " + path + " 2>&1";
    if (FILE* pipe = popen(command.c_str(), "r")) {
        char buffer[512];
        while (fgets(buffer, sizeof buffer, pipe) != nullptr)
            result.output += buffer;
        const int status = pclose(pipe);
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    unlink(path);
    return result;
}

} // namespace l3af::testing
