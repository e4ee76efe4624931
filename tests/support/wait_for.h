// Polls pred every millisecond until it holds or ms milliseconds passed;
// returns its last answer. For C++ tests that wait on another thread's
// work without a condition variable to wait on.
#ifndef WEFT_TEST_WAIT_FOR_H
#define WEFT_TEST_WAIT_FOR_H

#include <unistd.h>

#include <functional>

inline bool weft_test_wait_for(const std::function<bool()> &pred,
                               int ms = 20000) {
  for (int i = 0; i < ms; i++) {
    if (pred())
      return true;
    usleep(1000);
  }
  return pred();
}

#endif
