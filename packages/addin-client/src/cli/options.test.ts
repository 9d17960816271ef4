import { parseDuration, parseMix, parseSimulateArgs } from './options';

const env = { ADDIN_KEY: 'mcms_ak_env', SHARED_DRIVE_ROOT: '/mnt/w' };

describe('the simulate command line', () => {
  it('takes the key, drive and gateway from the environment, with defaults for the rest', () => {
    expect(parseSimulateArgs([], { ...env, ADDIN_GATEWAY_URL: 'http://gw:8080' })).toEqual({
      baseUrl: 'http://gw:8080',
      key: 'mcms_ak_env',
      sharedDriveRoot: '/mnt/w',
      devices: 4,
      devicePrefix: 'SIM-',
      mix: { success: 1, failure: 0, crash: 0, slow: 0 },
      waitSeconds: 10,
      thinkMs: 0,
      json: false,
      quiet: false,
    });
  });

  it('lets flags override the environment and reads every option', () => {
    const command = parseSimulateArgs(
      [
        '--url=http://127.0.0.1:9999',
        '--key=flag-key',
        '--concurrency=8',
        '--mix=success=8,failure=1,crash=1',
        '--jobs=100',
        '--duration=2m',
        '--wait-seconds=30',
        '--think=200ms-1s',
        '--slow-work=45s',
        '--failure-message=ESPRIT: no licence',
        '--json',
      ],
      env,
    );
    expect(command).toMatchObject({
      baseUrl: 'http://127.0.0.1:9999',
      key: 'flag-key',
      devices: 8,
      mix: { success: 8, failure: 1, crash: 1, slow: 0 },
      maxJobs: 100,
      durationMs: 120_000,
      waitSeconds: 30,
      thinkMs: [200, 1_000],
      slowWorkMs: 45_000,
      failureMessage: 'ESPRIT: no licence',
      json: true,
    });
  });

  it('names what is missing or wrong', () => {
    expect(() => parseSimulateArgs([], { SHARED_DRIVE_ROOT: '/w' })).toThrow(/ADDIN_KEY/);
    expect(() => parseSimulateArgs([], { ADDIN_KEY: 'k' })).toThrow(/SHARED_DRIVE_ROOT/);
    expect(() => parseSimulateArgs(['--wait-seconds=31'], env)).toThrow(/--wait-seconds/);
    expect(() => parseSimulateArgs(['--devices=0'], env)).toThrow(/--devices/);
    expect(() => parseSimulateArgs(['--bogus'], env)).toThrow(/bogus/);
    expect(() => parseSimulateArgs(['--think=2s-1s'], env)).toThrow(/--think/);
    expect(parseSimulateArgs(['--help'], {})).toBe('help');
  });

  it('parses durations and mixes', () => {
    expect(['250ms', '10s', '1.5m', '1h', '40'].map((d) => parseDuration(d, '--x'))).toEqual([
      250, 10_000, 90_000, 3_600_000, 40,
    ]);
    expect(() => parseDuration('soon', '--duration')).toThrow(/--duration: "soon"/);
    expect(parseMix('slow=2, crash=1')).toEqual({ success: 0, failure: 0, crash: 1, slow: 2 });
    expect(() => parseMix('win=1')).toThrow(/unknown outcome "win"/);
    expect(() => parseMix('success=-1')).toThrow(/≥ 0/);
    expect(() => parseMix('success=0')).toThrow(/positive/);
  });
});
