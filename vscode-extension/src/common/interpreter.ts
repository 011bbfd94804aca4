// Which Python runs the server. Pure module (no `vscode` import); the file-system and environment
// look-ups are passed in, so every branch is unit-tested (test/unit/interpreter.test.ts).

import * as path from 'node:path';

export interface PythonVersion {
  major: number;
  minor: number;
  micro?: number;
}

/** phiml-lint's `requires-python`. */
export const MIN_PYTHON: PythonVersion = { major: 3, minor: 10 };

export type InterpreterSource = 'setting' | 'pythonExtension' | 'path';

/** What the Python extension reports as the active environment of the workspace. */
export interface PythonExtensionInterpreter {
  /** Absolute path of the executable. */
  path: string;
  version?: PythonVersion;
}

export interface InterpreterInputs {
  /** `phimlLint.interpreter`, variables already substituted; empty when unset. */
  setting: string[];
  /** Whether the ms-python.python extension is installed (its API could be reached). */
  pythonExtensionPresent: boolean;
  /** Its active interpreter; undefined when it has none or is absent. */
  pythonExtension?: PythonExtensionInterpreter;
  /** `python3` (or `python`) found on PATH, if any. */
  pathPython?: string;
  /** Workspace trust. In an untrusted workspace the Python extension's choice (often a venv inside
   * the workspace) is not executed; only the user-level setting or PATH is used. */
  trusted: boolean;
}

export interface InterpreterChoice {
  /** Executable followed by any extra arguments from the setting. */
  command: string[];
  source: InterpreterSource;
  version?: PythonVersion;
  /** Human-readable notes for the log (why a candidate was skipped, …). */
  notes: string[];
}

export interface NoInterpreter {
  command?: undefined;
  error: string;
  notes: string[];
}

export function formatVersion(version: PythonVersion): string {
  return version.micro === undefined
    ? `${version.major}.${version.minor}`
    : `${version.major}.${version.minor}.${version.micro}`;
}

export function isSupportedVersion(version: PythonVersion, minimum: PythonVersion = MIN_PYTHON): boolean {
  return version.major > minimum.major || (version.major === minimum.major && version.minor >= minimum.minor);
}

/**
 * Picks the interpreter: `phimlLint.interpreter` wins, then the Python extension's active
 * interpreter (trusted workspaces only, and only if it is new enough), then `python3` on PATH.
 */
export function chooseInterpreter(inputs: InterpreterInputs): InterpreterChoice | NoInterpreter {
  const notes: string[] = [];
  if (inputs.setting.length > 0 && inputs.setting[0] !== '') {
    return { command: [...inputs.setting], source: 'setting', notes };
  }
  if (inputs.pythonExtensionPresent) {
    const fromExtension = inputs.pythonExtension;
    if (!inputs.trusted) {
      notes.push('workspace is not trusted: not running the Python extension\'s interpreter');
    } else if (fromExtension === undefined) {
      notes.push('the Python extension has no active interpreter');
    } else if (fromExtension.version !== undefined && !isSupportedVersion(fromExtension.version)) {
      notes.push(
        `the Python extension's interpreter ${fromExtension.path} is Python ${formatVersion(fromExtension.version)}; ` +
          `phiml-lint needs Python >= ${formatVersion(MIN_PYTHON)}`,
      );
    } else {
      return { command: [fromExtension.path], source: 'pythonExtension', version: fromExtension.version, notes };
    }
  } else {
    notes.push('the Python extension (ms-python.python) is not installed');
  }
  if (inputs.pathPython !== undefined) {
    notes.push(`falling back to ${inputs.pathPython} from PATH`);
    return { command: [inputs.pathPython], source: 'path', notes };
  }
  return {
    error:
      'no Python interpreter found: set "phimlLint.interpreter", select one with the Python extension, ' +
      'or put python3 on PATH',
    notes,
  };
}

export interface PathLookup {
  /** The PATH value. */
  pathEnv: string | undefined;
  /** True when `file` exists and is executable. */
  isExecutable: (file: string) => boolean;
  platform?: NodeJS.Platform;
}

/** First of `names` found on PATH, as an absolute path. */
export function findOnPath(names: readonly string[], lookup: PathLookup): string | undefined {
  const platform = lookup.platform ?? process.platform;
  const delimiter = platform === 'win32' ? ';' : ':';
  const join = (dir: string, file: string): string =>
    platform === 'win32' ? path.win32.join(dir, file) : path.posix.join(dir, file);
  const suffixes = platform === 'win32' ? ['.exe', ''] : [''];
  const dirs = (lookup.pathEnv ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const name of names) {
    for (const dir of dirs) {
      for (const suffix of suffixes) {
        const candidate = join(dir, name + suffix);
        if (lookup.isExecutable(candidate)) {
          return candidate;
        }
      }
    }
  }
  return undefined;
}

export interface VariableContext {
  workspaceFolder?: string;
  /** Workspace folders by name, for `${workspaceFolder:name}`. */
  workspaceFolders?: Record<string, string>;
  userHome?: string;
  env: Record<string, string | undefined>;
}

/** Substitutes `${workspaceFolder}`, `${workspaceFolder:name}`, `${userHome}`, `${env:NAME}` and a
 * leading `~/` the way VS Code users expect in path settings. Unknown variables are left alone. */
export function resolveVariables(value: string, context: VariableContext): string {
  let out = value.replace(/\$\{([^}]+)\}/g, (whole: string, name: string) => {
    if (name === 'workspaceFolder' || name === 'workspaceRoot') {
      return context.workspaceFolder ?? whole;
    }
    if (name.startsWith('workspaceFolder:')) {
      return context.workspaceFolders?.[name.slice('workspaceFolder:'.length)] ?? whole;
    }
    if (name === 'userHome') {
      return context.userHome ?? whole;
    }
    if (name.startsWith('env:')) {
      return context.env[name.slice('env:'.length)] ?? '';
    }
    return whole;
  });
  if (context.userHome !== undefined && (out === '~' || out.startsWith('~/'))) {
    out = context.userHome + out.slice(1);
  }
  return out;
}
