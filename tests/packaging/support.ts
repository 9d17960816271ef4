// Reads the packaging files the way Docker and compose do, so the tests check (and run) what ships.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export const WORKSPACE_ROOT = path.resolve(__dirname, '..', '..');
export const DEPLOY_DIR = path.join(WORKSPACE_ROOT, 'deploy');
export const DOCKER_DIR = path.join(DEPLOY_DIR, 'docker');

export const SERVICES = [
  'addin-gateway',
  'routing-worker',
  'history-service',
  'notification-service',
] as const;
export type Service = (typeof SERVICES)[number];

/** One instruction of a Dockerfile, continuation lines joined. */
export interface Instruction {
  keyword: string;
  args: string;
}

/** The stages of a Dockerfile, in order; the last one is the image. */
export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(file: string): Stage[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of lines) {
    if (/^\s*#/.test(raw) || (pending === '' && raw.trim() === '')) continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const keyword = full.split(/\s+/, 1)[0] ?? '';
    instructions.push({ keyword: keyword.toUpperCase(), args: full.slice(keyword.length).trim() });
  }
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [from = '', as, name] = instruction.args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

/** The JSON array of an exec-form instruction (`CMD ["node", "x.js"]`), or null for the shell form. */
export function execForm(args: string): string[] | null {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((part) => typeof part === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

/** The exec-form command of a `HEALTHCHECK [options] CMD [...]`. */
export function healthcheckCommand(args: string): string[] | null {
  const at = args.indexOf('CMD ');
  return at === -1 ? null : execForm(args.slice(at + 4).trim());
}

export function lastStage(service: string): Stage {
  const stages = parseDockerfile(path.join(DOCKER_DIR, `${service}.Dockerfile`));
  const last = stages.at(-1);
  if (!last) throw new Error(`${service}.Dockerfile has no FROM`);
  return last;
}

export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  profiles?: string[];
  restart?: string;
  volumes?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** deploy/compose.yaml as compose reads it (YAML merge keys resolved; `${VAR}` left as written). */
export function readCompose(): ComposeFile {
  return parse(readFileSync(path.join(DEPLOY_DIR, 'compose.yaml'), 'utf8'), { merge: true }) as ComposeFile;
}
