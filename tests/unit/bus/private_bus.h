#pragma once

// A dbus-daemon of the test's own, listening on a socket in a temporary
// directory, with the policy the test gives it. While it lives,
// L3AF_BUS_ADDRESS points both l3afd sides at it.

#include "daemon/bus.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace l3af::testing {

inline constexpr const char* kDbusDaemon = "/usr/bin/dbus-daemon";

// Everyone may connect, own any name and send anything.
inline constexpr const char* kAllowAllPolicy = R"(
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>)";

class PrivateBus {
  public:
    // Null when dbus-daemon is missing or does not come up; `why` says which.
    static std::unique_ptr<PrivateBus> start(const std::string& policy, std::string& why) {
        if (access(kDbusDaemon, X_OK) != 0) {
            why = std::string(kDbusDaemon) + " not installed (Debian package dbus-daemon)";
            return nullptr;
        }
        char dir_template[] = "/tmp/l3af-bus-XXXXXX";
        if (mkdtemp(dir_template) == nullptr) {
            why = "mkdtemp failed";
            return nullptr;
        }
        std::unique_ptr<PrivateBus> bus(new PrivateBus());
        bus->dir_ = dir_template;
        // Other users (tests that drop to nobody) must reach the socket.
        chmod(dir_template, 0755);
        const std::string config = bus->dir_ + "/bus.conf";
        std::ofstream(config)
            << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
               "1.0//EN\"\n"
               " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
               "<busconfig>\n"
               "  <listen>unix:path="
            << bus->dir_ << "/bus</listen>\n  <auth>EXTERNAL</auth>\n"
            << policy << "\n</busconfig>\n";

        int out[2];
        if (pipe2(out, O_CLOEXEC) != 0) {
            why = "pipe failed";
            return nullptr;
        }
        const std::string config_arg = "--config-file=" + config;
        const pid_t pid = fork();
        if (pid == 0) {
            dup2(out[1], STDOUT_FILENO);
            execl(kDbusDaemon, kDbusDaemon, config_arg.c_str(), "--nofork", "--print-address",
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        close(out[1]);
        bus->pid_ = pid;
        // The address is printed once the daemon listens.
        std::string address;
        char c = 0;
        pollfd p{out[0], POLLIN, 0};
        while (poll(&p, 1, 30000) == 1 && read(out[0], &c, 1) == 1 && c != '\n')
            address += c;
        close(out[0]);
        if (address.empty()) {
            why = "dbus-daemon did not start (see its complaint above)";
            return nullptr;
        }
        bus->address_ = address;
        setenv(daemon::kBusAddressVariable, address.c_str(), 1);
        return bus;
    }

    PrivateBus(const PrivateBus&) = delete;
    PrivateBus& operator=(const PrivateBus&) = delete;

    ~PrivateBus() {
        if (pid_ <= 0)
            return;
        unsetenv(daemon::kBusAddressVariable);
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    const std::string& address() const { return address_; }

  private:
    PrivateBus() = default;

    pid_t pid_ = -1;
    std::string dir_;
    std::string address_;
};

struct Run {
    int exit_code = -1;
    std::string output; // stdout and stderr
};

// Runs `argv` as user and group `uid` (root only), for policy checks.
inline Run runAs(uid_t uid, const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const std::string& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return {};
    const pid_t pid = fork();
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec: the test has threads.
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        if (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
            _exit(126);
        execv(args[0], args.data());
        _exit(127);
    }
    close(out[1]);
    Run run;
    char buffer[512];
    for (;;) {
        const ssize_t n = read(out[0], buffer, sizeof buffer);
        if (n <= 0)
            break;
        run.output.append(buffer, static_cast<size_t>(n));
    }
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
}

} // namespace l3af::testing
