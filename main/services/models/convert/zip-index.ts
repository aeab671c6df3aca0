// The entries of a torch.save archive: a zip of STORED members (torch never compresses),
// possibly ZIP64 for checkpoints over 4 GiB. Only the central directory and local headers are
// read, so a 10 GB file costs a few small reads. Every offset and size is checked against the
// file's length before it is used.
import type { FileHandle } from 'node:fs/promises';
import { badFile, ConvertError } from './errors.js';

export interface ZipEntry {
  name: string;
  /** Where the member's bytes start in the file, and how many there are. */
  offset: number;
  size: number;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_ENTRIES = 1 << 20;

async function readAt(fh: FileHandle, position: number, length: number, fileSize: number, what: string): Promise<Buffer> {
  if (position < 0 || length < 0 || position + length > fileSize) throw badFile(what, `a read at ${position} of ${length} bytes is outside the file`);
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  if (bytesRead !== length) throw badFile(what, 'short read');
  return buf;
}

function u64(buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw badFile(what, 'a ZIP64 size or offset is absurd');
  return Number(v);
}

/** The archive's members by name; refuses compressed members and anything out of bounds. */
export async function readZipIndex(fh: FileHandle, fileSize: number, what: string): Promise<Map<string, ZipEntry>> {
  const head = await readAt(fh, 0, Math.min(fileSize, 2), fileSize, what);
  if (head[0] === 0x80) throw new ConvertError('E_UNSUPPORTED_FORMAT', `${what}: a legacy (pre-1.6) torch pickle file; re-save it with a current torch`);
  if (fileSize < 22) throw badFile(what, 'too short to be a zip archive');
  // The end-of-central-directory record sits in the last 22 + 65535 bytes (its comment).
  const tailLength = Math.min(fileSize, 22 + 0xffff);
  const tail = await readAt(fh, fileSize - tailLength, tailLength, fileSize, what);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw badFile(what, 'not a zip archive (no end-of-central-directory record)');
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locatorAt = eocd - 20;
    if (locatorAt < 0 || tail.readUInt32LE(locatorAt) !== EOCD64_LOCATOR) throw badFile(what, 'ZIP64 sizes without a ZIP64 locator');
    const record = await readAt(fh, u64(tail, locatorAt + 8, what), 56, fileSize, what);
    if (record.readUInt32LE(0) !== EOCD64) throw badFile(what, 'the ZIP64 locator does not point at a ZIP64 record');
    count = u64(record, 32, what);
    cdSize = u64(record, 40, what);
    cdOffset = u64(record, 48, what);
  }
  if (count > MAX_ENTRIES) throw badFile(what, `${count} members is absurd`);
  const cd = await readAt(fh, cdOffset, cdSize, fileSize, what);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw badFile(what, 'the central directory is truncated or corrupt');
    const method = cd.readUInt16LE(p + 10);
    let compressed = cd.readUInt32LE(p + 20);
    let size = cd.readUInt32LE(p + 24);
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    let localOffset = cd.readUInt32LE(p + 42);
    const end = p + 46 + nameLength + extraLength + commentLength;
    if (end > cd.length) throw badFile(what, 'a central directory entry runs past its end');
    const name = cd.toString('utf8', p + 46, p + 46 + nameLength);
    // ZIP64 extra field: the 0xFFFFFFFF fields, in the order size, compressed size, offset.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (e + 4 + len > extraEnd) throw badFile(what, `the extra field of ${name} runs past its end`);
      if (id === 1) {
        let q = e + 4;
        const take = (): number => {
          if (q + 8 > e + 4 + len) throw badFile(what, `the ZIP64 field of ${name} is short`);
          const v = u64(cd, q, what);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressed === 0xffffffff) compressed = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      e += 4 + len;
    }
    if (method !== 0) throw new ConvertError('E_UNSUPPORTED_FORMAT', `${what}: member ${name} is compressed (method ${method}); torch.save writes stored members`);
    if (compressed !== size) throw badFile(what, `member ${name} is stored but its two sizes differ`);
    const local = await readAt(fh, localOffset, 30, fileSize, what);
    if (local.readUInt32LE(0) !== LOCAL) throw badFile(what, `member ${name} has no local header where the directory says`);
    const localName = await readAt(fh, localOffset + 30, local.readUInt16LE(26), fileSize, what);
    if (localName.toString('utf8') !== name) throw badFile(what, `the local header of member ${name} names another member`);
    const offset = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (offset + size > fileSize) throw badFile(what, `member ${name} (${size} bytes) runs past the end of the file`);
    if (entries.has(name)) throw badFile(what, `member ${name} appears twice`);
    entries.set(name, { name, offset, size });
    p = end;
  }
  return entries;
}
