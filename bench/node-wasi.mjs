// Runs a WASI preview 1 command module on Node's `node:wasi`, for bench/startup.sh.
//
// Usage: node node-wasi.mjs MODULE.wasm [ARGS...] [--dir HOST::GUEST]...
//   (--dir options come first, before MODULE)
//
// The guest's argv[0] is the module's file name. Prints one line to stderr after the guest
// exits: `node-wasi read_ms=... compile_ms=... instantiate_ms=... run_ms=...`, where compile is
// `WebAssembly.compile` of the module bytes and instantiate is `WebAssembly.instantiate` of the
// compiled module with the WASI imports. Exits with the guest's exit code.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { performance } from "node:perf_hooks";
import { WASI } from "node:wasi";

const argv = process.argv.slice(2);
const preopens = {};
while (argv[0] === "--dir") {
  const spec = argv[1] ?? "";
  const [host, guest] = spec.includes("::") ? spec.split("::") : [spec, spec];
  preopens[guest] = host;
  argv.splice(0, 2);
}
if (argv.length === 0) {
  console.error("usage: node node-wasi.mjs [--dir HOST::GUEST]... MODULE.wasm [ARGS...]");
  process.exit(2);
}
const [path, ...args] = argv;

const t0 = performance.now();
const bytes = readFileSync(path);
const t1 = performance.now();
const module = await WebAssembly.compile(bytes);
const t2 = performance.now();
const wasi = new WASI({
  version: "preview1",
  args: [basename(path), ...args],
  env: {},
  preopens,
  returnOnExit: true,
});
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
const t3 = performance.now();
const code = wasi.start(instance);
const t4 = performance.now();
const ms = (x) => x.toFixed(2);
console.error(
  `node-wasi read_ms=${ms(t1 - t0)} compile_ms=${ms(t2 - t1)} ` +
    `instantiate_ms=${ms(t3 - t2)} run_ms=${ms(t4 - t3)}`,
);
process.exitCode = code;
