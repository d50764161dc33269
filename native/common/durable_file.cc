// Durable file replacement (POSIX: fsync, rename, fsync of the directory).
#include "common/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace noisynn {

namespace {

// fsync of a path opened with `flags`; returns the error text, empty on success.
std::string fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return std::string("cannot open ") + path + " to sync it: " + std::strerror(errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? std::string() : std::string("fsync failed for ") + path + ": " + std::strerror(err);
}

}  // namespace

void commit_file(const std::string& tmp, const std::string& path) {
  std::string error = fsync_path(tmp, O_RDONLY);
  if (error.empty() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
  }
  if (!error.empty()) {
    std::remove(tmp.c_str());
    throw std::runtime_error(error);
  }
  const auto slash = path.find_last_of('/');
  error =
      fsync_path(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)), O_RDONLY | O_DIRECTORY);
  if (!error.empty()) throw std::runtime_error(error);
}

}  // namespace noisynn
