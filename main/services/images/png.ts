// A small PNG codec of our own for what the studio writes and reads back: 8-bit RGB images with
// text chunks (the recipe), placed right after IHDR so that readers that stop at the first
// IDAT (sharp's metadata, quick gallery scans) still see them. sharp cannot write custom text
// chunks, and a full codec is not needed for images we made ourselves.
// Format: the PNG specification (W3C, 2nd edition): signature, chunks of
// length | type | data | CRC-32 over type and data; IHDR, zlib-compressed scanlines in IDAT
// with one filter byte per row, IEND.
import { deflateSync, inflateSync } from 'node:zlib';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320) as PNG uses it; own table because
// zlib.crc32 only exists from node 20.15 / 22.2 and the app supports older 20.x.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface PngChunk {
  /** Four ASCII letters, e.g. 'IHDR', 'tEXt'. */
  type: string;
  data: Buffer;
}

/** A text chunk: tEXt when the text is Latin-1 (what A1111 and PIL write), iTXt (UTF-8) otherwise or when asked. */
export interface PngText {
  keyword: string;
  text: string;
  /** Always write iTXt (UTF-8), e.g. for JSON that may hold any character. */
  international?: boolean;
}

export class PngFormatError extends Error {
  override readonly name = 'PngFormatError';
}

function chunkBytes(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

const KEYWORD = /^[\x20-\x7e\xa1-\xff]{1,79}$/;

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

export function textChunk({ keyword, text, international }: PngText): PngChunk {
  // The keyword rules: 1-79 Latin-1 printable characters, no leading, trailing or double spaces.
  if (!KEYWORD.test(keyword) || keyword.startsWith(' ') || keyword.endsWith(' ') || keyword.includes('  ')) {
    throw new PngFormatError(`bad PNG text keyword "${keyword}"`);
  }
  if (!international && isLatin1(text)) {
    return { type: 'tEXt', data: Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]) };
  }
  // iTXt: keyword, 0, compression flag 0, method 0, empty language tag, 0, empty translated keyword, 0, UTF-8 text.
  return {
    type: 'iTXt',
    data: Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]),
  };
}

export interface RgbPixels {
  width: number;
  height: number;
  /** height * width * 3 bytes, row-major, interleaved RGB. */
  rgb: Uint8Array;
}

/** An 8-bit RGB PNG with the text chunks right after IHDR. */
export function encodePng(image: RgbPixels, texts: readonly PngText[] = []): Buffer {
  const { width, height, rgb } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 2 ** 24 || height > 2 ** 24) {
    throw new PngFormatError(`bad image size ${width}x${height}`);
  }
  const stride = width * 3;
  if (rgb.length !== stride * height) throw new PngFormatError(`expected ${stride * height} RGB bytes, got ${rgb.length}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  // Filter type 0 (None) on every row: generated images gain little from filtering at this
  // size, and it keeps the encoder obviously correct.
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [PNG_SIGNATURE, chunkBytes('IHDR', ihdr)];
  for (const t of texts) {
    const c = textChunk(t);
    parts.push(chunkBytes(c.type, c.data));
  }
  parts.push(chunkBytes('IDAT', deflateSync(raw, { level: 6 })), chunkBytes('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** Every chunk of a PNG in file order, CRCs checked. Throws PngFormatError on anything malformed. */
export function readPngChunks(png: Uint8Array): PngChunk[] {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new PngFormatError('not a PNG file');
  const chunks: PngChunk[] = [];
  let pos = 8;
  while (pos < buf.length) {
    if (pos + 12 > buf.length) throw new PngFormatError('truncated chunk header');
    const length = buf.readUInt32BE(pos);
    if (length > 0x7fffffff || pos + 12 + length > buf.length) throw new PngFormatError('chunk runs past the end of the file');
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new PngFormatError(`bad chunk type at byte ${pos + 4}`);
    const data = buf.subarray(pos + 8, pos + 8 + length);
    if (crc32(buf.subarray(pos + 4, pos + 8 + length)) !== buf.readUInt32BE(pos + 8 + length)) {
      throw new PngFormatError(`CRC mismatch in ${type} chunk`);
    }
    chunks.push({ type, data });
    pos += 12 + length;
    if (type === 'IEND') break;
  }
  if (chunks[0]?.type !== 'IHDR') throw new PngFormatError('the first chunk is not IHDR');
  return chunks;
}

/** The text chunks (tEXt, zTXt, iTXt) as keyword -> text; the first of a repeated keyword wins. */
export function readPngText(png: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  for (const { type, data } of readPngChunks(png)) {
    if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') continue;
    const nul = data.indexOf(0);
    if (nul < 1) throw new PngFormatError(`${type} chunk without a keyword`);
    const keyword = data.toString('latin1', 0, nul);
    let text: string;
    if (type === 'tEXt') {
      text = data.toString('latin1', nul + 1);
    } else if (type === 'zTXt') {
      text = inflateSync(data.subarray(nul + 2)).toString('latin1');
    } else {
      const compressed = data[nul + 1] === 1;
      const langEnd = data.indexOf(0, nul + 3);
      const transEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1);
      if (transEnd < 0) throw new PngFormatError('malformed iTXt chunk');
      const body = data.subarray(transEnd + 1);
      text = (compressed ? inflateSync(body) : body).toString('utf8');
    }
    if (!out.has(keyword)) out.set(keyword, text);
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Pixels of an 8-bit RGB, non-interlaced PNG (what encodePng writes; all five row filters). */
export function decodePngRgb(png: Uint8Array): RgbPixels {
  const chunks = readPngChunks(png);
  const ihdr = chunks[0]!.data;
  if (ihdr.length !== 13) throw new PngFormatError('bad IHDR');
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  if (ihdr[8] !== 8 || ihdr[9] !== 2 || ihdr[12] !== 0) throw new PngFormatError('only 8-bit RGB non-interlaced PNGs are decoded here');
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = width * 3;
  if (raw.length !== (stride + 1) * height) throw new PngFormatError('image data has the wrong size');
  const rgb = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= 3 ? rgb[row + x - 3]! : 0;
      const b = y > 0 ? rgb[row - stride + x]! : 0;
      const c = x >= 3 && y > 0 ? rgb[row - stride + x - 3]! : 0;
      const v = raw[src + x]!;
      let pred: number;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: pred = paeth(a, b, c); break;
        default: throw new PngFormatError(`unknown row filter ${filter}`);
      }
      rgb[row + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, rgb };
}
