// The snapshot checksums as the formats define them (core/snapshot.h), written
// plainly from their definitions so tests can forge snapshots that pass the
// checksum and check the core's fast versions: CRC-32 before format 3, the
// low 32 bits of XXH64 (seed 0) from it on. Slow (BigInt), for test-sized bytes.
import { crc32 } from '../../dist/journal.js';

const MASK = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & MASK;
const round = (acc: bigint, input: bigint) => (rotl((acc + input * P2) & MASK, 31n) * P1) & MASK;
function read(b: Uint8Array, at: number, bytes: number): bigint {
  let v = 0n;
  for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
}

/** XXH64 with seed 0 of bytes[0, end). */
export function xxh64(b: Uint8Array, end = b.length): bigint {
  let i = 0;
  let h: bigint;
  if (end >= 32) {
    const v = [(P1 + P2) & MASK, P2, 0n, (0n - P1) & MASK];
    for (; i + 32 <= end; i += 32) for (let l = 0; l < 4; l++) v[l] = round(v[l]!, read(b, i + 8 * l, 8));
    h = (rotl(v[0]!, 1n) + rotl(v[1]!, 7n) + rotl(v[2]!, 12n) + rotl(v[3]!, 18n)) & MASK;
    for (const lane of v) h = (((h ^ round(0n, lane)) * P1) & MASK) + P4 & MASK;
  } else {
    h = P5;
  }
  h = (h + BigInt(end)) & MASK;
  for (; i + 8 <= end; i += 8) h = ((rotl(h ^ round(0n, read(b, i, 8)), 27n) * P1) & MASK) + P4 & MASK;
  if (i + 4 <= end) {
    h = ((rotl(h ^ ((read(b, i, 4) * P1) & MASK), 23n) * P2) & MASK) + P3 & MASK;
    i += 4;
  }
  for (; i < end; i++) h = (rotl(h ^ ((BigInt(b[i]!) * P5) & MASK), 11n) * P1) & MASK;
  h ^= h >> 33n;
  h = (h * P2) & MASK;
  h ^= h >> 29n;
  h = (h * P3) & MASK;
  return h ^ (h >> 32n);
}

/** The checksum a snapshot's trailer holds over bytes[0, end), by the version in its header. */
export function snapshotChecksum(b: Uint8Array, end = b.length - 4): number {
  const version = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(8, true);
  return version >= 3 ? Number(xxh64(b, end) & 0xffffffffn) : crc32(b, end);
}

/** Rewrites the trailer to match the bytes before it. */
export function reseal(b: Uint8Array): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(b.length - 4, snapshotChecksum(b), true);
}
