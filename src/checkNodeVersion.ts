// Imported first by every entry point (src/main.ts, scripts/cli.ts): the rest of the
// import graph is evaluated after it, so on an unsupported Node.js the user gets one
// clear line and exit code 1 instead of an error from deep inside a dependency.
import { isSupportedNodeVersion, unsupportedNodeMessage } from './nodeVersion.ts';

if (!isSupportedNodeVersion(process.versions.node)) {
  console.error(unsupportedNodeMessage(process.versions.node));
  process.exit(1);
}
