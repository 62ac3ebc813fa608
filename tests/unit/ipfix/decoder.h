#pragma once

// A small, strict IPFIX (RFC 7011) decoder for the tests. It shares no code
// with the encoder: it reads templates from the messages themselves and
// rejects anything the RFC does not allow, so a test that decodes what the
// session emitted checks the encoder against the RFC, not against itself.

#include <cstdint>
#include <expected>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace l3af::ipfix::testing {

struct DecodedTemplate {
    uint16_t id = 0;
    uint16_t scope_fields = 0; // 0 for a (non-options) Template Record
    bool options = false;
    std::vector<std::pair<uint16_t, uint16_t>> fields; // {element id, length}

    size_t recordLength() const;
};

struct DecodedRecord {
    uint16_t template_id = 0;
    std::vector<std::pair<uint16_t, std::vector<uint8_t>>> fields; // in template order

    // The value of the n-th occurrence of an element, big-endian unsigned.
    // Fails the test (and returns 0) when the element is absent.
    uint64_t number(uint16_t id, int occurrence = 0) const;
    std::vector<uint8_t> bytes(uint16_t id) const;
    bool has(uint16_t id) const;
};

struct DecodedMessage {
    uint16_t length = 0;
    uint32_t export_time = 0;
    uint32_t sequence = 0;
    uint32_t domain = 0;
    std::vector<DecodedTemplate> templates; // as they appeared
    std::vector<uint16_t> set_ids;          // every set, in order
    std::vector<DecodedRecord> records;     // data records, in order
};

// One decoder per transport session: templates persist across messages, and
// are scoped to the Observation Domain of the message that announced them
// (RFC 7011 section 8), so a data set that relies on another domain's
// template is an error.
class Decoder {
  public:
    std::expected<DecodedMessage, std::string> decode(std::span<const uint8_t> message);

  private:
    std::map<std::pair<uint32_t, uint16_t>, DecodedTemplate> templates_; // {domain, id}
};

} // namespace l3af::ipfix::testing
