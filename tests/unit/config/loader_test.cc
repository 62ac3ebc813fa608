// TOML in, the model out: every key, the defaults, merging files.

#include "config/loader.h"

#include "expect.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <chrono>

using namespace l3af::config;
using namespace std::chrono_literals;
using l3af::config::testing::describe;
using l3af::config::testing::expectAt;
using l3af::config::testing::TempDir;

namespace {

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

[[tunnel]]
name = "analytics"
type = "gue"
remote = "198.51.100.7"
local = "203.0.113.5"
device = "eth1"
remote_port = 6081
source_port = 40000
checksum = true
ttl = 8

[[tunnel]]
name = "spare"
remote = "198.51.100.8"
device = "eth1"

[[mirror]]
name = "checkout"
interface = "eth0"
direction = "egress"
tunnel = "analytics"
snaplen = 128

  [[mirror.rule]]
  src = "10.0.0.0/8"
  dst = "10.1.2.3"
  protocol = "tcp"
  src_port = "1024-65535"
  dst_port = "443"

  [[mirror.rule]]
  src = "2001:db8::/32"
  dst = "::/0"
  protocol = 132
  dst_port = 5060

  [[mirror.rule]]
  dst = "192.0.2.0/24"
  protocol = "icmp"

  [[mirror.rule]]
  src_port = 53
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

    ASSERT_EQ(config.tunnels.size(), 2u);
    const Tunnel& analytics = config.tunnels[0];
    EXPECT_EQ(analytics.name, "analytics");
    EXPECT_EQ(analytics.type, "gue");
    EXPECT_EQ(analytics.remote, "198.51.100.7");
    EXPECT_EQ(analytics.local, "203.0.113.5");
    EXPECT_EQ(analytics.device, "eth1");
    EXPECT_EQ(analytics.remote_port, 6081);
    EXPECT_EQ(analytics.source_port, std::optional<uint16_t>(40000));
    EXPECT_TRUE(analytics.checksum);
    EXPECT_EQ(analytics.ttl, 8);
    expectAt(analytics.where, "full.toml", 31, 1);
    ASSERT_NE(config.findTunnel("spare"), nullptr);
    EXPECT_EQ(config.findTunnel("spare")->remote, "198.51.100.8");
    EXPECT_EQ(config.findTunnel("nope"), nullptr);

    ASSERT_EQ(config.mirrors.size(), 1u);
    const Mirror& checkout = config.mirrors[0];
    EXPECT_EQ(checkout.name, "checkout");
    EXPECT_EQ(checkout.interface, "eth0");
    EXPECT_EQ(checkout.direction, Direction::Egress);
    EXPECT_EQ(checkout.tunnel, "analytics");
    EXPECT_EQ(checkout.snaplen, 128u);
    expectAt(checkout.where, "full.toml", 47, 1);

    ASSERT_EQ(checkout.rules.size(), 4u);
    const MirrorRule& web = checkout.rules[0];
    ASSERT_TRUE(web.src && web.dst);
    EXPECT_EQ(web.src->str(), "10.0.0.0/8");
    EXPECT_EQ(web.src->family, 4);
    EXPECT_EQ(web.src->prefix_len, 8);
    EXPECT_EQ(web.dst->str(), "10.1.2.3/32"); // a bare address is a host
    EXPECT_EQ(web.protocol, std::optional<uint8_t>(6));
    EXPECT_EQ(web.src_port, (PortRange{1024, 65535}));
    EXPECT_EQ(web.dst_port, (PortRange{443, 443}));
    expectAt(web.where, "full.toml", 54, 3);

    const MirrorRule& sip = checkout.rules[1];
    ASSERT_TRUE(sip.src && sip.dst);
    EXPECT_EQ(sip.src->family, 6);
    EXPECT_EQ(sip.src->str(), "2001:db8::/32");
    EXPECT_EQ(sip.dst->str(), "::/0");
    EXPECT_EQ(sip.protocol, std::optional<uint8_t>(132));
    EXPECT_FALSE(sip.src_port.has_value());
    EXPECT_EQ(sip.dst_port, (PortRange{5060, 5060}));

    const MirrorRule& ping = checkout.rules[2];
    EXPECT_FALSE(ping.src.has_value());
    EXPECT_EQ(ping.dst->str(), "192.0.2.0/24");
    EXPECT_EQ(ping.protocol, std::optional<uint8_t>(1));

    // Ports without a protocol: kept as written; the rule matches only
    // packets whose protocol carries ports.
    const MirrorRule& dns = checkout.rules[3];
    EXPECT_FALSE(dns.protocol.has_value());
    EXPECT_EQ(dns.src_port, (PortRange{53, 53}));
    EXPECT_FALSE(dns.dst_port.has_value());
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

TEST(LoadText, AppliesTunnelAndMirrorDefaults) {
    const LoadResult result = loadText(R"(
[[tunnel]]
name = "analytics"
remote = "198.51.100.7"
device = "eth1"

[[mirror]]
name = "all"
interface = "eth0"
tunnel = "analytics"
[[mirror.rule]]
)",
                                       "min.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    const Config& config = *result;

    ASSERT_EQ(config.tunnels.size(), 1u);
    const Tunnel& tunnel = config.tunnels[0];
    EXPECT_EQ(tunnel.type, "gue");
    EXPECT_EQ(tunnel.local, ""); // the first address of the device, found at run time
    EXPECT_EQ(tunnel.remote_port, 6080);
    EXPECT_FALSE(tunnel.source_port.has_value()); // "flow"
    EXPECT_FALSE(tunnel.checksum);
    EXPECT_EQ(tunnel.ttl, 64);

    ASSERT_EQ(config.mirrors.size(), 1u);
    const Mirror& mirror = config.mirrors[0];
    EXPECT_EQ(mirror.direction, Direction::Both);
    EXPECT_EQ(mirror.snaplen, 0u);
    // An empty rule matches every packet.
    ASSERT_EQ(mirror.rules.size(), 1u);
    EXPECT_EQ(mirror.rules[0], MirrorRule{});
}

TEST(LoadText, ReadsSourcePortFlowAndInlineRules) {
    const LoadResult result = loadText(R"(
tunnel = [ { name = "t", remote = "198.51.100.7", device = "eth1", source_port = "flow" } ]
[[mirror]]
name = "m"
interface = "eth0"
tunnel = "t"
rule = [ { protocol = 0 }, { protocol = 255, src = "0.0.0.0/0" }, { dst_port = "0-0" } ]
)",
                                       "inline.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_FALSE(result->tunnels.at(0).source_port.has_value());
    const std::vector<MirrorRule>& rules = result->mirrors.at(0).rules;
    ASSERT_EQ(rules.size(), 3u);
    EXPECT_EQ(rules[0].protocol, std::optional<uint8_t>(0));
    EXPECT_EQ(rules[1].protocol, std::optional<uint8_t>(255));
    EXPECT_EQ(rules[1].src->str(), "0.0.0.0/0");
    EXPECT_EQ(rules[2].dst_port, (PortRange{0, 0}));
}

TEST(LoadText, MirrorsOfOneInterfaceInOppositeDirectionsAreAllowed) {
    const LoadResult result = loadText(R"(
[[tunnel]]
name = "t"
remote = "198.51.100.7"
device = "eth1"
[[mirror]]
name = "in"
interface = "eth0"
direction = "ingress"
tunnel = "t"
[[mirror.rule]]
[[mirror]]
name = "out"
interface = "eth0"
direction = "egress"
tunnel = "t"
[[mirror.rule]]
)",
                                       "split.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_EQ(result->mirrors.size(), 2u);
}

// A mirror of n empty rules, each [[mirror.rule]] on its own line from line 9.
std::string mirrorWithRules(size_t n) {
    std::string text = "[[tunnel]]\nname = \"t\"\nremote = \"198.51.100.7\"\ndevice = \"eth1\"\n"
                       "[[mirror]]\nname = \"m\"\ninterface = \"eth0\"\ntunnel = \"t\"\n";
    for (size_t i = 0; i < n; ++i)
        text += "[[mirror.rule]]\n";
    return text;
}

TEST(LoadText, AMirrorHoldsAtMost1024Rules) {
    const LoadResult most = loadText(mirrorWithRules(1024), "most.toml");
    ASSERT_TRUE(most.has_value()) << describe(most);
    EXPECT_EQ(most->mirrors.at(0).rules.size(), 1024u);

    const LoadResult over = loadText(mirrorWithRules(1026), "over.toml");
    ASSERT_FALSE(over.has_value());
    ASSERT_EQ(over.error().size(), 1u) << describe(over);
    // At the first rule too many: the 1025th, on line 8 + 1025.
    EXPECT_EQ(over.error()[0].str(), "over.toml:1033:1: error: mirror 'm': more than 1024 rules "
                                     "(1026); one mirror matches at most 1024");
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
