export * from './pricing/index.js';
export { buildPlansContracts, type PlansContracts, type PlansContractsDeps } from './plans-contracts.js';
export * from './schemas.js';
