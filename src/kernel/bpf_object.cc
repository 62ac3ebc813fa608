#include "kernel/bpf_object.h"

#include "common/unique_fd.h"

#include <bpf/bpf.h>
#include <unistd.h>

namespace l3af::kernel {

namespace fs = std::filesystem;

namespace {

bool fits(int fd, const bpf_map* map) {
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (bpf_map_get_info_by_fd(fd, &info, &len) != 0)
        return false;
    return info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
           info.value_size == bpf_map__value_size(map) &&
           info.max_entries == bpf_map__max_entries(map) &&
           info.map_flags == bpf_map__map_flags(map);
}

} // namespace

bpf_program* loadOnly(bpf_object* object, const std::string& function) {
    bpf_program* wanted = nullptr;
    bpf_program* each = nullptr;
    bpf_object__for_each_program(each, object) {
        const bool is_it = function == bpf_program__name(each);
        bpf_program__set_autoload(each, is_it);
        if (is_it)
            wanted = each;
    }
    return wanted;
}

Result<NewMapPins> reusePinnedMaps(bpf_object* object, const fs::path& map_dir) {
    NewMapPins to_pin;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, object) {
        if (bpf_map__is_internal(map))
            continue;
        if (bpf_map__set_pin_path(map, nullptr) != 0)
            return failErrno("clear the pin path of map " + std::string(bpf_map__name(map)));
        fs::path pin = map_dir / bpf_map__name(map);
        UniqueFd pinned(bpf_obj_get(pin.c_str()));
        if (pinned && fits(pinned.get(), map)) {
            if (bpf_map__reuse_fd(map, pinned.get()) != 0)
                return failErrno("reuse map " + pin.string());
            continue;
        }
        to_pin.emplace_back(map, std::move(pin));
    }
    return to_pin;
}

Status pinNewMaps(const NewMapPins& maps, std::vector<fs::path>* made) {
    for (const auto& [map, pin] : maps) {
        if (::unlink(pin.c_str()) != 0 && errno != ENOENT)
            return failErrno("unpin " + pin.string());
        if (bpf_obj_pin(bpf_map__fd(map), pin.c_str()) != 0)
            return failErrno("pin " + pin.string());
        if (made)
            made->push_back(pin);
    }
    return {};
}

} // namespace l3af::kernel
