import { strict as assert } from "node:assert";
import { formatProblem, ValidationError } from "../../sdk/errors";

/** The problem lines of the ValidationError that `fn` throws (fails the test if it throws none). */
export function problemLines(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error.problems.map(formatProblem);
    throw error;
  }
  return assert.fail("expected a ValidationError");
}
