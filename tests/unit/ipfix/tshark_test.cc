// A peer no one here wrote: Wireshark's IPFIX dissector reads the session's
// messages from a pcap and must find every field where we put it. Skipped
// when tshark is not installed.

#include "ipfix/session.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace l3af::ipfix {
namespace {

using Bytes = std::vector<uint8_t>;

void append16(Bytes& out, uint16_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}

void appendLe32(Bytes& out, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// One pcap (Ethernet link type) of UDP datagrams to port 4739, the IANA port
// for IPFIX, which Wireshark dissects as IPFIX without being told.
class PcapWriter {
  public:
    PcapWriter() {
        appendLe32(file_, 0xa1b2c3d4);           // microsecond pcap, little-endian file
        file_.insert(file_.end(), {2, 0, 4, 0}); // version 2.4
        appendLe32(file_, 0);                    // thiszone
        appendLe32(file_, 0);                    // sigfigs
        appendLe32(file_, 65535);                // snaplen
        appendLe32(file_, 1);                    // LINKTYPE_ETHERNET
    }

    void addUdp(std::span<const uint8_t> payload) {
        Bytes frame{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1}; // dst, src MAC
        append16(frame, 0x0800);
        const size_t ip_length = 20 + 8 + payload.size();
        frame.insert(frame.end(), {0x45, 0});
        append16(frame, static_cast<uint16_t>(ip_length));
        frame.insert(frame.end(), {0, 0, 0x40, 0, 64, 17, 0, 0}); // id, DF, ttl, udp, checksum
        frame.insert(frame.end(), {192, 0, 2, 1, 192, 0, 2, 2});
        append16(frame, 40000);
        append16(frame, 4739);
        append16(frame, static_cast<uint16_t>(8 + payload.size()));
        append16(frame, 0); // no UDP checksum
        frame.insert(frame.end(), payload.begin(), payload.end());

        appendLe32(file_, 1700000000 + packets_++);
        appendLe32(file_, 0);
        appendLe32(file_, static_cast<uint32_t>(frame.size()));
        appendLe32(file_, static_cast<uint32_t>(frame.size()));
        file_.insert(file_.end(), frame.begin(), frame.end());
    }

    const Bytes& bytes() const { return file_; }

  private:
    Bytes file_;
    uint32_t packets_ = 0;
};

// Runs a shell command; its standard output, or nullopt when it failed (an
// invalid display filter makes tshark fail rather than print nothing).
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

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

TEST(TsharkTest, WiresharkDecodesEveryField) {
    if (std::system("command -v tshark >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "tshark is not installed";

    PcapWriter pcap;
    Session session(SessionOptions{.observation_domain = 5,
                                   .exporting_process_id = 1,
                                   .max_message_size = 1400,
                                   .template_refresh = std::chrono::seconds(60)},
                    [&](std::span<const uint8_t> m, uint32_t) { pcap.addUdp(m); });

    flow::FlowRecord tcp4{};
    tcp4.key.ifindex = 3;
    tcp4.key.family = 4;
    tcp4.key.protocol = 6;
    tcp4.key.vlan = 100;
    const uint8_t a4[4] = {192, 0, 2, 10};
    const uint8_t b4[4] = {198, 51, 100, 20};
    std::memcpy(tcp4.key.src, a4, 4);
    std::memcpy(tcp4.key.dst, b4, 4);
    tcp4.key.src_port = htons(49152);
    tcp4.key.dst_port = htons(443);
    tcp4.packets = 10;
    tcp4.octets = 5000;
    tcp4.start_ms = 1700000000000;
    tcp4.end_ms = 1700000001500;
    tcp4.tcp_flags = 0x12;
    tcp4.min_ttl = 63;
    tcp4.max_ttl = 64;
    tcp4.reason = flow::EndReason::EndOfFlow;

    flow::FlowRecord udp6{};
    udp6.key.ifindex = 7;
    udp6.key.direction = FLOW_DIR_EGRESS;
    udp6.key.family = 6;
    udp6.key.protocol = 17;
    const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const uint8_t b6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::memcpy(udp6.key.src, a6, 16);
    std::memcpy(udp6.key.dst, b6, 16);
    udp6.key.src_port = htons(53000);
    udp6.key.dst_port = htons(53);
    udp6.packets = 2;
    udp6.octets = 180;
    udp6.start_ms = 1700000000500;
    udp6.end_ms = 1700000001000;
    udp6.reason = flow::EndReason::IdleTimeout;

    flow::FlowRecord icmp4 = tcp4;
    icmp4.key.protocol = 1;
    icmp4.key.vlan = 0;
    icmp4.key.src_port = 0;
    const uint8_t type_code[2] = {3, 1};
    std::memcpy(&icmp4.key.dst_port, type_code, 2);
    icmp4.tcp_flags = 0;

    ReliabilityStats stats;
    stats.not_sent_flows = 7;
    stats.ignored_packets = 3;

    session.begin(1700000002000);
    session.flush(); // packet 1: flow templates, domain 5
    session.add(tcp4);
    session.flush();               // packet 2
    session.addReliability(stats); // packet 3: options templates and report, domain 0
    session.add(udp6);
    session.flush(); // packet 4
    session.add(icmp4);
    session.flush(); // packet 5

    char path[] = "/tmp/l3af-ipfix-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    const Bytes& file = pcap.bytes();
    ASSERT_EQ(::write(fd, file.data(), file.size()), static_cast<ssize_t>(file.size()));
    ::close(fd);

    const std::string fields =
        "-e cflow.od_id -e cflow.sequence -e cflow.srcaddr -e cflow.dstaddr -e cflow.srcaddrv6 "
        "-e cflow.dstaddrv6 -e cflow.srcport -e cflow.dstport -e cflow.protocol -e cflow.octets "
        "-e cflow.packets -e cflow.inputint -e cflow.outputint -e cflow.direction "
        "-e cflow.flow_end_reason -e cflow.icmp_type_code_ipv4 -e cflow.vlanid -e cflow.ttl_min "
        "-e cflow.ttl_max -e cflow.tcpflags -e cflow.notsent_flows -e cflow.ignore_packets";
    const std::string tshark = "tshark -n -r " + std::string(path);
    const auto out = run(tshark + " -T fields -E separator='|' " + fields + " 2>/dev/null");
    // Anything the dissector found wrong shows as a malformed-packet marker or
    // an expert item of warning severity or worse.
    const auto problems = run(tshark + " -Y '_ws.malformed || _ws.expert.severity >= \"Warning\"'" +
                              " -V 2>/dev/null");
    const auto all = run(tshark + " -Y 'cflow' 2>/dev/null"); // the filter mechanism works
    ::unlink(path);

    ASSERT_TRUE(out && problems && all) << "tshark failed";
    EXPECT_EQ(lines(*all).size(), 5u);
    EXPECT_EQ(*problems, "");
    const auto got = lines(*out);
    ASSERT_EQ(got.size(), 5u) << *out;
    // od|seq|src|dst|src6|dst6|sport|dport|proto|octets|packets|in|out|dir|reason|icmp|vlan|
    // ttlmin|ttlmax|tcpflags|notsent|ignored
    EXPECT_EQ(got[0], "5|0||||||||||||||||||||");
    EXPECT_EQ(got[1], "5|0|192.0.2.10|198.51.100.20|||49152|443|6|5000|10|3|0|0|3|0x0000|100|63|64|"
                      "0x0012||");
    // The report, in domain 0 with its own sequence: od_id twice, from the
    // header (0) and from the metering record's scope (the domain metered).
    EXPECT_EQ(got[2], "0,5|0|||||||||||||||||||7|3");
    // Domain 5's sequence counts its flow records only.
    EXPECT_EQ(got[3], "5|1|||2001:db8::1|2001:db8::2|53000|53|17|180|2|0|7|1|1||0|0|0|0x0000||");
    EXPECT_EQ(got[4], "5|2|192.0.2.10|198.51.100.20|||0|0|1|5000|10|3|0|0|3|0x0301|0|63|64|"
                      "0x0000||");
}

} // namespace
} // namespace l3af::ipfix
