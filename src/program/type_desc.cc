#include "program/type_desc.h"

namespace l3af::program {

uint32_t TypeDesc::size() const {
    struct {
        uint32_t operator()(const IntDesc& d) const { return d.size; }
        uint32_t operator()(const EnumDesc& d) const { return d.size; }
        uint32_t operator()(const ArrayDesc& d) const {
            return d.element ? d.element->size() * d.count : 0;
        }
        uint32_t operator()(const StructDesc& d) const { return d.size; }
        uint32_t operator()(const UnsupportedDesc& d) const { return d.size; }
    } sizeOf;
    return std::visit(sizeOf, kind);
}

TypeRef makeInt(std::string name, IntDesc desc) {
    return std::make_shared<const TypeDesc>(TypeDesc{std::move(name), desc});
}

TypeRef makeEnum(std::string name, EnumDesc desc) {
    return std::make_shared<const TypeDesc>(TypeDesc{std::move(name), std::move(desc)});
}

TypeRef makeArray(TypeRef element, uint32_t count) {
    // C puts the outer dimension first: an array of 2 __u8[3] is __u8[2][3].
    std::string name = element->name;
    const size_t bracket = name.find('[');
    name.insert(bracket == std::string::npos ? name.size() : bracket,
                "[" + std::to_string(count) + "]");
    return std::make_shared<const TypeDesc>(
        TypeDesc{std::move(name), ArrayDesc{std::move(element), count}});
}

TypeRef makeStruct(std::string name, StructDesc desc) {
    return std::make_shared<const TypeDesc>(TypeDesc{std::move(name), std::move(desc)});
}

TypeRef makeUnsupported(std::string name, UnsupportedDesc desc) {
    return std::make_shared<const TypeDesc>(TypeDesc{std::move(name), std::move(desc)});
}

MemberDesc member(std::string name, uint32_t offset, TypeRef type) {
    return MemberDesc{std::move(name), offset, offset * 8, 0, std::move(type)};
}

MemberDesc bitfield(std::string name, uint32_t bit_offset, uint32_t bit_size, TypeRef type) {
    return MemberDesc{std::move(name), bit_offset / 8, bit_offset, bit_size, std::move(type)};
}

} // namespace l3af::program
