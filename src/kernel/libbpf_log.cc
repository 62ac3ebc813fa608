#include "kernel/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <vector>

namespace l3af::kernel {

namespace {

// The daemon is single-threaded; captures nest at most trivially.
std::string* active = nullptr;
std::string captured;

int printToCapture(enum libbpf_print_level level, const char* format, va_list args) {
    if (!active || level == LIBBPF_DEBUG)
        return 0;
    // libbpf hands over a whole verifier log in one message, and its end
    // says why the program was refused: keep all of it.
    va_list again;
    va_copy(again, args);
    const int n = std::vsnprintf(nullptr, 0, format, args);
    if (n > 0) {
        std::string text(static_cast<size_t>(n) + 1, '\0');
        std::vsnprintf(text.data(), text.size(), format, again);
        text.pop_back();
        active->append(text);
    }
    va_end(again);
    return n;
}

} // namespace

void installLibbpfLogger() {
    libbpf_set_print(printToCapture);
}

LibbpfLogCapture::LibbpfLogCapture() {
    installLibbpfLogger();
    captured.clear();
    active = &captured;
}

LibbpfLogCapture::~LibbpfLogCapture() {
    active = nullptr;
}

const std::string& LibbpfLogCapture::text() const {
    return captured;
}

std::string LibbpfLogCapture::summary(size_t max_lines) const {
    if (captured.empty())
        return "";
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < captured.size()) {
        size_t end = captured.find('\n', start);
        if (end == std::string::npos)
            end = captured.size();
        if (end > start)
            lines.push_back(captured.substr(start, end - start));
        start = end + 1;
    }
    std::string out = ":";
    const size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
    for (size_t i = first; i < lines.size(); i++)
        out += "\n  " + lines[i];
    return out;
}

} // namespace l3af::kernel
