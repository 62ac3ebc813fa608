// When l3afd logs to the journal, and the entries it sends there.

#include "daemon/journal_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <sstream>

namespace l3af::daemon {
namespace {

TEST(JournalStream, MatchesOnlyTheStreamSystemdNamed) {
    EXPECT_TRUE(isJournalStream("8:12345", 8, 12345));
    EXPECT_FALSE(isJournalStream("8:12345", 8, 12346)); // stderr was redirected
    EXPECT_FALSE(isJournalStream("8:12345", 9, 12345));
    EXPECT_FALSE(isJournalStream(nullptr, 8, 12345)); // not started by systemd
    for (const char* garbage : {"", "8", "8:", ":12345", "8:12345x", "x:1", "8:-1", "8 :12345"})
        EXPECT_FALSE(isJournalStream(garbage, 8, 12345)) << garbage;
}

// The real check reads the environment and fstat()s fd 2.
TEST(JournalStream, ComparesWithWhatStderrReallyIs) {
    char path[] = "/tmp/l3af-journal-XXXXXX";
    const int file = mkstemp(path);
    ASSERT_GE(file, 0);
    struct stat st {};
    ASSERT_EQ(fstat(file, &st), 0);
    const int saved = dup(STDERR_FILENO);
    ASSERT_EQ(dup2(file, STDERR_FILENO), STDERR_FILENO);
    const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);

    setenv("JOURNAL_STREAM", stream.c_str(), 1);
    const bool same = stderrIsJournal();
    setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":1").c_str(), 1);
    const bool other = stderrIsJournal();
    unsetenv("JOURNAL_STREAM");
    const bool unset = stderrIsJournal();

    dup2(saved, STDERR_FILENO);
    close(saved);
    close(file);
    unlink(path);
    EXPECT_TRUE(same);
    EXPECT_FALSE(other);
    EXPECT_FALSE(unset);
}

TEST(JournalEntry, CarriesMessagePriorityIdentifierAndFields) {
    EXPECT_EQ(journalEntry(spdlog::level::warn, "collector unreachable",
                           {{"FUNCTION", "edge"}, {"interface", "eth0"}, {"collector", "soc"}}),
              (std::vector<std::string>{"MESSAGE=collector unreachable", "PRIORITY=4",
                                        "SYSLOG_IDENTIFIER=l3afd", "FUNCTION=edge",
                                        "INTERFACE=eth0", "COLLECTOR=soc"}));
}

TEST(JournalEntry, FieldsCannotOverrideTheEntrysOwn) {
    EXPECT_EQ(journalEntry(spdlog::level::info, "m",
                           {{"priority", "0"}, {"MESSAGE", "x"}, {"syslog_identifier", "y"}}),
              (std::vector<std::string>{"MESSAGE=m", "PRIORITY=6", "SYSLOG_IDENTIFIER=l3afd"}));
}

TEST(JournalEntry, MultiLineMessagesStayOneEntry) {
    const auto entry = journalEntry(spdlog::level::err, "a.toml:1:1: bad\nb.toml:2:2: worse", {});
    EXPECT_EQ(entry.front(), "MESSAGE=a.toml:1:1: bad\nb.toml:2:2: worse");
}

TEST(JournalPriority, FollowsSyslogLevels) {
    EXPECT_EQ(journalPriority(spdlog::level::trace), 7);
    EXPECT_EQ(journalPriority(spdlog::level::debug), 7);
    EXPECT_EQ(journalPriority(spdlog::level::info), 6);
    EXPECT_EQ(journalPriority(spdlog::level::warn), 4);
    EXPECT_EQ(journalPriority(spdlog::level::err), 3);
    EXPECT_EQ(journalPriority(spdlog::level::critical), 2);
}

TEST(JournalFieldName, MakesValidNames) {
    EXPECT_EQ(journalFieldName("interface"), "INTERFACE");
    EXPECT_EQ(journalFieldName("flow-exporter.name"), "FLOW_EXPORTER_NAME");
    EXPECT_EQ(journalFieldName("_PID"), "L3AF__PID"); // not a trusted field
    EXPECT_EQ(journalFieldName("4tuple"), "L3AF_4TUPLE");
    EXPECT_EQ(journalFieldName(""), "L3AF_");
    EXPECT_EQ(journalFieldName(std::string(100, 'a')), std::string(64, 'A'));
}

TEST(ConsoleLine, AppendsFieldsToTheText) {
    EXPECT_EQ(consoleLine("attached", {{"FUNCTION", "edge"}, {"INTERFACE", "eth0"}}),
              "attached (function=edge interface=eth0)");
    EXPECT_EQ(consoleLine("started", {}), "started");
}

// Outside the journal, logEvent goes through spdlog like every other message.
TEST(LogEvent, GoesThroughSpdlogWhenStderrIsNotTheJournal) {
    if (stderrIsJournal())
        GTEST_SKIP() << "this test's stderr is the journal";
    std::ostringstream out;
    auto previous = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
    EXPECT_FALSE(useJournalIfConnected());
    logEvent(spdlog::level::warn, "table full", {{"FUNCTION", "edge"}});
    logEvent(spdlog::level::debug, "not shown at info", {});
    spdlog::set_default_logger(previous);
    EXPECT_EQ(out.str(), "warning table full (function=edge)\n");
}

// Fields of one native journal datagram: "NAME=value\n", or for values with
// newlines "NAME\n" + 64-bit little-endian length + value + "\n".
std::multimap<std::string, std::string> parseDatagram(std::string_view d) {
    std::multimap<std::string, std::string> fields;
    while (!d.empty()) {
        const size_t end = d.find('\n');
        const size_t eq = d.find('=');
        if (eq < end) {
            fields.emplace(d.substr(0, eq), d.substr(eq + 1, end - eq - 1));
            d.remove_prefix(end + 1);
            continue;
        }
        const std::string name(d.substr(0, end));
        uint64_t length = 0;
        std::memcpy(&length, d.data() + end + 1, sizeof length);
        fields.emplace(name, d.substr(end + 1 + 8, length));
        d.remove_prefix(end + 1 + 8 + length + 1);
    }
    return fields;
}

// In a child with a mount namespace of its own, a socket at journald's
// address catches what l3afd sends: the real sd_journal_sendv path, no
// journald needed. The child reports what it caught through a pipe.
std::string catchJournalEntries() {
    int report[2];
    if (pipe(report) != 0)
        return "pipe failed";
    const pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        auto say = [&](const std::string& text) {
            (void)!write(report[1], text.data(), text.size());
            _exit(0);
        };
        if (unshare(CLONE_NEWNS) != 0 ||
            mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            mount("tmpfs", "/run", "tmpfs", 0, nullptr) != 0)
            say("SKIP no mount namespace: " + std::string(std::strerror(errno)));
        mkdir("/run/systemd", 0755);
        mkdir("/run/systemd/journal", 0755);
        const int journal = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, "/run/systemd/journal/socket");
        if (bind(journal, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
            say("SKIP bind: " + std::string(std::strerror(errno)));

        // What systemd does for a service with StandardError=journal.
        struct stat st {};
        fstat(STDERR_FILENO, &st);
        setenv("JOURNAL_STREAM",
               (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(), 1);
        if (!useJournalIfConnected())
            say("FAIL useJournalIfConnected() did not switch");
        logEvent(spdlog::level::warn, "collector unreachable",
                 {{"FUNCTION", "edge"}, {"INTERFACE", "eth0"}});
        spdlog::error("configuration rejected:\na.toml:1:1: bad");

        std::string out;
        for (int i = 0; i < 2; i++) {
            char buffer[4096];
            const ssize_t n = recv(journal, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n <= 0)
                say("FAIL datagram " + std::to_string(i) + " missing");
            for (const auto& [name, value] : parseDatagram({buffer, static_cast<size_t>(n)}))
                out += name + "=" + value + "|";
            out += "\n";
        }
        say(out);
    }
    close(report[1]);
    std::string text;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = read(report[0], buffer, sizeof buffer)) > 0)
        text.append(buffer, static_cast<size_t>(n));
    close(report[0]);
    waitpid(pid, nullptr, 0);
    return text;
}

TEST(JournalSink, SendsStructuredEntriesToTheJournalSocket) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root for a mount namespace with a journal socket of its own";
    const std::string caught = catchJournalEntries();
    if (caught.starts_with("SKIP"))
        GTEST_SKIP() << caught;
    EXPECT_EQ(caught, "FUNCTION=edge|INTERFACE=eth0|MESSAGE=collector unreachable|PRIORITY=4|"
                      "SYSLOG_IDENTIFIER=l3afd|\n"
                      "MESSAGE=configuration rejected:\na.toml:1:1: bad|PRIORITY=3|"
                      "SYSLOG_IDENTIFIER=l3afd|\n");
}

} // namespace
} // namespace l3af::daemon
