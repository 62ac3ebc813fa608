// The programs integration tests declare, under BPF_PROG_TEST_RUN:
// order_stamp.bpf.o writes its id into the first free slot of a stamp packet
// and leaves every other packet as it was; verifier_reject.bpf.o compiles
// but does not load.

#include "object_harness.h"
#include "order_stamp_abi.h"

#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <array>
#include <string>
#include <vector>

namespace l3af::test {
namespace {

using Slots = std::array<uint8_t, ORDER_STAMP_SLOTS>;

constexpr char kSrc[] = "192.0.2.1";
constexpr char kDst[] = "198.51.100.1";
constexpr size_t kStampPayload = ORDER_STAMP_MAGIC_LEN + ORDER_STAMP_SLOTS;

// A frame whose last `magic.size() + slots.size()` bytes are the magic and
// the slots: the payload of a UDP packet built with that payload length.
Bytes withPayload(const PacketBuilder& packet, std::string_view magic, const Slots& slots,
                  size_t slot_bytes = ORDER_STAMP_SLOTS) {
    Bytes frame = packet.build();
    size_t at = frame.size() - magic.size() - slot_bytes;
    std::copy(magic.begin(), magic.end(), frame.begin() + static_cast<ptrdiff_t>(at));
    std::copy(slots.begin(), slots.begin() + static_cast<ptrdiff_t>(slot_bytes),
              frame.begin() + static_cast<ptrdiff_t>(at + magic.size()));
    return frame;
}

PacketBuilder stampUdp() {
    PacketBuilder packet;
    packet.ipv4(kSrc, kDst).udp(40000, ORDER_STAMP_PORT).payload(kStampPayload);
    return packet;
}

Bytes stampFrame(const Slots& slots, PacketBuilder packet = stampUdp()) {
    return withPayload(packet, ORDER_STAMP_MAGIC, slots);
}

// The stamp packet as a receiver sees it: its slots.
Slots slotsOf(const Bytes& frame) {
    Slots slots{};
    std::copy(frame.end() - ORDER_STAMP_SLOTS, frame.end(), slots.begin());
    return slots;
}

struct Hook {
    const char* function;
    int verdict; // what the program returns for every packet
};

void PrintTo(const Hook& hook, std::ostream* os) {
    *os << hook.function;
}

class OrderStampTest : public ::testing::TestWithParam<Hook> {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: loads eBPF programs";
    }

    // One more instance of the object, as a [[program]] declaration makes one.
    std::unique_ptr<ObjectProgram> instance(uint32_t id) {
        std::string error;
        auto program = ObjectProgram::load(L3AF_ORDER_STAMP_OBJ, GetParam().function, error);
        EXPECT_TRUE(program) << error;
        if (program) {
            EXPECT_EQ(updateElem(program->mapFd("stamp"), uint32_t{0}, id), 0);
        }
        return program;
    }

    Bytes pass(const ObjectProgram& program, const Bytes& frame) {
        RunOutcome outcome = program.run(frame);
        EXPECT_EQ(outcome.error, 0) << std::strerror(outcome.error);
        EXPECT_EQ(outcome.verdict, GetParam().verdict);
        EXPECT_EQ(outcome.data_out.size(), frame.size());
        return outcome.data_out;
    }

    static uint64_t stamped(const ObjectProgram& program) {
        return lookupArray<uint64_t>(program.mapFd("stamped"), 0);
    }
};

TEST_P(OrderStampTest, WritesItsIdIntoTheFirstZeroSlot) {
    auto program = instance(3);
    ASSERT_TRUE(program);
    Bytes in = stampFrame({});
    Bytes out = pass(*program, in);

    EXPECT_EQ(slotsOf(out), (Slots{3, 0, 0, 0, 0, 0, 0, 0}));
    Bytes expected = in;
    expected[expected.size() - ORDER_STAMP_SLOTS] = 3;
    EXPECT_EQ(out, expected) << "only the slot changes; the UDP checksum stays 0";
    EXPECT_EQ(stamped(*program), 1u);
}

TEST_P(OrderStampTest, InstancesStampInTheOrderTheyRun) {
    auto first = instance(7);
    auto second = instance(2);
    auto third = instance(5);
    ASSERT_TRUE(first && second && third);
    Bytes frame = stampFrame({});
    for (const auto* program : {first.get(), second.get(), third.get()})
        frame = pass(*program, frame);

    EXPECT_EQ(slotsOf(frame), (Slots{7, 2, 5, 0, 0, 0, 0, 0}));
    EXPECT_EQ(stamped(*first), 1u);
    EXPECT_EQ(stamped(*second), 1u);
    EXPECT_EQ(stamped(*third), 1u);
}

TEST_P(OrderStampTest, AppendsAfterEarlierStamps) {
    auto program = instance(9);
    ASSERT_TRUE(program);
    EXPECT_EQ(slotsOf(pass(*program, stampFrame({1, 2, 3, 4, 5, 6, 7, 0}))),
              (Slots{1, 2, 3, 4, 5, 6, 7, 9}));
    EXPECT_EQ(stamped(*program), 1u);
}

TEST_P(OrderStampTest, FullSlotsStayAsTheyWere) {
    auto program = instance(9);
    ASSERT_TRUE(program);
    Bytes in = stampFrame({1, 2, 3, 4, 5, 6, 7, 8});
    EXPECT_EQ(pass(*program, in), in);
    EXPECT_EQ(stamped(*program), 0u);
}

TEST_P(OrderStampTest, Ipv4OptionsMoveTheUdpHeader) {
    auto program = instance(4);
    ASSERT_TRUE(program);
    EXPECT_EQ(slotsOf(pass(*program, stampFrame({}, stampUdp().ipv4Options(8)))),
              (Slots{4, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(stamped(*program), 1u);
}

TEST_P(OrderStampTest, IdZeroStampsNothing) {
    auto program = instance(0);
    ASSERT_TRUE(program);
    Bytes in = stampFrame({});
    EXPECT_EQ(pass(*program, in), in);
    EXPECT_EQ(stamped(*program), 0u);
}

TEST_P(OrderStampTest, OtherPacketsLeaveByteIdentical) {
    auto program = instance(3);
    ASSERT_TRUE(program);
    auto udp = [](uint16_t dport) {
        PacketBuilder packet;
        packet.ipv4(kSrc, kDst).udp(40000, dport).payload(kStampPayload);
        return packet;
    };
    PacketBuilder tcp;
    tcp.ipv4(kSrc, kDst).tcp(40000, ORDER_STAMP_PORT).payload(kStampPayload);
    PacketBuilder v6;
    v6.ipv6("2001:db8::1", "2001:db8::2").udp(40000, ORDER_STAMP_PORT).payload(kStampPayload);
    PacketBuilder fragment = stampUdp();
    fragment.fragment(8, false);
    PacketBuilder tagged = stampUdp();
    tagged.vlan(100);
    PacketBuilder short_payload;
    short_payload.ipv4(kSrc, kDst).udp(40000, ORDER_STAMP_PORT).payload(kStampPayload - 1);

    const std::vector<std::pair<std::string, Bytes>> others = {
        {"another port", stampFrame({}, udp(7778))},
        {"the source port 7777", stampFrame({}, PacketBuilder(stampUdp()).udp(7777, 40000))},
        {"another magic", withPayload(stampUdp(), "L3AG", {})},
        {"TCP", stampFrame({}, tcp)},
        {"IPv6", stampFrame({}, v6)},
        {"a non-first fragment", stampFrame({}, fragment)},
        {"a VLAN tag", stampFrame({}, tagged)},
        {"seven slot bytes", withPayload(short_payload, ORDER_STAMP_MAGIC, {}, 7)},
        {"a frame cut in the UDP header", stampUdp().truncateFrame(40).build()},
    };
    for (const auto& [what, frame] : others)
        EXPECT_EQ(pass(*program, frame), frame) << what;
    EXPECT_EQ(stamped(*program), 0u);
}

INSTANTIATE_TEST_SUITE_P(Hooks, OrderStampTest,
                         ::testing::Values(Hook{"tc_stamp", TC_ACT_UNSPEC},
                                           Hook{"xdp_stamp", XDP_PASS}),
                         [](const auto& info) { return std::string(info.param.function); });

// --- verifier_reject ---------------------------------------------------------

class VerifierRejectTest : public ::testing::TestWithParam<const char*> {};

TEST_P(VerifierRejectTest, LoadFailsWithTheVerifierSaying) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: loads eBPF programs";
    std::string error;
    auto program = ObjectProgram::load(L3AF_VERIFIER_REJECT_OBJ, GetParam(), error);
    EXPECT_FALSE(program) << "the verifier accepted " << GetParam();
    EXPECT_NE(error.find("Permission denied"), std::string::npos) << error;
    EXPECT_NE(error.find("invalid access to packet"), std::string::npos)
        << "no verifier log in: " << error;
}

INSTANTIATE_TEST_SUITE_P(Functions, VerifierRejectTest,
                         ::testing::Values("tc_reject", "xdp_reject"),
                         [](const auto& info) { return std::string(info.param); });

} // namespace
} // namespace l3af::test
