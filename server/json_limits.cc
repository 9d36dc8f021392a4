#include "server/json_limits.h"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ladle::server {
namespace {

using nlohmann::json;

// A SAX consumer that counts and never stores values. Returning false from any event stops the
// parse at once; `error` then says why (a parse error leaves it empty).
class LimitChecker {
 public:
  explicit LimitChecker(const JsonLimits& limits) : limits_(limits) {}

  std::optional<ApiError> error;

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(json::number_integer_t) { return value(); }
  bool number_unsigned(json::number_unsigned_t) { return value(); }
  bool number_float(json::number_float_t, const json::string_t&) { return value(); }
  bool string(json::string_t&) { return value(); }
  bool binary(json::binary_t&) { return value(); }

  bool start_object(std::size_t) { return open(false); }
  bool key(json::string_t& name) {
    Frame& f = stack_.back();
    if (++f.count > limits_.max_object_members)
      return fail("an object in the body has more than " + std::to_string(limits_.max_object_members) + " members",
                  "", "object_above_max_size");
    if (stack_.size() == 1) top_key_ = name;  // a member of the body object itself
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(true); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t, const std::string&, const json::exception&) { return false; }

 private:
  struct Frame {
    bool array = false;
    std::size_t count = 0;  // elements (array) or members (object) so far
    std::size_t limit = 0;  // arrays only
    std::string name;       // a top-level member's name, for the error's param ("" otherwise)
  };

  // One more element in the enclosing array, if it is one.
  bool value() {
    if (stack_.empty() || !stack_.back().array) return true;
    Frame& f = stack_.back();
    if (++f.count <= f.limit) return true;
    const std::string what = f.name.empty() ? "an array in the body" : "'" + f.name + "'";
    return fail("Invalid " + what + ": array too long. Expected an array with maximum length " +
                    std::to_string(f.limit) + ", but got a longer one.",
                f.name, "array_above_max_length");
  }

  bool open(bool array) {
    if (!value()) return false;
    if (static_cast<int>(stack_.size()) >= limits_.max_depth)
      return fail("the JSON body nests objects and arrays more than " + std::to_string(limits_.max_depth) +
                      " levels deep",
                  "", "json_too_deep");
    Frame f;
    f.array = array;
    f.limit = limits_.max_array_length;
    if (array && stack_.size() == 1 && !stack_.back().array) {  // a top-level field's array
      f.name = top_key_;
      if (top_key_ == "prompt" || top_key_ == "tokens") f.limit = limits_.max_token_ids;
      else if (top_key_ == "messages") f.limit = limits_.max_messages;
      else if (top_key_ == "stop") f.limit = limits_.max_stop;
    }
    stack_.push_back(std::move(f));
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  bool fail(std::string message, std::string param, std::string code) {
    error = ApiError{400, std::move(message), "invalid_request_error", std::move(param), std::move(code)};
    return false;
  }

  const JsonLimits& limits_;
  std::vector<Frame> stack_;
  std::string top_key_;
};

}  // namespace

std::optional<ApiError> check_json_limits(std::string_view body, const JsonLimits& limits) {
  LimitChecker checker(limits);
  json::sax_parse(body.begin(), body.end(), &checker);
  return std::move(checker.error);
}

}  // namespace ladle::server
