// The Python extension (ms-python.python), if it is installed: its active interpreter and its
// "interpreter changed" event.

import * as vscode from 'vscode';
import { PythonExtension } from '@vscode/python-extension';

import type { PythonExtensionInterpreter } from './interpreter';

export const PYTHON_EXTENSION_ID = 'ms-python.python';

export function isPythonExtensionInstalled(): boolean {
  return vscode.extensions.getExtension(PYTHON_EXTENSION_ID) !== undefined;
}

let apiPromise: Promise<PythonExtension | undefined> | undefined;

/** The Python extension's API, or undefined when it is absent or fails to activate. */
export function getPythonApi(log: vscode.LogOutputChannel): Promise<PythonExtension | undefined> {
  if (!isPythonExtensionInstalled()) {
    return Promise.resolve(undefined);
  }
  apiPromise ??= PythonExtension.api().then(
    (api) => api,
    (error: unknown) => {
      log.warn(`could not use the Python extension's API: ${String(error)}`);
      apiPromise = undefined;
      return undefined;
    },
  );
  return apiPromise;
}

/** The active interpreter for `resource`, resolved to an executable and version. */
export async function getActiveInterpreter(
  log: vscode.LogOutputChannel,
  resource: vscode.Uri | undefined,
): Promise<PythonExtensionInterpreter | undefined> {
  const api = await getPythonApi(log);
  if (api === undefined) {
    return undefined;
  }
  try {
    const environmentPath = api.environments.getActiveEnvironmentPath(resource);
    const environment = await api.environments.resolveEnvironment(environmentPath);
    const executable = environment?.executable.uri?.fsPath;
    if (environment === undefined || executable === undefined) {
      log.info(`the Python extension could not resolve ${environmentPath.path}`);
      return undefined;
    }
    const version = environment.version;
    return {
      path: executable,
      version:
        version && typeof version.major === 'number' && typeof version.minor === 'number'
          ? { major: version.major, minor: version.minor, micro: version.micro }
          : undefined,
    };
  } catch (error) {
    log.warn(`the Python extension failed to report an interpreter: ${String(error)}`);
    return undefined;
  }
}

/** Fires when the user picks another interpreter in the Python extension. */
export async function onDidChangePythonInterpreter(
  log: vscode.LogOutputChannel,
  listener: () => void,
): Promise<vscode.Disposable | undefined> {
  const api = await getPythonApi(log);
  return api?.environments.onDidChangeActiveEnvironmentPath(() => {
    listener();
  });
}
