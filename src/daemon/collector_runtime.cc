#include "daemon/collector_runtime.h"

namespace l3af::daemon {

Result<std::unique_ptr<CollectorRuntime>>
CollectorRuntime::create(sd_event* event, const config::Collector& config) {
    std::unique_ptr<CollectorRuntime> runtime(new CollectorRuntime(config));
    ipfix::SessionOptions options;
    options.observation_domain = config.observation_domain;
    if (config.transport == config::Transport::Udp) {
        options.max_message_size = config.mtu;
        options.template_refresh = config.template_refresh;
    } else {
        options.max_message_size = 65535;
        options.template_refresh = std::chrono::milliseconds(0);
    }
    CollectorRuntime* self = runtime.get();
    runtime->session_ = std::make_unique<ipfix::Session>(
        options, [self](std::span<const uint8_t> message, uint32_t records) {
            self->onMessage(message, records);
        });
    auto connection = exporter::connectCollector(event, config);
    if (!connection)
        return std::unexpected(connection.error().wrap("collector '" + config.name + "'"));
    runtime->connection_ = std::move(*connection);
    // A new transport session starts a new IPFIX session: sequence 0, templates first.
    runtime->connection_->on_session_start = [self] {
        // What the old session had not sent yet is lost with it: count it.
        if (uint32_t dropped = self->session_->restart(); dropped > 0) {
            self->totals_.not_sent_records += dropped;
            self->totals_.not_sent_packets += self->pending_packets_;
            self->totals_.not_sent_octets += self->pending_octets_;
        }
        self->pending_packets_ = 0;
        self->pending_octets_ = 0;
    };
    return runtime;
}

void CollectorRuntime::onMessage(std::span<const uint8_t> message, uint32_t records) {
    // Reliability reports travel in observation domain 0: they are not flows.
    const bool report = config_.observation_domain != 0 && message.size() >= 16 &&
                        message[12] == 0 && message[13] == 0 && message[14] == 0 &&
                        message[15] == 0;
    if (!connection_->send(message, records) && !report) {
        totals_.not_sent_records += records;
        totals_.not_sent_packets += pending_packets_;
        totals_.not_sent_octets += pending_octets_;
        if (totals_.first_not_sent_ms == 0)
            totals_.first_not_sent_ms = last_batch_ms_;
        totals_.last_not_sent_ms = last_batch_ms_;
    }
    if (!report) {
        pending_packets_ = 0;
        pending_octets_ = 0;
    }
}

void CollectorRuntime::begin(uint64_t now_ms) {
    last_batch_ms_ = now_ms;
    session_->begin(now_ms);
}

void CollectorRuntime::add(const flow::FlowRecord& record) {
    // The session emits a full message before it starts one with this record,
    // so the record's counts belong to the message after any emitted here.
    session_->add(record);
    pending_packets_ += record.packets;
    pending_octets_ += record.octets;
}

void CollectorRuntime::reportOverflow(const std::string& exporter, uint64_t packets,
                                      uint64_t octets) {
    auto& counts = overflow_[exporter];
    if (packets != counts.first) {
        if (first_ignored_ms_ == 0)
            first_ignored_ms_ = last_batch_ms_;
        last_ignored_ms_ = last_batch_ms_;
    }
    counts = {packets, octets};
}

void CollectorRuntime::end(uint64_t now_ms) {
    ipfix::ReliabilityStats stats;
    for (const auto& [name, counts] : overflow_) {
        stats.ignored_packets += counts.first;
        stats.ignored_octets += counts.second;
    }
    stats.not_sent_flows = totals_.not_sent_records;
    stats.not_sent_packets = totals_.not_sent_packets;
    stats.not_sent_octets = totals_.not_sent_octets;
    stats.first_not_sent_ms = totals_.first_not_sent_ms;
    stats.last_not_sent_ms = totals_.last_not_sent_ms;
    stats.first_ignored_ms = first_ignored_ms_;
    stats.last_ignored_ms = last_ignored_ms_;
    const bool changed = !reliability_sent_ ||
                         stats.ignored_packets != last_reliability_.ignored_packets ||
                         stats.ignored_octets != last_reliability_.ignored_octets ||
                         stats.not_sent_flows != last_reliability_.not_sent_flows;
    const auto refresh = static_cast<uint64_t>(config_.template_refresh.count());
    if (changed || now_ms - last_reliability_ms_ >= refresh) {
        session_->addReliability(stats);
        last_reliability_ = stats;
        last_reliability_ms_ = now_ms;
        reliability_sent_ = true;
    }
    session_->flush();
}

} // namespace l3af::daemon
