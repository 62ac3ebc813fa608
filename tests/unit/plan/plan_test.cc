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

// Programs and chains: several functions on one hook, in priority order.

namespace {

const Attachment kEth0Xdp{"eth0", Hook::Xdp};

DesiredFunction program(std::string name, std::string revision, uint32_t priority,
                        std::vector<Attachment> at, std::vector<MapContents> maps = {}) {
    ProgramSpec spec{"/obj/" + name + ".o", name, "digest",
                     at.empty() ? Hook::TcIngress : at[0].hook, std::move(maps)};
    DesiredFunction f{"program", std::move(name), std::move(revision), spec, std::move(at)};
    f.priority = priority;
    return f;
}

ObservedAttachment tcxAt(Attachment at, std::string revision, uint32_t position) {
    ObservedAttachment link{std::move(at), 7, true, std::move(revision)};
    link.position = position;
    return link;
}

ObservedAttachment prioAt(Attachment at, std::string revision, Mechanism mechanism,
                          uint32_t priority) {
    ObservedAttachment link{std::move(at), 0, true, std::move(revision)};
    link.mechanism = mechanism;
    link.priority = priority;
    return link;
}

ObservedFunction seenProgram(std::string name, std::vector<std::string> revisions,
                             std::vector<ObservedAttachment> links,
                             std::vector<MapContents> maps = {}) {
    return ObservedFunction{"program", std::move(name), std::move(revisions), std::move(links),
                            std::move(maps)};
}

MapContents configMap(uint8_t value) {
    return MapContents{"config", {MapEntryBytes{{0, 0, 0, 0}, {value, 0, 0, 0}}}};
}

} // namespace

TEST(PlanChains, NewProgramsAttachFromTheBackEachBeforeTheNext) {
    Desired want{{program("a", "ra", 10, {kEth0In}), program("b", "rb", 20, {kEth0In}),
                  program("c", "rc", 30, {kEth0In})}};
    EXPECT_EQ(
        lines(computePlan(want, Observed{{}, {"eth0"}})),
        (Lines{"load program 'a' revision ra", "load program 'b' revision rb",
               "load program 'c' revision rc", "attach program 'c' revision rc to eth0 tc-ingress",
               "attach program 'b' revision rb to eth0 tc-ingress before program 'c'",
               "attach program 'a' revision ra to eth0 tc-ingress before program 'b'"}));
}

TEST(PlanChains, NewProgramGoesBetweenAttachedOnes) {
    Desired want{{program("a", "ra", 10, {kEth0In}), program("b", "rb", 20, {kEth0In}),
                  program("c", "rc", 30, {kEth0In})}};
    Observed seen{{seenProgram("a", {"ra"}, {tcxAt(kEth0In, "ra", 0)}),
                   seenProgram("c", {"rc"}, {tcxAt(kEth0In, "rc", 3)})},
                  {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"load program 'b' revision rb",
                     "attach program 'b' revision rb to eth0 tc-ingress before program 'c'"}));
}

TEST(PlanChains, NewLastProgramGoesAfterTheLastInOrder) {
    Desired want{{program("a", "ra", 10, {kEth0In}), program("b", "rb", 20, {kEth0In})}};
    Observed seen{{seenProgram("a", {"ra"}, {tcxAt(kEth0In, "ra", 2)})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"load program 'b' revision rb",
                     "attach program 'b' revision rb to eth0 tc-ingress after program 'a'"}));
}

TEST(PlanChains, BuiltInsAndProgramsShareOneOrder) {
    DesiredFunction exporter = edge("r1", {kEth0In});
    exporter.priority = 10;
    Desired want{{exporter, program("drop", "rd", 5, {kEth0In})}};
    Observed seen{{seenEdge({"r1"}, {tcxAt(kEth0In, "r1", 0)})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"load program 'drop' revision rd",
                     "attach program 'drop' revision rd to eth0 tc-ingress before "
                     "flow_exporter 'edge'"}));
}

TEST(PlanChains, ReorderMovesOnlyWhatIsOutOfPlace) {
    // Kernel order a, b, c, d; the files now want b first.
    Desired want{{program("a", "ra", 20, {kEth0In}), program("b", "rb", 5, {kEth0In}),
                  program("c", "rc", 30, {kEth0In}), program("d", "rd", 40, {kEth0In})}};
    Observed seen{{seenProgram("a", {"ra"}, {tcxAt(kEth0In, "ra", 0)}),
                   seenProgram("b", {"rb"}, {tcxAt(kEth0In, "rb", 1)}),
                   seenProgram("c", {"rc"}, {tcxAt(kEth0In, "rc", 2)}),
                   seenProgram("d", {"rd"}, {tcxAt(kEth0In, "rd", 3)})},
                  {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"move program 'b' on eth0 tc-ingress from tcx to tcx before program 'a'"}));
}

TEST(PlanChains, ReversedChainMovesAllButOne) {
    Desired want{{program("a", "ra", 10, {kEth0In}), program("b", "rb", 20, {kEth0In}),
                  program("c", "rc", 30, {kEth0In})}};
    Observed seen{{seenProgram("a", {"ra"}, {tcxAt(kEth0In, "ra", 2)}),
                   seenProgram("b", {"rb"}, {tcxAt(kEth0In, "rb", 1)}),
                   seenProgram("c", {"rc"}, {tcxAt(kEth0In, "rc", 0)})},
                  {"eth0"}};
    Plan plan = computePlan(want, seen);
    ASSERT_EQ(plan.actions.size(), 2u);
    for (const Action& a : plan.actions)
        EXPECT_EQ(a.type, ActionType::Move);
}

TEST(PlanChains, ChangedObjectLoadsAndUpdatesInPlace) {
    Desired want{{program("a", "ra2", 10, {kEth0In})}};
    Observed seen{{seenProgram("a", {"ra1"}, {tcxAt(kEth0In, "ra1", 0)})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"load program 'a' revision ra2",
                     "update program 'a' on eth0 tc-ingress to revision ra2",
                     "unload program 'a' revision ra1"}));
}

TEST(PlanChains, ChangedMapEntriesAreWrittenWithoutReloading) {
    Desired want{{program("a", "ra", 10, {kEth0In}, {configMap(2)})}};
    Observed seen{{seenProgram("a", {"ra"}, {tcxAt(kEth0In, "ra", 0)}, {configMap(1)})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)), (Lines{"write map entries of program 'a': config"}));
    Observed same{{seenProgram("a", {"ra"}, {tcxAt(kEth0In, "ra", 0)}, {configMap(2)})}, {"eth0"}};
    EXPECT_TRUE(computePlan(want, same).empty());
}

TEST(PlanChains, NewProgramWritesItsMapsBeforeAttaching) {
    Desired want{{program("a", "ra", 10, {kEth0In}, {configMap(2)})}};
    EXPECT_EQ(lines(computePlan(want, Observed{{}, {"eth0"}})),
              (Lines{"load program 'a' revision ra", "write map entries of program 'a': config",
                     "attach program 'a' revision ra to eth0 tc-ingress"}));
}

TEST(PlanChains, DisabledProgramIsDetachedButStaysLoaded) {
    Desired want{{program("a", "ra", 10, {})}};
    Observed seen{{seenProgram("a", {"ra"}, {tcxAt(kEth0In, "ra", 0)})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)), (Lines{"detach program 'a' from eth0 tc-ingress"}));
}

TEST(PlanChains, EnabledAgainAttachesWithoutLoading) {
    Desired want{{program("a", "ra", 10, {kEth0In})}};
    Observed seen{{seenProgram("a", {"ra"}, {})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"attach program 'a' revision ra to eth0 tc-ingress"}));
}

TEST(PlanChains, RemovedProgramDetachesThenUnloads) {
    Observed seen{{seenProgram("a", {"ra"}, {prioAt(kEth0In, "ra", Mechanism::ClsBpf, 50)})},
                  {"eth0"}};
    EXPECT_EQ(lines(computePlan({}, seen)),
              (Lines{"detach program 'a' from eth0 tc-ingress (cls_bpf prio 50)",
                     "unload program 'a' revision ra"}));
}

TEST(PlanChains, InterfaceAppearingAttachesWhatWasPending) {
    Desired want{{program("a", "ra", 10, {kEth1In})}};
    Observed before{{seenProgram("a", {"ra"}, {})}, {"eth0"}};
    Plan waiting = computePlan(want, before);
    EXPECT_TRUE(waiting.empty());
    EXPECT_EQ(waiting.pending, (Lines{"program 'a' on eth1 tc-ingress: no such interface"}));
    Observed after{{seenProgram("a", {"ra"}, {})}, {"eth0", "eth1"}};
    EXPECT_EQ(lines(computePlan(want, after)),
              (Lines{"attach program 'a' revision ra to eth1 tc-ingress"}));
}

TEST(PlanChains, InterfaceDisappearingDropsTheDeadAttachment) {
    Desired want{{program("a", "ra", 10, {kEth1In})}};
    ObservedAttachment dead = tcxAt(kEth1In, "ra", 0);
    dead.live = false;
    Observed seen{{seenProgram("a", {"ra"}, {dead})}, {"eth0"}};
    Plan plan = computePlan(want, seen);
    EXPECT_EQ(lines(plan), (Lines{"detach program 'a' from eth1 tc-ingress"}));
    EXPECT_EQ(plan.pending.size(), 1u);
}

TEST(PlanChains, LegacyTcUsesPrioritiesAndMovesOnAChange) {
    Desired want{{program("a", "ra", 10, {kEth0In}), program("b", "rb", 20, {kEth0In})}};
    want.tc_mechanism = Mechanism::ClsBpf;
    Observed seen{{seenProgram("a", {"ra"}, {prioAt(kEth0In, "ra", Mechanism::ClsBpf, 30)}),
                   seenProgram("b", {"rb"}, {prioAt(kEth0In, "rb", Mechanism::ClsBpf, 20)})},
                  {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"move program 'a' on eth0 tc-ingress from cls_bpf prio 30 to (cls_bpf prio "
                     "10)"}));
}

TEST(PlanChains, LegacyTcNewProgramGetsItsPriority) {
    Desired want{{program("a", "ra", 10, {kEth0In})}};
    want.tc_mechanism = Mechanism::ClsBpf;
    EXPECT_EQ(lines(computePlan(want, Observed{{}, {"eth0"}})),
              (Lines{"load program 'a' revision ra",
                     "attach program 'a' revision ra to eth0 tc-ingress (cls_bpf prio 10)"}));
}

TEST(PlanChains, SwitchingTcModeMovesEveryAttachment) {
    Desired want{{program("a", "ra", 10, {kEth0In})}};
    want.tc_mechanism = Mechanism::ClsBpf;
    Observed seen{{seenProgram("a", {"ra"}, {tcxAt(kEth0In, "ra", 0)})}, {"eth0"}};
    EXPECT_EQ(lines(computePlan(want, seen)),
              (Lines{"move program 'a' on eth0 tc-ingress from tcx to (cls_bpf prio 10)"}));
}

TEST(PlanChains, LegacyUpdateKeepsTheFilterItFound) {
    Desired want{{program("a", "ra2", 10, {kEth0In})}};
    want.tc_mechanism = Mechanism::ClsBpf;
    Observed seen{{seenProgram("a", {"ra1"}, {prioAt(kEth0In, "ra1", Mechanism::ClsBpf, 10)})},
                  {"eth0"}};
    Plan plan = computePlan(want, seen);
    ASSERT_EQ(plan.actions.size(), 3u);
    EXPECT_EQ(plan.actions[1].type, ActionType::Update);
    EXPECT_EQ(plan.actions[1].found_mechanism, Mechanism::ClsBpf);
    EXPECT_EQ(plan.actions[1].found_priority, 10u);
}

TEST(PlanChains, XdpOrdersByRunPriority) {
    Desired want{{program("rl", "r1", 50, {kEth0Xdp})}};
    EXPECT_EQ(lines(computePlan(want, Observed{{}, {"eth0"}})),
              (Lines{"load program 'rl' revision r1",
                     "attach program 'rl' revision r1 to eth0 xdp (xdp priority 50)"}));
    Observed seen{{seenProgram("rl", {"r1"}, {prioAt(kEth0Xdp, "r1", Mechanism::Xdp, 50)})},
                  {"eth0"}};
    EXPECT_TRUE(computePlan(want, seen).empty());
}
