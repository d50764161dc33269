// The NoisyNN comparison: its options, the run, and the results table.
export { COMPARISON_DEFAULTS, QUICK_COMPARISON } from './options';
export type { ComparisonConfig, ComparisonOptions, RunInfo } from './options';
export { resumeFromLog, runComparison } from './run';
export { describeComparison, formatComparisonTable, OFFICIAL_PRESET_LABEL, spread, summarize } from './table';
export type { ComparisonAudit, ComparisonResult, ComparisonRun, KindSummary, Spread } from './table';
