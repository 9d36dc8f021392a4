// bpe_tables: open-addressed piece and merge tables (see bpe_tables.h).
#include "model/bpe_tables.h"

#include <bit>
#include <functional>

namespace ladle::model {
namespace {

std::uint64_t hash_text(std::string_view s) { return std::hash<std::string_view>{}(s); }
std::uint64_t mix(std::uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k;
}
std::size_t capacity_for(std::size_t n) { return std::bit_ceil(std::max<std::size_t>(16, n * 2)); }

}  // namespace

// --- PieceTable ------------------------------------------------------------------------------

std::size_t PieceTable::probe(std::string_view text, std::uint64_t hash) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.id < 0) return i;
    if (s.hash == hash && std::string_view(arena_).substr(s.offset, s.length) == text) return i;
  }
}

void PieceTable::reserve(std::size_t n) {
  if (capacity_for(n) <= slots_.size()) return;
  std::vector<Slot> old(capacity_for(n));
  old.swap(slots_);
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    slots_[probe(std::string_view(arena_).substr(s.offset, s.length), s.hash)] = s;
  }
}

void PieceTable::grow() {
  if (slots_.empty() || (size_ + 1) * 2 > slots_.size()) reserve(std::max<std::size_t>(size_ + 1, slots_.size()));
}

std::optional<std::int32_t> PieceTable::find(std::string_view text) const {
  if (slots_.empty()) return std::nullopt;
  const Slot& s = slots_[probe(text, hash_text(text))];
  if (s.id < 0) return std::nullopt;
  return s.id;
}

std::int32_t PieceTable::insert(std::string_view text, std::int32_t id_if_new) {
  grow();
  const std::uint64_t h = hash_text(text);
  Slot& s = slots_[probe(text, h)];
  if (s.id >= 0) return s.id;
  s = Slot{h, std::uint32_t(arena_.size()), std::uint32_t(text.size()), id_if_new};
  arena_.append(text);
  ++size_;
  return id_if_new;
}

void PieceTable::assign(std::string_view text, std::int32_t id) {
  grow();
  const std::uint64_t h = hash_text(text);
  Slot& s = slots_[probe(text, h)];
  if (s.id < 0) {
    s = Slot{h, std::uint32_t(arena_.size()), std::uint32_t(text.size()), id};
    arena_.append(text);
    ++size_;
  } else {
    s.id = id;
  }
}

// --- MergeTable ------------------------------------------------------------------------------

namespace {
std::uint64_t pack(std::int32_t left, std::int32_t right) {
  return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
}
}  // namespace

std::size_t MergeTable::probe(std::uint64_t key) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = mix(key) & mask;; i = (i + 1) & mask)
    if (slots_[i].key == key || slots_[i].key == kEmpty) return i;
}

void MergeTable::reserve(std::size_t n) {
  if (capacity_for(n) <= slots_.size()) return;
  std::vector<Slot> old(capacity_for(n));
  old.swap(slots_);
  for (const Slot& s : old)
    if (s.key != kEmpty) slots_[probe(s.key)] = s;
}

void MergeTable::grow() {
  if (slots_.empty() || (size_ + 1) * 2 > slots_.size()) reserve(std::max<std::size_t>(size_ + 1, slots_.size()));
}

const MergeTable::Merge* MergeTable::find(std::int32_t left, std::int32_t right) const {
  if (slots_.empty()) return nullptr;
  const Slot& s = slots_[probe(pack(left, right))];
  return s.key == kEmpty ? nullptr : &s.merge;
}

void MergeTable::insert(std::int32_t left, std::int32_t right, Merge merge) {
  grow();
  const std::uint64_t key = pack(left, right);
  Slot& s = slots_[probe(key)];
  if (s.key != kEmpty) return;
  s = Slot{key, merge};
  ++size_;
}

}  // namespace ladle::model
