#include "model/jinja/json_value.h"

namespace ladle::jinja {
namespace {

template <class Json>
Value convert(const Json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value(nullptr);
    case nlohmann::json::value_t::boolean: return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.template get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return Value(static_cast<std::int64_t>(j.template get<std::uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value(j.template get<double>());
    case nlohmann::json::value_t::string: return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      ValueList out;
      for (const auto& item : j) out.push_back(convert(item));
      return Value(std::move(out));
    }
    case nlohmann::json::value_t::object: {
      ValueDict out;
      for (const auto& [k, v] : j.items()) out.set(k, convert(v));
      return Value(std::move(out));
    }
    default: return Value(nullptr);
  }
}

}  // namespace

Value value_from_json(const nlohmann::ordered_json& json) { return convert(json); }
Value value_from_json(const nlohmann::json& json) { return convert(json); }

}  // namespace ladle::jinja
