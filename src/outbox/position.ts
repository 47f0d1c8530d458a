// A position in the outbox's total order: (transaction id, sequence). Clients see it
// as an opaque token; the engine and the consistency checks compare positions.

export interface Position {
  txId: bigint;
  seq: bigint;
}

export const ZERO_POSITION: Position = { txId: 0n, seq: 0n };

export class InvalidPositionToken extends Error {
  override name = 'InvalidPositionToken';
  constructor(token: string) {
    super(`"${token.slice(0, 80)}" is not a position token`);
  }
}

const PREFIX = 'p1';

export function encodePosition(p: Position): string {
  return Buffer.from(`${PREFIX}:${p.txId}:${p.seq}`).toString('base64url');
}

export function decodePosition(token: string): Position {
  if (token.length > 100) throw new InvalidPositionToken(token);
  const parts = Buffer.from(token, 'base64url').toString('utf8').split(':');
  if (parts.length !== 3 || parts[0] !== PREFIX || !/^\d{1,20}$/.test(parts[1]!) || !/^\d{1,20}$/.test(parts[2]!)) {
    throw new InvalidPositionToken(token);
  }
  return { txId: BigInt(parts[1]!), seq: BigInt(parts[2]!) };
}

/**
 * The position just before `p`: everything after it includes `p` and nothing earlier
 * (seq is unique and starts at 1, so (txId, seq - 1) sorts after every earlier event).
 */
export function positionBefore(p: Position): Position {
  return p.seq > 0n ? { txId: p.txId, seq: p.seq - 1n } : p;
}

export function comparePositions(a: Position, b: Position): number {
  if (a.txId !== b.txId) return a.txId < b.txId ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}
