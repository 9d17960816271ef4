import { sqlParams } from './sql-params';

describe('sqlParams', () => {
  it('numbers each value it keeps, in the order added', () => {
    const params = sqlParams();
    const first = params.add('Pending');
    const second = params.add(new Date('2026-12-03T12:00:00Z'));
    const third = params.add(25);

    expect([first, second, third]).toEqual(['$1', '$2', '$3']);
    expect(params.values).toEqual(['Pending', new Date('2026-12-03T12:00:00Z'), 25]);
  });
});
