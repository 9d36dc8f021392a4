#include "server/realtime_protocol.h"

#include <cmath>

#include "server/json_fields.h"

namespace ladle::server {
namespace {

ProtocolError error(std::string code, std::string message, std::string param = "") {
  return ProtocolError{std::move(code), std::move(message), "", std::move(param)};
}

std::optional<ProtocolError> read_settings(const json& obj, const char* where, RealtimeSettings& out) {
  if (!obj.is_object()) return error("invalid_value", std::string(where) + " must be an object", where);
  for (const auto& [key, value] : obj.items()) {
    const std::string param = std::string(where) + "." + key;
    if (key == "instructions") {
      if (!value.is_string()) return error("invalid_value", param + " must be a string", param);
      out.instructions = value.get<std::string>();
    } else if (key == "temperature") {
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0 || value.get<double>() > 2)
        return error("invalid_value", param + " must be a number in [0, 2]", param);
      out.temperature = value.get<float>();
    } else if (key == "max_output_tokens" || key == "max_response_output_tokens") {
      if (value == "inf") {
        out.max_output_tokens = 0;
      } else if (value.is_number_integer() && value.get<long long>() >= 1 && value.get<long long>() <= 4096) {
        out.max_output_tokens = value.get<int>();
      } else {
        return error("invalid_value", param + " must be an integer in [1, 4096] or \"inf\"", param);
      }
    } else if (key == "type" || key == "model" || key == "object" || key == "id") {
      continue;  // echoed by clients that send back what session.created said
    } else if (key == "output_modalities" || key == "modalities") {
      if (value != json::array({"text"})) return error("unsupported", param + ": only [\"text\"] is supported", param);
    } else {
      return error("unsupported", param + " is not supported by this server", param);
    }
  }
  return std::nullopt;
}

std::optional<ProtocolError> read_item(const json& j, ClientEvent& e) {
  auto item = j.find("item");
  if (item == j.end() || !item->is_object()) return error("missing_field", "item is required", "item");
  if (item->value("type", "message") != "message")
    return error("unsupported", "only message items are supported", "item.type");
  if (auto id = item->find("id"); id != item->end() && !id->is_null()) {
    if (!id->is_string() || id->get_ref<const std::string&>().empty() || id->get_ref<const std::string&>().size() > 64)
      return error("invalid_value", "item.id must be a string of 1 to 64 characters", "item.id");
    e.item_id = id->get<std::string>();
  }
  const std::string role = item->value("role", "");
  if (role == "user") e.message.role = ChatRole::kUser;
  else if (role == "system") e.message.role = ChatRole::kSystem;
  else if (role == "assistant") e.message.role = ChatRole::kAssistant;
  else return error("invalid_value", "item.role must be user, system or assistant", "item.role");
  auto content = item->find("content");
  if (content == item->end() || !content->is_array() || content->empty())
    return error("missing_field", "item.content must be a non-empty list of text parts", "item.content");
  for (const auto& part : *content) {
    const std::string type = part.is_object() ? part.value("type", "") : "";
    if (type != "input_text" && type != "text" && type != "output_text")
      return error("unsupported", "content parts of type '" + type + "' are not supported (text only)", "item.content");
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) return error("missing_field", "a text part needs a string 'text'", "item.content");
    e.message.text += text->get<std::string>();
  }
  if (auto prev = j.find("previous_item_id"); prev != j.end() && !prev->is_null()) {
    if (!prev->is_string()) return error("invalid_value", "previous_item_id must be a string", "previous_item_id");
    e.previous_item_id = prev->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

std::variant<ClientEvent, ProtocolError> parse_client_event(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error("invalid_json", "the message is not valid JSON (UTF-8)");
  if (!j.is_object()) return error("invalid_json", "a client event must be a JSON object");
  ClientEvent e;
  if (auto id = j.find("event_id"); id != j.end() && id->is_string()) e.event_id = id->get<std::string>();
  auto fail = [&](ProtocolError err) {
    err.event_id = e.event_id;
    return err;
  };
  auto type = j.find("type");
  if (type == j.end() || !type->is_string()) return fail(error("missing_field", "type is required", "type"));
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "session.update") {
    e.type = ClientEvent::Type::kSessionUpdate;
    auto session = j.find("session");
    if (session == j.end()) return fail(error("missing_field", "session is required", "session"));
    if (auto err = read_settings(*session, "session", e.settings)) return fail(*err);
  } else if (t == "conversation.item.create") {
    e.type = ClientEvent::Type::kItemCreate;
    if (auto err = read_item(j, e)) return fail(*err);
  } else if (t == "conversation.item.delete") {
    e.type = ClientEvent::Type::kItemDelete;
    auto id = j.find("item_id");
    if (id == j.end() || !id->is_string()) return fail(error("missing_field", "item_id is required", "item_id"));
    e.item_id = id->get<std::string>();
  } else if (t == "response.create") {
    e.type = ClientEvent::Type::kResponseCreate;
    if (auto r = j.find("response"); r != j.end() && !r->is_null())
      if (auto err = read_settings(*r, "response", e.settings)) return fail(*err);
  } else if (t == "response.cancel") {
    e.type = ClientEvent::Type::kResponseCancel;
  } else {
    return fail(error("unknown_event", "unknown client event type '" + t + "'", "type"));
  }
  return e;
}

}  // namespace ladle::server
