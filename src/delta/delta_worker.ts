/**
 * The worker side of {@linkcode DeltaPool}: runs one job per message (a signature, a delta,
 * a chunk to compress or decompress) and answers with the result, its buffer transferred.
 * Runs only as a Worker module; the pool imports its types only.
 *
 * @module
 */

import { compressChunk, decompressChunk } from "./compress.ts";
import { delta } from "./delta.ts";
import { signature } from "./signature.ts";

/** What the pool sends: one job. */
export type DeltaRequest =
  | {
    readonly id: number;
    readonly op: "signature";
    readonly data: Uint8Array;
    readonly blockSize: number;
  }
  | {
    readonly id: number;
    readonly op: "delta";
    readonly signature: Uint8Array;
    readonly data: Uint8Array;
  }
  | { readonly id: number; readonly op: "compress"; readonly data: Uint8Array }
  | {
    readonly id: number;
    readonly op: "decompress";
    readonly data: Uint8Array;
    readonly maxSize: number;
  };

/** What the worker answers: the job's result, or why it failed. */
export type DeltaReply =
  | {
    readonly id: number;
    readonly ok: true;
    readonly data: Uint8Array;
    readonly compressed: boolean;
  }
  | { readonly id: number; readonly ok: false; readonly name: string; readonly message: string };

/** The part of the worker global scope used here (the type checker sees the window one). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<DeltaRequest>) => void) | null;
  postMessage(message: DeltaReply, transfer: Transferable[]): void;
}

/** The bytes in an array of their own, so that transferring them sends nothing else. */
function alone(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole && bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}

function run(request: DeltaRequest): { data: Uint8Array; compressed: boolean } {
  switch (request.op) {
    case "signature":
      return { data: signature(request.data, request.blockSize), compressed: false };
    case "delta":
      return { data: delta(request.signature, request.data), compressed: false };
    case "compress": {
      const chunk = compressChunk(request.data);
      // A raw chunk is the request's own array: send it back without a copy too.
      return { data: chunk.data, compressed: chunk.compressed };
    }
    case "decompress":
      return {
        data: decompressChunk(request.data, { maxSize: request.maxSize }),
        compressed: false,
      };
  }
}

/**
 * Runs a job and builds its reply. Errors of the job (a `DeltaError` for a hostile
 * signature, a `RangeError` for bad arguments) go back by name and message.
 */
function answer(request: DeltaRequest): [DeltaReply, Transferable[]] {
  try {
    const { data, compressed } = run(request);
    const own = alone(data);
    return [{ id: request.id, ok: true, data: own, compressed }, [own.buffer]];
  } catch (error) {
    const name = error instanceof Error ? error.name : "Error";
    const message = error instanceof Error ? error.message : String(error);
    return [{ id: request.id, ok: false, name, message }, []];
  }
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (event) => {
  const [reply, transfer] = answer(event.data);
  scope.postMessage(reply, transfer);
};
