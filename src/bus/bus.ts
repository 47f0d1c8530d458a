// After-commit notifications: projection positions and read-model changes. Published
// only after the batch that made them committed, so a subscriber never hears of a
// change that a query could not yet see. Messages are JSON-safe (no bigint) so the
// in-process and Redis implementations carry the same thing.

export const CHANNELS = {
  positions: 'parallax.projection.positions',
  readModelChanges: 'parallax.readmodel.changes',
  rebuildProgress: 'parallax.rebuild.progress',
} as const;

export interface RebuildProgressMessage {
  projection: string;
  processed: number;
  total: number;
  etaMs: number;
  done: boolean;
}

export interface PositionMessage {
  projection: string;
  /** Opaque position token (see outbox/position.ts). */
  position: string;
  txId: string;
  seq: string;
  /**
   * Where the batch that reached `position` started. A listener whose previous batch
   * did not end there missed one (its publisher died between commit and publish).
   */
  after?: string;
  /**
   * STALLED: the projection stopped on the event at `errorPosition`; `position` is still
   * its committed checkpoint. A position message never claims more than a checkpoint.
   */
  state?: 'LIVE' | 'STALLED';
  errorPosition?: string;
  /** When the batch committed (ms since the epoch, the publisher's clock): delivery latency. */
  committedAt?: number;
}

export interface ChangeMessage {
  projection: string;
  position: string;
  key: string;
  row: Record<string, unknown>;
}

export interface Bus {
  publish(channel: string, message: unknown): Promise<void>;
  subscribe(channel: string, handler: (message: unknown) => void): Promise<() => void>;
  /**
   * Told when the bus loses its connection ('lost': messages published from now on may
   * never arrive) and when it is subscribed again ('restored'), so a live stream can
   * re-read what it missed from its last position. Absent on buses that cannot lose
   * messages (in-process).
   */
  onConnectionChange?(handler: (state: 'lost' | 'restored') => void): () => void;
  close(): Promise<void>;
}
