// The start-up check of the Node.js version: the range itself, and both entry points
// refusing an older Node.js (faked through process.versions) before they touch anything.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSupportedNodeVersion, SUPPORTED_NODE_RANGE, unsupportedNodeMessage } from '../../src/nodeVersion.ts';

const ROOT = join(import.meta.dirname, '../..');
// Guards against an entry point that starts instead of refusing; asserts nothing about speed.
const EXIT_GUARD_MS = 60_000;

describe('isSupportedNodeVersion', () => {
  it('accepts 20.19 and later 20.x releases', () => {
    for (const version of ['20.19.0', '20.19.5', '20.20.2', 'v20.19.0']) {
      expect(isSupportedNodeVersion(version), version).toBe(true);
    }
  });

  it('rejects 20.x releases before 20.19, comparing numbers rather than text', () => {
    for (const version of ['20.0.0', '20.9.0', '20.18.3', 'v20.18.3']) {
      expect(isSupportedNodeVersion(version), version).toBe(false);
    }
  });

  it('accepts 22.12 and later 22.x releases but not older ones', () => {
    for (const version of ['22.12.0', '22.23.5']) expect(isSupportedNodeVersion(version), version).toBe(true);
    for (const version of ['22.0.0', '22.2.0', '22.11.0']) expect(isSupportedNodeVersion(version), version).toBe(false);
  });

  it('accepts 24 and every later major', () => {
    for (const version of ['24.0.0', '24.22.3', '25.1.0', '26.0.0', '100.0.0']) {
      expect(isSupportedNodeVersion(version), version).toBe(true);
    }
  });

  it('rejects majors before 20 and the odd lines 21 and 23', () => {
    for (const version of ['18.20.8', '19.9.0', '21.7.3', '23.11.1']) {
      expect(isSupportedNodeVersion(version), version).toBe(false);
    }
  });

  it('throws on something that is not a version', () => {
    expect(() => isSupportedNodeVersion('latest')).toThrow('not a Node.js version: latest');
  });

  it('is the range package.json declares in engines', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(SUPPORTED_NODE_RANGE);
  });
});

describe('start-up on an unsupported Node.js', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parallax-node-version-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Runs an entry point on this Node.js with process.versions.node set to 20.18.3 before
  // anything else loads, with a data directory that opening the database would create.
  function runAsNode20_18(entry: string, args: string[] = []) {
    const dataDir = join(dir, entry.replace(/\W/g, '-'));
    const env: NodeJS.ProcessEnv = { ...process.env, PARALLAX_DATA_DIR: dataDir, PORT: '0' };
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'ROLE']) delete env[name];
    const fake = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.18.3"})';
    const child = spawn(process.execPath, ['--import', fake, '--import', 'tsx', entry, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so the guard also ends an embedded PostgreSQL it started.
      detached: true,
    });
    const guard = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), EXIT_GUARD_MS);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    return new Promise<{ code: number | null; stdout: string; stderr: string; dataDir: string }>((resolve) =>
      child.on('close', (code) => {
        clearTimeout(guard);
        resolve({ code, stdout, stderr, dataDir });
      }),
    );
  }

  for (const [entry, args] of [
    ['src/main.ts', []],
    ['scripts/cli.ts', ['projections', 'status']],
  ] as const) {
    it(`${entry} exits 1 with the supported range before opening a database`, async () => {
      const result = await runAsNode20_18(entry, [...args]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(unsupportedNodeMessage('20.18.3'));
      expect(result.stderr).toContain('this is Node.js v20.18.3');
      expect(result.stdout).toBe('');
      expect(existsSync(result.dataDir)).toBe(false);
    });
  }
});
