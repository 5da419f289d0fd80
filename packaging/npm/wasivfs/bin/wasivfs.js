#!/usr/bin/env node
// `wasivfs` on PATH (npm i -g wasivfs, npx wasivfs): runs the native binary with the same
// arguments, standard streams and exit status.
import { spawnSync } from "node:child_process";
import { binaryPath } from "../lib/index.js";

let binary;
try {
  binary = binaryPath();
} catch (e) {
  console.error(`error: ${e.message}`);
  process.exit(1);
}
const result = spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
if (result.error) {
  console.error(`error: cannot run ${binary}: ${result.error.message}`);
  process.exit(1);
}
if (result.signal) {
  process.kill(process.pid, result.signal);
}
process.exit(result.status ?? 1);
