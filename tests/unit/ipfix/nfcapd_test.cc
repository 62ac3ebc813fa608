// A collector our users run: nfcapd (nfdump 1.7) receives a session's
// messages over UDP on loopback, and nfdump's summary of what it stored must
// show every flow, packet and byte sent and no sequence failure. nfdump
// checks sequence numbers against flow records only, so this is what keeps
// the reliability reports out of the flows' Observation Domain. Skipped when
// nfcapd or nfdump is not installed.

#include "ipfix/session.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace l3af::ipfix {
namespace {

namespace fs = std::filesystem;

bool installed(const char* program) {
    return std::system(("command -v " + std::string(program) + " >/dev/null 2>&1").c_str()) == 0;
}

// A UDP port on 127.0.0.1 that no socket holds right now.
std::optional<uint16_t> freeUdpPort() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return std::nullopt;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    std::optional<uint16_t> port;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0)
        port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
}

// The kernel's view of the UDP socket bound to 127.0.0.1:port
// (/proc/net/udp), so the test waits for nfcapd by state, not by time.
struct UdpSocketState {
    uint64_t rx_queue = 0; // bytes received and not yet read
    uint64_t drops = 0;    // datagrams the kernel dropped
};

std::optional<UdpSocketState> udpSocketState(uint16_t port) {
    std::ifstream table("/proc/net/udp");
    std::string line;
    std::getline(table, line); // column names
    char local[32];
    std::snprintf(local, sizeof local, "0100007F:%04X", port);
    while (std::getline(table, line)) {
        std::istringstream in(line);
        std::string slot, local_address, remote_address, state, queues;
        in >> slot >> local_address >> remote_address >> state >> queues;
        if (local_address != local)
            continue;
        std::string field, last;
        while (in >> field)
            last = field;
        UdpSocketState s;
        s.rx_queue = std::stoull(queues.substr(queues.find(':') + 1), nullptr, 16);
        s.drops = std::stoull(last);
        return s;
    }
    return std::nullopt;
}

// Polls `done` until it holds or a generous bound passes (a hung peer must
// fail the test, not hang it). Returns whether it held.
template <typename Predicate> bool waitFor(Predicate done) {
    for (int i = 0; i < 1000; ++i) {
        if (done())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

std::string readFile(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The value of a "Name: value" line of `nfdump -I`; nullopt when absent.
std::optional<uint64_t> summaryValue(const std::string& summary, const std::string& name) {
    std::istringstream in(summary);
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(name + ": "))
            return std::stoull(line.substr(name.size() + 2));
    return std::nullopt;
}

std::optional<std::string> run(const std::string& command) {
    std::string out;
    FILE* p = ::popen(command.c_str(), "r");
    if (!p)
        return std::nullopt;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    if (::pclose(p) != 0)
        return std::nullopt;
    return out;
}

// nfcapd as a child process, stopped by SIGTERM (killed if it will not stop).
class Nfcapd {
  public:
    Nfcapd(const fs::path& dir, uint16_t port) : log_(dir / "nfcapd.log") {
        const fs::path flows = dir / "flows";
        fs::create_directory(flows);
        const std::string port_text = std::to_string(port);
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                ::dup2(fd, STDOUT_FILENO);
                ::dup2(fd, STDERR_FILENO);
            }
            ::execlp("nfcapd", "nfcapd", "-w", flows.c_str(), "-p", port_text.c_str(), "-b",
                     "127.0.0.1", static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    Nfcapd(const Nfcapd&) = delete;
    Nfcapd& operator=(const Nfcapd&) = delete;
    ~Nfcapd() {
        if (running()) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    bool started() const { return pid_ > 0; }
    bool running() {
        if (pid_ <= 0 || exited_)
            return false;
        int status;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exited_ = true;
            status_ = status;
        }
        return !exited_;
    }
    // SIGTERM, then the exit status once it has gone; nullopt if it would not go.
    std::optional<int> stop() {
        if (running())
            ::kill(pid_, SIGTERM);
        if (!waitFor([this] { return !running(); }))
            return std::nullopt;
        return status_;
    }
    std::string log() const { return readFile(log_); }

  private:
    fs::path log_;
    pid_t pid_ = -1;
    bool exited_ = false;
    int status_ = 0;
};

// A UDP socket connected to the collector: what the daemon's transport does.
class UdpSender {
  public:
    explicit UdpSender(uint16_t port) : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        connected_ =
            fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    UdpSender(const UdpSender&) = delete;
    UdpSender& operator=(const UdpSender&) = delete;
    ~UdpSender() {
        if (fd_ >= 0)
            ::close(fd_);
    }

    bool connected() const { return connected_; }
    void send(std::span<const uint8_t> message) {
        if (::send(fd_, message.data(), message.size(), 0) != static_cast<ssize_t>(message.size()))
            ++failures;
    }

    int failures = 0;

  private:
    int fd_;
    bool connected_ = false;
};

// Distinct flows, so nothing can be merged: record i is 10.0.x.y -> 192.0.2.1.
flow::FlowRecord flowNumber(uint32_t i, uint64_t start_ms) {
    flow::FlowRecord r{};
    r.key.family = 4;
    r.key.protocol = i % 2 ? 6 : 17;
    r.key.ifindex = 2;
    const uint8_t src[4] = {10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    const uint8_t dst[4] = {192, 0, 2, 1};
    std::memcpy(r.key.src, src, 4);
    std::memcpy(r.key.dst, dst, 4);
    r.key.src_port = htons(static_cast<uint16_t>(20000 + i));
    r.key.dst_port = htons(443);
    r.packets = 1 + i % 17;
    r.octets = r.packets * (60 + i % 1400);
    r.start_ms = start_ms;
    r.end_ms = start_ms + 500;
    r.min_ttl = 64;
    r.max_ttl = 64;
    r.reason = flow::EndReason::IdleTimeout;
    return r;
}

TEST(NfcapdTest, CollectorStoresEveryFlowWithoutSequenceFailures) {
    if (!installed("nfcapd") || !installed("nfdump"))
        GTEST_SKIP() << "nfcapd/nfdump (Debian package nfdump) is not installed";

    char dir_template[] = "/tmp/l3af-nfcapd-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    const fs::path dir = dir_template;
    struct RemoveDir {
        fs::path path;
        ~RemoveDir() {
            std::error_code ignored;
            fs::remove_all(path, ignored);
        }
    } remove_dir{dir};

    const auto port = freeUdpPort();
    ASSERT_TRUE(port);
    Nfcapd nfcapd(dir, *port);
    ASSERT_TRUE(nfcapd.started());
    ASSERT_TRUE(waitFor([&] { return udpSocketState(*port) || !nfcapd.running(); }));
    ASSERT_TRUE(nfcapd.running()) << "nfcapd exited:\n" << nfcapd.log();

    UdpSender sender(*port);
    ASSERT_TRUE(sender.connected());
    std::map<uint32_t, int> messages_per_domain;
    Session session(SessionOptions{.observation_domain = 7,
                                   .exporting_process_id = 1,
                                   .max_message_size = 1400,
                                   .template_refresh = std::chrono::seconds(60)},
                    [&](std::span<const uint8_t> m, uint32_t) {
                        // Observation Domain ID: the last 4 bytes of the header.
                        ++messages_per_domain[m[12] << 24 | m[13] << 16 | m[14] << 8 | m[15]];
                        sender.send(m);
                    });

    // 360 flows in three batches of several messages each, a reliability
    // report after each batch and one in the middle of the second.
    constexpr uint32_t kFlows = 360;
    uint64_t packets = 0;
    uint64_t octets = 0;
    uint64_t now = 1700000000000;
    ReliabilityStats stats;
    for (uint32_t i = 0; i < kFlows; ++i) {
        if (i % 120 == 0) {
            now += 30000;
            session.begin(now);
        }
        const flow::FlowRecord r = flowNumber(i, now - 1000);
        session.add(r);
        packets += r.packets;
        octets += r.octets;
        if (i % 120 == 119 || i == 180) {
            stats.ignored_packets += 5;
            stats.ignored_octets += 300;
            session.addReliability(stats);
        }
    }
    session.flush();
    EXPECT_EQ(sender.failures, 0);
    EXPECT_EQ(messages_per_domain[0], 4) << "one message per report";
    EXPECT_GT(messages_per_domain[7], 3 * 3) << "several flow messages per batch";
    EXPECT_EQ(messages_per_domain.size(), 2u);

    // Everything sent was read by nfcapd before it is told to stop.
    ASSERT_TRUE(waitFor([&] {
        const auto s = udpSocketState(*port);
        return !s || s->rx_queue == 0;
    }));
    const auto socket_state = udpSocketState(*port);
    ASSERT_TRUE(socket_state) << "nfcapd's socket went away:\n" << nfcapd.log();
    EXPECT_EQ(socket_state->drops, 0u) << "the kernel dropped datagrams: totals cannot match";
    const auto status = nfcapd.stop();
    ASSERT_TRUE(status) << "nfcapd did not stop on SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << nfcapd.log();

    const auto summary = run("nfdump -R " + (dir / "flows").string() + " -I 2>&1");
    ASSERT_TRUE(summary) << "nfdump failed";
    SCOPED_TRACE("nfdump -I:\n" + *summary + "nfcapd log:\n" + nfcapd.log());
    EXPECT_EQ(summaryValue(*summary, "Sequence failures"), 0u);
    EXPECT_EQ(summaryValue(*summary, "Flows"), kFlows);
    EXPECT_EQ(summaryValue(*summary, "Packets"), packets);
    EXPECT_EQ(summaryValue(*summary, "Bytes"), octets);
    // nfcapd's own account, as it logs on exit.
    EXPECT_NE(nfcapd.log().find("Sequence Errors: 0, Bad Packets: 0"), std::string::npos);
}

} // namespace
} // namespace l3af::ipfix
