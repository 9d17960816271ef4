#!/usr/bin/env node
// `mcms`: the composition root — the only place that touches process.env, the terminal and the exit code.
import { createInterface } from 'node:readline/promises';
import { runCli } from './cli';

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

void runCli(process.argv.slice(2), {
  env: process.env,
  io: {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    ask,
  },
}).then((code) => {
  process.exitCode = code;
});
