#include "config/program_items.h"

#include "config/checks.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <utility>

namespace l3af::config {

namespace {

constexpr std::string_view kProgramKeys[] = {"name",       "object",   "function", "hook",
                                             "interfaces", "priority", "enabled",  "maps"};
constexpr std::string_view kMapKeys[] = {"entries"};
constexpr std::string_view kEntryKeys[] = {"key", "value"};

// toml++ keeps a table's keys sorted; the order of the file is the order of
// their positions.
std::vector<std::pair<const toml::key*, const toml::node*>> inFileOrder(const toml::table& table) {
    std::vector<std::pair<const toml::key*, const toml::node*>> out;
    for (auto&& [key, node] : table)
        out.emplace_back(&key, &node);
    std::ranges::sort(out, {}, [](const auto& pair) {
        const toml::source_position& at = pair.first->source().begin;
        return std::tuple(at.line, at.column);
    });
    return out;
}

// The path the later resolve step opens; whether it exists is decided there.
void readObject(ItemReader& in, Program& program) {
    const toml::node* node = in.get("object");
    if (node == nullptr) {
        in.missing("object");
        return;
    }
    std::optional<std::string> value = in.string("object");
    if (!value)
        return;
    program.object_at = in.locate(*node);
    if (value->find('\0') != std::string::npos)
        in.error(*node, "'object' must not contain a NUL character");
    else if (!value->starts_with('/'))
        in.error(*node, "'object' must be an absolute path, as in "
                        "\"/usr/lib/l3af/programs/ratelimit.bpf.o\"; got \"" +
                            *value + "\"");
    program.object = std::move(*value);
}

void readFunction(ItemReader& in, Program& program) {
    const toml::node* node = in.get("function");
    if (node == nullptr) {
        in.missing("function");
        return;
    }
    std::optional<std::string> value = in.string("function");
    if (!value)
        return;
    program.function_at = in.locate(*node);
    if (!isCIdentifier(*value))
        in.error(*node, "'function' must be a C identifier (the program's function name in the "
                        "object, as in \"xdp_ratelimit\"); got \"" +
                            *value + "\"");
    program.function = std::move(*value);
}

void readHook(ItemReader& in, Program& program) {
    const toml::node* node = in.get("hook");
    if (node == nullptr) {
        in.missing("hook");
        return;
    }
    if (auto value = in.choice<ProgramHook>("hook", {{"xdp", ProgramHook::Xdp},
                                                     {"tc-ingress", ProgramHook::TcIngress},
                                                     {"tc-egress", ProgramHook::TcEgress}})) {
        program.hook = *value;
        program.hook_at = in.locate(*node);
    }
}

// What the file wrote, converted as it is: the map's BTF types decide later
// whether it fits. Reports every value that has no BTF encoding.
std::optional<MapValue> readMapValue(const toml::node& node, ItemReader& in) {
    MapValue value;
    value.where = in.locate(node);
    switch (node.type()) {
    case toml::node_type::integer:
        value.kind = MapValue::Kind::Integer;
        value.integer = node.as_integer()->get();
        return value;
    case toml::node_type::boolean:
        value.kind = MapValue::Kind::Boolean;
        value.integer = node.as_boolean()->get() ? 1 : 0;
        return value;
    case toml::node_type::string:
        value.kind = MapValue::Kind::String;
        value.text = node.as_string()->get();
        return value;
    case toml::node_type::array: {
        value.kind = MapValue::Kind::Array;
        bool ok = true;
        for (const toml::node& element : *node.as_array()) {
            std::optional<MapValue> item = readMapValue(element, in);
            ok = ok && item.has_value();
            if (item)
                value.items.push_back(std::move(*item));
        }
        return ok ? std::optional(std::move(value)) : std::nullopt;
    }
    case toml::node_type::table: {
        value.kind = MapValue::Kind::Table;
        bool ok = true;
        for (const auto& [key, field] : inFileOrder(*node.as_table())) {
            std::optional<MapValue> item = readMapValue(*field, in);
            ok = ok && item.has_value();
            if (item)
                value.fields.emplace_back(std::string(key->str()), std::move(*item));
        }
        return ok ? std::optional(std::move(value)) : std::nullopt;
    }
    default:
        in.error(node, std::string("map values are integers, booleans, strings, arrays or "
                                   "tables; got ") +
                           typeName(node));
        return std::nullopt;
    }
}

std::string quotedString(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\u%04x", byte);
            out += escape;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// The value as TOML, for messages. With sorted_fields, one text per key as
// the map will hold it: a table's field order does not change the encoded
// struct, so {a = 1, b = 2} and {b = 2, a = 1} are the same key.
std::string render(const MapValue& value, bool sorted_fields = false) {
    switch (value.kind) {
    case MapValue::Kind::Integer:
        return std::to_string(value.integer);
    case MapValue::Kind::Boolean:
        return value.integer != 0 ? "true" : "false";
    case MapValue::Kind::String:
        return quotedString(value.text);
    case MapValue::Kind::Array: {
        std::string out = "[";
        for (const MapValue& item : value.items)
            out += (out.size() == 1 ? "" : ", ") + render(item, sorted_fields);
        return out + "]";
    }
    case MapValue::Kind::Table: {
        std::vector<const std::pair<std::string, MapValue>*> fields;
        for (const auto& field : value.fields)
            fields.push_back(&field);
        if (sorted_fields)
            std::ranges::sort(fields, {}, [](const auto* field) { return field->first; });
        std::string out = "{";
        for (const auto* field : fields)
            out += (out.size() == 1 ? " " : ", ") +
                   (isCIdentifier(field->first) ? field->first : quotedString(field->first)) +
                   " = " + render(field->second, sorted_fields);
        return out + (value.fields.empty() ? "}" : " }");
    }
    }
    return "?";
}

std::optional<MapEntry> readEntry(const toml::table& table, const std::string& label,
                                  Reporter& reporter) {
    ItemReader in(table, label, "", kEntryKeys, reporter);
    MapEntry entry;
    entry.where = in.where();
    std::optional<MapValue> key;
    std::optional<MapValue> value;
    for (auto [name, field] : {std::pair{"key", &key}, std::pair{"value", &value}}) {
        if (const toml::node* node = in.get(name))
            *field = readMapValue(*node, in);
        else
            in.missing(name);
    }
    if (!key || !value)
        return std::nullopt;
    entry.key = std::move(*key);
    entry.value = std::move(*value);
    return entry;
}

ProgramMap readMap(const toml::table& table, const std::string& name,
                   const std::string& program_label, Reporter& reporter) {
    const std::string label = program_label + " map " + inQuotes(name);
    ItemReader in(table, label, "", kMapKeys, reporter);
    ProgramMap map;
    map.name = name;
    map.where = in.where();
    const toml::node* node = in.get("entries");
    if (node == nullptr) {
        in.missing("entries");
        return map;
    }
    const auto* array = node->as_array();
    if (array == nullptr) {
        in.typeError(*node, "entries", "an array of { key = ..., value = ... } tables");
        return map;
    }
    // Key as the map holds it -> position of the entry that first gave it.
    std::map<std::string, SourceLocation> seen;
    for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = (*array)[i];
        const auto* entry_table = element.as_table();
        if (entry_table == nullptr) {
            in.error(element, "each 'entries' element must be a table { key = ..., value = ... }, "
                              "got " +
                                  std::string(typeName(element)));
            continue;
        }
        std::optional<MapEntry> entry =
            readEntry(*entry_table, label + " entry " + std::to_string(i + 1), reporter);
        if (!entry)
            continue;
        auto [it, inserted] = seen.emplace(render(entry->key, true), entry->where);
        if (!inserted) {
            in.error(entry->key.where, "key " + render(entry->key) +
                                           " is already given by the entry at " + it->second.str());
            continue;
        }
        map.entries.push_back(std::move(*entry));
    }
    return map;
}

void readMaps(ItemReader& in, Program& program) {
    const toml::node* node = in.get("maps");
    if (node == nullptr)
        return;
    const auto* maps = node->as_table();
    if (maps == nullptr) {
        in.typeError(*node, "maps", "a table of maps, written [program.maps.NAME]");
        return;
    }
    for (const auto& [key, value] : inFileOrder(*maps)) {
        const std::string name(key->str());
        if (!isCIdentifier(name)) {
            in.error(in.reporter().locate(key->source()),
                     "map name " + inQuotes(name) +
                         " must be a C identifier (the map's name in the object)");
            continue;
        }
        const auto* table = value->as_table();
        if (table == nullptr) {
            in.error(*value, "map " + inQuotes(name) +
                                 " must be a table with 'entries' ([program.maps." + name +
                                 "]), got " + typeName(*value));
            continue;
        }
        program.maps.push_back(readMap(*table, name, in.label(), in.reporter()));
    }
}

} // namespace

std::optional<ProgramEntry> readProgram(const toml::table& table, Reporter& reporter) {
    ItemReader in(table, "[[program]]", "program", kProgramKeys, reporter);
    ProgramEntry entry;
    Program& program = entry.item;
    program.where = in.where();
    std::optional<std::string> name = in.name(entry.name_at);
    readObject(in, program);
    readFunction(in, program);
    readHook(in, program);
    if (auto list = in.interfaceList("interfaces"))
        for (auto& [interface, at] : *list)
            program.interfaces.push_back(std::move(interface));
    if (auto value = in.integer("priority", 1, kMaxPriority))
        program.priority = static_cast<uint32_t>(*value);
    if (auto value = in.boolean("enabled"))
        program.enabled = *value;
    readMaps(in, program);
    if (!name)
        return std::nullopt;
    program.name = std::move(*name);
    return entry;
}

} // namespace l3af::config
