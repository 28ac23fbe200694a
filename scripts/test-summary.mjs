// Prints one plain closing line from vitest's JSON report: "tests: N passed, N failed, N skipped".
// CI reads that line; vitest's own summary is formatted for people.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
if (report.numTotalTests === 0) {
  console.error('no tests ran');
  process.exit(1);
}
