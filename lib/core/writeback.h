// Starts writing a filesystem's dirty data to disk while an import is still
// creating files, so that the one syncfs before the commit has little left
// to do and the disk works while the CPU does. It promises nothing about
// durability: the caller still syncs before it relies on the data.
#ifndef VMIGRATE_CORE_WRITEBACK_H_
#define VMIGRATE_CORE_WRITEBACK_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace vmigrate {

class BackgroundWriteback {
 public:
  /// Calls syncfs() on the filesystem holding `dir` every `every`, on a
  /// thread of its own, until destroyed. Does nothing if `dir` cannot be opened.
  BackgroundWriteback(const std::string& dir, std::chrono::milliseconds every);
  ~BackgroundWriteback();  // stops; waits for a syncfs under way
  BackgroundWriteback(const BackgroundWriteback&) = delete;
  BackgroundWriteback& operator=(const BackgroundWriteback&) = delete;

  /// How many syncfs calls were made so far.
  int passes() const { return passes_.load(); }

 private:
  void Run();

  int fd_ = -1;
  std::chrono::milliseconds every_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::atomic<int> passes_{0};
  std::thread thread_;
};

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_WRITEBACK_H_
