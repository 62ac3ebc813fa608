// The status document from its sources: the files, the pins and a running
// daemon's account, or no daemon at all (what `l3afd status` composes when
// no daemon answers on the bus).

#include "daemon/manager.h"
#include "daemon/status_doc.h"
#include "status_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace l3af::daemon {
namespace {

using nlohmann::json;
using testing::StatusState;

TEST(StatusDocument, WithoutADaemonComesFromTheFilesAndThePins) {
    const StatusState state;
    const json doc = statusDocument(state.noDaemon());
    EXPECT_EQ(doc["config_dir"], state.configDir().string());
    EXPECT_EQ(doc["pin_root"], state.pinRoot()); // the files'
    EXPECT_EQ(doc["daemon"], json({{"running", false}}));
    EXPECT_EQ(doc["collectors"], json::array());
    EXPECT_EQ(doc["mirrors"], json::array());
    EXPECT_FALSE(doc.contains("config_errors")) << doc.dump(2);
    EXPECT_FALSE(doc.contains("kernel_error")) << doc.dump(2);
    // What the pins say, and nothing only a daemon knows.
    ASSERT_EQ(doc["flow_exporters"].size(), 1u) << doc.dump(2);
    EXPECT_EQ(doc["flow_exporters"][0], json::parse(R"({"name": "edge", "revisions": ["r1"],
        "attachments": [{"interface": "eth0", "hook": "tc-ingress", "state": "detached", "mechanism": "tcx", "priority": 0, "position": 0,
                         "link_id": 0, "revision": ""}]})"));
    ASSERT_EQ(doc["tunnels"].size(), 1u) << doc.dump(2);
    const json& tunnel = doc["tunnels"][0];
    EXPECT_EQ(tunnel["name"], "gue0");
    EXPECT_EQ(tunnel["attachments"], json::array());
    EXPECT_TRUE(tunnel.contains("device"));
    EXPECT_TRUE(tunnel["error"].is_string()) << "no counters pinned: " << tunnel.dump();
}

TEST(StatusDocument, ARunningDaemonAddsItsAccount) {
    const StatusState state;
    const json doc = statusDocument(state.runningDaemon());
    json daemon = state.account()["daemon"];
    daemon["running"] = true;
    EXPECT_EQ(doc["daemon"], daemon);
    EXPECT_EQ(doc["collectors"], state.account()["collectors"]);
    ASSERT_EQ(doc["flow_exporters"].size(), 1u) << doc.dump(2);
    // The pins' entry keeps its own keys; the daemon adds its counters.
    json edge = state.account()["flow_exporters"][0];
    edge["revisions"] = {"r1"};
    edge["attachments"] = doc["flow_exporters"][0]["attachments"];
    EXPECT_EQ(doc["flow_exporters"][0], edge);
}

// The daemon keeps running what it pinned under its pin root; files being
// edited say neither where that is nor that it changed.
TEST(StatusDocument, RejectedFilesAreListedAndThePinRootStaysTheDaemons) {
    const StatusState state;
    state.breakTheFiles();
    const json doc = statusDocument(state.runningDaemon());
    ASSERT_TRUE(doc.contains("config_errors")) << doc.dump(2);
    ASSERT_FALSE(doc["config_errors"].empty());
    const std::string first = doc["config_errors"][0];
    EXPECT_EQ(first.rfind((state.configDir() / "10-edge.toml").string() + ":", 0), 0u) << first;
    EXPECT_EQ(doc["pin_root"], state.pinRoot());
    EXPECT_EQ(doc["flow_exporters"].size(), 1u);
    EXPECT_EQ(doc["daemon"]["running"], true);
}

TEST(StatusDocument, NoDaemonAndRejectedFilesLookAtTheDefaultPinRoot) {
    const StatusState state;
    state.breakTheFiles();
    const json doc = statusDocument(state.noDaemon());
    EXPECT_TRUE(doc.contains("config_errors"));
    EXPECT_EQ(doc["pin_root"], config::DaemonConfig{}.pin_root);
}

// A status file someone edited by hand must not take `l3afd status` down.
TEST(StatusDocument, AnAccountOfTheWrongShapeIsIgnoredPartByPart) {
    const StatusState state;
    StatusSources sources = state.runningDaemon();
    sources.daemon = json{{"daemon", "up"}, {"flow_exporters", {1, "edge"}}, {"collectors", 3}};
    const json doc = statusDocument(sources);
    EXPECT_EQ(doc["daemon"], json({{"running", true}}));
    EXPECT_EQ(doc["collectors"], json::array());
    EXPECT_EQ(doc["pin_root"], state.pinRoot()); // the files'
    ASSERT_EQ(doc["flow_exporters"].size(), 1u);
    EXPECT_FALSE(doc["flow_exporters"][0].contains("flows_active"));
}

TEST(StatusText, ReplacesBytesThatAreNotUtf8) {
    const json doc = {{"daemon", {{"last_error", "a.toml:1:1: '\xc3('"}}}};
    EXPECT_EQ(statusText(doc), "{\"daemon\":{\"last_error\":\"a.toml:1:1: '\ufffd('\"}}");
}

TEST(PinRootOf, IsTheDaemonsWhenItNamesOne) {
    EXPECT_EQ(pinRootOf(json{{"daemon", {{"pin_root", "/sys/fs/bpf/x"}}}}), "/sys/fs/bpf/x");
    EXPECT_EQ(pinRootOf(json{{"daemon", {{"pin_root", ""}}}}), std::nullopt);
    EXPECT_EQ(pinRootOf(json{{"daemon", {{"pid", 1}}}}), std::nullopt);
    EXPECT_EQ(pinRootOf(json{{"daemon", 1}}), std::nullopt);
    EXPECT_EQ(pinRootOf(json::array()), std::nullopt);
}

// The account a daemon without a bus leaves in its runtime directory.
class DaemonAccountTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: the runtime directory is under /run/l3af";
        runtime_ = runtimeDirFor(state_.configDir());
        std::filesystem::create_directories(runtime_);
    }
    void TearDown() override {
        std::error_code ignored;
        if (!runtime_.empty())
            std::filesystem::remove_all(runtime_, ignored);
    }

    void writePid(pid_t pid) const { std::ofstream(runtime_ / "pid") << pid << "\n"; }
    void writeStatus(const json& account) const {
        std::ofstream(runtime_ / "status.json") << account.dump(2) << "\n";
    }

    StatusState state_;
    std::filesystem::path runtime_;
};

TEST_F(DaemonAccountTest, IsTheStatusFileOfTheLivingDaemon) {
    json account = state_.account();
    account["daemon"]["pid"] = getpid();
    writePid(getpid());
    writeStatus(account);
    EXPECT_EQ(readDaemonAccount(state_.configDir()), account);
    EXPECT_EQ(runningDaemonPid(state_.configDir()), getpid());
}

TEST_F(DaemonAccountTest, AFileLeftByAnEarlierProcessSaysOnlyThePid) {
    writePid(getpid());
    writeStatus(state_.account()); // pid 4242
    EXPECT_EQ(readDaemonAccount(state_.configDir()), json({{"daemon", {{"pid", getpid()}}}}));
}

TEST_F(DaemonAccountTest, NoLivingDaemonNoAccount) {
    writeStatus(state_.account());
    EXPECT_EQ(readDaemonAccount(state_.configDir()), std::nullopt);
    // A pid no process has (above the kernel's pid_max limit).
    writePid(4194305);
    EXPECT_EQ(readDaemonAccount(state_.configDir()), std::nullopt);
    EXPECT_EQ(runningDaemonPid(state_.configDir()), std::nullopt);
}

} // namespace
} // namespace l3af::daemon
