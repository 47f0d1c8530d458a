// A throwaway PostgreSQL primary with one streaming hot-standby replica, for tests of reads
// that go to a replica (lag, a replica that goes away). The embedded binaries have no
// pg_basebackup, so the replica starts from a cold copy of the primary's stopped cluster.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import {
  appendFile,
  chmod,
  cp,
  lchown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, sep } from 'node:path';
import pg from 'pg';
import { type EmbeddedDatabase, freePort, startEmbeddedPostgres } from '../../src/db/embedded.ts';

export interface ReplicaPair {
  primaryUrl: string;
  /** The same database on the replica (read-only). */
  replicaUrl: string;
  /**
   * Sets recovery_min_apply_delay on the replica, 0 to clear. Resolves once the server has
   * reloaded it, so a commit made afterwards is held back.
   */
  setApplyDelay(ms: number): Promise<void>;
  /** Fast shutdown of the replica only; the primary keeps its WAL for it (replication slot). */
  stopReplica(): Promise<void>;
  /** Starts the replica again on the same data and port; resolves when it accepts connections. */
  startReplica(): Promise<void>;
  /** Waits until the replica has replayed all WAL the primary had written when called. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Stops both and deletes both clusters. */
  stop(): Promise<void>;
}

const SLOT = 'test_replica';

/** Replicas this process started and has not stopped yet (the primary is tracked by embedded.ts). */
const runningReplicas = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A fast shutdown of every replica when the process exits, so none outlives a crashed test run. */
function trackReplica(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const replica of runningReplicas) replica.kill('SIGINT');
    });
  }
  runningReplicas.add(child);
  child.once('exit', () => runningReplicas.delete(child));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  // Short connection timeout: a replica that is down must fail the caller, not hang it.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** As root the cluster belongs to the postgres user, and so must every file of the copy. */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await lchown(dir, uid, gid);
  for (const entry of await readdir(dir, { recursive: true })) await lchown(join(dir, entry), uid, gid);
}

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-15).join('\n');
}

export async function startReplicaPair(options: {
  database: string;
  /** Runs against the primary before the copy is taken (e.g. migrations). */
  prepare?: (primaryUrl: string) => Promise<void>;
}): Promise<ReplicaPair> {
  const asRoot = process.getuid?.() === 0;
  const base = await mkdtemp(join(tmpdir(), 'parallax-replica-'));
  // As root the clusters run as the postgres user, which must reach the folders below.
  if (asRoot) await chmod(base, 0o755);
  const primaryRoot = join(base, 'primary');
  const replicaRoot = join(base, 'replica');
  const replicaData = join(replicaRoot, 'pg');
  const replicaLog = join(replicaRoot, 'postgres.log');
  let primary: EmbeddedDatabase | undefined;
  let replica: ChildProcess | undefined;
  const startPrimary = () => startEmbeddedPostgres({ dir: primaryRoot, persistent: true, database: options.database });

  let postgresBinary = '';
  let serverFlags: string[] = [];
  let owner: { uid: number; gid: number } | undefined;
  let replicaPort = 0;
  let replicaUrl = '';

  async function stopReplica(): Promise<void> {
    const child = replica;
    replica = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }

  async function startReplica(): Promise<void> {
    if (replica) return;
    const log = openSync(replicaLog, 'a');
    const child = spawn(postgresBinary, ['-D', replicaData, '-p', String(replicaPort), ...serverFlags], {
      stdio: ['ignore', log, log],
      ...owner,
    });
    closeSync(log);
    replica = child;
    trackReplica(child);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        replica = undefined;
        throw new Error(`the replica exited while starting:\n${await logTail(replicaLog)}`);
      }
      // Refused until it has reached a consistent state from the copy and opened for reads.
      const inRecovery = await withClient(replicaUrl, async (client) => {
        const { rows } = await client.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
        return rows[0]!.recovery;
      }).catch(() => undefined);
      if (inRecovery === true) return;
      if (inRecovery === false) {
        await stopReplica();
        throw new Error('the replica is not in recovery: it is no standby');
      }
      if (Date.now() > deadline) {
        await stopReplica();
        throw new Error(`timed out waiting for the replica to accept connections:\n${await logTail(replicaLog)}`);
      }
      await sleep(100);
    }
  }

  async function stop(): Promise<void> {
    await stopReplica();
    await primary?.stop();
    primary = undefined;
    await rm(base, { recursive: true, force: true });
  }

  try {
    primary = await startPrimary();
    await options.prepare?.(primary.url);
    const settings = await withClient(primary.url, async (client) => {
      const { rows } = await client.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings
          WHERE name IN ('data_directory', 'hba_file', 'wal_level', 'max_wal_senders')
         UNION ALL SELECT 'bindir', setting FROM pg_config WHERE name = 'BINDIR'`,
      );
      // Hot standby refuses fewer connections (and other slots) than the primary has, so the
      // replica runs with the primary's own command-line settings.
      const commandLine = await client.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE source = 'command line' AND name <> 'port'`,
      );
      serverFlags = commandLine.rows.flatMap(({ name, setting }) => ['-c', `${name}=${setting}`]);
      // Holds the WAL a stopped replica still needs until it is back.
      await client.query('SELECT pg_create_physical_replication_slot($1, true)', [SLOT]);
      return Object.fromEntries(rows.map(({ name, setting }) => [name, setting]));
    });
    if (!['replica', 'logical'].includes(settings.wal_level!)) {
      throw new Error(`the primary's wal_level is ${settings.wal_level}: no streaming replication`);
    }
    if (Number(settings.max_wal_senders) < 1) throw new Error('the primary allows no WAL senders');
    // The server reports where it really runs from, whatever the platform package is.
    postgresBinary = join(settings.bindir!, 'postgres');
    const primaryData = settings.data_directory!;

    const hba = await readFile(settings.hba_file!, 'utf8');
    const rules = hba.split('\n').filter((line) => /^\s*host/.test(line));
    if (!rules.some((line) => /^\s*host\s+replication\s+\S+\s+127\.0\.0\.1\/32\s/.test(line))) {
      const method =
        rules
          .find((line) => /\s127\.0\.0\.1\/32\s/.test(line))
          ?.trim()
          .split(/\s+/)
          .pop() ?? 'password';
      // Not reloaded: the primary is restarted below, and the copy has the rule too (harmless).
      await appendFile(settings.hba_file!, `\nhost replication all 127.0.0.1/32 ${method}\n`);
    }

    const primaryPort = primary.port;
    const { username, password } = new URL(primary.url);
    await primary.stop();
    primary = undefined;

    await mkdir(replicaRoot);
    if (asRoot) await chmod(replicaRoot, 0o755);
    const slots = join(primaryData, 'pg_replslot') + sep;
    await cp(primaryData, replicaData, {
      recursive: true,
      // The primary's slot belongs to the primary: on the replica it would only hold back WAL.
      filter: (source) => !source.startsWith(slots) && basename(source) !== 'postmaster.pid',
    });
    await writeFile(join(replicaData, 'standby.signal'), '');
    replicaPort = await freePort();
    const conninfo = `host=127.0.0.1 port=${primaryPort} user=${decodeURIComponent(username)} password=${decodeURIComponent(password)}`;
    await appendFile(
      join(replicaData, 'postgresql.auto.conf'),
      `primary_conninfo = '${conninfo} application_name=${SLOT}'\nprimary_slot_name = '${SLOT}'\nport = ${replicaPort}\n`,
    );
    if (asRoot) {
      const { uid, gid } = await stat(primaryData);
      owner = { uid, gid };
      await chownTree(replicaData, uid, gid);
    }
    // PostgreSQL refuses a data directory others can read.
    await chmod(replicaData, 0o700);

    primary = await startPrimary();
    const replicaUrlObject = new URL(primary.url);
    replicaUrlObject.port = String(replicaPort);
    replicaUrl = replicaUrlObject.toString();
    await startReplica();
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }

  const primaryUrl = primary.url;
  return {
    primaryUrl,
    replicaUrl,
    async setApplyDelay(ms) {
      const delay = Math.max(0, Math.round(ms));
      await withClient(replicaUrl, async (client) => {
        await client.query(
          delay
            ? `ALTER SYSTEM SET recovery_min_apply_delay = '${delay}ms'`
            : 'ALTER SYSTEM RESET recovery_min_apply_delay',
        );
        await client.query('SELECT pg_reload_conf()');
      });
      // The reload is asynchronous. A new session sees the postmaster's settings, and the
      // postmaster signals the recovery process as soon as it has reloaded them itself.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const current = await withClient(replicaUrl, async (client) => {
          const { rows } = await client.query<{ setting: string }>(
            `SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'`,
          );
          return Number(rows[0]!.setting);
        });
        if (current === delay) return;
        if (Date.now() > deadline) throw new Error(`recovery_min_apply_delay is still ${current}ms, not ${delay}ms`);
        await sleep(50);
      }
    },
    stopReplica,
    startReplica,
    async caughtUp(timeoutMs = 30_000) {
      const target = await withClient(primaryUrl, async (client) => {
        const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn');
        return rows[0]!.lsn;
      });
      await withClient(replicaUrl, async (client) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const { rows } = await client.query<{ replayed: string | null; done: boolean | null }>(
            'SELECT pg_last_wal_replay_lsn() AS replayed, pg_last_wal_replay_lsn() >= $1::pg_lsn AS done',
            [target],
          );
          if (rows[0]!.done) return;
          if (Date.now() > deadline) {
            throw new Error(`the replica has replayed up to ${rows[0]!.replayed}, not yet the primary's ${target}`);
          }
          await sleep(20);
        }
      });
    },
    stop,
  };
}
