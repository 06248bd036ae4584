// Assertions that a call failed with a TabvecError of a given code.
import { expect } from 'vitest';
import { TabvecError } from '../../dist/index.js';

export function expectCode(fn: () => unknown, code: string): TabvecError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TabvecError);
    expect((e as TabvecError).code).toBe(code);
    return e as TabvecError;
  }
  throw new Error(`expected TabvecError ${code}, nothing was thrown`);
}

export async function expectCodeAsync(p: Promise<unknown>, code: string): Promise<TabvecError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(TabvecError);
  expect((error as TabvecError).code).toBe(code);
  return error as TabvecError;
}
