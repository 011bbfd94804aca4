// Starting, stopping and restarting the phiml-lint language server.

import * as fs from 'node:fs';
import * as os from 'node:os';

import * as vscode from 'vscode';
import {
  LanguageClient,
  ResponseError,
  RevealOutputChannelOn,
  State,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';

import { chooseInterpreter, findOnPath, formatVersion, resolveVariables } from './interpreter';
import { isExecutableFile, probeInterpreter } from './probe';
import { getActiveInterpreter, isPythonExtensionInstalled } from './python';
import {
  bundledLauncherPath,
  bundledLibsPath,
  buildServerCommand,
  formatCommand,
  type ServerCommand,
} from './serverCommand';
import {
  SETTINGS_SECTION,
  answerConfiguration,
  readSettings,
  toInitializationOptions,
  type ExtensionSettings,
  type ServerSettings,
} from './settings';

export const CLIENT_ID = 'phimlLint';
export const CLIENT_NAME = 'PhiML Lint';
export const FIX_ALL_KIND = 'source.fixAll.phiml-lint';

export const DOCUMENT_SELECTOR = [
  { scheme: 'file', language: 'python' },
  { scheme: 'untitled', language: 'python' },
  { scheme: 'vscode-notebook-cell', language: 'python' },
];

export type ServerStatus =
  | { state: 'starting' }
  | { state: 'running'; detail: string }
  | { state: 'stopped' }
  | { state: 'failed'; error: string };

function scopeFor(scopeUri: string | undefined): vscode.ConfigurationScope | undefined {
  if (scopeUri === undefined) {
    return vscode.workspace.workspaceFolders?.[0]?.uri;
  }
  try {
    return vscode.Uri.parse(scopeUri);
  } catch {
    return undefined;
  }
}

/** Reads `phimlLint.*` for a scope, logging invalid values. */
export function settingsFor(scope: vscode.ConfigurationScope | undefined, log?: vscode.LogOutputChannel): ExtensionSettings {
  const config = vscode.workspace.getConfiguration(SETTINGS_SECTION, scope);
  const problems: string[] = [];
  const settings = readSettings((key) => config.get(key), problems);
  for (const problem of problems) {
    log?.warn(problem);
  }
  return settings;
}

function serverSettingsFor(scopeUri: string | undefined): ServerSettings {
  return settingsFor(scopeFor(scopeUri)).server;
}

export class ServerManager implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private queue: Promise<void> = Promise.resolve();
  private pendingRestart: Promise<void> | undefined;
  private disposed = false;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly onStatus: (status: ServerStatus) => void,
  ) {}

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  /** (Re)starts the server. Calls are serialised so overlapping restarts cannot race, and a
   * burst of requests (typing in the settings editor) coalesces into one pending restart. */
  restart(reason: string): Promise<void> {
    if (this.pendingRestart !== undefined) {
      return this.pendingRestart;
    }
    const run = (): Promise<void> => {
      this.pendingRestart = undefined;
      return this.doRestart(reason);
    };
    this.queue = this.queue.then(run, run);
    this.pendingRestart = this.queue;
    return this.queue;
  }

  stop(): Promise<void> {
    this.queue = this.queue.then(() => this.doStop());
    return this.queue;
  }

  dispose(): void {
    this.disposed = true;
    void this.stop();
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) {
      return;
    }
    try {
      if (client.state !== State.Stopped) {
        await client.stop(5000);
      }
    } catch (error) {
      this.log.warn(`stopping the server: ${String(error)}`);
    }
    try {
      await client.dispose(2000);
    } catch {
      // already stopped
    }
  }

  private async doRestart(reason: string): Promise<void> {
    await this.doStop();
    if (this.disposed) {
      return;
    }
    this.log.info(`starting server (${reason})`);
    this.onStatus({ state: 'starting' });
    let command: ServerCommand;
    let settings: ExtensionSettings;
    try {
      settings = settingsFor(vscode.workspace.workspaceFolders?.[0]?.uri, this.log);
      const resolved = await this.resolveCommand(settings);
      if ('error' in resolved) {
        this.log.error(resolved.error);
        this.onStatus({ state: 'failed', error: resolved.error });
        return;
      }
      command = resolved;
    } catch (error) {
      const message = `could not prepare the server: ${String(error)}`;
      this.log.error(message);
      this.onStatus({ state: 'failed', error: message });
      return;
    }

    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
    const serverOptions: ServerOptions = {
      command: command.command,
      args: command.args,
      options: { cwd, env: { ...process.env, PYTHONUTF8: '1' } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: DOCUMENT_SELECTOR,
      outputChannel: this.log,
      traceOutputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      diagnosticCollectionName: 'phiml-lint',
      initializationOptions: toInitializationOptions(settings),
      middleware: {
        workspace: {
          configuration: async (params, token, next) => {
            const fallback = await next(params, token);
            if (fallback instanceof ResponseError) {
              return fallback;
            }
            return answerConfiguration(params.items, fallback, serverSettingsFor);
          },
        },
      },
    };
    const client = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
    this.client = client;
    this.log.info(`server command: ${formatCommand(command.command, command.args)} (cwd ${cwd})`);
    try {
      await client.start();
      const serverInfo = client.initializeResult?.serverInfo;
      const detail =
        `${serverInfo?.name ?? 'phiml-lint'} ${serverInfo?.version ?? ''}`.trim() +
        ` (${command.strategy === 'useBundled' ? 'bundled' : 'from environment'}, ${command.command})`;
      this.log.info(`server running: ${detail}`);
      this.onStatus({ state: 'running', detail });
    } catch (error) {
      const message = `the server failed to start: ${String(error)}`;
      this.log.error(message);
      this.onStatus({ state: 'failed', error: message });
    }
  }

  private async resolveCommand(settings: ExtensionSettings): Promise<ServerCommand | { error: string }> {
    const trusted = vscode.workspace.isTrusted;
    const folder = vscode.workspace.workspaceFolders?.[0];
    const variableContext = {
      workspaceFolder: folder?.uri.fsPath,
      workspaceFolders: Object.fromEntries(
        (vscode.workspace.workspaceFolders ?? []).map((f) => [f.name, f.uri.fsPath] as const),
      ),
      userHome: os.homedir(),
      env: process.env,
    };
    const pythonExtensionPresent = isPythonExtensionInstalled();
    const choice = chooseInterpreter({
      setting: settings.interpreter.map((part) => resolveVariables(part, variableContext)),
      pythonExtensionPresent,
      pythonExtension:
        pythonExtensionPresent && trusted ? await getActiveInterpreter(this.log, folder?.uri) : undefined,
      pathPython: findOnPath(['python3', 'python'], { pathEnv: process.env.PATH, isExecutable: isExecutableFile }),
      trusted,
    });
    for (const note of choice.notes) {
      this.log.info(note);
    }
    if (choice.command === undefined) {
      return { error: choice.error };
    }
    this.log.info(
      `interpreter: ${choice.command.join(' ')} (from ${choice.source}` +
        `${choice.version ? `, Python ${formatVersion(choice.version)}` : ''})`,
    );

    const extensionRoot = this.context.extensionUri.fsPath;
    let moduleImportable: boolean | undefined;
    if (settings.importStrategy === 'fromEnvironment' && trusted) {
      const probe = await probeInterpreter(choice.command, { cwd: folder?.uri.fsPath });
      if (probe.ok) {
        moduleImportable = probe.result.importable;
        this.log.info(
          `probe: Python ${formatVersion(probe.result.version)} at ${probe.result.executable}; ` +
            `phiml_lint ${probe.result.importable ? `at ${probe.result.location ?? '?'}` : 'not importable'}`,
        );
      } else {
        this.log.warn(`probe: ${probe.error}`);
      }
    }
    const command = buildServerCommand({
      interpreter: choice.command,
      importStrategy: settings.importStrategy,
      trusted,
      bundledLauncher: bundledLauncherPath(extensionRoot),
      moduleImportable,
    });
    for (const warning of command.warnings) {
      this.log.warn(warning);
    }
    if (command.strategy === 'useBundled' && !fs.existsSync(bundledLibsPath(extensionRoot))) {
      return {
        error:
          `the bundled server is missing (${bundledLibsPath(extensionRoot)}); ` +
          'build it with `npm run bundle-server`, or set "phimlLint.importStrategy": "fromEnvironment"',
      };
    }
    return command;
  }
}
