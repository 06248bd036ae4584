// What the wrapper checks about snapshot bytes without handing them to the
// core: the magic and the CRC-32 trailer (core/snapshot.h), the same in every
// format version. Loading them into the heap to check would double memory, and
// WebAssembly memory never shrinks; the CRC can instead be streamed through a
// small heap window into the core's, several times faster than JS
// (VectorStore.serialize does).

const MAGIC = [0x54, 0x41, 0x42, 0x56, 0x45, 0x43, 0, 0]; // "TABVEC\0\0"
// Magic, version and header size, then the 4-byte CRC: no snapshot is shorter.
const MIN_BYTES = MAGIC.length + 8 + 4;

// Slicing-by-4 tables for the standard reflected CRC-32 (polynomial 0xEDB88320):
// snapshots reach hundreds of megabytes, and four table lookups per word are
// several times faster than one per byte.
const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 4 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0]![i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 4; s++) t[s]![i] = (t[s - 1]![i]! >>> 8) ^ t[0]![t[s - 1]![i]! & 0xff]!;
  }
  return t;
})();

/** @internal CRC-32 of bytes[0, end). */
export function crc32(bytes: Uint8Array, end = bytes.length): number {
  const [t0, t1, t2, t3] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let c = 0xffffffff;
  let i = 0;
  for (const stop = end - 3; i < stop; i += 4) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t3[c & 0xff]! ^ t2[(c >>> 8) & 0xff]! ^ t1[(c >>> 16) & 0xff]! ^ t0[c >>> 24]!;
  }
  for (; i < end; i++) c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * @internal Why `bytes` is not a snapshot by its own account (magic, CRC
 * trailer), or undefined if it is one. Says nothing about the structure: the
 * core checks that when it loads. `crc` computes the checksum of bytes[0, end)
 * (the core's, streamed, when a heap window is at hand).
 */
export function snapshotProblem(bytes: Uint8Array, crc: (bytes: Uint8Array, end: number) => number = crc32): string | undefined {
  if (bytes.length < MIN_BYTES) return `${bytes.length} bytes is too short for a snapshot`;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return 'the bytes do not start with the snapshot magic';
  const end = bytes.length - 4;
  const stored = (bytes[end]! | (bytes[end + 1]! << 8) | (bytes[end + 2]! << 16) | (bytes[end + 3]! << 24)) >>> 0;
  const computed = crc(bytes, end);
  if (stored !== computed) {
    return `the CRC-32 trailer is ${stored.toString(16).padStart(8, '0')} but the bytes hash to ${computed.toString(16).padStart(8, '0')}`;
  }
  return undefined;
}

/** @internal True if the two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  // Word-wise when both are 4-byte aligned (they are for fresh buffers).
  const n = a.byteLength;
  let i = 0;
  if ((a.byteOffset & 3) === 0 && (b.byteOffset & 3) === 0) {
    const wa = new Uint32Array(a.buffer, a.byteOffset, n >>> 2);
    const wb = new Uint32Array(b.buffer, b.byteOffset, n >>> 2);
    for (let w = 0; w < wa.length; w++) if (wa[w] !== wb[w]) return false;
    i = wa.length * 4;
  }
  for (; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
