// GgufFile: the GGUF parser (see gguf_file.h for the layout and what it refuses).
#include "model/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cctype>
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

// The four sections of the file in order, each refusing what it cannot read; the first refusal
// ends the parse.
class GgufParser {
 public:
  GgufParser(GgufFile& f, std::span<const std::byte> bytes) : f_(f), bytes_(bytes), in_(bytes) {}

  std::optional<Error> run() {
    if (auto e = header()) return e;
    if (auto e = metadata()) return e;
    if (auto e = tensor_infos()) return e;
    return place_tensors();
  }

 private:
  Error bad() const { return f_.error(in_.error()); }

  // Magic, version, the two counts (checked against the bytes left before anything is reserved).
  std::optional<Error> header() {
    std::span<const std::byte> magic;
    if (!in_.take(4, magic, "the magic")) return bad();
    if (std::memcmp(magic.data(), "GGUF", 4) != 0) {
      std::string shown;
      for (std::byte b : magic) shown += std::isprint(int(b)) ? char(b) : '?';
      return f_.error("not a GGUF file: magic '" + shown + "', expected 'GGUF'");
    }
    if (!in_.pod(f_.version_, "the version")) return bad();
    if (f_.version_ != 2 && f_.version_ != 3) {
      const std::string why = f_.version_ == 1                ? " (GGUF v1 is obsolete; re-convert the model)"
                              : (f_.version_ & 0xFFFF) == 0 ? " (a big-endian file? ladle reads little-endian GGUF)"
                                                            : "";
      return f_.error("unsupported GGUF version " + std::to_string(f_.version_) + why + "; ladle reads versions 2 and 3");
    }
    if (!in_.pod(n_tensors_, "the tensor count") || !in_.pod(n_kv_, "the metadata count")) return bad();
    // A key/value takes at least 8 + 4 + 1 bytes and a tensor info 8 + 4 + 8 + 4 + 8.
    const std::string size = std::to_string(bytes_.size());
    if (n_kv_ > in_.left() / 13) return f_.error("truncated: " + std::to_string(n_kv_) + " metadata entries cannot fit in " + size + " bytes");
    if (n_tensors_ > in_.left() / 32) return f_.error("truncated: " + std::to_string(n_tensors_) + " tensor infos cannot fit in " + size + " bytes");
    return std::nullopt;
  }

  // The key/value pairs, then general.alignment.
  std::optional<Error> metadata() {
    std::unordered_set<std::string_view> keys;
    f_.metadata_.reserve(std::size_t(n_kv_));
    for (std::uint64_t i = 0; i < n_kv_; ++i) {
      GgufKeyValue kv;
      if (!in_.str(kv.key, "metadata key " + std::to_string(i))) return bad();
      if (kv.key.empty()) return f_.error("metadata key " + std::to_string(i) + " is empty");
      if (!keys.insert(kv.key).second) return f_.error("metadata key '" + std::string(kv.key) + "' appears twice");
      if (!read_value(in_, kv.value, "the value of '" + std::string(kv.key) + "'")) return bad();
      f_.metadata_.push_back(std::move(kv));
    }
    if (const GgufValue* a = f_.find("general.alignment")) {
      const auto n = a->as_int();
      if (a->type != std::uint32_t(GgufValueType::kUint32) || !n || *n == 0 || !std::has_single_bit(std::uint64_t(*n)))
        return f_.error("general.alignment must be a u32 power of two, not a " + a->type_name() +
                        (n ? " " + std::to_string(*n) : std::string()));
      f_.alignment_ = std::uint64_t(*n);
    }
    return std::nullopt;
  }

  std::optional<Error> tensor_infos() {
    std::unordered_set<std::string_view> names;
    f_.tensors_.reserve(std::size_t(n_tensors_));
    for (std::uint64_t i = 0; i < n_tensors_; ++i) {
      GgufTensorInfo t;
      const std::string which = "tensor info " + std::to_string(i);
      if (!in_.str(t.name, which + " name")) return bad();
      const std::string tn = "tensor '" + std::string(t.name) + "'";
      if (t.name.empty()) return f_.error(which + " has an empty name");
      if (t.name.size() >= kGgmlMaxName) return f_.error(which + " name is " + std::to_string(t.name.size()) + " bytes, ggml allows 63");
      if (!names.insert(t.name).second) return f_.error(tn + " appears twice");
      if (auto e = shape(t, tn)) return e;
      if (!in_.pod(t.type, tn + " type") || !in_.pod(t.offset, tn + " offset")) return bad();
      const auto traits = ggml_type_traits(t.type);
      if (!traits) return f_.error(tn + " has unknown ggml tensor type " + std::to_string(t.type));
      if (t.ne[0] % traits->block_elements != 0)
        return f_.error(tn + " of type " + traits->name + " has rows of " + std::to_string(t.ne[0]) +
                        " elements, not a multiple of its block of " + std::to_string(traits->block_elements));
      if (t.offset % f_.alignment_ != 0)
        return f_.error(tn + " offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                        std::to_string(f_.alignment_));
      f_.tensors_.push_back(t);
    }
    return std::nullopt;
  }

  // n_dims and ne[], and the element count without overflow.
  std::optional<Error> shape(GgufTensorInfo& t, const std::string& tn) {
    std::uint32_t n_dims = 0;
    if (!in_.pod(n_dims, tn + " dimension count")) return bad();
    if (n_dims == 0 || n_dims > 4) return f_.error(tn + " has " + std::to_string(n_dims) + " dimensions; ggml takes 1 to 4");
    t.n_dims = int(n_dims);
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      if (!in_.pod(t.ne[d], tn + " dimension " + std::to_string(d))) return bad();
      if (t.ne[d] < 0) return f_.error(tn + " dimension " + std::to_string(d) + " is negative (" + std::to_string(t.ne[d]) + ")");
    }
    std::uint64_t n = 1;
    for (std::int64_t x : t.ne) {
      if (x != 0 && n > std::uint64_t(std::numeric_limits<std::int64_t>::max()) / std::uint64_t(x))
        return f_.error(tn + " of shape " + t.shape() + " has more elements than fit int64");
      n *= std::uint64_t(x);
    }
    t.num_elements = n;
    return std::nullopt;
  }

  // The data section starts at the next multiple of the alignment; every tensor must lie inside.
  std::optional<Error> place_tensors() {
    f_.data_offset_ = (in_.pos() + f_.alignment_ - 1) / f_.alignment_ * f_.alignment_;
    if (f_.data_offset_ > bytes_.size() && !f_.tensors_.empty())
      return f_.error("truncated: the data section would start at byte " + std::to_string(f_.data_offset_) +
                      ", past the end of the " + std::to_string(bytes_.size()) + "-byte file");
    const std::uint64_t room = bytes_.size() - std::min<std::uint64_t>(f_.data_offset_, bytes_.size());
    for (GgufTensorInfo& t : f_.tensors_) {
      const GgmlTypeTraits traits = *ggml_type_traits(t.type);
      // Rows are whole blocks, so this division is exact; then no overflow past 2^64.
      const std::uint64_t blocks = t.num_elements / traits.block_elements;
      if (blocks > std::numeric_limits<std::uint64_t>::max() / traits.block_bytes)
        return f_.error("tensor '" + std::string(t.name) + "' is larger than 2^64 bytes");
      const std::uint64_t nbytes = blocks * traits.block_bytes;
      if (t.offset > room || nbytes > room - t.offset)
        return f_.error("tensor '" + std::string(t.name) + "' (" + traits.name + " " + t.shape() + ", " +
                        std::to_string(nbytes) + " bytes at data offset " + std::to_string(t.offset) +
                        ") lies outside the file: the data section holds " + std::to_string(room) + " bytes");
      t.data = bytes_.subspan(std::size_t(f_.data_offset_ + t.offset), std::size_t(nbytes));
    }
    return std::nullopt;
  }

  GgufFile& f_;
  std::span<const std::byte> bytes_;
  Cursor in_;
  std::uint64_t n_tensors_ = 0, n_kv_ = 0;
};

Expected<GgufFile> GgufFile::parse(std::span<const std::byte> bytes, const std::string& name) {
  GgufFile f;
  f.name_ = name;
  f.bytes_ = bytes;
  if (auto e = GgufParser(f, bytes).run()) return *e;
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
