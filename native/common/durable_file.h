// Durable file replacement, shared by every writer that must survive a crash mid-save.
#pragma once

#include <string>

namespace noisynn {

// Replaces `path` by the finished, closed file `tmp`: fsync tmp, rename it over path, fsync the
// directory so the rename itself is on disk. A crash at any point leaves either the old or the
// new file at `path`, never a torn one. On failure removes tmp and throws std::runtime_error.
void commit_file(const std::string& tmp, const std::string& path);

}  // namespace noisynn
