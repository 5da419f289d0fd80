/** An error of the wasivfs command: `message` is its one-line error, without "error: ". */
export declare class WasivfsError extends Error {
  /** The command's exit code; null when it could not run. */
  readonly exitCode: number | null;
  /** Everything the command printed on stderr. */
  readonly stderr: string;
}

/** What `pack` does: the options of `wasivfs pack` (see its --help). */
export interface PackOptions {
  /** The module to pack, e.g. "python.wasm". */
  input: string;
  /** Where to write the packed module (replaced only on success). */
  output: string;
  /** Guest path to host directory, e.g. { "/app": "./app" }; or pairs, in order. */
  mapdir?: Record<string, string> | Array<[guest: string, host: string]>;
  /** Guest paths of mounts made writable (copy-on-write, in memory). */
  writable?: string | string[];
  /** Guest paths of empty in-memory writable directories. */
  tmpfs?: string | string[];
  /** Gitignore-style patterns of entries to leave out. */
  exclude?: string | string[];
  /** Store what symlinks point to instead of the links. */
  followSymlinks?: boolean;
  /** "single" (the default: runs everywhere) or "multi" (the VFS in a memory of its own). */
  memory?: "single" | "multi";
  /** Every stored modification time: seconds since 1970 or RFC 3339 UTC. */
  mtime?: number | string;
  /** Arguments the program always receives after argv[0] (the baked entry point). */
  args?: string[];
  /** What the program sees as argv[0]. */
  argv0?: string;
  /** Variables the program always sees. */
  env?: Record<string, string>;
  /** Which of the runtime's variables the program sees: "all", "none" or a list of names. */
  envInherit?: "all" | "none" | string[];
  /** "deny" hides the directories the runtime preopens. */
  hostDirs?: "allow" | "deny";
  /** The directory relative paths are resolved from (default: the current one). */
  cwd?: string;
}

/** What a wasivfs command printed. */
export interface RunOutput {
  stdout: string;
  stderr: string;
}

/** Packs directories into a WASI module (`wasivfs pack`); rejects with a WasivfsError. */
export declare function pack(options: PackOptions): Promise<void>;
/** The command-line arguments `pack` runs wasivfs with. */
export declare function packArgs(options: PackOptions): string[];
/** Runs `wasivfs ...args`; rejects with a WasivfsError when it fails. */
export declare function run(
  args: string[],
  options?: { cwd?: string; env?: Record<string, string | undefined> },
): Promise<RunOutput>;
/** The version of the wasivfs binary, e.g. "0.1.0". */
export declare function version(): Promise<string>;
/** The path of the binary this package runs (`WASIVFS_BINARY` overrides it). */
export declare function binaryPath(): string;
