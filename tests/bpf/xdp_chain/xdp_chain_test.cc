// XDP programs sharing an interface through libxdp's dispatcher, on a veth
// pair in a network namespace of the test's own:
//
//   xdp0 (the XDP programs) ──veth── xdp1 (the test sends frames here)
//
// ICMP echo requests written to xdp1 arrive at xdp0's dispatcher; the
// xdp_trace programs record, per echo sequence number, which of them ran
// and in which order (xdp_trace.h). Foreign components are loaded with
// xdp-loader, as an operator would.

#include "kernel/xdp_chain.h"

#include "kernel/admin_capability.h"

#include "checksum.h"
#include "netns.h"
#include "xdp_trace.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace l3af::kernel {
namespace {

namespace fs = std::filesystem;

using test::foldComplement;
using test::onesSum;
using test::ScopedNetns;
using test::sendFrame;
using test::sh;

// The objects from the build tree; the image test runs this binary in a
// guest where they sit elsewhere, and says where.
std::string object(const char* variable, const char* built) {
    const char* moved = std::getenv(variable);
    return moved && *moved ? moved : built;
}
const std::string kTraceObject = object("L3AF_XDP_TRACE_OBJECT", L3AF_XDP_TRACE_OBJECT);
const std::string kRejectObject = object("L3AF_XDP_REJECT_OBJECT", L3AF_XDP_REJECT_OBJECT);
constexpr char kHook[] = "xdp0";
constexpr char kPeer[] = "xdp1";

// An ICMP echo request from 10.99.0.2 to 10.99.0.1 with sequence `seq`.
std::vector<uint8_t> echoFrame(uint16_t seq) {
    std::vector<uint8_t> f(14 + 20 + 8 + 8, 0);
    std::fill_n(f.begin(), 6, 0xff); // broadcast
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x01};
    std::copy_n(src, 6, f.begin() + 6);
    f[12] = 0x08; // IPv4
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    ip[3] = uint8_t(f.size() - 14);
    ip[8] = 64; // TTL
    ip[9] = 1;  // ICMP
    const uint8_t addrs[8] = {10, 99, 0, 2, 10, 99, 0, 1};
    std::copy_n(addrs, 8, ip + 12);
    const uint16_t ip_sum = foldComplement(onesSum(ip, 20));
    ip[10] = uint8_t(ip_sum >> 8);
    ip[11] = uint8_t(ip_sum);
    uint8_t* icmp = ip + 20;
    icmp[0] = 8; // echo request
    icmp[4] = 0x12;
    icmp[5] = 0x34;
    icmp[6] = uint8_t(seq >> 8);
    icmp[7] = uint8_t(seq);
    const uint16_t icmp_sum = foldComplement(onesSum(icmp, 16));
    icmp[2] = uint8_t(icmp_sum >> 8);
    icmp[3] = uint8_t(icmp_sum);
    return f;
}

uint32_t mapIdOf(int fd) {
    bpf_map_info info{};
    uint32_t len = sizeof info;
    return bpf_map_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

std::vector<uint32_t> mapIdsOfProgram(uint32_t prog_id) {
    int fd = bpf_prog_get_fd_by_id(prog_id);
    if (fd < 0)
        return {};
    std::array<uint32_t, 16> ids{};
    bpf_prog_info info{};
    info.nr_map_ids = ids.size();
    info.map_ids = reinterpret_cast<uint64_t>(ids.data());
    uint32_t len = sizeof info;
    const int err = bpf_prog_get_info_by_fd(fd, &info, &len);
    ::close(fd);
    if (err != 0)
        return {};
    return {ids.begin(), ids.begin() + std::min<size_t>(info.nr_map_ids, ids.size())};
}

std::vector<uint32_t> idsOf(const std::vector<XdpComponent>& components) {
    std::vector<uint32_t> ids;
    for (const XdpComponent& c : components)
        ids.push_back(c.prog_id);
    return ids;
}

// Whether the calling thread has CAP_SYS_ADMIN in its effective set.
bool adminEffective() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capget, &header, data) != 0)
        return false;
    return data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN);
}

// libxdp's dispatcher calls its components as freplace programs.
bool kernelLoadsFreplace() {
    return libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_EXT, nullptr) == 1;
}

#define REQUIRE_DISPATCHER()                                                                       \
    do {                                                                                           \
        if (!kernelLoadsFreplace())                                                                \
            GTEST_SKIP() << "this kernel refuses freplace (BPF_PROG_TYPE_EXT) programs, which "    \
                            "libxdp's dispatcher needs";                                           \
    } while (0)

class XdpChainTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0)
            GTEST_SKIP() << "needs root (network namespaces, XDP)";
        netns_ = std::make_unique<ScopedNetns>();
        ASSERT_TRUE(netns_->entered()) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
        ASSERT_TRUE(sh(std::string("ip link add ") + kHook + " type veth peer name " + kPeer));
        ASSERT_TRUE(
            sh(std::string("ip link set ") + kHook + " up && ip link set " + kPeer + " up"));
        ifindex_ = ::if_nametoindex(kHook);
        ASSERT_NE(ifindex_, 0u);
        pins_ = fs::path("/sys/fs/bpf") / ("l3af-xdp-chain-test-" + std::to_string(::getpid()));
        fs::remove_all(pins_);
        fs::create_directories(maps());
    }

    void TearDown() override {
        if (ifindex_ != 0) {
            // Components first (libxdp's pins go with them), then a lone program.
            if (auto listed = listXdp(ifindex_); listed)
                for (const XdpComponent& c : *listed)
                    (void)detachXdp(ifindex_, c.prog_id);
            bpf_xdp_detach(int(ifindex_), 0, nullptr);
        }
        netns_.reset();
        std::error_code ec;
        fs::remove_all(pins_, ec);
    }

    fs::path maps() const { return pins_ / "maps"; }
    fs::path pin(const std::string& name) const { return pins_ / "links" / name; }

    uint32_t attach(const std::string& function, uint32_t prio) {
        auto id = attachXdp(ifindex_, kTraceObject, function, prio, maps(), pin(function));
        EXPECT_TRUE(id.has_value()) << (id ? "" : id.error().message());
        return id.value_or(0);
    }

    std::vector<XdpComponent> list() {
        auto listed = listXdp(ifindex_);
        EXPECT_TRUE(listed.has_value()) << (listed ? "" : listed.error().message());
        return listed.value_or(std::vector<XdpComponent>{});
    }

    void sendEcho(uint16_t seq) {
        ASSERT_TRUE(sendFrame(int(::if_nametoindex(kPeer)), echoFrame(seq)))
            << std::strerror(errno);
    }

    uint64_t trace(uint32_t slot) {
        int fd = bpf_obj_get((maps() / "xdp_trace").c_str());
        uint64_t value = 0;
        if (fd >= 0) {
            bpf_map_lookup_elem(fd, &slot, &value);
            ::close(fd);
        }
        return value;
    }

    // The trace of echo `seq` once it reads `expected`; what it holds when
    // the packet has not got there within a few seconds otherwise. The
    // programs run in softirq context after the send returns.
    uint64_t traceOfEcho(uint16_t seq, uint64_t expected) {
        sendEcho(seq);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        uint64_t value = trace(seq % XDP_TRACE_SLOTS);
        while (value != expected && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            value = trace(seq % XDP_TRACE_SLOTS);
        }
        return value;
    }

    std::unique_ptr<ScopedNetns> netns_;
    unsigned ifindex_ = 0;
    fs::path pins_;
};

TEST_F(XdpChainTest, NothingAttachedListsEmpty) {
    auto listed = listXdp(ifindex_);
    ASSERT_TRUE(listed.has_value()) << listed.error().message();
    EXPECT_TRUE(listed->empty());
}

TEST_F(XdpChainTest, RunsComponentsInPriorityOrder) {
    REQUIRE_DISPATCHER();
    const uint32_t a = attach("xdp_trace_a", 20);
    const uint32_t b = attach("xdp_trace_b", 10);
    ASSERT_NE(a, 0u);
    ASSERT_NE(b, 0u);

    const std::vector<XdpComponent> listed = list();
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].prog_id, b);
    EXPECT_EQ(listed[0].run_prio, 10u);
    EXPECT_EQ(listed[0].name, "xdp_trace_b");
    EXPECT_EQ(listed[1].prog_id, a);
    EXPECT_EQ(listed[1].run_prio, 20u);
    EXPECT_EQ(listed[1].name, "xdp_trace_a");

    for (uint16_t seq = 1; seq <= 3; seq++)
        EXPECT_EQ(traceOfEcho(seq, 0xba), 0xbau) << "echo " << seq;

    // Each component is pinned where the caller asked, by program id.
    for (const auto& [function, id] : {std::pair{"xdp_trace_a", a}, std::pair{"xdp_trace_b", b}}) {
        int fd = bpf_obj_get(pin(function).c_str());
        ASSERT_GE(fd, 0) << function;
        bpf_prog_info info{};
        uint32_t len = sizeof info;
        ASSERT_EQ(bpf_prog_get_info_by_fd(fd, &info, &len), 0);
        ::close(fd);
        EXPECT_EQ(info.id, id) << function;
        EXPECT_EQ(info.type, uint32_t(BPF_PROG_TYPE_EXT)) << function;
    }

    // The dispatcher runs in the driver (veth has native XDP) and libxdp
    // keeps it pinned under /sys/fs/bpf/xdp, where other libxdp users find it.
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    ASSERT_EQ(bpf_xdp_query(int(ifindex_), 0, &query), 0);
    EXPECT_EQ(query.attach_mode, XDP_ATTACHED_DRV);
    const fs::path dispatcher =
        fs::path("/sys/fs/bpf/xdp") /
        ("dispatch-" + std::to_string(ifindex_) + "-" + std::to_string(query.drv_prog_id));
    EXPECT_TRUE(fs::exists(dispatcher / "prog0-prog")) << dispatcher;
    EXPECT_TRUE(fs::exists(dispatcher / "prog1-prog")) << dispatcher;
}

TEST_F(XdpChainTest, ComponentIdsSurviveDispatcherRebuilds) {
    REQUIRE_DISPATCHER();
    const uint32_t a = attach("xdp_trace_a", 20);
    ASSERT_NE(a, 0u);
    LIBBPF_OPTS(bpf_xdp_query_opts, first);
    ASSERT_EQ(bpf_xdp_query(int(ifindex_), 0, &first), 0);

    const uint32_t b = attach("xdp_trace_b", 30);
    ASSERT_NE(b, 0u);
    EXPECT_EQ(idsOf(list()), (std::vector<uint32_t>{a, b}));
    LIBBPF_OPTS(bpf_xdp_query_opts, second);
    ASSERT_EQ(bpf_xdp_query(int(ifindex_), 0, &second), 0);
    EXPECT_NE(second.drv_prog_id, first.drv_prog_id) << "a new dispatcher for the new set";

    ASSERT_TRUE(detachXdp(ifindex_, b));
    EXPECT_EQ(idsOf(list()), (std::vector<uint32_t>{a}));
    EXPECT_EQ(traceOfEcho(7, 0xa), 0xau);

    ASSERT_TRUE(detachXdp(ifindex_, a));
    EXPECT_TRUE(list().empty()) << "the dispatcher goes with its last component";
    LIBBPF_OPTS(bpf_xdp_query_opts, last);
    ASSERT_EQ(bpf_xdp_query(int(ifindex_), 0, &last), 0);
    EXPECT_EQ(last.attach_mode, XDP_ATTACHED_NONE);
}

TEST_F(XdpChainTest, ForeignComponentSurvivesAttachAndDetach) {
    REQUIRE_DISPATCHER();
    if (!sh("command -v xdp-loader"))
        GTEST_SKIP() << "xdp-loader (xdp-tools) is not installed";
    // Someone else's program, in the dispatcher at priority 15; it writes
    // into the same trace map (pinned by name under --pin-path).
    ASSERT_TRUE(sh("xdp-loader load -p " + maps().string() + " -n xdp_trace_c -P 15 " + kHook +
                   " " + kTraceObject));
    std::vector<XdpComponent> before = list();
    ASSERT_EQ(before.size(), 1u);
    const uint32_t foreign = before[0].prog_id;
    EXPECT_EQ(before[0].run_prio, 15u);
    EXPECT_EQ(before[0].name, "xdp_trace_c");

    const uint32_t a = attach("xdp_trace_a", 20);
    const uint32_t b = attach("xdp_trace_b", 10);
    ASSERT_NE(a, 0u);
    ASSERT_NE(b, 0u);
    EXPECT_EQ(idsOf(list()), (std::vector<uint32_t>{b, foreign, a}));
    EXPECT_EQ(traceOfEcho(1, 0xbca), 0xbcau);

    ASSERT_TRUE(detachXdp(ifindex_, a));
    ASSERT_TRUE(detachXdp(ifindex_, b));
    EXPECT_EQ(idsOf(list()), (std::vector<uint32_t>{foreign}));
    EXPECT_EQ(traceOfEcho(2, 0xc), 0xcu);
    EXPECT_TRUE(sh(std::string("xdp-loader status ") + kHook + " | grep -q xdp_trace_c"));
}

// A dispatcher someone loaded in skb (generic) mode is joined there: the
// kernel keeps native and generic programs apart, so joining it natively
// would fail or, worse, run beside it.
TEST_F(XdpChainTest, JoinsAForeignDispatcherInItsMode) {
    REQUIRE_DISPATCHER();
    if (!sh("command -v xdp-loader"))
        GTEST_SKIP() << "xdp-loader (xdp-tools) is not installed";
    ASSERT_TRUE(sh("xdp-loader load -m skb -p " + maps().string() + " -n xdp_trace_c -P 15 " +
                   kHook + " " + kTraceObject));
    const std::vector<XdpComponent> before = list();
    ASSERT_EQ(before.size(), 1u);
    const uint32_t foreign = before[0].prog_id;

    const uint32_t a = attach("xdp_trace_a", 20);
    ASSERT_NE(a, 0u);
    EXPECT_EQ(idsOf(list()), (std::vector<uint32_t>{foreign, a}));
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    ASSERT_EQ(bpf_xdp_query(int(ifindex_), 0, &query), 0);
    EXPECT_EQ(query.attach_mode, XDP_ATTACHED_SKB);
    EXPECT_EQ(traceOfEcho(6, 0xca), 0xcau);

    ASSERT_TRUE(detachXdp(ifindex_, a));
    EXPECT_EQ(idsOf(list()), (std::vector<uint32_t>{foreign}));
    EXPECT_EQ(traceOfEcho(8, 0xc), 0xcu);
}

TEST_F(XdpChainTest, MapContentsSurviveDetachAndReattach) {
    REQUIRE_DISPATCHER();
    const uint32_t first = attach("xdp_trace_a", 20);
    ASSERT_NE(first, 0u);
    int fd = bpf_obj_get((maps() / "xdp_trace").c_str());
    ASSERT_GE(fd, 0) << "the map is pinned in map_dir under its name";
    const uint32_t map_id = mapIdOf(fd);
    const uint32_t slot = XDP_TRACE_SLOTS - 1;
    const uint64_t kept = 0x1234;
    ASSERT_EQ(bpf_map_update_elem(fd, &slot, &kept, BPF_ANY), 0);
    ::close(fd);

    ASSERT_TRUE(detachXdp(ifindex_, first));
    ASSERT_TRUE(list().empty());
    ASSERT_EQ(::unlink(pin("xdp_trace_a").c_str()), 0)
        << "the caller's pin, the caller's to remove";

    const uint32_t second = attach("xdp_trace_a", 20);
    ASSERT_NE(second, 0u);
    EXPECT_NE(second, first);
    const std::vector<uint32_t> used = mapIdsOfProgram(second);
    EXPECT_NE(std::find(used.begin(), used.end(), map_id), used.end())
        << "the new component runs with the pinned map";
    EXPECT_EQ(trace(slot), kept);
    EXPECT_EQ(traceOfEcho(5, 0xa), 0xau);
}

TEST_F(XdpChainTest, VerifierRejectionChangesNothing) {
    REQUIRE_DISPATCHER();
    const uint32_t a = attach("xdp_trace_a", 20);
    ASSERT_NE(a, 0u);
    const std::vector<uint32_t> before = idsOf(list());

    auto rejected = attachXdp(ifindex_, kRejectObject, "xdp_reject", 10, maps(), pin("xdp_reject"));
    ASSERT_FALSE(rejected.has_value());
    const std::string message = rejected.error().message();
    EXPECT_NE(message.find("xdp_reject"), std::string::npos) << message;
    EXPECT_NE(message.find("invalid access to packet"), std::string::npos)
        << "the verifier's words: " << message;

    EXPECT_EQ(idsOf(list()), before);
    EXPECT_FALSE(fs::exists(maps() / "xdp_reject_count"));
    EXPECT_FALSE(fs::exists(pin("xdp_reject")));
    EXPECT_EQ(traceOfEcho(3, 0xa), 0xau);
}

TEST_F(XdpChainTest, RefusesAnInterfaceHeldWithoutDispatcher) {
    // A plain XDP program, attached the way `ip link set xdp` does.
    const std::string pin_root = maps().string(); // its map pinned by name, not in /sys/fs/bpf
    LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = pin_root.c_str());
    bpf_object* obj = bpf_object__open_file(kTraceObject.c_str(), &open_opts);
    ASSERT_NE(obj, nullptr);
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, obj)
        bpf_program__set_autoload(prog, std::string(bpf_program__name(prog)) == "xdp_trace_c");
    ASSERT_EQ(bpf_object__load(obj), 0);
    const int fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdp_trace_c"));
    ASSERT_EQ(bpf_xdp_attach(int(ifindex_), fd, 0, nullptr), 0);
    uint32_t lone = 0;
    ASSERT_EQ(bpf_xdp_query_id(int(ifindex_), 0, &lone), 0);

    auto refused = attachXdp(ifindex_, kTraceObject, "xdp_trace_a", 20, maps(), pin("xdp_trace_a"));
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().message().find("without libxdp's dispatcher"), std::string::npos)
        << refused.error().message();

    const std::vector<XdpComponent> listed = list();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].prog_id, lone);
    EXPECT_EQ(listed[0].run_prio, 0u);
    EXPECT_EQ(listed[0].name, "xdp_trace_c");
    EXPECT_EQ(traceOfEcho(4, 0xc), 0xcu) << "the lone program still runs";
    EXPECT_FALSE(fs::exists(pin("xdp_trace_a")));

    EXPECT_TRUE(detachXdp(ifindex_, lone)) << "not a component: nothing to do";
    EXPECT_EQ(idsOf(list()), (std::vector<uint32_t>{lone}));
    bpf_object__close(obj);
}

TEST_F(XdpChainTest, DetachingAnAbsentProgramIsNotAnError) {
    EXPECT_TRUE(detachXdp(ifindex_, 0xfffffff0u));
    REQUIRE_DISPATCHER();
    const uint32_t a = attach("xdp_trace_a", 20);
    ASSERT_NE(a, 0u);
    EXPECT_TRUE(detachXdp(ifindex_, a + 100000));
    EXPECT_EQ(idsOf(list()), (std::vector<uint32_t>{a}));
}

// Without freplace, libxdp would attach a lone program in the dispatcher's
// place and lock every other XDP user out; attachXdp refuses instead.
TEST_F(XdpChainTest, RefusesWhenTheKernelCannotRunADispatcher) {
    if (kernelLoadsFreplace())
        GTEST_SKIP() << "this kernel loads freplace programs";
    auto refused = attachXdp(ifindex_, kTraceObject, "xdp_trace_a", 20, maps(), pin("xdp_trace_a"));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), EOPNOTSUPP);
    EXPECT_NE(refused.error().message().find("freplace"), std::string::npos)
        << refused.error().message();
    EXPECT_TRUE(list().empty());
    EXPECT_FALSE(fs::exists(maps() / "xdp_trace"));
    EXPECT_FALSE(fs::exists(pin("xdp_trace_a")));
}

// The daemon holds CAP_SYS_ADMIN permitted but not effective
// (admin_capability.h): libxdp's calls must work from there and leave it so.
// A thread of its own: capabilities are per thread.
TEST_F(XdpChainTest, WorksWithTheAdminCapabilityOnlyPermitted) {
    REQUIRE_DISPATCHER();
    std::thread([&] {
        lowerAdminCapability();
        ASSERT_FALSE(adminEffective());
        auto id = attachXdp(ifindex_, kTraceObject, "xdp_trace_a", 20, maps(), pin("xdp_trace_a"));
        ASSERT_TRUE(id.has_value()) << id.error().message();
        EXPECT_FALSE(adminEffective());
        auto listed = listXdp(ifindex_);
        ASSERT_TRUE(listed.has_value()) << listed.error().message();
        EXPECT_EQ(idsOf(*listed), (std::vector<uint32_t>{*id}));
        EXPECT_TRUE(detachXdp(ifindex_, *id));
        EXPECT_FALSE(adminEffective());
    }).join();
    EXPECT_TRUE(list().empty());
}

// What the capability is held for: the kernel opens a program by id only for
// CAP_SYS_ADMIN. Lowered, that fails; raised, it works; then lowered again.
TEST(AdminCapability, RaisedForItsScopeOnly) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root (CAP_SYS_ADMIN to lower and raise)";
    const bpf_insn ret0[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    const int prog = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "l3af_cap_test", "GPL", ret0,
                                   std::size(ret0), nullptr);
    ASSERT_GE(prog, 0) << std::strerror(errno);
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    ASSERT_EQ(bpf_prog_get_info_by_fd(prog, &info, &len), 0);
    std::thread([&] {
        lowerAdminCapability();
        EXPECT_FALSE(adminEffective());
        EXPECT_LT(bpf_prog_get_fd_by_id(info.id), 0);
        EXPECT_EQ(errno, EPERM);
        {
            const RaisedAdminCapability admin;
            EXPECT_TRUE(adminEffective());
            const int fd = bpf_prog_get_fd_by_id(info.id);
            EXPECT_GE(fd, 0) << std::strerror(errno);
            if (fd >= 0)
                ::close(fd);
        }
        EXPECT_FALSE(adminEffective());
    }).join();
    ::close(prog);
    EXPECT_TRUE(adminEffective()) << "the test's own thread keeps its capabilities";
}

} // namespace
} // namespace l3af::kernel
