// Readers for the fields of a JSON request body, shared by every dialect's request parser: each
// checks the type and range of one field and reports a 400 naming it. Absent and null fields leave
// the output untouched.
//
// FieldRule tables: every dialect refuses a field it does not know (a typo would otherwise run with
// the default silently), and a field of the upstream API that ladle does not implement passes only
// at its neutral value (what SDKs send by default); otherwise it is refused by name rather than
// ignored.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace ladle::server {

using nlohmann::json;

// dump() that never throws: text is UTF-8 safe, but a replacement beats an exception.
std::string dump(const json& j);

std::optional<ApiError> read_float(const json& body, const char* key, float* out);
// An integer (a float with no fraction is accepted, as JSON libraries write 1.0) within int range.
std::optional<ApiError> read_int(const json& body, const char* key, int* out, bool* given = nullptr);
std::optional<ApiError> read_bool(const json& body, const char* key, bool* out);
std::optional<ApiError> read_string(const json& body, const char* key, std::string* out);
// A string, or an array of strings (at most `max`); `param` names it in errors.
std::optional<ApiError> read_strings(const json& body, const char* key, std::vector<std::string>* out);

struct FieldRule {
  const char* name;
  unsigned where;                  // bit mask of the endpoints that know the field
  bool (*neutral)(const json&);    // null: the parser reads the field itself
};

// Neutral-value predicates for FieldRule.
bool is_zero(const json& v);
bool is_false(const json& v);
bool empty_container(const json& v);
bool is_object(const json& v);

// The first field of `body` that `rules` (for endpoint bit `where`) does not know, or sets to
// anything but its neutral value, as a 400. `unknown` words the message for an unknown field.
std::optional<ApiError> check_fields(const json& body, std::span<const FieldRule> rules, unsigned where,
                                     std::string (*unknown)(const std::string& key));

// Parses a body that must be a JSON object (invalid UTF-8 is malformed JSON), or a 400.
std::optional<json> parse_object(std::string_view body, ApiError& error);

}  // namespace ladle::server
