// GgufBuilder: GGUF bytes for the reader's tests, written from the format description without
// ladle's GgufWriter (so a shared mistake cannot cancel out) and able to write what the writer
// refuses to: any version and magic, any value type id, unaligned or out-of-file offsets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace ladle::testing_gguf {

enum : std::uint32_t { kU8 = 0, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };

class Bytes {
 public:
  template <class T>
  Bytes& pod(T v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    b_.insert(b_.end(), p, p + sizeof v);
    return *this;
  }
  Bytes& str(const std::string& s) {
    pod<std::uint64_t>(s.size());
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    b_.insert(b_.end(), p, p + s.size());
    return *this;
  }
  Bytes& raw(const std::vector<std::byte>& v) {
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  const std::vector<std::byte>& bytes() const { return b_; }

 private:
  std::vector<std::byte> b_;
};

class GgufBuilder {
 public:
  std::string magic = "GGUF";
  std::uint32_t version = 3;
  std::uint64_t alignment = 32;  // what offsets are padded to; add general.alignment to change it

  // A key with its value type and value bytes as they go in the file.
  GgufBuilder& kv(const std::string& key, std::uint32_t type, const Bytes& value) {
    kvs_.str(key).pod(type).raw(value.bytes());
    ++num_kv_;
    return *this;
  }
  GgufBuilder& u32(const std::string& key, std::uint32_t v) { return kv(key, kU32, Bytes().pod(v)); }
  GgufBuilder& f32(const std::string& key, float v) { return kv(key, kF32, Bytes().pod(v)); }
  GgufBuilder& boolean(const std::string& key, bool v) { return kv(key, kBool, Bytes().pod<std::uint8_t>(v)); }
  GgufBuilder& str(const std::string& key, const std::string& v) { return kv(key, kString, Bytes().str(v)); }
  GgufBuilder& strs(const std::string& key, const std::vector<std::string>& v) {
    Bytes b;
    b.pod(kString).pod<std::uint64_t>(v.size());
    for (const auto& s : v) b.str(s);
    return kv(key, kArray, b);
  }
  template <class T>
  GgufBuilder& array(const std::string& key, std::uint32_t element_type, const std::vector<T>& v) {
    Bytes b;
    b.pod(element_type).pod<std::uint64_t>(v.size());
    for (const T& x : v) b.pod(x);
    return kv(key, kArray, b);
  }

  // A tensor: `ne` in ggml order, its data bytes, and (default) the next aligned offset.
  GgufBuilder& tensor(const std::string& name, const std::vector<std::int64_t>& ne, std::uint32_t type,
                      std::vector<std::byte> data, std::optional<std::uint64_t> offset = std::nullopt) {
    const std::uint64_t at = offset.value_or(data_end_);
    infos_.str(name).pod<std::uint32_t>(std::uint32_t(ne.size()));
    for (auto n : ne) infos_.pod<std::int64_t>(n);
    infos_.pod(type).pod(at);
    ++num_tensors_;
    if (at > (1u << 20)) return *this;  // an offset far outside the file: no data to place
    if (data_.size() < at) data_.resize(at);
    data_.resize(std::max<std::size_t>(data_.size(), at + data.size()));
    if (!data.empty()) std::memcpy(data_.data() + at, data.data(), data.size());
    data_end_ = std::max<std::uint64_t>(data_end_, (at + data.size() + alignment - 1) / alignment * alignment);
    return *this;
  }

  std::vector<std::byte> build() const {
    Bytes out;
    for (char c : magic) out.pod(c);
    out.pod(version).pod(num_tensors_).pod(num_kv_).raw(kvs_.bytes()).raw(infos_.bytes());
    std::vector<std::byte> b = out.bytes();
    b.resize((b.size() + alignment - 1) / alignment * alignment);
    b.insert(b.end(), data_.begin(), data_.end());
    return b;
  }

 private:
  Bytes kvs_, infos_;
  std::uint64_t num_kv_ = 0, num_tensors_ = 0;
  std::vector<std::byte> data_;
  std::uint64_t data_end_ = 0;
};

template <class T>
std::vector<std::byte> as_bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace ladle::testing_gguf
