// gue_encap.bpf.c under BPF_PROG_TEST_RUN: a marked clone in, the exact
// bytes of the GUE packet out (the test run shows the packet that
// bpf_redirect_neigh() would send, with the old Ethernet header, which the
// kernel replaces on the way out). Checksums are checked by code of the
// test's own and, when python3-scapy is there, by scapy.

#include "mirror_harness.h"

#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace l3af::test {
namespace {

constexpr char kLocal[] = "203.0.113.5";
constexpr char kRemote[] = "198.51.100.7";
constexpr uint16_t kFixedPort = 40000;

constexpr char kA4[] = "192.0.2.1";
constexpr char kB4[] = "192.0.2.2";
constexpr char kA6[] = "2001:db8::1";
constexpr char kB6[] = "2001:db8::2";

mirror::GueSettings settings(uint16_t source_port, bool checksum, uint32_t device = 1) {
    config::Tunnel tunnel;
    tunnel.name = "test";
    tunnel.remote = kRemote;
    tunnel.remote_port = 6080;
    if (source_port != 0)
        tunnel.source_port = source_port;
    tunnel.checksum = checksum;
    tunnel.ttl = 17;
    Result<mirror::GueSettings> out = mirror::gueSettings(tunnel, kLocal, device);
    EXPECT_TRUE(out.has_value());
    return out.value_or(mirror::GueSettings{});
}

void put16(Bytes& out, uint16_t v) {
    out.push_back(uint8_t(v >> 8));
    out.push_back(uint8_t(v));
}
uint16_t get16(const Bytes& b, size_t at) {
    return uint16_t(b[at] << 8 | b[at + 1]);
}

// What the program must produce for `frame` (whose L2 header, tags
// included, is `l2_len` bytes), with the IP identification and UDP source
// port it chose, which the caller checks on their own.
Bytes expectedGue(const Bytes& frame, size_t l2_len, uint32_t snaplen, const mirror::GueSettings& s,
                  uint16_t ip_id, uint16_t source_port) {
    Bytes inner(frame.begin() + long(l2_len), frame.end());
    if (snaplen != 0 && frame.size() > snaplen)
        inner.resize(snaplen - l2_len);
    uint8_t ip_version = inner[0] >> 4;

    Bytes out(frame.begin(), frame.begin() + 12); // the MAC addresses
    put16(out, ETH_P_IP);
    size_t ip_at = out.size();
    out.insert(out.end(), {0x45, 0});
    put16(out, uint16_t(20 + 8 + 4 + inner.size()));
    put16(out, ip_id);
    put16(out, 0); // no DF, no fragment
    out.push_back(s.ttl);
    out.push_back(IPPROTO_UDP);
    put16(out, 0);
    const auto* local = reinterpret_cast<const uint8_t*>(&s.local_addr);
    const auto* remote = reinterpret_cast<const uint8_t*>(&s.remote_addr);
    out.insert(out.end(), local, local + 4);
    out.insert(out.end(), remote, remote + 4);
    uint16_t ip_sum = foldComplement(onesSum(out.data() + ip_at, 20));
    out[ip_at + 10] = uint8_t(ip_sum >> 8);
    out[ip_at + 11] = uint8_t(ip_sum);

    size_t udp_at = out.size();
    put16(out, source_port);
    put16(out, s.remote_port);
    put16(out, uint16_t(8 + 4 + inner.size()));
    put16(out, 0);
    out.insert(out.end(), {0, uint8_t(ip_version == 4 ? IPPROTO_IPIP : IPPROTO_IPV6), 0, 0});
    out.insert(out.end(), inner.begin(), inner.end());
    if (s.checksum) {
        uint16_t sum = udpChecksum(local, remote, out.data() + udp_at, out.size() - udp_at);
        out[udp_at + 6] = uint8_t(sum >> 8);
        out[udp_at + 7] = uint8_t(sum);
    }
    return out;
}

// The flow hash of gue_abi.h over a 5-tuple, as source_port = "flow" uses it.
uint16_t flowPort(int af, const char* src, const char* dst, uint8_t protocol, uint16_t sport,
                  uint16_t dport) {
    uint8_t s[16] = {};
    uint8_t d[16] = {};
    inet_pton(af, src, s);
    inet_pton(af, dst, d);
    int words = af == AF_INET6 ? 4 : 1;
    uint32_t hash = 0;
    for (const uint8_t* address : {s, d})
        for (int i = 0; i < words; i++) {
            uint32_t word = uint32_t(address[4 * i]) << 24 | uint32_t(address[4 * i + 1]) << 16 |
                            uint32_t(address[4 * i + 2]) << 8 | address[4 * i + 3];
            hash = gue_hash_mix(hash, word);
        }
    hash = gue_hash_mix(hash, uint32_t(sport) << 16 | dport);
    hash = gue_hash_mix(hash, protocol);
    return uint16_t(GUE_FLOW_PORT_BASE + (gue_hash_final(hash) & GUE_FLOW_PORT_MASK));
}

class GueEncapTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: BPF_PROG_TEST_RUN, network namespaces";
        netns_ = std::make_unique<ScopedNetns>();
        ASSERT_TRUE(netns_->entered()) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    }
    void TearDown() override { netns_.reset(); }

    std::unique_ptr<GueProgram> load(const mirror::GueSettings& s) {
        std::string error;
        auto program = GueProgram::load(s, error);
        EXPECT_TRUE(program) << error;
        return program;
    }

    // Encapsulates `frame` and checks every byte of the result.
    void expectEncapsulated(const GueProgram& program, const mirror::GueSettings& s,
                            const Bytes& frame, size_t l2_len, uint32_t snaplen,
                            std::optional<uint16_t> source_port = std::nullopt) {
        RunOutcome outcome = program.send(frame, mirror::gueMark(snaplen));
        ASSERT_EQ(outcome.error, 0) << std::strerror(outcome.error);
        ASSERT_EQ(outcome.verdict, TC_ACT_REDIRECT) << "stats: failed " << program.stats().failed;
        EXPECT_EQ(outcome.mark_out, GUE_MARK_SENT)
            << "the packet must leave with l3afd's mark, not the clone's";
        ASSERT_GE(outcome.data_out.size(), 14u + 32u);
        uint16_t ip_id = get16(outcome.data_out, 14 + 4);
        uint16_t sport = get16(outcome.data_out, 14 + 20);
        EXPECT_EQ(sport, source_port.value_or(s.source_port));
        EXPECT_EQ(outcome.data_out, expectedGue(frame, l2_len, snaplen, s, ip_id, sport));
        last_ = outcome.data_out;
    }

    std::unique_ptr<ScopedNetns> netns_;
    Bytes last_;
};

TEST_F(GueEncapTest, Ipv4InnerPacketFollowsAGueHeaderWithProtocol4) {
    mirror::GueSettings s = settings(kFixedPort, false);
    auto program = load(s);
    ASSERT_TRUE(program);
    expectEncapsulated(*program, s,
                       PacketBuilder().ipv4(kA4, kB4).udp(5000, 53).payload(100).build(), 14, 0);
    expectEncapsulated(*program, s,
                       PacketBuilder().ipv4(kA4, kB4).ipv4Options(8).tcp(1, 2).payload(1).build(),
                       14, 0);
    gue_stats stats = program->stats();
    EXPECT_EQ(stats.sent, 2u);
    EXPECT_EQ(stats.truncated, 0u);
    EXPECT_EQ(stats.failed, 0u);
}

TEST_F(GueEncapTest, Ipv6InnerPacketFollowsAGueHeaderWithProtocol41) {
    mirror::GueSettings s = settings(kFixedPort, false);
    auto program = load(s);
    ASSERT_TRUE(program);
    expectEncapsulated(
        *program, s, PacketBuilder().ipv6(kA6, kB6).hopByHop().tcp(40000, 443).payload(77).build(),
        14, 0);
    EXPECT_EQ(last_[14 + 28 + 1], IPPROTO_IPV6);
    EXPECT_EQ(program->stats().sent_bytes, last_.size() - 14);
}

TEST_F(GueEncapTest, SnaplenCutsTheFrameItCountsFromTheEthernetHeader) {
    mirror::GueSettings s = settings(kFixedPort, false);
    auto program = load(s);
    ASSERT_TRUE(program);
    Bytes big = PacketBuilder().ipv4(kA4, kB4).udp(5000, 53).payload(300).build();
    expectEncapsulated(*program, s, big, 14, 128);
    EXPECT_EQ(last_.size(), 14u + 32u + (128u - 14u));
    // A frame within the snaplen is whole.
    expectEncapsulated(*program, s, big, 14, uint32_t(big.size()));
    expectEncapsulated(*program, s, PacketBuilder().ipv6(kA6, kB6).udp(1, 2).payload(10).build(),
                       14, 64 + 32);
    EXPECT_EQ(program->stats().truncated, 1u);
}

TEST_F(GueEncapTest, VlanTagsGoAndCountInTheSnaplen) {
    mirror::GueSettings s = settings(kFixedPort, false);
    auto program = load(s);
    ASSERT_TRUE(program);
    expectEncapsulated(*program, s,
                       PacketBuilder().vlan(100).ipv4(kA4, kB4).udp(5000, 53).payload(60).build(),
                       18, 0);
    Bytes qinq = PacketBuilder()
                     .vlan(200, ETH_P_8021AD)
                     .vlan(100)
                     .ipv6(kA6, kB6)
                     .tcp(40000, 443)
                     .payload(200)
                     .build();
    expectEncapsulated(*program, s, qinq, 22, 0);
    expectEncapsulated(*program, s, qinq, 22, 100);
    EXPECT_EQ(last_.size(), 14u + 32u + (100u - 22u));
}

TEST_F(GueEncapTest, UdpChecksumCoversPseudoHeaderHeadersAndTheWholeInnerPacket) {
    mirror::GueSettings s = settings(kFixedPort, true);
    auto program = load(s);
    ASSERT_TRUE(program);
    // Lengths around the 512-byte chunks the program sums in, odd and even.
    for (size_t payload : {0u, 1u, 2u, 3u, 451u, 452u, 453u, 1000u, 1400u, 3000u}) {
        SCOPED_TRACE("payload " + std::to_string(payload));
        expectEncapsulated(*program, s,
                           PacketBuilder().ipv4(kA4, kB4).udp(5000, 53).payload(payload).build(),
                           14, 0);
        // A receiver's check: the sum over pseudo-header and datagram is all ones.
        size_t udp_len = last_.size() - 34;
        uint8_t pseudo[12] = {last_[26],
                              last_[27],
                              last_[28],
                              last_[29],
                              last_[30],
                              last_[31],
                              last_[32],
                              last_[33],
                              0,
                              17,
                              uint8_t(udp_len >> 8),
                              uint8_t(udp_len)};
        uint32_t sum = onesSum(last_.data() + 34, udp_len, onesSum(pseudo, 12));
        EXPECT_EQ(foldComplement(sum), 0) << "the datagram does not sum to all ones";
        EXPECT_NE(get16(last_, 34 + 6), 0) << "checksum = true sends a checksum";
    }
    expectEncapsulated(*program, s, PacketBuilder().ipv6(kA6, kB6).tcp(1, 2).payload(999).build(),
                       14, 0);
    expectEncapsulated(*program, s, PacketBuilder().ipv6(kA6, kB6).tcp(1, 2).payload(999).build(),
                       14, 333);
}

TEST_F(GueEncapTest, ScapyAgreesWithTheHeadersAndChecksums) {
    if (!sh("/usr/bin/python3 -c 'import scapy.all'"))
        GTEST_SKIP() << "python3-scapy is not installed";
    mirror::GueSettings s = settings(kFixedPort, true);
    auto program = load(s);
    ASSERT_TRUE(program);
    Bytes inner_frame = PacketBuilder().ipv4(kA4, kB4).tcp(40000, 443, kSyn).payload(777).build();
    expectEncapsulated(*program, s, inner_frame, 14, 0);

    char path[] = "/tmp/l3af-gue-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, last_.data(), last_.size()), ssize_t(last_.size()));
    close(fd);
    // Scapy recomputes both checksums from scratch and decodes the inner
    // packet from the bytes after the 4-byte GUE header.
    std::string script =
        "from scapy.all import Ether, IP, UDP, TCP\n"
        "data = open('" +
        std::string(path) +
        "', 'rb').read()\n"
        "p = Ether(data)\n"
        "ip, udp = p[IP], p[UDP]\n"
        "fresh = Ether(bytes(p))\n"
        "del fresh[IP].chksum\n"
        "del fresh[UDP].chksum\n"
        "fresh = Ether(bytes(fresh))\n"
        "assert fresh[IP].chksum == ip.chksum, 'ip checksum'\n"
        "assert fresh[UDP].chksum == udp.chksum, 'udp checksum'\n"
        "assert udp.dport == 6080 and udp.len == len(bytes(udp)), 'udp header'\n"
        "gue = bytes(udp.payload)[:4]\n"
        "assert gue == bytes([0, 4, 0, 0]), gue\n"
        "inner = IP(bytes(udp.payload)[4:])\n"
        "assert inner[TCP].dport == 443 and inner[TCP].flags == 'S', inner.summary()\n";
    std::string command = "/usr/bin/python3 -c \"$(cat <<'EOF'\n" + script + "EOF\n)\"";
    int status = std::system(command.c_str());
    unlink(path);
    EXPECT_EQ(status, 0) << "scapy disagrees (see its assertion above)";
}

TEST_F(GueEncapTest, FlowSourcePortHashesTheInnerFiveTuple) {
    mirror::GueSettings s = settings(0, false);
    auto program = load(s);
    ASSERT_TRUE(program);
    std::set<uint16_t> seen;
    for (uint16_t i = 0; i < 64; i++) {
        uint16_t sport = uint16_t(30000 + i);
        uint16_t expected = flowPort(AF_INET, kA4, kB4, IPPROTO_TCP, sport, 443);
        EXPECT_GE(expected, 49152);
        // The same 5-tuple gives the same port whatever the rest of the packet.
        for (size_t payload : {0u, 100u}) {
            expectEncapsulated(
                *program, s,
                PacketBuilder().ipv4(kA4, kB4).tcp(sport, 443).payload(payload).build(), 14, 0,
                expected);
        }
        seen.insert(expected);
    }
    EXPECT_GT(seen.size(), 60u) << "64 flows should spread over distinct ports";

    // IPv6, and a packet without ports (hashed with ports 0).
    expectEncapsulated(*program, s, PacketBuilder().ipv6(kA6, kB6).udp(7, 9).build(), 14, 0,
                       flowPort(AF_INET6, kA6, kB6, IPPROTO_UDP, 7, 9));
    expectEncapsulated(*program, s,
                       PacketBuilder()
                           .vlan(5)
                           .ipv4(kA4, kB4)
                           .fragment(64, false)
                           .protocol(IPPROTO_UDP)
                           .payload(30)
                           .build(),
                       18, 0, flowPort(AF_INET, kA4, kB4, IPPROTO_UDP, 0, 0));
}

TEST_F(GueEncapTest, FramesWithoutTheMirrorsMarkAreDropped) {
    mirror::GueSettings s = settings(kFixedPort, false);
    auto program = load(s);
    ASSERT_TRUE(program);
    Bytes frame = PacketBuilder().ipv4(kA4, kB4).udp(1, 2).build();
    // GUE_MARK_SENT: one of the tunnels' own packets, routed back.
    for (uint32_t mark : {0u, 0x12345678u, GUE_MARK_SNAPLEN_MASK, GUE_MARK_SENT}) {
        RunOutcome outcome = program->send(frame, mark);
        ASSERT_EQ(outcome.error, 0);
        EXPECT_EQ(outcome.verdict, TC_ACT_SHOT) << std::hex << mark;
    }
    RunOutcome arp =
        program->send(PacketBuilder().ethertype(ETH_P_ARP).payload(28).build(), mirror::gueMark(0));
    EXPECT_EQ(arp.verdict, TC_ACT_SHOT);
    gue_stats stats = program->stats();
    EXPECT_EQ(stats.foreign, 4u);
    EXPECT_EQ(stats.not_ip, 1u);
    EXPECT_EQ(stats.sent, 0u);
}

TEST_F(GueEncapTest, PacketsOverTheDeviceMtuAreDroppedAndCounted) {
    ASSERT_TRUE(sh("ip link add gue-dev mtu 1500 type veth peer name gue-peer"));
    mirror::GueSettings s = settings(kFixedPort, false, uint32_t(ifindex("gue-dev")));
    auto program = load(s);
    ASSERT_TRUE(program);
    // 1468 bytes of IP + 32 of encapsulation fill the 1500-byte MTU exactly.
    Bytes fits = PacketBuilder().ipv4(kA4, kB4).udp(1, 2).payload(1468 - 28).build();
    Bytes over = PacketBuilder().ipv4(kA4, kB4).udp(1, 2).payload(1469 - 28).build();
    expectEncapsulated(*program, s, fits, 14, 0);
    RunOutcome outcome = program->send(over, mirror::gueMark(0));
    ASSERT_EQ(outcome.error, 0);
    EXPECT_EQ(outcome.verdict, TC_ACT_SHOT);
    // With a snaplen, the same frame fits.
    expectEncapsulated(*program, s, over, 14, 1000);
    gue_stats stats = program->stats();
    EXPECT_EQ(stats.too_big, 1u);
    EXPECT_EQ(stats.sent, 2u);
}

} // namespace
} // namespace l3af::test
