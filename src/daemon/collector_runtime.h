#pragma once

// One collector as the daemon runs it: the transport connection and the IPFIX
// session on it. Every flow exporter that names the collector feeds the same
// session, so the collector sees one stream with one sequence.

#include "config/model.h"
#include "export/collector_connection.h"
#include "flow/record.h"
#include "ipfix/session.h"

#include <systemd/sd-event.h>

#include <map>
#include <memory>

namespace l3af::daemon {

struct CollectorTotals {
    // What never reached the collector, for the reliability options record.
    uint64_t not_sent_packets = 0;
    uint64_t not_sent_octets = 0;
    uint64_t not_sent_records = 0; // flow records dropped by the transport or a session restart
    uint64_t first_not_sent_ms = 0;
    uint64_t last_not_sent_ms = 0;
};

class CollectorRuntime {
  public:
    static Result<std::unique_ptr<CollectorRuntime>> create(sd_event* event,
                                                            const config::Collector& config);

    const config::Collector& config() const { return config_; }
    const exporter::CollectorCounters& counters() const { return connection_->counters(); }
    const CollectorTotals& totals() const { return totals_; }

    // A batch of records: begin, add..., end (which flushes the message).
    void begin(uint64_t now_ms);
    void add(const flow::FlowRecord& record);
    // Packets and octets a feeding exporter's table had no room for (totals).
    void reportOverflow(const std::string& exporter, uint64_t packets, uint64_t octets);
    // Ends the batch: adds the reliability statistics when they changed or
    // are due, and sends what is pending.
    void end(uint64_t now_ms);

  private:
    CollectorRuntime(config::Collector config) : config_(std::move(config)) {}
    void onMessage(std::span<const uint8_t> message, uint32_t records);

    config::Collector config_;
    std::unique_ptr<exporter::CollectorConnection> connection_;
    std::unique_ptr<ipfix::Session> session_;
    CollectorTotals totals_;
    // Packets and octets of the records in the message being built.
    uint64_t pending_packets_ = 0;
    uint64_t pending_octets_ = 0;
    std::map<std::string, std::pair<uint64_t, uint64_t>> overflow_;
    ipfix::ReliabilityStats last_reliability_{};
    uint64_t last_reliability_ms_ = 0;
    bool reliability_sent_ = false;
    uint64_t last_batch_ms_ = 0;
    uint64_t first_ignored_ms_ = 0;
    uint64_t last_ignored_ms_ = 0;
};

} // namespace l3af::daemon
