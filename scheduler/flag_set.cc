#include "scheduler/flag_set.h"

#include <charconv>
#include <optional>
#include <sstream>

namespace ladle {
namespace {

std::vector<std::string> split_names(const std::string& names) {
  std::vector<std::string> out;
  std::stringstream ss(names);
  for (std::string n; std::getline(ss, n, ',');) out.push_back(n);
  return out;
}

template <class T>
bool parse_number(std::string_view s, T* out) {
  if constexpr (std::is_floating_point_v<T>) {
    // std::from_chars for floats is available in libstdc++ 11+.
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  } else {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  }
}

}  // namespace

FlagSet::FlagSet(std::string usage, std::string summary)
    : usage_(std::move(usage)), summary_(std::move(summary)) {}

void FlagSet::add_flag(std::string names, Target target, std::string help) {
  std::string def = std::visit(
      [](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) return p->empty() ? "" : "\"" + *p + "\"";
        else if constexpr (std::is_same_v<T, bool>) return "";
        else {
          std::ostringstream os;
          os << *p;
          return os.str();
        }
      },
      target);
  flags_.push_back(Flag{split_names(names), target, std::move(help), std::move(def)});
}

void FlagSet::add(std::string n, std::string* t, std::string h) { add_flag(std::move(n), t, std::move(h)); }
void FlagSet::add(std::string n, int* t, std::string h) { add_flag(std::move(n), t, std::move(h)); }
void FlagSet::add(std::string n, std::int64_t* t, std::string h) { add_flag(std::move(n), t, std::move(h)); }
void FlagSet::add(std::string n, std::uint64_t* t, std::string h) { add_flag(std::move(n), t, std::move(h)); }
void FlagSet::add(std::string n, double* t, std::string h) { add_flag(std::move(n), t, std::move(h)); }
void FlagSet::add(std::string n, float* t, std::string h) { add_flag(std::move(n), t, std::move(h)); }
void FlagSet::add(std::string n, bool* t, std::string h) { add_flag(std::move(n), t, std::move(h)); }

FlagSet::Flag* FlagSet::find(std::string_view name) {
  for (auto& f : flags_)
    for (const auto& n : f.names)
      if (n == name) return &f;
  return nullptr;
}

bool FlagSet::was_set(std::string_view name) const {
  for (const auto& f : flags_)
    for (const auto& n : f.names)
      if (n == name) return f.set;
  return false;
}

Status FlagSet::parse(std::span<const std::string> args) {
  auto bad = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, std::move(m)); };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      help_requested_ = true;
      return Ok{};
    }
    if (arg.size() < 2 || arg[0] != '-' || (arg[1] >= '0' && arg[1] <= '9')) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    Flag* flag = find(name);
    if (!flag) return bad("unknown flag " + name + " (see --help)");
    flag->set = true;
    if (auto* b = std::get_if<bool*>(&flag->target)) {
      if (!value) {
        **b = true;
      } else if (*value == "true" || *value == "1") {
        **b = true;
      } else if (*value == "false" || *value == "0") {
        **b = false;
      } else {
        return bad(name + " takes true or false, not \"" + *value + "\"");
      }
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) return bad(name + " needs a value");
      value = args[++i];
    }
    bool ok = std::visit(
        [&](auto* p) -> bool {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, std::string>) {
            *p = *value;
            return true;
          } else if constexpr (std::is_same_v<T, bool>) {
            return false;
          } else {
            return parse_number(*value, p);
          }
        },
        flag->target);
    if (!ok) return bad(name + ": cannot parse \"" + *value + "\"");
  }
  return Ok{};
}

std::string FlagSet::help() const {
  std::ostringstream os;
  os << "usage: " << usage_ << "\n\n" << summary_ << "\n\noptions:\n";
  for (const auto& f : flags_) {
    std::string names;
    for (const auto& n : f.names) names += (names.empty() ? "" : ", ") + n;
    bool is_switch = std::holds_alternative<bool*>(f.target);
    if (!is_switch) names += " V";
    os << "  " << names;
    if (names.size() < 26) os << std::string(26 - names.size(), ' ');
    else os << "\n" << std::string(28, ' ');
    os << f.help;
    if (!f.default_text.empty()) os << " (default " << f.default_text << ")";
    os << "\n";
  }
  os << "  -h, --help                show this help\n";
  return os.str();
}

}  // namespace ladle
