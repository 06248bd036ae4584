export const STRICT_CSP: string;
export const CHROMIUM_ARGS: string[];
export function serveStatic(root: string, options?: { allowed?: string[]; port?: number; host?: string; csp?: string; headers?: Record<string, string> }): Promise<{ url: string; close: () => Promise<void> }>;
