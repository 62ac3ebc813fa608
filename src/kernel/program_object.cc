#include "kernel/program_object.h"

#include "common/unique_fd.h"
#include "kernel/bpf_object.h"
#include "kernel/function_types.h"
#include "kernel/hash.h"
#include "kernel/libbpf_log.h"
#include "program/encode.h"
#include "program/suggest.h"
#include "program/type_desc.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <tuple>

namespace l3af::kernel {

namespace {

using config::Diagnostic;
using program::TypeRef;

// One object file, read and opened once. libbpf parses the ELF from
// `bytes` until the object is closed, so the bytes are declared first and
// outlive it.
struct ObjectFile {
    std::vector<uint8_t> bytes;
    BpfObjectPtr object;
    std::string digest;
    std::optional<std::string> unreadable; // why it cannot be read
    std::optional<std::string> not_bpf;    // why libbpf refused it
};

std::expected<std::vector<uint8_t>, std::string> readFile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        return std::unexpected(std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return std::unexpected(std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        return std::unexpected(std::strerror(EISDIR));
    std::vector<uint8_t> bytes;
    uint8_t buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return std::unexpected(std::strerror(errno));
        if (n == 0)
            return bytes;
        bytes.insert(bytes.end(), buf, buf + n);
    }
}

// libbpf's words without its "libbpf: " prefixes, on one line.
std::string libbpfWords(const std::string& log) {
    std::string out;
    size_t start = 0;
    while (start < log.size()) {
        size_t end = log.find('\n', start);
        if (end == std::string::npos)
            end = log.size();
        std::string_view line(log.data() + start, end - start);
        if (line.starts_with("libbpf: "))
            line.remove_prefix(8);
        if (!line.empty())
            out += (out.empty() ? "" : "; ") + std::string(line);
        start = end + 1;
    }
    return out;
}

std::unique_ptr<ObjectFile> openObject(const std::string& path) {
    auto file = std::make_unique<ObjectFile>();
    auto bytes = readFile(path);
    if (!bytes) {
        file->unreadable = bytes.error();
        return file;
    }
    file->bytes = std::move(*bytes);
    file->digest = ContentHash().add(file->bytes.data(), file->bytes.size()).hex();
    if (file->bytes.empty()) {
        file->not_bpf = "the file is empty";
        return file;
    }

    LibbpfLogCapture log;
    // Named as bpf_object__open_file() would name it (the file name up to
    // its first dot): the internal maps' names derive from it.
    const std::string name = std::filesystem::path(path).filename().string();
    const std::string stem = name.find('.') == 0 ? name : name.substr(0, name.find('.'));
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = stem.c_str());
    file->object.reset(bpf_object__open_mem(file->bytes.data(), file->bytes.size(), &opts));
    if (!file->object) {
        const int err = errno;
        std::string words = libbpfWords(log.text());
        file->not_bpf = words.empty() ? std::string(std::strerror(err)) : words;
    }
    return file;
}

std::vector<std::string> programNames(const bpf_object* object) {
    std::vector<std::string> names;
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, object) names.push_back(bpf_program__name(prog));
    return names;
}

// The maps a configuration may declare entries for: those of .maps, not
// the global data libbpf keeps in internal maps.
std::vector<std::string> declarableMapNames(const bpf_object* object) {
    std::vector<std::string> names;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, object) {
        if (!bpf_map__is_internal(map))
            names.push_back(bpf_map__name(map));
    }
    return names;
}

plan::Hook planHook(config::ProgramHook hook) {
    switch (hook) {
    case config::ProgramHook::Xdp:
        return plan::Hook::Xdp;
    case config::ProgramHook::TcIngress:
        return plan::Hook::TcIngress;
    case config::ProgramHook::TcEgress:
        return plan::Hook::TcEgress;
    }
    return plan::Hook::TcIngress;
}

// Why `prog` cannot run on `hook`, or nullopt when it can. An XDP hook runs
// xdp programs made for devices (not xdp/devmap or xdp/cpumap ones); a TC
// hook runs sched_cls programs of section "tc", or "tcx/ingress" or
// "tcx/egress" for their own direction only.
std::optional<std::string> hookProblem(const bpf_program* prog, config::ProgramHook hook) {
    const bpf_prog_type type = bpf_program__type(prog);
    const auto attach = static_cast<int>(bpf_program__expected_attach_type(prog));
    // No expected attach type is 0 (which is also BPF_CGROUP_INET_INGRESS).
    const auto attachesAs = [&](bpf_attach_type own) { return attach == 0 || attach == own; };
    bpf_prog_type needs_type = BPF_PROG_TYPE_SCHED_CLS;
    const char* sections = "";
    bool attach_suits = false;
    switch (hook) {
    case config::ProgramHook::Xdp:
        needs_type = BPF_PROG_TYPE_XDP;
        sections = "\"xdp\"";
        attach_suits = attachesAs(BPF_XDP);
        break;
    case config::ProgramHook::TcIngress:
        sections = "\"tc\" or \"tcx/ingress\"";
        attach_suits = attachesAs(BPF_TCX_INGRESS);
        break;
    case config::ProgramHook::TcEgress:
        sections = "\"tc\" or \"tcx/egress\"";
        attach_suits = attachesAs(BPF_TCX_EGRESS);
        break;
    }
    if (type == needs_type && attach_suits)
        return std::nullopt;
    const auto nameOr = [](const char* name) { return std::string(name ? name : "unknown"); };
    std::string problem = "function '" + std::string(bpf_program__name(prog)) + "' (section \"" +
                          bpf_program__section_name(prog) + "\") ";
    if (type != needs_type)
        problem += "is a program of type " + nameOr(libbpf_bpf_prog_type_str(type));
    else
        problem += "attaches as " +
                   nameOr(libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(attach)));
    return problem + "; hook '" + config::toString(hook) + "' needs a program of type " +
           nameOr(libbpf_bpf_prog_type_str(needs_type)) + " from section " + sections;
}

bool takesEntries(bpf_map_type type) {
    switch (type) {
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_LPM_TRIE:
        return true;
    default:
        return false;
    }
}

bool isArray(bpf_map_type type) {
    return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

// BTF types as program::TypeDesc, each described once.
class BtfTypes {
  public:
    explicit BtfTypes(const btf* types) : btf_(types) {}

    TypeRef describe(uint32_t id, int depth = 0) {
        if (auto it = cache_.find(id); it != cache_.end())
            return it->second;
        TypeRef desc = build(id, depth);
        cache_.emplace(id, desc);
        return desc;
    }

  private:
    static constexpr int kMaxDepth = 32; // far deeper than any real type

    std::string nameAt(uint32_t offset) const {
        const char* name = btf__name_by_offset(btf_, offset);
        return name ? name : "";
    }

    // The C spelling for messages, without describing the type: what a
    // pointer points to is never encoded, so it is never described.
    std::string spell(uint32_t id, int depth) const {
        const btf_type* t = btf__type_by_id(btf_, id);
        if (id == 0 || t == nullptr || depth > kMaxDepth)
            return "void";
        const std::string name = nameAt(t->name_off);
        if (btf_is_ptr(t))
            return spell(t->type, depth + 1) + " *";
        if (btf_is_mod(t))
            return spell(t->type, depth + 1);
        const std::string tag = name.empty() ? "(anonymous)" : name;
        if (btf_is_composite(t))
            return (btf_is_union(t) ? "union " : "struct ") + tag;
        if (btf_is_fwd(t))
            return (btf_kflag(t) ? "union " : "struct ") + tag;
        if (btf_is_any_enum(t))
            return "enum " + tag;
        if (btf_is_func_proto(t))
            return "function";
        if (btf_is_array(t))
            return spell(btf_array(t)->type, depth + 1) + "[" +
                   std::to_string(btf_array(t)->nelems) + "]";
        return tag;
    }

    TypeRef build(uint32_t id, int depth) {
        // Typedefs and qualifiers are looked through; the outermost typedef
        // names the type, and a __be* typedef anywhere makes it big-endian.
        if (depth > kMaxDepth)
            return program::makeUnsupported("?", {"a type nested too deep", 0});
        std::string alias;
        bool big_endian = false;
        const btf_type* t = btf__type_by_id(btf_, id);
        for (; t != nullptr && id != 0 && (btf_is_typedef(t) || btf_is_mod(t));
             t = btf__type_by_id(btf_, id)) {
            if (++depth > kMaxDepth)
                return program::makeUnsupported("?", {"a type nested too deep", 0});
            if (btf_is_typedef(t)) {
                const std::string name = nameAt(t->name_off);
                if (alias.empty())
                    alias = name;
                if (name == "__be16" || name == "__be32" || name == "__be64")
                    big_endian = true;
            }
            id = t->type;
        }
        if (id == 0 || t == nullptr)
            return program::makeUnsupported(alias.empty() ? "void" : alias, {"void", 0});
        const std::string own = nameAt(t->name_off);
        auto named = [&](std::string fallback) { return alias.empty() ? fallback : alias; };

        if (btf_is_int(t)) {
            const uint8_t encoding = btf_int_encoding(t);
            program::IntDesc d;
            d.size = t->size;
            d.is_signed = (encoding & BTF_INT_SIGNED) != 0;
            d.is_bool = (encoding & BTF_INT_BOOL) != 0;
            // A char type as written; __u8 and __s8 hold numbers.
            d.is_char = (encoding & BTF_INT_CHAR) != 0 ||
                        (alias.empty() && own.find("char") != std::string::npos);
            d.big_endian = big_endian;
            return program::makeInt(named(own), d);
        }
        if (btf_is_any_enum(t)) {
            program::EnumDesc d;
            d.size = t->size;
            // Compilers before BTF's signed flag wrote negative values
            // without it.
            d.is_signed = btf_kflag(t) ||
                          (btf_is_enum(t) &&
                           std::ranges::any_of(std::span(btf_enum(t), btf_vlen(t)),
                                               [](const struct btf_enum& e) { return e.val < 0; }));
            const uint16_t n = btf_vlen(t);
            for (uint16_t i = 0; i < n; i++) {
                if (btf_is_enum(t)) {
                    const struct btf_enum* e = btf_enum(t) + i;
                    // 32-bit values: unsigned ones are read as such.
                    const int64_t value =
                        d.is_signed ? int64_t{e->val} : int64_t{static_cast<uint32_t>(e->val)};
                    d.enumerators.emplace_back(nameAt(e->name_off), value);
                } else {
                    const struct btf_enum64* e = btf_enum64(t) + i;
                    d.enumerators.emplace_back(nameAt(e->name_off),
                                               static_cast<int64_t>(btf_enum64_value(e)));
                }
            }
            return program::makeEnum(named(spell(id, depth)), std::move(d));
        }
        if (btf_is_array(t)) {
            const struct btf_array* a = btf_array(t);
            TypeRef array = program::makeArray(describe(a->type, depth + 1), a->nelems);
            if (alias.empty())
                return array;
            program::TypeDesc renamed = *array;
            renamed.name = alias;
            return std::make_shared<const program::TypeDesc>(std::move(renamed));
        }
        if (btf_is_composite(t)) {
            program::StructDesc d;
            d.is_union = btf_is_union(t);
            d.size = t->size;
            const btf_member* members = btf_members(t);
            for (uint16_t i = 0; i < btf_vlen(t); i++) {
                const uint32_t bit_offset = btf_member_bit_offset(t, i);
                const uint32_t bit_size = btf_member_bitfield_size(t, i);
                TypeRef type = describe(members[i].type, depth + 1);
                std::string name = nameAt(members[i].name_off);
                d.members.push_back(
                    bit_size != 0
                        ? program::bitfield(std::move(name), bit_offset, bit_size, std::move(type))
                        : program::member(std::move(name), bit_offset / 8, std::move(type)));
            }
            return program::makeStruct(named(spell(id, depth)), std::move(d));
        }
        const std::string spelled = named(spell(id, depth));
        if (btf_is_ptr(t))
            return program::makeUnsupported(spelled, {"a pointer", 8});
        if (btf_is_float(t))
            return program::makeUnsupported(spelled, {"a floating-point number", t->size});
        if (btf_is_fwd(t))
            return program::makeUnsupported(spelled, {"a type the object only declares", 0});
        if (btf_is_func_proto(t) || btf_is_func(t))
            return program::makeUnsupported(spelled, {"a function", 0});
        return program::makeUnsupported(spelled, {"a type without a value", 0});
    }

    const btf* btf_;
    std::map<uint32_t, TypeRef> cache_;
};

// Collects one program's diagnostics, each prefixed with the program.
class Reporter {
  public:
    Reporter(const config::Program& p, std::vector<Diagnostic>& out)
        : prefix_("program '" + p.name + "': "), out_(out), before_(out.size()) {}

    void error(const config::SourceLocation& at, const std::string& message) {
        out_.push_back(Diagnostic{at, prefix_ + message});
    }
    bool clean() const { return out_.size() == before_; }

  private:
    std::string prefix_;
    std::vector<Diagnostic>& out_;
    size_t before_;
};

// The declared entries of one map, encoded; errors go to `report`.
std::optional<plan::MapContents> resolveMap(const config::ProgramMap& declared,
                                            const std::string& path, const ObjectFile& file,
                                            BtfTypes* types, Reporter& report) {
    bpf_object* object = file.object.get();
    const bpf_map* map = bpf_object__find_map_by_name(object, declared.name.c_str());
    const std::vector<std::string> names = declarableMapNames(object);
    if (map != nullptr && bpf_map__is_internal(map)) {
        report.error(declared.where, "map '" + declared.name +
                                         "' is the object's global data, not a map; entries "
                                         "can be declared for its maps: " +
                                         program::joinNames(names));
        return std::nullopt;
    }
    if (map == nullptr) {
        report.error(declared.where, "no map '" + declared.name + "' in " + path +
                                         "; its maps: " + program::joinNames(names) +
                                         program::didYouMean(declared.name, names));
        return std::nullopt;
    }
    const std::string label = "map '" + declared.name + "'";
    const bpf_map_type type = bpf_map__type(map);
    if (!takesEntries(type)) {
        const char* type_name = libbpf_bpf_map_type_str(type);
        report.error(declared.where,
                     label + " is a map of type " + (type_name ? type_name : "unknown") +
                         "; entries can be declared for maps of type hash, array, percpu_hash, "
                         "percpu_array, lru_hash, lru_percpu_hash and lpm_trie");
        return std::nullopt;
    }
    const uint32_t key_id = bpf_map__btf_key_type_id(map);
    const uint32_t value_id = bpf_map__btf_value_type_id(map);
    if (types == nullptr || key_id == 0 || value_id == 0) {
        report.error(declared.where,
                     label + " has no BTF " + (types == nullptr || key_id == 0 ? "key" : "value") +
                         " type; declare it with __type(key, ...) and __type(value, ...) so "
                         "that its entries can be encoded");
        return std::nullopt;
    }
    const TypeRef key_type = types->describe(key_id);
    const TypeRef value_type = types->describe(value_id);
    for (const auto& [what, desc, size] :
         {std::tuple{"key", key_type, bpf_map__key_size(map)},
          std::tuple{"value", value_type, bpf_map__value_size(map)}}) {
        if (desc->size() != size) {
            report.error(declared.where, label + ": the BTF " + what + " type " + desc->name +
                                             " is " + std::to_string(desc->size()) +
                                             " bytes, but the map's " + what + "_size is " +
                                             std::to_string(size));
            return std::nullopt;
        }
    }

    plan::MapContents contents{declared.name, {}};
    bool clean = true;
    std::map<std::vector<uint8_t>, size_t> first_with_key;
    const uint32_t max_entries = bpf_map__max_entries(map);
    for (size_t i = 0; i < declared.entries.size(); i++) {
        const config::MapEntry& entry = declared.entries[i];
        const std::string at = label + " entry " + std::to_string(i + 1) + ": ";
        auto key = program::encodeValue(*key_type, entry.key, "key");
        auto value = program::encodeValue(*value_type, entry.value, "value");
        for (const auto* encoded : {&key, &value})
            if (!*encoded)
                report.error(encoded->error().where, at + encoded->error().message);
        if (!key || !value) {
            clean = false;
            continue;
        }
        if (isArray(type)) {
            uint32_t index = 0;
            std::memcpy(&index, key->data(), sizeof index);
            if (index >= max_entries) {
                report.error(entry.key.where, at + "key " + std::to_string(index) +
                                                  " is past the end of the array (" +
                                                  std::to_string(max_entries) + " entries, 0.." +
                                                  std::to_string(max_entries - 1) + ")");
                clean = false;
                continue;
            }
        }
        auto [it, first] = first_with_key.try_emplace(*key, i + 1);
        if (!first) {
            report.error(entry.where, at + "the same key as entry " + std::to_string(it->second));
            clean = false;
            continue;
        }
        contents.entries.push_back({std::move(*key), std::move(*value)});
    }
    if (!isArray(type) && declared.entries.size() > max_entries) {
        report.error(declared.where, label + " holds at most " + std::to_string(max_entries) +
                                         " entries; " + std::to_string(declared.entries.size()) +
                                         " are declared");
        clean = false;
    }
    if (!clean)
        return std::nullopt;
    return contents;
}

void resolveProgram(const config::Program& p, const ObjectFile& file, ResolvedPrograms& out) {
    Reporter report(p, out.errors);
    if (file.unreadable) {
        report.error(p.object_at, "cannot read " + p.object + ": " + *file.unreadable);
        return;
    }
    if (file.not_bpf) {
        report.error(p.object_at, p.object + " is not an eBPF object: " + *file.not_bpf);
        return;
    }
    bpf_object* object = file.object.get();
    const bpf_program* prog = bpf_object__find_program_by_name(object, p.function.c_str());
    if (prog == nullptr) {
        const std::vector<std::string> names = programNames(object);
        report.error(p.function_at, "no function '" + p.function + "' in " + p.object +
                                        "; its programs: " + program::joinNames(names) +
                                        program::didYouMean(p.function, names));
    } else if (auto problem = hookProblem(prog, p.hook)) {
        report.error(p.hook_at, *problem);
    }

    const btf* object_btf = bpf_object__btf(object);
    std::optional<BtfTypes> types;
    if (object_btf != nullptr)
        types.emplace(object_btf);
    plan::ProgramSpec spec{p.object, p.function, file.digest, planHook(p.hook), {}};
    for (const config::ProgramMap& declared : p.maps) {
        auto contents = resolveMap(declared, p.object, file, types ? &*types : nullptr, report);
        if (contents)
            spec.maps.push_back(std::move(*contents));
    }
    if (report.clean())
        out.specs.emplace(p.name, std::move(spec));
}

} // namespace

ResolvedPrograms resolvePrograms(const config::Config& config) {
    ResolvedPrograms out;
    std::map<std::string, std::unique_ptr<ObjectFile>> files;
    for (const config::Program& p : config.programs) {
        auto [it, first] = files.try_emplace(p.object);
        if (first)
            it->second = openObject(p.object);
        resolveProgram(p, *it->second, out);
    }
    return out;
}

std::string programRevision(const plan::ProgramSpec& spec) {
    return ContentHash()
        .add(kProgramKind)
        .add(spec.object_digest)
        .add(spec.function)
        .add(plan::toString(spec.hook))
        .hex();
}

} // namespace l3af::kernel
