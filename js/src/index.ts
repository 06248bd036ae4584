import type { StorageTarget } from './persist.js';

export { VectorStore } from './store.js';
export type {
  AddManyOptions,
  AddManyProgress,
  LoadOptions,
  MemoryUse,
  OpenOptions,
  Metric,
  SearchHit,
  SearchOptions,
  Rerank,
  Storage,
  StoreStats,
  VectorStoreOptions,
  WriteOptions,
  Fusion,
  HybridHit,
  HybridSearchOptions,
  TextHit,
  TextLanguage,
  TextOptions,
  TextSearchOptions,
} from './store.js';
export { LiveStore } from './live.js';
export type { ChangeEvent, LiveStoreOptions } from './live.js';
export { TabvecError } from './errors.js';
export type { TabvecErrorCode } from './errors.js';
export { simdSupported } from './runtime.js';
export type { RecoveryReport, SaveReport, StorageTarget } from './persist.js';
export type { Durability } from './storage.js';

// Storage code is imported when first used, so a page that never saves or
// opens does not download it.

/** Deletes what is saved under a target (no error if nothing is). */
export async function removeSaved(target: StorageTarget): Promise<void> {
  return (await import('./persist.js')).removeSaved(target);
}

/**
 * Asks the browser not to evict this origin's storage under pressure
 * (navigator.storage.persist()). Resolves to whether the request was granted;
 * false where the API does not exist.
 */
export async function requestPersistentStorage(): Promise<boolean> {
  return (await import('./persist.js')).requestPersistentStorage();
}
export type { WasmFlavor } from './runtime.js';
