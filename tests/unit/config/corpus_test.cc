// The corpus of bad files: each corpus/*.toml (or each corpus/<case>/ folder
// of files loaded together) opens with one or more lines
//   # expect: <line>:<column>: <part of the message>
// and loading it must give exactly those diagnostics, at exactly those
// positions in that file: every one expected, no other.

#include "config/loader.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace l3af::config;
using l3af::config::testing::TempDir;

namespace {

std::filesystem::path corpusDir() {
    const char* dir = std::getenv("L3AF_CONFIG_CORPUS");
    return dir != nullptr ? dir : "tests/unit/config/corpus";
}

struct Expectation {
    std::string file; // file name within the case
    uint32_t line = 0;
    uint32_t column = 0;
    std::string text;
};

std::string readText(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<Expectation> expectationsOf(const std::filesystem::path& file) {
    std::vector<Expectation> out;
    std::istringstream lines(readText(file));
    constexpr std::string_view kPrefix = "# expect: ";
    for (std::string line; std::getline(lines, line) && line.starts_with('#');) {
        if (!line.starts_with(kPrefix))
            continue;
        Expectation e{file.filename().string()};
        char colon1 = 0, colon2 = 0;
        std::istringstream fields(line.substr(kPrefix.size()));
        fields >> e.line >> colon1 >> e.column >> colon2;
        std::getline(fields >> std::ws, e.text);
        EXPECT_FALSE(e.text.empty()) << "malformed expect line in " << file << ": " << line;
        EXPECT_EQ(colon1, ':') << line;
        EXPECT_EQ(colon2, ':') << line;
        out.push_back(e);
    }
    return out;
}

std::vector<std::filesystem::path> tomlFilesIn(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().extension() == ".toml")
            files.push_back(entry.path());
    std::ranges::sort(files);
    return files;
}

std::vector<std::string> caseNames() {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(corpusDir()))
        if (entry.is_directory() || entry.path().extension() == ".toml")
            names.push_back(entry.path().filename().string());
    std::ranges::sort(names);
    return names;
}

class Corpus : public ::testing::TestWithParam<std::string> {};

TEST_P(Corpus, GivesExactlyTheExpectedDiagnostics) {
    const std::filesystem::path source = corpusDir() / GetParam();
    const bool is_folder = std::filesystem::is_directory(source);
    const std::vector<std::filesystem::path> sources =
        is_folder ? tomlFilesIn(source) : std::vector{source};

    // Copied with a fixed mode, so a checkout made under umask 002 does not
    // turn every case into "writable by group".
    TempDir dir;
    std::vector<Expectation> expected;
    for (const auto& file : sources) {
        dir.write(file.filename().string(), readText(file));
        const auto more = expectationsOf(file);
        expected.insert(expected.end(), more.begin(), more.end());
    }
    ASSERT_FALSE(expected.empty()) << "a corpus case without '# expect:' lines";

    const LoadResult result =
        is_folder ? loadDirectory(dir.path()) : loadFiles({dir.path() / source.filename()});
    ASSERT_FALSE(result.has_value()) << "the case loaded without errors";

    // Several expect lines may describe parts of one diagnostic; every
    // diagnostic must be described by at least one.
    const std::vector<Diagnostic>& got = result.error();
    std::vector<bool> described(got.size(), false);
    for (const Expectation& e : expected) {
        bool found = false;
        for (size_t i = 0; i < got.size(); ++i) {
            const Diagnostic& d = got[i];
            if (std::filesystem::path(d.where.file).filename() == e.file &&
                d.where.line == e.line && d.where.column == e.column &&
                d.message.find(e.text) != std::string::npos) {
                described[i] = true;
                found = true;
            }
        }
        if (!found) {
            std::string all;
            for (const Diagnostic& d : got)
                all += "\n  " + d.str();
            ADD_FAILURE() << "expected " << e.file << ":" << e.line << ":" << e.column << ": "
                          << e.text << "\ngot:" << all;
        }
    }
    for (size_t i = 0; i < got.size(); ++i)
        if (!described[i])
            ADD_FAILURE() << "unexpected diagnostic: " << got[i].str();
}

INSTANTIATE_TEST_SUITE_P(
    Files, Corpus, ::testing::ValuesIn(caseNames()),
    [](const ::testing::TestParamInfo<std::string>& info) {
        std::string name = info.param;
        std::ranges::replace_if(
            name, [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
        return name;
    });

TEST(CorpusSize, CoversEnoughCases) {
    EXPECT_GE(caseNames().size(), 70u);
}

} // namespace
