import {
  ConfigError,
  RaftProtocol,
  RaftlineError,
  configProblems,
  defaultConfig,
  seededRandom,
  validateConfig,
  type ProtocolConfig,
} from '../../src/index';

/** The message of the ConfigError that validateConfig(partial) throws. */
function problemWith(partial: Record<string, unknown>): ConfigError {
  try {
    validateConfig(partial as Partial<ProtocolConfig>);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(partial)}`);
}

describe('defaultConfig() / validateConfig()', () => {
  it('the defaults are valid: 10 election ticks, 1 heartbeat tick, pre-vote and check-quorum on', () => {
    expect(configProblems(defaultConfig())).toEqual([]);
    expect(validateConfig()).toEqual(defaultConfig());
    expect(defaultConfig()).toMatchObject({
      electionTicks: 10,
      heartbeatTicks: 1,
      preVote: true,
      checkQuorum: true,
    });
  });

  it('fills omitted fields from the defaults and keeps the given ones', () => {
    expect(validateConfig({ electionTicks: 20, preVote: false })).toEqual({
      ...defaultConfig(),
      electionTicks: 20,
      preVote: false,
    });
  });

  it('hands out a fresh copy of the defaults each time', () => {
    const mine = defaultConfig() as { electionTicks: number };
    mine.electionTicks = 99;
    expect(defaultConfig().electionTicks).toBe(10);
  });

  const integerFields = [
    'electionTicks',
    'heartbeatTicks',
    'maxInflightMessages',
    'maxEntriesPerMessage',
    'maxBytesPerMessage',
    'maxCommittedPerReady',
  ] as const;
  const cases = integerFields.flatMap((field) => [0, -1, 1.5, Number.NaN].map((value) => ({ field, value })));

  it.each(cases)('rejects $field = $value, naming the field and its value', ({ field, value }) => {
    const err = problemWith({ [field]: value });
    expect(err.message).toContain(`${field} (${String(value)})`);
    expect(err.problems).toHaveLength(1);
  });

  it.each(['preVote', 'checkQuorum'])('rejects a non-boolean %s, naming the field and its value', (field) => {
    expect(problemWith({ [field]: 'yes' }).message).toContain(`${field} (yes) must be true or false`);
  });

  it('requires electionTicks ≥ 2 × heartbeatTicks, naming both fields and their values', () => {
    const err = problemWith({ electionTicks: 5, heartbeatTicks: 3 });
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain('electionTicks (5)');
    expect(err.message).toContain('heartbeatTicks (3)');
    expect(() => validateConfig({ electionTicks: 6, heartbeatTicks: 3 })).not.toThrow();
  });

  it('lists every problem at once', () => {
    const err = problemWith({ electionTicks: 0, maxBytesPerMessage: -5, checkQuorum: 1 });
    expect(err.problems).toHaveLength(3);
    for (const part of ['electionTicks (0)', 'maxBytesPerMessage (-5)', 'checkQuorum (1)'])
      expect(err.message).toContain(part);
  });

  it('throws a ConfigError: a RaftlineError named ConfigError carrying the problems', () => {
    const err = problemWith({ heartbeatTicks: 0 });
    expect(err).toBeInstanceOf(RaftlineError);
    expect(err.name).toBe('ConfigError');
    expect(err.message).toMatch(/^invalid configuration: heartbeatTicks \(0\)/);
  });

  it('a RaftProtocol refuses an invalid configuration', () => {
    const build = (): RaftProtocol =>
      new RaftProtocol({
        id: 'a',
        voters: ['a', 'b', 'c'],
        random: seededRandom(1),
        config: { electionTicks: 1 },
      });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/electionTicks \(1\) must be at least 2 × heartbeatTicks \(1\)/);
  });
});
