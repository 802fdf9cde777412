export * from './pricing/index.js';
export { buildPlansContracts, type PlansContracts, type PlansContractsDeps } from './plans-contracts.js';
export { buildCharges, type Charges, type ChargesDeps, type ChargesService } from './charges.js';
export { buildStatement, type Statement, type StatementInput, type StatementLine } from './statement.js';
export { buildRatingLoop, ratedSnapshots, type RatingLoop, type RatingLoopDeps, type RatedSnapshot } from './rating-loop.js';
export * from './schemas.js';
