// GgufFile: the GGUF parser (see gguf_file.h for the layout and what it refuses).
#include "model/gguf_file.h"

#include <bit>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace ladle::model {

static_assert(std::endian::native == std::endian::little, "GgufFile reads GGUF's little-endian values in place");

namespace {

constexpr std::uint32_t kGgmlMaxName = 64;  // GGML_MAX_NAME: names are shorter, with their NUL

// A bounds-checked read position over the file. Every read either succeeds whole or sets the
// error (naming what was being read and where) and fails; nothing is read past the end.
class Cursor {
 public:
  explicit Cursor(std::span<const std::byte> bytes) : bytes_(bytes) {}

  std::uint64_t pos() const { return pos_; }
  std::uint64_t left() const { return bytes_.size() - pos_; }
  const std::string& error() const { return error_; }

  bool fail(const std::string& what) {
    if (error_.empty()) error_ = what + " (at byte " + std::to_string(pos_) + ")";
    return false;
  }
  // `n` bytes as a span; `what` names them in the error.
  bool take(std::uint64_t n, std::span<const std::byte>& out, const std::string& what) {
    if (n > left())
      return fail("truncated: " + what + " needs " + std::to_string(n) + " bytes, the file has " +
                  std::to_string(left()) + " left");
    out = bytes_.subspan(std::size_t(pos_), std::size_t(n));
    pos_ += n;
    return true;
  }
  template <class T>
  bool pod(T& v, const std::string& what) {
    std::span<const std::byte> s;
    if (!take(sizeof(T), s, what)) return false;
    std::memcpy(&v, s.data(), sizeof(T));
    return true;
  }
  bool str(std::string_view& s, const std::string& what) {
    std::uint64_t n = 0;
    std::span<const std::byte> b;
    if (!pod(n, what + " length") || !take(n, b, what)) return false;
    s = {reinterpret_cast<const char*>(b.data()), b.size()};
    return true;
  }

 private:
  std::span<const std::byte> bytes_;
  std::uint64_t pos_ = 0;
  std::string error_;
};

// Reads `count` elements of `type` into `v` (count already checked against the bytes left).
bool read_elements(Cursor& in, std::uint32_t type, std::uint64_t count, GgufValue& v, const std::string& what) {
  if (type == std::uint32_t(GgufValueType::kString)) {
    // Each string takes at least its 8-byte length: a count beyond that is a truncated file.
    if (count > in.left() / 8) return in.fail("truncated: " + what + " declares " + std::to_string(count) + " strings");
    v.strings.reserve(std::size_t(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      std::string_view s;
      if (!in.str(s, what + " string " + std::to_string(i))) return false;
      v.strings.push_back(s);
    }
    return true;
  }
  if (type == std::uint32_t(GgufValueType::kArray)) return in.fail(what + " is an array of arrays, which GGUF readers do not support");
  const std::size_t size = gguf_value_size(type);
  if (size == 0) return in.fail(what + " has unknown value type " + std::to_string(type));
  if (count > in.left() / size)
    return in.fail("truncated: " + what + " declares " + std::to_string(count) + " elements of " +
                   gguf_value_type_name(type) + ", the file has " + std::to_string(in.left()) + " bytes left");
  if (!in.take(count * size, v.fixed, what)) return false;
  if (type == std::uint32_t(GgufValueType::kBool))
    for (std::byte b : v.fixed)
      if (std::uint8_t(b) > 1) return in.fail(what + " holds a bool that is neither 0 nor 1");
  return true;
}

bool read_value(Cursor& in, GgufValue& v, const std::string& what) {
  if (!in.pod(v.type, what + " type")) return false;
  v.element_type = v.type;
  v.count = 1;
  if (v.type == std::uint32_t(GgufValueType::kArray)) {
    if (!in.pod(v.element_type, what + " element type") || !in.pod(v.count, what + " element count")) return false;
  }
  return read_elements(in, v.element_type, v.count, v, what);
}

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

// --- GgufValue ----------------------------------------------------------------------------------

std::optional<double> GgufValue::number(std::uint64_t i) const {
  if (i >= count || !strings.empty() || fixed.empty()) return std::nullopt;
  const std::byte* p = fixed.data() + i * gguf_value_size(element_type);
  switch (GgufValueType(element_type)) {
    case GgufValueType::kUint8: return double(load<std::uint8_t>(p));
    case GgufValueType::kInt8: return double(load<std::int8_t>(p));
    case GgufValueType::kUint16: return double(load<std::uint16_t>(p));
    case GgufValueType::kInt16: return double(load<std::int16_t>(p));
    case GgufValueType::kUint32: return double(load<std::uint32_t>(p));
    case GgufValueType::kInt32: return double(load<std::int32_t>(p));
    case GgufValueType::kFloat32: return double(load<float>(p));
    case GgufValueType::kBool: return double(load<std::uint8_t>(p));
    case GgufValueType::kUint64: return double(load<std::uint64_t>(p));
    case GgufValueType::kInt64: return double(load<std::int64_t>(p));
    case GgufValueType::kFloat64: return load<double>(p);
    default: return std::nullopt;
  }
}

std::optional<std::int64_t> GgufValue::as_int() const {
  if (is_array() || fixed.empty()) return std::nullopt;
  const std::byte* p = fixed.data();
  switch (GgufValueType(type)) {
    case GgufValueType::kUint8: return load<std::uint8_t>(p);
    case GgufValueType::kInt8: return load<std::int8_t>(p);
    case GgufValueType::kUint16: return load<std::uint16_t>(p);
    case GgufValueType::kInt16: return load<std::int16_t>(p);
    case GgufValueType::kUint32: return load<std::uint32_t>(p);
    case GgufValueType::kInt32: return load<std::int32_t>(p);
    case GgufValueType::kInt64: return load<std::int64_t>(p);
    case GgufValueType::kUint64: {
      const auto u = load<std::uint64_t>(p);
      if (u > std::uint64_t(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
      return std::int64_t(u);
    }
    default: return std::nullopt;
  }
}

std::optional<double> GgufValue::as_float() const {
  if (type == std::uint32_t(GgufValueType::kFloat32) || type == std::uint32_t(GgufValueType::kFloat64)) return number(0);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (type != std::uint32_t(GgufValueType::kBool)) return std::nullopt;
  return fixed[0] != std::byte{0};
}

std::optional<std::string_view> GgufValue::as_string() const {
  if (type != std::uint32_t(GgufValueType::kString)) return std::nullopt;
  return strings.at(0);
}

std::string GgufValue::type_name() const {
  if (is_array()) return "array of " + gguf_value_type_name(element_type);
  return gguf_value_type_name(type);
}

std::string GgufTensorInfo::shape() const {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[std::size_t(d)]);
  return s + "]";
}

// --- GgufFile -----------------------------------------------------------------------------------

Error GgufFile::error(const std::string& what) const {
  return make_error(ErrorCode::kInvalidArgument, "gguf " + name_ + ": " + what);
}

Expected<GgufFile> GgufFile::open(const std::string& path) {
  auto map = MappedFile::open(path, "gguf");
  if (!map) return map.error();
  auto file = parse(map->bytes(), path);
  if (!file) return file.error();
  file->map_ = std::move(*map);  // the views stay valid: the mapping does not move
  return file;
}

Expected<GgufFile> GgufFile::parse(std::span<const std::byte> bytes, const std::string& name) {
  GgufFile f;
  f.name_ = name;
  f.bytes_ = bytes;
  Cursor in(bytes);
  auto bad = [&]() { return f.error(in.error()); };

  // Header.
  std::span<const std::byte> magic;
  if (!in.take(4, magic, "the magic")) return bad();
  if (std::memcmp(magic.data(), "GGUF", 4) != 0) {
    std::string shown;
    for (std::byte b : magic) shown += std::isprint(int(b)) ? char(b) : '?';
    return f.error("not a GGUF file: magic '" + shown + "', expected 'GGUF'");
  }
  if (!in.pod(f.version_, "the version")) return bad();
  if (f.version_ != 2 && f.version_ != 3) {
    std::string why = f.version_ == 1 ? " (GGUF v1 is obsolete; re-convert the model)"
                      : (f.version_ & 0xFFFF) == 0 ? " (a big-endian file? ladle reads little-endian GGUF)" : "";
    return f.error("unsupported GGUF version " + std::to_string(f.version_) + why + "; ladle reads versions 2 and 3");
  }
  std::uint64_t n_tensors = 0, n_kv = 0;
  if (!in.pod(n_tensors, "the tensor count") || !in.pod(n_kv, "the metadata count")) return bad();
  // A key/value takes at least 8 + 4 + 1 bytes and a tensor info 8 + 4 + 8 + 4 + 8.
  if (n_kv > in.left() / 13) return f.error("truncated: " + std::to_string(n_kv) + " metadata entries cannot fit in " + std::to_string(bytes.size()) + " bytes");
  if (n_tensors > in.left() / 32) return f.error("truncated: " + std::to_string(n_tensors) + " tensor infos cannot fit in " + std::to_string(bytes.size()) + " bytes");

  // Metadata.
  std::unordered_set<std::string_view> keys;
  f.metadata_.reserve(std::size_t(n_kv));
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    GgufKeyValue kv;
    if (!in.str(kv.key, "metadata key " + std::to_string(i))) return bad();
    if (kv.key.empty()) return f.error("metadata key " + std::to_string(i) + " is empty");
    if (!keys.insert(kv.key).second) return f.error("metadata key '" + std::string(kv.key) + "' appears twice");
    if (!read_value(in, kv.value, "the value of '" + std::string(kv.key) + "'")) return bad();
    f.metadata_.push_back(std::move(kv));
  }
  if (const GgufValue* a = f.find("general.alignment")) {
    const auto n = a->as_int();
    if (a->type != std::uint32_t(GgufValueType::kUint32) || !n || *n == 0 || !std::has_single_bit(std::uint64_t(*n)))
      return f.error("general.alignment must be a u32 power of two, not a " + a->type_name() +
                     (n ? " " + std::to_string(*n) : std::string()));
    f.alignment_ = std::uint64_t(*n);
  }

  // Tensor infos.
  std::unordered_set<std::string_view> names;
  f.tensors_.reserve(std::size_t(n_tensors));
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    const std::string which = "tensor info " + std::to_string(i);
    if (!in.str(t.name, which + " name")) return bad();
    const std::string tn = "tensor '" + std::string(t.name) + "'";
    if (t.name.empty()) return f.error(which + " has an empty name");
    if (t.name.size() >= kGgmlMaxName) return f.error(which + " name is " + std::to_string(t.name.size()) + " bytes, ggml allows 63");
    if (!names.insert(t.name).second) return f.error(tn + " appears twice");
    std::uint32_t n_dims = 0;
    if (!in.pod(n_dims, tn + " dimension count")) return bad();
    if (n_dims == 0 || n_dims > 4) return f.error(tn + " has " + std::to_string(n_dims) + " dimensions; ggml takes 1 to 4");
    t.n_dims = int(n_dims);
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      if (!in.pod(t.ne[d], tn + " dimension " + std::to_string(d))) return bad();
      if (t.ne[d] < 0) return f.error(tn + " dimension " + std::to_string(d) + " is negative (" + std::to_string(t.ne[d]) + ")");
    }
    std::uint64_t n = 1;
    for (std::int64_t x : t.ne) {
      if (x != 0 && n > std::uint64_t(std::numeric_limits<std::int64_t>::max()) / std::uint64_t(x))
        return f.error(tn + " of shape " + t.shape() + " has more elements than fit int64");
      n *= std::uint64_t(x);
    }
    t.num_elements = n;
    if (!in.pod(t.type, tn + " type") || !in.pod(t.offset, tn + " offset")) return bad();
    const auto traits = ggml_type_traits(t.type);
    if (!traits) return f.error(tn + " has unknown ggml tensor type " + std::to_string(t.type));
    if (t.ne[0] % traits->block_elements != 0)
      return f.error(tn + " of type " + traits->name + " has rows of " + std::to_string(t.ne[0]) +
                     " elements, not a multiple of its block of " + std::to_string(traits->block_elements));
    if (t.offset % f.alignment_ != 0)
      return f.error(tn + " offset " + std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(f.alignment_));
    f.tensors_.push_back(t);
  }

  // The data section starts at the next multiple of the alignment; every tensor must lie inside.
  const std::uint64_t end_of_infos = in.pos();
  f.data_offset_ = (end_of_infos + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  if (f.data_offset_ > bytes.size() && !f.tensors_.empty())
    return f.error("truncated: the data section would start at byte " + std::to_string(f.data_offset_) +
                   ", past the end of the " + std::to_string(bytes.size()) + "-byte file");
  for (GgufTensorInfo& t : f.tensors_) {
    const auto traits = *ggml_type_traits(t.type);
    // num_elements < 2^63 and block_bytes / block_elements <= 4.25: no overflow in 64 bits... except
    // for one-element types of 8 bytes, so divide first (rows are whole blocks, so this is exact).
    const std::uint64_t blocks = t.num_elements / traits.block_elements;
    if (blocks > std::numeric_limits<std::uint64_t>::max() / traits.block_bytes)
      return f.error("tensor '" + std::string(t.name) + "' is larger than 2^64 bytes");
    const std::uint64_t nbytes = blocks * traits.block_bytes;
    const std::uint64_t room = bytes.size() - std::min<std::uint64_t>(f.data_offset_, bytes.size());
    if (t.offset > room || nbytes > room - t.offset)
      return f.error("tensor '" + std::string(t.name) + "' (" + traits.name + " " + t.shape() + ", " +
                     std::to_string(nbytes) + " bytes at data offset " + std::to_string(t.offset) +
                     ") lies outside the file: the data section holds " + std::to_string(room) + " bytes");
    t.data = bytes.subspan(std::size_t(f.data_offset_ + t.offset), std::size_t(nbytes));
  }
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const GgufKeyValue& kv : metadata_)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const GgufTensorInfo& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

Expected<std::uint64_t> GgufFile::get_uint(std::string_view key, std::uint64_t max) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return error("metadata key '" + std::string(key) + "' is missing");
  const auto n = v->as_int();
  if (!n) return error("metadata key '" + std::string(key) + "' is a " + v->type_name() + ", not an integer");
  if (*n < 0 || std::uint64_t(*n) > max)
    return error("metadata key '" + std::string(key) + "' is " + std::to_string(*n) + ", outside [0, " + std::to_string(max) + "]");
  return std::uint64_t(*n);
}

Expected<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return error("metadata key '" + std::string(key) + "' is missing");
  const auto x = v->as_float();
  if (!x) return error("metadata key '" + std::string(key) + "' is a " + v->type_name() + ", not a float");
  return *x;
}

Expected<std::string_view> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return error("metadata key '" + std::string(key) + "' is missing");
  const auto s = v->as_string();
  if (!s) return error("metadata key '" + std::string(key) + "' is a " + v->type_name() + ", not a string");
  return *s;
}

Expected<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return error("metadata key '" + std::string(key) + "' is missing");
  const auto b = v->as_bool();
  if (!b) return error("metadata key '" + std::string(key) + "' is a " + v->type_name() + ", not a bool");
  return *b;
}

}  // namespace ladle::model
