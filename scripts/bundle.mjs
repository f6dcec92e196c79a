// Builds the sidecar as it ships: src/cli/main.ts bundled by esbuild into a few ESM files under
// dist/bundle (or the folder given as the first argument), so Node resolves and compiles a handful
// of files at start instead of the hundreds of modules of got, winston, grpc-js, ajv, prom-client...
// (bench/RESULTS.md §4). Code splitting keeps each dynamic import its own chunk: a cloud's adapter
// (src/providers/index.ts), server reflection (src/server/reflection.ts) and the CLI's other commands
// still load on first use.
//
// Files read at run time stay files:
// - proto/ is found from the package root (src/support/package-root.ts walks up from the chunk to
//   package.json), so the bundle must live under the package folder, as dist/ does.
// - each cloud's provider-spec and Secret schema is read next to src/providers/index.ts
//   (new URL('./<cloud>/...', import.meta.url)): copied beside the chunks, the same relative place.
// - grpc-health-check, @grpc/reflection and grpc-js find their own .proto files from __dirname, which
//   an ES module does not have: each such CommonJS file gets its own __dirname, the folder it has in
//   node_modules, relative to the package root, so node_modules (pruned to production) ships beside.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(root, process.argv[2] ?? 'dist/bundle');
const rootFromOut = relative(outdir, root) || '.';
if (relative(root, outdir).startsWith('..')) throw new Error(`bundle: ${outdir} is not under the package folder ${root} (proto/ is found from package.json above the bundle)`);

rmSync(outdir, { recursive: true, force: true });

/** CommonJS files under node_modules that use __dirname get it as a path from the package root. */
const dirnamePlugin = {
  name: 'node-modules-dirname',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(text)) return undefined;
      // From node_modules/ on (not relative to the root: node_modules may be a symlink esbuild resolved).
      const file = args.path.split('\\').join('/');
      const fromRoot = file.slice(file.indexOf('/node_modules/'));
      const dir = fromRoot.slice(0, fromRoot.lastIndexOf('/'));
      return {
        contents: `var __dirname = __mcmPackageRoot + ${JSON.stringify(dir)}, __filename = __mcmPackageRoot + ${JSON.stringify(fromRoot)};\n${text}`,
        loader: 'js',
      };
    });
  },
};

// Every chunk: require for the CommonJS dependencies (and protobufjs's optional requires), and the
// package root the __dirname above is relative to.
const banner = [
  "import { createRequire as __mcmCreateRequire } from 'node:module';",
  "import { fileURLToPath as __mcmFileURLToPath } from 'node:url';",
  'const require = __mcmCreateRequire(import.meta.url);',
  `const __mcmPackageRoot = __mcmFileURLToPath(new URL(${JSON.stringify(rootFromOut + '/')}, import.meta.url)).replace(/\\/$/, '');`,
].join('\n');

const started = performance.now();
const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: true,
  outdir,
  entryNames: '[name]',
  // Chunks beside main.js: the banner's path to the package root is the same in every file.
  chunkNames: '[name]-[hash]',
  banner: { js: banner },
  plugins: [dirnamePlugin],
  legalComments: 'none',
  // Whitespace and syntax minified, names kept (stack traces and logs still name every function and class):
  // V8 keeps each file's source text, so a smaller bundle is resident memory saved. Measured with the A/B
  // of bench/.build (6 interleaved runs, 25 s idle): 59.4 (58.9-59.6) MiB against 61.0 (60.8-62.9) MiB.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  logLevel: 'warning',
  metafile: true,
});

// The schema files src/providers/index.ts reads relative to itself, beside whichever output holds it.
const metaOutputs = Object.entries(result.metafile.outputs);
const holder = metaOutputs.find(([, o]) => Object.keys(o.inputs).includes('src/providers/index.ts'));
if (!holder) throw new Error('bundle: no output holds src/providers/index.ts');
const schemaBase = dirname(resolve(root, holder[0]));
const providersDir = join(root, 'src', 'providers');
for (const cloud of readdirSync(providersDir, { withFileTypes: true })) {
  if (!cloud.isDirectory()) continue;
  for (const name of readdirSync(join(providersDir, cloud.name))) {
    if (!name.endsWith('.schema.json')) continue;
    mkdirSync(join(schemaBase, cloud.name), { recursive: true });
    copyFileSync(join(providersDir, cloud.name, name), join(schemaBase, cloud.name, name));
  }
}
process.stdout.write(`bundle: ${metaOutputs.length} files in ${relative(root, outdir)} (${(performance.now() - started).toFixed(0)} ms)\n`);
