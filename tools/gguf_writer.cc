// GgufWriter: the GGUF v3 serialization (see gguf_writer.h for the layout).
#include "tools/gguf_writer.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>

namespace ladle::tools {

// NOTE(gguf): GGUF is little-endian, and so is every machine ladle runs on (x86-64, its SIMD
// kernels assume it). Writing native integers and floats as they lie in memory is then the format,
// and the tensors' bytes go straight from the checkpoint's mapping to the file.
static_assert(std::endian::native == std::endian::little, "GgufWriter writes native byte order");

namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};

template <class T>
void append(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void append_string(std::string& out, std::string_view s) {
  append<std::uint64_t>(out, s.size());
  out.append(s);
}

std::uint64_t align_up(std::uint64_t n) {
  return (n + GgufWriter::kAlignment - 1) / GgufWriter::kAlignment * GgufWriter::kAlignment;
}

// ggml's block layout of `type` (a 1-element, 4-byte block for an id ggml does not know).
model::GgmlTypeTraits traits(GgmlType type) {
  return model::ggml_type_traits(std::uint32_t(type)).value_or(model::GgmlTypeTraits{"?", 1, 4});
}

}  // namespace

GgufWriter::~GgufWriter() = default;  // an unfinished file_ removes its ".partial" file

void GgufWriter::begin_kv(std::string_view key, GgufValueType type) {
  if (opened_ && setup_error_.empty()) setup_error_ = "metadata key '" + std::string(key) + "' added after open()";
  if (!keys_.emplace(key).second && setup_error_.empty())
    setup_error_ = "metadata key '" + std::string(key) + "' added twice";
  append_string(metadata_, key);
  append(metadata_, type);
}

void GgufWriter::begin_array(std::string_view key, GgufValueType element_type, std::size_t count) {
  begin_kv(key, GgufValueType::kArray);
  append(metadata_, element_type);
  append<std::uint64_t>(metadata_, count);
}

void GgufWriter::add_u32(std::string_view key, std::uint32_t value) {
  begin_kv(key, GgufValueType::kUint32);
  append(metadata_, value);
}

void GgufWriter::add_f32(std::string_view key, float value) {
  begin_kv(key, GgufValueType::kFloat32);
  append(metadata_, value);
}

void GgufWriter::add_bool(std::string_view key, bool value) {
  begin_kv(key, GgufValueType::kBool);
  append<std::uint8_t>(metadata_, value ? 1 : 0);  // one byte, 0 or 1
}

void GgufWriter::add_string(std::string_view key, std::string_view value) {
  begin_kv(key, GgufValueType::kString);
  append_string(metadata_, value);
}

void GgufWriter::add_strings(std::string_view key, std::span<const std::string> values) {
  begin_array(key, GgufValueType::kString, values.size());
  for (const std::string& v : values) append_string(metadata_, v);
}

void GgufWriter::add_f32s(std::string_view key, std::span<const float> values) {
  begin_array(key, GgufValueType::kFloat32, values.size());
  metadata_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

void GgufWriter::add_i32s(std::string_view key, std::span<const std::int32_t> values) {
  begin_array(key, GgufValueType::kInt32, values.size());
  metadata_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

void GgufWriter::add_value(std::string_view key, const model::GgufValue& value) {
  if (value.is_array()) begin_array(key, GgufValueType(value.element_type), value.count);
  else begin_kv(key, GgufValueType(value.type));
  if (value.element_type == std::uint32_t(GgufValueType::kString)) {
    for (std::string_view s : value.strings) append_string(metadata_, s);
  } else {
    metadata_.append(reinterpret_cast<const char*>(value.fixed.data()), value.fixed.size());
  }
}

void GgufWriter::add_tensor(std::string_view name, std::vector<std::int64_t> ne, GgmlType type) {
  auto note = [&](const std::string& what) {
    if (setup_error_.empty()) setup_error_ = "tensor '" + std::string(name) + "': " + what;
  };
  if (opened_) note("added after open()");
  if (ne.empty() || ne.size() > 4) note(std::to_string(ne.size()) + " dimensions (ggml takes 1 to 4)");
  if (!model::ggml_type_traits(std::uint32_t(type))) note("unknown ggml type " + std::to_string(std::uint32_t(type)));
  else if (!ne.empty() && ne[0] % traits(type).block_elements != 0)
    note("rows of " + std::to_string(ne[0]) + " are not whole " + traits(type).name + " blocks");
  for (std::int64_t n : ne)
    if (n <= 0) note("dimension " + std::to_string(n) + " is not positive");
  for (const TensorInfo& t : tensors_)
    if (t.name == name) note("added twice");
  tensors_.push_back({std::string(name), std::move(ne), type, data_bytes_});
  data_bytes_ += align_up(tensor_bytes(tensors_.size() - 1));
}

std::uint64_t GgufWriter::tensor_bytes(std::size_t index) const {
  const model::GgmlTypeTraits t = traits(tensors_[index].type);
  std::uint64_t n = 1;
  for (std::int64_t d : tensors_[index].ne) n *= std::uint64_t(d > 0 ? d : 0);
  return n / t.block_elements * t.block_bytes;
}

Status GgufWriter::fail(std::string message) {
  return make_error(ErrorCode::kInternal, path_ + ": " + std::move(message));
}

Status GgufWriter::put(const void* data, std::size_t bytes) {
  if (bytes != 0 && std::fwrite(data, 1, bytes, file_->get()) != bytes)
    return fail(std::string("write failed: ") + std::strerror(errno));
  position_ += bytes;
  return Ok{};
}

Status GgufWriter::pad_to_alignment() {
  static constexpr std::array<char, kAlignment> kZeros{};
  return put(kZeros.data(), align_up(position_) - position_);
}

Status GgufWriter::open(const std::string& path) {
  if (opened_) return make_error(ErrorCode::kInvalidArgument, "gguf: open() called twice");
  add_u32("general.alignment", kAlignment);
  opened_ = true;
  if (!setup_error_.empty()) return make_error(ErrorCode::kInvalidArgument, "gguf: " + setup_error_);
  path_ = path;
  file_ = std::make_unique<model::ReplacingFile>(path);
  if (auto st = file_->opened(); !st.ok()) {
    file_.reset();
    return st;
  }
  // Tensor data goes out in large runs already; a bigger stdio buffer just batches the metadata.
  std::setvbuf(file_->get(), nullptr, _IOFBF, std::size_t(1) << 20);

  std::string head(kMagic, sizeof kMagic);
  append<std::uint32_t>(head, kVersion);
  append<std::uint64_t>(head, tensors_.size());
  append<std::uint64_t>(head, keys_.size());  // no duplicates, or open() failed above
  head += metadata_;
  for (const TensorInfo& t : tensors_) {
    append_string(head, t.name);
    append<std::uint32_t>(head, std::uint32_t(t.ne.size()));
    for (std::int64_t n : t.ne) append<std::uint64_t>(head, std::uint64_t(n));
    append(head, t.type);
    append<std::uint64_t>(head, t.offset);
  }
  if (auto st = put(head.data(), head.size()); !st.ok()) return st;
  return pad_to_alignment();  // the data section starts aligned
}

Status GgufWriter::write(std::span<const std::byte> bytes) {
  if (!file_ || finished_) return make_error(ErrorCode::kInvalidArgument, "gguf: write() outside open()..finish()");
  while (!bytes.empty()) {
    if (current_ == tensors_.size())
      return fail(std::to_string(bytes.size()) + " bytes of tensor data beyond the last tensor");
    const std::uint64_t room = tensor_bytes(current_) - current_written_;
    const std::size_t n = std::size_t(std::min<std::uint64_t>(room, bytes.size()));
    if (auto st = put(bytes.data(), n); !st.ok()) return st;
    bytes = bytes.subspan(n);
    current_written_ += n;
    if (current_written_ == tensor_bytes(current_)) {
      if (auto st = pad_to_alignment(); !st.ok()) return st;
      ++current_;
      current_written_ = 0;
    }
  }
  return Ok{};
}

Status GgufWriter::finish() {
  if (!file_ || finished_) return make_error(ErrorCode::kInvalidArgument, "gguf: finish() without open()");
  if (!setup_error_.empty()) return fail(setup_error_);
  if (current_ != tensors_.size())
    return fail("tensor '" + tensors_[current_].name + "' got " + std::to_string(current_written_) + " of its " +
                std::to_string(tensor_bytes(current_)) + " bytes");
  if (auto st = file_->commit(); !st.ok()) {
    file_.reset();  // removes what is left of the ".partial" file; later calls fail cleanly
    return fail(st.error().message);
  }
  finished_ = true;
  return Ok{};
}

}  // namespace ladle::tools
