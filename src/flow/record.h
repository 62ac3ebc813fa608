#pragma once

// A flow record as it leaves the flow table for the exporter: counts are
// deltas since the flow was last exported, times are wall-clock milliseconds.

#include "flow_abi.h"

#include <cstdint>

namespace l3af::flow {

static_assert(sizeof(flow_key) == 48, "flow_key ABI");
static_assert(sizeof(flow_value) == 40, "flow_value ABI");
static_assert(sizeof(flow_baseline) == 24, "flow_baseline ABI");
static_assert(sizeof(flow_stat_value) == 16, "flow_stat_value ABI");

// IPFIX flowEndReason (IANA registry, RFC 5102 section 5.11.3).
enum class EndReason : uint8_t {
    IdleTimeout = 1,
    ActiveTimeout = 2,
    EndOfFlow = 3, // TCP FIN or RST seen
    ForcedEnd = 4, // daemon shutdown or exporter removed
    LackOfResources = 5,
};

struct FlowRecord {
    flow_key key;
    uint64_t packets = 0;
    uint64_t octets = 0;
    uint64_t start_ms = 0; // flowStartMilliseconds, Unix epoch
    uint64_t end_ms = 0;   // flowEndMilliseconds, Unix epoch
    uint8_t tcp_flags = 0;
    uint8_t min_ttl = 0;
    uint8_t max_ttl = 0;
    uint8_t tos = 0;
    EndReason reason = EndReason::IdleTimeout;
};

} // namespace l3af::flow
