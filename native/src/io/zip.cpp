#include "io/zip.h"

#include "core/error.h"

namespace dimba {
namespace {

// Record signatures and fixed sizes from PKWARE's APPNOTE.TXT (4.3.7, 4.3.12, 4.3.14-16).
constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalFixed = 30, kCentralFixed = 46, kEocdFixed = 22;
constexpr size_t kZip64EocdFixed = 56, kZip64LocatorSize = 20;
constexpr size_t kMaxComment = 0xffff;

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t rd32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint64_t rd64(const uint8_t* p) { return uint64_t(rd32(p)) | uint64_t(rd32(p + 4)) << 32; }

[[noreturn]] void bad(const std::string& what, const std::string& msg) {
  throw EngineError(ErrorCode::BadFile, what + ": " + msg);
}

// True when [off, off + len) lies inside [0, size), without overflowing.
bool inside(uint64_t off, uint64_t len, size_t size) { return off <= size && len <= size - off; }

}  // namespace

ZipArchive ZipArchive::parse(const uint8_t* bytes, size_t size, const std::string& what) {
  ZipArchive z;
  z.bytes_ = bytes;
  z.size_ = size;
  z.what_ = what;
  if (size < kEocdFixed) bad(what, "too short to be a zip archive (" + std::to_string(size) + " bytes)");

  // The end-of-central-directory record sits in the last 22 + comment bytes; search back
  // from the end so that a comment that happens to contain the signature cannot fool us
  // unless its declared length also matches the distance to the end.
  size_t eocd = SIZE_MAX;
  size_t lowest = size - kEocdFixed > kMaxComment ? size - kEocdFixed - kMaxComment : 0;
  for (size_t p = size - kEocdFixed + 1; p-- > lowest;) {
    if (rd32(bytes + p) == kEocdSig && p + kEocdFixed + rd16(bytes + p + 20) == size) {
      eocd = p;
      break;
    }
  }
  if (eocd == SIZE_MAX) bad(what, "no end-of-central-directory record: not a zip archive, or truncated");
  const uint8_t* e = bytes + eocd;
  uint64_t disk = rd16(e + 4), cd_disk = rd16(e + 6);
  uint64_t n_disk = rd16(e + 8), n_total = rd16(e + 10);
  uint64_t cd_size = rd32(e + 12), cd_offset = rd32(e + 16);
  size_t cd_limit = eocd;  // the central directory ends before the records that describe it

  // ZIP64 (torch writes it for archives or entries past 4 GB): any saturated field means the
  // real values live in the ZIP64 end record, found through the locator just before.
  if (n_disk == 0xffff || n_total == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    if (eocd < kZip64LocatorSize || rd32(bytes + eocd - kZip64LocatorSize) != kZip64LocatorSig)
      bad(what, "ZIP64 fields are saturated but there is no ZIP64 locator");
    const uint8_t* loc = bytes + eocd - kZip64LocatorSize;
    uint64_t z64 = rd64(loc + 8);
    if (rd32(loc + 16) > 1) throw EngineError(ErrorCode::UnsupportedFormat, what + ": multi-disk zip archives are not supported");
    if (!inside(z64, kZip64EocdFixed, eocd - kZip64LocatorSize) || rd32(bytes + z64) != kZip64EocdSig)
      bad(what, "ZIP64 end-of-central-directory record is missing or out of bounds");
    const uint8_t* r = bytes + z64;
    disk = rd32(r + 16);
    cd_disk = rd32(r + 20);
    n_disk = rd64(r + 24);
    n_total = rd64(r + 32);
    cd_size = rd64(r + 40);
    cd_offset = rd64(r + 48);
    cd_limit = size_t(z64);
  }
  if (disk != 0 || cd_disk != 0 || n_disk != n_total)
    throw EngineError(ErrorCode::UnsupportedFormat, what + ": multi-disk zip archives are not supported");
  if (!inside(cd_offset, cd_size, cd_limit))
    bad(what, "central directory [" + std::to_string(cd_offset) + ", +" + std::to_string(cd_size) +
                  ") lies outside the file; the file is truncated or corrupt");
  // Each central record is at least 46 bytes, which bounds the count a hostile file can claim.
  if (n_total > cd_size / kCentralFixed)
    bad(what, "central directory claims " + std::to_string(n_total) + " entries in " +
                  std::to_string(cd_size) + " bytes");

  z.entries_.reserve(size_t(n_total));
  size_t p = size_t(cd_offset);
  const size_t cd_end = size_t(cd_offset + cd_size);
  for (uint64_t i = 0; i < n_total; ++i) {
    if (!inside(p, kCentralFixed, cd_end) || rd32(bytes + p) != kCentralSig)
      bad(what, "central directory entry " + std::to_string(i) + " is missing or malformed");
    const uint8_t* c = bytes + p;
    ZipEntry ent;
    ent.flags = rd16(c + 8);
    ent.method = rd16(c + 10);
    ent.compressed_size = rd32(c + 20);
    ent.size = rd32(c + 24);
    size_t name_len = rd16(c + 28), extra_len = rd16(c + 30), comment_len = rd16(c + 32);
    uint32_t disk_start = rd16(c + 34);
    ent.local_header_offset = rd32(c + 42);
    if (!inside(p + kCentralFixed, name_len + extra_len + comment_len, cd_end))
      bad(what, "central directory entry " + std::to_string(i) + " runs past the directory");
    ent.name.assign(reinterpret_cast<const char*>(c + kCentralFixed), name_len);

    // ZIP64 extended information (header id 1): 8-byte values, present only for the fields
    // that are saturated in the fixed part, in this order (APPNOTE 4.5.3).
    const uint8_t* x = c + kCentralFixed + name_len;
    for (size_t q = 0; q + 4 <= extra_len;) {
      uint16_t id = rd16(x + q), len = rd16(x + q + 2);
      if (q + 4 + len > extra_len) bad(what, "entry '" + ent.name + "' has a truncated extra field");
      if (id == 1) {
        const uint8_t* f = x + q + 4;
        size_t left = len;
        auto take = [&](uint64_t* v) {
          if (left < 8) bad(what, "entry '" + ent.name + "' has a short ZIP64 extra field");
          *v = rd64(f);
          f += 8;
          left -= 8;
        };
        if (ent.size == 0xffffffffu) take(&ent.size);
        if (ent.compressed_size == 0xffffffffu) take(&ent.compressed_size);
        if (ent.local_header_offset == 0xffffffffu) take(&ent.local_header_offset);
        if (disk_start == 0xffff) {
          if (left < 4) bad(what, "entry '" + ent.name + "' has a short ZIP64 extra field");
          disk_start = rd32(f);
        }
      }
      q += 4 + size_t(len);
    }
    if (disk_start != 0)
      throw EngineError(ErrorCode::UnsupportedFormat, what + ": multi-disk zip archives are not supported");
    // Every entry's local header and data come before the central directory.
    if (!inside(ent.local_header_offset, kLocalFixed, cd_offset) ||
        !inside(ent.local_header_offset + kLocalFixed, ent.compressed_size, cd_offset))
      bad(what, "entry '" + ent.name + "' lies outside the file (offset " +
                    std::to_string(ent.local_header_offset) + ", " + std::to_string(ent.compressed_size) +
                    " bytes); the file is truncated or corrupt");
    if (!z.index_.emplace(ent.name, z.entries_.size()).second)
      bad(what, "entry '" + ent.name + "' appears twice");
    z.entries_.push_back(std::move(ent));
    p += kCentralFixed + name_len + extra_len + comment_len;
  }
  return z;
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

const uint8_t* ZipArchive::data(const ZipEntry& e) const {
  const std::string where = what_ + ": entry '" + e.name + "'";
  if (e.flags & 1) throw EngineError(ErrorCode::UnsupportedFormat, where + " is encrypted");
  if (e.method == 8)
    throw EngineError(ErrorCode::UnsupportedFormat,
                      where + " is DEFLATE-compressed; torch.save writes uncompressed archives, so "
                              "re-save it with torch.save (or unzip and re-zip with -0)");
  if (e.method != 0)
    throw EngineError(ErrorCode::UnsupportedFormat, where + " uses zip compression method " +
                                                        std::to_string(e.method) + "; only stored entries are read");
  if (e.compressed_size != e.size) bad(where, "is stored but its compressed and uncompressed sizes differ");
  // parse() checked that the fixed local header is inside the file.
  const uint8_t* l = bytes_ + e.local_header_offset;
  if (rd32(l) != kLocalSig) bad(where, "has no local file header at offset " + std::to_string(e.local_header_offset));
  size_t name_len = rd16(l + 26), extra_len = rd16(l + 28);
  uint64_t data_off = e.local_header_offset + kLocalFixed + name_len + extra_len;
  // The local name must be the central one: a mismatch means the directory points at the
  // wrong record (a corrupt or spliced file).
  if (!inside(e.local_header_offset + kLocalFixed, name_len, size_) || name_len != e.name.size() ||
      e.name.compare(0, name_len, reinterpret_cast<const char*>(l + kLocalFixed), name_len) != 0)
    bad(where, "local header names a different entry");
  if (!inside(data_off, e.size, size_))
    bad(where, "data [" + std::to_string(data_off) + ", +" + std::to_string(e.size) +
                   ") runs past the end of the file; the file is truncated");
  return bytes_ + data_off;
}

}  // namespace dimba
