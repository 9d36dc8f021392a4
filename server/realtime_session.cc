#include "server/realtime_session.h"

#include <algorithm>

#include "server/json_fields.h"
#include "server/metrics.h"

namespace ladle::server {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

RealtimeSession::RealtimeSession(beast::tcp_stream&& stream, ServerState& state)
    : ws_(std::move(stream)), state_(state), stall_timer_(ws_.get_executor()), ids_(state.next_id("")),
      session_id_(state.next_id("sess_")) {
  state_.connection_opened();
}

RealtimeSession::~RealtimeSession() { state_.connection_closed(); }

void RealtimeSession::run(beast::http::request<beast::http::string_body> request, std::string subprotocol) {
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeout = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeout.idle_timeout = seconds(state_.config().idle_timeout);
  timeout.keep_alive_pings = true;
  ws_.set_option(timeout);
  const std::string origin = state_.config().allowed_origin;
  ws_.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
    res.set(beast::http::field::server, "ladle");
    if (!subprotocol.empty()) res.set(beast::http::field::sec_websocket_protocol, subprotocol);
  }));
  ws_.read_message_max(static_cast<std::uint64_t>(state_.config().max_body) * 4);
  ws_.async_accept(request, beast::bind_front_handler(&RealtimeSession::on_accept, shared_from_this()));
}

void RealtimeSession::on_accept(beast::error_code ec) {
  if (ec) return;
  scheduler::Engine* engine = state_.engine();
  json session = {{"type", "realtime"},
                  {"object", "realtime.session"},
                  {"id", session_id_},
                  {"model", engine ? engine->model_info().name : state_.config().model_name},
                  {"output_modalities", {"text"}},
                  {"instructions", ""},
                  {"max_output_tokens", "inf"}};
  event({}, dump({{"type", "session.created"}, {"event_id", ids_.next()}, {"session", std::move(session)}}), -1);
  flush();
  do_read();
}

void RealtimeSession::do_read() {
  buffer_.clear();
  ws_.async_read(buffer_, beast::bind_front_handler(&RealtimeSession::on_read, shared_from_this()));
}

void RealtimeSession::on_read(beast::error_code ec, std::size_t bytes) {
  if (ec) return gone();  // closed, reset, timed out, or a protocol violation Beast answered
  if (!ws_.got_text()) {
    send_error("invalid_frame", "binary frames are not supported: send JSON text", "");
  } else if (bytes > static_cast<std::size_t>(state_.config().max_body)) {
    send_error("message_too_large", "the message exceeds --max-body (" + std::to_string(state_.config().max_body) +
                                        " bytes)", "");
  } else {
    auto parsed = parse_client_event(beast::buffers_to_string(buffer_.data()));
    if (auto* e = std::get_if<ProtocolError>(&parsed)) send_error(e->code, e->message, e->event_id, e->param);
    else handle(std::get<ClientEvent>(parsed));
  }
  if (!closed_) do_read();
}

void RealtimeSession::send_error(const std::string& code, const std::string& message, const std::string& client_event_id,
                                 const std::string& param) {
  json error = {{"type", "invalid_request_error"}, {"code", code}, {"message", message},
                {"event_id", client_event_id.empty() ? json(nullptr) : json(client_event_id)},
                {"param", param.empty() ? json(nullptr) : json(param)}};
  event({}, dump({{"type", "error"}, {"event_id", ids_.next()}, {"error", std::move(error)}}), -1);
  flush();
}

void RealtimeSession::handle(const ClientEvent& e) {
  using Type = ClientEvent::Type;
  switch (e.type) {
    case Type::kSessionUpdate: {
      const auto& s = e.settings;
      if (s.instructions) settings_.instructions = s.instructions;
      if (s.temperature) settings_.temperature = s.temperature;
      if (s.max_output_tokens) settings_.max_output_tokens = s.max_output_tokens;
      json session = {{"type", "realtime"}, {"object", "realtime.session"}, {"id", session_id_},
                      {"instructions", settings_.instructions.value_or("")},
                      {"max_output_tokens", settings_.max_output_tokens.value_or(0) == 0
                                                ? json("inf") : json(*settings_.max_output_tokens)}};
      if (settings_.temperature) session["temperature"] = *settings_.temperature;
      event({}, dump({{"type", "session.updated"}, {"event_id", ids_.next()}, {"session", std::move(session)}}), -1);
      break;
    }
    case Type::kItemCreate: {
      std::string id = e.item_id.empty() ? state_.next_id("item_") : e.item_id;
      if (std::any_of(items_.begin(), items_.end(), [&](const Item& i) { return i.id == id; }))
        return send_error("duplicate_item_id", "an item with id '" + id + "' already exists", e.event_id, "item.id");
      auto at = items_.end();
      if (!e.previous_item_id.empty()) {
        at = std::find_if(items_.begin(), items_.end(), [&](const Item& i) { return i.id == e.previous_item_id; });
        if (at == items_.end())
          return send_error("item_not_found", "no item with id '" + e.previous_item_id + "'", e.event_id, "previous_item_id");
        ++at;
      }
      const std::string previous = at == items_.begin() ? "" : std::prev(at)->id;
      items_.insert(at, Item{id, e.message});
      const char* role = e.message.role == ChatRole::kUser ? "user" : e.message.role == ChatRole::kSystem ? "system" : "assistant";
      json item = {{"id", id}, {"object", "realtime.item"}, {"type", "message"}, {"status", "completed"}, {"role", role},
                   {"content", json::array({{{"type", e.message.role == ChatRole::kAssistant ? "text" : "input_text"},
                                             {"text", e.message.text}}})}};
      event({}, dump({{"type", "conversation.item.created"}, {"event_id", ids_.next()},
                      {"previous_item_id", previous.empty() ? json(nullptr) : json(previous)}, {"item", std::move(item)}}),
            -1);
      break;
    }
    case Type::kItemDelete: {
      auto it = std::find_if(items_.begin(), items_.end(), [&](const Item& i) { return i.id == e.item_id; });
      if (it == items_.end()) return send_error("item_not_found", "no item with id '" + e.item_id + "'", e.event_id, "item_id");
      items_.erase(it);
      event({}, dump({{"type", "conversation.item.deleted"}, {"event_id", ids_.next()}, {"item_id", e.item_id}}), -1);
      break;
    }
    case Type::kResponseCreate: return create_response(e);
    case Type::kResponseCancel:
      if (!generation_)
        return send_error("response_cancel_not_active", "there is no response in progress to cancel", e.event_id);
      encoder_->set_cancel_requested();
      generation_->cancel();
      break;
  }
  flush();
}

void RealtimeSession::create_response(const ClientEvent& e) {
  if (generation_)
    return send_error("conversation_already_has_active_response",
                      "a response is already in progress: wait for its response.done or cancel it", e.event_id);
  scheduler::Engine* engine = state_.engine();
  if (!engine || state_.health() != Health::kReady)
    return send_error("unavailable", "the server is loading or shutting down", e.event_id);
  std::vector<ChatMessage> messages;
  const auto instructions = e.settings.instructions ? e.settings.instructions : settings_.instructions;
  if (instructions && !instructions->empty()) messages.push_back({ChatRole::kSystem, *instructions});
  for (const auto& item : items_) messages.push_back(item.message);
  auto tokens = engine->tokenize_chat(messages, /*continue_last=*/false);
  if (!tokens) return send_error("invalid_value", tokens.error().message, e.event_id);
  const int context = engine->model_info().context_length;
  if (static_cast<int>(tokens->size()) >= context)
    return send_error("context_length_exceeded", "the conversation has " + std::to_string(tokens->size()) +
                                                     " tokens; this model's context holds " + std::to_string(context),
                      e.event_id);
  scheduler::GenerationRequest request;
  request.prompt_tokens = std::move(*tokens);
  request.params.temperature = e.settings.temperature.value_or(settings_.temperature.value_or(1.0f));
  const int max = e.settings.max_output_tokens.value_or(settings_.max_output_tokens.value_or(0));
  request.params.max_tokens = max > 0 ? max : context;
  encoder_ = std::make_unique<RealtimeEncoder>(state_.next_id("resp_"), state_.next_id("item_"), ids_);
  generation_ = std::make_unique<Generation>(*engine);
  std::weak_ptr<RealtimeSession> weak = weak_from_this();
  auto wake = [weak] {
    if (auto self = weak.lock()) self->pump();
  };
  state_.generation_started();  // before the engine has it, as HttpStream::start
  if (auto error = generation_->submit(std::move(request), ws_.get_executor(), wake, state_.wake_queue())) {
    state_.generation_ended();
    generation_.reset();
    encoder_.reset();
    return send_error(error->status == 429 ? "rate_limit_exceeded" : "invalid_value", error->message, e.event_id);
  }
  encoder_->accepted(*this);
  flush();
}

// Takes the engine's output only when nothing is being written, so text merges in the mailbox
// while the client is behind. Runs on every wake-up and after every write.
void RealtimeSession::pump() {
  if (!generation_ || closed_ || !writing_.empty() || !queued_.empty()) return;
  const Generation::Update u = generation_->take();
  if (u.admitted) encoder_->admitted(*u.admitted, *this);
  if (!u.text.empty()) encoder_->delta(u.text, u.logprobs, *this);
  if (u.finish) {
    if (finish_failed(*u.finish)) encoder_->fail(finish_error(*u.finish), *this);
    else encoder_->finish(*u.finish, *this);
    end_response();
  }
  flush();
}

// The answer joins the conversation (even a cancelled one's text, as OpenAI's does), so the next
// turn's prompt starts with this one's and reuses its KV blocks.
void RealtimeSession::end_response() {
  if (!encoder_->text().empty()) items_.push_back(Item{encoder_->item_id(), {ChatRole::kAssistant, encoder_->text()}});
  generation_.reset();
  encoder_.reset();
  state_.generation_ended();
}

void RealtimeSession::event(std::string_view, std::string_view data, std::int64_t) {
  queued_bytes_ += data.size();
  queued_.emplace_back(data);
  if (queued_bytes_ > kMaxQueued) close(websocket::close_code::policy_error, "too many unread events");
}

void RealtimeSession::flush() {
  if (closed_ || !writing_.empty() || queued_.empty()) return;
  writing_ = std::move(queued_.front());
  queued_.pop_front();
  queued_bytes_ -= writing_.size();
  ws_.text(true);
  write_started_ = std::chrono::steady_clock::now();
  if (!stall_armed_) arm_stall_check();
  ws_.async_write(boost::asio::buffer(writing_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->on_write(ec);
  });
}

void RealtimeSession::on_write(beast::error_code ec) {
  writing_.clear();
  if (ec) return gone();
  if (!queued_.empty()) return flush();
  pump();
}

void RealtimeSession::arm_stall_check() {
  stall_armed_ = true;
  stall_timer_.expires_at(write_started_ + seconds(state_.config().stall_timeout));
  stall_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    self->stall_armed_ = false;
    if (ec || self->closed_ || self->writing_.empty()) return;
    if (std::chrono::steady_clock::now() < self->write_started_ + seconds(self->state_.config().stall_timeout))
      return self->arm_stall_check();
    beast::get_lowest_layer(self->ws_).close();  // the write fails → gone()
  });
}

// A close frame when no write is in flight (Beast allows one write at a time, and a close is a
// write); otherwise the socket itself.
void RealtimeSession::close(websocket::close_code code, std::string reason) {
  if (closed_) return;
  const bool writing = !writing_.empty();
  gone();
  if (writing) return beast::get_lowest_layer(ws_).close();
  ws_.async_close(websocket::close_reason(code, reason), [self = shared_from_this()](beast::error_code) {});
}

// The connection is over: cancel the response in flight, if any.
void RealtimeSession::gone() {
  if (closed_) return;
  closed_ = true;
  stall_timer_.cancel();
  if (generation_) {
    if (!generation_->finished()) {
      generation_->cancel();
      if (state_.metrics()) state_.metrics()->on_client_disconnect();
    }
    generation_.reset();
    encoder_.reset();
    state_.generation_ended();
  }
}

}  // namespace ladle::server
