/**
 * The OpenFeature server provider on the flag client (see RaftlineProvider).
 */
import {
  ErrorCode,
  OpenFeatureEventEmitter,
  ProviderEvents,
  type EvaluationContext as OpenFeatureContext,
  type FlagMetadata,
  type JsonValue,
  type Provider,
  type ProviderMetadata,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import { FlagClient, type FlagClientConnectOptions } from '../sdk/client';
import type { FlagChange } from '../sdk/view';
import type { EvaluationErrorCode, FlagType } from '../types';

/** What the provider evaluates with: a client it is given, or the options to connect one. */
export type RaftlineProviderOptions =
  | {
      /** An open FlagClient; the provider leaves it open on close unless closeClient is true. */
      readonly client: FlagClient;
      readonly closeClient?: boolean;
    }
  | {
      /** Connect a FlagClient over NATS in initialize() (and close it in onClose()). */
      readonly connect: FlagClientConnectOptions;
    };

const ERROR_CODES: Readonly<Record<EvaluationErrorCode, ErrorCode>> = {
  FLAG_NOT_FOUND: ErrorCode.FLAG_NOT_FOUND,
  TYPE_MISMATCH: ErrorCode.TYPE_MISMATCH,
  TARGETING_KEY_MISSING: ErrorCode.TARGETING_KEY_MISSING,
  INVALID_CONTEXT: ErrorCode.INVALID_CONTEXT,
  PARSE_ERROR: ErrorCode.PARSE_ERROR,
  GENERAL: ErrorCode.GENERAL,
};

/**
 * An OpenFeature `Provider` (server SDK) that evaluates locally with a
 * FlagClient: boolean, string, number and object flags, with OpenFeature's
 * reasons (STATIC, TARGETING_MATCH, SPLIT, DEFAULT, DISABLED, ERROR), the
 * variant, and flagMetadata holding the flag's metadata, its `version`, its
 * `environment` and `appliedIndex` (the log index evaluated at). Errors are
 * answered as OpenFeature error codes with the caller's default value:
 * FLAG_NOT_FOUND, TYPE_MISMATCH (a flag of another type than the call
 * reads), TARGETING_KEY_MISSING / INVALID_CONTEXT (a rollout without its
 * bucketing attribute), GENERAL, and PROVIDER_NOT_READY before initialize().
 * It emits ProviderEvents.ConfigurationChanged (with flagsChanged) whenever
 * committed changes reach the client; the SDK emits Ready once initialize()
 * resolved.
 */
export class RaftlineProvider implements Provider {
  readonly metadata: ProviderMetadata = { name: 'raftline' };
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  private flags: FlagClient | undefined;
  private readonly options: RaftlineProviderOptions;
  private readonly onChange = (change: FlagChange): void => {
    this.events.emit(ProviderEvents.ConfigurationChanged, {
      flagsChanged: [...change.flags],
      metadata: { index: change.index, environment: change.environment },
    });
  };

  constructor(options: RaftlineProviderOptions) {
    this.options = options;
    if ('client' in options) this.attach(options.client);
  }

  /** The FlagClient evaluated with (undefined before initialize() connected one). */
  get client(): FlagClient | undefined {
    return this.flags;
  }

  /**
   * Connects the client when the provider was given connect options (the
   * OpenFeature SDK calls this from setProvider / setProviderAndWait).
   * @returns once the client holds a snapshot
   * @throws what FlagClient.connect throws (the SDK then emits ProviderEvents.Error)
   */
  async initialize(): Promise<void> {
    if (this.flags || !('connect' in this.options)) return;
    this.attach(await FlagClient.connect(this.options.connect));
  }

  /** Stops listening, and closes the client when the provider connected it (or closeClient). */
  async onClose(): Promise<void> {
    const flags = this.flags;
    if (!flags) return;
    flags.off('change', this.onChange);
    const owned = 'connect' in this.options || this.options.closeClient === true;
    if (owned) {
      this.flags = undefined;
      await flags.close();
    }
  }

  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: OpenFeatureContext,
  ): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context, 'boolean'));
  }

  resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: OpenFeatureContext,
  ): Promise<ResolutionDetails<string>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context, 'string'));
  }

  resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: OpenFeatureContext,
  ): Promise<ResolutionDetails<number>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context, 'number'));
  }

  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: OpenFeatureContext,
  ): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context, 'object'));
  }

  private attach(client: FlagClient): void {
    this.flags = client;
    client.on('change', this.onChange);
  }

  private resolve<T>(
    flagKey: string,
    defaultValue: T,
    context: OpenFeatureContext,
    type: FlagType,
  ): ResolutionDetails<T> {
    const flags = this.flags;
    if (!flags) {
      return {
        value: defaultValue,
        reason: 'ERROR',
        errorCode: ErrorCode.PROVIDER_NOT_READY,
        errorMessage: 'the raftline provider has not connected its flag client yet',
      };
    }
    const d = flags.evaluate(flagKey, context, type);
    const flagMetadata: FlagMetadata = { ...d.flagMetadata, appliedIndex: flags.appliedIndex };
    if (d.reason === 'ERROR') {
      return {
        value: defaultValue,
        reason: 'ERROR',
        errorCode: ERROR_CODES[d.errorCode ?? 'GENERAL'],
        ...(d.errorMessage !== undefined ? { errorMessage: d.errorMessage } : {}),
        flagMetadata,
      };
    }
    return {
      value: d.value as T,
      reason: d.reason,
      ...(d.variant !== undefined ? { variant: d.variant } : {}),
      flagMetadata,
    };
  }
}
