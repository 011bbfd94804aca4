// The command line that starts the server. Pure module (no `vscode` import), unit-tested in
// test/unit/serverCommand.test.ts.

import * as path from 'node:path';

import type { ImportStrategy } from './settings';

/** Python module that `-m` runs (`python -m phiml_lint server`). */
export const SERVER_MODULE = 'phiml_lint';

/** Paths inside the installed extension. */
export function bundledLauncherPath(extensionRoot: string): string {
  return path.join(extensionRoot, 'bundled', 'tool', 'launch.py');
}

export function bundledLibsPath(extensionRoot: string): string {
  return path.join(extensionRoot, 'bundled', 'libs');
}

export interface ServerCommandInputs {
  /** Interpreter executable followed by extra arguments (from `chooseInterpreter`). */
  interpreter: readonly string[];
  importStrategy: ImportStrategy;
  /** Workspace trust: untrusted workspaces always run the bundled server. */
  trusted: boolean;
  /** Absolute path of bundled/tool/launch.py. */
  bundledLauncher: string;
  /** For `fromEnvironment`: whether `phiml_lint` is importable in the interpreter (probe result).
   * `undefined` means the probe did not run or failed, which counts as not importable. */
  moduleImportable?: boolean;
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** The strategy actually used (after fallbacks). */
  strategy: ImportStrategy;
  /** Why the requested strategy was not used, for the log. */
  warnings: string[];
}

export function buildServerCommand(inputs: ServerCommandInputs): ServerCommand {
  const [executable, ...extraArgs] = inputs.interpreter;
  if (executable === undefined || executable === '') {
    throw new Error('buildServerCommand: empty interpreter command');
  }
  const warnings: string[] = [];
  let strategy: ImportStrategy = inputs.importStrategy;
  if (strategy === 'fromEnvironment' && !inputs.trusted) {
    warnings.push('workspace is not trusted: using the bundled phiml-lint instead of the environment\'s');
    strategy = 'useBundled';
  } else if (strategy === 'fromEnvironment' && inputs.moduleImportable !== true) {
    warnings.push(
      `importStrategy is fromEnvironment but ${SERVER_MODULE} is not importable with ${executable}; ` +
        'falling back to the bundled phiml-lint (pip install phiml-lint into that environment to use it)',
    );
    strategy = 'useBundled';
  }
  const args =
    strategy === 'fromEnvironment'
      ? [...extraArgs, '-m', SERVER_MODULE, 'server']
      : [...extraArgs, inputs.bundledLauncher];
  return { command: executable, args, strategy, warnings };
}

/** Shell-like rendering for the log (not for execution). */
export function formatCommand(command: string, args: readonly string[]): string {
  const quote = (part: string): string => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`);
  return [command, ...args].map(quote).join(' ');
}

/** Python snippet the probe runs: prints the interpreter's version and whether phiml_lint imports. */
export const PROBE_SCRIPT = [
  'import importlib.util, json, sys',
  `spec = importlib.util.find_spec(${JSON.stringify(SERVER_MODULE)})`,
  'print(json.dumps({"version": list(sys.version_info[:3]), "executable": sys.executable,',
  '                  "importable": spec is not None,',
  '                  "location": (spec.origin if spec is not None else None)}))',
].join('\n');

export interface ProbeResult {
  version: { major: number; minor: number; micro: number };
  executable: string;
  importable: boolean;
  location: string | null;
}

/** Parses the probe's stdout; undefined when it is not what PROBE_SCRIPT prints. */
export function parseProbeOutput(stdout: string): ProbeResult | undefined {
  const line = stdout.trim().split(/\r?\n/).pop();
  if (line === undefined) {
    return undefined;
  }
  try {
    const data = JSON.parse(line) as Record<string, unknown>;
    const version = data.version;
    if (
      !Array.isArray(version) ||
      version.length < 3 ||
      !version.every((part) => typeof part === 'number') ||
      typeof data.executable !== 'string' ||
      typeof data.importable !== 'boolean'
    ) {
      return undefined;
    }
    const [major, minor, micro] = version as (number | undefined)[];
    return {
      version: { major: major ?? 0, minor: minor ?? 0, micro: micro ?? 0 },
      executable: data.executable,
      importable: data.importable,
      location: typeof data.location === 'string' ? data.location : null,
    };
  } catch {
    return undefined;
  }
}
