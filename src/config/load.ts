/**
 * Reads, parses and checks a configuration file.
 *
 * @module
 */

import { resolve } from "node:path";
import { checkConfigDirs, checkPeerKeys } from "./check.ts";
import { ConfigError } from "./error.ts";
import { parseConfig, type ParseConfigOptions } from "./parse.ts";
import type { Config } from "./types.ts";

/**
 * Loads the configuration: reads `file`, parses it ({@linkcode parseConfig}), imports
 * the peers' keys ({@linkcode checkPeerKeys}) and checks the arenas' directories
 * ({@linkcode checkConfigDirs}).
 *
 * @param file path of the configuration file; relative paths inside it resolve
 * against its directory
 * @param options see {@linkcode ParseConfigOptions}
 * @returns the resolved configuration
 * @throws {ConfigError} when the file cannot be read or any check fails; the message
 * names the file, the line and the key
 */
export async function loadConfig(file: string, options: ParseConfigOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(resolve(options.cwd ?? Deno.cwd(), file));
  } catch (e) {
    throw new ConfigError({ file }, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  const config = parseConfig(text, file, options);
  await checkPeerKeys(config);
  checkConfigDirs(config);
  return config;
}
