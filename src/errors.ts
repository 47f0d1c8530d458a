// Typed domain errors. Command handlers throw them; GraphQL exposes each as a member
// of the mutation's result union (Pothos errors plugin), with fields a client can act on.

export abstract class DomainError extends Error {}

export interface ValidationIssue {
  /** Path of the offending input field, e.g. ["input", "items", "2", "quantity"]. */
  path: string[];
  message: string;
}

export class ValidationError extends DomainError {
  override name = 'ValidationError';
  constructor(readonly issues: ValidationIssue[]) {
    super(issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
}

export class NotFoundError extends DomainError {
  override name = 'NotFoundError';
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} not found`);
  }
}

export class ConcurrencyConflict extends DomainError {
  override name = 'ConcurrencyConflict';
  constructor(
    readonly aggregateId: string,
    readonly expectedVersion: number,
    readonly currentVersion: number,
  ) {
    super(`expected version ${expectedVersion} of ${aggregateId}, but it is at version ${currentVersion}`);
  }
}

export class InvalidTransition extends DomainError {
  override name = 'InvalidTransition';
  constructor(
    readonly from: string,
    readonly to: string,
    readonly allowed: string[],
  ) {
    super(`cannot go from ${from} to ${to}; allowed: ${allowed.length ? allowed.join(', ') : 'none'}`);
  }
}

export class Forbidden extends DomainError {
  override name = 'Forbidden';
  constructor(message = 'not allowed for this subject') {
    super(message);
  }
}

/** Collects validation issues so a command reports all of them at once. */
export class Issues {
  readonly list: ValidationIssue[] = [];
  add(path: (string | number)[], message: string): void {
    this.list.push({ path: path.map(String), message });
  }
  throwIfAny(): void {
    if (this.list.length) throw new ValidationError(this.list);
  }
}

export const NAME_MAX = 200;

export function checkName(issues: Issues, path: (string | number)[], value: string): void {
  const trimmed = value.trim();
  if (trimmed.length < 1 || trimmed.length > NAME_MAX) issues.add(path, `must be 1 to ${NAME_MAX} characters`);
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(id: string): boolean {
  return UUID.test(id);
}

/** An id that is not a UUID cannot name anything: report it as not found, never as a database error. */
export function assertId(entity: string, id: string): void {
  if (!UUID.test(id)) throw new NotFoundError(entity, id);
}
