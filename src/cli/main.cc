// l3afd: one binary, subcommands (DESIGN section 5). Exit codes: 0 ok,
// 1 failure, 2 usage.

#include "cli/commands.h"

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage = R"(usage: l3afd [-c DIR] COMMAND [ARGS]

Network visibility with eBPF, driven by TOML files.

commands:
  run                 the daemon (what systemd starts)
  check [FILE|DIR]    validate configuration; needs no root
  plan                show what apply would change
  apply               reconcile once and exit
  status [--json]     functions, attachments, collectors, counters, last error
  flows [--json] [--limit N]
                      the live flow table, busiest first
  reload              ask the running daemon to reload its configuration
  reset               detach and remove everything l3afd owns

options:
  -c, --config DIR    configuration directory (default /etc/l3af)
  -h, --help          this help; `l3afd COMMAND --help` for a command
)";

} // namespace

int main(int argc, char** argv) {
    l3af::cli::Options options;
    std::string command;
    std::vector<std::string> rest;
    for (int i = 1; i < argc; i++) {
        const std::string arg = argv[i];
        if (arg == "-c" || arg == "--config") {
            if (i + 1 >= argc) {
                std::cerr << "l3afd: " << arg << " needs a directory\n";
                return 2;
            }
            options.config_dir = argv[++i];
        } else if (arg.rfind("--config=", 0) == 0) {
            options.config_dir = arg.substr(9);
        } else if (arg == "--json") {
            options.json = true;
        } else if (arg == "--limit") {
            if (i + 1 >= argc) {
                std::cerr << "l3afd: --limit needs a number\n";
                return 2;
            }
            options.limit = std::strtoul(argv[++i], nullptr, 10);
        } else if (arg == "-h" || arg == "--help") {
            options.help = true;
        } else if (command.empty() && !arg.starts_with("-")) {
            command = arg;
        } else if (!arg.starts_with("-")) {
            rest.push_back(arg);
        } else {
            std::cerr << "l3afd: unknown option " << arg << "\n" << kUsage;
            return 2;
        }
    }
    if (command.empty()) {
        (options.help ? std::cout : std::cerr) << kUsage;
        return options.help ? 0 : 2;
    }
    const l3af::cli::Command* found = l3af::cli::findCommand(command);
    if (!found) {
        std::cerr << "l3afd: unknown command '" << command << "'\n" << kUsage;
        return 2;
    }
    if (options.help) {
        std::cout << "usage: l3afd [-c DIR] " << found->usage << "\n\n" << found->help << "\n";
        return 0;
    }
    if (rest.size() > found->max_args) {
        std::cerr << "l3afd: too many arguments for " << command << "\nusage: l3afd [-c DIR] "
                  << found->usage << "\n";
        return 2;
    }
    return found->run(options, rest);
}
