#pragma once

// One IPFIX exporter talking to one collector over one transport session
// (RFC 7011): flow records in, complete IPFIX Messages out. Pure: no sockets,
// no clocks; the caller passes the time and sends what the sink receives.
//
// Two Observation Domains share the transport session, each with its own
// Sequence Number and its own templates (section 3.1: sequence numbers count
// per Observation Domain per transport session; templates are scoped alike):
//
//   - the configured domain N carries the flow records (templates 256, 257);
//   - domain 0 carries the reliability reports (options templates 258, 259),
//     as section 3.1 suggests for statistics that no one domain owns. It also
//     keeps them out of N's sequence, which collectors such as nfdump check
//     against flow records only.
//
// When N is itself 0 there is one domain: flows and reports share its
// messages, its sequence and one template block.
//
// A message is built in one buffer allocated at construction; adding a record
// writes it in place, so encoding allocates nothing in steady state.

#include "flow/record.h"
#include "ipfix/templates.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace l3af::ipfix {

struct SessionOptions {
    uint32_t observation_domain = 1;
    // exportingProcessId(144), the scope of the exporting reliability record:
    // unique per exporting process on this host.
    uint32_t exporting_process_id = 1;
    // The largest message: UDP, the collector's mtu; TCP, 65535. Clamped to
    // [kMinMessageLength, kMaxMessageLength].
    size_t max_message_size = 1400;
    // UDP: resend the templates this often (RFC 7011 section 8.4). 0: only at
    // the start of the transport session, as TCP requires (section 8).
    std::chrono::milliseconds template_refresh{60000};
};

// The reliability statistics of RFC 7011 sections 4.2 and 4.3, as totals
// since the process started. Times are Unix epoch milliseconds, 0 when
// nothing was lost yet.
struct ReliabilityStats {
    // Metering Process (4.2): packets and octets the flow table had no room for.
    uint64_t ignored_packets = 0;
    uint64_t ignored_octets = 0;
    uint64_t first_ignored_ms = 0;
    uint64_t last_ignored_ms = 0;
    // Exporting Process (4.3): flow records, and their packets and octets,
    // that never reached the collector.
    uint64_t not_sent_flows = 0;
    uint64_t not_sent_packets = 0;
    uint64_t not_sent_octets = 0;
    uint64_t first_not_sent_ms = 0;
    uint64_t last_not_sent_ms = 0;
};

// Receives each complete message and the number of Data Records in it: flow
// records in a message of the configured domain, options records in one of
// domain 0 (both kinds when the configured domain is 0). The span is valid
// only during the call. The sink must
// not call add(), addReliability(), begin() or flush() on the session that
// calls it; restart() is allowed (a send failure may start a new session).
using MessageSink = std::function<void(std::span<const uint8_t> message, uint32_t data_records)>;

class Session {
  public:
    Session(SessionOptions options, MessageSink sink);

    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Starts a batch at `now_ms` (Unix epoch ms). Emits the message being
    // built, if it holds any record, then sets the Export Time of the
    // messages that follow (now_ms / 1000) and decides, for each domain,
    // whether its templates are due: at its first message of the transport
    // session, and when template_refresh is not 0 and has elapsed since they
    // were last sent in that domain (or the clock went back). Due templates
    // go at the start of the domain's next message.
    void begin(uint64_t now_ms);

    // Appends a flow record to the current message; emits the message first
    // when the record would not fit. A record whose key's family is neither 4
    // nor 6 is not encoded and counted in recordsRejected().
    void add(const flow::FlowRecord& record);

    // Sends the two reliability records, the exporting (258) and the
    // metering (259) one, in a message of their own in domain 0 (preceded by
    // the options templates when due there), emitted before this returns.
    // The flow message being built is emitted first: the wire keeps the order
    // of the calls, and every message the sink sees holds only what was added
    // before it, so a caller can attribute its pending flows to the message
    // that carries them. The metering record's scope is still the configured
    // domain: it describes that domain's Metering Process.
    // When the configured domain is 0, the records join the current message.
    void addReliability(const ReliabilityStats& stats);

    // Emits the pending message, if any (flow records, or flow templates
    // that are due). Domain 0 never gets a message of templates alone: it
    // carries nothing but reports, and its templates travel with them.
    void flush();

    // A new transport session (a TCP reconnect): both domains' sequence
    // numbers restart at 0 and each domain's templates go at the start of
    // its next message. A message being built belongs to the old session and
    // is dropped; returns the number of data records it held, so the caller
    // can count them as not sent (flow records only, unless the configured
    // domain is 0: reports are never left pending in domain 0).
    uint32_t restart();

    // Totals over the session's life, across restarts and over both domains;
    // what the sink received. recordsEmitted() counts every Data Record, flow
    // and options records alike (the sum of the sink's data_records).
    uint64_t recordsEmitted() const { return records_emitted_; }
    uint64_t messagesEmitted() const { return messages_emitted_; }
    uint64_t bytesEmitted() const { return bytes_emitted_; }
    uint64_t recordsRejected() const { return records_rejected_; }

    // The sequence number the next flow message will carry (section 3.1).
    uint32_t sequenceNumber() const { return flows_.sequence; }
    // The one the next reliability report will carry: domain 0's, or the
    // same as sequenceNumber() when the configured domain is 0.
    uint32_t reportSequenceNumber() const { return reports_->sequence; }
    size_t maxMessageSize() const { return max_; }

  private:
    // What RFC 7011 keeps per Observation Domain in a transport session.
    struct Domain {
        uint32_t id = 0;
        // The (Options) Template Sets this domain's data sets refer to.
        std::span<const uint8_t> templates;
        uint32_t sequence = 0;
        // Due at the start of every transport session, then on refresh.
        bool templates_due = true;
        uint64_t templates_sent_ms = 0;
    };

    void scheduleRefresh(Domain& domain);
    // Makes room for a record of `length` bytes in a Data Set of `set_id` of
    // a message of `domain` and returns where to write it.
    uint8_t* reserve(Domain& domain, uint16_t set_id, size_t length);
    void openMessage(Domain& domain);
    void closeSet();
    void emit();

    SessionOptions options_;
    MessageSink sink_;
    size_t max_;
    std::vector<uint8_t> buffer_;

    uint64_t now_ms_ = 0; // of the last begin()
    uint32_t export_time_ = 0;
    Domain flows_;              // the configured domain
    Domain reports_domain_;     // domain 0, unused when the configured domain is 0
    Domain* reports_ = nullptr; // where reliability reports go: &reports_domain_ or &flows_

    // The message being built, and the domain it belongs to (nullptr: none).
    Domain* open_ = nullptr;
    size_t used_ = 0;
    size_t set_start_ = 0; // offset of the open Data Set's header; 0: none open
    uint16_t set_id_ = 0;
    uint32_t message_records_ = 0;

    uint64_t records_emitted_ = 0;
    uint64_t messages_emitted_ = 0;
    uint64_t bytes_emitted_ = 0;
    uint64_t records_rejected_ = 0;
};

} // namespace l3af::ipfix
