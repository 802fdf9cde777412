import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isEngineTimeout, latestVersionsSql, quoteIdentifier, settingsClause, timeoutSettings } from './store.js';

describe('settingsClause', () => {
  it('renders nothing for no settings', () => {
    expect(settingsClause(undefined)).toBe('');
    expect(settingsClause({})).toBe('');
  });

  it('renders a number as is', () => {
    expect(settingsClause({ max_threads: 4 })).toBe(' SETTINGS max_threads = 4');
    expect(settingsClause({ offset: -2 })).toBe(' SETTINGS offset = -2');
    expect(settingsClause({ ratio: 0.25 })).toBe(' SETTINGS ratio = 0.25');
    expect(settingsClause({ flag: 0 })).toBe(' SETTINGS flag = 0');
  });

  it('renders a safe string in single quotes', () => {
    expect(settingsClause({ insert_deduplication_token: 'batch-7f3a_01.2:x' })).toBe(
      " SETTINGS insert_deduplication_token = 'batch-7f3a_01.2:x'",
    );
    expect(settingsClause({ mode: 'ABC' })).toBe(" SETTINGS mode = 'ABC'");
    expect(settingsClause({ token: '' })).toBe(" SETTINGS token = ''");
  });

  it('joins several settings in their given order', () => {
    expect(settingsClause({ b_setting: 1, a_setting: 'x', _private: 2 })).toBe(
      " SETTINGS b_setting = 1, a_setting = 'x', _private = 2",
    );
  });

  it('starts with a space so it can follow any statement text', () => {
    expect(`SELECT 1${settingsClause({ max_threads: 1 })}`).toBe('SELECT 1 SETTINGS max_threads = 1');
  });

  it.each(['Max_threads', '1setting', 'max threads', 'max-threads', 'a;b', "a'", 'a=1', '', 'a.b', 'a`', 'é', 'a\n'])(
    'refuses the setting name %j',
    (name) => {
      expect(() => settingsClause({ [name]: 1 })).toThrow(/not a setting name/);
    },
  );

  it.each([
    "a'",
    "x' , readonly = '0",
    'a b',
    'a,b',
    'a;b',
    'a\\',
    "\\'",
    'a\nb',
    'a\tb',
    '/*',
    'a"b',
    'a`b',
    'a=b',
    '(a)',
    'é',
    'a\u0000',
  ])('refuses the string value %j', (value) => {
    expect(() => settingsClause({ token: value })).toThrow(/outside/);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('refuses the number %d', (value) => {
    expect(() => settingsClause({ max_threads: value })).toThrow(/not finite/);
  });

  it('refuses the whole clause when any one setting is bad', () => {
    expect(() => settingsClause({ max_threads: 1, token: "a'b" })).toThrow();
    expect(() => settingsClause({ max_threads: 1, 'bad name': 2 })).toThrow();
  });

  it('either refuses a string value or keeps it inside one quoted literal', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (value) => {
        let clause: string;
        try {
          clause = settingsClause({ token: value });
        } catch {
          expect(/^[A-Za-z0-9_.:-]*$/.test(value)).toBe(false);
          return;
        }
        expect(clause).toBe(` SETTINGS token = '${value}'`);
        expect(value).not.toMatch(/['\\\s,;]/);
      }),
    );
  });

  it('either refuses a setting name or renders it bare', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (name) => {
        let clause: string;
        try {
          clause = settingsClause({ [name]: 1 });
        } catch {
          return;
        }
        expect(name).toMatch(/^[a-z_][a-z0-9_]*$/);
        expect(clause).toBe(` SETTINGS ${name} = 1`);
      }),
    );
  });

  it('renders every finite number so it reads back as the same number', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const clause = settingsClause({ n: value });
        expect(Number(clause.replace(' SETTINGS n = ', ''))).toBe(value === 0 ? 0 : value);
      }),
    );
  });
});

describe('quoteIdentifier', () => {
  it.each(['events', 'Meterline', '_x', 'usage_2026', 'a'])('quotes %s in backticks', (name) => {
    expect(quoteIdentifier(name)).toBe(`\`${name}\``);
  });

  it.each(['', '1events', 'a`b', 'db`; DROP TABLE x; --', 'a.b', 'a b', 'a-b', "a'", 'a"b', 'é', 'a\n', '`a`'])(
    'refuses %j',
    (name) => {
      expect(() => quoteIdentifier(name)).toThrow(/not a safe identifier/);
    },
  );

  it('never returns a backtick inside the quotes', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (name) => {
        let quoted: string;
        try {
          quoted = quoteIdentifier(name);
        } catch {
          return;
        }
        expect(quoted).toMatch(/^`[A-Za-z_][A-Za-z0-9_]*`$/);
      }),
    );
  });
});

describe('timeoutSettings', () => {
  it('gives the engine its timeout in seconds, fractions included, and throws when over it', () => {
    expect(settingsClause(timeoutSettings(10_000))).toBe(" SETTINGS max_execution_time = 10, timeout_overflow_mode = 'throw'");
    expect(settingsClause(timeoutSettings(1))).toBe(" SETTINGS max_execution_time = 0.001, timeout_overflow_mode = 'throw'");
    expect(() => timeoutSettings(0)).toThrow();
    expect(() => timeoutSettings(Number.NaN)).toThrow();
  });
});

describe('isEngineTimeout', () => {
  it("recognises TIMEOUT_EXCEEDED from a server or the in-process engine, and nothing else", () => {
    expect(isEngineTimeout({ code: '159', type: 'TIMEOUT_EXCEEDED' })).toBe(true);
    expect(isEngineTimeout({ type: 'TIMEOUT_EXCEEDED' })).toBe(true);
    expect(isEngineTimeout({ code: '60', type: 'UNKNOWN_TABLE' })).toBe(false);
    expect(isEngineTimeout(new Error('Timeout exceeded'))).toBe(false);
    expect(isEngineTimeout(undefined)).toBe(false);
  });
});

describe('latestVersionsSql', () => {
  it("keeps, of each key's rows in the tenant, the one with the highest version", () => {
    expect(latestVersionsSql('`db`.`plan_versions`', ['plan_key'], ['plan_key', 'version', 'toString(created_at) AS created_at']).replace(/\s+/g, ' ')).toBe(
      'SELECT plan_key, version, toString(created_at) AS created_at FROM `db`.`plan_versions` WHERE tenant_id = {tenantId:String} ' +
        'ORDER BY `plan_key`, version DESC LIMIT 1 BY `plan_key`',
    );
  });

  it('takes a key of several columns', () => {
    expect(latestVersionsSql('t', ['customer_id', 'charge_key'], ['*'])).toContain('LIMIT 1 BY `customer_id`, `charge_key`');
  });

  it.each([[['rule id']], [['a;b']], [['a`']], [[]]])('refuses the key %j', (key) => {
    expect(() => latestVersionsSql('t', key, ['x'])).toThrow();
  });

  it('refuses an empty select list', () => {
    expect(() => latestVersionsSql('t', ['k'], [])).toThrow(/at least one column/);
  });
});
