import { describe, expect, it } from 'vitest';

import {
  chooseInterpreter,
  findOnPath,
  isSupportedVersion,
  resolveVariables,
  type InterpreterInputs,
} from '../../src/common/interpreter';

const base: InterpreterInputs = {
  setting: [],
  pythonExtensionPresent: false,
  pathPython: '/usr/bin/python3',
  trusted: true,
};

describe('chooseInterpreter', () => {
  it('prefers phimlLint.interpreter over everything, keeping extra arguments', () => {
    const choice = chooseInterpreter({
      ...base,
      setting: ['/opt/venv/bin/python', '-X', 'utf8'],
      pythonExtensionPresent: true,
      pythonExtension: { path: '/ws/.venv/bin/python', version: { major: 3, minor: 12 } },
    });
    expect(choice.command).toEqual(['/opt/venv/bin/python', '-X', 'utf8']);
    expect('source' in choice && choice.source).toBe('setting');
  });

  it('uses the Python extension interpreter when there is no setting', () => {
    const choice = chooseInterpreter({
      ...base,
      pythonExtensionPresent: true,
      pythonExtension: { path: '/ws/.venv/bin/python', version: { major: 3, minor: 11, micro: 4 } },
    });
    expect(choice).toMatchObject({
      command: ['/ws/.venv/bin/python'],
      source: 'pythonExtension',
      version: { major: 3, minor: 11, micro: 4 },
    });
  });

  it('falls back to python3 on PATH when the Python extension is absent', () => {
    const choice = chooseInterpreter(base);
    expect(choice).toMatchObject({ command: ['/usr/bin/python3'], source: 'path' });
    expect(choice.notes.join('\n')).toMatch(/not installed/);
  });

  it('falls back to PATH when the Python extension has no interpreter', () => {
    const choice = chooseInterpreter({ ...base, pythonExtensionPresent: true });
    expect(choice).toMatchObject({ command: ['/usr/bin/python3'], source: 'path' });
    expect(choice.notes.join('\n')).toMatch(/no active interpreter/);
  });

  it('skips a Python extension interpreter that is too old', () => {
    const choice = chooseInterpreter({
      ...base,
      pythonExtensionPresent: true,
      pythonExtension: { path: '/usr/bin/python3.8', version: { major: 3, minor: 8 } },
    });
    expect(choice).toMatchObject({ command: ['/usr/bin/python3'], source: 'path' });
    expect(choice.notes.join('\n')).toMatch(/3\.8.*needs Python >= 3\.10/);
  });

  it('accepts a Python extension interpreter of unknown version', () => {
    const choice = chooseInterpreter({ ...base, pythonExtensionPresent: true, pythonExtension: { path: '/x/python' } });
    expect(choice).toMatchObject({ command: ['/x/python'], source: 'pythonExtension' });
  });

  it('does not run the workspace interpreter in an untrusted workspace', () => {
    const choice = chooseInterpreter({
      ...base,
      trusted: false,
      pythonExtensionPresent: true,
      pythonExtension: { path: '/ws/.venv/bin/python', version: { major: 3, minor: 12 } },
    });
    expect(choice).toMatchObject({ command: ['/usr/bin/python3'], source: 'path' });
    expect(choice.notes.join('\n')).toMatch(/not trusted/);
  });

  it('reports an error when nothing is found', () => {
    const choice = chooseInterpreter({ ...base, pathPython: undefined });
    expect(choice.command).toBeUndefined();
    expect('error' in choice && choice.error).toMatch(/no Python interpreter/);
  });
});

describe('isSupportedVersion', () => {
  it('needs Python 3.10 or newer', () => {
    expect(isSupportedVersion({ major: 3, minor: 9 })).toBe(false);
    expect(isSupportedVersion({ major: 3, minor: 10 })).toBe(true);
    expect(isSupportedVersion({ major: 3, minor: 14 })).toBe(true);
    expect(isSupportedVersion({ major: 4, minor: 0 })).toBe(true);
    expect(isSupportedVersion({ major: 2, minor: 7 })).toBe(false);
  });
});

describe('findOnPath', () => {
  it('returns the first executable in PATH order', () => {
    const present = new Set(['/usr/local/bin/python3', '/usr/bin/python3', '/usr/bin/python']);
    const found = findOnPath(['python3', 'python'], {
      pathEnv: '/nope:/usr/local/bin:/usr/bin',
      isExecutable: (file) => present.has(file),
      platform: 'linux',
    });
    expect(found).toBe('/usr/local/bin/python3');
  });

  it('tries later names when the first is missing', () => {
    const found = findOnPath(['python3', 'python'], {
      pathEnv: '/usr/bin',
      isExecutable: (file) => file === '/usr/bin/python',
      platform: 'linux',
    });
    expect(found).toBe('/usr/bin/python');
  });

  it('returns undefined for an empty PATH', () => {
    expect(findOnPath(['python3'], { pathEnv: undefined, isExecutable: () => true, platform: 'linux' })).toBeUndefined();
  });

  it('adds .exe on Windows', () => {
    const found = findOnPath(['python'], {
      pathEnv: 'C:\\Python312;C:\\Windows',
      isExecutable: (file) => file === 'C:\\Python312\\python.exe',
      platform: 'win32',
    });
    expect(found).toBe('C:\\Python312\\python.exe');
  });
});

describe('resolveVariables', () => {
  const context = {
    workspaceFolder: '/home/u/proj',
    workspaceFolders: { proj: '/home/u/proj', lib: '/home/u/lib' },
    userHome: '/home/u',
    env: { VIRTUAL_ENV: '/home/u/venv' },
  };

  it('substitutes the usual variables', () => {
    expect(resolveVariables('${workspaceFolder}/.venv/bin/python', context)).toBe('/home/u/proj/.venv/bin/python');
    expect(resolveVariables('${workspaceFolder:lib}/py', context)).toBe('/home/u/lib/py');
    expect(resolveVariables('${userHome}/py', context)).toBe('/home/u/py');
    expect(resolveVariables('${env:VIRTUAL_ENV}/bin/python', context)).toBe('/home/u/venv/bin/python');
    expect(resolveVariables('~/py/bin/python', context)).toBe('/home/u/py/bin/python');
  });

  it('leaves unknown variables alone and empties unknown env vars', () => {
    expect(resolveVariables('${foo}/x', context)).toBe('${foo}/x');
    expect(resolveVariables('${env:MISSING}/x', context)).toBe('/x');
    expect(resolveVariables('${workspaceFolder}', { env: {} })).toBe('${workspaceFolder}');
  });
});
