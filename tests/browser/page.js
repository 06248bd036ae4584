import { VectorStore, simdSupported } from '/dist/index.js';
import { runScenario } from '/tests/fixtures/random.js';

window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`));
window.simdSupported = simdSupported();
window.runScenario = (wasm) => runScenario(VectorStore, wasm);
document.getElementById('status').textContent = 'ready';
