// The executor against a recording fake kernel: what it calls, in what order,
// and what it skips after a failure.

#include "plan/executor.h"

#include <gtest/gtest.h>

using namespace l3af;
using namespace l3af::plan;

namespace {

class RecordingKernel : public Kernel {
  public:
    std::vector<std::string> calls;
    std::string fail_on; // a call that fails, e.g. "load edge r2"

    Result<Observed> observeFor(const Desired&) override { return Observed{}; }
    Status load(const DesiredFunction& f) override {
        return record("load " + f.name + " " + f.revision);
    }
    Status writeMaps(const DesiredFunction& f) override { return record("write " + f.name); }
    Status attach(const DesiredFunction& f, const Action& a) override {
        return record("attach " + f.name + " " + a.attachment->str());
    }
    Status move(const DesiredFunction& f, const Action& a) override {
        return record("move " + f.name + " " + a.attachment->str());
    }
    Status update(const DesiredFunction& f, const Action& a) override {
        return record("update " + f.name + " " + a.attachment->str());
    }
    Status detach(const Action& a) override {
        return record("detach " + a.name + " " + a.attachment->str());
    }
    Status unload(const std::string&, const std::string& name, const std::string& rev) override {
        return record("unload " + name + " " + rev);
    }

  private:
    Status record(std::string call) {
        calls.push_back(call);
        if (call == fail_on)
            return fail(EACCES, "verifier said no");
        return {};
    }
};

DesiredFunction fn(std::string name, std::string revision) {
    return DesiredFunction{"flow_exporter",
                           std::move(name),
                           std::move(revision),
                           FlowExporterSpec{},
                           {{"eth0", Hook::TcIngress}}};
}

} // namespace

TEST(Executor, RunsEveryActionInOrder) {
    Desired want{{fn("edge", "r2")}};
    Observed seen{{{"flow_exporter", "edge", {"r1"}, {{{"eth0", Hook::TcIngress}, 3, true, "r1"}}}},
                  {"eth0"}};
    RecordingKernel kernel;
    std::vector<std::string> unloaded;
    ApplyReport report = execute(computePlan(want, seen), want, kernel,
                                 {[&](const Action& a) { unloaded.push_back(a.revision); }});
    EXPECT_TRUE(report.ok());
    EXPECT_EQ(kernel.calls, (std::vector<std::string>{"load edge r2", "update edge eth0 tc-ingress",
                                                      "unload edge r1"}));
    EXPECT_EQ(unloaded, (std::vector<std::string>{"r1"}));
}

TEST(Executor, FailedLoadKeepsPreviousRevisionAndOthersStillApply) {
    Desired want{{fn("edge", "r2"), fn("core", "r1")}};
    Observed seen{{{"flow_exporter", "edge", {"r1"}, {{{"eth0", Hook::TcIngress}, 3, true, "r1"}}}},
                  {"eth0"}};
    RecordingKernel kernel;
    kernel.fail_on = "load edge r2";
    ApplyReport report = execute(computePlan(want, seen), want, kernel);
    EXPECT_EQ(report.failures(), 1u);
    // edge: nothing after the failed load (r1 stays attached and loaded).
    EXPECT_EQ(kernel.calls, (std::vector<std::string>{"load core r1", "load edge r2",
                                                      "attach core eth0 tc-ingress"}));
    const ActionResult& failed = report.results[1];
    ASSERT_TRUE(failed.error.has_value());
    EXPECT_EQ(failed.error->message(),
              "load flow_exporter 'edge' revision r2: verifier said no: Permission denied");
    EXPECT_TRUE(report.results[2].skipped);  // update edge
    EXPECT_FALSE(report.results[3].skipped); // attach core
    EXPECT_TRUE(report.results[4].skipped);  // unload edge r1
}

TEST(Executor, FailedUpdateKeepsTheOldRevisionLoaded) {
    Desired want{{fn("edge", "r2")}};
    Observed seen{{{"flow_exporter", "edge", {"r1"}, {{{"eth0", Hook::TcIngress}, 3, true, "r1"}}}},
                  {"eth0"}};
    RecordingKernel kernel;
    kernel.fail_on = "update edge eth0 tc-ingress";
    ApplyReport report = execute(computePlan(want, seen), want, kernel);
    EXPECT_EQ(report.failures(), 1u);
    EXPECT_EQ(kernel.calls,
              (std::vector<std::string>{"load edge r2", "update edge eth0 tc-ingress"}));
    EXPECT_TRUE(report.results.back().skipped);
}
