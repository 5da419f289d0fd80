// The JavaScript API of the wasivfs npm package: runs the native wasivfs binary that npm installed
// from the package for this platform (@wasivfs/<platform>-<arch>).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** An error of the wasivfs command: `message` is its one-line error, without "error: ". */
export class WasivfsError extends Error {
  constructor(message, exitCode, stderr) {
    super(message);
    this.name = "WasivfsError";
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** The path of the wasivfs binary this package runs (`WASIVFS_BINARY` overrides it). */
export function binaryPath() {
  if (process.env.WASIVFS_BINARY) {
    return process.env.WASIVFS_BINARY;
  }
  const platform = `${process.platform}-${process.arch}`;
  const pkg = `@wasivfs/${platform}`;
  let manifest;
  try {
    manifest = require.resolve(`${pkg}/package.json`);
  } catch {
    throw new WasivfsError(
      `wasivfs has no binary for ${platform}: the optional dependency ${pkg} is not installed ` +
        `(installed with --omit=optional, or no such package exists for this platform)`,
      null,
      "",
    );
  }
  const exe = process.platform === "win32" ? "wasivfs.exe" : "wasivfs";
  return path.join(path.dirname(manifest), "bin", exe);
}

/** Runs `wasivfs ...args`; resolves with its output, rejects with a WasivfsError. */
export function run(args, options = {}) {
  return new Promise((resolve, reject) => {
    let binary;
    try {
      binary = binaryPath();
    } catch (e) {
      reject(e);
      return;
    }
    const child = spawn(binary, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = [];
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("error", (e) => reject(new WasivfsError(`cannot run ${binary}: ${e.message}`, null, "")));
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const line = stderr.split("\n").find((l) => l.startsWith("error: "));
      const message = line
        ? line.slice("error: ".length)
        : `wasivfs ${args[0] ?? ""} failed (${signal ? `signal ${signal}` : `exit code ${code}`})`;
      reject(new WasivfsError(message, code, stderr));
    });
  });
}

function list(value) {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The command-line arguments of `wasivfs pack` for these options (see index.d.ts). */
export function packArgs(options) {
  if (!options || !options.input || !options.output) {
    throw new WasivfsError("pack needs `input` and `output`", null, "");
  }
  const args = ["pack", options.input, "--output", options.output, "--quiet"];
  const mapdir = options.mapdir ?? {};
  const mounts = Array.isArray(mapdir) ? mapdir : Object.entries(mapdir);
  for (const [guest, host] of mounts) {
    args.push("--mapdir", `${guest}::${host}`);
  }
  for (const g of list(options.writable)) args.push("--writable", g);
  for (const g of list(options.tmpfs)) args.push("--tmpfs", g);
  for (const p of list(options.exclude)) args.push("--exclude", p);
  if (options.followSymlinks) args.push("--follow-symlinks");
  if (options.memory) args.push("--memory", options.memory);
  if (options.mtime !== undefined) args.push("--mtime", String(options.mtime));
  if (options.argv0 !== undefined) args.push("--argv0", options.argv0);
  for (const [name, value] of Object.entries(options.env ?? {})) {
    args.push("--env", `${name}=${value}`);
  }
  if (options.envInherit !== undefined) {
    const inherit = options.envInherit;
    args.push("--env-inherit", Array.isArray(inherit) ? inherit.join(",") : inherit);
  }
  if (options.hostDirs) args.push("--host-dirs", options.hostDirs);
  const baked = list(options.args);
  if (baked.length > 0) args.push("--", ...baked);
  return args;
}

/** Packs directories into a WASI module: `wasivfs pack`. Resolves when the output is written. */
export async function pack(options) {
  await run(packArgs(options), { cwd: options.cwd });
}

/** The version of the wasivfs binary, e.g. "0.1.0". */
export async function version() {
  const { stdout } = await run(["--version"]);
  return stdout.trim().split(/\s+/).pop();
}
