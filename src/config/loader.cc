#include "config/loader.h"

#include "common/unique_fd.h"
#include "config/document.h"
#include "config/merge.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>
#include <tuple>

namespace l3af::config {

namespace {

// Far beyond any real configuration; stops a mistaken symlink to a huge
// file from being read into memory.
constexpr off_t kMaxFileSize = 16 * 1024 * 1024;

std::string errnoText(int code) {
    return std::strerror(code);
}

// Refuses a file that someone other than root or us could have written:
// the daemon runs as root and loads what the file says into the kernel.
void checkFileTrust(const struct stat& st, const std::string& file,
                    std::vector<Diagnostic>& diagnostics) {
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        diagnostics.push_back({{file}, "writable by group or others; refusing it (chmod go-w)"});
    const uid_t self = geteuid();
    if (st.st_uid != 0 && st.st_uid != self)
        diagnostics.push_back({{file},
                               "owned by uid " + std::to_string(st.st_uid) +
                                   ", neither root nor the user loading it (uid " +
                                   std::to_string(self) + "); refusing it"});
}

// The file's text, or nullopt with the reasons in diagnostics.
std::optional<std::string> readTrustedFile(const std::string& file,
                                           std::vector<Diagnostic>& diagnostics) {
    // O_NONBLOCK so that a FIFO cannot hang the load; checks and reads go
    // through the same descriptor, so the file checked is the file read.
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) {
        diagnostics.push_back({{file}, "cannot open: " + errnoText(errno)});
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        diagnostics.push_back({{file}, "cannot stat: " + errnoText(errno)});
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        diagnostics.push_back({{file}, "not a regular file"});
        return std::nullopt;
    }
    const size_t before = diagnostics.size();
    checkFileTrust(st, file, diagnostics);
    if (diagnostics.size() != before)
        return std::nullopt;
    if (st.st_size > kMaxFileSize) {
        diagnostics.push_back({{file}, "larger than 16 MiB; refusing it"});
        return std::nullopt;
    }
    std::string text;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            diagnostics.push_back({{file}, "cannot read: " + errnoText(errno)});
            return std::nullopt;
        }
        if (n == 0)
            break;
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > static_cast<size_t>(kMaxFileSize)) {
            diagnostics.push_back({{file}, "larger than 16 MiB; refusing it"});
            return std::nullopt;
        }
    }
    return text;
}

// By file in load order, then line and column; a problem with the file as a
// whole (line 0) comes before its contents'. Stable, so several problems at
// one position keep the order they were found in.
void sortDiagnostics(std::vector<Diagnostic>& diagnostics, const std::vector<std::string>& files) {
    std::map<std::string, size_t> rank;
    for (size_t i = 0; i < files.size(); ++i)
        rank.emplace(files[i], i);
    auto key = [&](const Diagnostic& d) {
        auto it = rank.find(d.where.file);
        return std::tuple(it == rank.end() ? files.size() : it->second, d.where.line,
                          d.where.column);
    };
    std::ranges::stable_sort(
        diagnostics, [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
}

LoadResult finish(std::vector<Document> documents, std::vector<Diagnostic> diagnostics,
                  const std::vector<std::string>& files) {
    Config config = mergeDocuments(std::move(documents), diagnostics);
    if (!diagnostics.empty()) {
        sortDiagnostics(diagnostics, files);
        return std::unexpected(std::move(diagnostics));
    }
    return config;
}

bool isConfigFileName(const std::filesystem::path& path) {
    const std::string name = path.filename().string();
    return !name.starts_with('.') && path.extension() == ".toml";
}

} // namespace

std::string Diagnostic::str() const {
    return where.str() + ": error: " + message;
}

LoadResult loadDirectory(const std::filesystem::path& dir) {
    const std::string dir_name = dir.string();
    std::error_code ec;
    const auto status = std::filesystem::status(dir, ec);
    if (ec || !std::filesystem::exists(status)) {
        const std::string why =
            ec && ec != std::errc::no_such_file_or_directory ? ec.message() : "does not exist";
        return std::unexpected(
            std::vector<Diagnostic>{{{dir_name}, "configuration directory " + why}});
    }
    if (!std::filesystem::is_directory(status))
        return std::unexpected(std::vector<Diagnostic>{{{dir_name}, "not a directory"}});

    std::vector<std::filesystem::path> files;
    std::filesystem::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        const std::filesystem::path& path = it->path();
        std::error_code type_ec;
        // Follows symlinks: config management often links files into place.
        if (isConfigFileName(path) && it->is_regular_file(type_ec))
            files.push_back(path);
    }
    if (ec)
        return std::unexpected(
            std::vector<Diagnostic>{{{dir_name}, "cannot list directory: " + ec.message()}});
    std::ranges::sort(files, [](const auto& a, const auto& b) {
        return a.filename().string() < b.filename().string();
    });
    return loadFiles(files);
}

LoadResult loadFiles(const std::vector<std::filesystem::path>& paths) {
    std::vector<Diagnostic> diagnostics;
    std::vector<Document> documents;
    std::vector<std::string> files;
    for (const std::filesystem::path& path : paths) {
        std::string file = path.string();
        files.push_back(file);
        if (std::optional<std::string> text = readTrustedFile(file, diagnostics))
            documents.push_back(readDocument(*text, file, diagnostics));
        else
            documents.push_back(Document{.file = file}); // unknown contents, like a bad parse
    }
    return finish(std::move(documents), std::move(diagnostics), files);
}

LoadResult loadText(std::string_view text, std::string_view file_name) {
    std::vector<Diagnostic> diagnostics;
    std::string file(file_name);
    std::vector<Document> documents;
    documents.push_back(readDocument(text, file, diagnostics));
    return finish(std::move(documents), std::move(diagnostics), {file});
}

} // namespace l3af::config
