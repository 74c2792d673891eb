/**
 * The one error of the configuration loader.
 *
 * @module
 */

/** Where a configuration problem is. */
export interface ConfigErrorLocation {
  /** The configuration file, as the user named it. */
  readonly file: string;
  /** 1-based line, when known. */
  readonly line?: number | undefined;
  /** Key path such as `arena[0].workdir` (see `formatKeyPath`), when the problem has one. */
  readonly key?: string | undefined;
  /** How the message names the key, e.g. `arena "docs": workdir`; defaults to `key`. */
  readonly where?: string | undefined;
}

/**
 * A configuration file that cannot be read, parsed or used. The message reads
 * `<file>:<line>: <where>: <problem>`, e.g.
 * `config.toml:12: arena "docs": workdir: must not be inside datadir`.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** The configuration file, as the user named it. */
  readonly file: string;
  /** 1-based line of the problem, or `null` when it has none (an unreadable file). */
  readonly line: number | null;
  /** Key path of the problem (`peer[0].pubkey`), or `null` for the whole file. */
  readonly key: string | null;
  /** The problem alone, without location. */
  readonly problem: string;

  /**
   * Builds the error and its message.
   *
   * @param location file, line and key
   * @param problem what is wrong, e.g. `unknown key`
   * @param options `cause`: the underlying error
   */
  constructor(location: ConfigErrorLocation, problem: string, options?: ErrorOptions) {
    const place = location.line === undefined ? location.file : `${location.file}:${location.line}`;
    const where = location.where ?? location.key;
    super(where ? `${place}: ${where}: ${problem}` : `${place}: ${problem}`, options);
    this.file = location.file;
    this.line = location.line ?? null;
    this.key = location.key ?? null;
    this.problem = problem;
  }
}
