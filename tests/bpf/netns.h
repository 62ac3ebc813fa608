#pragma once

// Network namespace labs for the tests that need real devices (veth pairs on
// TC and XDP hooks): entering and leaving namespaces, running ip/tc/ethtool
// in them and sending frames into a veth. One copy for the flow, mirror,
// cls_bpf and xdp_chain tests, so that they all set up and tear down alike.

#include "common/unique_fd.h"

#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace l3af::test {

// Runs a shell command (ip, tc, ethtool) in this thread's namespace; true on
// exit status 0. Its output is dropped.
inline bool sh(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs a shell command in this thread's namespace and returns what it wrote
// to stdout and stderr, for a test to look into or show when it fails.
inline std::string shOutput(const std::string& command) {
    std::string out;
    if (FILE* pipe = ::popen((command + " 2>&1").c_str(), "r")) {
        char buf[512];
        while (std::fgets(buf, sizeof buf, pipe))
            out += buf;
        ::pclose(pipe);
    }
    return out;
}

// A network namespace of this thread's own: entered on construction, left
// (and, with its last reference, destroyed with its devices) on destruction.
class ScopedNetns {
  public:
    ScopedNetns() : original_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
        entered_ = original_ && ::unshare(CLONE_NEWNET) == 0;
    }
    ~ScopedNetns() {
        if (entered_)
            ::setns(original_.get(), CLONE_NEWNET);
    }
    ScopedNetns(const ScopedNetns&) = delete;
    ScopedNetns& operator=(const ScopedNetns&) = delete;

    bool entered() const { return entered_; }
    // The namespace this one was made from, for making a sibling.
    int original() const { return original_.get(); }

  private:
    UniqueFd original_;
    bool entered_ = false;
};

// A second namespace beside the current one, left as soon as it is made:
// devices move there with `ip link set <dev> netns <path()>`, and code runs
// there through inside() or sh(). Gone with its last reference.
class SideNetns {
  public:
    SideNetns() {
        UniqueFd here(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        if (here && ::unshare(CLONE_NEWNET) == 0) {
            self_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
            ::setns(here.get(), CLONE_NEWNET);
        }
    }
    SideNetns(const SideNetns&) = delete;
    SideNetns& operator=(const SideNetns&) = delete;

    bool ok() const { return self_.valid(); }
    std::string path() const {
        return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(self_.get());
    }

    // Runs body in this namespace and comes back, whatever body returns.
    template <typename Body> auto inside(Body body) const {
        UniqueFd here(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        ::setns(self_.get(), CLONE_NEWNET);
        struct Back {
            int fd;
            ~Back() { ::setns(fd, CLONE_NEWNET); }
        } back{here.get()};
        return body();
    }

    // Runs a shell command in this namespace, true on exit status 0.
    bool sh(const std::string& command) const {
        return inside([&] { return test::sh(command); });
    }

  private:
    UniqueFd self_;
};

// Sends a frame out of a device with a packet socket: it arrives at the
// veth peer's ingress as if from a wire.
inline bool sendFrame(int ifindex, const std::vector<uint8_t>& frame) {
    UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (!fd)
        return false;
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_ifindex = ifindex;
    addr.sll_halen = ETH_ALEN;
    ssize_t sent = ::sendto(fd.get(), frame.data(), frame.size(), 0,
                            reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    return sent == static_cast<ssize_t>(frame.size());
}

} // namespace l3af::test
