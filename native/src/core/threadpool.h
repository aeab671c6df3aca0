// A small fork-join thread pool for the CPU ops' outer loops (rows, channels, heads).
// parallel_for splits [0, n) into contiguous ranges, one per thread, the calling thread
// taking the first; it returns when all are done, rethrowing the first exception. Workers
// run with FTZ/DAZ set (core/fpenv.h). GEMMs are threaded by the BLAS itself, not here.
// On the 2-vCPU build machine (one physical core) extra threads barely help; see
// native/bench/README.md. The pool stays so that real machines use their cores.
// defines: ThreadPool, ThreadPool::global
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dimba {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads >= 1, counting the caller
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // fn(begin, end) over disjoint ranges covering [0, n); at most one range per thread and
  // none smaller than min_chunk (so tiny loops stay on the caller). Not reentrant: a
  // parallel_for inside fn runs serially.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t min_chunk = 1);

  // The engine's pool: DIMBA_THREADS if set, else std::thread::hardware_concurrency().
  static ThreadPool& global();

 private:
  void worker_main(int index);
  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one job at a time when several threads share the pool
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int job_parts_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace dimba
