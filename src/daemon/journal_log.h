#pragma once

// Logs with structured fields. Under systemd the daemon's stderr is the
// journal; there every message goes through sd_journal_send with its
// PRIORITY, SYSLOG_IDENTIFIER=l3afd and fields such as FUNCTION=edge or
// INTERFACE=eth0, so `journalctl -u l3afd INTERFACE=eth0` finds them.
// Anywhere else (a terminal, a test, a redirect) spdlog prints as usual and
// the fields are appended to the text.

#include <spdlog/common.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include <sys/types.h>

#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace l3af::daemon {

inline constexpr const char* kSyslogIdentifier = "l3afd";

// One structured field; `name` is upper-cased into a journal field name
// ("interface" -> INTERFACE). The usual ones: FUNCTION (the flow exporter,
// mirror or program), INTERFACE, COLLECTOR, TUNNEL.
struct LogField {
    std::string_view name;
    std::string_view value;
};

// True when JOURNAL_STREAM ("DEVICE:INODE", set by systemd) names the very
// stream stderr is. A child that inherited the variable but whose stderr was
// redirected must not take its stderr for the journal.
bool isJournalStream(const char* journal_stream, dev_t stderr_device, ino_t stderr_inode);

// isJournalStream() for this process' environment and stderr.
bool stderrIsJournal();

// When stderr is the journal, sends every spdlog message (of the default
// logger) to the journal with its priority instead, and makes logEvent() send
// its fields; returns whether it did. Call once, early in `l3afd run`.
bool useJournalIfConnected();

// Logs `message` at `level` with `fields`: to the journal as fields when
// useJournalIfConnected() switched to it, else through spdlog as
// "message (function=edge interface=eth0)".
void logEvent(spdlog::level::level_enum level, std::string_view message,
              std::initializer_list<LogField> fields = {});

// The pieces, for tests.

// syslog(3) priorities: trace and debug 7, info 6, warn 4, error 3, critical 2.
int journalPriority(spdlog::level::level_enum level);

// A valid journal field name: A-Z, 0-9 and '_', not starting with '_' or a
// digit, at most 64 characters.
std::string journalFieldName(std::string_view name);

// The entries sd_journal_sendv gets: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER,
// then the fields. Fields that would override those three are dropped.
std::vector<std::string> journalEntry(spdlog::level::level_enum level, std::string_view message,
                                      std::initializer_list<LogField> fields);

// The console form: "message (function=edge interface=eth0)".
std::string consoleLine(std::string_view message, std::initializer_list<LogField> fields);

// An spdlog sink writing to the journal (the level becomes PRIORITY; source
// locations, when spdlog has them, CODE_FILE/CODE_LINE/CODE_FUNC).
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
  protected:
    void sink_it_(const spdlog::details::log_msg& message) override;
    void flush_() override {}
};

} // namespace l3af::daemon
