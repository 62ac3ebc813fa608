#pragma once

// One run of a loaded program under BPF_PROG_TEST_RUN, for every BPF test
// harness (flow, mirror, example objects).

#include "packet_builder.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>

namespace l3af::test {

// BPF_PROG_TEST_RUN makes its skb on the namespace's loopback device.
inline constexpr uint32_t kLoopbackIfindex = 1;

// libbpf's warnings (the verifier log among them) only; no info chatter.
inline void installQuietLibbpfLog() {
    libbpf_set_print([](libbpf_print_level level, const char* format, va_list args) {
        return level == LIBBPF_WARN ? std::vfprintf(stderr, format, args) : 0;
    });
}

struct RunOutcome {
    int error = 0; // errno of BPF_PROG_TEST_RUN, 0 when it ran
    int verdict = 0;
    Bytes data_out;        // the frame as the program left it
    uint32_t mark_out = 0; // skb->mark after the run (TC programs given a context)
};

// Runs a loaded program once on `frame`. A TC program may be given the skb
// fields to start from (`skb`); XDP programs take none.
inline RunOutcome runProgram(int prog_fd, const Bytes& frame, const __sk_buff* skb = nullptr) {
    __sk_buff ctx_in = skb ? *skb : __sk_buff{};
    __sk_buff ctx_out{};
    RunOutcome outcome;
    outcome.data_out.resize(frame.size() + 256);
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<uint32_t>(frame.size());
    opts.data_out = outcome.data_out.data();
    opts.data_size_out = static_cast<uint32_t>(outcome.data_out.size());
    if (skb) {
        opts.ctx_in = &ctx_in;
        opts.ctx_size_in = sizeof(ctx_in);
        opts.ctx_out = &ctx_out;
        opts.ctx_size_out = sizeof(ctx_out);
    }
    opts.repeat = 1;
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
        outcome.error = errno;
        return outcome;
    }
    outcome.verdict = static_cast<int>(opts.retval);
    outcome.data_out.resize(opts.data_size_out);
    outcome.mark_out = ctx_out.mark;
    return outcome;
}

} // namespace l3af::test
