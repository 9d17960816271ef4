import { runCli } from '../../src/cli';

/** What one `mcms` run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mcms <args>` in-process with exactly `env`, a non-terminal stdin unless `stdinIsTTY`, and `answer` for a prompt. */
export async function mcms(
  args: string[],
  env: Record<string, string | undefined>,
  { stdinIsTTY = false, answer = '' }: { stdinIsTTY?: boolean; answer?: string } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    env,
    io: {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      stdinIsTTY,
      stderrIsTTY: false,
      ask: async (question) => {
        stderr += question;
        return answer;
      },
    },
  });
  return { code, stdout, stderr };
}
