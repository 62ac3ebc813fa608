// The installed example programs under BPF_PROG_TEST_RUN, loaded from the
// very object files meson installs: xdp_ratelimit.bpf.o (verdicts per source,
// its counters, its config map as the daemon's BTF encoder sees it) and
// tc_counter.bpf.o (packets and exact bytes per IP protocol).

#include "object_harness.h"
#include "tc_counter_abi.h"
#include "xdp_ratelimit_abi.h"

#include <arpa/inet.h>
#include <bpf/btf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <time.h>

#include <map>
#include <string>
#include <vector>

namespace l3af::test {
namespace {

constexpr char kA4[] = "192.0.2.1";
constexpr char kB4[] = "192.0.2.2";
constexpr char kDst4[] = "198.51.100.1";
constexpr char kA6[] = "2001:db8::1";
constexpr char kB6[] = "2001:db8::2";
constexpr char kDst6[] = "2001:db8::ff";

// Every rate limit below is 1 packet per second, so the bucket's interval
// is a second and a refill needs one.
constexpr uint64_t kIntervalNs = 1000000000;

uint64_t monotonicNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts); // bpf_ktime_get_ns()'s clock
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

PacketBuilder from4(const char* src) {
    PacketBuilder packet;
    packet.ipv4(src, kDst4).udp(40000, 53).payload(10);
    return packet;
}
PacketBuilder from6(const char* src) {
    PacketBuilder packet;
    packet.ipv6(src, kDst6).udp(40000, 53).payload(10);
    return packet;
}

std::vector<int> repeat(int verdict, size_t times) {
    return std::vector<int>(times, verdict);
}
std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// --- xdp_ratelimit -----------------------------------------------------------

class RatelimitTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: loads eBPF programs";
        std::string error;
        program_ = ObjectProgram::load(L3AF_XDP_RATELIMIT_OBJ, "xdp_ratelimit", error);
        ASSERT_TRUE(program_) << error;
        start_ns_ = monotonicNs();
    }

    void configure(uint64_t rate_pps, uint64_t burst) {
        ratelimit_config config{.rate_pps = rate_pps, .burst = burst};
        ASSERT_EQ(updateElem(program_->mapFd("config"), uint32_t{0}, config), 0);
    }

    // The verdicts of `times` copies of `packet`, in order.
    std::vector<int> send(const PacketBuilder& packet, size_t times = 1) {
        std::vector<int> verdicts;
        Bytes frame = packet.build();
        for (size_t i = 0; i < times; i++) {
            RunOutcome outcome = program_->run(frame);
            EXPECT_EQ(outcome.error, 0) << std::strerror(outcome.error);
            EXPECT_EQ(outcome.data_out, frame) << "the program never rewrites packets";
            verdicts.push_back(outcome.verdict);
        }
        return verdicts;
    }

    ratelimit_stats stats() const {
        ratelimit_stats sum{};
        for (const auto& s : lookupPerCpu<ratelimit_stats>(program_->mapFd("stats"), 0)) {
            sum.passed += s.passed;
            sum.dropped += s.dropped;
        }
        return sum;
    }

    static ratelimit_key key(int af, const char* address) {
        ratelimit_key key{};
        key.family = af == AF_INET ? 4 : 6;
        inet_pton(af, address, key.addr);
        return key;
    }

    // A bucket refills one packet per interval: what the tests expect holds
    // only while less than one interval has passed since the first packet.
    void skipIfIntervalPassed() {
        if (monotonicNs() - start_ns_ >= kIntervalNs)
            GTEST_SKIP() << "the runs took over a second, the bucket's refill interval";
    }

    std::unique_ptr<ObjectProgram> program_;
    uint64_t start_ns_ = 0;
};

TEST_F(RatelimitTest, BurstFromOneSourcePassesThenItsPacketsDrop) {
    configure(1, 5);
    std::vector<int> a = send(from4(kA4), 7);
    std::vector<int> b = send(from4(kB4), 1);
    skipIfIntervalPassed();

    EXPECT_EQ(a, concat(repeat(XDP_PASS, 5), repeat(XDP_DROP, 2)));
    EXPECT_EQ(b, repeat(XDP_PASS, 1)) << "another source has a bucket of its own";
    ratelimit_stats s = stats();
    EXPECT_EQ(s.passed, 6u);
    EXPECT_EQ(s.dropped, 2u);
}

TEST_F(RatelimitTest, SourcesAreLimitedApart) {
    configure(1, 3);
    std::vector<int> a = send(from4(kA4), 4);
    std::vector<int> b = send(from4(kB4), 4);
    std::vector<int> a_again = send(from4(kA4), 1);
    skipIfIntervalPassed();

    EXPECT_EQ(a, concat(repeat(XDP_PASS, 3), repeat(XDP_DROP, 1)));
    EXPECT_EQ(b, concat(repeat(XDP_PASS, 3), repeat(XDP_DROP, 1)));
    EXPECT_EQ(a_again, repeat(XDP_DROP, 1));
    EXPECT_EQ(countKeys(program_->mapFd("buckets"), sizeof(ratelimit_key)), 2u);
}

TEST_F(RatelimitTest, RateZeroPassesEverything) {
    // The map as loaded: all zero.
    EXPECT_EQ(send(from4(kA4), 50), repeat(XDP_PASS, 50));
    configure(0, 1);
    EXPECT_EQ(send(from4(kA4), 50), repeat(XDP_PASS, 50));
    EXPECT_EQ(send(from6(kA6), 50), repeat(XDP_PASS, 50));

    EXPECT_EQ(countKeys(program_->mapFd("buckets"), sizeof(ratelimit_key)), 0u)
        << "no limit, no state";
    ratelimit_stats s = stats();
    EXPECT_EQ(s.passed, 150u);
    EXPECT_EQ(s.dropped, 0u);
}

TEST_F(RatelimitTest, Ipv6SourcesHaveBucketsOfTheirOwn) {
    configure(1, 2);
    std::vector<int> a6 = send(from6(kA6), 3);
    std::vector<int> b6 = send(from6(kB6), 2);
    std::vector<int> a4 = send(from4(kA4), 2);
    skipIfIntervalPassed();

    EXPECT_EQ(a6, concat(repeat(XDP_PASS, 2), repeat(XDP_DROP, 1)));
    EXPECT_EQ(b6, repeat(XDP_PASS, 2));
    EXPECT_EQ(a4, repeat(XDP_PASS, 2));

    ratelimit_bucket bucket{};
    ratelimit_key a6_key = key(AF_INET6, kA6);
    EXPECT_EQ(bpf_map_lookup_elem(program_->mapFd("buckets"), &a6_key, &bucket), 0)
        << "the bucket is keyed by family and the whole address";
    ratelimit_key a4_key = key(AF_INET, kA4);
    EXPECT_EQ(bpf_map_lookup_elem(program_->mapFd("buckets"), &a4_key, &bucket), 0);
}

TEST_F(RatelimitTest, VlanTaggedPacketsCountAgainstTheirSource) {
    configure(1, 2);
    std::vector<int> untagged = send(from4(kA4), 1);
    std::vector<int> tagged = send(from4(kA4).vlan(100), 1);
    std::vector<int> double_tagged = send(from4(kA4).vlan(100, 0x88a8).vlan(200), 1);
    skipIfIntervalPassed();

    EXPECT_EQ(untagged, repeat(XDP_PASS, 1));
    EXPECT_EQ(tagged, repeat(XDP_PASS, 1));
    EXPECT_EQ(double_tagged, repeat(XDP_DROP, 1));
}

TEST_F(RatelimitTest, NonIpAndCutShortFramesPass) {
    configure(1, 1);
    PacketBuilder arp;
    arp.ethertype(0x0806).payload(28);
    EXPECT_EQ(send(arp, 3), repeat(XDP_PASS, 3));
    // 14 + 10 bytes: the IPv4 header stops before the source address.
    EXPECT_EQ(send(from4(kA4).truncateFrame(24), 3), repeat(XDP_PASS, 3));
    EXPECT_EQ(countKeys(program_->mapFd("buckets"), sizeof(ratelimit_key)), 0u);
}

TEST_F(RatelimitTest, BurstZeroCountsAsOne) {
    configure(1, 0);
    std::vector<int> a = send(from4(kA4), 2);
    skipIfIntervalPassed();
    EXPECT_EQ(a, (std::vector<int>{XDP_PASS, XDP_DROP}));
}

// A second passing is the bucket's stamp moving a second back: no sleeping.
TEST_F(RatelimitTest, OneIntervalLaterOneMorePacketPasses) {
    configure(1, 2);
    std::vector<int> first = send(from4(kA4), 3);

    int buckets = program_->mapFd("buckets");
    ratelimit_key a = key(AF_INET, kA4);
    ratelimit_bucket bucket{};
    ASSERT_EQ(bpf_map_lookup_elem(buckets, &a, &bucket), 0);
    bucket.tat_ns -= kIntervalNs;
    ASSERT_EQ(updateElem(buckets, a, bucket), 0);

    std::vector<int> later = send(from4(kA4), 2);
    skipIfIntervalPassed();

    EXPECT_EQ(first, concat(repeat(XDP_PASS, 2), repeat(XDP_DROP, 1)));
    EXPECT_EQ(later, (std::vector<int>{XDP_PASS, XDP_DROP}));
}

// [program.maps.config] entries = [{ key = 0, value = { rate_pps = 1000, burst = 100 } }]
// works because the map's BTF names those fields.
TEST_F(RatelimitTest, ConfigMapBtfNamesTheTomlFields) {
    bpf_object* obj = bpf_object__open_file(L3AF_XDP_RATELIMIT_OBJ, nullptr);
    ASSERT_TRUE(obj);
    bpf_map* map = bpf_object__find_map_by_name(obj, "config");
    ASSERT_TRUE(map);
    EXPECT_EQ(bpf_map__type(map), BPF_MAP_TYPE_ARRAY);
    EXPECT_EQ(bpf_map__max_entries(map), 1u);
    const btf* types = bpf_object__btf(obj);
    ASSERT_TRUE(types);
    const btf_type* value = btf__type_by_id(types, bpf_map__btf_value_type_id(map));
    ASSERT_TRUE(value && btf_is_struct(value));
    ASSERT_EQ(btf_vlen(value), 2);
    const btf_member* members = btf_members(value);
    EXPECT_STREQ(btf__name_by_offset(types, members[0].name_off), "rate_pps");
    EXPECT_STREQ(btf__name_by_offset(types, members[1].name_off), "burst");
    EXPECT_EQ(btf__resolve_size(types, members[0].type), 8);
    EXPECT_EQ(btf__resolve_size(types, members[1].type), 8);
    bpf_object__close(obj);
}

// --- tc_counter --------------------------------------------------------------

struct CounterCase {
    std::string name;
    std::vector<PacketBuilder> packets;
    std::map<uint32_t, tc_counter_value> counts; // every other slot stays zero
};

void PrintTo(const CounterCase& c, std::ostream* os) {
    *os << c.name;
}

PacketBuilder v4() {
    PacketBuilder packet;
    packet.ipv4(kA4, kDst4);
    return packet;
}
PacketBuilder v6() {
    PacketBuilder packet;
    packet.ipv6(kA6, kDst6);
    return packet;
}

// Bytes are whole frames: Ethernet 14, VLAN tag 4, IPv4 20, IPv6 40, TCP 20,
// UDP 8, ICMP 8, then the extension headers and the payload.
std::vector<CounterCase> counterCases() {
    return {
        {"Ipv4ByProtocol",
         {v4().tcp(40000, 443), v4().tcp(40000, 443).payload(100), v4().udp(5000, 53).payload(10),
          v4().icmp(8, 0).payload(56)},
         {{IPPROTO_TCP, {2, 54 + 154}}, {IPPROTO_UDP, {1, 52}}, {IPPROTO_ICMP, {1, 98}}}},
        {"Ipv6ByProtocol",
         {v6().udp(5000, 53).payload(10), v6().icmp(128, 0), v6().tcp(40000, 443)},
         {{IPPROTO_UDP, {1, 72}}, {IPPROTO_ICMPV6, {1, 62}}, {IPPROTO_TCP, {1, 74}}}},
        {"Ipv6ExtensionHeadersAreSkipped",
         {v6().hopByHop(8).udp(5000, 53),
          v6().hopByHop(8).routing(8).fragment(0, true).tcp(40000, 443),
          v6().authentication(24).udp(5000, 53), v6().destinationOptions(16).icmp(128, 0)},
         {{IPPROTO_UDP, {2, 70 + 86}}, {IPPROTO_TCP, {1, 98}}, {IPPROTO_ICMPV6, {1, 78}}}},
        {"NonFirstFragmentsCountUnderTheirProtocol",
         {v4().fragment(8, false).protocol(IPPROTO_UDP).payload(100),
          v6().fragment(8, false).protocol(IPPROTO_UDP).payload(100)},
         {{IPPROTO_UDP, {2, 134 + 162}}}},
        {"VlanTagsInTheFrame",
         {v4().vlan(100).udp(5000, 53), v6().vlan(100, 0x88a8).vlan(200).tcp(40000, 443)},
         {{IPPROTO_UDP, {1, 46}}, {IPPROTO_TCP, {1, 82}}}},
        {"OtherProtocols",
         {v4().protocol(47).payload(4), v6().protocol(59), v4().protocol(255)},
         {{47, {1, 38}}, {59, {1, 54}}, {255, {1, 34}}}},
        // The second frame's IPv4 header stops before the protocol field (a
        // test run refuses an untagged one that short).
        {"NotIp",
         {PacketBuilder().ethertype(0x0806).payload(28),
          v4().vlan(100).udp(5000, 53).truncateFrame(24)},
         {{TC_COUNTER_NOT_IP, {2, 42 + 24}}}},
    };
}

class TcCounterTest : public ::testing::TestWithParam<CounterCase> {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: loads eBPF programs";
        std::string error;
        program_ = ObjectProgram::load(L3AF_TC_COUNTER_OBJ, "tc_counter", error);
        ASSERT_TRUE(program_) << error;
    }

    std::unique_ptr<ObjectProgram> program_;
};

TEST_P(TcCounterTest, CountsPacketsAndBytesPerProtocol) {
    const CounterCase& c = GetParam();
    for (const PacketBuilder& packet : c.packets) {
        Bytes frame = packet.build();
        RunOutcome outcome = program_->run(frame);
        ASSERT_EQ(outcome.error, 0) << std::strerror(outcome.error);
        EXPECT_EQ(outcome.verdict, TC_ACT_UNSPEC) << "TCX_NEXT: the chain goes on";
        EXPECT_EQ(outcome.data_out, frame);
    }

    int counts = program_->mapFd("counts");
    for (uint32_t slot = 0; slot < TC_COUNTER_SLOTS; slot++) {
        tc_counter_value sum{};
        for (const tc_counter_value& v : lookupPerCpu<tc_counter_value>(counts, slot)) {
            sum.packets += v.packets;
            sum.bytes += v.bytes;
        }
        auto expected = c.counts.find(slot);
        tc_counter_value want = expected == c.counts.end() ? tc_counter_value{} : expected->second;
        EXPECT_EQ(sum.packets, want.packets) << "slot " << slot;
        EXPECT_EQ(sum.bytes, want.bytes) << "slot " << slot;
    }
}

INSTANTIATE_TEST_SUITE_P(Frames, TcCounterTest, ::testing::ValuesIn(counterCases()),
                         [](const auto& info) { return info.param.name; });

} // namespace
} // namespace l3af::test
