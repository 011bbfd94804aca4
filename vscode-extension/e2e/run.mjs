// End-to-end test of the packaged extension in a real VS Code: code-server (VS Code 1.100.3 for
// the browser) on 127.0.0.1, driven by Debian's headless Chromium through playwright-core.
//
//   npm --prefix e2e run e2e          (or `npm run e2e` in vscode-extension/)
//
// Needs: ../phiml-lint-linux-x64.vsix (npm run package), e2e/node_modules (e2e/install.sh),
// /usr/bin/chromium (apt-get install chromium), python3 >= 3.10 on PATH.
//
// Scenario: install the .vsix with `code-server --install-extension`, open a copy of a sample
// that triggers PML102, wait for the squiggle and the Problems row, hover it (screenshot), run
// the quick fix from Ctrl+. (screenshot), save, and check the file on disk. One retry on failure.
//
// Environment: PHIML_E2E_VSIX (package to install), PHIML_E2E_SCREENSHOTS (folder for the two
// PNGs; default <repo>/docs/images), PHIML_E2E_CHROMIUM (browser; default /usr/bin/chromium),
// PHIML_E2E_KEEP=1 (keep the temporary folder), PHIML_E2E_ATTEMPTS (default 2).

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const extensionDir = path.resolve(here, '..');
const repoDir = path.resolve(extensionDir, '..');
const vsix = path.resolve(process.env.PHIML_E2E_VSIX ?? path.join(extensionDir, 'phiml-lint-linux-x64.vsix'));
const screenshotDir = path.resolve(process.env.PHIML_E2E_SCREENSHOTS ?? path.join(repoDir, 'docs', 'images'));
const chromiumPath = process.env.PHIML_E2E_CHROMIUM ?? '/usr/bin/chromium';
const codeServer = path.join(here, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const attempts = Number(process.env.PHIML_E2E_ATTEMPTS ?? '2');
const keep = process.env.PHIML_E2E_KEEP === '1';

const SAMPLE = `from phiml import math
from phiml.math import Solve


@math.jit_compile
def implicit_step(u, k):
    solve = Solve('CG', 1e-5, 1e-5, x0=u)
    return math.solve_linear(lambda x: math.laplace(x) * k, u, solve)
`;
const SAMPLE_NAME = 'implicit_step.py';

const UI_TIMEOUT = 60_000;
const SERVER_TIMEOUT = 120_000;

function log(message) {
  console.log(`[e2e ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function fail(message) {
  throw new Error(message);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function checkPrerequisites() {
  if (!fs.existsSync(vsix)) fail(`${vsix} does not exist: run \`npm run package\` in vscode-extension/ first`);
  if (!fs.existsSync(codeServer)) fail(`code-server is not installed: run e2e/install.sh`);
  if (!fs.existsSync(chromiumPath)) fail(`${chromiumPath} does not exist: apt-get install -y chromium`);
}

/** Environment for code-server: every XDG folder inside the run's temp folder. */
function codeServerEnv(tmp) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('VSCODE_') || key === 'ELECTRON_RUN_AS_NODE') delete env[key];
  }
  return {
    ...env,
    HOME: env.HOME ?? os.homedir(),
    XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
    XDG_CACHE_HOME: path.join(tmp, 'xdg-cache'),
  };
}

function prepareFolders(tmp) {
  const dirs = {
    userData: path.join(tmp, 'user-data'),
    extensions: path.join(tmp, 'extensions'),
    workspace: path.join(tmp, 'workspace'),
  };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(dirs.userData, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.welcomePage.walkthroughs.openOnInstall': false,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        'chat.commandCenter.enabled': false,
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'extensions.ignoreRecommendations': true,
        'files.autoSave': 'off',
        'editor.hover.delay': 200,
        'editor.hover.above': false,
        'editor.minimap.enabled': false,
        'window.commandCenter': false,
        'git.enabled': false,
      },
      null,
      2,
    ),
  );
  fs.writeFileSync(path.join(dirs.workspace, SAMPLE_NAME), SAMPLE);
  return dirs;
}

function installExtension(tmp, dirs) {
  log(`installing ${path.basename(vsix)}`);
  const result = spawnSync(
    process.execPath,
    [codeServer, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions, '--install-extension', vsix, '--force'],
    { env: codeServerEnv(tmp), encoding: 'utf8', timeout: 180_000 },
  );
  const output = `${result.stdout}\n${result.stderr}`;
  if (result.status !== 0 || !/successfully installed/i.test(output)) {
    fail(`code-server --install-extension failed (exit ${result.status}):\n${output}`);
  }
  const installed = fs.readdirSync(dirs.extensions).filter((name) => name.startsWith('phiml-lint.phiml-lint-'));
  if (installed.length !== 1) fail(`expected one installed phiml-lint extension, found ${installed.join(', ') || 'none'}`);
  log(`installed ${installed[0]}`);
}

/** Starts code-server in its own process group; resolves once it listens. */
async function startCodeServer(tmp, dirs) {
  const port = await freePort();
  const configFile = path.join(tmp, 'code-server.yaml');
  fs.writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const args = [
    codeServer,
    '--config', configFile,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--user-data-dir', dirs.userData,
    '--extensions-dir', dirs.extensions,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--disable-proxy',
    '--ignore-last-opened',
    dirs.workspace,
  ];
  const child = spawn(process.execPath, args, {
    env: codeServerEnv(tmp),
    cwd: dirs.workspace,
    detached: true, // own process group: stop() kills code-server and everything it started
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logFile = fs.createWriteStream(path.join(tmp, 'code-server.log'));
  child.stdout.pipe(logFile, { end: false });
  child.stderr.pipe(logFile, { end: false });

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
    log(`code-server exited (${child.signalCode ?? child.exitCode})`);
    // Anything of the group that survived its leader (extension host, language server).
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // group is empty
    }
  };

  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${output}`)), SERVER_TIMEOUT);
    const onData = (chunk) => {
      output += chunk.toString();
      if (/HTTP server listening on/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited with ${code}:\n${output}`));
    });
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  log(`code-server listening on 127.0.0.1:${port} (pid ${child.pid})`);
  return { url: `http://127.0.0.1:${port}/`, stop };
}

async function screenshot(page, name) {
  // Let fade-in animations (hover, action widget) finish: a deterministic wait, not a sleep.
  await page.evaluate(() =>
    Promise.all(
      globalThis.document
        .getAnimations()
        .filter((animation) => animation.effect?.getComputedTiming().iterations !== Infinity)
        .map((animation) => animation.finished),
    ),
  );
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, name);
  await page.screenshot({ path: file });
  log(`screenshot ${path.relative(repoDir, file)}`);
}

async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
}

async function scenario(browser, url, dirs) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const samplePath = path.join(dirs.workspace, SAMPLE_NAME);
  try {
    await page.goto(`${url}?folder=${encodeURIComponent(dirs.workspace)}`, { timeout: UI_TIMEOUT });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    // The explorer shows the workspace once the remote file system is up.
    await page
      .locator('.explorer-folders-view .monaco-list-row', { hasText: SAMPLE_NAME })
      .first()
      .waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    log('workbench ready');

    // Quick Open: wait for the file's row before pressing Enter.
    await page.locator('.monaco-workbench').click({ position: { x: 600, y: 400 } });
    await page.keyboard.press('Control+P');
    const quickInput = page.locator('.quick-input-widget input');
    await quickInput.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    await quickInput.fill(SAMPLE_NAME);
    await page
      .locator('.quick-input-widget .monaco-list-row', { hasText: SAMPLE_NAME })
      .first()
      .waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    await page.keyboard.press('Enter');
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.view-line', { hasText: 'solve_linear' }).waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    log(`${SAMPLE_NAME} open`);

    // Diagnostics: the squiggle in the editor and a PML102 row in the Problems view.
    const squiggle = editor.locator('.view-overlays [class*="squiggly-"]');
    await squiggle.first().waitFor({ state: 'visible', timeout: SERVER_TIMEOUT });
    log(`squiggles: ${await squiggle.count()}`);
    await page.keyboard.press('Control+Shift+M');
    const problemRow = page.locator('.markers-panel .monaco-list-row', { hasText: 'PML102' }).first();
    await problemRow.waitFor({ state: 'visible', timeout: SERVER_TIMEOUT });
    const problemText = (await problemRow.innerText()).replace(/\s+/g, ' ');
    log(`Problems: ${problemText}`);
    if (!/phiml-lint/.test(problemText)) fail(`the PML102 row does not name phiml-lint: ${problemText}`);

    // Hover the lambda's squiggle: the widget shows PML102's message.
    const lambdaToken = editor.locator('.view-line span', { hasText: 'lambda' }).first();
    await lambdaToken.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    const box = await lambdaToken.boundingBox();
    if (box === null) fail('the lambda token has no bounding box');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const hover = page.locator('.monaco-hover', { hasText: 'PML102' }).first();
    await hover.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    await screenshot(page, 'vscode-diagnostic.png');

    // Quick fix: caret on the lambda, Ctrl+., pick the hoist fix (or the suppression).
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.move(box.x + box.width / 2, box.y + 300); // off the squiggle, below the hover
    await page.keyboard.press('Escape');
    await hover.waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
    await page.keyboard.press('Control+.');
    const actionRows = page.locator('.action-widget .monaco-list-row');
    await actionRows.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    const titles = (await actionRows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    log(`code actions: ${titles.join(' | ')}`);
    let wanted = /Hoist.*PML102/;
    let expectation = 'hoist';
    if (!titles.some((title) => wanted.test(title))) {
      wanted = /Suppress PML102/;
      expectation = 'suppress';
    }
    if (!titles.some((title) => wanted.test(title))) {
      fail(`no hoist or suppress fix for PML102 among: ${titles.join(' | ')}`);
    }
    // The widget blocks pointer events around it: move its focus with the keyboard.
    const focused = page.locator('.action-widget .monaco-list-row.focused');
    await focused.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    for (let step = 0; step <= titles.length && !wanted.test(await focused.first().innerText()); step += 1) {
      await page.keyboard.press('ArrowDown');
    }
    const focusedTitle = (await focused.first().innerText()).replace(/\s+/g, ' ').trim();
    if (!wanted.test(focusedTitle)) fail(`could not focus the ${expectation} fix (focused: ${focusedTitle})`);
    await screenshot(page, 'vscode-quickfix.png');
    await page.keyboard.press('Enter');
    await page.locator('.action-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
    if (expectation === 'hoist') {
      await editor.locator('.view-line', { hasText: 'jit_compile_linear' }).first().waitFor({ timeout: UI_TIMEOUT });
    } else {
      await editor.locator('.view-line', { hasText: /lambda.*PML102/ }).first().waitFor({ timeout: UI_TIMEOUT });
    }
    log(`applied the ${expectation} fix in the editor`);

    // Save and check the file on disk.
    await page.keyboard.press('Control+S');
    await page
      .locator('.tabs-container .tab.active:not(.dirty)', { hasText: SAMPLE_NAME })
      .waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    const saved = fs.readFileSync(samplePath, 'utf8');
    if (saved === SAMPLE) fail('the file on disk did not change');
    if (expectation === 'hoist') {
      if (!/@math\.jit_compile_linear\s*\ndef \w+\(x, k\):/.test(saved) || /lambda/.test(saved)) {
        fail(`unexpected result of the hoist fix:\n${saved}`);
      }
    } else if (!/lambda.*#.*PML102/.test(saved)) {
      fail(`unexpected result of the suppress fix:\n${saved}`);
    }
    log(`saved; ${SAMPLE_NAME} on disk now reads:\n${saved}`);

    // Once the fix is applied, PML102 disappears from the Problems view.
    if (expectation === 'hoist') {
      await page
        .locator('.markers-panel .monaco-list-row', { hasText: 'PML102' })
        .first()
        .waitFor({ state: 'detached', timeout: SERVER_TIMEOUT });
      log('PML102 is gone from the Problems view');
    }
    // Commands: restart the server, then show its log and wait for the restart to be logged.
    await runCommand(page, 'PhiML Lint: Restart Server');
    await runCommand(page, 'PhiML Lint: Show Logs');
    const outputView = page.locator('.part.panel .monaco-editor .view-lines');
    await outputView.filter({ hasText: 'starting server (restart command)' }).first().waitFor({ timeout: UI_TIMEOUT });
    await page
      .locator('.statusbar-item', { hasText: 'PhiML Lint' })
      .filter({ has: page.locator('.codicon-check') })
      .first()
      .waitFor({ state: 'visible', timeout: SERVER_TIMEOUT });
    log('restart and show-logs commands work; status bar shows the server running');
    return { expectation, saved };
  } catch (error) {
    try {
      await page.screenshot({ path: path.join(path.dirname(dirs.workspace), 'failure.png') });
    } catch {
      // the page may be gone
    }
    throw error;
  } finally {
    await context.close();
  }
}

async function attempt(number) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phiml-lint-e2e-'));
  log(`attempt ${number}: ${tmp}`);
  const dirs = prepareFolders(tmp);
  let server;
  let browser;
  let failed = false;
  try {
    installExtension(tmp, dirs);
    server = await startCodeServer(tmp, dirs);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      // Chromium writes crash-reporter state under XDG_CONFIG_HOME: keep it in the temp folder.
      env: {
        ...process.env,
        XDG_CONFIG_HOME: path.join(tmp, 'browser-config'),
        XDG_CACHE_HOME: path.join(tmp, 'browser-cache'),
      },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    const result = await scenario(browser, server.url, dirs);
    const extensionLog = findExtensionLog(dirs.userData);
    if (extensionLog) log(`extension log:\n${extensionLog}`);
    return result;
  } catch (error) {
    failed = true;
    const extensionLog = findExtensionLog(dirs.userData);
    if (extensionLog) console.error(`--- PhiML Lint output channel ---\n${extensionLog}`);
    const serverLog = path.join(tmp, 'code-server.log');
    if (fs.existsSync(serverLog)) console.error(`--- code-server.log (tail) ---\n${fs.readFileSync(serverLog, 'utf8').slice(-3000)}`);
    console.error(`(files kept in ${tmp})`);
    throw error;
  } finally {
    const cleanupStarted = Date.now();
    await browser?.close().catch(() => undefined);
    await server?.stop();
    log(`stopped chromium and code-server in ${((Date.now() - cleanupStarted) / 1000).toFixed(1)} s`);
    if (!keep && !failed) {
      const removeStarted = Date.now();
      fs.rmSync(tmp, { recursive: true, force: true });
      log(`removed ${tmp} in ${((Date.now() - removeStarted) / 1000).toFixed(1)} s`);
    }
  }
}

/** The "PhiML Lint" output channel as written by VS Code's log service. */
function findExtensionLog(userData) {
  const logsDir = path.join(userData, 'logs');
  if (!fs.existsSync(logsDir)) return undefined;
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/PhiML Lint\.log$/.test(entry.name)) found.push(full);
    }
  };
  walk(logsDir);
  return found.map((file) => fs.readFileSync(file, 'utf8').slice(-4000)).join('\n') || undefined;
}

async function main() {
  checkPrerequisites();
  const started = Date.now();
  for (let number = 1; number <= attempts; number += 1) {
    try {
      const result = await attempt(number);
      log(`PASS (${result.expectation} fix) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      return;
    } catch (error) {
      console.error(`[e2e] attempt ${number} failed: ${error instanceof Error ? error.stack : String(error)}`);
      if (number === attempts) {
        process.exitCode = 1;
        console.error(`[e2e] FAIL after ${attempts} attempts`);
      }
    }
  }
}

await main();
