// Deterministic sample text for tokenizer tests: English-like sentences, arithmetic with numbers
// of several digits, punctuation, indentation, blank lines and tabs, so that training learns word,
// space and punctuation merges and the digit rule is exercised.
#pragma once
#include <string>

#include "util/util.h"

namespace chamber::testing {

inline std::string sample_text(uint64_t seed, size_t approx_bytes) {
  static const char* kWords[] = {"the", "a", "cat", "sat", "on", "mat", "Tom", "has", "apples",
                                 "and", "gives", "Anna", "of", "them", "How", "many", "left",
                                 "total", "answer", "is", "def", "return", "if", "else", "x"};
  static const char* kPunct[] = {".", ",", "?", "!", ":", "(", ")", "...", "\"", "'s", "=="};
  Rng rng(seed);
  std::string s;
  while (s.size() < approx_bytes) {
    switch (rng.below(6)) {
      case 0: case 1: case 2:  // a sentence
        for (int w = 0, n = 3 + (int)rng.below(8); w < n; w++) {
          if (w > 0) s += rng.below(10) == 0 ? "  " : " ";
          s += kWords[rng.below(sizeof kWords / sizeof *kWords)];
        }
        s += kPunct[rng.below(sizeof kPunct / sizeof *kPunct)];
        s += rng.below(3) == 0 ? "\n" : " ";
        break;
      case 3: {  // arithmetic
        uint64_t a = rng.below(100000), b = rng.below(1000);
        s += std::to_string(a) + (rng.below(2) ? " + " : "+") + std::to_string(b) + " = " +
             std::to_string(a + b) + "\n";
        break;
      }
      case 4:  // indentation and tabs
        s += rng.below(2) ? "\n    x = " + std::to_string(rng.below(50)) + "\n" : "\t\tcol\t" ;
        break;
      default:
        s += "\n\n";
    }
  }
  return s;
}

}  // namespace chamber::testing
