#include "config/merge.h"

#include <map>
#include <string>
#include <utility>

namespace l3af::config {

namespace {

bool overlaps(Direction a, Direction b) {
    return a == Direction::Both || b == Direction::Both || a == b;
}

std::string inQuotes(const std::string& text) {
    return "'" + text + "'";
}

// A flow exporter's claim on one interface, for the overlap rule.
struct InterfaceClaim {
    const FlowExporter* exporter;
    SourceLocation at;
};

// "unknown collector 'x'; defined collectors: a, b" and the like.
std::string unknownReference(const std::string& kind, const std::string& name,
                             const std::map<std::string, SourceLocation>& defined) {
    std::string message = "unknown " + kind + " " + inQuotes(name);
    if (defined.empty())
        return message + "; no [[" + kind + "]] is defined";
    std::string list;
    for (const auto& [defined_name, where] : defined)
        list += (list.empty() ? "" : ", ") + defined_name;
    return message + "; defined " + kind + "s: " + list;
}

class Merger {
  public:
    explicit Merger(std::vector<Diagnostic>& diagnostics) : diagnostics_(diagnostics) {}

    void addDaemon(DaemonConfig daemon) {
        if (daemon_where_) {
            error(daemon.where, "[daemon] is already defined at " + daemon_where_->str() +
                                    "; it may appear only once across all files");
            return;
        }
        daemon_where_ = daemon.where;
        config_.daemon = std::move(daemon);
    }

    void addCollector(CollectorEntry entry) {
        auto [it, inserted] = collector_where_.emplace(entry.item.name, entry.item.where);
        if (!inserted) {
            error(entry.name_at, "collector " + inQuotes(entry.item.name) +
                                     " is already defined at " + it->second.str());
            return;
        }
        config_.collectors.push_back(std::move(entry.item));
    }

    void addFlowExporter(FlowExporterEntry entry) {
        auto [it, inserted] = exporter_where_.emplace(entry.item.name, entry.item.where);
        if (!inserted)
            error(entry.name_at, "flow_exporter " + inQuotes(entry.item.name) +
                                     " is already defined at " + it->second.str());
        exporters_.push_back(Item<FlowExporterEntry>{std::move(entry), !inserted});
    }

    void addTunnel(TunnelEntry entry) {
        auto [it, inserted] = tunnel_where_.emplace(entry.item.name, entry.item.where);
        if (!inserted) {
            error(entry.name_at, "tunnel " + inQuotes(entry.item.name) + " is already defined at " +
                                     it->second.str());
            return;
        }
        config_.tunnels.push_back(std::move(entry.item));
    }

    void addMirror(MirrorEntry entry) {
        auto [it, inserted] = mirror_where_.emplace(entry.item.name, entry.item.where);
        if (!inserted)
            error(entry.name_at, "mirror " + inQuotes(entry.item.name) + " is already defined at " +
                                     it->second.str());
        mirrors_.push_back(Item<MirrorEntry>{std::move(entry), !inserted});
    }

    // Programs claim nothing exclusively: any number may share an
    // interface and hook, ordered by priority.
    void addProgram(ProgramEntry entry) {
        auto [it, inserted] = program_where_.emplace(entry.item.name, entry.item.where);
        if (!inserted) {
            error(entry.name_at, "program " + inQuotes(entry.item.name) +
                                     " is already defined at " + it->second.str());
            return;
        }
        config_.programs.push_back(std::move(entry.item));
    }

    // Runs the rules that need every file's items, then hands the Config out.
    Config finish(bool every_file_parsed) {
        for (const Item<FlowExporterEntry>& exporter : exporters_) {
            // A file that is not valid TOML may hold the collector: saying
            // it is unknown would be a second, misleading error.
            if (every_file_parsed)
                checkReferences(exporter.entry);
            // A duplicate already has its error; its interfaces would only
            // repeat it.
            if (!exporter.duplicate)
                checkInterfaceClaims(exporter.entry);
        }
        for (Item<FlowExporterEntry>& exporter : exporters_)
            if (!exporter.duplicate)
                config_.flow_exporters.push_back(std::move(exporter.entry.item));
        for (const Item<MirrorEntry>& mirror : mirrors_) {
            if (every_file_parsed)
                checkTunnelReference(mirror.entry);
            if (!mirror.duplicate)
                checkMirrorClaim(mirror.entry);
        }
        for (Item<MirrorEntry>& mirror : mirrors_)
            if (!mirror.duplicate)
                config_.mirrors.push_back(std::move(mirror.entry.item));
        return std::move(config_);
    }

  private:
    void checkReferences(const FlowExporterEntry& entry) {
        for (size_t i = 0; i < entry.item.collectors.size(); ++i) {
            const std::string& name = entry.item.collectors[i];
            if (collector_where_.contains(name))
                continue;
            error(entry.collector_at[i], "flow_exporter " + inQuotes(entry.item.name) + ": " +
                                             unknownReference("collector", name, collector_where_));
        }
    }

    void checkTunnelReference(const MirrorEntry& entry) {
        // No tunnel_at: the key is missing or mistyped, already reported.
        if (entry.tunnel_at.file.empty() || tunnel_where_.contains(entry.item.tunnel))
            return;
        error(entry.tunnel_at, "mirror " + inQuotes(entry.item.name) + ": " +
                                   unknownReference("tunnel", entry.item.tunnel, tunnel_where_));
    }

    // Two mirrors of one interface and direction would clone each packet
    // twice, and the order of their tunnels would be arbitrary.
    void checkMirrorClaim(const MirrorEntry& entry) {
        const Mirror& mirror = entry.item;
        if (entry.interface_at.file.empty())
            return;
        std::vector<const MirrorEntry*>& claims = mirror_claims_[mirror.interface];
        for (const MirrorEntry* claim : claims) {
            if (!overlaps(claim->item.direction, mirror.direction))
                continue;
            error(entry.interface_at,
                  "mirror " + inQuotes(mirror.name) + ": interface " + inQuotes(mirror.interface) +
                      " (" + toString(mirror.direction) + ") is already mirrored by mirror " +
                      inQuotes(claim->item.name) + " (" + toString(claim->item.direction) +
                      ") at " + claim->interface_at.str() +
                      "; one interface and direction can be mirrored by only one [[mirror]]");
            break;
        }
        claims.push_back(&entry);
    }

    void checkInterfaceClaims(const FlowExporterEntry& entry) {
        const FlowExporter& exporter = entry.item;
        for (size_t i = 0; i < exporter.interfaces.size(); ++i) {
            std::vector<InterfaceClaim>& claims = claims_[exporter.interfaces[i]];
            for (const InterfaceClaim& claim : claims) {
                if (!overlaps(claim.exporter->direction, exporter.direction))
                    continue;
                error(entry.interface_at[i],
                      "flow_exporter " + inQuotes(exporter.name) + ": interface " +
                          inQuotes(exporter.interfaces[i]) + " (" + toString(exporter.direction) +
                          ") is already exported by flow_exporter " +
                          inQuotes(claim.exporter->name) + " (" +
                          toString(claim.exporter->direction) + ") at " + claim.at.str() +
                          "; one interface and direction can be exported only once");
                break;
            }
            claims.push_back(InterfaceClaim{&exporter, entry.interface_at[i]});
        }
    }

    void error(SourceLocation at, std::string message) {
        diagnostics_.push_back(Diagnostic{std::move(at), std::move(message)});
    }

    std::vector<Diagnostic>& diagnostics_;
    Config config_;
    std::optional<SourceLocation> daemon_where_;
    std::map<std::string, SourceLocation> collector_where_;
    std::map<std::string, SourceLocation> exporter_where_;
    // An item kept in file order until finish(); a duplicate stays for its
    // references to be checked, then is dropped.
    template <typename Entry> struct Item {
        Entry entry;
        bool duplicate;
    };
    std::vector<Item<FlowExporterEntry>> exporters_;
    std::map<std::string, std::vector<InterfaceClaim>> claims_;
    std::map<std::string, SourceLocation> tunnel_where_;
    std::map<std::string, SourceLocation> mirror_where_;
    std::vector<Item<MirrorEntry>> mirrors_;
    std::map<std::string, std::vector<const MirrorEntry*>> mirror_claims_;
    std::map<std::string, SourceLocation> program_where_;
};

} // namespace

Config mergeDocuments(std::vector<Document> documents, std::vector<Diagnostic>& diagnostics) {
    Merger merger(diagnostics);
    bool every_file_parsed = true;
    std::vector<std::string> files;
    for (Document& document : documents) {
        every_file_parsed = every_file_parsed && document.parsed;
        files.push_back(document.file);
        if (document.daemon)
            merger.addDaemon(std::move(*document.daemon));
        for (CollectorEntry& entry : document.collectors)
            merger.addCollector(std::move(entry));
        for (FlowExporterEntry& entry : document.flow_exporters)
            merger.addFlowExporter(std::move(entry));
        for (TunnelEntry& entry : document.tunnels)
            merger.addTunnel(std::move(entry));
        for (MirrorEntry& entry : document.mirrors)
            merger.addMirror(std::move(entry));
        for (ProgramEntry& entry : document.programs)
            merger.addProgram(std::move(entry));
    }
    Config config = merger.finish(every_file_parsed);
    config.files = std::move(files);
    return config;
}

} // namespace l3af::config
