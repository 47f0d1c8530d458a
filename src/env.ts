// Reading configuration values from the environment: each malformed value is a
// ConfigError naming the variable, what it takes and what it got.

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export const DURATION = /^(\d+)\s*(s|m|h|d)?$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** "86400", "90s", "30m", "24h", "7d" → seconds. */
export function secondsFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const match = DURATION.exec(raw.trim());
  const value = match ? Number(match[1]) * UNIT_SECONDS[(match[2] ?? 's') as keyof typeof UNIT_SECONDS] : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${name} must be a duration from ${min} s to ${max} s (e.g. 3600, 30m, 24h, 7d), got "${raw}"`,
    );
  }
  return value;
}

export function optional(raw: string | undefined): string | undefined {
  return raw?.trim() ? raw.trim() : undefined;
}
