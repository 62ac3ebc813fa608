// A TOML value and a BTF type in, the map's bytes or a diagnostic at the
// offending value out.

#include "program/encode.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace l3af::program;
using l3af::config::Diagnostic;
using l3af::config::MapValue;
using l3af::config::SourceLocation;
using Bytes = std::vector<uint8_t>;

namespace {

// Values as the reader makes them, each at a position of its own.
MapValue integer(int64_t v, uint32_t line = 1, uint32_t column = 1) {
    MapValue out;
    out.kind = MapValue::Kind::Integer;
    out.integer = v;
    out.where = {"maps.toml", line, column};
    return out;
}
MapValue boolean(bool v, uint32_t line = 1, uint32_t column = 1) {
    MapValue out = integer(v ? 1 : 0, line, column);
    out.kind = MapValue::Kind::Boolean;
    return out;
}
MapValue text(std::string v, uint32_t line = 1, uint32_t column = 1) {
    MapValue out = integer(0, line, column);
    out.kind = MapValue::Kind::String;
    out.text = std::move(v);
    return out;
}
MapValue array(std::vector<MapValue> items, uint32_t line = 1, uint32_t column = 1) {
    MapValue out = integer(0, line, column);
    out.kind = MapValue::Kind::Array;
    out.items = std::move(items);
    return out;
}
MapValue table(std::vector<std::pair<std::string, MapValue>> fields, uint32_t line = 1,
               uint32_t column = 1) {
    MapValue out = integer(0, line, column);
    out.kind = MapValue::Kind::Table;
    out.fields = std::move(fields);
    return out;
}

TypeRef intType(const char* name, uint32_t size, bool is_signed, bool big_endian = false) {
    return makeInt(name, {size, is_signed, false, false, big_endian});
}
const TypeRef kU8 = intType("__u8", 1, false);
const TypeRef kS8 = intType("__s8", 1, true);
const TypeRef kU16 = intType("__u16", 2, false);
const TypeRef kU32 = intType("__u32", 4, false);
const TypeRef kS32 = intType("__s32", 4, true);
const TypeRef kU64 = intType("__u64", 8, false);
const TypeRef kS64 = intType("__s64", 8, true);
const TypeRef kU128 = intType("unsigned __int128", 16, false);
const TypeRef kBe16 = intType("__be16", 2, false, true);
const TypeRef kBe32 = intType("__be32", 4, false, true);
const TypeRef kBe64 = intType("__be64", 8, false, true);
const TypeRef kBool = makeInt("_Bool", {1, false, true, false, false});
const TypeRef kChar = makeInt("char", {1, true, false, true, false});
const TypeRef kFloat = makeUnsupported("double", {"a floating-point number", 8});
const TypeRef kVoidPointer = makeUnsupported("void *", {"a pointer", 8});

const TypeRef kMode =
    makeEnum("enum mode", {4, false, {{"MODE_OFF", 0}, {"MODE_COUNT", 1}, {"MODE_DROP", 7}}});

// struct limits { __u16 rate; __u16 burst[3]; enum mode mode; char name[16];
//                 __be16 port; __s8 bias; __u8 grid[2][3]; }  (40 bytes)
const TypeRef kLimits =
    makeStruct("struct limits", {false,
                                 40,
                                 {
                                     member("rate", 0, kU16),
                                     member("burst", 2, makeArray(kU16, 3)),
                                     member("mode", 8, kMode),
                                     member("name", 12, makeArray(kChar, 16)),
                                     member("port", 28, kBe16),
                                     member("bias", 30, kS8),
                                     member("grid", 31, makeArray(makeArray(kU8, 3), 2)),
                                 }});

// struct flags { __u32 enabled:1; __u32 level:3; __s32 delta:4;
//                enum mode mode:8; __u32 rest:16; }
const TypeRef kFlags = makeStruct("struct flags", {false,
                                                   4,
                                                   {
                                                       bitfield("enabled", 0, 1, kU32),
                                                       bitfield("level", 1, 3, kU32),
                                                       bitfield("delta", 4, 4, kS32),
                                                       bitfield("mode", 8, 8, kMode),
                                                       bitfield("rest", 16, 16, kU32),
                                                   }});

// struct in6_addr { union { __u8 u6_addr8[16]; __be16 u6_addr16[8];
//                           __be32 u6_addr32[4]; } in6_u; }
const TypeRef kIn6Addr = makeStruct(
    "struct in6_addr",
    {false,
     16,
     {member("in6_u", 0,
             makeStruct("union (anonymous)", {true,
                                              16,
                                              {
                                                  member("u6_addr8", 0, makeArray(kU8, 16)),
                                                  member("u6_addr16", 0, makeArray(kBe16, 8)),
                                                  member("u6_addr32", 0, makeArray(kBe32, 4)),
                                              }}))}});

// Wraps a type as the only member of a struct, to see the member's path.
TypeRef holder(const char* name, TypeRef type) {
    const uint32_t size = type->size();
    return makeStruct("struct holder", {false, size, {member(name, 0, std::move(type))}});
}

Bytes encoded(const TypeRef& type, const MapValue& value, std::string_view path = "value") {
    Encoded out = encodeValue(*type, value, path);
    EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().str());
    return out ? *out : Bytes{};
}

// The diagnostic, as "line:column: message".
std::string failure(const TypeRef& type, const MapValue& value, std::string_view path = "value") {
    Encoded out = encodeValue(*type, value, path);
    if (out)
        return "encoded " + std::to_string(out->size()) + " bytes";
    const Diagnostic& d = out.error();
    EXPECT_EQ(d.where.file, "maps.toml");
    return std::to_string(d.where.line) + ":" + std::to_string(d.where.column) + ": " + d.message;
}

TEST(EncodeIntegers, AreStoredInHostOrderAtTheirTypesWidth) {
    EXPECT_EQ(encoded(kU8, integer(255)), (Bytes{0xff}));
    EXPECT_EQ(encoded(kU16, integer(0x1234)), (Bytes{0x34, 0x12}));
    EXPECT_EQ(encoded(kU32, integer(0x01020304)), (Bytes{0x04, 0x03, 0x02, 0x01}));
    EXPECT_EQ(encoded(kU64, integer(0x0102030405060708)),
              (Bytes{0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
    EXPECT_EQ(encoded(kS8, integer(-128)), (Bytes{0x80}));
    EXPECT_EQ(encoded(kS32, integer(-2)), (Bytes{0xfe, 0xff, 0xff, 0xff}));
    EXPECT_EQ(encoded(kS64, integer(INT64_MIN)), (Bytes{0, 0, 0, 0, 0, 0, 0, 0x80}));
    EXPECT_EQ(encoded(kU128, integer(1)), (Bytes{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(EncodeIntegers, ThroughBigEndianTypedefsAreInNetworkOrder) {
    EXPECT_EQ(encoded(kBe16, integer(0x1234)), (Bytes{0x12, 0x34}));
    EXPECT_EQ(encoded(kBe32, integer(0x0a000001)), (Bytes{0x0a, 0x00, 0x00, 0x01}));
    EXPECT_EQ(encoded(kBe64, integer(1)), (Bytes{0, 0, 0, 0, 0, 0, 0, 1}));
}

TEST(EncodeIntegers, OutOfRangeNamesTheFieldTypeAndRange) {
    EXPECT_EQ(failure(holder("rate", kU16), table({{"rate", integer(70000, 4, 25)}})),
              "4:25: value.rate: 70000 does not fit __u16 (0..65535)");
    EXPECT_EQ(failure(kS8, integer(-129, 2, 9), "key"),
              "2:9: key: -129 does not fit __s8 (-128..127)");
    EXPECT_EQ(failure(kS8, integer(128)), "1:1: value: 128 does not fit __s8 (-128..127)");
    EXPECT_EQ(failure(kU64, integer(-1)),
              "1:1: value: -1 does not fit __u64 (0..18446744073709551615)");
    EXPECT_EQ(failure(kU32, integer(4294967296)),
              "1:1: value: 4294967296 does not fit __u32 (0..4294967295)");
    EXPECT_EQ(failure(kU128, integer(-1)),
              "1:1: value: -1 does not fit unsigned __int128 (0..2^128-1)");
    EXPECT_EQ(failure(kBe16, integer(65536)), "1:1: value: 65536 does not fit __be16 (0..65535)");
}

TEST(EncodeIntegers, TakeBooleansAsOneAndZero) {
    EXPECT_EQ(encoded(kU32, boolean(true)), (Bytes{1, 0, 0, 0}));
    EXPECT_EQ(encoded(kU8, boolean(false)), (Bytes{0}));
    EXPECT_EQ(encoded(kBool, boolean(true)), (Bytes{1}));
    EXPECT_EQ(encoded(kBool, integer(0)), (Bytes{0}));
    EXPECT_EQ(failure(kBool, integer(2)), "1:1: value: 2 does not fit _Bool (0..1)");
}

TEST(EncodeIntegers, RefuseOtherKindsOfValue) {
    EXPECT_EQ(failure(kU32, text("10")), "1:1: value: expected an integer for __u32, got string");
    EXPECT_EQ(failure(kU16, array({})), "1:1: value: expected an integer for __u16, got array");
    EXPECT_EQ(failure(kBool, text("yes")), "1:1: value: expected a boolean for _Bool, got string");
    EXPECT_EQ(failure(kBe32, table({})),
              "1:1: value: expected an integer or an IPv4 address for __be32, got table");
}

TEST(EncodeAddresses, IPv4GoesIntoABe32OrFourBytes) {
    EXPECT_EQ(encoded(kBe32, text("192.0.2.10")), (Bytes{192, 0, 2, 10}));
    EXPECT_EQ(encoded(makeArray(kU8, 4), text("10.1.2.3")), (Bytes{10, 1, 2, 3}));
    EXPECT_EQ(failure(kBe32, text("192.0.2.300", 3, 7)),
              "3:7: value: \"192.0.2.300\" is not an IPv4 address");
    EXPECT_EQ(failure(makeArray(kU8, 4), text("2001:db8::1")),
              "1:1: value: \"2001:db8::1\" is not an IPv4 address");
}

TEST(EncodeAddresses, IPv6GoesIntoSixteenBytesOrIn6Addr) {
    const Bytes address = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    EXPECT_EQ(encoded(makeArray(kU8, 16), text("2001:db8::1")), address);
    EXPECT_EQ(encoded(kIn6Addr, text("2001:db8::1")), address);
    EXPECT_EQ(failure(kIn6Addr, text("2001:db8::zz", 5, 3)),
              "5:3: value: \"2001:db8::zz\" is not an IPv6 address");
    // Written member by member, as a table, it is the same address.
    EXPECT_EQ(
        encoded(kIn6Addr,
                table({{"in6_u",
                        table({{"u6_addr16",
                                array({integer(0x2001), integer(0x0db8), integer(0), integer(0),
                                       integer(0), integer(0), integer(0), integer(1)})}})}})),
        address);
}

TEST(EncodeEnums, TakeAnEnumeratorNameOrAnInteger) {
    EXPECT_EQ(encoded(kMode, text("MODE_DROP")), (Bytes{7, 0, 0, 0}));
    EXPECT_EQ(encoded(kMode, integer(1)), (Bytes{1, 0, 0, 0}));
    EXPECT_EQ(encoded(kMode, integer(42)), (Bytes{42, 0, 0, 0}));
    EXPECT_EQ(failure(kMode, integer(-1)), "1:1: value: -1 does not fit enum mode (0..4294967295)");
}

TEST(EncodeEnums, UnknownNameListsTheEnumerators) {
    EXPECT_EQ(failure(holder("mode", kMode), table({{"mode", text("MODE_DORP", 6, 10)}})),
              "6:10: value.mode: \"MODE_DORP\" is not an enumerator of enum mode; expected one "
              "of: MODE_OFF, MODE_COUNT, MODE_DROP (did you mean 'MODE_DROP'?)");
    EXPECT_EQ(failure(kMode, text("fast")),
              "1:1: value: \"fast\" is not an enumerator of enum mode; expected one of: "
              "MODE_OFF, MODE_COUNT, MODE_DROP");
    EXPECT_EQ(failure(kMode, boolean(true)),
              "1:1: value: expected an integer or an enumerator name for enum mode, got boolean");
}

TEST(EncodeCharArrays, TakeAStringZeroPaddedWithRoomForTheTerminator) {
    const TypeRef name = makeArray(kChar, 8);
    EXPECT_EQ(encoded(name, text("edge")), (Bytes{'e', 'd', 'g', 'e', 0, 0, 0, 0}));
    EXPECT_EQ(encoded(name, text("")), Bytes(8, 0));
    EXPECT_EQ(encoded(name, text("1234567")), (Bytes{'1', '2', '3', '4', '5', '6', '7', 0}));
    EXPECT_EQ(failure(name, text("12345678", 2, 12)),
              "2:12: value: \"12345678\" is 8 bytes; char[8] holds a string of at most 7");
    EXPECT_EQ(failure(name, integer(1)), "1:1: value: expected a string for char[8], got integer");
}

TEST(EncodeArrays, TakeUpToTheirCountAndZeroTheRest) {
    const TypeRef burst = makeArray(kU16, 3);
    EXPECT_EQ(encoded(burst, array({integer(1), integer(0x0203)})), (Bytes{1, 0, 3, 2, 0, 0}));
    EXPECT_EQ(encoded(burst, array({})), Bytes(6, 0));
    EXPECT_EQ(
        failure(holder("burst", burst),
                table({{"burst", array({integer(1), integer(2), integer(3), integer(4)}, 8, 11)}})),
        "8:11: value.burst: __u16[3] holds 3 items, got 4");
    EXPECT_EQ(failure(burst, text("1,2,3")),
              "1:1: value: expected an array for __u16[3], got string");
    EXPECT_EQ(failure(burst, array({integer(1), integer(-1, 2, 5)})),
              "2:5: value[1]: -1 does not fit __u16 (0..65535)");
}

TEST(EncodeArrays, NestedArraysAreRowMajorAndNamedAsInC) {
    const TypeRef grid = makeArray(makeArray(kU8, 3), 2);
    EXPECT_EQ(grid->name, "__u8[2][3]");
    EXPECT_EQ(
        encoded(grid, array({array({integer(1), integer(2), integer(3)}), array({integer(4)})})),
        (Bytes{1, 2, 3, 4, 0, 0}));
    EXPECT_EQ(failure(holder("grid", grid),
                      table({{"grid", array({array({}), array({integer(256, 3, 14)})})}})),
              "3:14: value.grid[1][0]: 256 does not fit __u8 (0..255)");
    EXPECT_EQ(failure(grid, array({integer(1)})),
              "1:1: value[0]: expected an array for __u8[3], got integer");
}

TEST(EncodeStructs, MembersGoAtTheirOffsetsAndOmittedOnesAreZero) {
    const MapValue value = table({
        {"rate", integer(1000)},
        {"burst", array({integer(1), integer(2), integer(3)})},
        {"mode", text("MODE_COUNT")},
        {"name", text("edge")},
        {"port", integer(443)},
        {"bias", integer(-1)},
        {"grid", array({array({integer(9)}), array({integer(0), integer(8)})})},
    });
    Bytes want(40, 0);
    want[0] = 0xe8; // rate 1000
    want[1] = 0x03;
    want[2] = 1; // burst
    want[4] = 2;
    want[6] = 3;
    want[8] = 1; // mode MODE_COUNT
    std::memcpy(&want[12], "edge", 4);
    want[28] = 0x01; // port 443, network order
    want[29] = 0xbb;
    want[30] = 0xff; // bias -1
    want[31] = 9;    // grid[0][0]
    want[35] = 8;    // grid[1][1]
    EXPECT_EQ(encoded(kLimits, value), want);

    Bytes rate_only(40, 0);
    rate_only[0] = 10;
    EXPECT_EQ(encoded(kLimits, table({{"rate", integer(10)}})), rate_only);
}

TEST(EncodeStructs, UnknownMemberListsTheMembers) {
    EXPECT_EQ(failure(kLimits, table({{"rate", integer(1)}, {"brust", integer(2, 7, 21)}})),
              "7:21: value: struct limits has no member 'brust'; expected one of: rate, burst, "
              "mode, name, port, bias, grid (did you mean 'burst'?)");
    EXPECT_EQ(failure(kLimits, table({{"speed", integer(2)}})),
              "1:1: value: struct limits has no member 'speed'; expected one of: rate, burst, "
              "mode, name, port, bias, grid");
}

TEST(EncodeStructs, OtherKindsOfValueAreRefused) {
    EXPECT_EQ(failure(holder("x", kLimits), table({{"x", integer(5, 9, 9)}})),
              "9:9: value.x: expected a table for struct limits, got integer");
    EXPECT_EQ(failure(kLimits, array({})),
              "1:1: value: expected a table for struct limits, got array");
    EXPECT_EQ(failure(kIn6Addr, integer(1)),
              "1:1: value: expected a table or an IPv6 address for struct in6_addr, got integer");
}

TEST(EncodeStructs, ErrorsInNestedMembersNameTheWholePath) {
    const TypeRef outer = makeStruct(
        "struct outer", {false, 44, {member("id", 0, kU32), member("limits", 4, kLimits)}});
    EXPECT_EQ(
        failure(outer, table({{"limits",
                               table({{"burst", array({integer(1), integer(70000, 12, 30)})}})}})),
        "12:30: value.limits.burst[1]: 70000 does not fit __u16 (0..65535)");
    Bytes want(44, 0);
    want[0] = 5;
    want[4 + 12] = 'x';
    EXPECT_EQ(encoded(outer, table({{"id", integer(5)}, {"limits", table({{"name", text("x")}})}})),
              want);
}

TEST(EncodeBitfields, PackEachFieldIntoItsBits) {
    const MapValue value = table({
        {"enabled", boolean(true)},
        {"level", integer(5)},
        {"delta", integer(-3)},
        {"mode", text("MODE_DROP")},
        {"rest", integer(0xbeef)},
    });
    // The same struct as the C compiler lays it out on this host.
    struct Flags {
        uint32_t enabled : 1;
        uint32_t level : 3;
        int32_t delta : 4;
        uint32_t mode : 8;
        uint32_t rest : 16;
    } flags{};
    flags.enabled = 1;
    flags.level = 5;
    flags.delta = -3;
    flags.mode = 7;
    flags.rest = 0xbeef;
    Bytes compiled(sizeof flags);
    std::memcpy(compiled.data(), &flags, sizeof flags);

    EXPECT_EQ(encoded(kFlags, value), (Bytes{0xdb, 0x07, 0xef, 0xbe}));
    EXPECT_EQ(encoded(kFlags, value), compiled);
    EXPECT_EQ(encoded(kFlags, table({{"level", integer(7)}})), (Bytes{0x0e, 0, 0, 0}));
}

TEST(EncodeBitfields, RangeIsTheWidthOfTheField) {
    EXPECT_EQ(failure(kFlags, table({{"level", integer(8, 2, 3)}})),
              "2:3: value.level: 8 does not fit 3 bits of __u32 (0..7)");
    EXPECT_EQ(failure(kFlags, table({{"delta", integer(-9)}})),
              "1:1: value.delta: -9 does not fit 4 bits of __s32 (-8..7)");
    EXPECT_EQ(encoded(kFlags, table({{"delta", integer(-8)}})), (Bytes{0x80, 0, 0, 0}));
    EXPECT_EQ(failure(kFlags, table({{"enabled", integer(2)}})),
              "1:1: value.enabled: 2 does not fit 1 bit of __u32 (0..1)");
    EXPECT_EQ(failure(kFlags, table({{"mode", text("MODE_FAST")}})),
              "1:1: value.mode: \"MODE_FAST\" is not an enumerator of enum mode; expected one of: "
              "MODE_OFF, MODE_COUNT, MODE_DROP");
}

TEST(EncodeUnions, SetOneMember) {
    const TypeRef value = makeStruct("union value", {true,
                                                     4,
                                                     {
                                                         member("word", 0, kU32),
                                                         member("bytes", 0, makeArray(kU8, 4)),
                                                     }});
    EXPECT_EQ(encoded(value, table({{"word", integer(0x01020304)}})), (Bytes{4, 3, 2, 1}));
    EXPECT_EQ(encoded(value, table({{"bytes", array({integer(1), integer(2)})}})),
              (Bytes{1, 2, 0, 0}));
    EXPECT_EQ(failure(value, table({{"word", integer(1)}, {"bytes", array({}, 4, 4)}})),
              "4:4: value.bytes: 'word' and 'bytes' share the bytes of a union; set only one of "
              "them");
}

TEST(EncodeStructs, AnonymousMembersLendTheirMembers) {
    // struct rule { __u8 kind; union { __be32 v4; struct { __u16 lo; __u16 hi; }; }; }
    const TypeRef halves = makeStruct("struct (anonymous)", {false,
                                                             4,
                                                             {
                                                                 member("lo", 0, kU16),
                                                                 member("hi", 2, kU16),
                                                             }});
    const TypeRef either = makeStruct("union (anonymous)", {true,
                                                            4,
                                                            {
                                                                member("v4", 0, kBe32),
                                                                member("", 0, halves),
                                                            }});
    const TypeRef rule = makeStruct("struct rule", {false,
                                                    8,
                                                    {
                                                        member("kind", 0, kU8),
                                                        member("", 4, either),
                                                    }});
    EXPECT_EQ(encoded(rule, table({{"kind", integer(1)}, {"v4", text("10.0.0.1")}})),
              (Bytes{1, 0, 0, 0, 10, 0, 0, 1}));
    EXPECT_EQ(encoded(rule, table({{"lo", integer(1)}, {"hi", integer(2)}})),
              (Bytes{0, 0, 0, 0, 1, 0, 2, 0}));
    EXPECT_EQ(failure(rule, table({{"v4", integer(1)}, {"hi", integer(2, 3, 3)}})),
              "3:3: value.hi: 'v4' and 'hi' share the bytes of a union; set only one of them");
    EXPECT_EQ(failure(rule, table({{"low", integer(1)}})),
              "1:1: value: struct rule has no member 'low'; expected one of: kind, v4, lo, hi "
              "(did you mean 'lo'?)");
}

TEST(EncodeUnsupported, CannotBeSetButMayBeLeftOut) {
    const TypeRef cookie = makeStruct("struct cookie", {false,
                                                        16,
                                                        {
                                                            member("id", 0, kU64),
                                                            member("owner", 8, kVoidPointer),
                                                        }});
    EXPECT_EQ(encoded(cookie, table({{"id", integer(3)}})),
              (Bytes{3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(failure(cookie, table({{"owner", integer(0, 4, 2)}})),
              "4:2: value.owner: cannot set void *: it is a pointer");
    EXPECT_EQ(failure(kFloat, integer(1)),
              "1:1: value: cannot set double: it is a floating-point number");
}

} // namespace
