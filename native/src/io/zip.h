// A read-only ZIP reader over bytes already in memory (an mmap of a torch checkpoint).
// torch.save writes an uncompressed ("stored") zip whose tensor records are 64-byte aligned
// (caffe2/serialize/inline_container.cc pads the local header's extra field), so a stored
// entry is handed out as a pointer into the mapping: nothing is copied or decompressed.
// DEFLATE entries are refused (UnsupportedFormat): torch never writes them, and supporting
// them would mean inflating whole tensors into heap buffers for no real checkpoint.
// CRCs are not checked: that would read every byte of a 40 GB file even when the caller
// only wants the encoder half; bounds are what keeps us safe, and every offset is checked.
// defines: ZipEntry, ZipArchive
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dimba {

struct ZipEntry {
  std::string name;
  uint64_t local_header_offset = 0;  // from the central directory (ZIP64 extra applied)
  uint64_t compressed_size = 0;
  uint64_t size = 0;                 // uncompressed
  uint16_t method = 0;               // 0 stored, 8 deflate
  uint16_t flags = 0;
};

class ZipArchive {
 public:
  // Finds the end-of-central-directory record (ZIP64 too) and validates the central
  // directory. Local headers are checked lazily, when an entry's data is asked for, so
  // entries the caller never reads are never touched. Throws EngineError(BadFile) on
  // anything malformed and UnsupportedFormat on multi-disk or encrypted archives.
  // `bytes` must outlive the archive; `what` names the file in messages.
  static ZipArchive parse(const uint8_t* bytes, size_t size, const std::string& what);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;

  // Pointer to an entry's bytes inside the mapping (entry.size of them). Throws
  // UnsupportedFormat for compressed or encrypted entries, BadFile when the local header
  // is missing, disagrees or runs past the end.
  const uint8_t* data(const ZipEntry& e) const;

  const std::string& what() const { return what_; }

 private:
  const uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
  std::string what_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t> index_;
};

}  // namespace dimba
