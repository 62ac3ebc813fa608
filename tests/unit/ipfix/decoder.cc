#include "decoder.h"

#include <gtest/gtest.h>

namespace l3af::ipfix::testing {

namespace {

uint16_t read16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t read32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

std::unexpected<std::string> bad(std::string why) {
    return std::unexpected(std::move(why));
}

} // namespace

size_t DecodedTemplate::recordLength() const {
    size_t total = 0;
    for (const auto& f : fields)
        total += f.second;
    return total;
}

uint64_t DecodedRecord::number(uint16_t id, int occurrence) const {
    for (const auto& [fid, value] : fields) {
        if (fid != id || occurrence-- > 0)
            continue;
        uint64_t v = 0;
        for (uint8_t b : value)
            v = v << 8 | b;
        return v;
    }
    ADD_FAILURE() << "element " << id << " not in record of template " << template_id;
    return 0;
}

std::vector<uint8_t> DecodedRecord::bytes(uint16_t id) const {
    for (const auto& [fid, value] : fields)
        if (fid == id)
            return value;
    ADD_FAILURE() << "element " << id << " not in record of template " << template_id;
    return {};
}

bool DecodedRecord::has(uint16_t id) const {
    for (const auto& f : fields)
        if (f.first == id)
            return true;
    return false;
}

std::expected<DecodedMessage, std::string> Decoder::decode(std::span<const uint8_t> message) {
    // Message Header (section 3.1): 16 bytes.
    if (message.size() < 16)
        return bad("message shorter than its header");
    const uint8_t* m = message.data();
    if (read16(m) != 10)
        return bad("version is not 10");
    DecodedMessage out;
    out.length = read16(m + 2);
    if (out.length != message.size())
        return bad("header length " + std::to_string(out.length) + " but message has " +
                   std::to_string(message.size()) + " bytes");
    out.export_time = read32(m + 4);
    out.sequence = read32(m + 8);
    out.domain = read32(m + 12);

    size_t pos = 16;
    while (pos < message.size()) {
        // Set Header (section 3.3.2).
        if (message.size() - pos < 4)
            return bad("trailing bytes shorter than a set header");
        const uint16_t set_id = read16(m + pos);
        const uint16_t set_length = read16(m + pos + 2);
        if (set_length < 4 || set_length > message.size() - pos)
            return bad("set length " + std::to_string(set_length) + " out of bounds");
        out.set_ids.push_back(set_id);
        const size_t end = pos + set_length;
        size_t p = pos + 4;

        if (set_id == 2 || set_id == 3) {
            const bool options = set_id == 3;
            const size_t header = options ? 6 : 4;
            while (end - p >= header) {
                DecodedTemplate t;
                t.options = options;
                t.id = read16(m + p);
                const uint16_t count = read16(m + p + 2);
                if (options) {
                    t.scope_fields = read16(m + p + 4);
                    if (t.scope_fields == 0 || t.scope_fields > count)
                        return bad("options template scope field count invalid");
                }
                if (t.id < 256)
                    return bad("template id below 256");
                if (count == 0)
                    return bad("template withdrawal: never expected from this exporter");
                p += header;
                for (uint16_t i = 0; i < count; ++i) {
                    if (end - p < 4)
                        return bad("field specifier past the set end");
                    const uint16_t id = read16(m + p);
                    const uint16_t length = read16(m + p + 2);
                    p += 4;
                    if (id & 0x8000)
                        return bad("enterprise-specific element: not expected");
                    if (length == 0xffff)
                        return bad("variable-length element: not expected");
                    t.fields.emplace_back(id, length);
                }
                out.templates.push_back(t);
                templates_[{out.domain, t.id}] = t;
            }
            if (p != end)
                return bad("padding after template records");
        } else if (set_id >= 256) {
            const auto it = templates_.find({out.domain, set_id});
            if (it == templates_.end())
                return bad("data set " + std::to_string(set_id) +
                           " before its template in domain " + std::to_string(out.domain));
            const DecodedTemplate& t = it->second;
            const size_t length = t.recordLength();
            if (length == 0 || (end - p) % length != 0)
                return bad("data set is not a whole number of records (this exporter never pads)");
            if (end == p)
                return bad("empty data set");
            while (p < end) {
                DecodedRecord r;
                r.template_id = set_id;
                for (const auto& [id, flen] : t.fields) {
                    r.fields.emplace_back(id, std::vector<uint8_t>(m + p, m + p + flen));
                    p += flen;
                }
                out.records.push_back(std::move(r));
            }
        } else {
            return bad("reserved set id " + std::to_string(set_id));
        }
        pos = end;
    }
    return out;
}

} // namespace l3af::ipfix::testing
