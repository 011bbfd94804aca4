// Bundles the extension into dist/extension.js (CommonJS, `vscode` provided by the host).
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const options = {
  entryPoints: ['src/extension.ts'],
  bundle: true,
  outfile: 'dist/extension.js',
  external: ['vscode'],
  format: 'cjs',
  platform: 'node',
  // VS Code 1.90 runs extensions on Node 18.
  target: 'node18',
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  legalComments: 'linked',
  logLevel: 'info',
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
