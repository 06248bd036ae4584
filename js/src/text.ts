// Full-text search (issue 14): texts become the core's terms, queries too,
// and hybrid search fuses the vector and text result lists. Loaded only by
// stores created with `text` (or loaded from one), with the text build of
// the module (core/hybrid.h), so the core API's page carries none of it.
import { TabvecError } from './errors.js';
import type { NativeIndex } from './module-types.js';
import type { Runtime } from './runtime.js';
import type { AddManyProgress, SearchHit, SearchOptions, VectorStore } from './store.js';
import { TEXT_LANGUAGES, TOKENIZER_VERSION, type TextLanguage, tokenize } from './tokenize.js';

/** A store's full-text search, fixed when it is created (kept in its snapshots). */
export interface TextOptions {
  /**
   * How texts and queries become words. 'english' (default): lower-cased
   * Unicode words (Intl.Segmenter, any script), English stop words dropped,
   * English words Porter-stemmed, so "deploying" finds "deployed".
   * 'none': lower-cased words only.
   */
  language?: TextLanguage;
  /** BM25's term-frequency saturation, 0..100. Default 1.2. */
  k1?: number;
  /** BM25's length normalization, 0..1. Default 0.75. */
  b?: number;
}

export interface TextSearchOptions<M> {
  /** Number of results, default 10. */
  k?: number;
  /** As in search(): keeps only documents it returns true for. */
  filter?: SearchOptions<M>['filter'];
  /** As in search(): keeps only documents whose metadata has these top-level values. */
  where?: SearchOptions<M>['where'];
}

export interface TextHit<M> {
  id: string;
  /** BM25 score: larger is better. */
  score: number;
  metadata: M | undefined;
}

/**
 * How hybrid search merges its two lists. 'rrf' (default): Reciprocal Rank
 * Fusion, sum over the lists of 1 / (60 + rank), which needs no agreement
 * between distances and BM25 scores. 'weighted': each list's scores scaled
 * to 0..1 (min-max within the list), then (1 - textWeight) x vector +
 * textWeight x text; a document one list did not find gets 0 from it.
 */
export type Fusion = 'rrf' | 'weighted';

export interface HybridSearchOptions<M> extends SearchOptions<M> {
  /**
   * The query's words: search() then fuses vector and full-text results.
   * Undefined or blank (a search box left empty) fuses the vector results alone.
   */
  text: string | undefined;
  fusion?: Fusion;
  /** 'weighted' fusion only: the text list's weight, 0..1. Default 0.5. */
  textWeight?: number;
  /** How many results each list contributes before fusing; at least k. Default max(k, 40). */
  candidates?: number;
}

export interface HybridHit<M> {
  id: string;
  /** The fused score: larger is better. */
  score: number;
  metadata: M | undefined;
  /** Where vector search ranked it (1 = first) and its distance; absent if it did not find it. */
  vector?: { rank: number; distance: number };
  /** Where text search ranked it and its BM25 score; absent if it did not find it. */
  text?: { rank: number; score: number };
}

/**
 * The longest text a document may have, in UTF-16 units (a JS string's
 * length): tokenizing it takes a few seconds, and a LiveStore's journal
 * record of it stays far below the 1 GiB a reader accepts.
 */
export const MAX_TEXT_LENGTH = 1 << 24;
// Reciprocal Rank Fusion's constant (Cormack, Clarke and Buettcher, 2009).
const RRF_K = 60;
const DEFAULT_CANDIDATES = 40;
const HYBRID_KEYS = ['k', 'listSize', 'rerankFactor', 'filter', 'where', 'text', 'fusion', 'textWeight', 'candidates'];
const encoder = new TextEncoder();

function invalid(message: string): TabvecError {
  return new TabvecError('INVALID_ARGUMENT', message);
}

function checkKeys(name: string, value: unknown, known: readonly string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${name} must be an object`);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw invalid(`${name} has an unknown option '${key.slice(0, 64)}'; the options are ${known.join(', ')}`);
  }
}

function checkCount(name: string, value: unknown, max: number): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max) {
    throw invalid(`${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  }
  return value as number;
}

function checkRange(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= max)) throw invalid(`${name} must be a number from 0 to ${max}, got ${String(value)}`);
  return value;
}

/** @internal A store's text support: its tokenizer and the core's limits. */
export class TextSupport {
  readonly language: TextLanguage;
  readonly #maxTermBytes: number;
  readonly #maxDocumentTerms: number;
  readonly #maxQueryTerms: number;

  constructor(rt: Runtime, language: TextLanguage) {
    const m = rt.module;
    this.language = language;
    this.#maxTermBytes = m.MAX_TERM_BYTES!;
    this.#maxDocumentTerms = m.MAX_DOCUMENT_TERMS!;
    this.#maxQueryTerms = m.MAX_QUERY_TERMS!;
  }

  /** A text's terms as the core takes them (each followed by a 0 byte). */
  document(text: unknown, what = 'text'): Uint8Array {
    if (typeof text !== 'string') throw invalid(`${what} must be a string, got ${text === null ? 'null' : typeof text}`);
    if (text.length > MAX_TEXT_LENGTH) throw invalid(`${what} has ${text.length} UTF-16 units; a document's text may have at most ${MAX_TEXT_LENGTH}`);
    const terms = tokenize(text, this.language, this.#maxTermBytes);
    if (terms.length > this.#maxDocumentTerms) {
      throw invalid(`${what} has ${terms.length} words; a document may have at most ${this.#maxDocumentTerms}`);
    }
    return encodeTerms(terms);
  }

  /**
   * addMany's texts (one per id, undefined for none) as terms, all checked
   * before anything is written. Tokenizing takes about half a millisecond a
   * document, so it yields progress every `sliceMs` for addManyAsync to
   * give the event loop a turn.
   */
  *documents(texts: readonly (string | undefined)[], n: number, sliceMs: number):
    Generator<AddManyProgress, (Uint8Array | undefined)[], void> {
    if (!Array.isArray(texts) || texts.length !== n) throw invalid(`texts must be an array with one entry per id (${n})`);
    const out = new Array<Uint8Array | undefined>(n);
    let sliceStart = performance.now();
    for (let i = 0; i < n; i++) {
      if (texts[i] !== undefined) out[i] = this.document(texts[i], `texts[${i}]`);
      if (performance.now() - sliceStart > sliceMs) {
        yield { phase: 'text', done: i + 1, total: n };
        sliceStart = performance.now();
      }
    }
    return out;
  }

  /** The heap bytes setTexts needs for these documents' texts. */
  room(docs: (Uint8Array | undefined)[] = []): number {
    return 3 + 4 * docs.length + docs.reduce((n, d) => n + (d?.length ?? 0), 0);
  }

  /**
   * Hands the core the next write's texts at ptr (room(docs) bytes), an
   * empty list for a write without any.
   */
  setTexts(rt: Runtime, native: NativeIndex, docs: (Uint8Array | undefined)[] = [], ptr: number): void {
    const n = docs.length;
    const lens = ptr + ((4 - (ptr & 3)) & 3); // no `& ~3`: past 2 GiB that would be negative
    let at = lens + 4 * n;
    const termsPtr = at;
    for (let i = 0; i < n; i++) {
      const doc = docs[i];
      rt.u32[(lens >>> 2) + i] = doc ? doc.length : 0xffffffff;
      if (doc) {
        rt.u8.set(doc, at);
        at += doc.length;
      }
    }
    const status = native.setTexts!(n, termsPtr, lens);
    if (status !== 0) throw rt.statusError(status, native.lastError());
  }

  /** VectorStore.searchText, with the store's filtering and result records. */
  search<M>(rt: Runtime, native: NativeIndex, query: string, options: TextSearchOptions<M>,
    filtered: (opts: TextSearchOptions<M>, run: (accept: ((slot: number) => boolean) | undefined) => number) => number,
    results: () => TextHit<M>[]): TextHit<M>[] {
    checkKeys('options', options, ['k', 'filter', 'where']);
    const k = checkCount('k', options.k ?? rt.module.DEFAULT_K, rt.module.MAX_TEXT_K!);
    const terms = this.query(query);
    if (terms.length === 0) return [];
    const status = filtered(options, (accept) => rt.withScratch(terms.length, (ptr) => {
      rt.u8.set(terms, ptr);
      return native.searchText!(ptr, terms.length, k, accept ?? null);
    }));
    if (status !== 0) throw rt.statusError(status, native.lastError());
    return results();
  }

  /** A query's terms (empty when it has only stop words). */
  query(query: unknown): Uint8Array {
    if (typeof query !== 'string' || query.trim() === '') throw invalid(`the text query must be a non-empty string, got ${typeof query === 'string' ? 'an empty one' : typeof query}`);
    const terms = tokenize(query, this.language, this.#maxTermBytes);
    if (terms.length > this.#maxQueryTerms) throw invalid(`the text query has ${terms.length} words; the most is ${this.#maxQueryTerms}`);
    return encodeTerms(terms);
  }

  /** search() with `text`: both searches, fused. */
  hybrid<M>(store: VectorStore<M>, rt: Runtime, query: Float32Array, options: HybridSearchOptions<M>): HybridHit<M>[] {
    checkKeys('options', options, HYBRID_KEYS);
    const { text, fusion = 'rrf', textWeight, candidates, ...vectorOptions } = options;
    if (fusion !== 'rrf' && fusion !== 'weighted') throw invalid(`fusion must be 'rrf' or 'weighted', got ${String(fusion)}`);
    if (textWeight !== undefined && fusion !== 'weighted') throw invalid("textWeight applies only with fusion 'weighted'");
    const weight = textWeight === undefined ? 0.5 : checkRange('textWeight', textWeight, 1);
    const k = checkCount('k', vectorOptions.k ?? rt.module.DEFAULT_K, rt.module.MAX_TEXT_K!);
    const depth = Math.max(k, candidates === undefined ? DEFAULT_CANDIDATES : checkCount('candidates', candidates, rt.module.MAX_TEXT_K!));
    const vectorHits = store.search(query, { ...vectorOptions, k: depth });
    // No text (undefined, or blank: a search box left empty): the vector half alone.
    const textHits = text === undefined || (typeof text === 'string' && text.trim() === '') ? []
      : store.searchText(text, { k: depth, filter: vectorOptions.filter, where: vectorOptions.where });
    return fuse(vectorHits, textHits, k, fusion, weight);
  }

}

function encodeTerms(terms: string[]): Uint8Array {
  return terms.length === 0 ? new Uint8Array(0) : encoder.encode(terms.join('\0') + '\0');
}

/** @internal The two lists fused: the best k, ties by vector rank, then text rank. */
export function fuse<M>(vectorHits: SearchHit<M>[], textHits: TextHit<M>[], k: number, fusion: Fusion, textWeight: number): HybridHit<M>[] {
  const byId = new Map<string, HybridHit<M>>();
  const scale = (values: number[]) => {
    const lo = Math.min(...values);
    const span = Math.max(...values) - lo;
    return (v: number) => (span > 0 ? (v - lo) / span : 1);
  };
  const vectorScale = scale(vectorHits.map((h) => -h.distance));
  const textScale = scale(textHits.map((h) => h.score));
  vectorHits.forEach((h, i) => {
    byId.set(h.id, {
      id: h.id, metadata: h.metadata, vector: { rank: i + 1, distance: h.distance },
      score: fusion === 'rrf' ? 1 / (RRF_K + i + 1) : (1 - textWeight) * vectorScale(-h.distance),
    });
  });
  textHits.forEach((h, i) => {
    const part = fusion === 'rrf' ? 1 / (RRF_K + i + 1) : textWeight * textScale(h.score);
    const hit = byId.get(h.id);
    if (hit) {
      hit.score += part;
      hit.text = { rank: i + 1, score: h.score };
    } else {
      byId.set(h.id, { id: h.id, metadata: h.metadata, text: { rank: i + 1, score: h.score }, score: part });
    }
  });
  const far = Number.MAX_SAFE_INTEGER;
  return [...byId.values()]
    .sort((a, b) => b.score - a.score || (a.vector?.rank ?? far) - (b.vector?.rank ?? far) || (a.text?.rank ?? far) - (b.text?.rank ?? far))
    .slice(0, k);
}

/** @internal Checks `text` options and sets them for the store `native` is about to create. */
export function configure(rt: Runtime, native: NativeIndex, options: unknown): TextSupport {
  const opts = (options === true ? {} : options) as TextOptions;
  checkKeys('text', opts, ['language', 'k1', 'b']);
  const language = opts.language ?? TEXT_LANGUAGES[0]!; // the first is the default
  const code = TEXT_LANGUAGES.indexOf(language);
  if (code < 0) throw invalid(`text.language must be one of ${TEXT_LANGUAGES.join(', ')}, got ${String(language)}`);
  const m = rt.module;
  native.textOptions!(code, TOKENIZER_VERSION, checkRange('text.k1', opts.k1 ?? m.DEFAULT_BM25_K1!, m.MAX_BM25_K1!), checkRange('text.b', opts.b ?? m.DEFAULT_BM25_B!, 1));
  return new TextSupport(rt, language);
}

/** @internal The text support of a store loaded from a snapshot with text. */
export function loaded(rt: Runtime, native: NativeIndex): TextSupport {
  const language = TEXT_LANGUAGES[native.textLanguage!()];
  const tokenizer = native.textTokenizer!();
  if (tokenizer !== TOKENIZER_VERSION) {
    throw new TabvecError('UNSUPPORTED_VERSION', `the store's texts were tokenized by tokenizer version ${tokenizer}; this version of tabvec has version ${TOKENIZER_VERSION}`);
  }
  if (language === undefined) {
    throw new TabvecError('UNSUPPORTED_VERSION', `the store's texts were tokenized as language ${native.textLanguage!()}, which this version of tabvec does not know`);
  }
  return new TextSupport(rt, language);
}
