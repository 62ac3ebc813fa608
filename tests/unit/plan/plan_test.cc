// The plan as data: desired and observed in, the exact list of actions out.

#include "plan/plan.h"

#include <gtest/gtest.h>

using namespace l3af::plan;

namespace {

const Attachment kEth0In{"eth0", Hook::TcIngress};
const Attachment kEth0Out{"eth0", Hook::TcEgress};
const Attachment kEth1In{"eth1", Hook::TcIngress};

DesiredFunction edge(std::string revision, std::vector<Attachment> at) {
    return DesiredFunction{"flow_exporter", "edge", std::move(revision), FlowExporterSpec{},
                           std::move(at)};
}

ObservedFunction seenEdge(std::vector<std::string> revisions,
                          std::vector<ObservedAttachment> links) {
    return ObservedFunction{"flow_exporter", "edge", std::move(revisions), std::move(links)};
}

ObservedAttachment link(Attachment at, std::string revision, bool live = true) {
    return ObservedAttachment{std::move(at), 7, live, std::move(revision)};
}

std::vector<std::string> lines(const Plan& plan) {
    std::vector<std::string> out;
    for (const Action& a : plan.actions)
        out.push_back(a.str());
    return out;
}

using Lines = std::vector<std::string>;

} // namespace

TEST(Plan, NothingDesiredNothingObserved) {
    EXPECT_TRUE(computePlan({}, {}).empty());
}

TEST(Plan, NewFunctionLoadsThenAttachesEverywhere) {
    Desired want{{edge("r1", {kEth0In, kEth0Out})}};
    Observed seen{{}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"load flow_exporter 'edge' revision r1",
                     "attach flow_exporter 'edge' revision r1 to eth0 tc-ingress",
                     "attach flow_exporter 'edge' revision r1 to eth0 tc-egress"}));
}

TEST(Plan, AppliedStateIsNothingToDo) {
    Desired want{{edge("r1", {kEth0In, kEth0Out})}};
    Observed seen{{seenEdge({"r1"}, {link(kEth0In, "r1"), link(kEth0Out, "r1")})}, {"eth0"}};
    Plan plan = computePlan(want, seen);
    EXPECT_TRUE(plan.empty());
    EXPECT_TRUE(plan.pending.empty());
}

TEST(Plan, MissingInterfaceIsPendingNotAnAction) {
    Desired want{{edge("r1", {kEth0In, kEth1In})}};
    Observed seen{{}, {"eth0"}};
    Plan plan = computePlan(want, seen);
    EXPECT_EQ(lines(plan), (Lines{"load flow_exporter 'edge' revision r1",
                                  "attach flow_exporter 'edge' revision r1 to eth0 tc-ingress"}));
    EXPECT_EQ(plan.pending, (Lines{"flow_exporter 'edge' on eth1 tc-ingress: no such interface"}));
}

TEST(Plan, NewRevisionLoadsUpdatesLinksAtomicallyThenUnloadsOld) {
    Desired want{{edge("r2", {kEth0In})}};
    Observed seen{{seenEdge({"r1"}, {link(kEth0In, "r1")})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"load flow_exporter 'edge' revision r2",
                     "update flow_exporter 'edge' on eth0 tc-ingress to revision r2",
                     "unload flow_exporter 'edge' revision r1"}));
}

TEST(Plan, InterruptedUpdateFinishes) {
    // r2 was loaded and one link moved before the daemon died.
    Desired want{{edge("r2", {kEth0In, kEth0Out})}};
    Observed seen{{seenEdge({"r1", "r2"}, {link(kEth0In, "r2"), link(kEth0Out, "r1")})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"update flow_exporter 'edge' on eth0 tc-egress to revision r2",
                     "unload flow_exporter 'edge' revision r1"}));
}

TEST(Plan, DroppedAttachmentIsDetached) {
    Desired want{{edge("r1", {kEth0In})}};
    Observed seen{{seenEdge({"r1"}, {link(kEth0In, "r1"), link(kEth0Out, "r1")})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"detach flow_exporter 'edge' from eth0 tc-egress"}));
}

TEST(Plan, RemovedFunctionDetachesBeforeUnloading) {
    Observed seen{{seenEdge({"r1"}, {link(kEth0In, "r1"), link(kEth0Out, "r1")})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan({}, seen)),
              (Lines{"detach flow_exporter 'edge' from eth0 tc-ingress",
                     "detach flow_exporter 'edge' from eth0 tc-egress",
                     "unload flow_exporter 'edge' revision r1"}));
}

TEST(Plan, RecreatedInterfaceGetsItsLinkBack) {
    Desired want{{edge("r1", {kEth0In})}};
    Observed seen{{seenEdge({"r1"}, {link(kEth0In, "r1", /*live=*/false)})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"detach flow_exporter 'edge' from eth0 tc-ingress",
                     "attach flow_exporter 'edge' revision r1 to eth0 tc-ingress"}));
}

TEST(Plan, VanishedInterfaceDropsDeadLinkAndWaits) {
    Desired want{{edge("r1", {kEth0In})}};
    Observed seen{{seenEdge({"r1"}, {link(kEth0In, "r1", /*live=*/false)})}, {}};
    Plan plan = computePlan(want, seen);
    EXPECT_EQ(lines(plan), (Lines{"detach flow_exporter 'edge' from eth0 tc-ingress"}));
    EXPECT_EQ(plan.pending.size(), 1u);
}

TEST(Plan, OtherFunctionsAreIndependent) {
    DesiredFunction core = edge("r1", {kEth1In});
    core.name = "core";
    Desired want{{edge("r1", {kEth0In}), core}};
    Observed seen{{seenEdge({"r1"}, {link(kEth0In, "r1")})}, {"eth0", "eth1"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"load flow_exporter 'core' revision r1",
                     "attach flow_exporter 'core' revision r1 to eth1 tc-ingress"}));
}

TEST(Plan, HeldFunctionIsLeftAsItIs) {
    Observed seen{{seenEdge({"r1"}, {link(kEth0In, "r1")})}, {"eth0"}};
    Desired want;
    want.held.push_back({"flow_exporter", "edge"});
    EXPECT_TRUE(computePlan(want, seen).empty());
}

TEST(Plan, InterfacesAFunctionCreatesAreNotPending) {
    DesiredFunction tunnel{"tunnel",          "t", "r1", TunnelSpec{}, {{"l3p-t", Hook::TcIngress}},
                           {"l3t-t", "l3p-t"}};
    Plan plan = computePlan(Desired{{tunnel}}, Observed{{}, {}});
    EXPECT_EQ(lines(plan), (Lines{"load tunnel 't' revision r1",
                                  "attach tunnel 't' revision r1 to l3p-t tc-ingress"}));
    EXPECT_TRUE(plan.pending.empty());
}
