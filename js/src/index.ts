export { VectorStore } from './store.js';
export type {
  AddManyOptions,
  AddManyProgress,
  LoadOptions,
  MemoryUse,
  Metric,
  SearchHit,
  SearchOptions,
  Storage,
  StoreStats,
  VectorStoreOptions,
} from './store.js';
export { TabvecError } from './errors.js';
export type { TabvecErrorCode } from './errors.js';
export { simdSupported } from './runtime.js';
export { removeSaved, requestPersistentStorage } from './persist.js';
export type { SaveReport, StorageTarget } from './persist.js';
export type { WasmFlavor } from './runtime.js';
