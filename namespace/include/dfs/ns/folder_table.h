// FolderTable: the folders of one root, keyed by folded folder key, laid out
// for the lookup hot path.
//
// An open-addressing table (linear probing, load factor at most 1/2) of
// 16-byte slots {hash, entry index} over a dense array of entries. A probe
// touches one slot and then one entry to confirm the key, and both arrays
// are allocated on transparent huge pages once they are large, so that a
// million folders cost about two memory accesses and no page walks per
// lookup, where a node-based hash map costs four or more. Deletion uses
// backward shifting, so there are no tombstones and probes stay short.
// Thread-safety: none; const methods may run concurrently with each other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/ns/model.h"

namespace dfs::ns {

namespace detail {
// Allocates blocks of 2 MiB or more with mmap and asks for transparent huge
// pages (MADV_HUGEPAGE); smaller ones come from operator new.
void* AllocateLarge(size_t bytes);
void DeallocateLarge(void* p, size_t bytes);

template <typename T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() = default;
  template <typename U>
  LargeAllocator(const LargeAllocator<U>&) {}
  T* allocate(size_t n) {
    return static_cast<T*>(AllocateLarge(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) { DeallocateLarge(p, n * sizeof(T)); }
  bool operator==(const LargeAllocator&) const { return true; }
};
}  // namespace detail

uint64_t HashKey(std::string_view key);

class FolderTable {
 public:
  struct Entry {
    std::string key;
    Folder folder;
  };

  // The entry for `key`, or null. `hash` must be HashKey(key). The pointer
  // is valid until the next Upsert or Erase.
  const Entry* Find(std::string_view key, uint64_t hash) const;
  const Entry* Find(std::string_view key) const {
    return Find(key, HashKey(key));
  }
  // Inserts or replaces; returns true when the key was new.
  bool Upsert(std::string_view key, const Folder& folder);
  // Returns true when the key was there.
  bool Erase(std::string_view key);
  void Clear();

  size_t size() const { return entries_.size(); }
  // Entries in no particular order.
  const auto& entries() const { return entries_; }

 private:
  struct Slot {
    uint64_t hash;
    uint32_t index;  // into entries_, plus one; 0 marks an empty slot
    uint32_t unused;
  };
  size_t FindSlot(std::string_view key, uint64_t hash) const;
  void Grow();
  void Place(uint64_t hash, uint32_t index_plus_one);

  std::vector<Slot, detail::LargeAllocator<Slot>> slots_;
  std::vector<Entry, detail::LargeAllocator<Entry>> entries_;
  size_t mask_ = 0;
};

}  // namespace dfs::ns
