import { describe, expect, it } from 'vitest';

import { findOnPath } from '../../src/common/interpreter';
import { isExecutableFile, probeInterpreter } from '../../src/common/probe';

// Runs the real python3 on PATH: the probe script must work with an actual interpreter.
const python = findOnPath(['python3', 'python'], { pathEnv: process.env.PATH, isExecutable: isExecutableFile });

describe.runIf(python !== undefined)('probeInterpreter (real Python)', () => {
  it('reports the version and that a missing module is not importable', async () => {
    const env = { ...process.env, PYTHONPATH: '', PYTHONNOUSERSITE: '1' };
    const outcome = await probeInterpreter([python!, '-S'], { env });
    expect(outcome.ok).toBe(true);
    if (outcome.ok) {
      expect(outcome.result.version.major).toBe(3);
      expect(outcome.result.importable).toBe(false);
      expect(outcome.result.location).toBeNull();
    }
  });

  it('fails cleanly for a missing executable', async () => {
    const outcome = await probeInterpreter(['/nonexistent/python3']);
    expect(outcome.ok).toBe(false);
  });
});

describe('isExecutableFile', () => {
  it('is false for directories and missing files', () => {
    expect(isExecutableFile('/')).toBe(false);
    expect(isExecutableFile('/nonexistent/file')).toBe(false);
  });
});
