#pragma once

// Loads a program object file the way a [[program]] declaration names it
// (path + function), without a skeleton, and runs its functions under
// BPF_PROG_TEST_RUN: the objects under test are the very files that are
// installed or that the integration tests declare.

#include "common/unique_fd.h"
#include "netns.h"
#include "packet_builder.h"
#include "test_run.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace l3af::test {

// One object file, opened and loaded with only `function` to be loaded.
class ObjectProgram {
  public:
    // nullptr on failure, with libbpf's words and the verifier log, if the
    // verifier had any, in `error`.
    static std::unique_ptr<ObjectProgram> load(const std::string& path, const std::string& function,
                                               std::string& error) {
        installQuietLibbpfLog();
        bpf_object* obj = bpf_object__open_file(path.c_str(), nullptr);
        if (!obj) {
            error = "open " + path + ": " + std::strerror(errno);
            return nullptr;
        }
        std::unique_ptr<ObjectProgram> program(new ObjectProgram(obj));
        bpf_program* prog = nullptr;
        bpf_object__for_each_program(prog, obj) {
            bool wanted = function == bpf_program__name(prog);
            bpf_program__set_autoload(prog, wanted);
            if (wanted)
                program->prog_ = prog;
        }
        if (!program->prog_) {
            error = path + " has no function " + function;
            return nullptr;
        }
        program->log_.assign(1 << 20, '\0');
        bpf_program__set_log_buf(program->prog_, program->log_.data(), program->log_.size());
        if (int err = bpf_object__load(obj)) {
            error = "load " + function + " from " + path + ": " + std::strerror(-err) + "\n" +
                    program->log_.c_str();
            return nullptr;
        }
        return program;
    }

    ~ObjectProgram() { bpf_object__close(obj_); }
    ObjectProgram(const ObjectProgram&) = delete;
    ObjectProgram& operator=(const ObjectProgram&) = delete;

    int programFd() const { return bpf_program__fd(prog_); }
    RunOutcome run(const Bytes& frame) const { return runProgram(programFd(), frame); }

    // -1 when the object has no such map.
    int mapFd(const char* name) const {
        bpf_map* map = bpf_object__find_map_by_name(obj_, name);
        return map ? bpf_map__fd(map) : -1;
    }

  private:
    explicit ObjectProgram(bpf_object* obj) : obj_(obj) {}

    bpf_object* obj_;
    bpf_program* prog_ = nullptr;
    std::string log_;
};

// Map helpers, 0 or an errno.
template <typename K, typename V> int updateElem(int map_fd, const K& key, const V& value) {
    return bpf_map_update_elem(map_fd, &key, &value, BPF_ANY) == 0 ? 0 : errno;
}

template <typename V> V lookupArray(int map_fd, uint32_t index) {
    V value{};
    bpf_map_lookup_elem(map_fd, &index, &value);
    return value;
}

// The values of one per-CPU array slot, one per possible CPU.
template <typename V> std::vector<V> lookupPerCpu(int map_fd, uint32_t index) {
    int cpus = libbpf_num_possible_cpus();
    std::vector<V> per_cpu(cpus > 0 ? size_t(cpus) : 1);
    if (bpf_map_lookup_elem(map_fd, &index, per_cpu.data()) != 0)
        per_cpu.assign(per_cpu.size(), V{});
    return per_cpu;
}

inline size_t countKeys(int map_fd, size_t key_size) {
    std::vector<uint8_t> key(key_size), next(key_size);
    size_t n = 0;
    int err = bpf_map_get_next_key(map_fd, nullptr, next.data());
    while (err == 0) {
        n++;
        key = next;
        err = bpf_map_get_next_key(map_fd, key.data(), next.data());
    }
    return n;
}

} // namespace l3af::test
