// FlagSet: command-line flags for ladle's subcommands ("--name value", "--name=value",
// boolean switches, short aliases), with generated --help text.
//
// Not thread-safe; used once per process in main paths.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "kvcache/expected.h"

namespace ladle {

class FlagSet {
 public:
  // `usage` is the first line of --help ("ladle generate --model M [options]"), `summary` a
  // sentence or two under it.
  FlagSet(std::string usage, std::string summary);

  // `names` is a comma-separated list of spellings, e.g. "-p,--prompt". The target keeps its
  // value when the flag is absent, and that value is printed as the default.
  void add(std::string names, std::string* target, std::string help);
  void add(std::string names, int* target, std::string help);
  void add(std::string names, std::int64_t* target, std::string help);
  void add(std::string names, std::uint64_t* target, std::string help);
  void add(std::string names, double* target, std::string help);
  void add(std::string names, float* target, std::string help);
  void add(std::string names, bool* target, std::string help);  // a switch: present ⇒ true

  // Parses `args` (the words after the subcommand). Unknown flags, missing or malformed values
  // fail with a message naming the flag. -h/--help sets help_requested() and stops parsing.
  Status parse(std::span<const std::string> args);

  bool help_requested() const { return help_requested_; }
  // Words that are not flags, in order.
  const std::vector<std::string>& positional() const { return positional_; }
  // True if the flag with this (any) spelling was given on the command line.
  bool was_set(std::string_view name) const;
  std::string help() const;

 private:
  using Target = std::variant<std::string*, int*, std::int64_t*, std::uint64_t*, double*, float*, bool*>;
  struct Flag {
    std::vector<std::string> names;
    Target target;
    std::string help;
    std::string default_text;
    bool set = false;
  };
  void add_flag(std::string names, Target target, std::string help);
  Flag* find(std::string_view name);

  std::string usage_;
  std::string summary_;
  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

}  // namespace ladle
