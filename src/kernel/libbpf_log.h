#pragma once

// libbpf prints to stderr by default; l3afd silences it and keeps what it says
// while a load runs, so that a failure carries libbpf's and the verifier's
// words in its error instead of scattering them over the terminal.

#include <string>

namespace l3af::kernel {

class LibbpfLogCapture {
  public:
    LibbpfLogCapture();
    ~LibbpfLogCapture();
    LibbpfLogCapture(const LibbpfLogCapture&) = delete;
    LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

    const std::string& text() const;
    // ":\n<last lines of the log>" or "" when libbpf said nothing.
    std::string summary(size_t max_lines = 30) const;
};

// Routes libbpf's messages nowhere unless a capture is active (call once).
void installLibbpfLogger();

} // namespace l3af::kernel
