// Environment parsed and validated once, at start-up. Everything else takes a Config.
import { ConfigError, intFrom, optional, secondsFrom } from './env.ts';

export { ConfigError };

/** park: set the failing event aside and go on (projections/parking.ts); stall: stop on it. */
export type FailurePolicy = 'park' | 'stall';

/** Events per projection batch unless PROJECTION_BATCH_SIZE says otherwise. */
export const PROJECTION_BATCH_SIZE = 500;

export type Role = 'api' | 'projector' | 'all';
export type ProjectionMode = 'ASYNC' | 'INLINE';

export interface Config {
  databaseUrl: string | undefined;
  /**
   * READ_DATABASE_URL: the PostgreSQL of the read models, their checkpoints and the
   * projection bookkeeping (unset: the write database). Commands never touch it.
   */
  readDatabaseUrl: string | undefined;
  redisUrl: string | undefined;
  role: Role;
  port: number;
  host: string;
  jwtSecret: string | undefined;
  nodeEnv: string;
  logLevel: string;
  dataDir: string;
  /** Per projection name; projections not named are ASYNC. */
  projectionModes: Record<string, ProjectionMode>;
  /** Largest accepted request body (GraphQL document plus variables), in bytes. */
  maxRequestBytes: number;
  poolSize: number;
  projectionBatchSize: number;
  projectionPollMs: number;
  /**
   * How commands wake projection engines in other processes: 'after-commit' (one
   * coalesced NOTIFY per few ms, outside the command transactions; default),
   * 'transaction' (a NOTIFY inside each command transaction) or 'off' (engines poll).
   */
  outboxNotify: 'after-commit' | 'transaction' | 'off';
  /** A projector that stops renewing loses its projections after this long. */
  projectionLeaseMs: number;
  /** off: every projector runs every projection, kept apart only by the checkpoint lock. */
  projectionLeases: boolean;
  /** /ready fails while any projection's lag (age of its oldest unapplied event) exceeds this. */
  readyMaxLagMs: number;
  /** Not ready while events wait and no batch has committed for this long (READY_MAX_IDLE_MS). */
  readyMaxIdleMs: number;
  /** What a projection does with an event it cannot apply after its retries (PROJECTION_ON_FAILURE). */
  projectionOnFailure: { default: FailurePolicy; byProjection: Record<string, FailurePolicy> };
  /** Largest batch while a projection catches up (PROJECTION_MAX_BATCH_SIZE, default 8 × the batch size). */
  projectionMaxBatchSize: number;
  /** The read-model response cache (graphql/readCache.ts): READ_CACHE_MAX_ENTRIES (0: off), READ_CACHE_TTL_MS. */
  readCache: { maxEntries: number; ttlMs: number };
  /**
   * Streaming replicas queries read from (read/replicas.ts): READ_REPLICA_URLS; one is
   * out of rotation while down or lagging past READ_REPLICA_MAX_LAG_MS (checked every
   * READ_REPLICA_CHECK_MS); a token waits up to READ_REPLICA_WAIT_MS on its replica,
   * then reads the primary.
   */
  readReplicas: { urls: string[]; maxLagMs: number; checkMs: number; waitMs: number };
  /** How often the no-skip audit compares each checkpoint's account with the outbox (PROJECTION_AUDIT_MS). */
  projectionAuditMs: number;
  /** Abuse limits on GraphQL operations (graphql/limits.ts). */
  limits: Limits;
  /** Origins (scheme://host[:port]) whose web pages may call the API; empty: no cross-origin access. */
  corsOrigins: string[];
  /** When set, /metrics answers only with `Authorization: Bearer <metricsToken>`. */
  metricsToken: string | undefined;
  /** Token rules beyond the signature (auth/jwt.ts). */
  jwt: JwtRules;
  /** What a process keeps for Redis while it is away (bus/redis.ts). */
  publishBuffer: { maxMessages: number; maxBytes: number };
  /** Live delivery (graphql/delivery.ts): subscription limits and each subscriber's queue. */
  live: LiveLimits;
  /** The outbox relay to NATS JetStream (relay/); undefined when NATS_URL is unset. */
  relay: RelayConfig | undefined;
}

export interface LiveLimits {
  /** Subscriptions one WebSocket connection may hold at once (then TOO_MANY_SUBSCRIPTIONS). */
  maxPerConnection: number;
  /** Subscriptions one subject (token `sub`) may hold at once in this process. */
  maxPerSubject: number;
  /** Changes (distinct orders) waiting for one subscriber's socket; over it: SLOW_CONSUMER. */
  queueMaxChanges: number;
  /** Bytes waiting for one subscriber's socket; over it: SLOW_CONSUMER. */
  queueMaxBytes: number;
}

export interface JwtRules {
  /** Longest lifetime a token may claim: exp - iat (exp - now without iat), in seconds. */
  maxAgeSeconds: number;
  /** How far in the future `iat` may be (the issuer's clock ahead of ours), in seconds. */
  clockSkewSeconds: number;
  /** Required `iss` claim, when set. */
  issuer: string | undefined;
  /** Required `aud` claim (one of them), when set. */
  audience: string | undefined;
}

export interface RelayConfig {
  natsUrl: string;
  /** JetStream stream that holds every event. */
  stream: string;
  /** Subjects are <prefix>.<aggregateType>.<aggregateId>.<eventType>. */
  subjectPrefix: string;
  /** Events per relay batch (one checkpoint update each). */
  batchSize: number;
  /** JetStream de-duplication window: must cover a relay crash plus the lease takeover. */
  duplicateWindowMs: number;
  /** Stream retention limits; 0 means unlimited. */
  maxAgeMs: number;
  maxBytes: number;
  maxMsgs: number;
  storage: 'file' | 'memory';
  replicas: number;
}

export interface Limits {
  /** Deepest selection nesting (introspection exempt). */
  maxDepth: number;
  /** Aliased fields per operation. */
  maxAliases: number;
  /** Lexical tokens per document. */
  maxTokens: number;
  /** Estimated cost per operation (objects 2, scalars 1, times 1.5 per level). */
  maxCost: number;
  /** Directives per operation. */
  maxDirectives: number;
  /** Operations per batched (JSON array) request. */
  maxBatch: number;
  /** Characters of the GraphQL document. */
  maxDocumentBytes: number;
  /** Bytes of the variables, as JSON. */
  maxVariablesBytes: number;
  /** Mutation fields a subject may run per window (then RATE_LIMITED). */
  mutationRate: number;
  mutationRateWindowMs: number;
  /** Field suggestions ("Did you mean …?") in errors: only in development. */
  fieldSuggestions: boolean;
}

/** PROJECTION_MODES="order_list_view=INLINE,order_search=ASYNC" */
function parseModes(raw: string | undefined): Record<string, ProjectionMode> {
  const modes: Record<string, ProjectionMode> = {};
  if (!raw) return modes;
  for (const part of raw.split(',')) {
    const [name, mode] = part.split('=').map((s) => s.trim());
    if (!name || (mode !== 'ASYNC' && mode !== 'INLINE')) {
      throw new ConfigError(`PROJECTION_MODES entries look like name=ASYNC or name=INLINE, got "${part}"`);
    }
    modes[name] = mode;
  }
  return modes;
}

/** PROJECTION_ON_FAILURE="park" (the default), "stall", or "park,order_analytics=stall" */
function parseOnFailure(raw: string | undefined): Config['projectionOnFailure'] {
  const policy: Config['projectionOnFailure'] = { default: 'park', byProjection: {} };
  if (!raw?.trim()) return policy;
  const valid = (p: string | undefined): p is FailurePolicy => p === 'park' || p === 'stall';
  for (const part of raw.split(',')) {
    const [first, second] = part.split('=').map((s) => s.trim());
    if (second === undefined && valid(first)) policy.default = first;
    else if (first && valid(second)) policy.byProjection[first] = second;
    else {
      throw new ConfigError(
        `PROJECTION_ON_FAILURE entries look like park, stall or name=park / name=stall, got "${part}"`,
      );
    }
  }
  return policy;
}

/** The failure policy of one projection. */
export function failurePolicy(config: Pick<Config, 'projectionOnFailure'>, name: string): FailurePolicy {
  return config.projectionOnFailure.byProjection[name] ?? config.projectionOnFailure.default;
}

function notifyMode(raw: string | undefined): Config['outboxNotify'] {
  const value = raw ?? 'after-commit';
  if (value !== 'after-commit' && value !== 'transaction' && value !== 'off') {
    throw new ConfigError(`OUTBOX_NOTIFY must be after-commit, transaction or off, got "${raw}"`);
  }
  return value;
}

/** CORS_ORIGINS="https://shop.example,https://admin.example": exact origins, no wildcards. */
function parseOrigins(raw: string | undefined): string[] {
  if (!raw?.trim()) return [];
  return raw.split(',').map((part) => {
    const text = part.trim();
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== text.replace(/\/$/, '')) {
      throw new ConfigError(
        `CORS_ORIGINS entries are origins like https://shop.example (no path, no "*"), got "${text}"`,
      );
    }
    return url.origin;
  });
}

/**
 * The service (not the CLI, which only reads the database) runs without JWT_SECRET only
 * on the embedded development database: it then makes a random secret and prints sample
 * tokens. Anything with its own DATABASE_URL must be given one.
 */
export function assertServiceSecret(config: Pick<Config, 'jwtSecret' | 'databaseUrl'>): void {
  if (!config.jwtSecret && config.databaseUrl) {
    throw new ConfigError('JWT_SECRET is required with DATABASE_URL (only the embedded database runs without one)');
  }
}

/** READ_REPLICA_URLS: comma-separated postgres:// URLs (empty: no replicas). */
function parseReplicaUrls(value: string | undefined): string[] {
  const urls = (value ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const url of urls) postgresUrl('READ_REPLICA_URLS (comma-separated)', url);
  return urls;
}

/** A postgres:// URL from `name`, or a ConfigError that does not echo its password. */
function postgresUrl(name: string, url: string): string {
  let protocol = '';
  try {
    protocol = new URL(url).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new ConfigError(`${name} must be a postgres:// URL, got "${url.replace(/\/\/[^@/]*@/, '//***@')}"`);
  }
  return url;
}

/**
 * READ_DATABASE_URL: unset or equal to DATABASE_URL means one database. A separate one
 * needs DATABASE_URL too (the embedded default is one database), and no INLINE
 * projection: an INLINE projection writes its read model in the command's transaction.
 */
function readDatabaseFrom(
  env: NodeJS.ProcessEnv,
  databaseUrl: string | undefined,
  modes: Record<string, ProjectionMode>,
): string | undefined {
  const url = optional(env.READ_DATABASE_URL);
  if (url === undefined || url === databaseUrl) return undefined;
  postgresUrl('READ_DATABASE_URL', url);
  if (!databaseUrl) {
    throw new ConfigError('READ_DATABASE_URL needs DATABASE_URL (the embedded default is one database)');
  }
  const inline = Object.entries(modes)
    .filter(([, mode]) => mode === 'INLINE')
    .map(([name]) => name);
  if (inline.length) {
    throw new ConfigError(
      `PROJECTION_MODES makes ${inline.join(', ')} INLINE, which writes the read model in the command's transaction: that needs the read models in the write database. Unset READ_DATABASE_URL or make ${inline.length > 1 ? 'them' : 'it'} ASYNC.`,
    );
  }
  return url;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const role = (env.ROLE ?? 'all') as Role;
  if (!['api', 'projector', 'all'].includes(role)) {
    throw new ConfigError(`ROLE must be api, projector or all, got "${env.ROLE}"`);
  }
  const nodeEnv = env.NODE_ENV ?? 'development';
  const jwtSecret = env.JWT_SECRET || undefined;
  if (nodeEnv === 'production' && !jwtSecret) {
    throw new ConfigError('JWT_SECRET is required when NODE_ENV=production');
  }
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 characters');
  }
  const maxRequestBytes = intFrom(env, 'MAX_REQUEST_BYTES', 100_000, 1_000, 10_000_000);
  const metricsToken = optional(env.METRICS_TOKEN);
  if (metricsToken !== undefined && metricsToken.length < 16) {
    throw new ConfigError('METRICS_TOKEN must be at least 16 characters');
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  const projectionModes = parseModes(env.PROJECTION_MODES);
  return {
    databaseUrl,
    readDatabaseUrl: readDatabaseFrom(env, databaseUrl, projectionModes),
    redisUrl: env.REDIS_URL || undefined,
    role,
    port: intFrom(env, 'PORT', 4000, 0, 65535),
    // Outside production only this machine can reach the service (the development
    // GraphiQL page carries an admin token); HOST opens it up deliberately.
    host: optional(env.HOST) ?? (nodeEnv === 'production' ? '0.0.0.0' : '127.0.0.1'),
    jwtSecret,
    nodeEnv,
    logLevel: env.LOG_LEVEL ?? 'info',
    dataDir: env.PARALLAX_DATA_DIR ?? '.data',
    projectionModes,
    maxRequestBytes,
    poolSize: intFrom(env, 'DATABASE_POOL_SIZE', 10, 1, 500),
    projectionBatchSize: intFrom(env, 'PROJECTION_BATCH_SIZE', PROJECTION_BATCH_SIZE, 1, 100_000),
    projectionPollMs: intFrom(env, 'PROJECTION_POLL_MS', 1000, 10, 60_000),
    projectionMaxBatchSize: intFrom(
      env,
      'PROJECTION_MAX_BATCH_SIZE',
      8 * intFrom(env, 'PROJECTION_BATCH_SIZE', PROJECTION_BATCH_SIZE, 1, 100_000),
      1,
      100_000,
    ),
    outboxNotify: notifyMode(env.OUTBOX_NOTIFY),
    projectionLeaseMs: intFrom(env, 'PROJECTION_LEASE_MS', 5000, 300, 600_000),
    projectionLeases: (env.PROJECTION_LEASES ?? 'on') !== 'off',
    readyMaxLagMs: intFrom(env, 'READY_MAX_LAG_MS', 60_000, 0, 86_400_000),
    readyMaxIdleMs: intFrom(env, 'READY_MAX_IDLE_MS', 30_000, 0, 86_400_000),
    projectionOnFailure: parseOnFailure(env.PROJECTION_ON_FAILURE),
    projectionAuditMs: intFrom(env, 'PROJECTION_AUDIT_MS', 30_000, 100, 86_400_000),
    readCache: {
      maxEntries: intFrom(env, 'READ_CACHE_MAX_ENTRIES', 0, 0, 1_000_000),
      ttlMs: intFrom(env, 'READ_CACHE_TTL_MS', 1000, 1, 60_000),
    },
    readReplicas: {
      urls: parseReplicaUrls(env.READ_REPLICA_URLS),
      maxLagMs: intFrom(env, 'READ_REPLICA_MAX_LAG_MS', 5_000, 0, 3_600_000),
      checkMs: intFrom(env, 'READ_REPLICA_CHECK_MS', 1_000, 50, 600_000),
      waitMs: intFrom(env, 'READ_REPLICA_WAIT_MS', 500, 0, 60_000),
    },
    limits: {
      maxDepth: intFrom(env, 'MAX_QUERY_DEPTH', 10, 1, 1000),
      maxAliases: intFrom(env, 'MAX_QUERY_ALIASES', 15, 0, 10_000),
      maxTokens: intFrom(env, 'MAX_QUERY_TOKENS', 2000, 10, 1_000_000),
      maxCost: intFrom(env, 'MAX_QUERY_COST', 5000, 1, 10_000_000),
      maxDirectives: intFrom(env, 'MAX_QUERY_DIRECTIVES', 20, 0, 10_000),
      maxBatch: intFrom(env, 'MAX_BATCH_OPERATIONS', 5, 1, 1000),
      maxDocumentBytes: intFrom(env, 'MAX_DOCUMENT_BYTES', 20_000, 100, 10_000_000),
      maxVariablesBytes: intFrom(env, 'MAX_VARIABLES_BYTES', maxRequestBytes, 100, 10_000_000),
      mutationRate: intFrom(env, 'MUTATION_RATE_LIMIT', 600, 1, 1_000_000),
      mutationRateWindowMs: intFrom(env, 'MUTATION_RATE_WINDOW_MS', 10_000, 1000, 3_600_000),
      fieldSuggestions: nodeEnv === 'development',
    },
    corsOrigins: parseOrigins(env.CORS_ORIGINS),
    metricsToken,
    jwt: {
      maxAgeSeconds: secondsFrom(env, 'JWT_MAX_AGE', 86_400, 60, 365 * 86_400),
      clockSkewSeconds: secondsFrom(env, 'JWT_CLOCK_SKEW', 30, 0, 600),
      issuer: optional(env.JWT_ISSUER),
      audience: optional(env.JWT_AUDIENCE),
    },
    publishBuffer: {
      maxMessages: intFrom(env, 'PUBLISH_BUFFER_MESSAGES', 10_000, 0, 10_000_000),
      maxBytes: intFrom(env, 'PUBLISH_BUFFER_BYTES', 16 * 1024 * 1024, 0, 4 * 1024 * 1024 * 1024),
    },
    live: {
      maxPerConnection: intFrom(env, 'LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, 1, 100_000),
      maxPerSubject: intFrom(env, 'LIVE_MAX_SUBSCRIPTIONS_PER_SUBJECT', 1000, 1, 10_000_000),
      queueMaxChanges: intFrom(env, 'LIVE_QUEUE_MAX_CHANGES', 1000, 1, 10_000_000),
      queueMaxBytes: intFrom(env, 'LIVE_QUEUE_MAX_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    },
    relay: relayConfig(env, intFrom(env, 'PROJECTION_LEASE_MS', 5000, 300, 600_000)),
  };
}

const SUBJECT_TOKEN = /^[A-Za-z0-9_-]+$/;

function relayConfig(env: NodeJS.ProcessEnv, leaseMs: number): RelayConfig | undefined {
  const natsUrl = env.NATS_URL || undefined;
  if (!natsUrl) return undefined;
  const stream = env.NATS_STREAM || 'PARALLAX_EVENTS';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream)) {
    throw new ConfigError(`NATS_STREAM must be 1 to 64 letters, digits, "_" or "-", got "${stream}"`);
  }
  const subjectPrefix = env.NATS_SUBJECT_PREFIX || 'parallax.events';
  if (subjectPrefix.length > 200 || !subjectPrefix.split('.').every((t) => SUBJECT_TOKEN.test(t))) {
    throw new ConfigError(
      `NATS_SUBJECT_PREFIX must be dot-separated tokens of letters, digits, "_" or "-" (no wildcards), got "${subjectPrefix}"`,
    );
  }
  const storage = env.NATS_STREAM_STORAGE || 'file';
  if (storage !== 'file' && storage !== 'memory') {
    throw new ConfigError(`NATS_STREAM_STORAGE must be file or memory, got "${storage}"`);
  }
  const duplicateWindowMs = intFrom(env, 'NATS_DUPLICATE_WINDOW_MS', 300_000, 1000, 86_400_000);
  if (duplicateWindowMs < 4 * leaseMs) {
    throw new ConfigError(
      `NATS_DUPLICATE_WINDOW_MS (${duplicateWindowMs}) must be at least 4 × PROJECTION_LEASE_MS (${leaseMs}): a relay that takes over re-publishes what a crashed one published but did not checkpoint, and only the window drops those copies`,
    );
  }
  return {
    natsUrl,
    stream,
    subjectPrefix,
    batchSize: intFrom(env, 'RELAY_BATCH_SIZE', 4000, 1, 100_000),
    duplicateWindowMs,
    maxAgeMs: intFrom(env, 'NATS_STREAM_MAX_AGE_MS', 0, 0, 3_153_600_000_000),
    maxBytes: intFrom(env, 'NATS_STREAM_MAX_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
    maxMsgs: intFrom(env, 'NATS_STREAM_MAX_MSGS', 0, 0, Number.MAX_SAFE_INTEGER),
    storage,
    replicas: intFrom(env, 'NATS_STREAM_REPLICAS', 1, 1, 5),
  };
}

export function projectionMode(config: Config, name: string): ProjectionMode {
  return config.projectionModes[name] ?? 'ASYNC';
}
