// Just enough of GGUF (v2/v3) for the chat SDK test to read a model's vocabulary and to edit one
// F32 tensor of a copy: the key/value metadata, the tensor table and where the data starts.
import { readFileSync } from 'node:fs';

const SCALAR_BYTES = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

// Parses `path`; returns { bytes, kv: Map(key → value), tensors: Map(name → {dims, type, offset}), dataStart }.
// Arrays of strings become arrays of JS strings; other arrays are skipped (kept as their count).
export function readGguf(path) {
  const bytes = readFileSync(path);
  let pos = 0;
  const u32 = () => { const v = bytes.readUInt32LE(pos); pos += 4; return v; };
  const u64 = () => { const v = Number(bytes.readBigUInt64LE(pos)); pos += 8; return v; };
  const str = () => { const n = u64(); const s = bytes.toString('utf8', pos, pos + n); pos += n; return s; };
  const scalar = (type) => {
    if (type === 8) return str();
    const n = SCALAR_BYTES[type];
    if (n === undefined) throw new Error(`gguf: unknown value type ${type}`);
    let v;
    if (type === 4) v = bytes.readUInt32LE(pos);
    else if (type === 5) v = bytes.readInt32LE(pos);
    else if (type === 6) v = bytes.readFloatLE(pos);
    else if (type === 7) v = bytes[pos] !== 0;
    else if (type === 10) v = Number(bytes.readBigUInt64LE(pos));
    else v = undefined;
    pos += n;
    return v;
  };
  if (bytes.toString('latin1', 0, 4) !== 'GGUF') throw new Error(`${path} is not a GGUF file`);
  pos = 4;
  u32();  // version
  const numTensors = u64(), numKv = u64();
  const kv = new Map();
  for (let i = 0; i < numKv; i++) {
    const key = str(), type = u32();
    if (type !== 9) { kv.set(key, scalar(type)); continue; }
    const elem = u32(), count = u64();
    if (elem === 8) {
      const items = new Array(count);
      for (let j = 0; j < count; j++) items[j] = str();
      kv.set(key, items);
    } else {
      pos += count * SCALAR_BYTES[elem];
      kv.set(key, count);
    }
  }
  const tensors = new Map();
  for (let i = 0; i < numTensors; i++) {
    const name = str(), nd = u32(), dims = [];
    for (let d = 0; d < nd; d++) dims.push(u64());
    tensors.set(name, { dims, type: u32(), offset: u64() });
  }
  const align = kv.get('general.alignment') ?? 32;
  const dataStart = Math.ceil(pos / align) * align;
  return { bytes, kv, tensors, dataStart };
}

// GPT-2's byte alphabet (the byte-level BPE vocabularies spell byte b as this character).
const BYTE_CHAR = (() => {
  const printable = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return map;
})();

// The vocabulary entry spelling raw `bytes` in the byte alphabet.
export function spellBytes(bytes) { return Array.from(bytes, (b) => BYTE_CHAR[b]).join(''); }
