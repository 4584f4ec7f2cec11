// Hugging Face `tokenizers` loads Chamber's tokenizer.json as a byte-level BPE and encodes text to
// the same ids as tokenizer_encode. Runs tests/data/check_tokenizer_hf.py; skipped when python3 or
// the `tokenizers` package is not available (it is optional: only needed for exporting).
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "data/tokenizer.h"
#include "util/util.h"
#include "tests/data/sample_text.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

// Beside this file; a build through ccache with CCACHE_BASEDIR makes __FILE__ relative to the build
// directory, so then from the source root, where ctest runs the tests.
std::string script_path() {
  std::string beside = path_join(dirname_of(__FILE__), "check_tokenizer_hf.py");
  return file_exists(beside) ? beside : "tests/data/check_tokenizer_hf.py";
}

// Exit status of a shell command, or -1 if it did not exit normally.
int run(const std::string& command) {
  int status = std::system(command.c_str());
  return (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
}

TEST(TokenizerHf, SameIdsAsHuggingFaceTokenizers) {
  if (run("python3 -c 'import tokenizers' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with the `tokenizers` package is not available";
  ASSERT_TRUE(file_exists(script_path())) << script_path();

  // Printable ASCII plus every ASCII whitespace, in runs, so that each pre-tokenizer alternative
  // (and the whitespace look-ahead) is compared; then the training-like sample text.
  Rng rng(21);
  std::string text;
  const std::string odd = " \t\n\r\v\f";
  for (int i = 0; i < 20000; i++) {
    uint64_t r = rng.below(10);
    if (r < 6) text += (char)(32 + rng.below(95));
    else if (r < 8) text += odd[rng.below(odd.size())];
    else text += std::string(1 + rng.below(4), ' ');
  }
  text += testing::sample_text(31, 30000);
  text += "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 10\xe2\x82\xac\n";  // valid UTF-8, no Unicode spaces

  Tokenizer tok = tokenizer_train({testing::sample_text(30, 100000), text.substr(0, 5000)}, 1500);
  std::string dir = testing::temp_dir("tokenizer_hf");
  std::string tok_path = path_join(dir, "tokenizer.json"), text_path = path_join(dir, "text.txt"),
              ids_path = path_join(dir, "ids.json");
  tokenizer_save(tok, tok_path);
  write_file_atomic(text_path, text);
  write_file_atomic(ids_path, nlohmann::json(tokenizer_encode(tok, text)).dump());
  int status = run("python3 '" + script_path() + "' '" + tok_path + "' '" + text_path + "' '" + ids_path + "'");
  if (status == 77) GTEST_SKIP() << "the `tokenizers` package could not be imported";
  EXPECT_EQ(status, 0) << "check_tokenizer_hf.py reported a difference (see its output above)";
}

}  // namespace
}  // namespace chamber
