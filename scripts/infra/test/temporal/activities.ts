import { Context } from '@temporalio/activity';

/** What the activities record, so a test sees they ran in its own process. */
export interface ActivityDeps {
  greeted: string[];
}

/** Real activities, run by the test's Worker; built from their dependencies (no globals). */
export function createActivities(deps: ActivityDeps) {
  return {
    async greet(name: string): Promise<string> {
      deps.greeted.push(name);
      return `Hello, ${name}!`;
    },

    /** Fails its first attempt, so the server's retry policy has to bring it back. */
    async flaky(label: string): Promise<string> {
      const { attempt } = Context.current().info;
      if (attempt < 2) throw new Error(`transient failure of ${label} (attempt ${attempt})`);
      return `${label} succeeded on attempt ${attempt}`;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
