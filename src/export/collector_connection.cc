#include "export/collector_connection.h"

#include "export/transports.h"

namespace l3af::exporter {

Result<std::unique_ptr<CollectorConnection>> connectCollector(sd_event* event,
                                                              const config::Collector& collector,
                                                              const TransportOptions& options) {
    // The caller names the collector; this says where it is.
    const bool tcp = collector.transport == config::Transport::Tcp;
    std::string what =
        collector.address + " port " + std::to_string(collector.port) + (tcp ? "/tcp" : "/udp");
    auto address = parseSocketAddress(collector.address, collector.port);
    if (!address)
        return std::unexpected(std::move(address.error()).wrap(what));

    TransportSettings settings{*address, options.initial_backoff, collector.reconnect_interval,
                               options.tcp_queue_bytes};
    auto connection = tcp ? openTcp(event, settings) : openUdp(event, settings);
    if (!connection)
        return std::unexpected(std::move(connection.error()).wrap(what));
    return connection;
}

} // namespace l3af::exporter
