#pragma once

// An sd-event loop in a thread of its own, so a test can talk to a server on
// that loop with plain blocking clients. Everything that touches the loop
// (creating a server, destroying it, reading its state) goes through call(),
// which runs on the loop's thread, as the daemon would.

#include "common/sd_event.h"
#include "common/unique_fd.h"

#include <sys/eventfd.h>

#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace l3af::testing {

class LoopThread {
  public:
    LoopThread() {
        wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (!wake_)
            throw std::runtime_error("eventfd failed");
        std::promise<void> ready;
        std::future<void> started = ready.get_future();
        thread_ = std::thread([this, &ready] { run(ready); });
        started.get();
    }

    ~LoopThread() {
        call([this] { sd_event_exit(event_.get(), 0); });
        thread_.join();
    }

    LoopThread(const LoopThread&) = delete;
    LoopThread& operator=(const LoopThread&) = delete;

    // The loop; use it only inside call().
    sd_event* event() const { return event_.get(); }

    // Runs `fn` on the loop's thread and returns what it returns.
    template <typename F> auto call(F fn) -> decltype(fn()) {
        std::packaged_task<decltype(fn())()> task(std::move(fn));
        auto result = task.get_future();
        post([&task] { task(); });
        return result.get();
    }

    // Runs `fn` on the loop's thread, without waiting for it.
    void post(std::function<void()> fn) {
        {
            std::lock_guard lock(mutex_);
            tasks_.push_back(std::move(fn));
        }
        const uint64_t one = 1;
        if (write(wake_.get(), &one, sizeof one) != sizeof one)
            throw std::runtime_error("eventfd write failed");
    }

  private:
    void run(std::promise<void>& ready) {
        sd_event* event = nullptr;
        if (sd_event_new(&event) < 0) {
            ready.set_exception(std::make_exception_ptr(std::runtime_error("sd_event_new")));
            return;
        }
        event_.reset(event);
        sd_event_source* source = nullptr;
        sd_event_add_io(event, &source, wake_.get(), EPOLLIN, &LoopThread::onWake, this);
        EventSourcePtr wake_source(source);
        ready.set_value();
        sd_event_loop(event);
        wake_source.reset();
        event_.reset();
    }

    static int onWake(sd_event_source*, int fd, uint32_t, void* userdata) {
        auto* self = static_cast<LoopThread*>(userdata);
        uint64_t count = 0;
        (void)read(fd, &count, sizeof count);
        std::deque<std::function<void()>> tasks;
        {
            std::lock_guard lock(self->mutex_);
            tasks.swap(self->tasks_);
        }
        for (auto& task : tasks)
            task();
        return 0;
    }

    UniqueFd wake_;
    EventPtr event_;
    std::mutex mutex_;
    std::deque<std::function<void()>> tasks_;
    std::thread thread_;
};

} // namespace l3af::testing
