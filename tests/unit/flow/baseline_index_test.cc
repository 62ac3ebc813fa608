// The drain's compact memory of the baseline map.

#include "fake_flow_table.h"
#include "flow/baseline_index.h"

#include <gtest/gtest.h>

using namespace l3af::flow;
using l3af::flow::testing::makeKey;

namespace {

flow_value startedAt(uint64_t first_seen_ns) {
    flow_value v{};
    v.first_seen_ns = first_seen_ns;
    return v;
}

} // namespace

TEST(BaselineIndex, FindsAFlowsLastExportAndNothingForOthers) {
    BaselineIndex index;
    index.clear();
    index.add(makeKey(1), {5, 500, 1000});
    index.add(makeKey(2), {6, 600, 2000});
    index.seal();

    BaselineIndex::Match one = index.match(makeKey(1), startedAt(10));
    EXPECT_TRUE(one.candidate);
    EXPECT_EQ(one.last_export_ns, 1000u);
    BaselineIndex::Match three = index.match(makeKey(3), startedAt(10));
    EXPECT_FALSE(three.candidate);
    EXPECT_FALSE(three.last_export_ns);
}

TEST(BaselineIndex, ABaselineOlderThanTheFlowIsACandidateWithoutAnExportTime) {
    BaselineIndex index;
    index.add(makeKey(1), {5, 500, 1000});
    index.seal();
    BaselineIndex::Match m = index.match(makeKey(1), startedAt(1001));
    EXPECT_TRUE(m.candidate); // so the drain still deletes it with the flow
    EXPECT_FALSE(m.last_export_ns);
}

TEST(BaselineIndex, BaselinesNoFlowClaimedAreUnmatched) {
    BaselineIndex index;
    index.add(makeKey(1), {5, 500, 1000});
    index.add(makeKey(2), {6, 600, 2000});
    index.seal();
    EXPECT_EQ(index.unmatched(), 2u);
    (void)index.match(makeKey(1), startedAt(10));
    (void)index.match(makeKey(1), startedAt(10));
    EXPECT_EQ(index.unmatched(), 1u);
    EXPECT_FALSE(index.isUnmatched(makeKey(1), {5, 500, 1000}));
    EXPECT_TRUE(index.isUnmatched(makeKey(2), {6, 600, 2000}));
    // Written during the poll: not in the index, so not the sweep's to delete.
    EXPECT_FALSE(index.isUnmatched(makeKey(2), {7, 700, 3000}));
    EXPECT_FALSE(index.isUnmatched(makeKey(3), {6, 600, 2000}));
}

TEST(BaselineIndex, KeysThatDifferInOneByteHashApart) {
    flow_key a = makeKey(1);
    flow_key b = a;
    b.dst[15] ^= 1;
    EXPECT_NE(hashFlowKey(a), hashFlowKey(b));
    b = a;
    b.vlan = 1;
    EXPECT_NE(hashFlowKey(a), hashFlowKey(b));
}

TEST(BaselineIndex, FindsEachOfManyBaselinesThroughItsDirectory) {
    BaselineIndex index;
    for (uint32_t n = 0; n < 100000; n++)
        index.add(makeKey(n), {n, n, 1000 + n});
    index.seal();
    for (uint32_t n = 0; n < 100000; n++) {
        BaselineIndex::Match m = index.match(makeKey(n), startedAt(0));
        ASSERT_TRUE(m.candidate) << n;
        ASSERT_EQ(m.last_export_ns, 1000u + n) << n;
    }
    for (uint32_t n = 100000; n < 110000; n++)
        ASSERT_FALSE(index.match(makeKey(n), startedAt(0)).candidate) << n;
    EXPECT_EQ(index.unmatched(), 0u);

    // Refilled for the next poll: everything unmatched again.
    index.clear();
    for (uint32_t n = 0; n < 5000; n++)
        index.add(makeKey(n), {n, n, 1000 + n});
    index.seal();
    EXPECT_EQ(index.unmatched(), 5000u);
    EXPECT_TRUE(index.isUnmatched(makeKey(4999), {0, 0, 5999}));
}
