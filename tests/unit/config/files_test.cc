// Which files are read, and which are refused before their contents count.

#include "config/loader.h"

#include "expect.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

using namespace l3af::config;
using l3af::config::testing::describe;
using l3af::config::testing::TempDir;

namespace {

constexpr std::string_view kCollector = "[[collector]]\nname = \"soc\"\naddress = \"::1\"\n";

// The single diagnostic of a failed load, as "file: error: message".
std::string onlyError(const LoadResult& result) {
    if (result.has_value())
        return "(loaded)";
    if (result.error().size() != 1)
        return "(" + std::to_string(result.error().size()) + " errors)\n" + describe(result);
    return result.error()[0].str();
}

TEST(LoadFiles, RefusesAFileWritableByOthers) {
    TempDir dir;
    const auto file = dir.write("a.toml", kCollector, 0666);
    EXPECT_EQ(onlyError(loadFiles({file})),
              file.string() + ": error: writable by group or others; refusing it (chmod go-w)");
}

TEST(LoadFiles, RefusesAFileWritableByGroup) {
    TempDir dir;
    const auto file = dir.write("a.toml", kCollector, 0620);
    const LoadResult result = loadFiles({file});
    ASSERT_FALSE(result.has_value());
    EXPECT_NE(onlyError(result).find("writable by group or others; refusing it"),
              std::string::npos);
}

TEST(LoadDirectory, RefusesAWritableFileAmongGoodOnes) {
    TempDir dir;
    dir.write("a.toml", kCollector);
    const auto bad = dir.write("b.toml", "", 0646);
    const LoadResult result = loadDirectory(dir.path());
    ASSERT_FALSE(result.has_value());
    ASSERT_EQ(result.error().size(), 1u);
    EXPECT_EQ(result.error()[0].where.file, bad.string());
    EXPECT_EQ(result.error()[0].where.line, 0u);
}

TEST(LoadFiles, RefusesAFileOwnedBySomeoneElse) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root to give a file to another owner";
    TempDir dir;
    const auto file = dir.write("a.toml", kCollector);
    ASSERT_EQ(::chown(file.c_str(), 4242, 4242), 0);
    EXPECT_EQ(onlyError(loadFiles({file})),
              file.string() +
                  ": error: owned by uid 4242, neither root nor the user loading it (uid 0); "
                  "refusing it");
}

TEST(LoadFiles, ReportsAnUnreadableFile) {
    if (geteuid() == 0)
        GTEST_SKIP() << "root reads a mode 0000 file anyway";
    TempDir dir;
    const auto file = dir.write("a.toml", kCollector, 0000);
    EXPECT_EQ(onlyError(loadFiles({file})),
              file.string() + ": error: cannot open: " + std::strerror(EACCES));
}

TEST(LoadFiles, ReportsAMissingFile) {
    TempDir dir;
    const auto file = dir.path() / "gone.toml";
    EXPECT_EQ(onlyError(loadFiles({file})),
              file.string() + ": error: cannot open: " + std::strerror(ENOENT));
}

TEST(LoadFiles, RefusesSomethingThatIsNotARegularFile) {
    TempDir dir;
    EXPECT_EQ(onlyError(loadFiles({dir.path()})),
              dir.path().string() + ": error: not a regular file");
}

TEST(LoadDirectory, MissingDirectoryIsAnError) {
    TempDir dir;
    const auto missing = dir.path() / "l3af";
    EXPECT_EQ(onlyError(loadDirectory(missing)),
              missing.string() + ": error: configuration directory does not exist");
}

TEST(LoadDirectory, AFileInsteadOfADirectoryIsAnError) {
    TempDir dir;
    const auto file = dir.write("a.toml", kCollector);
    EXPECT_EQ(onlyError(loadDirectory(file)), file.string() + ": error: not a directory");
}

TEST(LoadDirectory, EmptyDirectoryIsAnEmptyConfig) {
    TempDir dir;
    const LoadResult result = loadDirectory(dir.path());
    ASSERT_TRUE(result.has_value()) << onlyError(result);
    EXPECT_TRUE(result->files.empty());
    EXPECT_TRUE(result->collectors.empty());
    EXPECT_TRUE(result->flow_exporters.empty());
    EXPECT_EQ(result->daemon.log_level, "info");
}

TEST(LoadDirectory, ReadsOnlyVisibleTomlFilesAndFollowsSymlinks) {
    TempDir dir;
    TempDir elsewhere;
    // Each ignored file would break the load if it were read.
    dir.write(".hidden.toml", "not toml");
    dir.write("notes.txt", "not toml");
    dir.write("a.toml~", "not toml");
    dir.write("a.toml.bak", "not toml");
    std::filesystem::create_directory(dir.path() / "sub.toml");
    dir.write("sub.toml/inner.toml", "not toml");
    const auto target = elsewhere.write("linked.toml", kCollector);
    std::filesystem::create_symlink(target, dir.path() / "b.toml");
    std::filesystem::create_symlink(dir.path() / "nowhere", dir.path() / "c.toml");

    const LoadResult result = loadDirectory(dir.path());
    ASSERT_TRUE(result.has_value()) << onlyError(result);
    EXPECT_EQ(result->files, std::vector<std::string>{(dir.path() / "b.toml").string()});
    ASSERT_EQ(result->collectors.size(), 1u);
    EXPECT_EQ(result->collectors[0].where.file, (dir.path() / "b.toml").string());
}

TEST(LoadFiles, ReportsAllFilesProblemsTogether) {
    TempDir dir;
    const auto a = dir.write("a.toml", kCollector, 0666);
    const auto b = dir.write("b.toml", "x = \n");
    const LoadResult result = loadFiles({a, b});
    ASSERT_FALSE(result.has_value());
    ASSERT_EQ(result.error().size(), 2u);
    EXPECT_EQ(result.error()[0].where.file, a.string());
    EXPECT_EQ(result.error()[1].where.file, b.string());
    EXPECT_EQ(result.error()[1].where.line, 1u);
}

} // namespace
