import assert from "node:assert/strict";
import { Hash } from "../types/mod.ts";
import { HASH_BATCH_JOBS_MAX, HASH_QUEUE_MAX, HashPool } from "./hash_pool.ts";
import { HASH_BATCH_BYTES_MAX, HASH_DEFER_BYTES } from "./hash_worker.ts";

const MiB = 1 << 20;

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

async function b3sum(path: string): Promise<Hash> {
  const out = await new Deno.Command("b3sum", { args: ["--no-names", path] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const hex = new TextDecoder().decode(out.stdout).trim();
  return Hash.parse(Uint8Array.fromHex(hex).toBase64({ omitPadding: true }));
}

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** Lets a reader blocked in open() on `fifo` go on: O_RDWR never blocks on Linux. */
async function releaseFifo(fifo: string): Promise<void> {
  const file = await Deno.open(fifo, { read: true, write: true });
  file.close();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "realize-hash-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("hashFile() matches Hash.of() and b3sum", async () => {
  await withDir(async (dir) => {
    const pool = new HashPool({ workers: 2 });
    try {
      for (const size of [0, 1, MiB + 1, 2 * MiB, 10 * MiB]) {
        const path = `${dir}/f${size}`;
        const content = randomBytes(size);
        await Deno.writeFile(path, content);
        const result = await pool.hashFile(path);
        assert.equal(result.size, size);
        assert.equal(result.bytesRead, size);
        assert.equal(result.hash.toString(), Hash.of(content).toString(), `size ${size}`);
        assert.ok(result.hash.equals(await b3sum(path)), `b3sum, size ${size}`);
      }
    } finally {
      await pool.close();
    }
  });
});

Deno.test("hashFile() runs at most `workers` jobs at once", async () => {
  await withDir(async (dir) => {
    const content = randomBytes(10 * MiB);
    const paths = Array.from({ length: 6 }, (_, i) => `${dir}/f${i}`);
    for (const path of paths) await Deno.writeFile(path, content);
    const pool = new HashPool({ workers: 2 });
    let most = 0;
    const sampler = setInterval(() => most = Math.max(most, pool.busy), 1);
    try {
      const jobs = paths.map((path) => pool.hashFile(path));
      most = Math.max(most, pool.busy);
      const results = await Promise.all(jobs);
      assert.equal(most, 2);
      assert.equal(pool.busy, 0);
      const expected = Hash.of(content).toString();
      for (const r of results) assert.equal(r.hash.toString(), expected);
    } finally {
      clearInterval(sampler);
      await pool.close();
    }
  });
});

Deno.test("hashFile() hashes right while every core is busy (reads in turn)", async () => {
  await withDir(async (dir) => {
    const workers = navigator.hardwareConcurrency;
    const contents = Array.from({ length: 2 * workers }, (_, i) => randomBytes(3 * MiB + i));
    const paths = contents.map((_, i) => `${dir}/f${i}`);
    for (const [i, path] of paths.entries()) await Deno.writeFile(path, contents[i]!);
    const pool = new HashPool({ workers });
    try {
      const results = await Promise.all(paths.map((path) => pool.hashFile(path)));
      for (const [i, r] of results.entries()) {
        assert.equal(r.hash.toString(), Hash.of(contents[i]!).toString(), paths[i]);
        assert.equal(r.bytesRead, 3 * MiB + i);
      }
    } finally {
      await pool.close();
    }
  });
});

Deno.test("hashFile() rejects a missing file and a directory, then goes on", async () => {
  await withDir(async (dir) => {
    const pool = new HashPool({ workers: 1 });
    try {
      const missing = `${dir}/missing`;
      await assert.rejects(pool.hashFile(missing), (e: Error) => {
        assert.ok(e instanceof Deno.errors.NotFound);
        assert.equal(e.message, `Cannot hash "${missing}": NotFound: No such file or directory`);
        assert.match(String((e.cause as Error).message), /os error 2/);
        return true;
      });
      await assert.rejects(pool.hashFile(dir), (e: Error) => {
        assert.ok(e instanceof Deno.errors.IsADirectory);
        assert.equal(e.message, `Cannot hash "${dir}": IsADirectory: Is a directory`);
        return true;
      });
      await Deno.writeFile(`${dir}/a`, new Uint8Array([1, 2, 3]));
      const result = await pool.hashFile(`${dir}/a`);
      assert.equal(result.hash.toString(), Hash.of(new Uint8Array([1, 2, 3])).toString());
    } finally {
      await pool.close();
    }
  });
});

Deno.test({
  name: "hashFile() rejects an unreadable file",
  ignore: Deno.uid() === 0, // root reads anything
  fn: async () => {
    await withDir(async (dir) => {
      const pool = new HashPool({ workers: 1 });
      try {
        await Deno.writeFile(`${dir}/secret`, new Uint8Array(1), { mode: 0o000 });
        await assert.rejects(pool.hashFile(`${dir}/secret`), Deno.errors.PermissionDenied);
      } finally {
        await pool.close();
      }
    });
  },
});

Deno.test("hashFile() rejects a non-regular file once it opens", async () => {
  await withDir(async (dir) => {
    const pool = new HashPool({ workers: 1 });
    const fifo = `${dir}/fifo`;
    await mkfifo(fifo);
    const writer = await Promise.all([
      assert.rejects(pool.hashFile(fifo), /^NotSupported: Cannot hash .*: NotSupported: Not a reg/),
      Deno.open(fifo, { write: true }),
    ]).then(([, file]) => file);
    writer.close();
    await pool.close();
  });
});

Deno.test("hashFile() rejects at once with an aborted signal", async () => {
  const pool = new HashPool({ workers: 1 });
  const reason = new Error("stop");
  await assert.rejects(
    pool.hashFile("/nonexistent", { signal: AbortSignal.abort(reason) }),
    reason,
  );
  assert.equal(pool.busy, 0);
  await pool.close();
});

Deno.test("hashFile() abort of a queued job leaves the running one alone", async () => {
  await withDir(async (dir) => {
    const content = randomBytes(4 * MiB);
    await Deno.writeFile(`${dir}/a`, content);
    const pool = new HashPool({ workers: 1 });
    try {
      const running = pool.hashFile(`${dir}/a`);
      const controller = new AbortController();
      const queued = pool.hashFile(`${dir}/a`, { signal: controller.signal });
      assert.equal(pool.busy, 1);
      controller.abort(new Error("no longer needed"));
      await assert.rejects(queued, /no longer needed/);
      assert.equal((await running).hash.toString(), Hash.of(content).toString());
    } finally {
      await pool.close();
    }
  });
});

Deno.test("hashFile() abort stops a worker blocked in open() and the pool goes on", async () => {
  await withDir(async (dir) => {
    const fifo = `${dir}/fifo`;
    await mkfifo(fifo);
    await Deno.writeFile(`${dir}/a`, new Uint8Array([7]));
    const pool = new HashPool({ workers: 1 });
    try {
      await pool.hashFile(`${dir}/a`); // the worker is up, so the next job reaches open()
      const controller = new AbortController();
      const blocked = pool.hashFile(fifo, { signal: controller.signal });
      const next = pool.hashFile(`${dir}/a`);
      await delay(100);
      assert.equal(pool.busy, 1);
      controller.abort(new Error("took too long"));
      await assert.rejects(blocked, /took too long/);
      assert.equal((await next).hash.toString(), Hash.of(new Uint8Array([7])).toString());
      assert.equal(pool.busy, 0);
    } finally {
      await pool.close();
      await releaseFifo(fifo); // the terminated worker's open() still holds a thread
    }
  });
});

Deno.test("hashFile() abort stops a long read", async () => {
  await withDir(async (dir) => {
    const sparse = `${dir}/sparse`;
    await Deno.writeFile(sparse, new Uint8Array(0));
    await Deno.truncate(sparse, 16 * 1024 * MiB); // zeros, read fast but for seconds
    await Deno.writeFile(`${dir}/a`, new Uint8Array([7]));
    const pool = new HashPool({ workers: 1 });
    try {
      const controller = new AbortController();
      const long = pool.hashFile(sparse, { signal: controller.signal });
      await delay(300);
      controller.abort(new Error("took too long"));
      await assert.rejects(long, /took too long/);
      assert.equal((await pool.hashFile(`${dir}/a`)).bytesRead, 1);
    } finally {
      await pool.close();
    }
  });
});

Deno.test("hashFile() beyond HASH_QUEUE_MAX waits for room", async () => {
  await withDir(async (dir) => {
    const fifo = `${dir}/fifo`;
    await mkfifo(fifo);
    await Deno.writeFile(`${dir}/a`, new Uint8Array([7]));
    const pool = new HashPool({ workers: 1 });
    try {
      const controller = new AbortController();
      const blocked = pool.hashFile(fifo, { signal: controller.signal });
      const queued = Array.from({ length: HASH_QUEUE_MAX }, () => pool.hashFile(`${dir}/a`));
      const late = new AbortController();
      const waiting = pool.hashFile(`${dir}/a`, { signal: late.signal });
      const extra = pool.hashFile(`${dir}/a`);
      late.abort(new Error("gave up waiting"));
      await assert.rejects(waiting, /gave up waiting/);
      controller.abort(new Error("unblock"));
      await assert.rejects(blocked, /unblock/);
      const results = await Promise.all([...queued, extra]);
      assert.equal(results.length, HASH_QUEUE_MAX + 1);
      assert.ok(results.every((r) => r.bytesRead === 1));
    } finally {
      await pool.close();
      await releaseFifo(fifo);
    }
  });
});

Deno.test("close() rejects running and queued jobs and later calls", async () => {
  await withDir(async (dir) => {
    const fifo = `${dir}/fifo`;
    await mkfifo(fifo);
    const pool = new HashPool({ workers: 1 });
    const running = pool.hashFile(fifo);
    const queued = [pool.hashFile(fifo), pool.hashFile(`${dir}/missing`)];
    assert.equal(pool.busy, 1);
    await pool.close();
    assert.equal(pool.busy, 0);
    for (const job of [running, ...queued]) {
      await assert.rejects(job, /^Error: Cannot hash ".*": the hash pool is closed$/);
    }
    await assert.rejects(pool.hashFile(fifo), /the hash pool is closed/);
    await pool.close(); // idempotent
    await releaseFifo(fifo);
  });
});

Deno.test("hashFile() hands a worker many small files per message", async () => {
  await withDir(async (dir) => {
    const contents = Array.from({ length: 200 }, (_, i) => randomBytes(100 + i));
    const paths = contents.map((_, i) => `${dir}/f${i}`);
    for (const [i, path] of paths.entries()) await Deno.writeFile(path, contents[i]!);
    const pool = new HashPool({ workers: 1 });
    try {
      const results = await Promise.all(paths.map((path) => pool.hashFile(path)));
      for (const [i, r] of results.entries()) {
        assert.equal(r.hash.toString(), Hash.of(contents[i]!).toString(), paths[i]);
      }
      // The first job finds the worker idle and goes alone; the 199 others wait for it.
      assert.equal(pool.batches, 1 + Math.ceil(199 / HASH_BATCH_JOBS_MAX));
    } finally {
      await pool.close();
    }
  });
});

Deno.test("hashFile() of small files behind a large one in a batch does not wait for it", async () => {
  await withDir(async (dir) => {
    const large = `${dir}/large`;
    await Deno.writeFile(large, new Uint8Array(0));
    await Deno.truncate(large, 2 * 1024 * MiB); // zeros, read fast but for a while
    const small = Array.from({ length: 20 }, (_, i) => `${dir}/s${i}`);
    for (const path of small) await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    const pool = new HashPool({ workers: 1 });
    try {
      const first = pool.hashFile(small[0]!); // keeps the worker busy: the rest form a batch
      const finished: string[] = [];
      const jobs = [large, ...small].map((path) =>
        pool.hashFile(path).then((r) => {
          finished.push(path);
          return r;
        })
      );
      await first;
      const [big] = await Promise.all(jobs);
      assert.equal(big!.bytesRead, 2 * 1024 * MiB);
      assert.equal(finished.at(-1), large);
      assert.equal(pool.batches, 2);
    } finally {
      await pool.close();
    }
  });
});

Deno.test("hashFile() hands back the rest of a batch once a worker hashed its budget", async () => {
  await withDir(async (dir) => {
    const content = randomBytes(HASH_DEFER_BYTES); // the largest file that is not large
    const paths = Array.from({ length: 20 }, (_, i) => `${dir}/f${i}`);
    for (const path of paths) await Deno.writeFile(path, content);
    await Deno.writeFile(`${dir}/a`, new Uint8Array([7]));
    const pool = new HashPool({ workers: 1 });
    try {
      const first = pool.hashFile(`${dir}/a`); // keeps the worker busy: the rest form a batch
      const results = await Promise.all(paths.map((path) => pool.hashFile(path)));
      await first;
      for (const r of results) assert.equal(r.hash.toString(), Hash.of(content).toString());
      const perBatch = HASH_BATCH_BYTES_MAX / HASH_DEFER_BYTES;
      assert.equal(pool.batches, 1 + Math.ceil(paths.length / perBatch));
    } finally {
      await pool.close();
    }
  });
});

Deno.test("hashFile() hands the large files of a batch but one to other workers", async () => {
  await withDir(async (dir) => {
    const [huge, large, small] = [`${dir}/huge`, `${dir}/large`, `${dir}/small`];
    await Deno.writeFile(huge, new Uint8Array(0));
    await Deno.truncate(huge, 2 * 1024 * MiB); // zeros, read fast but for a while
    await Deno.writeFile(large, randomBytes(2 * HASH_DEFER_BYTES));
    await Deno.writeFile(small, new Uint8Array([1, 2, 3]));
    const pool = new HashPool({ workers: 2 });
    try {
      const first = pool.hashFile(small); // the first worker: the others form one batch
      const finished: string[] = [];
      const jobs = [huge, large, small].map((path) =>
        pool.hashFile(path).then(() => finished.push(path))
      );
      await Promise.all([first, ...jobs]);
      // The second worker keeps the huge file, the first one (free) takes the large one.
      assert.deepEqual(finished, [small, large, huge]);
      assert.equal(pool.batches, 3);
    } finally {
      await pool.close();
    }
  });
});

Deno.test("hashFile() abort of a job waiting in a running batch skips it", async () => {
  await withDir(async (dir) => {
    const [blocking, skipped] = [`${dir}/fifo1`, `${dir}/fifo2`];
    await mkfifo(blocking);
    await mkfifo(skipped); // were it opened, the worker would block there for good
    await Deno.writeFile(`${dir}/a`, new Uint8Array([7]));
    const pool = new HashPool({ workers: 1 });
    try {
      const first = pool.hashFile(`${dir}/a`);
      const controller = new AbortController();
      const jobs = [
        assert.rejects(pool.hashFile(blocking), Deno.errors.NotSupported),
        assert.rejects(pool.hashFile(skipped, { signal: controller.signal }), /not needed/),
        pool.hashFile(`${dir}/a`),
      ];
      await first; // the three others now form the worker's batch, blocked on the first
      assert.equal(pool.busy, 1);
      await delay(100);
      controller.abort(new Error("not needed"));
      await releaseFifo(blocking);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the worker opened the skipped job")), 10_000);
      });
      const [, , last] = await Promise.race([Promise.all(jobs), stuck]).finally(() =>
        clearTimeout(timer)
      );
      assert.equal(last!.bytesRead, 1);
      assert.equal(pool.batches, 2); // the worker went on: nothing was sent again
    } finally {
      await pool.close();
      await releaseFifo(skipped);
    }
  });
});

Deno.test("hashFile() abort of the running job of a batch queues the others again", async () => {
  await withDir(async (dir) => {
    const fifo = `${dir}/fifo`;
    await mkfifo(fifo);
    const content = randomBytes(1000);
    await Deno.writeFile(`${dir}/a`, content);
    const pool = new HashPool({ workers: 1 });
    try {
      const first = pool.hashFile(`${dir}/a`);
      const controller = new AbortController();
      const before = pool.hashFile(`${dir}/a`); // done, but reported with the whole batch
      const blocked = pool.hashFile(fifo, { signal: controller.signal });
      const after = pool.hashFile(`${dir}/a`);
      await first;
      await delay(100);
      assert.equal(pool.busy, 1);
      controller.abort(new Error("took too long"));
      await assert.rejects(blocked, /took too long/);
      for (const r of await Promise.all([before, after])) {
        assert.equal(r.hash.toString(), Hash.of(content).toString());
      }
      assert.equal(pool.batches, 3); // the others went to a new worker
      assert.equal(pool.busy, 0);
    } finally {
      await pool.close();
      await releaseFifo(fifo);
    }
  });
});

Deno.test("HashPool() rejects a bad worker count", () => {
  for (const workers of [-1, 1.5, 1025]) {
    assert.throws(() => new HashPool({ workers }), RangeError);
  }
  assert.ok(new HashPool({ workers: 0 }) instanceof HashPool); // starts no worker
});
