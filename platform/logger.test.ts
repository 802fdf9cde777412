import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions } from './logger.js';

describe('logger redaction', () => {
  it('hides keys, secrets and passwords at the top level and one level down', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino(loggerOptions('info'), sink);
    log.info({ secret: 'whsec_top', endpoint: { id: 'we_1', secret: 'whsec_nested' }, smtp: { host: 'mail', password: 'hunter2' }, authorization: 'Bearer mlk_x' }, 'x');
    const line = lines.join('');
    for (const hidden of ['whsec_top', 'whsec_nested', 'hunter2', 'mlk_x']) expect(line).not.toContain(hidden);
    expect(line).toContain('we_1');
    expect(line).toContain('mail');
  });
});
