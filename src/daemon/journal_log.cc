#include "daemon/journal_log.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
// The call site would always be send() below: say nothing rather than that.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <memory>

namespace l3af::daemon {

namespace {

constexpr size_t kMaxFieldName = 64;

// Set once by useJournalIfConnected().
std::atomic<bool> journal_mode{false};

bool isReserved(std::string_view field) {
    return field == "MESSAGE" || field == "PRIORITY" || field == "SYSLOG_IDENTIFIER";
}

void send(const std::vector<std::string>& entry) {
    std::vector<iovec> parts;
    parts.reserve(entry.size());
    for (const std::string& e : entry)
        parts.push_back(iovec{const_cast<char*>(e.data()), e.size()});
    // Nowhere to report a failure to log: the journal is where it would go.
    (void)sd_journal_sendv(parts.data(), static_cast<int>(parts.size()));
}

template <typename T> bool parseNumber(std::string_view text, T& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

} // namespace

bool isJournalStream(const char* journal_stream, dev_t stderr_device, ino_t stderr_inode) {
    if (journal_stream == nullptr)
        return false;
    const std::string_view text(journal_stream);
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos)
        return false;
    uint64_t device = 0;
    uint64_t inode = 0;
    if (!parseNumber(text.substr(0, colon), device) || !parseNumber(text.substr(colon + 1), inode))
        return false;
    return device == static_cast<uint64_t>(stderr_device) &&
           inode == static_cast<uint64_t>(stderr_inode);
}

bool stderrIsJournal() {
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    return isJournalStream(std::getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
}

bool useJournalIfConnected() {
    if (!stderrIsJournal())
        return false;
    auto previous = spdlog::default_logger();
    auto logger =
        std::make_shared<spdlog::logger>(kSyslogIdentifier, std::make_shared<JournalSink>());
    logger->set_level(previous->level());
    spdlog::set_default_logger(std::move(logger));
    journal_mode = true;
    return true;
}

int journalPriority(spdlog::level::level_enum level) {
    switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
        return 7; // LOG_DEBUG
    case spdlog::level::info:
        return 6; // LOG_INFO
    case spdlog::level::warn:
        return 4; // LOG_WARNING
    case spdlog::level::err:
        return 3; // LOG_ERR
    case spdlog::level::critical:
        return 2; // LOG_CRIT
    default:
        return 6;
    }
}

std::string journalFieldName(std::string_view name) {
    std::string out;
    for (char c : name.substr(0, kMaxFieldName)) {
        if (c >= 'a' && c <= 'z')
            out += static_cast<char>(c - 'a' + 'A');
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            out += c;
        else
            out += '_';
    }
    // Names starting with '_' are the journal's own trusted fields.
    if (out.empty() || out[0] == '_' || (out[0] >= '0' && out[0] <= '9'))
        out = ("L3AF_" + out).substr(0, kMaxFieldName);
    return out;
}

std::vector<std::string> journalEntry(spdlog::level::level_enum level, std::string_view message,
                                      std::initializer_list<LogField> fields) {
    std::vector<std::string> entry;
    entry.reserve(3 + fields.size());
    entry.push_back("MESSAGE=" + std::string(message));
    entry.push_back("PRIORITY=" + std::to_string(journalPriority(level)));
    entry.push_back(std::string("SYSLOG_IDENTIFIER=") + kSyslogIdentifier);
    for (const LogField& field : fields) {
        const std::string name = journalFieldName(field.name);
        if (!isReserved(name))
            entry.push_back(name + "=" + std::string(field.value));
    }
    return entry;
}

std::string consoleLine(std::string_view message, std::initializer_list<LogField> fields) {
    std::string line(message);
    if (fields.size() == 0)
        return line;
    line += " (";
    bool first = true;
    for (const LogField& field : fields) {
        if (!first)
            line += ' ';
        first = false;
        std::string name = journalFieldName(field.name);
        for (char& c : name) {
            if (c >= 'A' && c <= 'Z')
                c = static_cast<char>(c - 'A' + 'a');
        }
        line += name + "=" + std::string(field.value);
    }
    line += ')';
    return line;
}

void logEvent(spdlog::level::level_enum level, std::string_view message,
              std::initializer_list<LogField> fields) {
    if (!journal_mode) {
        spdlog::log(level, "{}", consoleLine(message, fields));
        return;
    }
    if (spdlog::default_logger()->should_log(level))
        send(journalEntry(level, message, fields));
}

void JournalSink::sink_it_(const spdlog::details::log_msg& message) {
    const std::string_view text(message.payload.data(), message.payload.size());
    std::vector<std::string> entry = journalEntry(message.level, text, {});
    if (!message.source.empty()) {
        entry.push_back(std::string("CODE_FILE=") + message.source.filename);
        entry.push_back("CODE_LINE=" + std::to_string(message.source.line));
        if (message.source.funcname != nullptr)
            entry.push_back(std::string("CODE_FUNC=") + message.source.funcname);
    }
    send(entry);
}

} // namespace l3af::daemon
