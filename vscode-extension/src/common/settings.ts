// Settings → what the server receives. Pure module: no `vscode` import, so it is unit-tested
// directly (test/unit/settings.test.ts).

export const SETTINGS_SECTION = 'phimlLint';

export const BACKENDS = ['jax', 'torch', 'tensorflow'] as const;
export type Backend = (typeof BACKENDS)[number];

export const SEVERITIES = ['error', 'warning', 'info', 'hint'] as const;
export type SeverityName = (typeof SEVERITIES)[number];

export const RUN_MODES = ['onType', 'onSave'] as const;
export type RunMode = (typeof RUN_MODES)[number];

export const IMPORT_STRATEGIES = ['useBundled', 'fromEnvironment'] as const;
export type ImportStrategy = (typeof IMPORT_STRATEGIES)[number];

/** What the server is told: sent as `initializationOptions` and as the answer to
 * `workspace/configuration` for section `phimlLint`. Keep in step with the server. */
export interface ServerSettings {
  select: string[];
  ignore: string[];
  backends: Backend[];
  severity: Record<string, SeverityName>;
  fixAll: { unsafe: boolean };
  run: RunMode;
}

/** Settings only the extension uses (they pick the process to start). */
export interface ExtensionSettings {
  server: ServerSettings;
  interpreter: string[];
  importStrategy: ImportStrategy;
}

/** Keys (under `phimlLint.`) that go to the server. */
export const SERVER_SETTING_KEYS = ['select', 'ignore', 'backends', 'severity', 'fixAll', 'run'] as const;
/** Keys (under `phimlLint.`) that only choose how the server is started. */
export const LAUNCH_SETTING_KEYS = ['interpreter', 'importStrategy'] as const;

export function defaultServerSettings(): ServerSettings {
  return { select: [], ignore: [], backends: [], severity: {}, fixAll: { unsafe: false }, run: 'onType' };
}

/** Reads one setting below `phimlLint.` (e.g. `get('fixAll')`); `undefined` when unset. */
export type SettingReader = (key: string) => unknown;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(key: string, value: unknown, problems: string[]): string[] {
  if (value === undefined || value === null) {
    return [];
  }
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items)) {
    problems.push(`phimlLint.${key} must be a list of strings; ignoring ${JSON.stringify(value)}`);
    return [];
  }
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') {
      problems.push(`phimlLint.${key}: ignoring non-string entry ${JSON.stringify(item)}`);
      continue;
    }
    const trimmed = item.trim();
    if (trimmed !== '' && !out.includes(trimmed)) {
      out.push(trimmed);
    }
  }
  return out;
}

function ruleList(key: string, value: unknown, problems: string[]): string[] {
  // Rule codes are upper case (PML102); accept "pml102" too.
  const out: string[] = [];
  for (const code of stringList(key, value, problems)) {
    const upper = code.toUpperCase();
    if (!out.includes(upper)) {
      out.push(upper);
    }
  }
  return out;
}

function backendList(value: unknown, problems: string[]): Backend[] {
  const out: Backend[] = [];
  for (const raw of stringList('backends', value, problems)) {
    const name = raw.toLowerCase();
    if ((BACKENDS as readonly string[]).includes(name)) {
      if (!out.includes(name as Backend)) {
        out.push(name as Backend);
      }
    } else {
      problems.push(`phimlLint.backends: unknown backend ${JSON.stringify(raw)} (expected one of ${BACKENDS.join(', ')})`);
    }
  }
  return out;
}

function severityMap(value: unknown, problems: string[]): Record<string, SeverityName> {
  if (value === undefined || value === null) {
    return {};
  }
  if (!isRecord(value)) {
    problems.push(`phimlLint.severity must be an object like {"PML102": "error"}; ignoring ${JSON.stringify(value)}`);
    return {};
  }
  const out: Record<string, SeverityName> = {};
  for (const [rawCode, rawLevel] of Object.entries(value)) {
    const code = rawCode.trim().toUpperCase();
    const level = typeof rawLevel === 'string' ? rawLevel.trim().toLowerCase() : rawLevel;
    if (code === '') {
      continue;
    }
    if (typeof level === 'string' && (SEVERITIES as readonly string[]).includes(level)) {
      out[code] = level as SeverityName;
    } else {
      problems.push(
        `phimlLint.severity.${rawCode}: ${JSON.stringify(rawLevel)} is not one of ${SEVERITIES.join(', ')}; ignoring it`,
      );
    }
  }
  return out;
}

function fixAllOptions(value: unknown, problems: string[]): { unsafe: boolean } {
  if (value === undefined || value === null) {
    return { unsafe: false };
  }
  if (!isRecord(value)) {
    problems.push(`phimlLint.fixAll must be an object like {"unsafe": false}; ignoring ${JSON.stringify(value)}`);
    return { unsafe: false };
  }
  const unsafe = value.unsafe;
  if (unsafe !== undefined && typeof unsafe !== 'boolean') {
    problems.push(`phimlLint.fixAll.unsafe must be true or false; ignoring ${JSON.stringify(unsafe)}`);
    return { unsafe: false };
  }
  return { unsafe: unsafe === true };
}

function oneOf<T extends string>(key: string, value: unknown, allowed: readonly T[], fallback: T, problems: string[]): T {
  if (value === undefined || value === null) {
    return fallback;
  }
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  problems.push(`phimlLint.${key}: ${JSON.stringify(value)} is not one of ${allowed.join(', ')}; using ${fallback}`);
  return fallback;
}

/**
 * Reads and validates every `phimlLint.*` setting. Invalid values are replaced by their defaults
 * and described in `problems` (the extension logs them), so a typo never stops the server.
 */
export function readSettings(get: SettingReader, problems: string[] = []): ExtensionSettings {
  const server: ServerSettings = {
    select: ruleList('select', get('select'), problems),
    ignore: ruleList('ignore', get('ignore'), problems),
    backends: backendList(get('backends'), problems),
    severity: severityMap(get('severity'), problems),
    fixAll: fixAllOptions(get('fixAll'), problems),
    run: oneOf('run', get('run'), RUN_MODES, 'onType', problems),
  };
  return {
    server,
    interpreter: stringList('interpreter', get('interpreter'), problems),
    importStrategy: oneOf('importStrategy', get('importStrategy'), IMPORT_STRATEGIES, 'useBundled', problems),
  };
}

/** The plain JSON object sent as `initializationOptions` (a fresh copy every call). */
export function toInitializationOptions(settings: ExtensionSettings | ServerSettings): ServerSettings {
  const server = 'server' in settings ? settings.server : settings;
  return {
    select: [...server.select],
    ignore: [...server.ignore],
    backends: [...server.backends],
    severity: { ...server.severity },
    fixAll: { unsafe: server.fixAll.unsafe },
    run: server.run,
  };
}

/** One item of a `workspace/configuration` request (LSP `ConfigurationItem`). */
export interface ConfigurationItemLike {
  scopeUri?: string | null;
  section?: string | null;
}

/**
 * Answers a `workspace/configuration` request: items for section `phimlLint` get the translated
 * settings for their scope; every other item keeps the answer VS Code gave (`fallback[i]`).
 */
export function answerConfiguration(
  items: readonly ConfigurationItemLike[],
  fallback: readonly unknown[],
  settingsFor: (scopeUri: string | undefined) => ServerSettings,
): unknown[] {
  return items.map((item, index) => {
    if (item.section === SETTINGS_SECTION) {
      return toInitializationOptions(settingsFor(item.scopeUri ?? undefined));
    }
    if (typeof item.section === 'string' && item.section.startsWith(`${SETTINGS_SECTION}.`)) {
      const key = item.section.slice(SETTINGS_SECTION.length + 1);
      const settings = toInitializationOptions(settingsFor(item.scopeUri ?? undefined)) as unknown as Record<
        string,
        unknown
      >;
      if (key in settings) {
        return settings[key];
      }
    }
    return fallback[index] ?? null;
  });
}

/** True when a change of `phimlLint.<key>` (as VS Code reports it) needs a server restart. */
export function affectsServer(affectsConfiguration: (section: string) => boolean): boolean {
  return affectsConfiguration(SETTINGS_SECTION);
}
