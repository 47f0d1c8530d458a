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
  close(): Promise<void>;
}
