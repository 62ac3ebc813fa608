// TOML in, the model out: every key, the defaults, merging files.

#include "config/loader.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <chrono>

using namespace l3af::config;
using namespace std::chrono_literals;
using l3af::config::testing::TempDir;

namespace {

std::string describe(const LoadResult& result) {
    std::string out;
    if (!result)
        for (const Diagnostic& d : result.error())
            out += d.str() + "\n";
    return out;
}

void expectAt(const SourceLocation& where, const std::string& file, uint32_t line,
              uint32_t column) {
    EXPECT_EQ(where.file, file);
    EXPECT_EQ(where.line, line);
    EXPECT_EQ(where.column, column);
}

constexpr std::string_view kEveryKey = R"(# every key, none at its default
[daemon]
pin_root = "/sys/fs/bpf/lab"
metrics = "[::1]:9100"
log_level = "debug"

[[collector]]
name = "soc"
address = "2001:db8::10"
port = 4740
transport = "tcp"
observation_domain = 4294967295
template_refresh = "30s"
mtu = 9000
reconnect_interval = "1m30s"

[[collector]]
name = "backup"
address = "192.0.2.11"

[[flow_exporter]]
name = "edge"
interfaces = ["eth0", "bond0.100"]
direction = "ingress"
collectors = ["soc", "backup"]
poll_interval = "500ms"
active_timeout = "2m"
idle_timeout = "10s"
max_flows = 16777216
)";

TEST(LoadText, ReadsEveryKey) {
    const LoadResult result = loadText(kEveryKey, "full.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    const Config& config = *result;

    EXPECT_EQ(config.files, std::vector<std::string>{"full.toml"});
    EXPECT_EQ(config.daemon.pin_root, "/sys/fs/bpf/lab");
    EXPECT_EQ(config.daemon.metrics, "[::1]:9100");
    EXPECT_EQ(config.daemon.log_level, "debug");
    expectAt(config.daemon.where, "full.toml", 2, 1);

    ASSERT_EQ(config.collectors.size(), 2u);
    const Collector& soc = config.collectors[0];
    EXPECT_EQ(soc.name, "soc");
    EXPECT_EQ(soc.address, "2001:db8::10");
    EXPECT_EQ(soc.port, 4740);
    EXPECT_EQ(soc.transport, Transport::Tcp);
    EXPECT_EQ(soc.observation_domain, 4294967295u);
    EXPECT_EQ(soc.template_refresh, 30s);
    EXPECT_EQ(soc.mtu, 9000u);
    EXPECT_EQ(soc.reconnect_interval, 90s);
    expectAt(soc.where, "full.toml", 7, 1);
    EXPECT_EQ(config.collectors[1].name, "backup");
    expectAt(config.collectors[1].where, "full.toml", 17, 1);

    ASSERT_EQ(config.flow_exporters.size(), 1u);
    const FlowExporter& edge = config.flow_exporters[0];
    EXPECT_EQ(edge.name, "edge");
    EXPECT_EQ(edge.interfaces, (std::vector<std::string>{"eth0", "bond0.100"}));
    EXPECT_EQ(edge.direction, Direction::Ingress);
    EXPECT_EQ(edge.collectors, (std::vector<std::string>{"soc", "backup"}));
    EXPECT_EQ(edge.poll_interval, 500ms);
    EXPECT_EQ(edge.active_timeout, 2min);
    EXPECT_EQ(edge.idle_timeout, 10s);
    EXPECT_EQ(edge.max_flows, 16777216u);
    expectAt(edge.where, "full.toml", 21, 1);

    ASSERT_NE(config.findCollector("backup"), nullptr);
    EXPECT_EQ(config.findCollector("backup")->address, "192.0.2.11");
    EXPECT_EQ(config.findCollector("nope"), nullptr);
}

TEST(LoadText, AppliesDefaults) {
    const LoadResult result = loadText(R"(
[[collector]]
name = "soc"
address = "192.0.2.10"

[[flow_exporter]]
name = "edge"
interfaces = ["eth0"]
collectors = ["soc"]
)",
                                       "min.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    const Config& config = *result;

    // No [daemon] table: its defaults, and no position.
    EXPECT_EQ(config.daemon.pin_root, "/sys/fs/bpf/l3af");
    EXPECT_EQ(config.daemon.metrics, "127.0.0.1:9469");
    EXPECT_EQ(config.daemon.log_level, "info");
    EXPECT_EQ(config.daemon.where.file, "");

    ASSERT_EQ(config.collectors.size(), 1u);
    const Collector& soc = config.collectors[0];
    EXPECT_EQ(soc.port, 4739);
    EXPECT_EQ(soc.transport, Transport::Udp);
    EXPECT_EQ(soc.observation_domain, 1u);
    EXPECT_EQ(soc.template_refresh, 60s);
    EXPECT_EQ(soc.mtu, 1400u);
    EXPECT_EQ(soc.reconnect_interval, 60s);

    ASSERT_EQ(config.flow_exporters.size(), 1u);
    const FlowExporter& edge = config.flow_exporters[0];
    EXPECT_EQ(edge.direction, Direction::Both);
    EXPECT_EQ(edge.poll_interval, 1s);
    EXPECT_EQ(edge.active_timeout, 60s);
    EXPECT_EQ(edge.idle_timeout, 15s);
    EXPECT_EQ(edge.max_flows, 65536u);
}

TEST(LoadText, EmptyDocumentIsAnEmptyConfig) {
    const LoadResult result = loadText("# nothing yet\n", "empty.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_TRUE(result->collectors.empty());
    EXPECT_TRUE(result->flow_exporters.empty());
}

TEST(LoadText, AcceptsInlineTablesAndMetricsOff) {
    const LoadResult result = loadText(R"(
daemon = { metrics = "" }
collector = [ { name = "a", address = "::1" } ]
flow_exporter = [ { name = "x-1_Y", interfaces = ["lo"], collectors = ["a"] } ]
)",
                                       "inline.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_EQ(result->daemon.metrics, "");
    EXPECT_EQ(result->flow_exporters.at(0).name, "x-1_Y");
}

TEST(LoadText, SameInterfaceInOppositeDirectionsIsAllowed) {
    const LoadResult result = loadText(R"(
[[collector]]
name = "soc"
address = "192.0.2.10"
[[flow_exporter]]
name = "in"
interfaces = ["eth0"]
direction = "ingress"
collectors = ["soc"]
[[flow_exporter]]
name = "out"
interfaces = ["eth0"]
direction = "egress"
collectors = ["soc"]
)",
                                       "split.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_EQ(result->flow_exporters.size(), 2u);
}

TEST(LoadText, DiagnosticsAreSortedAndFormatted) {
    const LoadResult result = loadText(R"([[collector]]
name = "soc"
address = "192.0.2.10"
port = "4739"
mtu = 100
prot = 1
)",
                                       "bad.toml");
    ASSERT_FALSE(result.has_value());
    std::vector<std::string> lines;
    for (const Diagnostic& d : result.error())
        lines.push_back(d.str());
    EXPECT_EQ(lines, (std::vector<std::string>{
                         "bad.toml:4:8: error: collector 'soc': 'port' must be an integer, got "
                         "string",
                         "bad.toml:5:7: error: collector 'soc': 'mtu' must be between 512 and "
                         "65535 (an IPFIX message must hold its header and a template set, and "
                         "its length field is 16 bits), got 100",
                         "bad.toml:6:1: error: unknown key 'prot' in [[collector]]; expected one "
                         "of: name, address, port, transport, observation_domain, "
                         "template_refresh, mtu, reconnect_interval (did you mean 'port'?)",
                     }));
}

TEST(LoadDirectory, MergesFilesInLexicalOrder) {
    TempDir dir;
    // Written out of order: the load order is the names', not the writes'.
    dir.write("20-edge.toml", R"([[flow_exporter]]
name = "edge"
interfaces = ["eth0"]
collectors = ["soc", "backup"]
)");
    dir.write("10-collectors.toml", R"([daemon]
log_level = "warn"

[[collector]]
name = "soc"
address = "192.0.2.10"
)");
    dir.write("15-more.toml", R"([[collector]]
name = "backup"
address = "192.0.2.11"
)");

    const LoadResult result = loadDirectory(dir.path());
    ASSERT_TRUE(result.has_value()) << describe(result);
    const Config& config = *result;
    const std::string a = (dir.path() / "10-collectors.toml").string();
    const std::string b = (dir.path() / "15-more.toml").string();
    const std::string c = (dir.path() / "20-edge.toml").string();
    EXPECT_EQ(config.files, (std::vector<std::string>{a, b, c}));
    EXPECT_EQ(config.daemon.log_level, "warn");
    expectAt(config.daemon.where, a, 1, 1);
    ASSERT_EQ(config.collectors.size(), 2u);
    EXPECT_EQ(config.collectors[0].name, "soc");
    expectAt(config.collectors[0].where, a, 4, 1);
    EXPECT_EQ(config.collectors[1].name, "backup");
    expectAt(config.collectors[1].where, b, 1, 1);
    ASSERT_EQ(config.flow_exporters.size(), 1u);
    expectAt(config.flow_exporters[0].where, c, 1, 1);
}

TEST(LoadDirectory, ReportsErrorsOfEveryFileInFileOrder) {
    TempDir dir;
    dir.write("b.toml", "[[collector]]\nname = \"x\"\naddress = \"nowhere\"\n");
    dir.write("a.toml", "[daemon]\nlog_level = \"loud\"\n");
    const LoadResult result = loadDirectory(dir.path());
    ASSERT_FALSE(result.has_value());
    ASSERT_EQ(result.error().size(), 2u);
    expectAt(result.error()[0].where, (dir.path() / "a.toml").string(), 2, 13);
    expectAt(result.error()[1].where, (dir.path() / "b.toml").string(), 3, 11);
}

TEST(LoadDirectory, SyntaxErrorDoesNotAlsoReportItsCollectorsAsUnknown) {
    TempDir dir;
    dir.write("a.toml", "[[collector]]\nname = \"soc\"\naddress = \n");
    dir.write("b.toml", "[[flow_exporter]]\nname = \"e\"\ninterfaces = [\"eth0\"]\n"
                        "collectors = [\"soc\"]\n");
    const LoadResult result = loadDirectory(dir.path());
    ASSERT_FALSE(result.has_value());
    ASSERT_EQ(result.error().size(), 1u) << describe(result);
    expectAt(result.error()[0].where, (dir.path() / "a.toml").string(), 3, 11);
}

} // namespace
