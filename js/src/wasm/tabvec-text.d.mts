import type { TabvecModuleFactory } from '../module-types.js';
declare const createTabvecModule: TabvecModuleFactory;
export default createTabvecModule;
