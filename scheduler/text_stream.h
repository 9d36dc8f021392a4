// TextStream: turns one request's generated token ids into the text deltas its client may see.
//
// Owned by the request's Sequence (one per request) and driven only from the engine's step thread;
// not thread-safe. It applies, in order: the tokenizer's decode of each token after its predecessor
// (run.c's for SentencePiece; byte-level BPE tokens are raw bytes, often part of a character),
// UTF-8 assembly (bytes of an unfinished character are held until it completes; ill-formed bytes
// become U+FFFD), and stop-string holdback (text that could still be the start of a stop string is
// held until it can no longer match). Every delta is therefore valid UTF-8, the concatenation of
// all deltas equals AnyTokenizer::decode() of the tokens when no stop string fires, and a stop string
// (and everything after it) is never released.
#pragma once

#include <string>
#include <vector>

#include "kvcache/ids.h"
#include "model/any_tokenizer.h"

namespace ladle::scheduler {

class TextStream {
 public:
  // `tok` must outlive the stream. `prev` is the token before the first generated one (the last
  // prompt token), which decides run.c's leading-space strip after BOS. Empty stop strings are
  // ignored; stop strings are matched against the sanitized text.
  TextStream(const model::AnyTokenizer& tok, TokenId prev, std::vector<std::string> stop_strings);

  struct Step {
    std::string text;      // newly releasable text; may be empty
    bool stopped = false;  // a stop string completed: generation should end with reason "stop"
  };

  // Feeds one generated token. Returns the text that became releasable: complete UTF-8 characters
  // not possibly part of a stop string. When a stop string completes (the earliest-starting one if
  // several do), returns the text before it with `stopped` set; from then on push() and finish()
  // return nothing more.
  Step push(TokenId id);

  // End of generation for any reason other than a stop string: releases everything held (an
  // unfinished UTF-8 tail becomes U+FFFD). Further push()/finish() calls return nothing.
  std::string finish();

  // All text released so far (the concatenation of every returned delta).
  const std::string& text() const { return released_; }
  bool stopped() const { return stopped_; }
  // The stop string that ended the stream (as given, after UTF-8 sanitizing); empty if none did.
  const std::string& matched_stop() const { return matched_; }

 private:
  // Length of the longest suffix of held_ that is a proper prefix of some stop string.
  std::size_t holdback_length() const;
  // Moves held_[0, n) to released_ and returns it; keeps the rest held.
  std::string release(std::size_t n);

  const model::AnyTokenizer* tok_;
  TokenId prev_;
  std::vector<std::string> stop_strings_;
  std::string pending_bytes_;  // raw bytes of an unfinished UTF-8 character (at most 3)
  std::string held_;           // sanitized text held back because a stop string may start in it
  std::string released_;
  std::string matched_;  // the stop string that fired
  bool stopped_ = false;
  bool finished_ = false;
};

}  // namespace ladle::scheduler
