// flow_ingress on a real TCX hook, for what BPF_PROG_TEST_RUN cannot show:
// on ingress the stack moves the outermost VLAN tag out of the frame into
// skb->vlan_tci before TC runs, and the key must still carry that tag's VID.
// Also: headers outside the skb's linear part, which test runs never have.
// Runs in a network namespace of its own, on a veth pair.

#include "flow_harness.h"
#include "netns.h"

#include <gtest/gtest.h>
#include <net/if.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

namespace l3af::test {
namespace {

constexpr char kA4[] = "192.0.2.1";
constexpr char kB4[] = "198.51.100.2";

// Waits for the softirq that runs the peer's ingress to count the packet.
std::optional<flow_value> awaitFlow(const FlowProgram& program, const flow_key& key) {
    for (int i = 0; i < 100; i++) {
        if (auto value = program.flow(key))
            return value;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
}

// A veth pair in a namespace of its own, flow_ingress on l3af-rx's TCX hook;
// frames sent on l3af-tx arrive there as if from a wire.
class FlowHookTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: network namespaces, veth, TCX";
        netns_ = std::make_unique<ScopedNetns>();
        ASSERT_TRUE(netns_->entered()) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
        ASSERT_EQ(
            std::system("ip link add l3af-tx mtu 9000 type veth peer name l3af-rx mtu 9000 && "
                        "ip link set l3af-tx up && ip link set l3af-rx up"),
            0);
        tx_ = static_cast<int>(if_nametoindex("l3af-tx"));
        rx_ = static_cast<int>(if_nametoindex("l3af-rx"));
        ASSERT_GT(tx_, 0);
        ASSERT_GT(rx_, 0);

        std::string error;
        program_ = FlowProgram::load(0, error);
        ASSERT_TRUE(program_) << error;
        link_ = program_->attachIngress(rx_);
        ASSERT_TRUE(link_) << "attach TCX ingress: " << std::strerror(errno);
    }

    void TearDown() override {
        link_.reset();
        program_.reset();
        netns_.reset(); // the veth pair goes with the namespace
    }

    std::unique_ptr<ScopedNetns> netns_;
    int tx_ = 0;
    int rx_ = 0;
    std::unique_ptr<FlowProgram> program_;
    UniqueFd link_;
};

TEST_F(FlowHookTest, IngressKeepsTheVidOfTheTagTheStackStripped) {
    // 802.1Q: the stack strips the only tag. QinQ: it strips the outer
    // 802.1ad tag and leaves the inner one in the frame.
    ASSERT_TRUE(sendFrame(
        tx_, PacketBuilder().vlan(300, ETH_P_8021Q, 3).ipv4(kA4, kB4).udp(7000, 53).build()));
    ASSERT_TRUE(sendFrame(tx_, PacketBuilder()
                                   .vlan(200, ETH_P_8021AD)
                                   .vlan(100, ETH_P_8021Q)
                                   .ipv4(kA4, kB4)
                                   .udp(7001, 53)
                                   .payload(10)
                                   .build()));

    auto single =
        awaitFlow(*program_, Key::v4(kA4, kB4, IPPROTO_UDP).ports(7000, 53).vlan(300).ifindex(rx_));
    ASSERT_TRUE(single) << "no flow with VLAN 300 on l3af-rx";
    EXPECT_EQ(single->packets, 1u);
    EXPECT_EQ(single->octets, 28u);

    auto qinq =
        awaitFlow(*program_, Key::v4(kA4, kB4, IPPROTO_UDP).ports(7001, 53).vlan(200).ifindex(rx_));
    ASSERT_TRUE(qinq) << "no flow with the outer VLAN 200 on l3af-rx";
    EXPECT_EQ(qinq->packets, 1u);
    EXPECT_EQ(qinq->octets, 38u);
}

// A packet socket puts only the Ethernet header of a frame over a page in the
// skb's linear part; the rest sits in page fragments, out of reach of direct
// packet access until the program pulls it in.
TEST_F(FlowHookTest, HeadersOutsideTheLinearPartArePulledIn) {
    ASSERT_TRUE(sendFrame(tx_, PacketBuilder().ipv4(kA4, kB4).udp(7002, 53).payload(5000).build()));

    auto flow = awaitFlow(*program_, Key::v4(kA4, kB4, IPPROTO_UDP).ports(7002, 53).ifindex(rx_));
    ASSERT_TRUE(flow) << "no flow with ports; truncated: "
                      << program_->stat(FLOW_STAT_TRUNCATED).packets;
    EXPECT_EQ(flow->packets, 1u);
    EXPECT_EQ(flow->octets, 5028u);
    EXPECT_EQ(program_->stat(FLOW_STAT_TRUNCATED).packets, 0u);
}

} // namespace
} // namespace l3af::test
