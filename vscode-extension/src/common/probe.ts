// Runs the chosen interpreter once to learn its version and whether phiml_lint imports there.
// Node-only (no `vscode` import).

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';

import { PROBE_SCRIPT, parseProbeOutput, type ProbeResult } from './serverCommand';

export type ProbeOutcome = { ok: true; result: ProbeResult } | { ok: false; error: string };

export function probeInterpreter(
  interpreter: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProbeOutcome> {
  const [executable, ...extraArgs] = interpreter;
  if (executable === undefined) {
    return Promise.resolve({ ok: false, error: 'empty interpreter command' });
  }
  return new Promise((resolve) => {
    execFile(
      executable,
      [...extraArgs, '-c', PROBE_SCRIPT],
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 15000, windowsHide: true },
      (error, stdout, stderr) => {
        if (error) {
          const detail = stderr.trim() || error.message;
          resolve({ ok: false, error: `${executable} failed: ${detail}` });
          return;
        }
        const result = parseProbeOutput(stdout);
        resolve(result ? { ok: true, result } : { ok: false, error: `unexpected output from ${executable}: ${stdout}` });
      },
    );
  });
}

export function isExecutableFile(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) {
      return false;
    }
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
