// A minimal test harness for the Node-free native tests (run by ctest, and on GPU machines
// by scripts/gpu-check.sh). Prints "N passed, N failed" and exits non-zero on any failure.
#include "tests/test_main.h"

#include "common/threads.h"

#include <cstdio>
#include <exception>

namespace noisynn {
namespace testing {

std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

int failures_in_current = 0;

void fail(const char* file, int line, const std::string& what) {
  ++failures_in_current;
  std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what.c_str());
}

}  // namespace testing
}  // namespace noisynn

int main(int argc, char** argv) {
  using namespace noisynn::testing;
  noisynn::apply_runtime_defaults();
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0, skipped = 0;
  for (auto& t : registry()) {
    if (filter && t.name.find(filter) == std::string::npos) continue;
    failures_in_current = 0;
    bool skip = false;
    try {
      skip = !t.fn();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("exception: ") + e.what());
    }
    if (skip) {
      ++skipped;
      std::printf("skip %s\n", t.name.c_str());
    } else if (failures_in_current == 0) {
      ++passed;
      std::printf("ok   %s\n", t.name.c_str());
    } else {
      ++failed;
      std::printf("FAIL %s\n", t.name.c_str());
    }
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}
