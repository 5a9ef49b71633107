/**
 * The `raftline` command (bin/raftline.js), and what it is built from for programs
 * that run replicas the way `raftline serve` does.
 *
 * @module @raftline/cli
 */

export { run, program } from './main';
export { EXIT, UsageError, CommandExit, MirrorStartError, exitCodeOf, describeError } from './errors';
export type { ExitCode } from './errors';

// serve
export { loadServeConfig, readConfigFile, SERVE_SETTINGS, GROUP_SETTING } from './config/load';
export { validateServeConfig, SERVE_DEFAULTS, SERVICES, LOG_LEVELS, JOIN_MODES } from './config/schema';
export { startServe } from './serve/serve';
export { createLogger } from './logging';
export { createMachine, loadMachineClass, isMachineClass } from './serve/machine';
export { applyBindings } from './serve/bindings';
export type { ServeSetting, ServeSources } from './config/load';
export type {
  ServeConfig,
  GroupSettings,
  NatsSettings,
  StoreSettings,
  MetricsSettings,
  LogSettings,
  ShutdownSettings,
  LogLevel,
  JoinMode,
} from './config/schema';
export type { RunningServe } from './serve/serve';
export type { RunningGroup } from './serve/group';
export type { MachineClass } from './serve/machine';
export type { BindingsContext, BindingsFunction } from './serve/bindings';

// metrics and health
export { ServeMetrics, GroupMetrics } from './metrics/metrics';
export {
  METRICS,
  METRIC_NAMES,
  SERVICE_METRICS,
  SERVICE_METRIC_NAMES,
  FAILURE_REASONS,
  reasonOf,
} from './metrics/names';
export { startHealthServer, readinessOf } from './metrics/http';
export type {
  MetricName,
  MetricSpec,
  MetricType,
  ServiceMetricName,
  ServiceMetricSpec,
} from './metrics/names';
export type { GroupReadiness, HealthServer, HealthServerOptions } from './metrics/http';

// dashboard
export { startDashboard, DASHBOARD_DEFAULTS } from './dashboard/command';
export { DashboardCollector } from './dashboard/collector';
export { startDashboardServer } from './dashboard/server';
export { PANEL_SERVICES, PANEL_LIMITS, PanelDataError } from './dashboard/services';
export type { Dashboard, DashboardOptions } from './dashboard/command';
export type { CollectorOptions } from './dashboard/collector';
export type { DashboardServer, DashboardServerOptions, StateSource } from './dashboard/server';
export type {
  DashboardState,
  GroupView,
  ReplicaRow,
  Sample,
  LeaderChange,
  ReachabilityChange,
} from './dashboard/model';
export type { PanelService, ServicePanel, QueueRow, FlagRow, TaskRow } from './dashboard/services';
