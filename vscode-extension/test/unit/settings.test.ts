import { describe, expect, it } from 'vitest';

import {
  answerConfiguration,
  defaultServerSettings,
  readSettings,
  toInitializationOptions,
  type SettingReader,
} from '../../src/common/settings';

function reader(values: Record<string, unknown>): SettingReader {
  return (key) => values[key];
}

describe('readSettings', () => {
  it('uses the defaults when nothing is set', () => {
    const problems: string[] = [];
    const settings = readSettings(reader({}), problems);
    expect(settings).toEqual({ server: defaultServerSettings(), interpreter: [], importStrategy: 'useBundled' });
    expect(problems).toEqual([]);
  });

  it('passes valid values through', () => {
    const problems: string[] = [];
    const settings = readSettings(
      reader({
        select: ['PML1', 'PML203'],
        ignore: ['PML107'],
        backends: ['jax', 'torch'],
        severity: { PML102: 'error', PML107: 'hint' },
        fixAll: { unsafe: true },
        run: 'onSave',
        interpreter: ['/opt/py/bin/python', '-X', 'utf8'],
        importStrategy: 'fromEnvironment',
      }),
      problems,
    );
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      server: {
        select: ['PML1', 'PML203'],
        ignore: ['PML107'],
        backends: ['jax', 'torch'],
        severity: { PML102: 'error', PML107: 'hint' },
        fixAll: { unsafe: true },
        run: 'onSave',
      },
      interpreter: ['/opt/py/bin/python', '-X', 'utf8'],
      importStrategy: 'fromEnvironment',
    });
  });

  it('normalises case, whitespace and duplicates', () => {
    const settings = readSettings(
      reader({
        select: [' pml1 ', 'PML1', ''],
        backends: ['JAX', 'jax', 'TensorFlow'],
        severity: { ' pml102 ': 'Error' },
      }),
    );
    expect(settings.server.select).toEqual(['PML1']);
    expect(settings.server.backends).toEqual(['jax', 'tensorflow']);
    expect(settings.server.severity).toEqual({ PML102: 'error' });
  });

  it('drops invalid values and reports each of them', () => {
    const problems: string[] = [];
    const settings = readSettings(
      reader({
        select: 'PML1',
        ignore: [3, 'PML2'],
        backends: ['jax', 'numpy'],
        severity: { PML102: 'fatal', PML103: 'warning' },
        fixAll: { unsafe: 'yes' },
        run: 'always',
        importStrategy: 'bundled',
        interpreter: 42,
      }),
      problems,
    );
    expect(settings.server).toEqual({
      select: ['PML1'],
      ignore: ['PML2'],
      backends: ['jax'],
      severity: { PML103: 'warning' },
      fixAll: { unsafe: false },
      run: 'onType',
    });
    expect(settings.importStrategy).toBe('useBundled');
    expect(settings.interpreter).toEqual([]);
    expect(problems).toHaveLength(7);
    expect(problems.join('\n')).toMatch(/numpy/);
    expect(problems.join('\n')).toMatch(/fatal/);
    expect(problems.join('\n')).toMatch(/phimlLint.run/);
  });

  it('tolerates wrongly-typed containers', () => {
    const problems: string[] = [];
    const settings = readSettings(reader({ severity: ['PML102'], fixAll: true, select: { a: 1 } }), problems);
    expect(settings.server.severity).toEqual({});
    expect(settings.server.fixAll).toEqual({ unsafe: false });
    expect(settings.server.select).toEqual([]);
    expect(problems).toHaveLength(3);
  });
});

describe('toInitializationOptions', () => {
  it('keeps exactly the server keys, as plain JSON', () => {
    const settings = readSettings(
      reader({ select: ['PML1'], interpreter: ['/usr/bin/python3'], importStrategy: 'fromEnvironment' }),
    );
    const options = toInitializationOptions(settings);
    expect(Object.keys(options).sort()).toEqual(['backends', 'fixAll', 'ignore', 'run', 'select', 'severity']);
    expect(JSON.parse(JSON.stringify(options))).toEqual(options);
    expect(options).not.toHaveProperty('interpreter');
    expect(options).not.toHaveProperty('importStrategy');
  });

  it('returns a copy that callers may mutate', () => {
    const settings = readSettings(reader({ select: ['PML1'], severity: { PML102: 'error' } }));
    const options = toInitializationOptions(settings);
    options.select.push('PML9');
    options.severity.PML999 = 'hint';
    options.fixAll.unsafe = true;
    expect(settings.server.select).toEqual(['PML1']);
    expect(settings.server.severity).toEqual({ PML102: 'error' });
    expect(settings.server.fixAll.unsafe).toBe(false);
  });
});

describe('answerConfiguration', () => {
  const byScope = (scopeUri: string | undefined) =>
    readSettings(reader(scopeUri === 'file:///b' ? { select: ['PML2'] } : { select: ['PML1'] })).server;

  it('answers phimlLint items per scope and keeps other sections', () => {
    const answer = answerConfiguration(
      [
        { section: 'phimlLint', scopeUri: 'file:///a' },
        { section: 'python', scopeUri: 'file:///a' },
        { section: 'phimlLint', scopeUri: 'file:///b' },
        { section: 'phimlLint.select' },
        { section: 'phimlLint.interpreter' },
      ],
      [{ raw: 1 }, { python: true }, { raw: 2 }, ['raw'], ['raw-interp']],
      byScope,
    );
    expect(answer[0]).toMatchObject({ select: ['PML1'], run: 'onType' });
    expect(answer[1]).toEqual({ python: true });
    expect(answer[2]).toMatchObject({ select: ['PML2'] });
    expect(answer[3]).toEqual(['PML1']);
    expect(answer[4]).toEqual(['raw-interp']);
  });

  it('answers null when VS Code gave nothing for another section', () => {
    expect(answerConfiguration([{ section: 'other' }], [], byScope)).toEqual([null]);
  });
});
