// The fork-join pool (see threadpool.h).
#include "core/threadpool.h"

#include <algorithm>
#include <cstdlib>

#include "core/fpenv.h"

namespace dimba {
namespace {
thread_local bool tl_in_pool_job = false;

void run_part(const std::function<void(int64_t, int64_t)>& fn, int64_t n, int parts, int i) {
  int64_t b = n * i / parts, e = n * (i + 1) / parts;
  if (b < e) fn(b, e);
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  n_threads = std::max(1, n_threads);
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_start_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_main(int index) {
  set_flush_denormals();
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t, int64_t)>* job;
    int64_t n;
    int parts;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_start_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      n = job_n_;
      parts = job_parts_;
    }
    if (index < parts) {
      tl_in_pool_job = true;
      try {
        run_part(*job, n, parts, index);
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!error_) error_ = std::current_exception();
      }
      tl_in_pool_job = false;
    }
    std::lock_guard<std::mutex> lk(mu_);
    if (--pending_ == 0) cv_done_.notify_one();
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t min_chunk) {
  if (n <= 0) return;
  int64_t max_parts = std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk));
  int parts = int(std::min<int64_t>(size(), max_parts));
  if (parts <= 1 || workers_.empty() || tl_in_pool_job) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call(call_mu_);
  {
    std::lock_guard<std::mutex> lk(mu_);
    job_ = &fn;
    job_n_ = n;
    job_parts_ = parts;
    pending_ = int(workers_.size());
    error_ = nullptr;
    ++generation_;
  }
  cv_start_.notify_all();
  std::exception_ptr mine;
  tl_in_pool_job = true;
  try {
    run_part(fn, n, parts, 0);
  } catch (...) {
    mine = std::current_exception();
  }
  tl_in_pool_job = false;
  std::unique_lock<std::mutex> lk(mu_);
  cv_done_.wait(lk, [&] { return pending_ == 0; });
  job_ = nullptr;
  if (mine) std::rethrow_exception(mine);
  if (error_) std::rethrow_exception(error_);
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool([] {
    const char* env = std::getenv("DIMBA_THREADS");
    int n = env ? std::atoi(env) : int(std::thread::hardware_concurrency());
    return std::max(1, std::min(n, 256));
  }());
  return pool;
}

}  // namespace dimba
