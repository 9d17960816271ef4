import { generationEventId, uuidV5 } from './message-ids';

describe('deterministic message ids', () => {
  it('computes RFC 9562 version-5 UUIDs', () => {
    // The RFC's own example: the DNS namespace and "www.example.com".
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('gives a job the same event id every time, and different ids per outcome and job', () => {
    const job = '0f8fad5b-d9cb-469f-a165-70867728950e';
    const completed = generationEventId(job, 'completed');
    expect(generationEventId(job, 'completed')).toBe(completed);
    expect(completed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(generationEventId(job, 'failed')).not.toBe(completed);
    expect(generationEventId('7c9e6679-7425-40de-944b-e07fc1f90ae7', 'completed')).not.toBe(completed);
  });
});
