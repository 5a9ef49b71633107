/**
 * Why an inbound frame was dropped:
 * - decode: the bytes are not one msgpack value
 * - version: another protocol version
 * - cluster / group: addressed to another cluster or group
 * - recipient: addressed to another node
 * - type: an unknown frame or message type
 * - malformed: a missing or ill-typed field
 * - auth: a missing or bad MAC (only with a cluster key)
 * - oversize: larger than maxFrameBytes
 * - reassembly-timeout: a chunked frame whose chunks did not all arrive in time
 * - reassembly-full: a chunk refused because the reassembly buffer was full
 */
export type DropReason =
  | 'decode'
  | 'version'
  | 'cluster'
  | 'group'
  | 'recipient'
  | 'type'
  | 'malformed'
  | 'auth'
  | 'oversize'
  | 'reassembly-timeout'
  | 'reassembly-full';

/** Every DropReason, in the order stats() lists them. */
export const DROP_REASONS: readonly DropReason[] = [
  'decode',
  'version',
  'cluster',
  'group',
  'recipient',
  'type',
  'malformed',
  'auth',
  'oversize',
  'reassembly-timeout',
  'reassembly-full',
];

/**
 * Raised inside the receive path when a frame is refused; the transport
 * catches it, counts `reason` and drops the frame. It never reaches the node.
 */
export class FrameRejection extends Error {
  constructor(
    readonly reason: DropReason,
    message: string,
  ) {
    super(message);
    this.name = 'FrameRejection';
  }
}
