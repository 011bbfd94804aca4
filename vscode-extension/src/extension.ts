// Entry point of the PhiML Lint extension.

import * as vscode from 'vscode';

import { onDidChangePythonInterpreter } from './common/python';
import { FIX_ALL_KIND, ServerManager, type ServerStatus } from './common/server';
import { SETTINGS_SECTION } from './common/settings';

let manager: ServerManager | undefined;

function updateStatusBar(item: vscode.StatusBarItem, status: ServerStatus): void {
  switch (status.state) {
    case 'starting':
      item.text = '$(sync~spin) PhiML Lint';
      item.tooltip = 'PhiML Lint: starting the server…';
      item.backgroundColor = undefined;
      break;
    case 'running':
      item.text = '$(check) PhiML Lint';
      item.tooltip = `PhiML Lint: ${status.detail}\nClick to show the logs.`;
      item.backgroundColor = undefined;
      break;
    case 'stopped':
      item.text = '$(circle-slash) PhiML Lint';
      item.tooltip = 'PhiML Lint: server stopped';
      item.backgroundColor = undefined;
      break;
    case 'failed':
      item.text = '$(error) PhiML Lint';
      item.tooltip = `PhiML Lint: ${status.error}\nClick to show the logs.`;
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      break;
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel('PhiML Lint', { log: true });
  context.subscriptions.push(log);
  const manifest = context.extension.packageJSON as { version?: string };
  log.info(`PhiML Lint ${manifest.version ?? '?'} activating`);

  const status = vscode.window.createStatusBarItem('phimlLint.status', vscode.StatusBarAlignment.Right, 100);
  status.name = 'PhiML Lint';
  status.command = 'phimlLint.showLogs';
  context.subscriptions.push(status);
  status.show();

  let failureShown = false;
  const serverManager = new ServerManager(context, log, (serverStatus) => {
    updateStatusBar(status, serverStatus);
    if (serverStatus.state === 'failed' && !failureShown) {
      failureShown = true;
      void vscode.window
        .showErrorMessage(`PhiML Lint: ${serverStatus.error}`, 'Show Logs')
        .then((choice) => {
          if (choice === 'Show Logs') {
            log.show();
          }
        });
    } else if (serverStatus.state === 'running') {
      failureShown = false;
    }
  });
  manager = serverManager;
  context.subscriptions.push(serverManager);

  context.subscriptions.push(
    vscode.commands.registerCommand('phimlLint.restart', () => serverManager.restart('restart command')),
    vscode.commands.registerCommand('phimlLint.showLogs', () => {
      log.show();
    }),
    vscode.commands.registerCommand('phimlLint.fixAll', async () => {
      const editor = vscode.window.activeTextEditor;
      if (editor?.document.languageId !== 'python') {
        void vscode.window.showInformationMessage('PhiML Lint: open a Python file to fix.');
        return;
      }
      await vscode.commands.executeCommand('editor.action.codeAction', { kind: FIX_ALL_KIND, apply: 'first' });
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(SETTINGS_SECTION)) {
        void serverManager.restart('settings changed');
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      void serverManager.restart('workspace trusted');
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => {
      void serverManager.restart('workspace folders changed');
    }),
  );

  const pythonListener = await onDidChangePythonInterpreter(log, () => {
    void serverManager.restart('Python interpreter changed');
  });
  if (pythonListener !== undefined) {
    context.subscriptions.push(pythonListener);
  }

  // Not awaited: activation should not wait for Python to start.
  void serverManager.restart('activation');
}

export async function deactivate(): Promise<void> {
  const current = manager;
  manager = undefined;
  await current?.stop();
}
