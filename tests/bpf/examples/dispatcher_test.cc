// xdp_ratelimit and xdp_stamp as programs of libxdp's multi-program
// dispatcher, the way l3afd runs XDP programs: libxdp reads their BTF and
// run config and runs them in priority order, going on to the next program
// only after an action whose chain call is enabled (XDP_PASS). The dispatcher
// runs under BPF_PROG_TEST_RUN, attached to the loopback device of a network
// namespace of the test's own.

#include "object_harness.h"
#include "order_stamp_abi.h"
#include "xdp_ratelimit_abi.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <time.h>
#include <xdp/libxdp.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace l3af::test {
namespace {

struct XdpProgramClose {
    void operator()(xdp_program* program) const { xdp_program__close(program); }
};
using XdpProgramPtr = std::unique_ptr<xdp_program, XdpProgramClose>;

struct XdpMultiprogClose {
    void operator()(xdp_multiprog* mp) const { xdp_multiprog__close(mp); }
};
using XdpMultiprogPtr = std::unique_ptr<xdp_multiprog, XdpMultiprogClose>;

XdpProgramPtr openXdpProgram(const char* path, const char* function) {
    DECLARE_LIBXDP_OPTS(xdp_program_opts, opts, .prog_name = function, .open_filename = path);
    xdp_program* program = xdp_program__create(&opts);
    return XdpProgramPtr(libxdp_get_error(program) ? nullptr : program);
}

int mapFd(xdp_program* program, const char* name) {
    bpf_map* map = bpf_object__find_map_by_name(xdp_program__bpf_obj(program), name);
    return map ? bpf_map__fd(map) : -1;
}

Bytes stampFrame() {
    PacketBuilder packet;
    packet.ipv4("192.0.2.1", "198.51.100.1")
        .udp(40000, ORDER_STAMP_PORT)
        .payload(ORDER_STAMP_MAGIC_LEN + ORDER_STAMP_SLOTS);
    Bytes frame = packet.build();
    std::string_view magic = ORDER_STAMP_MAGIC;
    size_t at = frame.size() - ORDER_STAMP_SLOTS - magic.size();
    std::copy(magic.begin(), magic.end(), frame.begin() + static_cast<ptrdiff_t>(at));
    std::fill(frame.end() - ORDER_STAMP_SLOTS, frame.end(), 0);
    return frame;
}

std::array<uint8_t, ORDER_STAMP_SLOTS> slotsOf(const Bytes& frame) {
    std::array<uint8_t, ORDER_STAMP_SLOTS> slots{};
    std::copy(frame.end() - ORDER_STAMP_SLOTS, frame.end(), slots.begin());
    return slots;
}

TEST(XdpDispatcherTest, RatelimitCarriesLibxdpRunConfig) {
    XdpProgramPtr ratelimit = openXdpProgram(L3AF_XDP_RATELIMIT_OBJ, "xdp_ratelimit");
    ASSERT_TRUE(ratelimit);
    EXPECT_EQ(xdp_program__run_prio(ratelimit.get()), 50u);
    EXPECT_TRUE(xdp_program__chain_call_enabled(ratelimit.get(), XDP_PASS));
    EXPECT_FALSE(xdp_program__chain_call_enabled(ratelimit.get(), XDP_DROP));
    EXPECT_TRUE(xdp_program__btf(ratelimit.get())) << "the dispatcher needs the program's BTF";
}

class XdpDispatcherChainTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: network namespaces, XDP";
        // The dispatcher's programs are freplace (BPF_PROG_TYPE_EXT) programs;
        // without them libxdp falls back to one program per interface.
        if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_EXT, nullptr) != 1)
            GTEST_SKIP() << "the kernel does not load BPF_PROG_TYPE_EXT programs: no libxdp "
                            "dispatcher here";
        libxdp_set_print([](libxdp_print_level level, const char* format, va_list args) {
            return level == LIBXDP_WARN ? std::vfprintf(stderr, format, args) : 0;
        });
        installQuietLibbpfLog();
        netns_ = std::make_unique<ScopedNetns>();
        ASSERT_TRUE(netns_->entered()) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
        ifindex_ = static_cast<int>(if_nametoindex("lo"));
        ASSERT_GT(ifindex_, 0);
    }

    void TearDown() override {
        if (!programs_.empty()) {
            std::vector<xdp_program*> raw;
            for (auto& program : programs_)
                raw.push_back(program.get());
            xdp_program__detach_multi(raw.data(), raw.size(), ifindex_, XDP_MODE_SKB, 0);
        }
        programs_.clear();
        netns_.reset();
    }

    std::unique_ptr<ScopedNetns> netns_;
    int ifindex_ = 0;
    std::vector<XdpProgramPtr> programs_;
};

// stamp id 1 (priority 10), ratelimit (15), stamp id 2 (20): the stamps show
// who ran; once the rate limit drops, the program after it does not run.
TEST_F(XdpDispatcherChainTest, ProgramsRunInPriorityOrderUntilOneDrops) {
    XdpProgramPtr first = openXdpProgram(L3AF_ORDER_STAMP_OBJ, "xdp_stamp");
    XdpProgramPtr ratelimit = openXdpProgram(L3AF_XDP_RATELIMIT_OBJ, "xdp_ratelimit");
    XdpProgramPtr second = openXdpProgram(L3AF_ORDER_STAMP_OBJ, "xdp_stamp");
    ASSERT_TRUE(first && ratelimit && second);
    ASSERT_EQ(xdp_program__set_run_prio(first.get(), 10), 0);
    ASSERT_EQ(xdp_program__set_run_prio(ratelimit.get(), 15), 0);
    ASSERT_EQ(xdp_program__set_run_prio(second.get(), 20), 0);

    // Attached in another order than they run: the dispatcher sorts them.
    xdp_program* attach[] = {second.get(), ratelimit.get(), first.get()};
    int err = xdp_program__attach_multi(attach, 3, ifindex_, XDP_MODE_SKB, 0);
    ASSERT_EQ(err, 0) << "libxdp attach: " << std::strerror(-err);
    programs_.push_back(std::move(second));
    programs_.push_back(std::move(ratelimit));
    programs_.push_back(std::move(first));
    xdp_program* second_p = programs_[0].get();
    xdp_program* ratelimit_p = programs_[1].get();
    xdp_program* first_p = programs_[2].get();

    ASSERT_EQ(updateElem(mapFd(first_p, "stamp"), uint32_t{0}, uint32_t{1}), 0);
    ASSERT_EQ(updateElem(mapFd(second_p, "stamp"), uint32_t{0}, uint32_t{2}), 0);
    ratelimit_config config{.rate_pps = 1, .burst = 2};
    ASSERT_EQ(updateElem(mapFd(ratelimit_p, "config"), uint32_t{0}, config), 0);

    XdpMultiprogPtr mp(xdp_multiprog__get_from_ifindex(ifindex_));
    ASSERT_FALSE(libxdp_get_error(mp.get()));
    ASSERT_EQ(xdp_multiprog__program_count(mp.get()), 3);
    ASSERT_FALSE(xdp_multiprog__is_legacy(mp.get()));
    int dispatcher = xdp_program__fd(xdp_multiprog__main_prog(mp.get()));

    Bytes frame = stampFrame();
    std::vector<RunOutcome> outcomes;
    timespec start{}, end{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < 3; i++)
        outcomes.push_back(runProgram(dispatcher, frame));
    clock_gettime(CLOCK_MONOTONIC, &end);
    if (end.tv_sec - start.tv_sec >= 1)
        GTEST_SKIP() << "the runs took about a second, the rate limit's refill interval";

    using Slots = std::array<uint8_t, ORDER_STAMP_SLOTS>;
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(outcomes[i].error, 0) << std::strerror(outcomes[i].error);
        EXPECT_EQ(outcomes[i].verdict, XDP_PASS) << "packet " << i;
        EXPECT_EQ(slotsOf(outcomes[i].data_out), (Slots{1, 2, 0, 0, 0, 0, 0, 0})) << "packet " << i;
    }
    // A third packet within the second needs a refill first.
    ASSERT_EQ(outcomes[2].error, 0);
    EXPECT_EQ(outcomes[2].verdict, XDP_DROP);
    EXPECT_EQ(slotsOf(outcomes[2].data_out), (Slots{1, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(lookupArray<uint64_t>(mapFd(first_p, "stamped"), 0), 3u);
    EXPECT_EQ(lookupArray<uint64_t>(mapFd(second_p, "stamped"), 0), 2u);
}

} // namespace
} // namespace l3af::test
