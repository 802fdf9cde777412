export * from './pricing/index.js';
export { buildPlansContracts, contractVersionRow, type PlansContracts, type PlansContractsDeps } from './plans-contracts.js';
export { buildCharges, type Charges, type ChargesDeps, type ChargesService, type RatingOutcome } from './charges.js';
export { RatingFailedError, type RatingFailure, type RatingFailureKind } from './rating-failure.js';
export { buildStatement, type Statement, type StatementInput, type StatementLine } from './statement.js';
export { buildRatingLoop, type CustomerFailure, type RatingLoop, type RatingLoopDeps } from './rating-loop.js';
export { buildRatedCharges, ratedChargeRow, RatedChargesReadError, type RatedCharges, type RatedChargesDeps, type RatedFigure } from './rated-charges.js';
export * from './schemas.js';
