import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  buildServerCommand,
  bundledLauncherPath,
  formatCommand,
  parseProbeOutput,
} from '../../src/common/serverCommand';

const launcher = '/ext/bundled/tool/launch.py';

describe('buildServerCommand', () => {
  it('runs the bundled launcher for useBundled', () => {
    const cmd = buildServerCommand({
      interpreter: ['/usr/bin/python3'],
      importStrategy: 'useBundled',
      trusted: true,
      bundledLauncher: launcher,
    });
    expect(cmd).toEqual({ command: '/usr/bin/python3', args: [launcher], strategy: 'useBundled', warnings: [] });
  });

  it('runs -m phiml_lint server for fromEnvironment when importable', () => {
    const cmd = buildServerCommand({
      interpreter: ['/ws/.venv/bin/python'],
      importStrategy: 'fromEnvironment',
      trusted: true,
      bundledLauncher: launcher,
      moduleImportable: true,
    });
    expect(cmd).toEqual({
      command: '/ws/.venv/bin/python',
      args: ['-m', 'phiml_lint', 'server'],
      strategy: 'fromEnvironment',
      warnings: [],
    });
  });

  it('keeps interpreter arguments before the script or module', () => {
    const bundled = buildServerCommand({
      interpreter: ['/py', '-X', 'utf8'],
      importStrategy: 'useBundled',
      trusted: true,
      bundledLauncher: launcher,
    });
    expect(bundled.args).toEqual(['-X', 'utf8', launcher]);
    const env = buildServerCommand({
      interpreter: ['/py', '-X', 'utf8'],
      importStrategy: 'fromEnvironment',
      trusted: true,
      bundledLauncher: launcher,
      moduleImportable: true,
    });
    expect(env.args).toEqual(['-X', 'utf8', '-m', 'phiml_lint', 'server']);
  });

  it('falls back to the bundled server with a warning when phiml_lint is not importable', () => {
    for (const moduleImportable of [false, undefined]) {
      const cmd = buildServerCommand({
        interpreter: ['/ws/.venv/bin/python'],
        importStrategy: 'fromEnvironment',
        trusted: true,
        bundledLauncher: launcher,
        moduleImportable,
      });
      expect(cmd.strategy).toBe('useBundled');
      expect(cmd.args).toEqual([launcher]);
      expect(cmd.warnings).toHaveLength(1);
      expect(cmd.warnings[0]).toMatch(/not importable.*falling back to the bundled/);
    }
  });

  it('always uses the bundled server in an untrusted workspace', () => {
    const cmd = buildServerCommand({
      interpreter: ['/usr/bin/python3'],
      importStrategy: 'fromEnvironment',
      trusted: false,
      bundledLauncher: launcher,
      moduleImportable: true,
    });
    expect(cmd.strategy).toBe('useBundled');
    expect(cmd.args).toEqual([launcher]);
    expect(cmd.warnings[0]).toMatch(/not trusted/);
  });

  it('rejects an empty interpreter', () => {
    expect(() =>
      buildServerCommand({ interpreter: [], importStrategy: 'useBundled', trusted: true, bundledLauncher: launcher }),
    ).toThrow(/empty interpreter/);
  });
});

describe('paths and formatting', () => {
  it('locates the launcher inside the extension', () => {
    expect(bundledLauncherPath('/ext')).toBe(path.join('/ext', 'bundled', 'tool', 'launch.py'));
  });

  it('quotes arguments with spaces for the log', () => {
    expect(formatCommand('/a b/python', ['-m', 'phiml_lint', 'server'])).toBe("'/a b/python' -m phiml_lint server");
  });
});

describe('parseProbeOutput', () => {
  it('parses what the probe prints', () => {
    const out = '{"version": [3, 11, 7], "executable": "/usr/bin/python3", "importable": true, "location": "/x/__init__.py"}\n';
    expect(parseProbeOutput(out)).toEqual({
      version: { major: 3, minor: 11, micro: 7 },
      executable: '/usr/bin/python3',
      importable: true,
      location: '/x/__init__.py',
    });
  });

  it('rejects other output', () => {
    expect(parseProbeOutput('')).toBeUndefined();
    expect(parseProbeOutput('Python 3.11')).toBeUndefined();
    expect(parseProbeOutput('{"version": "3.11"}')).toBeUndefined();
  });
});
