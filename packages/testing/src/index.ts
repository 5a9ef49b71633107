/**
 * SimCluster: whole clusters in one process on a virtual clock and a fault
 * network, deterministic from a seed; safety invariant checks and a
 * linearizability checker, for raftline and for your own state machines.
 *
 * @module @raftline/testing
 */
// linearizability
export { checkLinearizability } from './linearizability/checker';
export { HistoryRecorder } from './linearizability/history';
export { kvModel } from './linearizability/kv-model';
export type { CheckOptions, CheckResult } from './linearizability/checker';
export type { Operation } from './linearizability/history';
export type { KvInput, KvOutput, KvState } from './linearizability/kv-model';
export type { Model } from './linearizability/model';

// simulation
export { SimCluster } from './sim/cluster';
export { SimClient } from './sim/client';
export { KvMachine } from './sim/kv-machine';
export { NotSupportedError } from './sim/options';
export { SafetyViolationError } from './sim/safety';
export { VirtualClock } from './sim/virtual-clock';
export { runSeed, digestOf } from './sim/sweep';
export {
  randomFault,
  runFaultPhase,
  healAll,
  DEFAULT_FAULT_WEIGHTS,
  RANDOM_FAULT_KINDS,
} from './sim/faults-random';
export type { SubmitResult } from './sim/cluster';
export type { SimCommand, SimProposeOptions, SimQueryOptions } from './sim/client';
export type { MembershipOptions } from './sim/admin';
export type { ClusterVerification } from './sim/verify';
export type { SeedSetup, SweepFeatures } from './sim/schedule';
export type { ReadPath } from './sim/workload';
export type { SimClusterOptions } from './sim/options';
export type { DropRule, MessageMatcher, NetworkStats, TrafficCount, UnreliableSettings } from './sim/network';
export type { SafetyProperty, SnapshotView } from './sim/safety';
export type { RunSeedOptions, SeedResult, Violation } from './sim/sweep';
export type {
  FaultPhaseOptions,
  RandomFaultKind,
  RandomFaultOptions,
  RandomFaultWeights,
} from './sim/faults-random';
