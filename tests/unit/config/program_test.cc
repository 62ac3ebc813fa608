// [[program]] in, the model out: every key, the defaults, map entries with
// the position of every value, and each error at its exact place.

#include "config/loader.h"

#include "expect.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

using namespace l3af::config;
using l3af::config::testing::describe;
using l3af::config::testing::expectAt;
using l3af::config::testing::TempDir;

namespace {

MapValue integer(int64_t value) {
    MapValue out;
    out.kind = MapValue::Kind::Integer;
    out.integer = value;
    return out;
}

MapValue string(std::string text) {
    MapValue out;
    out.kind = MapValue::Kind::String;
    out.text = std::move(text);
    return out;
}

constexpr std::string_view kEveryKey = R"([[program]]
name = "ratelimit"
object = "/usr/lib/l3af/programs/ratelimit.bpf.o"
function = "xdp_ratelimit"
hook = "xdp"
interfaces = ["eth0", "bond0.100"]
priority = 50
enabled = false
  [program.maps.config]
  entries = [ { key = 0, value = 1000 }, { key = 1, value = true } ]
  [program.maps.limits]
  entries = [
    { key = "10.0.0.1", value = { rate = 100, burst = [1, 2], addr = "2001:db8::1" } },
    { key = { addr = "10.0.0.2", port = 443 }, value = { rate = 5, burst = [], addr = "::" } },
  ]
)";

TEST(Program, ReadsEveryKey) {
    const LoadResult result = loadText(kEveryKey, "p.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    ASSERT_EQ(result->programs.size(), 1u);
    const Program& program = result->programs[0];
    EXPECT_EQ(program.name, "ratelimit");
    EXPECT_EQ(program.object, "/usr/lib/l3af/programs/ratelimit.bpf.o");
    EXPECT_EQ(program.function, "xdp_ratelimit");
    EXPECT_EQ(program.hook, ProgramHook::Xdp);
    EXPECT_EQ(program.interfaces, (std::vector<std::string>{"eth0", "bond0.100"}));
    EXPECT_EQ(program.priority, 50u);
    EXPECT_FALSE(program.enabled);
    expectAt(program.where, "p.toml", 1, 1);
    expectAt(program.object_at, "p.toml", 3, 10);
    expectAt(program.function_at, "p.toml", 4, 12);
    expectAt(program.hook_at, "p.toml", 5, 8);

    // In file order, which is not the order of their names here.
    ASSERT_EQ(program.maps.size(), 2u);
    const ProgramMap& config = program.maps[0];
    EXPECT_EQ(config.name, "config");
    expectAt(config.where, "p.toml", 9, 3);
    ASSERT_EQ(config.entries.size(), 2u);
    expectAt(config.entries[0].where, "p.toml", 10, 15);
    EXPECT_EQ(config.entries[0].key, integer(0));
    expectAt(config.entries[0].key.where, "p.toml", 10, 23);
    EXPECT_EQ(config.entries[0].value, integer(1000));
    expectAt(config.entries[0].value.where, "p.toml", 10, 34);
    // A boolean is kept apart from an integer, with 1 for true.
    EXPECT_EQ(config.entries[1].value.kind, MapValue::Kind::Boolean);
    EXPECT_EQ(config.entries[1].value.integer, 1);
    expectAt(config.entries[1].where, "p.toml", 10, 42);

    const ProgramMap& limits = program.maps[1];
    EXPECT_EQ(limits.name, "limits");
    ASSERT_EQ(limits.entries.size(), 2u);
    const MapEntry& first = limits.entries[0];
    expectAt(first.where, "p.toml", 13, 5);
    EXPECT_EQ(first.key, string("10.0.0.1"));
    expectAt(first.key.where, "p.toml", 13, 13);

    // A struct value: its fields in file order, each with its position.
    const MapValue& value = first.value;
    EXPECT_EQ(value.kind, MapValue::Kind::Table);
    expectAt(value.where, "p.toml", 13, 33);
    ASSERT_EQ(value.fields.size(), 3u);
    EXPECT_EQ(value.fields[0].first, "rate");
    EXPECT_EQ(value.fields[0].second, integer(100));
    expectAt(value.fields[0].second.where, "p.toml", 13, 42);
    EXPECT_EQ(value.fields[1].first, "burst");
    const MapValue& burst = value.fields[1].second;
    EXPECT_EQ(burst.kind, MapValue::Kind::Array);
    expectAt(burst.where, "p.toml", 13, 55);
    ASSERT_EQ(burst.items.size(), 2u);
    EXPECT_EQ(burst.items[0], integer(1));
    EXPECT_EQ(burst.items[1], integer(2));
    expectAt(burst.items[0].where, "p.toml", 13, 56);
    expectAt(burst.items[1].where, "p.toml", 13, 59);
    EXPECT_EQ(value.fields[2].first, "addr");
    EXPECT_EQ(value.fields[2].second, string("2001:db8::1"));
    expectAt(value.fields[2].second.where, "p.toml", 13, 70);

    // A struct key, and an empty array as a value.
    const MapEntry& second = limits.entries[1];
    EXPECT_EQ(second.key.kind, MapValue::Kind::Table);
    ASSERT_EQ(second.key.fields.size(), 2u);
    EXPECT_EQ(second.key.fields[0].first, "addr");
    EXPECT_EQ(second.key.fields[0].second, string("10.0.0.2"));
    EXPECT_EQ(second.key.fields[1].first, "port");
    EXPECT_EQ(second.key.fields[1].second, integer(443));
    expectAt(second.key.fields[1].second.where, "p.toml", 14, 41);
    ASSERT_EQ(second.value.fields.size(), 3u);
    EXPECT_EQ(second.value.fields[1].second.kind, MapValue::Kind::Array);
    EXPECT_TRUE(second.value.fields[1].second.items.empty());
}

TEST(Program, AppliesDefaults) {
    const LoadResult result = loadText(R"([[program]]
name = "counter"
object = "/opt/counter.bpf.o"
function = "tc_count"
hook = "tc-egress"
interfaces = ["eth0"]
)",
                                       "min.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    ASSERT_EQ(result->programs.size(), 1u);
    const Program& program = result->programs[0];
    EXPECT_EQ(program.hook, ProgramHook::TcEgress);
    EXPECT_EQ(program.priority, kProgramPriority);
    EXPECT_TRUE(program.enabled);
    EXPECT_TRUE(program.maps.empty());
    EXPECT_EQ(result->daemon.tc_mode, TcMode::Auto);
}

TEST(Program, ReadsEachHook) {
    const LoadResult result = loadText(R"(
program = [
  { name = "a", object = "/a.o", function = "f", hook = "xdp", interfaces = ["eth0"] },
  { name = "b", object = "/a.o", function = "f", hook = "tc-ingress", interfaces = ["eth0"] },
  { name = "c", object = "/a.o", function = "f", hook = "tc-egress", interfaces = ["eth0"] },
]
)",
                                       "hooks.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    ASSERT_EQ(result->programs.size(), 3u);
    EXPECT_EQ(result->programs[0].hook, ProgramHook::Xdp);
    EXPECT_EQ(result->programs[1].hook, ProgramHook::TcIngress);
    EXPECT_EQ(result->programs[2].hook, ProgramHook::TcEgress);
    expectAt(result->programs[2].hook_at, "hooks.toml", 5, 57);
}

TEST(Program, KeepsTableFieldsAndMapsInFileOrder) {
    // toml++ sorts keys; dotted keys and inline tables must still come out
    // as written.
    const LoadResult result = loadText(R"([[program]]
name = "order"
object = "/o.o"
function = "f"
hook = "xdp"
interfaces = ["eth0"]
maps.zeta.entries = [ { key = 1, value = { z = 1, a.y = 2, a.x = 3, m = 4 } } ]
  [program.maps.beta]
  entries = []
  [program.maps.alpha]
  entries = []
)",
                                       "order.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    const Program& program = result->programs.at(0);
    ASSERT_EQ(program.maps.size(), 3u);
    EXPECT_EQ(program.maps[0].name, "zeta");
    EXPECT_EQ(program.maps[1].name, "beta");
    EXPECT_EQ(program.maps[2].name, "alpha");
    // An empty list declares the map with no entries.
    EXPECT_TRUE(program.maps[1].entries.empty());

    const MapValue& value = program.maps[0].entries.at(0).value;
    ASSERT_EQ(value.fields.size(), 3u);
    EXPECT_EQ(value.fields[0].first, "z");
    EXPECT_EQ(value.fields[1].first, "a");
    EXPECT_EQ(value.fields[2].first, "m");
    const MapValue& a = value.fields[1].second;
    ASSERT_EQ(a.fields.size(), 2u);
    EXPECT_EQ(a.fields[0].first, "y");
    EXPECT_EQ(a.fields[1].first, "x");
    EXPECT_EQ(a.fields[1].second, integer(3));
    expectAt(a.fields[1].second.where, "order.toml", 7, 66);
}

TEST(Program, AcceptsEntriesAsAnArrayOfTables) {
    const LoadResult result = loadText(R"([[program]]
name = "tables"
object = "/o.o"
function = "f"
hook = "xdp"
interfaces = ["eth0"]
[[program.maps.config.entries]]
key = 1
value = 2
[[program.maps.config.entries]]
key = 2
value = "x"
)",
                                       "t.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    const ProgramMap& map = result->programs.at(0).maps.at(0);
    ASSERT_EQ(map.entries.size(), 2u);
    expectAt(map.entries[1].where, "t.toml", 10, 1);
    EXPECT_EQ(map.entries[1].value, string("x"));
}

TEST(Program, ManyProgramsShareAnInterfaceHookAndPriority) {
    const LoadResult result = loadText(R"(
[[collector]]
name = "soc"
address = "192.0.2.10"
[[flow_exporter]]
name = "same"
interfaces = ["eth0"]
collectors = ["soc"]
[[program]]
name = "same"
object = "/a.o"
function = "f"
hook = "tc-ingress"
interfaces = ["eth0"]
[[program]]
name = "other"
object = "/a.o"
function = "f"
hook = "tc-ingress"
interfaces = ["eth0"]
)",
                                       "share.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    ASSERT_EQ(result->programs.size(), 2u);
    EXPECT_EQ(result->programs[0].priority, result->programs[1].priority);
}

TEST(Priority, ReadsPriorityOnEveryKindAndTcMode) {
    const LoadResult result = loadText(R"(
[daemon]
tc_mode = "legacy"
[[collector]]
name = "soc"
address = "192.0.2.10"
[[flow_exporter]]
name = "edge"
interfaces = ["eth0"]
collectors = ["soc"]
priority = 1
[[tunnel]]
name = "t"
remote = "198.51.100.7"
device = "eth1"
[[mirror]]
name = "m"
interface = "eth0"
tunnel = "t"
priority = 65535
[[mirror.rule]]
)",
                                       "prio.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_EQ(result->daemon.tc_mode, TcMode::Legacy);
    EXPECT_EQ(result->flow_exporters.at(0).priority, 1u);
    EXPECT_EQ(result->mirrors.at(0).priority, 65535u);
}

TEST(Priority, DefaultsPutTheObserversFirst) {
    const LoadResult result = loadText(R"(
daemon = { tc_mode = "tcx" }
collector = [ { name = "soc", address = "192.0.2.10" } ]
flow_exporter = [ { name = "edge", interfaces = ["eth0"], collectors = ["soc"] } ]
tunnel = [ { name = "t", remote = "198.51.100.7", device = "eth1" } ]
mirror = [ { name = "m", interface = "eth0", tunnel = "t", rule = [ {} ] } ]
)",
                                       "defaults.toml");
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_EQ(result->daemon.tc_mode, TcMode::Tcx);
    EXPECT_EQ(result->flow_exporters.at(0).priority, kFlowExporterPriority);
    EXPECT_EQ(result->mirrors.at(0).priority, kMirrorPriority);
    EXPECT_LT(kFlowExporterPriority, kMirrorPriority);
    EXPECT_LT(kMirrorPriority, kProgramPriority);
}

TEST(Program, MergesFilesInOrderAndRefusesADuplicateName) {
    TempDir dir;
    const std::string program = "object = \"/a.o\"\nfunction = \"f\"\nhook = \"xdp\"\n"
                                "interfaces = [\"eth0\"]\n";
    dir.write("10-a.toml", "[[program]]\nname = \"one\"\n" + program +
                               "[[program]]\nname = \"two\"\n" + program);
    dir.write("20-b.toml", "[[program]]\nname = \"three\"\n" + program);

    const LoadResult good = loadDirectory(dir.path());
    ASSERT_TRUE(good.has_value()) << describe(good);
    ASSERT_EQ(good->programs.size(), 3u);
    EXPECT_EQ(good->programs[0].name, "one");
    EXPECT_EQ(good->programs[1].name, "two");
    EXPECT_EQ(good->programs[2].name, "three");
    expectAt(good->programs[2].where, (dir.path() / "20-b.toml").string(), 1, 1);

    dir.write("30-c.toml", "\n[[program]]\nname = \"two\"\n" + program);
    const LoadResult bad = loadDirectory(dir.path());
    ASSERT_FALSE(bad.has_value());
    ASSERT_EQ(bad.error().size(), 1u) << describe(bad);
    EXPECT_EQ(bad.error()[0].str(), (dir.path() / "30-c.toml").string() +
                                        ":3:8: error: program 'two' is already defined at " +
                                        (dir.path() / "10-a.toml").string() + ":7:1");
}

// One program whose other required keys are right, with `change` appended:
// the only diagnostic is the one expected, whole, with its position.
struct ErrorCase {
    std::string change;    // a required key it sets replaces the default
    std::string expected;  // "line:column: error: message", after "e.toml:"
    std::string omit = {}; // a required key left out
};

void PrintTo(const ErrorCase& c, std::ostream* out) {
    *out << (c.omit.empty() ? c.change : "without " + c.omit);
}

class ProgramError : public ::testing::TestWithParam<ErrorCase> {};

// Lines 1 and 2 are the header and the name; the defaults follow in this
// order, then change.
std::string programWith(const ErrorCase& c) {
    constexpr std::pair<std::string_view, std::string_view> kRequired[] = {
        {"object", "\"/o.o\""},
        {"function", "\"f\""},
        {"hook", "\"xdp\""},
        {"interfaces", "[\"eth0\"]"}};
    std::string text = "[[program]]\nname = \"p\"\n";
    for (const auto& [key, value] : kRequired)
        if (key != c.omit && !c.change.starts_with(std::string(key) + " ="))
            text += std::string(key) + " = " + std::string(value) + "\n";
    return text + c.change;
}

TEST_P(ProgramError, IsReportedAtItsPlace) {
    const ErrorCase& c = GetParam();
    const LoadResult result = loadText(programWith(c), "e.toml");
    ASSERT_FALSE(result.has_value()) << programWith(c);
    ASSERT_EQ(result.error().size(), 1u) << describe(result);
    EXPECT_EQ(result.error()[0].str(), "e.toml:" + c.expected);
}

// A change that sets none of the required keys starts on line 7; one that
// sets one of them, on line 6.
INSTANTIATE_TEST_SUITE_P(
    Keys, ProgramError,
    ::testing::Values(
        ErrorCase{"", "1:1: error: [[program]] is missing required key 'object'", "object"},
        ErrorCase{"", "1:1: error: [[program]] is missing required key 'function'", "function"},
        ErrorCase{"", "1:1: error: [[program]] is missing required key 'hook'", "hook"},
        ErrorCase{"", "1:1: error: [[program]] is missing required key 'interfaces'", "interfaces"},
        ErrorCase{"object = \"o.o\"\n",
                  "6:10: error: program 'p': 'object' must be an absolute path, as in "
                  "\"/usr/lib/l3af/programs/ratelimit.bpf.o\"; got \"o.o\""},
        ErrorCase{"object = \"/o\\u0000\"\n",
                  "6:10: error: program 'p': 'object' must not contain a NUL character"},
        ErrorCase{"function = \"my-prog\"\n",
                  "6:12: error: program 'p': 'function' must be a C identifier (the program's "
                  "function name in the object, as in \"xdp_ratelimit\"); got \"my-prog\""},
        ErrorCase{"hook = \"tc\"\n", "6:8: error: program 'p': 'hook' must be one of \"xdp\", "
                                     "\"tc-ingress\", \"tc-egress\"; got \"tc\""},
        ErrorCase{"hook = \"tc_egress\"\n",
                  "6:8: error: program 'p': 'hook' must be one of \"xdp\", \"tc-ingress\", "
                  "\"tc-egress\"; got \"tc_egress\" (did you mean \"tc-egress\"?)"},
        ErrorCase{"interfaces = []\n",
                  "6:14: error: program 'p': 'interfaces' must list at least one interface"},
        ErrorCase{"interfaces = [\"a\", \"b\", \"a\"]\n",
                  "6:25: error: program 'p': interface 'a' is listed twice in 'interfaces'"},
        ErrorCase{"interfaces = [\"a/b\"]\n",
                  "6:15: error: program 'p': 'a/b' is not a valid interface name (1 to 15 "
                  "bytes, no '/', ':' or whitespace, not '.' or '..')"},
        ErrorCase{"priority = 0\n",
                  "7:12: error: program 'p': 'priority' must be between 1 and 65535, got 0"},
        ErrorCase{"priority = 65536\n",
                  "7:12: error: program 'p': 'priority' must be between 1 and 65535, got 65536"},
        ErrorCase{"enabled = \"yes\"\n",
                  "7:11: error: program 'p': 'enabled' must be true or false, got string"},
        ErrorCase{"priorty = 5\n",
                  "7:1: error: unknown key 'priorty' in [[program]]; expected one of: name, "
                  "object, function, hook, interfaces, priority, enabled, maps (did you mean "
                  "'priority'?)"},
        ErrorCase{"maps = []\n", "7:8: error: program 'p': 'maps' must be a table of maps, "
                                 "written [program.maps.NAME], got array"},
        ErrorCase{"maps.config = [1]\n",
                  "7:15: error: program 'p': map 'config' must be a table with 'entries' "
                  "([program.maps.config]), got array"},
        ErrorCase{"maps.\"my map\".entries = []\n",
                  "7:6: error: program 'p': map name 'my map' must be a C identifier (the "
                  "map's name in the object)"},
        ErrorCase{"[program.maps.config]\n",
                  "7:1: error: program 'p' map 'config' is missing required key 'entries'"},
        ErrorCase{"[program.maps.config]\nentries = []\nentry = 1\n",
                  "9:1: error: unknown key 'entry' in program 'p' map 'config'; expected one of: "
                  "entries"},
        ErrorCase{"[program.maps.config]\nentries = {}\n",
                  "8:11: error: program 'p' map 'config': 'entries' must be an array of { key = "
                  "..., value = ... } tables, got table"},
        ErrorCase{"[program.maps.config]\nentries = [ 5 ]\n",
                  "8:13: error: program 'p' map 'config': each 'entries' element must be a table "
                  "{ key = ..., value = ... }, got integer"},
        ErrorCase{"[program.maps.config]\nentries = [ { value = 1 } ]\n",
                  "8:13: error: program 'p' map 'config' entry 1 is missing required key 'key'"},
        ErrorCase{"[program.maps.config]\nentries = [ { key = 1, value = 1, vlaue = 2 } ]\n",
                  "8:35: error: unknown key 'vlaue' in program 'p' map 'config' entry 1; "
                  "expected one of: key, value (did you mean 'value'?)"},
        ErrorCase{"[program.maps.config]\nentries = [ { key = 1, value = 0.5 } ]\n",
                  "8:32: error: program 'p' map 'config' entry 1: map values are integers, "
                  "booleans, strings, arrays or tables; got float"},
        ErrorCase{"[program.maps.config]\nentries = [ { key = { a = [ 1979-05-27 ] }, value = "
                  "1 } ]\n",
                  "8:29: error: program 'p' map 'config' entry 1: map values are integers, "
                  "booleans, strings, arrays or tables; got date"},
        ErrorCase{"[program.maps.config]\nentries = [\n  { key = \"a\\\"b\", value = 1 },\n"
                  "  { key = \"a\\\"b\", value = 2 },\n]\n",
                  "10:11: error: program 'p' map 'config': key \"a\\\"b\" is already given by the "
                  "entry at e.toml:9:3"}));

TEST(ProgramError, AProgramWithoutANameIsStillChecked) {
    const LoadResult result = loadText("[[program]]\nobject = \"/o.o\"\nfunction = \"f\"\n"
                                       "hook = \"xdp\"\ninterfaces = [\"eth0\"]\npriority = 0\n",
                                       "e.toml");
    ASSERT_FALSE(result.has_value());
    std::vector<std::string> lines;
    for (const Diagnostic& d : result.error())
        lines.push_back(d.str());
    EXPECT_EQ(lines, (std::vector<std::string>{
                         "e.toml:1:1: error: [[program]] is missing required key 'name'",
                         "e.toml:6:12: error: [[program]]: 'priority' must be between 1 and "
                         "65535, got 0",
                     }));
}

TEST(Priority, IsCheckedOnFlowExporterAndMirror) {
    const LoadResult result = loadText(R"(collector = [ { name = "soc", address = "192.0.2.10" } ]
flow_exporter = [ { name = "e", interfaces = ["eth0"], collectors = ["soc"], priority = 0 } ]
tunnel = [ { name = "t", remote = "198.51.100.7", device = "eth1" } ]
mirror = [ { name = "m", interface = "eth0", tunnel = "t", rule = [ {} ], priority = "20" } ]
daemon = { tc_mode = "TCX" }
)",
                                       "e.toml");
    ASSERT_FALSE(result.has_value());
    std::vector<std::string> lines;
    for (const Diagnostic& d : result.error())
        lines.push_back(d.str());
    EXPECT_EQ(lines,
              (std::vector<std::string>{
                  "e.toml:2:89: error: flow_exporter 'e': 'priority' must be between 1 and "
                  "65535, got 0",
                  "e.toml:4:86: error: mirror 'm': 'priority' must be an integer, got string",
                  "e.toml:5:22: error: [daemon]: 'tc_mode' must be one of \"auto\", \"tcx\", "
                  "\"legacy\"; got \"TCX\" (values are lower case)",
              }));
}

} // namespace
