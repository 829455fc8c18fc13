// Preloaded into a node process by test/startup-modules.test.ts (NODE_OPTIONS=--import=…): at exit,
// writes one line to stderr: how many of Node's own modules the process loaded, and which of them
// are Node's bundled dependencies (internal/deps/…).
process.on('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule '));
  const deps = builtins.filter((m) => m.startsWith('NativeModule internal/deps/')).map((m) => m.slice('NativeModule internal/deps/'.length));
  process.stderr.write(`\nloaded-internal-deps ${JSON.stringify({ builtins: builtins.length, deps })}\n`);
});
