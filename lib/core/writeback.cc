#include "core/writeback.h"

#include <fcntl.h>
#include <unistd.h>

namespace vmigrate {

BackgroundWriteback::BackgroundWriteback(const std::string& dir, std::chrono::milliseconds every)
    : every_(every) {
  fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ >= 0) thread_ = std::thread([this] { Run(); });
}

BackgroundWriteback::~BackgroundWriteback() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) close(fd_);
}

void BackgroundWriteback::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (cv_.wait_for(lock, every_, [&] { return stop_; })) return;
    lock.unlock();
    syncfs(fd_);  // errors are the final sync's to report
    ++passes_;
    lock.lock();
  }
}

}  // namespace vmigrate
