// The NoisyNN comparison: its options, the run, the summary and the tables.
export {
  CNN_CPU_COMPARISON,
  CNN_CPU_QUICK_COMPARISON,
  COMPARISON_DEFAULTS,
  COMPARISON_MODELS,
  comparisonProtocol,
  comparisonStrengths,
  QUICK_COMPARISON,
} from './options';
export type { ComparisonConfig, ComparisonOptions, RunInfo } from './options';
export { resumeFromLog, runComparison } from './run';
export { EFFECT_ALPHA, OFFICIAL_PRESET_LABEL, spread, summarize } from './summary';
export type {
  AuditSummary,
  ComparisonAudit,
  ComparisonResult,
  ComparisonRun,
  KindSummary,
  NoiseEffect,
  Spread,
} from './summary';
export { auditText, describeComparison, formatComparisonTable, verdictText } from './table';
