// cls_bpf filters on a clsact qdisc, the legacy TC path, on a veth pair in
// network namespaces of the test's own:
//
//   c-rx 10.77.0.1 (this namespace, the filters) ──veth── c-tx 10.77.0.2 (peer)
//
// Pings from the peer cross c-rx's ingress, pings to it its egress; the
// cls_order programs on the way show which filters ran, and in which order.
// Foreign filters are added with tc(8), as an operator would: a u32 filter
// (matchall and gact are not in every kernel) and bpf filters running a
// pinned program (tc's own ELF loader refuses objects with BTF).

#include "kernel/cls_bpf.h"

#include "cls_order.skel.h"
#include "netns.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace l3af::kernel {
namespace {

using test::ScopedNetns;
using test::sh;
using test::shOutput;
using test::SideNetns;

constexpr char kHookAddress[] = "10.77.0.1";
constexpr char kPeerAddress[] = "10.77.0.2";
constexpr int kPings = 3;

// One loaded instance of cls_order with its digit.
class OrderProgram {
  public:
    static std::unique_ptr<OrderProgram> load(uint32_t digit) {
        cls_order_bpf* skel = cls_order_bpf::open();
        if (!skel)
            return nullptr;
        skel->rodata->order_digit = digit;
        if (cls_order_bpf::load(skel) != 0) {
            cls_order_bpf::destroy(skel);
            return nullptr;
        }
        return std::unique_ptr<OrderProgram>(new OrderProgram(skel));
    }
    ~OrderProgram() { cls_order_bpf::destroy(skel_); }
    OrderProgram(const OrderProgram&) = delete;
    OrderProgram& operator=(const OrderProgram&) = delete;

    int fd() const { return bpf_program__fd(skel_->progs.order_tc); }
    uint32_t id() const {
        bpf_prog_info info{};
        uint32_t length = sizeof info;
        if (bpf_prog_get_info_by_fd(fd(), &info, &length) != 0)
            return 0;
        return info.id;
    }
    // Echo requests seen, and the mark the last one left with.
    uint64_t packets() const {
        return __atomic_load_n(&skel_->bss->order_packets, __ATOMIC_SEQ_CST);
    }
    uint32_t mark() const { return __atomic_load_n(&skel_->bss->order_mark, __ATOMIC_SEQ_CST); }

  private:
    explicit OrderProgram(cls_order_bpf* skel) : skel_(skel) {}
    cls_order_bpf* skel_;
};

bool hasFilter(const std::vector<ClsBpfFilter>& filters, uint16_t prio, uint32_t handle) {
    for (const ClsBpfFilter& f : filters)
        if (f.prio == prio && f.handle == handle)
            return true;
    return false;
}

class ClsBpfTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: network namespaces, veth, tc";
        netns_ = std::make_unique<ScopedNetns>();
        ASSERT_TRUE(netns_->entered()) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
        peer_ = std::make_unique<SideNetns>();
        ASSERT_TRUE(peer_->ok());
        // No IPv6: no router solicitations or neighbour discovery crossing
        // the hooks.
        ASSERT_TRUE(sh("sysctl -w net.ipv6.conf.default.disable_ipv6=1"));
        ASSERT_TRUE(peer_->sh("sysctl -w net.ipv6.conf.default.disable_ipv6=1"));
        ASSERT_TRUE(sh("ip link add c-rx type veth peer name c-tx"));
        ASSERT_TRUE(sh("ip link set c-tx netns " + peer_->path()));
        ASSERT_TRUE(sh(std::string("ip addr add ") + kHookAddress + "/24 dev c-rx"));
        ASSERT_TRUE(sh("ip link set c-rx up && ip link set lo up"));
        ASSERT_TRUE(peer_->sh(std::string("ip addr add ") + kPeerAddress +
                              "/24 dev c-tx && ip link set c-tx up && ip link set lo up"));
        ifindex_ = if_nametoindex("c-rx");
        ASSERT_GT(ifindex_, 0u);
    }

    void TearDown() override {
        for (const std::string& path : pins_)
            ::unlink(path.c_str());
        programs_.clear();
        peer_.reset();
        netns_.reset(); // the veth pair, qdisc and filters go with the namespace
    }

    OrderProgram& program(uint32_t digit) {
        programs_.push_back(OrderProgram::load(digit));
        EXPECT_TRUE(programs_.back()) << "load cls_order";
        return *programs_.back();
    }

    // Pins a program where tc(8) can take it from (bpffs is not per
    // namespace: the path carries the test's pid).
    std::string pin(const OrderProgram& p) {
        std::string path = "/sys/fs/bpf/l3af-cls-bpf-test-" + std::to_string(::getpid()) + "-" +
                           std::to_string(pins_.size());
        EXPECT_EQ(bpf_obj_pin(p.fd(), path.c_str()), 0) << path << ": " << std::strerror(errno);
        pins_.push_back(path);
        return path;
    }

    std::vector<ClsBpfFilter> list(bool ingress = true) {
        Result<std::vector<ClsBpfFilter>> filters = listClsBpf(ifindex_, ingress);
        EXPECT_TRUE(filters.has_value()) << filters.error().message();
        return filters.value_or(std::vector<ClsBpfFilter>{});
    }

    // Echo requests from the peer: they cross c-rx's ingress.
    bool pingFromPeer() {
        return peer_->sh("ping -q -c " + std::to_string(kPings) + " -i 0.2 -W 2 " + kHookAddress);
    }
    // Echo requests to the peer: they cross c-rx's egress.
    bool pingToPeer() {
        return sh("ping -q -c " + std::to_string(kPings) + " -i 0.2 -W 2 " + kPeerAddress);
    }

    std::string tcFilters(const char* hook = "ingress") {
        return shOutput(std::string("tc filter show dev c-rx ") + hook);
    }

    std::unique_ptr<ScopedNetns> netns_;
    std::unique_ptr<SideNetns> peer_;
    std::vector<std::unique_ptr<OrderProgram>> programs_;
    std::vector<std::string> pins_;
    unsigned ifindex_ = 0;
};

TEST_F(ClsBpfTest, EnsureClsactCreatesTheQdiscOnceAndKeepsAnExistingOne) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    EXPECT_NE(shOutput("tc qdisc show dev c-rx").find("qdisc clsact ffff:"), std::string::npos);

    // A filter on it shows the qdisc is the same one afterwards: replacing
    // the qdisc would have taken its filters.
    ASSERT_TRUE(sh("tc filter add dev c-rx ingress prio 5 u32 match u32 0 0"));
    Status again = ensureClsact(ifindex_);
    ASSERT_TRUE(again.has_value()) << again.error().message();
    EXPECT_NE(tcFilters().find("pref 5 u32"), std::string::npos);
}

TEST_F(ClsBpfTest, EnsureClsactLeavesAnIngressQdiscAlone) {
    ASSERT_TRUE(sh("tc qdisc add dev c-rx ingress"));
    ASSERT_TRUE(sh("tc filter add dev c-rx ingress prio 5 u32 match u32 0 0"));

    Status ensured = ensureClsact(ifindex_);
    ASSERT_FALSE(ensured.has_value());
    EXPECT_EQ(ensured.error().code(), EBUSY) << ensured.error().message();
    EXPECT_NE(shOutput("tc qdisc show dev c-rx").find("qdisc ingress ffff:"), std::string::npos);
    EXPECT_NE(tcFilters().find("pref 5 u32"), std::string::npos);

    // Nor does anything else here act on it: an `ingress` qdisc would take an
    // egress filter into its ingress block.
    OrderProgram& p = program(1);
    Status attached = attachClsBpf(ifindex_, false, 10, 0x80000001, p.fd(), "p", false);
    ASSERT_FALSE(attached.has_value());
    EXPECT_EQ(attached.error().code(), EBUSY);
    EXPECT_TRUE(list(false).empty());
    EXPECT_TRUE(list(true).empty());
}

TEST_F(ClsBpfTest, WithoutClsactThereIsNothingToListOrDetachAndNowhereToAttach) {
    EXPECT_TRUE(list().empty());
    EXPECT_TRUE(detachClsBpf(ifindex_, true, 10, 0x80000001).has_value());
    OrderProgram& p = program(1);
    Status attached = attachClsBpf(ifindex_, true, 10, 0x80000001, p.fd(), "p", false);
    ASSERT_FALSE(attached.has_value());
    EXPECT_EQ(attached.error().code(), ENOENT);
}

TEST_F(ClsBpfTest, ListsFiltersInPrioOrderWithTheirProgramsAndNames) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& late = program(2);
    OrderProgram& early = program(1);
    const uint32_t lateHandle = clsBpfHandle("program", "late");
    const uint32_t earlyHandle = clsBpfHandle("program", "early");
    // Attached in the opposite order of their prios.
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 30, lateHandle, late.fd(), "late", false));
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, earlyHandle, early.fd(), "early", false));

    std::vector<ClsBpfFilter> filters = list();
    ASSERT_EQ(filters.size(), 2u);
    EXPECT_EQ(filters[0].prio, 10);
    EXPECT_EQ(filters[0].handle, earlyHandle);
    EXPECT_EQ(filters[0].prog_id, early.id());
    EXPECT_EQ(filters[0].name, "early");
    EXPECT_TRUE(filters[0].direct_action);
    EXPECT_EQ(filters[1].prio, 30);
    EXPECT_EQ(filters[1].handle, lateHandle);
    EXPECT_EQ(filters[1].prog_id, late.id());
    EXPECT_EQ(filters[1].name, "late");
    EXPECT_TRUE(filters[1].direct_action);

    // Ingress and egress are separate hooks.
    EXPECT_TRUE(list(false).empty());
}

TEST_F(ClsBpfTest, AttachingOverAnExistingFilterFailsWithoutReplace) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& first = program(1);
    OrderProgram& second = program(2);
    const uint32_t handle = clsBpfHandle("program", "p");
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, handle, first.fd(), "p", false));

    Status again = attachClsBpf(ifindex_, true, 10, handle, second.fd(), "p", false);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code(), EEXIST) << again.error().message();
    std::vector<ClsBpfFilter> filters = list();
    ASSERT_EQ(filters.size(), 1u);
    EXPECT_EQ(filters[0].prog_id, first.id());
}

TEST_F(ClsBpfTest, ReplaceSwapsTheProgramAtTheSamePrioAndHandle) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& before = program(1);
    OrderProgram& after = program(2);
    OrderProgram& other = program(3);
    const uint32_t handle = clsBpfHandle("program", "swapped");
    const uint32_t otherHandle = clsBpfHandle("program", "other");
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, handle, before.fd(), "swapped", false));
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 20, otherHandle, other.fd(), "other", false));

    Status replaced = attachClsBpf(ifindex_, true, 10, handle, after.fd(), "swapped", true);
    ASSERT_TRUE(replaced.has_value()) << replaced.error().message();

    std::vector<ClsBpfFilter> filters = list();
    ASSERT_EQ(filters.size(), 2u);
    EXPECT_EQ(filters[0].prio, 10);
    EXPECT_EQ(filters[0].handle, handle);
    EXPECT_EQ(filters[0].prog_id, after.id());
    EXPECT_EQ(filters[0].name, "swapped");
    EXPECT_TRUE(filters[0].direct_action);
    EXPECT_EQ(filters[1].prog_id, other.id());

    // Packets now meet the new program, and the old one no more.
    ASSERT_TRUE(pingFromPeer());
    EXPECT_EQ(before.packets(), 0u);
    EXPECT_EQ(after.packets(), uint64_t(kPings));
}

TEST_F(ClsBpfTest, NoPacketSlipsPastAFilterWhileItsProgramIsReplaced) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& a = program(1);
    OrderProgram& b = program(3);
    OrderProgram& follower = program(2);
    const uint32_t handle = clsBpfHandle("program", "swapped");
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, handle, a.fd(), "swapped", false));
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 30, clsBpfHandle("program", "follower"), follower.fd(),
                             "follower", false));

    // A flood of echo requests while the program at prio 10 changes back
    // and forth for as long as it lasts.
    std::atomic<bool> done = false;
    bool pinged = false;
    std::thread traffic([&] {
        pinged = peer_->sh(std::string("ping -q -f -c 10000 ") + kHookAddress);
        done = true;
    });
    int replaces = 0;
    Status replaced;
    while (!done && replaced) {
        OrderProgram& next = replaces % 2 == 0 ? b : a;
        replaced = attachClsBpf(ifindex_, true, 10, handle, next.fd(), "swapped", true);
        replaces++;
    }
    traffic.join();
    ASSERT_TRUE(replaced.has_value()) << replaced.error().message();
    ASSERT_TRUE(pinged);
    EXPECT_GT(replaces, 1);

    // Every request the later filter saw, one of the two programs saw first.
    EXPECT_GT(follower.packets(), 0u);
    EXPECT_GT(a.packets(), 0u);
    EXPECT_GT(b.packets(), 0u);
    EXPECT_EQ(a.packets() + b.packets(), follower.packets());
    EXPECT_EQ(list().size(), 2u);
}

// Two functions whose handles collide at one prio, or a foreign filter at
// the same (prio, handle): replace leaves the filter that is not its own.
TEST_F(ClsBpfTest, ReplaceRefusesAFilterOfAnotherName) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& theirs = program(1);
    OrderProgram& ours = program(2);
    const uint32_t handle = clsBpfHandle("program", "p");
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, handle, theirs.fd(), "l3af:program/q", false));

    Status replaced = attachClsBpf(ifindex_, true, 10, handle, ours.fd(), "l3af:program/p", true);
    ASSERT_FALSE(replaced.has_value());
    EXPECT_EQ(replaced.error().code(), EEXIST);
    EXPECT_NE(replaced.error().message().find("'l3af:program/q'"), std::string::npos)
        << replaced.error().message();
    std::vector<ClsBpfFilter> filters = list();
    ASSERT_EQ(filters.size(), 1u);
    EXPECT_EQ(filters[0].prog_id, theirs.id());
    EXPECT_EQ(filters[0].name, "l3af:program/q");
}

TEST_F(ClsBpfTest, ReplaceAddsTheFilterWhenThereIsNone) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& p = program(1);
    const uint32_t handle = clsBpfHandle("program", "p");
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, handle, p.fd(), "p", true));
    std::vector<ClsBpfFilter> filters = list();
    ASSERT_EQ(filters.size(), 1u);
    EXPECT_EQ(filters[0].prog_id, p.id());
}

TEST_F(ClsBpfTest, ForeignFiltersSurviveAttachReplaceAndDetach) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    // An operator's filters: a bpf one at a prio of its own, one sharing a
    // prio with ours (handle picked by the kernel), and a u32 one.
    const std::string pinned = " bpf da object-pinned " + pin(program(9));
    ASSERT_TRUE(sh("tc filter add dev c-rx ingress prio 20" + pinned)) << tcFilters();
    ASSERT_TRUE(sh("tc filter add dev c-rx ingress prio 10" + pinned)) << tcFilters();
    ASSERT_TRUE(sh("tc filter add dev c-rx ingress prio 40 u32 match u32 0 0"));
    std::vector<ClsBpfFilter> foreign = list();
    ASSERT_EQ(foreign.size(), 2u);

    auto foreignIntact = [&](const std::vector<ClsBpfFilter>& filters) {
        for (const ClsBpfFilter& f : foreign) {
            bool found = false;
            for (const ClsBpfFilter& g : filters)
                found |= g.prio == f.prio && g.handle == f.handle && g.prog_id == f.prog_id &&
                         g.name == f.name;
            EXPECT_TRUE(found) << "foreign filter at prio " << f.prio << " handle " << f.handle;
        }
        EXPECT_NE(tcFilters().find("pref 40 u32"), std::string::npos);
    };

    OrderProgram& a = program(1);
    OrderProgram& b = program(2);
    OrderProgram& a2 = program(3);
    const uint32_t aHandle = clsBpfHandle("program", "a");
    const uint32_t bHandle = clsBpfHandle("program", "b");
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, aHandle, a.fd(), "a", false));
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 30, bHandle, b.fd(), "b", false));
    std::vector<ClsBpfFilter> attached = list();
    EXPECT_EQ(attached.size(), 4u);
    EXPECT_TRUE(hasFilter(attached, 10, aHandle));
    EXPECT_TRUE(hasFilter(attached, 30, bHandle));
    foreignIntact(attached);

    // A prio holds filters of one kind: the u32 one's is not ours to share.
    Status shared = attachClsBpf(ifindex_, true, 40, aHandle, a.fd(), "a", false);
    ASSERT_FALSE(shared.has_value());
    EXPECT_EQ(shared.error().code(), EINVAL) << shared.error().message();

    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, aHandle, a2.fd(), "a", true));
    std::vector<ClsBpfFilter> replaced = list();
    EXPECT_EQ(replaced.size(), 4u);
    foreignIntact(replaced);

    ASSERT_TRUE(detachClsBpf(ifindex_, true, 10, aHandle));
    ASSERT_TRUE(detachClsBpf(ifindex_, true, 30, bHandle));
    std::vector<ClsBpfFilter> detached = list();
    EXPECT_EQ(detached.size(), 2u);
    EXPECT_FALSE(hasFilter(detached, 10, aHandle));
    EXPECT_FALSE(hasFilter(detached, 30, bHandle));
    foreignIntact(detached);
}

TEST_F(ClsBpfTest, DetachRemovesOnlyTheNamedFilterAndAbsenceIsNoError) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& a = program(1);
    OrderProgram& b = program(2);
    const uint32_t aHandle = clsBpfHandle("program", "a");
    const uint32_t bHandle = clsBpfHandle("program", "b");
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, aHandle, a.fd(), "a", false));
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, bHandle, b.fd(), "b", false));
    ASSERT_TRUE(attachClsBpf(ifindex_, false, 10, aHandle, a.fd(), "a", false));
    ASSERT_TRUE(sh("tc filter add dev c-rx ingress prio 40 u32 match u32 0 0"));

    ASSERT_TRUE(detachClsBpf(ifindex_, true, 10, aHandle));
    std::vector<ClsBpfFilter> ingress = list(true);
    ASSERT_EQ(ingress.size(), 1u);
    EXPECT_EQ(ingress[0].handle, bHandle);
    EXPECT_EQ(list(false).size(), 1u) << "the same (prio, handle) on egress stays";

    // Gone already, a prio without filters, a prio held by a u32 filter.
    EXPECT_TRUE(detachClsBpf(ifindex_, true, 10, aHandle).has_value());
    EXPECT_TRUE(detachClsBpf(ifindex_, true, 77, aHandle).has_value());
    Status u32 = detachClsBpf(ifindex_, true, 40, aHandle);
    EXPECT_TRUE(u32.has_value()) << u32.error().message();
    EXPECT_NE(tcFilters().find("pref 40 u32"), std::string::npos);
    EXPECT_EQ(list(true).size(), 1u);
}

TEST_F(ClsBpfTest, PrioAndHandleZeroAreRefused) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& a = program(1);
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, clsBpfHandle("program", "a"), a.fd(), "a", false));
    // To the kernel, 0 means "any": deleting with it would flush the hook.
    EXPECT_EQ(attachClsBpf(ifindex_, true, 0, 7, a.fd(), "a", false).error().code(), EINVAL);
    EXPECT_EQ(attachClsBpf(ifindex_, true, 10, 0, a.fd(), "a", false).error().code(), EINVAL);
    EXPECT_EQ(detachClsBpf(ifindex_, true, 0, 7).error().code(), EINVAL);
    EXPECT_EQ(detachClsBpf(ifindex_, true, 10, 0).error().code(), EINVAL);
    EXPECT_EQ(list().size(), 1u);
}

TEST_F(ClsBpfTest, PacketsRunThroughTheFiltersInPrioOrder) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& second = program(2);
    OrderProgram& first = program(1);
    // Attached in the opposite order of their prios: prio decides.
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 30, clsBpfHandle("program", "second"), second.fd(),
                             "second", false));
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, clsBpfHandle("program", "first"), first.fd(),
                             "first", false));

    ASSERT_TRUE(pingFromPeer());
    EXPECT_EQ(first.packets(), uint64_t(kPings));
    EXPECT_EQ(second.packets(), uint64_t(kPings));
    // Each appends its digit to the mark: 1 ran, then 2.
    EXPECT_EQ(first.mark(), 0x1u);
    EXPECT_EQ(second.mark(), 0x12u);

    // A replaced program takes its predecessor's place in the order.
    OrderProgram& third = program(3);
    ASSERT_TRUE(attachClsBpf(ifindex_, true, 10, clsBpfHandle("program", "first"), third.fd(),
                             "first", true));
    ASSERT_TRUE(pingFromPeer());
    EXPECT_EQ(first.packets(), uint64_t(kPings));
    EXPECT_EQ(third.packets(), uint64_t(kPings));
    EXPECT_EQ(second.packets(), uint64_t(2 * kPings));
    EXPECT_EQ(third.mark(), 0x3u);
    EXPECT_EQ(second.mark(), 0x32u);
}

TEST_F(ClsBpfTest, WithinOnePrioPacketsMeetTheFiltersInTheListedOrder) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& one = program(1);
    OrderProgram& two = program(2);
    ASSERT_TRUE(
        attachClsBpf(ifindex_, true, 10, clsBpfHandle("program", "one"), one.fd(), "one", false));
    ASSERT_TRUE(
        attachClsBpf(ifindex_, true, 10, clsBpfHandle("program", "two"), two.fd(), "two", false));
    std::vector<ClsBpfFilter> filters = list();
    ASSERT_EQ(filters.size(), 2u);

    ASSERT_TRUE(pingFromPeer());
    // The kernel puts a new filter first within its prio.
    EXPECT_EQ(filters[0].name, "two");
    EXPECT_EQ(filters[1].name, "one");
    EXPECT_EQ(two.mark(), 0x2u);
    EXPECT_EQ(one.mark(), 0x21u);
}

TEST_F(ClsBpfTest, EgressFiltersRunOnOutgoingPackets) {
    ASSERT_TRUE(ensureClsact(ifindex_).has_value());
    OrderProgram& out = program(1);
    ASSERT_TRUE(
        attachClsBpf(ifindex_, false, 10, clsBpfHandle("program", "out"), out.fd(), "out", false));
    EXPECT_TRUE(list(true).empty());
    ASSERT_EQ(list(false).size(), 1u);

    ASSERT_TRUE(pingFromPeer());
    EXPECT_EQ(out.packets(), 0u) << "requests from the peer are ingress";
    ASSERT_TRUE(pingToPeer());
    EXPECT_EQ(out.packets(), uint64_t(kPings));
    EXPECT_EQ(out.mark(), 0x1u);
}

// Handles identify l3afd's filters across restarts: they must not change.
TEST(ClsBpfHandle, IsStableAndApartFromKernelPickedHandles) {
    EXPECT_EQ(clsBpfHandle("program", "a"), clsBpfHandle("program", "a"));
    EXPECT_NE(clsBpfHandle("program", "a"), clsBpfHandle("program", "b"));
    EXPECT_NE(clsBpfHandle("program", "ab"), clsBpfHandle("programa", "b"));
    EXPECT_NE(clsBpfHandle("flow_exporter", "edge"), clsBpfHandle("mirror", "edge"));
    for (const char* name : {"", "a", "edge", "a rather longer program name"})
        EXPECT_NE(clsBpfHandle("program", name) & 0x80000000u, 0u) << name;
    // FNV-1a over "program\0a", top bit set.
    EXPECT_EQ(clsBpfHandle("program", "a"), 0xa2e17cd0u);
}

} // namespace
} // namespace l3af::kernel
