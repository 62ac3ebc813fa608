#include "ipfix/templates.h"

namespace l3af::ipfix {

namespace {

// A constexpr writer: the template block never changes, so it is encoded by
// the compiler and a session only copies it.
class BlockWriter {
  public:
    constexpr explicit BlockWriter(std::array<uint8_t, kTemplateSetsLength>& out) : out_(out) {}

    constexpr void put16(uint16_t v) {
        out_[pos_++] = static_cast<uint8_t>(v >> 8);
        out_[pos_++] = static_cast<uint8_t>(v);
    }
    constexpr size_t pos() const { return pos_; }
    constexpr void patch16(size_t at, uint16_t v) {
        out_[at] = static_cast<uint8_t>(v >> 8);
        out_[at + 1] = static_cast<uint8_t>(v);
    }

    template <size_t N> constexpr void fields(const std::array<FieldSpec, N>& specs) {
        for (const FieldSpec& f : specs) {
            put16(f.id); // Enterprise bit 0: IANA elements
            put16(f.length);
        }
    }

    // Template Record Header (section 3.4.1): Template ID, Field Count.
    template <size_t N>
    constexpr void templateRecord(uint16_t id, const std::array<FieldSpec, N>& specs) {
        put16(id);
        put16(static_cast<uint16_t>(N));
        fields(specs);
    }

    // Options Template Record Header (section 3.4.2.2): Template ID, Field
    // Count (all fields), Scope Field Count (never 0).
    template <size_t N>
    constexpr void optionsTemplateRecord(uint16_t id, const std::array<FieldSpec, N>& specs,
                                         size_t scope) {
        put16(id);
        put16(static_cast<uint16_t>(N));
        put16(static_cast<uint16_t>(scope));
        fields(specs);
    }

  private:
    std::array<uint8_t, kTemplateSetsLength>& out_;
    size_t pos_ = 0;
};

constexpr std::array<uint8_t, kTemplateSetsLength> encodeTemplateSets() {
    std::array<uint8_t, kTemplateSetsLength> out{};
    BlockWriter w(out);

    const size_t template_set = w.pos();
    w.put16(kTemplateSetId);
    w.put16(0); // length, patched below
    w.templateRecord(kIPv4FlowTemplateId, kIPv4FlowFields);
    w.templateRecord(kIPv6FlowTemplateId, kIPv6FlowFields);
    w.patch16(template_set + 2, static_cast<uint16_t>(w.pos() - template_set));
    // The sets are also handed out one by one (flowTemplateSet(),
    // optionsTemplateSet()): the split must fall where the lengths say.
    if (w.pos() != kFlowTemplateSetLength)
        throw "template set length mismatch";

    const size_t options_set = w.pos();
    w.put16(kOptionsTemplateSetId);
    w.put16(0);
    w.optionsTemplateRecord(kExportingReliabilityTemplateId, kExportingReliabilityFields,
                            kExportingReliabilityScopeFields);
    w.optionsTemplateRecord(kMeteringReliabilityTemplateId, kMeteringReliabilityFields,
                            kMeteringReliabilityScopeFields);
    w.patch16(options_set + 2, static_cast<uint16_t>(w.pos() - options_set));

    // A short block would leave zero bytes that a collector reads as a
    // malformed set; make a miscount a compile error instead.
    if (w.pos() != kTemplateSetsLength)
        throw "template block length mismatch";
    return out;
}

constexpr std::array<uint8_t, kTemplateSetsLength> kTemplateBlock = encodeTemplateSets();

} // namespace

std::span<const uint8_t, kFlowTemplateSetLength> flowTemplateSet() {
    return std::span<const uint8_t, kTemplateSetsLength>(kTemplateBlock)
        .first<kFlowTemplateSetLength>();
}

std::span<const uint8_t, kOptionsTemplateSetLength> optionsTemplateSet() {
    return std::span<const uint8_t, kTemplateSetsLength>(kTemplateBlock)
        .last<kOptionsTemplateSetLength>();
}

std::span<const uint8_t, kTemplateSetsLength> templateSets() {
    return kTemplateBlock;
}

} // namespace l3af::ipfix
