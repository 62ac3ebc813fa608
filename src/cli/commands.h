#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace l3af::cli {

struct Options {
    std::string config_dir = "/etc/l3af";
    bool json = false;
    bool help = false;
    size_t limit = 0; // 0: all
};

struct Command {
    const char* name;
    const char* usage;
    const char* help;
    size_t max_args;
    int (*run)(const Options&, const std::vector<std::string>& args);
};

const Command* findCommand(const std::string& name);

} // namespace l3af::cli
