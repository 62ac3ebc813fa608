// A session's Observation Domains over many messages (RFC 7011 section 3.1):
// flows in the configured domain, reliability reports in domain 0, each with
// its own sequence number, its own templates and its own template refresh;
// restarts of the transport session reset both; a configured domain 0 keeps
// one stream.

#include "session_harness.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace l3af::ipfix {
namespace {

using namespace testing;

TEST(SessionDomainsTest, SequenceNumberCountsDataRecordsOfEarlierMessages) {
    Harness h(udp(600));
    h.session.begin(kT0);
    for (uint64_t i = 1; i <= 100; ++i)
        h.add(simpleRecord(i, i % 3 == 0 ? 6 : 4));
    h.addReliability({});
    h.session.flush();
    h.session.begin(kT0 + 1000);
    for (uint64_t i = 101; i <= 130; ++i)
        h.add(simpleRecord(i));
    h.addReliability({});
    h.add(simpleRecord(131));
    h.session.flush();

    ASSERT_GT(h.emitted.size(), 5u);
    const auto totals = expectSequencesPerDomain(h.emitted);
    // Domain 9 counts its 131 flow records, domain 0 the two options records
    // of each report; templates count nowhere.
    EXPECT_EQ(totals, (std::map<uint32_t, uint64_t>{{0, 4}, {kFlowDomain, 131}}));
    EXPECT_EQ(h.session.sequenceNumber(), 131u);
    EXPECT_EQ(h.session.reportSequenceNumber(), 4u);
    EXPECT_EQ(h.session.recordsEmitted(), 135u) << "flow and options records alike";
    EXPECT_EQ(h.session.messagesEmitted(), h.emitted.size());
}

// A report never shares a message with flows: it goes at once, in domain 0,
// after the flow message being built, so the wire keeps the order of calls.
TEST(SessionDomainsTest, ReportsGoInTheirOwnDomainZeroMessages) {
    Harness h(udp());
    h.session.begin(kT0);
    h.add(simpleRecord(1));
    h.add(simpleRecord(2));
    const size_t before_report = h.emitted.size();
    h.addReliability({});
    ASSERT_EQ(h.emitted.size(), before_report + 2) << "the flows' message, then the report";
    h.add(simpleRecord(3));
    h.session.flush();
    ASSERT_EQ(h.emitted.size(), 3u);

    Decoder decoder;
    std::vector<uint32_t> domains;
    std::vector<std::vector<uint16_t>> data_sets;
    for (const Emitted& e : h.emitted) {
        auto m = decoder.decode(e.bytes);
        ASSERT_TRUE(m) << m.error();
        domains.push_back(m->domain);
        std::vector<uint16_t> ids;
        for (const DecodedRecord& d : m->records)
            ids.push_back(d.template_id);
        data_sets.push_back(ids);
    }
    EXPECT_EQ(domains, (std::vector<uint32_t>{kFlowDomain, 0, kFlowDomain}));
    EXPECT_EQ(data_sets, (std::vector<std::vector<uint16_t>>{{256, 256}, {258, 259}, {256}}));
    EXPECT_EQ(h.emitted[1].data_records, 2u);
}

TEST(SessionDomainsTest, UdpTemplatesAreResentWhenTheRefreshElapses) {
    Harness h(udp());
    Decoder decoder;
    auto batch = [&](uint64_t now) {
        h.session.begin(now);
        h.add(simpleRecord(now));
        h.session.flush();
        auto m = decoder.decode(h.emitted.back().bytes);
        EXPECT_TRUE(m) << m.error();
        return m && startsWithTemplates(*m);
    };
    EXPECT_TRUE(batch(kT0)) << "first message of the session";
    EXPECT_FALSE(batch(kT0 + 1000));
    EXPECT_FALSE(batch(kT0 + 59999));
    EXPECT_TRUE(batch(kT0 + 60000)) << "60 s after the templates were sent";
    EXPECT_FALSE(batch(kT0 + 61000));
    EXPECT_FALSE(batch(kT0 + 119999));
    EXPECT_TRUE(batch(kT0 + 120000));
    EXPECT_TRUE(batch(kT0 + 5000)) << "the clock went back";
    EXPECT_FALSE(batch(kT0 + 6000));
}

// Domain 0 keeps its own template clock: the options templates go with the
// first report of the session and then with the first report once
// template_refresh has elapsed in domain 0, whatever the flows do.
TEST(SessionDomainsTest, UdpOptionsTemplatesAreRefreshedPerDomain) {
    Harness h(udp());
    Decoder decoder;
    auto report = [&](uint64_t now) {
        h.session.begin(now);
        h.addReliability({});
        auto m = decoder.decode(h.emitted.back().bytes);
        EXPECT_TRUE(m) << m.error();
        EXPECT_EQ(m->domain, 0u);
        return m && startsWithOptionsTemplates(*m);
    };
    auto flows = [&](uint64_t now) {
        h.session.begin(now);
        h.add(simpleRecord(now));
        h.session.flush();
        auto m = decoder.decode(h.emitted.back().bytes);
        EXPECT_TRUE(m) << m.error();
        EXPECT_EQ(m->domain, kFlowDomain);
        return m && startsWithTemplates(*m);
    };
    EXPECT_TRUE(flows(kT0)) << "first flow message of the session";
    EXPECT_TRUE(report(kT0 + 30000)) << "first report: domain 0 never had templates";
    EXPECT_FALSE(report(kT0 + 31000));
    EXPECT_TRUE(flows(kT0 + 60000)) << "flows: 60 s after their templates";
    EXPECT_FALSE(report(kT0 + 60000)) << "domain 0: only 30 s after its own";
    EXPECT_FALSE(report(kT0 + 89999));
    EXPECT_TRUE(report(kT0 + 90000));
    EXPECT_FALSE(flows(kT0 + 90000));
    EXPECT_TRUE(report(kT0 + 1000)) << "the clock went back";
    EXPECT_TRUE(flows(kT0 + 2000)) << "the clock went back";
}

TEST(SessionDomainsTest, TemplatesGoOnlyInTheFirstMessageOfABatch) {
    Harness h(udp(kMinMessageLength));
    h.session.begin(kT0);
    for (uint64_t i = 1; i <= 50; ++i)
        h.add(simpleRecord(i));
    h.session.flush();
    ASSERT_GT(h.emitted.size(), 3u);
    Decoder decoder;
    for (size_t i = 0; i < h.emitted.size(); ++i) {
        auto m = decoder.decode(h.emitted[i].bytes);
        ASSERT_TRUE(m) << m.error();
        EXPECT_EQ(startsWithTemplates(*m), i == 0) << "message " << i;
    }
}

TEST(SessionDomainsTest, DueTemplatesAreSentEvenWithoutData) {
    Harness h(udp());
    h.session.begin(kT0);
    h.session.flush();
    ASSERT_EQ(h.emitted.size(), 1u);
    EXPECT_EQ(h.emitted[0].data_records, 0u);
    h.session.begin(kT0 + 1000);
    h.session.flush();
    EXPECT_EQ(h.emitted.size(), 1u) << "nothing to send: no message";
    h.session.begin(kT0 + 60000);
    h.session.flush();
    ASSERT_EQ(h.emitted.size(), 2u);
    Decoder decoder;
    for (const Emitted& e : h.emitted) {
        auto m = decoder.decode(e.bytes);
        ASSERT_TRUE(m) << m.error();
        EXPECT_TRUE(startsWithTemplates(*m));
        EXPECT_TRUE(m->records.empty());
        // Domain 0 has no report to send, so no templates alone either.
        EXPECT_EQ(m->domain, kFlowDomain);
    }
}

TEST(SessionDomainsTest, TcpSendsTemplatesOnlyAtTheStartOfTheSession) {
    Harness h(tcp());
    Decoder decoder;
    for (uint64_t hour = 0; hour < 5; ++hour) {
        h.session.begin(kT0 + hour * 3600 * 1000);
        h.add(simpleRecord(hour + 1));
        h.addReliability({}); // emits the flows, then the report
        ASSERT_GE(h.emitted.size(), 2u);
        auto flows = decoder.decode(h.emitted[h.emitted.size() - 2].bytes);
        auto report = decoder.decode(h.emitted.back().bytes);
        ASSERT_TRUE(flows) << flows.error();
        ASSERT_TRUE(report) << report.error();
        EXPECT_EQ(startsWithTemplates(*flows), hour == 0) << "hour " << hour;
        EXPECT_EQ(startsWithOptionsTemplates(*report), hour == 0) << "hour " << hour;
    }
    EXPECT_EQ(h.emitted.size(), 10u);
}

TEST(SessionDomainsTest, RestartBeginsNewSequencesWithTemplatesInBothDomains) {
    Harness h(tcp());
    h.session.begin(kT0);
    for (uint64_t i = 1; i <= 5; ++i)
        h.add(simpleRecord(i));
    h.addReliability({});
    h.session.flush();
    h.session.begin(kT0 + 1000);
    h.add(simpleRecord(6));
    h.addReliability({});
    h.session.flush();
    EXPECT_EQ(h.session.sequenceNumber(), 6u);
    EXPECT_EQ(h.session.reportSequenceNumber(), 4u);

    EXPECT_EQ(h.session.restart(), 0u) << "nothing was pending";
    EXPECT_EQ(h.session.sequenceNumber(), 0u);
    EXPECT_EQ(h.session.reportSequenceNumber(), 0u);
    const size_t old_messages = h.emitted.size();
    h.session.begin(kT0 + 2000);
    h.addReliability({});
    h.add(simpleRecord(7));
    h.session.flush();
    ASSERT_EQ(h.emitted.size(), old_messages + 2);

    Decoder fresh; // a new transport session: the collector knows no templates
    auto report = fresh.decode(h.emitted[old_messages].bytes);
    ASSERT_TRUE(report) << report.error();
    EXPECT_EQ(report->domain, 0u);
    EXPECT_EQ(report->sequence, 0u);
    EXPECT_TRUE(startsWithOptionsTemplates(*report));
    auto flows = fresh.decode(h.emitted[old_messages + 1].bytes);
    ASSERT_TRUE(flows) << flows.error();
    EXPECT_EQ(flows->domain, kFlowDomain);
    EXPECT_EQ(flows->sequence, 0u);
    EXPECT_TRUE(startsWithTemplates(*flows));
    ASSERT_EQ(flows->records.size(), 1u);
    EXPECT_EQ(flows->records[0].number(kOctets), 7u);
    EXPECT_EQ(h.session.sequenceNumber(), 1u);
    EXPECT_EQ(h.session.reportSequenceNumber(), 2u);
    EXPECT_EQ(h.session.recordsEmitted(), 7u + 3 * 2) << "totals run across restarts";
}

TEST(SessionDomainsTest, RestartDropsTheMessageOfTheOldSession) {
    Harness h(tcp());
    h.session.begin(kT0);
    h.session.flush();
    h.add(simpleRecord(1));
    h.add(simpleRecord(2));
    EXPECT_EQ(h.session.restart(), 2u);
    h.session.flush(); // the new session's templates
    ASSERT_EQ(h.emitted.size(), 2u);
    Decoder fresh;
    auto m = fresh.decode(h.emitted[1].bytes);
    ASSERT_TRUE(m) << m.error();
    EXPECT_TRUE(startsWithTemplates(*m));
    EXPECT_TRUE(m->records.empty());
    EXPECT_EQ(m->sequence, 0u);
}

// A sink whose send fails may open a new transport session at once.
TEST(SessionDomainsTest, RestartFromInsideTheSinkIsSafe) {
    Harness h(udp(kMinMessageLength));
    bool restarted = false;
    h.on_message = [&] {
        if (h.emitted.size() == 2 && !restarted) {
            restarted = true;
            (void)h.session.restart();
        }
    };
    h.session.begin(kT0);
    for (uint64_t i = 1; i <= 20; ++i)
        h.add(simpleRecord(i));
    h.session.flush();
    ASSERT_TRUE(restarted);
    ASSERT_GT(h.emitted.size(), 3u);

    // Messages 0 and 1 were the old session; 2 onwards the new one.
    Decoder old_session;
    uint64_t old_records = 0;
    for (size_t i = 0; i < 2; ++i) {
        auto m = old_session.decode(h.emitted[i].bytes);
        ASSERT_TRUE(m) << m.error();
        EXPECT_EQ(m->sequence, old_records);
        old_records += m->records.size();
    }
    Decoder new_session;
    uint64_t new_records = 0;
    std::vector<uint64_t> ids;
    for (size_t i = 2; i < h.emitted.size(); ++i) {
        auto m = new_session.decode(h.emitted[i].bytes);
        ASSERT_TRUE(m) << m.error();
        EXPECT_EQ(startsWithTemplates(*m), i == 2);
        EXPECT_EQ(m->sequence, new_records);
        new_records += m->records.size();
        for (const DecodedRecord& d : m->records)
            ids.push_back(d.number(kOctets));
    }
    // Nothing was pending when the sink ran, so no record was lost.
    EXPECT_EQ(old_records + new_records, 20u);
    EXPECT_EQ(ids.back(), 20u);
}

// The sink may restart on the flow message that a report pushes out: the
// report then opens domain 0 of the new session.
TEST(SessionDomainsTest, RestartFromTheSinkBeforeAReport) {
    Harness h(udp());
    h.on_message = [&] {
        if (h.emitted.size() == 1)
            (void)h.session.restart();
    };
    h.session.begin(kT0);
    h.add(simpleRecord(1));
    h.addReliability({});
    h.add(simpleRecord(2));
    h.session.flush();
    ASSERT_EQ(h.emitted.size(), 3u);

    Decoder fresh;
    auto report = fresh.decode(h.emitted[1].bytes);
    ASSERT_TRUE(report) << report.error();
    EXPECT_EQ(report->domain, 0u);
    EXPECT_EQ(report->sequence, 0u);
    EXPECT_TRUE(startsWithOptionsTemplates(*report));
    auto flows = fresh.decode(h.emitted[2].bytes);
    ASSERT_TRUE(flows) << flows.error();
    EXPECT_EQ(flows->sequence, 0u);
    EXPECT_TRUE(startsWithTemplates(*flows));
}

// Observation domain 0 configured: a single domain, as RFC 7011 allows; the
// reports share the flows' messages, sequence and templates.
TEST(SessionDomainsTest, ConfiguredDomainZeroKeepsOneStream) {
    SessionOptions options = udp(600);
    options.observation_domain = 0;
    Harness h(options);
    h.session.begin(kT0);
    for (uint64_t i = 1; i <= 20; ++i) {
        h.add(simpleRecord(i));
        if (i % 10 == 5)
            h.addReliability({});
    }
    h.session.flush();

    Decoder decoder;
    auto first = decoder.decode(h.emitted.at(0).bytes);
    ASSERT_TRUE(first) << first.error();
    EXPECT_EQ(templateIds(*first), (std::vector<uint16_t>{256, 257, 258, 259}));
    const auto totals = expectSequencesPerDomain(h.emitted);
    EXPECT_EQ(totals, (std::map<uint32_t, uint64_t>{{0, 24}}));
    EXPECT_EQ(h.session.sequenceNumber(), 24u);
    EXPECT_EQ(h.session.reportSequenceNumber(), 24u);

    // A report joins the message being built, so a restart drops it too.
    h.add(simpleRecord(21));
    h.addReliability({});
    EXPECT_EQ(h.session.restart(), 3u);
    EXPECT_EQ(h.session.sequenceNumber(), 0u);
}

} // namespace
} // namespace l3af::ipfix
