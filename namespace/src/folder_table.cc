#include "dfs/ns/folder_table.h"

#include <sys/mman.h>
#include <xxhash.h>

#include <new>

namespace dfs::ns {
namespace detail {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
size_t RoundUp(size_t bytes) {
  return (bytes + kHugePage - 1) & ~(kHugePage - 1);
}
}  // namespace

void* AllocateLarge(size_t bytes) {
  if (bytes < kHugePage) return ::operator new(bytes);
  void* p = mmap(nullptr, RoundUp(bytes), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Advice only: without THP the memory works the same, just slower.
  madvise(p, RoundUp(bytes), MADV_HUGEPAGE);
  return p;
}

void DeallocateLarge(void* p, size_t bytes) {
  if (bytes < kHugePage) {
    ::operator delete(p);
  } else {
    munmap(p, RoundUp(bytes));
  }
}

}  // namespace detail

uint64_t HashKey(std::string_view key) {
  return XXH3_64bits(key.data(), key.size());
}

size_t FolderTable::FindSlot(std::string_view key, uint64_t hash) const {
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.index == 0) return i;
    if (s.hash == hash && entries_[s.index - 1].key == key) return i;
  }
}

const FolderTable::Entry* FolderTable::Find(std::string_view key,
                                            uint64_t hash) const {
  if (slots_.empty()) return nullptr;
  const Slot& s = slots_[FindSlot(key, hash)];
  return s.index == 0 ? nullptr : &entries_[s.index - 1];
}

void FolderTable::Place(uint64_t hash, uint32_t index_plus_one) {
  size_t i = hash & mask_;
  while (slots_[i].index != 0) i = (i + 1) & mask_;
  slots_[i] = Slot{hash, index_plus_one, 0};
}

void FolderTable::Grow() {
  const size_t capacity = slots_.empty() ? 16 : slots_.size() * 2;
  slots_.assign(capacity, Slot{0, 0, 0});
  mask_ = capacity - 1;
  for (size_t i = 0; i < entries_.size(); ++i) {
    Place(HashKey(entries_[i].key), static_cast<uint32_t>(i + 1));
  }
}

bool FolderTable::Upsert(std::string_view key, const Folder& folder) {
  const uint64_t hash = HashKey(key);
  if (!slots_.empty()) {
    const Slot& s = slots_[FindSlot(key, hash)];
    if (s.index != 0) {
      entries_[s.index - 1].folder = folder;
      return false;
    }
  }
  if ((entries_.size() + 1) * 2 > slots_.size()) Grow();
  entries_.push_back(Entry{std::string(key), folder});
  Place(hash, static_cast<uint32_t>(entries_.size()));
  return true;
}

bool FolderTable::Erase(std::string_view key) {
  if (slots_.empty()) return false;
  size_t hole = FindSlot(key, HashKey(key));
  if (slots_[hole].index == 0) return false;
  const uint32_t removed = slots_[hole].index - 1;

  // Backward-shift deletion: pull later members of the probe run into the
  // hole whenever the hole lies on their path from their home slot.
  slots_[hole].index = 0;
  for (size_t i = (hole + 1) & mask_; slots_[i].index != 0;
       i = (i + 1) & mask_) {
    const size_t home = slots_[i].hash & mask_;
    const bool hole_on_path = ((i - home) & mask_) >= ((i - hole) & mask_);
    if (hole_on_path) {
      slots_[hole] = slots_[i];
      slots_[i].index = 0;
      hole = i;
    }
  }

  // Keep entries dense: move the last entry into the freed place and
  // repoint its slot.
  const uint32_t last = static_cast<uint32_t>(entries_.size() - 1);
  if (removed != last) {
    const size_t last_slot =
        FindSlot(entries_[last].key, HashKey(entries_[last].key));
    entries_[removed] = std::move(entries_[last]);
    slots_[last_slot].index = removed + 1;
  }
  entries_.pop_back();
  return true;
}

void FolderTable::Clear() {
  slots_.clear();
  slots_.shrink_to_fit();
  entries_.clear();
  entries_.shrink_to_fit();
  mask_ = 0;
}

}  // namespace dfs::ns
