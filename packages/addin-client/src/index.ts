// The public surface of @mcms/addin-client: the typed add-in API client (what the .NET add-in mirrors)
// and the simulator that demos, end-to-end tests and the benchmark run. Named exports only.
export {
  createAddinClient,
  type AddinClient,
  type AddinClientOptions,
  type CallOptions,
  type NextOptions,
  type RetryOptions,
} from './client';
export { AddinApiError, isAddinApiError, type AddinApiErrorInit, type AddinErrorCode } from './errors';
export {
  describeOutput,
  jobFolderPath,
  jobTargetOf,
  plannedOutputs,
  writeJobOutputs,
  type JobTarget,
  type PlannedFile,
} from './outputs';
export {
  leaseMsOf,
  pickOutcome,
  runSimulator,
  SIM_OUTCOMES,
  type OutcomeMix,
  type SimEvent,
  type SimOutcome,
  type SimulatorOptions,
  type SimulatorSummary,
} from './simulator';
export { percentile, summarizeLatencies, type LatencySummary } from './stats';
