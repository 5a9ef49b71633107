// linearizability
export { checkLinearizability } from './linearizability/checker';
export { HistoryRecorder } from './linearizability/history';
export { kvModel } from './linearizability/kv-model';
export type { CheckOptions, CheckResult } from './linearizability/checker';
export type { Operation } from './linearizability/history';
export type { KvInput, KvOutput, KvState } from './linearizability/kv-model';
export type { Model } from './linearizability/model';
