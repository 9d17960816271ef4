import { prepared } from './prepared';

describe('prepared', () => {
  it('names one text the same way every time and two texts differently', () => {
    const a = prepared('SELECT job_id FROM addin_job WHERE job_id = $1');
    expect(prepared('SELECT job_id FROM addin_job WHERE job_id = $1')).toEqual(a);
    expect(a.text).toBe('SELECT job_id FROM addin_job WHERE job_id = $1');
    expect(a.name).toMatch(/^mcms_[0-9a-f]{24}$/);
    expect(prepared('SELECT job_id FROM addin_job WHERE job_id = $2').name).not.toBe(a.name);
  });

  it('refuses SELECT * and RETURNING *, whose meaning a migration changes under a prepared statement', () => {
    expect(() => prepared('SELECT * FROM addin_job')).toThrow(/names its columns/);
    expect(() => prepared('UPDATE addin_job SET status = $1 RETURNING *')).toThrow(/names its columns/);
    expect(() => prepared('SELECT j.* FROM addin_job j')).toThrow(/names its columns/);
    expect(prepared('SELECT count(*) AS n FROM addin_job').name).toMatch(/^mcms_/);
  });
});
