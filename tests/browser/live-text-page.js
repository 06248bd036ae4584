// Loaded into persist.html by the text kill test (tests/browser/live.test.ts):
// window.liveText.start(where) runs the writer of live-text-ops.js on the page
// or in a dedicated worker (live-worker.js); window.liveText.call(op, ...args)
// calls it. Its reports go to the console, where the test reads them as the
// browser dies.
import { LiveStore, VectorStore, removeSaved } from '/dist/index.js';
import { textOps } from './live-text-ops.js';

let call;
window.liveText = {
  start(where) {
    if (where === 'page') {
      const ops = textOps({ LiveStore, VectorStore, removeSaved }, (line) => console.log(line));
      call = (op, args) => ops[op](...args);
      return true;
    }
    const worker = new Worker('/tests/browser/live-worker.js', { type: 'module' });
    const waiting = new Map();
    let next = 0;
    worker.onmessage = ({ data }) => {
      if (data.log !== undefined) console.log(data.log);
      else waiting.get(data.id)?.(data);
    };
    call = (op, args) => new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, (data) => (data.error ? reject(new Error(data.error)) : resolve(data.result)));
      worker.postMessage({ text: true, id, op, args });
    });
    return true;
  },
  call(op, ...args) {
    return call(op, args);
  },
};
