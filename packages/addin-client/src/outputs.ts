import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Code, RelativePath, type AddinJob, type OutputFile } from '@mcms/contracts';

/** Where a job's files go and what they describe, from the job's parameters. */
export interface JobTarget {
  routingCode: string;
  itemCode: string;
  revisionCode: string;
  camRevision: string;
  /** Relative to the shared drive's root: `<itemCode>/<revisionCode>/Routings/<routingCode>`. */
  folder: string;
}

/** One file as the add-in would write it, before it is written. */
export interface PlannedFile {
  /** Relative to the routing's folder, as reported in `outputs[].path`. */
  path: string;
  content: string;
}

/**
 * Reads the target folder from the job's parameters (the routing-worker puts routingCode, itemCode,
 * revisionCode, camRevision and outputFolder there). Codes are checked with the contract's `Code` and the
 * folder with `RelativePath`, so a job can't make the simulator write outside the shared drive.
 */
export function jobTargetOf(job: Pick<AddinJob, 'routingCode' | 'parameters'>): JobTarget {
  const p = job.parameters;
  const code = (key: string, fallback?: string): string => {
    const value = p[key] ?? fallback;
    const parsed = Code.safeParse(value);
    if (!parsed.success)
      throw new Error(`job parameter ${key} is missing or not a valid code (${JSON.stringify(value)})`);
    return parsed.data;
  };
  const routingCode = code('routingCode', job.routingCode);
  const itemCode = code('itemCode');
  const revisionCode = code('revisionCode');
  const camRevision = p.camRevision ?? '1.0.0';
  const composed = [itemCode, revisionCode, 'Routings', routingCode].join('/');
  const given = p.outputFolder === undefined ? undefined : RelativePath.safeParse(p.outputFolder);
  if (given && !given.success)
    throw new Error(`job parameter outputFolder is not a relative path (${JSON.stringify(p.outputFolder)})`);
  const folder = given
    ? given.data
        .split(/[\\/]+/)
        .filter(Boolean)
        .join('/')
    : composed;
  return { routingCode, itemCode, revisionCode, camRevision, folder };
}

/**
 * The files a simulated ESPRIT run produces for a job: `<routingCode>.esp` (project), `.nc` (a short
 * G-code program naming the routing and the job) and `.stl` (a small ASCII solid). Pure: the same job
 * gives the same bytes; the job id in the content makes each job's checksums its own.
 */
export function plannedOutputs(
  job: Pick<AddinJob, 'jobId' | 'routingCode' | 'parameters' | 'attempt'>,
): PlannedFile[] {
  const target = jobTargetOf(job);
  const name = target.routingCode;
  const esp = [
    'ESPRIT project (simulated)',
    `routing=${target.routingCode}`,
    `item=${target.itemCode}`,
    `revision=${target.revisionCode}`,
    `camRevision=${target.camRevision}`,
    `job=${job.jobId}`,
    `attempt=${job.attempt}`,
    '',
  ].join('\r\n');
  const nc = [
    '%',
    `O1001 (${target.routingCode} JOB ${job.jobId})`,
    `(ITEM ${target.itemCode} REV ${target.revisionCode} CAM ${target.camRevision})`,
    'G21 G90 G94 G17',
    'T1 M06 (D10 END MILL)',
    'S8000 M03',
    'G00 X0. Y0. Z5.',
    'G01 Z-1. F300.',
    'G01 X50. Y0.',
    'G01 X50. Y30.',
    'G01 X0. Y30.',
    'G01 X0. Y0.',
    'G00 Z25.',
    'M05',
    'M30',
    '%',
    '',
  ].join('\r\n');
  // A tetrahedron: four facets, the smallest closed solid a CAM viewer opens.
  const facets: Array<[string, string[]]> = [
    ['0 0 -1', ['0 0 0', '0 30 0', '50 0 0']],
    ['0 -1 0', ['0 0 0', '50 0 0', '0 0 20']],
    ['-1 0 0', ['0 0 0', '0 0 20', '0 30 0']],
    ['0.3 0.5 0.8', ['50 0 0', '0 30 0', '0 0 20']],
  ];
  const stl = [
    `solid ${name}`,
    ...facets.flatMap(([normal, vertices]) => [
      `  facet normal ${normal}`,
      '    outer loop',
      ...vertices.map((v) => `      vertex ${v}`),
      '    endloop',
      '  endfacet',
    ]),
    `endsolid ${name}`,
    '',
  ].join('\n');
  return [
    { path: `${name}.esp`, content: esp },
    { path: `${name}.nc`, content: nc },
    { path: `${name}.stl`, content: stl },
  ];
}

/** What `outputs[]` reports for a file with this content. */
export function describeOutput(file: PlannedFile): OutputFile {
  const bytes = Buffer.from(file.content, 'utf8');
  return {
    path: file.path,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    sizeBytes: bytes.length,
  };
}

/**
 * Writes `files` into the job's folder under `sharedDriveRoot` (creating it) and returns the `outputs`
 * to report: path, SHA-256 and size of each file as written.
 */
export async function writeJobOutputs(
  sharedDriveRoot: string,
  job: Pick<AddinJob, 'jobId' | 'routingCode' | 'parameters' | 'attempt'>,
  files: PlannedFile[] = plannedOutputs(job),
): Promise<OutputFile[]> {
  const folder = path.join(sharedDriveRoot, ...jobTargetOf(job).folder.split('/'));
  await mkdir(folder, { recursive: true });
  // Each folder once: most outputs sit in the job's folder itself.
  const made = new Set([folder]);
  const outputs: OutputFile[] = [];
  for (const file of files) {
    const target = path.join(folder, ...file.path.split('/'));
    const parent = path.dirname(target);
    if (!made.has(parent)) {
      await mkdir(parent, { recursive: true });
      made.add(parent);
    }
    await writeFile(target, file.content);
    outputs.push(describeOutput(file));
  }
  return outputs;
}

/** The absolute folder of a job's files on the shared drive. */
export function jobFolderPath(
  sharedDriveRoot: string,
  job: Pick<AddinJob, 'routingCode' | 'parameters'>,
): string {
  return path.join(sharedDriveRoot, ...jobTargetOf(job).folder.split('/'));
}
