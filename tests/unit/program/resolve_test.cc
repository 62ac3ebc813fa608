// A [[program]] in TOML and a real object file in (objects/sample.bpf.c,
// opened, never loaded: no root needed), the resolved spec with its map
// entries' exact bytes, or every error with file:line:column, out.

#include "kernel/program_object.h"

#include "config/loader.h"
#include "kernel/hash.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <sys/stat.h>
#include <unistd.h>

using namespace l3af;
using Bytes = std::vector<uint8_t>;

namespace {

std::string objectsDir() {
    const char* dir = std::getenv("L3AF_PROGRAM_OBJECTS");
    return dir ? dir : "";
}
std::string samplePath() {
    return objectsDir() + "/sample.bpf.o";
}
std::string sourcePath() {
    const char* dir = std::getenv("L3AF_PROGRAM_SOURCES");
    return std::string(dir ? dir : "") + "/sample.bpf.c";
}

// "@OBJ@" stands for the compiled sample object.
std::string withObject(std::string text, const std::string& object = samplePath()) {
    for (size_t at = text.find("@OBJ@"); at != std::string::npos; at = text.find("@OBJ@", at))
        text.replace(at, 5, object);
    return text;
}

config::Config load(const std::string& text) {
    config::LoadResult loaded = config::loadText(text, "programs.toml");
    std::string why;
    if (!loaded)
        for (const config::Diagnostic& d : loaded.error())
            why += d.str() + "\n";
    EXPECT_TRUE(loaded.has_value()) << why;
    return loaded ? *loaded : config::Config{};
}

std::vector<std::string> errorsOf(const kernel::ResolvedPrograms& resolved) {
    std::vector<std::string> out;
    for (const config::Diagnostic& d : resolved.errors)
        out.push_back(d.str());
    return out;
}

// The errors of resolving one program; it has a spec only when it has none.
std::vector<std::string> errorsFor(const std::string& toml,
                                   const std::string& object = samplePath()) {
    kernel::ResolvedPrograms resolved = kernel::resolvePrograms(load(withObject(toml, object)));
    EXPECT_EQ(resolved.specs.size(), resolved.errors.empty() ? 1u : 0u);
    return errorsOf(resolved);
}

class ResolveTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (objectsDir().empty())
            GTEST_SKIP() << "L3AF_PROGRAM_OBJECTS is not set (run through meson test)";
    }
};

constexpr const char* kGood = R"([[program]]
name = "counter"
object = "@OBJ@"
function = "tc_count"
hook = "tc-ingress"
interfaces = ["eth0"]
  [program.maps.counters]
  entries = [ { key = 0, value = 1000 }, { key = 7, value = 4294967296 } ]
  [program.maps.endpoints]
  entries = [ { key = { addr = "10.0.0.1", port = 53, proto = 17 }, value = 1 } ]
  [program.maps.limits]
  entries = [ { key = 2, value = { rate = 1000, burst = [1, 2, 3], mode = "MODE_DROP", name = "edge", port = 443, bias = -1, grid = [[1], [0, 2]] } } ]
  [program.maps.percpu_stats]
  entries = [ { key = 0, value = { packets = 1, bytes = 2 } } ]
  [program.maps.flag_sets]
  entries = [ { key = 1, value = { enabled = true, level = 5, delta = -3, mode = "MODE_DROP", rest = 0xbeef } } ]
  [program.maps.routes]
  entries = [ { key = { prefixlen = 32, addr = "2001:db8::" }, value = { via4 = "192.0.2.1", via6 = "fe80::1", ifindex = 3 } } ]
  [program.maps.cookies]
  entries = [ { key = 1, value = { id = 9 } } ]

[[program]]
name = "passer"
object = "@OBJ@"
function = "xdp_pass"
hook = "xdp"
interfaces = ["eth0"]
enabled = false
)";

Bytes u32(uint32_t v) {
    Bytes out(4);
    std::memcpy(out.data(), &v, 4);
    return out;
}
Bytes u64(uint64_t v) {
    Bytes out(8);
    std::memcpy(out.data(), &v, 8);
    return out;
}
Bytes operator+(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST_F(ResolveTest, GoodProgramsResolveToTheirSpecsWithExactEntryBytes) {
    kernel::ResolvedPrograms resolved = kernel::resolvePrograms(load(withObject(kGood)));
    ASSERT_EQ(errorsOf(resolved), std::vector<std::string>{});
    ASSERT_EQ(resolved.specs.size(), 2u);

    std::ifstream in(samplePath(), std::ios::binary);
    const Bytes file{std::istreambuf_iterator<char>(in), {}};
    const std::string digest = kernel::ContentHash().add(file.data(), file.size()).hex();

    const plan::ProgramSpec& counter = resolved.specs.at("counter");
    EXPECT_EQ(counter.object, samplePath());
    EXPECT_EQ(counter.function, "tc_count");
    EXPECT_EQ(counter.object_digest, digest);
    EXPECT_EQ(counter.hook, plan::Hook::TcIngress);
    ASSERT_EQ(counter.maps.size(), 7u);

    using Entries = std::vector<plan::MapEntryBytes>;
    EXPECT_EQ(counter.maps[0].map, "counters");
    EXPECT_EQ(counter.maps[0].entries,
              (Entries{{u32(0), u64(1000)}, {u32(7), u64(uint64_t{1} << 32)}}));

    // struct endpoint { __be32 addr; __u16 port; __u8 proto; __u8 pad; }
    EXPECT_EQ(counter.maps[1].map, "endpoints");
    EXPECT_EQ(counter.maps[1].entries, (Entries{{{10, 0, 0, 1, 53, 0, 17, 0}, u32(1)}}));

    // struct limits { __u16 rate; __u16 burst[3]; enum mode mode; char name[16];
    //                 __be16 port; __s8 bias; __u8 grid[2][3]; }
    Bytes limits(40, 0);
    limits[0] = 0xe8; // 1000
    limits[1] = 0x03;
    limits[2] = 1;
    limits[4] = 2;
    limits[6] = 3;
    limits[8] = 7; // MODE_DROP
    std::memcpy(&limits[12], "edge", 4);
    limits[28] = 0x01; // 443 in network order
    limits[29] = 0xbb;
    limits[30] = 0xff;
    limits[31] = 1; // grid[0][0]
    limits[35] = 2; // grid[1][1]
    EXPECT_EQ(counter.maps[2].map, "limits");
    EXPECT_EQ(counter.maps[2].entries, (Entries{{u32(2), limits}}));

    // One CPU's value of the per-CPU array.
    EXPECT_EQ(counter.maps[3].map, "percpu_stats");
    EXPECT_EQ(counter.maps[3].entries, (Entries{{u32(0), u64(1) + u64(2)}}));

    // enabled:1 level:3 delta:4 mode:8 rest:16
    EXPECT_EQ(counter.maps[4].map, "flag_sets");
    EXPECT_EQ(counter.maps[4].entries, (Entries{{u32(1), {0xdb, 0x07, 0xef, 0xbe}}}));

    // struct route_key { __u32 prefixlen; struct in6_addr addr; }
    // struct next_hop { __u8 via4[4]; __u8 via6[16]; __u32 ifindex; }
    const Bytes route_key =
        u32(32) + Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const Bytes next_hop = Bytes{192, 0, 2, 1} +
                           Bytes{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01} + u32(3);
    EXPECT_EQ(counter.maps[5].map, "routes");
    EXPECT_EQ(counter.maps[5].entries, (Entries{{route_key, next_hop}}));

    // The pointer member is left out: zero.
    EXPECT_EQ(counter.maps[6].map, "cookies");
    EXPECT_EQ(counter.maps[6].entries, (Entries{{u32(1), u64(9) + u64(0)}}));

    // A disabled program is resolved too; one object serves both.
    const plan::ProgramSpec& passer = resolved.specs.at("passer");
    EXPECT_EQ(passer.function, "xdp_pass");
    EXPECT_EQ(passer.hook, plan::Hook::Xdp);
    EXPECT_EQ(passer.object_digest, digest);
    EXPECT_TRUE(passer.maps.empty());
}

TEST(ProgramRevision, CoversTheObjectFunctionAndHookButNotMapEntries) {
    const plan::ProgramSpec base{"/p/a.bpf.o", "tc_count", "ab12", plan::Hook::TcIngress, {}};
    const std::string revision = kernel::programRevision(base);
    EXPECT_EQ(revision.size(), 16u);

    plan::ProgramSpec entries = base;
    entries.maps.push_back({"counters", {{u32(0), u64(1)}}});
    EXPECT_EQ(kernel::programRevision(entries), revision);

    plan::ProgramSpec moved = base;
    moved.object = "/q/a.bpf.o"; // same bytes elsewhere: the same program
    EXPECT_EQ(kernel::programRevision(moved), revision);

    plan::ProgramSpec rebuilt = base;
    rebuilt.object_digest = "cd34";
    EXPECT_NE(kernel::programRevision(rebuilt), revision);

    plan::ProgramSpec other_function = base;
    other_function.function = "tc_drop";
    EXPECT_NE(kernel::programRevision(other_function), revision);

    plan::ProgramSpec other_hook = base;
    other_hook.hook = plan::Hook::TcEgress;
    EXPECT_NE(kernel::programRevision(other_hook), revision);
}

constexpr const char* kHeader = R"([[program]]
name = "p"
object = "@OBJ@"
interfaces = ["eth0"]
)";

TEST_F(ResolveTest, MissingObjectFile) {
    EXPECT_EQ(errorsFor(std::string(kHeader) + "function = \"tc_count\"\nhook = \"tc-ingress\"\n",
                        "/nonexistent/sample.bpf.o"),
              std::vector<std::string>{"programs.toml:3:10: error: program 'p': cannot read "
                                       "/nonexistent/sample.bpf.o: No such file or directory"});
}

TEST_F(ResolveTest, ObjectPathIsADirectory) {
    EXPECT_EQ(errorsFor(std::string(kHeader) + "function = \"tc_count\"\nhook = \"tc-ingress\"\n",
                        objectsDir()),
              std::vector<std::string>{"programs.toml:3:10: error: program 'p': cannot read " +
                                       objectsDir() + ": Is a directory"});
}

TEST_F(ResolveTest, ObjectFileWithoutReadPermission) {
    if (geteuid() == 0)
        GTEST_SKIP() << "root reads any file";
    char path[] = "/tmp/l3af-program-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    ASSERT_EQ(chmod(path, 0), 0);
    const std::vector<std::string> errors =
        errorsFor(std::string(kHeader) + "function = \"tc_count\"\nhook = \"tc-ingress\"\n", path);
    unlink(path);
    EXPECT_EQ(errors,
              std::vector<std::string>{"programs.toml:3:10: error: program 'p': cannot read " +
                                       std::string(path) + ": Permission denied"});
}

TEST_F(ResolveTest, NotAnElfFile) {
    EXPECT_EQ(errorsFor(std::string(kHeader) + "function = \"tc_count\"\nhook = \"tc-ingress\"\n",
                        sourcePath()),
              std::vector<std::string>{
                  "programs.toml:3:10: error: program 'p': " + sourcePath() +
                  " is not an eBPF object: elf: 'sample' is not a proper ELF object"});
}

TEST_F(ResolveTest, AnElfFileForAnotherMachine) {
    EXPECT_EQ(errorsFor(std::string(kHeader) + "function = \"tc_count\"\nhook = \"tc-ingress\"\n",
                        "/usr/bin/true"),
              std::vector<std::string>{
                  "programs.toml:3:10: error: program 'p': /usr/bin/true "
                  "is not an eBPF object: elf: true is not a valid eBPF object file"});
}

TEST_F(ResolveTest, UnknownFunctionListsTheObjectsPrograms) {
    EXPECT_EQ(errorsFor(std::string(kHeader) + "function = \"tc_cuont\"\nhook = \"tc-ingress\"\n"),
              std::vector<std::string>{
                  "programs.toml:5:12: error: program 'p': no function 'tc_cuont' in " +
                  samplePath() +
                  "; its programs: tc_count, tcx_egress_only, xdp_pass, xdp_devmap_only, "
                  "socket_filter (did you mean 'tc_count'?)"});
}

TEST_F(ResolveTest, ProgramTypeMustSuitTheHook) {
    const auto hooked = [](const char* function, const char* hook) {
        return errorsFor(std::string(kHeader) + "function = \"" + function + "\"\nhook = \"" +
                         hook + "\"\n");
    };
    EXPECT_EQ(hooked("tc_count", "xdp"),
              std::vector<std::string>{
                  "programs.toml:6:8: error: program 'p': function 'tc_count' (section \"tc\") is "
                  "a program of type sched_cls; hook 'xdp' needs a program of type xdp from "
                  "section \"xdp\""});
    EXPECT_EQ(hooked("xdp_pass", "tc-egress"),
              std::vector<std::string>{
                  "programs.toml:6:8: error: program 'p': function 'xdp_pass' (section \"xdp\") "
                  "is a program of type xdp; hook 'tc-egress' needs a program of type sched_cls "
                  "from section \"tc\" or \"tcx/egress\""});
    EXPECT_EQ(hooked("tcx_egress_only", "tc-ingress"),
              std::vector<std::string>{
                  "programs.toml:6:8: error: program 'p': function 'tcx_egress_only' (section "
                  "\"tcx/egress\") attaches as tcx_egress; hook 'tc-ingress' needs a program of "
                  "type sched_cls from section \"tc\" or \"tcx/ingress\""});
    EXPECT_EQ(hooked("xdp_devmap_only", "xdp"),
              std::vector<std::string>{
                  "programs.toml:6:8: error: program 'p': function 'xdp_devmap_only' (section "
                  "\"xdp/devmap\") attaches as xdp_devmap; hook 'xdp' needs a program of type "
                  "xdp from section \"xdp\""});
    EXPECT_EQ(hooked("socket_filter", "tc-ingress"),
              std::vector<std::string>{
                  "programs.toml:6:8: error: program 'p': function 'socket_filter' (section "
                  "\"socket\") is a program of type socket_filter; hook 'tc-ingress' needs a "
                  "program of type sched_cls from section \"tc\" or \"tcx/ingress\""});
    // Each direction's own tcx section, and plain "tc" in both.
    EXPECT_EQ(hooked("tcx_egress_only", "tc-egress"), std::vector<std::string>{});
    EXPECT_EQ(hooked("tc_count", "tc-egress"), std::vector<std::string>{});
}

// kHeader, then a TC function and the maps.
std::vector<std::string> mapErrors(const std::string& maps) {
    return errorsFor(std::string(kHeader) + "function = \"tc_count\"\nhook = \"tc-ingress\"\n" +
                     maps);
}

TEST_F(ResolveTest, UnknownMapListsTheObjectsMaps) {
    EXPECT_EQ(mapErrors("[program.maps.counter]\nentries = []\n"),
              std::vector<std::string>{
                  "programs.toml:7:1: error: program 'p': no map 'counter' in " + samplePath() +
                  "; its maps: counters, endpoints, limits, percpu_stats, flag_sets, routes, "
                  "cookies, untyped, events (did you mean 'counters'?)"});
}

TEST_F(ResolveTest, GlobalDataIsNotADeclarableMap) {
    // The reader only lets C identifiers through; the resolver still
    // refuses libbpf's names for the global data.
    config::Config cfg =
        load(withObject(std::string(kHeader) + "function = \"tc_count\"\nhook = \"tc-ingress\"\n"
                                               "[program.maps.counters]\nentries = []\n"));
    ASSERT_EQ(cfg.programs.size(), 1u);
    cfg.programs[0].maps[0].name = ".rodata";
    EXPECT_EQ(errorsOf(kernel::resolvePrograms(cfg)),
              std::vector<std::string>{
                  "programs.toml:7:1: error: program 'p': map '.rodata' is the object's global "
                  "data, not a map; entries can be declared for its maps: counters, endpoints, "
                  "limits, percpu_stats, flag_sets, routes, cookies, untyped, events"});
}

TEST_F(ResolveTest, MapsMustHoldDataAndHaveBtfTypes) {
    EXPECT_EQ(mapErrors("[program.maps.events]\nentries = []\n"
                        "[program.maps.untyped]\nentries = [ { key = 1, value = 2 } ]\n"),
              (std::vector<std::string>{
                  "programs.toml:7:1: error: program 'p': map 'events' is a map of type ringbuf; "
                  "entries can be declared for maps of type hash, array, percpu_hash, "
                  "percpu_array, lru_hash, lru_percpu_hash and lpm_trie",
                  "programs.toml:9:1: error: program 'p': map 'untyped' has no BTF key type; "
                  "declare it with __type(key, ...) and __type(value, ...) so that its entries "
                  "can be encoded"}));
}

TEST_F(ResolveTest, ValueThatDoesNotFitNamesTheMapEntryAndField) {
    EXPECT_EQ(mapErrors("[program.maps.limits]\n"
                        "entries = [ { key = 0, value = { rate = 1 } },\n"
                        "            { key = 1, value = { rate = 70000 } } ]\n"),
              std::vector<std::string>{"programs.toml:9:41: error: program 'p': map 'limits' "
                                       "entry 2: value.rate: 70000 does not fit __u16 "
                                       "(0..65535)"});
}

TEST_F(ResolveTest, EveryEntryErrorIsReported) {
    EXPECT_EQ(mapErrors("[program.maps.endpoints]\n"
                        "entries = [ { key = { addr = \"10.0.0.256\" }, value = -1 },\n"
                        "            { key = { adr = \"10.0.0.1\" }, value = 1 } ]\n"),
              (std::vector<std::string>{
                  "programs.toml:8:30: error: program 'p': map 'endpoints' entry 1: key.addr: "
                  "\"10.0.0.256\" is not an IPv4 address",
                  "programs.toml:8:54: error: program 'p': map 'endpoints' entry 1: value: -1 "
                  "does not fit __u32 (0..4294967295)",
                  "programs.toml:9:29: error: program 'p': map 'endpoints' entry 2: key: struct "
                  "endpoint has no member 'adr'; expected one of: addr, port, proto, pad (did "
                  "you mean 'addr'?)"}));
}

TEST_F(ResolveTest, ArrayKeysMustBeInsideTheArray) {
    EXPECT_EQ(mapErrors("[program.maps.counters]\n"
                        "entries = [ { key = 8, value = 1 } ]\n"),
              std::vector<std::string>{"programs.toml:8:21: error: program 'p': map 'counters' "
                                       "entry 1: key 8 is past the end of the array (8 entries, "
                                       "0..7)"});
}

TEST_F(ResolveTest, HashMapsHoldAtMostTheirMaxEntries) {
    EXPECT_EQ(mapErrors("[program.maps.endpoints]\n"
                        "entries = [ { key = { port = 1 }, value = 1 },\n"
                        "            { key = { port = 2 }, value = 1 },\n"
                        "            { key = { port = 3 }, value = 1 } ]\n"),
              std::vector<std::string>{"programs.toml:7:1: error: program 'p': map 'endpoints' "
                                       "holds at most 2 entries; 3 are declared"});
}

TEST_F(ResolveTest, KeysThatEncodeAlikeAreTheSameKey) {
    // 1 and true, written differently, are both the key 1.
    EXPECT_EQ(mapErrors("[program.maps.counters]\n"
                        "entries = [ { key = 1, value = 1 },\n"
                        "            { key = true, value = 2 } ]\n"),
              std::vector<std::string>{"programs.toml:9:13: error: program 'p': map 'counters' "
                                       "entry 2: the same key as entry 1"});
}

TEST_F(ResolveTest, PointerMembersCannotBeSet) {
    EXPECT_EQ(mapErrors("[program.maps.cookies]\n"
                        "entries = [ { key = 1, value = { id = 1, owner = 2 } } ]\n"),
              std::vector<std::string>{"programs.toml:8:50: error: program 'p': map 'cookies' "
                                       "entry 1: value.owner: cannot set void *: it is a pointer"});
}

TEST_F(ResolveTest, ErrorsOfEveryProgramAreCollectedDisabledOnesToo) {
    const std::string toml = withObject(R"([[program]]
name = "a"
object = "@OBJ@"
function = "xdp_pas"
hook = "xdp"
interfaces = ["eth0"]
  [program.maps.counters]
  entries = [ { key = 0, value = "many" } ]

[[program]]
name = "b"
object = "@OBJ@"
function = "tc_count"
hook = "xdp"
interfaces = ["eth0"]
enabled = false

[[program]]
name = "c"
object = "@OBJ@"
function = "tc_count"
hook = "tc-egress"
interfaces = ["eth0"]
)");
    kernel::ResolvedPrograms resolved = kernel::resolvePrograms(load(toml));
    EXPECT_EQ(
        errorsOf(resolved),
        (std::vector<std::string>{
            "programs.toml:4:12: error: program 'a': no function 'xdp_pas' in " + samplePath() +
                "; its programs: tc_count, tcx_egress_only, xdp_pass, xdp_devmap_only, "
                "socket_filter (did you mean 'xdp_pass'?)",
            "programs.toml:8:34: error: program 'a': map 'counters' entry 1: value: "
            "expected an integer for __u64, got string",
            "programs.toml:14:8: error: program 'b': function 'tc_count' (section \"tc\") is a "
            "program of type sched_cls; hook 'xdp' needs a program of type xdp from section "
            "\"xdp\""}));
    EXPECT_EQ(resolved.specs.size(), 1u);
    EXPECT_TRUE(resolved.specs.contains("c"));
}

} // namespace
