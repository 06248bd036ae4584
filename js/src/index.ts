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
export type { WasmFlavor } from './runtime.js';
