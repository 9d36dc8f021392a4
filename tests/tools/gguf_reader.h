// A minimal GGUF v3 reader for the tests, written from the format description independently of
// tools/gguf_writer.cc (it shares no code or constants with it), so that a writer bug does not
// cancel itself out. It checks what llama.cpp's loader checks: magic, version, that every value
// type is known, bools are 0/1, tensor offsets fall on the alignment, and data lies inside the file.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace ladle::testing_gguf {

enum : std::uint32_t { kU8 = 0, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };

// One metadata value: its type (for arrays, kArray and the element type), and the elements, either
// as numbers (every scalar type, bools as 0/1) or as strings. A scalar is an array of one.
struct Value {
  std::uint32_t type = 0;
  std::uint32_t element_type = 0;
  std::vector<double> numbers;
  std::vector<std::string> strings;
  double number() const { return numbers.at(0); }
  const std::string& string() const { return strings.at(0); }
};

struct TensorInfo {
  std::string name;
  std::vector<std::uint64_t> ne;
  std::uint32_t type = 0;
  std::uint64_t offset = 0;
};

struct File {
  std::uint32_t version = 0;
  std::uint64_t num_tensors = 0, num_kv = 0;
  std::vector<std::string> key_order;
  std::map<std::string, Value> kv;
  std::vector<TensorInfo> tensors;
  std::uint64_t alignment = 32;
  std::uint64_t data_start = 0;  // absolute file offset of the data section
  std::vector<char> bytes;       // the whole file

  // The first byte of tensor `t`'s data (Reader::nbytes(t) of them).
  const char* data(const TensorInfo& t) const { return bytes.data() + data_start + t.offset; }
};

class Reader {
 public:
  explicit Reader(std::vector<char> bytes) { file_.bytes = std::move(bytes); }

  // Parses the whole file; on failure returns false and sets error().
  bool parse() {
    char magic[4];
    if (!get(magic, 4) || std::memcmp(magic, "GGUF", 4) != 0) return fail("bad magic");
    if (!pod(file_.version) || !pod(file_.num_tensors) || !pod(file_.num_kv)) return fail("short header");
    for (std::uint64_t i = 0; i < file_.num_kv; ++i) {
      std::string key;
      std::uint32_t type = 0;
      if (!str(key) || !pod(type)) return fail("short kv header");
      Value v;
      v.type = type;
      if (type == kArray) {
        std::uint64_t n = 0;
        if (!pod(v.element_type) || !pod(n)) return fail("short array header for " + key);
        if (v.element_type == kArray) return fail("nested array in " + key);
        for (std::uint64_t k = 0; k < n; ++k)
          if (!element(v.element_type, v)) return fail("bad array element in " + key);
      } else if (!element(type, v)) {
        return fail("bad value of " + key);
      }
      if (file_.kv.count(key)) return fail("duplicate key " + key);
      file_.key_order.push_back(key);
      file_.kv[key] = std::move(v);
    }
    if (auto it = file_.kv.find("general.alignment"); it != file_.kv.end()) {
      if (it->second.type != kU32) return fail("general.alignment is not a u32");
      file_.alignment = std::uint64_t(it->second.number());
    }
    for (std::uint64_t i = 0; i < file_.num_tensors; ++i) {
      TensorInfo t;
      std::uint32_t n_dims = 0;
      if (!str(t.name) || !pod(n_dims) || n_dims == 0 || n_dims > 4) return fail("bad tensor info");
      t.ne.resize(n_dims);
      for (auto& n : t.ne)
        if (!pod(n)) return fail("short dims");
      if (!pod(t.type) || !pod(t.offset)) return fail("short tensor info");
      if (t.offset % file_.alignment != 0) return fail("unaligned offset of " + t.name);
      file_.tensors.push_back(std::move(t));
    }
    file_.data_start = (pos_ + file_.alignment - 1) / file_.alignment * file_.alignment;
    for (std::size_t i = pos_; i < file_.data_start; ++i)
      if (i >= file_.bytes.size() || file_.bytes[i] != 0) return fail("bad padding before the data");
    for (const TensorInfo& t : file_.tensors)
      if (file_.data_start + t.offset + nbytes(t) > file_.bytes.size()) return fail("data of " + t.name + " beyond the end");
    return true;
  }

  const File& file() const { return file_; }
  File take() { return std::move(file_); }
  const std::string& error() const { return error_; }

  // Bytes of a tensor's data: F32 = 4 per element, F16 = 2.
  static std::uint64_t nbytes(const TensorInfo& t) {
    std::uint64_t n = t.type == 1 ? 2 : 4;
    for (auto d : t.ne) n *= d;
    return n;
  }

 private:
  bool fail(std::string what) {
    error_ = what + " (at byte " + std::to_string(pos_) + ")";
    return false;
  }
  bool get(void* out, std::size_t n) {
    if (pos_ + n > file_.bytes.size()) return false;
    std::memcpy(out, file_.bytes.data() + pos_, n);
    pos_ += n;
    return true;
  }
  template <class T>
  bool pod(T& v) { return get(&v, sizeof v); }
  bool str(std::string& s) {
    std::uint64_t n = 0;
    if (!pod(n) || pos_ + n > file_.bytes.size()) return false;
    s.assign(file_.bytes.data() + pos_, n);
    pos_ += n;
    return true;
  }
  template <class T>
  bool number(Value& v) {
    T x;
    if (!pod(x)) return false;
    v.numbers.push_back(double(x));
    return true;
  }
  bool element(std::uint32_t type, Value& v) {
    switch (type) {
      case kU8: return number<std::uint8_t>(v);
      case kI8: return number<std::int8_t>(v);
      case kU16: return number<std::uint16_t>(v);
      case kI16: return number<std::int16_t>(v);
      case kU32: return number<std::uint32_t>(v);
      case kI32: return number<std::int32_t>(v);
      case kF32: return number<float>(v);
      case kU64: return number<std::uint64_t>(v);
      case kI64: return number<std::int64_t>(v);
      case kF64: return number<double>(v);
      case kBool: {
        std::uint8_t b = 0;
        if (!pod(b) || b > 1) return false;
        v.numbers.push_back(b);
        return true;
      }
      case kString: {
        std::string s;
        if (!str(s)) return false;
        v.strings.push_back(std::move(s));
        return true;
      }
      default: return false;
    }
  }

  File file_;
  std::size_t pos_ = 0;
  std::string error_;
};

inline std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace ladle::testing_gguf
