// Fuzz inputs as files: the readers take paths, so each input is written to an in-memory file.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace noisynn {
namespace fuzz {

// An anonymous in-memory file (memfd) holding `size` bytes, named by its /proc/self/fd path, so
// the readers see a real file (seek, size, gzopen) without touching the disk.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = memfd_create("noisynn-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) std::abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// A fuzzer-found contract violation that is not a memory error: report and stop, so libFuzzer
// saves the input as a crash.
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "noisynn fuzz: contract violated: %s\n", what);
  std::abort();
}

}  // namespace fuzz
}  // namespace noisynn
