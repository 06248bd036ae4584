// The small-memory build: tabvec-small.{mjs,wasm} is the SIMD build with a
// 32 MiB ceiling on WebAssembly memory (built only with -DTABVEC_TESTS=ON).
// Without touching product code, each test copies dist/ into a temp dir,
// puts the small build in place of wasm/tabvec-simd.{mjs,wasm}, and imports
// index.js from the copy with wasm: 'simd'; each copy is a fresh module.
//
// Asserted: filling the module makes writes fail with a TabvecError
// (OUT_OF_MEMORY, or MEMORY_CAP_EXCEEDED for a capped store), never an
// untyped error or an abort; a failed call changes nothing (serialize()
// bytes equal, when there is room to serialize); other stores keep their
// contents; disposing a store makes its memory usable again; and a store that
// hit out-of-memory still serializes to bytes that deserialize.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type * as Tabvec from '../../dist/index.js';
import { root, uniformSource } from './data.js';

const smallMjs = path.join(root, 'build/wasm/wasm-out/tabvec-small.mjs');
const smallWasm = path.join(root, 'build/wasm/wasm-out/tabvec-small.wasm');
const haveSmall = existsSync(smallMjs) && existsSync(smallWasm) && existsSync(path.join(root, 'dist/index.js'));
if (!haveSmall) {
  const msg = `the small-memory build is missing (${smallMjs}); build with -DTABVEC_TESTS=ON (bash scripts/build.sh) and npm run build`;
  if (process.env.CI === 'true') throw new Error(`required under CI: ${msg}`);
  console.warn(`\n*** SKIPPED small-memory tests: ${msg} ***\n`);
}

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

// A fresh copy of the package running the 32 MiB build: its own module instance.
async function loadSmall(): Promise<typeof Tabvec> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tabvec-small-'));
  temps.push(dir);
  cpSync(path.join(root, 'dist'), dir, { recursive: true });
  cpSync(smallMjs, path.join(dir, 'wasm/tabvec-simd.mjs'));
  cpSync(smallWasm, path.join(dir, 'wasm/tabvec-simd.wasm'));
  return (await import(/* @vite-ignore */ pathToFileURL(path.join(dir, 'index.js')).href)) as typeof Tabvec;
}

const MiB = 1 << 20;
type Store = Tabvec.VectorStore<unknown>;
interface Rec {
  vector: Float32Array;
  metadata: unknown;
}
interface Tracked {
  name: string;
  store: Store;
  exact: boolean; // float32 storage, l2: get() returns the stored floats exactly
  model: Map<string, Rec>;
  next: number;
}

const random = uniformSource(42);
function vectors(n: number, dim: number): Float32Array {
  const v = new Float32Array(n * dim);
  for (let i = 0; i < v.length; i++) v[i] = Math.round((random() * 2 - 1) * 64) / 8;
  return v;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeErr(e: unknown): string {
  const code = (e as { code?: string })?.code;
  return `${(e as Error)?.name ?? typeof e}${code ? `/${code}` : ''}: ${String((e as Error)?.message ?? e).slice(0, 200)}`;
}

const MEMORY_CODES = ['OUT_OF_MEMORY', 'MEMORY_CAP_EXCEEDED'];
const OOM = Symbol('typed OUT_OF_MEMORY');

// A read while the module is full: its value, or OOM if it failed with a typed OUT_OF_MEMORY.
function readOrOom<T>(tv: typeof Tabvec, fn: () => T): T | typeof OOM {
  try {
    return fn();
  } catch (e) {
    if (e instanceof tv.TabvecError && e.code === 'OUT_OF_MEMORY') return OOM;
    throw e;
  }
}

// serialize(), or null when the module has no room for the copy (which must be a typed OUT_OF_MEMORY).
function trySerialize(tv: typeof Tabvec, t: Tracked, what: string): Uint8Array | null {
  try {
    return t.store.serialize();
  } catch (e) {
    expect(e, `${t.name}.serialize() ${what}: ${describeErr(e)}`).toBeInstanceOf(tv.TabvecError);
    expect((e as Tabvec.TabvecError).code, `${t.name}.serialize() ${what}`).toBe('OUT_OF_MEMORY');
    return null;
  }
}

// Checks a store against its model. Under memory pressure a read may fail
// with a typed OUT_OF_MEMORY (when allowOom), never return wrong data.
function checkContents(tv: typeof Tabvec, t: Tracked, allowOom: boolean, sample = Infinity): void {
  expect(t.store.size(), `${t.name}.size`).toBe(t.model.size);
  let i = 0;
  const every = Math.max(1, Math.floor(t.model.size / sample));
  for (const [id, rec] of t.model) {
    if (i++ % every !== 0) continue;
    let got: { vector: Float32Array; metadata: unknown } | undefined;
    try {
      expect(t.store.has(id), `${t.name}.has(${id})`).toBe(true);
      got = t.store.get(id);
    } catch (e) {
      if (allowOom && e instanceof tv.TabvecError && e.code === 'OUT_OF_MEMORY') continue;
      throw new Error(`${t.name}: reading ${id} threw ${describeErr(e)}`);
    }
    expect(got, `${t.name}.get(${id})`).toBeDefined();
    expect(got!.metadata, `${t.name}.get(${id}).metadata`).toEqual(rec.metadata);
    if (t.exact) expect(Array.from(got!.vector), `${t.name}.get(${id}).vector`).toEqual(Array.from(rec.vector));
  }
}

type Op = 'addMany' | 'add' | 'upsert' | 'setMetadata' | 'search' | 'serialize' | 'deserialize' | 'consolidate';

// One operation on t. Success updates the model; failure must be a typed
// memory error that changed nothing. Returns the error code, or null.
async function step(tv: typeof Tabvec, t: Tracked, op: Op, batch: number): Promise<string | null> {
  const dim = t.store.dim;
  const before = trySerialize(tv, t, `before ${op}`);
  const pending = new Map<string, Rec>();
  let removed: string | null = null;
  try {
    switch (op) {
      case 'addMany': {
        const ids = Array.from({ length: batch }, (_, i) => `${t.name}-${t.next + i}`);
        const v = vectors(batch, dim);
        const metas = ids.map((id, i) => (i % 3 === 0 ? { id, pad: 'p'.repeat(i % 40) } : undefined));
        t.store.addMany(ids, v, metas);
        ids.forEach((id, i) => pending.set(id, { vector: v.slice(i * dim, (i + 1) * dim), metadata: metas[i] }));
        t.next += batch;
        break;
      }
      case 'add': {
        const id = `${t.name}-${t.next}`;
        const v = vectors(1, dim);
        t.store.add(id, v, { one: t.next });
        pending.set(id, { vector: v, metadata: { one: t.next } });
        t.next++;
        break;
      }
      case 'upsert': {
        const ids = [...t.model.keys()];
        const id = ids.length ? ids[Math.floor(random() * ids.length)]! : `${t.name}-u`;
        const v = vectors(1, dim);
        t.store.upsert(id, v, { upserted: 'u'.repeat(50) });
        pending.set(id, { vector: v, metadata: { upserted: 'u'.repeat(50) } });
        break;
      }
      case 'setMetadata': {
        const ids = [...t.model.keys()];
        if (!ids.length) return null;
        const id = ids[Math.floor(random() * ids.length)]!;
        const meta = { big: 'm'.repeat(2000 + Math.floor(random() * 20000)) };
        t.store.setMetadata(id, meta);
        pending.set(id, { vector: t.model.get(id)!.vector, metadata: meta });
        break;
      }
      case 'search': {
        const hits = t.store.search(vectors(1, dim), { k: 5, where: undefined });
        expect(hits.length, `${t.name}.search hits`).toBe(Math.min(5, t.model.size));
        for (const h of hits) expect(t.model.has(h.id), `${t.name}.search returned ${h.id}`).toBe(true);
        break;
      }
      case 'serialize':
        t.store.serialize();
        break;
      case 'deserialize': {
        const bytes = t.store.serialize();
        const copy = await tv.VectorStore.deserialize(bytes, { wasm: 'simd' });
        try {
          expect(copy.size(), `${t.name} copy size`).toBe(t.model.size);
          expect(sameBytes(copy.serialize(), bytes), `${t.name}: deserialize(serialize()).serialize() equals the bytes`).toBe(true);
        } finally {
          copy.dispose();
        }
        break;
      }
      case 'consolidate': {
        const ids = [...t.model.keys()];
        if (ids.length > 10) {
          removed = ids[Math.floor(random() * ids.length)]!;
          t.store.delete(removed);
          t.model.delete(removed);
        }
        t.store.consolidate();
        break;
      }
    }
  } catch (e) {
    if (!(e instanceof tv.TabvecError) || !MEMORY_CODES.includes(e.code)) {
      throw new Error(`${t.name}.${op}() failed with ${describeErr(e)}; expected TabvecError ${MEMORY_CODES.join('|')}`);
    }
    // A delete before a failed consolidate() is a separate call that succeeded.
    const after = trySerialize(tv, t, `after a failed ${op}`);
    if (before && after && op !== 'consolidate') {
      expect(sameBytes(before, after), `${t.name}.${op}() threw ${e.code} but changed the store (serialize() bytes differ)`).toBe(true);
    }
    for (const id of pending.keys()) {
      if (t.model.has(id)) continue;
      const present = readOrOom(tv, () => t.store.has(id));
      if (present !== OOM) expect(present, `${t.name}: failed ${op} left ${id} behind`).toBe(false);
    }
    checkContents(tv, t, true, 200);
    return e.code;
  }
  for (const [id, rec] of pending) t.model.set(id, rec);
  return null;
}

async function makeStores(tv: typeof Tabvec): Promise<Tracked[]> {
  const mk = async (name: string, exact: boolean, options: Omit<Tabvec.VectorStoreOptions, 'wasm'>): Promise<Tracked> => ({
    name, exact, model: new Map(), next: 0, store: await tv.VectorStore.create<unknown>({ ...options, wasm: 'simd' }),
  });
  return [
    await mk('bulk', true, { dim: 256, metric: 'l2', storage: 'float32', maxBuffer: 65536 }),
    await mk('graph', true, { dim: 16, metric: 'l2', storage: 'float32', maxBuffer: 64 }),
    await mk('int8', false, { dim: 64, metric: 'cosine' }),
    await mk('capped', true, { dim: 32, metric: 'l2', storage: 'float32', maxMemoryBytes: 2 * MiB }),
  ];
}

describe.skipIf(!haveSmall)('small-memory build (32 MiB ceiling)', () => {
  it('the copy really runs the small build', async () => {
    const tv = await loadSmall();
    const s = await tv.VectorStore.create({ dim: 4, wasm: 'simd' });
    expect(s.stats().simd).toBe(true);
    // 256 vectors of 16384 floats need 16 MiB each round; 3 rounds cannot fit in 32 MiB.
    let failed: unknown;
    const big = await tv.VectorStore.create({ dim: 16384, storage: 'float32', metric: 'l2', maxBuffer: 65536, wasm: 'simd' });
    try {
      for (let i = 0; i < 3 && !failed; i++) {
        try {
          big.addMany(Array.from({ length: 256 }, (_, j) => `r${i}-${j}`), new Float32Array(256 * 16384).fill(i + 1));
        } catch (e) {
          failed = e;
        }
      }
    } finally {
      big.dispose();
      s.dispose();
    }
    expect(failed, 'filling 48 MiB of vectors must fail in a 32 MiB module').toBeDefined();
  });

  it('filling the module: typed errors only, a failed call changes nothing, other stores keep working, dispose frees memory', async () => {
    const tv = await loadSmall();
    const stores = await makeStores(tv);
    const ops: Op[] = ['addMany', 'addMany', 'add', 'upsert', 'setMetadata', 'search', 'serialize', 'deserialize', 'consolidate'];
    const failures = new Map<string, number>();
    let consecutiveBulkFailures = 0;
    // Fill until the bulk store's batches keep failing: the module is full.
    for (let round = 0; round < 4000 && consecutiveBulkFailures < 8; round++) {
      for (const t of stores) {
        const op = t.name === 'bulk' ? (round % 4 === 3 ? ops[4 + (round % 5)]! : 'addMany') : ops[round % ops.length]!;
        const batch = t.name === 'bulk' ? 256 : 8;
        const code = await step(tv, t, op, batch);
        if (code) failures.set(`${t.name}.${op} ${code}`, (failures.get(`${t.name}.${op} ${code}`) ?? 0) + 1);
        if (t.name === 'bulk' && op === 'addMany') consecutiveBulkFailures = code ? consecutiveBulkFailures + 1 : 0;
      }
    }
    console.log('[small-memory] failures while filling:', Object.fromEntries(failures));
    console.log('[small-memory] sizes:', stores.map((t) => `${t.name}=${t.model.size}`).join(' '),
      'wasm bytes', String(readOrOom(tv, () => stores[1]!.store.stats().wasmMemoryBytes)));
    expect([...failures.keys()].some((k) => k.includes('OUT_OF_MEMORY')), 'the module filled up (some call failed with OUT_OF_MEMORY)').toBe(true);
    expect(consecutiveBulkFailures, 'bulk batches kept failing at the end (module full)').toBeGreaterThanOrEqual(8);

    // Full: every store still holds exactly its contents (reads may only fail typed).
    for (const t of stores) checkContents(tv, t, true);
    // Small writes still either work or fail typed and change nothing.
    for (const t of stores) await step(tv, t, 'add', 1);

    // Dispose the bulk store: its memory is usable again.
    const bulk = stores.shift()!;
    const freedVectors = bulk.model.size;
    bulk.store.dispose();
    for (const t of stores) checkContents(tv, t, false);
    for (const t of stores) {
      const bytes = t.store.serialize();
      const copy = await tv.VectorStore.deserialize(bytes, { wasm: 'simd' });
      expect(sameBytes(copy.serialize(), bytes), `${t.name}: snapshot round trip after the module was full`).toBe(true);
      copy.dispose();
    }
    const again = await tv.VectorStore.create<unknown>({ dim: 256, metric: 'l2', storage: 'float32', maxBuffer: 65536, wasm: 'simd' });
    const n = Math.floor(freedVectors / 2 / 64) * 64;
    for (let i = 0; i < n; i += 64) {
      again.addMany(Array.from({ length: 64 }, (_, j) => `again-${i + j}`), vectors(64, 256));
    }
    expect(again.size(), 'adds succeed in the memory a disposed store gave back').toBe(n);
    expect(n).toBeGreaterThan(0);
    again.dispose();
    for (const t of stores) {
      expect(await step(tv, t, 'add', 1), `${t.name}.add after memory was freed`).toBeNull();
      checkContents(tv, t, false);
      t.store.dispose();
    }
  });

  it('a store that ran out of memory still serializes to bytes that deserialize (no phantom slots)', async () => {
    const tv = await loadSmall();
    const dim = 4096;
    const ballast = await tv.VectorStore.create({ dim, storage: 'float32', metric: 'l2', maxBuffer: 65536, wasm: 'simd' });
    // A small graph (R 8, L 16): linking the whole buffer after the ballast is freed stays quick.
    const victim = await tv.VectorStore.create<unknown>({ dim, storage: 'float32', metric: 'l2', maxBuffer: 65536, maxDegree: 8,
      buildListSize: 16, wasm: 'simd' });
    ballast.addMany(Array.from({ length: 256 }, (_, i) => `ballast-${i}`), vectors(256, dim)); // 4 MiB
    const model = new Map<string, Float32Array>();
    let oom: unknown;
    // Batches of 16, as in ../shared/repro/oom-phantom-slots.mjs.
    for (let i = 0; i < 10_000 && !oom; i += 16) {
      const v = vectors(16, dim);
      const ids = Array.from({ length: 16 }, (_, j) => `v${i + j}`);
      try {
        victim.addMany(ids, v);
        ids.forEach((id, j) => model.set(id, v.slice(j * dim, (j + 1) * dim)));
      } catch (e) {
        oom = e;
      }
    }
    expect(oom, 'adding batches of 16 KiB vectors eventually fails').toBeInstanceOf(tv.TabvecError);
    expect((oom as Tabvec.TabvecError).code).toBe('OUT_OF_MEMORY');
    expect(victim.size(), 'the failed batch added nothing').toBe(model.size);
    // A few more single adds while exhausted, then free the ballast.
    for (let k = 0; k < 3; k++) {
      const v = vectors(1, dim);
      try {
        victim.add(`exhausted-${k}`, v);
        model.set(`exhausted-${k}`, v);
      } catch (e) {
        expect(e).toBeInstanceOf(tv.TabvecError);
        expect(['OUT_OF_MEMORY']).toContain((e as Tabvec.TabvecError).code);
      }
    }
    ballast.dispose();
    for (let k = 0; k < 40; k++) {
      const v = vectors(1, dim);
      victim.add(`after-${k}`, v);
      model.set(`after-${k}`, v);
    }
    expect(victim.size()).toBe(model.size);
    // A filter that accepts one id makes search fall back to an exact scan when
    // the walk misses it (a graph of R 8 over random 4096-d vectors, built
    // one batch at a time, leaves some vectors without in-edges).
    const hit = victim.search(model.get('after-3')!, { k: 1, filter: (_m, id) => id === 'after-3' })[0];
    expect(hit?.id).toBe('after-3');
    expect(hit?.distance).toBe(0);
    // serialize() copies out through a bounded window, so it works with the
    // module all but full. Loading needs the bytes and the store in memory at
    // once, which a 32 MiB module cannot hold beside the victim: the copy is
    // loaded by the full-size build.
    const bytes = victim.serialize();
    let copy: Store;
    try {
      const full = (await import(/* @vite-ignore */ pathToFileURL(path.join(root, 'dist/index.js')).href)) as typeof Tabvec;
      copy = await full.VectorStore.deserialize(bytes, { wasm: 'simd' });
    } catch (e) {
      throw new Error(`the snapshot of a store that hit out-of-memory does not load: ${describeErr(e)}`);
    }
    expect(copy.size()).toBe(model.size);
    for (const [id, v] of model) expect(Array.from(copy.get(id)!.vector), `copy.get(${id})`).toEqual(Array.from(v));
    copy.dispose();
    victim.dispose();
  });

  // Loading streams the snapshot into the store's own chunks through a small
  // window: it never holds the snapshot and the store at once, so a store
  // larger than half the module still loads (it did not when the whole
  // snapshot was copied in first). Metadata included: it goes straight into
  // its arena, not through a buffer of its own.
  it('a store over half the module loads from its snapshot', async () => {
    const tv = await loadSmall();
    const text = 'x'.repeat(1_500_000);
    const ids = Array.from({ length: 12 }, (_, i) => `note-${i}`);
    const source = await tv.VectorStore.create({ dim: 4, wasm: 'simd' });
    const v = vectors(ids.length, 4);
    ids.forEach((id, i) => source.add(id, v.subarray(i * 4, i * 4 + 4), { id, text }));
    const bytes = source.serialize();
    expect(bytes.byteLength).toBeGreaterThan(16 * MiB); // half the module
    source.dispose();
    const copy = await tv.VectorStore.deserialize(bytes, { wasm: 'simd' });
    expect(copy.size()).toBe(ids.length);
    expect(copy.get('note-7')?.metadata).toEqual({ id: 'note-7', text });
    expect(sameBytes(copy.serialize(), bytes)).toBe(true);
    copy.dispose();
  });

  it('deserialize into a full module fails typed and leaks nothing', async () => {
    const tv = await loadSmall();
    const dim = 1024;
    const source = await tv.VectorStore.create({ dim, storage: 'float32', metric: 'l2', maxBuffer: 65536, wasm: 'simd' });
    source.addMany(Array.from({ length: 1024 }, (_, i) => `s${i}`), vectors(1024, dim)); // 4 MiB
    const bytes = source.serialize();
    const fillers: Store[] = [];
    let failures = 0;
    // Keep loading copies until the module is full; every failure must be typed.
    for (let i = 0; i < 20 && failures < 3; i++) {
      try {
        fillers.push(await tv.VectorStore.deserialize(bytes, { wasm: 'simd' }));
      } catch (e) {
        expect(e, describeErr(e)).toBeInstanceOf(tv.TabvecError);
        expect((e as Tabvec.TabvecError).code).toBe('OUT_OF_MEMORY');
        failures++;
      }
    }
    expect(failures, 'deserialize eventually fails for lack of memory').toBeGreaterThan(0);
    for (const f of fillers) expect(f.size()).toBe(1024);
    // Freeing the copies makes room for exactly as many again: failed loads leaked nothing.
    const loaded = fillers.length;
    for (const f of fillers.splice(0)) f.dispose();
    for (let i = 0; i < loaded; i++) fillers.push(await tv.VectorStore.deserialize(bytes, { wasm: 'simd' }));
    for (const f of fillers) f.dispose();
    expect(sameBytes(source.serialize(), bytes)).toBe(true);
    source.dispose();
  });

  it('an addMany / addManyAsync spanning many copy chunks that runs out of memory midway adds nothing', async () => {
    const tv = await loadSmall();
    const dim = 4096; // copy chunks of 64 vectors (1 MiB)
    const store = await tv.VectorStore.create<unknown>({ dim, storage: 'float32', metric: 'l2', maxBuffer: 65536, wasm: 'simd' });
    const keep = vectors(64, dim);
    store.addMany(Array.from({ length: 64 }, (_, i) => `keep-${i}`), keep);
    const before = store.serialize();
    const n = 2048; // 32 MiB of vectors: cannot fit
    const ids = Array.from({ length: n }, (_, i) => `big-${i}`);
    const data = vectors(n, dim);
    for (const mode of ['sync', 'async'] as const) {
      let error: unknown;
      try {
        if (mode === 'sync') store.addMany(ids, data);
        else await store.addManyAsync(ids, data);
      } catch (e) {
        error = e;
      }
      expect(error, `${mode}: a 32 MiB batch must fail in a 32 MiB module`).toBeInstanceOf(tv.TabvecError);
      expect((error as Tabvec.TabvecError).code, describeErr(error)).toBe('OUT_OF_MEMORY');
      expect(store.size(), `${mode}: the failed batch added nothing`).toBe(64);
      expect(store.has('big-0'), `${mode}: has(big-0) after the failed batch`).toBe(false);
      expect(sameBytes(store.serialize(), before), `${mode}: the failed batch changed the store (serialize() bytes differ)`).toBe(true);
    }
    // The memory the failed batches used is usable again.
    store.addMany(ids.slice(0, 512), data.subarray(0, 512 * dim));
    expect(store.size()).toBe(64 + 512);
    expect(Array.from(store.get('keep-5')!.vector)).toEqual(Array.from(keep.subarray(5 * dim, 6 * dim)));
    store.dispose();
  });
});
