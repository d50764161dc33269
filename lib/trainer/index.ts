// Training: the Trainer and its options.
export { Trainer } from './trainer';
export type { EpochEvent, EvalResult, FitOptions, FitResult, StepEvent, StepResult } from './types';
export type {
  OptimizerOptions,
  ResolvedOptimizerOptions,
  ResolvedScheduleOptions,
  ResolvedTrainerOptions,
  ScheduleOptions,
  TrainerOptions,
} from './options';
