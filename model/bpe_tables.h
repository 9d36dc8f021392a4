// bpe_tables: the two lookup tables of BpeTokenizer, flat and open-addressed (linear probing over
// a power-of-two array) instead of node-based std::unordered_maps: a vocabulary of 128k tokens and
// 280k merges builds and probes them with a cache miss or two per lookup instead of a chain walk.
//   PieceTable: text -> piece id, the texts kept in one arena.
//   MergeTable: (left piece, right piece) -> (rank, result piece).
// Filled once at load; const lookups from any thread afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ladle::model {

class PieceTable {
 public:
  // The id of `text`, if present.
  std::optional<std::int32_t> find(std::string_view text) const;
  // Sets the id of `text` (replacing any earlier one).
  void assign(std::string_view text, std::int32_t id);
  // The id of `text`; if absent, inserts it with `id_if_new` and returns that.
  std::int32_t insert(std::string_view text, std::int32_t id_if_new);
  std::size_t size() const { return size_; }
  void reserve(std::size_t n);

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t offset = 0, length = 0;  // the text in arena_
    std::int32_t id = -1;                  // -1: empty
  };
  // The slot holding `text`, or the empty slot where it would go.
  std::size_t probe(std::string_view text, std::uint64_t hash) const;
  void grow();

  std::vector<Slot> slots_;
  std::string arena_;
  std::size_t size_ = 0;
};

class MergeTable {
 public:
  struct Merge {
    std::int32_t rank;
    std::int32_t result;
  };
  const Merge* find(std::int32_t left, std::int32_t right) const;
  // Adds the merge unless the pair has one already (the first rank wins, as in llama.cpp).
  void insert(std::int32_t left, std::int32_t right, Merge merge);
  void reserve(std::size_t n);

 private:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t(0);  // no pair of ids >= 0 packs to this
  struct Slot {
    std::uint64_t key = kEmpty;
    Merge merge{};
  };
  std::size_t probe(std::uint64_t key) const;
  void grow();

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace ladle::model
