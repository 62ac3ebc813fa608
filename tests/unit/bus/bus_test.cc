// l3afd's D-Bus API against a real dbus-daemon of the test's own: the daemon
// side on an sd-event loop (in a thread), the CLI side as the CLI calls it.

#include "daemon/bus.h"
#include "daemon/status_doc.h"
#include "loop_thread.h"
#include "private_bus.h"
#include "status_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <optional>

namespace l3af::daemon {
namespace {

using namespace std::chrono_literals;
using testing::LoopThread;
using testing::PrivateBus;

constexpr uid_t kNobody = 65534;
constexpr const char* kDbusSend = "/usr/bin/dbus-send";

// A client that listens for Reconciled, as a monitoring tool would.
class ReconciledListener {
  public:
    static std::unique_ptr<ReconciledListener> open() {
        auto listener = std::make_unique<ReconciledListener>();
        auto bus = openBus();
        if (!bus) {
            ADD_FAILURE() << bus.error().message();
            return nullptr;
        }
        listener->bus_ = std::move(*bus);
        sd_bus_slot* slot = nullptr;
        // Synchronous: once it returns, the bus routes the signal to us.
        if (int r = sd_bus_match_signal(listener->bus_.get(), &slot, nullptr, kBusObjectPath,
                                        kBusInterface, "Reconciled", &ReconciledListener::onSignal,
                                        listener.get());
            r < 0) {
            ADD_FAILURE() << "match: " << std::strerror(-r);
            return nullptr;
        }
        listener->slot_.reset(slot);
        return listener;
    }

    // The next signal, or nullopt if none comes within 20 s.
    std::optional<std::pair<bool, std::string>> next() {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (received_.empty() && std::chrono::steady_clock::now() < deadline) {
            if (sd_bus_process(bus_.get(), nullptr) > 0)
                continue;
            sd_bus_wait(bus_.get(), 100'000);
        }
        if (received_.empty())
            return std::nullopt;
        auto first = received_.front();
        received_.erase(received_.begin());
        return first;
    }

  private:
    static int onSignal(sd_bus_message* message, void* userdata, sd_bus_error*) {
        auto* self = static_cast<ReconciledListener*>(userdata);
        int ok = 0;
        const char* summary = nullptr;
        if (sd_bus_message_read(message, "bs", &ok, &summary) >= 0)
            self->received_.emplace_back(ok != 0, summary);
        return 0;
    }

    BusPtr bus_;
    BusSlotPtr slot_;
    std::vector<std::pair<bool, std::string>> received_;
};

class BusTest : public ::testing::Test {
  protected:
    void SetUp() override { startBus(testing::kAllowAllPolicy); }

    void TearDown() override {
        loop_.call([this] { service_.reset(); });
    }

    void startBus(const std::string& policy) {
        std::string why;
        bus_ = PrivateBus::start(policy, why);
        if (!bus_)
            GTEST_SKIP() << why;
    }

    void startService(std::string name = kBusName) {
        loop_.call([&] {
            auto service = BusService::start(loop_.event(), callbacks(), name);
            ASSERT_TRUE(service) << service.error().message();
            service_ = std::move(*service);
        });
    }

    // What the Manager will do: reload, then announce the outcome.
    BusCallbacks callbacks() {
        return BusCallbacks{.reload = [this]() -> Status {
                                reloads_++;
                                service_->emitReconciled(reload_result_.has_value(),
                                                         reload_result_
                                                             ? "1 collector(s), 1 flow exporter(s)"
                                                             : reload_result_.error().message());
                                return reload_result_;
                            },
                            .status =
                                [this] {
                                    status_calls_++;
                                    return compose_status_ ? compose_status_() : status_;
                                }};
    }

    // dbus-send calling `method`: it prints the D-Bus error's name and text.
    std::vector<std::string> callAs(const std::string& method) const {
        return {kDbusSend,       "--bus=" + bus_->address(),
                "--print-reply", std::string("--dest=") + kBusName,
                kBusObjectPath,  std::string(kBusInterface) + "." + method};
    }

    int reloads() {
        return loop_.call([this] { return reloads_; });
    }

    std::unique_ptr<PrivateBus> bus_;
    LoopThread loop_;
    std::unique_ptr<BusService> service_;
    // Set before startService(); read and written on the loop's thread after.
    Status reload_result_;
    std::string status_ = R"({"daemon":{"pid":1234,"last_error":null}})";
    // When set, what the daemon's Status() composes instead of status_.
    std::function<std::string()> compose_status_;
    int reloads_ = 0;
    int status_calls_ = 0;
};

TEST_F(BusTest, StatusReturnsTheDaemonsJson) {
    startService();
    auto status = callStatus();
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_EQ(*status, status_);
}

// The daemon answers with the document `l3afd status --json` prints when it
// composes from the same state: nothing lost or added on the way.
TEST_F(BusTest, StatusIsTheStatusDocumentOfTheDaemonsState) {
    const testing::StatusState state;
    compose_status_ = [&state] { return statusText(statusDocument(state.runningDaemon())); };
    startService();
    auto reply = callStatus();
    ASSERT_TRUE(reply) << reply.error().message();
    const nlohmann::json status = nlohmann::json::parse(*reply, nullptr, false);
    ASSERT_TRUE(status.is_object()) << *reply;
    EXPECT_EQ(status, statusDocument(state.runningDaemon()));

    for (const char* key :
         {"config_dir", "pin_root", "daemon", "flow_exporters", "mirrors", "tunnels", "collectors"})
        EXPECT_TRUE(status.contains(key)) << key << " missing from " << *reply;
    EXPECT_FALSE(status.contains("config_errors")) << *reply;
    EXPECT_EQ(status["config_dir"], state.configDir().string());
    EXPECT_EQ(status["pin_root"], state.pinRoot());
    EXPECT_EQ(status["daemon"]["running"], true);
    EXPECT_EQ(status["daemon"]["pid"], 4242);
    EXPECT_EQ(status["collectors"], state.account()["collectors"]);
    ASSERT_EQ(status["flow_exporters"].size(), 1u) << *reply;
    // The pins' view, merged with the daemon's counters.
    const nlohmann::json& edge = status["flow_exporters"][0];
    EXPECT_EQ(edge["name"], "edge");
    EXPECT_EQ(edge["revisions"], nlohmann::json({"r1"}));
    EXPECT_EQ(edge["attachments"], nlohmann::json::parse(R"([{"interface": "eth0",
        "hook": "tc-ingress", "state": "detached", "mechanism": "tcx", "priority": 0, "position": 0, "link_id": 0, "revision": ""}])"));
    EXPECT_EQ(edge["flows_active"], 7);
    EXPECT_EQ(edge["records_exported"], 120);
    ASSERT_EQ(status["tunnels"].size(), 1u) << *reply;
    EXPECT_EQ(status["tunnels"][0]["name"], "gue0");
}

// sd-bus refuses strings that are not UTF-8; a diagnostic quoting a bad file
// must not cost the answer.
TEST_F(BusTest, StatusWithBytesThatAreNotUtf8StillCrossesTheBus) {
    const testing::StatusState state;
    compose_status_ = [&state] {
        daemon::StatusSources sources = state.runningDaemon();
        sources.daemon->at("daemon")["last_error"] = "10-edge.toml:1:9: unexpected '\xff'";
        return statusText(statusDocument(sources));
    };
    startService();
    auto reply = callStatus();
    ASSERT_TRUE(reply) << reply.error().message();
    const nlohmann::json status = nlohmann::json::parse(*reply, nullptr, false);
    ASSERT_TRUE(status.is_object()) << *reply;
    EXPECT_EQ(status["daemon"]["last_error"], "10-edge.toml:1:9: unexpected '\ufffd'");
}

TEST_F(BusTest, ReloadRunsTheReconcileAndAnnouncesIt) {
    startService();
    auto listener = ReconciledListener::open();
    ASSERT_TRUE(listener);
    Status reloaded = callReload();
    ASSERT_TRUE(reloaded) << reloaded.error().message();
    EXPECT_EQ(reloads(), 1);
    auto signal = listener->next();
    ASSERT_TRUE(signal);
    EXPECT_TRUE(signal->first);
    EXPECT_EQ(signal->second, "1 collector(s), 1 flow exporter(s)");
}

TEST_F(BusTest, RejectedConfigComesBackWithItsDiagnostics) {
    const std::string diagnostics = "/etc/l3af/10-edge.toml:3:1: unknown key 'colector'\n"
                                    "/etc/l3af/10-edge.toml:9:12: 'port' must be 1 to 65535";
    reload_result_ = fail(EINVAL, diagnostics);
    startService();
    auto listener = ReconciledListener::open();
    ASSERT_TRUE(listener);

    Status reloaded = callReload();
    ASSERT_FALSE(reloaded);
    EXPECT_EQ(reloaded.error().code(), EINVAL);
    EXPECT_EQ(reloaded.error().message(), diagnostics + ": " + std::strerror(EINVAL));
    EXPECT_EQ(reloaded.error().context(), diagnostics);

    auto signal = listener->next();
    ASSERT_TRUE(signal);
    EXPECT_FALSE(signal->first);
}

// The wire contract other tools (busctl, monitoring) see.
TEST_F(BusTest, ReloadErrorsHaveTheirOwnNames) {
    reload_result_ = fail(EINVAL, "a.toml:1:1: bad");
    startService();
    auto bus = openBus();
    ASSERT_TRUE(bus) << bus.error().message();
    sd_bus_error error{};
    sd_bus_message* reply = nullptr;
    const int r = sd_bus_call_method(bus->get(), kBusName, kBusObjectPath, kBusInterface, "Reload",
                                     &error, &reply, "");
    EXPECT_LT(r, 0);
    EXPECT_STREQ(error.name, kBusErrorConfigRejected);
    EXPECT_STREQ(error.message, "a.toml:1:1: bad");
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
}

TEST_F(BusTest, FailedApplyIsReloadFailed) {
    reload_result_ = fail(EPERM, "attach flow_exporter 'edge' to eth0: TCX");
    startService();
    Status reloaded = callReload();
    ASSERT_FALSE(reloaded);
    EXPECT_EQ(reloaded.error().code(), EIO);
    EXPECT_EQ(reloaded.error().context(),
              std::string("attach flow_exporter 'edge' to eth0: TCX: ") + std::strerror(EPERM));
}

TEST_F(BusTest, EmittedSignalCarriesOkAndSummary) {
    startService();
    auto listener = ReconciledListener::open();
    ASSERT_TRUE(listener);
    loop_.call([this] { service_->emitReconciled(false, "degraded: 1 action failed"); });
    auto signal = listener->next();
    ASSERT_TRUE(signal);
    EXPECT_FALSE(signal->first);
    EXPECT_EQ(signal->second, "degraded: 1 action failed");
}

TEST_F(BusTest, NoDaemonMeansNotRunning) {
    auto status = callStatus();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code(), ESRCH);
    EXPECT_EQ(status.error().context(), "l3afd is not running (org.l3af.l3afd not on the bus)");
    Status reloaded = callReload();
    ASSERT_FALSE(reloaded);
    EXPECT_EQ(reloaded.error().code(), ESRCH);
}

TEST_F(BusTest, NoBusIsAConnectionError) {
    setenv(kBusAddressVariable, "unix:path=/nonexistent/l3af/bus", 1);
    auto status = callStatus();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code(), ENOENT);
    EXPECT_EQ(status.error().context(),
              "connect to the bus at unix:path=/nonexistent/l3af/bus ($L3AF_BUS_ADDRESS)");
}

TEST_F(BusTest, SecondDaemonCannotTakeTheName) {
    startService();
    loop_.call([this] {
        auto second = BusService::start(loop_.event(), callbacks());
        ASSERT_FALSE(second);
        EXPECT_EQ(second.error().code(), EEXIST);
        EXPECT_EQ(second.error().context(), "org.l3af.l3afd is owned by another process on the bus "
                                            "at " +
                                                bus_->address() +
                                                " ($L3AF_BUS_ADDRESS): is l3afd already running?");
    });
}

TEST_F(BusTest, InstancesServeUnderTheirOwnName) {
    startService("org.l3af.l3afd.lab1");
    auto status = callStatus("org.l3af.l3afd.lab1");
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_EQ(*status, status_);
    EXPECT_EQ(callStatus().error().code(), ESRCH);
}

TEST_F(BusTest, DaemonThatDoesNotAnswerTimesOut) {
    startService();
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    loop_.post([released] { released.wait(); }); // the loop is stuck in a long reconcile
    auto status = callStatus(kBusName, 200ms);
    release.set_value();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code(), ETIMEDOUT);
    EXPECT_EQ(status.error().context(), "l3afd did not answer Status() within 200 ms");
}

TEST_F(BusTest, IntrospectionDescribesTheInterface) {
    startService();
    auto bus = openBus();
    ASSERT_TRUE(bus) << bus.error().message();
    sd_bus_error error{};
    sd_bus_message* reply = nullptr;
    ASSERT_GE(sd_bus_call_method(bus->get(), kBusName, kBusObjectPath,
                                 "org.freedesktop.DBus.Introspectable", "Introspect", &error,
                                 &reply, ""),
              0)
        << error.message;
    const char* xml = nullptr;
    ASSERT_GE(sd_bus_message_read(reply, "s", &xml), 0);
    const std::string text = xml;
    sd_bus_message_unref(reply);
    EXPECT_NE(text.find("<interface name=\"org.l3af.l3afd1\">"), std::string::npos) << text;
    EXPECT_NE(text.find("<method name=\"Reload\">"), std::string::npos) << text;
    EXPECT_NE(text.find("<method name=\"Status\">\n   <arg type=\"s\" name=\"json\" "
                        "direction=\"out\"/>"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("<signal name=\"Reconciled\">\n   <arg type=\"b\" name=\"ok\"/>\n   "
                        "<arg type=\"s\" name=\"summary\"/>"),
              std::string::npos)
        << text;
}

// Where no policy stops them, other users still cannot reload the daemon.
TEST_F(BusTest, DaemonRefusesReloadFromOtherUsers) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root to run a client as another user";
    if (access(kDbusSend, X_OK) != 0)
        GTEST_SKIP() << "dbus-send not installed";
    startService();
    const auto reload = testing::runAs(kNobody, callAs("Reload"));
    EXPECT_NE(reload.exit_code, 0);
    EXPECT_NE(reload.output.find("Error org.freedesktop.DBus.Error.AccessDenied: only root may "
                                 "reload l3afd"),
              std::string::npos)
        << reload.output;
    EXPECT_EQ(reloads(), 0);
}

// The installed policy, on a bus configured like Debian's system bus: root
// may own the name and call it; nobody else may do either.
class BusPolicyTest : public BusTest {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: the policy is about root and other users";
        startBus(R"(
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
  </policy>
  <include>)" L3AF_DBUS_POLICY R"(</include>)");
    }
};

TEST_F(BusPolicyTest, RootOwnsTheNameAndCallsIt) {
    startService();
    auto status = callStatus();
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_EQ(*status, status_);
    Status reloaded = callReload();
    EXPECT_TRUE(reloaded) << reloaded.error().message();
}

TEST_F(BusPolicyTest, OthersCannotCallTheDaemon) {
    if (access(kDbusSend, X_OK) != 0)
        GTEST_SKIP() << "dbus-send not installed";
    startService();
    for (const char* method : {"Status", "Reload"}) {
        const auto call = testing::runAs(kNobody, callAs(method));
        EXPECT_NE(call.exit_code, 0) << method;
        EXPECT_NE(call.output.find("Error org.freedesktop.DBus.Error.AccessDenied: Rejected send "
                                   "message"),
                  std::string::npos)
            << call.output;
    }
    EXPECT_EQ(reloads(), 0);
    EXPECT_EQ(loop_.call([this] { return status_calls_; }), 0);
}

TEST_F(BusPolicyTest, OthersCannotOwnTheName) {
    if (access(kDbusSend, X_OK) != 0)
        GTEST_SKIP() << "dbus-send not installed";
    for (const char* name : {"org.l3af.l3afd", "org.l3af.l3afd.lab1"}) {
        const auto own =
            testing::runAs(kNobody, {kDbusSend, "--bus=" + bus_->address(), "--print-reply",
                                     "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus.RequestName",
                                     std::string("string:") + name, "uint32:0"});
        EXPECT_NE(own.exit_code, 0) << name;
        EXPECT_NE(own.output.find("org.freedesktop.DBus.Error.AccessDenied"), std::string::npos)
            << own.output;
    }
}

} // namespace
} // namespace l3af::daemon
