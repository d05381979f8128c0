// Bundles persistd and persistctl for an appliance image: one file each (node 20), with
// the two native addons as files beside them, so an initramfs or a squashfs root needs node, these
// files and libfuse.so.2, and no node_modules. Run after the build (npm run bundle).
//
//   build/bundle/persistd.cjs  persistctl.mjs  persist-button.cjs  persist_native.node
//                prebuilds/linux-x64/node.napi.node
//
// Two of our modules find files relative to themselves with import.meta.url, which a CJS bundle
// does not have: they are rewritten here to look beside the bundle (__dirname), and the build
// fails if the pattern they use changes.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'build', 'bundle');

/** Source rewrites: module (relative to dist/src) → [what it says, what the bundle says]. */
const REWRITES = {
  // The native helper, from build/ in a checkout: beside the bundle.
  'native/index.js': [
    "new URL('../../../build/persist_native.node', import.meta.url)",
    "require('node:url').pathToFileURL(require('node:path').join(__dirname, 'persist_native.node'))",
  ],
  // fuse-native through createRequire (it has no ESM entry): a plain require, which esbuild
  // bundles; its binding is found by node-gyp-build in prebuilds/ beside the bundle.
  'fuse/filesystem.js': ['const require = createRequire(import.meta.url);', ''],
};

const rewrite = {
  name: 'persist-bundle-paths',
  setup(b) {
    for (const [module, [from, to]] of Object.entries(REWRITES)) {
      const filter = new RegExp(`dist/src/${module.replace(/[.]/g, '\\.')}$`);
      b.onLoad({ filter }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes(from)) throw new Error(`${module} no longer says ${JSON.stringify(from)}: update scripts/bundle.mjs`);
        return { contents: source.replace(from, to), loader: 'js' };
      });
    }
  },
};

/** Ink imports React's devtools only when DEV=true; the bundle has an empty stand-in. */
const noDevtools = {
  name: 'no-react-devtools',
  setup(b) {
    b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'react-devtools-core', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export default { connectToDevTools() {} };', loader: 'js' }));
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'prebuilds', 'linux-x64'), { recursive: true });
// persistd and persist-button: CommonJS, the format the rewrites above are for.
for (const name of ['persistd', 'persist-button']) {
  await build({
    entryPoints: [join(root, 'dist', 'src', 'cli', `${name}.js`)],
    outfile: join(out, `${name}.cjs`),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    plugins: [rewrite],
    define: { 'import.meta.url': '__bundle_url' },
    banner: { js: "const __bundle_url = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
}
// persistctl: ESM, since Ink and yoga-layout use top-level await; its CommonJS dependencies
// (React) get a real require. React's devtools are only for development builds.
await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'persistctl.js')],
  outfile: join(out, 'persistctl.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  plugins: [noDevtools],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
copyFileSync(join(root, 'build', 'persist_native.node'), join(out, 'persist_native.node'));
copyFileSync(join(root, 'node_modules', 'fuse-native', 'prebuilds', 'linux-x64', 'node.napi.node'), join(out, 'prebuilds', 'linux-x64', 'node.napi.node'));
console.log(`bundle: ${out}`);
