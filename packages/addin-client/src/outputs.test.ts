import { createHash } from 'node:crypto';
import { describeOutput, jobTargetOf, plannedOutputs } from './outputs';

const jobOf = (parameters: Record<string, string>, routingCode = 'GT310001') => ({
  jobId: '6f1e3c1a-9d1b-4a51-9d6c-2f3b0f6a7e10',
  routingCode,
  attempt: 1,
  parameters,
});

describe('where a job writes its files', () => {
  it("uses the worker's outputFolder parameter, normalising backslashes", () => {
    const target = jobTargetOf(
      jobOf({
        itemCode: 'ITEM-1',
        revisionCode: 'A',
        camRevision: '1.2.0',
        outputFolder: 'ITEM-1\\A\\Routings\\GT310001',
      }),
    );
    expect(target).toEqual({
      routingCode: 'GT310001',
      itemCode: 'ITEM-1',
      revisionCode: 'A',
      camRevision: '1.2.0',
      folder: 'ITEM-1/A/Routings/GT310001',
    });
  });

  it('composes <item>/<revision>/Routings/<routing> when no folder is given', () => {
    expect(jobTargetOf(jobOf({ itemCode: 'P-7', revisionCode: 'B' })).folder).toBe('P-7/B/Routings/GT310001');
  });

  it('refuses parameters that would lead outside the shared drive', () => {
    expect(() => jobTargetOf(jobOf({ itemCode: '..', revisionCode: 'A' }))).toThrow(/itemCode/);
    expect(() => jobTargetOf(jobOf({ itemCode: 'I', revisionCode: 'A', outputFolder: '../etc' }))).toThrow(
      /outputFolder/,
    );
    expect(() => jobTargetOf(jobOf({ itemCode: 'I', revisionCode: 'A', outputFolder: '/etc' }))).toThrow(
      /outputFolder/,
    );
    expect(() => jobTargetOf(jobOf({ revisionCode: 'A' }))).toThrow(/itemCode is missing/);
  });
});

describe('the simulated ESPRIT outputs', () => {
  const job = jobOf({ itemCode: 'ITEM-1', revisionCode: 'A', camRevision: '1.0.0' });

  it('are an .esp, an .nc and an .stl named after the routing, the same bytes for the same job', () => {
    const files = plannedOutputs(job);
    expect(files.map((f) => f.path)).toEqual(['GT310001.esp', 'GT310001.nc', 'GT310001.stl']);
    expect(plannedOutputs(job)).toEqual(files);
  });

  it('differ from job to job, since the program names its job', () => {
    const other = plannedOutputs({ ...job, jobId: '00000000-0000-4000-8000-000000000000' });
    expect(other.map(describeOutput).map((o) => o.sha256)).not.toEqual(
      plannedOutputs(job)
        .map(describeOutput)
        .map((o) => o.sha256),
    );
  });

  it('describe each file by its UTF-8 size and SHA-256', () => {
    const file = { path: 'x.nc', content: 'G00 X0 (ä)\n' };
    expect(describeOutput(file)).toEqual({
      path: 'x.nc',
      sha256: createHash('sha256').update(Buffer.from(file.content, 'utf8')).digest('hex'),
      sizeBytes: 12,
    });
  });
});
