// What the wrapper checks about snapshot bytes without handing them to the
// core: the magic and the checksum trailer (core/snapshot.h). Loading them
// into the heap to check would double memory, and WebAssembly memory never
// shrinks; the checksum is instead streamed through a small heap window into
// the core's (VectorStore.serialize does).

// "TABVEC\0\0", or "TABVEC\0T" for a store with text (core/hybrid.h).
const MAGIC = [0x54, 0x41, 0x42, 0x56, 0x45, 0x43, 0, 0];
// Magic, version and header size, then the 4-byte checksum: no snapshot is shorter.
const MIN_BYTES = MAGIC.length + 8 + 4;

/**
 * @internal Why `bytes` is not a snapshot by its own account (magic, checksum
 * trailer), or undefined if it is one. Says nothing about the structure: the
 * core checks that when it loads. `checksum`: the core's checksum of every
 * byte before the trailer.
 */
export function snapshotProblem(bytes: Uint8Array, checksum: number): string | undefined {
  if (bytes.length < MIN_BYTES) return `${bytes.length} bytes is too short for a snapshot`;
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i] && !(i === 7 && bytes[i] === 0x54)) return 'the bytes do not start with the snapshot magic';
  }
  const end = bytes.length - 4;
  const stored = (bytes[end]! | (bytes[end + 1]! << 8) | (bytes[end + 2]! << 16) | (bytes[end + 3]! << 24)) >>> 0;
  if (stored !== checksum) {
    return `the checksum trailer is ${stored.toString(16).padStart(8, '0')} but the bytes hash to ${checksum.toString(16).padStart(8, '0')}`;
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
