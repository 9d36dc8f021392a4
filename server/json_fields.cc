#include "server/json_fields.h"

#include <cmath>
#include <limits>

#include "server/json_limits.h"

namespace ladle::server {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<ApiError> read_float(const json& body, const char* key, float* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return invalid_param(key, std::string(key) + " must be a number");
  double v = it->get<double>();
  if (!std::isfinite(v)) return invalid_param(key, std::string(key) + " must be finite");
  *out = static_cast<float>(v);
  return std::nullopt;
}

std::optional<ApiError> read_int(const json& body, const char* key, int* out, bool* given) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  bool integral = it->is_number_integer() ||
                  (it->is_number_float() && std::trunc(it->get<double>()) == it->get<double>());
  if (!integral) return invalid_param(key, std::string(key) + " must be an integer");
  double v = it->get<double>();
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    return invalid_param(key, std::string(key) + " is out of range");
  *out = static_cast<int>(v);
  if (given) *given = true;
  return std::nullopt;
}

std::optional<ApiError> read_bool(const json& body, const char* key, bool* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return invalid_param(key, std::string(key) + " must be a boolean");
  *out = it->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> read_string(const json& body, const char* key, std::string* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return invalid_param(key, std::string(key) + " must be a string");
  *out = it->get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> read_strings(const json& body, const char* key, std::vector<std::string>* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  const std::string message = std::string(key) + " must be a string or an array of strings";
  if (it->is_string()) {
    *out = {it->get<std::string>()};
    return std::nullopt;
  }
  if (!it->is_array()) return invalid_param(key, message);
  out->clear();
  for (const auto& s : *it) {
    if (!s.is_string()) return invalid_param(key, message);
    out->push_back(s.get<std::string>());
  }
  return std::nullopt;
}

bool is_zero(const json& v) { return v.is_number() && v.get<double>() == 0; }
bool is_false(const json& v) { return v.is_boolean() && !v.get<bool>(); }
bool empty_container(const json& v) { return (v.is_object() || v.is_array()) && v.empty(); }
bool is_object(const json& v) { return v.is_object(); }

std::optional<ApiError> check_fields(const json& body, std::span<const FieldRule> rules, unsigned where,
                                     std::string (*unknown)(const std::string& key)) {
  for (const auto& [key, value] : body.items()) {
    const FieldRule* rule = nullptr;
    for (const FieldRule& r : rules)
      if (key == r.name && (r.where & where)) rule = &r;
    if (rule == nullptr) return invalid_param(key, unknown(key));
    if (rule->neutral != nullptr && !value.is_null() && !rule->neutral(value))
      return invalid_param(key, key + " is not supported by this server (only its default value is accepted)");
  }
  return std::nullopt;
}

std::optional<json> parse_object(std::string_view body, ApiError& error) {
  if (auto e = check_json_limits(body)) return error = *e, std::nullopt;  // before a tree is built
  json j;
  try {  // the library reports malformed JSON (and invalid UTF-8) by exception; caught here, once
    j = json::parse(body);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 6E666
    error = ApiError{400, std::string("malformed JSON body: ") + e.what(), "invalid_request_error", "", ""};
    return std::nullopt;
  }
  if (!j.is_object()) {
    error = ApiError{400, "the body must be a JSON object", "invalid_request_error", "", ""};
    return std::nullopt;
  }
  return j;
}

}  // namespace ladle::server
