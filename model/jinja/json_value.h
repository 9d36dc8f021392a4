// Conversion of JSON (nlohmann) to jinja Values: how messages, tools and other request data reach
// a template. Object key order is kept when the JSON is an ordered_json, as Python's dicts keep it.
#pragma once

#include <nlohmann/json.hpp>

#include "model/jinja/value.h"

namespace ladle::jinja {

Value value_from_json(const nlohmann::ordered_json& json);
Value value_from_json(const nlohmann::json& json);

}  // namespace ladle::jinja
