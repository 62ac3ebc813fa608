#pragma once

// The status document: what `l3afd status --json` prints and what the
// daemon's Status() returns on D-Bus, composed by one function on both sides.
//
//   config_dir       the directory served
//   config_errors    the files' diagnostics, when they do not load (now, not
//                    at the last reload: daemon.last_error says that)
//   pin_root         where the functions below were read
//   kernel_error     when the pins could not be read
//   daemon           {running, pid, last_reload, last_error, apply_errors,
//                    pending, ...} the daemon's own account; {running: false}
//                    when no daemon serves config_dir
//   flow_exporters   per function: revisions, attachments, the daemon's
//                    counters (flows_active, records_exported, overflow, ...)
//   mirrors          per function: attachments, per-rule and per-direction
//                    counters read from the pins
//   tunnels          per function: attachments, send counters from the pins
//   collectors       the daemon's collectors and their counters
//
// The daemon composes it from its live state when asked; the CLI, when no
// daemon answers on the bus, from the files, the pins and the status file a
// running daemon writes (a daemon without a bus).

#include "config/model.h"

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace l3af::daemon {

struct StatusSources {
    std::filesystem::path config_dir;
    // The running daemon's account of itself, {"daemon": {...},
    // "flow_exporters": [...], "collectors": [...]} (Manager's live state, or
    // the status file it writes); nullopt when no daemon runs.
    std::optional<nlohmann::json> daemon;
    // The configuration the daemon applied: it names the mirrors' rules and
    // tunnels, which the files may no longer match. Null: the files'.
    const config::Config* applied = nullptr;
};

// Reads the files and the pins now. Never fails: what cannot be read is
// reported inside the document (config_errors, kernel_error, a function's
// error).
[[nodiscard]] nlohmann::json statusDocument(const StatusSources& sources);

// The document as text (compact when indent < 0). Never throws: bytes that
// are not UTF-8 (a diagnostic quoting a bad file) are replaced.
[[nodiscard]] std::string statusText(const nlohmann::json& document, int indent = -1);

// The pid of the daemon serving `config_dir` (its pid file), if it lives.
std::optional<pid_t> runningDaemonPid(const std::filesystem::path& config_dir);

// That daemon's account from its status file, as StatusSources::daemon
// takes it; a file that is missing, unreadable or left by an earlier process
// gives {"daemon": {"pid": pid}}. Nullopt when no daemon runs.
std::optional<nlohmann::json> readDaemonAccount(const std::filesystem::path& config_dir);

// The pin root a daemon's account names (it knows what it pinned, even when
// the files changed since); nullopt when it names none.
std::optional<std::string> pinRootOf(const nlohmann::json& account);

} // namespace l3af::daemon
