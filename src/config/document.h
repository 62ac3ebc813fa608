#pragma once

// One file's items as read from its TOML, with the positions that the rules
// spanning several files (merge.h) point at. Internal to the config folder.

#include "config/loader.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace l3af::config {

struct CollectorEntry {
    Collector item;
    SourceLocation name_at;
};

struct FlowExporterEntry {
    FlowExporter item;
    SourceLocation name_at;
    std::vector<SourceLocation> interface_at; // one per item.interfaces
    std::vector<SourceLocation> collector_at; // one per item.collectors
};

struct TunnelEntry {
    Tunnel item;
    SourceLocation name_at;
};

struct MirrorEntry {
    Mirror item;
    SourceLocation name_at;
    // Empty file when the key is missing or its value is not usable: no
    // rule across items is checked on it then.
    SourceLocation interface_at;
    SourceLocation tunnel_at;
};

struct ProgramEntry {
    Program item;
    SourceLocation name_at;
};

struct Document {
    std::string file;
    // False when the file is not valid TOML: its items are unknown, so
    // references into it cannot be checked.
    bool parsed = false;
    std::optional<DaemonConfig> daemon;
    // Items whose name could be read (even when other keys were wrong), so
    // that duplicates and references are still checked.
    std::vector<CollectorEntry> collectors;
    std::vector<FlowExporterEntry> flow_exporters;
    std::vector<TunnelEntry> tunnels;
    std::vector<MirrorEntry> mirrors;
    std::vector<ProgramEntry> programs;
};

// Parses text as TOML and reads its tables; every problem is appended to
// diagnostics. Never throws.
Document readDocument(std::string_view text, const std::string& file,
                      std::vector<Diagnostic>& diagnostics);

} // namespace l3af::config
