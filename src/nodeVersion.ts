// Which Node.js releases Parallax runs on. The floor of each line is the first release
// where require() loads ES modules without a flag (20.19, 22.12), which Prisma 7 relies
// on: its engines field is `^20.19 || ^22.12 || >=24.0`, and ours is the same range.
// Odd-numbered lines (21, 23) are short-lived and outside that range.
export const SUPPORTED_NODE_RANGE = '^20.19 || ^22.12 || >=24';

/** `version` as process.versions.node gives it ("20.19.0"), or with a leading "v". */
export function isSupportedNodeVersion(version: string): boolean {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) throw new Error(`not a Node.js version: ${version}`);
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major === 20) return minor >= 19;
  if (major === 22) return minor >= 12;
  return major >= 24;
}

export function unsupportedNodeMessage(version: string): string {
  return `Parallax needs Node.js ${SUPPORTED_NODE_RANGE} (20.19 or newer on 20, 22.12 or newer on 22, or 24 and later); this is Node.js v${version.replace(/^v/, '')}.`;
}
