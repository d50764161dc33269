// Registration and assertion macros of the native test harness.
#pragma once

#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace noisynn {
namespace testing {

// A test returns false when it skipped itself (e.g. no GPU).
struct TestCase {
  std::string name;
  std::function<bool()> fn;
};

std::vector<TestCase>& registry();
void fail(const char* file, int line, const std::string& what);

struct Registrar {
  Registrar(std::string name, std::function<bool()> fn) { registry().push_back({std::move(name), std::move(fn)}); }
};

}  // namespace testing
}  // namespace noisynn

#define NN_CONCAT2(a, b) a##b
#define NN_CONCAT(a, b) NN_CONCAT2(a, b)
#define NN_TEST(name)                                                                                      \
  static bool NN_CONCAT(nn_test_, __LINE__)();                                                             \
  static ::noisynn::testing::Registrar NN_CONCAT(nn_reg_, __LINE__)(name, &NN_CONCAT(nn_test_, __LINE__)); \
  static bool NN_CONCAT(nn_test_, __LINE__)()

#define NN_EXPECT(cond, msg)                                     \
  do {                                                           \
    if (!(cond)) {                                               \
      std::ostringstream nn_os;                                  \
      nn_os << #cond << " -- " << msg;                           \
      ::noisynn::testing::fail(__FILE__, __LINE__, nn_os.str()); \
    }                                                            \
  } while (0)
