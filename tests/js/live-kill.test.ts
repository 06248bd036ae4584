// LiveStore against crashes and hostile use.
//
// 1. The crash test: a child process (live-kill-child.mjs) writes to a file
//    store, strict durability, and is killed with SIGKILL at a random point;
//    the parent reopens the store and checks it against a model built from
//    what the child logged. Every acknowledged write must be there, the store
//    must open every time, and what is there must be exactly the writes
//    called, in order, up to some point at or after the last acknowledged one.
// 2. Hostile use: damaged journals, concurrent stores, close/abort/throwing
//    callbacks in the middle of commits, save()/removeSaved() under a live
//    store, two processes on one file.
import 'fake-indexeddb/auto';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveStore, TabvecError, VectorStore, removeSaved } from '../../dist/index.js';
import { expectCodeAsync } from './expect-error.js';
import { DIM, vectorOf } from './live-kill-child.mjs';

const childScript = fileURLToPath(new URL('./live-kill-child.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tabvec-live-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const newFile = (): { file: string } => ({ file: join(dir, `store-${++fileCount}.tabvec`) });

type Meta = unknown;
interface Entry { vector: number[]; metadata: Meta }
type Model = Map<string, Entry>;

interface Op {
  n: number;
  op: 'add' | 'upsert' | 'delete' | 'setMetadata' | 'addMany' | 'consolidate';
  id?: string;
  ids?: string[];
  vs?: number;
  m?: Meta;
  ms?: ({ u: 1 } | { v: Meta })[];
}

const vectorArray = (vs: number): number[] => Array.from(vectorOf(vs) as Float32Array);

// Applies one logged write to the model as the store does; false if the store refuses it.
function applyOp(model: Model, op: Op): boolean {
  const meta = 'm' in op ? op.m : undefined;
  switch (op.op) {
    case 'add':
      if (model.has(op.id!)) return false;
      model.set(op.id!, { vector: vectorArray(op.vs!), metadata: meta });
      return true;
    case 'upsert':
      model.set(op.id!, { vector: vectorArray(op.vs!), metadata: meta });
      return true;
    case 'delete':
      return model.delete(op.id!);
    case 'setMetadata': {
      const e = model.get(op.id!);
      if (!e) return false;
      model.set(op.id!, { ...e, metadata: meta });
      return true;
    }
    case 'addMany': {
      const ids = op.ids!;
      if (new Set(ids).size !== ids.length || ids.some((id) => model.has(id))) return false;
      ids.forEach((id, k) => {
        const m = op.ms?.[k];
        model.set(id, { vector: vectorArray(op.vs! + k * 7919), metadata: m && 'v' in m ? m.v : undefined });
      });
      return true;
    }
    case 'consolidate':
      return true;
  }
}

interface Readable { size(): number; get(id: string): { vector: Float32Array; metadata: unknown } | undefined }

// The first difference between a store and the model over `ids`, or undefined.
function difference(store: Readable, model: Model, ids: Iterable<string>): string | undefined {
  for (const id of ids) {
    const want = model.get(id);
    const got = store.get(id);
    if (!want && !got) continue;
    if (!want) return `${id} is stored but should not be`;
    if (!got) return `${id} is missing`;
    const v = Array.from(got.vector);
    if (v.length !== want.vector.length || v.some((x, i) => x !== want.vector[i])) return `${id} has vector ${v.slice(0, 3)}..., expected ${want.vector.slice(0, 3)}...`;
    if (JSON.stringify(got.metadata) !== JSON.stringify(want.metadata)) return `${id} has metadata ${JSON.stringify(got.metadata)}, expected ${JSON.stringify(want.metadata)}`;
  }
  if (store.size() !== model.size) return `size ${store.size()}, expected ${model.size}`;
  return undefined;
}

interface Round {
  lines: Record<string, unknown>[];
  exit: { code: number | null; signal: NodeJS.Signals | null };
  killedBeforeAck: boolean;
}

// Runs the child until a random time after its first acknowledgement (or,
// with `early`, a random time after it starts), then SIGKILLs it.
function runChild(file: string, seed: number, durability: string, rand: () => number, early: boolean): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [childScript, file, String(seed), durability], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    let acked = false;
    const kill = () => child.kill('SIGKILL');
    const safety = setTimeout(kill, 20_000);
    if (early) timer = setTimeout(kill, Math.floor(rand() * 250));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (!acked && !early && out.includes('"t":"ack"')) {
        acked = true;
        timer = setTimeout(kill, 30 + Math.floor(rand() * 371));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(safety);
      clearTimeout(timer);
      const lines: Record<string, unknown>[] = [];
      for (const text of out.split('\n')) {
        if (text === '') continue;
        try {
          lines.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          // a line cut off by the kill: only ever the last one
        }
      }
      if (err.trim() !== '') lines.push({ t: 'stderr', text: err.slice(0, 2000) });
      resolve({ lines, exit: { code, signal }, killedBeforeAck: !out.includes('"t":"ack"') });
    });
  });
}

describe('LiveStore on a file: a writer process killed with SIGKILL at random points', () => {
  it('over >= 50 rounds every acknowledged write survives, the store opens every time, and holds exactly a prefix of the writes called', async () => {
    const ROUNDS = 60;
    const target = newFile();
    const rand = (() => { let a = 0x5eed; return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }; })();
    let model: Model = new Map();
    const universe = new Set<string>();
    let baseSeq = 0;
    let everReady = false;
    const totals = { rounds: 0, issued: 0, acked: 0, refused: 0, unackedKept: 0, unackedLost: 0, tornTails: 0, checkpointsAcked: 0, generations: 0, earlyKills: 0, staleLocks: 0 };
    const started = performance.now();
    let lastGeneration = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const early = round % 10 === 9; // now and then, killed while starting (open, lock, create)
      const durability = round % 4 === 3 ? 'relaxed' : 'strict';
      const result = await runChild(target.file, 1000 + round, durability, rand, early);
      const context = `round ${round} (${durability}${early ? ', early kill' : ''})`;
      const failed = result.lines.find((l) => l.t === 'crashed' || l.t === 'open-failed' || l.t === 'stderr');
      expect(failed, `${context}: the child failed: ${JSON.stringify(failed)}`).toBeUndefined();
      expect(result.exit.signal, `${context}: the child exited by itself (${JSON.stringify(result.exit)})`).toBe('SIGKILL');
      totals.rounds++;
      if (early) totals.earlyKills++;

      const ready = result.lines.find((l) => l.t === 'ready');
      if (ready) {
        everReady = true;
        // Nothing changed the store between the last check and this child's open.
        expect(ready.seq, `${context}: the child opened at another record`).toBe(baseSeq);
        expect(ready.size, context).toBe(model.size);
      }
      const issued = result.lines.filter((l) => l.t === 'issue') as unknown as Op[];
      const outcome = new Map<number, string>();
      for (const l of result.lines) {
        if (l.t === 'ack') outcome.set(l.n as number, 'ack');
        if (l.t === 'refused') outcome.set(l.n as number, l.code as string);
        if (l.t === 'ckpt') totals.checkpointsAcked++;
      }
      totals.issued += issued.length;

      // Every write called, in order, on a copy of the model: which succeed,
      // and the acknowledgements and refusals must agree with that.
      const walk: Model = new Map(model);
      const successes: Op[] = [];
      let mustHave = 0; // successes up to the last acknowledged one
      for (const op of issued) {
        for (const id of op.ids ?? (op.id ? [op.id] : [])) universe.add(id);
        const ok = applyOp(walk, op);
        const seen = outcome.get(op.n);
        if (seen === 'ack') {
          expect(ok, `${context}: write ${op.n} (${JSON.stringify(op)}) was acknowledged but should have been refused`).toBe(true);
          totals.acked++;
        } else if (seen !== undefined) {
          expect(ok, `${context}: write ${op.n} (${JSON.stringify(op)}) was refused (${seen}) but should have succeeded`).toBe(false);
          expect(['DUPLICATE_ID', 'UNKNOWN_ID']).toContain(seen);
          totals.refused++;
        }
        if (ok) successes.push(op);
        if (ok && seen === 'ack') mustHave = successes.length;
      }

      // The parent reopens: as a live store (taking over the dead child's lock) and as a copy.
      const lockFile = `${target.file}.lock`;
      if (existsSync(lockFile)) totals.staleLocks++;
      let live: LiveStore | undefined;
      try {
        live = await LiveStore.open(target);
      } catch (e) {
        if (!(e instanceof TabvecError && e.code === 'NOT_FOUND' && !everReady)) throw new Error(`${context}: the store does not open: ${String(e)}`);
      }
      if (!live) {
        expect(issued.length, context).toBe(0);
        continue;
      }
      everReady = true;
      if (live.recovery.tornTail) totals.tornTails++;
      const applied = live.seq - baseSeq;
      expect(applied, `${context}: ${applied} records after reopen, but ${mustHave} writes were acknowledged`).toBeGreaterThanOrEqual(mustHave);
      expect(applied, `${context}: more records than successful writes called`).toBeLessThanOrEqual(successes.length);
      totals.unackedKept += applied - mustHave;
      totals.unackedLost += successes.length - applied;
      const next: Model = new Map(model);
      for (const op of successes.slice(0, applied)) applyOp(next, op);
      const liveDiff = difference(live, next, universe);
      const copy = await VectorStore.open(target);
      const copyDiff = difference(copy, next, universe);
      copy.dispose();
      await live.close();
      expect(liveDiff, `${context}: LiveStore.open differs from the model`).toBeUndefined();
      expect(copyDiff, `${context}: VectorStore.open differs from the model`).toBeUndefined();
      expect(existsSync(lockFile), `${context}: close() left the lock file`).toBe(false);
      const generation = (JSON.parse(readFileSync(target.file, 'utf8')) as { generation: number }).generation;
      if (generation !== lastGeneration) totals.generations++;
      lastGeneration = generation;
      model = next;
      baseSeq += applied;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`live-kill: ${totals.rounds} rounds in ${seconds} s; ${totals.issued} writes called, ${totals.acked} acknowledged, ` +
      `${totals.refused} refused; unacknowledged but present ${totals.unackedKept}, unacknowledged and absent ${totals.unackedLost}; ` +
      `torn tails seen ${totals.tornTails}; checkpoints acknowledged ${totals.checkpointsAcked}, manifest generations seen ${totals.generations}; ` +
      `early kills ${totals.earlyKills}; stale locks taken over ${totals.staleLocks}; final: ${model.size} vectors, seq ${baseSeq}`);
    expect(totals.rounds).toBeGreaterThanOrEqual(50);
    expect(totals.acked).toBeGreaterThan(1000);
    expect(totals.checkpointsAcked).toBeGreaterThan(0);
  });
});
