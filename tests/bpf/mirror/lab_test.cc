// The mirror's whole path on real hooks, in network namespaces of the
// test's own:
//
//   w-tx ──veth── w-rx [mirror on TCX ingress or egress]
//                   │ bpf_clone_redirect
//                 l3t-lab ──veth── l3t-peer [gue_encap on TCX ingress]
//                                     │ bpf_redirect_neigh
//                                   dev0 10.9.0.1 ──veth── dev0p 10.9.0.2 (analyzer namespace)
//
// The analyzer gets UDP datagrams on port 6080 whose payload after the
// 4-byte GUE header is byte for byte the IP packet the mirror saw.
// l3t-lab is set up as the daemon sets up a tunnel's veth: no IPv6, and no
// transmit offloads, so that clones reach the encapsulation as the wire
// carries them: whole checksums, no GSO super-packets.

#include "matchers.h"
#include "mirror_harness.h"

#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace l3af::test {
namespace {

using config::MirrorRule;
using namespace std::chrono_literals;

constexpr char kDeviceAddress[] = "10.9.0.1";
constexpr char kAnalyzerAddress[] = "10.9.0.2";
constexpr uint16_t kGuePort = 6080;

MirrorRule rule(std::optional<uint8_t> protocol, std::optional<config::PortRange> dst_port) {
    MirrorRule r;
    r.protocol = protocol;
    r.dst_port = dst_port;
    return r;
}

uint16_t get16(const Bytes& b, size_t at) {
    return uint16_t(b[at] << 8 | b[at + 1]);
}

// The IP packet inside an Ethernet frame, after its VLAN tags.
Bytes ipPacketOf(const Bytes& frame) {
    size_t at = 12;
    while (get16(frame, at) == ETH_P_8021Q || get16(frame, at) == ETH_P_8021AD)
        at += 4;
    return Bytes(frame.begin() + long(at) + 2, frame.end());
}

// One GUE datagram as the analyzer's capture saw it.
struct GuePacket {
    Bytes frame;
    uint16_t udp_check = 0;
    bool checksum_ok = false; // the UDP checksum verifies (or is 0)
    uint8_t gue_proto = 0;
    Bytes inner;
};

std::optional<GuePacket> parseGue(const Bytes& frame) {
    if (frame.size() < 14 + 32 || get16(frame, 12) != ETH_P_IP || frame[14 + 9] != IPPROTO_UDP ||
        get16(frame, 14 + 22) != kGuePort)
        return std::nullopt;
    GuePacket p;
    p.frame = frame;
    size_t udp_len = get16(frame, 14 + 24);
    if (14 + 20 + udp_len != frame.size())
        return std::nullopt;
    p.udp_check = get16(frame, 14 + 26);
    p.checksum_ok = p.udp_check == 0 || udpChecksum(&frame[14 + 12], &frame[14 + 16], &frame[34],
                                                    udp_len) == p.udp_check;
    p.gue_proto = frame[34 + 8 + 1];
    if (frame[34 + 8] != 0 || get16(frame, 34 + 10) != 0)
        return std::nullopt;
    p.inner.assign(frame.begin() + 34 + 12, frame.end());
    return p;
}

class MirrorLab : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: network namespaces, veth, TCX";
        if (!sh("command -v ethtool"))
            GTEST_SKIP() << "needs ethtool to set the tunnel veth's offloads";
        netns_ = std::make_unique<ScopedNetns>();
        ASSERT_TRUE(netns_->entered()) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
        ASSERT_TRUE(quietNewDevices());
        analyzer_ = std::make_unique<SideNetns>();
        ASSERT_TRUE(analyzer_->ok());
        ASSERT_TRUE(analyzer_->inside([] { return quietNewDevices(); }));

        ASSERT_TRUE(sh("ip link add w-tx mtu 9000 type veth peer name w-rx mtu 9000"));
        ASSERT_TRUE(sh("ip link add l3t-lab mtu 9000 type veth peer name l3t-peer mtu 9000"));
        ASSERT_TRUE(sh("ethtool -K l3t-lab tx off"));
        ASSERT_TRUE(sh("ip link add dev0 mtu 9000 type veth peer name dev0p mtu 9000"));
        ASSERT_TRUE(sh("ip link set dev0p netns " + analyzer_->path()));
        ASSERT_TRUE(sh("ip addr add 10.9.0.1/24 dev dev0"));
        for (const char* dev : {"w-tx", "w-rx", "l3t-lab", "l3t-peer", "dev0"})
            ASSERT_TRUE(sh(std::string("ip link set ") + dev + " up")) << dev;
        ASSERT_TRUE(analyzer_->inside([] {
            // rx off: the analyzer's stack verifies UDP checksums itself.
            return sh("ip addr add 10.9.0.2/24 dev dev0p && ip link set dev0p up && "
                      "ip link set lo up && ethtool -K dev0p rx off");
        }));
    }

    void TearDown() override {
        links_.clear();
        mirror_.reset();
        gue_.reset();
        analyzer_.reset();
        netns_.reset();
    }

    void startMirror(const std::vector<MirrorRule>& rules, uint32_t snaplen, const char* watched,
                     bpf_attach_type hook) {
        std::string error;
        mirror_ = MirrorProgram::load(
            rules, {.tunnel_ifindex = uint32_t(ifindex("l3t-lab")), .snaplen = snaplen}, error);
        ASSERT_TRUE(mirror_) << error;
        links_.push_back(mirror_->attach(ifindex(watched), hook));
        ASSERT_TRUE(links_.back()) << "attach mirror: " << std::strerror(errno);
    }

    void startEncap(bool checksum) {
        config::Tunnel tunnel;
        tunnel.name = "lab";
        tunnel.remote = kAnalyzerAddress;
        tunnel.checksum = checksum;
        Result<mirror::GueSettings> settings =
            mirror::gueSettings(tunnel, kDeviceAddress, uint32_t(ifindex("dev0")));
        ASSERT_TRUE(settings.has_value());
        std::string error;
        gue_ = GueProgram::load(*settings, error);
        ASSERT_TRUE(gue_) << error;
        links_.push_back(gue_->attachIngress(ifindex("l3t-peer")));
        ASSERT_TRUE(links_.back()) << "attach gue_encap: " << std::strerror(errno);
    }

    // The analyzer's UDP socket on the GUE port.
    UniqueFd gueSocket() {
        return analyzer_->inside([] {
            UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(kGuePort);
            int big = 8 << 20;
            ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
            if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
                return UniqueFd();
            return fd;
        });
    }

    static std::optional<Bytes> receive(int fd, std::chrono::milliseconds timeout) {
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, int(timeout.count())) <= 0)
            return std::nullopt;
        Bytes payload(65536);
        ssize_t n = ::recv(fd, payload.data(), payload.size(), 0);
        if (n < 0)
            return std::nullopt;
        payload.resize(size_t(n));
        return payload;
    }

    // A counter of the analyzer's /proc/net/snmp, e.g. ("Udp", "InCsumErrors").
    uint64_t analyzerSnmp(const std::string& group, const std::string& name) {
        return analyzer_->inside([&]() -> uint64_t {
            std::ifstream snmp("/proc/net/snmp");
            std::string names, values;
            while (std::getline(snmp, names) && std::getline(snmp, values)) {
                if (names.rfind(group + ":", 0) != 0)
                    continue;
                std::istringstream n(names), v(values);
                std::string key, value;
                while (n >> key && v >> value)
                    if (key == name)
                        return std::stoull(value);
            }
            return 0;
        });
    }

    std::unique_ptr<ScopedNetns> netns_;
    std::unique_ptr<SideNetns> analyzer_;
    std::unique_ptr<MirrorProgram> mirror_;
    std::unique_ptr<GueProgram> gue_;
    std::vector<UniqueFd> links_;
};

// Without the encapsulation: what the mirror hands the tunnel veth, as an
// operator's `tcpdump -i l3t-<name>` shows it.
TEST_F(MirrorLab, ClonesOfAnIngressHookReachTheTunnelVethAsTheyArrived) {
    startMirror({rule(IPPROTO_UDP, port(53))}, 0, "w-rx", BPF_TCX_INGRESS);
    Capture tunnel(ifindex("l3t-peer"));
    Capture watched(ifindex("w-rx"));
    ASSERT_TRUE(tunnel.ok() && watched.ok());

    Bytes plain = PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").udp(1000, 53).payload(40).build();
    Bytes tagged =
        PacketBuilder().vlan(300, ETH_P_8021Q, 5).ipv4("192.0.2.1", "192.0.2.2").udp(1, 53).build();
    Bytes miss = PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").udp(1000, 54).build();
    for (const Bytes* frame : {&plain, &miss, &tagged})
        ASSERT_TRUE(sendFrame(ifindex("w-tx"), *frame));

    std::optional<Captured> first = tunnel.next(2s);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->frame, plain);
    EXPECT_FALSE(first->vlan_tci);
    // On ingress the stack took the tag out of the frame; the clone keeps it
    // beside the frame, where a capture finds it.
    std::optional<Captured> second = tunnel.next(2s);
    ASSERT_TRUE(second);
    EXPECT_EQ(ipPacketOf(second->frame), ipPacketOf(tagged));
    ASSERT_TRUE(second->vlan_tci);
    EXPECT_EQ(*second->vlan_tci, 5 << 13 | 300);
    EXPECT_FALSE(tunnel.next(300ms)) << "the non-matching frame was mirrored";

    // The originals all went on.
    int originals = 0;
    while (watched.next(300ms))
        originals++;
    EXPECT_EQ(originals, 3);
    mirror_stats stats = mirror_->stats(MIRROR_STATS_INGRESS);
    EXPECT_EQ(stats.seen, 3u);
    EXPECT_EQ(stats.matched, 2u);
    EXPECT_EQ(stats.clone_failed, 0u);
}

struct EndToEnd {
    std::string name;
    bool checksum;
    uint32_t snaplen;
};

void PrintTo(const EndToEnd& e, std::ostream* os) {
    *os << e.name;
}

class MirrorLabEndToEnd : public MirrorLab, public ::testing::WithParamInterface<EndToEnd> {};

// Frames of every kind cross the watched hook; the analyzer receives each
// matching one as a GUE datagram holding the IP packet (cut to the snaplen).
TEST_P(MirrorLabEndToEnd, TheAnalyzerReceivesTheIpPacketsBehindAGueHeader) {
    const EndToEnd& param = GetParam();
    startMirror({rule(std::nullopt, port(7777)), rule(IPPROTO_ICMP, std::nullopt),
                 rule(IPPROTO_ICMPV6, std::nullopt)},
                param.snaplen, "w-rx", BPF_TCX_INGRESS);
    startEncap(param.checksum);
    UniqueFd socket = gueSocket();
    ASSERT_TRUE(socket);
    Capture wire = analyzer_->inside([] { return Capture(ifindex("dev0p")); });
    ASSERT_TRUE(wire.ok());

    std::vector<Bytes> frames = {
        PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").udp(1000, 7777).payload(100).build(),
        PacketBuilder()
            .ipv6("2001:db8::1", "2001:db8::2")
            .hopByHop()
            .tcp(1, 7777)
            .payload(1)
            .build(),
        PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").icmp(8, 0).payload(56).build(),
        PacketBuilder().vlan(300).ipv4("192.0.2.1", "192.0.2.2").tcp(5, 7777).payload(1400).build(),
        PacketBuilder()
            .vlan(200, ETH_P_8021AD)
            .vlan(100)
            .ipv6("2001:db8::1", "2001:db8::2")
            .icmp(128, 0)
            .payload(3)
            .build(),
        PacketBuilder()
            .ipv4("192.0.2.1", "192.0.2.2")
            .ipv4Options(8)
            .udp(1, 7777)
            .payload(8000)
            .build(),
    };
    Bytes miss = PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").udp(1000, 7778).build();
    uint64_t csum_errors_before = analyzerSnmp("Udp", "InCsumErrors");

    for (const Bytes& frame : frames) {
        ASSERT_TRUE(sendFrame(ifindex("w-tx"), miss));
        ASSERT_TRUE(sendFrame(ifindex("w-tx"), frame));
        SCOPED_TRACE("frame of " + std::to_string(frame.size()) + " bytes");

        Bytes ip = ipPacketOf(frame);
        size_t l2_len = frame.size() - ip.size();
        if (param.snaplen != 0 && frame.size() > param.snaplen)
            ip.resize(param.snaplen - l2_len);
        uint8_t gue_proto = (ip[0] >> 4) == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;

        // What the analyzer's stack hands a UDP socket: GUE header + packet.
        std::optional<Bytes> payload = receive(socket.get(), 3s);
        ASSERT_TRUE(payload) << "no datagram reached the analyzer";
        Bytes expected = {0, gue_proto, 0, 0};
        expected.insert(expected.end(), ip.begin(), ip.end());
        EXPECT_EQ(*payload, expected);

        // What the wire carried: the outer headers.
        std::optional<GuePacket> gue;
        while (!gue) {
            std::optional<Captured> captured = wire.next(2s);
            ASSERT_TRUE(captured) << "the capture missed the datagram";
            gue = parseGue(captured->frame);
        }
        EXPECT_EQ(gue->inner, ip);
        EXPECT_EQ(gue->gue_proto, gue_proto);
        EXPECT_TRUE(gue->checksum_ok);
        EXPECT_EQ(gue->udp_check != 0, param.checksum);
        EXPECT_GE(get16(gue->frame, 14 + 20), 49152) << "source port = \"flow\"";
    }
    EXPECT_FALSE(receive(socket.get(), 200ms)) << "a frame that matches nothing was mirrored";
    EXPECT_EQ(analyzerSnmp("Udp", "InCsumErrors"), csum_errors_before);

    gue_stats stats = gue_->stats();
    EXPECT_EQ(stats.sent, frames.size());
    EXPECT_EQ(stats.failed + stats.too_big + stats.foreign + stats.not_ip, 0u);
    EXPECT_EQ(mirror_->stats(MIRROR_STATS_INGRESS).matched, frames.size());
}

INSTANTIATE_TEST_SUITE_P(Tunnels, MirrorLabEndToEnd,
                         ::testing::Values(EndToEnd{"Plain", false, 0},
                                           EndToEnd{"Checksum", true, 0},
                                           EndToEnd{"Snaplen", false, 128},
                                           EndToEnd{"ChecksumAndSnaplen", true, 200}),
                         [](const auto& info) { return info.param.name; });

// --- The tunnel's own packets ----------------------------------------------------

// "Mirror everything on the device the tunnel leaves by": a second mirror,
// matching everything on dev0's egress, sees each GUE packet the tunnel
// sends. It must not mirror them, yet mirror the device's other traffic.
TEST_F(MirrorLab, AMirrorOfTheTunnelsDeviceLetsTheTunnelsPacketsPass) {
    startMirror({rule(IPPROTO_UDP, port(7777))}, 0, "w-rx", BPF_TCX_INGRESS);
    startEncap(false);
    std::string error;
    auto everything = MirrorProgram::load({MirrorRule{}},
                                          {.tunnel_ifindex = uint32_t(ifindex("l3t-lab"))}, error);
    ASSERT_TRUE(everything) << error;
    links_.push_back(everything->attach(ifindex("dev0"), BPF_TCX_EGRESS));
    ASSERT_TRUE(links_.back()) << "attach: " << std::strerror(errno);
    UniqueFd socket = gueSocket();
    ASSERT_TRUE(socket);
    // The device's own traffic: a datagram from 10.9.0.1 to the analyzer.
    UniqueFd local(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(7000);
    inet_pton(AF_INET, kAnalyzerAddress, &to.sin_addr);

    constexpr size_t kFrames = 20;
    std::vector<Bytes> expected;
    for (size_t i = 0; i < kFrames; i++) {
        Bytes frame = PacketBuilder()
                          .ipv4("192.0.2.1", "192.0.2.2")
                          .udp(uint16_t(1000 + i), 7777)
                          .payload(100 + i)
                          .build();
        ASSERT_TRUE(sendFrame(ifindex("w-tx"), frame));
        expected.push_back(ipPacketOf(frame));
    }
    const char hello[] = "hello";
    ASSERT_EQ(::sendto(local.get(), hello, sizeof(hello), 0, reinterpret_cast<sockaddr*>(&to),
                       sizeof(to)),
              ssize_t(sizeof(hello)));

    // Each client frame arrives once, as itself; the datagram once, as
    // itself; never a GUE packet inside another.
    std::vector<Bytes> inner;
    while (std::optional<Bytes> payload = receive(socket.get(), 1s)) {
        ASSERT_GE(payload->size(), 4u + 28u);
        inner.emplace_back(payload->begin() + 4, payload->end());
    }
    ASSERT_EQ(inner.size(), kFrames + 1);
    size_t clients = 0;
    for (const Bytes& ip : inner) {
        ASSERT_EQ(ip[9], IPPROTO_UDP);
        EXPECT_NE(get16(ip, 22), kGuePort) << "a GUE packet was mirrored again";
        if (get16(ip, 22) == 7777)
            EXPECT_EQ(ip, expected.at(clients++));
        else
            EXPECT_EQ(get16(ip, 22), 7000);
    }
    EXPECT_EQ(clients, kFrames);

    // Mirrored again, a GUE packet would come back to the encapsulation,
    // which the kernel refuses to wrap twice: it would count as failed.
    gue_stats sent = gue_->stats();
    EXPECT_EQ(sent.sent, kFrames + 1);
    EXPECT_EQ(sent.failed, 0u);
    mirror_stats stats = everything->stats(MIRROR_STATS_EGRESS);
    EXPECT_EQ(stats.own_tunnel, kFrames + 1) << "the GUE packets reached dev0's egress hook";
    EXPECT_EQ(stats.matched, 1u) << "the device's own datagram";
}

// --- A real TCP stream, mirrored on egress ---------------------------------------

// The sender's stack hands the watched device GSO super-packets with
// checksums left to the device; the analyzer must still get wire-sized
// packets with correct checksums, inner and outer. That is what the tunnel
// veth's disabled offloads are for: the clone is segmented and checksummed
// as it enters l3t-lab, before the encapsulation (docs/mirror.md).

uint16_t tcpChecksumOk(const Bytes& ip) {
    size_t ihl = (ip[0] & 0x0f) * 4u;
    size_t len = get16(ip, 2);
    uint8_t pseudo[12] = {ip[12],
                          ip[13],
                          ip[14],
                          ip[15],
                          ip[16],
                          ip[17],
                          ip[18],
                          ip[19],
                          0,
                          IPPROTO_TCP,
                          uint8_t((len - ihl) >> 8),
                          uint8_t(len - ihl)};
    return foldComplement(onesSum(ip.data() + ihl, len - ihl, onesSum(pseudo, 12))) == 0;
}

TEST_F(MirrorLab, AnEgressTcpStreamArrivesWholeInWireSizedPackets) {
    SideNetns client;
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(sh("ip link set w-rx netns " + client.path()));
    ASSERT_TRUE(sh("ip link set w-tx mtu 1500 && ip addr add 10.8.0.1/24 dev w-tx && "
                   "ethtool -K w-tx tso on gso on"));
    ASSERT_TRUE(client.inside([] {
        return sh("ip link set w-rx mtu 1500 && ip addr add 10.8.0.2/24 dev w-rx && "
                  "ip link set w-rx up");
    }));

    startMirror({rule(IPPROTO_TCP, port(5001))}, 0, "w-tx", BPF_TCX_EGRESS);
    startEncap(true);
    Capture wire = analyzer_->inside([] { return Capture(ifindex("dev0p")); });
    ASSERT_TRUE(wire.ok());

    UniqueFd listener = client.inside([] {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(5001);
        inet_pton(AF_INET, "10.8.0.2", &addr.sin_addr);
        if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
            ::listen(fd.get(), 1) != 0)
            return UniqueFd();
        return fd;
    });
    ASSERT_TRUE(listener);
    UniqueFd sender(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(5001);
    inet_pton(AF_INET, "10.8.0.2", &to.sin_addr);
    ASSERT_EQ(::connect(sender.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0)
        << std::strerror(errno);
    UniqueFd receiver(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    ASSERT_TRUE(receiver);
    ::fcntl(sender.get(), F_SETFL, O_NONBLOCK);

    constexpr size_t kStream = 512 * 1024;
    Bytes data(kStream);
    for (size_t i = 0; i < kStream; i++)
        data[i] = uint8_t(i * 7 + i / 251);
    size_t sent = 0, received = 0;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (received < kStream && std::chrono::steady_clock::now() < deadline) {
        if (sent < kStream) {
            ssize_t n = ::send(sender.get(), data.data() + sent,
                               std::min<size_t>(65536, kStream - sent), MSG_NOSIGNAL);
            if (n > 0)
                sent += size_t(n);
        }
        char sink[65536];
        ssize_t n = ::recv(receiver.get(), sink, sizeof(sink), 0);
        if (n > 0)
            received += size_t(n);
        else
            std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(received, kStream);

    // Reassemble the stream's payload from what the analyzer got.
    std::map<uint32_t, Bytes> segments; // sequence number -> payload
    size_t datagrams = 0, over_mtu = 0, bad_checksums = 0;
    std::optional<uint32_t> first_seq;
    while (std::optional<Captured> captured = wire.next(500ms)) {
        std::optional<GuePacket> gue = parseGue(captured->frame);
        if (!gue)
            continue;
        datagrams++;
        const Bytes& ip = gue->inner;
        if (ip.size() > 1500)
            over_mtu++;
        size_t ihl = (ip[0] & 0x0f) * 4u;
        bool ip_ok = foldComplement(onesSum(ip.data(), ihl)) == 0;
        if (!gue->checksum_ok || !ip_ok || !tcpChecksumOk(ip))
            bad_checksums++;
        size_t doff = (ip[ihl + 12] >> 4) * 4u;
        uint32_t seq = uint32_t(ip[ihl + 4]) << 24 | uint32_t(ip[ihl + 5]) << 16 |
                       uint32_t(ip[ihl + 6]) << 8 | ip[ihl + 7];
        if ((ip[ihl + 13] & 0x02) != 0) // SYN
            first_seq = seq + 1;
        Bytes payload(ip.begin() + long(ihl + doff), ip.begin() + get16(ip, 2));
        if (!payload.empty())
            segments[seq] = payload;
    }
    ASSERT_TRUE(first_seq) << "the SYN was not mirrored";
    Bytes stream;
    for (const auto& [seq, payload] : segments) {
        uint32_t at = seq - *first_seq;
        if (at > stream.size())
            break; // a hole
        if (at + payload.size() > stream.size())
            stream.insert(stream.end(), payload.begin() + long(stream.size() - at), payload.end());
    }
    EXPECT_GT(datagrams, kStream / 1500);
    EXPECT_EQ(over_mtu, 0u) << "mirrored packets larger than the wire's";
    EXPECT_EQ(bad_checksums, 0u);
    EXPECT_EQ(stream.size(), kStream);
    EXPECT_TRUE(stream == data) << "the mirrored stream differs from the one sent";
    gue_stats stats = gue_->stats();
    EXPECT_EQ(stats.failed, 0u);
    EXPECT_EQ(stats.unchecksummed, 0u);
}

} // namespace
} // namespace l3af::test
