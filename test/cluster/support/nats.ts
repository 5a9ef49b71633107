// The NATS helpers of transport-nats' tests serve these tests too: a
// nats-server of the test's own on a spare loopback port, and polling helpers.
export {
  startNatsServer,
  sparePort,
  sleep,
  waitFor,
  type OwnNatsServer as NatsServer,
} from '../../../packages/transport-nats/test/support/nats-server';

/** A token no other run uses (pid + random), valid in NATS subjects and as a store group id. */
export function uniqueId(prefix: string): string {
  return `${prefix}${process.pid}x${Math.random().toString(36).slice(2, 8)}`;
}
