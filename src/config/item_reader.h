#pragma once

// Reading one item's TOML table ([daemon], one [[collector]], one
// [[mirror.rule]], ...) into diagnostics that point at the offending value.
// Internal to the config folder: the only place besides document.cc,
// mirror_items.cc and program_items.cc that sees toml++.

#include "config/loader.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace l3af::config {

template <typename T> using Choices = std::initializer_list<std::pair<std::string_view, T>>;

// "table", "string", "integer", ... for "must be X, got Y" messages.
const char* typeName(const toml::node& node);

std::string inQuotes(std::string_view text);

// "unknown key 'prot' in [[collector]]; expected one of: ... (did you mean 'port'?)"
std::string unknownKeyMessage(std::string_view key, std::string_view where,
                              std::span<const std::string_view> allowed);

// Appends diagnostics for one file.
class Reporter {
  public:
    Reporter(const std::string& file, std::vector<Diagnostic>& out) : file_(file), out_(out) {}

    SourceLocation locate(const toml::source_region& region) const {
        return SourceLocation{file_, region.begin.line, region.begin.column};
    }
    void error(const toml::source_region& at, std::string message) {
        error(locate(at), std::move(message));
    }
    void error(SourceLocation at, std::string message) {
        out_.push_back(Diagnostic{std::move(at), std::move(message)});
    }

  private:
    const std::string& file_;
    std::vector<Diagnostic>& out_;
};

// Reads the keys of one item's table: reports unknown keys, missing and
// mistyped values, and prefixes every message with the item ("collector
// 'soc': ...").
class ItemReader {
  public:
    // header names the table in messages about the table itself
    // ("[[collector]]"); kind names the item once its name is known
    // ("collector" gives "collector 'soc'").
    ItemReader(const toml::table& table, std::string header, std::string kind,
               std::span<const std::string_view> allowed, Reporter& reporter);

    const toml::node* get(std::string_view key) const { return table_.get(key); }
    SourceLocation where() const { return reporter_.locate(table_.source()); }
    SourceLocation locate(const toml::node& node) const { return reporter_.locate(node.source()); }
    Reporter& reporter() const { return reporter_; }

    // What messages start with: the header until name() has read a name.
    const std::string& label() const { return label_; }
    void setLabel(std::string label) { label_ = std::move(label); }

    void error(const toml::node& at, const std::string& message);
    void error(const SourceLocation& at, const std::string& message);
    // An error about the table as a whole, at its header.
    void tableError(const std::string& message);
    void missing(std::string_view key);
    // "'key' must be <expected>, got <type of node>"
    void typeError(const toml::node& node, std::string_view key, std::string_view expected);

    // The item's name, required for every kind but [daemon]; from here on
    // messages say "collector 'soc'" instead of "[[collector]]".
    std::optional<std::string> name(SourceLocation& at);

    std::optional<std::string> string(std::string_view key);
    std::optional<bool> boolean(std::string_view key);
    std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max,
                                   std::string_view why = {});
    // A positive duration such as "15s".
    std::optional<Duration> duration(std::string_view key);
    // A network device name, required; reports what is wrong with it.
    std::optional<std::string> interfaceName(std::string_view key);
    // "ingress" | "egress" | "both".
    std::optional<Direction> direction(std::string_view key);

    template <typename T> std::optional<T> choice(std::string_view key, Choices<T> choices) {
        std::optional<std::string> text = string(key);
        if (!text)
            return std::nullopt;
        std::string expected;
        for (const auto& [word, value] : choices) {
            if (word == *text)
                return value;
            expected += (expected.empty() ? "\"" : ", \"") + std::string(word) + "\"";
        }
        std::string message =
            inQuotes(key) + " must be one of " + expected + "; got \"" + *text + "\"";
        if (std::ranges::any_of(choices, [&](const auto& choice) {
                return std::ranges::equal(choice.first, *text, [](char a, char b) {
                    return a == std::tolower(static_cast<unsigned char>(b));
                });
            }))
            message += " (values are lower case)";
        // Keys are written with '_', some values with '-': "tc_ingress".
        std::string dashed = *text;
        std::ranges::replace(dashed, '_', '-');
        if (dashed != *text && std::ranges::any_of(choices, [&](const auto& choice) {
                return choice.first == dashed;
            }))
            message += " (did you mean \"" + dashed + "\"?)";
        error(*get(key), message);
        return std::nullopt;
    }

    // A non-empty array of strings, each paired with its position; what
    // names one entry ("interface") for the messages.
    std::optional<std::vector<std::pair<std::string, SourceLocation>>>
    stringList(std::string_view key, std::string_view what);

    // Reports "listed twice" for the later copies; returns whether none were.
    bool checkUnique(std::span<const std::pair<std::string, SourceLocation>> list,
                     std::string_view key, std::string_view what);

    // A required, non-empty list of interface names, each with its
    // position. Invalid names are reported; the list is returned unless an
    // interface is listed twice (so later rules still see the others).
    std::optional<std::vector<std::pair<std::string, SourceLocation>>>
    interfaceList(std::string_view key);

  private:
    const toml::table& table_;
    std::string header_;
    std::string kind_;
    std::string label_;
    Reporter& reporter_;
};

// The message for a name that is not a valid network device name.
std::string invalidInterfaceMessage(std::string_view name);

} // namespace l3af::config
