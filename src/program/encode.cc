#include "program/encode.h"

#include "program/suggest.h"

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <span>
#include <string>

namespace l3af::program {

namespace {

using config::Diagnostic;
using config::MapValue;
using Bytes = std::span<uint8_t>;
using Written = std::expected<void, Diagnostic>;

std::unexpected<Diagnostic> problem(const MapValue& at, std::string_view path,
                                    const std::string& message) {
    return std::unexpected(Diagnostic{at.where, std::string(path) + ": " + message});
}

const char* kindName(MapValue::Kind kind) {
    switch (kind) {
    case MapValue::Kind::Integer:
        return "integer";
    case MapValue::Kind::Boolean:
        return "boolean";
    case MapValue::Kind::String:
        return "string";
    case MapValue::Kind::Array:
        return "array";
    case MapValue::Kind::Table:
        return "table";
    }
    return "?";
}

std::string quotedText(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

// Arrays of single-byte integers that take a string: text when the element
// is written as a char type, an address when it is a byte (__u8).
bool isByteArray(const ArrayDesc& array) {
    const auto* element = std::get_if<IntDesc>(&array.element->kind);
    return element != nullptr && element->size == 1;
}
bool isCharArray(const ArrayDesc& array) {
    return isByteArray(array) && std::get<IntDesc>(array.element->kind).is_char;
}

// What a type takes, for "expected ... for <type>, got <kind>".
std::string expectation(const TypeDesc& type) {
    if (const auto* d = std::get_if<IntDesc>(&type.kind)) {
        if (d->is_bool)
            return "a boolean";
        if (d->big_endian && d->size == 4)
            return "an integer or an IPv4 address";
        return "an integer";
    }
    if (std::holds_alternative<EnumDesc>(type.kind))
        return "an integer or an enumerator name";
    if (const auto* d = std::get_if<ArrayDesc>(&type.kind)) {
        if (isCharArray(*d))
            return "a string";
        if (isByteArray(*d) && d->count == 4)
            return "an array or an IPv4 address";
        if (isByteArray(*d) && d->count == 16)
            return "an array or an IPv6 address";
        return "an array";
    }
    if (const auto* d = std::get_if<StructDesc>(&type.kind))
        return d->size == 16 ? "a table or an IPv6 address" : "a table";
    return "nothing";
}

std::unexpected<Diagnostic> mismatch(const TypeDesc& type, const MapValue& value,
                                     std::string_view path) {
    return problem(value, path,
                   "expected " + expectation(type) + " for " + type.name + ", got " +
                       kindName(value.kind));
}

// The values a `bits`-wide integer holds. Configuration integers are
// int64, so only the bounds of types up to 64 bits can be reached from both
// sides; wider ones are printed as powers of two.
struct Range {
    int64_t min = 0;
    uint64_t max = 0;
    std::string text;

    bool holds(int64_t v) const { return v >= min && (v < 0 || static_cast<uint64_t>(v) <= max); }
};

Range rangeOf(uint32_t bits, bool is_signed) {
    Range r;
    if (bits > 64) {
        r.min = is_signed ? std::numeric_limits<int64_t>::min() : 0;
        r.max =
            is_signed ? std::numeric_limits<int64_t>::max() : std::numeric_limits<uint64_t>::max();
        const std::string n = std::to_string(is_signed ? bits - 1 : bits);
        r.text = is_signed ? "-2^" + n + "..2^" + n + "-1" : "0..2^" + n + "-1";
        return r;
    }
    if (is_signed) {
        r.max = (uint64_t{1} << (bits - 1)) - 1;
        r.min = -static_cast<int64_t>(r.max) - 1;
    } else {
        r.max = bits == 64 ? std::numeric_limits<uint64_t>::max() : (uint64_t{1} << bits) - 1;
    }
    r.text = std::to_string(r.min) + ".." + std::to_string(r.max);
    return r;
}

// Two's complement, sign-extended to the width of `out`, in host order or
// in network order.
void storeInt(int64_t v, Bytes out, bool big_endian) {
    const auto bits = static_cast<uint64_t>(v);
    for (size_t i = 0; i < out.size(); i++)
        out[i] = i < 8 ? static_cast<uint8_t>(bits >> (8 * i)) : (v < 0 ? 0xff : 0);
    const bool want_big = big_endian || std::endian::native == std::endian::big;
    if (want_big)
        std::reverse(out.begin(), out.end());
}

Written storeAddress(int family, const MapValue& value, std::string_view path, Bytes out) {
    uint8_t address[16];
    if (inet_pton(family, value.text.c_str(), address) != 1)
        return problem(value, path,
                       quotedText(value.text) + " is not an " +
                           (family == AF_INET ? "IPv4" : "IPv6") + " address");
    std::copy_n(address, out.size(), out.begin());
    return {};
}

// An integer or an enum written as an integer, a boolean or an enumerator
// name: its value before it is checked against its width.
struct Scalar {
    int64_t value = 0;
    uint32_t bits = 0;
    bool is_signed = false;
};

std::expected<Scalar, Diagnostic> scalarOf(const TypeDesc& type, const MapValue& value,
                                           std::string_view path) {
    if (const auto* d = std::get_if<IntDesc>(&type.kind)) {
        if (value.kind != MapValue::Kind::Integer && value.kind != MapValue::Kind::Boolean)
            return mismatch(type, value, path);
        if (d->is_bool)
            return Scalar{value.integer, 1, false};
        return Scalar{value.integer, d->size * 8, d->is_signed};
    }
    const auto* d = std::get_if<EnumDesc>(&type.kind);
    if (d == nullptr)
        return mismatch(type, value, path);
    if (value.kind == MapValue::Kind::Integer)
        return Scalar{value.integer, d->size * 8, d->is_signed};
    if (value.kind != MapValue::Kind::String)
        return mismatch(type, value, path);
    std::vector<std::string> names;
    for (const auto& [name, number] : d->enumerators) {
        // An enumerator's value always fits its enum, even as an unsigned
        // 64-bit value kept as the int64 of the same bits.
        if (name == value.text)
            return Scalar{number, 64, true};
        names.push_back(name);
    }
    return problem(value, path,
                   quotedText(value.text) + " is not an enumerator of " + type.name +
                       "; expected one of: " + joinNames(names) + didYouMean(value.text, names));
}

std::expected<int64_t, Diagnostic> checkedScalar(const TypeDesc& type, const MapValue& value,
                                                 std::string_view path, uint32_t bitfield = 0) {
    auto scalar = scalarOf(type, value, path);
    if (!scalar)
        return std::unexpected(scalar.error());
    const uint32_t bits = bitfield != 0 ? std::min(bitfield, scalar->bits) : scalar->bits;
    const Range range = rangeOf(bits, scalar->is_signed);
    if (!range.holds(scalar->value)) {
        const std::string target = bitfield == 0 ? type.name
                                   : bitfield == 1
                                       ? "1 bit of " + type.name
                                       : std::to_string(bitfield) + " bits of " + type.name;
        return problem(value, path,
                       std::to_string(scalar->value) + " does not fit " + target + " (" +
                           range.text + ")");
    }
    return scalar->value;
}

Written write(const TypeDesc& type, const MapValue& value, const std::string& path, Bytes out);

Written writeInt(const TypeDesc& type, const IntDesc& d, const MapValue& value,
                 const std::string& path, Bytes out) {
    if (value.kind == MapValue::Kind::String && d.big_endian && d.size == 4)
        return storeAddress(AF_INET, value, path, out);
    auto v = checkedScalar(type, value, path);
    if (!v)
        return std::unexpected(v.error());
    storeInt(*v, out, d.big_endian);
    return {};
}

Written writeEnum(const TypeDesc& type, const MapValue& value, const std::string& path, Bytes out) {
    auto v = checkedScalar(type, value, path);
    if (!v)
        return std::unexpected(v.error());
    storeInt(*v, out, false);
    return {};
}

Written writeArray(const TypeDesc& type, const ArrayDesc& d, const MapValue& value,
                   const std::string& path, Bytes out) {
    if (value.kind == MapValue::Kind::String && isCharArray(d)) {
        // Room for the terminating zero: programs read these as C strings.
        if (value.text.size() >= d.count)
            return problem(value, path,
                           quotedText(value.text) + " is " + std::to_string(value.text.size()) +
                               " bytes; " + type.name + " holds a string of at most " +
                               std::to_string(d.count == 0 ? 0 : d.count - 1));
        std::copy(value.text.begin(), value.text.end(), out.begin());
        return {};
    }
    if (value.kind == MapValue::Kind::String && isByteArray(d) && d.count == 4)
        return storeAddress(AF_INET, value, path, out);
    if (value.kind == MapValue::Kind::String && isByteArray(d) && d.count == 16)
        return storeAddress(AF_INET6, value, path, out);
    if (value.kind != MapValue::Kind::Array)
        return mismatch(type, value, path);
    if (value.items.size() > d.count)
        return problem(value, path,
                       type.name + " holds " + std::to_string(d.count) + " items, got " +
                           std::to_string(value.items.size()));
    const uint32_t element_size = d.element->size();
    for (size_t i = 0; i < value.items.size(); i++) {
        Written w = write(*d.element, value.items[i], path + "[" + std::to_string(i) + "]",
                          out.subspan(i * element_size, element_size));
        if (!w)
            return w;
    }
    return {};
}

// The members a table may name: the named members, and through anonymous
// structs and unions, theirs.
void visibleNames(const StructDesc& d, std::vector<std::string>& out) {
    for (const MemberDesc& m : d.members) {
        if (!m.name.empty())
            out.push_back(m.name);
        else if (const auto* inner = std::get_if<StructDesc>(&m.type->kind))
            visibleNames(*inner, out);
    }
}

// The members from `d` down to the one named `name`: more than one when it
// is reached through anonymous members.
bool findMember(const StructDesc& d, std::string_view name, std::vector<const MemberDesc*>& chain) {
    for (const MemberDesc& m : d.members) {
        chain.push_back(&m);
        if (m.name == name)
            return true;
        if (m.name.empty())
            if (const auto* inner = std::get_if<StructDesc>(&m.type->kind))
                if (findMember(*inner, name, chain))
                    return true;
        chain.pop_back();
    }
    return false;
}

Written writeBitfield(const MemberDesc& m, uint32_t bit_offset, const MapValue& value,
                      const std::string& path, Bytes out) {
    // BTF counts a bitfield's bits from the least significant bit of the
    // first byte on little-endian targets, which BPF shares with its host.
    if constexpr (std::endian::native != std::endian::little)
        return problem(value, path, "bitfields are only supported on little-endian hosts");
    auto v = checkedScalar(*m.type, value, path, m.bit_size);
    if (!v)
        return std::unexpected(v.error());
    if (bit_offset + m.bit_size > out.size() * 8)
        return problem(value, path, "the BTF places this bitfield outside its struct");
    const auto bits = static_cast<uint64_t>(*v);
    for (uint32_t i = 0; i < m.bit_size; i++) {
        const uint32_t at = bit_offset + i;
        const auto mask = static_cast<uint8_t>(1u << (at % 8));
        const bool set = i < 64 ? (bits >> i & 1) != 0 : *v < 0;
        if (set)
            out[at / 8] |= mask;
        else
            out[at / 8] &= static_cast<uint8_t>(~mask);
    }
    return {};
}

Written writeStruct(const TypeDesc& type, const StructDesc& d, const MapValue& value,
                    const std::string& path, Bytes out) {
    if (value.kind == MapValue::Kind::String && d.size == 16)
        return storeAddress(AF_INET6, value, path, out);
    if (value.kind != MapValue::Kind::Table)
        return mismatch(type, value, path);

    // Members of one union share their bytes: a table sets at most one of
    // them. Keyed by the union (this one, or an anonymous member's type).
    std::map<const StructDesc*, std::pair<const MemberDesc*, std::string>> union_choice;
    for (const auto& [key, field] : value.fields) {
        std::vector<const MemberDesc*> chain;
        if (!findMember(d, key, chain)) {
            std::vector<std::string> names;
            visibleNames(d, names);
            return problem(field, path,
                           type.name + " has no member '" + key +
                               "'; expected one of: " + joinNames(names) + didYouMean(key, names));
        }
        uint32_t bit_offset = 0;
        const StructDesc* container = &d;
        for (const MemberDesc* m : chain) {
            if (container->is_union) {
                auto [it, first] = union_choice.try_emplace(container, m, key);
                if (!first && it->second.first != m)
                    return problem(field, path + "." + key,
                                   "'" + it->second.second + "' and '" + key +
                                       "' share the bytes of a union; set only one of them");
            }
            bit_offset += m->bit_offset;
            container = std::get_if<StructDesc>(&m->type->kind);
        }
        const MemberDesc& target = *chain.back();
        const std::string member_path = path + "." + key;
        Written w;
        if (target.bit_size != 0) {
            w = writeBitfield(target, bit_offset, field, member_path, out);
        } else {
            const uint32_t offset = bit_offset / 8;
            const uint32_t size = target.type->size();
            if (offset + size > out.size())
                return problem(field, member_path, "the BTF places this member outside its struct");
            w = write(*target.type, field, member_path, out.subspan(offset, size));
        }
        if (!w)
            return w;
    }
    return {};
}

Written write(const TypeDesc& type, const MapValue& value, const std::string& path, Bytes out) {
    if (const auto* d = std::get_if<IntDesc>(&type.kind))
        return writeInt(type, *d, value, path, out);
    if (std::holds_alternative<EnumDesc>(type.kind))
        return writeEnum(type, value, path, out);
    if (const auto* d = std::get_if<ArrayDesc>(&type.kind))
        return writeArray(type, *d, value, path, out);
    if (const auto* d = std::get_if<StructDesc>(&type.kind))
        return writeStruct(type, *d, value, path, out);
    const auto& unsupported = std::get<UnsupportedDesc>(type.kind);
    return problem(value, path, "cannot set " + type.name + ": it is " + unsupported.what);
}

} // namespace

Encoded encodeValue(const TypeDesc& type, const MapValue& value, std::string_view path) {
    std::vector<uint8_t> bytes(type.size(), 0);
    Written w = write(type, value, std::string(path), bytes);
    if (!w)
        return std::unexpected(w.error());
    return bytes;
}

} // namespace l3af::program
