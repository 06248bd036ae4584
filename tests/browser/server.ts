// The browser tests serve the repository's dist/ and tests/ under a strict CSP.
import { CHROMIUM_ARGS, STRICT_CSP, serveStatic } from '../../scripts/serve.mjs';

export { CHROMIUM_ARGS, STRICT_CSP };

export function serve(root: string, allowed: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  return serveStatic(root, { allowed, csp: STRICT_CSP });
}
