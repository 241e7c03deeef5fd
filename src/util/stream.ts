/** Bounded reading of a body stream: shared by request bodies and fetched outside documents. */

/**
 * Reads a stream chunk by chunk into one buffer, stopping as soon as it exceeds `maxBytes`: the bytes, or `null`
 * when the stream was too large. A `null` body is empty. By default the rest of a too-large stream is cancelled
 * (outside documents); with `drainBytes` it is first read and dropped up to that many bytes in all (see
 * `readRequestBody`).
 */
export async function readAtMost(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  drainBytes = 0,
): Promise<Uint8Array | null> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await drain(reader, total, drainBytes);
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Reads and drops the rest of a stream while fewer than `limit` bytes were read in all; cancels it beyond. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, read: number, limit: number): Promise<void> {
  let total = read;
  while (total <= limit) {
    const { done, value } = await reader.read();
    if (done) return;
    total += value.byteLength;
  }
  await reader.cancel();
}

/**
 * A request body stops being read past this many bytes: up to it, a body too large for its endpoint is read to
 * its end before the 413 goes out (answering while the client still sends, and cancelling the rest, made wrangler
 * dev's proxy fail the request with a 500 "Network connection lost"; see docs/admin-api.md).
 */
export const REQUEST_DRAIN_BYTES = 8 * 1024 * 1024;

/** A request body within `maxBytes`, or `null` when it is larger (its rest drained up to REQUEST_DRAIN_BYTES). */
export function readRequestBody(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | null> {
  return readAtMost(body, maxBytes, REQUEST_DRAIN_BYTES);
}
