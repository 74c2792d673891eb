/**
 * A SQLite database (`node:sqlite` `DatabaseSync`) shared by several subsystems, with
 * versioned schemas and synchronous transactions.
 *
 * - Each subsystem owns a {@linkcode Schema}: a name (`marks`) that prefixes its tables
 *   (`marks_mark`) and an append-only list of migrations. `meta_schema` records the
 *   version of each schema; opening applies the pending migrations in one transaction.
 * - `db.write((tx) => …)` runs in `BEGIN IMMEDIATE … COMMIT`, rolls back when the callback
 *   throws, and nests with SAVEPOINTs. `db.read((tx) => …)` sees one consistent snapshot.
 * - Callbacks are synchronous. Returning a Promise is a bug: the transaction is rolled
 *   back and an {@linkcode AssertionError} is thrown.
 * - Side effects that must only happen once the data is durable go through
 *   `tx.afterCommit(fn)`.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { assert, AssertionError } from "../util/mod.ts";

/** How long a connection waits for another connection's lock before failing. */
export const BUSY_TIMEOUT_MS_DEFAULT = 5000;
/** Prepared statements kept per connection (the oldest prepared are dropped first). */
export const STATEMENTS_CACHED_MAX = 256;
/** Nesting limit for `write()` inside `write()` (SAVEPOINTs). */
export const SAVEPOINTS_MAX = 32;
/** Hooks one transaction may register with `afterCommit()`. */
export const AFTER_COMMIT_HOOKS_MAX = 100_000;

const SCHEMA_NAME = /^[a-z][a-z0-9]*$/;
const MEMORY = ":memory:";

/** A value that binds to a SQL parameter. */
export type SqlValue = null | number | bigint | string | Uint8Array;

/** `T`, unless `T` is a Promise-like value: transaction callbacks are synchronous. */
export type Sync<T> = T extends PromiseLike<unknown> ? never : T;

/** What a `run()` changed. */
export interface RunResult {
  /** Rows inserted, updated or deleted. */
  readonly changes: number;
  /** Rowid of the last inserted row. */
  readonly lastInsertRowid: number;
}

/**
 * The tables of one subsystem. Migration `i` brings the schema from version `i` to
 * `i + 1`; a released migration is never edited, only new ones appended.
 */
export interface Schema {
  /** Subsystem name, lowercase letters and digits; its tables are named `<name>_…`. */
  readonly name: string;
  /** SQL scripts (may hold several statements), oldest first. */
  readonly migrations: readonly string[];
}

/** Options of {@linkcode Database.open} and {@linkcode Database.memory}. */
export interface DatabaseOptions {
  /** Schemas to create or migrate; names must be distinct. */
  readonly schemas: readonly Schema[];
  /** How long to wait for a lock held by another connection; default 5000. */
  readonly busyTimeoutMs?: number;
  /**
   * Called once, after the connection is closed or when opening fails (releases
   * resources tied to the database, such as the arena lock).
   */
  readonly onClose?: () => void;
}

/** A read-only view of a transaction. */
export interface ReadTx {
  /** The database the transaction belongs to. */
  readonly database: Database;
  /**
   * The first row of a query.
   *
   * @param sql a query; prepared once and cached
   * @param params positional parameters
   * @returns the row, or `undefined` when there is none
   * @throws {StorageError} when SQLite fails
   */
  get<T = Record<string, unknown>>(sql: string, ...params: SqlValue[]): T | undefined;
  /**
   * Every row of a query.
   *
   * @param sql a query; prepared once and cached
   * @param params positional parameters
   * @returns the rows
   * @throws {StorageError} when SQLite fails
   */
  all<T = Record<string, unknown>>(sql: string, ...params: SqlValue[]): T[];
  /**
   * The rows of a query, one at a time. The iterator belongs to the transaction: using
   * it after the callback returned is a bug.
   *
   * @param sql a query
   * @param params positional parameters
   * @returns an iterator over the rows
   * @throws {StorageError} when SQLite fails
   * @throws {AssertionError} when iterated after the transaction ended
   */
  iterate<T = Record<string, unknown>>(sql: string, ...params: SqlValue[]): IterableIterator<T>;
  /**
   * Every row of a query as arrays of column values in select order (faster than row
   * objects for wide rows, and unambiguous when two columns share a name).
   *
   * @param sql a query; prepared once and cached
   * @param params positional parameters
   * @returns the rows
   * @throws {StorageError} when SQLite fails
   */
  allValues(sql: string, ...params: SqlValue[]): SqlValue[][];
}

/** A write transaction. */
export interface WriteTx extends ReadTx {
  /**
   * Runs a statement.
   *
   * @param sql a statement; prepared once and cached
   * @param params positional parameters
   * @returns the number of changed rows and the last rowid
   * @throws {StorageError} when SQLite fails
   */
  run(sql: string, ...params: SqlValue[]): RunResult;
  /**
   * Registers a function to call after the outermost transaction commits. Hooks run in
   * registration order and never after a rollback (hooks of a rolled-back SAVEPOINT are
   * dropped). They must not throw.
   *
   * @param fn the hook
   */
  afterCommit(fn: () => void): void;
}

/** A failure of the database: SQLite errors, locks, schema versions. */
export class StorageError extends Error {
  /** Always `"StorageError"`. */
  override name = "StorageError";
}

/** One level of transaction nesting. */
interface Scope {
  open: boolean;
  readonly hooks: (() => void)[];
}

/**
 * A SQLite connection shared by subsystems. Not thread-safe: one per thread.
 */
export class Database {
  readonly #c: Connection;
  readonly #onClose: (() => void) | undefined;
  #closed = false;

  private constructor(c: Connection, onClose: (() => void) | undefined) {
    this.#c = c;
    this.#onClose = onClose;
  }

  /**
   * Opens (or creates) a database file in WAL mode and migrates its schemas.
   *
   * @param path the database file
   * @param options schemas and timeouts
   * @returns the open database
   * @throws {StorageError} when the file cannot be opened, a migration fails or a
   *   schema is newer than this code knows
   */
  static open(path: string, options: DatabaseOptions): Database {
    return Database.#create(path, options);
  }

  /**
   * Creates a private in-memory database (tests, tools).
   *
   * @param options schemas
   * @returns the open database
   * @throws {StorageError} when a migration fails
   */
  static memory(options: DatabaseOptions): Database {
    return Database.#create(MEMORY, options);
  }

  static #create(path: string, options: DatabaseOptions): Database {
    checkSchemas(options.schemas);
    let conn: DatabaseSync;
    try {
      conn = new DatabaseSync(path);
    } catch (cause) {
      options.onClose?.();
      throw new StorageError(`Cannot open database "${path}": ${messageOf(cause)}`, { cause });
    }
    const db = new Database(new Connection(conn, path), options.onClose);
    try {
      db.#c.configure(options.busyTimeoutMs ?? BUSY_TIMEOUT_MS_DEFAULT);
      db.#migrate(options.schemas);
    } catch (error) {
      db.close();
      throw error;
    }
    return db;
  }

  /** The file path, or `:memory:`. */
  get path(): string {
    return this.#c.path;
  }

  /** Whether a `read()` or `write()` callback is running. */
  get inTransaction(): boolean {
    return this.#c.scopes.length > 0;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `fn` in a write transaction: `BEGIN IMMEDIATE` (waiting up to the busy timeout
   * for other connections), `COMMIT` when it returns, `ROLLBACK` when it throws. Inside
   * another `write()`, it runs in a SAVEPOINT that rolls back alone when `fn` throws.
   *
   * @param fn synchronous work; must not return a Promise
   * @returns what `fn` returned
   * @throws {StorageError} when SQLite fails (the transaction is rolled back)
   * @throws {AssertionError} when `fn` returns a Promise (rolled back), or when called
   *   inside `read()`
   * @throws the first error an `afterCommit()` hook threw (the transaction is committed
   *   and the other hooks ran)
   */
  write<T>(fn: (tx: WriteTx) => Sync<T>): T {
    this.#checkOpen();
    const c = this.#c;
    assert(c.readOnlyDepth === 0, "write() must not run inside read()");
    assert(c.scopes.length < SAVEPOINTS_MAX, `at most ${SAVEPOINTS_MAX} nested writes`);
    const parent = c.scopes.at(-1);
    const savepoint = `realize_sp${c.scopes.length}`;
    if (parent === undefined) {
      c.exec("BEGIN IMMEDIATE", "begin a transaction on");
    } else {
      c.checkScope(parent); // SQLite may have rolled back the outer transaction
      c.exec(`SAVEPOINT ${savepoint}`, "begin a savepoint on");
    }
    const scope: Scope = { open: true, hooks: [] };
    c.scopes.push(scope);
    let result: T;
    try {
      result = fn(new WriteTxImpl(this, c, scope)) as T;
      checkNotThenable(result, "write");
    } catch (error) {
      c.endScope(scope);
      if (parent === undefined) c.rollback();
      else c.rollbackTo(savepoint);
      throw error;
    }
    c.endScope(scope);
    if (parent !== undefined) {
      c.exec(`RELEASE ${savepoint}`, "release a savepoint on");
      for (const hook of scope.hooks) parent.hooks.push(hook);
      return result;
    }
    c.commit();
    runHooks(scope.hooks);
    return result;
  }

  /**
   * Runs `fn` in a read transaction that sees one consistent snapshot. Inside `write()`
   * it runs in that transaction (and sees its changes). Writing through `all()` or
   * `get()` fails: only queries (`SELECT`, `WITH`, `EXPLAIN`, reading `PRAGMA`s) run.
   *
   * @param fn synchronous work; must not return a Promise
   * @returns what `fn` returned
   * @throws {StorageError} when SQLite fails
   * @throws {AssertionError} when `fn` returns a Promise
   */
  read<T>(fn: (tx: ReadTx) => Sync<T>): T {
    this.#checkOpen();
    const c = this.#c;
    const outer = c.scopes.length === 0;
    if (outer) c.exec("BEGIN DEFERRED", "begin a transaction on");
    const scope: Scope = { open: true, hooks: [] };
    c.scopes.push(scope);
    try {
      // Not PRAGMA query_only: toggling it makes SQLite re-prepare every cached statement
      // (measured: a 5-table lookup went from 90k/s to 8k/s).
      c.readOnlyDepth++;
      const result = fn(new ReadTxImpl(this, c, scope, true)) as T;
      checkNotThenable(result, "read");
      return result;
    } finally {
      c.endScope(scope);
      if (c.readOnlyDepth > 0) c.readOnlyDepth--;
      if (outer) c.rollback();
    }
  }

  /**
   * Runs one query outside any explicit transaction (SQLite makes it atomic on its own):
   * the cheapest read, for hot paths that need a single statement (FUSE lookups).
   *
   * @param sql a query; prepared once and cached
   * @param params positional parameters
   * @returns the first row, or `undefined`
   * @throws {StorageError} when SQLite fails, or when `sql` is not a query
   * @throws {AssertionError} when called inside a transaction (use the transaction)
   */
  get<T = Record<string, unknown>>(sql: string, ...params: SqlValue[]): T | undefined {
    this.#checkOpen();
    assert(this.#c.scopes.length === 0, "Database.get() runs outside transactions");
    if (!isQuery(sql)) {
      throw new StorageError(
        `Cannot run "${sql.slice(0, 40)}" on database "${this.path}": not a query`,
      );
    }
    return this.#c.standalone(sql, (s) => s.get(...params) as T | undefined);
  }

  /**
   * Like {@linkcode Database.get}, with the row as an array of column values in select
   * order: about 1.5× faster than a row object for wide rows (measured).
   *
   * @param sql a query; prepared once and cached
   * @param params positional parameters
   * @returns the first row's values, or `undefined`
   * @throws {StorageError} when SQLite fails, or when `sql` is not a query
   * @throws {AssertionError} when called inside a transaction
   */
  getValues(sql: string, ...params: SqlValue[]): SqlValue[] | undefined {
    this.#checkOpen();
    assert(this.#c.scopes.length === 0, "Database.getValues() runs outside transactions");
    if (!isQuery(sql)) {
      throw new StorageError(
        `Cannot run "${sql.slice(0, 40)}" on database "${this.path}": not a query`,
      );
    }
    return this.#c.standalone(
      sql,
      (s) => s.get(...params) as unknown as SqlValue[] | undefined,
      true,
    );
  }

  /**
   * Closes the connection. Idempotent.
   *
   * @throws {AssertionError} when called inside a transaction
   * @throws {StorageError} when SQLite fails to close
   */
  close(): void {
    if (this.#closed) return;
    assert(this.#c.scopes.length === 0, "close() must not run inside a transaction");
    this.#closed = true;
    try {
      this.#c.close();
    } finally {
      this.#onClose?.();
    }
  }

  /** Same as {@linkcode Database.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #migrate(schemas: readonly Schema[]): void {
    this.write((tx) => {
      tx.run("CREATE TABLE IF NOT EXISTS meta_schema (name TEXT PRIMARY KEY, version INTEGER)");
      for (const schema of schemas) {
        const row = tx.get<{ version: number }>(
          "SELECT version FROM meta_schema WHERE name = ?",
          schema.name,
        );
        const version = row?.version ?? 0;
        assert(Number.isSafeInteger(version), "a schema version is an integer");
        const known = schema.migrations.length;
        if (version > known) {
          throw new StorageError(
            `Cannot open database "${this.path}": schema "${schema.name}" is version ` +
              `${version} but this realize knows up to ${known}`,
          );
        }
        for (let i = version; i < known; i++) this.#c.migrate(schema, i);
        tx.run(
          "INSERT INTO meta_schema (name, version) VALUES (?, ?) " +
            "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
          schema.name,
          known,
        );
      }
    });
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError(`Cannot use database "${this.path}": closed`);
  }
}

/** The SQLite connection, its statement cache and its transaction stack. */
class Connection {
  readonly path: string;
  readonly #conn: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  /** Statements returning rows as arrays (a flag of the statement, so a cache apart). */
  readonly #arrayStatements = new Map<string, StatementSync>();
  readonly #iterators = new Set<Iterator<unknown>>();
  scopes: Scope[] = [];
  readOnlyDepth = 0;

  constructor(conn: DatabaseSync, path: string) {
    this.#conn = conn;
    this.path = path;
  }

  configure(busyTimeoutMs: number): void {
    assert(Number.isSafeInteger(busyTimeoutMs), "busyTimeoutMs is an integer");
    assert(busyTimeoutMs >= 0, "busyTimeoutMs is not negative");
    this.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`, "configure");
    const mode = this.#pragma("journal_mode = WAL");
    if (this.path !== MEMORY && mode !== "wal") {
      throw new StorageError(
        `Cannot open database "${this.path}": WAL journal mode unavailable (got "${mode}")`,
      );
    }
    this.exec("PRAGMA synchronous = NORMAL", "configure");
    this.exec("PRAGMA foreign_keys = ON", "configure");
  }

  migrate(schema: Schema, index: number): void {
    const sql = schema.migrations[index];
    assert(sql !== undefined, "a migration exists");
    try {
      this.#conn.exec(sql);
    } catch (cause) {
      throw new StorageError(
        `Cannot open database "${this.path}": migration ${index + 1} of schema ` +
          `"${schema.name}" failed: ${messageOf(cause)}`,
        { cause },
      );
    }
  }

  /** Runs a cached prepared statement inside `scope`. */
  statement<R>(scope: Scope, sql: string, run: (s: StatementSync) => R, arrays = false): R {
    return this.#guarded(scope, () => run(this.#prepare(sql, arrays)));
  }

  /** Runs a cached prepared statement in autocommit mode (no transaction open). */
  standalone<R>(sql: string, run: (s: StatementSync) => R, arrays = false): R {
    try {
      return run(this.#prepare(sql, arrays));
    } catch (cause) {
      if (!isSqliteError(cause)) throw cause;
      throw this.#error("query", cause);
    }
  }

  /** Iterates a fresh statement; the statement is reset when the transaction ends. */
  *iterate<T>(scope: Scope, sql: string, params: SqlValue[]): Generator<T, void, undefined> {
    const rows = this.#guarded(scope, () => this.#conn.prepare(sql).iterate(...params));
    this.#iterators.add(rows);
    try {
      for (;;) {
        const next = this.#guarded(scope, () => rows.next());
        if (next.done === true) return;
        yield next.value as T;
      }
    } finally {
      this.#iterators.delete(rows);
      rows.return?.();
    }
  }

  exec(sql: string, verb: string): void {
    try {
      this.#prepare(sql).run();
    } catch (cause) {
      throw this.#error(verb, cause);
    }
  }

  commit(): void {
    try {
      if (!this.#conn.isTransaction) {
        throw new Error("the transaction was rolled back by SQLite after an error");
      }
      this.#prepare("COMMIT").run();
    } catch (cause) {
      this.rollback();
      throw this.#error("commit to", cause);
    }
  }

  rollback(): void {
    if (this.#conn.isTransaction) this.exec("ROLLBACK", "roll back");
  }

  rollbackTo(savepoint: string): void {
    if (!this.#conn.isTransaction) return; // SQLite rolled back everything already
    this.exec(`ROLLBACK TO ${savepoint}`, "roll back");
    this.exec(`RELEASE ${savepoint}`, "release a savepoint on");
  }

  endScope(scope: Scope): void {
    assert(this.scopes.at(-1) === scope, "transactions end in reverse order");
    scope.open = false;
    this.scopes.pop();
    if (this.scopes.length > 0) return;
    for (const rows of this.#iterators) rows.return?.();
    this.#iterators.clear();
  }

  checkScope(scope: Scope): void {
    assert(scope.open, "a transaction is used only inside its callback");
    assert(this.scopes.at(-1) === scope, "only the innermost transaction is used");
    if (!this.#conn.isTransaction) {
      throw new StorageError(
        `Cannot query database "${this.path}": the transaction was rolled back after an error`,
      );
    }
  }

  close(): void {
    this.#statements.clear();
    this.#arrayStatements.clear();
    try {
      this.#conn.close();
    } catch (cause) {
      throw this.#error("close", cause);
    }
  }

  #guarded<R>(scope: Scope, fn: () => R): R {
    this.checkScope(scope);
    try {
      return fn();
    } catch (cause) {
      if (!isSqliteError(cause)) throw cause;
      throw this.#error("query", cause);
    }
  }

  #prepare(sql: string, arrays = false): StatementSync {
    // Two caches rather than one keyed by a flag-prefixed text: building and hashing that
    // key on every call was a tenth of a warm lookup (measured).
    const cache = arrays ? this.#arrayStatements : this.#statements;
    let statement = cache.get(sql);
    if (statement !== undefined) {
      cache.delete(sql); // re-inserted below: most recently used last
    } else {
      statement = this.#conn.prepare(sql);
      // In node:sqlite at runtime, missing from Deno's types.
      if (arrays) {
        (statement as unknown as { setReturnArrays(on: boolean): void }).setReturnArrays(true);
      }
      if (cache.size >= STATEMENTS_CACHED_MAX) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
    }
    cache.set(sql, statement);
    return statement;
  }

  #pragma(text: string): unknown {
    try {
      const row = this.#conn.prepare(`PRAGMA ${text}`).get();
      return row === undefined ? undefined : Object.values(row)[0];
    } catch (cause) {
      throw this.#error("configure", cause);
    }
  }

  #error(verb: string, cause: unknown): StorageError {
    return new StorageError(`Cannot ${verb} database "${this.path}": ${messageOf(cause)}`, {
      cause,
    });
  }
}

const QUERY = /^\s*(SELECT|WITH|EXPLAIN|VALUES)\b|^\s*PRAGMA\s+[\w.]+\s*(\(\s*\w*\s*\))?\s*;?\s*$/i;
const queries = new Map<string, boolean>();

/** Whether `sql` only reads (cached: the same few statements run millions of times). */
function isQuery(sql: string): boolean {
  let known = queries.get(sql);
  if (known === undefined) {
    known = QUERY.test(sql) && !/\b(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql);
    if (queries.size < STATEMENTS_CACHED_MAX * 4) queries.set(sql, known);
  }
  return known;
}

class ReadTxImpl implements ReadTx {
  readonly #db: Database;
  readonly #c: Connection;
  readonly #scope: Scope;
  readonly #readOnly: boolean;

  constructor(db: Database, c: Connection, scope: Scope, readOnly = false) {
    this.#db = db;
    this.#c = c;
    this.#scope = scope;
    this.#readOnly = readOnly;
  }

  get database(): Database {
    return this.#db;
  }

  #check(sql: string): void {
    if (this.#readOnly && !isQuery(sql)) {
      throw new StorageError(
        `Cannot run "${sql.slice(0, 40)}" on database "${this.#db.path}": read transaction`,
      );
    }
  }

  get<T>(sql: string, ...params: SqlValue[]): T | undefined {
    this.#check(sql);
    return this.#c.statement(this.#scope, sql, (s) => s.get(...params) as T | undefined);
  }

  all<T>(sql: string, ...params: SqlValue[]): T[] {
    this.#check(sql);
    return this.#c.statement(this.#scope, sql, (s) => s.all(...params) as T[]);
  }

  iterate<T>(sql: string, ...params: SqlValue[]): IterableIterator<T> {
    this.#check(sql);
    return this.#c.iterate<T>(this.#scope, sql, params);
  }

  allValues(sql: string, ...params: SqlValue[]): SqlValue[][] {
    this.#check(sql);
    return this.#c.statement(
      this.#scope,
      sql,
      (s) => s.all(...params) as unknown as SqlValue[][],
      true,
    );
  }
}

class WriteTxImpl extends ReadTxImpl implements WriteTx {
  readonly #c: Connection;
  readonly #scope: Scope;

  constructor(db: Database, c: Connection, scope: Scope) {
    super(db, c, scope);
    this.#c = c;
    this.#scope = scope;
  }

  run(sql: string, ...params: SqlValue[]): RunResult {
    const result = this.#c.statement(this.#scope, sql, (s) => s.run(...params));
    const rowid = Number(result.lastInsertRowid);
    assert(Number.isSafeInteger(rowid), "a rowid is a safe integer");
    return { changes: Number(result.changes), lastInsertRowid: rowid };
  }

  afterCommit(fn: () => void): void {
    assert(this.#scope.open, "afterCommit() is called inside the transaction");
    assert(this.#scope.hooks.length < AFTER_COMMIT_HOOKS_MAX, "afterCommit() hooks are bounded");
    this.#scope.hooks.push(fn);
  }
}

function checkSchemas(schemas: readonly Schema[]): void {
  const names = new Set<string>();
  for (const schema of schemas) {
    assert(SCHEMA_NAME.test(schema.name), `schema name "${schema.name}" is [a-z][a-z0-9]*`);
    assert(schema.name !== "meta", `schema name "meta" is reserved`);
    assert(!names.has(schema.name), `schema "${schema.name}" is given once`);
    assert(schema.migrations.length > 0, `schema "${schema.name}" has migrations`);
    names.add(schema.name);
  }
}

function checkNotThenable(value: unknown, what: string): void {
  const thenable = (typeof value === "object" || typeof value === "function") &&
    value !== null && typeof (value as { then?: unknown }).then === "function";
  if (thenable) {
    throw new AssertionError(
      `Assertion failed: the ${what}() callback returned a Promise; transactions are ` +
        `synchronous, never await inside one (rolled back)`,
    );
  }
}

function runHooks(hooks: readonly (() => void)[]): void {
  let failure: { error: unknown } | null = null;
  for (const hook of hooks) {
    try {
      hook();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== null) throw failure.error;
}

function isSqliteError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("ERR_SQLITE");
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
