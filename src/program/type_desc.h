#pragma once

// A map key or value type as BTF describes it, reduced to what encoding a
// TOML value needs: typedefs, const and volatile are resolved away (a
// __be16/__be32/__be64 typedef leaves its mark as big_endian), and whatever
// the configuration cannot write (pointers, functions, floats) is
// Unsupported. Built from libbpf's BTF in kernel/program_object, by hand in
// tests; this folder has no libbpf dependency.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace l3af::program {

struct TypeDesc;
using TypeRef = std::shared_ptr<const TypeDesc>;

struct IntDesc {
    uint32_t size = 4; // bytes: 1, 2, 4, 8 or 16
    bool is_signed = false;
    bool is_bool = false;    // _Bool: takes true/false or 0/1
    bool is_char = false;    // char, signed char, unsigned char written as such (not __u8)
    bool big_endian = false; // reached through a __be16/__be32/__be64 typedef
};

struct EnumDesc {
    uint32_t size = 4;
    bool is_signed = false;
    std::vector<std::pair<std::string, int64_t>> enumerators; // in declaration order
};

struct ArrayDesc {
    TypeRef element;
    uint32_t count = 0;
};

struct MemberDesc {
    std::string name;        // "" for an anonymous struct or union, whose members count as ours
    uint32_t offset = 0;     // bytes from the start of the enclosing struct (bit_offset / 8)
    uint32_t bit_offset = 0; // bits from the start of the enclosing struct
    uint32_t bit_size = 0;   // a bitfield's width; 0 for an ordinary member
    TypeRef type;
};

struct StructDesc {
    bool is_union = false;
    uint32_t size = 0;
    std::vector<MemberDesc> members; // in declaration order
};

struct UnsupportedDesc {
    std::string what; // "a pointer", "a function", "a floating-point number", ...
    uint32_t size = 0;
};

struct TypeDesc {
    // How messages name the type: "__u16", "enum mode", "struct limits",
    // "char[16]", "union (anonymous)".
    std::string name;
    std::variant<IntDesc, EnumDesc, ArrayDesc, StructDesc, UnsupportedDesc> kind;

    uint32_t size() const;
};

// Builders, for the BTF reader and for tests.
TypeRef makeInt(std::string name, IntDesc desc);
TypeRef makeEnum(std::string name, EnumDesc desc);
// Named after the element: "__u16[4]", "__u8[2][3]" for an array of __u8[3].
TypeRef makeArray(TypeRef element, uint32_t count);
TypeRef makeStruct(std::string name, StructDesc desc);
TypeRef makeUnsupported(std::string name, UnsupportedDesc desc);

// An ordinary member and a bitfield, for building StructDesc by hand.
MemberDesc member(std::string name, uint32_t offset, TypeRef type);
MemberDesc bitfield(std::string name, uint32_t bit_offset, uint32_t bit_size, TypeRef type);

} // namespace l3af::program
