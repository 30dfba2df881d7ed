import type { Reporter, RunnerTask, RunnerTestFile } from 'vitest/node';

/**
 * Prints one plain closing line, `N passed, N failed, N skipped`, after vitest's own output,
 * so CI logs state the count in a form any reader (or log scraper) understands.
 */
export default class SummaryReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = []) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const visit = (task: RunnerTask) => {
      if (task.type === 'test') {
        const state = task.result?.state;
        if (state === 'pass') counts.passed++;
        else if (state === 'fail') counts.failed++;
        else counts.skipped++;
      } else if ('tasks' in task) for (const child of task.tasks) visit(child);
    };
    for (const file of files) {
      visit(file);
      // A file that failed to load has no tests but must count as a failure.
      if (file.result?.state === 'fail' && file.tasks.length === 0) counts.failed++;
    }
    console.log(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  }
}
