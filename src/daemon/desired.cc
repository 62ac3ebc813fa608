#include "daemon/desired.h"

#include "kernel/flow_function.h"

namespace l3af::daemon {

namespace {

std::vector<plan::Hook> hooksFor(config::Direction direction) {
    switch (direction) {
    case config::Direction::Ingress:
        return {plan::Hook::TcIngress};
    case config::Direction::Egress:
        return {plan::Hook::TcEgress};
    case config::Direction::Both:
        break;
    }
    return {plan::Hook::TcIngress, plan::Hook::TcEgress};
}

} // namespace

plan::Desired desiredState(const config::Config& config) {
    plan::Desired desired;
    for (const config::FlowExporter& exporter : config.flow_exporters) {
        plan::FlowExporterSpec spec{exporter.max_flows};
        plan::DesiredFunction function{
            kernel::kFlowExporterKind, exporter.name, kernel::flowRevision(spec), spec, {}};
        for (const std::string& interface : exporter.interfaces) {
            for (plan::Hook hook : hooksFor(exporter.direction))
                function.attachments.push_back({interface, hook});
        }
        desired.functions.push_back(std::move(function));
    }
    return desired;
}

} // namespace l3af::daemon
