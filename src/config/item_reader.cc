#include "config/item_reader.h"

#include "config/checks.h"
#include "config/duration.h"

namespace l3af::config {

const char* typeName(const toml::node& node) {
    switch (node.type()) {
    case toml::node_type::table:
        return "table";
    case toml::node_type::array:
        return "array";
    case toml::node_type::string:
        return "string";
    case toml::node_type::integer:
        return "integer";
    case toml::node_type::floating_point:
        return "float";
    case toml::node_type::boolean:
        return "boolean";
    case toml::node_type::date:
        return "date";
    case toml::node_type::time:
        return "time";
    case toml::node_type::date_time:
        return "date-time";
    case toml::node_type::none:
        break;
    }
    return "nothing";
}

std::string inQuotes(std::string_view text) {
    return "'" + std::string(text) + "'";
}

namespace {

std::string joined(std::span<const std::string_view> words) {
    std::string out;
    for (std::string_view word : words) {
        if (!out.empty())
            out += ", ";
        out += word;
    }
    return out;
}

} // namespace

std::string unknownKeyMessage(std::string_view key, std::string_view where,
                              std::span<const std::string_view> allowed) {
    std::string message = "unknown key " + inQuotes(key) + " " + std::string(where) +
                          "; expected one of: " + joined(allowed);
    if (const std::string_view closest = closestName(key, allowed); !closest.empty())
        message += " (did you mean " + inQuotes(closest) + "?)";
    return message;
}

std::string invalidInterfaceMessage(std::string_view name) {
    return inQuotes(name) + " is not a valid interface name (1 to 15 bytes, no '/', ':' or "
                            "whitespace, not '.' or '..')";
}

ItemReader::ItemReader(const toml::table& table, std::string header, std::string kind,
                       std::span<const std::string_view> allowed, Reporter& reporter)
    : table_(table), header_(std::move(header)), kind_(std::move(kind)), label_(header_),
      reporter_(reporter) {
    for (auto&& [key, node] : table_)
        if (std::ranges::find(allowed, key.str()) == allowed.end())
            reporter_.error(key.source(), unknownKeyMessage(key.str(), "in " + header_, allowed));
}

void ItemReader::error(const toml::node& at, const std::string& message) {
    reporter_.error(at.source(), label_ + ": " + message);
}

void ItemReader::error(const SourceLocation& at, const std::string& message) {
    reporter_.error(at, label_ + ": " + message);
}

void ItemReader::tableError(const std::string& message) {
    reporter_.error(table_.source(), message);
}

void ItemReader::missing(std::string_view key) {
    tableError(header_ + " is missing required key " + inQuotes(key));
}

void ItemReader::typeError(const toml::node& node, std::string_view key,
                           std::string_view expected) {
    error(node, inQuotes(key) + " must be " + std::string(expected) + ", got " + typeName(node));
}

std::optional<std::string> ItemReader::name(SourceLocation& at) {
    const toml::node* node = get("name");
    if (node == nullptr) {
        missing("name");
        return std::nullopt;
    }
    std::optional<std::string> value = string("name");
    if (!value)
        return std::nullopt;
    at = reporter_.locate(node->source());
    if (!isValidItemName(*value))
        error(*node, "name " + inQuotes(*value) +
                         " is invalid: use 1 to 32 characters from A-Z a-z 0-9 _ - (it "
                         "becomes a directory name under pin_root)");
    // Even an invalid name identifies the item better than its header.
    label_ = kind_ + " " + inQuotes(*value);
    return value;
}

std::optional<std::string> ItemReader::string(std::string_view key) {
    const toml::node* node = get(key);
    if (node == nullptr)
        return std::nullopt;
    if (const auto* value = node->as_string())
        return value->get();
    typeError(*node, key, "a string");
    return std::nullopt;
}

std::optional<bool> ItemReader::boolean(std::string_view key) {
    const toml::node* node = get(key);
    if (node == nullptr)
        return std::nullopt;
    if (const auto* value = node->as_boolean())
        return value->get();
    typeError(*node, key, "true or false");
    return std::nullopt;
}

std::optional<int64_t> ItemReader::integer(std::string_view key, int64_t min, int64_t max,
                                           std::string_view why) {
    const toml::node* node = get(key);
    if (node == nullptr)
        return std::nullopt;
    const auto* value = node->as_integer();
    if (value == nullptr) {
        typeError(*node, key, "an integer");
        return std::nullopt;
    }
    if (value->get() < min || value->get() > max) {
        std::string message = inQuotes(key) + " must be between " + std::to_string(min) + " and " +
                              std::to_string(max);
        if (!why.empty())
            message += " (" + std::string(why) + ")";
        error(*node, message + ", got " + std::to_string(value->get()));
        return std::nullopt;
    }
    return value->get();
}

std::optional<Duration> ItemReader::duration(std::string_view key) {
    const toml::node* node = get(key);
    if (node == nullptr)
        return std::nullopt;
    const auto* text = node->as_string();
    if (text == nullptr) {
        typeError(*node, key, "a duration string such as \"15s\"");
        return std::nullopt;
    }
    const std::optional<Duration> value = parseDuration(text->get());
    if (!value) {
        error(*node, inQuotes(key) +
                         " must be a duration: one or more <integer><unit> groups with units "
                         "ms, s, m, h, as in \"500ms\", \"15s\" or \"1m30s\"; got \"" +
                         text->get() + "\"");
        return std::nullopt;
    }
    if (value->count() == 0) {
        error(*node, inQuotes(key) + " must be greater than zero");
        return std::nullopt;
    }
    return value;
}

std::optional<std::string> ItemReader::interfaceName(std::string_view key) {
    const toml::node* node = get(key);
    if (node == nullptr) {
        missing(key);
        return std::nullopt;
    }
    const auto* text = node->as_string();
    if (text == nullptr) {
        typeError(*node, key, "a string naming one interface");
        return std::nullopt;
    }
    if (!isValidInterfaceName(text->get())) {
        error(*node, invalidInterfaceMessage(text->get()));
        return std::nullopt;
    }
    return text->get();
}

std::optional<Direction> ItemReader::direction(std::string_view key) {
    return choice<Direction>(key, {{"ingress", Direction::Ingress},
                                   {"egress", Direction::Egress},
                                   {"both", Direction::Both}});
}

std::optional<std::vector<std::pair<std::string, SourceLocation>>>
ItemReader::stringList(std::string_view key, std::string_view what) {
    const toml::node* node = get(key);
    if (node == nullptr) {
        missing(key);
        return std::nullopt;
    }
    const auto* array = node->as_array();
    if (array == nullptr) {
        typeError(*node, key, "an array of strings");
        return std::nullopt;
    }
    if (array->empty()) {
        error(*node, inQuotes(key) + " must list at least one " + std::string(what));
        return std::nullopt;
    }
    std::vector<std::pair<std::string, SourceLocation>> out;
    bool ok = true;
    for (const toml::node& element : *array) {
        if (const auto* text = element.as_string()) {
            out.emplace_back(text->get(), reporter_.locate(element.source()));
        } else {
            error(element, inQuotes(key) + " entries must be strings, got " + typeName(element));
            ok = false;
        }
    }
    if (!ok)
        return std::nullopt;
    return out;
}

bool ItemReader::checkUnique(std::span<const std::pair<std::string, SourceLocation>> list,
                             std::string_view key, std::string_view what) {
    bool unique = true;
    for (size_t i = 0; i < list.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (list[i].first == list[j].first) {
                error(list[i].second, std::string(what) + " " + inQuotes(list[i].first) +
                                          " is listed twice in " + inQuotes(key));
                unique = false;
                break;
            }
    return unique;
}

std::optional<std::vector<std::pair<std::string, SourceLocation>>>
ItemReader::interfaceList(std::string_view key) {
    auto list = stringList(key, "interface");
    if (!list)
        return std::nullopt;
    const bool unique = checkUnique(*list, key, "interface");
    for (const auto& [interface, at] : *list)
        if (!isValidInterfaceName(interface))
            error(at, invalidInterfaceMessage(interface));
    if (!unique)
        return std::nullopt;
    return list;
}

} // namespace l3af::config
